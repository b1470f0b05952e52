"""A vending machine: comparisons guard the sale, division pays the change in coins.

State ``(credit, stock)``, both ``Int`` (credit in cents).  Commands,
input ``Either Int (Either () Int)``: ``insert(k)`` cents, ``BUY``, and
``restock(n)`` items.  Answers, output ``Either Int (Either Int (Either Int
()))``:

=============  ==================================  =====================  =====================================
command        when                                answer                 then
=============  ==================================  =====================  =====================================
``insert(k)``  ``credit + k >= credit``            ``credit(c)``          credit ``c = credit + k``
``insert(k)``  ``k`` negative, or credit would     ``credit(credit)``     unchanged
               wrap past ``INT_MAX``
``BUY``        ``credit < PRICE`` (``Lt``)         ``short(d)``           unchanged; ``d = PRICE - credit``
``BUY``        ``stock == 0`` (``Eq``)             ``SOLD_OUT``           unchanged
``BUY``        otherwise                           ``vend(coins)``        one item out; the change
                                                                          ``credit - PRICE`` is paid in
                                                                          ``COIN``-cent coins (``DivMod``),
                                                                          the remainder stays as credit
``restock(n)`` ``stock + n >= stock``              ``credit(credit)``     ``n`` more items
``restock(n)`` ``n`` negative, or wrapping         ``credit(credit)``     unchanged
=============  ==================================  =====================  =====================================

>>> from catlib.interpreter import run
>>> run(vending, [BUY, insert(100), BUY, insert(170), BUY, insert(150), BUY], (0, 1))[1]
[Right(Left(150)), Left(100), Right(Left(50)), Left(270), Right(Right(Left(2))), Left(170), Right(Right(Right(())))]

``DivMod`` is total: its ``Left ()`` answer (a zero divisor) cannot occur
with the constant divisor ``COIN``, but the term still says what it would
do (answer ``SOLD_OUT``, change nothing), as every branch must.

Version 2 also counts the items sold, in state ``((credit, stock),
sold)``, and answers exactly as version 1 (`proofs.examples_lang`
proves it); its migration starts the count at 0.

>>> run(vending2, [insert(150), BUY], ((0, 5), 7))
(((0, 4), 8), [Left(150), Right(Right(Left(0)))])

Size: 325 term nodes for version 1 (ports are evaluated by name, so
``credit`` and ``stock`` are read afresh where used); the CAM takes 62 to
187 steps per command: 91 per coin, 86 for a ``BUY`` short of credit, 187
for a sale (`tests/test_examples_lang.py` checks these figures).
"""

from __future__ import annotations

from collections.abc import Callable

from catlib.program import Program, Upgrade
from catlib.syntax import Port, eq, inl, inr, kase_with, konst, pair, pdivmod, pget, pput, sm, unit
from catlib.values import Left, Right

__all__ = ["PRICE", "COIN", "insert", "BUY", "restock", "credit", "short", "vend", "SOLD_OUT",
           "vending", "vending2", "upgrade_vending", "VENDING", "VENDING2", "MIGRATION", "UPGRADE"]

PRICE, COIN = 150, 50
"""The price of an item and the coin the change is paid in, in cents."""
BUY, SOLD_OUT = Right(Left(())), Right(Right(Right(())))


def insert(k: int) -> Left:
    """The command that inserts `k` cents."""
    return Left(k)


def restock(n: int) -> Right:
    """The command that adds `n` items."""
    return Right(Right(n))


def credit(c: int) -> Left:
    """The answer ``credit(c)``: `c` cents inserted and not yet spent."""
    return Left(c)


def short(d: int) -> Right:
    """The answer to a ``BUY`` that `d` more cents would pay for."""
    return Right(Left(d))


def vend(coins: int) -> Right:
    """The answer to a ``BUY`` that went through: an item and `coins` coins of change."""
    return Right(Right(Left(coins)))


def _sold_out(_: Port) -> Port:
    return inr(inr(inr(unit)))


def _machine(credit_: Port, stock: Port, store: Callable[[Port, Port, Port], Port]) -> Callable[[Port], Port]:
    """Version 1's rules, with `store(credit, stock, sale)` writing the state (``sale`` is 1 for a sale, else 0)."""
    def pay_in(k: Port) -> Port:
        return kase_with(lambda _: inl(credit_),
                         lambda _: store(credit_ + k, stock, konst(0, unit)) >> inl(credit_),  # read after the put
                         credit_ + k < credit_)

    def sell(_: Port) -> Port:
        change = pdivmod(credit_ - PRICE, COIN)
        paid = kase_with(_sold_out, lambda qr: store(qr[1], stock - 1, konst(1, unit)) >> inr(inr(inl(qr[0]))),
                         change)
        return kase_with(lambda _: inr(inl(PRICE - credit_)),
                         lambda _: kase_with(_sold_out, lambda _: paid, eq(stock, 0)),
                         credit_ < PRICE)

    def fill(n: Port) -> Port:
        return kase_with(lambda _: inl(credit_),
                         lambda _: store(credit_, stock + n, konst(0, unit)) >> inl(credit_),
                         stock + n < stock)

    return lambda cmd: kase_with(pay_in, lambda c: kase_with(sell, fill, c), cmd)


@sm
def vending(cmd: Port) -> Port:
    """``(Int, Int) / Either Int (Either () Int) -> Either Int (Either Int (Either Int ()))``."""
    credit_, stock = pget(unit)
    return _machine(credit_, stock, lambda c, s, _: pput(pair(c, s)))(cmd)


@sm
def vending2(cmd: Port) -> Port:
    """``((Int, Int), Int) / same commands -> same answers``: counts sales in the state's second part."""
    (credit_, stock), sold = pget(unit)
    return _machine(credit_, stock, lambda c, s, sale: pput(pair(pair(c, s), sold + sale)))(cmd)


@sm
def upgrade_vending(old: Port) -> Port:
    """``() / (Int, Int) -> ((Int, Int), Int)``: nothing sold yet."""
    return pair(old, konst(0, old))


_STATE, _IN, _OUT = "(Int, Int)", "Either Int (Either () Int)", "Either Int (Either Int (Either Int ()))"
VENDING = Program("vending", vending, _STATE, _IN, _OUT, (0, 0))
"""Version 1: no credit, empty."""
VENDING2 = Program("vending2", vending2, "((Int, Int), Int)", _IN, _OUT, ((0, 0), 0))
"""Version 2, counting sales."""
MIGRATION = Program("upgrade_vending", upgrade_vending, "()", _STATE, "((Int, Int), Int)", ())
"""Version 1's state to version 2's."""
UPGRADE = Upgrade(VENDING, VENDING2, MIGRATION)
"""Vending machine version 1 -> 2."""
