# The annotations are catlib.frontend's spelling of the machines' types, which it checks itself; mypy
# reads `Unit` (a catlib.types.Type) as no type, Left/Right as unrelated to Either, and cannot see that a
# match on an Either is exhaustive:
# mypy: disable-error-code="valid-type, assignment, return-value, return"
"""The examples written as plain Python functions (`catlib.frontend`): each is a `Machine`.

Each decorated object is the Python function (call it on host values) and a
`catlib.program.Program` (its `term`, `signature` and initial state), with
its version 2 and the migration, itself a plain function ``old_state ->
new_state``.  They answer exactly as their port-written namesakes in
`catlib.examples` (``tests/test_frontend_examples.py`` checks both against
Python).

>>> from catlib.interpreter import run
>>> run(counter.term, [INCR, INCR, COUNT], counter.initial)
(2, [Left(()), Left(()), Right(2)])
>>> bank(withdraw(30), 100), bank(withdraw(500), 100)
((70, Right(70)), (100, Left(())))
>>> run(bank.term, [deposit(100), withdraw(30), withdraw(500), BALANCE], 0)
(70, [Right(100), Right(70), Left(()), Right(70)])
>>> str(bank2.signature), upgrade_bank(70)
('(Int, Int) / Either Int (Either Int ()) -> Either () Int', (70, 0))
"""

from __future__ import annotations

from collections.abc import Callable

from catlib.examples.bank import BALANCE, REFUSED, deposit, withdraw
from catlib.examples.pricing import DONE, per_item, price, set_rule, surcharge
from catlib.examples.registers import ACC, SWAP, load
from catlib.examples.turnstile import BLOCKED, COIN, LOCKED, PUSH, REFUND, THANKS, UNLOCKED
from catlib.frontend import Either, Left, Right, Unit, machine
from catlib.program import Upgrade

__all__ = ["INCR", "COUNT", "counter", "counter2", "upgrade_counter",
           "deposit", "withdraw", "BALANCE", "REFUSED", "bank", "bank2", "upgrade_bank",
           "COIN", "PUSH", "turnstile", "turnstile2", "upgrade_turnstile",
           "SWAP", "ACC", "load", "registers", "registers2", "upgrade_registers",
           "HYSTERESIS", "ON", "OFF", "thermostat", "low_bits",
           "Rule", "TEN_PER_ITEM", "price", "set_rule", "surcharge", "DONE", "pricing", "pricing2", "upgrade_pricing",
           "COUNTER_UPGRADE", "PRICING_UPGRADE", "BANK_UPGRADE", "TURNSTILE_UPGRADE", "REGISTERS_UPGRADE"]

INCR, COUNT = Left(()), Right(())

# ---------------------------------------------------------------- the seed's counter


@machine
def counter(cmd: Either[Unit, Unit], count: int = 0) -> tuple[int, Either[Unit, int]]:
    """``Int / Either () () -> Either () Int``: INCR counts, COUNT answers the count."""
    if cmd == INCR:
        return count + 1, Left(())
    return count, Right(count)


@machine
def counter2(cmd: Either[Unit, Unit], counts: tuple[int, int] = (0, 0)) -> tuple[tuple[int, int], Either[Unit, int]]:
    """``(Int, Int) / same``: version 1's count parked in the first component, counting afresh in the second."""
    parked, count = counts
    if cmd == INCR:
        return (parked, count + 1), Left(())
    return counts, Right(count)


@machine
def upgrade_counter(count: int) -> tuple[int, int]:
    """The seed's migration ``n -> (n, 0)``: version 2 counts afresh."""
    return count, 0


COUNTER_UPGRADE = Upgrade(counter, counter2, upgrade_counter)

# ---------------------------------------------------------------- the bank account

Command = Either[int, Either[int, Unit]]
Answer = Either[Unit, int]


@machine
def bank(cmd: Command, balance: int = 0) -> tuple[int, Answer]:
    """Deposit, withdraw (refused beyond the balance, or negative), balance; a deposit that would
    lower the balance (negative, or wrapping past 2**63 - 1) is refused too."""
    match cmd:
        case Left(amount):
            if balance + amount < balance:
                return balance, REFUSED
            return balance + amount, Right(balance + amount)
        case Right(Left(amount)):
            if amount < 0 or balance < amount:
                return balance, REFUSED
            return balance - amount, Right(balance - amount)
        case Right(Right(())):
            return balance, Right(balance)


@machine
def bank2(cmd: Command, state: tuple[int, int] = (0, 0)) -> tuple[tuple[int, int], Answer]:
    """Version 2 counts the refusals; it runs version 1 for everything else (a machine calling a machine)."""
    balance, refusals = state
    new_balance, answer = bank(cmd, balance)
    if answer == REFUSED:
        return (balance, refusals + 1), answer
    return (new_balance, refusals), answer


@machine
def upgrade_bank(balance: int) -> tuple[int, int]:
    """The balance, no refusals yet."""
    return balance, 0


BANK_UPGRADE = Upgrade(bank, bank2, upgrade_bank)

# ---------------------------------------------------------------- the turnstile

Lock = Either[Unit, Unit]
Response = Either[Either[Unit, Unit], Either[Unit, int]]


