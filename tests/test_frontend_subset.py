"""The frontend's subset, construct by construct: each machine checked against Python on random values."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from catlib.examples import plain
from catlib.frontend import Either, Left, Machine, Right, Unit, machine
from catlib.interpreter import step
from catlib.strategies import values as _values
from catlib.values import divmod64

values = functools.cache(_values)  # a strategy per type, made once (hypothesis's `composite` reads source each time)

LIMIT = 7
PAIR_OF_SUMS = tuple[Either[int, Unit], Either[int, Unit]]


def agrees(m: Machine, examples: int = 60) -> None:
    """The interpreter on `m.term` answers as `m.wrapping` (the function on 64-bit ints), and as the
    plain call where no int leaves 64 bits."""

    @settings(max_examples=examples)
    @given(st.data())
    def prop(data):  # type: ignore[no-untyped-def]
        x = data.draw(values(m.input))
        s = data.draw(values(m.state)) if m.stateful else ()
        args = (x, s) if m.stateful else (x,)
        by_term = step(m.term, x, s)
        answer = by_term if m.stateful else by_term[1]
        assert answer == m.wrapping(*args), (x, s)
        try:
            m.checked(*args)
        except OverflowError:
            return
        assert answer == m(*args)

    prop()


@machine
def clamp(x: int) -> int:
    """Chained comparisons, elif, and a join (y assigned on three paths, read after)."""
    if 0 <= x < LIMIT:
        y = x
    elif x < 0:
        y = 0
    else:
        y = LIMIT
    return y * 2


@machine
def guard_then_join(x: tuple[int, int]) -> Either[Unit, int]:
    """A mixed join: one branch returns, two fall through."""
    a, b = x
    if a == b:
        return Left(())
    elif a < b:
        d = b - a
    else:
        d = a - b
    return Right(d)


@machine
def cases(p: PAIR_OF_SUMS) -> int:
    """match on a pair of sums, guards, int patterns, or-patterns, as-patterns, wildcards."""
    match p:
        case (Left(0), _):
            return 100
        case (Left(a), Left(b)) if a < b:
            return b - a
        case (Left(5) | Left(6), Right(())):
            return 56
        case (Left(a), Left(1 | 2)):
            return a
        case (Left(a), other):
            return a + 1 if other == Right(()) else -a
        case (Right(()) as r, Left(b)):
            return b if r == Right(()) else 0
        case _:
            return -1


@machine
def failed_guards(p: tuple[int, int]) -> int:
    """A guard that fails leaves its pattern's names bound (Python binds them before it tests the guard), and
    the case's other alternatives untried (its guard is tested once)."""
    a, b = p
    match (a, b):
        case (x, _) | (_, x) if x > 0:
            return x
        case (0, _):
            return 0
        case _:
            pass
    return x * 1000 + a


@machine
def first_set_bit(x: int) -> Either[Unit, int]:
    """A loop, unrolled, returning early."""
    for i in range(6):
        if x % 2 == 1:
            return Right(i)
        x = x // 2
    return Left(())


@machine
def helpers(x: tuple[int, int]) -> int:
    """Local helpers and lambdas, inlined; free names are read when called (as Python does)."""
    a, b = x
    k = 3

    def scaled(v: int) -> int:
        return v * k

    twice = lambda v: v + v  # noqa: E731
    first = scaled(a)
    k = 5
    return first + scaled(b) + twice(abs(a - b)) + min(a, b) - max(a, b)


@machine
def arithmetic(x: tuple[int, int]) -> tuple[int, int]:
    """Unary minus, ~, **, // and % by constants, divmod, divmod64 (total), augmented assignment."""
    a, b = x
    q, r = divmod(a, -3)
    t: int = -a + ~b + a ** 3 + a // 7 - b % 5 + q * r
    t += 1
    match divmod64(a, b):
        case Left(()):
            return t, 0
        case Right((quot, rem)):
            return t, quot - rem


@machine
def truth_values(x: tuple[int, int]) -> Either[Unit, Unit]:
    """A comparison kept in a name, and/or/not, int truthiness, == on pairs and sums."""
    a, b = x
    big = a > 1000 or b > 1000
    same = (Left(a), b) == (Left(b), a)
    if (big and not same) or (a and b == 0):
        return Left(())
    return Left(()) if (x != (b, a)) else Right(())


@machine
def composed(cmd: Either[Unit, Unit], counts: tuple[int, int] = (0, 0)) -> tuple[tuple[int, int], Either[Unit, int]]:
    """Two counters run by one machine (calls of a decorated machine and a decorated function)."""
    one, two = counts
    one, answer = plain.counter(cmd, one)
    two, _ = plain.counter(plain.INCR, two)
    if answer == Left(()):
        return (one, plain.low_bits(two)), answer
    return (one, two), answer


def test_each_construct_against_python():
    for m in (clamp, guard_then_join, cases, failed_guards, first_set_bit, helpers, arithmetic, truth_values,
              composed):
        agrees(m)


def test_the_examples_against_python():
    assert cases((Left(0), Left(5))) == 100
    # (-1, 5): the first alternative binds x = -1 and its guard fails; the second, which would give 5, is not tried
    assert failed_guards((-1, 5)) == step(failed_guards.term, (-1, 5), ())[1] == -1 * 1000 - 1
    assert first_set_bit(12) == Right(2) and first_set_bit(0) == Left(())
    assert helpers((2, 3)) == 3 * 2 + 5 * 3 + 2 + 2 - 3
    assert arithmetic((7, 0))[1] == 0 and divmod64(7, 0) == Left(())
    assert composed(plain.INCR, (4, 0)) == ((5, 1), Left(()))


def test_compiled_once_and_small():
    assert clamp.compile_seconds < 5 and clamp.term.size() < 120
    assert str(composed.signature) == "(Int, Int) / Either () () -> Either () Int"
    assert repr(clamp).startswith("<machine clamp: () / Int -> Int, ")
    assert Right(()) == truth_values((1, 1))
