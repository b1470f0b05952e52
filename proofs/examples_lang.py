"""Upgrades of the machines that compare and divide: the bank, the thermostat, the vending machine.

The same bisimulation method as `proofs.upgrade` (a relation preserved by
every input, established by the migration), over terms that use `Sub`,
`Lt`, `Eq` and `DivMod`.  The symbolic model turns a comparison of unknowns
into an unknown sum, named after the comparison, that a `Case` splits:
both versions meet the same comparison of the same values as the *same*
unknown, so their paths line up case by case (and a path where a
comparison's answer follows from others on it, as ``x == t`` from ``not x
< t`` and ``not t < x``, is decided by trichotomy).

- **bank**: version 2 counts refusals; ``R(b, (b2, r)) :<=> b2 == b``, the
  answers equal.  And the count is right: it grows by one exactly on a
  ``REFUSED`` answer.
- **vending machine**: version 2 counts sales; ``R(s, (s2, n)) :<=> s2 ==
  s``, answers equal, and the count grows by one exactly on a sale.
- **thermostat**: version 2 holds the heater at the target (a dead band);
  ``R(s, (s2, h)) :<=> s2 == s``, and the answers are equal *except* where
  the new temperature equals the new target: there version 1 says ``OFF``
  and version 2 its last answer ``h`` (``HEAT`` if the heater was on).  A concrete run shows the
  change is real.

>>> preserved(BANK_SIM)
Verdict(proved=True, detail='6 cases', counterexample=None)
>>> establishes(THERMOSTAT_SIM, thermostat.upgrade_thermostat).proved
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy

from catlib.examples import bank, thermostat, vending
from catlib.free import Term
from catlib.program import Program
from catlib.symbolic import Condition, compare, evaluate, fresh, normal, same
from catlib.syntax import konst, pair, sm
from catlib.values import Left, Right
from proofs.core import Theorem, Verdict
from proofs.upgrade import Simulation, establishes, preserved, refutes

__all__ = ["BANK_SIM", "VENDING_SIM", "THERMOSTAT_SIM", "counted", "BROKEN", "theorems"]


def _first_is(s1: Any, s2: Any, cond: Condition) -> bool:
    return same(s2[0], s1, cond)


BANK_SIM = Simulation(
    "bank", bank.BANK, bank.BANK2, "R(b, (b2, r)) :<=> b2 == b",
    related=lambda b: (b, sympy.Symbol("r", integer=True)), holds=_first_is)
"""The bank account; version 2 counts refusals."""

VENDING_SIM = Simulation(
    "vending", vending.VENDING, vending.VENDING2, "R(s, (s2, n)) :<=> s2 == s",
    related=lambda s: (s, sympy.Symbol("n", integer=True)), holds=_first_is)
"""The vending machine; version 2 counts sales."""


def _after(i: Any, s1: Any, cond: Condition) -> tuple[Any, Any]:
    """The thermostat's ``(target, temperature)`` after command `i` from state `s1`."""
    cmd = normal(i, cond)
    return (cmd.value, s1[1]) if isinstance(cmd, Left) else (s1[0], cmd.value)


def _at_target(i: Any, s1: Any, cond: Condition) -> bool:
    """Whether the path's comparisons imply that the temperature equals the target after `i`."""
    target, temperature = _after(i, s1, cond)
    return compare("Eq", (temperature, target), cond) == Left(())


_HEATING = fresh("Either () ()", "h")
"""Version 2's last answer, unknown, in the most general related state."""


def _thermostat_agree(i: Any, s1: Any, o1: Any, o2: Any, cond: Condition) -> bool:
    """Equal answers, except the stated change: at the target version 1 says OFF, version 2 its last answer."""
    if same(o1, o2, cond):
        return True
    return _at_target(i, s1, cond) and same(o1, thermostat.OFF, cond) and same(o2, _HEATING, cond)


THERMOSTAT_SIM = Simulation(
    "thermostat", thermostat.THERMOSTAT, thermostat.THERMOSTAT2,
    "R(s, (s2, h)) :<=> s2 == s; answers equal except at the target: v1 OFF, v2 h",
    related=lambda s: (s, _HEATING), holds=_first_is, agree=_thermostat_agree)
"""The thermostat; version 2 keeps the heater on at the target."""


