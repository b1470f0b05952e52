"""The node's transports: a `cam.node.Node` served over TCP (optionally TLS) and a named pipe.

`NodeServer` reads request lines (`cam.protocol`) from every TCP connection and, with ``--fifo``, the
reference's text commands (``Do v``, ``Load old new migration``) from a named pipe, runs them on its node and
writes one response line per request.  `serve` runs a server until cancelled (``cam node``); `start_in_thread`
serves from a background thread (tests, ``cam demo``, notebooks).  `Transcript` (made by `printer`) is the
`Node.emit` that prints the reference's lines without ever blocking the node, and `banner` the lines a node
prints when it starts.

Serialisation
-------------
Every change runs under one FIFO lock (`Serial`): an input is run at once,
in the callback that read it, when nobody holds or waits for the lock, and
otherwise waits its turn in it.  Version changes (``upgrade``, ``rollback``,
``make_permanent``, ``prepare``, ``commit``, ``abort``) also run one at a
time, under a second lock: an upgrade's code is checked and translated (in a
worker thread) while the running version goes on answering inputs, then it
takes the node's lock, runs the state-dependent checks again if inputs have
changed the state meanwhile (the migration, the down-migration, trial inputs,
probes: `cam.admission.check_state`), and swaps.  Inputs wait only for that
(`Node.upgrade_pauses`).  A client's requests are answered in order, one
response each, so an input sent after an upgrade on the same connection runs
on the new version.  ``status`` takes no lock: the node changes only on the
event loop's thread, so it always sees a whole state, and it is answered
while a long input or an upgrade's checks run.

No request can stall the others
-------------------------------
- Lines are read by `cam.guard.Lines`: a line over `Limits.executor_threshold`
  bytes is read on and handled only while holding the one *big-line slot*
  (others wait, with their sockets unread past one read), then its depth is
  checked, and it is parsed and decoded in a worker thread: one at a time.
  A connection's lines are answered at most `cam.guard.Lines.BATCH` at a time
  before others get a turn; its reading pauses while its answers are not taken.
- An upgrade's line (or a prepare's) is read and its code made in a worker
  thread, as a big line is.  Its checks (verifier, migration, trial inputs,
  translation, compiled in a helper process, and the state's machine value) run in a
  worker thread too, handing the interpreter lock over between stages; when they must run again
  at a changed state, a small upgrade's (a line of at most `SMALL_UPGRADE`
  bytes without ``APP``, at a small state) run on the event loop, which takes
  less than handing them over would.  An input runs on the event loop for at
  most `Limits.inline_fuel` steps (or its code's size), longer ones again in
  a worker thread.
- Every connection has a read timeout (a started line must end within
  `Limits.read_timeout` seconds; an answer must be taken as fast) and an idle
  timeout (`Limits.idle_timeout`).  At most `Limits.max_connections` are open.
- The transcript is a bounded buffer written by its own thread: when the
  terminal does not keep up, events are dropped and counted, never waited for.
- A line that looks like HTTP is refused and its connection closed (a web page
  cannot drive a node through a browser).

Who may upgrade
---------------
With trusted keys (``--trust``), an upgrade must carry an Ed25519 signature
(`cam.auth`) over its digests, the node's id, its running version and its
generation, so it can be replayed neither later nor elsewhere.  Without, only
loopback peers (and the owner's FIFO) may upgrade, and binding a non-loopback
address is refused.

>>> import json, socket
>>> from cam.text import parse_code, parse_value
>>> with start_in_thread(Node(parse_code("[ID,GET]"), parse_value("Int 7"))) as running:
...     with socket.create_connection((running.host, running.port)) as s:
...         s.sendall(b'{"id": 1, "kind": "do", "input": "Unit"}\\n')
...         json.loads(s.makefile("rb").readline())
{'id': 1, 'ok': True, 'output': 'Int 7', 'state': 'Int 7', 'steps': 2}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from cam import loops
from cam.changes import SMALL_UPGRADE, VersionChanges
from cam.code import Code, Value
from cam.contract import Refusal, internal_answer
from cam.fifo import INSTRUCTION_SET as FIFO_INSTRUCTIONS
from cam.fifo import serve_fifo as fifo_commands
from cam.fifo import text_command as fifo_text_command
from cam.guard import BigSlot, Lines, answer_line, check_fifo, encode, is_loopback
from cam.machine import OutOfFuel
from cam.node import Node
from cam.protocol import Request, carries_code, decode_request, read_input
from cam.terminal import Transcript, banner, notices, printer

__all__ = ["NodeServer", "Running", "Transcript", "banner", "printer", "serve", "start_in_thread", "check_fifo",
           "is_loopback"]


SWITCH_INTERVAL = 0.0002
"""Seconds a thread of a ``cam node`` process runs before another waiting for the interpreter lock gets it.

