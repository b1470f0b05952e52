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

**Functions.**  `Curry(f)` answers a known closure, ``Curried(f, x)``
(`catlib.values.Curried`), and `Apply` on it is beta: `f` runs on
``(env, argument)`` in the state of that moment.  A function that is not
built inside the term (an input or a state of function type) is unknown:
`fresh` has no value of a function type, and applying one raises
`SymbolicError`.

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
The values themselves (`SumVar`, `Unknown`, `fresh`, `normal`, ...) live in
`catlib.symvalues`; this module re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy

from catlib.cartesian import Machine, Obj
from catlib.free import Case, Compose, Curry, Par, Term
from catlib.functor import interpret
from catlib.symvalues import (
    Condition,
    Scenario,
    SumVar,
    SymbolicError,
    Unknown,
    apply_unknown,
    concrete,
    fold_value,
    fresh,
    look,
    map_leaves,
    normal,
    resolve_leaf,
    same,
    show_condition,
    sumvars,
    symbols_of,
    to_sympy,
)
from catlib.types import Int, Prod, Sum, Type, Unit
from catlib.values import Curried, Left, Right, divmod64

__all__ = [
    "SumVar", "Unknown", "Scenario", "Condition", "SymbolicError", "fresh", "evaluate", "normal", "same",
    "show_condition", "to_sympy", "apply_unknown", "symbols_of", "sumvars", "resolve_leaf", "concrete",
    "SymbolicMachines", "SYMBOLIC", "map_leaves", "fold_value", "compare",
]


# ---------------------------------------------------------------- the symbolic category

SymFn = Callable[[Any, Any, Condition], list[tuple[Condition, Any, Any]]]
"""A symbolic morphism: ``(value, state, condition) -> [(condition, value, state)]``."""


def _pair(op: str, v: Any) -> tuple[Any, Any]:
    if type(v) is not tuple or len(v) != 2:
        raise SymbolicError(f"{op} expects a pair, got {v!r} (is the term well-typed at these values?)")
    return v


def _sides(op: str, e: Any, c: Condition) -> list[tuple[Condition, Any]]:
    """The sides a sum value can take under `c`: one if known, two (extending `c`) for a `SumVar`."""
    e = look(e, c)
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


def _closure_body(v: Any) -> Any:
    """The body of a known closure; applying an unknown function (an input or a state of function type)
    is beyond this model."""
    if type(v) is not Curried:
        raise SymbolicError(f"Apply on {v!r}: the symbolic model applies only closures built by Curry in the "
                            "term (beta); a function given as an input or kept in the state is unknown, and so "
                            "are its result and its effects")
    return v.body


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

    def curry(self, f: SymFn) -> SymFn:
        """A known closure, ``Curried(f, x)`` (its body here a symbolic morphism); nothing runs yet."""
        return self.lift(lambda x: Curried(f, x))

    def apply(self, b: Obj = None, c: Obj = None) -> SymFn:
        """Beta: the closure's body on ``(env, argument)``, in the state as it is now (effects then)."""
        def h(p: Any, s: Any, c: Condition) -> list[tuple[Condition, Any, Any]]:
            clo, z = _pair("Apply", p)
            body = _closure_body(clo)
            if isinstance(body, Term):
                return [(r.condition, r.output, r.state) for r in evaluate(body, (clo.env, z), s, c, self.state_type)]
            return body((clo.env, z), s, c)
        return h

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
                elif isinstance(t, Curry):
                    v, t = Curried(t.kids[0], v), None
                elif t.op == "Apply":  # beta, as a jump: the body runs here, on (env, argument)
                    clo, z = _pair("Apply", v)
                    body = _closure_body(clo)
                    if not isinstance(body, Term):
                        raise SymbolicError("Apply on a closure of the SYMBOLIC instance inside evaluate()")
                    t, v = body, (clo.env, z)
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
