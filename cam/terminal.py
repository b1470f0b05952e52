"""What a node prints: its transcript (the reference's lines) on a thread of its own, its banner, its notices.

A node must never wait for its terminal: `Transcript` buffers a bounded number
of events and drops (and counts) the rest when nobody reads, and it escapes
control characters, so no client can write to the operator's terminal.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

from cam import auth
from cam.code import to_text
from cam.ground import clip
from cam.node import Node
from cam.protocol import escape

__all__ = ["Transcript", "printer", "banner", "notices"]


class Transcript:
    """A `Node.emit` that prints on its own thread from a bounded buffer: the node never waits for a terminal.

    Lines are escaped (`cam.protocol.escape`).  When `capacity` events are waiting, new ones are
    dropped and counted (`dropped`); the count is printed once the terminal keeps up again.
    """

    def __init__(self, out: TextIO | None = None, capacity: int = 10_000) -> None:
        self.out, self.capacity = out, capacity
        self.dropped = 0
        self._reported = 0
        self._events: deque[list[str]] = deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._write, name="cam-transcript", daemon=True)
        self._thread.start()

    def __call__(self, lines: list[str]) -> None:
        with self._ready:
            if len(self._events) >= self.capacity:
                self.dropped += 1
                return
            self._events.append([escape(s) for s in lines])
            self._ready.notify()

    def _write(self) -> None:
        while True:
            with self._ready:
                while not self._events:
                    self._ready.wait()
                lines = self._events.popleft()
                if self.dropped > self._reported:
                    lines = [f"[transcript: {self.dropped - self._reported} events dropped]", *lines]
                    self._reported = self.dropped
            try:
                f = self.out or sys.stdout
                f.write("\n".join(lines) + "\n")
                f.flush()
            except Exception as e:  # a closed terminal: say so where possible, keep draining
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"cam node: could not print {lines[:1]!r}...: {type(e).__name__}: {e}\n")
            finally:
                with self._ready:
                    self._ready.notify_all()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (at most `timeout` seconds) until every buffered event is printed."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._events and time.monotonic() < deadline:
                self._ready.wait(0.05)
        time.sleep(0.01)  # the last event leaves the buffer just before it is written


def printer(out: TextIO | None = None) -> Transcript:
    """An `emit` for `Node` that prints to `out` (default: the current ``sys.stdout``); see `Transcript`."""
    return Transcript(out)


def banner(node: Node, server: Any) -> list[str]:
    """The lines a node prints when it starts: what runs, at which type, where; then the reference's line."""
    lines = [f"Machine:   {node.name or '(code)'}  {node.digest[:19]}",
             f"Signature: {node.signature}",
             f"State:     {clip(to_text(node.state), 200)}",
             f"Listening: {server.host}:{server.port} (newline-delimited JSON{', TLS' if server.ssl_context else ''})"]
    if server.fifo:
        lines.append(f"Commands:  {server.fifo} (the reference's text commands)")
    return [*lines, "Waiting for commands..."]


def notices(node: Node, server: Any) -> list[str]:
    """What an operator must know about a node's setup (printed on stderr at start)."""
    out = []
    if node.store is None:
        out.append("cam node: no --data directory: nothing survives this process (state, version, history)")
    else:
        s = node.store
        out.append(f"cam node: data in {s.path} (durability {s.durability}"
                   + (f": a power cut may lose the last {s.sync_interval:g} s" if s.durability == "group" else "")
                   + f"); resumed at input {node.inputs}, version {node.generation}")
    if server.trust:
        out.append(f"cam node: upgrades must be signed by one of {len(server.trust)} trusted key(s): "
                   + ", ".join(auth.fingerprint(k) for k in server.trust))
    else:
        out.append("cam node: no --trust key: upgrades are accepted from loopback peers only, unsigned")
    return out
