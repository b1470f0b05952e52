"""State migrations derived from the old and new state types, loudly.

`derive(old, new, defaults)` finds the migration ``() / old -> new`` when
the two types admit exactly one *structural* candidate, built from these
rules (nested as deep as the types go):

- **identity**: where a part of the state keeps its type, it is kept;
- **a product gains a component**: only with a default value given for it,
  at its path in the new type (never a silent default);
- **a product loses a component**: it is dropped;
- **components move**: each component of the new product comes from a
  distinct component of the old one of the same type (or of one that is
  itself migrated by these rules); components of the same type keep their
  order, so a reordering is derived only where the types make it unique;
- **a sum gains an alternative**: the old type goes whole into one side of
  the new sum, keeping all of itself (were a part of it holding more than
  ``()`` dropped on the way, that would be a fold, not a gain), or (the
  old type a sum too) its two sides into the new one's two sides (swapped
  only where their types differ), each side again by these rules (so an
  alternative may lose components of its payload, but alternatives never
  merge); a product nested in the old state may go whole into an
  alternative of its own type;
- a part of type ``()`` is ``()``: it needs no default, and dropping one
  loses nothing (so too a product of ``()``, such as ``((), ())``);
- **a ``()`` becomes a sum** (a ``()`` of an old product beyond those the new
  one keeps, into a sum with an alternative of one value): only with a
  default at its path.  A reading that does so and keeps all of the old
  state is not passed over: beside it `derive` refuses even a single
  default-free candidate (`Ambiguous` lists the reading in `needing`, with
  the path whose default decides for it).

Products are read as flat records of their components (``((a, b), c)``
has three); sums keep their shape (``Either a (Either b c)`` is a choice
inside a choice).  A *path* names a part of the new
type: its steps are ``0``/``1`` (a product's first/second component) and
``L``/``R`` (a sum's alternatives), joined by dots; ``.`` is the whole.

When no candidate fits, `derive` says why (`MissingDefault` names the
components that need a default: where a ``()`` became a sum, the paths of
those sums); when several fit, or one beside a reading
that needs the default of a ``()`` that became a sum, `Ambiguous` lists them
all and nothing is chosen (`choose=N` takes candidate N of that list,
explicitly).  A default that no candidate uses is an error too.

>>> d = derive("Int", "(Int, Int)", {"0": 0})      # the counter: (parked, count)
>>> print(d)
Compose(Par(Const(0), Id), Copy)
  : () / Int -> (Int, Int)
  new 0 = 0 (default)
  new 1 <- old .
>>> from catlib.interpreter import step
>>> step(d.term, 7, ())
((), (0, 7))
>>> derive("(Int, Either () ())", "Either () () ").how     # lose a component
('new . <- old 1',)
>>> derive("Int", "(Int, Int)")
Traceback (most recent call last):
  ...
catlib.derive.MissingDefault: the new state needs a default (e.g. --default PATH=VALUE) at: 0 (Int) or 1 (Int): ...
>>> derive("(Int, (Int, Int))", "(Int, Either () (Int, Int))").how   # a record goes into a sum
('new 0 <- old 0', 'old 1 -> new 1.R')
>>> derive("(Int, Int)", "Int")
Traceback (most recent call last):
  ...
catlib.derive.Ambiguous: 2 structural candidates for () / (Int, Int) -> Int; none is chosen:
  1. new . <- old 0
  2. new . <- old 1
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catlib import derive_search
from catlib.derive_search import (
    MAX_CANDIDATES,
    MAX_DEPTH,
    Candidate,
    DeriveError,
    Path,
    Search,
    defaultable,
    needing_readings,
    parse_path,
    show_path,
)
from catlib.free import Term
from catlib.program import Program
from catlib.shapes import depth as type_depth
from catlib.shapes import part_at
from catlib.types import Type, Unit, as_type
from catlib.values import HostValue, check_value

__all__ = ["Path", "parse_path", "show_path", "DeriveError", "MissingDefault", "Ambiguous", "Derived", "derive",
           "candidates", "MAX_CANDIDATES"]

class MissingDefault(DeriveError):
    """A component of the new state has no source in the old one and no default: `paths` could take one."""

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths


class Ambiguous(DeriveError):
    """Several structural candidates fit, or one beside readings that a default would decide for (`needing`), or
    one found by a search cut short: `candidates` lists them (none is chosen)."""

    def __init__(self, message: str, candidates: list[Candidate], complete: bool = True,
                 needing: list[Candidate] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates
        self.complete = complete
        """False when the search was cut short at `MAX_CANDIDATES` (others may fit)."""
        self.needing = needing or []
        """Readings beside `candidates` that keep the whole old state, where a ``()`` became a sum: a default at
        one of their `Candidate.needs` paths decides for them (they cannot be chosen without it)."""


@dataclass(frozen=True)
class Derived:
    """The derived migration: a `Program` ``() / old -> new`` and the provenance of each part (`how`)."""

    program: Program
    how: tuple[str, ...]

    @property
    def term(self) -> Term:
        return self.program.term

    def __str__(self) -> str:
        return "\n".join([repr(self.term), f"  : {self.program.signature}", *(f"  {h}" for h in self.how)])


def candidates(old: Type | str, new: Type | str, defaults: Mapping[str | Path, HostValue] | None = None
               ) -> tuple[list[Candidate], Search]:
    """Every structural candidate (up to `MAX_CANDIDATES`) that uses every default, and the search's notes."""
    a, b = as_type(old), as_type(new)
    for t, which in ((a, "old"), (b, "new")):
        if not t.is_ground:
            raise DeriveError(f"the {which} state type {t} has variables: a migration is derived between ground types")
        if type_depth(t) > MAX_DEPTH:
            raise DeriveError(f"the {which} state type is nested deeper than {MAX_DEPTH} levels: write the migration")
    table: dict[Path, tuple[HostValue, Type]] = {}
    for raw, v in (defaults or {}).items():
        p = parse_path(raw)
        part = part_at(b, p)
        if part is None:
            raise DeriveError(f"the default at {show_path(p)} names no part of the new state type {b}")
        if p and p[-1] in ("L", "R"):
            raise DeriveError(f"the default at {show_path(p)} would stand for a whole alternative of a sum: a default "
                              f"fills a component of a product (a path ending in 0 or 1), or the whole state (.)")
        try:
            check_value(v, part, f"the default at {show_path(p)}")
        except TypeError as e:
            raise DeriveError(str(e)) from None
        table[p] = (v, part)
    for p in table:
        for q in table:
            if p != q and q[:len(p)] == p:
                raise DeriveError(f"defaults at {show_path(p)} and inside it at {show_path(q)}: give one")
    search = Search(table)
    found = search.cands(a, b, ())
    search.cut = found.cut
    return [c for c in found if c.defaults == frozenset(table)], search


