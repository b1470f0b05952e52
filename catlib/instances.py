"""Other models of the same theory: Python functions and state machines.

A program written against the interfaces runs in any of them:

>>> from catlib.examples.generic import swap
>>> swap(FUNCTIONS)((1, 2))
(2, 1)
>>> swap(MACHINES)((1, 2), "s")
('s', (2, 1))
>>> swap(FREE)
Compose(Par(Snd, Fst), Copy)

and every term means something in each of them (`catlib.functor`):

>>> from catlib.functor import interpret
>>> interpret(swap(FREE), MACHINES)((1, 2), "s")
('s', (2, 1))

`Functions` is the pure model (no state); `StateMachines` is the seed's
``SM s i o = i -> s -> (s, o)``, written as ``(input, state) -> (state,
output)``.  The free model followed by `catlib.interpreter.step` agrees
with `StateMachines` (see ``tests/test_instances.py``).  The symbolic and
graph models live in `catlib.symbolic` and `catlib.graph`.

Composed Python closures call each other, so these two models are for
programs of ordinary size; deep terms belong to the free model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catlib.cartesian import Arithmetic, Closed, Distributive, Machine, Obj, Ordered
from catlib.free import FREE
from catlib.types import Type
from catlib.values import NO, YES, Left, Right, add64, divmod64, mul64, sub64

__all__ = ["Functions", "StateMachines", "FUNCTIONS", "MACHINES", "FREE"]

Fn = Callable[[Any], Any]
SM = Callable[[Any, Any], tuple[Any, Any]]


def _distr(v: Any) -> Any:
    e, c = v
    return type(e)((e.value, c))


class Functions(Distributive[Fn], Arithmetic[Fn], Ordered[Fn], Closed[Fn]):
    """Pure Python functions ``x -> y`` on host values; a function value is a Python function."""

    def id(self, a: Obj = None) -> Fn:
        return lambda x: x

    def compose(self, g: Fn, f: Fn) -> Fn:
        return lambda x: g(f(x))

    def copy(self, a: Obj = None) -> Fn:
        return lambda x: (x, x)

    def consume(self, a: Obj = None) -> Fn:
        return lambda x: ()

    def fst(self, a: Obj = None, b: Obj = None) -> Fn:
        return lambda p: p[0]

    def snd(self, a: Obj = None, b: Obj = None) -> Fn:
        return lambda p: p[1]

    def par(self, f: Fn, g: Fn) -> Fn:
        return lambda p: (f(p[0]), g(p[1]))

    def inl(self, a: Obj = None, b: Obj = None) -> Fn:
        return Left

    def inr(self, a: Obj = None, b: Obj = None) -> Fn:
        return Right

    def case(self, f: Fn, g: Fn) -> Fn:
        return lambda e: f(e.value) if isinstance(e, Left) else g(e.value)

    def distr(self, a: Obj = None, b: Obj = None, c: Obj = None) -> Fn:
        return _distr

    def const(self, k: int, a: Obj = None) -> Fn:
        return lambda x: k

    def add(self) -> Fn:
        return lambda p: add64(p[0], p[1])

    def sub(self) -> Fn:
        return lambda p: sub64(p[0], p[1])

    def mul(self) -> Fn:
        return lambda p: mul64(p[0], p[1])

    def lt(self) -> Fn:
        return lambda p: YES if p[0] < p[1] else NO

    def eq(self) -> Fn:
        return lambda p: YES if p[0] == p[1] else NO

    def divmod(self) -> Fn:
        return lambda p: divmod64(p[0], p[1])

    def curry(self, f: Fn) -> Fn:
        return lambda x: (lambda z: f((x, z)))

    def apply(self, b: Obj = None, c: Obj = None) -> Fn:
        return lambda p: p[0](p[1])

    def embed(self, fn: Fn, dom: Type, cod: Type) -> Fn:
        """`Embed`'s host function, as it is."""
        return fn


class StateMachines(Machine[SM]):
    """The seed's state machines: ``(input, state) -> (state, output)``."""

    @staticmethod
    def lift(f: Fn) -> SM:
        """A pure function as a machine that leaves the state alone."""
        return lambda x, s: (s, f(x))

    def id(self, a: Obj = None) -> SM:
        return lambda x, s: (s, x)

    def compose(self, g: SM, f: SM) -> SM:
        def h(x: Any, s: Any) -> tuple[Any, Any]:
            s, y = f(x, s)
            return g(y, s)

        return h

    def copy(self, a: Obj = None) -> SM:
        return self.lift(FUNCTIONS.copy())

    def consume(self, a: Obj = None) -> SM:
        return self.lift(FUNCTIONS.consume())

    def fst(self, a: Obj = None, b: Obj = None) -> SM:
        return self.lift(FUNCTIONS.fst())

    def snd(self, a: Obj = None, b: Obj = None) -> SM:
        return self.lift(FUNCTIONS.snd())

    def par(self, f: SM, g: SM) -> SM:
        def h(p: Any, s: Any) -> tuple[Any, Any]:
            s, b = f(p[0], s)
            s, d = g(p[1], s)
            return s, (b, d)

        return h

    def inl(self, a: Obj = None, b: Obj = None) -> SM:
        return self.lift(Left)

    def inr(self, a: Obj = None, b: Obj = None) -> SM:
        return self.lift(Right)

    def case(self, f: SM, g: SM) -> SM:
        return lambda e, s: f(e.value, s) if isinstance(e, Left) else g(e.value, s)

    def distr(self, a: Obj = None, b: Obj = None, c: Obj = None) -> SM:
        return self.lift(_distr)

    def get(self, s: Obj = None) -> SM:
        return lambda x, s: (s, s)

    def put(self, s: Obj = None) -> SM:
        return lambda x, s: (x, ())

    def const(self, k: int, a: Obj = None) -> SM:
        return self.lift(FUNCTIONS.const(k))

    def add(self) -> SM:
        return self.lift(FUNCTIONS.add())

    def sub(self) -> SM:
        return self.lift(FUNCTIONS.sub())

    def mul(self) -> SM:
        return self.lift(FUNCTIONS.mul())

    def lt(self) -> SM:
        return self.lift(FUNCTIONS.lt())

    def eq(self) -> SM:
        return self.lift(FUNCTIONS.eq())

    def divmod(self) -> SM:
        return self.lift(FUNCTIONS.divmod())

    def curry(self, f: SM) -> SM:
        """A function value is a Python function ``(z, state) -> (state, y)``: `f` runs when it is applied."""
        return lambda x, s: (s, lambda z, s2: f((x, z), s2))

    def apply(self, b: Obj = None, c: Obj = None) -> SM:
        return lambda p, s: p[0](p[1], s)

    def embed(self, fn: Fn, dom: Type, cod: Type) -> SM:
        """`Embed`'s host function, leaving the state alone."""
        return self.lift(fn)


FUNCTIONS = Functions()
MACHINES = StateMachines()
