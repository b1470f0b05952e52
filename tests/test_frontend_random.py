"""Random plain machines: Python source drawn from the subset, compiled, and checked against itself.

Each example is the text of a machine over ``cmd : Either Int (Either Int
())`` and state ``(Int, Int)``, with assignments, ``if``/``elif``/``else``
(joins, early returns), ``match`` (guards, int patterns), unrolled loops,
conditional expressions, ``and``/``or``/``not`` and integer arithmetic.
It is written to a file, imported (the frontend reads source), and run on
random inputs and states: the interpreter on its term and the CAM on the
compiled code answer as the function on wrapping ints, and as the plain
call where no int leaves 64 bits.
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cam.code import quote, unquote
from cam.compiler import compile
from cam.machine import step as cam_step
from catlib.interpreter import step
from catlib.strategies import Generator
from tests.rates import Tally

HEADER = '''from catlib.frontend import machine, Either, Unit, Left, Right

@machine
def m(cmd: Either[int, Either[int, Unit]], s: tuple[int, int]) -> tuple[tuple[int, int], int]:
    a, b = s
    c = 0
'''
VARS = ("a", "b", "c")
_counter = itertools.count()


@st.composite
def ints(draw, depth: int, names: tuple[str, ...]) -> str:  # type: ignore[no-untyped-def]
    k = draw(st.integers(0, 9 if depth > 0 else 1))
    if k == 0:
        return draw(st.sampled_from(names))
    if k == 1:
        return str(draw(st.sampled_from([0, 1, 2, -3, 7, 2**62, -(2**63)])))
    x, y = draw(ints(depth - 1, names)), draw(ints(depth - 1, names))
    if k <= 4:
        return f"({x} {draw(st.sampled_from(['+', '-', '*']))} {y})"
    if k == 5:
        return f"({x} {draw(st.sampled_from(['//', '%']))} {draw(st.sampled_from(['3', '-2', '1']))})"
    if k == 6:
        return f"{draw(st.sampled_from(['min', 'max']))}({x}, {y})"
    if k == 7:
        return f"(-{x})" if draw(st.booleans()) else f"abs({x})"
    return f"({x} if {draw(conds(depth - 1, names))} else {y})"


@st.composite
def conds(draw, depth: int, names: tuple[str, ...]) -> str:  # type: ignore[no-untyped-def]
    k = draw(st.integers(0, 4 if depth > 0 else 0))
    if k == 0 or depth <= 0:
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"{draw(ints(1, names))} {op} {draw(ints(1, names))}"
    if k == 1:
        return f"not ({draw(conds(depth - 1, names))})"
    if k == 2:
        return f"({draw(conds(depth - 1, names))} and {draw(conds(depth - 1, names))})"
    if k == 3:
        return f"({draw(conds(depth - 1, names))} or {draw(conds(depth - 1, names))})"
    return f"{draw(ints(1, names))}"  # an int's truth value


@st.composite
def block(draw, depth: int, indent: str, names: tuple[str, ...]) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, 6 if depth > 0 else 1))
        if k <= 1:
            lines.append(f"{indent}{draw(st.sampled_from(VARS))} = {draw(ints(2, names))}")
        elif k == 2:
            lines.append(f"{indent}return ({draw(ints(1, names))}, {draw(ints(1, names))}), {draw(ints(1, names))}")
            break
        elif k == 3:
            lines.append(f"{indent}if {draw(conds(1, names))}:")
            lines += draw(block(depth - 1, indent + "    ", names))
            if draw(st.booleans()):
                lines.append(f"{indent}elif {draw(conds(1, names))}:")
                lines += draw(block(depth - 1, indent + "    ", names))
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                lines += draw(block(depth - 1, indent + "    ", names))
        elif k == 4:
            lines.append(f"{indent}match cmd:")
            inner = (*names, "k")
            lines.append(f"{indent}    case Left(k) if {draw(conds(0, inner))}:")
            lines += draw(block(depth - 1, indent + "        ", inner))
            if draw(st.booleans()):
                lines.append(f"{indent}    case Left({draw(st.sampled_from(['0', '1', '-3']))}):")
                lines += draw(block(depth - 1, indent + "        ", names))
            lines.append(f"{indent}    case Right(Left(k)):")
            lines += draw(block(depth - 1, indent + "        ", inner))
            if draw(st.booleans()):
                lines.append(f"{indent}    case _:")
                lines += draw(block(depth - 1, indent + "        ", names))
        elif k == 5:
            lines.append(f"{indent}for i in range({draw(st.integers(0, 3))}):")
            lines += draw(block(depth - 1, indent + "    ", (*names, "i")))
        else:
            lines.append(f"{indent}c = {draw(ints(1, names))} if {draw(conds(1, names))} else c")
    return lines


@st.composite
def programs(draw) -> str:  # type: ignore[no-untyped-def]
    body = draw(block(2, "    ", VARS))
    return HEADER + "\n".join(body) + "\n    return (a, b), c\n"


def load(source: str, where: Path):  # type: ignore[no-untyped-def]
    name = f"_frontend_random_{next(_counter)}"
    path = where / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module.m


RAN = Tally("no overflow", at_least=0.3)


@RAN.checked
@settings(max_examples=30, deadline=None)
@given(programs(), st.integers(0, 2**32))
def test_random_plain_machines(tmp_path_factory, source, seed):  # type: ignore[no-untyped-def]
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
            assert m(x, s) == expected
        assert step(m.term, x, s) == expected, (source, x, s)
        ns, out = cam_step(code, quote(x), quote(s))
        assert (unquote(ns), unquote(out)) == expected, (source, x, s)
