"""cam.machine: the reference's transitions, step counts, halting, Stuck and OutOfFuel, trace."""

import itertools
import pickle
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cam.machine as machine_module
from cam import decoded, jit, loaded
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
    SPECS,
    SWAP,
    Closure,
    Code,
    Instr,
    IntV,
    L,
    Pair,
    R,
    UnitV,
    Value,
    to_text,
)
from cam.machine import Config, Cont, MachineError, OutOfFuel, Result, Stuck, execute, step, trace
from cam.strategies import codes, compiled_runs, ints, values
from cam.text import parse_code, parse_value
from catlib.values import INT_MAX, INT_MIN, wrap
from tests.conftest import scaled

COUNTER = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]")
COUNTER2 = parse_code("[ID,BRANCH [COPY,FIRST,ID,GET,FST,SWAP,CONS,SECOND,ID,GET,SND,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,CONS,PUT,INL,RETURN] [ID,GET,SND,INR,RETURN]]")
UPGRADE = parse_code("[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]")


# ---------------------------------------------------------------- the reference's counters


@pytest.mark.parametrize("code, input, state, new_state, output, steps", [
    (COUNTER, "L Unit", "Int 0", "Int 1", "L Unit", 16),
    (COUNTER, "R Unit", "Int 41", "Int 41", "R (Int 41)", 6),
    (COUNTER, "L Unit", "Int 9223372036854775807", "Int (-9223372036854775808)", "L Unit", 16),
    (COUNTER2, "L Unit", "Pair (Int 3) (Int 7)", "Pair (Int 3) (Int 8)", "L Unit", 26),
    (COUNTER2, "R Unit", "Pair (Int 3) (Int 7)", "Pair (Int 3) (Int 7)", "R (Int 7)", 7),
    (UPGRADE, "Int 5", "Unit", "Unit", "Pair (Int 5) (Int 0)", 9),
])
def test_reference_step_counts(code, input, state, new_state, output, steps):
    r = execute(code, parse_value(input), parse_value(state))
    assert r == Result(parse_value(new_state), parse_value(output), steps)
    assert step(code, parse_value(input), parse_value(state)) == (r.state, r.output)
    assert len(list(trace(code, parse_value(input), parse_value(state)))) == steps + 1


def test_counter_session():
    # The seed's session: three increments, a count, the same machine state threaded through.
    state = IntV(0)
    outputs = []
    for x in ("L Unit", "L Unit", "L Unit", "R Unit"):
        state, y = step(COUNTER, parse_value(x), state)
        outputs.append(to_text(y))
    assert (state, outputs) == (IntV(3), ["L Unit", "L Unit", "L Unit", "R (Int 3)"])


# ---------------------------------------------------------------- transitions


def configs(code: Code | list[Instr], x: Value, s: Value = UnitV, fuel: int | None = None) -> list[Config]:
    """Every configuration reached, also when the machine ends stuck (a transition test leaves a stack)."""
    out: list[Config] = []
    try:
        for c in trace(Code(code), x, s, fuel):
            out.append(c)
    except MachineError:
        pass
    return out


VALUES = values(depth=2)


@settings(max_examples=scaled(200))
@given(VALUES, VALUES, VALUES, VALUES)
def test_one_step_transitions(a, b, c, s):
    # instruction: (code before it, input, expected accumulator, stack (top first) and register after it)
    p = Pair(a, b)
    table = {
        "ID": ([], a, a, (), s),
        "FST": ([], p, a, (), s),
        "SND": ([], p, b, (), s),
        "COPY": ([], a, Pair(a, a), (), s),
        "CONSUME": ([], a, UnitV, (), s),
        "FIRST": ([], p, a, (b,), s),
        "SECOND": ([], p, b, (a,), s),
        "CONS": ([PUSH, QUOTE(b)], a, Pair(a, b), (), s),
        "SWAP": ([PUSH, QUOTE(b)], a, a, (b,), s),
        "PUSH": ([], a, a, (a,), s),
        "ROT": ([PUSH, QUOTE(b), PUSH, QUOTE(c)], a, c, (a, b), s),
        "INL": ([], a, L(a), (), s),
        "INR": ([], a, R(a), (), s),
        "QUOTE": ([], a, c, (), s),
        "GET": ([], a, s, (), s),
        "PUT": ([], a, UnitV, (), a),
        "CURRY": ([], a, Closure(Code([SND, ID]), a), (), s),
    }
    for op, (prefix, x, acc, stack, reg) in table.items():
        instr = {"QUOTE": QUOTE(c), "CURRY": CURRY([SND, ID])}.get(op) or Instr(op)
        code = Code([*prefix, instr, ID])
        trail = configs(code, x, s)
        before, after = trail[len(prefix)], trail[len(prefix) + 1]
        assert before.code[0] == instr
        assert after == Config(acc, Code([ID]), reg, stack), op


