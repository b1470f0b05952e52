"""The node's request path on host values: text of host values, the two forms of the state, translation
ahead of the swap, the transcript's direct and batched printing, and which upgrades are checked inline."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cam.node as node_module
from cam.changes import bounded
from cam.client import as_code
from cam.code import to_text
from cam.hostvalue import from_value, host_text, to_value
from cam.node import Node
from cam.protocol import Request
from cam.terminal import Transcript
from cam.text import parse_code, parse_value
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state
from catlib.values import INT_MAX, INT_MIN, Left, Right

V1, V2, MIG = as_code(counter_sm), as_code(counter_sm2), as_code(upgrade_state)

host_values = st.recursive(
    st.one_of(st.just(()), st.integers(INT_MIN, INT_MAX)),
    lambda kids: st.one_of(st.tuples(kids, kids), kids.map(Left), kids.map(Right)),
    max_leaves=30)


@given(host_values)
def test_host_text_is_the_text_of_the_machine_value(h: object) -> None:
    v = to_value(h)
    assert host_text(h) == to_text(v)
    assert from_value(v) == h


def test_host_text_of_a_deep_value_and_of_a_closure() -> None:
    h: object = 0
    for _ in range(100_000):
        h = Left((1, h))
    assert host_text(h) == to_text(to_value(h))
    closure = from_value(parse_value("Closure [ID,SND] (Pair (Int 1) Unit)"))
    assert host_text((closure, Right(()))) == "Pair (Closure [ID,SND] (Pair (Int 1) Unit)) (R Unit)"


def test_the_state_s_two_forms_agree_after_inputs_upgrades_and_rollbacks() -> None:
    node = Node(V1, parse_value("Int 0"))
    for i in range(1, 4):
        a = node.do(parse_value("L Unit"))
        assert a.state == node.state == to_value(node.host_state) == parse_value(f"Int {i}")
        assert a.state_text == node.state_text() == f"Int {i}"
    node.upgrade(V1, V2, MIG)
    assert node.state_text() == to_text(node.state) == "Pair (Int 3) (Int 0)" and node.host_state == (3, 0)
    assert node.do(parse_value("L Unit")).state == parse_value("Pair (Int 3) (Int 1)") == node.state
    node.rollback(discard=True)
    assert (node.host_state, node.state_text(), node.state) == (3, "Int 3", parse_value("Int 3"))


def test_new_code_is_translated_by_the_checks_not_by_the_swap_or_the_next_input(
        monkeypatch: pytest.MonkeyPatch) -> None:
    node = Node(V1, parse_value("Int 0"))
    loads: list[object] = []
    real = node_module.load

    def load(code: Any, *args: Any, **kw: Any) -> Any:
        loads.append(code)
        return real(code, *args, **kw)

    monkeypatch.setattr(node_module, "load", load)
    p = node.prepare(V1, V2, MIG)
    assert loads == [V2]
    node.install(p)
    assert node.do(parse_value("L Unit")).state == parse_value("Pair (Int 0) (Int 1)")
    assert loads == [V2]


def test_an_ill_typed_input_is_refused_from_the_cache_too() -> None:
    lines: list[str] = []
    node = Node(V1, parse_value("Int 0"), emit=lines.extend)
    for _ in range(2):  # the second time, the input's check is not cached: it never passed
        try:
            node.do(parse_value("Int 3"))
        except node_module.Refusal as e:
            assert e.kind == "ill_typed_input"
        else:
            raise AssertionError("an ill-typed input ran")
    assert node.state == parse_value("Int 0") and node.inputs == 0


def test_the_transcript_prints_every_event_in_order_quiet_or_busy() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.txt")
        with open(path, "w") as out:
            t = Transcript(out)
            t(["first", ""])  # a quiet node: printed at once, on this thread
            assert open(path).read() == "first\n\n"

            def burst(k: int) -> None:
                for i in range(500):
                    t([f"{k} {i}\x1b[2K", ""])

            threads = [threading.Thread(target=burst, args=(k,)) for k in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            t.flush()
        lines = [s for s in open(path).read().split("\n")[2:] if s]
    assert len(lines) == 2000 and t.dropped == 0
    for k in range(4):  # each thread's events in its order, escaped
        assert [s for s in lines if s.startswith(f"{k} ")] == [f"{k} {i}\\x1b[2K" for i in range(500)]


def test_only_upgrades_without_app_are_bounded() -> None:
    assert bounded(Request(codes=(V1, V2, MIG)))
    assert not bounded(Request(codes=(V1, parse_code("[BRANCH [ID] [CURRY [APP]]]"), MIG)))
    assert not bounded(Request(codes=(V1, V2, MIG), down=parse_code("[PUSH,APP]")))


def test_a_served_node_prints_the_events_of_a_turn_together_in_order() -> None:
    """With several connections open the events of one turn of the event loop are held and printed together;
    with one, at once.  Either way every event is printed, in the order the state changed."""
    import socket

    from cam.client import Client
    from cam.server import start_in_thread

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.txt")
        with open(path, "w") as out:
            t = Transcript(out)
            with start_in_thread(Node(V1, parse_value("Int 0"), emit=t)) as running:
                with Client(running.host, running.port) as a:
                    a.do("L Unit")
                    assert not t.batching  # one connection
                    with Client(running.host, running.port) as b, \
                            socket.create_connection((running.host, running.port)) as s:
                        b.do("L Unit")
                        assert t.batching
                        s.sendall(b"".join(b'{"id": %d, "kind": "do", "input": "L Unit"}\n' % i for i in range(40)))
                        with s.makefile("rb") as f:
                            assert [json.loads(f.readline())["id"] for _ in range(40)] == list(range(40))
                        for c in (a, b) * 5:
                            c.do("L Unit")
                    deadline = time.monotonic() + 10
                    while t.batching and time.monotonic() < deadline:  # the server has seen them close
                        time.sleep(0.01)
                    assert not t.batching
                    assert a.do("L Unit").state == parse_value("Int 53")
            t.flush()
        states = [s for s in open(path).read().splitlines() if s.startswith("New state:")]
    assert states == [f"New state: Int {i}" for i in range(1, 54)]


def test_a_state_value_made_elsewhere_is_kept_only_if_the_state_has_not_changed() -> None:
    """An upgrade makes the state's machine value in its worker thread while inputs go on: the node keeps that
    value only if no input changed the state meanwhile, else it would answer an old state."""
    from cam.hostvalue import form_value, small_value

    node = Node(V1, parse_value("Int 0"))
    node.do(parse_value("L Unit"))
    form, changes = node.state_form(), node.state_changes
    made = form_value(form)
    assert made == parse_value("Int 1") and small_value(form, 1) == made
    node.do(parse_value("L Unit"))  # meanwhile, an input
    node.know_state(made, changes)
    assert node.state == parse_value("Int 2") and node.state_text() == "Int 2"
    form, changes = node.state_form(), node.state_changes
    made = form_value(form)
    node.know_state(made, changes)
    assert node.state is made and node.host_state == 2
