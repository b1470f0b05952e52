"""Version history, rollback, probation and make_permanent (issue 15): node, wire, client, CLI, journal, keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cam import auth
from cam.client import Client, NodeError, as_code
from cam.node import Limits, Node, Refusal
from cam.server import start_in_thread
from cam.store import Store
from cam.text import digest, parse_code, parse_value
from catlib.examples.counter import COUNTER, COUNTER2, DOWNGRADE, MIGRATION
from tests.node_helpers import MIG, V1, V2, NodeProcess, cam, doubling

L_UNIT, R_UNIT = parse_value("L Unit"), parse_value("R Unit")
DOWN2 = as_code(DOWNGRADE)


def unchanged(node: Node) -> tuple[Any, ...]:
    return (node.digest, node.name, node.state, node.generation, node.inputs, len(node.frames), node.probation,
            list(node.history))


def counter(**kw: Any) -> Node:
    return Node(V1, parse_value("Int 0"), name="counter", **kw)


def test_status_names_numbers_and_returns_the_running_code():
    node = counter()
    node.do(L_UNIT)
    node.upgrade(V1, V2, MIG, name="counter2")
    s = node.status(code=True)
    assert (s["name"], s["version"], s["digest"]) == ("counter2", 2, digest(V2))
    assert [(v["number"], v["name"]) for v in s["history"]] == [(1, "counter"), (2, "counter2")]
    # code nobody kept: the text the node returns is the old code of the next upgrade
    assert digest(parse_code(s["code"])) == node.digest
    node.upgrade(parse_code(s["code"]), V1, DOWN2, name="counter")
    assert (node.name, node.generation, node.state) == ("counter", 3, parse_value("Int 0"))
    assert "code" not in node.status()


def test_rollback_carries_the_state_back_through_the_down_migration():
    node = counter()
    node.do(L_UNIT)
    node.upgrade(V1, V2, MIG, down=DOWN2, name="counter2")
    node.do(L_UNIT)
    node.do(L_UNIT)
    assert node.status()["rollback"] == {"to": 1, "name": "counter", "how": "down"}
    r = node.rollback()
    assert (r["version"], r["note"], r["forgotten"], r["name"]) == (3, "rollback to v1", 0, "counter")
    assert (node.digest, node.name, node.state) == (digest(V1), "counter", parse_value("Int 2"))
    assert node.do(R_UNIT).output == parse_value("R (Int 2)")
    before = unchanged(node)
    with pytest.raises(Refusal) as e:
        node.rollback()
    assert e.value.kind == "no_history" and unchanged(node) == before


def test_without_down_migration_rollback_needs_discard_and_says_what_is_forgotten():
    node = counter()
    node.do(L_UNIT)
    node.upgrade(V1, V2, MIG)
    for _ in range(3):
        node.do(L_UNIT)
    before = unchanged(node)
    with pytest.raises(Refusal) as e:
        node.rollback()
    assert e.value.kind == "needs_discard" and "3 input(s)" in str(e.value) and unchanged(node) == before
    r = node.rollback(discard=True)
    assert r["forgotten"] == 3 and node.state == parse_value("Int 1") and node.digest == digest(V1)


def test_a_down_migration_that_does_not_type_is_refused_and_nothing_changes():
    node = counter()
    before = unchanged(node)
    for down, kind in ((MIG, "down_migration_type"), (parse_code("[SND,SND]"), "down_migration_type")):
        with pytest.raises(Refusal) as e:
            node.upgrade(V1, V2, MIG, down=down)
        assert e.value.kind == kind and unchanged(node) == before


def test_probation_rolls_back_on_a_machine_error_and_make_permanent_ends_it():
    node = Node(doubling(1), parse_value("Int 5"), name="cheap")
    node.do(UNIT := parse_value("Unit"))
    heavy = doubling(14)  # ~100,000 steps an input: within the budget at the upgrade...
    node.upgrade(doubling(1), heavy, parse_code("[ID]"), name="heavy", probation=True)
    node.limits = Limits(fuel=5_000)  # ...and over it now (as if the budget had been lowered since)
    assert node.status()["probation"] and node.history[-1].note == "probation"
    with pytest.raises(Refusal) as e:
        node.upgrade(heavy, doubling(1), parse_code("[ID]"))
    assert e.value.kind == "on_probation"
    with pytest.raises(Refusal) as e:
        node.do(UNIT)
    assert e.value.kind == "machine_error" and "rolled back" in str(e.value)
    assert (node.name, node.digest, node.generation, node.probation) == ("cheap", digest(doubling(1)), 3, False)
    node.do(UNIT)
    # not on probation: a machine error is only refused
    node.limits = Limits()
    node.upgrade(doubling(1), heavy, parse_code("[ID]"), name="heavy")
    node.limits = Limits(fuel=5_000)
    with pytest.raises(Refusal) as e:
        node.do(UNIT)
    assert "rolled back" not in str(e.value) and node.name == "heavy"
    with pytest.raises(Refusal) as e:
        node.make_permanent()
    assert e.value.kind == "not_on_probation"


@pytest.mark.parametrize("snapshot_every", [1, 1000])
def test_the_journal_keeps_rollbacks_probation_and_make_permanent(tmp_path, snapshot_every):
    def reopen(n: Node) -> Node:
        assert n.store is not None
        n.store.close()
        return Node.open(Store(str(tmp_path), snapshot_every=snapshot_every))

    node = Node.open(Store(str(tmp_path), snapshot_every=snapshot_every), V1, parse_value("Int 0"), name="counter")
    node.do(L_UNIT)
    node.upgrade(V1, V2, MIG, down=DOWN2, name="counter2")
    node.do(L_UNIT)
    node.rollback()
    node = reopen(node)
    assert (node.name, node.generation, node.state, node.frames) == ("counter", 3, parse_value("Int 1"), [])
    node.upgrade(V1, V2, MIG, name="counter2", probation=True)
    node.do(L_UNIT)
    node = reopen(node)  # restarted on probation: back on the permanent version, and that is journalled
    assert (node.name, node.digest, node.generation, node.state, node.probation) == (
        "counter", digest(V1), 5, parse_value("Int 1"), False)
    node = reopen(node)  # the rollback at restart was journalled: nothing more happens the second time
    assert (node.generation, node.name, node.probation) == (5, "counter", False)
    node.upgrade(V1, V2, MIG, name="counter2", probation=True)
    node.make_permanent()
    node = reopen(node)
    assert (node.name, node.generation, node.probation, node.status()["rollback"]["how"]) == (
        "counter2", 6, False, "discard")


def test_the_wire_and_the_client_signed_when_the_node_trusts_keys(tmp_path):
    assert cam("keygen", str(tmp_path / "ops")).returncode == 0
    key = str(tmp_path / "ops.key")
    node = counter()
    with start_in_thread(node, trust=[auth.load_public_key(str(tmp_path / "ops.pub"))]) as running, \
            Client(running.host, running.port) as c:
        c.do("L Unit")
        r = c.upgrade(COUNTER, COUNTER2, MIGRATION, down=DOWNGRADE, key=key)
        assert (r["name"], r["version"]) == ("counter2", 2)
        for call in (lambda: c.rollback(), lambda: c.make_permanent(),
                     lambda: c.upgrade(COUNTER2, COUNTER, DOWNGRADE)):
            with pytest.raises(NodeError) as e:
                call()
            assert e.value.kind == "unauthorized" and node.generation == 2
        # a signature for a rollback with discard is not one for a rollback without
        message = auth.payload("rollback", node.node_id, node.generation, node.digest, discard=True)
        line = json.dumps({"id": 9, "kind": "rollback", "signature": auth.sign(key, message)})
        assert c.request(line)["error"] == "unauthorized" and node.generation == 2
        # a down-migration swapped after signing is refused
        message = auth.payload("upgrade", node.node_id, 2, node.digest,
                               **auth.upgrade_fields(digest(V2), digest(V1), digest(DOWN2), probation=True))
        line = json.dumps({"id": 10, "kind": "upgrade", "old": str(V2), "new": str(V1), "migration": str(DOWN2),
                           "probation": True, "down": str(MIG), "signature": auth.sign(key, message)})
        assert c.request(line)["error"] == "unauthorized" and node.generation == 2
        r = c.rollback(key=key)
        assert (r["name"], r["state"], node.generation) == ("counter", "Int 0", 3)  # (1, 0) -> 0
        c.upgrade(COUNTER, COUNTER2, MIGRATION, probation=True, key=key)
        assert c.make_permanent(key=key)["version"] == 4 and not c.status()["probation"]
        assert c.request('{"id": 11, "kind": "status", "code": 1}')["error"] == "bad_request"


def test_the_command_line(tmp_path):
    data = str(tmp_path / "d")
    proc = NodeProcess("--machine", "catlib.examples.counter:COUNTER", "--port", "0", "--data", data)
    conn = ["--port", str(proc.port)]
    try:
        assert cam("send", "L Unit", *conn).returncode == 0
        r = cam("upgrade", "--old", "catlib.examples.counter:COUNTER", "--new", "catlib.examples.counter:COUNTER2",
                "--migration", "catlib.examples.counter:MIGRATION", "--down", "catlib.examples.counter:DOWNGRADE",
                *conn)
        assert r.returncode == 0 and "v2 catlib.examples.counter:COUNTER2" in r.stdout, r.stderr
        r = cam("status", *conn)
        assert "Machine:   catlib.examples.counter:COUNTER2" in r.stdout and "rollback goes to v1 (down)" in r.stdout
        assert digest(parse_code(cam("status", "--code", *conn).stdout.strip())) == digest(V2)
        assert cam("send", "L Unit", *conn).returncode == 0  # (1, 0) -> (1, 1)
        r = cam("rollback", *conn)
        assert r.returncode == 0 and "rollback to v1" in r.stdout and "State:     Int 1" in r.stdout, r.stderr
        r = cam("rollback", *conn)
        assert r.returncode == 1 and "no_history" in r.stderr
        r = cam("upgrade", "--old", "catlib.examples.counter:COUNTER", "--new", "catlib.examples.counter:COUNTER2",
                "--migration", "catlib.examples.counter:MIGRATION", "--probation", *conn)
        assert r.returncode == 0 and "on probation" in r.stdout
        r = cam("rollback", *conn)
        assert r.returncode == 1 and "needs_discard" in r.stderr
        r = cam("make-permanent", *conn)
        assert r.returncode == 0 and "Permanent: v4" in r.stdout
        r = cam("rollback", "--discard", *conn)
        assert r.returncode == 0 and "rollback to v3" in r.stdout and "0 input" not in r.stdout
    finally:
        proc.stop()
    proc = NodeProcess("--data", data, "--port", "0")
    try:
        r = cam("status", "--json", "--port", str(proc.port))
        s = json.loads(r.stdout)
        assert (s["name"], s["version"], s["state"]) == ("catlib.examples.counter:COUNTER", 5, "Int 1")
    finally:
        proc.stop()


def test_an_upgrade_rolled_back_before_any_input_records_no_pause():
    """`upgrade_pauses` and `upgrade_latencies` end at the first input served by the new code: an upgrade
    rolled back before any input reached it has none (the input after the rollback runs the old code)."""
    node = Node(V1, parse_value("Int 0"))
    node.upgrade(V1, V2, MIG)
    node.rollback(discard=True)
    node.do(L_UNIT)
    assert node.upgrade_pauses == [] and node.upgrade_latencies == []
    node.upgrade(V1, V2, MIG)
    node.do(L_UNIT)
    assert len(node.upgrade_pauses) == len(node.upgrade_latencies) == 1


def test_an_input_sent_with_an_upgrade_runs_after_it_and_others_are_answered_meanwhile():
    """A connection's input sent in the same write as its upgrade runs on the new version (its answers in
    order), however long the upgrade's answer waits for the inputs of others held by the swap."""
    import socket

    from cam.code import to_text

    with start_in_thread(counter()) as running:
        with socket.create_connection((running.host, running.port)) as s, s.makefile("rb") as f, \
                Client(running.host, running.port) as other:
            up = {"id": 1, "kind": "upgrade", "old": to_text(V1), "new": to_text(V2), "migration": to_text(MIG)}
            s.sendall(json.dumps(up).encode() + b'\n{"id": 2, "kind": "do", "input": "L Unit"}\n')
            others = [other.do("L Unit").state for _ in range(20)]
            first, second = json.loads(f.readline()), json.loads(f.readline())
        assert first["id"] == 1 and first["ok"] and second["id"] == 2 and second["ok"], (first, second)
        migrated, after = parse_value(first["state"]), parse_value(second["state"])
        assert type(migrated).__name__ == type(after).__name__ == "Pair"  # it ran on the new version
        # the other client was answered throughout (each `do` returned), by the old version, then by the new one
        kinds = [type(state).__name__ for state in others]
        assert kinds == sorted(kinds, key=lambda k: k == "Pair"), kinds


