"""The reference's text commands on a named pipe: ``Do <value>`` and ``Load <old> <new> <migration>``.

The pipe is checked first (`cam.guard.check_fifo`: the node's own, not
writable by others); its commands go through the same lock, checks and
journal as the TCP requests, and an upgrade through the same authorization
(with ``--trust``, ``Load`` carries no signature, so it is refused).  The
pipe is the reference's path, so it takes the reference's instruction set:
a ``Load`` whose code uses an instruction beyond the reference's 21
(``SUB``, ``MUL``, ``LT``, ``EQ``, ``DIVMOD``) is refused by name, nothing
changed (TCP takes the extended set; ``cam status`` says which is which).  An
input from the pipe runs on the event loop to its end (the pipe is the
node's own user's); TCP inputs longer than `Limits.inline_fuel` steps run in
a worker thread instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from typing import Any

from cam.code import SPECS, Code, Instr
from cam.contract import Refusal
from cam.ground import clip
from cam.protocol import decode_value, escape, split_codes
from cam.text import ParseError, parse_code
from catlib.tree import walk

__all__ = ["serve_fifo", "text_command", "INSTRUCTION_SET", "beyond_reference"]

INSTRUCTION_SET = "reference"
"""The instruction set the named pipe accepts (TCP accepts ``"extended"``)."""


def beyond_reference(*codes: Code) -> list[str]:
    """The instructions in `codes` (blocks included) that the reference machine lacks, sorted."""
    return sorted({x.op for c in codes for x in walk(c) if isinstance(x, Instr) and not SPECS[x.op].reference})


async def serve_fifo(self: Any, path: str) -> None:
    """Read the reference's text commands from the named pipe `path` for server `self` until cancelled."""
    loop = asyncio.get_running_loop()
    rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    st = os.fstat(rfd)
    if not stat.S_ISFIFO(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        os.close(rfd)  # replaced between the check and the open
        self.say(f"Not reading {escape(path)}: it is no longer a private named pipe")
        return
    # Our own write end keeps the pipe open between writers, so the reader never sees end of file.
    wfd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    self.fifo_fds.append(wfd)
    reader = asyncio.StreamReader(limit=self.node.limits.max_line + 2)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                os.fdopen(rfd, "rb", buffering=0))
    limits = self.node.limits
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                raw = e.partial
                if not raw:
                    return
            except asyncio.LimitOverrunError:
                self.say(f"Invalid command: a line over the {limits.max_line}-byte limit")
                with contextlib.suppress(Exception):  # skip to the end of that line
                    while True:
                        chunk = await reader.read(1 << 16)
                        if not chunk or b"\n" in chunk:
                            break
                continue
            line = raw.rstrip(b"\n")
            if line.strip():
                try:
                    await text_command(self, line.decode("utf-8", "replace"))
                except Exception as e:  # a bug must not end the pipe's reader: say so and read on
                    self.say(f"Internal error ({type(e).__name__}: {clip(str(e))}); the node keeps its state")
    finally:
        transport.close()

async def text_command(self: Any, text: str) -> None:
    """Run one of the reference's text commands: ``Do <value>`` or ``Load <old> <new> <migration>``."""
    line = text.strip()
    big = len(line) > self.node.limits.executor_threshold
    loop = asyncio.get_running_loop()
    try:
        if line.startswith("Do ") or line.startswith("Do("):
            x = decode_value(line[2:].strip(), self.node.limits.max_depth)
            async with self.lock:
                self.node.do(x)
            return
        if line.startswith("Load ") or line.startswith("Load["):
            def codes() -> list[Code]:
                parts = split_codes(line[4:])
                if len(parts) != 3:
                    raise ParseError(4, "three code lists", str(len(parts)))
                return list(map(parse_code, parts))

            old, new, migration = await loop.run_in_executor(None, codes) if big else codes()
            if extra := beyond_reference(old, new, migration):
                self.say(f"Upgrade refused (beyond_reference): the code uses {', '.join(extra)}, which the reference "
                         "machine lacks; the named pipe takes the reference's 21 instructions only (send extended "
                         "code over TCP). Nothing changed.")
                return
            async with self.versions, self.lock:
                req = self.request_of("upgrade", (old, new, migration))
                try:
                    _, p = await loop.run_in_executor(None, self.checked_upgrade, req, True)
                except Refusal:  # the node has printed why
                    return
                self.node.install(p)
            return
    except ParseError:
        pass
    except Refusal as e:  # the node has printed why, unless the value did not decode
        if e.kind in ("bad_value", "too_deep") and line.startswith("Do"):
            self.say(f"Invalid command: {escape(clip(text.rstrip(), 200))}")
        return
    self.say(f"Invalid command: {escape(clip(text.rstrip(), 1000))}")
