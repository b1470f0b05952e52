"""Upgrades that keep their promises: bisimulations between version 1 and version 2, proved symbolically.

An upgrade installs machine `new` and converts the running state ``n`` of
machine `old` to ``m = migration(n)``.  "Clients cannot tell" means: for
every input sequence, `new` started from ``m`` answers exactly what `old`
started from ``n`` answers.  The proof is a bisimulation: a relation
``R(s1, s2)`` between old and new states such that

1. *(preserved)* for all ``s1``, ``s2`` with ``R(s1, s2)`` and every input
   ``i``, both machines give the same output on ``i`` and their new states
   are again related;
2. *(established)* ``R(n, migration(n))`` for every ``n``.

Then, by induction on the length of the input sequence, the answers agree
forever.  Each obligation is decided by `catlib.symbolic.evaluate` over a
symbolic input and states (split by case where a sum is inspected, integers
modulo 2**64).  A relation is given by its most general related pair
(`Simulation.related`: ``s1`` and a ``s2`` with fresh unknowns for what
``R`` leaves free, so that *every* related pair is an instance) and by the
test `Simulation.holds`.

The seed's counter: ``R(n, (a, b)) :<=> b == n`` (the old value parked in
``a`` is never read).  The seed's Erlang ``code_change`` gives ``{State,
State}``, which establishes ``R``; the Haskell reference's ``upgradeState``
(``n -> (n, 0)``, kept byte for byte in `catlib.examples.counter`) does not:
version 2 then counts afresh, which this module shows by a concrete run and
proves precisely (version 2 answers as version 1 *restarted from 0*).

>>> preserved(COUNTER_SIM)
Verdict(proved=True, detail='2 cases', counterexample=None)
>>> establishes(COUNTER_SIM, SEED_MIGRATION).proved, establishes(COUNTER_SIM, counter.upgrade_state).proved
(True, False)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy

from catlib.equivalence import assignments, concretize, refine
from catlib.examples import counter, registers, turnstile
from catlib.free import Term
from catlib.interpreter import run as interpret_run
from catlib.interpreter import step
from catlib.program import Program
from catlib.symbolic import Condition, evaluate, fresh, map_leaves, normal, same, symbols_of
from catlib.syntax import Port, dot, inl, inr, kase, pair, pget, pput, psnd, sm
from catlib.types import Type, as_type
from catlib.values import HostValue
from proofs.core import Theorem, Verdict

__all__ = ["Simulation", "preserved", "establishes", "distinguish", "samples", "COUNTER_SIM", "REGISTERS_SIM",
           "TURNSTILE_SIM", "SEED_MIGRATION", "BROKEN", "theorems"]

Agree = Callable[[Any, Any, Any, Any, Condition], bool]


def _equal_outputs(i: Any, s1: Any, o1: Any, o2: Any, cond: Condition) -> bool:
    return same(o1, o2, cond)


@dataclass(frozen=True)
class Simulation:
    """A relation `relation` between the states of `old` and `new` (see the module docstring).

    `related(s1)` is the most general ``s2`` with ``R(s1, s2)`` (fresh
    unknowns for the free parts); `holds(s1, s2, cond)` tests ``R``;
    `agree(i, s1, o1, o2, cond)` says when outputs count as the same
    (equality unless a change of behaviour is intended and stated).  With
    an `input_adapter` (``() / old input -> new input``) and an
    `output_adapter` (``() / new output -> old output``), `new` is seen as
    a client of `old`'s interface sees it: each input goes through the
    first, each answer through the second (`proofs.adapters`).
    """

    name: str
    old: Program
    new: Program
    relation: str
    related: Callable[[Any], Any]
    holds: Callable[[Any, Any, Condition], bool]
    agree: Agree = _equal_outputs
    input_adapter: Term | None = None
    output_adapter: Term | None = None


def _through(adapter: Term | None, v: Any, cond: Condition) -> list[tuple[Condition, Any]]:
    """`v` through an adapter (state ``()``), one result per case it splits into."""
    if adapter is None:
        return [(cond, v)]
    return [(c, o) for c, o, _ in evaluate(adapter, v, (), cond)]


def _run_seen(sim: Simulation, i: Any, s2: Any) -> tuple[Any, Any]:
    """One concrete step of `new` as `old`'s clients see it: ``(new state, answer)``."""
    if sim.input_adapter is not None:
        i = step(sim.input_adapter, i, ())[1]
    t2, o2 = step(sim.new.term, i, s2)
    if sim.output_adapter is not None:
        o2 = step(sim.output_adapter, o2, ())[1]
    return t2, o2


