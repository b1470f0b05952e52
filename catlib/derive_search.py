"""The search behind `catlib.derive`: every structural candidate for a migration ``() / old -> new``.

`Search.cands` builds the candidates by the rules `catlib.derive` states (products as flat records,
sums gaining alternatives, ``()`` as ``()``), iteratively along the types' structure and bounded
(`MAX_CANDIDATES` per group of component matchings, `_MAX_STEPS` choices in all).  `needing_readings` runs the
second search, in which a spare ``()`` of the old state may stand for a sum that lacks its default.

>>> from catlib.types import parse
>>> [c.how for c in Search({}).cands(parse("(Int, Int)"), parse("Int"), ())]
[('new . <- old 0',), ('new . <- old 1',)]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from catlib.free import Consume, Id, Inl, Inr, Term
from catlib.shapes import Path, case, fanout, flatten, groups, matchable, project, then, trivial, value_term
from catlib.types import Prod, Sum, Type, Unit
from catlib.values import HostValue

__all__ = ["Path", "parse_path", "show_path", "DeriveError", "Candidate", "Search", "needing_readings", "defaultable",
           "MAX_CANDIDATES", "MAX_DEPTH"]

MAX_CANDIDATES = 24
"""Candidates listed at most (an ambiguity with more says so), and choices of matching tried per group of components:
a search cut short there derives nothing (`catlib.derive.Ambiguous`, not `complete`)."""

MAX_DEPTH = 200  # the rules recurse along the types' structure: deeper state types are refused clearly
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


@dataclass(frozen=True)
class Candidate:
    """One structural migration: its `term` and `how` it builds each part of the new state."""

    term: Term
    how: tuple[str, ...]
    defaults: frozenset[Path] = frozenset()
    needs: frozenset[Path] = frozenset()
    """Where a ``()`` of the old state became a sum and no default was given (only in `Search(spare_units=True)`:
    such a candidate is a reading a default would decide for, not a migration; its term there is a stand-in)."""
    lossy: bool = False
    """Some part of the old state that holds more than ``()`` is dropped (the migration is not one-to-one)."""

    def __str__(self) -> str:
        return "; ".join(self.how)


class _Found(list[Candidate]):
    """Candidates of one part, and whether the search for them was `cut` short (others may exist: this one may even
    be empty because of it)."""

    cut = False


def _found(items: Iterable[Candidate] = (), cut: bool = False) -> _Found:
    found = _Found(items)
    found.cut = cut
    return found


class Search:
    def __init__(self, defaults: dict[Path, tuple[HostValue, Type]], spare_units: bool = False) -> None:
        self.defaults = defaults
        # the second search: a () of an old product may stand for a sum that lacks its default, and only readings
        # that keep all of the old state are wanted (lossy ones are not built)
        self.spare_units = spare_units
        self.missing: list[list[tuple[Path, Type]]] = []  # per product rule that ran short: the unfillable parts
        self.reasons: list[str] = []
        self.cut = False  # the whole search was cut short: candidates may be missing (set by catlib.derive.candidates)
        self.group_cuts = 0  # groups of component matchings cut short, so far
        self.steps = 0

    def below(self, p: Path) -> bool:
        return any(d[:len(p)] == p for d in self.defaults)

    def cands(self, a: Type, b: Type, new: Path, src: Path = (), depth: int = 0) -> _Found:
        """Every structural migration from `a` (at path `src` of the old state) to `b` (at `new` of the new one)."""
        if depth > MAX_DEPTH:
            raise DeriveError(f"the state types are nested deeper than {MAX_DEPTH} levels: write the migration")
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
            if spare and _grown_unit(t) and defaultable(new + p):
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


def defaultable(p: Path) -> bool:
    """A default may be given at `p`: the whole state, or a product's component (not a sum's alternative)."""
    return not p or p[-1] in ("0", "1")


def _holds(t: Type, record: Type) -> bool:
    """`t` is a sum with an alternative of the record's type (where a nested old record may go whole)."""
    return isinstance(t, Sum) and any(x == record for _, x in flatten(t, Sum))


def needing_readings(a: Type, b: Type, table: dict[Path, tuple[HostValue, Type]]) -> tuple[list[Candidate], bool]:
    """The readings that use every default given, keep every part of the old state and need a default only where
    a ``()`` of the old state became a sum (a second search, in which such a ``()`` may stand for that sum), and
    whether that search was cut short."""
    search = Search(table, spare_units=True)
    found = search.cands(a, b, ())
    return [c for c in found if c.needs and not c.lossy and c.defaults == frozenset(table)], found.cut
