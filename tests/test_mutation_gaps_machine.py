"""Tests for mutants of the machine (cam/machine.py, cam/decoded.py, cam/jit.py, cam/loaded.py) that survived the rest.

The translated code falls back to the checked loop wherever it gives up, so a translator mutant that gives up
too often changes no answer: these tests also check that the fast path itself completed (`fast_only`).
Each test names, in its docstring, the kind of mutant it kills (docs/mutation.md lists them).
"""

from __future__ import annotations

from typing import Any

import pytest

from cam import decoded, loaded, machine
from cam.code import ADD, BRANCH, CONS, COPY, FST, GET, PUSH, QUOTE, RETURN, ROT, SWAP, Code, IntV, Pair, UnitV
from cam.machine import Stuck, load
from catlib.values import Left, Right


def fast_only(step: Any) -> list[Any]:
    """The inputs on which `step` (from `load`) fell back to the checked loop, recorded from now on."""
    fell_back: list[Any] = []
    env = step.__globals__
    slow = env["slow"]

    def counted(x: Any, s: Any) -> Any:
        fell_back.append(x)
        return slow(x, s)

    env["slow"] = counted
    return fell_back


def checked(code: Code, x: Any, s: Any) -> tuple[Any, Any]:
    """The checked loop's (state, output) for host values `x` and `s`."""
    block = decoded.decode(code)
    acc, reg, _ = machine._exec(block, decoded.to_internal(x, decoded.decode), decoded.to_internal(s, decoded.decode),
                                None, None)
    return decoded.to_host(reg), decoded.to_host(acc)


def test_arms_that_leave_different_values_on_the_stack_join_without_falling_back():
    """The right arm swaps the entry below its continuation (the input) for its payload: the two arms leave
    different values at the same place, which the join puts in a local (a mutant of the shape test calls such
    stacks different and gives up on both arms)."""
    code = Code([PUSH, BRANCH(Code([QUOTE(UnitV), RETURN]), Code([ROT, SWAP, ROT, QUOTE(UnitV), RETURN])), CONS])
    step = load(code)
    fell_back = fast_only(step)
    assert step(Left(1), ()) == ((), (Left(1), ()))
    assert step(Right(5), ()) == ((), (5, ()))
    assert fell_back == []


def test_a_value_on_the_stack_survives_a_split_of_large_code():
    """Large code is split into functions of at most `INLINE_SIZE` instructions each, which pass the stack's
    values on (a mutant passes None for them; another starts the root one level deep, where it is never split)."""
    code = Code([PUSH, *[COPY, FST] * (3 * loaded.INLINE_SIZE // 2), CONS])
    step = load(code)
    fell_back = fast_only(step)
    assert step(5, ()) == ((), (5, 5))
    assert step((1, 2), 3) == (3, ((1, 2), (1, 2)))
    assert fell_back == []
    functions = sum(line.startswith("def ") for line in step.source.splitlines())
    assert functions >= 2 + len(code) // loaded.INLINE_SIZE  # the pieces of the body, and step and run


def test_large_code_that_halts_with_values_on_the_stack_is_stuck():
    """The translated root's own stuck exit raises the translator's `Deopt`, so the checked loop reports `Stuck`
    (a mutant's ``raise d`` is a NameError that escapes)."""
    code = Code([PUSH, *[COPY, FST] * (loaded.INLINE_SIZE // 2 + 10)])
    with pytest.raises(Stuck) as e:
        load(code)(5, ())
    assert e.value.steps == len(code)


def _nested(depth: int) -> Code:
    """Each level keeps a value on the stack across a BRANCH on the state (side known at run time only)."""
    code = Code([GET])
    for _ in range(depth):
        code = Code([PUSH, GET, BRANCH(Code([*code, RETURN]), Code([RETURN])), CONS])
    return code


def test_arms_beyond_the_inline_depth_get_the_values_above_their_continuation():
    """Past `INLINE_DEPTH` an arm becomes a function of its own, called with the values it can reach (a mutant
    drops an argument of that call)."""
    depth = loaded.INLINE_DEPTH + 5
    code = _nested(depth)
    step = load(code)
    fell_back = fast_only(step)
    for x, s in ((7, Left(1)), (7, Right(2))):
        assert step(x, s) == checked(code, x, s)
    assert fell_back == []


def _fast(code: Code, x: Any, s: Any) -> Any:
    """`load(code)(x, s)`, required to complete on the translated code."""
    step = load(code)
    fell_back = fast_only(step)
    answer = step(x, s)
    assert fell_back == [], step.source
    return answer


def test_constant_pairs_are_taken_apart_and_added_at_translation():
    """A quoted pair is split at translation (a mutant treats it as unknown and gives up); the sum of two known
    ints is folded, and the translation goes on after it (a mutant stops there and gives up)."""
    assert _fast(Code([QUOTE(Pair(IntV(1), IntV(2))), FST]), 0, ()) == ((), 1)
    assert _fast(Code([QUOTE(Pair(IntV(1), IntV(2))), ADD]), 0, ()) == ((), 3)
    assert _fast(Code([QUOTE(IntV(1)), PUSH, QUOTE(IntV(2)), CONS, ADD, PUSH, CONS]), 0, ()) == ((), (3, 3))


def test_adding_a_known_int_on_the_right_wraps_to_64_bits():
    """``x + 5`` with `x` known at run time only: the right and the left constant are both offset by 2**63 before
    the wrap (a mutant offsets the right one by 3**63: every such sum is wrong)."""
    right = Code([PUSH, QUOTE(IntV(5)), CONS, ADD])
    left = Code([PUSH, QUOTE(IntV(5)), SWAP, CONS, ADD])
    for code in (right, left):
        assert _fast(code, 1, ()) == ((), 6)
        assert _fast(code, 2**63 - 1, ()) == ((), -(2**63) + 4)


def test_adding_pairs_of_pairs_is_stuck_not_a_translation_error():
    """ADD of a pair of pairs gives up at translation, so the checked loop reports `Stuck` (a mutant tests the
    symbol's payload instead of its kind, and the translation itself raises TypeError)."""
    with pytest.raises(Stuck, match="ADD"):
        load(Code([COPY, COPY, ADD]))(1, ())
