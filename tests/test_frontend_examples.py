"""The plain-Python examples (`catlib.examples.plain`) against Python itself, the interpreter, the CAM,
their port-written namesakes, the node, upgrades and proofs.

Python is the oracle.  Its ints do not wrap, the machine's do: on each
random input and state the function is first run with ints that raise on
leaving 64 bits (`Machine.checked`); when none does, the plain Python call
must give the same answer and the term must agree with it.  When one does,
the term must agree with the function run on wrapping 64-bit ints
(`Machine.wrapping`), the specified semantics.  Both outcomes are counted;
the wrap-around one is forced on purpose in `test_wrap_around`.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cam.compiler import compile
from cam.hostvalue import quote, unquote
from cam.machine import step as cam_step
from catlib.examples import bank, counter, plain, registers, turnstile
from catlib.free import Compose, Id
from catlib.frontend import Machine
from catlib.interpreter import step
from catlib.strategies import values as _values
from catlib.tree import walk
from catlib.types import Int, Prod, Unit
from catlib.values import INT_MAX, INT_MIN, Left, Right
from tests.node_helpers import NodeProcess
from tests.rates import Tally

values = functools.cache(_values)  # a strategy per type, made once (hypothesis's `composite` reads source each time)


def _first_order(m: Machine) -> bool:
    return all("->" not in str(t) for t in (m.state, m.input, m.output))


MACHINES = {name: m for name, m in vars(plain).items() if isinstance(m, Machine) and _first_order(m)}
"""The examples whose values compare as they are (the pricing machines keep functions: see
tests/test_frontend_closures.py)."""
PORTS = {"counter": counter.counter_sm, "counter2": counter.counter_sm2, "upgrade_counter": counter.upgrade_state,
         "bank": bank.bank, "bank2": bank.bank2, "upgrade_bank": bank.upgrade_bank,
         "turnstile": turnstile.turnstile, "turnstile2": turnstile.turnstile2,
         "upgrade_turnstile": turnstile.upgrade_turnstile, "registers": registers.registers,
         "registers2": registers.registers2, "upgrade_registers": registers.upgrade_registers}


@functools.cache
def _code(name: str):  # type: ignore[no-untyped-def]
    return compile(MACHINES[name].term)


def _args(m: Machine, x: object, s: object) -> tuple[object, ...]:
    return (x, s) if m.stateful else (x,)


def _term_answers(name: str, x: object, s: object) -> tuple[object, object]:
    """(interpreter, CAM), both in the Python function's shape."""
    m = MACHINES[name]
    state = s if m.stateful else ()
    by_term = step(m.term, x, state)
    ns, out = cam_step(_code(name), quote(x), quote(state))
    by_cam = (unquote(ns), unquote(out))
    if not m.stateful:
        return by_term[1], by_cam[1]
    return by_term, by_cam


def test_every_example_is_a_machine_at_module_level():
    assert set(PORTS) < set(MACHINES) and {"thermostat", "low_bits"} < set(MACHINES)
    assert {name for name, m in vars(plain).items() if isinstance(m, Machine) and not _first_order(m)} == {
        "pricing", "pricing2", "upgrade_pricing"}
    for m in MACHINES.values():
        m.check()


@st.composite
def _cases(draw):  # type: ignore[no-untyped-def]
    name = draw(st.sampled_from(sorted(MACHINES)))
    m = MACHINES[name]
    return name, draw(values(m.input)), draw(values(m.state))


ORACLE = Tally("no overflow", at_least=0.5)


@ORACLE.checked
@given(_cases())
def test_python_is_the_oracle(case):  # type: ignore[no-untyped-def]
    name, x, s = case
    m = MACHINES[name]
    args = _args(m, x, s)
    try:
        expected = m.checked(*args)
    except OverflowError:
        ORACLE("wraps")
        expected = m.wrapping(*args)
    else:
        ORACLE("no overflow")
        assert m(*args) == expected
    by_term, by_cam = _term_answers(name, x, s)
    assert by_term == expected, (name, x, s)
    assert by_cam == expected, (name, x, s)


EDGES = st.sampled_from([INT_MIN, INT_MIN + 1, -2, -1, 0, 1, 2, INT_MAX - 1, INT_MAX])


def _edge_values(t):  # type: ignore[no-untyped-def]
    """Values of type `t` whose ints are near the 64-bit boundaries (or 0)."""
    if t == Int:
        return EDGES
    if t == Unit:
        return st.just(())
    if isinstance(t, Prod):
        return st.tuples(_edge_values(t.kids[0]), _edge_values(t.kids[1]))
    return st.one_of(_edge_values(t.kids[0]).map(Left), _edge_values(t.kids[1]).map(Right))


EDGE = Tally("wraps", at_least=0.05)