def test_a_served_upgrade_compiles_aside_and_translates_its_migration_before_the_swap():
    """A served upgrade's checks run in a worker thread while the event loop answers inputs: its new code
    is compiled in a helper process (`cam.pysource.compiling_aside`: ``compile`` would hold the loop off),
    and its migration is translated there too, not on its second run (at the swap, on the loop)."""
    from cam import decoded, pysource
    from cam.code import to_text

    def shaped(extra: str) -> Any:  # V2 with no-op instructions after its ADD: a shape compiled nowhere else
        return parse_code(to_text(V2).replace("ADD", "ADD," + extra))

    mig = parse_code(to_text(MIG).replace("[", "[ID,", 1))  # a migration run nowhere yet
    node = counter()
    before = pysource.ASIDE.compiled
    node.upgrade(V1, shaped("PUSH,QUOTE (Int 1),CONS,MUL,ID"), MIG)  # in process: compiled here
    assert pysource.ASIDE.compiled == before
    node.rollback(discard=True)
    assert decoded.decode(mig).jit is None
    with start_in_thread(node) as running, Client(running.host, running.port) as c:
        c.do(L_UNIT)
        assert c.upgrade(V1, shaped("PUSH,QUOTE (Int 0),CONS,SUB,ID"), mig)["state"] == "Pair (Int 1) (Int 0)"
        assert c.do(L_UNIT).state == parse_value("Pair (Int 1) (Int 1)")
    assert pysource.ASIDE.compiled > before and decoded.decode(mig).jit is not None
