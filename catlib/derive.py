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

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from catlib.free import Consume, Id, Inl, Inr, Term
from catlib.program import Program
from catlib.shapes import Path, case, fanout, flatten, groups, matchable, part_at, project, then, trivial, value_term
from catlib.shapes import depth as type_depth
from catlib.types import Prod, Sum, Type, Unit, as_type
from catlib.values import HostValue, check_value

__all__ = ["Path", "parse_path", "show_path", "DeriveError", "MissingDefault", "Ambiguous", "Derived", "derive",
           "candidates", "MAX_CANDIDATES"]

MAX_CANDIDATES = 24
"""Candidates listed at most (an ambiguity with more says so), and choices of matching tried per group of components:
a search cut short there derives nothing (`Ambiguous`, not `complete`)."""

_MAX_DEPTH = 200  # the rules recurse along the types' structure: deeper state types are refused clearly
_MAX_STEPS = 200_000  # choices tried while matching components, over a whole derivation


def parse_path(text: str | Path) -> Path:
    """``"0.L.1"`` -> ``("0", "L", "1")``; ``"."`` or ``""`` is the whole.

    >>> parse_path("1.R"), parse_path(".")
    (('1', 'R'), ())
    """
    if isinstance(text, tuple):
        steps = text
    else:
        t = text.strip()
        steps = () if t in ("", ".") else tuple(s.strip() for s in t.split("."))
    bad = [s for s in steps if s not in ("0", "1", "L", "R")]
    if bad:
        raise DeriveError(f"bad path {text!r}: its steps are 0/1 (product components) and L/R (sum alternatives), "
                          f"joined by dots, not {bad[0]!r}")
    return steps


def show_path(p: Path) -> str:
    """The text of a path (``.`` for the whole)."""
    return ".".join(p) if p else "."


class DeriveError(ValueError):
    """No migration is derived: the message says why."""


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
class Candidate:
    """One structural migration: its `term` and `how` it builds each part of the new state."""

    term: Term
    how: tuple[str, ...]
    defaults: frozenset[Path] = frozenset()
    needs: frozenset[Path] = frozenset()
    """Where a ``()`` of the old state became a sum and no default was given (only in `_Search(spare_units=True)`:
    such a candidate is a reading a default would decide for, not a migration; its term there is a stand-in)."""
    lossy: bool = False
    """Some part of the old state that holds more than ``()`` is dropped (the migration is not one-to-one)."""

    def __str__(self) -> str:
        return "; ".join(self.how)


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


class _Found(list[Candidate]):
    """Candidates of one part, and whether the search for them was `cut` short (others may exist: this one may even
    be empty because of it)."""

    cut = False


def _found(items: Iterable[Candidate] = (), cut: bool = False) -> _Found:
    found = _Found(items)
    found.cut = cut
    return found


