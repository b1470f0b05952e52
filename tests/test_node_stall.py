"""A node whose state is a deep chain of closures: no input stalls it, and it starts from a Program's closures.

Two defects a fresh-user trial found, with the pricing machine
(`catlib.examples.pricing`: each ``surcharge`` wraps the rule in one more
closure):

- an input over the inline step budget ended in `OutOfFuel`, whose
  configuration converted every stack entry, each a part of the state, on
  the event loop: quadratic in the state's depth (a price query after 3,000
  surcharges took 54 s, and every other client waited as long).  The
  configuration is now made only when read (`cam.machine.MachineError.config`),
  in one conversion sharing the parts the entries share (`cam.decoded.outside_all`);
- ``cam node --machine catlib.examples.pricing:PRICING`` failed: its initial
  state, a closure (`catlib.values.Curried`), could not be quoted.  It is now
  compiled (`cam.compiler.compile_value`) into the closure the machine's
  ``CURRY`` makes of the body's code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

import cam.decoded
import cam.machine
from cam.client import Client, as_code
from cam.code import Closure, Code, Value, to_text
from cam.compiler import compile_value
from cam.decoded import HostClosure, decode, inside, outside, to_internal
from cam.hostvalue import from_value, host_text, to_value
from cam.machine import Config, OutOfFuel, Stuck, execute
from cam.node import Limits, Node
from cam.server import start_in_thread
from cam.strategies import values
from cam.text import parse_code, parse_value
from catlib.examples import plain
from catlib.examples.pricing import PRICING, PRICING2, bulk, per_item, price, set_rule, surcharge
from catlib.frontend import Either, Left, Right, machine
from catlib.interpreter import run
from catlib.interpreter import step as interpret
from catlib.program import Program
from catlib.values import HostValue
from tests.conftest import scaled
from tests.node_helpers import NodeProcess, doubling
from tests.test_node_availability import bystander, stall

Rule = plain.Rule
ALONE = Left(plain.TEN_PER_ITEM)
"""`alternating`'s first state: the rule alone."""


@machine
def alternating(q: int, s: Either[Rule, tuple[Rule, int]] = ALONE
                ) -> tuple[Either[Rule, tuple[Rule, int]], int]:
    """A state holding a closure in a sum, then in a pair in a sum: prices `q` by the rule, and alternates
    between the rule alone and the rule with the last quantity, which the next rule adds."""
    match s:
        case Left(f):
            return Right((f, q)), f(q)
        case Right((f, k)):
            return Left(lambda n: f(n) + k), f(q) + k


def surcharged(n: int, program: Program = PRICING) -> HostValue:
    """`program`'s state after `n` surcharges of 1, by the interpreter: a chain of `n` + 1 closures."""
    # (one run: `step` checks the ints of the state it is given, a walk of the whole chain per call)
    return run(program.term, [surcharge(1)] * n, program.initial)[0]


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the machine values `cam.decoded` makes for pairs, sums and closures (one a node)."""
    made = [0]
    real = cam.decoded.mk_value

    def mk(cls: type, kids: tuple[Any, ...]) -> Value:
        made[0] += 1
        return real(cls, kids)

    monkeypatch.setattr(cam.decoded, "mk_value", mk)
    return made


def configs_made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Count the configurations `cam.machine` makes for its errors; the parts of the last one follow the count."""
    made: list[Any] = [0, None]
    real = cam.machine._config

    def config(*parts: Any) -> Config:
        made[0] += 1
        made[1] = parts
        return real(*parts)

    monkeypatch.setattr(cam.machine, "_config", config)
    return made


def one_by_one(acc: Any, block: Any, pc: int, reg: Any, stack: list[Any]) -> Config:
    """A configuration as it was made before: each part converted on its own."""
    return Config(outside(acc), block.code[pc:], outside(reg), tuple(outside(e) for e in reversed(stack)))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the machine's errors


