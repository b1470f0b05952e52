"""What a node prints: its transcript (the reference's lines) on a thread of its own, its banner, its notices.

A node must never wait for its terminal: `Transcript` buffers a bounded number
of events and drops (and counts) the rest when nobody reads, and it escapes
control characters, so no client can write to the operator's terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import select
import stat
import sys
import threading
import time
from collections import deque
from threading import get_ident
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
    dropped and counted (`dropped`); the count is printed once the terminal keeps up again.  The
    printing thread writes every event waiting at once; when it found more than one, it waits `gather`
    seconds before it looks again, so a busy node wakes it about once per `gather`, not once per event
    (an event of a quiet node is printed at once).

    A server calls `batch_on` from its event loop: the events that loop's callbacks emit in one turn are
    then printed together (while `batching`), at the start of its next turn (before it reads anything more), in one write
    instead of one each.  While `answering` (set by the connection making answers, `cam.guard.Lines`), that loop's
    events are held until `answered`, called once the answers are written: printing is then off the path from a
    request to its answer (the state changes, the answer goes out, then the transcript says so).  An event from
    another thread, and `flush`, print the held ones first: the order of events never changes.
    """

    def __init__(self, out: TextIO | None = None, capacity: int = 10_000, gather: float = 0.005) -> None:
        self.out, self.capacity, self.gather = out, capacity, gather
        self.dropped = 0
        self._reported = 0
        self._failed = False  # a write failed and was said: a reader that went (| head) stays gone
        self._events: deque[list[str]] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._held: list[list[str]] = []
        """Events of the current turn of the batching loop (see `batch_on`), not yet printed."""
        self._loop: Any = None
        self._owner: int | None = None
        """The thread of the batching loop."""
        self.batching = False
        """Whether the batching loop's events are held now (`hold_turns`): its server says so while more than
        one connection is open (one connection's events come one a turn: holding them would cost a turn)."""
        self.answering = False
        """Whether the batching loop is making answers: its events are held until `answered`."""
        self._due = False
        """Whether a `release` of the held events is scheduled on the batching loop."""
        self._waiting = False
        self._never_blocks: int | None = None
        """The descriptor of `out` if writing to it never blocks (a file), -1 if it may, None: not known yet."""
        self._busy = False
        """Whether the writer is printing events it took from the buffer."""
        self._thread = threading.Thread(target=self._write, name="cam-transcript", daemon=True)
        self._thread.start()

    def __call__(self, lines: list[str]) -> None:
        with self._lock:
            held = self._held
            if len(self._events) + len(held) >= self.capacity:
                self.dropped += 1
                return
            if (self.batching or self.answering) and get_ident() == self._owner:
                held.append(lines)
                if self.batching and not self._due:  # printed when the loop's callbacks of this turn are done
                    self._due = True
                    self._loop.call_soon(self.release)
                return
            if held:
                self._spill()
            self._emit([lines])

    def _emit(self, events: list[list[str]]) -> None:
        """Print `events` at once if nothing waits before them and that cannot block, else queue them (lock held)."""
        if not self._events and not self._busy and self._now(
                events[0] if len(events) == 1 else [s for lines in events for s in lines]):
            return
        self._events.extend(events)  # escaped by the writer: the node's thread only queues
        if self._waiting:  # the writer sleeps: wake it (it drains everything queued meanwhile)
            self._ready.notify()

    def _spill(self) -> None:
        """Queue the held events for the printing thread (lock held): something else must print after them."""
        self._events.extend(self._held)
        self._held = []
        if self._waiting:
            self._ready.notify()

    def batch_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Hold the events emitted on `loop`'s thread (call from it) until its next turn; ``None``: stop (and print)."""
        with self._lock:
            if loop is None and self._held:
                self._spill()
            self._loop, self._owner = loop, None if loop is None else get_ident()
            self.batching = self.answering = self._due = False

    def hold_turns(self, on: bool) -> None:
        """Hold the batching loop's events a turn (see `batch_on`) from now on, or print them at once."""
        self.batching = on and self._loop is not None

    def release(self) -> None:
        """Print the events held since the loop's last turn, in one write if it cannot block."""
        with self._lock:
            self._due = False
            held, self._held = self._held, []
            if held:
                self._emit(held)

    def answered(self) -> None:
        """The answers made since `answering` was set are written: print their events now (or, while `batching`,
        at the loop's next turn with the others').  Never raises: the answers are out, the events queued."""
        self.answering = False
        if self._held and not self._due:
            try:
                self.release()
            except Exception as e:  # as `cam.contract.safe_emit`: the terminal's failure is not the request's
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"cam node: could not print: {type(e).__name__}: {e}\n")

    def _now(self, lines: list[str]) -> bool:
        """Print a short event at once, on the caller's thread, if that cannot block; whether it did.

        Only when nothing waits to be printed before it (the caller holds the lock), the output is a
        file whose descriptor takes the bytes now (``select``), and the event is short (a terminal or
        a pipe with room takes a few hundred bytes whole) or the file is one whose writes never wait.  Waking the printing thread for each event
        costs a quiet node more than this does.
        """
        if self.dropped > self._reported:
            return False
        f = self.out or sys.stdout
        try:
            fd = f.fileno()
            # the lines are printable when their concatenation is (a newline is not: not the joined text's)
            text = "\n".join(lines if "".join(lines).isprintable() else
                              [s if s.isprintable() else escape(s) for s in lines])
            data = (text + "\n").encode(f.encoding or "utf-8")
            if len(data) > 512 and fd != self._never_blocks or not (fd == self._never_blocks or select.select((), (fd,), (), 0)[1]):
                return False
            f.flush()  # whatever others wrote to `f` and left in its buffer goes first
            n = os.write(fd, data)
            if self._never_blocks is None:
                mode = os.fstat(fd)
                # a regular file, or /dev/null: a write never waits for a reader, no need to ask each time
                self._never_blocks = fd if stat.S_ISREG(mode.st_mode) or (
                    stat.S_ISCHR(mode.st_mode) and os.path.samestat(mode, os.stat(os.devnull))) else -1
        except (AttributeError, ValueError, OSError, LookupError, io.UnsupportedOperation):
            return False  # no descriptor, or a closed one: the printing thread writes (and reports) it
        if n < len(data):  # the rest (whole lines, escaped already: escaping them again changes nothing)
            self._events.append(data[n:].decode(f.encoding or "utf-8", "replace").split("\n")[:-1])
            if self._waiting:
                self._ready.notify()
        return True

    def _write(self) -> None:
        while True:
            with self._ready:
                while not self._events:
                    self._waiting = True
                    self._ready.wait()
                self._waiting, self._busy = False, True
                events = list(self._events)
                self._events.clear()
                if self.dropped > self._reported:
                    events[0] = [f"[transcript: {self.dropped - self._reported} events dropped]", *events[0]]
                    self._reported = self.dropped
            # every event queued since the last write goes out in one write and one flush
            text = "".join("".join((s if s.isprintable() else escape(s)) + "\n" for s in lines) for lines in events)
            try:
                f = self.out or sys.stdout
                f.write(text)
                f.flush()
            except Exception as e:  # a closed terminal: say so once where possible, keep draining
                if not self._failed:
                    self._failed = True
                    with contextlib.suppress(Exception):
                        sys.stderr.write(f"cam node: could not print {events[0][:1]!r}... (nor what follows): "
                                         f"{type(e).__name__}: {e}\n")
            finally:
                with self._ready:
                    self._busy = False
                    self._ready.notify_all()
            if len(events) > 1:  # events come faster than they print: let the next ones gather, so that a busy
                time.sleep(self.gather)  # node wakes this thread once per burst, not once per event

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (at most `timeout` seconds) until every buffered event is printed."""
        deadline = time.monotonic() + timeout
        with self._ready:
            if self._held:
                self._spill()
            while (self._events or self._busy) and time.monotonic() < deadline:
                self._ready.wait(0.05)


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
