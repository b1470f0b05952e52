"""The term constructs, defined once: the table every other part reads.

A `Construct` says what a constructor of the free category is: its name,
the interface method that interprets it in an instance, the interface that
method belongs to, its sub-morphisms (with their types) and its parameter,
and its typing rule as a type scheme.  The type checker (`catlib.typecheck`),
the generic functor (`catlib.functor`), the term generator
(`catlib.strategies`) and the printers read this table; none of them has a
per-constructor ``if`` chain.  `catlib.interpreter.step` deliberately does
not: it is the independent oracle the rest is checked against.

>>> c = CONSTRUCTS["Fst"]
>>> c.method, c.interface.__name__, c.scheme, c.variables
('fst', 'Cartesian', '(a, b) -> a', ('a', 'b'))
>>> CONSTRUCTS["Compose"].kids
(('f', 'a -> b'), ('g', 'b -> c'))

**Schemes.**  A scheme is ``input -> output`` in the notation of
`catlib.types`.  Its variables, sorted by name, are the construct's
*objects*: a typed instance (see `catlib.functor`) receives them, ground,
in that order (``fst(a, b)``, ``distr(a, b, c)``, ``const(k, a)``).  The
variable ``s`` is the state type (``get : () -> s``).  A construct with
sub-morphisms lists each one's scheme in `kids`, in the order they run;
the variables shared between them are what the type checker unifies, and
`scheme` is the type of the whole.

To add a construct, see ``CONTRIBUTING.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from catlib.cartesian import Arithmetic, Cartesian, Closed, Cocartesian, Distributive, Ordered, Stateful
from catlib.category import Category
from catlib.types import Type, parse

__all__ = ["Construct", "CONSTRUCTS", "PRIMITIVES", "STATE_VARIABLE", "Param"]

STATE_VARIABLE = "s"
"""The scheme variable that stands for the state type."""

Param = str
"""A construct's parameter kind: ``"int64"`` (a 64-bit integer) or ``"host function"`` (`Embed`)."""


@dataclass(frozen=True)
class Construct:
    """One constructor of the free category (see the module docstring)."""

    name: str
    """The constructor's name, as the term prints it: ``"Fst"``."""
    method: str
    """The interface method that interprets it: ``"fst"``."""
    interface: type
    """The interface that declares `method`."""
    scheme: str
    """Its type, ``input -> output``; for `Embed` the term carries its own."""
    kids: tuple[tuple[str, str], ...] = ()
    """``(field, scheme)`` of each sub-morphism, in the order they run."""
    param: Param | None = None
    """The kind of its parameter, if it has one."""
    fields: tuple[str, ...] | None = None
    """The sub-morphisms in the order the term stores them and the method takes
    them, when that differs from `kids` (``Compose(g, f)``)."""
    doc: str = ""

    @property
    def field_order(self) -> tuple[str, ...]:
        """The sub-morphisms' names in the term's (and the method's) order."""
        return self.fields if self.fields is not None else tuple(name for name, _ in self.kids)

    @property
    def arity(self) -> int:
        """The number of sub-morphisms."""
        return len(self.kids)

    @property
    def effect(self) -> bool:
        """True when the construct reads or writes the state."""
        return STATE_VARIABLE in self.variables

    @cached_property
    def types(self) -> tuple[Type, Type]:
        """The scheme's input and output types."""
        t = parse(self.scheme)
        return t.kids[0], t.kids[1]

    @cached_property
    def kid_types(self) -> tuple[tuple[str, Type, Type], ...]:
        """``(field, input, output)`` of each sub-morphism's scheme."""
        out = []
        for name, scheme in self.kids:
            t = parse(scheme)
            out.append((name, t.kids[0], t.kids[1]))
        return tuple(out)

    @cached_property
    def variables(self) -> tuple[str, ...]:
        """The objects a typed instance receives: the scheme's variables, sorted
        (none for a construct with sub-morphisms: its objects are its kids')."""
        if self.kids:
            return ()
        return tuple(sorted(set(parse(self.scheme).vars())))


_TABLE = [
    Construct("Id", "id", Category, "a -> a", doc="the identity"),
    Construct("Compose", "compose", Category, "a -> c", (("f", "a -> b"), ("g", "b -> c")),
              fields=("g", "f"), doc="first f, then g; the method takes (g, f), as `Compose(g, f)` prints"),
    Construct("Copy", "copy", Cartesian, "a -> (a, a)"),
    Construct("Consume", "consume", Cartesian, "a -> ()"),
    Construct("Fst", "fst", Cartesian, "(a, b) -> a"),
    Construct("Snd", "snd", Cartesian, "(a, b) -> b"),
    Construct("Par", "par", Cartesian, "(a, c) -> (b, d)", (("f", "a -> b"), ("g", "c -> d")),
              doc="f on the left (its effects first), g on the right"),
    Construct("Inl", "inl", Cocartesian, "a -> Either a b"),
    Construct("Inr", "inr", Cocartesian, "b -> Either a b"),
    Construct("Case", "case", Cocartesian, "Either a b -> c", (("f", "a -> c"), ("g", "b -> c"))),
    Construct("Distr", "distr", Distributive, "(Either a b, c) -> Either (a, c) (b, c)"),
    Construct("Get", "get", Stateful, "() -> s"),
    Construct("Put", "put", Stateful, "s -> ()"),
    Construct("Const", "const", Arithmetic, "a -> Int", param="int64",
              doc="ignores its input, answers a 64-bit integer"),
    Construct("Add", "add", Arithmetic, "(Int, Int) -> Int", doc="64-bit addition, wrapping"),
    Construct("Sub", "sub", Arithmetic, "(Int, Int) -> Int", doc="64-bit subtraction, wrapping"),
    Construct("Mul", "mul", Arithmetic, "(Int, Int) -> Int", doc="64-bit multiplication, wrapping"),
    Construct("Lt", "lt", Ordered, "(Int, Int) -> Either () ()", doc="Left () when x < y (signed)"),
    Construct("Eq", "eq", Ordered, "(Int, Int) -> Either () ()", doc="Left () when x == y"),
    Construct("DivMod", "divmod", Ordered, "(Int, Int) -> Either () (Int, Int)",
              doc="Left () for a zero divisor, else Right (quotient, remainder), rounding down (floor)"),
    Construct("Curry", "curry", Closed, "a -> b -> c", (("f", "(a, b) -> c"),),
              doc="the closure of f on its first argument: Curried(f, x) on x"),
    Construct("Apply", "apply", Closed, "(b -> c, b) -> c",
              doc="runs the closure on its argument (the body's effects act on the state now)"),
    Construct("Embed", "embed", Category, "a -> b", param="host function",
              doc="a host function at the types the term names; not part of the interfaces: "
                  "an instance that interprets it has an `embed(fn, dom, cod)` method"),
]

CONSTRUCTS: dict[str, Construct] = {c.name: c for c in _TABLE}
"""Every construct, by name, in a fixed order."""

PRIMITIVES: tuple[str, ...] = tuple(c.name for c in _TABLE if not c.kids and c.param is None)
"""The constructs without sub-morphisms or parameters: one `catlib.free.Prim` each."""