def test_out_of_fuel_makes_its_configuration_when_read_once_and_linear_in_the_state(monkeypatch):
    code = as_code(PRICING.term)
    configs = configs_made(monkeypatch)
    made = counting(monkeypatch)
    cost = {}
    for n in (200, 400):
        state = compile_value(surcharged(n))
        with pytest.raises(OutOfFuel) as e:
            execute(code, compile_value(price(2)), state, fuel=n * 15)  # stops deep inside the chain
        err = e.value
        assert configs[0] == 0  # not made by raising it
        before = made[0]
        c = err.config
        cost[n] = made[0] - before
        assert configs[0] == 1 and err.config is c  # made once, when first read
        configs[0] = 0
        assert len(c.stack) > n  # a stack as deep as the chain, whose entries share the state's parts
        assert str(err).splitlines()[0] == f"out of fuel after {n * 15} steps"
        if n == 200:  # the same configuration as each part converted on its own (quadratic: once, small)
            assert c == one_by_one(*configs[1])
    # shared parts converted once: twice the chain, about twice the values made (each entry alone: 4 times)
    assert cost[400] < 2.5 * cost[200], cost


def test_a_stuck_machine_names_its_instruction_without_making_its_configuration(monkeypatch):
    configs = configs_made(monkeypatch)
    with pytest.raises(Stuck) as e:
        execute(parse_code("[PUSH,INL,BRANCH [SWAP,RETURN] [RETURN]]"), parse_value("Unit"), parse_value("Int 9"))
    assert e.value.instruction == parse_code("[SWAP]")[0] and configs[0] == 0
    assert e.value.config.code == parse_code("[SWAP,RETURN]") and configs[0] == 1
    with pytest.raises(Stuck) as e:
        execute(parse_code("[PUSH]"), parse_value("Unit"), parse_value("Unit"))
    assert e.value.instruction is None and e.value.config.stack == (parse_value("Unit"),)
    # a Stuck made by hand from a whole configuration keeps it, and names its instruction as before
    c = Config(parse_value("Unit"), parse_code("[CONS]"), parse_value("Unit"), ())
    assert Stuck("why", c, 0).instruction == parse_code("[CONS]")[0] and Stuck("why", c, 0).config is c


def test_outside_all_is_outside_of_each_part():
    a = inside(parse_value("Pair (Int 1) (L (Closure [ID,RETURN] Unit))"))
    parts = [a, (a, a), None, 5, cam.decoded.InR((a, -3))]
    assert cam.decoded.outside_all(parts) == [outside(p) for p in parts]


# ---------------------------------------------------------------- a node: no stall, linear cost


def test_a_long_input_on_a_node_never_makes_the_configuration(monkeypatch):
    configs = configs_made(monkeypatch)
    s = surcharged(300)
    node = Node(as_code(PRICING.term), compile_value(s), declared=PRICING.signature, limits=Limits(inline_fuel=2_000))
    applied = node.do(compile_value(price(2)))  # 6,000 steps: past the inline budget, run again with the full one
    assert applied.steps > 2_000 and configs[0] == 0
    assert applied.output == compile_value(interpret(PRICING.term, price(2), s)[1])


def test_a_price_query_after_3000_surcharges_does_not_stall_the_node():
    # the trial's figures: the query took 49 s and another client's status 47 s (54 s in process)
    s = surcharged(3_000)
    state = compile_value(s)
    node = Node(as_code(PRICING.term), state, declared=PRICING.signature)
    with start_in_thread(node) as running, bystander(running):
        (a,) = stall(running, [json.dumps({"id": 1, "kind": "do", "input": "L (Int 2)"}).encode()], timeout=30)
        assert a["ok"] and a["steps"] > Limits().inline_fuel, a
        assert parse_value(a["output"]) == compile_value(interpret(PRICING.term, price(2), s)[1])
        assert a["output"] == "L (Int 3020)"
        (b,) = stall(running, [json.dumps({"id": 2, "kind": "do", "input": "R (R (Int 1))"}).encode()], timeout=30)
        assert b["ok"] and parse_value(b["state"]) == compile_value(interpret(PRICING.term, surcharge(1), s)[0])