@machine
def turnstile(cmd: Either[Unit, Unit], state: tuple[Lock, int] = (LOCKED, 0)) -> tuple[tuple[Lock, int], Response]:
    """A coin unlocks (THANKS; REFUND when already unlocked); a push when unlocked lets one through."""
    lock, passes = state
    if cmd == COIN:
        if lock == LOCKED:
            return (UNLOCKED, passes), THANKS
        return state, REFUND
    if lock == LOCKED:
        return state, BLOCKED
    return (LOCKED, passes + 1), Right(Right(passes + 1))


@machine
def turnstile2(cmd: Either[Unit, Unit], state: tuple[tuple[Lock, int], int] = ((LOCKED, 0), 0)
               ) -> tuple[tuple[tuple[Lock, int], int], Response]:
    """Version 2 keeps a second coin (THANKS, not REFUND) and counts the coins taken."""
    (lock, passes), coins = state
    if cmd == COIN:
        return ((UNLOCKED, passes), coins + 1), THANKS
    if lock == LOCKED:
        return state, BLOCKED
    return ((LOCKED, passes + 1), coins), Right(Right(passes + 1))


@machine
def upgrade_turnstile(state: tuple[Lock, int]) -> tuple[tuple[Lock, int], int]:
    """Every pass took a coin, and an unlocked turnstile holds one more."""
    lock, passes = state
    return state, passes if lock == LOCKED else passes + 1


TURNSTILE_UPGRADE = Upgrade(turnstile, turnstile2, upgrade_turnstile)

# ---------------------------------------------------------------- two registers


@machine
def registers(cmd: Either[Either[Unit, Unit], int], regs: tuple[int, int] = (0, 0)) -> tuple[tuple[int, int], int]:
    """SWAP, ACC (a += b) or load(k) (b = k); answers the new a."""
    a, b = regs
    match cmd:
        case Left(Left(())):
            a, b = b, a
        case Left(Right(())):
            a = a + b
        case Right(k):
            b = k
    return (a, b), a


@machine
def registers2(cmd: Either[Either[Unit, Unit], int], state: tuple[tuple[int, int], int] = ((0, 0), 0)
               ) -> tuple[tuple[tuple[int, int], int], int]:
    """Version 2 also counts the commands, and answers as version 1."""
    regs, n = state
    new_regs, a = registers(cmd, regs)
    return (new_regs, n + 1), a


@machine
def upgrade_registers(regs: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """No commands counted yet."""
    return regs, 0


REGISTERS_UPGRADE = Upgrade(registers, registers2, upgrade_registers)

# ---------------------------------------------------------------- comparisons and loops

HYSTERESIS = 1
ON, OFF = Left(()), Right(())


@machine
def thermostat(cmd: Either[int, int], state: tuple[int, Either[Unit, Unit]] = (20, OFF)
               ) -> tuple[tuple[int, Either[Unit, Unit]], Either[Unit, Unit]]:
    """``Left(reading)`` switches the heating ON below target - HYSTERESIS and OFF above target +
    HYSTERESIS (else leaves it); ``Right(t)`` sets the target.  Answers the heating."""
    target, heating = state
    match cmd:
        case Left(temperature):
            if temperature < target - HYSTERESIS:
                heating = ON
            elif temperature > target + HYSTERESIS:
                heating = OFF
        case Right(t):
            target = t
    return (target, heating), heating


@machine
def low_bits(x: int) -> int:
    """How many of the 8 lowest bits of `x` are set (a loop, unrolled)."""
    n = 0
    for _ in range(8):
        n += x % 2
        x = x // 2
    return n


# ---------------------------------------------------------------- a rule kept in the state (closures)

Rule = Callable[[int], int]
"""A pricing rule: a function from a quantity to a price."""
TEN_PER_ITEM = per_item(10)
"""The first rule: ten per item."""
PricingCommand = Either[int, Either[Rule, int]]


@machine
def pricing(cmd: PricingCommand, rule: Rule = TEN_PER_ITEM) -> tuple[Rule, Either[int, Unit]]:
    """`catlib.examples.pricing` in plain Python: ``price(q)`` answers ``rule(q)``, ``set_rule(f)``
    replaces the rule, ``surcharge(k)`` replaces it by a closure over the current rule and `k`.

    >>> from catlib.interpreter import run
    >>> run(pricing.term, [price(3), surcharge(1), price(3)], pricing.initial)[1]
    [Left(30), Right(()), Left(31)]
    """
    match cmd:
        case Left(q):
            return rule, Left(rule(q))
        case Right(Left(f)):
            return f, DONE
        case Right(Right(k)):
            return (lambda q: rule(q) + k), DONE


@machine
def pricing2(cmd: PricingCommand, state: tuple[Rule, int] = (TEN_PER_ITEM, 0)
             ) -> tuple[tuple[Rule, int], Either[int, Unit]]:
    """Version 2: the same answers, and counts the prices given."""
    rule, count = state
    match cmd:
        case Left(q):
            return (rule, count + 1), Left(rule(q))
        case Right(Left(f)):
            return (f, count), DONE
        case Right(Right(k)):
            def plus(q: int) -> int:
                return rule(q) + k
            return (plus, count), DONE


@machine
def upgrade_pricing(rule: Rule) -> tuple[Rule, int]:
    """The same rule, no prices given yet."""
    return rule, 0


PRICING_UPGRADE = Upgrade(pricing, pricing2, upgrade_pricing)
