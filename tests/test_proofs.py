"""The proofs package: every theorem proved, every broken variant rejected, the symbolic CAM is the real one."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given

from cam.code import BRANCH, CONS, FST, INL, INR, PUSH, QUOTE, RETURN, ROT, SND, SWAP, Code, IntV
from cam.compiler import DISTR_CODE, TEMPLATES, instantiate
from cam.compiler import compile as cam_compile
from cam.hostvalue import quote, unquote
from cam.machine import MachineError
from cam.machine import step as machine_run
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
    """The table of one group, in-process (every group, through the real command line, is checked by
    tests/test_papers.py, whose build runs ``python -m proofs`` and ``--self-check``)."""
    assert main(["--group", "compiler"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["theorem", "method", "result", "time"]
    n = len(theorems(("compiler",)))
    assert 0 < n < len(theorems()) and f"{n}/{n} theorems proved" in out
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
    from cam.code import IntV
    from cam.text import parse_code
    code = parse_code(text)
    with pytest.raises(MachineError):
        machine_run(code, IntV(3), IntV(0))
    (end,) = machine.run(machine.from_code(code), sympy.Integer(3), sympy.Integer(0))
    assert end.kind == "stuck" and why in end.reason


def test_stack_discipline_violations_are_caught():
    x = (sympy.Symbol("a"), sympy.Symbol("b"))
    for code in [[Hole("f"), machine.op("CONS"), K], [machine.op("SWAP"), K], [machine.op("RETURN"), K],
                 [machine.op("PUSH"), machine.op("ROT"), K]]:
        (end,) = machine.run(code, x, sympy.Symbol("s"), (CALLER,))
        assert end.kind == "stuck" and "caller's stack" in end.reason
    (end,) = machine.run([machine.op("FIRST"), K], x, sympy.Symbol("s"), (CALLER,))
    assert end.kind == "k" and end.stack == (CALLER, sympy.Symbol("b"))


# ---------------------------------------------------------------- templates are the compiler's

def test_templates_are_the_reference_scheme():
    # the rows the proofs check are the compiler's own table, read as the symbolic machine's blocks
    op = machine.op
    assert compiler.template("Par") == [op("FIRST"), Hole("f"), op("SWAP"), op("CONS"), op("SECOND"), Hole("g"),
                                        op("CONS")]
    assert compiler.template("Case") == [op("BRANCH", ([Hole("f"), op("RETURN")], [Hole("g"), op("RETURN")]))]
    assert compiler.template("Compose") == [Hole("f"), Hole("g")]
    assert compiler.template("Const") == [op("QUOTE", compiler.K_SYMBOL)]
    assert compiler.template("Distr") == machine.from_code(DISTR_CODE)
    assert DISTR_CODE == Code([PUSH, FST, BRANCH([ROT, SWAP, SND, CONS, INL, RETURN],
                                                 [ROT, SWAP, SND, CONS, INR, RETURN])])
    assert compiler.CONSTRUCTORS == tuple(TEMPLATES)
    for k in (0, -1, 2**63 - 1, -(2**63), 12345):
        from catlib.free import Const
        assert cam_compile(Const(k)) == compiler.compile_with(TEMPLATES, Const(k)) == Code([QUOTE(IntV(k))])


@given(runs(max_size=14))
def test_compile_is_the_fold_of_the_template_table(r):
    # the induction rests on compile(C(f, g)) = template_C[compile f, compile g] for *every* f, g:
    # compile agrees with the proofs' own, independent fold of the table it proves
    f = r[0]
    assert compiler.compile_with(TEMPLATES, f) == cam_compile(f) == instantiate(TEMPLATES, f)


def test_the_fold_check_rejects_special_cases_deeper_in_a_term():
    # a compiler special-casing a subterm is caught where the subterm sits inside a larger term too
    bad = compiler.BROKEN_COMPILERS["compile special-cases the shape Par(Id, Id) as ID"]
    from catlib.free import Compose, Const, Id, Par
    t = Compose(Const(3), Par(Id, Id))
    assert bad(t) != cam_compile(t) and bad(Const(3)) == cam_compile(Const(3))
    assert not compiler.agrees(bad).proved and compiler.agrees().proved


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


# ---------------------------------------------------------------- adapters and ways back (proofs.adapters)

def _counter_by() -> tuple[object, object]:
    """A counter whose ``incr`` says by how much (input ``Either Int ()``), and its input adapter from version 1."""
    from catlib.program import Program
    from catlib.syntax import inl, inr, kase, konst, pget, pput, sm

    by = sm(lambda cmd: kase(lambda k: inl(pput(pget(k) + k)), lambda u: inr(pget(u)), cmd))
    new = Program("counter by", by, "Int", "Either Int ()", "Either () Int", 0)

    def adapter(step_size: int) -> object:
        return sm(lambda cmd: kase(lambda u: inl(konst(step_size, u)), inr, cmd))
    return new, adapter


def test_an_input_adapter_is_proved_to_keep_old_clients_answers_and_a_wrong_one_is_refuted():
    from catlib.examples.counter import COUNTER
    from catlib.symbolic import same
    from proofs.upgrade import Simulation, preserved

    new, adapter = _counter_by()
    sim = Simulation("by one", COUNTER, new, "R(n, m) :<=> m == n", related=lambda n: n,
                     holds=lambda a, b, c: same(a, b, c), input_adapter=adapter(1))
    assert preserved(sim).proved
    wrong = preserved(Simulation("by two", COUNTER, new, sim.relation, sim.related, sim.holds,
                                 input_adapter=adapter(2)))
    assert not wrong.proved and "input Left(()): old from 0 -> Left(()), state 1; new from 0 -> Left(()), state 2" \
        in wrong.counterexample


def test_a_way_back_that_fails_in_one_case_says_which():
    from catlib.free import Case, Compose, Const, Id, Inr
    from proofs.adapters import round_trip

    v = round_trip(Id, Case(Compose(Inr, Const(0)), Inr), "Either Int ()")
    assert not v.proved
    assert v.detail.startswith("when n = Left(n.l): down(up(n)) = Right(0), not Left(n.l)")
    assert v.counterexample == "n = Left(0): up gives Left(0), down gives back Right(0)"
