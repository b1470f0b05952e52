"""The machine's translated fast path carries its claim: it computes what the checked loop computes.

`cam.machine` runs a code either in `_exec`, the checked loop (every
transition checked, `Stuck` where none applies), or, from its `JIT_AFTER`-th
run on, in a translation to Python that abandons the run (raises its internal
`_Deopt`) wherever the checked loop would be stuck, the checked loop then
running the input again.  Random code rarely reaches the translation's
interesting cases (values it keeps in local variables, ``ROT`` of two of them
renamed rather than moved, kinds it knows statically), so here the check is
exhaustive over a small scope:

- straight-line code: every code of length at most 6 over ``PUSH``, ``ROT``,
  ``SWAP``, ``CONS``, ``INL``;
- one ``BRANCH``: every ``p ++ [BRANCH (l ++ [RETURN]) (r ++ [RETURN])] ++ q``
  with ``|p| + |l| + |r| + |q| <= 3`` over the same five instructions, and,
  up to 2, the same with the left block lacking its ``RETURN``;

each run on several initial accumulators.  The one reduction: a code is not
extended once it is stuck *before its end* on every accumulator (both paths
stop at that instruction, which the code itself has checked; what follows is
never run), and a ``BRANCH`` code is skipped when its prefix ``p`` is.

For each run: the translated function, called directly, either returns what
the checked loop returns (output, state and step count) or abandons exactly
when the checked loop is stuck; the public `execute`, forced through the
translation, gives the checked loop's outcome, errors included (`Stuck` with
the same configuration and step; `OutOfFuel` at the same step), and never
anything else (a broken stuck exit in the translated source, a `NameError`,
would escape).

Internal names used (the camcore split must keep them, or their successors):
``cam.machine._decode``, ``_exec``, ``_inside``, ``_outside``, ``_Deopt``,
``JIT_AFTER``, the decoded block's ``jit``, ``jittable`` and ``deopts``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

import cam.machine as machine
from cam.code import BRANCH, CONS, INL, PUSH, RETURN, ROT, SWAP, Code, Int, L, Pair, R, Unit, Value, parse_code
from cam.machine import MachineError, OutOfFuel, Result, Stuck, execute
from cam.strategies import compiled_runs
from tests.conftest import scaled

STACK_OPS = [PUSH, ROT, SWAP, CONS, INL]
STATE = Int(0)
STRAIGHT_ACCS = [Unit, Int(5), Pair(Int(1), L(Unit))]
BRANCH_ACCS = [L(Unit), R(Int(1)), Unit, L(Pair(Int(1), Int(2)))]


def checked(code: Code, x: Value, s: Value, fuel: int | None = None) -> Result:
    """The checked loop alone (the translation never runs)."""
    acc, reg, steps = machine._exec(machine._decode(code), machine._inside(x), machine._inside(s), fuel, None)
    return Result(machine._outside(reg), machine._outside(acc), steps)  # type: ignore[arg-type]


def translated(code: Code, x: Value, s: Value) -> Result | None:
    """The translated function alone, called directly: its result, or None where it abandons the run."""
    block = machine._decode(code)
    assert block.jit is not None, "the code was not translated"
    try:
        acc, reg, steps = block.jit(machine._inside(x), machine._inside(s), [], None)
    except machine._Deopt:
        return None
    return Result(machine._outside(reg), machine._outside(acc), steps)  # type: ignore[arg-type]


def outcome(fn: Any, *args: Any) -> Any:
    """A result, or the error in full: kind, message, configuration, step."""
    try:
        return fn(*args)
    except MachineError as e:
        return (type(e).__name__, str(e), e.config, e.steps)


def stuck_inside(code: Code, accs: list[Value]) -> bool:
    """Stuck before the end of `code` on every accumulator: no extension of it runs further."""
    for x in accs:
        try:
            checked(code, x, STATE)
            return False
        except Stuck as e:
            if len(e.config.code) == 0:  # stuck at the end (a stack left over): an extension may go on
                return False
    return True


def straight_codes(max_len: int) -> Iterator[Code]:
    frontier = [Code()]
    for length in range(max_len + 1):
        grown = []
        for c in frontier:
            yield c
            if length < max_len and not stuck_inside(c, STRAIGHT_ACCS):
                grown += [Code([*c, op]) for op in STACK_OPS]
        frontier = grown


def branch_codes(total: int) -> Iterator[Code]:
    for n in range(total + 1):
        for a, b, c in itertools.combinations_with_replacement(range(n + 1), 3):
            for word in itertools.product(STACK_OPS, repeat=n):
                p, left, right, q = word[:a], word[a:b], word[b:c], word[c:]
                if stuck_inside(Code(list(p)), BRANCH_ACCS):
                    continue
                for returns in (True, False) if n < total else (True,):
                    lb = Code([*left, RETURN] if returns else list(left))
                    yield Code([*p, BRANCH(lb, Code([*right, RETURN])), *q])


@pytest.fixture
def translate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every code is translated on its first run (normally on its second)."""
    monkeypatch.setattr(machine, "JIT_AFTER", 1)