def preserved(sim: Simulation) -> Verdict:
    """Obligation 1: from related states, every input gives agreeing outputs and related states."""
    s1 = fresh(sim.old.state, "n")
    s2 = sim.related(s1)
    if not sim.holds(s1, s2, {}):
        return Verdict(False, "related() gives a pair that holds() rejects")
    i = fresh(sim.old.input, "i")
    cases = 0
    paths = ((c2, o1, t1, o2, t2) for c1, o1, t1 in evaluate(sim.old.term, i, s1)
             for ca, i2 in _through(sim.input_adapter, i, c1)
             for cb, raw, t2 in evaluate(sim.new.term, i2, s2, ca)
             for c2, o2 in _through(sim.output_adapter, raw, cb))
    for c2, o1, t1, o2, t2 in paths:
        cases += 1
        ok_out, ok_rel = sim.agree(i, s1, o1, o2, c2), sim.holds(t1, t2, c2)
        if not (ok_out and ok_rel):
            what = "outputs disagree" if not ok_out else "the new states are not related"
            return Verdict(False, f"{what} on input {normal(i, c2)} from {normal(s1, c2)} ~ {normal(s2, c2)}: "
                           f"old gives {normal(o1, c2)}, {normal(t1, c2)}; new gives {normal(o2, c2)}, "
                           f"{normal(t2, c2)}", _step_witness(sim, i, s1, s2, c2))
    return Verdict(True, f"{cases} cases")


def _step_witness(sim: Simulation, i: Any, s1: Any, s2: Any, cond: Condition) -> str | None:
    for c in refine((i, s1, s2), cond):
        for values in itertools.islice(assignments(symbols_of(i, s1, s2, *c.values())), 8):
            ic, n, m = (concretize(v, c, values) for v in (i, s1, s2))
            (t1, o1), (t2, o2) = step(sim.old.term, ic, n), _run_seen(sim, ic, m)
            if o1 != o2 or not _concrete_holds(sim, t1, t2):
                return f"input {ic!r}: old from {n!r} -> {o1!r}, state {t1!r}; new from {m!r} -> {o2!r}, state {t2!r}"
    return None


def _concrete_holds(sim: Simulation, t1: HostValue, t2: HostValue) -> bool:
    def sym(v: HostValue) -> Any:
        return map_leaves(v, lambda x: sympy.Integer(x) if type(x) is int else x)
    return sim.holds(sym(t1), sym(t2), {})


def establishes(sim: Simulation, migration: Term, old_of: Callable[[Any], Any] | None = None) -> Verdict:
    """Obligation 2: ``R(old_of(n), migration(n))`` for every old state ``n`` (``old_of`` defaults to ``n``)."""
    n = fresh(sim.old.state, "n")
    start = old_of(n) if old_of else n
    outcomes = evaluate(migration, n, ())
    for c, m, _ in outcomes:
        if not sim.holds(start, m, c):
            cex = distinguish(sim, migration, old_of)
            return Verdict(False, f"R fails for {normal(start, c)} ~ {normal(m, c)}", cex)
    return Verdict(True, f"{len(outcomes)} case{'s' if len(outcomes) != 1 else ''}")


