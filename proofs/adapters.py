"""Upgrades with adapters and ways back: what their claims mean, proved (or refuted exactly).

**Adapters.** An upgrade whose new version changes its interface carries
adapters (`catlib.program.Upgrade`); a client of the old interface sees
the new machine through them: its input goes through the input adapter,
the answer comes back through the output adapter.  The claim "version 2
answers as version 1" is then a bisimulation (`proofs.upgrade`) between
version 1 and version 2 *seen through the adapters*.  Proved here for
`catlib.examples.counter_versions`: 2 -> 3 (version 3 answers a count with
its whole state, `TO_V2` gives version 2's clients their count), and the
chain 1 -> 3 composed by `catlib.program.chain` (its composite migration
and output adapter, as the node installs them).

**Ways back.** A down-migration `down` undoes a migration `up` when
``down(up(n)) == n`` for every old state ``n``: a rollback right after the
upgrade then gives back exactly the state that was there.  `round_trip`
decides it symbolically, per case of the state's sums; where it fails, it
says in which case, what ``down(up(n))`` is instead, and gives a concrete
state (run by the interpreter).  The seed's ``upgrade_state`` (``n -> (n,
0)``) with the way back ``(parked, n) -> n`` is *not* undone: it gives
``0``, equal to ``n`` only when ``n = 0`` (the count is lost, as the README's
rollback example shows).

>>> round_trip(cv.KEEP.term, cv.DOWNGRADE.term, "Int")
Verdict(proved=True, detail='down . up = id: 1 case', counterexample=None)
>>> v = round_trip(counter.upgrade_state, counter.downgrade_state, "Int")
>>> v.proved, v.detail
(False, 'when true: down(up(n)) = 0, not n (equal only where 0 = n)')
>>> v.counterexample
'n = 1: up gives (1, 0), down gives back 0'
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import sympy

from catlib.equivalence import assignments, concretize, refine
from catlib.examples import counter
from catlib.examples import counter_versions as cv
from catlib.free import Term
from catlib.interpreter import step
from catlib.program import Program, Upgrade, chain
from catlib.symbolic import Condition, evaluate, fresh, normal, same, show_condition, symbols_of
from catlib.syntax import dot, inl, inr, kase, pfst, sm
from catlib.types import Type, as_type
from proofs.core import Theorem, Verdict
from proofs.upgrade import COUNTER_SIM, Simulation, establishes, preserved

__all__ = ["round_trip", "adapted", "V2_V3_SIM", "V1_V3_SIM", "BROKEN", "theorems"]



def _same_state(s1: object, s2: object, cond: Condition) -> bool:
    return same(s1, s2, cond)


def adapted(sim: Simulation, u: Upgrade) -> Simulation:
    """`sim` with `u`'s adapters: `u.new` as `u.old`'s clients see it."""
    ia, oa = (None if p is None else p.term for p in (u.input_adapter, u.output_adapter))
    return Simulation(sim.name, u.old, u.new, sim.relation, sim.related, sim.holds, sim.agree, ia, oa)


V2_V3_SIM = adapted(Simulation("counter 2 -> 3", cv.COUNTER2, cv.COUNTER3, "R(s2, s3) :<=> s3 == s2",
                               related=lambda s: s, holds=_same_state), cv.UP_2_3)
"""Versions 2 and 3 share their state; version 3 seen through `TO_V2`."""

CHAIN = chain(cv.CHAIN)
V1_V3_SIM = adapted(Simulation("counter 1 -> 3", cv.COUNTER, cv.COUNTER3, COUNTER_SIM.relation,
                               COUNTER_SIM.related, COUNTER_SIM.holds), CHAIN)
"""Version 1 against version 3 seen through the chain's composite output adapter."""


def round_trip(up: Term, down: Term, state: Type | str) -> Verdict:
    """``down(up(n)) == n`` for every ``n`` of type `state`; if not, exactly where not (see the module doc)."""
    n = fresh(as_type(state), "n")
    cases = 0
    for c1, m, _ in evaluate(up, n, ()):
        for c2, back, _ in evaluate(down, m, (), c1):
            cases += 1
            if not same(back, n, c2):
                eq = " and ".join(f"{a} = {b}" for a, b in _differences(normal(back, c2), normal(n, c2)))
                return Verdict(False, f"when {show_condition(c2)}: down(up(n)) = {normal(back, c2)}, not "
                               f"{normal(n, c2)} (equal only where {eq})", _witness(up, down, n, c2))
    return Verdict(True, f"down . up = id: {cases} case{'s' if cases != 1 else ''}")


