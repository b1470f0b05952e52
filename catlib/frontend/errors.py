"""Errors at the source: where in the user's file a machine leaves the subset or is ill-typed.

A `SourceError` names the file, line and column, shows the line with a
caret under the offending span, and says what is allowed instead:

>>> src = Source("bank.py", ["def f(x: int) -> int:", "    while x: pass"], 10, 0)
>>> import ast
>>> node = ast.parse("def f(x: int) -> int:\\n    while x: pass").body[0].body[0]
>>> print(src.error(node, "a while loop is outside the subset", "for i in range(N), N a constant"))
bank.py:11:5: a while loop is outside the subset
    while x: pass
    ^^^^^^^^^^^^^
  allowed instead: for i in range(N), N a constant
"""

from __future__ import annotations

import ast
import linecache
from dataclasses import dataclass

from catlib.origin import Origin

__all__ = ["SourceError", "Source", "error_at"]


class SourceError(Exception):
    """A machine's source is outside the subset the frontend compiles, or ill-typed.

    `filename`, `line` and `column` (both 1-based) locate it; `text` is the
    source line; `message` says what is wrong and `hint` what is allowed
    instead.
    """

    def __init__(self, filename: str, line: int, column: int, end_column: int, text: str, message: str,
                 hint: str = "") -> None:
        self.filename, self.line, self.column, self.end_column = filename, line, column, end_column
        self.text, self.message, self.hint = text, message, hint
        super().__init__(self._render())

    def _render(self) -> str:
        width = max(1, self.end_column - self.column)
        out = [f"{self.filename}:{self.line}:{self.column}: {self.message}"]
        if self.text:
            out += [f"    {self.text.strip()}",
                    "    " + " " * (self.column - 1 - _indent(self.text)) + "^" * width]
        if self.hint:
            out.append(f"  allowed instead: {self.hint}")
        return "\n".join(out)


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


@dataclass(frozen=True)
class Source:
    """A function's source: its file, its lines as in the file, the file line of the first, and the
    indentation removed before parsing (so AST columns map back to the file's)."""

    filename: str
    lines: list[str]
    first_line: int
    indent: int

    def error(self, node: ast.AST | None, message: str, hint: str = "") -> SourceError:
        """A `SourceError` at `node`'s span (at the function's first line when `node` is None)."""
        where, text = self._span(node)
        return SourceError(self.filename, where.line, where.column, where.end_column, text, message, hint)

    def origin(self, node: ast.AST) -> Origin:
        """`node`'s span in the file, as `catlib.origin` records where a term was built."""
        return self._span(node)[0]

    def _span(self, node: ast.AST | None) -> tuple[Origin, str]:
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        end_line = getattr(node, "end_lineno", lineno)
        end_col = getattr(node, "end_col_offset", None)
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        start = col + self.indent
        if end_col is None or end_line != lineno:  # a span over several lines: underline to the line's end
            end = len(text.rstrip())
        else:
            end = end_col + self.indent
        return Origin(self.filename, self.first_line + lineno - 1, start + 1, max(start + 1, end) + 1), text


def error_at(where: Origin, message: str, hint: str = "") -> SourceError:
    """A `SourceError` at a recorded span (the line's text read from the file)."""
    text = linecache.getline(where.file, where.line).rstrip("\n")
    column = where.column or len(text) - len(text.lstrip()) + 1
    return SourceError(where.file, where.line, column, max(where.end_column, column + 1), text, message, hint)
