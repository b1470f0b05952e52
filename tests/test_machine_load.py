"""cam.machine.load: translated code over host values, against the checked loop and the interpreter."""

import itertools
import time
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cam import decoded, jit, loaded, machine
from cam.code import (
    ADD,
    APP,
    BRANCH,
    CONS,
    CONSUME,
    COPY,
    CURRY,
    FIRST,
    FST,
    GET,
    ID,
    INL,
    INR,
    OPS,
    PUSH,
    PUT,
    QUOTE,
    RETURN,
    ROT,
    SND,
    SWAP,
    Closure,
    Code,
    Instr,
    IntV,
    L,
    Pair,
    UnitV,
    Value,
)
from cam.compiler import compile
from cam.loaded import HostClosure
from cam.machine import MachineError, OutOfFuel, Stuck, load
from cam.strategies import codes, compiled_runs, values
from cam.text import parse_code
from catlib.examples import bank, counter, registers, thermostat, turnstile, vending
from catlib.free import Add, Apply, Compose, Const, Copy, Curry, Id, Par
from catlib.interpreter import run as interpret_run
from catlib.interpreter import step as interpret
from catlib.strategies import Generator
from catlib.strategies import values as host_values
from catlib.values import Left, Right
from tests.conftest import scaled
from tests.node_helpers import doubling

COUNTER = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] "
                     "[ID,GET,INR,RETURN]]")


def host(v: Value) -> Any:
    """A machine value in host form (closures as `HostClosure`)."""
    return loaded.to_host(decoded.inside(v))


def checked(code: Code, x: Value, s: Value, fuel: int | None = None, steps: bool = False) -> Any:
    """The checked loop's answer in host form (and steps), or its error as (kind, text, configuration, steps)."""
    try:
        acc, reg, n = machine._exec(decoded.decode(code), decoded.inside(x), decoded.inside(s), fuel, None)
    except MachineError as e:
        return (type(e).__name__, str(e), e.config, e.steps)
    return (loaded.to_host(reg), loaded.to_host(acc)) + ((n,) if steps else ())


def by_load(step: Any, x: Any, s: Any) -> Any:
    try:
        return step(x, s)
    except MachineError as e:
        return (type(e).__name__, str(e), e.config, e.steps)


# ---------------------------------------------------------------- well-typed terms


@settings(max_examples=scaled(300))
@given(compiled_runs(max_size=24))
def test_load_agrees_with_the_interpreter_and_the_checked_loop(r):
    term, code, sig, x, s = r
    hx, hs = host(x), host(s)
    want = interpret(term, hx, hs)
    step = load(code)
    assert step(hx, hs) == want == checked(code, x, s)
    assert step.run([hx, hx], hs) == interpret_run(term, [hx, hx], hs)


EXAMPLES = (counter.COUNTER, counter.COUNTER2, registers.UPGRADE.old, registers.UPGRADE.new,
            turnstile.UPGRADE.old, turnstile.UPGRADE.new, bank.BANK, bank.BANK2, thermostat.THERMOSTAT,
            thermostat.THERMOSTAT2, vending.VENDING, vending.VENDING2)
LOADED = {prog.name: load(compile(prog.term)) for prog in EXAMPLES}
# each strategy made once, not once per example: making one reads its function's source (hypothesis's `composite`)
INPUTS = {prog.name: st.lists(host_values(prog.input), max_size=8) for prog in EXAMPLES}
STATES = {prog.name: host_values(prog.state) for prog in EXAMPLES}


@settings(max_examples=scaled(100))
@given(st.data())
def test_the_examples_against_the_interpreter(data):
    for prog in EXAMPLES:
        inputs = data.draw(INPUTS[prog.name])
        state = data.draw(STATES[prog.name])
        step = LOADED[prog.name]
        want = interpret_run(prog.term, inputs, state)
        assert step.run(inputs, state) == want == loaded.run_list(step, inputs, state)


# ---------------------------------------------------------------- arbitrary code: the same answers and errors


@settings(max_examples=scaled(400))
@given(codes(depth=3, max_len=8), values(depth=2), values(depth=2), st.sampled_from([None, 2, 40]))
def test_load_agrees_with_the_checked_loop_on_arbitrary_code(code, x, s, fuel):
    want = checked(code, x, s, fuel)
    step = load(code, fuel)
    got = by_load(step, host(x), host(s))
    assert got == want
    event("halts" if type(want[0]) is not str else want[0])
    # the batch path gives the same, also after a stuck input (run raises what step raises)
    try:
        batch = step.run([host(x), host(x)], host(s))
    except MachineError as e:
        batch = (type(e).__name__, str(e), e.config, e.steps)
    first = by_load(step, host(x), host(s))
    if type(first[0]) is str:
        assert batch == first
    else:
        assert batch == loaded.run_list(step, [host(x), host(x)], host(s))


