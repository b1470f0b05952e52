"""Python source made by the translator `cam.loaded`, compiled without holding up other threads (`cam.jit` compiles
each block on its own, and keeps the compiled code of small blocks).

`compile` holds the interpreter lock from start to end, and costs about 6 µs a line: a new version's step
function of 40 lines held a node's event loop off for 0.3-0.5 ms while its upgrade's checks ran in their
thread.  So large source is compiled in pieces (`PIECE_LINES`), and in a thread that asks for it
(`compiling_aside`: a node checking an upgrade) a helper process compiles it (`Aside`): the thread waits
for its answer without the lock, and loading the compiled code (`marshal`) takes a twentieth of the time.
"""

from __future__ import annotations

import atexit
import marshal
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import CodeType
from typing import Any

__all__ = ["compile_in_pieces", "compiled", "compiling_aside", "Aside", "ASIDE", "pieces", "PIECE_LINES", "Out",
           "Line", "source_of", "drive", "finish"]

Line = tuple[int, str]
"""A line of source: its indentation level and its text."""


class Out:
    """Lines of Python being written, at an indentation."""

    __slots__ = ("lines", "indent", "head")

    def __init__(self, indent: int, head: str | None = None) -> None:
        self.lines: list[Line] = []
        self.indent = indent
        self.head = head  # the ``def`` line, for the top level of a function (which may be split)

    def __call__(self, text: str) -> None:
        self.lines.append((self.indent, text))


def source_of(head: str, lines: list[Line]) -> str:
    """A function's source: its `head` line, then `lines` indented, one space a level (deeply nested code
    would otherwise be mostly indentation, and compiling costs by the character)."""
    return "\n".join([head, *(" " * i + text for i, text in lines)])


PIECE_LINES = 2_000
"""Lines of source compiled at once: `compile` holds the interpreter lock throughout, so a large code is
compiled in pieces of about this size and other threads (a node's event loop) run in between."""


def pieces(functions: list[str]) -> Iterator[list[str]]:
    """`functions` (Python source, one ``def`` each) in consecutive batches of about `PIECE_LINES` lines, each
    for one `compile`.

    >>> [len(p) for p in pieces(["def f(): pass"] * (PIECE_LINES + 1))]
    [2000, 1]
    """
    batch: list[str] = []
    lines = 0
    for src in functions:
        batch.append(src)
        lines += src.count("\n") + 1
        if lines >= PIECE_LINES:
            yield batch
            batch, lines = [], 0
    if batch:
        yield batch


def compile_in_pieces(functions: list[str], env: dict[str, Any], filename: str) -> None:
    """Define `functions` (Python source, one ``def`` each) in `env`, compiling about `PIECE_LINES` at a time."""
    for batch in pieces(functions):
        source = "\n\n".join(batch)
        code = _compiled(source, filename) if len(source) <= CACHED_CHARS else compiled(source, filename)
        exec(code, env)  # noqa: S102 - our own source


CACHED_CHARS = 20_000
"""The compiled code of sources up to this long is kept (`_compiled`)."""


@lru_cache(maxsize=256)
def _compiled(source: str, filename: str) -> CodeType:
    """`source` compiled, kept: the same code loaded again (a fuel of its own, a node reloading a version, a
    campaign's repeated term) has the same source, its constants being in the functions' globals, not in it."""
    return compiled(source, filename)


_here = threading.local()


@contextmanager
def compiling_aside() -> Iterator[None]:
    """Within, `compiled` in this thread compiles in the helper process (`ASIDE`), while other threads run.

    A node's upgrade checks (`cam.changes`) translate the new code in a worker thread while the event loop
    answers inputs: compiling there would hold the loop off for the whole `compile`.
    """
    before = getattr(_here, "aside", False)
    _here.aside = True
    try:
        yield
    finally:
        _here.aside = before


