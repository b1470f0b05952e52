"""Python source made by the translators (`cam.jit`, `cam.loaded`), compiled without holding up other threads."""

from __future__ import annotations

from typing import Any

__all__ = ["compile_in_pieces", "PIECE_LINES", "Out", "Line", "source_of"]

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
    """A function's source: its `head` line, then `lines` indented."""
    return "\n".join([head, *("    " * i + text for i, text in lines)])


PIECE_LINES = 2_000
"""Lines of source compiled at once: `compile` holds the interpreter lock throughout, so a large code is
compiled in pieces of about this size and other threads (a node's event loop) run in between."""


def compile_in_pieces(functions: list[str], env: dict[str, Any], filename: str) -> None:
    """Define `functions` (Python source, one ``def`` each) in `env`, compiling about `PIECE_LINES` at a time."""
    batch: list[str] = []
    lines = 0
    for i, src in enumerate(functions):
        batch.append(src)
        lines += src.count("\n") + 1
        if lines >= PIECE_LINES or i == len(functions) - 1:
            exec(compile("\n\n".join(batch), filename, "exec"), env)  # noqa: S102 - our own source
            batch, lines = [], 0