@settings(max_examples=scaled(150))
@given(codes(depth=3, max_len=8), values(depth=2), values(depth=2), st.sampled_from([None, 3, 40]))
def test_counted_steps_are_the_checked_loops(code, x, s, fuel):
    want = checked(code, x, s, fuel, steps=True)
    step = load(code, fuel, steps=True)
    assert by_load(step, host(x), host(s)) == want
    event("halts" if type(want[0]) is not str else want[0])
    if type(want[0]) is not str:
        assert step.run([host(x)], host(s)) == (want[0], [want[1]], want[2])


def _agree(code: Code, x: Value, s: Value) -> bool:
    want = checked(code, x, s)
    assert by_load(load(code), host(x), host(s)) == want, code
    return type(want[0]) is not str


def test_every_small_stack_code():
    ops = [PUSH, ROT, SWAP, CONS, INL]
    completed = sum(_agree(Code(combo), Pair(IntV(1), IntV(2)), IntV(3))
                    for n in range(1, 6) for combo in itertools.product(ops, repeat=n))
    assert completed > 60  # codes that halt (65 of 3,905; most leave values on the stack: stuck, in both)


def test_small_branching_code():
    pieces = [(), (PUSH,), (SWAP,), (CONS,), (ROT,), (PUSH, ROT), (COPY, FIRST), (FST,), (PUSH, SWAP, CONS)]
    completed = 0
    for pre, left, right, post in itertools.product(pieces, pieces, pieces[:4], pieces[:4]):
        code = Code([*pre, INL, BRANCH([*left, RETURN], [*right, RETURN]), *post])
        for x in (Pair(IntV(1), IntV(2)), UnitV):
            completed += _agree(code, x, IntV(0))
    assert completed > 100


def test_branches_on_a_value_of_unknown_side_with_the_stack_reached_by_rot():
    # Distr's code: the arms reach below their continuation with ROT
    code = Code([PUSH, FST, BRANCH([ROT, SWAP, SND, CONS, INL, RETURN], [ROT, SWAP, SND, CONS, INR, RETURN]), PUT])
    step = load(code)
    assert step((Left(1), 2), ()) == (Left((1, 2)), ())
    assert step((Right(()), 2), 7) == (Right(((), 2)), ())
    with pytest.raises(Stuck) as e:
        step((3, 2), ())
    assert e.value.reason == "BRANCH needs L or R in the accumulator, found Int 3"


# ---------------------------------------------------------------- errors, fuel, closures


def test_stuck_and_out_of_fuel_are_the_checked_loops():
    step = load(COUNTER)
    with pytest.raises(Stuck) as e:
        step(3, 0)
    assert e.value.config.acc == IntV(3) and e.value.steps == 1
    with pytest.raises(Stuck):
        step(Left(()), ())  # ADD of Int 1 and Unit
    with pytest.raises(OutOfFuel) as f:
        load(COUNTER, fuel=15)(Left(()), 0)
    assert f.value.steps == 15
    assert load(COUNTER, fuel=16)(Left(()), 0) == (1, Left(()))
    with pytest.raises(TypeError):
        load(COUNTER)([], 0)  # not a host value where the code looks: the checked loop cannot quote it
    with pytest.raises(TypeError):
        load([ID])  # type: ignore[arg-type]


def test_adds_wrap_and_reject_what_is_not_an_int():
    step = load(Code([ADD]))
    assert step((2**63 - 1, 1), ()) == ((), -2**63)
    for bad in [((1, 2), (3, 4)), ((), ()), (Left(1), 1), (1, ())]:
        with pytest.raises(Stuck):
            step(bad, ())


def test_closures_in_host_form():
    body = Code([SND, RETURN])
    step = load(Code([CURRY(body), PUSH, QUOTE(IntV(5)), CONS, APP]))
    assert step(9, ()) == ((), 5) and step.fallbacks == 0  # the closure's code is inlined where applied
    assert "HC" not in step.source  # and the closure never built
    made = load(Code([CURRY(body)]))(9, ())[1]
    assert made == HostClosure(body, 9) and hash(made) == hash(HostClosure(body, 9))
    quoted = Closure(Code([FST, RETURN]), IntV(4))
    assert load(Code([QUOTE(quoted)]))((), ()) == ((), HostClosure(quoted.code, 4))
    assert load(Code([FIRST, SWAP, CONS, APP]))((HostClosure(quoted.code, 4), 9), ()) == ((), 4)