@settings(max_examples=scaled(100))
@given(ints(), ints())
def test_add_wraps_to_64_bits(i, j):
    after = configs([ADD], Pair(IntV(i), IntV(j)))[1]
    assert after.acc == IntV((i + j + 2**63) % 2**64 - 2**63)


def test_add_extremes():
    assert step(Code([ADD]), Pair(IntV(INT_MAX), IntV(1)), UnitV)[1] == IntV(INT_MIN)
    assert step(Code([ADD]), Pair(IntV(INT_MIN), IntV(-1)), UnitV)[1] == IntV(INT_MAX)


@settings(max_examples=scaled(100))
@given(VALUES, VALUES, st.booleans())
def test_branch_and_return(a, c, left):
    then, other = Code([ID, RETURN]), Code([CONSUME, RETURN])
    code = Code([INL if left else INR, Instr("BRANCH", then, other), QUOTE(c)])
    trail = configs(code, a)
    # after BRANCH: the injected value, the chosen block, and the rest of the code pushed
    assert trail[2] == Config(a, then if left else other, UnitV, (Cont(Code([QUOTE(c)])),))
    # RETURN continues with the pushed code and pops it
    assert trail[4] == Config(a if left else UnitV, Code([QUOTE(c)]), UnitV, ())
    assert trail[-1] == Config(c, Code(), UnitV, ())
    assert len(trail) == 6


@settings(max_examples=scaled(100))
@given(VALUES, VALUES)
def test_app_enters_the_closure(y, z):
    body = Code([SND, RETURN])
    code = Code([QUOTE(Pair(Closure(body, y), z)), APP, INL])
    trail = configs(code, UnitV)
    assert trail[2] == Config(Pair(y, z), body, UnitV, (Cont(Code([INL])),))
    assert trail[-1] == Config(L(z), Code(), UnitV, ())
    # a closure made by CURRY works the same: Pair (Closure c x) z
    code = Code([CURRY(body), PUSH, QUOTE(z), CONS, APP])
    assert step(code, y, UnitV) == (UnitV, z)


