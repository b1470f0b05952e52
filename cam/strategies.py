"""Hypothesis strategies for CAM values, instructions and code.

These build *arbitrary* machine data -- nested ``BRANCH``/``CURRY``/``QUOTE``
blocks, closures inside quoted values, any of the 21 instructions in any
order -- which is what the text/JSON round trips, the parser and anything
that must cope with untrusted bytecode (a verifier, a node) need:

>>> from hypothesis import given, settings
>>> from cam.code import to_text
>>> from cam.text import parse_code
>>> @settings(max_examples=30)
... @given(codes())
... def test(c):
...     assert parse_code(to_text(c)) == c
>>> test()

Random *instruction sequences* for a verifier: restrict the instruction set
with `ops` (only those instructions appear, nested blocks included), and the
length with `max_len`:

>>> @settings(max_examples=30)
... @given(codes(ops=("ID", "FST", "SND", "COPY", "BRANCH", "RETURN"), max_len=4))
... def test(c):
...     assert len(c) <= 4
>>> test()

Well-typed data comes from ``catlib.strategies`` (terms, host values of a
type) and is carried over: `typed_values` quotes host values of a type and
`compiled_runs` compiles well-typed terms, so a verifier can be tested on
code that must be accepted as well as on arbitrary code.

Sizes are bounded by nesting `depth` (of values and of code blocks) and
`max_len` (instructions per block), so a drawn example stays small enough
to shrink well; leaves (``Unit``, small ints, the 64-bit extremes,
instructions without arguments) are the simplest choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from hypothesis import strategies as st

from cam.code import OPS, SIMPLE_OPS, Closure, Code, Instr, IntV, L, Pair, R, UnitV, Value
from cam.hostvalue import quote
from catlib.generator import Choose
from catlib.strategies import choices
from catlib.types import Type
from catlib.values import INT_MAX, INT_MIN

__all__ = ["ints", "values", "instructions", "codes", "typed_values", "compiled_runs"]


def ints() -> st.SearchStrategy[int]:
    """64-bit integers: small ones most often, the extremes and their neighbours sometimes."""
    return st.one_of(st.integers(-4, 4), st.sampled_from(_EXTREMES), st.integers(INT_MIN, INT_MAX))


def values(depth: int = 3, closures: bool = True, max_len: int = 3) -> st.SearchStrategy[Value]:
    """Machine values nested at most `depth` constructors deep.

    With `closures`, ``Closure code env`` appears too, its code drawn by
    `codes` (at a smaller depth, at most `max_len` instructions per block).
    """
    return _values(depth, closures, max_len, OPS)


def instructions(depth: int = 2, ops: Iterable[str] = OPS, max_len: int = 4) -> st.SearchStrategy[Instr]:
    """One instruction from `ops`; ``QUOTE``/``BRANCH``/``CURRY`` carry values or blocks of depth < `depth`."""
    return _instructions(depth, True, max_len, _ops(ops))


def codes(depth: int = 2, ops: Iterable[str] = OPS, max_len: int = 6, closures: bool = True) -> st.SearchStrategy[Code]:
    """Code of at most `max_len` instructions per block, blocks nested at most `depth` deep.

    `ops` restricts the instructions used (in nested blocks too); with
    `closures` False, quoted values hold no ``Closure``.
    """
    return _codes(depth, closures, max_len, _ops(ops))


def typed_values(t: Type | str) -> st.SearchStrategy[Value]:
    """Machine values of the catlib type `t` (quoted host values)."""
    from catlib.strategies import values as host_values

    return host_values(t).map(quote)


def compiled_runs(**options: Any) -> st.SearchStrategy[tuple[Any, Code, Any, Value, Value]]:
    """``(term, code, signature, input, state)``: a well-typed term, its code and machine values that fit it.

    Options are those of ``catlib.strategies.runs`` (`max_size`, `pure`, ...).
    """
    from cam.compiler import compile
    from catlib.strategies import runs

    return runs(**options).map(lambda r: (r[0], compile(r[0]), r[1], quote(r[2]), quote(r[3])))


def _ops(ops: Iterable[str]) -> tuple[str, ...]:
    ops = tuple(ops)
    unknown = [op for op in ops if op not in OPS]
    if unknown or not ops:
        raise ValueError(f"ops must be a non-empty selection of {', '.join(OPS)}; unknown: {unknown}")
    return tuple(op for op in OPS if op in ops)  # canonical order: shrinks towards ID


# How the strategies draw.  Each choice hypothesis makes, and each strategy it draws from, costs it tens of
# microseconds (recording, spans, its search for new examples): more than anything done with the result.  These
# were first written as nested `st.one_of`s, `st.sampled_from`s and `.map`s, which hypothesis flattens into one
# choice among all the branches of a `one_of` of (mapped) `one_of`s, each branch as likely as another; the same
# choices are made here, each drawn directly: a value node is one choice among its branches (``Unit``, a small
# int, an extreme int, any int, a pair, ``L``, ``R``, a closure), an instruction one among its branches (a
# simple instruction, a ``QUOTE`` of each branch of value node, ``BRANCH``, ``CURRY``) and then which simple
# instruction, or the quoted value's parts.  A block is `st.lists` of instructions, as before.  Index 0 of each
# choice is the simplest (``Unit``, ``ID``), where hypothesis shrinks to.  Inside an instruction or a value the
# integers are asked of the test case directly (`catlib.strategies.choices`: the same choice as `st.integers` and
# `st.sampled_from` make, without a strategy's bookkeeping around each); blocks are drawn as strategies.

_EXTREMES = (INT_MIN, INT_MIN + 1, INT_MAX - 1, INT_MAX)
_UNIT, _SMALL_INT, _EXTREME_INT, _BIG_INT, _PAIR, _LEFT, _RIGHT, _CLOSURE = range(8)
"""The branches of a value node."""


def _value_kinds(depth: int, closures: bool) -> int:
    """How many branches a value node of `depth` has (the first that many of ``_UNIT`` ... ``_CLOSURE``)."""
    return 4 if depth <= 0 else 7 + closures


def _draw_value(draw: st.DrawFn, choose: Choose, depth: int, closures: bool, max_len: int, ops: tuple[str, ...],
                kind: int | None = None) -> Value:
    """A value of `depth` (of branch `kind` if given); recursion at most `depth` deep, a parameter of a few.

    `choose(lo, hi)` is ``draw(st.integers(lo, hi))``; ``st.sampled_from(xs)`` is ``xs[choose(0, len(xs) - 1)]``.
    """
    if kind is None:
        kind = choose(0, _value_kinds(depth, closures) - 1)
    if kind == _UNIT:
        return UnitV
    if kind == _SMALL_INT:
        return IntV(choose(-4, 4))
    if kind == _EXTREME_INT:
        return IntV(_EXTREMES[choose(0, len(_EXTREMES) - 1)])
    if kind == _BIG_INT:
        return IntV(choose(INT_MIN, INT_MAX))
    if kind == _CLOSURE:
        code = draw(_codes(depth - 1, closures, max_len, ops))
        return Closure(code, _draw_value(draw, choose, depth - 1, closures, max_len, ops))
    first = _draw_value(draw, choose, depth - 1, closures, max_len, ops)
    if kind == _PAIR:
        return Pair(first, _draw_value(draw, choose, depth - 1, closures, max_len, ops))
    return L(first) if kind == _LEFT else R(first)


@cache
def _drawn(by: Callable[..., Any], depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> Any:
    """The strategy of what `by` (`_draw_value` or `_draw_instruction`) draws with these options, made once."""

    @st.composite
    def strategy(draw: st.DrawFn) -> Any:
        return by(draw, choices(draw), depth, closures, max_len, ops)

    return strategy()


def _values(depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> st.SearchStrategy[Value]:
    return _drawn(_draw_value, depth, closures, max_len, ops)


@cache
def _instruction_branches(depth: int, closures: bool, ops: tuple[str, ...]) -> tuple[Any, ...]:
    """The branches of an instruction: "a simple one" (``None``), ``("QUOTE", kind)`` for each branch of the
    quoted value, ``"BRANCH"``, ``"CURRY"`` (as far as `ops` has them)."""
    quoted = _value_kinds(max(depth, 1), closures and depth > 0)
    return (*[None] * any(op in SIMPLE_OPS for op in ops), *[("QUOTE", k) for k in range(quoted) if "QUOTE" in ops],
            *[op for op in ("BRANCH", "CURRY") if op in ops and depth > 0])


@cache
def _simple(ops: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(op for op in ops if op in SIMPLE_OPS)


def _draw_instruction(draw: st.DrawFn, choose: Choose, depth: int, closures: bool, max_len: int,
                      ops: tuple[str, ...]) -> Instr:
    branches = _instruction_branches(depth, closures, ops)
    if not branches:  # only BRANCH/CURRY asked for, and no depth left: the empty block ends the nesting
        return Instr("BRANCH", Code(), Code()) if "BRANCH" in ops else Instr("CURRY", Code())
    which = branches[choose(0, len(branches) - 1) if len(branches) > 1 else 0]
    if which is None:
        simple = _simple(ops)  # (one of a kind is no choice: `st.sampled_from` of one is `st.just`)
        return Instr(simple[choose(0, len(simple) - 1)] if len(simple) > 1 else simple[0])
    if which == "BRANCH":
        sub = _codes(depth - 1, closures, max_len, ops)
        return Instr("BRANCH", draw(sub), draw(sub))
    if which == "CURRY":
        return Instr("CURRY", draw(_codes(depth - 1, closures, max_len, ops)))
    return Instr("QUOTE", _draw_value(draw, choose, max(depth, 1), closures and depth > 0, max_len, ops, which[1]))


def _instructions(depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> st.SearchStrategy[Instr]:
    return _drawn(_draw_instruction, depth, closures, max_len, ops)


@cache
def _codes(depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> st.SearchStrategy[Code]:
    return st.lists(_instructions(depth, closures, max_len, ops), max_size=max_len).map(Code)