def compiled(source: str, filename: str) -> CodeType:
    """`source` (a module of our own) compiled: in the helper process within `compiling_aside`, else here.

    The same code either way (``compile`` with no inherited flags): when the helper cannot compile it (or
    cannot run), it is compiled here, which raises what ``compile`` raises.
    """
    if getattr(_here, "aside", False):
        code = ASIDE.compile(source, filename)
        if code is not None:
            return code
    return compile(source, filename, "exec", 0, True)


_HELPER = """
import marshal, sys
take, give = sys.stdin.buffer, sys.stdout.buffer
give.write(sys.argv[2].encode().ljust(64)); give.flush()
while len(head := take.read(8)) == 8:
    n, m = int.from_bytes(head[:4], "little"), int.from_bytes(head[4:], "little")
    data = take.read(n + m)
    try:
        made = b"+" + marshal.dumps(compile(data[:n].decode(), data[n:].decode(), "exec", 0, True, int(sys.argv[1])))
    except Exception:  # compiled again by the node, which raises it
        made = b"-"
    give.write(len(made).to_bytes(4, "little") + made); give.flush()
"""
"""The helper's program: a greeting (the version the node named), then for each request (two lengths, a
source and its file name) the marshalled code, or ``-`` if it does not compile; it ends when its input ends."""


class Aside:
    """A helper process, started when first asked, that compiles sources for this one (`compiled`).

    It runs this interpreter (``-I -S``: nothing imported at its start, no site packages), in a session of
    its own (a terminal's Ctrl-C goes to the node alone), and ends when its input closes (this process
    ended, or `close`).  If it cannot start, fails, or takes more than `SECONDS` (and 10 µs a character of
    source) to answer, `compile` returns ``None`` (the caller compiles here); after `FAILURES` failures it
    is not started again.  A forked child closes its copies of the helper's pipes (`forked`: the helper
    still ends with its parent) and starts one of its own when asked.  One source at a time; POSIX only.
    """

    FAILURES = 3
    SECONDS = 10.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.failures = 0 if os.name == "posix" else self.FAILURES
        self.compiled = 0

    def compile(self, source: str, filename: str) -> CodeType | None:
        """`source` compiled by the helper, or ``None`` (it does not compile, or the helper failed)."""
        with self.lock:
            if self.failures >= self.FAILURES:
                return None
            text, name = source.encode(), filename.encode()
            try:
                proc = self._started()
                assert proc.stdin is not None and proc.stdout is not None
                deadline = time.monotonic() + self.SECONDS + len(text) * 1e-5
                _send(proc.stdin.fileno(), len(text).to_bytes(4, "little") + len(name).to_bytes(4, "little") + text
                      + name, deadline)
                n = int.from_bytes(_take(proc.stdout.fileno(), 4, deadline), "little")
                made = _take(proc.stdout.fileno(), n, deadline)
            except (OSError, ValueError, EOFError, subprocess.SubprocessError):  # (TimeoutError is an OSError)
                self.failures += 1
                self._stop()
                return None
            if made[:1] != b"+":
                return None
            code = marshal.loads(made[1:])
            self.compiled += 1
            return code if isinstance(code, CodeType) else None

    def _started(self) -> subprocess.Popen[bytes]:
        if self.proc is not None:
            if self.proc.poll() is None:
                return self.proc
            self._stop()  # it ended: another one
        if not sys.executable:
            raise OSError("no interpreter to run the helper")
        version = f"{sys.hexversion} {marshal.version}"
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HELPER, str(sys.flags.optimize), version],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                bufsize=0, start_new_session=True)
        self.proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        for f in (proc.stdin, proc.stdout):
            os.set_blocking(f.fileno(), False)  # (waited for with a deadline: `_send`, `_take`)
        greeting = _take(proc.stdout.fileno(), 64, time.monotonic() + self.SECONDS)
        if greeting.decode().strip() != version:  # another interpreter: its code is not ours
            self.failures = self.FAILURES
            raise OSError("the helper runs another interpreter")
        return proc

    def _stop(self, wait: float = 0.0) -> None:
        """End the helper: its input closed (it ends), waiting `wait` seconds before it is killed."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        _close(proc)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """End the helper (it is started again when asked); waits for it to end."""
        with self.lock:
            self._stop(5.0)

    def forked(self) -> None:
        """In a child just forked (``os.register_at_fork``): the parent's helper and lock are the parent's."""
        self.lock = threading.Lock()
        proc, self.proc = self.proc, None
        if proc is not None:
            _close(proc)
            proc.returncode = -1  # not this process's child: never waited for here


def _close(proc: subprocess.Popen[bytes]) -> None:
    """Close this process's ends of the helper's pipes."""
    for f in (proc.stdin, proc.stdout):
        if f is not None:
            try:
                f.close()
            except OSError:  # (a broken pipe: the helper ended)
                pass


def _ready(fd: int, event: int, deadline: float) -> None:
    """Wait until `fd` is ready for `event` (or hung up), or `TimeoutError` at `deadline` (`time.monotonic`)."""
    poll = select.poll()
    poll.register(fd, event)
    left = deadline - time.monotonic()
    if left <= 0 or not poll.poll(left * 1e3):
        raise TimeoutError("the helper did not answer in time")


def _send(fd: int, data: bytes, deadline: float) -> None:
    """All of `data` written to the (non-blocking) `fd` by `deadline`."""
    view = memoryview(data)
    while view:
        _ready(fd, select.POLLOUT, deadline)
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            pass


def _take(fd: int, n: int, deadline: float) -> bytes:
    """Exactly `n` bytes read from the (non-blocking) `fd` by `deadline`, or `EOFError`."""
    data = bytearray()
    while len(data) < n:
        _ready(fd, select.POLLIN, deadline)
        try:
            chunk = os.read(fd, n - len(data))
        except BlockingIOError:
            continue
        if not chunk:
            raise EOFError(f"the helper sent {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


ASIDE = Aside()
"""The process's helper (`compiling_aside`)."""
atexit.register(ASIDE.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=ASIDE.forked)