def _differences(a: object, b: object) -> list[tuple[object, object]]:
    """The leaves where two normal forms differ (as equations that would make them equal)."""
    out, todo = [], [(a, b)]
    while todo:
        x, y = todo.pop()
        if type(x) is tuple and type(y) is tuple and len(x) == len(y):
            todo += list(zip(x, y))
        elif type(x) is type(y) and hasattr(x, "value") and hasattr(y, "value"):
            todo.append((x.value, y.value))
        elif x != y:
            out.append((x, y))
    return out


def _witness(up: Term, down: Term, n: object, cond: Condition) -> str | None:
    """A concrete state on which the round trip changes it (run by the interpreter)."""
    for c in refine((n,), cond):
        for values in itertools.islice(assignments(symbols_of(n, *c.values())), 8):
            v = concretize(n, c, values)
            m = step(up, v, ())[1]
            back = step(down, m, ())[1]
            if back != v:
                return f"n = {v!r}: up gives {m!r}, down gives back {back!r}"
    return None


# ---------------------------------------------------------------- deliberately broken

_WRONG_TO_V2 = Program("parked instead", sm(kase(inl, dot(inr, pfst))), "()", "Either () (Int, Int)",
                       "Either () Int", ())
"""``R (parked, n) -> R parked``: answers the wrong count."""

BROKEN: dict[str, Callable[[], Verdict]] = {
    "counter 2 -> 3 with an adapter answering the parked count":
        lambda: preserved(adapted(V2_V3_SIM, Upgrade(cv.COUNTER2, cv.COUNTER3, cv.SAME,
                                                     output_adapter=_WRONG_TO_V2))),
    "counter 1 -> 3 chain without its output adapter (outputs compared raw)":
        lambda: preserved(Simulation("raw", cv.COUNTER, Program(
            "counter3 read as counter", cv.COUNTER3.term, "(Int, Int)", "Either () ()", "Either () (Int, Int)", (0, 0)),
            COUNTER_SIM.relation, COUNTER_SIM.related, COUNTER_SIM.holds,
            lambda i, s, o1, o2, c: same(o1, o2, c))),
    "counter 1 -> 2 with a lossy way back (upgrade_state, then (parked, n) -> n)":
        lambda: round_trip(counter.upgrade_state, counter.downgrade_state, "Int"),
    "counter 1 -> 2 with a way back that returns the parked count plus one":
        lambda: round_trip(cv.KEEP.term, sm(lambda s: pfst(s) + 1), "Int"),
}
"""Wrong adapters and lossy ways back, each of which must be rejected with a counterexample."""


def theorems() -> list[Theorem]:
    """The adapter and way-back theorems of `catlib.examples.counter_versions` (and the seed's counter)."""
    bis, init, rt = "bisimulation step, symbolic", "bisimulation init, symbolic", "round trip, symbolic"
    out = [
        Theorem("counter 2 -> 3: v3 through TO_V2 answers as v2 (R: same state), preserved", "upgrade", bis,
                lambda: preserved(V2_V3_SIM)),
        Theorem("counter 2 -> 3: the identity migration establishes R", "upgrade", init,
                lambda: establishes(V2_V3_SIM, cv.SAME.term)),
        Theorem(f"counter chain 1 -> 3: v3 through the composite adapter answers as v1 ({COUNTER_SIM.relation})",
                "upgrade", bis, lambda: preserved(V1_V3_SIM)),
        Theorem("counter chain 1 -> 3: the composite migration establishes R", "upgrade", init,
                lambda: establishes(V1_V3_SIM, CHAIN.migration.term)),
    ]
    for label, u in (("1 -> 2", cv.UP_1_2), ("2 -> 3", cv.UP_2_3), ("chain 1 -> 3", CHAIN)):
        out.append(Theorem(f"counter {label}: down . up is the identity on states", "upgrade", rt, _undone(u)))
    out.append(Theorem("counter (seed): downgrade . upgrade_state is NOT the identity: it is 0, n only where n = 0",
                       "upgrade", "round trip, refuted exactly", _lossy_seed))
    return out


def _undone(u: Upgrade) -> Callable[[], Verdict]:
    """The decision "u's way back undoes its migration"."""
    down = u.down
    assert down is not None
    return lambda: round_trip(u.migration.term, down.term, u.old.state)


def _lossy_seed() -> Verdict:
    """The seed's way there and back loses the count exactly when it is not 0: a refutation that must hold."""
    v = round_trip(counter.upgrade_state, counter.downgrade_state, "Int")
    n = sympy.Symbol("n", integer=True)
    expected = f"when true: down(up(n)) = 0, not {n} (equal only where 0 = {n})"
    ok = not v.proved and v.detail == expected and v.counterexample is not None
    return Verdict(ok, "refuted exactly: " + v.detail if ok else f"unexpected: {v}", None if ok else v.counterexample)