class _Search:
    def __init__(self, defaults: dict[Path, tuple[HostValue, Type]], spare_units: bool = False) -> None:
        self.defaults = defaults
        # the second search: a () of an old product may stand for a sum that lacks its default, and only readings
        # that keep all of the old state are wanted (lossy ones are not built)
        self.spare_units = spare_units
        self.missing: list[list[tuple[Path, Type]]] = []  # per product rule that ran short: the unfillable parts
        self.reasons: list[str] = []
        self.cut = False  # the whole search was cut short: candidates may be missing (set by `candidates`)
        self.group_cuts = 0  # groups of component matchings cut short, so far
        self.steps = 0

    def below(self, p: Path) -> bool:
        return any(d[:len(p)] == p for d in self.defaults)

    def cands(self, a: Type, b: Type, new: Path, src: Path = (), depth: int = 0) -> _Found:
        """Every structural migration from `a` (at path `src` of the old state) to `b` (at `new` of the new one)."""
        if depth > _MAX_DEPTH:
            raise DeriveError(f"the state types are nested deeper than {_MAX_DEPTH} levels: write the migration")
        if new in self.defaults:
            v, _ = self.defaults[new]
            return _found([Candidate(value_term(v, b), (f"new {show_path(new)} = {v!r} (default)",),
                                     frozenset([new]), lossy=not trivial(a))])
        if a == b and not self.below(new):
            return _found([Candidate(Id, (f"new {show_path(new)} <- old {show_path(src)}",))])
        if b == Unit:
            if self.spare_units and not trivial(a):
                return _found()  # (the second search looks for readings that keep all of the old state only)
            return _found([Candidate(Consume, (f"new {show_path(new)} = ()",), lossy=not trivial(a))])
        if isinstance(b, Sum) and (isinstance(a, Sum) or any(t == a for _, t in flatten(b, Sum))):
            return self.sums(a, b, new, src, depth)
        if isinstance(b, Prod) or isinstance(a, Prod):
            return self.products(a, b, new, src, depth)
        self.reasons.append(f"{a} cannot become {b} at new {show_path(new)}")
        return _found()

    def _assign(self, sources: list[tuple[Path, Type]], targets: list[tuple[Path, Type]],
                options: list[list[tuple[int, list[Candidate]]]], stand_ins: tuple[int, int] = (0, 0),
                must: frozenset[int] = frozenset()) -> Iterator[list[tuple[int, Candidate]]]:
        """Injective choices of one target option per source, in order among equal types (see the module doc).

        Sources and targets fall apart into groups that share no option; each group is solved alone
        (a group of one source type and one target type, every option open, is a choice of which
        targets are used: combinations), and the groups' choices are combined.  `stand_ins` is
        (the first target that stands for a () that became a sum, how many a group may take); `must` are
        targets every choice takes (where only readings that keep all of the old state are wanted).
        """
        if not options:
            yield []
            return
        if not matchable([[k for k, _ in opts] for opts in options]):
            return  # no injective choice at all: nothing to enumerate (the caller says what is missing)
        subs_of = [dict(opts) for opts in options]
        per_group: list[list[dict[int, int]]] = []
        limit = MAX_CANDIDATES + 1
        for group in groups([[k for k, _ in opts] for opts in options]):
            found = list(itertools.islice(self._group_choices(sources, targets, options, group, stand_ins, must),
                                          limit))
            if not found:
                return
            if len(found) >= limit:
                self.group_cuts += 1  # choices past these are not tried: what comes of them is not known
            per_group.append(found)
        for parts in itertools.product(*per_group):
            chosen = {j: k for part in parts for j, k in part.items()}
            ks = [chosen[j] for j in range(len(options))]
            for combo in itertools.product(*(subs_of[j][k] for j, k in enumerate(ks))):
                self._step()
                yield list(zip(ks, combo))

    def _step(self) -> None:
        """One more way to match components tried: past `_MAX_STEPS`, the derivation is refused."""
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise DeriveError(f"more than {_MAX_STEPS:,} ways to match the components were tried: the types are too "
                              f"large for a derivation; write the migration")

    def _group_choices(self, sources: list[tuple[Path, Type]], targets: list[tuple[Path, Type]],
                       options: list[list[tuple[int, list[Candidate]]]], group: list[int],
                       stand_ins: tuple[int, int] = (0, 0), must: frozenset[int] = frozenset()
                       ) -> Iterator[dict[int, int]]:
        """The stable injective choices for the sources in `group` (their options lie in the group)."""
        opts = {j: [k for k, _ in options[j]] for j in group}
        tgts = sorted(set().union(*(set(v) for v in opts.values())))
        if (len({sources[j][1] for j in group}) == 1 and len({targets[k][1] for k in tgts}) == 1
                and all(v == tgts for v in opts.values())):
            for combo in itertools.combinations(tgts, len(group)):
                self._step()
                yield dict(zip(group, combo))
            return
        chosen: list[int] = []

        first_stand_in, spare = stand_ins
        must_here = must & set(tgts)

        def ok(n: int, k: int) -> bool:
            j = group[n]
            if spare and k >= first_stand_in and sum(ki >= first_stand_in for ki in chosen) >= spare:
                return False  # as many stand-ins as the old record has ()s to spare: no more
            if must_here and len(must_here - set(chosen) - {k}) > len(group) - n - 1:
                return False  # too few parts left to take the targets every choice must take
            for i, ki in zip(group, chosen):
                if ki == k or sources[i][1] == sources[j][1] and targets[ki][1] == targets[k][1] and ki > k:
                    return False
            return True

        stack: list[Iterator[int]] = [iter(opts[group[0]])]
        while stack:
            n = len(stack) - 1
            for k in stack[-1]:
                self._step()
                if ok(n, k):
                    chosen.append(k)
                    if len(chosen) == len(group):
                        yield dict(zip(group, chosen))
                        chosen.pop()
                        continue
                    stack.append(iter(opts[group[n + 1]]))
                    break
            else:
                stack.pop()
                if chosen:
                    chosen.pop()

    def products(self, a: Type, b: Type, new: Path, src: Path, depth: int) -> _Found:
        rel = frozenset(d[len(new):] for d in self.defaults if d[:len(new)] == new)
        leaves = flatten(b, Prod, rel)
        olds = [(p, t) for p, t in flatten(a, Prod) if t != Unit]
        n_leaves = len(olds)
        olds += _records(a)  # a record of several old components may go whole into a sum alternative
        n_olds = len(olds)
        # the old record's ()s beyond the new one's (those are kept as ()s): with `spare_units`, each may have become
        # one of the new sums (a reading that needs that sum's default); their matching targets come after the old
        # components, one per wanted part
        spare = max(0, sum(1 for _, t in flatten(a, Prod) if t == Unit) - sum(1 for _, t in leaves if t == Unit)
                    ) if self.spare_units else 0
        fixed: list[tuple[Path, Candidate]] = []
        wanted: list[tuple[Path, Type]] = []
        for p, t in leaves:
            if p in rel:
                fixed.append((p, self.cands(t, t, new + p, src, depth + 1)[0]))
            elif t == Unit:
                fixed.append((p, Candidate(Consume, (f"new {show_path(new + p)} = ()",))))
            else:
                wanted.append((p, t))
        # a record with one component besides ``()``s, ``((), x)``, going whole where `x` goes too (into an
        # alternative of the record's type) is the same migration: listing both would be a false ambiguity
        alone = {k: [j for j in range(n_leaves) if olds[j][0][:len(op)] == op] for k, (op, _) in enumerate(olds)
                 if k >= n_leaves}
        options = []
        computed: list[_Found] = []
        for j, (p, t) in enumerate(wanted):
            opts: list[tuple[int, list[Candidate]]] = []
            for k, (op, ot) in enumerate(olds):
                if k >= n_leaves and (not _holds(t, ot) or len(alone[k]) == 1 and alone[k][0] in dict(opts)):
                    continue
                subs = self.cands(ot, t, new + p, src + op, depth + 1)
                computed.append(subs)
                if subs:
                    opts.append((k, subs))
            if spare and _grown_unit(t) and _defaultable(new + p):
                stand_in = Candidate(Consume, (f"new {show_path(new + p)} = ? (a () that became {t}: its default "
                                               f"decides)",), needs=frozenset([new + p]))
                opts.insert(0, (n_olds + j, [stand_in]))  # tried first: the readings looked for have them
            options.append(opts)
        hidden = any(subs.cut and not subs for subs in computed)  # an option cut short to nothing: it may exist
        if self.spare_units and any(not any(op[:len(olds[k][0])] == olds[k][0] for opts in options for k, _ in opts
                                            if k < n_olds) for op, _ in olds[:n_leaves]):
            return _found((), hidden)  # an old component that no part can take: every reading here drops it
        targets = olds + [((), Unit)] * len(wanted)  # (a stand-in's "type" is (): no old component has it)
        out: list[Candidate] = []
        # cut short here: a part's options that were (an empty one among them, or one that a candidate uses), the
        # matching of a group, or the candidates themselves
        cut = hidden
        cut_at = [{k for k, subs in opts if getattr(subs, "cut", False)} for opts in options]
        group_cuts = self.group_cuts
        seen: set[frozenset[Path]] = set()
        # the second search: old components that every choice must take (no record in the options may take them
        # instead), so that the choices it tries are those that keep all of the old state
        must: frozenset[int] = frozenset()
        if self.spare_units:
            records = {k for opts in options for k, _ in opts if n_leaves <= k < n_olds}
            must = frozenset(j for j in range(n_leaves)
                             if not any(olds[j][0][:len(olds[k][0])] == olds[k][0] for k in records))
        for assignment in self._assign(wanted, targets, options, (n_olds, spare), must):
            used = [olds[k][0] for k, _ in assignment if k < n_olds]
            if len(assignment) - len(used) > spare:
                continue  # more stand-ins than the old record has ()s
            if any(u != v and u == v[:len(u)] for u in used for v in used):
                continue  # a record and one of its own components: that component would be used twice
            parts = dict(fixed)
            for (p, _), (k, sub) in zip(wanted, assignment):
                parts[p] = sub if k >= n_olds else Candidate(then(project(olds[k][0]), sub.term), sub.how,
                                                              sub.defaults, sub.needs, sub.lossy)
            defaults = frozenset().union(*(c.defaults for c in parts.values()))
            needs = frozenset().union(*(c.needs for c in parts.values()))
            lossy = any(sub.lossy for _, sub in assignment) or any(
                not any(op[:len(u)] == u for u in used) for op, _ in olds[:n_leaves])  # an old component unused
            if self.spare_units and (lossy or needs in seen):
                continue  # (there, a reading stands for all that need defaults at the same paths)
            seen.add(needs)
            how = tuple(h for _, c in sorted(parts.items()) for h in c.how)
            out.append(Candidate(self._build(b, rel, parts), how, defaults, needs, lossy))
            cut = cut or any(k in cut_at[j] for j, (k, _) in enumerate(assignment))
            if len(out) > MAX_CANDIDATES:
                cut = True
                out.pop()
                break
        cut = cut or self.group_cuts != group_cuts
        if not out:
            if all(options):  # every part has a source, not all at once: the types in short supply need defaults
                supply = [t for _, t in olds]
                demand = [t for _, t in wanted]
                short = [(new + p, t) for p, t in wanted if demand.count(t) > supply.count(t)] or [
                    (new + p, t) for p, t in wanted]
            else:
                short = [(new + p, t) for (p, t), opts in zip(wanted, options) if not opts]
            self.missing.append(short)
        return _found(out, cut)

    def _build(self, b: Type, stop: frozenset[Path], parts: dict[Path, Candidate]) -> Term:
        """The fanout tree of `b`'s product structure with `parts` at its leaves (post-order, no recursion)."""
        order: list[tuple[Path, Type]] = []
        todo: list[tuple[Path, Type]] = [((), b)]
        while todo:
            p, t = todo.pop()
            order.append((p, t))
            if isinstance(t, Prod) and p not in stop:
                todo += [(p + ("0",), t.kids[0]), (p + ("1",), t.kids[1])]
        built: list[Term] = []
        for p, t in reversed(order):
            if isinstance(t, Prod) and p not in stop:
                second, first = built.pop(), built.pop()
                built.append(fanout(first, second))
            else:
                built.append(parts[p].term)
        return built.pop()

    def sums(self, a: Type, b: Type, new: Path, src: Path, depth: int) -> _Found:
        """`b` is a sum: `a` goes whole into one of its sides, or (`a` a sum too) side by side, or swapped
        where the two sides of `a` differ in type."""
        out: list[Candidate] = []
        cut = False
        for side, step, inj in ((0, "L", Inl), (1, "R", Inr)):
            nb = b.kids[side]
            if trivial(nb) and not trivial(a):
                continue  # all of `a` into one value: that would lose it
            whole = self.cands(a, nb, new + (step,), src, depth + 1)
            cut = cut or whole.cut
            for c in whole:
                if c.lossy:
                    continue  # the old type whole in one side keeps all of itself (else it is a fold, not a gain)
                how = (f"old {show_path(src)} -> new {show_path(new + (step,))}",) + (
                    tuple("  " + h for h in c.how) if c.term != Id else ())
                out.append(Candidate(then(c.term, inj), how, c.defaults, c.needs, c.lossy))
        if isinstance(a, Sum):
            orders = [(0, 1), (1, 0)] if a.kids[0] != a.kids[1] else [(0, 1)]
            for order in orders:
                sides: list[_Found] = []
                for k, to in enumerate(order):
                    nb, ns = b.kids[to], ("L", "R")[to]
                    if trivial(nb) and isinstance(a.kids[k], Sum):
                        sides.append(_found())  # its alternatives would merge into one
                        continue
                    # otherwise the two sides' tags stay apart: a side may lose its payload's components
                    sides.append(self.cands(a.kids[k], nb, new + (ns,), src + (("L", "R")[k],), depth + 1))
                # a side cut short matters where the other side has (or may have) candidates
                cut = cut or any(s.cut for s in sides) and all(s or s.cut for s in sides)
                for c0, c1 in itertools.product(*sides):
                    i0, i1 = (Inl, Inr) if order == (0, 1) else (Inr, Inl)
                    how = tuple(f"old {show_path(src + (('L', 'R')[k],))} -> new {show_path(new + (('L', 'R')[to],))}"
                                for k, to in enumerate(order))
                    out.append(Candidate(case(then(c0.term, i0), then(c1.term, i1)),
                                         how[:1] + tuple("  " + h for h in c0.how if c0.term != Id) + how[1:]
                                         + tuple("  " + h for h in c1.how if c1.term != Id),
                                         c0.defaults | c1.defaults, c0.needs | c1.needs, c0.lossy or c1.lossy))
        unique = list({c.needs if self.spare_units else (c.term, c.needs): c for c in out}.values())
        if len(unique) > MAX_CANDIDATES:
            cut = True
            unique = unique[:MAX_CANDIDATES]
        if not unique:
            self.reasons.append(f"{a} has no place in the new {b} at {show_path(new)} (a sum may gain alternatives, "
                                f"not lose them)")
        return _found(unique, cut)


