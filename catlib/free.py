"""The free Cartesian category with state: terms of the seed's ``FreeFunc s a b``.

A term is a morphism from an input type to an output type over a state
type.  Terms are immutable, hashable, compare structurally, and print as
the Python that builds them:

>>> swap = Copy >> Par(Snd, Fst)
>>> swap
Compose(Par(Snd, Fst), Copy)
>>> eval(repr(swap)) == swap
True

(Python's own parser refuses expressions nested more than about 200
levels, so for deeper terms ``repr`` still prints, in linear time, but
cannot be evaluated back; equality, hashing and pickling have no limit.)

``f >> g`` is "first f, then g" (the seed's ``f >>> g``).  The free category
is itself an instance of the interfaces, so the derived combinators build
exactly the reference's terms:

>>> FREE.fanout(Fst, Snd)
Compose(Par(Fst, Snd), Copy)
>>> FREE.left(Add)
Case(Compose(Inl, Add), Inr)

`Distr` is new here (the reference has no way to let a case branch see
outer values): ``(Either a b, c) -> Either (a, c) (b, c)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from catlib.cartesian import Machine
from catlib.constructs import CONSTRUCTS, PRIMITIVES
from catlib.tree import Tree, walk_paths
from catlib.types import Type, as_type
from catlib.values import INT_MAX, INT_MIN

__all__ = [
    "Term", "Prim", "Compose", "Par", "Case", "Const", "Embed",
    "Id", "Copy", "Consume", "Fst", "Snd", "Inl", "Inr", "Get", "Put", "Add", "Distr",
    "Sub", "Mul", "Lt", "Eq", "DivMod", "Curry", "Apply",
    "FREE", "Free", "subterms",
]


class Term(Tree):
    """A morphism of the free category.  See the module docstring."""

    __slots__ = ()
    fields: tuple[str, ...] = ()
    """Names of the children, used in paths such as ``root.g.f``."""

    def __rshift__(self, other: Term) -> Term:
        if not isinstance(other, Term):
            return NotImplemented
        return Compose(other, self)

    def __lshift__(self, other: Term) -> Term:
        if not isinstance(other, Term):
            return NotImplemented
        return Compose(self, other)

    @property
    def op(self) -> str:
        """The constructor's name: ``"Compose"``, ``"Fst"``, ``"Const"``, ..."""
        return type(self).__name__

    def __str__(self) -> str:
        return repr(self)

    # Jupyter shows a term as its string diagram: importing `catlib.graph`
    # sets `Term._repr_svg_` (this module does not import it: no cycle).


class Prim(Term):
    """A primitive without parameters; the module defines one of each."""

    __slots__ = ()

    def __init__(self, name: str) -> None:
        if name not in PRIMITIVES:
            raise ValueError(f"unknown primitive {name!r}; expected one of {', '.join(PRIMITIVES)}")
        super().__init__(label=name)

    @property
    def op(self) -> str:
        return self.label  # type: ignore[return-value]

    def _leaf_repr(self) -> str:
        return self.label  # type: ignore[return-value]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Prim, (self.label,))


def _term(x: object, role: str) -> Term:
    if not isinstance(x, Term):
        raise TypeError(f"{role} must be a Term, not {type(x).__name__}: {x!r}")
    return x


class Compose(Term):
    """``Compose(g, f)``: first `f`, then `g`."""

    __slots__ = ()
    __match_args__ = ("g", "f")
    fields = CONSTRUCTS["Compose"].field_order

    def __init__(self, g: Term, f: Term) -> None:
        if not (isinstance(g, Term) and isinstance(f, Term)):  # checked once, without a call when well formed
            _term(g, "Compose's g"), _term(f, "Compose's f")  # type: ignore[unreachable]  # callers without hints
        Tree.__init__(self, g, f)

    g = property(lambda self: self.kids[0])
    f = property(lambda self: self.kids[1])


class Par(Term):
    """``Par(f, g) : (a, c) -> (b, d)``: `f` on the left (its effects first), `g` on the right."""

    __slots__ = ()
    __match_args__ = ("f", "g")
    fields = CONSTRUCTS["Par"].field_order

    def __init__(self, f: Term, g: Term) -> None:
        if not (isinstance(f, Term) and isinstance(g, Term)):  # checked once, without a call when well formed
            _term(f, "Par's f"), _term(g, "Par's g")  # type: ignore[unreachable]  # callers without hints
        Tree.__init__(self, f, g)

    f = property(lambda self: self.kids[0])
    g = property(lambda self: self.kids[1])


class Case(Term):
    """``Case(f, g) : Either a b -> c``: `f` on a left value, `g` on a right one."""

    __slots__ = ()
    __match_args__ = ("f", "g")
    fields = CONSTRUCTS["Case"].field_order

    def __init__(self, f: Term, g: Term) -> None:
        if not (isinstance(f, Term) and isinstance(g, Term)):  # checked once, without a call when well formed
            _term(f, "Case's f"), _term(g, "Case's g")  # type: ignore[unreachable]  # callers without hints
        Tree.__init__(self, f, g)

    f = property(lambda self: self.kids[0])
    g = property(lambda self: self.kids[1])