def _holds_closure(v: Any) -> bool:
    todo = [v]
    while todo:
        v = todo.pop()
        if type(v) is HostClosure:
            return True
        todo += v if type(v) is tuple else [v.value] if type(v) in (Left, Right) else []
    return False


@settings(max_examples=scaled(200))
@given(compiled_runs(max_size=40))
def test_well_typed_terms_run_translated(r):
    # every instruction is translated, APP included: a well-typed term never falls back to the checked loop,
    # unless its input or state brings a closure of code that is not the loaded code's (made elsewhere)
    term, code, sig, x, s = r
    hx, hs = host(x), host(s)
    step = load(code)
    assert step(hx, hs) == interpret(term, hx, hs)
    foreign = _holds_closure(hx) or _holds_closure(hs)
    event("input or state holds a closure" if foreign else "only the loaded code's closures")
    if not foreign:
        assert step.fallbacks == 0, step.source
    counted = load(code, steps=True)(hx, hs)
    assert counted == checked(code, x, s, steps=True)
    assert load(code, fuel=counted[2])(hx, hs) == counted[:2]  # exactly enough fuel
    if counted[2]:
        with pytest.raises(OutOfFuel):
            load(code, fuel=counted[2] - 1)(hx, hs)


def test_closures_applied_many_times_count_their_steps_against_the_fuel():
    # a closure applied twice runs its code twice: more steps than instructions, so fuel is counted, not bounded
    twice = Code([CURRY(Code([SND, COPY, ADD, RETURN])), PUSH, PUSH, QUOTE(IntV(3)), CONS, APP, CONS, APP])
    want = checked(twice, UnitV, UnitV, steps=True)
    assert want == ((), 12, 16) and load(twice, steps=True)((), ()) == want
    assert load(twice, fuel=16)((), ()) == ((), 12)
    with pytest.raises(OutOfFuel) as e:
        load(twice, fuel=14)((), ())  # fewer than the 16 steps it needs
    assert e.value.steps == 14


def test_closures_known_at_run_time_only_are_called():
    # Left: keep a closure in the state; Right v: apply the state's closure to v (unknown at translation)
    double = Code([SND, COPY, ADD, RETURN])
    code = Code([BRANCH(Code([CURRY(double), PUT, RETURN]), Code([PUSH, GET, SWAP, CONS, APP, RETURN]))])
    step = load(code)
    state = step(Left(()), ())[0]
    assert state == HostClosure(double, ())
    assert step(Right(4), state) == (state, 8)
    assert step(Right(4), HostClosure(Code(list(double)), ())) == (state, 8)  # an equal code: the same function
    assert step.fallbacks == 0 and "CF[" in step.source
    other = HostClosure(Code([SND, RETURN]), ())  # code the loaded code does not have: the checked loop runs it
    assert step(Right(4), other) == (other, 4) and step.fallbacks == 1
    with pytest.raises(Stuck):
        step(Right(4), 5)  # APP of a pair whose first is not a closure


def test_closures_called_through_their_functions_agree(monkeypatch):
    # with no inlining budget every APP calls the function made for its closure's code (CF)
    monkeypatch.setattr(loaded, "INLINE_CLOSURES", -(10**9))
    gen = Generator.seeded(3)
    called = 0
    for _ in range(60):
        s, a, b = gen.type(), gen.type(), gen.type()
        term = gen.term(s, a, b, 40)
        x, state = gen.value(a), gen.value(s)
        step = load(compile(term))
        assert step(x, state) == interpret(term, x, state)
        if "CF[" in step.source:
            called += 1
            assert step.fallbacks == 0
            assert load(compile(term), steps=True)(x, state)[:2] == step(x, state)
    assert called >= 10


def test_a_long_chain_of_applied_closures_is_inlined():
    inc = Compose(Apply, Compose(Par(Compose(Curry(Add), Const(1)), Id), Copy))  # x -> (1 +) x
    t: Any = Id
    for _ in range(2_000):
        t = Compose(inc, t)
    step = load(compile(t))
    assert step(5, ()) == ((), 2_005) and step.fallbacks == 0 and "CF[" not in step.source


# ---------------------------------------------------------------- no cliffs


def test_large_code_is_translated_and_runs():
    code = compile(_chain(100_000))  # 100,000 nested compositions: 200,000 instructions
    step = load(code)
    assert step(1, ()) == ((), 0) and step(0, 5) == (5, 0)
    assert "slow" not in step.source.split("except")[0]
    assert load(code, steps=True)(1, ()) == ((), 0, len(code))


