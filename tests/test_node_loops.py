"""The node's event loop (`cam.loops`): chosen by name, the same answers and the same end on each.

The other node tests run on the default loop (uvloop when installed); ``CAM_NODE_LOOP=asyncio python -m pytest
tests/test_node*.py`` runs them all on asyncio's.
"""

from __future__ import annotations

import importlib.util

import pytest

from cam import loops
from cam.client import Client, NodeError
from cam.node import Node
from cam.server import start_in_thread
from cam.text import parse_value
from tests.node_helpers import MIG, V1, V2, NodeProcess, cam

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
ON_EACH = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop missing"))]


def test_auto_is_the_environment_s_choice_then_uvloop_when_installed(monkeypatch):
    monkeypatch.delenv("CAM_NODE_LOOP", raising=False)
    assert loops.chosen("auto") == ("uvloop" if HAVE_UVLOOP else "asyncio")
    monkeypatch.setenv("CAM_NODE_LOOP", "asyncio")
    assert loops.chosen("auto") == "asyncio"
    assert loops.chosen("asyncio") == "asyncio"


def test_a_loop_that_is_not_there_is_an_error_not_a_fallback(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a))
    monkeypatch.delenv("CAM_NODE_LOOP", raising=False)
    assert loops.chosen("auto") == "asyncio"  # auto falls back: uvloop is optional
    with pytest.raises(ValueError, match="uvloop is not installed"):
        loops.chosen("uvloop")
    with pytest.raises(ValueError, match="unknown event loop"):
        loops.chosen("trio")

    async def never() -> None:  # pragma: no cover - closed unawaited, never run
        raise AssertionError

    with pytest.raises(ValueError):
        loops.run(never(), "uvloop")  # the coroutine is closed: no "never awaited" warning (-W error in CI)


@pytest.mark.parametrize("loop", ON_EACH)
def test_a_node_in_a_thread_answers_the_same_on_each_loop(loop):
    with start_in_thread(Node(V1, parse_value("Int 0")), loop=loop) as running, \
            Client(running.host, running.port) as c:
        assert running.loop.__class__.__module__.startswith(loop)
        c.do("L Unit")
        r = c.upgrade(V1, V2, MIG)
        assert (r["state"], r["version"]) == ("Pair (Int 1) (Int 0)", 2)
        assert c.do("L Unit").state == parse_value("Pair (Int 1) (Int 1)")
        with pytest.raises(NodeError, match="wrong_version"):
            c.upgrade(V1, V2, MIG)


@pytest.mark.parametrize("loop", ON_EACH)
def test_sigterm_ends_cam_node_as_ctrl_c_does_on_each_loop(loop):
    """The transcript is flushed and the process exits 0 (uvloop does not let a signal handler's exception
    out of a protocol's callback: the loop's own signal handler ends the node)."""
    with NodeProcess("--machine", "catlib.examples.counter:counter_sm", "--state", "0", "--port", "0",
                     "--loop", loop) as p:
        with Client(p.host, p.port) as c:
            c.do("L Unit")
            assert c.status()["inputs"] == 1
        out, err = p.stop()
        assert p.proc.returncode == 0, err
        assert "Output:    L Unit\nNew state: Int 1\n" in out
        assert "Traceback" not in err


def test_cam_node_refuses_a_loop_it_does_not_know():
    r = cam("node", "--machine", "catlib.examples.counter:counter_sm", "--state", "0", "--loop", "trio")
    assert r.returncode == 2 and "invalid choice: 'trio'" in r.stderr

