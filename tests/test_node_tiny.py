"""Tiny upgrades (`cam.changes.TINY_UPGRADE`): checked, translated and installed at once on the event loop.

An upgrade whose line is short, whose code has no ``APP``, at a small state, with the package's own checks and
no signature to verify, is answered by `NodeServer.answer_now` itself (no task, no worker thread); every other
one is handed on (a `Later`) to the checks in a worker thread.  The same checks run either way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cam import verifier
from cam.changes import TINY_UPGRADE
from cam.code import Code, Pair, Value, to_text
from cam.node import Node
from cam.server import Later, NodeServer
from cam.text import parse_code, parse_value
from tests.node_helpers import MIG, V1, V2


def line(old: Code = V1, new: Code = V2, migration: Code = MIG, **more: Any) -> bytes:
    return json.dumps({"id": 1, "kind": "upgrade", "old": to_text(old), "new": to_text(new),
                       "migration": to_text(migration), **more}).encode()


def server(state: str = "Int 0", **kw: Any) -> NodeServer:
    return NodeServer(Node(V1, parse_value(state), **kw))


def test_a_tiny_upgrade_is_answered_at_once_and_its_pause_counts_from_receiving_it():
    s = server()
    s.answer(b'{"id": 0, "kind": "do", "input": "L Unit"}')
    r = s.answer_now(line(client="c", seq=1))
    assert isinstance(r, dict) and r["ok"] and r["version"] == 2 and r["state"] == "Pair (Int 1) (Int 0)"
    after = json.loads(s.answer(b'{"id": 2, "kind": "do", "input": "L Unit"}'))  # type: ignore[arg-type]
    assert (after["output"], after["state"]) == ("L Unit", "Pair (Int 1) (Int 1)")
    node = s.node
    assert node.upgrade_pauses == node.upgrade_latencies and len(node.upgrade_pauses) == 1  # held throughout
    assert s.answer_now(line(client="c", seq=1)) == r  # a retry: the first answer, nothing run again
    assert node.generation == 2 and s.stats["retries_answered"] == 1


def test_a_tiny_upgrade_is_refused_at_once_and_changes_nothing():
    s = server()
    said: list[str] = []
    s.node.emit = said.extend
    r = s.answer_now(line(old=V2))
    assert isinstance(r, dict) and r["error"] == "wrong_version"
    r = s.answer_now(line(new=parse_code("[ID,GET,INR]")))  # its input type is not the running one
    assert isinstance(r, dict) and r["error"] == "interface_changed"
    assert s.node.generation == 1 and s.node.state == parse_value("Int 0")
    assert any("Upgrade refused" in x or "isn't the one" in x for x in said)


def big_state() -> Value:
    v: Value = parse_value("Int 0")
    for _ in range(300):
        v = Pair(parse_value("Int 1"), v)
    return v


@pytest.mark.parametrize("why", ["long line", "APP", "big state", "own verify", "verify replaced", "signed", "busy"])
def test_other_upgrades_go_to_the_worker_thread(why):
    kw: dict[str, Any] = {}
    if why == "own verify":
        kw["verify"] = verifier.verify  # checks not known to be the package's own: their time is not bounded
    s = server(**kw)
    request = line()
    if why == "long line":
        request = line(new=Code([parse_code("[ID]")[0]] * 300 + list(V2)))  # the same machine, a longer line
    elif why == "APP":
        request = line(migration=parse_code("[PUSH,CURRY [SND,RETURN],SWAP,CONS,APP,PUSH,QUOTE (Int 0),CONS]"))
    elif why == "big state":
        s = NodeServer(Node(parse_code("[SND]"), big_state()))
        request = line(old=parse_code("[SND]"), new=parse_code("[PUSH,QUOTE (Int 1),CONS,FST,SND]"),
                       migration=parse_code("[]"))
    elif why == "verify replaced":
        s.node.verify = verifier.verify
    elif why == "signed":
        s.trust = [bytes(32)]  # any key: the signature is checked (pure Python) in the worker thread
        request = line(signature="AAAA")
    elif why == "busy":
        s.lock.users += 1  # an input waits for the node's lock
    assert len(request) > TINY_UPGRADE if why == "long line" else len(request) <= TINY_UPGRADE
    r = s.answer_now(request)
    assert isinstance(r, Later) and r.req is not None and r.req.kind == "upgrade", r
    assert s.node.generation == 1


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
