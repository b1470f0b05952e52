"""Functions as values: Curry and Apply, from the type checker to a node that keeps a function in its state."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cam.code import INSTRUCTIONS, Closure, Code, IntV, to_text
from cam.compiler import CompileError, compile, compile_value
from cam.machine import step as machine_step
from cam.node import Node
from cam.text import digest, parse_value
from cam.verifier import ValueTypeError, check_value, verify
from catlib.equivalence import equivalent
from catlib.examples import pricing as P
from catlib.free import Add, Apply, Case, Compose, Const, Consume, Copy, Curry, Embed, Fst, Get, Id, Par, Put, Snd
from catlib.functor import interpret
from catlib.instances import FUNCTIONS, MACHINES, Functions
from catlib.interpreter import InterpretError, step
from catlib.laws import check_instance
from catlib.strategies import Generator, drawing, runs, typed_terms
from catlib.symbolic import SymbolicError
from catlib.syntax import lam, pget, pput, sm, unit
from catlib.tree import walk
from catlib.typecheck import TermTypeError, check, infer
from catlib.types import Fun
from catlib.values import Curried, Left
from tests.conftest import scaled

READ = Par(Consume, Get) >> Snd
"""``(a, b) -> s``: a body that reads the state when the closure is applied."""
TICK = Par(Consume, Get >> Copy >> Par(Copy >> Add, Id) >> Fst >> Put) >> Snd
"""``(a, b) -> ()``: doubles the state when the closure is applied."""


def beta(f):
    """``Apply . Par(Curry(f), Id)``."""
    return Compose(Apply, Par(Curry(f), Id))


# ---------------------------------------------------------------- types


def test_principal_types():
    assert str(infer(Curry(Add))) == "a / Int -> Int -> Int"
    assert str(infer(Apply)) == "a / (b -> c, b) -> c"
    assert str(infer(Curry(READ))) == "a / b -> () -> a"
    assert str(infer(beta(Add))) == "a / (Int, Int) -> Int"
    assert infer(Curry(Fst)).output == Fun(infer(Curry(Fst)).output.kids[0], infer(Curry(Fst)).input)


def test_ill_typed_uses_name_the_subterm():
    with pytest.raises(TermTypeError) as e:
        infer(Par(Const(1), Id) >> Apply)  # Int is not a function
    assert "Int" in str(e.value) and "->" in str(e.value)
    with pytest.raises(TermTypeError):
        infer(Curry(Add) >> Copy >> Apply)  # an Int -> Int applied to itself
    with pytest.raises(TermTypeError, match="does not fit"):
        infer(Curry(Case(Id, Id)))  # Curry's body must take a pair, not a sum
    assert str(infer(Curry(Fst >> Add))) == "a / (Int, Int) -> b -> Int"


def test_check_against_a_declared_function_type():
    assert str(check(Curry(Add), input="Int", output="Int -> Int")) == "a / Int -> Int -> Int"
    with pytest.raises(TermTypeError):
        check(Curry(Add), input="Int", output="(Int -> Int) -> Int")


# ---------------------------------------------------------------- the interpreter and the instances


def test_curry_builds_a_closure_without_running_its_body():
    assert step(Curry(Put >> Const(9)), 3, 7) == (7, Curried(Compose(Const(9), Put), 3))
    # applied, the body's effect happens then, on the state of that moment
    assert step(beta(Snd >> Put), ((), 5), 7) == (5, ())
    assert step(beta(READ), ((), ()), 41) == (41, 41)


def test_beta_holds_with_effects_and_eta_as_functions():
    # beta: Apply . Par(Curry(f), Id) = f, effects included (each application runs f's effects once)
    f = Par(Put, Id) >> Snd >> Copy >> Par(Id, Const(1)) >> Add   # (s, Int) -> Int, puts its first argument
    for x, s in [((4, 5), 0), ((-1, 2**63 - 1), 3)]:
        assert step(beta(f), x, s) == step(f, x, s)
    # eta: Curry(Apply) of g is a new closure that behaves as g (it is not g)
    g = Curried(Add, 1)
    _, eta_g = step(Curry(Apply), g, ())
    assert eta_g != g and eta_g == Curried(Apply, g)
    assert step(Apply, (eta_g, 41), ()) == step(Apply, (g, 41), ()) == ((), 42)


def test_apply_on_a_value_that_is_not_a_closure_is_an_interpret_error():
    with pytest.raises(InterpretError, match="Apply expects a pair"):
        step(Apply, (5, 1), ())
    with pytest.raises(InterpretError, match="whose body is a Term"):
        step(Apply, (Curried(len, ()), 1), ())


def test_closures_applied_a_million_levels_deep_do_not_touch_the_stack():
    # a closure whose body applies the closure in its environment: a chain of 100,000 closures
    g: object = Curried(Snd, ())
    for _ in range(100_000):
        g = Curried(Apply, g)
    assert step(Apply, (g, 7), ()) == ((), 7)


def test_instances_agree_on_beta():
    f = Copy >> Par(Snd, Fst) >> Add
    assert interpret(beta(f), FUNCTIONS)((2, 3)) == 5
    assert interpret(beta(TICK), MACHINES)(((), ()), 4) == step(beta(TICK), ((), ()), 4) == (8, ())
    add = interpret(Curry(Add), FUNCTIONS)(1)
    assert add(41) == 42  # a function value of Functions is a Python function


@settings(max_examples=scaled(200))
@given(runs(max_size=10))
def test_state_machines_agree_with_the_interpreter_on_terms_with_closures(r):
    f, sig, x, s = r
    event("with closures" if any(t.op == "Apply" for t in walk(f)) else "first order")
    assert interpret(f, MACHINES)(x, s) == step(f, x, s)


@settings(max_examples=scaled(150))
@given(typed_terms(max_size=8, functions=True), st.data())
def test_beta_on_random_bodies(case, data):
    """``Apply . Par(Curry(f), Id) = f`` on random stateful bodies, in the interpreter and on the CAM."""
    f, sig = case
    gen = drawing(data.draw)
    a = gen.type(1)
    g = Compose(f, Snd)  # (a, input) -> output: a body on a pair
    x, s = (gen.value(a), gen.value(sig.input)), gen.value(sig.state)
    event("functions in the signature" if "->" in str(sig) else "first-order signature")
    expected = step(g, x, s)
    assert step(beta(g), x, s) == expected
    got = machine_step(compile(beta(g)), compile_value(x), compile_value(s))
    assert got == tuple(map(compile_value, expected))


class _Swapped(Functions):
    def curry(self, f):  # the argument first: wrong
        return lambda x: (lambda z: f((z, x)))


_CLOSED = ["beta", "eta, applied", "curry is natural"]


def _closed_law_examples() -> int:
    # 50 examples per law and instance (a quarter of the ci profile's 200, scaled up under thorough): the claim
    # here is that check_instance covers the closed laws and catches a wrong curry; that the closed laws hold
    # on these instances is also checked by tests/test_laws.py (check_instance on FUNCTIONS and MACHINES,
    # fresh seeds every run) and, in the interpreter, test_law_holds_for_pure_terms (150 per law).  At 200 the
    # test took ~55 s of CPU, the suite's second most expensive.
    return max(50, settings.default.max_examples // 4)


# one test per instance (once one test) so that pytest-xdist runs them side by side
@pytest.mark.parametrize("C", [FUNCTIONS, MACHINES], ids=["functions", "machines"])
def test_the_law_checker_checks_the_closed_laws(C):
    report = check_instance(C, laws=_CLOSED, derandomize=True, max_examples=_closed_law_examples())
    assert not report.failures and len(report.results) == 3, report


def test_the_law_checker_catches_a_wrong_curry():
    """Beta is the law a swapped curry breaks; checked alone, since each law that fails is then shrunk (the other
    two closed laws, failing as well, cost two more shrinks, two thirds of this test, for nothing it asserts)."""
    report = check_instance(_Swapped(), laws=["beta"], derandomize=True, max_examples=_closed_law_examples())
    assert [r.law.name for r in report.failures] == ["beta"], report


# ---------------------------------------------------------------- the symbolic model


def test_equivalent_proves_beta_and_says_why_it_cannot_decide_function_types():
    f = Par(Put, Id) >> Snd >> Copy >> Add
    assert equivalent(beta(f), f).proved
    assert equivalent(beta(READ), READ).proved
    assert not equivalent(beta(Fst >> Put >> Const(1)), Fst >> Put >> Const(2)).proved
    with pytest.raises(SymbolicError, match="the output has a function type"):
        equivalent(Curry(Add), Curry(Copy >> Par(Snd, Fst) >> Add))
    with pytest.raises(SymbolicError, match="the input has a function type"):
        equivalent(Apply, Apply)


# ---------------------------------------------------------------- the CAM


def test_compiled_to_the_references_own_closures():
    assert to_text(compile(Curry(Add))) == "[CURRY [ADD,RETURN]]"
    assert to_text(compile(Apply)) == "[APP]"
    code = compile(beta(Add), reference=True)
    assert machine_step(code, compile_value((2, 3)), compile_value(())) == (compile_value(()), IntV(5))
    with pytest.raises(CompileError):
        compile(Curry(Embed(abs, "(Int, Int)", "Int")), reference=True)


@settings(max_examples=scaled(200))
@given(runs(max_size=14, functions=True, without=frozenset({"Sub", "Mul", "Lt", "Eq", "DivMod"})))
def test_reference_code_of_terms_with_closures_uses_only_the_references_instructions(r):
    f, sig, x, s = r
    code = compile(f, reference=True)
    reference = {spec.name for spec in INSTRUCTIONS if spec.reference}
    todo, ops = [code], set()
    while todo:
        for i in todo.pop():
            ops.add(i.op)
            todo += [k for k in i.kids if isinstance(k, Code)]
    assert ops <= reference
    event("CURRY" if "CURRY" in ops else "no CURRY")
    assert machine_step(code, compile_value(x), compile_value(s)) == tuple(map(compile_value, step(f, x, s)))


def test_closure_values_print_parse_and_verify():
    v = compile_value((Curried(Add, 1), Left(())))
    assert to_text(v) == "Pair (Closure [ADD,RETURN] (Int 1)) (L Unit)"
    assert parse_value(to_text(v)) == v
    check_value(v, "(Int -> Int, Either () Int)")
    with pytest.raises(ValueTypeError):
        check_value(v, "(Int -> (), Either () Int)")
    with pytest.raises(TypeError, match="not a term"):
        compile_value(Curried(len, ()))


# ---------------------------------------------------------------- a node whose state holds a function


def _node() -> Node:
    # declared: the principal type leaves the rule's argument free (a node would ground it to ())
    return Node(compile(P.PRICING.term, reference=True), compile_value(P.PRICING.initial),
                declared=P.PRICING.signature)


def test_pricing_runs_on_a_node_and_an_input_swaps_its_rule():
    node = _node()
    assert str(node.signature) == "Int -> Int / Either Int (Either (Int -> Int) Int) -> Either Int ()"
    before = node.digest
    assert node.do(compile_value(P.price(3))).output == parse_value("L (Int 30)")
    # behaviour swapped inside the machine: a new rule sent as a value, no upgrade
    node.do(compile_value(P.set_rule(P.bulk(10, 5, 8))))
    assert node.do(compile_value(P.price(6))).output == parse_value("L (Int 48)")
    node.do(compile_value(P.surcharge(1)))
    assert node.do(compile_value(P.price(6))).output == parse_value("L (Int 49)")
    assert node.digest == before
    # the rule is text on the wire, the reference's closure syntax
    rule = parse_value("R (L (Closure [SND,COPY,ADD,RETURN] Unit))")
    node.do(rule)
    assert node.do(parse_value("L (Int 21)")).output == parse_value("L (Int 42)")


@pytest.mark.parametrize("closure, why", [
    ("Closure [SND,CONSUME,RETURN] Unit", "a rule answering () is not Int -> Int"),
    ("Closure [FST,RETURN] Unit", "a rule answering its environment, (), is not Int -> Int"),
    ("Closure [SND,ADD,RETURN] Unit", "ADD on an Int: the code is ill-typed"),
    ("Closure [SND] Unit", "a closure's code must end in RETURN"),
    ("Closure [SND,CONSUME,GET,RETURN] Unit", "a closure that reads the state"),
])
def test_a_bad_closure_is_refused_and_changes_nothing(closure, why):
    node = _node()
    state, before = node.state, {k: v for k, v in node.status().items() if k != "uptime"}
    with pytest.raises(Exception) as e:
        node.do(parse_value(f"R (L ({closure}))"))
    assert getattr(e.value, "kind", None) == "ill_typed_input", why
    assert node.state == state and {k: v for k, v in node.status().items() if k != "uptime"} == before
    assert node.do(compile_value(P.price(2))).output == parse_value("L (Int 20)")


def test_pricing_upgrade_keeps_the_rule():
    node = _node()
    node.do(compile_value(P.set_rule(P.per_item(3))))
    v2, mig = compile(P.PRICING2.term, reference=True), compile(P.MIGRATION.term, reference=True)
    version = node.upgrade(node.code, v2, mig)
    assert version.digest == digest(v2)
    assert node.do(compile_value(P.price(5))).output == parse_value("L (Int 15)")
    assert node.state.kids[1] == IntV(1)  # version 2 counts the prices given
    assert isinstance(node.state.kids[0], Closure)


def test_pricing_versions_answer_alike():
    inputs = [P.price(3), P.surcharge(2), P.price(4), P.set_rule(P.bulk(5, 2, 1)), P.price(1), P.price(9)]
    s1, out1 = P.PRICING.initial, []
    s2, out2 = P.PRICING2.initial, []
    for x in inputs:
        s1, y1 = step(P.pricing, x, s1)
        s2, y2 = step(P.pricing2, x, s2)
        out1.append(y1)
        out2.append(y2)
    assert out1 == out2 and s2[1] == 4
    assert step(P.upgrade_pricing, P.per_item(2), ())[1] == (P.per_item(2), 0)


# ---------------------------------------------------------------- ports


def test_lambda_over_ports_and_application():
    @sm
    def shift(p):
        k, x = p
        add_k = lam(lambda y: y + k)
        return add_k(add_k(x))

    assert step(shift, (5, 1), ()) == ((), 11)
    assert any(t.op == "Curry" for t in walk(shift)) and any(t.op == "Apply" for t in walk(shift))
    keep = sm(lambda p: pput(lam(lambda y: y + p)))  # a function port can be kept in the state
    assert isinstance(step(keep, 2, None)[0], Curried)


def test_port_errors_are_helpful():
    with pytest.raises(TypeError, match=r"lam\(fn\)"):
        sm(lambda p: pput(lambda z: z))
    with pytest.raises(TypeError, match="applied to a port"):
        sm(lambda p: pget(unit)(lambda z: z))
    with pytest.raises(TypeError, match="not a port"):
        sm(lambda p: lam(p))
    with pytest.raises(TypeError, match="truth value"):
        sm(lambda p: lam(lambda y: y if y else p))


# ---------------------------------------------------------------- coverage


def test_generated_terms_build_and_apply_closures_in_every_part():
    seen = {"Curry": 0, "Apply": 0, "closure input": 0, "closure state": 0, "closure output": 0}
    for seed in range(200):
        gen = Generator.seeded(seed, functions=True)
        s, a, b = gen.type(), gen.type(), gen.type()
        f = gen.term(s, a, b, 10)
        for t in walk(f):
            if t.op in seen:
                seen[t.op] += 1
        x, st_ = gen.value(a), gen.value(s)
        new_state, y = step(f, x, st_)
        for part, v in (("input", x), ("state", new_state), ("output", y)):
            if "Curried" in repr(v):
                seen[f"closure {part}"] += 1
        verify(compile(f), state=s, input=a, output=b)
    assert min(seen.values()) >= 20, seen
