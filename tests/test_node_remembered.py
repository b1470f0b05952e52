"""What an upgrade's checks remember between upgrades: verified signatures (`cam.verifier.Remembered`) and
parsed code (`cam.protocol.decode_code`), so that upgrading back and forth reads and verifies each code once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cam import verifier
from cam.code import Code, to_text
from cam.contract import Refusal
from cam.node import Node
from cam.server import Later, NodeServer
from cam.text import parse_code, parse_value, to_json
from tests.node_helpers import MIG, V1, V2


def line(old: Code = V1, new: Code = V2, migration: Code = MIG, **more: Any) -> bytes:
    return json.dumps({"id": 1, "kind": "upgrade", "old": to_text(old), "new": to_text(new),
                       "migration": to_text(migration), **more}).encode()


def server(state: str = "Int 0", **kw: Any) -> NodeServer:
    return NodeServer(Node(V1, parse_value(state), **kw))


def test_an_upgrade_is_read_and_checked_in_the_worker_thread():
    """Even the seed's counter's small upgrade is handed on (a `Later`, its line not yet read: its code is made in
    a worker thread) to the checks' worker thread, so that inputs wait only for the swap, not for its checks;
    a line that only looks like one is answered as it would be on the event loop."""
    s = server()
    for text in (line(client="c", seq=1), line(client="c", seq=1).replace(b'"kind": "upgrade"', b'"kind" :"prepare"')):
        r = s.answer_now(text)
        assert isinstance(r, Later) and r.req is None, r
    assert s.node.generation == 1
    r = asyncio.run(s.handle(line(client="c", seq=1)))
    assert r["ok"] and s.node.generation == 2, r
    status = b'{"id": 2, "kind": "status", "note": {"kind": "upgrade"}}'
    assert isinstance(s.answer_now(status), Later)
    assert asyncio.run(s.handle(status))["digest"] == s.node.digest
    refused = b'{"id": 3, "kind": "upgrade"}'
    assert isinstance(s.answer_now(refused), Later)
    on_loop = s._answer(s._decode(refused), True, 0.0)
    assert asyncio.run(s.handle(refused)) == on_loop and on_loop["error"] == "bad_request", on_loop


def test_remembered_signatures_are_the_verifier_s_and_refusals_are_not_kept():
    v = verifier.Remembered(most=4)
    bad = parse_code("[FST]")
    for _ in range(2):
        with pytest.raises(verifier.BytecodeError):
            v(bad, state="Int", input="Int")
    assert not v.known
    codes = [parse_code(f"[PUSH,QUOTE (Int {i}),CONS,FST]") for i in range(10)]
    for c in codes:
        assert v(c) == verifier.verify(c) and v(c, input="Int") == verifier.verify(c, input="Int")
    assert len(v.known) <= 4
    big = parse_code("[" + ",".join(["ID"] * 20_000) + "]")  # not kept alive for this
    assert v(big) == verifier.verify(big) and all(k[0] is not big for k in v.known)


def test_upgrade_code_read_again_is_the_same_code():
    from cam import protocol

    text = to_text(V2)
    first = protocol.decode_code(text, "new")
    assert protocol.decode_code(text, "new") is first and first == V2
    for i in range(100):  # the table keeps the last ones: the oldest are read again
        protocol.decode_code(f"[PUSH,QUOTE (Int {i}),CONS,FST]", "new")
    again = protocol.decode_code(text, "new")
    assert again is not first and again == first
    long = "[" + ",".join(["ID"] * 6000) + "]"  # over 16 KiB: read each time, not kept
    assert protocol.decode_code(long, "new") is not protocol.decode_code(long, "new")
    doc = json.loads(to_json(V2))  # a JSON document (what `cam.client.Client` sends) too
    assert protocol.decode_code(doc, "new") is protocol.decode_code(json.loads(to_json(V2)), "new") == V2
    with pytest.raises(Refusal, match="does not parse") as e:
        protocol.decode_code({**doc, "version": 99}, "new")
    assert e.value.kind == "bad_code"


def test_the_swap_keeps_what_the_checks_made():
    """An upgrade's checks (in the worker thread) make the migrated state's host value and the signature's
    text; the swap keeps them, and the inputs known to have the input type, when the interfaces stay."""
    from cam.hostvalue import from_value
    from tests.test_node_interfaces import L_UNIT, R_UNIT, TO_V2_CODE, V3

    node = Node(V1, parse_value("Int 0"))
    node.do(L_UNIT)
    h = node.check_input(L_UNIT)
    p = node.checked(V1, V2, MIG)
    assert p.host == from_value(p.state) and p.shown == str(p.signature) and p.state_text == to_text(p.state)
    node.install(p)
    assert node.host_state is p.host and node.state is p.state and node.signature_text() is p.shown
    assert node.state_text() is p.state_text
    assert node.check_input(L_UNIT) is h  # the same interfaces: still known
    assert node.status()["signature"] == str(node.signature) == "(Int, Int) / Either () () -> Either () Int"
    assert node.do(L_UNIT).state == parse_value("Pair (Int 1) (Int 1)")  # as the seed's transcript
    assert node.do(R_UNIT).output == parse_value("R (Int 1)")
    node.rollback(discard=True)
    assert node.signature_text() == str(node.signature) == "Int / Either () () -> Either () Int"
    node.upgrade(V1, V2, MIG)
    h = node.check_input(R_UNIT)
    node.upgrade(V2, V3, parse_code("[ID]"), adapters=(None, TO_V2_CODE))  # a new interface: checked again
    assert node.check_input(R_UNIT) is not h and node.check_input(R_UNIT) == h
