"""Python source made by the translator `cam.loaded`, compiled without holding up other threads (`cam.jit` compiles
each block on its own, and keeps the compiled code of small blocks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from types import CodeType
from typing import Any

__all__ = ["compile_in_pieces", "pieces", "PIECE_LINES", "Out", "Line", "source_of", "drive", "finish"]

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
        code = _compiled(source, filename) if len(source) <= CACHED_CHARS else compile(source, filename, "exec")
        exec(code, env)  # noqa: S102 - our own source


CACHED_CHARS = 20_000
"""The compiled code of sources up to this long is kept (`_compiled`)."""


@lru_cache(maxsize=256)
def _compiled(source: str, filename: str) -> CodeType:
    """`source` compiled, kept: the same code loaded again (a fuel of its own, a node reloading a version, a
    campaign's repeated term) has the same source, its constants being in the functions' globals, not in it."""
    return compile(source, filename, "exec")


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