An upgrade's checks run in a worker thread while the event loop answers inputs: a thread that wants the
interpreter lock gets it after the switch interval (5 ms by default), so the loop would stall that long behind
the checks.  The ``cam node`` command sets it (`sys.setswitchinterval`) in its own process; nothing here does,
so a program that imports the package keeps its own (a notebook serving a node may set it too)."""


class Serial:
    """The node's FIFO lock, counting who holds or waits for it: an input may skip it only when nobody does."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0

    async def __aenter__(self) -> None:
        self.users += 1
        try:
            await self.lock.acquire()
        except BaseException:
            self.users -= 1
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()
        self.users -= 1


@dataclass
class Later:
    """A request whose answer must wait (`NodeServer.answer_later`): `req` is ``None`` until decoded."""

    req: Request | None
    received: float
    tried: bool = False
    """Its input already ran out of the inline budget once: run it in a worker thread."""


class NodeServer(VersionChanges):
    """Serves a `Node` over TCP (newline-delimited JSON) and, optionally, the reference's text commands on a FIFO."""

    def __init__(self, node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None,
                 trust: Sequence[bytes] = (), ssl_context: ssl.SSLContext | None = None) -> None:
        self.node, self.host, self.port, self.fifo = node, host, port, fifo
        self.trust, self.ssl_context = list(trust), ssl_context
        self.requests = 0
        self.stats = {"http_refused": 0, "timeouts": 0, "retries_answered": 0, "unauthorized": 0}
        self._server: asyncio.Server | None = None
        self._lock: Serial | None = None
        self._versions: asyncio.Lock | None = None
        self.big_slot = BigSlot()
        """Held while a line over `Limits.executor_threshold` bytes is read and handled: one at a time."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.fifo_fds: list[int] = []
        self._conns: set[Lines] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self.transcript: Transcript | None = None  # the node's `emit` while served, if one (`Transcript.answering`)

    @property
    def lock(self) -> Serial:
        """The node's one serialising lock (FIFO-fair): every change runs under it."""
        if self._lock is None:
            self._lock = Serial()
        return self._lock

    @property
    def versions(self) -> asyncio.Lock:
        """Held by a version change (upgrade, rollback, release...) from its checks to its end: one at a time."""
        if self._versions is None:
            self._versions = asyncio.Lock()
        return self._versions

    def say(self, *lines: str) -> None:
        """Print one event's lines on the node's transcript (see `Node.say`)."""
        self.node.say(*lines)

    async def start(self) -> None:
        """Bind the TCP port (0 = chosen by the OS, see `port`) and open the FIFO.

        Without trusted keys, only loopback addresses may be bound (`PermissionError` otherwise).
        """
        tls = self.ssl_context
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Lines(self), self.host, self.port, ssl=tls,
                                                ssl_handshake_timeout=self.node.limits.read_timeout if tls else None)
        bound = [s.getsockname()[0] for s in self._server.sockets]
        if not self.trust and not all(is_loopback(a) for a in bound):
            self._server.close()
            raise PermissionError(f"binding {self.host} ({', '.join(bound)}) exposes the node beyond this machine; "
                                  "without --trust KEY.pub anyone could upgrade it: give --trust, or bind 127.0.0.1")
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        if isinstance(self.node.emit, Transcript):  # one write per turn of the loop, not one per event
            self.transcript = self.node.emit
            self.transcript.batch_on(loop)
        if self.fifo is not None:
            self._tasks.add(asyncio.get_running_loop().create_task(fifo_commands(self, self.fifo)))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._handlers:  # answers being made are finished and written
            await asyncio.wait(list(self._handlers), timeout=5)
        for c in list(self._conns):
            c.closed = True
            if c.transport is not None:
                c.transport.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for t in self._tasks:
            t.cancel()
        for fd in self.fifo_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fifo_fds.clear()
        if self.transcript is not None:
            self.transcript.batch_on(None)
            self.transcript = None

    # -- TCP

    def admit(self, conn: Lines) -> bool:
        """Count a new connection in; over `Limits.max_connections`, answer it one error line and close it."""
        limit = self.node.limits.max_connections
        if len(self._conns) >= limit:  # each connection may hold a line: bound the memory
            response = {"id": None, "ok": False, "error": "too_many_connections",
                        "message": f"the node serves at most {limit} connections at once; try again later"}
            assert conn.transport is not None
            conn.transport.write(json.dumps(response).encode() + b"\n")  # one short line: the socket takes it
            conn.transport.close()
            return False
        self._conns.add(conn)
        self._batch()
        return True

    def forget(self, conn: Lines) -> None:
        """A connection is closed."""
        self._conns.discard(conn)
        self._batch()

    def _batch(self) -> None:
        if self.transcript is not None:  # several clients: several events a turn, printed in one write
            self.transcript.hold_turns(len(self._conns) > 1)

    def spawn(self, coro: Any) -> None:
        """Run a connection's waiting answer as a task (awaited by `close`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def handle(self, line: bytes | None, local: bool = True) -> dict[str, Any]:
        """The response to one request line (``None``: a line over the size limit); `local`: a loopback peer."""
        r = self.answer_now(line, local)
        return r if isinstance(r, dict) else await self.answer_later(r, line, local)

    def answer(self, line: bytes | None, local: bool = True) -> bytes | dict[str, Any] | Later:
        """`answer_now`; the common input (`cam.protocol.read_input`), nobody holding the lock: on a short path, same checks."""
        if line is None or self._lock is not None and self._lock.users:  # (`lock` made lazily: not on this path)
            return self.answer_now(line, local)
        try:
            got = self._read_input(line)
        except Exception as e:  # a bug must not take the connection down (with the answers made before it)
            self.requests += 1
            return internal_answer(None, e)
        if got is None:
            return self.answer_now(line, local)
        self.requests += 1
        rid, client, seq, x = got
        try:
            old = self._remembered(client, seq)
            if old is not None:
                return encode({"id": rid, "ok": True, **old})
            return answer_line(rid, self._do_now(x, client, seq))
        except OutOfFuel:
            return Later(Request(rid=rid, kind="do", client=client, seq=seq, input=x), time.perf_counter(), True)
        except Refusal as e:
            return self._refused(rid, e)
        except Exception as e:  # a bug must not take the node down; say so
            return internal_answer(rid, e)

    def answer_now(self, line: bytes | None, local: bool = True) -> dict[str, Any] | Later:
        """The response to one request line if it can be made now, else the `Later` to give `answer_later`.

        Answered now: a refusal, ``status``, and an input when nobody holds or waits for the node's lock
        (run within its inline budget).
        """
        self.requests += 1
        received = time.perf_counter()
        if line is not None and (len(line) > self.node.limits.executor_threshold or carries_code(line)):
            return Later(None, received)
        try:
            req = self._decode(line)
        except Exception as e:  # a bug must not take the connection down (with the answers made before it)
            return internal_answer(None, e)
        return self._answer(req, local, received)

    def _answer(self, req: Request, local: bool, received: float) -> dict[str, Any] | Later:
        rid = req.rid
        try:
            if req.error is not None:
                raise req.error
            if req.kind == "status":
                return {"id": rid, "ok": True, **self.status(req.flag)}
            if req.kind != "do" or self.lock.users:
                return Later(req, received)
            old = self._remembered(req.client, req.seq)
            if old is not None:
                return {"id": rid, "ok": True, **old}
            try:
                return {"id": rid, "ok": True, **self._do_now(req.input, req.client, req.seq, req.interface)}
            except OutOfFuel:
                return Later(req, received, True)
        except Refusal as e:
            return self._refused(rid, e)
        except Exception as e:  # a bug must not take the node down; say so
            return internal_answer(rid, e)

    def _refused(self, rid: Any, e: Refusal) -> dict[str, Any]:
        if e.kind == "unauthorized":
            self.stats["unauthorized"] += 1
        return {"id": rid, "ok": False, "error": e.kind, "message": str(e)}

    async def answer_later(self, later: Later, line: bytes | None, local: bool = True) -> dict[str, Any]:
        """The response to a request `answer_now` could not answer at once (under the locks it needs)."""
        rid: Any = None
        try:
            if later.req is None:  # a big line or one carrying code: parsed and decoded in a worker thread
                decoded = await asyncio.get_running_loop().run_in_executor(None, self._decode, line)
                r = self._answer(decoded, local, later.received)
                if isinstance(r, dict):
                    return r
                later = r
            req = later.req
            assert req is not None
            rid = req.rid
            if req.kind == "do":
                async with self.lock:
                    return {"id": rid, "ok": True, **await self._do(req, later.tried)}
            async with self.versions:  # version changes one at a time; inputs go on meanwhile
                if req.kind == "upgrade":
                    small = line is not None and len(line) <= SMALL_UPGRADE
                    return {"id": rid, "ok": True, **await self._upgrade(req, local, later.received, small)}
                async with self.lock:
                    old = self._remembered(req.client, req.seq)
                    if old is not None:
                        return {"id": rid, "ok": True, **old}
                    if req.kind in ("rollback", "make_permanent", "commit", "abort"):
                        self.authorize(req, local)
                        return {"id": rid, "ok": True, **await self._admin(req, later.received)}
                    return {"id": rid, "ok": True, **await self._prepare(req, local)}
        except Refusal as e:
            return self._refused(rid, e)
        except Exception as e:  # a bug must not take the node down; say so
            return internal_answer(rid, e)

    def status(self, code: bool = False) -> dict[str, Any]:
        """The node's status (with the running code's text if `code`) and the transport's counters."""
        emit = self.node.emit
        return {**self.node.status(code), "requests": self.requests, "connections": len(self._conns),
                "instructions": {"tcp": "extended", "fifo": FIFO_INSTRUCTIONS if self.fifo else None},
                "signed_upgrades": bool(self.trust), "tls": self.ssl_context is not None,
                "transcript_dropped": emit.dropped if isinstance(emit, Transcript) else 0, **self.stats}

    def _read_input(self, line: bytes) -> tuple[Any, str | None, int | None, Value] | None:
        """An input's fields read off a short line (`cam.protocol.read_input`), or ``None``.  Changes nothing."""
        return read_input(line, min(self.node.limits.max_depth, self.node.limits.executor_threshold))

    def _decode(self, line: bytes | None) -> Request:
        """Read one request line into a `Request` (`cam.protocol.decode_request`).  Changes nothing."""
        req = decode_request(line, self.node.limits, bool(self.trust), self.say)
        if req.error is not None and req.error.kind == "http_refused":
            self.stats["http_refused"] += 1
        return req

    def _do_now(self, x: Value | None, client: str | None, seq: int | None, interface: int | None = None
                ) -> dict[str, Any]:
        """Run a decoded input on the loop, within the inline budget (`OutOfFuel` past it, nothing changed)."""
        node = self.node
        assert x is not None
        h = node.check_input(x, interface)
        try:
            r = node.run_host(h, x, interface)
        except Refusal as e:
            raise node.on_failure(e) from None
        return node.commit(x, r, client, seq, interface)

    async def _do(self, req: Request, tried: bool = False) -> dict[str, Any]:
        """Run a decoded input (under the lock): on the loop for the inline budget (unless `tried` already),
        then in a worker thread."""
        node, x = self.node, req.input
        assert x is not None
        old = self._remembered(req.client, req.seq)
        if old is not None:
            return old
        if not tried:
            try:
                return self._do_now(x, req.client, req.seq, req.interface)
            except OutOfFuel:
                pass
        node.check_input(x, req.interface)
        try:
            r = await asyncio.get_running_loop().run_in_executor(None, node.run_aside, x, req.interface)
        except Refusal as e:
            raise node.on_failure(e) from None
        return node.commit(x, r, req.client, req.seq, req.interface)

    # -- the reference's text commands on a named pipe (cam.fifo)

    def request_of(self, kind: str, codes: tuple[Code, Code, Code]) -> Request:
        """A decoded request of `kind` with `codes` (the named pipe's ``Load``)."""
        return Request(kind=kind, codes=codes)

    async def text_command(self, text: str) -> None:
        """Run one of the reference's text commands: ``Do <value>`` or ``Load <old> <new> <migration>``."""
        await fifo_text_command(self, text)