@pytest.mark.parametrize("op, a, b, want", [
    ("SUB", 5, 7, -2), ("SUB", INT_MIN, 1, INT_MAX), ("SUB", INT_MAX, -1, INT_MIN), ("SUB", 0, INT_MIN, INT_MIN),
    ("MUL", -3, 7, -21), ("MUL", INT_MAX, 2, -2), ("MUL", INT_MIN, -1, INT_MIN), ("MUL", 2**32, 2**32, 0),
    ("LT", 1, 2, "L"), ("LT", 2, 2, "R"), ("LT", INT_MIN, INT_MAX, "L"), ("LT", INT_MAX, INT_MIN, "R"),
    ("EQ", 3, 3, "L"), ("EQ", 3, -3, "R"), ("EQ", INT_MIN, INT_MIN, "L"),
    ("DIVMOD", 7, 2, (3, 1)), ("DIVMOD", -7, 2, (-4, 1)), ("DIVMOD", 7, -2, (-4, -1)), ("DIVMOD", -7, -2, (3, -1)),
    ("DIVMOD", 7, 0, "L"), ("DIVMOD", INT_MIN, -1, (INT_MIN, 0)), ("DIVMOD", INT_MIN, 1, (INT_MIN, 0)),
    ("DIVMOD", INT_MAX, INT_MIN, (-1, -1)), ("DIVMOD", INT_MIN, INT_MAX, (-2, INT_MAX - 1)),
])
def test_integer_instructions_beyond_the_reference(op, a, b, want):
    # DIVMOD rounds down as Python's divmod (and Haskell's divMod); only INT_MIN / -1 wraps
    expect = (L(UnitV) if want == "L" else R(UnitV) if want == "R"
              else R(Pair(IntV(want[0]), IntV(want[1]))) if type(want) is tuple else IntV(want))
    assert step(Code([Instr(op)]), Pair(IntV(a), IntV(b)), UnitV) == (UnitV, expect)
    if op == "DIVMOD" and b:
        assert want == (wrap(divmod(a, b)[0]), divmod(a, b)[1])
    # run again and again: from the second run on, the translation answers (and gives the same)
    code = Code([Instr(op), INL])
    assert {step(code, Pair(IntV(a), IntV(b)), UnitV) for _ in range(4)} == {(UnitV, L(expect))}
    block = decoded.decode(code)
    assert block.jit is not None and block.deopts == 0
    # and on host values, through `load`: translated, no fallback to the checked loop
    loaded_step = machine_module.load(code)
    assert "slow" not in loaded_step.source.split("except")[0]
    assert loaded_step((a, b), ()) == ((), loaded.to_host(decoded.inside(L(expect))))
    stuck = Code([COPY, Instr(op), INL])
    for _ in range(3):
        with pytest.raises(Stuck, match=f"{op} needs a Pair of two Ints, found Pair"):
            step(stuck, Pair(IntV(a), IntV(b)), UnitV)
    assert not SPECS[op].reference


def test_every_instruction_has_a_transition_test():
    covered = {"ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "PUSH", "ROT", "INL",
               "INR", "QUOTE", "GET", "PUT", "CURRY", "ADD", "BRANCH", "RETURN", "APP",
               "SUB", "MUL", "LT", "EQ", "DIVMOD"}
    assert covered == set(OPS)


# ---------------------------------------------------------------- Stuck


@pytest.mark.parametrize("code, input, instruction, reason", [
    ("[ID,BRANCH [ID,RETURN] [ID,RETURN]]", "Int 3", "BRANCH", "BRANCH needs L or R in the accumulator, found Int 3"),
    ("[FST]", "L Unit", "FST", "FST needs a Pair in the accumulator, found L Unit"),
    ("[SND]", "Int (-3)", "SND", "SND needs a Pair in the accumulator, found Int (-3)"),
    ("[FIRST]", "Unit", "FIRST", "FIRST needs a Pair in the accumulator, found Unit"),
    ("[SECOND]", "R Unit", "SECOND", "SECOND needs a Pair in the accumulator, found R Unit"),
    ("[ADD]", "Pair (Int 1) Unit", "ADD", "ADD needs a Pair of two Ints, found Pair (Int 1) Unit"),
    ("[ADD]", "Int 1", "ADD", "ADD needs a Pair of two Ints, found Int 1"),
    ("[APP]", "Pair Unit Unit", "APP", "APP needs a Pair of a Closure and a value, found Pair Unit Unit"),
    ("[CONS]", "Unit", "CONS", "CONS needs a value on the stack"),
    ("[SWAP]", "Unit", "SWAP", "SWAP needs a value on the stack"),
    ("[RETURN]", "Unit", "RETURN", "RETURN needs a code continuation on the stack"),
    ("[PUSH,RETURN]", "Unit", "RETURN", "RETURN needs a code continuation on the stack"),
    ("[ROT]", "Unit", "ROT", "ROT needs two entries on the stack"),
    ("[PUSH,ROT]", "Unit", "ROT", "ROT needs two entries on the stack"),
    ("[INL,BRANCH [CONS,RETURN] []]", "Unit", "CONS", "CONS needs a value on the stack"),
    ("[INL,BRANCH [SWAP,RETURN] []]", "Unit", "SWAP", "SWAP needs a value on the stack"),
])
def test_stuck_names_instruction_and_accumulator(code, input, instruction, reason):
    with pytest.raises(Stuck) as e:
        step(parse_code(code), parse_value(input), IntV(7))
    err = e.value
    assert err.reason == reason and err.instruction.op == instruction
    assert err.config.code[0] == err.instruction
    assert err.config.reg == IntV(7)
    text = str(err)
    assert text.startswith(f"stuck at step {err.steps + 1}: {reason}\n")
    assert f"  accumulator: {to_text(err.config.acc)}\n" in text
    assert f"  code:        {to_text(err.config.code)}\n" in text
    assert "  register:    Int 7\n" in text
    assert isinstance(err, MachineError) and not isinstance(err, OutOfFuel)


