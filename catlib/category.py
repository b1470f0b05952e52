"""The `Category` interface: identities and composition, and its laws.

An instance fixes what a morphism is (a term, a Python function, a state
machine, ...).  `then` (the seed's ``>>>``) is defined once here, from
`compose`, so every instance gets it.

Axioms (checked for the free category by `catlib.laws`):

    compose(f, id) == f == compose(id, f)
    compose(h, compose(g, f)) == compose(compose(h, g), f)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from catlib.types import Type

M = TypeVar("M")


class Category(ABC, Generic[M]):
    """Objects are types; morphisms are values of type `M`."""

    typed: bool = False
    """True when the primitives need their objects (``id(a)``, ``fst(a, b)``, ...):
    `catlib.functor.interpret` then infers and passes them.  Objects are
    ground `catlib.types.Type`s, in the order of the primitive's type
    variables (`catlib.constructs`); an untyped instance may ignore them."""

    @abstractmethod
    def id(self, a: Type | None = None) -> M:
        """The identity morphism ``a -> a``."""

    @abstractmethod
    def compose(self, g: M, f: M) -> M:
        """First `f`, then `g` (written ``g . f``)."""

    def then(self, f: M, *gs: M) -> M:
        """``f >>> g >>> ...``: run left to right, associating to the right like Haskell's ``>>>``."""
        if not gs:
            return f
        rest = gs[-1]
        for g in reversed(gs[:-1]):
            rest = self.compose(rest, g)
        return self.compose(rest, f)
