"""The symbolic model: terms run on unknown inputs, one result per case.

A symbolic value has the shape of a host value (`catlib.values`) with
unknowns in it: ``()`` for the unit, 2-tuples for pairs, `Left`/`Right`
for known injections, a sympy expression at every ``Int`` leaf (and at
leaves of a type variable, which a term can only move around), and a
`SumVar` for a value of a sum type whose side is not known yet.  `fresh`
builds the most general value of a type; `evaluate` runs a term on such
values and splits a path in two wherever `Case` or `Distr` inspects a
`SumVar`:

>>> from catlib.free import Case, Inl, Inr, Const, Add, Copy, Par, Id
>>> x = fresh("Either Int ()", "x")
>>> for out in evaluate(Case(Copy >> Add, Const(7)), x, fresh("()", "s")):
...     print(show_condition(out.condition), "|", out.output)
x = Left(x.l) | 2*x.l
x = Right(()) | 7

**Integers** are exact sympy integers, read modulo ``2**64`` (see `normal`).
`Mul` makes polynomials (equal coefficients still mean equal functions;
the converse fails modulo ``2**64``: ``2**63*x*(x + 1)`` is 0 for every
``x``).  `Lt`, `Eq` and `DivMod` on unknowns answer an unknown sum named
after the comparison (`compare`), which a `Case` splits like any other.

**Unknown morphisms.**  `Unknown` stands for an arbitrary morphism ``f``
inside a term (wrapped in `Embed`): its output is an uninterpreted sympy
function of its input, ``f(x)``, and a *stateful* unknown also replaces
the state by ``f_s(x, s)`` (its output is then ``f(x, s)``).  Laws and
compiler cases are proved with them (see ``proofs/``).

Deciding whether two terms are equivalent with this model is
`catlib.equivalence`.

Evaluation keeps its own continuation stack (like the interpreter), so a
chain of 100,000 compositions is fine.  `SYMBOLIC` is the same semantics as
an instance of the interfaces, for programs written against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sympy

from catlib.cartesian import Machine, Obj
from catlib.free import Case, Compose, Embed, Par, Term
from catlib.functor import interpret
from catlib.types import Int, Prod, Sum, Type, Unit, Var, as_type
from catlib.values import HostValue, Left, Right, divmod64, wrap

__all__ = [
    "SumVar", "Unknown", "Scenario", "Condition", "SymbolicError", "fresh", "evaluate", "normal", "same",
    "show_condition", "to_sympy", "apply_unknown", "symbols_of", "sumvars", "resolve_leaf", "concrete",
    "SymbolicMachines", "SYMBOLIC", "map_leaves", "fold_value", "compare",
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


def _look(v: Any, cond: Condition) -> Any:
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
            x = _look(x, cond)
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


# ---------------------------------------------------------------- the symbolic category

SymFn = Callable[[Any, Any, Condition], list[tuple[Condition, Any, Any]]]
"""A symbolic morphism: ``(value, state, condition) -> [(condition, value, state)]``."""


def _pair(op: str, v: Any) -> tuple[Any, Any]:
    if type(v) is not tuple or len(v) != 2:
        raise SymbolicError(f"{op} expects a pair, got {v!r} (is the term well-typed at these values?)")
    return v


def _sides(op: str, e: Any, c: Condition) -> list[tuple[Condition, Any]]:
    """The sides a sum value can take under `c`: one if known, two (extending `c`) for a `SumVar`."""
    e = _look(e, c)
    if type(e) is SumVar:
        return [({**c, e: side}, side) for side in e.split()]
    if not isinstance(e, (Left, Right)):
        raise SymbolicError(f"{op} expects a sum, got {e!r} (is the term well-typed at these values?)")
    return [(c, e)]


def _ints(op: str, p: Any) -> tuple[Any, Any]:
    if type(p) is not tuple or len(p) != 2 or not all(isinstance(a, sympy.Expr) for a in p):
        raise SymbolicError(f"{op} expects a pair of integers, got {p!r} (is the term well-typed at these values?)")
    return p


_BOOL, _DIVMOD = Sum(Unit, Unit), Sum(Unit, Prod(Int, Int))


def compare(op: str, p: Any, c: Condition) -> Any:
    """The answer of ``Lt``, ``Eq`` or ``DivMod`` on the pair `p` under `c`.

    Decided when it can be (known integers; ``x < x``, ``x == x``; a zero
    divisor; a divisor of 1); otherwise a `SumVar` named after the
    comparison, ``Lt(x, y)``, whose `origin` says what it stands for: a
    `Case` on it splits the path in two as on any unknown sum, and the same
    comparison of the same (normalised) values is the same unknown.  The
    sides of ``DivMod(x, y)``'s ``Right`` are unknown quotient and remainder.
    (A path may then assume comparisons that no input satisfies together:
    `catlib.equivalence` confirms every difference on concrete inputs.)
    """
    x, y = (resolve_leaf(e, c) for e in _ints(op, p))
    d = resolve_leaf(x - y, c)
    known = x.is_Integer and y.is_Integer
    if op == "DivMod":
        if y.is_Integer and int(y) in (0, 1):
            return Left(()) if y == 0 else Right((x, sympy.Integer(0)))
        if known:
            out = divmod64(int(x), int(y))
            return Right((sympy.Integer(out.value[0]), sympy.Integer(out.value[1])))
        return SumVar(f"DivMod({x}, {y})", _DIVMOD, (op, x, y))
    if known or d == 0 or (op == "Eq" and d.is_Integer):
        holds = (x < y) if known and op == "Lt" else (d == 0 and op == "Eq")
        return Left(()) if holds else Right(())
    if op == "Eq" and str(y) < str(x):  # one unknown for x == y and y == x
        x, y = y, x
    facts = {sv.origin: isinstance(side, Left) for sv, side in c.items() if sv.origin is not None}
    implied = _trichotomy(op, x, y, facts)
    if implied is not None:
        return Left(()) if implied else Right(())
    return SumVar(f"{op}({x}, {y})", _BOOL, (op, x, y))


def _trichotomy(op: str, x: Any, y: Any, facts: dict[tuple[str, Any, Any], bool]) -> bool | None:
    """Whether ``x < y`` (op ``Lt``) or ``x == y`` (``Eq``, its pair in order) follows from the comparisons
    of the same two values decided on this path (exactly one of x < y, x == y, y < x holds)."""
    less, more = facts.get(("Lt", x, y)), facts.get(("Lt", y, x))
    same = facts.get(("Eq", *sorted((x, y), key=str)))
    others = (more, same) if op == "Lt" else (less, more)
    if True in others:
        return False
    if others == (False, False):
        return True
    return None


class SymbolicMachines(Machine[SymFn]):
    """Symbolic state machines: each construct's symbolic meaning, defined once.

    `evaluate` runs terms with these very morphisms at the primitives (it
    only adds a stack-safe walk of `Compose`, `Par` and `Case`).
    `state_type` types the new state of a stateful `Unknown`.

    >>> from catlib.examples.generic import swap
    >>> swap(SYMBOLIC)(fresh("(Int, a)", "x"), fresh("()", "s"), {})
    [({}, (x.2, x.1), ())]

    Composed Python closures call each other, so this instance is for
    programs of ordinary size; deep terms go through `evaluate`.
    """

    def __init__(self, state_type: Type | str | None = None) -> None:
        self.state_type = state_type

    @staticmethod
    def lift(f: Callable[[Any], Any]) -> SymFn:
        """A pure operation on values as a symbolic machine."""
        return lambda x, s, c: [(c, f(x), s)]

    def id(self, a: Obj = None) -> SymFn:
        return self.lift(lambda x: x)

    def compose(self, g: SymFn, f: SymFn) -> SymFn:
        return lambda x, s, c: [r for c1, y, s1 in f(x, s, c) for r in g(y, s1, c1)]

    def copy(self, a: Obj = None) -> SymFn:
        return self.lift(lambda x: (x, x))

    def consume(self, a: Obj = None) -> SymFn:
        return self.lift(lambda x: ())

    def fst(self, a: Obj = None, b: Obj = None) -> SymFn:
        return self.lift(lambda p: _pair("Fst", p)[0])

    def snd(self, a: Obj = None, b: Obj = None) -> SymFn:
        return self.lift(lambda p: _pair("Snd", p)[1])

    def par(self, f: SymFn, g: SymFn) -> SymFn:
        def h(p: Any, s: Any, c: Condition) -> list[tuple[Condition, Any, Any]]:
            x, y = _pair("Par", p)
            return [(c2, (b, d), s2) for c1, b, s1 in f(x, s, c) for c2, d, s2 in g(y, s1, c1)]
        return h

    def inl(self, a: Obj = None, b: Obj = None) -> SymFn:
        return self.lift(Left)

    def inr(self, a: Obj = None, b: Obj = None) -> SymFn:
        return self.lift(Right)

    def case(self, f: SymFn, g: SymFn) -> SymFn:
        def h(e: Any, s: Any, c: Condition) -> list[tuple[Condition, Any, Any]]:
            return [r for c1, side in _sides("Case", e, c)
                    for r in (g if isinstance(side, Right) else f)(side.value, s, c1)]
        return h

    def distr(self, a: Obj = None, b: Obj = None, c: Obj = None) -> SymFn:
        def h(p: Any, s: Any, c: Condition) -> list[tuple[Condition, Any, Any]]:
            e, x = _pair("Distr", p)
            return [(c1, type(side)((side.value, x)), s) for c1, side in _sides("Distr", e, c)]
        return h

    def get(self, s: Obj = None) -> SymFn:
        return lambda x, s, c: [(c, s, s)]

    def put(self, s: Obj = None) -> SymFn:
        return lambda x, s, c: [(c, (), x)]

    def const(self, k: int, a: Obj = None) -> SymFn:
        return self.lift(lambda x: sympy.Integer(k))

    def add(self) -> SymFn:
        def add(p: Any) -> Any:
            if type(p) is not tuple or len(p) != 2 or not all(isinstance(a, sympy.Expr) for a in p):
                raise SymbolicError(f"Add expects a pair of integers, got {p!r} "
                                    "(is the term well-typed at these values?)")
            return p[0] + p[1]
        return self.lift(add)

    def sub(self) -> SymFn:
        return self.lift(lambda p: _ints("Sub", p)[0] - p[1])

    def mul(self) -> SymFn:
        return self.lift(lambda p: _ints("Mul", p)[0] * p[1])

    def lt(self) -> SymFn:
        return lambda p, s, c: [(c, compare("Lt", p, c), s)]

    def eq(self) -> SymFn:
        return lambda p, s, c: [(c, compare("Eq", p, c), s)]

    def divmod(self) -> SymFn:
        return lambda p, s, c: [(c, compare("DivMod", p, c), s)]

    def embed(self, fn: Callable[[Any], Any], dom: Type, cod: Type) -> SymFn:
        """An `Unknown` as an uninterpreted function; a host function on concrete values only."""
        def h(v: Any, s: Any, c: Condition) -> list[tuple[Condition, Any, Any]]:
            if isinstance(fn, Unknown):
                out, s = apply_unknown(fn, v, s, cod, self.state_type, c)
                return [(c, out, s)]
            if symbols_of(v) or sumvars(v, c):
                raise SymbolicError(f"cannot run the host function {fn!r} of an Embed on the symbolic value {v!r}")
            return [(c, map_leaves(fn(concrete(v, c)), sympy.Integer), s)]
        return h


SYMBOLIC = SymbolicMachines()
"""The symbolic model as an instance of `catlib.cartesian.Machine`."""


# ---------------------------------------------------------------- evaluation

_THEN, _RIGHT_FRAME, _PAIR = 0, 1, 2


def evaluate(term: Term, input: Any, state: Any, condition: Condition | None = None,
             state_type: Type | str | None = None) -> list[Scenario]:
    """Every path of `term` on symbolic `input` and `state`: ``[(condition, output, new state)]``.

    The conditions extend `condition` and partition it: exactly one holds
    for each choice of the unknowns.  Outputs and states are not normalised
    (see `normal`).  `state_type` types the new states of stateful unknowns.

    This is `SymbolicMachines` (the primitives are its morphisms, through
    `catlib.functor.interpret`) with its own continuation stack for
    `Compose`, `Par` and `Case`, so that deep terms do not recurse.
    """
    C = SYMBOLIC if state_type is None else SymbolicMachines(state_type)
    meaning: dict[Term, SymFn] = {}
    results: list[Scenario] = []
    # a path: (term to run or None to return the value, value, state, condition,
    # continuation as a linked list of frames)
    todo: list[tuple[Term | None, Any, Any, Condition, Any]] = [(term, input, state, dict(condition or {}), None)]
    while todo:
        t, v, s, cond, stack = todo.pop()
        while True:
            while t is not None:  # descend to a primitive
                if isinstance(t, Compose):
                    stack = ((_THEN, t.kids[0]), stack)
                    t = t.kids[1]
                elif isinstance(t, Par):
                    x, y = _pair("Par", v)
                    stack = ((_RIGHT_FRAME, t.kids[1], y), stack)
                    t, v = t.kids[0], x
                elif isinstance(t, Case):
                    sides = _sides("Case", v, cond)
                    for c1, side in reversed(sides[1:]):
                        todo.append((t.kids[isinstance(side, Right)], side.value, s, c1, stack))
                    cond, side = sides[0]
                    t, v = t.kids[isinstance(side, Right)], side.value
                else:
                    m = meaning.get(t)
                    if m is None:
                        m = meaning[t] = interpret(t, C)
                    outs = m(v, s, cond)
                    for c1, v1, s1 in reversed(outs[1:]):
                        todo.append((None, v1, s1, c1, stack))
                    cond, v, s = outs[0]
                    t = None
            # return v to the continuation
            while stack is not None:
                frame, stack = stack
                if frame[0] == _THEN:
                    t = frame[1]
                    break
                if frame[0] == _RIGHT_FRAME:
                    stack = ((_PAIR, v), stack)
                    t, v = frame[1], frame[2]
                    break
                v = (frame[1], v)
            else:
                results.append(Scenario(cond, v, s))
                break
    return results


def sumvars(v: Any, cond: Condition) -> list[SumVar]:
    """The undecided `SumVar` leaves of `v` under `cond`."""
    found: list[SumVar] = []
    map_leaves(v, lambda x: found.append(x) if type(x) is SumVar else x, cond)
    return found


def concrete(v: Any, cond: Condition) -> HostValue:
    return map_leaves(v, lambda x: int(_norm_int(x)), cond)