async def serve(node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None,
                out: TextIO | None = None, trust: Sequence[bytes] = (), ssl_context: ssl.SSLContext | None = None,
                ready: Callable[[NodeServer], None] | None = None) -> None:
    """Run a node until cancelled, printing its banner to `out` first (and notices on stderr)."""
    if fifo is not None:
        check_fifo(fifo)
    server = NodeServer(node, host, port, fifo, trust, ssl_context)
    await server.start()
    for n in notices(node, server):
        print(n, file=sys.stderr, flush=True)
    f = out or sys.stdout
    f.write("\n".join(banner(node, server)) + "\n")
    f.flush()
    if ready is not None:
        ready(server)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


@dataclass
class Running:
    """A node served from a background thread (see `start_in_thread`)."""

    server: NodeServer
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def host(self) -> str:
        return self.server.host

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(10)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None,
                    trust: Sequence[bytes] = (), ssl_context: ssl.SSLContext | None = None, loop: str = "auto"
                    ) -> Running:
    """Serve `node` from a daemon thread with its own event loop (`loop`: `cam.loops`); returns once it listens."""
    loops.chosen(loop)  # an unknown loop, or uvloop not installed: ValueError here, not in the thread
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            if fifo is not None:
                check_fifo(fifo)
            server = NodeServer(node, host, port, fifo, trust, ssl_context)
            await server.start()
        except BaseException as e:
            box["error"] = e
            ready.set()
            return
        stop = asyncio.Event()
        box.update(server=server, loop=asyncio.get_running_loop(), stop=stop)
        ready.set()
        try:
            await stop.wait()
        finally:
            await server.close()

    thread = threading.Thread(target=loops.run, args=(main(), loop), name="cam-node", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        raise box["error"]
    return Running(box["server"], thread, box["loop"], box["stop"])
