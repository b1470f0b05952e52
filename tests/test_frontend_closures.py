"""Functions as values in plain machines: the pricing machine (a rule kept in the state, replaced by an
input, or by a closure built in the machine) agrees in Python, in the interpreter and on the CAM."""

from __future__ import annotations

import functools
from collections.abc import Callable

from hypothesis import event, given
from hypothesis import strategies as st

from cam.compiler import compile, compile_value
from cam.machine import step as cam_step
from catlib.examples import plain
from catlib.examples import pricing as P
from catlib.free import Add
from catlib.frontend import Either, Machine, Unit, machine
from catlib.frontend.oracle import HostFunction
from catlib.interpreter import run, step
from catlib.values import Curried, Left, Right

# Small ints: a surcharge chain of at most 12 steps of |k| <= 1000 on prices |k * q| <= 10**9 stays far
# from 64 bits, so Python's ints and the machine's agree (wrap-around is tested on the first-order examples).
SMALL = st.integers(-1000, 1000)
QUANTITY = st.integers(-10**6, 10**6)

rules = st.one_of(st.builds(P.per_item, SMALL), st.builds(P.bulk, SMALL, QUANTITY, SMALL))
commands = st.one_of(st.builds(P.price, QUANTITY), st.builds(P.set_rule, rules), st.builds(P.surcharge, SMALL))


@functools.cache
def _code(m: Machine):  # type: ignore[no-untyped-def]
    return compile(m.term)


def _python(m: Machine, cmds: list[object], s: object) -> list[object]:
    outs = []
    for c in cmds:
        s, o = m(c, s)
        outs.append(o)
    return outs


def _cam(m: Machine, cmds: list[object], s: object) -> list[object]:
    code, state, outs = _code(m), compile_value(s), []
    for c in cmds:
        state, o = cam_step(code, compile_value(c), state)
        outs.append(o)
    return outs


@given(st.sampled_from([plain.pricing, plain.pricing2]), rules, st.lists(commands, max_size=12),
       st.lists(QUANTITY, min_size=1, max_size=3))
def test_python_interpreter_and_cam_agree(m, rule, cmds, probes):  # type: ignore[no-untyped-def]
    """The price probes at the end read the rule the commands left, whichever way it was made."""
    cmds = cmds + [P.price(q) for q in probes]
    s = rule if m is plain.pricing else (rule, 0)
    event(f"surcharges: {min(sum(isinstance(c, Right) and isinstance(c.value, Right) for c in cmds), 3)}")
    expected = _python(m, cmds, s)
    by_term = run(m.term, cmds, s)[1]
    assert by_term == expected
    assert _cam(m, cmds, s) == [compile_value(o) for o in expected]


@given(rules, st.lists(commands, max_size=8), QUANTITY)
def test_the_same_answers_as_the_port_written_pricing(rule, cmds, q):  # type: ignore[no-untyped-def]
    cmds = cmds + [P.price(q)]
    assert run(plain.pricing.term, cmds, rule)[1] == run(P.pricing, cmds, rule)[1]
    assert run(plain.pricing2.term, cmds, (rule, 0)) [1] == run(P.pricing2, cmds, (rule, 0))[1]


def test_a_surcharge_is_a_closure_over_the_rule_and_k():
    s, out = step(plain.pricing.term, P.surcharge(5), P.per_item(2))
    assert out == Right(()) and isinstance(s, Curried) and s.env == (P.per_item(2), 5)
    assert step(plain.pricing.term, P.price(3), s) == (s, Left(11))
    # in Python, the state is a Python function; a closure value passed in is called through the interpreter
    py_state, _ = plain.pricing(P.surcharge(5), P.per_item(2))
    assert callable(py_state) and py_state(3) == 11
    assert HostFunction(Curried(Add, 1), ())(41) == 42


def test_the_upgrade_checks_and_keeps_the_rule():
    plain.PRICING_UPGRADE.check()
    assert step(plain.upgrade_pricing.term, P.per_item(3), ()) == ((), (P.per_item(3), 0))
    assert plain.pricing.term.size() <= P.pricing.size() and plain.pricing2.term.size() <= P.pricing2.size()


def test_a_closure_reads_the_state_when_it_is_made_not_when_applied():
    from catlib.frontend import machine

    @machine
    def snapshot(cmd: Either[int, int], st_: tuple[int, Callable[[int], int]] = (0, P.per_item(1))
                 ) -> tuple[tuple[int, Callable[[int], int]], int]:
        n, f = st_
        match cmd:
            case Left(k):
                return (k, lambda q: q + n), 0
            case Right(q):
                return (n, f), f(q)

    cmds = [Left(5), Left(7), Right(1)]  # the closure made when n was 5: 1 + 5, though n is 7 by then
    assert run(snapshot.term, cmds, (0, P.per_item(1)))[1] == [0, 0, 6] == _python(snapshot, cmds, (0, P.per_item(1)))
    assert _cam(snapshot, cmds, (0, P.per_item(1))) == [compile_value(o) for o in (0, 0, 6)]


@machine
def identity_rule(cmd: Either[int, Unit], rule: Callable[[int], int] = plain.TEN_PER_ITEM
                  ) -> tuple[Callable[[int], int], int]:
    """A closure that captures nothing (its environment is ``()``): once a RecursionError in the lowering."""
    match cmd:
        case Left(q):
            return rule, rule(q)
        case Right(()):
            return (lambda z: z), 0


def test_a_closure_that_captures_nothing() -> None:
    assert run(identity_rule.term, [Left(3), Right(()), Left(3)], identity_rule.initial)[1] == [30, 0, 3]
    s, _ = identity_rule(Right(()), identity_rule.initial)
    assert s(5) == 5  # the Python function's own closure
    code = compile(identity_rule.term)
    state = compile_value(identity_rule.initial)
    for cmd, out in [(Left(3), 30), (Right(()), 0), (Left(3), 3)]:
        state, answer = cam_step(code, compile_value(cmd), state)
        assert answer == compile_value(out)