@EDGE.checked
@given(st.data())
def test_near_the_64_bit_boundaries(data):  # type: ignore[no-untyped-def]
    """Inputs and states at the boundaries: the wrap-around cases, checked against `Machine.wrapping`."""
    name = data.draw(st.sampled_from(sorted(MACHINES)))
    m = MACHINES[name]
    x, s = data.draw(_edge_values(m.input)), data.draw(_edge_values(m.state))
    args = _args(m, x, s)
    try:
        m.checked(*args)
        EDGE("no overflow")
    except OverflowError:
        EDGE("wraps")
    expected = m.wrapping(*args)
    assert _term_answers(name, x, s) == (expected, expected), (name, x, s)


@pytest.mark.parametrize(("name", "x", "s"), [
    ("counter", plain.INCR, INT_MAX),
    ("bank", plain.deposit(1), INT_MAX),
    ("bank", plain.deposit(INT_MAX), 5),
    ("bank2", plain.deposit(2), (INT_MAX - 1, INT_MAX)),
    ("turnstile", plain.PUSH, (Right(()), INT_MAX)),
    ("registers", plain.ACC, (INT_MAX, INT_MAX)),
    ("thermostat", Left(INT_MIN), (INT_MIN, Right(()))),
    ("thermostat", Left(INT_MAX), (INT_MAX, Left(()))),
])
def test_wrap_around(name, x, s):  # type: ignore[no-untyped-def]
    """Where Python's ints leave 64 bits, the machine answers what the function computes on wrapping ints."""
    m = MACHINES[name]
    args = _args(m, x, s)
    with pytest.raises(OverflowError):
        m.checked(*args)
    expected = m.wrapping(*args)
    assert _term_answers(name, x, s) == (expected, expected)


def test_the_plain_call_refuses_results_beyond_64_bits():
    with pytest.raises(OverflowError, match="wrapping"):
        plain.counter(plain.INCR, INT_MAX)
    with pytest.raises(TypeError, match="input"):
        plain.counter(3, 0)
    assert plain.counter.wrapping(plain.INCR, INT_MAX) == (INT_MIN, Left(()))


@given(st.data())
def test_the_same_answers_as_the_port_written_examples(data):  # type: ignore[no-untyped-def]
    name = data.draw(st.sampled_from(sorted(PORTS)))
    m = MACHINES[name]
    x, s = data.draw(values(m.input)), data.draw(values(m.state))
    assert step(m.term, x, s) == step(PORTS[name], x, s)


def test_term_sizes_within_the_ports_budget():
    """Issue 14: within 1.5 times the same machine written with ports (all are smaller)."""
    for name, port in PORTS.items():
        assert MACHINES[name].term.size() <= 1.5 * port.size(), name
    sizes = {name: MACHINES[name].term.size() for name in ("counter", "bank", "turnstile", "registers")}
    assert sizes == {"counter": 21, "bank": 113, "turnstile": 73, "registers": 55}


def test_no_identity_compositions():
    """The lowering leaves out ``Compose(x, Id)`` and ``Compose(Id, x)`` (``Put`` of the whole result was one)."""
    for name, m in vars(plain).items():
        if isinstance(m, Machine):
            assert not [t for t in walk(m.term) if isinstance(t, Compose) and Id in (t.f, t.g)], name


def test_upgrades_check_and_the_counter_proofs_hold_for_plain_machines():
    from proofs.upgrade import COUNTER_SIM, SEED_MIGRATION, Simulation, establishes, preserved

    for up in (plain.COUNTER_UPGRADE, plain.BANK_UPGRADE, plain.TURNSTILE_UPGRADE, plain.REGISTERS_UPGRADE):
        up.check()
    sim = Simulation("plain counter", plain.counter, plain.counter2, COUNTER_SIM.relation, COUNTER_SIM.related,
                     COUNTER_SIM.holds)
    assert preserved(sim).proved
    assert establishes(sim, SEED_MIGRATION).proved
    assert not establishes(sim, plain.upgrade_counter.term).proved  # n -> (n, 0) restarts the count


def test_a_node_runs_and_upgrades_a_plain_machine():
    from cam.client import Client

    proc = NodeProcess("--machine", "catlib.examples.plain:bank", "--port", "0")
    try:
        c = Client(proc.host, proc.port)
        assert c.do(plain.deposit(100)).output == quote(Right(100))
        c.upgrade(plain.bank, plain.bank2, plain.upgrade_bank)
        assert c.do(plain.withdraw(500)).output == quote(plain.REFUSED)
        reply = c.do(plain.BALANCE)
        assert (reply.output, reply.state) == (quote(Right(100)), quote((100, 1)))
    finally:
        proc.stop()


def test_plain_machines_draw_and_pickle():
    import pickle

    from catlib.graph import diagram
    from catlib.render import to_dot

    g = diagram(plain.bank.term, *plain.bank.signature)
    assert to_dot(g.graph).startswith("digraph")
    assert pickle.loads(pickle.dumps(plain.bank2)) is plain.bank2
