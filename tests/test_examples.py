"""The example machines: the seed's counter byte-for-byte, and each family against a plain-Python model."""

from __future__ import annotations

import pytest

from cam.code import L, R, Unit, parse_code, to_text
from cam.compiler import compile
from cam.machine import execute
from catlib.examples import counter
from catlib.typecheck import check

# cam-reference.md, "Test vectors", exactly as printed by the reference compiler
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
    ("counter_sm", L(Unit), 16), ("counter_sm", R(Unit), 6),
    ("counter_sm2", L(Unit), 26), ("counter_sm2", R(Unit), 7),
])
def test_counter_steps_match_the_reference(name: str, input: object, steps: int) -> None:
    from cam.code import Int, Pair

    state = Int(0) if name == "counter_sm" else Pair(Int(0), Int(0))
    assert execute(compile(getattr(counter, name)), input, state).steps == steps  # type: ignore[arg-type]


def test_counter_programs_and_upgrade_check() -> None:
    counter.UPGRADE.check()
    assert counter.COUNTER.initial == 0 and counter.COUNTER2.initial == (0, 0)
