"""A bank account that refuses overdrafts: subtraction and comparison at work.

State: the balance, ``Int``.  Commands, input ``Either Int (Either Int ())``:
``deposit(k)``, ``withdraw(k)`` and ``BALANCE``.  Answers, output
``Either () Int``: ``REFUSED``, or ``ok(b)`` with the balance after the command.
Refused, changing nothing: a withdrawal larger than the balance or
negative, and a deposit that would lower the balance (a negative one, or
one that would wrap past ``INT_MAX``).  So the balance never goes negative.

>>> from catlib.interpreter import run
>>> run(bank, [deposit(100), withdraw(30), withdraw(500), BALANCE], 0)
(70, [Right(100), Right(70), Left(()), Right(70)])

Version 2 also counts the refusals, in state ``(balance, refusals)``, and
answers exactly as version 1; its migration starts the count at 0.

>>> run(bank2, [withdraw(5), deposit(5), withdraw(5)], (0, 0))
((0, 1), [Left(()), Right(5), Right(0)])

Built from addition alone (`catlib.examples.bank_by_addition`: negation
by a 63-step doubling chain) the same account is 1,563 term nodes, the CAM
takes 23 steps per deposit, 1,729 per withdrawal and 8 for the balance,
and it cannot refuse anything.  With `Sub` and `Lt` it is 129 nodes, and
the CAM takes 62 steps per deposit, 86 per withdrawal (65 when refused for
want of money) and 9 for the balance: twelve times smaller, a withdrawal
twenty times faster (`tests/test_language.py` and
`tests/test_examples_lang.py` check these figures; ``python -m
papers.language`` prints them for every example).  Version 2 is 257 nodes.
"""

from __future__ import annotations

from catlib.program import Program, Upgrade
from catlib.syntax import Port, inl, inr, kase, kase_with, pair, pget, pput, sm, unit
from catlib.values import Left, Right

__all__ = ["deposit", "withdraw", "BALANCE", "REFUSED", "ok", "bank", "bank2", "upgrade_bank",
           "BANK", "BANK2", "MIGRATION", "UPGRADE"]

BALANCE, REFUSED = Right(Right(())), Left(())


def deposit(k: int) -> Left:
    """The command that pays `k` in."""
    return Left(k)


def withdraw(k: int) -> Right:
    """The command that takes `k` out, if the balance allows."""
    return Right(Left(k))


def ok(balance: int) -> Right:
    """The answer to a command that went through: the balance after it."""
    return Right(balance)


def _refused(_: Port) -> Port:
    return inl(unit)


@sm
def bank(cmd: Port) -> Port:
    """``Int / Either Int (Either Int ()) -> Either () Int``."""
    def pay_in(k: Port) -> Port:
        balance = pget(unit)
        return kase_with(_refused, lambda _: pput(balance + k) >> inr(pget(unit)), balance + k < balance)

    def take_out(k: Port) -> Port:
        balance = pget(unit)
        allowed = lambda _: kase_with(_refused, lambda _: pput(balance - k) >> inr(pget(unit)), balance < k)  # noqa: E731
        return kase_with(_refused, allowed, k < 0)

    return kase(pay_in, lambda c: kase(take_out, lambda _: inr(pget(unit)), c), cmd)


@sm
def bank2(cmd: Port) -> Port:
    """``(Int, Int) / same commands -> same answers``: counts refusals in the state's second part."""
    balance, refusals = pget(unit)

    def refuse(_: Port) -> Port:
        return pput(pair(balance, refusals + 1)) >> inl(unit)

    def pay_in(k: Port) -> Port:
        return kase_with(refuse, lambda _: pput(pair(balance + k, refusals)) >> inr(pget(unit)[0]),
                         balance + k < balance)

    def take_out(k: Port) -> Port:
        allowed = lambda _: kase_with(refuse, lambda _: pput(pair(balance - k, refusals)) >> inr(pget(unit)[0]),  # noqa: E731
                                      balance < k)
        return kase_with(refuse, allowed, k < 0)

    return kase_with(pay_in, lambda c: kase_with(take_out, lambda _: inr(balance), c), cmd)


@sm
def upgrade_bank(old: Port) -> Port:
    """``() / Int -> (Int, Int)``: the balance, no refusals yet."""
    return pair(old, old - old)


_IN, _OUT = "Either Int (Either Int ())", "Either () Int"
BANK = Program("bank", bank, "Int", _IN, _OUT, 0)
"""Version 1, empty."""
BANK2 = Program("bank2", bank2, "(Int, Int)", _IN, _OUT, (0, 0))
"""Version 2."""
MIGRATION = Program("upgrade_bank", upgrade_bank, "()", "Int", "(Int, Int)", ())
"""Version 1's state to version 2's."""
UPGRADE = Upgrade(BANK, BANK2, MIGRATION)
"""Bank version 1 -> 2."""
