"""Terms as networkx graphs: the syntax tree, and the string diagram.

`syntax_tree` is the term's abstract syntax, one node per constructor
occurrence, each with the type that subterm has *in context*:

>>> from catlib.examples.generic import counter
>>> from catlib.free import FREE
>>> t = syntax_tree(counter(FREE))
>>> t.number_of_nodes() == counter(FREE).size()
True
>>> t.nodes[0]["constructor"], t.nodes[0]["type"]
('Case', 'Either a b -> Either () Int')

`diagram` draws the term as a string diagram: boxes are primitives, edges
are wires labelled with their types, `Copy` is a fork (a dot), `Consume`
and the wires a projection drops end in a cap (a bar), a `Case` is a
cluster with its two branches inside, and the state is a wire of its own
threaded through every `Get` and `Put` in the order the effects happen.
It is not a traversal written for the purpose: `GraphCategory` is another
instance of `catlib.cartesian.Machine` (Elliott's "graph category": a
morphism adds boxes to a graph being built and maps input wires to output
wires), and the term is interpreted into it.

>>> d = diagram(counter(FREE))
>>> sorted(d.graph.nodes[n]["kind"] for n in d.graph if d.graph.nodes[n]["kind"] in ("box", "fork"))
['box', 'box', 'box', 'box', 'box', 'box', 'box', 'fork']
>>> d.arity
(1, 1)

Both are plain networkx graphs; `catlib.render` turns them (and the
bytecode graphs of `cam.graph`) into DOT, SVG and PNG.  Everything here is
iterative: a term of 100,000 nested compositions has a diagram.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from catlib.context import subterm_types
from catlib.free import Term
from catlib.functor import interpret
from catlib.graph_category import Diagram, GraphCategory
from catlib.tree import walk
from catlib.typecheck import TermTypeError, construct_of
from catlib.types import Type, Unit

__all__ = ["syntax_tree", "diagram", "legend", "term_svg"]


# ---------------------------------------------------------------- the syntax tree


def _constant(t: Term) -> object:
    """The parameter of `t` as the syntax tree shows it (see `catlib.constructs.Construct.param`)."""
    param = construct_of(t).param
    if param == "host function":
        return getattr(t.fn, "__qualname__", None) or repr(t.fn)  # type: ignore[attr-defined]
    return t.label if param is not None else None


def syntax_tree(term: Term, state: Type | str | None = None, input: Type | str | None = None,
                output: Type | str | None = None, *, types: bool = True, limit: int | None = None) -> nx.DiGraph:
    """The abstract syntax of `term`: one node per constructor occurrence, numbered in pre-order.

    Node attributes: ``constructor`` (``"Compose"``, ``"Fst"``, ...), ``constant``
    (the integer of a `Const`, the function's name for an `Embed`, else None),
    ``dom``/``cod`` (the subterm's input and output `Type` in context) and
    ``type`` (``"dom -> cod"``), plus ``label`` for drawing.  Edges go from a node
    to its children, with ``field`` the child's name (``g``, ``f``).  The graph's
    ``signature`` is the term's (principal, or at the declared `state`, `input`,
    `output`).  ``types=False`` skips inference (for ill-typed terms);
    otherwise an ill-typed term raises `TermTypeError`.

    With a `limit`, a tree of more than `limit` nodes comes pruned as `catlib.repeats.prune_tree` prunes it
    (``prune_tree(syntax_tree(term), limit)``: the same nodes, numbers and edges), without making the nodes
    it cuts off.
    """
    g = nx.DiGraph(rankdir="TB", title="syntax tree")
    typed: list[tuple[Type, Type]] | None = None
    if types:
        sig, typed = subterm_types(term, state, input, output)
        g.graph["signature"] = sig
    shown: dict[Type, str] = {}  # subterms share types: print each once

    def attrs(t: Term, me: int) -> dict[str, Any]:
        const = _constant(t)
        label = t.op if const is None else f"{t.op} {const}"
        out: dict[str, Any] = {"constructor": t.op, "constant": const, "kind": "syntax", "shape": "round"}
        if typed is not None:
            d, c = typed[me]
            text = f"{shown.get(d) or shown.setdefault(d, str(d))} -> {shown.get(c) or shown.setdefault(c, str(c))}"
            out.update(dom=d, cod=c, type=text)
            label += "\n" + text
        out["label"] = label
        return out

    if limit is not None and (typed is not None and len(typed) > limit or typed is None and term.size() > limit):
        return _pruned(g, term, limit, attrs)
    todo: list[tuple[Term, int, str]] = [(term, -1, "")]
    n = 0
    while todo:
        t, parent, name = todo.pop()
        me = n
        n += 1
        g.add_node(me, **attrs(t, me))
        if parent >= 0:
            g.add_edge(parent, me, field=name, label=name)
        todo.extend((k, me, f) for f, k in reversed(list(zip(t.fields, t.kids))))
    return g


def _pruned(g: nx.DiGraph, term: Term, limit: int, attrs: Callable[[Term, int], dict[str, Any]]) -> nx.DiGraph:
    """`g` filled with `prune_tree(syntax_tree(term), limit)`'s nodes: the first `limit` occurrences breadth-first,
    numbered in pre-order, and one ``⋯ n nodes`` node per subtree cut off."""
    sizes: dict[int, int] = {}  # a subterm's size by identity (shared subterms are counted once per occurrence)
    todo: list[tuple[Term, bool]] = [(term, False)]
    while todo:
        t, ready = todo.pop()
        if id(t) in sizes:
            continue
        if ready:
            sizes[id(t)] = 1 + sum(sizes[id(k)] for k in t.kids)
        else:
            todo.append((t, True))
            todo.extend((k, False) for k in t.kids if id(k) not in sizes)
    keep: list[tuple[Term, int]] = [(term, 0)]  # (occurrence, its pre-order number)
    edges: list[tuple[int, int, str]] = []
    cut: list[tuple[int, Term, int, str]] = []  # (parent, subtree, its number, field)
    i = 0
    while i < len(keep):
        t, pre = keep[i]
        at = pre + 1
        for f, k in zip(t.fields, t.kids):
            if len(keep) < limit:
                keep.append((k, at))
                edges.append((pre, at, f))
            else:
                cut.append((pre, k, at, f))
            at += sizes[id(k)]
        i += 1
    for t, pre in sorted(keep, key=lambda x: x[1]):
        g.add_node(pre, **attrs(t, pre))
    for u, v, f in edges:
        g.add_edge(u, v, field=f, label=f)
    fresh = sizes[id(term)]
    for parent, k, pre, f in cut:
        hidden = sizes[id(k)]
        g.add_node(fresh, **{**attrs(k, pre), "label": f"⋯ {hidden:,} nodes", "hidden": hidden})
        g.add_edge(parent, fresh, field=f, label=f)
        fresh += 1
    return g


def diagram(term: Term, state: Type | str | None = None, input: Type | str | None = None,
            output: Type | str | None = None) -> Diagram:
    """The string diagram of `term` (see the module docstring), at its principal
    signature or at the declared `state`, `input` and `output`.

    Raises `catlib.typecheck.TermTypeError` if the term is ill-typed (or does
    not have the declared type).
    """
    sig, types = subterm_types(term, state, input, output)
    C = GraphCategory()
    m = interpret(term, C, types=types)
    uses_state = any(construct_of(t).effect for t in walk(term))  # type: ignore[arg-type]
    d = C.draw(m, sig.input, sig.state if uses_state else None)
    d.signature = sig
    d.graph.graph["title"] = str(sig)
    d.graph.graph["legend"] = legend(d.graph)
    return d


LEGEND = {"fork": "● copy", "cap": "▌ discard", "state_in": "red: the state", "unit": "dashed: a () wire"}
"""What the marks of a diagram mean; `catlib.render` prints those a diagram uses under its title."""


def legend(g: nx.MultiDiGraph) -> str:
    """The `LEGEND` entries for the marks that `g` uses."""
    used = {a["kind"] for _, a in g.nodes(data=True)}
    if any(a["type"] == Unit for _, _, a in g.edges(data=True)):
        used.add("unit")
    return "    ".join(text for mark, text in LEGEND.items() if mark in used)


SVG_LIMIT = 3000
"""`term_svg` draws terms of at most this many nodes (Graphviz gets slow beyond)."""


def term_svg(term: Term) -> str | None:
    """The SVG of `term`'s diagram, for Jupyter's ``_repr_svg_``.

    None (Jupyter then shows the repr) for an ill-typed term or one larger
    than `SVG_LIMIT`.
    """
    if term.size() > SVG_LIMIT:
        return None
    try:
        return diagram(term)._repr_svg_()
    except TermTypeError:
        return None


def _term_repr_svg(self: Term) -> str | None:
    """Jupyter shows a term as its string diagram (`term_svg`)."""
    return term_svg(self)


Term._repr_svg_ = _term_repr_svg  # type: ignore[attr-defined]
