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

The wires, the builder and the finished `Diagram` are `catlib.wiring`'s
(re-exported here).  Everything here is iterative: a term of 100,000 nested compositions has a
diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from catlib.cartesian import Machine
from catlib.typecheck import Signature
from catlib.types import Fun, Int, Prod, Sum, Type, Unit, Var
from catlib.wiring import (
    Builder,
    Bundle,
    Diagram,
    Wire,
    Wiring,
    bundle_type,
    leaves,
    shape_like,
    shape_of_type,
    type_leaves,
)

__all__ = ["GraphCategory", "Wire", "Wiring", "Bundle", "Builder", "Diagram", "leaves", "bundle_type",
           "type_leaves"]

_BOOL, _DIVMOD = Sum(Unit, Unit), Sum(Unit, Prod(Int, Int))
"""The output types of the comparisons and of ``divmod``: a sum is one wire."""


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
            return (shape_like(x, iter(ones)), shape_like(x, iter(twos)))

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
                inner = shape_of_type(t, iter(Wire(split, port + i, u) for i, u in enumerate(sides[side])))
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
            return shape_of_type(out_t, iter(merged))

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
            return shape_of_type(t, iter(outs))

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

    def curry(self, f: Wiring) -> Wiring:
        """A closure: `f`'s body drawn in a cluster, fed by the environment and an ``argument`` node,
        ending in a ``λ`` box whose one wire is the function value.  The body's state wires, if any,
        start at a ``state when applied`` node: its effects happen where the function is applied."""

        def run(b: Builder, x: Bundle, cod: Type | None) -> Generator[Any, Bundle, Bundle]:
            arg_t, res_t = (cod.kids[0], cod.kids[1]) if isinstance(cod, Fun) else (Var("?"), Var("?"))
            outer, outer_state = b.cluster, b.state
            b.cluster = b.open_cluster("closure", "closure")
            arg = shape_of_type(arg_t, iter(b.box("box", "argument", [], type_leaves(arg_t), role="argument")))
            if f.stateful:
                n = b.node("box", "state when applied", 0, 1, role="applied_state")
                b.state = Wire(n, 0, b.state_type, "state")
            y = yield f, (x, arg)
            ends = leaves(y) + ([b.state] if f.stateful and b.state is not None else [])
            fun = Fun(arg_t, res_t if cod is not None else bundle_type(y))
            b.cluster, b.state = outer, outer_state
            return b.box("box", "λ", ends, [fun], role="curry")[0]

        return Wiring(run, nested=True)

    def apply(self, b: Type | None = None, c: Type | None = None) -> Wiring:
        """An ``apply`` box on the function and its argument, threading the state (the body's effects)."""

        def run(b: Builder, x: Bundle, cod: Type | None) -> Bundle:
            fun, _ = b.as_pair(x)
            t = cod if cod is not None else (fun.type.kids[1] if isinstance(fun, Wire) and isinstance(fun.type, Fun)
                                             else Var("?"))
            s = b.state_wire()
            outs = b.box("box", "apply", [*leaves(x), s], [*type_leaves(t), s.type], role="apply")
            last = outs.pop()
            b.state = Wire(last.node, last.port, last.type, "state")
            return shape_of_type(t, iter(outs))

        return Wiring(run, stateful=True)

    def at_type(self, m: Wiring, dom: Type, cod: Type) -> Wiring:
        """`m` knowing its output type (the functor calls this with the types in context)."""
        return Wiring(m.run, m.nested, cod, m.stateful)

    def embed(self, fn: Callable[[Any], Any], dom: Type, cod: Type) -> Wiring:
        """A host function as an opaque box (`Embed` is not part of `Machine`)."""
        name = getattr(fn, "__qualname__", None) or repr(fn)

        def run(b: Builder, x: Bundle, c: Type | None) -> Bundle:
            t = c if c is not None else cod
            return shape_of_type(t, iter(b.box("box", name, leaves(x), type_leaves(t), role="embed")))

        return _prim(run)

    def draw(self, m: Wiring, input: Type, state: Type | None = None) -> Diagram:
        """The diagram of morphism `m` on an input of type `input`."""
        b = Builder(state_type=state if state is not None else Var("s"))
        ins = type_leaves(input)
        src = b.node("input", "input", 0, len(ins))
        if state is not None:
            b.state_wire()
        y = m.apply(b, shape_of_type(input, iter(Wire(src, i, t) for i, t in enumerate(ins))))
        outs = leaves(y)
        sink = b.node("output", "output", len(outs), 0)
        for i, w in enumerate(outs):
            b.connect(w, sink, i)
        if b.state is not None:
            end = b.node("state_out", "state", 1, 0)
            b.connect(b.state, end, 0)
        sig = Signature(state if state is not None else b.state_type, input, bundle_type(y))
        return Diagram(b.graph, sig)
