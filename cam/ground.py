"""How a node fixes its types: the types of values, ground signatures, trial inputs of a type, clipped text.

The verifier gives code's principal signature, which may have type variables;
a node runs it at a *ground* signature (`fix_signature`).  An upgrade is tried
on `trial_inputs` of the running input type before it is installed, so code
that would take more than the node's step budget per input is refused at
upgrade time rather than discovered one slow input at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cam.code import Closure, IntV, L, Pair, R, UnitV, Value, to_text
from catlib.tree import fold
from catlib.typecheck import Signature
from catlib.types import Int, Prod, Sum, Type, Unifier, UnifyError, Unit, Var
from catlib.values import INT_MAX, INT_MIN

__all__ = ["value_type", "value_depth", "freshen", "ground", "fix_signature", "trial_inputs", "clip",
           "StateTypeError"]

CLIP = 300
"""Characters of a client's text that a message quotes at most."""


class StateTypeError(TypeError):
    """A state value that does not have the machine's state type."""


def clip(text: str, limit: int = CLIP) -> str:
    """`text`, cut to `limit` characters with a note of how much was left out.

    >>> clip("x" * 1000, 10)
    'xxxxxxxxxx... (990 more characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"




def value_type(v: Value, u: Unifier) -> Type:
    """The most general type of machine value `v`, with fresh variables from `u`.

    ``L x`` has type ``Either t b`` for a fresh ``b``; a closure's type is a
    fresh variable (its code is typed by the verifier, not here).
    """
    out: list[Type] = []
    todo: list[tuple[Value, bool]] = [(v, False)]
    while todo:
        t, ready = todo.pop()
        if ready:
            if isinstance(t, Pair):
                b = out.pop()
                out.append(Prod(out.pop(), b))
            elif isinstance(t, L):
                out.append(Sum(out.pop(), u.fresh()))
            else:
                out.append(Sum(u.fresh(), out.pop()))
        elif isinstance(t, IntV):
            out.append(Int)
        elif isinstance(t, (Pair, L, R)):
            todo.append((t, True))
            todo.extend((k, False) for k in reversed(t.kids))
        elif isinstance(t, Closure):
            out.append(u.fresh())
        else:
            out.append(Unit)
    return out[0]


def value_depth(v: Value) -> int:
    """Nesting depth of a value (closure environments count; their code does not).

    >>> from cam.text import parse_value
    >>> value_depth(parse_value("Pair (Int 1) (L Unit)"))
    3
    """
    deepest = 0
    todo: list[tuple[Value, int]] = [(v, 1)]
    while todo:
        t, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((k, d + 1) for k in t.kids if isinstance(k, Value))
    return deepest


def freshen(types: Iterable[Type], u: Unifier) -> list[Type]:
    """The same types with their variables replaced by fresh ones of `u` (shared across `types`)."""
    names: dict[str, Type] = {}

    def node(n: Any, kids: list[Type]) -> Type:
        if isinstance(n, Var):
            if n.name not in names:
                names[n.name] = u.fresh()
            return names[n.name]
        return type(n)(*kids) if kids else n

    return [fold(t, node) for t in types]


def ground(t: Type) -> Type:
    """`t` with every variable left instantiated with ``()``."""
    return fold(t, lambda n, kids: Unit if isinstance(n, Var) else (type(n)(*kids) if kids else n))  # type: ignore


def fix_signature(principal: Signature, state: Value) -> Signature:
    """The ground signature a node runs `principal` at, from state value `state`.

    The state type is unified with the type of `state`; every variable left becomes ``()``.

    >>> from catlib.types import parse
    >>> from cam.text import parse_value
    >>> sig = Signature(parse("Int"), parse("Either a b"), parse("Either () Int"))
    >>> str(fix_signature(sig, parse_value("Int 0")))
    'Int / Either () () -> Either () Int'
    """
    u = Unifier()
    s, i, o = freshen(principal, u)
    try:
        u.unify(s, value_type(state, u))
    except UnifyError:
        raise StateTypeError(f"the initial state {clip(to_text(state))} does not have the "
                             f"machine's state type {principal.state}") from None
    return Signature(*(ground(u.resolve(t)) for t in (s, i, o)))


def trial_inputs(t: Type, limit: int = 8) -> list[Value]:
    """Up to `limit` values of ground type `t`, covering each alternative of its sums (for a trial run).

    Function types (closures cannot be made from a type) and variables give no value: a type holding
    one has no trial inputs, and its upgrades are tried on none.

    >>> from catlib.types import parse
    >>> [to_text(v) for v in trial_inputs(parse("Either () (Int, ())"), limit=3)]
    ['L Unit', 'R (Pair (Int 0) Unit)', 'R (Pair (Int 1) Unit)']
    """

    def node(n: Any, kids: list[list[Value]]) -> list[Value]:
        if n == Unit:
            return [UnitV]
        if n == Int:
            return [IntV(k) for k in (0, 1, -1, INT_MAX, INT_MIN)[:limit]]
        if isinstance(n, Sum):
            left: list[Value] = [L(v) for v in kids[0]]
            right: list[Value] = [R(v) for v in kids[1]]
            if not left or not right:
                return (left or right)[:limit]
            merged = [left[0], right[0]]
            merged += [v for pair in zip(left[1:], right[1:]) for v in pair]
            merged += left[len(right):] + right[len(left):]
            return merged[:limit]
        if isinstance(n, Prod):
            a, b = kids
            if not a or not b:
                return []
            return [Pair(a[i % len(a)], b[i % len(b)]) for i in range(min(limit, max(len(a), len(b))))]
        return []  # a function type or a variable

    return fold(t, node)