# ---------------------------------------------------------------- a node from a Program's closures


RUNS: list[tuple[Program, list[HostValue]]] = [
    (PRICING, [price(3), surcharge(1), price(3), set_rule(bulk(10, 5, 8)), price(6), surcharge(2), price(6),
               set_rule(per_item(1)), price(4)]),
    (plain.pricing, [price(3), surcharge(1), surcharge(5), price(3), set_rule(bulk(10, 5, 8)), price(6)]),
    (PRICING2, [price(2), surcharge(5), price(2), set_rule(bulk(2, 3, 1)), price(4)]),  # a closure in a pair
    (alternating, [1, 2, 3, 4, 5, 6]),  # a closure in a sum, and in a pair in a sum
]


@pytest.mark.parametrize("program, inputs", RUNS, ids=[p.name for p, _ in RUNS])
def test_a_node_starts_from_a_programs_closures_and_answers_as_the_interpreter(program, inputs):
    node = Node(as_code(program.term), compile_value(program.initial), declared=program.signature)
    s = program.initial
    for x in inputs:
        s, y = interpret(program.term, x, s)
        applied = node.do(compile_value(x))
        # the closures the machine built (CURRY) are the interpreter's, compiled
        assert (applied.output, node.state) == (compile_value(y), compile_value(s)), x
        assert applied.state_text == to_text(node.state)  # written from the previous state's text


def test_compile_value_of_a_deep_chain_of_closures_does_not_recurse():
    s = surcharged(20_000)
    v = compile_value(s)
    depth, t = 0, v
    while isinstance(t, Closure):
        depth, t = depth + 1, t.env.kids[0] if t.env.kids else None
    assert depth == 20_001


@pytest.mark.parametrize("spec", ["catlib.examples.pricing:PRICING", "catlib.examples.plain:pricing"])
def test_cam_node_starts_a_program_whose_state_is_a_closure(spec):
    with NodeProcess("--machine", spec, "--port", "0") as node, Client(node.host, node.port) as c:
        first = c.do(price(3))
        assert first.output == parse_value("L (Int 30)")
        assert first.state == compile_value(PRICING.initial)
        c.do(surcharge(1))
        assert c.do(price(3)).output == parse_value("L (Int 31)")
        node.stop()



def test_host_text_copies_the_text_of_a_known_part_exactly():
    code = parse_code("[SND,QUOTE (Int 1),RETURN]")
    parts: list[HostValue] = [(), 0, -3, Left(()), Right((1, ())), HostClosure(code, ()), HostClosure(code, (-1, 2)),
                              ((), ())]
    for part in parts:
        for whole in (part, (part, 1), (1, part), Left(part), Right((part, part)), HostClosure(code, part),
                      HostClosure(code, (HostClosure(code, part), 5))):
            want = to_text(to_value(whole))
            assert host_text(whole) == want
            assert host_text(whole, (part, host_text(part))) == want, (part, whole)


def _parts(h: Any) -> list[Any]:
    """Every part of host value `h`, itself included (closures' environments too)."""
    out, todo = [], [h]
    while todo:
        v = todo.pop()
        out.append(v)
        if type(v) is tuple and v:
            todo += v
        elif type(v) in (Left, Right):
            todo.append(v.value)
        elif type(v) is HostClosure:
            todo.append(v.env)
    return out


@settings(max_examples=scaled(300))
@given(values(depth=3, closures=True))
def test_to_value_in_one_walk_is_the_old_conversion_and_shares_a_known_part(v):
    h = from_value(v)
    assert to_value(h) == v == outside(to_internal(h, decode))
    for part in _parts(h):
        known = to_value(part)
        assert to_value(h, (part, known)) == v
        assert host_text(h, (part, host_text(part))) == to_text(v)


