"""``python -m papers.language``: the example machines' sizes and machine steps per input, measured.

For the paper's language section (and ``docs/language.md``): each machine's
size in term nodes, whether its code runs on the reference machine
(`cam.compiler.compile` with ``reference=True``), and the CAM's steps on
each kind of input, every answer checked against the interpreter.  The
addition-only bank (`catlib.examples.bank_by_addition`) is the yardstick.
"""

from __future__ import annotations

import sys
from typing import Any

from cam.compiler import CompileError, compile
from cam.hostvalue import quote
from cam.machine import execute
from catlib.examples import bank, thermostat, vending
from catlib.examples.bank_by_addition import bank_by_addition
from catlib.interpreter import step
from catlib.tree import walk

__all__ = ["ROWS", "measure", "main"]

ROWS: list[tuple[str, Any, list[tuple[str, Any, Any]]]] = [
    ("bank, addition only", bank_by_addition, [
        ("deposit", bank.deposit(5), 10), ("withdraw", bank.withdraw(3), 10), ("balance", bank.BALANCE, 10)]),
    ("bank (Sub, Lt)", lambda: bank.bank, [
        ("deposit", bank.deposit(5), 10), ("withdraw", bank.withdraw(3), 10),
        ("refused", bank.withdraw(100), 10), ("balance", bank.BALANCE, 10)]),
    ("bank v2 (counts refusals)", lambda: bank.bank2, [
        ("deposit", bank.deposit(5), (10, 0)), ("withdraw", bank.withdraw(3), (10, 0)),
        ("refused", bank.withdraw(100), (10, 0)), ("balance", bank.BALANCE, (10, 0))]),
    ("thermostat (Lt)", lambda: thermostat.thermostat, [
        ("set", thermostat.set_target(5), (200, 190)), ("reading", thermostat.reading(100), (200, 190))]),
    ("thermostat v2 (dead band)", lambda: thermostat.thermostat2, [
        ("set", thermostat.set_target(5), ((200, 190), thermostat.HEAT)),
        ("below", thermostat.reading(100), ((200, 190), thermostat.HEAT)),
        ("at", thermostat.reading(200), ((200, 190), thermostat.HEAT))]),
    ("vending (Lt, Eq, DivMod)", lambda: vending.vending, [
        ("coin", vending.insert(5), (200, 3)), ("short", vending.BUY, (100, 3)),
        ("sold out", vending.BUY, (200, 0)), ("sale", vending.BUY, (200, 3)),
        ("restock", vending.restock(3), (200, 3))]),
    ("vending v2 (counts sales)", lambda: vending.vending2, [
        ("coin", vending.insert(5), ((200, 3), 0)), ("sale", vending.BUY, ((200, 3), 0))]),
]
"""(machine, a function giving its term, [(input kind, input, state)])."""


def measure(term: Any, inputs: list[tuple[str, Any, Any]]) -> tuple[int, bool, dict[str, int]]:
    """(term nodes, whether the reference machine runs its code, steps per input kind) of `term`."""
    try:
        compile(term, reference=True)
        reference = True
    except CompileError:
        reference = False
    code, steps = compile(term), {}
    for name, x, s in inputs:
        r = execute(code, quote(x), quote(s))
        if (r.state, r.output) != tuple(map(quote, step(term, x, s))):
            raise AssertionError(f"the machine and the interpreter disagree on {name}")
        steps[name] = r.steps
    return sum(1 for _ in walk(term)), reference, steps


def main() -> int:
    """Print the table."""
    print(f"{'machine':<27} {'nodes':>5}  {'reference?':<10}  machine steps per input")
    for name, make, inputs in ROWS:
        nodes, reference, steps = measure(make(), inputs)
        per = ", ".join(f"{k} {v:,}" for k, v in steps.items())
        print(f"{name:<27} {nodes:>5,}  {'yes' if reference else 'no':<10}  {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
