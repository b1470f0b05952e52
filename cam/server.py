"""The node's transports: a `cam.node.Node` served over TCP and a named pipe.

`NodeServer` reads request lines (`cam.protocol`) from every TCP connection
and, with ``--fifo``, the reference's text commands (``Do v``, ``Load old new
migration``) from a named pipe, runs them on its node and writes one response
line per request.  `serve` runs a server until cancelled (``cam node``);
`start_in_thread` serves from a background thread (tests, ``cam demo``,
notebooks).  `printer` is the `Node.emit` that prints the reference's lines,
and `banner` the lines a node prints when it starts.

Serialisation
-------------
The server runs every request, from every connection and the ``--fifo`` pipe,
under one FIFO `asyncio.Lock`: inputs that arrive while an upgrade is being
checked wait, and are served in arrival order by the machine that is
installed when their turn comes.  Requests of one connection are answered in
order, one response each.  An upgrade line over
`cam.node.Limits.executor_threshold` bytes is parsed and checked in a worker
thread (holding the lock while it checks), so the node keeps reading
meanwhile.  At most `cam.node.Limits.max_connections` TCP connections are
open at once (each may buffer a line of ``max_line`` bytes); one more is
answered ``too_many_connections`` and closed.

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
import math
import os
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from cam.code import Code, to_text
from cam.node import Node, NodeError
from cam.protocol import decode_code, decode_value, json_depth, shown, split_codes
from cam.text import ParseError, parse_code, parse_value

__all__ = ["NodeServer", "Running", "banner", "printer", "serve", "start_in_thread"]


async def _lines(reader: asyncio.StreamReader, max_line: int) -> AsyncIterator[bytes | None]:
    """Lines of `reader` without their newline; ``None`` stands for a line over `max_line` (dropped)."""
    pending: list[bytes] = []
    size = 0
    dropping = False
    while True:
        chunk = await reader.read(1 << 16)
        if not chunk:
            if pending and not dropping:
                yield b"".join(pending)
            return
        start = 0
        while True:
            i = chunk.find(b"\n", start)
            if i < 0:
                if not dropping:
                    rest = chunk[start:]
                    pending.append(rest)
                    size += len(rest)
                    if size > max_line:  # answer now; skip the rest of this line as it arrives
                        pending, size, dropping = [], 0, True
                        yield None
                break
            piece, start = chunk[start:i], i + 1
            if dropping:
                dropping = False
                continue
            if pending:
                piece, pending, size = b"".join(pending) + piece, [], 0
            yield piece if len(piece) <= max_line else None


def printer(out: TextIO | None = None) -> Callable[[list[str]], None]:
    """An `emit` for `Node` that writes the lines to `out` (default: the current ``sys.stdout``) and flushes."""

    def emit(lines: list[str]) -> None:
        f = out or sys.stdout
        f.write("\n".join(lines) + "\n")
        f.flush()

    return emit


class NodeServer:
    """Serves a `Node` over TCP (newline-delimited JSON) and, optionally, the reference's text commands on a FIFO."""

    def __init__(self, node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None) -> None:
        self.node, self.host, self.port, self.fifo = node, host, port, fifo
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._fifo_fds: list[int] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def lock(self) -> asyncio.Lock:
        """The node's one serialising lock (FIFO-fair): every request runs under it."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _emit(self, *lines: str) -> None:
        self.node._emit(*lines)

    async def start(self) -> None:
        """Bind the TCP port (0 = chosen by the OS, see `port`) and open the FIFO."""
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        if self.fifo is not None:
            self._tasks.add(asyncio.get_running_loop().create_task(self._serve_fifo(self.fifo)))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for w in list(self._writers):  # their handlers see end of file and finish
            w.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        for t in self._tasks:
            t.cancel()
        for fd in self._fifo_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fifo_fds.clear()

    # -- TCP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limit = self.node.limits.max_connections
        if len(self._writers) >= limit:  # each connection may hold max_line bytes: bound the memory
            await self._refuse_connection(writer, limit)
            return
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            async for line in _lines(reader, self.node.limits.max_line):
                if line is not None and not line.strip():
                    continue
                response = await self.handle(line)
                writer.write(json.dumps(response).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the peer went away, or the node is shutting down: nothing left to answer
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    @staticmethod
    async def _refuse_connection(writer: asyncio.StreamWriter, limit: int) -> None:
        """Answer one error line (id null) to a connection over the limit, and close it."""
        response = {"id": None, "ok": False, "error": "too_many_connections",
                    "message": f"the node serves at most {limit} connections at once; try again later"}
        try:
            writer.write(json.dumps(response).encode() + b"\n")
            await writer.drain()  # one short line: the socket's buffer takes it at once
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def handle(self, line: bytes | None) -> dict[str, Any]:
        """The response to one request line (``None``: a line over the size limit)."""
        self.requests += 1
        received = time.perf_counter()
        rid: Any = None
        try:
            req = self._parse(line)
            rid = req.get("id")
            text = shown(line)
            if not (rid is None or isinstance(rid, (str, int)) and not isinstance(rid, bool)
                    or isinstance(rid, float) and math.isfinite(rid)):  # NaN, Infinity: not JSON, cannot go back
                rid = None
                self._emit(f"Invalid command: {text}")
                raise NodeError("bad_request", "'id' must be a string, a finite number or null")
            kind = req.get("kind")
            if kind == "do":
                return {"id": rid, "ok": True, **await self._do(req, line)}  # type: ignore[arg-type]
            if kind == "upgrade":
                return {"id": rid, "ok": True, **await self._upgrade(req, line, received)}
            if kind == "status":
                async with self.lock:
                    return {"id": rid, "ok": True, **self.node.status()}
            self._emit(f"Invalid command: {text}")
            raise NodeError("unknown_kind", f"unknown request kind {kind!r}; the kinds are do, upgrade, status")
        except NodeError as e:
            return {"id": rid, "ok": False, "error": e.kind, "message": str(e)}
        except Exception as e:  # a bug must not take the node down; say so
            return {"id": rid, "ok": False, "error": "internal", "message": f"{type(e).__name__}: {e}"}

    def _parse(self, line: bytes | None) -> dict[str, Any]:
        """The request object of a line, or `NodeError` (line too long, too deep, not JSON, not an object)."""
        limits = self.node.limits
        if line is None:
            self._emit(f"Invalid command: a line over the {limits.max_line}-byte limit")
            raise NodeError("line_too_long", f"request lines are limited to {limits.max_line} bytes")
        if line.count(b"[") + line.count(b"{") > limits.max_depth and json_depth(line) > limits.max_depth:
            self._emit(f"Invalid command: {shown(line)}")
            raise NodeError("too_deep", f"the request is nested more than {limits.max_depth} deep")
        try:
            req = json.loads(line)
        except (ValueError, RecursionError) as e:
            self._emit(f"Invalid command: {shown(line)}")
            raise NodeError("bad_json", f"not JSON: {e}") from None
        if not isinstance(req, dict):
            self._emit(f"Invalid command: {shown(line)}")
            raise NodeError("bad_request", "a request is a JSON object")
        return req

    async def _do(self, req: dict[str, Any], line: bytes) -> dict[str, Any]:
        try:
            if "input" not in req:
                raise NodeError("bad_request", "a do request needs 'input'")
            x = decode_value(req["input"], self.node.limits.max_depth)
        except NodeError as e:  # a command the node cannot read, as the reference would say
            self._emit(f"Invalid command: {shown(line)}")
            raise e from None
        async with self.lock:
            r = self.node.do(x)
        return {"output": r.output_text, "state": r.state_text, "steps": r.steps}

    async def _upgrade(self, req: dict[str, Any], line: bytes | None, received: float) -> dict[str, Any]:
        missing = [k for k in ("old", "new", "migration") if k not in req]
        if missing:
            self._emit(f"Invalid command: {shown(line or b'')}")
            raise NodeError("bad_request", f"an upgrade request needs {', '.join(missing)}")
        big = line is not None and len(line) > self.node.limits.executor_threshold
        loop = asyncio.get_running_loop()

        def parse() -> tuple[Code, Code, Code]:
            return (decode_code(req["old"], "old"), decode_code(req["new"], "new"),
                    decode_code(req["migration"], "migration"))

        try:
            old, new, migration = await loop.run_in_executor(None, parse) if big else parse()
        except NodeError as e:
            self._emit(f"Upgrade refused ({e.kind}): {e}. Nothing changed.")
            raise
        async with self.lock:
            # Big upgrades are checked in a worker thread: the node keeps reading, and what it reads waits here.
            if big:
                v = await loop.run_in_executor(None, self.node.upgrade, old, new, migration, received)
            else:
                v = self.node.upgrade(old, new, migration, received)
            return {"digest": v.digest, "signature": str(self.node.signature), "state": to_text(self.node.state),
                    "check_seconds": v.check_seconds}

    # -- the reference's text commands on a named pipe

    async def _serve_fifo(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own write end keeps the pipe open between writers, so the reader never sees end of file.
        wfd = os.open(path, os.O_WRONLY)
        self._fifo_fds.append(wfd)
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(rfd, "rb", buffering=0))
        try:
            async for line in _lines(reader, self.node.limits.max_line):
                if line is None:
                    self._emit(f"Invalid command: a line over the {self.node.limits.max_line}-byte limit")
                elif line.strip():
                    try:
                        await self.text_command(line.decode("utf-8", "replace"))
                    except Exception as e:  # a bug must not end the pipe's reader: say so and read on
                        self._emit(f"Internal error ({type(e).__name__}: {e}); the node keeps its state")
        finally:
            transport.close()

    async def text_command(self, text: str) -> None:
        """Run one of the reference's text commands: ``Do <value>`` or ``Load <old> <new> <migration>``."""
        line = text.strip()
        try:
            if line.startswith("Do ") or line.startswith("Do("):
                x = parse_value(line[2:].strip())
                async with self.lock:
                    self.node.do(x)
                return
            if line.startswith("Load ") or line.startswith("Load["):
                parts = split_codes(line[4:])
                if len(parts) != 3:
                    raise ParseError(4, "three code lists", str(len(parts)))
                old, new, migration = map(parse_code, parts)
                async with self.lock:
                    self.node.upgrade(old, new, migration)
                return
        except ParseError:
            pass
        except NodeError:  # the node has printed why
            return
        self._emit(f"Invalid command: {text.rstrip()[:1000]}")


