"""The node's door: which peers are local, which named pipes are safe, and lines read with timeouts and bounds.

`Lines` is one TCP connection (an `asyncio.Protocol`: lines are cut out of
each chunk as it arrives, with no stream object or task per request): a line
must end within `Limits.read_timeout` seconds once started, an answer must be
taken as fast, a silent connection is closed after `Limits.idle_timeout`, a
line over `Limits.max_line` bytes is dropped (and answered), and a line over
`Limits.executor_threshold` bytes is read on and handled only while holding
the server's one big-line slot (`BigSlot`): one big line is handled at a
time, and a connection waiting for the slot holds at most what one read
brought (asyncio reads up to 256 KiB), unread beyond.
Requests of one connection are answered in order, one answer each; at most
`Lines.BATCH` of its lines are answered before other connections get a turn,
and the answers of one turn go out in one write.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import stat
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

__all__ = ["is_loopback", "check_fifo", "Lines", "BigSlot", "encode", "answer_line"]

_dumps = json.JSONEncoder().encode
"""`json.dumps` with its default settings, without its per-call checks of them."""
_quote = json.encoder.encode_basestring_ascii
_ANSWER = frozenset(("id", "ok", "output", "state", "steps"))


def encode(r: dict[str, Any]) -> bytes:
    """An answer's line: `json.dumps` of `r` (its keys in order) and a newline; an input's answer made directly.

    >>> r = {"id": 3, "ok": True, "output": "L Unit", "state": "Int 1", "steps": 16}
    >>> encode(r) == json.dumps(r).encode() + b"\\n"
    True
    """
    rid = r["id"]
    if type(rid) is int and r.keys() == _ANSWER and r["ok"] is True and type(r["steps"]) is int:
        return (f'{{"id": {rid}, "ok": true, "output": {_quote(r["output"])}, "state": {_quote(r["state"])}, '
                f'"steps": {r["steps"]}}}\n').encode()
    return _dumps(r).encode() + b"\n"


_REPLY = frozenset(("output", "state", "steps"))


def answer_line(rid: Any, reply: dict[str, Any]) -> bytes:
    """`encode` of ``{"id": rid, "ok": True, **reply}`` (`rid`: a request's id, `reply`: an input's answer).

    >>> answer_line("a", {"output": "L Unit", "state": "Int 1", "steps": 16}) == encode(
    ...     {"id": "a", "ok": True, "output": "L Unit", "state": "Int 1", "steps": 16})
    True
    """
    if reply.keys() == _REPLY and type(reply["steps"]) is int and (rid is None or type(rid) in (int, str)):
        head = rid if type(rid) is int else "null" if rid is None else _quote(rid)
        return (f'{{"id": {head}, "ok": true, "output": {_quote(reply["output"])}, "state": {_quote(reply["state"])}, '
                f'"steps": {reply["steps"]}}}\n').encode()
    return encode({"id": rid, "ok": True, **reply})


def is_loopback(host: str) -> bool:
    """Whether `host` (an address) is a loopback address, IPv4, IPv6 or IPv4-mapped.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("::ffff:127.0.0.1"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    try:
        a = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(a, "ipv4_mapped", None)
    return bool((mapped or a).is_loopback)


def check_fifo(path: str) -> None:
    """Make the named pipe `path` (mode 0600), or check that the existing one is safe to read commands from.

    An existing path must be a FIFO (not a link to one), owned by this process's user, and not writable by
    group or others: anyone who can write to it can drive the node.  Raises `OSError` saying which.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.mkfifo(path, 0o600)
        return
    if not stat.S_ISFIFO(st.st_mode):
        raise FileExistsError(f"{path} exists and is not a named pipe")
    if st.st_uid != os.geteuid():
        raise PermissionError(f"the named pipe {path} belongs to user {st.st_uid}, not to this node's user "
                              f"{os.geteuid()}: another user could drive the node; remove it or use another path")
    if st.st_mode & 0o022:
        raise PermissionError(f"the named pipe {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}):"
                              f" anyone could drive the node; chmod go-w {path}")


class BigSlot:
    """The server's one slot for a line over `Limits.executor_threshold` bytes: connections wait in turn, unread."""

    def __init__(self) -> None:
        self.holder: Lines | None = None
        self.waiting: deque[Lines] = deque()

    def take(self, conn: Lines) -> bool:
        """Give the slot to `conn` if it is free; else queue `conn` (its reading paused until `release` hands it on)."""
        if self.holder is None or self.holder is conn:
            self.holder = conn
            return True
        if conn not in self.waiting:
            self.waiting.append(conn)
        return False

    def release(self, conn: Lines) -> None:
        """`conn` no longer holds (or waits for) the slot: hand it to the next connection waiting."""
        if conn in self.waiting:
            self.waiting.remove(conn)
        if self.holder is not conn:
            return
        self.holder = None
        while self.waiting:
            nxt = self.waiting.popleft()
            if not nxt.closed:
                self.holder = nxt
                nxt.holding_big = True
                nxt.resume("big")
                asyncio.get_running_loop().call_soon(nxt.process)  # a whole big line may wait in its `lines`
                return


class Lines(asyncio.Protocol):
    """One TCP connection's request lines, answered in order by `server` (a `cam.server.NodeServer`).

    `server.answer(line, local)` answers a line at once (its line, or a dict), or gives what must wait (for the
    node's lock, a worker thread...) to `server.answer_later`, which runs in a task; the connection
    reads no further request until that answer is written.  Reading pauses while the socket's outgoing
    buffer is full (`pause_writing`), while too many lines wait, or while another connection holds the
    big-line slot; a deadline timer per connection enforces the read, write and idle timeouts.
    """

    BATCH = 16
    """Lines of one connection answered in one turn of the event loop (fairness between clients)."""
    BACKLOG = 256
    """Lines waiting on one connection past which it is no longer read (back-pressure on a pipelining client);
    it is no longer read either while they hold over `Limits.executor_threshold` bytes."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.limits = server.node.limits
        self.short = min(self.limits.executor_threshold, self.limits.max_line)
        """A chunk at most this long that is one whole line may be answered at once (`data_received`)."""
        self.buffer = bytearray()
        self.lines: deque[bytes | None] = deque()
        self.queued = 0
        """Bytes of the lines in `lines`."""
        self.dropping = False
        """Skipping the rest of a line over the size limit (already answered)."""
        self.holding_big = False
        self.busy = False
        """An answer is being made in a task: later lines wait."""
        self.eof = self.closed = self.scheduled = False
        self.paused: set[str] = set()
        """Why reading is paused: "big" (waiting for the slot), "backlog", "write" (answers not taken)."""
        self.write_blocked: float | None = None
        self.started: float | None = None
        """When the unfinished line in `buffer` began (`time.monotonic`)."""
        self.last = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self.local = False
        self.timer: asyncio.TimerHandle | None = None
        self.due = 0.0
        """When `timer` fires (`time.monotonic`)."""

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        if not self.server.admit(self):
            self.closed = True
            return
        peer = transport.get_extra_info("peername")
        self.local = isinstance(peer, tuple) and is_loopback(str(peer[0]))
        self._arm(self.limits.idle_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        now = self.last = time.monotonic()
        if (data[:1] == b"{" and data.find(b"\n") == len(data) - 1 and not self.buffer and not self.lines
                and not self.busy and not self.paused and not self.dropping and not self.holding_big
                and len(data) <= self.short):
            # the commonest chunk: one whole request line, nothing before it: answered as `process` would
            self._answering(self._answer_line, data[:-1])
            return
        if self.dropping:
            i = data.find(b"\n")
            if i < 0:
                return
            self.dropping, self.started, data = False, None, data[i + 1:]
        buf = self.buffer
        had = len(buf)
        buf += data
        max_line = self.limits.max_line
        if b"\n" in data:
            start, find, add = 0, buf.find, self.lines.append
            i = find(b"\n", had)
            while i >= 0:
                if i - start <= max_line:
                    add(bytes(buf[start:i]))
                    self.queued += i - start
                else:
                    add(None)
                start = i + 1
                i = find(b"\n", start)
            del buf[:start]
            if buf:
                self.started = now
                self._by(now + self.limits.read_timeout)
            else:
                self.started = None
        elif self.started is None:
            self.started = now
            self._by(now + self.limits.read_timeout)
        if len(buf) > max_line:  # answer now; skip the rest of this line as it comes
            buf.clear()
            self.lines.append(None)
            self.dropping = True
        if len(buf) > self.limits.executor_threshold and not self.holding_big:
            self.holding_big = self.server.big_slot.take(self)  # one big line in memory at a time
            if not self.holding_big:
                self.pause("big")
        if len(self.lines) > self.BACKLOG or self.queued > self.limits.executor_threshold and len(self.lines) > 1:
            self.pause("backlog")  # a client sending faster than it is answered waits, unread
        self.process()

    def eof_received(self) -> bool:
        self.eof = True
        if self.buffer and not self.dropping:  # the last line, unterminated
            last = bytes(self.buffer) if len(self.buffer) <= self.limits.max_line else None
            self.lines.append(last)
            self.queued += len(last or b"")
        self.buffer.clear()
        self.process()
        # Half-closed: the answers still go out, then `process` closes.  Not over TLS: its transport closes at
        # the end of file whatever this returns (asyncio logs a warning for True), so an answer still being
        # made then is lost, as it was with asyncio's streams (lines answered at once have been written).
        return self.transport is None or self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        self.server.forget(self)
        if not self.busy:
            self.release_big()

    def pause_writing(self) -> None:
        self.write_blocked = time.monotonic()
        self._by(self.write_blocked + self.limits.read_timeout)
        self.pause("write")

    def resume_writing(self) -> None:
        self.write_blocked = None
        self.resume("write")
        self.process()

    # -- reading and answering

    def pause(self, why: str) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self.paused.add(why)

    def resume(self, why: str) -> None:
        self.paused.discard(why)
        if not self.paused and self.transport is not None and not self.closed:
            self.started = time.monotonic() if self.buffer else None  # the read timeout counts from now
            self.transport.resume_reading()

    def release_big(self) -> None:
        if self.holding_big:
            self.holding_big = False
        self.server.big_slot.release(self)

    def reply(self, line: bytes | None) -> tuple[bytes | None, bool]:
        """`line`'s answer to write now (``None``: it comes later, from `later`, and the connection is
        busy until then), and whether to close the connection after it (an HTTP request, refused)."""
        r = self.server.answer(line, self.local)
        if type(r) is bytes:
            return r, False
        if type(r) is dict:
            return encode(r), r.get("error") == "http_refused"
        self.busy = True
        self.server.spawn(self.later(r, line))
        return None, False

    def process(self) -> None:
        """Answer waiting lines, at most `BATCH` now (the rest on the loop's next turn), in one write."""
        self.scheduled = False
        if self.busy or self.closed or self.write_blocked is not None:
            return
        self._answering(self._answer_lines)

    def _answering(self, answer: Callable[..., None], *args: Any) -> None:
        """``answer(*args)``, which makes answers and writes them; their events are printed after, by the
        served transcript (`cam.terminal.Transcript.answering`): printing is not on the path from a request to
        its answer (the state changes, the answer goes out, then the transcript says so)."""
        t = self.server.transcript
        if t is None:
            answer(*args)
            return
        t.answering = True
        try:
            answer(*args)
        finally:
            t.answered()

    def _answer_line(self, line: bytes) -> None:
        """Answer one line that came alone (`data_received`'s short path)."""
        answer, close = self.reply(line)
        if answer is not None:
            self.transport.write(answer)  # type: ignore[union-attr]
            if close:
                self.close()

    def _answer_lines(self) -> None:
        out: list[bytes] = []
        lines, reply, close = self.lines, self.reply, False
        big = self.limits.executor_threshold
        n = 0
        while lines:
            if n == self.BATCH:
                if not self.scheduled:
                    self.scheduled = True
                    asyncio.get_running_loop().call_soon(self.process)
                break
            line = lines[0]
            if line is not None and len(line) > big and not self.holding_big:  # even one that came whole
                self.holding_big = self.server.big_slot.take(self)
                if not self.holding_big:  # handled once `BigSlot.release` hands the slot on (and calls us)
                    self.pause("big")
                    break
            lines.popleft()
            n += 1
            if line is not None:
                self.queued -= len(line)
            if line is not None and (not line or line.isspace()):
                continue
            answer, close = reply(line)
            if answer is None:
                break
            out.append(answer)
            if close:
                break
        if self.holding_big and not self.busy and not lines and len(self.buffer) <= big:
            self.release_big()
        if out and self.transport is not None:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])
            self.last = time.monotonic()
        if "backlog" in self.paused and len(lines) <= self.BACKLOG // 2 and (
                self.queued <= self.limits.executor_threshold // 2 or len(lines) <= 1):
            self.resume("backlog")
        if close or self.eof and not lines and not self.busy:
            self.close()

    async def later(self, pending: Any, line: bytes | None) -> None:
        """Answer one line whose answer must wait (`server.answer_later`), then go on with the next lines."""
        try:
            r = await self.server.answer_later(pending, line, self.local)
        finally:
            self.busy = False
            big = self.limits.executor_threshold
            if self.closed or line is not None and len(line) > big >= len(self.buffer):
                self.release_big()  # after each big line: others' get their turn between ours
        if self.closed or self.transport is None:
            return
        self.transport.write(encode(r))
        self.last = time.monotonic()
        if r.get("error") == "http_refused":
            self.close()
        else:
            self.process()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # what is written still goes out

    # -- timeouts: one timer per connection, moved only when it fires (no timer per request)

    def _arm(self, delay: float) -> None:
        self.due = time.monotonic() + max(delay, 0.001)
        self.timer = asyncio.get_running_loop().call_later(max(delay, 0.001), self._deadline)

    def _by(self, deadline: float) -> None:
        """Make sure the timer fires by `deadline` (a deadline that moved nearer: a line started, answers wait)."""
        if deadline < self.due and not self.closed:
            if self.timer is not None:
                self.timer.cancel()
            self._arm(deadline - time.monotonic())

    def _deadline(self) -> None:
        """Close a connection past a deadline (counted in the server's ``timeouts``); else look again later."""
        if self.closed:
            return
        now, lim = time.monotonic(), self.limits
        if self.write_blocked is not None:  # a client that does not read its answers holds the node's memory
            left = self.write_blocked + lim.read_timeout - now
        elif self.busy or self.lines or "big" in self.paused or "backlog" in self.paused:
            left = lim.read_timeout  # the node is working for this connection, or it waits its turn
        elif self.started is not None:  # a started line must end
            left = self.started + lim.read_timeout - now
        else:
            left = self.last + lim.idle_timeout - now
        if left > 0:
            self._arm(left)
            return
        self.server.stats["timeouts"] += 1
        self.closed = True
        self.server.forget(self)
        self.release_big()
        if self.transport is not None:
            self.transport.abort() if self.write_blocked is not None else self.transport.close()