def _chain(n: int) -> Any:
    t = Id
    for _ in range(n):
        t = Compose(t, Compose(Add, Copy))
    return t


@pytest.mark.parametrize("depth", [5, 200, 3_000])
def test_deeply_nested_branches_are_translated(depth):
    static = Code([ID])  # the side of every BRANCH is known at translation
    for _ in range(depth):
        static = Code([INL, BRANCH(static + Code([CONSUME, INR, RETURN]), Code([RETURN]))])
    dynamic = Code([GET])  # the side of every BRANCH is known at run time only: nested ifs and functions
    for _ in range(depth):
        dynamic = Code([GET, BRANCH(dynamic + Code([RETURN]), Code([RETURN]))])
    for c, state in ((static, UnitV), (dynamic, L(IntV(1)))):
        step = load(c)
        want = checked(c, L(IntV(1)), state)
        assert type(want[0]) is not str
        assert step(Left(1), host(state)) == want
        assert step.run([Left(1)] * 3, host(state))[1] == [want[1]] * 3
        assert load(c, steps=True)(Left(1), host(state)) == checked(c, L(IntV(1)), state, steps=True)
        assert "slow" not in step.source.split("except")[0]  # no function falls back to the checked loop


def test_prepare_translates_before_the_first_run():
    machine.clear_cache()
    code = Code(list(COUNTER))
    machine.prepare(code)
    block = decoded.decode(code)
    translated = block.jit
    assert translated is not None and block.runs == 0  # translated ahead, not by pretending it ran
    assert machine.step(code, L(UnitV), IntV(0)) == (IntV(1), L(UnitV))
    assert block.jit is translated and block.deopts == 0  # the first run ran the translation
    # code with APP is never translated; preparing it says so and changes nothing
    app = Code([QUOTE(Closure(Code([SND, RETURN]), UnitV)), PUSH, CONS, APP])
    assert not jit.prepare(decoded.decode(app)) and decoded.decode(app).jit is None
    # the integer instructions beyond the reference are translated too
    assert jit.prepare(decoded.decode(Code([COPY, Instr("MUL"), COPY, Instr("DIVMOD")])))


def test_every_instruction_is_translated_or_left_to_the_checked_loop():
    assert set(OPS) == {"ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "QUOTE", "ADD",
                        "APP", "CURRY", "INL", "INR", "BRANCH", "RETURN", "PUSH", "ROT", "GET", "PUT",
                        # beyond the reference: translated as well (only APP is left to the checked loop)
                        "SUB", "MUL", "LT", "EQ", "DIVMOD"}
    for op, x, y in (("SUB", (7, 3), 4), ("MUL", (7, -3), -21), ("LT", (2, 3), Left(())), ("EQ", (2, 3), Right(())),
                     ("DIVMOD", (-7, 2), Right((-4, 1))), ("DIVMOD", (-7, 0), Left(()))):
        step = load(Code([Instr(op)]))
        assert step(x, ()) == ((), y), op
        assert "slow" not in step.source.split("except")[0], op  # translated: no fallback on the way
    assert INR is not INL  # the table is the one the translator dispatches on


def test_all_the_translation_happens_in_load(monkeypatch):
    # a node loads new code while preparing an upgrade: no translation, decoding or cache lookup after that
    step = load(Code(list(COUNTER)))

    def refuse(*args):
        raise AssertionError("translated or decoded on the request path")

    monkeypatch.setattr(machine, "translate", refuse)
    monkeypatch.setattr(machine, "decode", refuse)
    monkeypatch.setattr(loaded, "translate", refuse)
    assert step(Left(()), 1) == (2, Left(()))
    assert step.run([Right(())], 5) == (5, [Right(5)])
    assert step(Left(()), 1)[1] is step(Left(()), 7)[1]  # a constant output is one shared object


def test_large_code_is_translated_ahead_and_compiled_in_pieces(monkeypatch):
    # a node translates new code of any size before the swap (cam.admission); one `compile` call holds the
    # interpreter lock throughout, so large source is compiled in pieces and other threads run in between
    import builtins

    from cam import pysource

    lines: list[int] = []
    real = builtins.compile
    monkeypatch.setattr(pysource, "compile", lambda src, *rest: lines.append(src.count("\n")) or real(src, *rest),
                        raising=False)
    machine.clear_cache()
    code = Code([COPY, ADD] * 4_000)  # beyond jit.MAX_SIZE: translated by cam.loaded, split into functions
    machine.prepare(code)
    block = decoded.decode(code)
    assert block.jit is not None and block.runs == 0
    assert len(lines) >= 2 and max(lines) < 3 * pysource.PIECE_LINES
    assert machine.execute(code, IntV(1), UnitV).steps == 8_000 and block.deopts == 0


