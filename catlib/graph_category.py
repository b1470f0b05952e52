"""The graph category: string diagrams built by interpreting a term.

`GraphCategory` is another instance of `catlib.cartesian.Machine`
(Elliott's "graph category"): a morphism is a `Wiring`, which adds boxes to
a graph being built (a `Builder`) and maps input wires to output wires.
`catlib.graph.diagram` interprets a term into it with the generic functor
(`catlib.functor.interpret`); each morphism learns its output type from
the subterm's type in context (`GraphCategory.at_type`).

>>> from catlib.examples.generic import add_constant
>>> C = GraphCategory()
>>> from catlib.types import Int
>>> d = C.draw(add_constant(C, 1), Int)
>>> sorted(d.graph.nodes[n]["label"] for n in d.graph)
['', '+', 'const 1', 'input', 'output']

Everything here is iterative: a term of 100,000 nested compositions has a
diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import networkx as nx

from catlib.cartesian import Machine
from catlib.typecheck import Signature
from catlib.types import Int, Prod, Sum, Type, Unit, Var

__all__ = ["GraphCategory", "Wire", "Wiring", "Bundle", "Builder", "Diagram", "leaves", "bundle_type",
           "type_leaves"]


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


def _shape_like(b: Bundle, wires: Iterator[Wire]) -> Bundle:
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


_BOOL, _DIVMOD = Sum(Unit, Unit), Sum(Unit, Prod(Int, Int))
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


def _shape_of_type(t: Type, wires: Iterator[Wire]) -> Bundle:
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


def _prim(fn: Callable[[Builder, Bundle, Type | None], Bundle]) -> Wiring:
    return Wiring(fn)


def _single(x: Bundle, what: str) -> Wire:
    if not isinstance(x, Wire):
        raise TypeError(f"{what} takes a single wire (a sum), not a bundle of {bundle_type(x)}")
    return x


def _atom(t: Type) -> str:
    """`t` printed as a constructor's argument: parenthesised unless it is a name, ``()`` or a pair."""
    text = str(t)
    return text if " " not in text or isinstance(t, Prod) else f"({text})"


def _sum_parts(t: Type) -> tuple[Type, Type]:
    return (t.kids[0], t.kids[1]) if isinstance(t, Sum) else (Var("?"), Var("?"))