def compare(codes: Iterator[Code], accs: list[Value]) -> dict[str, int]:
    """Check every code on every accumulator (see the module docstring); counts of what was seen."""
    seen = {"codes": 0, "completed": 0, "abandoned": 0, "out of fuel": 0}
    for code in codes:
        seen["codes"] += 1
        machine.clear_cache()  # each code is decoded and translated afresh, whatever ran before
        abandoned = 0
        for x in accs:
            ref = outcome(checked, code, x, STATE)
            assert outcome(execute, code, x, STATE) == ref, (code, x)
            fast = translated(code, x, STATE)
            if fast is None:
                assert ref[0] == "Stuck", f"{code} on {x}: the translation gave up where the loop runs: {ref}"
                abandoned += 1
            else:
                assert fast == ref, (code, x)
                seen["completed"] += 1
            if isinstance(ref, Result) and ref.steps:  # one step short of fuel: OutOfFuel at that step
                short = outcome(execute, code, x, STATE, ref.steps - 1)
                assert short == outcome(checked, code, x, STATE, ref.steps - 1), (code, x)
                assert short[0] == "OutOfFuel" and short[3] == ref.steps - 1
                assert outcome(execute, code, x, STATE, ref.steps) == ref
                seen["out of fuel"] += 1
        # the public runs went through the translation: it gave up exactly as often as called directly
        assert machine._decode(code).deopts == abandoned, code
        seen["abandoned"] += abandoned
    return seen


def test_straight_line_code_up_to_length_6(translate_at_once: None) -> None:
    seen = compare(straight_codes(6), STRAIGHT_ACCS)
    # the scope is what it says, and both outcomes are well represented (figures when written:
    # 2,226 codes, 627 runs completed in the translation, 6,051 abandoned where the loop is stuck)
    assert seen["codes"] > 2_000 and seen["completed"] > 500 and seen["abandoned"] > 5_000, seen


def test_code_with_one_branch(translate_at_once: None) -> None:
    seen = compare(branch_codes(3), BRANCH_ACCS)
    # (when written: 2,069 codes, 1,114 runs completed, 7,162 abandoned)
    assert seen["codes"] > 2_000 and seen["completed"] > 1_000 and seen["abandoned"] > 6_500, seen


def test_the_translations_own_stuck_exits_raise_stuck(translate_at_once: None) -> None:
    # each kind of check the translated source makes, failing: the public answer is the loop's Stuck
    cases = {
        "[CONS]": Unit, "[SWAP]": Unit, "[PUSH,ROT]": Unit, "[FST]": Int(1), "[SND]": Unit,
        "[FIRST]": Int(1), "[SECOND]": L(Unit), "[ADD]": Pair(Int(1), Unit), "[BRANCH [RETURN] [RETURN]]": Unit,
        "[BRANCH [PUSH,RETURN] [RETURN]]": L(Unit), "[BRANCH [ID] [RETURN]]": L(Unit), "[PUSH]": Unit,
        "[RETURN]": Unit, "[COPY,FIRST,INL,BRANCH [CONS,CONS,RETURN] [RETURN]]": Int(2),
    }
    for text, x in cases.items():
        code = parse_code(text)
        with pytest.raises(Stuck) as e:
            execute(code, x, STATE)
        assert machine._decode(code).jit is not None and machine._decode(code).deopts == 1, text
        assert outcome(execute, code, x, STATE) == outcome(checked, code, x, STATE), text
        assert e.value.config == outcome(checked, code, x, STATE)[2]


def test_the_translation_is_not_asked_to_run_short_of_fuel(translate_at_once: None) -> None:
    code = Code([PUSH, CONS, INL])
    with pytest.raises(OutOfFuel) as e:
        execute(code, Unit, STATE, 2)
    assert e.value.steps == 2 and e.value.config.code == Code([INL])


@settings(max_examples=scaled(300))
@given(compiled_runs(max_size=16))
def test_the_fast_path_completes_on_compiled_code(r: Any) -> None:
    """Compiled well-typed code on well-typed values: the translation runs to the end, never gives up."""
    term, code, sig, x, s = r
    machine.clear_cache()
    block = machine._decode(code)
    assert block.jittable, "small compiled code is translated"
    ref = checked(code, x, s)
    assert execute(code, x, s) == ref  # first run: the checked loop
    assert execute(code, x, s) == ref  # second run: translated
    assert block.jit is not None and block.deopts == 0, "the fast path fell back on a well-typed input"
    assert translated(code, x, s) == ref
