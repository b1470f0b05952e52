"""Properties of cam.verifier: compiling preserves types; well-typed code does not go wrong; fuzzing.

Random code comes from `cam.fuzz.CodeFuzzer` driven by `catlib.strategies.randoms()` (hypothesis's choices), so failures
replay and shrink.  ``python -m cam verify --fuzz N`` runs the same cases as a long campaign.
"""

from __future__ import annotations

import functools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cam.code import BRANCH, CURRY, QUOTE, RETURN, Closure, Code, Instr, IntV, L, Pair, UnitV
from cam.compiler import compile
from cam.fuzz import CodeFuzzer, Unsound, run_verified
from cam.hostvalue import quote
from cam.machine import step
from cam.strategies import codes
from cam.text import parse_code
from cam.verifier import BytecodeError, check_value, value_has_type, verify
from catlib.strategies import randoms, typed_terms, types
from catlib.strategies import values as _values
from catlib.tree import Tree
from catlib.typecheck import infer
from catlib.values import has_type
from tests.conftest import scaled
from tests.rates import Tally

values = functools.cache(_values)  # a strategy per type, made once (hypothesis's `composite` reads source each time)

FUZZ = randoms()  # (st.randoms(use_true_random=False)'s choices, drawn without its bookkeeping per call)


@settings(max_examples=scaled(300))
@given(typed_terms(max_size=16))
def test_compile_preserves_types(case):
    term, ground = case
    code = compile(term)
    assert verify(code).normalized() == infer(term).normalized()
    assert verify(code, *ground) == ground


@settings(max_examples=scaled(200))
@given(FUZZ)
def test_variants_preserve_types_and_meaning(rng):
    """Code using PUSH, ROT, CURRY, APP and QUOTEd closures for the same term: same type, same results."""
    fz = CodeFuzzer(rng)
    term, ground = fz.term()
    code = fz.variant(term, wrap=0.3)
    assert verify(code).normalized() == infer(term).normalized()
    state, x = fz.value(ground.state), fz.value(ground.input)
    assert step(code, x, state) == step(compile(term), x, state)


@settings(max_examples=scaled(200))
@given(typed_terms(max_size=16), FUZZ)
def test_well_typed_compiled_code_does_not_go_wrong(case, rng):
    term, _ = case
    code = compile(term)
    run_verified(code, verify(code), CodeFuzzer(rng))  # raises Unsound if stuck or ill-typed results


def verifying(fz: CodeFuzzer, make, tries: int = 20) -> Code | None:
    for _ in range(tries):
        code = make()
        try:
            verify(code)
            return code
        except BytecodeError:
            pass
    return None


REPAIRED = Tally("ran", at_least=0.6)  # 86-92% when written


@REPAIRED.checked
@settings(max_examples=scaled(200))
@given(FUZZ)
def test_random_code_that_verifies_does_not_go_wrong(rng):
    """Random instructions, repaired where the verifier rejects them, until they verify."""
    fz = CodeFuzzer(rng)
    code = verifying(fz, lambda: fz.repair(fz.random_code(rng.randint(1, 12), depth=2), tries=12), tries=4)
    REPAIRED("ran" if code is not None else "not repaired")
    if code is not None:
        for _ in range(3):
            run_verified(code, verify(code), fz)


MUTANTS = Tally("ran", at_least=0.12)  # 26-36% when written


@MUTANTS.checked
@settings(max_examples=scaled(300))
@given(FUZZ)
def test_mutants_are_rejected_or_run(rng):
    """Mutations of compiled code and of its variants (drop, duplicate, swap, replace, insert, re-QUOTE)."""
    fz = CodeFuzzer(rng)
    term, _ = fz.term()
    code = fz.mutate(compile(term) if rng.randrange(2) else fz.variant(term, wrap=0.3))
    try:
        sig = verify(code)
    except BytecodeError:
        return MUTANTS("rejected")
    MUTANTS("ran")
    for _ in range(3):
        run_verified(code, sig, fz)


FUZZED = Tally("ran", at_least=0.15)  # 36-60% when written


@FUZZED.checked
@settings(max_examples=scaled(300))
@given(FUZZ)
def test_fuzz_cases_are_rejected_or_run(rng):
    fz = CodeFuzzer(rng)
    _, code = fz.case()
    try:
        sig = verify(code)
    except BytecodeError:
        return FUZZED("rejected")
    FUZZED("ran")
    run_verified(code, sig, fz)  # raises Unsound if it gets stuck, answers ill-typed values or does not halt


