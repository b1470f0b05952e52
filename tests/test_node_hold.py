"""Prepare / commit / abort on one node (`cam.hold`) and probe inputs on probation (`cam.probes`)."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from cam import auth
from cam.client import Client, NodeError
from cam.node import Node, Refusal
from cam.probes import Probe
from cam.server import start_in_thread
from cam.store import Store
from cam.text import digest, parse_code, parse_value
from tests.node_helpers import DOWN, MIG, V1, V2, cam

L, R = parse_value("L Unit"), parse_value("R Unit")


def counted(n: int = 2) -> Node:
    node = Node(V1, parse_value("Int 0"), name="counter")
    for _ in range(n):
        node.do(L)
    return node


def snapshot(node: Node) -> tuple:
    return node.digest, node.state, node.generation, node.probation, node.inputs, node.held


def test_commit_without_prepare_and_a_second_prepare_are_refused_and_change_nothing():
    node = counted()
    before = snapshot(node)
    with pytest.raises(Refusal) as e:
        node.commit_held("t1")
    assert e.value.kind == "not_prepared" and snapshot(node) == before
    with pytest.raises(Refusal) as e:
        node.abort_held("t1")
    assert e.value.kind == "not_prepared"
    node.hold_upgrade("t1", V1, V2, MIG, hold=5)
    held = snapshot(node)
    assert held[:5] == before[:5]  # prepare changes nothing but the hold
    for attempt in (lambda: node.hold_upgrade("t2", V1, V2, MIG), lambda: node.upgrade(V1, V2, MIG),
                    lambda: node.rollback(discard=True)):
        with pytest.raises(Refusal) as e:
            attempt()
        assert e.value.kind in ("prepare_held", "no_history") and snapshot(node) == held
    assert node.hold_upgrade("t1", V1, V2, MIG)["token"] == "t1"  # a retry of the same prepare: the same answer
    node.do(L)  # inputs are served while an upgrade is held
    v = node.commit_held("t1")
    assert (v.number, node.digest, node.state, node.held) == (2, digest(V2), parse_value("Pair (Int 3) (Int 0)"), None)


def test_a_prepare_refused_by_its_checks_holds_nothing():
    node = counted()
    with pytest.raises(Refusal) as e:
        node.hold_upgrade("t1", V2, V2, MIG)
    assert e.value.kind == "wrong_version" and node.held is None
    node.upgrade(V1, V2, MIG)  # nothing blocks the next upgrade


def test_an_expired_prepare_is_dropped_and_its_commit_refused():
    node = counted()
    node.hold_upgrade("t1", V1, V2, MIG, hold=0.05)
    time.sleep(0.1)
    with pytest.raises(Refusal) as e:
        node.commit_held("t1")
    assert e.value.kind == "not_prepared" and node.held is None and node.digest == digest(V1)
    node.hold_upgrade("t2", V1, V2, MIG, hold=1)  # another prepare is no longer blocked
    assert node.status()["held"]["token"] == "t2"


def test_a_commit_at_a_changed_state_checks_again():
    # the migration runs on the state it replaces: inputs served between prepare and commit are kept
    node = counted(0)
    node.hold_upgrade("t1", V1, V2, MIG, down=DOWN)
    for _ in range(5):
        node.do(L)
    node.commit_held("t1")
    assert node.state == parse_value("Pair (Int 5) (Int 0)")
    # a commit whose checks now fail is refused, and the hold is dropped: here a probe that held at prepare time
    node = counted(2)
    node.hold_upgrade("t2", V1, V1, parse_code("[ID]"), probation=True, probes=(Probe(R, parse_value("R (Int 2)")),))
    node.do(L)
    before = snapshot(node)
    with pytest.raises(Refusal) as e:
        node.commit_held("t2")
    assert e.value.kind == "probe_failed" and "gave R (Int 3)" in str(e.value)
    assert node.held is None and snapshot(node)[:5] == before[:5]


def test_a_restart_drops_a_prepared_upgrade(tmp_path):
    store = Store(str(tmp_path / "data"))
    node = Node.open(store, V1, parse_value("Int 0"))
    node.do(L)
    node.hold_upgrade("t1", V1, V2, MIG)
    store.close()
    store = Store(str(tmp_path / "data"))
    again = Node.open(store)
    assert (again.digest, again.state, again.generation, again.held) == (digest(V1), parse_value("Int 1"), 1, None)
    with pytest.raises(Refusal) as e:
        again.commit_held("t1")
    assert e.value.kind == "not_prepared"
    # a committed release is journalled like an upgrade: it survives whole
    again.hold_upgrade("t2", V1, V2, MIG)
    again.commit_held("t2")
    store.close()
    store = Store(str(tmp_path / "data"))
    third = Node.open(store)
    assert (third.digest, third.generation, third.held) == (digest(V2), 2, None)
    store.close()


def test_probes_refuse_an_upgrade_before_it_is_installed():
    node = counted()
    before = snapshot(node)
    with pytest.raises(Refusal) as e:
        node.upgrade(V1, V2, MIG, probation=True, probes=(Probe(R, parse_value("R (Int 2)")),))
    assert e.value.kind == "probe_failed" and "gave R (Int 0), not R (Int 2)" in str(e.value)
    assert snapshot(node) == before
    with pytest.raises(Refusal) as e:  # an ill-typed probe fails too
        node.upgrade(V1, V2, MIG, probation=True, probes=(Probe(parse_value("Int 3")),))
    assert e.value.kind == "probe_failed" and "does not have the input type" in str(e.value)
    node.upgrade(V1, V2, MIG, probation=True, probes=(Probe(R, parse_value("R (Int 0)")), Probe(L)))
    assert node.probation and len(node.probes) == 2 and node.status()["probes"] == 2


def test_a_probe_failing_at_make_permanent_rolls_back():
    node = counted()
    node.upgrade(V1, V2, MIG, probation=True, probes=(Probe(R, parse_value("R (Int 0)")),))
    node.make_permanent()  # still counts 0: permanent
    assert not node.probation and node.probes == ()
    node.upgrade(V2, V2, parse_code("[ID]"), probation=True, probes=(Probe(R, parse_value("R (Int 0)")),))
    node.do(L)  # now the probe answers R (Int 1)
    with pytest.raises(Refusal) as e:
        node.make_permanent()
    assert e.value.kind == "probe_failed" and "rolled back to v2" in str(e.value)
    assert (node.generation, node.probation, node.digest, node.probes) == (4, False, digest(V2), ())
    assert node.history[-1].note == "rollback to v2"


def test_probes_and_prepare_over_the_wire(tmp_path):
    node = counted()
    with start_in_thread(node) as running, Client(running.host, running.port) as c:
        with pytest.raises(NodeError) as e:
            c.upgrade(V1, V2, MIG, probation=True, probes=[(R, parse_value("R (Int 9)"))])
        assert e.value.kind == "probe_failed"
        with pytest.raises(NodeError) as e:
            c.commit("nothing")
        assert e.value.kind == "not_prepared"
        r = c.prepare("t1", V1, V2, MIG, hold=5, probation=True, probes=[(R, parse_value("R (Int 0)"))])
        assert (r["version"], r["probation"], c.status()["held"]["token"]) == (2, True, "t1")
        with pytest.raises(NodeError) as e:
            c.prepare("t2", V1, V2, MIG)
        assert e.value.kind == "prepare_held"
        assert c.commit("t1")["version"] == 2 and c.status()["probes"] == 1
        assert c.make_permanent()["version"] == 2
        for line, kind in (('{"kind": "commit"}', "bad_request"), ('{"kind": "commit", "token": "a b"}', "bad_request"),
                           ('{"kind": "prepare", "token": "x", "hold": 9999, "old": "[]", "new": "[]", '
                            '"migration": "[]"}', "bad_request"),
                           ('{"kind": "upgrade", "old": "[]", "new": "[]", "migration": "[]", '
                            '"probes": [{"expect": "R Unit"}]}', "bad_request")):
            answer = c.request(line)
            assert (answer["ok"], answer["error"]) == (False, kind), answer
        assert c.status()["version"] == 2


def test_signed_prepare_and_commit(tmp_path):
    name = str(tmp_path / "ops")
    assert cam("keygen", name).returncode == 0
    node = counted()
    with start_in_thread(node, trust=[auth.load_public_key(name + ".pub")]) as running:
        with Client(running.host, running.port) as c:
            with pytest.raises(NodeError) as e:
                c.prepare("t1", V1, V2, MIG)
            assert e.value.kind == "unauthorized" and node.held is None
        with Client(running.host, running.port, key=name + ".key") as c:
            c.prepare("t1", V1, V2, MIG)
            with socket.create_connection((running.host, running.port)) as s:  # an unsigned commit is refused
                s.sendall(json.dumps({"id": 1, "kind": "commit", "token": "t1"}).encode() + b"\n")
                assert json.loads(s.makefile("rb").readline())["error"] == "unauthorized"
            assert c.commit("t1")["version"] == 2
    assert node.digest == digest(V2)


def test_probes_are_journalled_with_their_upgrade(tmp_path):
    store = Store(str(tmp_path / "data"))
    node = Node.open(store, V1, parse_value("Int 0"))
    node.upgrade(V1, V2, MIG, probation=True, probes=(Probe(R, parse_value("R (Int 0)")),))
    node.make_permanent()
    node.upgrade(V2, V2, parse_code("[ID]"), down=parse_code("[ID]"))
    store.close()
    store = Store(str(tmp_path / "data"))
    again = Node.open(store)
    assert (again.generation, again.probation, again.probes, again.digest) == (3, False, (), digest(V2))
    store.close()


def test_cam_status_shows_a_held_release_and_probes(capsys):
    from cam.__main__ import main

    node = counted()
    with start_in_thread(node) as running:
        node.hold_upgrade("r1", V1, V2, MIG, name="two", hold=60)
        main(["status", "--port", str(running.port)])
        out = capsys.readouterr().out
        assert re.search(r"Held: +release r1: v2 two prepared, (59|60) s left", out), out
        node.abort_held("r1")
        node.upgrade(V1, V2, MIG, probation=True, probes=(Probe(L),))
        main(["status", "--port", str(running.port)])
        out = capsys.readouterr().out
        assert "Probes:    1 (run again at make-permanent)" in out and "Held:" not in out, out
