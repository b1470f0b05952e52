"""Random plain machines: Python source drawn from the subset, compiled, and checked against itself.

Each example is the text of a module: a decorated helper function ``g : Int
-> Int`` and a machine over ``cmd : Either Int (Either Int ())`` and state
``(Int, Int)`` that calls it, with local helpers (a ``def`` with an early
return, a lambda) called by name, assignments, tuple packing and unpacking,
``if``/``elif``/``else`` (joins, early returns), ``match`` on ``Left`` /
``Right`` (nested, guards, int patterns) and on tuples, ``for`` over a
constant ``range`` (unrolled), conditional expressions, ``and``/``or``/``not``
and integer arithmetic (with constants at the 64-bit boundaries).  It is
written to a file and imported (the frontend reads a function's source with
`inspect`, which needs a file), and run on random inputs and states: the
interpreter on its term and the CAM on the compiled code answer as the
function on wrapping 64-bit ints (`Machine.wrapping`), and as the plain
Python call where no int leaves 64 bits (`Machine.checked` raises
otherwise).  Both outcomes are counted; the plain one must be at least a
quarter of the runs.

A program whose compilation blew up (the lowering's sharing search looped,
and terms doubled at each level of nested branches) is why this property
exists; `test_compiles_in_bounded_time` keeps the worst shapes it found.
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cam.compiler import compile
from cam.hostvalue import quote, unquote
from cam.machine import step as cam_step
from catlib.frontend.lower import tree_size
from catlib.interpreter import step
from catlib.strategies import Generator
from catlib.values import Left
from tests.conftest import scaled
from tests.rates import Tally

PRELUDE = '''from catlib.frontend import machine, Either, Unit, Left, Right

@machine
def g(x: int) -> int:
{helper}

@machine
def m(cmd: Either[int, Either[int, Unit]], s: tuple[int, int]) -> tuple[tuple[int, int], int]:
    a, b = s
    c = 0

    def h(x: int) -> int:
        if x < a:
            return {h_small}
        return {h_big}

    f = lambda x: {lam}  # noqa: E731
'''
VARS = ("a", "b", "c")
CONSTANTS = [0, 1, 2, -3, 7, 2**62, -(2**63), 2**63 - 1]
_counter = itertools.count()


@st.composite
def ints(draw: Any, depth: int, names: tuple[str, ...], calls: bool = True) -> str:
    """An int expression over `names` (calls of g, h and f when `calls`)."""
    k = draw(st.integers(0, 10 if depth > 0 else 1))
    if k == 0:
        return draw(st.sampled_from(names))
    if k == 1:
        return str(draw(st.sampled_from(CONSTANTS)))
    x, y = draw(ints(depth - 1, names, calls)), draw(ints(depth - 1, names, calls))
    if k <= 4:
        return f"({x} {draw(st.sampled_from(['+', '-', '*']))} {y})"
    if k == 5:
        return f"({x} {draw(st.sampled_from(['//', '%']))} {draw(st.sampled_from(['3', '-2', '1']))})"
    if k == 6:
        return f"{draw(st.sampled_from(['min', 'max']))}({x}, {y})"
    if k == 7:
        return f"(-{x})" if draw(st.booleans()) else f"abs({x})"
    if k == 8 and calls:
        return f"{draw(st.sampled_from(['g', 'h', 'f']))}({x})"
    if k == 9:  # a pair packed and taken apart again
        return f"({x}, {y})[{draw(st.integers(0, 1))}]"
    return f"({x} if {draw(conds(depth - 1, names, calls))} else {y})"


@st.composite
def conds(draw: Any, depth: int, names: tuple[str, ...], calls: bool = True) -> str:
    """A condition: a comparison, a chain, not/and/or, an int's truth value, an Either () () test."""
    k = draw(st.integers(0, 6 if depth > 0 else 0))
    if k == 0 or depth <= 0:
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"{draw(ints(1, names, calls))} {op} {draw(ints(1, names, calls))}"
    if k == 1:
        return f"not ({draw(conds(depth - 1, names, calls))})"
    if k == 2:
        return f"({draw(conds(depth - 1, names, calls))} and {draw(conds(depth - 1, names, calls))})"
    if k == 3:
        return f"({draw(conds(depth - 1, names, calls))} or {draw(conds(depth - 1, names, calls))})"
    if k == 4:
        return f"{draw(ints(0, names, calls))} <= {draw(ints(1, names, calls))} < {draw(ints(0, names, calls))}"
    if k == 5:  # a sum value of Either () () tested against Left(())
        flag = f"(Left(()) if {draw(conds(depth - 1, names, calls))} else Right(()))"
        return f"{flag} {draw(st.sampled_from(['==', '!=']))} Left(())"
    return f"{draw(ints(1, names, calls))}"  # an int's truth value


def _returns(draw: Any, indent: str, names: tuple[str, ...]) -> str:
    return f"{indent}return ({draw(ints(1, names))}, {draw(ints(1, names))}), {draw(ints(1, names))}"