def test_stuck_carries_the_whole_configuration():
    with pytest.raises(Stuck) as e:
        step(parse_code("[FIRST,PUSH,INL,BRANCH [FST,RETURN] []]"), parse_value("Pair (Int 1) (Int 2)"), UnitV)
    c = e.value.config
    assert c == Config(IntV(1), parse_code("[FST,RETURN]"), UnitV, (Cont(Code()), IntV(1), IntV(2)))
    assert e.value.steps == 4
    assert "  stack:       [<code []>, Int 1, Int 2]" in str(e.value)


@pytest.mark.parametrize("code, input, reason", [
    ("[PUSH]", "Unit", "the code ended but the stack is not empty"),
    ("[FIRST]", "Pair Unit Unit", "the code ended but the stack is not empty"),
    ("[INL,BRANCH [ID] [ID]]", "Unit", "the code ended but the stack is not empty"),  # a block without RETURN
])
def test_halting_requires_empty_code_and_stack(code, input, reason):
    with pytest.raises(Stuck) as e:
        step(parse_code(code), parse_value(input), UnitV)
    assert e.value.reason == reason and e.value.instruction is None
    assert len(e.value.config.code) == 0 and e.value.config.stack


def test_the_reference_would_answer_but_we_do_not():
    # The reference prints "Output: Int 3" here (docs/reference.md, "Where this project differs on purpose").
    with pytest.raises(Stuck) as e:
        step(COUNTER, IntV(3), IntV(0))
    assert e.value.config.acc == IntV(3)


# ---------------------------------------------------------------- fuel


def test_fuel_is_a_step_bound():
    assert execute(COUNTER, L(UnitV), IntV(0), fuel=16).steps == 16
    with pytest.raises(OutOfFuel) as e:
        execute(COUNTER, L(UnitV), IntV(0), fuel=15)
    assert e.value.steps == 15 and not isinstance(e.value, Stuck)
    assert "out of fuel after 15 steps" in str(e.value)
    assert e.value.config.code == Code([RETURN])
    with pytest.raises(OutOfFuel):
        execute(COUNTER, L(UnitV), IntV(0), fuel=0)
    assert execute(Code(), UnitV, UnitV, fuel=0) == Result(UnitV, UnitV, 0)


def test_an_endless_machine_runs_out_of_fuel():
    # self-application: Closure c y applied to itself, forever (no term compiles to this)
    omega = Code([SND, COPY, APP])
    code = Code([CURRY(omega), COPY, APP])
    with pytest.raises(OutOfFuel) as e:
        step(code, UnitV, UnitV, fuel=10_000)
    assert e.value.steps == 10_000
    assert issubclass(OutOfFuel, MachineError) and issubclass(Stuck, MachineError)
    assert not issubclass(OutOfFuel, Stuck) and not issubclass(Stuck, OutOfFuel)


# ---------------------------------------------------------------- trace and the public API