class GraphCategory(Machine[Wiring]):
    """The graph category: morphisms are `Wiring`s, drawing boxes on a `Builder`.

    See the module docstring.
    """

    def id(self, a: Type | None = None) -> Wiring:
        return _prim(lambda b, x, cod: x)

    def compose(self, g: Wiring, f: Wiring) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Generator[Any, Bundle, Bundle]:
            y = yield f, x
            z = yield g, y
            return z

        return Wiring(run, nested=True, stateful=f.stateful or g.stateful)

    def copy(self, a: Type | None = None) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            ones, twos = [], []
            for w in leaves(x):
                one, two = b.box("fork", "", [w], [w.type, w.type])
                ones.append(one)
                twos.append(two)
            return (_shape_like(x, iter(ones)), _shape_like(x, iter(twos)))

        return _prim(run)

    def consume(self, a: Type | None = None) -> Wiring:
        return _prim(lambda b, x, cod: b.box("cap", "", leaves(x), [Unit], role="consume")[0])

    def fst(self, a: Type | None = None, b: Type | None = None) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            left, right = b.as_pair(x)
            b.drop(right)
            return left

        return _prim(run)

    def snd(self, a: Type | None = None, b: Type | None = None) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            left, right = b.as_pair(x)
            b.drop(left)
            return right

        return _prim(run)

    def par(self, f: Wiring, g: Wiring) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Generator[Any, Bundle, Bundle]:
            left, right = b.as_pair(x)
            y1 = yield f, left
            y2 = yield g, right
            return (y1, y2)

        return Wiring(run, nested=True, stateful=f.stateful or g.stateful)

    def _inject(self, side: int) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            t = bundle_type(x)
            if cod is None:
                cod = Sum(t, Var("?")) if side == 0 else Sum(Var("?"), t)
            return b.box("box", ("inl", "inr")[side], leaves(x), [cod], role="inject")[0]

        return _prim(run)

    def inl(self, a: Type | None = None, b: Type | None = None) -> Wiring:
        return self._inject(0)

    def inr(self, a: Type | None = None, b: Type | None = None) -> Wiring:
        return self._inject(1)

    def case(self, f: Wiring, g: Wiring) -> Wiring:
        threaded = f.stateful or g.stateful

        def run(b: Builder, x: Bundle, cod: Type | None) -> Generator[Any, Bundle, Bundle]:
            w = _single(x, "case")
            a, c = _sum_parts(w.type)
            outer = b.cluster
            b.cluster = b.open_cluster("", "case")
            # the state enters the case with the value, and each branch gets it
            ins = [w]
            if threaded:
                ins.append(b.state_wire())
            # output ports: Left's wires (, its state), Right's wires (, its state)
            sides = (type_leaves(a), type_leaves(c))
            names = [name if i == 0 else "" for name, ts in zip(("Left", "Right"), sides)
                     for i in range(len(ts) + threaded)]
            if threaded:
                names[len(sides[0])] = names[-1] = "state"
            split = b.node("split", "case", len(ins), len(names), out_names=names)
            for i, v in enumerate(ins):
                b.connect(v, split, i)
            results = []
            for side, (branch, t) in enumerate(((f, a), (g, c))):
                here = b.cluster
                b.cluster = b.open_cluster(f"on {('Left', 'Right')[side]} {_atom(t)}", ("left", "right")[side])
                port = side * (len(sides[0]) + threaded)
                inner = _shape_of_type(t, iter(Wire(split, port + i, u) for i, u in enumerate(sides[side])))
                if threaded:
                    b.state = Wire(split, port + len(sides[side]), b.state_type, "state")
                y = yield branch, inner
                results.append((y, b.state))
                b.cluster = here
            (y1, s1), (y2, s2) = results
            out_t = cod if cod is not None else bundle_type(y1)
            outs = type_leaves(out_t)
            if threaded:  # in ports: left's wires, its state, right's wires, its state
                ins = [*leaves(y1), s1, *leaves(y2), s2]  # type: ignore[list-item]
                outs = [*outs, b.state_type]
            else:
                ins = leaves(y1) + leaves(y2)
            merged = b.box("merge", "", ins, outs)
            if threaded:
                last = merged.pop()
                b.state = Wire(last.node, last.port, last.type, "state")
            b.cluster = outer
            return _shape_of_type(out_t, iter(merged))

        return Wiring(run, nested=True, stateful=threaded)

    def distr(self, a: Type | None = None, b: Type | None = None, c: Type | None = None) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            e, c = b.as_pair(x)
            if cod is None:
                (ta, tb), tc = _sum_parts(_single(e, "distr").type), bundle_type(c)
                cod = Sum(Prod(ta, tc), Prod(tb, tc))
            return b.box("box", "distr", leaves(x), [cod], role="distr")[0]

        return _prim(run)

    def get(self, s: Type | None = None) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            s = b.state_wire()
            t = cod if cod is not None else b.state_type
            outs = b.box("box", "get", [*leaves(x), s], [*type_leaves(t), s.type], role="get")
            last = outs.pop()
            b.state = Wire(last.node, last.port, last.type, "state")
            return _shape_of_type(t, iter(outs))

        return Wiring(run, stateful=True)

    def put(self, s: Type | None = None) -> Wiring:
        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            s = b.state_wire()
            unit, new = b.box("box", "put", [*leaves(x), s], [Unit, s.type], role="put")
            b.state = Wire(new.node, new.port, new.type, "state")
            return unit

        return Wiring(run, stateful=True)

    def const(self, k: int, a: Type | None = None) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", f"const {k}", leaves(x), [Int], role="const")[0])

    def add(self) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", "+", leaves(x), [Int], role="add")[0])

    def sub(self) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", "-", leaves(x), [Int], role="sub")[0])

    def mul(self) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", "*", leaves(x), [Int], role="mul")[0])

    def lt(self) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", "<", leaves(x), [_BOOL], role="lt")[0])

    def eq(self) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", "==", leaves(x), [_BOOL], role="eq")[0])

    def divmod(self) -> Wiring:
        return _prim(lambda b, x, cod: b.box("box", "divmod", leaves(x), [_DIVMOD], role="divmod")[0])

    def at_type(self, m: Wiring, dom: Type, cod: Type) -> Wiring:
        """`m` knowing its output type (the functor calls this with the types in context)."""
        return Wiring(m.run, m.nested, cod, m.stateful)

    def embed(self, fn: Callable[[Any], Any], dom: Type, cod: Type) -> Wiring:
        """A host function as an opaque box (`Embed` is not part of `Machine`)."""
        name = getattr(fn, "__qualname__", None) or repr(fn)

        def run(b: Builder, x: Bundle, c: Type | None) -> Bundle:
            t = c if c is not None else cod
            return _shape_of_type(t, iter(b.box("box", name, leaves(x), type_leaves(t), role="embed")))

        return _prim(run)

    def draw(self, m: Wiring, input: Type, state: Type | None = None) -> Diagram:
        """The diagram of morphism `m` on an input of type `input`."""
        b = Builder(state_type=state if state is not None else Var("s"))
        ins = type_leaves(input)
        src = b.node("input", "input", 0, len(ins))
        if state is not None:
            b.state_wire()
        y = m.apply(b, _shape_of_type(input, iter(Wire(src, i, t) for i, t in enumerate(ins))))
        outs = leaves(y)
        sink = b.node("output", "output", len(outs), 0)
        for i, w in enumerate(outs):
            b.connect(w, sink, i)
        if b.state is not None:
            end = b.node("state_out", "state", 1, 0)
            b.connect(b.state, end, 0)
        sig = Signature(state if state is not None else b.state_type, input, bundle_type(y))
        return Diagram(b.graph, sig)


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
