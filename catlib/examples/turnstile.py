"""A coin-operated turnstile: sums for its commands, its responses and its lock.

State ``(lock, passes)`` with lock ``LOCKED = Left ()`` or ``UNLOCKED = Right ()``.
Commands, input ``Either () ()``: ``COIN`` and ``PUSH``.  Responses, output
``Either (Either () ()) (Either () Int)``:

==========  ===========  ==============  ===============================
command     when         response        then
==========  ===========  ==============  ===============================
``COIN``    locked       ``THANKS``      unlocked
``COIN``    unlocked     ``REFUND``      unchanged (the coin comes back)
``PUSH``    locked       ``BLOCKED``     unchanged
``PUSH``    unlocked     ``passed(n)``   locked, `n` people through so far
==========  ===========  ==============  ===============================

>>> from catlib.interpreter import run
>>> run(turnstile, [PUSH, COIN, COIN, PUSH], (LOCKED, 0))[1]
[Right(Left(())), Left(Left(())), Left(Right(())), Right(Right(1))]

Version 2 keeps a second coin instead of refunding it (answering
``THANKS``) and counts the coins it has taken, in state
``((lock, passes), coins)``.  Its migration `upgrade_turnstile` works the
count out from version 1's state: every pass took a coin, and an unlocked
turnstile holds one more, so ``coins = passes`` when locked and
``passes + 1`` when unlocked; a `kase_with` whose branches use `passes`
from outside.

>>> run(turnstile2, [COIN, COIN, PUSH], ((LOCKED, 0), 0))
(((Left(()), 1), 2), [Left(Left(())), Left(Left(())), Right(Right(1))])
"""

from __future__ import annotations

from catlib.program import Program, Upgrade
from catlib.syntax import Port, inl, inr, kase, kase_with, pair, pget, pput, psnd, sm, unit
from catlib.values import Left, Right

__all__ = ["LOCKED", "UNLOCKED", "COIN", "PUSH", "THANKS", "REFUND", "BLOCKED", "passed",
           "turnstile", "turnstile2", "upgrade_turnstile", "TURNSTILE", "TURNSTILE2", "MIGRATION", "UPGRADE"]

LOCKED, UNLOCKED = Left(()), Right(())
COIN, PUSH = Left(()), Right(())
THANKS, REFUND, BLOCKED = Left(Left(())), Left(Right(())), Right(Left(()))


def passed(n: int) -> Right:
    """The response to a push that let the `n`-th person through."""
    return Right(Right(n))


@sm
def turnstile(cmd: Port) -> Port:
    """``(Either () (), Int) / Either () () -> Either (Either () ()) (Either () Int)``."""
    lock, passes = pget(unit)

    def coin(_: Port) -> Port:
        return kase_with(lambda _: pput(pair(inr(unit), passes)) >> inl(inl(unit)),  # locked: unlock, thanks
                         lambda _: inl(inr(unit)),                                   # unlocked: refund
                         lock)

    def push(_: Port) -> Port:
        # ports are evaluated by name: the count answered is read after the put
        return kase_with(lambda _: inr(inl(unit)),                                  # locked: blocked
                         lambda _: pput(pair(inl(unit), passes + 1)) >> inr(inr(psnd(pget(unit)))),
                         lock)

    return kase(coin, push, cmd)


@sm
def turnstile2(cmd: Port) -> Port:
    """``((Either () (), Int), Int) / Either () () -> same responses``: keeps and counts coins."""
    (lock, passes), coins = pget(unit)

    def coin(_: Port) -> Port:
        return kase_with(lambda _: pput(pair(pair(inr(unit), passes), coins + 1)),   # locked: unlock
                         lambda _: pput(pair(pair(inr(unit), passes), coins + 1)),   # unlocked: keep the coin
                         lock) >> inl(inl(unit))

    def push(_: Port) -> Port:
        return kase_with(lambda _: inr(inl(unit)),
                         lambda _: pput(pair(pair(inl(unit), passes + 1), coins))
                         >> inr(inr(psnd(pget(unit)[0]))),
                         lock)

    return kase(coin, push, cmd)


@sm
def upgrade_turnstile(old: Port) -> Port:
    """``() / (Either () (), Int) -> ((Either () (), Int), Int)``: coins taken so far."""
    lock, passes = old
    return pair(old, kase_with(lambda _: passes, lambda _: passes + 1, lock))


_LOCK, _OUT = "Either () ()", "Either (Either () ()) (Either () Int)"
TURNSTILE = Program("turnstile", turnstile, f"({_LOCK}, Int)", "Either () ()", _OUT, (LOCKED, 0))
"""Version 1 at its declared signature, locked, nobody through yet."""
TURNSTILE2 = Program("turnstile2", turnstile2, f"(({_LOCK}, Int), Int)", "Either () ()", _OUT, ((LOCKED, 0), 0))
"""Version 2."""
MIGRATION = Program("upgrade_turnstile", upgrade_turnstile, "()", f"({_LOCK}, Int)", f"(({_LOCK}, Int), Int)", ())
"""Version 1's state to version 2's."""
UPGRADE = Upgrade(TURNSTILE, TURNSTILE2, MIGRATION)
"""Turnstile version 1 -> 2."""