@settings(max_examples=scaled(200))
@given(compiled_runs(max_size=12))
def test_trace_matches_execute(r):
    term, code, sig, x, s = r
    result = execute(code, x, s)
    trail = list(trace(code, x, s))
    assert len(trail) == result.steps + 1
    assert trail[0] == Config(x, code, s, ())
    assert trail[-1] == Config(result.output, Code(), result.state, ())
    assert all(len(c.code) for c in trail[:-1])  # a step always runs an instruction
    assert execute(code, x, s, fuel=result.steps) == result
    if result.steps:
        with pytest.raises(OutOfFuel):
            execute(code, x, s, fuel=result.steps - 1)


@settings(max_examples=scaled(300))
@given(codes(depth=2, max_len=6), values(depth=2), values(depth=2))
def test_arbitrary_code_halts_or_raises_machine_errors(code, x, s):
    # Untrusted code never makes the machine fail with anything but Stuck or OutOfFuel,
    # and the traced and the plain execution agree.
    try:
        result = execute(code, x, s, fuel=500)
    except MachineError as e:
        with pytest.raises(type(e)) as again:
            list(trace(code, x, s, fuel=500))
        assert str(again.value) == str(e) and again.value.config == e.config
        return
    trail = list(trace(code, x, s, fuel=500))
    assert len(trail) == result.steps + 1
    assert (trail[-1].acc, trail[-1].reg) == (result.output, result.state)


def test_trace_prints_steps():
    lines = [f"{to_text(c.acc)} | {to_text(c.code)}" for c in trace(parse_code("[COPY,FST]"), IntV(1), UnitV)]
    assert lines == ["Int 1 | [COPY,FST]", "Pair (Int 1) (Int 1) | [FST]", "Int 1 | []"]


def test_trace_is_lazy_about_errors():
    seen = []
    with pytest.raises(Stuck):
        for c in trace(parse_code("[ID,FST]"), UnitV, UnitV):
            seen.append(c)
    assert [to_text(c.code) for c in seen] == ["[ID,FST]", "[FST]"]


@pytest.mark.parametrize("call", [
    lambda: step([ID], UnitV, UnitV),
    lambda: step(Code([ID]), (), UnitV),
    lambda: step(Code([ID]), UnitV, 0),
    lambda: execute("[ID]", UnitV, UnitV),
    lambda: list(trace(Code([ID]), None, UnitV)),
])
def test_bad_arguments_are_type_errors(call):
    with pytest.raises(TypeError):
        call()


def test_closures_cross_the_boundary():
    clo = Closure(Code([FST, RETURN]), IntV(4))
    assert step(Code([ID]), clo, UnitV) == (UnitV, clo)
    assert step(Code([PUT]), clo, UnitV) == (clo, UnitV)
    code = Code([FIRST, SWAP, CONS, APP])  # Pair clo z -> Pair clo z -> APP
    assert step(code, Pair(clo, IntV(9)), UnitV) == (UnitV, IntV(4))


def test_deep_values_cross_the_boundary():
    v = IntV(0)
    for i in range(100_000):
        v = L(v) if i % 2 else Pair(UnitV, v)
    state, y = step(Code([COPY, FIRST, PUT, SWAP, CONS, SND]), v, UnitV)
    assert state == v and y == v


def test_repeated_runs_reuse_decoded_code():
    # the same Code object, or an equal one parsed again, gives the same answers
    for _ in range(3):
        assert step(parse_code(to_text(COUNTER)), L(UnitV), IntV(1)) == (IntV(2), L(UnitV))
    assert step(COUNTER, R(UnitV), IntV(2)) == (IntV(2), R(IntV(2)))


# ---------------------------------------------------------------- the fast path agrees with the reference loop



def reference_execute(code: Code, x: Value, s: Value, fuel: int | None = None) -> Result:
    """`cam.machine._exec`, the checked loop, without the translated fast path."""
    acc, reg, steps = machine_module._exec(decoded.decode(code), decoded.inside(x), decoded.inside(s), fuel, None)
    return Result(decoded.outside(reg), decoded.outside(acc), steps)


def outcome(fn, *args):
    try:
        return fn(*args)
    except MachineError as e:
        return (type(e).__name__, str(e), e.config, e.steps)


