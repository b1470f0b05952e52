"""Two registers that can swap, accumulate and load; its branches see outer ports (`kase_with`).

State ``(a, b)``.  Commands, input ``Either (Either () ()) Int``:

==================  ============  ========================
command             value         effect
==================  ============  ========================
swap                ``SWAP``      ``(a, b) -> (b, a)``
accumulate          ``ACC``       ``(a, b) -> (a + b, b)``
load `k`            ``load(k)``   ``(a, b) -> (a, k)``
==================  ============  ========================

Every command answers the new `a`.

>>> from catlib.interpreter import run
>>> run(registers, [load(5), ACC, ACC, SWAP], (1, 0))
((5, 11), [1, 6, 11, 5])

Version 2 also counts the commands it has run, in state ``((a, b), n)``,
and answers exactly what version 1 answers: after `upgrade_registers`
(``(a, b) -> ((a, b), 0)``) a client cannot tell the two apart.

>>> run(registers2, [load(5), ACC], ((1, 0), 0))
(((6, 5), 2), [1, 6])
"""

from __future__ import annotations

from catlib.program import Program, Upgrade
from catlib.syntax import Port, kase_with, konst, pair, pfst, pget, pput, sm, unit
from catlib.values import Left, Right

__all__ = ["SWAP", "ACC", "load", "registers", "registers2", "upgrade_registers",
           "REGISTERS", "REGISTERS2", "MIGRATION", "UPGRADE"]

SWAP = Left(Left(()))
"""The swap command."""
ACC = Left(Right(()))
"""The accumulate command."""


def load(k: int) -> Right:
    """The command loading `k` into register b."""
    return Right(k)


@sm
def registers(cmd: Port) -> Port:
    """``(Int, Int) / Either (Either () ()) Int -> Int``."""
    a, b = pget(unit)

    def control(c: Port) -> Port:  # swap or accumulate: both use a and b from outside
        return kase_with(lambda _: pput(pair(b, a)),
                         lambda _: pput(pair(a + b, b)), c)

    def loading(k: Port) -> Port:
        return pput(pair(a, k))

    return kase_with(control, loading, cmd) >> pfst(pget(unit))


@sm
def registers2(cmd: Port) -> Port:
    """``((Int, Int), Int) / Either (Either () ()) Int -> Int``: version 1 counting its commands."""
    (a, b), n = pget(unit)

    def control(c: Port) -> Port:
        return kase_with(lambda _: pput(pair(pair(b, a), n + 1)),
                         lambda _: pput(pair(pair(a + b, b), n + 1)), c)

    def loading(k: Port) -> Port:
        return pput(pair(pair(a, k), n + 1))

    return kase_with(control, loading, cmd) >> pfst(pfst(pget(unit)))


upgrade_registers = sm(lambda regs: pair(regs, konst(0, unit)))
"""``() / (Int, Int) -> ((Int, Int), Int)``: start counting at 0."""

_COMMANDS = "Either (Either () ()) Int"
REGISTERS = Program("registers", registers, "(Int, Int)", _COMMANDS, "Int", (0, 0))
"""Version 1 at its declared signature, both registers 0."""
REGISTERS2 = Program("registers2", registers2, "((Int, Int), Int)", _COMMANDS, "Int", ((0, 0), 0))
"""Version 2."""
MIGRATION = Program("upgrade_registers", upgrade_registers, "()", "(Int, Int)", "((Int, Int), Int)", ())
"""Version 1's state to version 2's."""
UPGRADE = Upgrade(REGISTERS, REGISTERS2, MIGRATION)
"""Registers version 1 -> 2."""