def derive(old: Type | str, new: Type | str, defaults: Mapping[str | Path, HostValue] | None = None,
           choose: int | None = None, name: str = "derived migration") -> Derived:
    """The one structural migration ``() / old -> new`` (see the module docstring), or `DeriveError` saying why.

    `defaults` maps paths of the new type to values for gained components; `choose` (1-based)
    takes that candidate of an `Ambiguous` list instead of refusing.  The result is type-checked.
    """
    a, b = as_type(old), as_type(new)
    found, search = candidates(a, b, defaults)
    sig = f"() / {a} -> {b}"
    if not found:
        raw, unused = search.cands(a, b, ()), set()
        if raw:  # candidates exist, but none uses every default
            used = frozenset().union(*(c.defaults for c in raw))
            unused = {show_path(p) for p in search.defaults if p not in used}
            raise DeriveError(f"no derivation of {sig} uses the default(s) at {', '.join(sorted(unused))}: a default "
                              f"fills a component the old state lacks; here the candidates are:\n" + _listing(raw))
        needing, _ = needing_readings(a, b, search.defaults)
        if needing:  # a () became a sum: its default is what is missing (not what a search down another way lacked)
            readings = list(dict.fromkeys(tuple(sorted(c.needs)) for c in needing))
            where = " or ".join(" and ".join(f"{show_path(p)} ({part_at(b, p)})" for p in r) for r in readings)
            raise MissingDefault(f"the new state needs a default (e.g. --default PATH=VALUE) at: {where}: a () of the "
                                 f"old state became a sum there", sorted({p for r in readings for p in r}))
        for short in ([(p, t) for p, t in m if defaultable(p)] for m in search.missing):
            if short:  # (a part that is a whole alternative of a sum cannot take a default: not named)
                where = " or ".join(f"{show_path(p)} ({t})" for p, t in short)
                raise MissingDefault(f"the new state needs a default (e.g. --default PATH=VALUE) at: {where}: the "
                                     f"old state has no unused component of that type to fill it",
                                     [p for p, _ in short])
        reasons = search.reasons + [f"new {show_path(p)} ({t}) has no source in the old state, and as a whole "
                                    f"alternative of a sum it takes no default" for m in search.missing for p, t in m]
        raise DeriveError(f"no structural migration {sig}: " + "; ".join(dict.fromkeys(reasons)))
    if (len(found) > 1 or search.cut) and choose is None:
        bound = derive_search.MAX_CANDIDATES
        more = f" (at least: the search stopped at {bound} choices somewhere)" if search.cut else ""
        raise Ambiguous(f"{len(found)} structural candidate{'s' if len(found) > 1 else ''} for {sig}{more}; none is "
                        f"chosen:\n" + _listing(found),
                        found, not search.cut)
    if choose is None:
        needing, cut = needing_readings(a, b, search.defaults)
        if cut and not needing:
            raise Ambiguous(f"1 structural candidate for {sig}, but the search for readings that keep all of the "
                            f"old state where a () became a sum was cut short (at {derive_search.MAX_CANDIDATES} "
                            f"readings of a part): whether one fits is not known, so none is chosen (choose=1 takes "
                            f"candidate 1):\n"
                            + _listing(found), found, False)
        if needing:
            paths = " or ".join(show_path(p) for p in sorted(frozenset().union(*(c.needs for c in needing))))
            raise Ambiguous(f"1 structural candidate for {sig}, and {len(needing)} other reading(s) that keep all of "
                            f"the old state where a () became a sum, which need its default; none is chosen:\n"
                            + _listing(found) + "\n" + "\n".join(
                                f"  needing a default at {' and '.join(show_path(p) for p in sorted(c.needs))}: {c}"
                                for c in needing)
                            + f"\na default at {paths} (e.g. --default PATH=VALUE) takes such a reading; choose=1 "
                              f"(--candidate 1) takes candidate 1", found, True, needing)
    if choose is not None and not 1 <= choose <= len(found):
        raise DeriveError(f"there are {len(found)} candidate(s) for {sig}; candidate {choose} does not exist:\n"
                          + _listing(found))
    pick = found[0 if choose is None else choose - 1]
    program = Program(name, pick.term, Unit, a, b, ())
    program.check()
    return Derived(program, pick.how)


def _listing(found: list[Candidate]) -> str:
    return "\n".join(f"  {i}. {c}" for i, c in enumerate(found, start=1))