@contextmanager
def translated_at_once():
    """Translate every code on its first run (normally on its second)."""
    old, jit.JIT_AFTER = jit.JIT_AFTER, 1
    try:
        yield
    finally:
        jit.JIT_AFTER = old


@pytest.fixture
def jit_at_once():
    with translated_at_once():
        yield


@settings(max_examples=scaled(200))
@given(codes(depth=3, max_len=8, ops=[op for op in OPS if op != "APP"]),
       values(depth=2), values(depth=2), st.sampled_from([None, 3, 40]))
def test_fast_path_agrees_on_arbitrary_code(code, x, s, fuel):
    with translated_at_once():
        fast = outcome(execute, code, x, s, fuel)
        assert fast == outcome(reference_execute, code, x, s, fuel)
        assert outcome(execute, code, x, s, fuel) == fast  # again, now from the translation cache


@settings(max_examples=scaled(300))
@given(compiled_runs(max_size=16))
def test_fast_path_agrees_on_compiled_terms(r):
    term, code, sig, x, s = r
    with translated_at_once():
        fast = execute(code, x, s)
    assert fast == reference_execute(code, x, s)
    block = decoded.decode(code)
    assert block.jit is not None or not block.jittable


def test_fast_path_is_taken_and_stuck_inputs_still_raise(jit_at_once):
    machine_module.clear_cache()  # equal codes share a decoded block: start from a fresh one
    code = Code(list(COUNTER))
    assert execute(code, L(UnitV), IntV(0)) == Result(IntV(1), L(UnitV), 16)
    block = decoded.decode(code)
    assert block.jit is not None and block.deopts == 0
    for _ in range(40):  # bad inputs: the reference loop reports them, exactly as without translation
        with pytest.raises(Stuck) as e:
            execute(code, IntV(3), IntV(0))
        assert "BRANCH needs L or R in the accumulator, found Int 3" in str(e.value)
    assert execute(code, R(UnitV), IntV(4)) == Result(IntV(4), R(IntV(4)), 6)


@pytest.mark.parametrize("text, x", [
    ("[FST]", "Int 3"),  # subscripting an int: a TypeError in the translation
    ("[FIRST,CONS]", "L Unit"),  # unpacking an injection
    ("[ADD]", "Pair (Pair (Int 1) (Int 2)) (Pair (Int 3) (Int 4))"),  # tuple + tuple would concatenate
    ("[ADD]", "Pair (Int 1) Unit"),
    ("[SUB]", "Pair (Pair (Int 1) (Int 2)) (Int 3)"),
    ("[MUL]", "Pair (Pair (Int 1) (Int 2)) (Int 3)"),  # tuple * int would repeat the tuple
    ("[CONS]", "Int 1"),  # popping an empty stack: an IndexError
    ("[ROT]", "Int 1"),
    ("[SWAP]", "Int 1"),
    ("[BRANCH [RETURN] [RETURN]]", "Pair Unit Unit"),  # neither L nor R: a KeyError in the branch's table
    ("[INL,BRANCH [CONS,RETURN] [RETURN]]", "Int 1"),  # a CONS that would pop the arm's continuation
    ("[INL,BRANCH [PUSH,ROT,RETURN] [RETURN]]", "Int 1"),  # the continuation under a value at RETURN
    ("[RETURN]", "Int 1"),
])
def test_the_translation_leaves_every_stuck_configuration_to_the_checked_loop(jit_at_once, text, x):
    # what the translated code does where the reference is stuck (an error of Python's, or Deopt) is a
    # fallback, never an answer, and the checked loop's error is what the caller sees
    code, value = parse_code(text), parse_value(x)
    machine_module.clear_cache()
    with pytest.raises(Stuck) as want:
        reference_execute(code, value, UnitV)
    for _ in range(2):
        with pytest.raises(Stuck) as got:
            execute(code, value, UnitV)
        assert str(got.value) == str(want.value)
    block = decoded.decode(code)
    assert block.jit is not None and block.deopts == 2  # translated, and both runs fell back


