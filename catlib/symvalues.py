"""Symbolic values: host values with unknowns in them, and unknown morphisms.

The values `catlib.symbolic` computes with (see its docstring): ``()``,
2-tuples, `Left`/`Right`, a sympy expression at every ``Int`` leaf, and a
`SumVar` for a sum whose side is not known yet; path conditions; and
`Unknown`, an arbitrary morphism inside a term.  `fresh` builds the most
general value of a type:

>>> fresh("(Int, Either () Int)", "x")
(x.1, x.2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sympy

from catlib.free import Embed, Term
from catlib.types import Int, Prod, Sum, Type, Unit, Var, as_type
from catlib.values import HostValue, Left, Right, wrap

__all__ = [
    "SumVar", "Unknown", "Scenario", "Condition", "SymbolicError", "fresh", "normal", "same",
    "show_condition", "to_sympy", "apply_unknown", "symbols_of", "resolve_leaf",
    "map_leaves", "fold_value", "look", "sumvars", "concrete",
]

class SymbolicError(ValueError):
    """A term or value the symbolic model cannot handle (ill-typed, an opaque `Embed`, ...)."""


@dataclass(frozen=True)
class SumVar:
    """An unknown value of the sum type `type`, named `name`; `Case` splits it into two cases."""

    name: str
    type: Sum
    origin: tuple[str, Any, Any] | None = field(default=None, compare=False)
    """For the answer of a comparison or division of unknowns, ``(op, x, y)``
    (`compare`): not an input, but a function of the inputs, named after it."""

    def __repr__(self) -> str:
        return self.name

    def split(self) -> tuple[Left, Right]:
        """The two shapes it can take: ``Left(name.l)`` and ``Right(name.r)``, fresh by type."""
        left, right = self.type.kids
        return Left(fresh(left, self.name + ".l")), Right(fresh(right, self.name + ".r"))


Condition = dict[SumVar, Any]
"""A path condition: the side (``Left(..)`` or ``Right(..)``) each inspected `SumVar` took."""


class Scenario(NamedTuple):
    """One path of a symbolic run: under `condition`, the term answers `output` and leaves `state`."""

    condition: Condition
    output: Any
    state: Any


@dataclass(frozen=True)
class Unknown:
    """An unknown morphism named `name`, to be wrapped in `Embed` (see `term`).

    Pure: output ``name(x)``, state unchanged.  Stateful: output
    ``name(x, s)``, new state ``name_s(x, s)``.  It has no concrete meaning:
    calling it raises `SymbolicError`.
    """

    name: str
    stateful: bool = False

    def __call__(self, x: HostValue) -> HostValue:
        raise SymbolicError(f"the unknown morphism {self.name} has no concrete value")

    def term(self, dom: Type | str, cod: Type | str) -> Term:
        """The term standing for this unknown at type ``dom -> cod``."""
        return Embed(self, dom, cod)


# ---------------------------------------------------------------- values


def _by_type(t: Type, name: str, leaf: Callable[[Type, str], Any]) -> Any:
    """A value of type `t`: ``()`` for units, pairs for products, `leaf` (type, name) elsewhere.

    The parts of a pair named ``name`` are named ``name.1`` and ``name.2``.
    """
    out: list[Any] = []
    todo: list[tuple[Type, str, bool]] = [(t, name, False)]
    while todo:
        ty, nm, ready = todo.pop()
        if ready:
            b = out.pop()
            out.append((out.pop(), b))
        elif ty == Unit:
            out.append(())
        elif isinstance(ty, Prod):
            todo += [(ty, nm, True), (ty.kids[1], nm + ".2", False), (ty.kids[0], nm + ".1", False)]
        else:
            out.append(leaf(ty, nm))
    return out[0]


def fresh(t: Type | str, name: str) -> Any:
    """The most general symbolic value of type `t`, its unknowns named after `name`.

    >>> fresh("(Int, (a, ()))", "x")
    (x.1, (x.2.1, ()))
    """

    def leaf(ty: Type, nm: str) -> Any:
        if ty == Int:
            return sympy.Symbol(nm, integer=True)
        if isinstance(ty, Var):
            return sympy.Symbol(nm)
        if isinstance(ty, Sum):
            return SumVar(nm, ty)
        raise SymbolicError(f"no symbolic values of function type {ty}")

    return _by_type(as_type(t), name, leaf)


def look(v: Any, cond: Condition) -> Any:
    """`v` with a top-level `SumVar` replaced by the side the condition chose (if any)."""
    while type(v) is SumVar and v in cond:
        v = cond[v]
    return v


def fold_value(v: Any, leaf: Callable[[Any], Any], unit: Any, pair: Callable[[Any, Any], Any],
               side: Callable[[type, Any], Any], cond: Condition | None = None) -> Any:
    """Rebuild `v` bottom-up (iteratively): `leaf` at every sympy expression and
    unresolved `SumVar`, `unit` for ``()``, `pair` for pairs and ``side(Left or Right, x)``
    for injections; under `cond`, decided `SumVar`s are replaced by their side first."""
    out: list[Any] = []
    todo: list[tuple[Any, int]] = [(v, 0)]
    while todo:
        x, stage = todo.pop()
        if stage == 1:
            b = out.pop()
            out.append(pair(out.pop(), b))
            continue
        if stage == 2:
            out.append(side(type(x), out.pop()))
            continue
        if cond is not None:
            x = look(x, cond)
        if type(x) is tuple:
            if len(x) == 0:
                out.append(unit)
            else:
                todo += [(x, 1), (x[1], 0), (x[0], 0)]
        elif isinstance(x, (Left, Right)):
            todo += [(x, 2), (x.value, 0)]
        else:
            out.append(leaf(x))
    return out[0]


def map_leaves(v: Any, leaf: Callable[[Any], Any], cond: Condition | None = None) -> Any:
    """Rebuild `v` with `leaf` applied to every sympy expression and unresolved `SumVar`."""
    return fold_value(v, leaf, (), lambda a, b: (a, b), lambda cls, x: cls(x), cond)


_LEFT, _RIGHT = sympy.Function("Left"), sympy.Function("Right")


def _norm_int(e: sympy.Expr) -> sympy.Expr:
    """A linear form with every coefficient reduced modulo 2**64 into the signed range.

    ``Int`` is 64-bit and wraps (`catlib.values.wrap`).  The symbolic model
    computes with exact integers (`Add` is sympy's ``+``) and reduces here.
    This is exact, not an approximation: wrapping is a ring homomorphism
    from the integers onto ``Z / 2**64``, so for inputs in range the
    interpreter's answer is the wrapped value of the symbolic answer; and
    since terms only add, every ``Int`` is a linear form, equal for all
    inputs modulo ``2**64`` exactly when its coefficients are.
    """
    if e.is_Symbol:
        return e
    if e.is_Integer:
        return sympy.Integer(wrap(int(e)))
    e = sympy.expand(e)
    parts = []
    for atom, c in e.as_coefficients_dict().items():
        if not c.is_Integer:
            raise SymbolicError(f"non-integer coefficient in {e}")
        c = wrap(int(c))
        if c:
            parts.append(c * atom)
    return sympy.Add(*parts)


def to_sympy(v: Any, cond: Condition | None = None) -> sympy.Basic:
    """`v` as one sympy expression (pairs as ``Tuple``, sides as ``Left(..)``), for uninterpreted functions."""
    cond = cond or {}

    def leaf(x: Any) -> Any:
        return sympy.Symbol(x.name) if type(x) is SumVar else resolve_leaf(x, cond)

    return fold_value(v, leaf, sympy.Tuple(), sympy.Tuple, lambda cls, x: (_RIGHT if cls is Right else _LEFT)(x), cond)


def resolve_leaf(e: sympy.Expr, cond: Condition) -> sympy.Expr:
    """Normal form of a sympy leaf: sides chosen since it was built are substituted into its arguments."""
    if cond and not e.is_Atom:
        subst = {sympy.Symbol(sv.name): to_sympy(shape, cond) for sv, shape in cond.items()}
        e = e.xreplace(subst)
    return _norm_int(e)


def normal(v: Any, cond: Condition | None = None) -> Any:
    """The normal form of `v` under `cond`: sides substituted, integers reduced modulo 2**64.

    Two symbolic values denote the same value for every choice of their
    unknowns exactly when their normal forms are equal (`same`).
    """
    cond = cond or {}
    return map_leaves(v, lambda x: x if type(x) is SumVar else resolve_leaf(x, cond), cond)


def same(a: Any, b: Any, cond: Condition | None = None) -> bool:
    """True when `a` and `b` have the same normal form under `cond` (compared without recursion)."""
    todo = [(normal(a, cond), normal(b, cond))]
    while todo:
        x, y = todo.pop()
        if type(x) is tuple and type(y) is tuple:
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y))
        elif isinstance(x, (Left, Right)) or isinstance(y, (Left, Right)):
            if type(x) is not type(y):
                return False
            todo.append((x.value, y.value))
        elif type(x) is tuple or type(y) is tuple:
            return False
        elif x != y:
            return False
    return True


def show_condition(cond: Condition) -> str:
    """``x = Left(x.l), x.l.2 = Right(())``, or ``true`` for the empty condition."""
    if not cond:
        return "true"
    return ", ".join(f"{sv.name} = {_show(shape)}" for sv, shape in cond.items())


def _show(v: Any) -> str:
    return str(map_leaves(v, lambda x: x))


def symbols_of(*values: Any) -> list[sympy.Symbol]:
    """The sympy symbols (integer and opaque leaves) in `values`, in a stable order."""
    seen: dict[sympy.Symbol, None] = {}

    def leaf(x: Any) -> Any:
        if type(x) is not SumVar:
            for s in sorted(x.free_symbols, key=str):
                seen.setdefault(s, None)
        return x

    for v in values:
        map_leaves(v, leaf)
    return list(seen)


# ---------------------------------------------------------------- unknown morphisms


def _typed_app(t: Type, name: str, args: tuple[sympy.Basic, ...]) -> Any:
    """The value of type `t` that the uninterpreted function `name` gives on `args`."""

    def leaf(ty: Type, nm: str) -> Any:
        if ty == Int or isinstance(ty, Var):
            return sympy.Function(nm)(*args)
        raise SymbolicError(f"an unknown morphism cannot answer a value of type {ty} (sums and "
                            "functions would need a case split on an uninterpreted function)")

    return _by_type(t, name, leaf)


def apply_unknown(u: Unknown, x: Any, s: Any, cod: Type | str, state_type: Type | str | None = None,
                  cond: Condition | None = None) -> tuple[Any, Any]:
    """``(output, new state)`` of unknown `u` on input `x` in state `s`; the state's type defaults to opaque."""
    cond = cond or {}
    if not u.stateful:
        return _typed_app(as_type(cod), u.name, (to_sympy(x, cond),)), s
    args = (to_sympy(x, cond), to_sympy(s, cond))
    st = as_type(state_type) if state_type is not None else Var("s")
    return _typed_app(as_type(cod), u.name, args), _typed_app(st, u.name + "_s", args)


def sumvars(v: Any, cond: Condition) -> list[SumVar]:
    """The undecided `SumVar` leaves of `v` under `cond`."""
    found: list[SumVar] = []
    map_leaves(v, lambda x: found.append(x) if type(x) is SumVar else x, cond)
    return found


def concrete(v: Any, cond: Condition) -> HostValue:
    """`v` as a host value, its integer leaves known under `cond` (read modulo ``2**64``)."""
    return map_leaves(v, lambda x: int(_norm_int(x)), cond)