def samples(t: Type | str, per_case: int = 2) -> list[HostValue]:
    """A few concrete values of type `t`: every shape of its sums, integers 0 and 1."""
    x = fresh(as_type(t), "v")
    out: list[HostValue] = []
    for c in refine((x,), {}):
        for values in itertools.islice(assignments(symbols_of(x, *c.values())), per_case):
            v = concretize(x, c, values)
            if v not in out:
                out.append(v)
    return out


def distinguish(sim: Simulation, migration: Term, old_of: Callable[[Any], Any] | None = None,
                length: int = 3) -> str | None:
    """A concrete old state and input sequence (up to `length`) on which the upgrade changes the answers."""
    inputs = samples(sim.old.input)
    for n in samples(sim.old.state):
        start = n
        if old_of is not None:
            start = concretize(old_of(fresh(sim.old.state, "n")), {}, {})
        _, m = step(migration, n, ())
        for k in range(1, length + 1):
            for seq in itertools.product(inputs, repeat=k):
                _, a = interpret_run(sim.old.term, seq, start)
                b, t = [], m
                for x in seq:
                    t, o = _run_seen(sim, x, t)
                    b.append(o)
                if a != b:
                    return (f"from {start!r} (migrated to {m!r}), inputs {list(seq)!r}: "
                            f"version 1 answers {a!r}, version 2 answers {b!r}")
    return None


def refutes(sim: Simulation, migration: Term) -> Verdict:
    """The upgrade does change answers: shown by a concrete run (the interpreter's)."""
    cex = distinguish(sim, migration)
    return Verdict(cex is not None, "concrete run" if cex else "no distinguishing run found", cex)


# ---------------------------------------------------------------- the examples

def _second_is(s1: Any, s2: Any, cond: Condition) -> bool:
    return same(s2[1], s1, cond)


def _first_is(s1: Any, s2: Any, cond: Condition) -> bool:
    return same(s2[0], s1, cond)


COUNTER_SIM = Simulation(
    "counter", counter.COUNTER, counter.COUNTER2, "R(n, (a, b)) :<=> b == n",
    related=lambda n: (sympy.Symbol("a", integer=True), n), holds=_second_is)
"""The seed's counter, version 1 against version 2."""

SEED_MIGRATION = sm(lambda old: pair(old, old))
"""The seed's Erlang ``code_change``: ``n -> (n, n)``."""

REGISTERS_SIM = Simulation(
    "registers", registers.REGISTERS, registers.REGISTERS2, "R(r, (r2, c)) :<=> r2 == r",
    related=lambda r: (r, sympy.Symbol("c", integer=True)), holds=_first_is)
"""Two registers; version 2 also counts commands."""


def _turnstile_agree(i: Any, s1: Any, o1: Any, o2: Any, cond: Condition) -> bool:
    """Equal answers, except the stated change: a coin when unlocked is kept (THANKS), no longer refunded."""
    if same(o1, o2, cond):
        return True
    return (same(i, turnstile.COIN, cond) and same(s1[0], turnstile.UNLOCKED, cond)
            and same(o1, turnstile.REFUND, cond) and same(o2, turnstile.THANKS, cond))


TURNSTILE_SIM = Simulation(
    "turnstile", turnstile.TURNSTILE, turnstile.TURNSTILE2,
    "R(t, (t2, c)) :<=> t2 == t; answers equal except COIN when unlocked: REFUND -> THANKS",
    related=lambda t: (t, sympy.Symbol("c", integer=True)), holds=_first_is, agree=_turnstile_agree)
"""The turnstile; version 2 keeps a second coin instead of refunding it, and counts coins."""


def coins_counted() -> Verdict:
    """The turnstile migration: ``coins = passes`` when locked, ``passes + 1`` when unlocked."""
    st = fresh(turnstile.TURNSTILE.state, "t")
    outcomes = evaluate(turnstile.upgrade_turnstile, st, ())
    for c, ((lock, passes), coins), _ in outcomes:
        extra = 0 if same(lock, turnstile.LOCKED, c) else 1
        if not same(coins, passes + extra, c):
            return Verdict(False, f"when {normal(lock, c)}: coins {normal(coins, c)}, passes {normal(passes, c)}")
    return Verdict(True, f"{len(outcomes)} cases")


