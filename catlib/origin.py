"""Where the port DSL built each subterm: the Python line, kept beside the terms.

Terms are values, compared and hashed by structure; where a term was built
is not part of it (two equal terms built on two lines are one term).  So the
port DSL (`catlib.ports`, `catlib.syntax`) records, for each term object it
wraps in a port, the file and line of the user's code that built it, in a
side table keyed by the object's identity; `catlib.typecheck.TermTypeError`
reads it to say which line built the ill-typed subterm (or, when that
subterm was made inside the DSL, the nearest enclosing one that a line of
yours built).  The table keeps the newest `LIMIT` records.

>>> from catlib.syntax import sm, kase, inl, pget
>>> from catlib.typecheck import check
>>> bad = sm(lambda p: kase(lambda u: inl(pget(u) + 1), lambda u: pget(u), p))
>>> check(bad, state="Int")
Traceback (most recent call last):
  ...
catlib.typecheck.TermTypeError: ill-typed at root.g (Case): ... (built at <doctest catlib.origin[2]>:1: bad = sm(...))
"""

from __future__ import annotations

import linecache
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["Origin", "record", "place", "origin", "nearest", "clear_cache", "LIMIT"]

LIMIT = 500_000
"""Records kept; the oldest are dropped beyond (a long session building many machines)."""

_TABLE: dict[int, tuple[Any, Origin]] = {}
_HERE = Path(__file__).resolve().parent
_DSL = {str(_HERE / f"{m}.py") for m in ("ports", "syntax", "scopes", "origin")}


@dataclass(frozen=True)
class Origin:
    """A line of Python source: `file`, `line` (1-based) and, read when shown, its text; `column` and
    `end_column` (1-based, end excluded; 0 when unknown) the span in it, when a compiler knows it
    (`catlib.frontend` places the terms it builds at the expression they come from)."""

    file: str
    line: int
    column: int = 0
    end_column: int = 0

    @property
    def source(self) -> str:
        return linecache.getline(self.file, self.line).strip()

    def __str__(self) -> str:
        text = self.source
        return f"{self.file}:{self.line}" + (f": {text}" if text else "")


def record(term: Any) -> None:
    """Remember the first line outside the DSL on the stack as where `term` (this object) was built.

    Only the first record of an object counts, and leaves (`Id`, `Get`, ...)
    are not recorded: they are shared by every term that uses them.
    """
    key = id(term)
    if not term.kids or key in _TABLE:
        return
    f: FrameType | None = sys._getframe(1)
    while f is not None and f.f_code.co_filename in _DSL:
        f = f.f_back
    if f is None:
        return
    _store(term, Origin(f.f_code.co_filename, f.f_lineno))


def place(term: Any, where: Origin) -> None:
    """Remember `where` as where `term` (this object) was built, for a compiler that knows better than
    the stack (only the first record of an object counts, and leaves are not recorded)."""
    if term.kids and id(term) not in _TABLE:
        _store(term, where)


def _store(term: Any, where: Origin) -> None:
    if len(_TABLE) >= LIMIT:
        for k in list(_TABLE)[: LIMIT // 10]:
            del _TABLE[k]
    _TABLE[id(term)] = (term, where)


def origin(term: Any) -> Origin | None:
    """Where the port DSL built this very term object, if it did."""
    hit = _TABLE.get(id(term))
    return hit[1] if hit is not None and hit[0] is term else None


def nearest(root: Any, path: tuple[str, ...]) -> Origin | None:
    """The origin of the subterm of `root` at `path`, or of its nearest enclosing subterm that has one."""
    found = origin(root)
    t = root
    for name in path:
        t = t.kids[t.fields.index(name)]
        found = origin(t) or found
    return found


def clear_cache() -> None:
    """Forget every record."""
    _TABLE.clear()
