"""The node's door: which peers are local, which named pipes are safe, and lines read with timeouts and bounds.

`LineReader` reads one connection's request lines: a line must end within
`Limits.read_timeout` seconds once started, a silent connection is closed
after `Limits.idle_timeout`, a line over `Limits.max_line` bytes is dropped
(and answered), and a line over `Limits.executor_threshold` bytes is read only
while holding the server's one big-line slot, so at most one big line is in
memory at a time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import stat
import time
from typing import Any, Literal

__all__ = ["is_loopback", "check_fifo", "LineReader"]


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


class LineReader:
    """Lines of one connection, with the read and idle timeouts and the big-line slot (see the module's doc)."""

    def __init__(self, reader: asyncio.StreamReader, server: Any) -> None:
        self.reader, self.server = reader, server
        self.limits = server.node.limits
        self.buffer = bytearray()
        self.scanned = 0
        self.holding_big = False
        self.eof = False

    async def line(self) -> bytes | None | Literal[False]:
        """The next line without its newline; ``None`` for one over the size limit; ``False`` at the end."""
        dropping = False
        started: float | None = None
        while True:
            i = self.buffer.find(b"\n", self.scanned)  # bytes before `scanned` hold no newline
            self.scanned = len(self.buffer) if i < 0 else 0
            if i >= 0:
                piece = bytes(self.buffer[:i])
                del self.buffer[:i + 1]
                if dropping:
                    return None
                return piece if len(piece) <= self.limits.max_line else None
            if self.eof:
                if self.buffer and not dropping:
                    piece = bytes(self.buffer)
                    self.buffer.clear()
                    return piece if len(piece) <= self.limits.max_line else None
                return False
            if len(self.buffer) > self.limits.max_line:  # answer now; skip the rest of this line as it comes
                self.buffer.clear()
                self.scanned = 0
                dropping = True
            if len(self.buffer) > self.limits.executor_threshold and not self.holding_big:
                await self.server.big_slot.acquire()  # one big line in memory at a time; this socket waits
                self.holding_big = True
            now = time.monotonic()
            if self.buffer or dropping:
                started = started or now
                timeout = started + self.limits.read_timeout - now
            else:
                timeout = self.limits.idle_timeout
            try:  # asyncio.timeout, not wait_for: no task made per read (a request's cost on a busy node)
                async with asyncio.timeout(max(timeout, 0.001)):
                    chunk = await self.reader.read(1 << 16)
            except TimeoutError:
                self.server.stats["timeouts"] += 1
                return False
            if not chunk:
                self.eof = True
            elif not dropping:
                self.buffer += chunk
            elif b"\n" in chunk:
                self.buffer += chunk[chunk.index(b"\n"):]

    def release(self) -> None:
        if self.holding_big:
            self.holding_big = False
            self.server.big_slot.release()