def test_fuel_stops_translated_closures_early():
    # ~100 million steps per input if run to the end (about a minute translated); with fuel 10,000 the
    # closures' functions hand over to the checked loop as soon as the count passes it, so `OutOfFuel`
    # comes after a few thousand steps' work, not after the whole run (a node's event loop relies on it).
    step = load(doubling(24), 10_000, steps=True)
    t0 = time.process_time()
    with pytest.raises(OutOfFuel, match="after 10000 steps"):
        step((), 0)
    assert time.process_time() - t0 < 5.0
    assert step.fallbacks == 1


def test_code_compiled_aside_is_the_code_compiled_here():
    # a node's upgrade checks compile in a helper process (`compile` would hold the interpreter lock, and the
    # node's event loop with it): the same code, and what does not compile raises as `compile` raises
    from cam import pysource

    source = "def f(x, s):\n return (x * s + 1, -x)\n\ng = lambda: f"
    here = pysource.compiled(source, "<t>")
    before = pysource.ASIDE.compiled
    with pysource.compiling_aside():
        aside = pysource.compiled(source, "<t>")
        with pytest.raises(SyntaxError):
            pysource.compiled("def f(:\n pass", "<t>")
        step = load(Code([COPY, ADD] * 9), steps=True)  # a shape of its own: compiled now
    assert pysource.ASIDE.compiled == before + 2 and pysource.ASIDE.failures == 0
    assert aside == here and aside is not here and aside.co_filename == "<t>"
    env: dict[str, Any] = {}
    exec(aside, env)  # noqa: S102
    assert env["g"]()(3, 4) == (13, -3) and step(1, ()) == ((), 512, 18)
    pysource.compiled(source, "<t>")  # only within
    assert pysource.ASIDE.compiled == before + 2


def test_a_helper_that_dies_is_started_again_and_one_that_cannot_run_falls_back(monkeypatch):
    import subprocess
    import sys

    from cam import pysource

    helper = pysource.Aside()
    try:
        assert helper.compile("x = 1", "<t>") is not None
        assert helper.proc is not None
        helper.proc.kill()
        helper.proc.wait()
        assert helper.compile("x = 2", "<t>") is not None and helper.failures == 0  # a new one
        started = helper._started
        quits = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        monkeypatch.setattr(helper, "_started", lambda: quits)
        assert helper.compile("x = 3", "<t>") is None and helper.failures == 1  # the caller compiles it
        for f in (quits.stdin, quits.stdout):
            f.close()  # type: ignore[union-attr]
        quits.wait()
        hangs = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        monkeypatch.setattr(helper, "_started", lambda: hangs)
        monkeypatch.setattr(helper, "SECONDS", 0.2)
        t0 = time.monotonic()
        assert helper.compile("x = 5", "<t>") is None and helper.failures == 2  # it never answers: given up
        assert time.monotonic() - t0 < 5
        hangs.kill()
        for f in (hangs.stdin, hangs.stdout):
            f.close()  # type: ignore[union-attr]
        hangs.wait()
        monkeypatch.setattr(helper, "_started", started)
        monkeypatch.setattr(helper, "SECONDS", pysource.Aside.SECONDS)
        assert helper.compile("x = 4", "<t>") is not None and helper.proc is not None and helper.proc.poll() is None
    finally:
        helper.close()
    assert helper.proc is None
    broken = pysource.Aside()
    broken.failures = broken.FAILURES
    assert broken.compile("x = 1", "<t>") is None and broken.proc is None


def test_a_forked_child_compiles_with_a_helper_of_its_own():
    import os

    from cam import pysource

    with pysource.compiling_aside():
        pysource.compiled("x = 1", "<parent>")
    parent = pysource.ASIDE.proc
    assert parent is not None and parent.poll() is None
    pid = os.fork()
    if pid == 0:  # the child: the parent's helper is not its own (its pipes closed here); a new one compiles
        ok = pysource.ASIDE.proc is None
        with pysource.compiling_aside():
            ok = ok and pysource.compiled("x = 2", "<child>").co_filename == "<child>"
        child = pysource.ASIDE.proc
        ok = ok and child is not None and child.pid != parent.pid and pysource.ASIDE.failures == 0
        pysource.ASIDE.close()
        os._exit(0 if ok else 1)
    assert os.waitpid(pid, 0)[1] == 0
    with pysource.compiling_aside():
        assert pysource.compiled("x = 3", "<parent>").co_filename == "<parent>"
    assert pysource.ASIDE.proc is parent and parent.poll() is None and pysource.ASIDE.failures == 0
