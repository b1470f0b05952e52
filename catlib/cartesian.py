"""Cartesian, cocartesian, distributive, stateful, arithmetic and closed structure.

Each interface names its primitives; the derived combinators are defined
once, here, exactly as the reference defines them (``f &&& g`` is
``Compose (Par f g) Copy``, and so on), so every instance gets the same
terms.  `Machine` gathers all of them: the theory of which the free
category `catlib.free` is the initial model.

The equations these operations satisfy are data in `catlib.laws`; which of
them survive effects (`get`/`put`) is documented there.
"""

from __future__ import annotations

from abc import abstractmethod

from catlib.category import Category, M
from catlib.types import Type

Obj = Type | None
"""An object passed to a primitive: a ground type, or None where the instance does not need it."""


class Cartesian(Category[M]):
    """Finite products: copy, consume, projections and parallel composition."""

    @abstractmethod
    def copy(self, a: Obj = None) -> M:
        """``a -> (a, a)``."""

    @abstractmethod
    def consume(self, a: Obj = None) -> M:
        """``a -> ()``."""

    @abstractmethod
    def fst(self, a: Obj = None, b: Obj = None) -> M:
        """``(a, b) -> a``."""

    @abstractmethod
    def snd(self, a: Obj = None, b: Obj = None) -> M:
        """``(a, b) -> b``."""

    @abstractmethod
    def par(self, f: M, g: M) -> M:
        """``(a, c) -> (b, d)`` from ``f : a -> b`` and ``g : c -> d``; `f`'s effects first."""

    def first(self, f: M) -> M:
        """``par(f, id)``."""
        return self.par(f, self.id())

    def second(self, g: M) -> M:
        """``par(id, g)``."""
        return self.par(self.id(), g)

    def cross(self, f: M, g: M) -> M:
        """``f *** g``, that is ``par(f, g)``."""
        return self.par(f, g)

    def fanout(self, f: M, g: M) -> M:
        """``f &&& g : a -> (b, c)``, that is ``copy >>> par(f, g)``."""
        return self.compose(self.par(f, g), self.copy())


class Cocartesian(Category[M]):
    """Finite sums: injections and case analysis."""

    @abstractmethod
    def inl(self, a: Obj = None, b: Obj = None) -> M:
        """``a -> Either a b``."""

    @abstractmethod
    def inr(self, a: Obj = None, b: Obj = None) -> M:
        """``b -> Either a b``."""

    @abstractmethod
    def case(self, f: M, g: M) -> M:
        """``Either a b -> c`` from ``f : a -> c`` and ``g : b -> c``."""

    def plus(self, f: M, g: M) -> M:
        """``f +++ g``, that is ``case(inl . f, inr . g)``."""
        return self.case(self.compose(self.inl(), f), self.compose(self.inr(), g))

    def choice(self, f: M, g: M) -> M:
        """``f ||| g``, that is ``case(f, g)``."""
        return self.case(f, g)

    def left(self, f: M) -> M:
        """``case(inl . f, inr)``."""
        return self.case(self.compose(self.inl(), f), self.inr())

    def right(self, g: M) -> M:
        """``case(inl, inr . g)``."""
        return self.case(self.inl(), self.compose(self.inr(), g))


class Distributive(Cartesian[M], Cocartesian[M]):
    """Products distribute over sums: what lets a case branch see outer values."""

    @abstractmethod
    def distr(self, a: Obj = None, b: Obj = None, c: Obj = None) -> M:
        """``(Either a b, c) -> Either (a, c) (b, c)``."""


class Stateful(Category[M]):
    """A state of type ``s`` threaded through every morphism."""

    @abstractmethod
    def get(self, s: Obj = None) -> M:
        """``() -> s``: read the state."""

    @abstractmethod
    def put(self, s: Obj = None) -> M:
        """``s -> ()``: replace the state."""


class Arithmetic(Category[M]):
    """64-bit integers."""

    @abstractmethod
    def const(self, k: int, a: Obj = None) -> M:
        """``a -> Int``: ignore the input, answer `k`."""

    @abstractmethod
    def add(self) -> M:
        """``(Int, Int) -> Int``."""

    @abstractmethod
    def sub(self) -> M:
        """``(Int, Int) -> Int``: ``x - y``, wrapping at 64 bits."""

    @abstractmethod
    def mul(self) -> M:
        """``(Int, Int) -> Int``: ``x * y``, wrapping at 64 bits."""


class Ordered(Category[M]):
    """The order of 64-bit integers, and division.

    Apart from `Arithmetic` because these do not survive reading ``Int``
    modulo ``2**k`` (as `catlib.examples.relations` does): ``1 < 2`` but
    ``3 < 0`` modulo 4.  The answers are sums to branch on, ``Left ()`` when
    the comparison holds, so ``case(yes, no)`` reads in order.
    """

    @abstractmethod
    def lt(self) -> M:
        """``(Int, Int) -> Either () ()``: ``Left ()`` when ``x < y`` (signed)."""

    @abstractmethod
    def eq(self) -> M:
        """``(Int, Int) -> Either () ()``: ``Left ()`` when ``x == y``."""

    @abstractmethod
    def divmod(self) -> M:
        """``(Int, Int) -> Either () (Int, Int)``: ``Left ()`` when ``y == 0``, else
        ``Right (q, r)`` rounding down, as Python's `divmod` and Haskell's ``divMod``
        (``x == q*y + r``, ``r`` has the sign of ``y``), wrapped at 64 bits (only
        ``INT_MIN / -1`` wraps: ``(INT_MIN, 0)``); see `catlib.values.divmod64`."""


class Closed(Cartesian[M]):
    """Functions as values: the exponential ``b -> c`` (a Cartesian closed category).

    ``curry(f) : a -> (b -> c)`` for ``f : (a, b) -> c``, and ``apply : (b ->
    c, b) -> c``.  In a model with state (state passing, ``(x, s) -> (s,
    y)``) this is the exponential of the state-passing category: a function
    value is a closure, and its body's ``get``/``put`` act on the state when
    it is applied, not when it is built.  The laws (`catlib.laws`):

    - beta, ``apply . par(curry(f), id) = f``, holds with effects (building a
      closure has none; applying it runs `f`'s effects, once);
    - eta, ``curry(apply) = id`` at ``b -> c``, holds as an equation of
      functions (``curry(apply)`` on a closure ``g`` is a closure that
      behaves as ``g``, effects included); it is not an identity of values:
      ``Curried(Apply, g)`` is not ``g``, so models that compare closures by
      their code (the CAM, the interpreter) tell the two apart;
    - curry's naturality, ``curry(f) . h = curry(f . par(h, id))``, holds
      for pure ``h`` only (on the left ``h``'s effects run when the closure
      is built, on the right each time it is applied).
    """

    @abstractmethod
    def curry(self, f: M) -> M:
        """``a -> (b -> c)`` from ``f : (a, b) -> c``: the closure of `f` on its first argument."""

    @abstractmethod
    def apply(self, b: Obj = None, c: Obj = None) -> M:
        """``(b -> c, b) -> c``: run the closure on the argument."""


class Machine(Distributive[M], Stateful[M], Arithmetic[M], Ordered[M], Closed[M]):
    """Everything a state machine term can use: the seed's ``FreeFunc`` theory."""