@st.composite
def block(draw: Any, depth: int, indent: str, names: tuple[str, ...]) -> list[str]:
    """One to three statements of the machine's body."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, 8 if depth > 0 else 1))
        inner = indent + "    "
        if k <= 1:
            lines.append(f"{indent}{draw(st.sampled_from(VARS))} = {draw(ints(2, names))}")
        elif k == 2:
            lines.append(_returns(draw, indent, names))
            break
        elif k == 3:
            lines.append(f"{indent}if {draw(conds(1, names))}:")
            lines += draw(block(depth - 1, inner, names))
            if draw(st.booleans()):
                lines.append(f"{indent}elif {draw(conds(1, names))}:")
                lines += draw(block(depth - 1, inner, names))
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                lines += draw(block(depth - 1, inner, names))
        elif k == 4:
            lines.append(f"{indent}match cmd:")
            bound = (*names, "k")
            lines.append(f"{inner}case Left(k) if {draw(conds(0, bound))}:")
            lines += draw(block(depth - 1, inner + "    ", bound))
            if draw(st.booleans()):
                lines.append(f"{inner}case Left({draw(st.sampled_from(['0', '1', '-3']))}):")
                lines += draw(block(depth - 1, inner + "    ", names))
            if draw(st.booleans()):
                lines.append(f"{inner}case Right(Left(k)):")
                lines += draw(block(depth - 1, inner + "    ", bound))
            else:
                lines.append(f"{inner}case Right(Right(())):")
                lines += draw(block(depth - 1, inner + "    ", names))
            if draw(st.booleans()):
                lines.append(f"{inner}case _:")
                lines += draw(block(depth - 1, inner + "    ", names))
        elif k == 5:
            lines.append(f"{indent}match ({draw(st.sampled_from(VARS))}, {draw(ints(1, names))}):")
            lines.append(f"{inner}case (0, q):")
            lines += draw(block(depth - 1, inner + "    ", (*names, "q")))
            lines.append(f"{inner}case (p, q) if p < q:")
            lines += draw(block(depth - 1, inner + "    ", (*names, "p", "q")))
            lines.append(f"{inner}case _:")
            lines += draw(block(depth - 1, inner + "    ", names))
        elif k == 6:
            lines.append(f"{indent}for i in range({draw(st.integers(0, 3))}):")
            lines += draw(block(depth - 1, inner, (*names, "i")))
        elif k == 7:
            x, y = draw(st.sampled_from([("a", "b"), ("b", "c"), ("c", "a")]))
            lines.append(f"{indent}{x}, {y} = {y}, {draw(ints(1, names))}")
        else:
            lines.append(f"{indent}c = {draw(ints(1, names))} if {draw(conds(1, names))} else c")
    return lines


@st.composite
def programs(draw: Any) -> str:
    """The text of a module holding a random helper ``g`` and a random machine ``m`` calling it."""
    helper = f"    if {draw(conds(1, ('x',), False))}:\n        return {draw(ints(2, ('x',), False))}\n" \
             f"    return {draw(ints(2, ('x',), False))}"
    head = PRELUDE.format(helper=helper, h_small=draw(ints(1, ("x", "a"), False)),
                          h_big=draw(ints(1, ("x", "b"), False)), lam=draw(ints(1, ("x", "c"), False)))
    body = draw(block(2, "    ", VARS))
    return head + "\n".join(body) + "\n    return (a, b), c\n"


def load(source: str, where: Path) -> Any:
    """The machine ``m`` of the module with `source`, written under `where` and imported."""
    name = f"_frontend_random_{next(_counter)}"
    path = where / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the oracle recompiles g and m from their module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module.m


RAN = Tally("no overflow", at_least=0.25)


@RAN.checked
@settings(max_examples=scaled(200) // 10)  # each example is a whole program, run on 8 inputs
@given(programs(), st.integers(0, 2**32))
def test_random_plain_machines(tmp_path_factory: Any, source: str, seed: int) -> None:
    m = load(source, tmp_path_factory.mktemp("plain"))
    code = compile(m.term)
    gen = Generator.seeded(seed)
    rnd = random.Random(seed)
    for _ in range(8):
        x = gen.value(m.input)
        s = (rnd.choice([0, 1, -1, 5, gen.int()]), rnd.choice([0, 2, gen.int()]))
        try:
            expected = m.checked(x, s)
        except OverflowError:
            RAN("wraps")
            expected = m.wrapping(x, s)
        else:
            RAN("no overflow")
            assert m(x, s) == expected, (source, x, s)
        assert step(m.term, x, s) == expected, (source, x, s)
        ns, out = cam_step(code, quote(x), quote(s))
        assert (unquote(ns), unquote(out)) == expected, (source, x, s)


STALLED = '''from catlib.frontend import machine, Either, Unit, Left, Right

@machine
def m(cmd: Either[int, Either[int, Unit]], s: tuple[int, int]) -> tuple[tuple[int, int], int]:
    a, b = s
    c = 0
    for i in range({n}):
        c = (c + a) if c < b else (c - i)
    return (a, b), c
'''


def test_compiles_in_bounded_time(tmp_path: Path) -> None:
    """Shapes that made the lowering stall: a value of the state, branching, used in the next branch.

    Its term grew twice per unrolled iteration (10^29 nodes at 120) and the
    sharing search took a decision per layer (quadratic); now both grow
    linearly with the loop.
    """
    sizes, seconds = [], []
    for n in (30, 60, 120):
        start = time.perf_counter()
        m = load(STALLED.format(n=n), tmp_path)
        seconds.append(time.perf_counter() - start)
        sizes.append(tree_size(m.term))
    assert sizes[2] <= 2.2 * sizes[1] <= 4.5 * sizes[0], sizes
    assert seconds[2] < 10, seconds  # minutes before; about 0.2 s on a shared 2-core machine
    for s in [(3, 1000), (-5, 7), (2**62, 2**62 + 1)]:
        assert step(m.term, Left(0), s) == m.wrapping(Left(0), s)
