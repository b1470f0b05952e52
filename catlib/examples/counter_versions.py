"""Three versions of the seed's counter, as a chain of upgrades that keep old clients' answers.

Version 1 counts (`catlib.examples.counter`); version 2 keeps a parked
count beside the current one; version 3 answers a count with its whole
state ``(parked, n)``, so its output type changes, and an output adapter
(`TO_V2`: ``R (parked, n) -> R n``) keeps version 1's and 2's clients
counting.  Each upgrade carries its way back and claims that the new
version answers as the old one (``python -m proofs`` proves it, and that
each down-migration undoes its migration).  `CHAIN` lists them, so that
``cam upgrade --to catlib.examples.counter_versions:COUNTER3`` finds the
path from whatever version of the three a node runs:

>>> from catlib.program import chain
>>> from catlib.interpreter import step
>>> u = chain(CHAIN)
>>> step(u.migration.term, 5, ())[1], step(u.down.term, (5, 7), ())[1]
((5, 5), 7)
"""

from __future__ import annotations

from catlib.examples.counter import COUNTER, COUNTER2, DOWNGRADE, incr2
from catlib.free import Id
from catlib.program import Program, Upgrade
from catlib.syntax import dot, inl, inr, kase, pair, pget, psnd, sm

__all__ = ["COUNTER", "COUNTER2", "COUNTER3", "KEEP", "SAME", "TO_V2", "UP_1_2", "UP_2_3", "CHAIN"]

KEEP = Program("keep_count", sm(lambda n: pair(n, n)), "()", "Int", "(Int, Int)", ())
"""Erlang's ``code_change`` for the counter: ``n -> (n, n)`` (version 2 counts on from ``n``)."""

counter3 = sm(kase(dot(inl, incr2), dot(inr, pget)))
COUNTER3 = Program("counter3", counter3, "(Int, Int)", "Either () ()", "Either () (Int, Int)", (0, 0))
"""Version 3: as version 2, but a count answers ``R (parked, n)``."""

SAME = Program("same_state", Id, "()", "(Int, Int)", "(Int, Int)", ())
"""Versions 2 and 3 share their state: the migration and its way back are the identity."""

TO_V2 = Program("to_v2", sm(kase(inl, dot(inr, psnd))), "()", "Either () (Int, Int)", "Either () Int", ())
"""Version 3's answers as version 2's clients read them: ``R (parked, n) -> R n``."""

UP_1_2 = Upgrade(COUNTER, COUNTER2, KEEP, down=DOWNGRADE, preserves=True)
"""1 -> 2, counting on; back with ``(parked, n) -> n``."""
UP_2_3 = Upgrade(COUNTER2, COUNTER3, SAME, down=SAME, output_adapter=TO_V2, preserves=True)
"""2 -> 3, the output type changing; old clients are served through `TO_V2`."""
CHAIN = [UP_1_2, UP_2_3]
"""The versions in order."""
