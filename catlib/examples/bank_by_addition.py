"""The bank account as it had to be written before `Sub` and `Lt`: addition only.

Kept as the yardstick for `catlib.examples.bank` (and for pictures and
speed measurements): same commands, input ``Either Int (Either Int ())``,
state the balance ``Int``, but the answer is always the balance after the
command, output ``Int``; it cannot refuse anything, since nothing on
``Int`` can be branched on.  A withdrawal adds the negated amount, and
negation is built from addition alone: modulo ``2**64``,
``-k == k + 2k + 4k + ... + 2**63 k``, a chain of 63 doublings, each
adding the doubled value into an accumulator.

>>> from catlib.interpreter import run
>>> from catlib.examples.bank import deposit, withdraw, BALANCE
>>> run(bank_by_addition(), [deposit(100), withdraw(30), withdraw(500), BALANCE], 0)
(-430, [100, 70, -430, -430])

It is 1,563 term nodes, and the CAM takes 23 steps per deposit, 1,729 per
withdrawal and 8 for the balance (the issue that asked for the language
measured 1,553 nodes and about 1,720 steps for its version of the same
chain); `catlib.examples.bank`, which refuses overdrafts, is 129 nodes and
takes 62, 86 and 9 (`tests/test_examples_lang.py` checks these figures).
"""

from __future__ import annotations

import functools

from catlib.free import Add, Copy, Fst, Par, Snd, Term
from catlib.syntax import Port, encode, kase, pair, pget, pput, sm, unit

__all__ = ["negate_by_doubling", "bank_by_addition"]


@functools.cache
def negate_by_doubling() -> Term:
    """``Int -> Int``, ``k -> -k`` modulo ``2**64`` with `Add` alone: 63 doubling steps on ``(acc, x)``."""
    double = sm(lambda p: pair(p[0], p[1] + p[1])) >> Copy >> Par(Add, Snd)  # (acc, x) -> (acc + 2x, 2x)
    t: Term = Copy
    for _ in range(63):
        t = t >> double
    return t >> Fst


@functools.cache
def bank_by_addition() -> Term:
    """``Int / Either Int (Either Int ()) -> Int``: deposit, withdraw (no refusal), balance."""
    negate = negate_by_doubling()

    def pay_in(k: Port) -> Port:
        return pput(pget(unit) + k) >> pget(unit)

    def take_out(k: Port) -> Port:
        return pput(pget(unit) + encode(negate, k)) >> pget(unit)

    return sm(lambda cmd: kase(pay_in, lambda c: kase(take_out, lambda _: pget(unit), c), cmd))