class Curry(Term):
    """``Curry(f) : a -> (b -> c)`` for ``f : (a, b) -> c``: the closure of `f` on its first argument.

    On ``x`` it answers the function value ``Curried(f, x)``
    (`catlib.values.Curried`) and has no effect; `Apply` runs it later, and
    `f`'s effects happen then.  See `catlib.cartesian.Closed` for the laws.
    """

    __slots__ = ()
    __match_args__ = ("f",)
    fields = CONSTRUCTS["Curry"].field_order

    def __init__(self, f: Term) -> None:
        Tree.__init__(self, _term(f, "Curry's f"))

    f = property(lambda self: self.kids[0])


class Const(Term):
    """``Const(k) : a -> Int``: ignores its input, answers the 64-bit integer `k`."""

    __slots__ = ()
    __match_args__ = ("k",)

    def __init__(self, k: int) -> None:
        if type(k) is not int or not INT_MIN <= k <= INT_MAX:
            raise ValueError(f"Const needs a 64-bit int, not {k!r}")
        Tree.__init__(self, label=k)

    @property
    def k(self) -> int:
        return self.label  # type: ignore[return-value]


class Embed(Term):
    """``Embed(fn, dom, cod)``: a host function ``dom -> cod``, pure, never compiled.

    Two embeds are equal when they wrap the same function object at the same
    types.  ``repr`` names the function, so it evaluates back where that
    name is in scope.
    """

    __slots__ = ()
    __match_args__ = ("fn", "dom", "cod")

    def __init__(self, fn: Callable[[Any], Any], dom: Type | str, cod: Type | str) -> None:
        if not callable(fn):
            raise TypeError(f"Embed needs a callable, not {fn!r}")
        super().__init__(label=(fn, as_type(dom), as_type(cod)))

    fn = property(lambda self: self.label[0])
    dom = property(lambda self: self.label[1])
    cod = property(lambda self: self.label[2])

    def _leaf_repr(self) -> str:
        name = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return f"Embed({name}, {self.dom!r}, {self.cod!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Embed, self.label)


Id = Prim("Id")
Copy = Prim("Copy")
Consume = Prim("Consume")
Fst = Prim("Fst")
Snd = Prim("Snd")
Inl = Prim("Inl")
Inr = Prim("Inr")
Get = Prim("Get")
Put = Prim("Put")
Add = Prim("Add")
Distr = Prim("Distr")
Sub = Prim("Sub")
Mul = Prim("Mul")
Lt = Prim("Lt")
Eq = Prim("Eq")
DivMod = Prim("DivMod")
Apply = Prim("Apply")


def subterms(term: Term) -> Iterator[tuple[tuple[str, ...], Term]]:
    """Every subterm occurrence with its path from the root (pre-order).

    >>> [(".".join(p), t.op) for p, t in subterms(Par(Fst, Id))]
    [('', 'Par'), ('f', 'Fst'), ('g', 'Id')]
    """
    return walk_paths(term, lambda t: t.fields)  # type: ignore[attr-defined, return-value]


def path_str(path: tuple[str, ...]) -> str:
    """``("g", "f")`` -> ``"root.g.f"``."""
    return ".".join(("root", *path))


class Free(Machine[Term]):
    """The free category as an instance of every interface: morphisms are terms.

    Objects given to the primitives are ignored: a term is polymorphic, its
    types are inferred (`catlib.typecheck`).
    """

    def id(self, a: Type | None = None) -> Term:
        return Id

    def compose(self, g: Term, f: Term) -> Term:
        return Compose(g, f)

    def copy(self, a: Type | None = None) -> Term:
        return Copy

    def consume(self, a: Type | None = None) -> Term:
        return Consume

    def fst(self, a: Type | None = None, b: Type | None = None) -> Term:
        return Fst

    def snd(self, a: Type | None = None, b: Type | None = None) -> Term:
        return Snd

    def par(self, f: Term, g: Term) -> Term:
        return Par(f, g)

    def inl(self, a: Type | None = None, b: Type | None = None) -> Term:
        return Inl

    def inr(self, a: Type | None = None, b: Type | None = None) -> Term:
        return Inr

    def case(self, f: Term, g: Term) -> Term:
        return Case(f, g)

    def distr(self, a: Type | None = None, b: Type | None = None, c: Type | None = None) -> Term:
        return Distr

    def get(self, s: Type | None = None) -> Term:
        return Get

    def put(self, s: Type | None = None) -> Term:
        return Put

    def const(self, k: int, a: Type | None = None) -> Term:
        return Const(k)

    def add(self) -> Term:
        return Add

    def sub(self) -> Term:
        return Sub

    def mul(self) -> Term:
        return Mul

    def lt(self) -> Term:
        return Lt

    def eq(self) -> Term:
        return Eq

    def divmod(self) -> Term:
        return DivMod

    def curry(self, f: Term) -> Term:
        return Curry(f)

    def apply(self, b: Type | None = None, c: Type | None = None) -> Term:
        return Apply

    def embed(self, fn: Callable[[Any], Any], dom: Type, cod: Type) -> Term:
        return Embed(fn, dom, cod)


FREE = Free()
"""The free category."""
