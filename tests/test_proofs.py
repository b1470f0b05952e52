"""The proofs package: every theorem proved, every broken variant rejected, the symbolic CAM is the real one."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given

from cam.code import BRANCH, CONS, FIRST, FST, INL, INR, PUSH, RETURN, ROT, SECOND, SND, SWAP, Code, quote, unquote
from cam.compiler import DISTR_CODE
from cam.compiler import compile as cam_compile
from cam.machine import MachineError
from cam.machine import run as machine_run
from catlib.equivalence import concretize
from catlib.examples import counter
from catlib.interpreter import run as interpret_run
from catlib.strategies import runs
from catlib.values import Left, Right
from proofs import compiler, laws, machine, upgrade
from proofs.__main__ import main
from proofs.catalog import broken, theorems
from proofs.machine import CALLER, Hole, K


@pytest.mark.parametrize("theorem", theorems(), ids=lambda th: th.name)
def test_every_theorem_is_proved(theorem):
    verdict = theorem.check()
    assert verdict.proved, verdict


@pytest.mark.parametrize("group, name, check", broken(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_broken_variant_is_rejected_with_a_counterexample(group, name, check):
    verdict = check()
    assert not verdict.proved
    assert verdict.counterexample, verdict


def test_python_m_proofs_prints_the_table(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["theorem", "method", "result", "time"]
    n = len(theorems())
    assert f"{n}/{n} theorems proved" in out
    assert "FAILED" not in out
    assert main(["--self-check", "--group", "compiler"]) == 0
    assert "NOT REJECTED" not in capsys.readouterr().out


# ---------------------------------------------------------------- the symbolic CAM is the real machine

@given(runs(max_size=12))
def test_symbolic_machine_agrees_with_cam_machine_on_concrete_values(r):
    f, sig, x, s = r
    code = cam_compile(f)
    ends = machine.run(machine.from_code(code), machine.symbolic_value(x), machine.symbolic_value(s))
    assert len(ends) == 1
    end = ends[0]
    assert end.kind == "halt", end
    real_state, real_output = machine_run(code, quote(x), quote(s))
    assert quote(concretize(end.acc, {}, {})) == real_output
    assert quote(concretize(end.reg, {}, {})) == real_state


@pytest.mark.parametrize("text, why", [
    ("[FST]", "FST needs a Pair"),
    ("[SWAP]", "SWAP needs a value on the stack"),
    ("[CONS]", "CONS needs a value on the stack"),
    ("[RETURN]", "RETURN needs a code continuation"),
    ("[ROT]", "ROT needs two entries"),
    ("[BRANCH [ID] [ID]]", "BRANCH needs L or R"),
    ("[PUSH]", "the code ended but the stack is not empty"),
    ("[ADD]", "ADD needs a Pair of two Ints"),
])
def test_symbolic_machine_gets_stuck_where_the_real_one_does(text, why):
    from cam.code import Int, parse_code
    code = parse_code(text)
    with pytest.raises(MachineError):
        machine_run(code, Int(3), Int(0))
    (end,) = machine.run(machine.from_code(code), sympy.Integer(3), sympy.Integer(0))
    assert end.kind == "stuck" and why in end.reason


def test_stack_discipline_violations_are_caught():
    x = (sympy.Symbol("a"), sympy.Symbol("b"))
    for code in [(Hole("f"), machine.Op("CONS"), K), (machine.Op("SWAP"), K), (machine.Op("RETURN"), K)]:
        (end,) = machine.run(code, x, sympy.Symbol("s"), (CALLER,))
        assert end.kind == "stuck" and "caller's stack" in end.reason
    (end,) = machine.run((machine.Op("FIRST"), K), x, sympy.Symbol("s"), (CALLER,))
    assert end.kind == "k" and end.stack == (CALLER, sympy.Symbol("b"))


# ---------------------------------------------------------------- templates are the compiler's

def test_templates_are_the_reference_scheme():
    assert compiler.template("Par") == machine.from_code(Code([FIRST])) + (Hole("f"),) + machine.from_code(
        Code([SWAP, CONS, SECOND])) + (Hole("g"),) + machine.from_code(Code([CONS]))
    assert compiler.template("Case") == (machine.Branch((Hole("f"), machine.Op("RETURN")),
                                                        (Hole("g"), machine.Op("RETURN"))),)
    assert compiler.template("Compose") == (Hole("f"), Hole("g"))
    assert compiler.template("Distr") == machine.from_code(DISTR_CODE)
    assert DISTR_CODE == Code([PUSH, FST, BRANCH([ROT, SWAP, SND, CONS, INL, RETURN],
                                                 [ROT, SWAP, SND, CONS, INR, RETURN])])
    for k in (0, -1, 2**63 - 1, -(2**63), 12345):
        from catlib.free import Const
        assert cam_compile(Const(k)) == compiler.fill(compiler.template("Const"), {}, k)


@given(runs(max_size=14))
def test_compile_is_syntax_directed(r):
    # the induction rests on compile(C(f, g)) = template_C[compile f, compile g] for *every* f, g
    f = r[0]
    templates = {op: compiler.template(op) for op in compiler.CONSTRUCTORS}
    assert compiler.compile_with(templates, f) == cam_compile(f)


# ---------------------------------------------------------------- upgrades

def test_reference_upgrade_state_resets_the_count():
    # the refutation, concretely: from 1, one `count` answers 1 in version 1 but 0 after upgrade_state
    _, mig = interpret_run(counter.upgrade_state, [1], ())
    assert mig == [(1, 0)]
    assert interpret_run(counter.counter_sm, [Right(())], 1)[1] == [Right(1)]
    assert interpret_run(counter.counter_sm2, [Right(())], (1, 0))[1] == [Right(0)]
    # the seed's Erlang migration keeps it
    assert interpret_run(upgrade.SEED_MIGRATION, [1], ())[1] == [(1, 1)]
    assert interpret_run(counter.counter_sm2, [Left(()), Right(())], (1, 1))[1] == [Left(()), Right(2)]


def test_counterexamples_are_confirmed_by_the_interpreter_and_machine():
    v = compiler.verify("Par", compiler.BROKEN["Par swapped"][1])
    assert "machine output" in v.counterexample and "interpreter output" in v.counterexample
    v = laws.refute_with_state(laws.LAWS["par interchange"])
    assert v.proved and v.counterexample
    assert unquote(quote((1, Left(())))) == (1, Left(()))