def drive(gen: Any, make: Callable[..., Any]) -> Any:
    """Run a translation generator to its end; what it yields are arguments of `make`, a generator of
    its own (a function to write) whose result is sent back.  One explicit stack: no recursion."""
    gens = [gen]
    value: Any = None
    while True:
        try:
            request = gens[-1].send(value)
        except StopIteration as stop:
            gens.pop()
            if not gens:
                return stop.value
            value = stop.value
            continue
        gens.append(make(*request))
        value = None


CAUGHT = "except (D, TypeError, ValueError, KeyError, RecursionError):"
"""What sends a translated step to the checked loop: `Deopt` (``D``), a value of a shape the code did not
expect (unpacking, ``+``), a closure whose code was not translated (``KeyError``), deep closures."""


def finish(functions: list[str], env: dict[str, Any], counting: bool, step_lines: list[Line],
           run_lines: list[Line], filename: str) -> tuple[Callable[..., Any], Any]:
    """Compile `functions` and the ``step`` (and unless `counting`, batch ``run``) around the given lines."""
    step_src = source_of("def step(x, s):", [(1, "try:"), *step_lines, (1, CAUGHT), (2, "return slow(x, s)")])
    run_src = source_of("def run(inputs, s):", [
        (1, "outputs = []"), (1, "out = outputs.append"), (1, "for x in inputs:"), (2, "try:"), *run_lines,
        (2, CAUGHT), (3, "s, y = slow(x, s)"), (3, "out(y)"), (1, "return s, outputs")])
    pieces = [*functions, step_src] + ([] if counting else [run_src])
    compile_in_pieces(pieces, env, filename)
    env["source"] = "\n\n".join(pieces)
    return env["step"], env.get("run")
