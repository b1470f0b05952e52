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

from collections.abc import Iterable
from functools import cache
from typing import Any

from hypothesis import strategies as st

from cam.code import OPS, SIMPLE_OPS, Closure, Code, Instr, IntV, L, Pair, R, UnitV, Value
from cam.hostvalue import quote
from catlib.types import Type
from catlib.values import INT_MAX, INT_MIN

__all__ = ["ints", "values", "instructions", "codes", "typed_values", "compiled_runs"]


def ints() -> st.SearchStrategy[int]:
    """64-bit integers: small ones most often, the extremes and their neighbours sometimes."""
    return st.one_of(st.integers(-4, 4), st.sampled_from([INT_MIN, INT_MIN + 1, INT_MAX - 1, INT_MAX]),
                     st.integers(INT_MIN, INT_MAX))


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


@cache
def _values(depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> st.SearchStrategy[Value]:
    leaf = st.one_of(st.just(UnitV), ints().map(IntV))
    if depth <= 0:
        return leaf
    sub = _values(depth - 1, closures, max_len, ops)
    options = [leaf, st.builds(Pair, sub, sub), st.builds(L, sub), st.builds(R, sub)]
    if closures:
        options.append(st.builds(Closure, _codes(depth - 1, closures, max_len, ops), sub))
    return st.one_of(*options)


@cache
def _instructions(depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> st.SearchStrategy[Instr]:
    simple = [op for op in ops if op in SIMPLE_OPS]
    options: list[st.SearchStrategy[Instr]] = []
    if simple:
        options.append(st.sampled_from(simple).map(Instr))
    if "QUOTE" in ops:
        options.append(_values(max(depth, 1), closures and depth > 0, max_len, ops).map(lambda v: Instr("QUOTE", v)))
    if depth > 0:
        sub = _codes(depth - 1, closures, max_len, ops)
        if "BRANCH" in ops:
            options.append(st.builds(lambda c, d: Instr("BRANCH", c, d), sub, sub))
        if "CURRY" in ops:
            options.append(sub.map(lambda c: Instr("CURRY", c)))
    if not options:  # only BRANCH/CURRY asked for, and no depth left: the empty block ends the nesting
        empty = Code()
        options.append(st.just(Instr("BRANCH", empty, empty) if "BRANCH" in ops else Instr("CURRY", empty)))
    return st.one_of(*options)


@cache
def _codes(depth: int, closures: bool, max_len: int, ops: tuple[str, ...]) -> st.SearchStrategy[Code]:
    return st.lists(_instructions(depth, closures, max_len, ops), max_size=max_len).map(Code)
