"""The seed's counter, written with ports exactly as the seed writes it.

``Left ()`` increments the count and answers ``Left ()``; ``Right ()``
answers ``Right count``.  Version 2's state is a pair: `upgrade_state`
parks version 1's count in the first component (``n -> (n, 0)``) and
version 2 counts afresh in the second.

>>> from catlib.interpreter import run
>>> from catlib.values import Left, Right
>>> run(counter_sm, [Left(()), Left(()), Right(())], 0)
(2, [Left(()), Left(()), Right(2)])
>>> run(counter_sm2, [Left(()), Right(())], (7, 0))
((7, 1), [Left(()), Right(1)])

Compiled with `cam.compiler.compile`, the three terms give the reference's
bytecode character for character (``tests/test_examples.py``; catlib itself
does not import cam).
"""

from __future__ import annotations

from catlib.program import Program, Upgrade
from catlib.syntax import Port, dot, inl, inr, kadd, kase, konst, pair, pget, pmodify, pput, psnd, sm, unit

__all__ = ["counter_sm", "counter_sm2", "upgrade_state", "downgrade_state", "DOWNGRADE", "COUNTER", "COUNTER2", "MIGRATION", "UPGRADE"]

# counterSM = sm (kase incr get)  where incr = inl . pmodify (kadd 1); get = inr . pget
incr = dot(inl, pmodify(kadd(1)))
get = dot(inr, pget)
counter_sm = sm(kase(incr, get))
"""``Int / Either () () -> Either () Int``."""


# counterSM2 = sm (kase (inl . incr) (inr . get))
def incr2(u: Port) -> Port:
    """``(old, new) -> (old, new + 1)``: keep the parked count, bump the current one."""
    old, new = pget(u)
    return pput(pair(old, new + 1))


get2 = dot(psnd, pget)
counter_sm2 = sm(kase(dot(inl, incr2), dot(inr, get2)))
"""``(Int, Int) / Either () () -> Either () Int``."""

# upgradeState = sm (\\old -> pair old (konst 0 unit))
upgrade_state = sm(lambda old: pair(old, konst(0, unit)))
"""``() / Int -> (Int, Int)``."""

# The way back (not in the seed): version 1 resumes from version 2's count.
downgrade_state = sm(psnd)
"""``() / (Int, Int) -> Int``: ``(parked, n) -> n``."""

COUNTER = Program("counter", counter_sm, "Int", "Either () ()", "Either () Int", 0)
"""Version 1 at its declared signature, starting from 0 (as the reference's node does)."""
COUNTER2 = Program("counter2", counter_sm2, "(Int, Int)", "Either () ()", "Either () Int", (0, 0))
"""Version 2: state (previous count, count)."""
MIGRATION = Program("upgrade_state", upgrade_state, "()", "Int", "(Int, Int)", ())
"""The state migration from version 1 to 2: ``n -> (n, 0)``."""
UPGRADE = Upgrade(COUNTER, COUNTER2, MIGRATION)
"""Counter version 1 -> 2."""
DOWNGRADE = Program("downgrade_state", downgrade_state, "()", "(Int, Int)", "Int", ())
"""The down-migration from version 2 to 1: ``(parked, n) -> n``."""
