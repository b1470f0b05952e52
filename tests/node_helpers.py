"""Helpers for the node's tests: a node in a subprocess, the counter's code, an expensive machine."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cam.client import as_code
from cam.code import Code
from cam.text import parse_code
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state
from catlib.free import Copy, Snd

ROOT = Path(__file__).resolve().parents[1]
V1, V2, MIG, UP, DOWN = as_code(counter_sm), as_code(counter_sm2), as_code(upgrade_state), as_code(Copy), as_code(Snd)


def padded(code: Code) -> Code:
    """`code` after 20,000 ``ID``s: the same machine, over 64 KiB of JSON, so its checks run in a worker thread."""
    return Code([parse_code("[ID]")[0]] * 20_000 + list(code))


def slowly_verified(code: Code, pause: float = 0.3) -> tuple[Callable[..., Any], threading.Event]:
    """A verifier that holds the check of `code` itself for `pause` seconds, and the event it sets then.

    While an upgrade to `code` is being checked, a test can send other requests and see what waits.
    """
    from cam import verifier

    checking = threading.Event()

    def verify(c: Code, **declared: Any) -> Any:
        if c == code and not declared:
            checking.set()
            time.sleep(pause)
        return verifier.verify(c, **declared)

    return verify, checking


def doubling(k: int) -> Code:
    """A machine ``a / b -> b`` that applies the identity closure 2**k times per input (~6 * 2**k steps).

    Closures that apply their environment's closure twice, nested `k` deep: the verifier accepts
    it (it halts), and its cost per input doubles with each level.
    """
    twice = "CURRY [PUSH,FST,SWAP,APP,CONS,APP,RETURN]"
    return parse_code("[PUSH,CURRY [SND,RETURN]," + ",".join([twice] * k) + ",SWAP,CONS,APP]")


class NodeProcess:
    """``python -m cam node ARGS`` (or ``python FILE.pyz node ARGS``) in a subprocess; host and port once it listens."""

    def __init__(self, *args: str, python: str = sys.executable, pyz: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        cmd = [python, pyz, "node", *args] if pyz else [python, "-m", "cam", "node", *args]
        env = env if env is not None else {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.head: list[str] = []
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(10)
                raise RuntimeError(f"the node exited ({self.proc.returncode}): "
                                   f"{self.proc.stderr.read() if self.proc.stderr else ''}")
            self.head.append(line)
            if line.startswith("Listening:"):
                host, port = line.split()[1].rsplit(":", 1)
                self.host, self.port = host, int(port)
            if line == "Waiting for commands...\n":
                return

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> tuple[str, str]:
        """Terminate; (rest of stdout, all of stderr)."""
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=10)
        return out, err

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()


def cam(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m cam ARGS``."""
    return subprocess.run([sys.executable, "-m", "cam", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
