"""Pictures of any size: a big term's diagram with its repeated parts folded.

A string diagram of a few hundred boxes is as much as a reader (and
Graphviz's layout, whose time grows much faster than the graph) can take.
`folded_diagram` draws a term of more than `limit` nodes in two steps:

1. **Repeats.**  In every chain of compositions, a block of factors that
   comes back several times in a row (a loop unrolled by hand, such as a
   negation built from 63 doublings, or sub-machines built with
   ``catlib.syntax.box`` in a loop) is drawn as one box, ``A ×63``; the
   block itself is drawn once, beside the diagram, in a cluster
   ``where A``.
2. **Overview.**  If the picture is still too big, the largest sub-terms
   are drawn as single boxes, ``⋯ 812 nodes``, biggest first, until at most
   `limit` nodes are shown: the outer structure (cases, pairs, effects)
   stays visible, and the wires keep their types.

A folded box reads and writes the state wire when the part it hides has
effects, so the order of effects stays visible.  Terms within `limit` are
drawn exactly as `catlib.graph.diagram` draws them.

>>> from catlib.free import Add, Compose, Copy, Id
>>> double = Copy >> Add
>>> chain = Id
>>> for _ in range(40):
...     chain = double >> chain
>>> d = folded_diagram(chain, limit=50)
>>> sorted(d.graph.nodes[n]["label"] for n in d.graph if d.graph.nodes[n].get("role") == "fold")
['A ×40']
>>> d.graph.graph["folds"]
{'A': 40}

Everything here is iterative: a term of 100,000 nested compositions is
drawn (folded).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from catlib.context import subterm_types
from catlib.free import Compose, Embed, Term
from catlib.functor import interpret
from catlib.graph import legend
from catlib.graph_category import Builder, Bundle, Diagram, GraphCategory, Wire, Wiring, leaves, type_leaves
from catlib.repeats import tandem_repeats
from catlib.typecheck import construct_of
from catlib.types import Type
from catlib.wiring import shape_of_type

__all__ = ["folded_diagram", "FOLD_LIMIT", "MIN_REPEAT"]

FOLD_LIMIT = 600
"""Terms of more nodes than this are drawn folded (Graphviz lays out the rest in a few seconds)."""

MIN_REPEAT = 24
"""A repeated block is folded when its repetitions cover at least this many term nodes."""

MAX_PERIOD = 32
"""The longest block (in factors of a composition chain) looked for as a repeat."""


@dataclass(frozen=True, eq=False)
class _Hole:
    """What a folded box stands for (an `Embed`'s function, never called)."""

    label: str
    effect: bool

    def __repr__(self) -> str:
        return self.label

    def __call__(self, x: Any) -> Any:  # pragma: no cover - a picture's placeholder is never run
        raise TypeError(f"{self.label} is a folded part of a picture, not a function")


# ---------------------------------------------------------------- the term, indexed


@dataclass
class _Index:
    """The term in pre-order: each occurrence's term, kids, size, effects and type in context."""

    terms: list[Term] = field(default_factory=list)
    kids: list[list[int]] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    effect: list[bool] = field(default_factory=list)
    types: list[tuple[Type, Type]] = field(default_factory=list)


def _index(term: Term, types: list[tuple[Type, Type]]) -> _Index:
    ix = _Index(types=types)
    todo: list[tuple[Term, int]] = [(term, -1)]
    while todo:
        t, parent = todo.pop()
        me = len(ix.terms)
        ix.terms.append(t)
        ix.kids.append([])
        ix.size.append(1)
        ix.effect.append(construct_of(t).effect)
        if parent >= 0:
            ix.kids[parent].append(me)
        todo.extend((k, me) for k in reversed(t.kids))
    for i in range(len(ix.terms) - 1, -1, -1):  # kids come after their parent in pre-order
        for k in ix.kids[i]:
            ix.size[i] += ix.size[k]
            ix.effect[i] = ix.effect[i] or ix.effect[k]
    return ix


# ---------------------------------------------------------------- the plan: what is drawn, what is folded


@dataclass(eq=False)
class _Plan:
    """A node of the picture's term: ``orig`` (a constructor as in the term, its kids planned),
    ``chain`` (factors composed, first to run first) or ``box`` (a folded part)."""

    kind: str
    dom: Type
    cod: Type
    pre: int = -1
    kids: list[_Plan] = field(default_factory=list)
    hole: _Hole | None = None
    size: int = 1
    """Term nodes this stands for (the overview folds the biggest first)."""


def _factors(ix: _Index, i: int) -> list[int]:
    """The factors of the composition chain at `i`, in the order they run."""
    out: list[int] = []
    todo = [i]
    while todo:
        j = todo.pop()
        if isinstance(ix.terms[j], Compose):
            g, f = ix.kids[j]
            todo += [g, f]  # f runs first: popped first
        else:
            out.append(j)
    return out


def _repeats(ix: _Index, factors: list[int], min_cover: int) -> list[tuple[int, int, int]]:
    """Non-overlapping ``(start, period, count)``: blocks of factors repeated `count` times in a row."""
    return tandem_repeats([ix.terms[j] for j in factors], [ix.size[j] for j in factors], min_cover, MAX_PERIOD)


class _Planner:
    def __init__(self, ix: _Index, names: Iterator[str], defs: list[tuple[str, Term]],
                 named: dict[Term, str]) -> None:
        self.ix, self.names, self.defs, self.named = ix, names, defs, named
        self.folds: dict[str, int] = {}

    def block(self, factors: list[int]) -> Term:
        """The factors composed (first to run first), as one term."""
        ts = [self.ix.terms[j] for j in factors]
        out = ts[0]
        for t in ts[1:]:
            out = Compose(t, out)
        return out

    def plan(self, root: int, min_cover: int) -> _Plan:
        ix = self.ix
        top = _Plan("orig", *ix.types[root])
        todo: list[tuple[int, _Plan]] = [(root, top)]
        while todo:
            i, node = todo.pop()
            node.dom, node.cod = ix.types[i]
            if not isinstance(ix.terms[i], Compose):
                node.kind, node.pre, node.size = "orig", i, ix.size[i]
                node.kids = [_Plan("orig", *ix.types[k]) for k in ix.kids[i]]
                todo.extend(zip(ix.kids[i], node.kids))
                continue
            factors = _factors(ix, i)
            node.kind, node.size = "chain", ix.size[i]
            at = 0
            for start, p, count in _repeats(ix, factors, min_cover):
                for j in factors[at:start]:
                    kid = _Plan("orig", *ix.types[j])
                    node.kids.append(kid)
                    todo.append((j, kid))
                body = factors[start:start + p]
                term = self.block(body)
                name = self.named.get(term)
                if name is None:
                    name = self.named[term] = next(self.names)
                    self.defs.append((name, term))
                self.folds[name] = self.folds.get(name, 0) + count
                covered = factors[start:start + p * count]
                hole = _Hole(f"{name} ×{count}", any(ix.effect[j] for j in covered))
                node.kids.append(_Plan("box", ix.types[covered[0]][0], ix.types[covered[-1]][1], hole=hole,
                                       size=sum(ix.size[j] for j in covered)))
                at = start + p * count
            for j in factors[at:]:
                kid = _Plan("orig", *ix.types[j])
                node.kids.append(kid)
                todo.append((j, kid))
            if len(node.kids) == 1:  # the whole chain folded into one box
                node.__dict__.update(node.kids[0].__dict__)
        return top


def _visible(top: _Plan) -> int:
    """Nodes the plan draws (a chain of k factors: k - 1 compositions)."""
    count, todo = 0, [top]
    while todo:
        p = todo.pop()
        count += 1 if p.kind != "chain" else len(p.kids) - 1
        todo.extend(p.kids)
    return count


def _group(top: _Plan, width: int = 8) -> None:
    """Split every chain of more than `width` factors into at most `width` consecutive sub-chains
    (the same picture), so that the overview can show a long chain's parts and fold some."""
    todo = [top]
    while todo:
        p = todo.pop()
        if p.kind == "chain" and len(p.kids) > width:
            k = len(p.kids)
            step = -(-k // width)
            groups = [p.kids[i:i + step] for i in range(0, k, step)]
            p.kids = [g[0] if len(g) == 1 else
                      _Plan("chain", g[0].dom, g[-1].cod, kids=g, size=sum(q.size for q in g)) for g in groups]
        todo.extend(p.kids)


def _overview(top: _Plan, ix: _Index, limit: int) -> None:
    """Fold the biggest parts of `top` into boxes until it draws at most `limit` nodes."""
    _group(top)
    weight: dict[int, int] = {}
    order, todo = [], [top]
    while todo:  # visible sizes, bottom-up
        p = todo.pop()
        order.append(p)
        todo.extend(p.kids)
    for p in reversed(order):
        own = 1 if p.kind != "chain" else len(p.kids) - 1
        weight[id(p)] = own + sum(weight[id(k)] for k in p.kids)
    shown = 1
    frontier: list[tuple[int, int, _Plan]] = [(-weight[id(top)], 0, top)]
    tick = 1
    while frontier:
        _, _, p = frontier[0]
        own = 1 if p.kind != "chain" else len(p.kids) - 1
        if shown - 1 + own + len(p.kids) > limit:
            break
        heapq.heappop(frontier)
        shown += own + len(p.kids) - 1
        for k in p.kids:
            if k.kids:
                heapq.heappush(frontier, (-weight[id(k)], tick, k))
                tick += 1
    for _, _, p in frontier:
        effect = ix.effect[p.pre] if p.kind == "orig" else _effect(p, ix)
        hole = _Hole(f"⋯ {p.size:,} nodes", effect)
        p.kind, p.kids, p.hole = "box", [], hole


def _effect(p: _Plan, ix: _Index) -> bool:
    todo = [p]
    while todo:
        q = todo.pop()
        if (q.kind == "orig" and ix.effect[q.pre]) or (q.hole is not None and q.hole.effect):
            return True
        if q.kind == "orig":
            continue  # its kids are planned from its own effect, already counted
        todo.extend(q.kids)
    return False


def _build(top: _Plan, ix: _Index) -> tuple[Term, list[tuple[Type, Type]]]:
    """The picture's term (folded parts as `Embed`s) and its subterms' types in pre-order."""
    types: list[tuple[Type, Type]] = []
    # pre-order types: a chain of factors f1..fk is Compose(fk, Compose(.., Compose(f2, f1)))
    todo: list[_Plan | tuple[Type, Type]] = [top]
    while todo:
        p = todo.pop()
        if isinstance(p, tuple):
            types.append(p)
            continue
        if p.kind == "chain":
            fs = p.kids
            seq: list[_Plan | tuple[Type, Type]] = []
            for j in range(len(fs) - 1, 0, -1):
                seq += [(fs[0].dom, fs[j].cod), fs[j]]
            seq.append(fs[0])
            todo.extend(reversed(seq))
        else:
            types.append((p.dom, p.cod))
            todo.extend(reversed(p.kids))
    out: list[Term] = []
    stack: list[tuple[_Plan, bool]] = [(top, False)]
    while stack:
        p, ready = stack.pop()
        if not ready and p.kids:
            stack.append((p, True))
            stack.extend((k, False) for k in reversed(p.kids))
            continue
        if p.kind == "box":
            assert p.hole is not None
            out.append(Embed(p.hole, p.dom, p.cod))
            continue
        kids = out[len(out) - len(p.kids):]
        del out[len(out) - len(p.kids):]
        if p.kind == "chain":
            t = kids[0]
            for k in kids[1:]:
                t = Compose(k, t)
            out.append(t)
        elif not kids:
            out.append(ix.terms[p.pre])
        else:
            out.append(type(ix.terms[p.pre])(*kids))  # Par, Case, Curry: the original's constructor
    return out[0], types


# ---------------------------------------------------------------- drawing


def _box(fn: Callable[[Any], Any], dom: Type, cod: Type) -> Wiring:
    """A folded part as one box; it threads the state wire when the part has effects."""
    hole = fn if isinstance(fn, _Hole) else _Hole(getattr(fn, "__qualname__", None) or repr(fn), False)

    def run(b: Builder, x: Bundle, c: Type | None) -> Bundle:
        t = c if c is not None else cod
        ins, outs = leaves(x), type_leaves(t)
        if not hole.effect:
            return shape_of_type(t, iter(b.box("box", hole.label, ins, outs, role="fold")))
        s = b.state_wire()
        wires = b.box("box", hole.label, [*ins, s], [*outs, s.type], role="fold")
        last = wires.pop()
        b.state = Wire(last.node, last.port, last.type, "state")
        return shape_of_type(t, iter(wires))

    return Wiring(run, stateful=hole.effect)


def _names() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        k, name = n, ""
        while k:
            k, r = divmod(k - 1, 26)
            name = chr(65 + r) + name
        yield name


def _draw(term: Term, declared: tuple[Type | str | None, ...], limit: int, names: Iterator[str],
          defs: list[tuple[str, Term]], named: dict[Term, str], folds: dict[str, int]) -> Diagram:
    sig, types = subterm_types(term, *declared)
    ix = _index(term, types)
    C = GraphCategory()
    if ix.size[0] > limit:
        planner = _Planner(ix, names, defs, named)
        top = planner.plan(0, MIN_REPEAT)
        for k, v in planner.folds.items():
            folds[k] = folds.get(k, 0) + v
        if _visible(top) > limit:
            _overview(top, ix, limit)
        picture, types = _build(top, ix)
    else:
        picture = term
    m = interpret(picture, C, embed=_box, types=types)
    d = C.draw(m, sig.input, sig.state if any(ix.effect) else None)
    d.signature = sig
    return d


def _append(g: nx.MultiDiGraph, part: nx.MultiDiGraph, label: str) -> None:
    """Add `part`'s nodes and edges to `g`, inside a new cluster labelled `label`."""
    clusters = g.graph["clusters"]
    base = len(clusters)
    outer = base
    clusters[outer] = {"label": label, "parent": None, "kind": "block"}
    for c, info in part.graph.get("clusters", {}).items():
        parent = info.get("parent")
        clusters[base + 1 + c] = {**info, "parent": outer if parent is None else base + 1 + parent}
    shift = g.number_of_nodes()
    for n, a in part.nodes(data=True):
        c = a.get("cluster")
        g.add_node(shift + n, **{**a, "cluster": outer if c is None else base + 1 + c})
    for u, v, a in part.edges(data=True):
        g.add_edge(shift + u, shift + v, **a)


def folded_diagram(term: Term, state: Type | str | None = None, input: Type | str | None = None,
                   output: Type | str | None = None, *, limit: int = FOLD_LIMIT) -> Diagram:
    """The string diagram of `term` (as `catlib.graph.diagram`), folded when it has more than `limit` nodes.

    See the module docstring.  The graph's ``folds`` attribute maps each
    repeated block's name to how many times it runs; each block is drawn
    once, in a cluster ``where NAME : its type``.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    names, defs, named, folds = _names(), [], {}, {}  # type: ignore[var-annotated]
    d = _draw(term, (state, input, output), limit, names, defs, named, folds)
    g = d.graph
    done = 0
    while done < len(defs):  # a block may hold repeats of its own: its picture names them in turn
        name, body = defs[done]
        done += 1
        part = _draw(body, (None, None, None), limit, names, defs, named, folds)
        _append(g, part.graph, f"where {name} : {part.signature}")
    g.graph["folds"] = folds
    g.graph["title"] = str(d.signature)
    g.graph["legend"] = legend(g) + ("    NAME ×n: the block NAME, n times in a row" if folds else "")
    return d