@pytest.mark.parametrize("dynamic", [False, True])
def test_deep_and_large_code_is_translated_by_cam_loaded(jit_at_once, dynamic):
    # beyond MAX_DEPTH / MAX_SIZE the translation is cam.loaded's: no cliff where speed falls to the checked loop's
    code = Code([GET if dynamic else INL])
    for _ in range(100):
        code = Code([GET if dynamic else INL, Instr("BRANCH", code + Code([RETURN]), Code([RETURN]))])
    code = code + Code([ID] * jit.MAX_SIZE)
    machine_module.clear_cache()
    state = L(UnitV) if dynamic else UnitV
    assert execute(code, UnitV, state) == reference_execute(code, UnitV, state)
    assert execute(code, UnitV, state).steps == 301 + jit.MAX_SIZE
    block = decoded.decode(code)
    assert block.jit is not None and block.deopts == 0
    # a bad input: the checked loop reports it, exactly; with fuel below the size, the checked loop runs it
    bad = IntV(3) if dynamic else UnitV
    for fuel in (None, 300):
        assert outcome(execute, code, UnitV, bad, fuel) == outcome(reference_execute, code, UnitV, bad, fuel)


@settings(max_examples=scaled(200))
@given(values(depth=4))
def test_internal_constructors_match_the_public_ones(v):
    back = decoded.outside(decoded.inside(v))
    assert back == v and hash(back) == hash(v) and type(back) is type(v)
    assert to_text(back) == to_text(v)


def test_unit_survives_pickling():
    u = pickle.loads(pickle.dumps(UnitV))
    assert u is UnitV
    v = pickle.loads(pickle.dumps(Pair(UnitV, L(UnitV))))
    assert step(Code([SND]), v, u) == (UnitV, L(UnitV))


def test_closures_nested_in_quoted_code_do_not_recurse():
    # QUOTE (Closure [QUOTE (Closure [...] Unit)] Unit), 3,000 deep: untrusted code may nest this way
    v = UnitV
    for _ in range(3_000):
        v = Closure(Code([QUOTE(v)]), UnitV)
    assert step(Code([QUOTE(v)]), UnitV, UnitV) == (UnitV, v)
    assert step(Code([ID]), v, v) == (v, v)
    with translated_at_once():
        assert execute(Code([QUOTE(v), INL]), UnitV, UnitV) == Result(UnitV, L(v), 2)
    # and entering them works: APP runs the closure's code on Pair env arg
    inner = Closure(Code([SND, RETURN]), UnitV)
    assert step(Code([QUOTE(Pair(inner, IntV(4))), APP]), UnitV, UnitV) == (UnitV, IntV(4))


# ---------------------------------------------------------------- exhaustive small scope: translation = checked loop


def _both(code: Code, x: Value, s: Value, translated: tuple | None = None) -> tuple:
    """The translation's answer (None: it gave up) and the checked loop's (None: stuck); `translated` is
    ``(block, function)`` from an earlier call, to run more inputs on one translation."""
    if translated is None:
        fast_block = decoded.Block(code, 0, True)  # a fresh decoding, translated at once, bypassing the cache
        d = decoded._Decode()
        d.queue(code, fast_block)
        d.drain()
        fn = jit.translate(fast_block)
    else:
        fast_block, fn = translated
    acc, reg = decoded.inside(x), decoded.inside(s)
    try:
        a, r, steps = fn(acc, reg, [], None)
        fast = (decoded.outside(r), decoded.outside(a), steps)
    except jit.Deopt:
        fast = None  # the machine would fall back to the checked loop
    try:
        acc, reg, steps = machine_module._exec(fast_block, decoded.inside(x), decoded.inside(s), None, None)
        slow = (decoded.outside(reg), decoded.outside(acc), steps)
    except Stuck:
        slow = None
    return fast, slow


