"""Deep terms are normal: 100,000 nested compositions, both ways round."""

import time

import pytest

from catlib.free import FREE, Add, Compose, Copy, Id
from catlib.functor import interpret
from catlib.interpreter import step
from catlib.typecheck import check, infer

N = 100_000
DOUBLE = Compose(Add, Copy)

pytestmark = pytest.mark.usefixtures("no_gc")  # deep acyclic terms: see tests/conftest.py


def chain(left: bool):
    t = Id
    for _ in range(N):
        t = Compose(t, DOUBLE) if left else Compose(DOUBLE, t)
    return t


@pytest.fixture(scope="module")
def chains():
    """Both chains, made once for both shapes' tests (each also compares its own with the other)."""
    return {True: chain(True), False: chain(False)}


@pytest.mark.parametrize("left", [True, False], ids=["left-nested", "right-nested"])
def test_deep_chain(left, chains, capsys):
    t0 = time.perf_counter()
    t, u = chains[left], chain(left)  # u: built apart, to compare with
    built = time.perf_counter()
    assert str(infer(t)) == "a / Int -> Int"
    check(t, input="Int", output="Int")
    typed = time.perf_counter()
    assert step(t, 1, ()) == ((), 0)  # 2**100000 wraps to 0 in 64 bits
    assert step(t, 0, 5) == (5, 0)
    ran = time.perf_counter()
    text = repr(t)
    assert text.count("Compose") == 2 * N and len(text) > 20 * N
    assert t == u and hash(t) == hash(u) and t != chains[not left]
    assert interpret(t, FREE) == t  # the generic functor is iterative too
    done = time.perf_counter()
    with capsys.disabled():
        print(f"\n[deep {'left' if left else 'right'}] build {built - t0:.2f}s, typecheck {typed - built:.2f}s, "
              f"run {ran - typed:.2f}s, print+compare+interpret {done - ran:.2f}s")


def test_deep_applied_closures(capsys):
    """100,000 increments, each through a closure: typed, run, printed, compiled and run on the CAM.

    (With `test_deep_nested_curry`, what was one test: two, so that pytest-xdist runs them side by side.)
    """
    from cam.code import IntV, UnitV
    from cam.compiler import compile
    from cam.machine import execute
    from catlib.free import Apply, Const, Curry, Par

    t0 = time.perf_counter()
    inc = Compose(Apply, Compose(Par(Compose(Curry(Add), Const(1)), Id), Copy))  # x -> (1 +) x
    t = Id
    for _ in range(N):
        t = Compose(inc, t)
    assert str(infer(t)) == "a / Int -> Int"
    assert step(t, 5, 7) == (7, 5 + N)
    assert repr(t).count("Curry") == N
    code = compile(t)
    r = execute(code, IntV(5), UnitV)
    assert r.output == IntV(5 + N)
    with capsys.disabled():
        print(f"\n[deep closures] applied chain {time.perf_counter() - t0:.2f}s")


def test_deep_nested_curry(capsys):
    """Curry nested 100,000 deep (closures returning closures): typed, compiled, verified, printed, parsed, run."""
    from cam.code import UnitV, to_text
    from cam.compiler import compile
    from cam.machine import execute
    from cam.text import parse_code
    from cam.verifier import verify
    from catlib.free import Curry, Snd

    t0 = time.perf_counter()
    c = Snd
    for _ in range(N):
        c = Curry(c)
    sig = infer(c)
    assert str(sig).count("->") == N + 1
    code = compile(c)
    assert str(verify(code, max_type_size=4 * N)).count("->") == N + 1  # a type of N arrows: over the default bound
    text = to_text(code)
    assert text.count("CURRY") == N and parse_code(text) == code
    r = execute(code, UnitV, UnitV)
    assert r.steps == 1 and to_text(r.output).startswith("Closure [CURRY [CURRY")
    with capsys.disabled():
        print(f"\n[deep closures] nested Curry {time.perf_counter() - t0:.2f}s")
