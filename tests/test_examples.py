"""The example machines: the seed's counter byte-for-byte, and each family against a plain-Python model."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cam.code import L, R, UnitV, to_text
from cam.compiler import compile
from cam.hostvalue import quote, unquote
from cam.machine import execute
from cam.text import parse_code
from catlib.examples import counter, registers, turnstile
from catlib.interpreter import run as interpret
from catlib.program import Program, Upgrade
from catlib.strategies import values
from catlib.typecheck import check
from catlib.values import Left, Right, add64

# docs/reference.md, "Test vectors", exactly as printed by the reference compiler
REFERENCE = {
    "counter_sm": "[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]",
    "counter_sm2": "[ID,BRANCH [COPY,FIRST,ID,GET,FST,SWAP,CONS,SECOND,ID,GET,SND,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,CONS,PUT,INL,RETURN] [ID,GET,SND,INR,RETURN]]",
    "upgrade_state": "[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]",
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_counter_bytecode_is_the_reference_text(name: str) -> None:
    code = compile(getattr(counter, name))
    assert to_text(code) == REFERENCE[name]
    assert parse_code(REFERENCE[name]) == code


@pytest.mark.parametrize("name, state, input, output", [
    ("counter_sm", "Int", "Either () ()", "Either () Int"),
    ("counter_sm2", "(Int, Int)", "Either () ()", "Either () Int"),
    ("upgrade_state", "()", "Int", "(Int, Int)"),
])
def test_counter_signatures(name: str, state: str, input: str, output: str) -> None:
    check(getattr(counter, name), state, input, output)


@pytest.mark.parametrize("name, input, steps", [
    ("counter_sm", L(UnitV), 16), ("counter_sm", R(UnitV), 6),
    ("counter_sm2", L(UnitV), 26), ("counter_sm2", R(UnitV), 7),
])
def test_counter_steps_match_the_reference(name: str, input: object, steps: int) -> None:
    from cam.code import IntV, Pair

    state = IntV(0) if name == "counter_sm" else Pair(IntV(0), IntV(0))
    assert execute(compile(getattr(counter, name)), input, state).steps == steps  # type: ignore[arg-type]


def test_counter_programs_and_upgrade_check() -> None:
    counter.UPGRADE.check()
    assert counter.COUNTER.initial == 0 and counter.COUNTER2.initial == (0, 0)


# ------------------------------------------------- every family against a plain-Python model




Step = Callable[[Any, Any], tuple[Any, Any]]


def counter_model(n: int, cmd: Any) -> tuple[int, Any]:
    return (add64(n, 1), Left(())) if isinstance(cmd, Left) else (n, Right(n))


def counter2_model(s: tuple[int, int], cmd: Any) -> tuple[tuple[int, int], Any]:
    old, new = s
    return ((old, add64(new, 1)), Left(())) if isinstance(cmd, Left) else (s, Right(new))


def registers_model(s: tuple[int, int], cmd: Any) -> tuple[tuple[int, int], int]:
    a, b = s
    if cmd == registers.SWAP:
        a, b = b, a
    elif cmd == registers.ACC:
        a = add64(a, b)
    else:
        b = cmd.value
    return (a, b), a


def registers2_model(s: tuple[tuple[int, int], int], cmd: Any) -> tuple[Any, int]:
    regs, n = s
    regs, out = registers_model(regs, cmd)
    return (regs, add64(n, 1)), out


def turnstile_model(s: tuple[Any, int], cmd: Any) -> tuple[Any, Any]:
    lock, passes = s
    if cmd == turnstile.COIN:
        return ((turnstile.UNLOCKED, passes), turnstile.THANKS) if lock == turnstile.LOCKED else (s, turnstile.REFUND)
    if lock == turnstile.LOCKED:
        return s, turnstile.BLOCKED
    return (turnstile.LOCKED, add64(passes, 1)), turnstile.passed(add64(passes, 1))


def turnstile2_model(s: tuple[tuple[Any, int], int], cmd: Any) -> tuple[Any, Any]:
    (lock, passes), coins = s
    if cmd == turnstile.COIN:  # version 2 keeps every coin
        return ((turnstile.UNLOCKED, passes), add64(coins, 1)), turnstile.THANKS
    if lock == turnstile.LOCKED:
        return s, turnstile.BLOCKED
    return ((turnstile.LOCKED, add64(passes, 1)), coins), turnstile.passed(add64(passes, 1))


FAMILIES: dict[str, tuple[Upgrade, Step, Step, Callable[[Any], Any]]] = {
    "counter": (counter.UPGRADE, counter_model, counter2_model, lambda n: (n, 0)),
    "registers": (registers.UPGRADE, registers_model, registers2_model, lambda s: (s, 0)),
    "turnstile": (turnstile.UPGRADE, turnstile_model, turnstile2_model,
                  lambda s: (s, s[1] if s[0] == turnstile.LOCKED else add64(s[1], 1))),
}


def model_run(model: Step, inputs: list[Any], state: Any) -> tuple[Any, list[Any]]:
    outputs = []
    for x in inputs:
        state, y = model(state, x)
        outputs.append(y)
    return state, outputs


compiled = functools.cache(compile)
"""`compile`, once per program: the properties below run the same few programs on every example."""


def machine_run(prog: Program, inputs: list[Any], state: Any) -> tuple[Any, list[Any]]:
    """Run the compiled program on the CAM, one `execute` per input, as a node does."""
    code, s, outputs = compiled(prog.term), quote(state), []
    for x in inputs:
        r = execute(code, quote(x), s)
        s = r.state
        outputs.append(unquote(r.output))
    return unquote(s), outputs


def migrate(migration: Program, state: Any) -> tuple[Any, Any]:
    """The new state by the interpreter and by the machine (the old state in the accumulator, ``()`` in the register)."""
    _, by_interpreter = interpret(migration.term, [state], ())
    r = execute(compiled(migration.term), quote(state), quote(()))
    assert unquote(r.state) == ()
    return by_interpreter[0], unquote(r.output)


@functools.cache  # one strategy per family: making one per example (and hypothesis validating it) cost more than it
def sessions(family: str) -> st.SearchStrategy[tuple[list[Any], Any, list[Any]]]:
    """Commands for version 1, its starting state, then commands for version 2 after the upgrade."""
    up = FAMILIES[family][0]
    commands = st.lists(values(up.old.input), max_size=12)
    return st.tuples(commands, st.one_of(st.just(up.old.initial), values(up.old.state)), commands)


def _check_family(family: str, session: tuple[list[Any], Any, list[Any]]) -> None:
    up, model1, model2, model_migrate = FAMILIES[family]
    before, s0, after = session
    want1 = model_run(model1, before, s0)
    assert interpret(up.old.term, before, s0) == want1
    assert machine_run(up.old, before, s0) == want1
    s1 = model_migrate(want1[0])
    assert migrate(up.migration, want1[0]) == (s1, s1)
    want2 = model_run(model2, after, s1)
    assert interpret(up.new.term, after, s1) == want2
    assert machine_run(up.new, after, s1) == want2


@given(sessions("counter"))
def test_counter_family_against_its_model(session: tuple) -> None:
    _check_family("counter", session)


@given(sessions("registers"))
def test_registers_family_against_its_model(session: tuple) -> None:
    _check_family("registers", session)


@given(sessions("turnstile"))
def test_turnstile_family_against_its_model(session: tuple) -> None:
    _check_family("turnstile", session)


@given(sessions("registers"))
def test_registers2_refines_registers(session: tuple) -> None:
    """After the upgrade a client sees exactly version 1's answers."""
    _, s0, commands = session
    _, outputs1 = interpret(registers.registers, commands, s0)
    _, outputs2 = interpret(registers.registers2, commands, (s0, 0))
    assert outputs1 == outputs2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_programs_check(family: str) -> None:
    up = FAMILIES[family][0]
    up.check()
    for prog in (up.old, up.new, up.migration):
        assert str(prog.check()) == str(prog.signature)


def test_kase_with_is_used_where_documented() -> None:
    from catlib.free import Distr, subterms

    for t in (registers.registers, registers.registers2, turnstile.turnstile, turnstile.turnstile2,
              turnstile.upgrade_turnstile):
        assert any(sub == Distr for _, sub in subterms(t))