def test_translation_agrees_with_the_checked_loop_on_every_small_stack_code():
    # every code of length <= 6 over the stack instructions: the translation keeps pushed values in
    # locals and renames them for ROT/SWAP, exactly where a bug would hide
    ops = [PUSH, ROT, SWAP, CONS, INL]
    x, s = Pair(IntV(1), IntV(2)), IntV(3)
    completed = 0
    for n in range(1, 7):
        for combo in itertools.product(ops, repeat=n):
            fast, slow = _both(Code(combo), x, s)
            assert fast is None or fast == slow, combo  # translated: the same answer and steps
            assert fast is not None or slow is None, combo  # the translation gives up only where the loop is stuck
            completed += fast is not None
    assert completed > 150  # codes that halt (most leave values on the stack: stuck, in both)


def test_translation_agrees_with_the_checked_loop_on_small_branching_code():
    pieces = [(), (PUSH,), (SWAP,), (CONS,), (ROT,), (PUSH, ROT), (COPY, FIRST), (FST,), (PUSH, SWAP, CONS)]
    completed = 0
    for pre, left, right, post in itertools.product(pieces, pieces, pieces[:4], pieces[:4]):
        code = Code([*pre, INL, BRANCH([*left, RETURN], [*right, RETURN]), *post])
        for x in (Pair(IntV(1), IntV(2)), UnitV):
            fast, slow = _both(code, x, IntV(0))
            assert fast is None or fast == slow, code
            assert fast is not None or slow is None, code
            completed += fast is not None
    assert completed > 100


def test_translations_agree_with_the_checked_loop_on_every_small_integer_code():
    # every code of length <= 3 over the integer instructions beyond the reference, a branch on their
    # answers and the stack instructions that feed them: both translations (`cam.jit` on internal values,
    # `cam.loaded` on host values) against the checked loop, on operands at the edges of 64 bits
    branch = Instr("BRANCH", Code([INR, RETURN]), Code([SND, RETURN]))  # L Unit -> R Unit; R (q, r) -> r
    ops = [Instr(op) for op in ("SUB", "MUL", "LT", "EQ", "DIVMOD")] + [PUSH, CONS, COPY, branch]
    inputs = [Pair(IntV(a), IntV(b)) for a, b in ((7, -2), (-7, 2), (3, 0), (INT_MIN, -1), (INT_MAX, 5))]
    inputs.append(Pair(Pair(IntV(1), IntV(2)), IntV(3)))
    completed = 0
    for n in range(1, 4):
        for combo in itertools.product(ops, repeat=n):
            code = Code(combo)
            host_step = machine_module.load(code)
            block = decoded.Block(code, 0, True)
            d = decoded._Decode()
            d.queue(code, block)
            d.drain()
            translated = (block, jit.translate(block))
            for x in inputs:
                fast, slow = _both(code, x, UnitV, translated)
                assert fast is None or fast == slow, (combo, x)
                assert fast is not None or slow is None, (combo, x)
                completed += fast is not None
                want = ("stuck",) if slow is None else (loaded.to_host(decoded.inside(slow[0])),
                                                        loaded.to_host(decoded.inside(slow[1])))
                try:
                    got = host_step(loaded.to_host(decoded.inside(x)), ())
                except Stuck:
                    got = ("stuck",)
                assert got == want, (combo, x)
    assert completed > 200  # halting runs (231 of them, on these inputs)


def test_run_is_step_over_a_list_of_inputs():
    inputs = [L(UnitV), R(UnitV), L(UnitV), L(UnitV), R(UnitV)]
    state, outputs = machine_module.run(COUNTER, inputs, IntV(5))
    s, expected = IntV(5), []
    for x in inputs:
        s, y = step(COUNTER, x, s)
        expected.append(y)
    assert (state, outputs) == (s, expected) == (IntV(8), [L(UnitV), R(IntV(6)), L(UnitV), L(UnitV), R(IntV(8))])
    assert machine_module.run(COUNTER, [], IntV(1)) == (IntV(1), [])
    with pytest.raises(OutOfFuel):
        machine_module.run(COUNTER, [R(UnitV), L(UnitV)], IntV(0), fuel=10)  # the bound is per input
