"""Interfaces that evolve (issue 15, part 4): an upgrade with adapters; every interface of the history is served."""

from __future__ import annotations

import json

import pytest

from cam.client import Client, NodeError, as_code
from cam.node import Node, Refusal
from cam.server import start_in_thread
from cam.store import Store
from cam.text import digest, parse_code, parse_value
from catlib.examples.counter import DOWNGRADE, incr2
from catlib.program import Program
from catlib.syntax import dot, inl, inr, kase, pget, psnd, sm
from tests.node_helpers import MIG, V1, V2, NodeProcess, cam

# Version 3 answers a count with the whole state (parked, current): its output type changes.
counter3 = sm(kase(dot(inl, incr2), dot(inr, pget)))
COUNTER3 = Program("counter3", counter3, "(Int, Int)", "Either () ()", "Either () (Int, Int)", (0, 0))
# ... so old clients get their Either () Int through this adapter: R (parked, n) -> R n.
to_v2 = sm(kase(inl, dot(inr, psnd)))
TO_V2 = Program("to_v2", to_v2, "()", "Either () (Int, Int)", "Either () Int", ())
V3, TO_V2_CODE, SAME = as_code(counter3), as_code(to_v2), parse_code("[ID]")
L_UNIT, R_UNIT = parse_value("L Unit"), parse_value("R Unit")


def upgraded() -> Node:
    node = Node(V1, parse_value("Int 0"), name="counter")
    node.do(L_UNIT)
    node.upgrade(V1, V2, MIG, name="counter2")
    node.do(L_UNIT)
    node.upgrade(V2, V3, SAME, name="counter3", adapters=(None, TO_V2_CODE))
    return node


def test_old_and_new_clients_are_served_after_an_interface_change():
    node = upgraded()
    assert [i["interface"] for i in node.status()["interfaces"]] == [1, 3]
    assert node.status()["interfaces"][1] == {"interface": 3, "input": "Either () ()", "output": "Either () (Int, Int)"}
    assert node.do(R_UNIT).output == parse_value("R (Int 1)")  # untagged: interface 1, as before
    assert node.do(R_UNIT, interface=1).output == parse_value("R (Int 1)")
    assert node.do(R_UNIT, interface=3).output == parse_value("R (Pair (Int 1) (Int 1))")
    with pytest.raises(Refusal) as e:
        node.do(R_UNIT, interface=2)
    assert e.value.kind == "unknown_interface"
    # an upgrade that keeps the interface keeps serving every one
    node.upgrade(V3, V3, SAME, name="counter3 again")
    assert [i.number for i in node.interfaces] == [1, 3]


def test_adapters_that_do_not_fit_are_refused_and_nothing_changes():
    node = Node(V1, parse_value("Int 0"))
    node.upgrade(V1, V2, MIG)
    before = (node.digest, node.state, node.generation, node.interfaces)
    for adapters, kind in (((None, None), "interface_changed"),              # no adapter
                           ((None, as_code(DOWNGRADE)), "adapter_type"),     # an adapter of the wrong type
                           ((TO_V2_CODE, None), "adapter_type")):           # on the wrong side
        with pytest.raises(Refusal) as e:
            node.upgrade(V2, V3, SAME, adapters=adapters)
        assert e.value.kind == kind, e.value
        assert (node.digest, node.state, node.generation, node.interfaces) == before


def test_rollback_and_restart_keep_the_interfaces(tmp_path):
    node = Node.open(Store(str(tmp_path)), V1, parse_value("Int 0"))
    node.upgrade(V1, V2, MIG)
    node.do(L_UNIT)
    node.upgrade(V2, V3, SAME, adapters=(None, TO_V2_CODE), down=SAME)
    node.do(L_UNIT, interface=3)
    assert node.store is not None
    node.store.close()
    node = Node.open(Store(str(tmp_path)))
    assert [i.number for i in node.interfaces] == [1, 3]
    assert node.do(R_UNIT).output == parse_value("R (Int 2)")
    node.rollback()
    assert [i.number for i in node.interfaces] == [1] and node.digest == digest(V2)
    with pytest.raises(Refusal):
        node.do(R_UNIT, interface=3)
    node.upgrade(V2, V3, SAME, adapters=(None, TO_V2_CODE))  # a number never used before: 3 meant another
    assert [i.number for i in node.interfaces] == [1, 5]


def test_the_wire_the_client_and_the_command_line():
    node = Node(V1, parse_value("Int 0"), name="counter")
    with start_in_thread(node) as running, Client(running.host, running.port) as c:
        c.upgrade(V1, V2, MIG)
        r = c.upgrade(V2, COUNTER3, SAME, output_adapter=TO_V2)
        assert r["name"] == "counter3"
        assert c.do("L Unit").output == parse_value("L Unit")
        assert c.do("R Unit").output == parse_value("R (Int 1)")
        assert c.do("R Unit", interface=3).output == parse_value("R (Pair (Int 0) (Int 1))")
        with pytest.raises(NodeError) as e:
            c.do("R Unit", interface=9)
        assert e.value.kind == "unknown_interface"
        line = json.dumps({"id": 1, "kind": "do", "input": "R Unit", "interface": "3"})
        assert c.request(line)["error"] == "bad_request"
        assert [i["interface"] for i in c.status()["interfaces"]] == [1, 3]


def test_the_command_line():
    proc = NodeProcess("--machine", "catlib.examples.counter:COUNTER", "--port", "0")
    conn = ["--port", str(proc.port)]
    try:
        assert cam("upgrade", "--old", "catlib.examples.counter:COUNTER", "--new", "catlib.examples.counter:COUNTER2",
                   "--migration", "catlib.examples.counter:MIGRATION", *conn).returncode == 0
        r = cam("upgrade", "--old", "catlib.examples.counter:COUNTER2", "--new", "tests.test_node_interfaces:COUNTER3",
                "--migration", "[ID]", "--output-adapter", "tests.test_node_interfaces:TO_V2", *conn)
        assert r.returncode == 0, r.stderr
        assert "Interfaces: 1: Either () () -> Either () Int, 3:" in cam("status", *conn).stdout
        assert "Output:    R (Int 0)" in cam("send", "R Unit", *conn).stdout
        assert "Output:    R (Pair (Int 0) (Int 0))" in cam("send", "R Unit", "--interface", "3", *conn).stdout
    finally:
        proc.stop()