def counted(new: Program, counter: Callable[[Any], Any], counts: Callable[[Any, Condition], bool]) -> Verdict:
    """On every path of `new`: ``counter(new state) == counter(old state) + (1 if counts(output) else 0)``."""
    s, i = fresh(new.state, "s"), fresh(new.input, "i")
    outcomes = evaluate(new.term, i, s)
    for c, out, t in outcomes:
        want = counter(s) + (1 if counts(out, c) else 0)
        if not same(counter(t), want, c):
            return Verdict(False, f"on input {normal(i, c)} from {normal(s, c)}: answer {normal(out, c)}, "
                           f"count {normal(counter(t), c)}, expected {normal(want, c)}")
    return Verdict(True, f"{len(outcomes)} cases")


def _is_refused(out: Any, cond: Condition) -> bool:
    return isinstance(normal(out, cond), Left)


def _is_sale(out: Any, cond: Condition) -> bool:
    o = normal(out, cond)
    return isinstance(o, Right) and isinstance(o.value, Right) and isinstance(o.value.value, Left)


# ---------------------------------------------------------------- deliberately broken

_ZERO_BALANCE: Term = sm(lambda old: pair(konst(0, old), konst(0, old)))
_CREDIT_LOST: Term = sm(lambda old: pair(pair(konst(0, old), old[1]), konst(0, old)))

BROKEN: dict[str, Callable[[], Verdict]] = {
    "bank migration that forgets the balance":
        lambda: establishes(BANK_SIM, _ZERO_BALANCE),
    "vending migration that loses the credit":
        lambda: establishes(VENDING_SIM, _CREDIT_LOST),
    "thermostat claimed to answer exactly as before":
        lambda: preserved(Simulation("thermostat, exact", thermostat.THERMOSTAT, thermostat.THERMOSTAT2,
                                     "R(s, (s2, h)) :<=> s2 == s", THERMOSTAT_SIM.related, _first_is)),
    "bank version 2 claimed to count every command":
        lambda: _with_witness(counted(bank.BANK2, lambda s: s[1], lambda out, c: True)),
}
"""Wrong migrations and wrong claims, each of which the proofs must reject with a counterexample."""


def _with_witness(v: Verdict) -> Verdict:
    """`counted`'s failure detail is its own (symbolic) counterexample."""
    return v if v.proved else Verdict(False, v.detail, v.detail)


def theorems() -> list[Theorem]:
    """The upgrade theorems for the bank, the vending machine and the thermostat."""
    bis, init = "bisimulation step, symbolic", "bisimulation init, symbolic"
    return [
        Theorem(f"bank: {BANK_SIM.relation} is preserved, outputs equal", "upgrade", bis,
                lambda: preserved(BANK_SIM)),
        Theorem("bank: upgrade_bank establishes R: v2 answers as v1", "upgrade", init,
                lambda: establishes(BANK_SIM, bank.upgrade_bank)),
        Theorem("bank: v2's count grows by one exactly on REFUSED", "upgrade", "symbolic, per path",
                lambda: counted(bank.BANK2, lambda s: s[1], _is_refused)),
        Theorem(f"vending: {VENDING_SIM.relation} is preserved, outputs equal", "upgrade", bis,
                lambda: preserved(VENDING_SIM)),
        Theorem("vending: upgrade_vending establishes R: v2 answers as v1", "upgrade", init,
                lambda: establishes(VENDING_SIM, vending.upgrade_vending)),
        Theorem("vending: v2's count grows by one exactly on a sale", "upgrade", "symbolic, per path",
                lambda: counted(vending.VENDING2, lambda s: s[1], _is_sale)),
        Theorem("thermostat: R(s, (s2, h)) :<=> s2 == s preserved; answers equal but at the target (v1 OFF, v2 h)",
                "upgrade", bis, lambda: preserved(THERMOSTAT_SIM)),
        Theorem("thermostat: upgrade_thermostat establishes R", "upgrade", init,
                lambda: establishes(THERMOSTAT_SIM, thermostat.upgrade_thermostat)),
        Theorem("thermostat: v2 does NOT answer exactly as v1 (the stated change)", "upgrade",
                "counterexample, interpreter run",
                lambda: refutes(THERMOSTAT_SIM, thermostat.upgrade_thermostat)),
    ]