def _records(a: Type) -> list[tuple[Path, Type]]:
    """The products inside `a`'s product structure (itself included) that hold more than ``()``, with their paths."""
    out: list[tuple[Path, Type]] = []
    todo: list[tuple[Path, Type]] = [((), a)]
    while todo:
        p, t = todo.pop()
        if isinstance(t, Prod):
            if not trivial(t):
                out.append((p, t))
            todo += [(p + ("1",), t.kids[1]), (p + ("0",), t.kids[0])]
    return out


def _grown_unit(t: Type) -> bool:
    """`t` is a sum with an alternative of one value (``()`` or a product of them): what a ``()`` may become."""
    return isinstance(t, Sum) and any(trivial(x) for _, x in flatten(t, Sum))


def _defaultable(p: Path) -> bool:
    """A default may be given at `p`: the whole state, or a product's component (not a sum's alternative)."""
    return not p or p[-1] in ("0", "1")


def _holds(t: Type, record: Type) -> bool:
    """`t` is a sum with an alternative of the record's type (where a nested old record may go whole)."""
    return isinstance(t, Sum) and any(x == record for _, x in flatten(t, Sum))


def candidates(old: Type | str, new: Type | str, defaults: Mapping[str | Path, HostValue] | None = None
               ) -> tuple[list[Candidate], _Search]:
    """Every structural candidate (up to `MAX_CANDIDATES`) that uses every default, and the search's notes."""
    a, b = as_type(old), as_type(new)
    for t, which in ((a, "old"), (b, "new")):
        if not t.is_ground:
            raise DeriveError(f"the {which} state type {t} has variables: a migration is derived between ground types")
        if type_depth(t) > _MAX_DEPTH:
            raise DeriveError(f"the {which} state type is nested deeper than {_MAX_DEPTH} levels: write the migration")
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
    search = _Search(table)
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
        needing, _ = _needing(a, b, search.defaults)
        if needing:  # a () became a sum: its default is what is missing (not what a search down another way lacked)
            readings = list(dict.fromkeys(tuple(sorted(c.needs)) for c in needing))
            where = " or ".join(" and ".join(f"{show_path(p)} ({part_at(b, p)})" for p in r) for r in readings)
            raise MissingDefault(f"the new state needs a default (e.g. --default PATH=VALUE) at: {where}: a () of the "
                                 f"old state became a sum there", sorted({p for r in readings for p in r}))
        for short in ([(p, t) for p, t in m if _defaultable(p)] for m in search.missing):
            if short:  # (a part that is a whole alternative of a sum cannot take a default: not named)
                where = " or ".join(f"{show_path(p)} ({t})" for p, t in short)
                raise MissingDefault(f"the new state needs a default (e.g. --default PATH=VALUE) at: {where}: the "
                                     f"old state has no unused component of that type to fill it",
                                     [p for p, _ in short])
        reasons = search.reasons + [f"new {show_path(p)} ({t}) has no source in the old state, and as a whole "
                                    f"alternative of a sum it takes no default" for m in search.missing for p, t in m]
        raise DeriveError(f"no structural migration {sig}: " + "; ".join(dict.fromkeys(reasons)))
    if (len(found) > 1 or search.cut) and choose is None:
        more = f" (at least: the search stopped at {MAX_CANDIDATES} choices somewhere)" if search.cut else ""
        raise Ambiguous(f"{len(found)} structural candidate{'s' if len(found) > 1 else ''} for {sig}{more}; none is "
                        f"chosen:\n" + _listing(found),
                        found, not search.cut)
    if choose is None:
        needing, cut = _needing(a, b, search.defaults)
        if cut and not needing:
            raise Ambiguous(f"1 structural candidate for {sig}, but the search for readings that keep all of the "
                            f"old state where a () became a sum was cut short (at {MAX_CANDIDATES} readings of a "
                            f"part): whether one fits is not known, so none is chosen (choose=1 takes candidate 1):\n"
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


def _needing(a: Type, b: Type, table: dict[Path, tuple[HostValue, Type]]) -> tuple[list[Candidate], bool]:
    """The readings that use every default given, keep every part of the old state and need a default only where
    a ``()`` of the old state became a sum (a second search, in which such a ``()`` may stand for that sum), and
    whether that search was cut short."""
    search = _Search(table, spare_units=True)
    found = search.cands(a, b, ())
    return [c for c in found if c.needs and not c.lossy and c.defaults == frozenset(table)], found.cut


def _listing(found: list[Candidate]) -> str:
    return "\n".join(f"  {i}. {c}" for i, c in enumerate(found, start=1))