def banner(node: Node, server: NodeServer) -> list[str]:
    """The lines a node prints when it starts: what runs, at which type, where; then the reference's line."""
    lines = [f"Machine:   {node.name or '(code)'}  {node.digest[:19]}",
             f"Signature: {node.signature}",
             f"State:     {to_text(node.state)}",
             f"Listening: {server.host}:{server.port} (newline-delimited JSON)"]
    if server.fifo:
        lines.append(f"Commands:  {server.fifo} (the reference's text commands)")
    return [*lines, "Waiting for commands..."]


async def serve(node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None,
                out: TextIO | None = None) -> None:
    """Run a node until cancelled, printing its banner to `out` first."""
    if fifo is not None:
        _make_fifo(fifo)
    server = NodeServer(node, host, port, fifo)
    await server.start()
    f = out or sys.stdout
    f.write("\n".join(banner(node, server)) + "\n")
    f.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def _make_fifo(path: str) -> None:
    if os.path.exists(path):
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise NodeError("bad_request", f"{path} exists and is not a named pipe")
    else:
        os.mkfifo(path, 0o600)


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


def start_in_thread(node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None) -> Running:
    """Serve `node` from a daemon thread with its own event loop; returns once it listens."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            if fifo is not None:
                _make_fifo(fifo)
            server = NodeServer(node, host, port, fifo)
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

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="cam-node", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        raise box["error"]
    return Running(box["server"], thread, box["loop"], box["stop"])
