"""Wires, bundles and the diagram being built: what the graph category (`catlib.graph_category`) draws with.

A `Wire` is one typed edge end; a `Bundle` is a wire or a pair of bundles,
shaped like the type it carries.  A `Builder` is the graph under
construction, a `Wiring` a morphism of the graph category (it adds boxes
to a builder), and a `Diagram` the finished string diagram.

>>> from catlib.types import Int, Unit
>>> leaves((Wire(0, 0, Int), (Wire(0, 1, Unit), Wire(1, 0, Int))))[1].port
1
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import networkx as nx

from catlib.typecheck import Signature
from catlib.types import Prod, Type, Var

__all__ = ["Wire", "Wiring", "Bundle", "Builder", "Diagram", "Run", "leaves", "bundle_type", "type_leaves",
           "shape_like", "shape_of_type"]

# ---------------------------------------------------------------- wires and bundles


@dataclass(frozen=True, eq=False)
class Wire:
    """One wire: it leaves output port `port` of node `node` and carries a `type`."""

    node: int
    port: int
    type: Type
    kind: str = "data"
    """``"data"`` or ``"state"``."""


Bundle = Union[Wire, tuple["Bundle", "Bundle"]]  # noqa: UP007 - a runtime alias; `|` cannot take strings
"""The wires of a value: a `Wire` for a value that is not a pair, a pair of bundles for a pair."""


def leaves(b: Bundle) -> list[Wire]:
    """The wires of a bundle, left to right (iteratively)."""
    out: list[Wire] = []
    todo = [b]
    while todo:
        x = todo.pop()
        if isinstance(x, Wire):
            out.append(x)
        else:
            todo.append(x[1])
            todo.append(x[0])
    return out


def shape_like(b: Bundle, wires: Iterator[Wire]) -> Bundle:
    """A bundle of the same shape as `b`, filled with `wires` in order."""
    out: list[Bundle] = []
    todo: list[tuple[Bundle, bool]] = [(b, False)]
    while todo:
        x, ready = todo.pop()
        if isinstance(x, Wire):
            out.append(next(wires))
        elif ready:
            r = out.pop()
            out.append((out.pop(), r))
        else:
            todo += [(x, True), (x[1], False), (x[0], False)]
    return out[0]


"""The output types of the comparisons and of ``divmod``: a sum is one wire."""


def type_leaves(t: Type) -> list[Type]:
    """The non-product parts of `t`, left to right: one wire each (the diagram's ports)."""
    out: list[Type] = []
    todo = [t]
    while todo:
        x = todo.pop()
        if isinstance(x, Prod):
            todo += [x.kids[1], x.kids[0]]
        else:
            out.append(x)
    return out


def shape_of_type(t: Type, wires: Iterator[Wire]) -> Bundle:
    """The wires of a value of type `t`, a pair of bundles for each product."""
    out: list[Bundle] = []
    todo: list[tuple[Type, bool]] = [(t, False)]
    while todo:
        x, ready = todo.pop()
        if not isinstance(x, Prod):
            out.append(next(wires))
        elif ready:
            r = out.pop()
            out.append((out.pop(), r))
        else:
            todo += [(x, True), (x.kids[1], False), (x.kids[0], False)]
    return out[0]


def bundle_type(b: Bundle) -> Type:
    """The type a bundle carries: products of its wires' types."""
    out: list[Type] = []
    todo: list[tuple[Bundle, bool]] = [(b, False)]
    while todo:
        x, ready = todo.pop()
        if isinstance(x, Wire):
            out.append(x.type)
        elif ready:
            r = out.pop()
            out.append(Prod(out.pop(), r))
        else:
            todo += [(x, True), (x[1], False), (x[0], False)]
    return out[0]


# ---------------------------------------------------------------- the diagram being built


@dataclass
class Builder:
    """The graph under construction: the "graph monad"'s state.

    Nodes are numbered in creation order.  `cluster` is where new nodes go
    (None: top level); `state` is the state wire as it stands now.
    """

    graph: nx.MultiDiGraph = field(default_factory=lambda: nx.MultiDiGraph(rankdir="LR", clusters={}))
    cluster: int | None = None
    state: Wire | None = None
    state_type: Type = field(default_factory=lambda: Var("s"))
    _labels: dict[Type, str] = field(default_factory=dict, repr=False)

    def node(self, kind: str, label: str = "", n_in: int = 0, n_out: int = 0, **attrs: Any) -> int:
        n = self.graph.number_of_nodes()
        self.graph.add_node(n, kind=kind, label=label, ports_in=n_in, ports_out=n_out,
                            cluster=self.cluster, **attrs)
        return n

    def connect(self, wire: Wire, node: int, port: int) -> None:
        label = self._labels.get(wire.type)
        if label is None:  # wires share types: print each once
            label = self._labels[wire.type] = str(wire.type)
        self.graph.add_edge(wire.node, node, tailport=wire.port, headport=port, type=wire.type,
                            label=label, kind=wire.kind)

    def box(self, kind: str, label: str, inputs: list[Wire], outputs: list[Type], **attrs: Any) -> list[Wire]:
        """A node fed by `inputs` (in port order) with one new wire per output type."""
        n = self.node(kind, label, len(inputs), len(outputs), **attrs)
        for i, w in enumerate(inputs):
            self.connect(w, n, i)
        return [Wire(n, i, t) for i, t in enumerate(outputs)]

    def open_cluster(self, label: str, kind: str) -> int:
        c = len(self.graph.graph["clusters"])
        self.graph.graph["clusters"][c] = {"label": label, "parent": self.cluster, "kind": kind}
        return c

    def state_wire(self) -> Wire:
        """The current state wire (the diagram's state input on first use)."""
        if self.state is None:
            here, self.cluster = self.cluster, None
            n = self.node("state_in", "state", 0, 1)
            self.cluster = here
            self.state = Wire(n, 0, self.state_type, "state")
        return self.state

    def as_pair(self, b: Bundle) -> tuple[Bundle, Bundle]:
        """Split `b` into its two halves; a single wire of pair type goes through an unpairing node."""
        if isinstance(b, tuple):
            return b
        t = b.type
        if not isinstance(t, Prod):
            raise TypeError(f"expected a pair, found a wire of type {t}")
        left, right = self.box("unpair", "", [b], [t.kids[0], t.kids[1]])
        return left, right

    def drop(self, b: Bundle) -> None:
        """End the wires of `b` in a visible cap."""
        self.box("cap", "", leaves(b), [])


Run = Callable[[Builder, Bundle, "Type | None"], Any]


@dataclass(frozen=True)
class Wiring:
    """A morphism of the graph category: given the builder and the input wires,
    add boxes and answer the output wires.

    `run(builder, wires, cod)` either returns the output bundle directly
    (``nested=False``: primitives) or is a generator that yields
    ``(morphism, wires)`` to have a sub-morphism applied (the driver
    `Wiring.apply` sends back its output) and returns the output bundle.
    The driver keeps an explicit stack of these generators, so applying a
    morphism of any depth never recurses on the Python stack.  `cod` is the
    output type when known (`diagram` fills it in from type inference);
    primitives that cannot see their output type in their input use it.
    """

    run: Run
    nested: bool = False
    cod: Type | None = None
    stateful: bool = False
    """True when the morphism reads or writes the state (a case then threads the state through it)."""

    def apply(self, b: Builder, x: Bundle) -> Bundle:
        """Apply this morphism to the wires `x`, adding its boxes to `b`."""
        if not self.nested:
            return self.run(b, x, self.cod)
        stack: list[Generator[tuple[Wiring, Bundle], Bundle, Bundle]] = [self.run(b, x, self.cod)]
        value: Any = None
        while stack:
            try:
                sub, arg = stack[-1].send(value)
            except StopIteration as stop:
                stack.pop()
                value = stop.value
                continue
            if sub.nested:
                stack.append(sub.run(b, arg, sub.cod))
                value = None
            else:
                value = sub.run(b, arg, sub.cod)
        return value



@dataclass
class Diagram:
    """A string diagram: a `networkx.MultiDiGraph` and the signature it draws.

    Nodes have ``kind`` (``input``, ``output``, ``state_in``, ``state_out``,
    ``box``, ``fork`` (copy), ``cap`` (consume, or a wire a projection drops),
    ``unpair``, ``split``/``merge`` (a case's entry and exit)), ``label``,
    ``ports_in``/``ports_out`` and ``cluster`` (the innermost case branch
    the node is drawn in; the graph's ``clusters`` describes them).  Every
    edge is a wire from an output port (``tailport``) to an input port
    (``headport``) with its ``type``, ``label`` (the type, printed) and
    ``kind`` (``data`` or ``state``).
    """

    graph: nx.MultiDiGraph
    signature: Signature

    @property
    def arity(self) -> tuple[int, int]:
        """(wires out of the input node, wires into the output node), state not counted."""
        g = self.graph
        ins = [n for n in g if g.nodes[n]["kind"] == "input"]
        outs = [n for n in g if g.nodes[n]["kind"] == "output"]
        return g.out_degree(ins[0]), g.in_degree(outs[0])

    def to_dot(self) -> str:
        """The diagram in Graphviz's DOT language."""
        from catlib.render import to_dot

        return to_dot(self.graph)

    def render(self, path: str, **options: Any) -> str:
        """Write the diagram to `path` (``.dot``, ``.svg`` or ``.png``); see `catlib.render.render`."""
        from catlib.render import render

        return render(self.graph, path, **options)

    def _repr_svg_(self) -> str:
        from catlib.render import to_svg

        return to_svg(self.graph)
