"""The interpreter refuses ints outside ``Int``'s 64-bit range in what it is given, and wraps only arithmetic.

`Const` and the machine's values refuse such ints; `catlib.interpreter.step` used to take them and wrap them
silently where an addition met them (``step(counter_sm, Left(()), 2**64)`` answered ``(1, Left(()))``).
"""

from __future__ import annotations

import time

import pytest

from cam.compiler import compile
from cam.machine import load
from catlib.examples.counter import counter_sm
from catlib.free import Add, Compose, Copy, Embed, Get, Id, Par, Put
from catlib.interpreter import check_ints, run, step
from catlib.values import INT_MAX, INT_MIN, Curried, Left, Right

RANGE = "outside Int's 64-bit range -2**63 .. 2**63 - 1"


@pytest.mark.parametrize("n", [INT_MAX + 1, INT_MIN - 1, 2**64, -(2**64), 2**70])
def test_a_state_out_of_range_is_refused_not_wrapped(n):
    with pytest.raises(ValueError) as e:
        step(counter_sm, Left(()), n)
    assert str(e.value) == f"state = {n} is {RANGE} (not wrapped)"
    with pytest.raises(ValueError, match="state = "):
        run(counter_sm, [Left(())], n)


def test_an_input_out_of_range_is_refused_where_it_is():
    pair_sum = Compose(Put, Add)  # (Int, Int) -> (), the state the sum
    with pytest.raises(ValueError) as e:
        step(pair_sum, (1, 2**64), 0)
    assert str(e.value) == f"input[1] = {2**64} is {RANGE} (not wrapped)"
    with pytest.raises(ValueError, match=r"^input\.value\[0\]\.value = -9223372036854775809 is outside"):
        step(Id, Left((Right(INT_MIN - 1), 0)), 0)
    with pytest.raises(ValueError, match=r"^inputs\[2\]\[0\] = 9223372036854775808 is outside"):
        run(Compose(Put, Add), [(1, 1), (2, 2), (INT_MAX + 1, 0)], 0)
    with pytest.raises(ValueError, match=r"^state\[1\]\.env\[0\] = "):
        step(Id, (), (0, Curried(Add, (2**64, 0))))


def test_the_extremes_are_accepted_and_arithmetic_still_wraps_as_the_machine_does():
    machine = load(compile(counter_sm))
    for state in (INT_MAX, INT_MIN, 0, -1):
        for cmd in (Left(()), Right(())):
            assert step(counter_sm, cmd, state) == machine(cmd, state)
    assert step(counter_sm, Left(()), INT_MAX) == (INT_MIN, Left(()))  # the increment wraps, as before
    assert step(Add, (INT_MAX, INT_MAX), ()) == ((), -2)
    assert run(counter_sm, [Left(())] * 3, INT_MAX - 1) == (INT_MIN + 1, [Left(())] * 3)


def test_an_embedded_function_with_a_polymorphic_result_cannot_smuggle_one_in():
    leak = Embed(lambda x: 2**64, "a", "b")
    with pytest.raises(ValueError, match=r"^Embed's output = 18446744073709551616 is outside"):
        step(leak, (), ())


def test_deep_and_shared_values_are_checked_without_recursion_or_unfolding():
    deep: object = 5
    for _ in range(100_000):
        deep = Left((deep, ()))
    assert step(Get, (), deep) == (deep, deep)
    bad: object = 2**64
    for _ in range(100_000):
        bad = Right((0, bad))
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as e:
        step(Id, bad, 0)
    assert str(e.value).startswith("input" + ".value[1]" * 100_000 + f" = {2**64} is outside")
    assert time.perf_counter() - t0 < 5  # (a path string per level would be quadratic: minutes)
    # 2**300 occurrences of one int, 301 tuples in memory (what 300 Copies make)
    shared: object = INT_MAX
    for _ in range(300):
        shared = (shared, shared)
    assert step(Par(Id, Id), shared, 0)[1] == shared
    shared_bad: object = INT_MIN - 1
    for _ in range(300):
        shared_bad = (shared_bad, shared_bad)
    with pytest.raises(ValueError, match=r"^state(\[0\]){300} = -9223372036854775809 is outside"):
        step(Copy, (), shared_bad)
    with pytest.raises(ValueError, match=r"^input = -\(an int of 100001 bits\) is outside"):
        step(Id, -(2**100_000), 0)


def test_check_ints_alone():
    check_ints((INT_MIN, (Left(()), Curried(Add, INT_MAX))), "x")
    check_ints("not a host value: its term says so", "x")
    with pytest.raises(ValueError, match=r"^where\[0\] = 9223372036854775808"):
        check_ints((INT_MAX + 1, 0), "where")
