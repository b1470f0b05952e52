"""Finite relations: a typed instance whose morphisms are sets of pairs.

A morphism ``a -> b`` is a relation: a set of pairs ``(x, y)`` of host
values, ``x`` of type ``a`` and ``y`` of type ``b``.  Composition relates
``x`` to ``z`` when some ``y`` sits in between.  Identities, copies and
projections need to know the elements of their object, so the instance is
*typed*: `catlib.functor.interpret` hands each primitive its objects.

Every type has a finite carrier: ``()`` has one element, a pair or a sum
of carriers is finite, and ``Int`` is read modulo `modulus` (a power of
two, so that reading modulo it is a ring homomorphism from the host's
64-bit integers: `Const` and `Add` keep their meaning).

>>> from catlib.free import Copy, Fst, Par, Snd
>>> from catlib.functor import interpret
>>> from catlib.types import Int, Unit
>>> R = Relations(modulus=2)
>>> sorted(interpret(Copy >> Par(Snd, Fst), R, signature=(None, "(Int, ())", None)))
[((0, ()), ((), 0)), ((1, ()), ((), 1))]
>>> sorted(R.compose(R.inr(Unit, Int), frozenset({(0, 0), (0, 1)})), key=repr)
[(0, Right(0)), (0, Right(1))]

**Structure.**  Relations are `Distributive` and `Arithmetic` (with
constants, addition, subtraction and multiplication modulo `modulus`), not
`Stateful`, nor `catlib.cartesian.Ordered`: comparisons and division do not
survive reading modulo `modulus` (``3 < 4`` but ``3 < 0`` modulo 4).  The category of
relations has the *disjoint union* as its product; the pairing used here
(copy, consume, projections on pairs of elements) is only a monoidal
structure with copying and discarding.  So the laws that drop or duplicate
a morphism fail for relations that are not functions, the same laws that
fail for state machines with effects: a relation that relates ``x`` to
nothing makes ``consume . f`` smaller than ``consume``, one that relates it
to two values is duplicated by ``fanout``.  The instance says so with
``effects = True``, and `catlib.laws.check_instance` reports those laws as
expected failures.  Relations that are functions (every random free term)
satisfy every law.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import Any

from catlib.cartesian import Arithmetic, Distributive, Obj
from catlib.types import Int, Prod, Sum, Type, Unit
from catlib.values import INT_MODULUS, HostValue, Left, Right

__all__ = ["Relations", "Relation"]

Relation = frozenset[tuple[HostValue, HostValue]]
"""A morphism: the set of related (input, output) pairs."""


class Relations(Distributive[Relation], Arithmetic[Relation]):
    """Finite relations between the carriers of types (see the module docstring)."""

    typed = True
    effects = True  # nondeterminism and partiality, see the module docstring

    def __init__(self, modulus: int = 4) -> None:
        if modulus < 1 or INT_MODULUS % modulus:
            raise ValueError(f"the modulus must be a power of two up to 2**64, not {modulus}")
        self.modulus = modulus
        self._carriers: dict[Type, list[HostValue]] = {}
        self._relations: dict[tuple[Type, Type], Any] = {}  # `random_morphism`'s strategies, by type

    def carrier(self, t: Obj) -> list[HostValue]:
        """The elements of ground type `t`: ``Int`` is ``0 .. modulus - 1``."""
        if t is None:
            raise TypeError("Relations is a typed instance: interpret terms with catlib.functor.interpret")
        if t not in self._carriers:
            if t == Unit:
                out: list[HostValue] = [()]
            elif t == Int:
                out = list(range(self.modulus))
            elif isinstance(t, Prod):
                out = list(product(self.carrier(t.kids[0]), self.carrier(t.kids[1])))
            elif isinstance(t, Sum):
                out = [Left(x) for x in self.carrier(t.kids[0])] + [Right(y) for y in self.carrier(t.kids[1])]
            else:
                raise TypeError(f"no finite carrier for {t}")
            self._carriers[t] = out
        return self._carriers[t]

    def function(self, fn: Callable[[HostValue], HostValue], a: Obj) -> Relation:
        """The graph of a function on the carrier of `a`."""
        return frozenset((x, fn(x)) for x in self.carrier(a))

    def id(self, a: Obj = None) -> Relation:
        return self.function(lambda x: x, a)

    def compose(self, g: Relation, f: Relation) -> Relation:
        after: dict[HostValue, list[HostValue]] = {}
        for y, z in g:
            after.setdefault(y, []).append(z)
        return frozenset((x, z) for x, y in f for z in after.get(y, ()))

    def copy(self, a: Obj = None) -> Relation:
        return self.function(lambda x: (x, x), a)

    def consume(self, a: Obj = None) -> Relation:
        return self.function(lambda x: (), a)

    def fst(self, a: Obj = None, b: Obj = None) -> Relation:
        return self.function(lambda p: p[0], Prod(a, b))  # type: ignore[arg-type]

    def snd(self, a: Obj = None, b: Obj = None) -> Relation:
        return self.function(lambda p: p[1], Prod(a, b))  # type: ignore[arg-type]

    def par(self, f: Relation, g: Relation) -> Relation:
        return frozenset(((x1, x2), (y1, y2)) for x1, y1 in f for x2, y2 in g)

    def inl(self, a: Obj = None, b: Obj = None) -> Relation:
        return self.function(Left, a)

    def inr(self, a: Obj = None, b: Obj = None) -> Relation:
        return self.function(Right, b)

    def case(self, f: Relation, g: Relation) -> Relation:
        return frozenset({(Left(x), z) for x, z in f} | {(Right(y), z) for y, z in g})

    def distr(self, a: Obj = None, b: Obj = None, c: Obj = None) -> Relation:
        return self.function(lambda p: type(p[0])((p[0].value, p[1])), Prod(Sum(a, b), c))  # type: ignore[arg-type]

    def const(self, k: int, a: Obj = None) -> Relation:
        return self.function(lambda x: k % self.modulus, a)

    def add(self) -> Relation:
        return self.function(lambda p: (p[0] + p[1]) % self.modulus, Prod(Int, Int))

    def sub(self) -> Relation:
        return self.function(lambda p: (p[0] - p[1]) % self.modulus, Prod(Int, Int))

    def mul(self) -> Relation:
        return self.function(lambda p: (p[0] * p[1]) % self.modulus, Prod(Int, Int))

    def embed(self, fn: Callable[[Any], Any], dom: Type, cod: Type) -> Relation:
        """A host function's graph (its `Int` results read modulo `modulus`)."""
        return self.function(lambda x: _reduce(fn(x), self.modulus), dom)

    def random_morphism(self, draw: Callable[[Any], Any], dom: Type, cod: Type) -> Relation:
        """Any relation ``dom -> cod``, for `catlib.laws.check_instance`."""
        strategy = self._relations.get((dom, cod))
        if strategy is None:  # made once per type: making one (and hypothesis validating it) cost more than a draw
            from hypothesis import strategies as st

            pairs = list(product(self.carrier(dom), self.carrier(cod)))
            strategy = self._relations[dom, cod] = st.sets(st.sampled_from(pairs), max_size=min(len(pairs), 8))
        return frozenset(draw(strategy))


def _reduce(v: HostValue, m: int) -> HostValue:
    """`v` with its integers read modulo `m` (host values are shallow here: carriers are small)."""
    if type(v) is int:
        return v % m
    if type(v) is tuple:
        return tuple(_reduce(x, m) for x in v)
    if isinstance(v, (Left, Right)):
        return type(v)(_reduce(v.value, m))
    return v
