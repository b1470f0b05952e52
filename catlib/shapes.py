"""Parts of types and the small terms that move them: what `catlib.derive` builds its candidates from.

A path (`catlib.derive.Path`) names a part of a type: ``"0"``/``"1"`` step
into a product, ``"L"``/``"R"`` into a sum.  `flatten` reads a product as
the flat record of its components (or a sum as its alternatives), with
their paths; `project` is the term that takes a component out; `then`, `fanout` and `case` compose
while keeping terms readable (``(fst . p, snd . p)`` is ``p``); `value_term`
is a constant of any ground type.  `groups` and `matchable` are the
combinatorics of matching components: independent groups, and whether a
one-to-one choice exists at all.

>>> from catlib.types import parse
>>> flatten(parse("((Int, ()), Either () Int)"), Prod)
[(('0', '0'), Int), (('0', '1'), Unit), (('1',), Sum(Unit, Int))]
>>> project(("0", "1"))
Compose(Snd, Fst)
"""

from __future__ import annotations

from catlib.free import Case, Compose, Const, Consume, Copy, Fst, Id, Inl, Inr, Par, Snd, Term
from catlib.types import Prod, Sum, Type, Unit
from catlib.values import HostValue, Left, check_value

__all__ = ["Path", "groups", "matchable", "value_term", "then", "project", "fanout", "case", "depth", "flatten",
           "trivial", "part_at"]

Path = tuple[str, ...]
"""A part of a type: steps ``"0"``/``"1"`` into products, ``"L"``/``"R"`` into sums."""


def groups(options: list[list[int]]) -> list[list[int]]:
    """The sources (indices of `options`) grouped so that no two groups share a target, in order."""
    root = list(range(len(options)))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x
    first: dict[int, int] = {}
    for j, opts in enumerate(options):
        for k in opts:
            if k in first:
                root[find(j)] = find(first[k])
            else:
                first[k] = j
    groups: dict[int, list[int]] = {}
    for j in range(len(options)):
        groups.setdefault(find(j), []).append(j)
    return list(groups.values())


def matchable(options: list[list[int]]) -> bool:
    """Whether each source can take a distinct target among its `options` (augmenting paths, no recursion)."""
    owner: dict[int, int] = {}
    for j in range(len(options)):
        # search an augmenting path from source j: parents record how each target was reached
        parent: dict[int, tuple[int, int | None]] = {}
        todo: list[tuple[int, int | None]] = [(j, None)]
        found: int | None = None
        while todo and found is None:
            src, via = todo.pop()
            for k in options[src]:
                if k in parent:
                    continue
                parent[k] = (src, via)
                if k not in owner:
                    found = k
                    break
                todo.append((owner[k], k))
        if found is None:
            return False
        back: int | None = found
        while back is not None:  # flip the path: each target on it goes to the source that reached it
            src, via = parent[back]
            owner[back] = src
            back = via
    return True


def value_term(v: HostValue, t: Type) -> Term:
    """A term ``a -> t`` that ignores its input and answers `v` (of type `t`).

    >>> from catlib.interpreter import step
    >>> from catlib.types import parse
    >>> step(value_term((Left(3), ()), parse("(Either Int (), ())")), "anything", ())[1]
    (Left(3), ())
    """
    check_value(v, t, "the default")
    todo: list[tuple[HostValue, Type]] = [(v, t)]
    # built bottom-up from a post-order walk, so that deep values do not recurse
    order: list[tuple[HostValue, Type]] = []
    while todo:
        x, ty = todo.pop()
        order.append((x, ty))
        if isinstance(ty, Prod):
            todo += [(x[0], ty.kids[0]), (x[1], ty.kids[1])]
        elif isinstance(ty, Sum):
            todo.append((x.value, ty.kids[0] if isinstance(x, Left) else ty.kids[1]))
    built: list[Term] = []
    for x, ty in reversed(order):
        if isinstance(ty, Prod):
            second, first = built.pop(), built.pop()
            built.append(Compose(Par(first, second), Copy))
        elif isinstance(ty, Sum):
            built.append(Compose(Inl if isinstance(x, Left) else Inr, built.pop()))
        elif ty == Unit:
            built.append(Consume)
        else:
            built.append(Const(x))
    return built.pop()


def then(f: Term, g: Term) -> Term:
    """`f`, then `g`."""
    if f == Id:
        return g
    return f if g == Id else Compose(g, f)


def project(path: Path) -> Term:
    t: Term = Id
    for s in path:
        t = then(t, Fst if s == "0" else Snd)
    return t


def fanout(f: Term, g: Term) -> Term:
    if (f, g) == (Fst, Snd):
        return Id
    if isinstance(f, Compose) and isinstance(g, Compose) and (f.g, g.g) == (Fst, Snd) and f.f == g.f:
        return f.f  # (fst . p, snd . p) is p
    return Compose(Par(f, g), Copy)


def case(f: Term, g: Term) -> Term:
    if (f, g) == (Inl, Inr):
        return Id
    if isinstance(f, Compose) and isinstance(g, Compose) and (f.f, g.f) == (Inl, Inr) and f.g == g.g:
        return f.g  # [q . inl, q . inr] is q
    return Case(f, g)


# ---------------------------------------------------------------- the search

def depth(t: Type) -> int:
    most, todo = 0, [(t, 1)]
    while todo:
        x, d = todo.pop()
        most = max(most, d)
        todo += [(k, d + 1) for k in x.kids]
    return most


def flatten(t: Type, kind: type, stop: frozenset[Path] = frozenset(), at: Path = ()) -> list[tuple[Path, Type]]:
    """The components (``kind`` Prod) or alternatives (Sum) of `t`, left to right, with their paths."""
    steps = ("0", "1") if kind is Prod else ("L", "R")
    out: list[tuple[Path, Type]] = []
    todo = [(at, t)]
    while todo:
        p, x = todo.pop()
        if isinstance(x, kind) and p not in stop:
            todo += [(p + (steps[1],), x.kids[1]), (p + (steps[0],), x.kids[0])]
        else:
            out.append((p, x))
    return out


def trivial(t: Type) -> bool:
    """A type with one value: ``()`` and products of it."""
    return all(x == Unit for _, x in flatten(t, Prod))


def part_at(t: Type, path: Path) -> Type | None:
    for s in path:
        if s in ("0", "1") and isinstance(t, Prod) or s in ("L", "R") and isinstance(t, Sum):
            t = t.kids[0 if s in ("0", "L") else 1]
        else:
            return None
    return t
