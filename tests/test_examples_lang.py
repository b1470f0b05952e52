"""The examples that compare and divide (bank, thermostat, vending machine) and the addition-only bank.

Each family against a plain-Python model, by the interpreter and by the
compiled machine, across its upgrade; the figures their docstrings state
(term nodes, machine steps per command); and where their code may run.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cam.compiler import CompileError, compile
from cam.hostvalue import quote
from cam.machine import execute
from catlib.examples import bank, bank_by_addition, thermostat, vending
from catlib.interpreter import run as interpret
from catlib.interpreter import step
from catlib.program import Upgrade
from catlib.strategies import values
from catlib.tree import walk
from catlib.values import INT_MAX, INT_MIN, Left, Right, add64, divmod64, wrap
from tests.test_examples import Step, machine_run, migrate, model_run

# ------------------------------------------------- plain-Python models


def bank_model(b: int, cmd: Any) -> tuple[int, Any]:
    if cmd == bank.BALANCE:
        return b, bank.ok(b)
    k = cmd.value if isinstance(cmd, Left) else cmd.value.value
    if isinstance(cmd, Left):  # deposit: refused if it would lower the balance (negative, or wrapping)
        return (b, bank.REFUSED) if add64(b, k) < b else (add64(b, k), bank.ok(add64(b, k)))
    return (b, bank.REFUSED) if k < 0 or b < k else (wrap(b - k), bank.ok(wrap(b - k)))


def bank2_model(s: tuple[int, int], cmd: Any) -> tuple[tuple[int, int], Any]:
    b, refusals = s
    b, out = bank_model(b, cmd)
    return (b, add64(refusals, 1 if out == bank.REFUSED else 0)), out


def thermostat_model(s: tuple[int, int], cmd: Any) -> tuple[tuple[int, int], Any]:
    t, x = (cmd.value, s[1]) if isinstance(cmd, Left) else (s[0], cmd.value)
    return (t, x), thermostat.HEAT if x < t else thermostat.OFF


def thermostat2_model(s: tuple[tuple[int, int], Any], cmd: Any) -> tuple[Any, Any]:
    (t, x), _ = thermostat_model(s[0], cmd)
    h = thermostat.HEAT if x < t else thermostat.OFF if t < x else s[1]
    return ((t, x), h), h


def vending_model(s: tuple[int, int], cmd: Any) -> tuple[tuple[int, int], Any]:
    c, n = s
    if isinstance(cmd, Left):
        c2 = add64(c, cmd.value)
        return ((c, n), vending.credit(c)) if c2 < c else ((c2, n), vending.credit(c2))
    if cmd == vending.BUY:
        if c < vending.PRICE:
            return s, vending.short(wrap(vending.PRICE - c))
        if n == 0:
            return s, vending.SOLD_OUT
        coins, rest = divmod(wrap(c - vending.PRICE), vending.COIN)
        return (rest, wrap(n - 1)), vending.vend(coins)
    n2 = add64(n, cmd.value.value)
    return ((c, n), vending.credit(c)) if n2 < n else ((c, n2), vending.credit(c))


def vending2_model(s: tuple[tuple[int, int], int], cmd: Any) -> tuple[Any, Any]:
    inner, out = vending_model(s[0], cmd)
    return (inner, add64(s[1], 1 if isinstance(out, Right) and isinstance(out.value, Right)
                         and isinstance(out.value.value, Left) else 0)), out


FAMILIES: dict[str, tuple[Upgrade, Step, Step]] = {
    "bank": (bank.UPGRADE, bank_model, bank2_model),
    "thermostat": (thermostat.UPGRADE, thermostat_model, thermostat2_model),
    "vending": (vending.UPGRADE, vending_model, vending2_model),
}
MIGRATE = {
    "bank": lambda b: (b, 0),
    "thermostat": lambda s: (s, thermostat.HEAT if s[1] < s[0] else thermostat.OFF),
    "vending": lambda s: (s, 0),
}
SMALL = st.integers(-300, 300)  # amounts near the prices and balances, so that every branch is taken


@functools.cache  # strategies made once per family: making them per example cost more than drawing from them
def _commands(up: Upgrade) -> st.SearchStrategy[list[Any]]:
    near = {"Either Int (Either Int ())": st.one_of(SMALL.map(bank.deposit), SMALL.map(bank.withdraw)),
            "Either Int Int": st.one_of(SMALL.map(thermostat.set_target), SMALL.map(thermostat.reading)),
            "Either Int (Either () Int)": st.one_of(SMALL.map(vending.insert), st.just(vending.BUY),
                                                     st.integers(-2, 2).map(vending.restock))}
    return st.lists(st.one_of(values(up.old.input), near[str(up.old.input)]), max_size=12)


@functools.cache
def sessions(family: str) -> st.SearchStrategy[tuple[list[Any], Any, list[Any]]]:
    """Commands for version 1, its starting state, then commands for version 2 after the upgrade."""
    up = FAMILIES[family][0]
    start = st.one_of(st.just(up.old.initial), values(up.old.state))
    return st.tuples(_commands(up), start, _commands(up))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(data=st.data())
def test_family_against_its_model(family: str, data: st.DataObject) -> None:
    up, model1, model2 = FAMILIES[family]
    before, s0, after = data.draw(sessions(family))
    want1 = model_run(model1, before, s0)
    assert interpret(up.old.term, before, s0) == want1
    assert machine_run(up.old, before, s0) == want1
    s1 = MIGRATE[family](want1[0])
    assert migrate(up.migration, want1[0]) == (s1, s1)
    want2 = model_run(model2, after, s1)
    assert interpret(up.new.term, after, s1) == want2
    assert machine_run(up.new, after, s1) == want2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_programs_check(family: str) -> None:
    up = FAMILIES[family][0]
    up.check()
    for prog in (up.old, up.new, up.migration):
        assert str(prog.check()) == str(prog.signature)


# ------------------------------------------------- the figures the docstrings state


def _nodes(t: Any) -> int:
    return sum(1 for _ in walk(t))


def _steps(term: Any, state: Any, commands: dict[str, Any]) -> dict[str, int]:
    code, out = compile(term), {}
    for name, cmd in commands.items():
        got = execute(code, quote(cmd), quote(state))
        assert (got.state, got.output) == tuple(map(quote, step(term, cmd, state)))
        out[name] = got.steps
    return out


def test_bank_against_the_addition_only_bank() -> None:
    slow = bank_by_addition.bank_by_addition()
    assert _nodes(slow) == 1563 and _nodes(bank.bank) == 129
    commands = {"deposit": bank.deposit(5), "withdraw": bank.withdraw(3), "balance": bank.BALANCE}
    assert _steps(slow, 10, commands) == {"deposit": 23, "withdraw": 1729, "balance": 8}
    assert _steps(bank.bank, 10, commands) == {"deposit": 62, "withdraw": 86, "balance": 9}
    # the doubling chain negates every integer modulo 2**64, INT_MIN included
    neg = bank_by_addition.negate_by_doubling()
    for k in (0, 1, -1, 7, INT_MAX, INT_MIN, INT_MIN + 1):
        assert step(neg, k, ())[1] == wrap(-k)
    # addition alone runs on the reference machine; the bank that refuses needs LT and SUB
    compile(slow, reference=True)
    with pytest.raises(CompileError, match="which the reference machine lacks"):
        compile(bank.bank, reference=True)


def test_thermostat_figures() -> None:
    assert _nodes(thermostat.thermostat) == 71 and _nodes(thermostat.thermostat2) == 171
    commands = {"set": thermostat.set_target(5), "hot": thermostat.reading(300),
                "cold": thermostat.reading(100), "at": thermostat.reading(200)}
    assert set(_steps(thermostat.thermostat, (200, 190), commands).values()) == {50}
    assert _steps(thermostat.thermostat2, ((200, 190), thermostat.HEAT), commands) == {
        "set": 110, "hot": 110, "cold": 79, "at": 111}


def test_vending_figures() -> None:
    assert _nodes(vending.vending) == 325
    steps = {name: _steps(vending.vending, s, {name: cmd})[name] for name, cmd, s in [
        ("insert", vending.insert(5), (200, 3)), ("insert refused", vending.insert(-1), (200, 3)),
        ("short", vending.BUY, (100, 3)), ("sold out", vending.BUY, (200, 0)), ("sale", vending.BUY, (200, 3)),
        ("restock", vending.restock(3), (200, 3)), ("restock refused", vending.restock(-3), (200, 3))]}
    assert steps == {"insert": 91, "insert refused": 62, "short": 86, "sold out": 106, "sale": 187,
                     "restock": 110, "restock refused": 81}


# ------------------------------------------------- boundaries


def test_boundaries_are_refused_and_change_nothing() -> None:
    # a coin that would wrap the credit past INT_MAX, or a negative one, is refused
    assert interpret(vending.vending, [vending.insert(1), vending.insert(-5)], (INT_MAX, 1)) == (
        (INT_MAX, 1), [vending.credit(INT_MAX), vending.credit(INT_MAX)])
    # a sale's change is rounded down to whole coins, the remainder kept as credit
    assert step(vending.vending, vending.BUY, (INT_MAX, 1)) == (
        ((INT_MAX - vending.PRICE) % vending.COIN, 0),
        vending.vend((INT_MAX - vending.PRICE) // vending.COIN))
    assert divmod64(INT_MAX - vending.PRICE, vending.COIN) == Right(divmod(INT_MAX - vending.PRICE, vending.COIN))
    # the thermostat compares signed integers, at the very ends too
    assert interpret(thermostat.thermostat, [thermostat.reading(INT_MIN), thermostat.set_target(INT_MIN)],
                     (INT_MAX, 0))[1] == [thermostat.HEAT, thermostat.OFF]


# ------------------------------------------------- where the examples are shown


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_program_renders_at_its_declared_type(family: str) -> None:
    from catlib.__main__ import graph_of

    up = FAMILIES[family][0]
    for prog in (up.old, up.new, up.migration):
        g = graph_of(prog, "diagram", prog.name)
        assert g.graph["title"] == f"{prog.name} : {prog.signature}"
        assert graph_of(prog, "bytecode", prog.name).number_of_nodes() > 0


def test_pictures_script_draws_every_example_and_the_files_exist() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    script = (docs / "pictures.sh").read_text()
    for family in FAMILIES:
        up = FAMILIES[family][0]
        for prog in (up.old, up.new, up.migration):
            assert f":{prog.name}" in script and (docs / f"{prog.name}.svg").exists(), prog.name


def test_tour_shows_the_primitives_and_the_machines(capsys: pytest.CaptureFixture[str]) -> None:
    from catlib.__main__ import main

    assert main(["tour"]) == 0
    out = capsys.readouterr().out
    for line in ("DivMod (-7, 2):         Right((-4, 1))", "DivMod (1, 0):          Left(())",
                 "bank (Sub, Lt):         129 nodes", "from addition alone:  1563 nodes",
                 "[Right(100), Right(70), Left(()), Right(70)]", "thermostat", "vending"):
        assert line in out, line