# ---------------------------------------------------------------- deliberately broken

def _incr_by_two(u: Port) -> Port:
    old, new = pget(u)
    return pput(pair(old, new + 2))


_COUNTER2_BY_TWO = sm(kase(dot(inl, _incr_by_two), dot(inr, dot(psnd, pget))))

BROKEN: dict[str, Callable[[], Verdict]] = {
    "counter migration n -> (n, n + 1)":
        lambda: establishes(COUNTER_SIM, sm(lambda old: pair(old, old + 1))),
    "counter version 2 counting by 2":
        lambda: preserved(Simulation("counter by two", counter.COUNTER, Program(
            "counter2 by two", _COUNTER2_BY_TWO, "(Int, Int)", "Either () ()", "Either () Int", (0, 0)),
            COUNTER_SIM.relation, COUNTER_SIM.related, COUNTER_SIM.holds)),
    "registers migration swapping a and b":
        lambda: establishes(REGISTERS_SIM, sm(lambda r: pair(pair(r[1], r[0]), r[0] + r[1]))),
    "turnstile claimed to answer exactly as before":
        lambda: preserved(Simulation("turnstile, exact", turnstile.TURNSTILE, turnstile.TURNSTILE2,
                                     "R(t, (t2, c)) :<=> t2 == t", TURNSTILE_SIM.related, _first_is)),
}
"""Wrong upgrades and wrong claims, each of which the proofs must reject with a counterexample."""


def theorems() -> list[Theorem]:
    """The upgrade theorems for the counter, the registers and the turnstile."""
    bis, init = "bisimulation step, symbolic", "bisimulation init, symbolic"
    return [
        Theorem(f"counter: {COUNTER_SIM.relation} is preserved, outputs equal", "upgrade", bis,
                lambda: preserved(COUNTER_SIM)),
        Theorem("counter: seed's code_change n -> (n, n) establishes R: v2 answers as v1", "upgrade", init,
                lambda: establishes(COUNTER_SIM, SEED_MIGRATION)),
        Theorem("counter: reference upgrade_state n -> (n, 0) does NOT preserve answers", "upgrade",
                "counterexample, interpreter run", lambda: refutes(COUNTER_SIM, counter.upgrade_state)),
        Theorem("counter: after upgrade_state(n), v2 answers as v1 restarted from 0", "upgrade", init,
                lambda: establishes(COUNTER_SIM, counter.upgrade_state, old_of=lambda n: sympy.Integer(0))),
        Theorem(f"registers: {REGISTERS_SIM.relation} is preserved, outputs equal", "upgrade", bis,
                lambda: preserved(REGISTERS_SIM)),
        Theorem("registers: upgrade_registers establishes R: v2 answers as v1", "upgrade", init,
                lambda: establishes(REGISTERS_SIM, registers.upgrade_registers)),
        Theorem("turnstile: R(t, (t2, c)) :<=> t2 == t preserved; answers equal but for COIN when unlocked",
                "upgrade", bis, lambda: preserved(TURNSTILE_SIM)),
        Theorem("turnstile: upgrade_turnstile establishes R", "upgrade", init,
                lambda: establishes(TURNSTILE_SIM, turnstile.upgrade_turnstile)),
        Theorem("turnstile: upgrade_turnstile counts coins = passes (+1 if unlocked)", "upgrade",
                "symbolic, per case", coins_counted),
        Theorem("turnstile: v2 does NOT answer exactly as v1 (the stated change)", "upgrade",
                "counterexample, interpreter run", lambda: refutes(TURNSTILE_SIM, turnstile.upgrade_turnstile)),
    ]
