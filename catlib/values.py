"""Host values: what the interpreter computes with.

``()`` for the unit type, Python ``int`` for ``Int`` (64-bit, wrapping like
the reference's Haskell ``Int``), 2-tuples for products, `Left` /
`Right` for sums, and `Curried` closures for functions ``a -> b``.

>>> has_type((Left(()), 3), parse("(Either () Int, Int)"))
True
>>> add64(2**63 - 1, 1) == -2**63
True
"""

from __future__ import annotations

from typing import Any

from catlib.types import Fun, Int, Prod, Sum, Type, Unit, Var, parse

__all__ = ["Left", "Right", "HostValue", "wrap", "add64", "sub64", "mul64", "divmod64", "YES", "NO",
           "INT_MODULUS", "has_type", "check_value", "Curried",
           "INT_MIN", "INT_MAX"]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
INT_MODULUS = 2**64
"""``Int`` is the integers modulo this, read in ``[INT_MIN, INT_MAX]``."""

HostValue = Any
"""A host value: ``()``, ``int``, a 2-tuple, `Left`, `Right` or `Curried`."""


class _Injection:
    __slots__ = ("value",)
    value: HostValue

    def __init__(self, value: HostValue) -> None:
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.value == self.value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.value,))


class Left(_Injection):
    """The left injection into a sum: ``Left(x) : Either a b`` for ``x : a``."""

    __slots__ = ()
    __match_args__ = ("value",)


class Right(_Injection):
    """The right injection into a sum: ``Right(y) : Either a b`` for ``y : b``."""

    __slots__ = ()
    __match_args__ = ("value",)


class Curried:
    """A function value ``b -> c``: the term `body` ``(a, b) -> c`` with its first argument `env` ``: a`` fixed.

    What ``Curry(body)`` answers on `env` (`catlib.free.Curry`); applying it
    to ``z`` (`catlib.free.Apply`) runs `body` on ``(env, z)``, its effects
    acting on the state at that moment.  Closures compare structurally (the
    same body and the same environment), as the CAM's ``Closure code env``
    does (the body is compiled to the closure's code, see `cam.compiler`).

    >>> from catlib.free import Add
    >>> Curried(Add, 1) == Curried(Add, 1), Curried(Add, 1)
    (True, Curried(Add, 1))
    """

    __slots__ = ("body", "env")
    body: Any  # a catlib.free.Term (this module sits below catlib.free)
    env: HostValue

    def __init__(self, body: Any, env: HostValue) -> None:
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "env", env)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Curried is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is Curried and other.body == self.body and other.env == self.env

    def __hash__(self) -> int:
        return hash(("Curried", self.body, self.env))

    def __repr__(self) -> str:
        return f"Curried({self.body!r}, {self.env!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Curried, (self.body, self.env))


def wrap(n: int) -> int:
    """``n`` reduced to the signed 64-bit range (two's complement wrap-around, Haskell's ``Int``)."""
    return (n - INT_MIN) % INT_MODULUS + INT_MIN


def add64(i: int, j: int) -> int:
    """Addition with 64-bit two's complement wrap-around."""
    return wrap(i + j)


def sub64(i: int, j: int) -> int:
    """Subtraction with 64-bit two's complement wrap-around."""
    return wrap(i - j)


def mul64(i: int, j: int) -> int:
    """Multiplication with 64-bit two's complement wrap-around."""
    return wrap(i * j)


YES, NO = Left(()), Right(())
"""What a comparison answers when it holds, and when it does not."""


def divmod64(i: int, j: int) -> Left | Right:
    """``Left(())`` when `j` is 0, else ``Right((q, r))`` with Python's `divmod` rounding (floor),
    wrapped to 64 bits.

    Rounding down, as Python's ``divmod`` and Haskell's ``divMod`` (not
    toward zero as C and the JVM): ``i == q*j + r`` and ``r`` is 0 or has
    the sign of `j`.  Only ``INT_MIN / -1`` leaves the range; it wraps:

    >>> divmod64(-7, 2), divmod64(7, -2), divmod64(7, 0)
    (Right((-4, 1)), Right((-4, -1)), Left(()))
    >>> divmod64(INT_MIN, -1) == Right((INT_MIN, 0))
    True
    """
    if j == 0:
        return Left(())
    q, r = divmod(i, j)
    return Right((wrap(q), r))


def check_value(v: HostValue, t: Type | str, where: str = "value") -> None:
    """Raise `TypeError` saying where `v` does not have type `t`.

    Type variables accept anything (the value is polymorphic there).
    """
    t = parse(t) if isinstance(t, str) else t
    # A path is a linked list (parent, step), spelt out only on error: building each
    # level's string from its parent's would be quadratic in the value's depth.
    todo: list[tuple[HostValue, Type, Any]] = [(v, t, (None, where))]
    while todo:
        x, ty, path = todo.pop()
        if isinstance(ty, Var):
            continue
        if ty == Unit:
            ok = x == () and type(x) is tuple
        elif ty == Int:
            ok = type(x) is int and INT_MIN <= x <= INT_MAX
        elif isinstance(ty, Prod):
            ok = type(x) is tuple and len(x) == 2
            if ok:
                todo += [(x[0], ty.kids[0], (path, "[0]")), (x[1], ty.kids[1], (path, "[1]"))]
        elif isinstance(ty, Sum):
            ok = isinstance(x, (Left, Right))
            if ok:
                todo.append((x.value, ty.kids[isinstance(x, Right)], (path, ".value")))
        elif isinstance(ty, Fun):
            # the closure's body is typed where it is applied (this module sits below the type checker)
            ok = type(x) is Curried or callable(x)
        else:  # pragma: no cover - every Type is one of the above
            ok = False
        if not ok:
            steps: list[str] = []
            while path is not None:
                path, step = path
                steps.append(step)
            raise TypeError(f"{''.join(reversed(steps))} = {_short_repr(x)} does not have type {ty}")


def _short_repr(x: HostValue, limit: int = 200) -> str:
    """`repr` of `x` for a message: cut at `limit` characters; deep values are only named."""
    try:
        r = repr(x)
    except RecursionError:  # Python's own tuple repr recurses
        return f"<a {type(x).__name__} nested too deeply to print>"
    return r if len(r) <= limit else r[:limit] + "..."


def has_type(v: HostValue, t: Type | str) -> bool:
    """True when host value `v` has type `t`."""
    try:
        check_value(v, t)
    except TypeError:
        return False
    return True
