"""Durability and exactly-once: the data directory (cam.store), restarts, retries, and the crash harness."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from typing import Any

import pytest

from benchmarks import crash
from cam.client import Client
from cam.node import Limits, Node, Refusal
from cam.server import start_in_thread
from cam.store import SCHEMA, Store, StoreError
from cam.text import digest, parse_value
from tests.node_helpers import DOWN, MIG, UP, V1, V2, NodeProcess, cam, padded, slowly_verified

L_UNIT, R_UNIT = parse_value("L Unit"), parse_value("R Unit")


def fresh(path: Any, **kw: Any) -> Node:
    return Node.open(Store(str(path), **kw), V1, parse_value("Int 0"))


def reopen(node: Node, **kw: Any) -> Node:
    assert node.store is not None
    path = node.store.path
    node.store.close()
    return Node.open(Store(path, **kw))


def fingerprint(node: Node) -> tuple[Any, ...]:
    s = node.status()
    return (s["digest"], s["signature"], s["state"], s["inputs"], s["machine_steps"], s["generation"], s["history"],
            list(node.clients.items()))


@pytest.mark.parametrize("snapshot_every", [1, 3, 1000])
def test_a_restart_resumes_exactly(tmp_path, snapshot_every):
    node = fresh(tmp_path / "d", snapshot_every=snapshot_every)
    for i in range(5):
        node.do(L_UNIT, client="a", seq=i + 1)
    node.upgrade(V1, V2, MIG, client="b", seq=1)
    node.do(L_UNIT, client="a", seq=6)
    node.upgrade(V2, V1, DOWN)
    node.do(L_UNIT)
    before = fingerprint(node)
    again = reopen(node)
    assert fingerprint(again) == before
    assert again.state == parse_value("Int 2") and again.generation == 3
    assert again.store is not None and again.store.journal_length() < max(snapshot_every, 2)
    # the journal before the snapshot is gone; what is left replays to the same node
    again.do(L_UNIT)
    assert reopen(again).state == parse_value("Int 3")


def test_the_full_history_stays_in_the_data_directory(tmp_path):
    node = Node.open(Store(str(tmp_path / "d"), snapshot_every=2), V1, parse_value("Int 0"),
                     limits=Limits(max_history=2))
    for _ in range(3):
        node.upgrade(V1, V2, UP)
        node.upgrade(V2, V1, DOWN)
    assert node.generation == 7 and [v.number for v in node.history] == [6, 7]
    assert len(node.status()["history"]) == 2 and node.status()["upgrades"] == 6
    assert node.store is not None
    full = node.store.versions()
    assert [v["number"] for v in full] == [1, 2, 3, 4, 5, 6, 7]
    assert [v["digest"] for v in full] == [digest(V1), digest(V2)] * 3 + [digest(V1)]


def test_a_retry_gets_the_first_answer_and_changes_nothing(tmp_path):
    node = fresh(tmp_path / "d")
    first = node.do(L_UNIT, client="c", seq=1)
    node.do(L_UNIT, client="other", seq=1)
    again = node.do(L_UNIT, client="c", seq=1)
    assert again == first and node.inputs == 2 and node.state == parse_value("Int 2")
    v = node.upgrade(V1, V2, UP, client="c", seq=2)
    assert node.remembered("c", 2) == node.upgrade_reply(v)
    with pytest.raises(Refusal) as e:
        node.do(L_UNIT, client="c", seq=1)
    assert e.value.kind == "stale_request"
    restored = reopen(node)  # remembered answers survive a restart
    assert restored.remembered("c", 2) == node.remembered("c", 2) and restored.inputs == 2


def test_remembered_clients_are_bounded():
    node = Node(V1, parse_value("Int 0"), limits=Limits(max_clients=3))
    for k in range(5):
        node.do(L_UNIT, client=f"c{k}", seq=1)
    assert list(node.clients) == ["c2", "c3", "c4"]


def test_a_refused_request_is_not_journalled(tmp_path):
    node = fresh(tmp_path / "d")
    with pytest.raises(Refusal):
        node.do(parse_value("Int 3"), client="c", seq=1)
    with pytest.raises(Refusal):
        node.upgrade(V2, V2, MIG)
    assert node.store is not None and node.store.journal_length() == 0
    assert node.do(L_UNIT, client="c", seq=1).state == parse_value("Int 1")  # the same seq, now served


def test_a_failing_journal_refuses_and_changes_nothing(tmp_path):
    node = fresh(tmp_path / "d")
    node.do(L_UNIT)
    assert node.store is not None
    node.store._db.execute("PRAGMA query_only=ON")  # every write now fails
    with pytest.raises(Refusal) as e:
        node.do(L_UNIT, client="c", seq=1)
    assert e.value.kind == "storage" and node.state == parse_value("Int 1") and node.inputs == 1
    with pytest.raises(Refusal) as e:
        node.upgrade(V1, V2, MIG)
    assert e.value.kind == "storage" and node.digest == digest(V1)
    assert node.remembered("c", 1) is None


def _unchanged(path: Any) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir()}


def test_damaged_and_foreign_directories_are_refused_never_reset(tmp_path):
    # another program's directory
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a node's data directory"):
        Store(str(other))
    assert _unchanged(other) == {"notes.txt": b"mine"}
    # a damaged database
    damaged = tmp_path / "damaged"
    fresh(damaged).store.close()  # type: ignore[union-attr]
    data = bytearray((damaged / "node.db").read_bytes())
    data[:16] = b"garbage garbage!"
    (damaged / "node.db").write_bytes(bytes(data))
    before = _unchanged(damaged)
    with pytest.raises(StoreError, match="damaged or not a node's database"):
        Store(str(damaged))
    assert _unchanged(damaged) == before
    # another program's SQLite database
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    db = sqlite3.connect(foreign / "node.db")
    db.execute("CREATE TABLE accounts(id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a node's database"):
        Store(str(foreign))
    # a newer schema
    newer = tmp_path / "newer"
    fresh(newer).store.close()  # type: ignore[union-attr]
    db = sqlite3.connect(newer / "node.db")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="run a newer node"):
        Store(str(newer))
    # an event kind this node does not know (written by a newer one)
    unknown = tmp_path / "unknown"
    n = fresh(unknown)
    assert n.store is not None
    n.store.append("teleport", {"to": 1})  # a kind no node knows
    n.store.close()
    with pytest.raises(StoreError, match="unknown to this node"):
        Node.open(Store(str(unknown)))


def test_one_node_per_directory_and_the_same_machine_on_restart(tmp_path):
    node = fresh(tmp_path / "d")
    with pytest.raises(StoreError, match="in use by another node"):
        Store(str(tmp_path / "d"))
    assert node.store is not None
    node.store.close()
    store = Store(str(tmp_path / "d"))
    with pytest.raises(StoreError, match="started with"):
        Node.open(store, V2, parse_value("Int 0"))
    store.close()
    assert Node.open(Store(str(tmp_path / "d")), V1, parse_value("Int 0")).digest == digest(V1)  # the same: fine
    with pytest.raises(StoreError, match="holds no node yet"):
        Node.open(Store(str(tmp_path / "empty")))


def test_group_durability_syncs_in_the_background(tmp_path):
    store = Store(str(tmp_path / "d"), durability="group", sync_interval=0.01)
    node = Node.open(store, V1, parse_value("Int 0"))
    node.do(L_UNIT)
    time.sleep(0.1)
    assert not store._dirty  # the sync thread has run since
    assert reopen(node, durability="sync").state == parse_value("Int 1")


# ---------------------------------------------------------------- over the wire


def test_the_server_answers_a_retry_with_the_original_reply(tmp_path):
    node = fresh(tmp_path / "d")
    with start_in_thread(node) as running, socket.create_connection((running.host, running.port)) as s:
        f = s.makefile("rb")

        def send(obj: dict[str, Any]) -> dict[str, Any]:
            s.sendall(json.dumps(obj).encode() + b"\n")
            return json.loads(f.readline())  # type: ignore[no-any-return]

        a = send({"id": 1, "kind": "do", "input": "L Unit", "client": "x", "seq": 1})
        b = send({"id": 2, "kind": "do", "input": "L Unit", "client": "x", "seq": 1})
        assert a["state"] == b["state"] == "Int 1" and b["id"] == 2 and node.inputs == 1
        bad = send({"id": 3, "kind": "do", "input": "L Unit", "client": "x"})
        assert bad["error"] == "bad_request" and node.inputs == 1
        assert send({"id": 4, "kind": "status"})["retries_answered"] == 1


def test_the_client_retries_after_a_timeout_and_the_node_applies_once(tmp_path):
    node = fresh(tmp_path / "d")
    real = node.commit
    slow = [True]

    def commit(*args: Any) -> Any:
        if slow[0]:  # the first answer comes after the client has given up on it
            slow[0] = False
            time.sleep(1.0)
        return real(*args)

    node.commit = commit  # type: ignore[method-assign]
    with start_in_thread(node) as running, Client(running.host, running.port, timeout=0.3, retries=10) as c:
        r = c.do("L Unit")
        assert r.state == parse_value("Int 1") and c.retried >= 1
        assert c.do("L Unit").state == parse_value("Int 2")  # the connection is usable: nothing half-read
        assert node.inputs == 2 and c.status()["retries_answered"] >= 1


def test_a_raw_request_that_times_out_leaves_no_broken_connection():
    node = Node(V1, parse_value("Int 0"))
    real = node.commit

    def commit(*args: Any) -> Any:
        time.sleep(0.5)
        return real(*args)

    with start_in_thread(node) as running, Client(running.host, running.port, timeout=0.2, retries=0) as c:
        node.commit = commit  # type: ignore[method-assign]
        with pytest.raises(TimeoutError):
            c.do("L Unit")
        node.commit = real  # type: ignore[method-assign]
        deadline = time.monotonic() + 10
        while node.inputs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.status()["inputs"] == 1  # a new connection; the late answer was never read as this one's


def test_cli_restart_resumes_and_says_what_survives(tmp_path):
    data = str(tmp_path / "d")
    with NodeProcess("--machine", "catlib.examples.counter:counter_sm", "--state", "0", "--port", "0") as p:
        _, err = p.stop()
    assert "nothing survives" in err
    args = ["--port", "0", "--data", data, "--durability", "group"]
    with NodeProcess("--machine", "catlib.examples.counter:counter_sm", "--state", "0", *args) as p:
        conn = ["--host", p.host, "--port", str(p.port), "--timeout", "10"]
        assert cam("send", "L Unit", *conn).returncode == 0
        mods = "catlib.examples.counter:"
        r = cam("upgrade", "--old", mods + "counter_sm", "--new", mods + "counter_sm2", "--migration",
                mods + "upgrade_state", *conn)
        assert r.returncode == 0, r.stderr
        assert cam("send", "L Unit", *conn).returncode == 0
        p.kill()  # SIGKILL: no goodbye
    with NodeProcess(*args) as p:  # --data alone
        conn = ["--host", p.host, "--port", str(p.port)]
        r = cam("status", *conn)
        assert "State:     Pair (Int 1) (Int 1)" in r.stdout and "Upgrades:  1" in r.stdout, r.stdout
        _, err = p.stop()
    assert "resumed at input 2, version 2" in err and "a power cut may lose the last 0.05 s" in err
    with pytest.raises(RuntimeError, match="started with"):  # another machine on this data: refused
        NodeProcess("--machine", "catlib.examples.counter:counter_sm2", "--state", "(0, 0)", *args)


def test_crash_harness_small():
    """SIGKILL at random moments under 3 clients and an upgrader: every acknowledged request exactly once."""
    r = crash.run(kills=8, clients=3, seed=7, snapshot_every=15, max_gap=0.3, verbose=False)
    assert r["kills"] == 8 and r["increments"] > 0 and r["upgrades"] > 0


def test_crash_harness_catches_a_node_that_forgets():
    with pytest.raises(AssertionError):
        crash.run(kills=2, clients=2, seed=1, min_gap=0.3, max_gap=0.5, verbose=False, journal=False)


def test_data_directory_is_private(tmp_path):
    node = fresh(tmp_path / "d")
    node.do(L_UNIT)
    for name in ("node.db", "node.db-wal"):
        assert os.stat(tmp_path / "d" / name).st_mode & 0o077 == 0, name
    assert os.stat(tmp_path / "d").st_mode & 0o077 == 0


def test_inputs_served_while_an_upgrade_is_checked_are_journalled_before_it_and_a_restart_agrees(tmp_path):
    """An upgrade's code is checked in a worker thread while other clients' inputs go on: those inputs are
    journalled before the upgrade, which migrates the state they left; a rollback sent meanwhile waits for the
    upgrade (version changes run one at a time); the journal replays to the same node."""
    import threading

    from cam import verifier

    big_v2 = padded(V2)
    slow_verify, checking = slowly_verified(big_v2)

    node = Node.open(Store(str(tmp_path / "d")), V1, parse_value("Int 5"), verify=slow_verify,
                     check_value=verifier.check_value)
    done: list[tuple[str, Any]] = []
    with start_in_thread(node) as running:
        def send(what: str, call: Any) -> None:
            with Client(running.host, running.port, timeout=30) as c:
                done.append((what, call(c)))

        up = threading.Thread(target=send, args=("upgrade", lambda c: c.upgrade(V1, big_v2, MIG)))
        up.start()
        assert checking.wait(10)
        back = threading.Thread(target=send, args=("rollback", lambda c: c.rollback(discard=True)))
        back.start()
        with Client(running.host, running.port, timeout=30) as c:
            states = [c.do("L Unit").state for _ in range(3)]
            assert not done  # the upgrade is still being checked, the rollback waits for it
        up.join(10)
        back.join(10)
        with Client(running.host, running.port, timeout=30) as c:
            after = c.do("L Unit").state
        before = fingerprint(node)
    assert states == [parse_value(f"Int {i}") for i in (6, 7, 8)]
    # the node's order is the journal's (below) and the versions': the two answers may reach their threads in
    # either order (the rollback is answered right after the upgrade)
    answers = dict(done)
    assert sorted(answers) == ["rollback", "upgrade"]
    assert answers["upgrade"]["state"] == "Pair (Int 8) (Int 0)" and answers["rollback"]["version"] == 3
    assert after == parse_value("Int 9")  # v1 again, at the state the rollback took back (discarding)
    assert node.store is not None
    kinds = [kind for _, kind, _ in node.store.load()[1]]
    assert kinds == ["input", "input", "input", "upgrade", "rollback", "input"], kinds
    assert fingerprint(reopen(node)) == before


def test_an_upgrade_refused_at_the_swap_journals_nothing(tmp_path):
    """Refused at the state inputs left while its code was checked (a probe true only at the first state):
    nothing of the upgrade is journalled, and the inputs are."""
    import threading

    from cam import verifier
    from cam.client import NodeError

    same = padded(V1)
    slow_verify, checking = slowly_verified(same)

    node = Node.open(Store(str(tmp_path / "d")), V1, parse_value("Int 5"), verify=slow_verify,
                     check_value=verifier.check_value)
    errors: list[str] = []
    with start_in_thread(node) as running:
        def upgrade() -> None:
            with Client(running.host, running.port, timeout=30) as c:
                try:
                    c.upgrade(V1, same, "[]", probes=[("R Unit", "R (Int 5)")])
                except NodeError as e:
                    errors.append(e.kind)

        t = threading.Thread(target=upgrade)
        t.start()
        assert checking.wait(10)
        with Client(running.host, running.port, timeout=30) as c:
            assert c.do("L Unit").state == parse_value("Int 6")
        t.join(10)
    assert errors == ["probe_failed"] and node.generation == 1
    assert node.store is not None
    assert [kind for _, kind, _ in node.store.load()[1]] == ["input"]
    assert reopen(node).state == parse_value("Int 6")