@pytest.mark.parametrize("bad", [2**63, (1, 2, 3), [1], True, HostClosure("[ID]", ()), (1, (None, 2))])
def test_to_value_refuses_what_the_old_conversion_refused_with_the_same_error(bad):
    with pytest.raises((TypeError, ValueError)) as old:
        to_internal(bad, decode)
    with pytest.raises(type(old.value)) as new:
        to_value(bad)
    assert str(new.value) == str(old.value)


def test_a_node_state_made_by_inputs_shares_the_previous_machine_value():
    # in process, `do` answers the machine value of the state: made from the previous one, not in full
    node = Node(as_code(PRICING.term), compile_value(PRICING.initial), declared=PRICING.signature)
    before = node.state
    node.do(compile_value(surcharge(1)))
    after = node.state
    assert isinstance(after, Closure) and after.env.kids[0] is before
    assert after == compile_value(interpret(PRICING.term, surcharge(1), PRICING.initial)[0])


def test_a_long_input_leaves_no_conversion_for_the_event_loop():
    # a server runs it with `run_aside` in a worker thread: the texts and the state's host value come made
    s = surcharged(300)
    node = Node(as_code(PRICING.term), compile_value(s), declared=PRICING.signature, limits=Limits(inline_fuel=2_000))
    x = compile_value(price(2))
    with pytest.raises(OutOfFuel):
        node.run_host(node.check_input(x), x)
    ran = node.run_aside(x)
    reply = node.commit(x, ran)
    assert node._sh is ran.host and node._sv is ran.result.state and node.state_text() == reply["state"]
    assert (reply["state"], reply["output"]) == (to_text(compile_value(s)), "L (Int 320)")  # 2 * 10 + 300 * 1
    assert node.do(compile_value(surcharge(1))).state_text == to_text(node.state)  # and the next input on it


def test_an_input_of_an_adapted_interface_keeps_the_inline_budget():
    # an interface with adapters ran its inputs with the full budget where a short input runs: on the event loop
    old, new = doubling(2), Code([*doubling(15), *parse_code("[INL]")])  # ~300,000 steps an input
    node = Node(old, parse_value("Int 0"))
    node.upgrade(old, new, parse_code("[ID]"), adapters=(None, parse_code("[CONSUME]")))
    x = parse_value("Unit")
    with pytest.raises(OutOfFuel):
        node.run_host(node.check_input(x, 1), x, 1)
    assert node.do(x, interface=1).output == x and node.do(x, interface=2).output == parse_value("L Unit")
    assert node.inputs == 2
    # the adapters too: an expensive one ran past the inline budget on the event loop (the review's repro)
    node = Node(old, parse_value("Int 0"))
    node.upgrade(old, old, parse_code("[ID]"), adapters=(doubling(17), None))
    with pytest.raises(OutOfFuel):
        node.run_host(node.check_input(x, 1), x, 1)
    assert node.do(x, interface=1).output == x and node.inputs == 1


def test_a_client_sends_closures_as_host_values():
    # (the client quoted its inputs: a rule, a closure, was refused with "cannot quote Curried")
    node = Node(as_code(PRICING.term), compile_value(PRICING.initial), declared=PRICING.signature)
    with start_in_thread(node) as running, Client(running.host, running.port, timeout=30) as c:
        s = PRICING.initial
        for x in (set_rule(per_item(5)), price(3), set_rule(bulk(2, 3, 1)), price(4)):
            s, y = interpret(PRICING.term, x, s)
            assert c.do(x).output == compile_value(y), x


def test_a_state_literal_out_of_range_says_so():
    from cam.spec import parse_state
    from cam.text import ParseError

    with pytest.raises(ParseError, match="64-bit"):
        parse_state("99999999999999999999")
    with pytest.raises(ParseError, match="64-bit"):
        parse_state("(1, -99999999999999999999)")
    assert to_text(parse_state("(1, -2)")) == "Pair (Int 1) (Int (-2))"