@settings(max_examples=scaled(200))
@given(types(), types(), st.data())
def test_check_value_agrees_with_host_typing(t, u, data):
    v = data.draw(values(t))
    assert value_has_type(quote(v), t)
    assert value_has_type(quote(v), u) == has_type(v, u)


@settings(max_examples=scaled(200))
@given(FUZZ)
def test_generated_values_have_their_types(rng):
    fz = CodeFuzzer(rng)
    t = fz.ground([fz.gen.type()])[0]
    check_value(fz.value(t), t)


# ---------------------------------------------------------------- malformed objects


def junk_tree(rng: random.Random, depth: int = 3) -> object:
    """Objects shaped almost like code: wrong kinds, arities, labels (bounded recursion)."""
    k = rng.randrange(9)
    if depth <= 0 or k == 0:
        return rng.choice([UnitV, IntV(rng.randint(-3, 3)), None, 7, "ID", (), Code([])])
    kids = tuple(junk_tree(rng, depth - 1) for _ in range(rng.randrange(4)))
    cls = rng.choice([Code, Instr, Pair, Code, Instr, L, Closure])
    x = cls.__new__(cls)
    label = rng.choice([None, "QUOTE", "BRANCH", "CURRY", "ID", "RETURN", 3, "NOPE"]) if cls is Instr else None
    try:
        Tree.__init__(x, *kids, label=label)
    except TypeError:  # an unhashable kid
        return Code([])
    return x


@settings(max_examples=scaled(300))
@given(FUZZ)
def test_malformed_code_gives_bytecode_error_only(rng):
    candidates = [junk_tree(rng)]
    good = [QUOTE(Pair(IntV(1), UnitV)), RETURN, BRANCH(Code([RETURN]), Code([RETURN])), CURRY(Code([RETURN]))]
    candidates.append(Code(rng.sample(good, rng.randint(0, 4))))
    for x in candidates:
        try:
            verify(x)  # type: ignore[arg-type]
        except BytecodeError as e:
            assert e.expected and e.found is not None
        for t in ("(Int, ())", "Int", "Either () a", "a", "() -> ()"):
            try:
                check_value(x, t)  # type: ignore[arg-type]
            except TypeError as e:
                assert type(e).__name__ == "ValueTypeError"


def test_running_out_of_fuel_on_verified_code_is_unsound():
    # verified code always halts: a run that exhausts the step bound is a verifier bug, not a pass
    code = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] "
                      "[ID,GET,INR,RETURN]]")
    sig = verify(code)
    with pytest.raises(Unsound, match="did not halt within 3 steps"):
        run_verified(code, sig, CodeFuzzer(0), fuel=3)
    assert run_verified(code, sig, CodeFuzzer(0))  # with the campaign's bound it halts


def test_campaign_command(capsys, tmp_path):
    from cam.cli import verify as main

    assert main(["--fuzz", "60", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "generated: 60" in out and "stuck: 0" in out and "crashed: 0" in out
    f = tmp_path / "code.txt"
    f.write_text("[COPY,FIRST,SND,SWAP,CONS,SECOND,FST,CONS]\n")
    assert main([str(f)]) == 0 and capsys.readouterr().out.strip() == "a / (b, c) -> (c, b)"
    f.write_text("[PUSH]")
    assert main([str(f)]) == 1 and "unbalanced stack" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.txt")]) == 2 and "cannot read" in capsys.readouterr().err


# 'ran' in 49-54% of the examples when the floor of 25% was written, 28-45% now (22% seen once, failing it).  The
# codes drawn alone verify in 24-31% of a run's examples, then and now (21-29%): the rest of the share came from
# the fuzzer's draws after them (hypothesis avoids repeating an example, and a verified code's fuzzing makes it
# new), which the randoms() rework changed.  The floor is the fuzzed property's, under what the codes give.
ARBITRARY = Tally("ran", at_least=0.15)


@ARBITRARY.checked
@settings(max_examples=scaled(300))
@given(st.one_of(codes(max_len=5), codes(ops=("PUSH", "ROT", "SWAP", "CONS", "FST", "SND", "COPY", "INL", "INR",
                                              "BRANCH", "RETURN", "CURRY", "APP", "QUOTE"), max_len=5)),
       FUZZ)
def test_arbitrary_code_is_rejected_or_runs(code, rng):
    """Arbitrary instruction sequences from `cam.strategies.codes` (they shrink well)."""
    try:
        sig = verify(code)
    except BytecodeError:
        return ARBITRARY("rejected")
    ARBITRARY("ran")
    fz = CodeFuzzer(rng)
    for _ in range(2):
        run_verified(code, sig, fz)
