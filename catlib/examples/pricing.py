"""A price list whose rule is a function kept in the state: behaviour swapped by an input, no upgrade.

State: the pricing rule, a function ``Int -> Int`` from a quantity to a
price.  Commands, input ``Either Int (Either (Int -> Int) Int)``:
``price(q)`` asks the price of `q` items; ``set_rule(f)`` replaces the
rule by the function `f` (sent as a value: on a node, a closure whose code
the verifier checks before the node accepts it); ``surcharge(k)`` replaces
the rule by "the current rule, plus `k`", a closure built inside the
machine.  Answers, output ``Either Int ()``: ``Left(price)`` or ``DONE``.

>>> from catlib.interpreter import run
>>> s, out = run(pricing, [price(3), set_rule(bulk(10, 5, 8)), price(3), price(6), surcharge(1), price(6)],
...              per_item(10))
>>> out
[Left(30), Right(()), Left(30), Left(48), Right(()), Left(49)]

The rules are closures (`catlib.values.Curried`): a body ``((), Int) ->
Int`` and its environment.  They leave the state alone, as closures kept
in the state must (one that read the state could fetch itself and call
itself forever; `cam.verifier` refuses it).  `surcharge` therefore
captures the current rule's *value* (`catlib.syntax.closure`) rather than
re-reading the state when applied.

Version 2 also counts the prices given, in state ``(rule, count)``, and
answers exactly as version 1; its migration keeps the rule and starts the
count at 0.

>>> run(pricing2, [price(2), surcharge(5), price(2)], (per_item(1), 0))[1]
[Left(2), Right(()), Left(7)]
"""

from __future__ import annotations

from catlib.free import Term
from catlib.program import Program, Upgrade
from catlib.syntax import Port, closure, decode, inl, inr, kase, kase_with, konst, pair, pget, pput, sm, unit
from catlib.values import Curried, Left, Right

__all__ = ["price", "set_rule", "surcharge", "DONE", "rule", "per_item", "bulk", "pricing", "pricing2",
           "upgrade_pricing", "PRICING", "PRICING2", "MIGRATION", "UPGRADE"]

DONE = Right(())


def price(q: int) -> Left:
    """The command asking the price of `q` items."""
    return Left(q)


def set_rule(f: Curried) -> Right:
    """The command replacing the rule by the function `f` (``Int -> Int``)."""
    return Right(Left(f))


def surcharge(k: int) -> Right:
    """The command adding `k` to every price from now on."""
    return Right(Right(k))


def rule(body: Term) -> Curried:
    """A pricing rule from a term ``((), Int) -> Int`` (environment ``()``, argument the quantity)."""
    return Curried(body, ())


def per_item(k: int) -> Curried:
    """The rule ``q -> k * q``."""
    return rule(decode(lambda p: p[1] * k))


def bulk(k: int, threshold: int, discounted: int) -> Curried:
    """The rule ``q -> k * q`` below `threshold` items, ``discounted * q`` from there on."""
    def body(p: Port) -> Port:
        q = p[1]
        return kase_with(lambda _: q * k, lambda _: q * discounted, q < threshold)
    return rule(decode(body))


def _answer(rule_now: Port, q: Port) -> Port:
    return inl(rule_now(q))


def _plus(old: Port, k: Port) -> Port:
    """The closure ``q -> old(q) + k``, over the values of `old` and `k`."""
    return closure(lambda env, q: env[0](q) + env[1], pair(old, k))


@sm
def pricing(cmd: Port) -> Port:
    """``(Int -> Int) / Either Int (Either (Int -> Int) Int) -> Either Int ()``."""
    def ask(q: Port) -> Port:
        return _answer(pget(unit), q)

    def change(c: Port) -> Port:
        return kase(lambda f: pput(f) >> inr(unit), lambda k: pput(_plus(pget(unit), k)) >> inr(unit), c)

    return kase(ask, change, cmd)


@sm
def pricing2(cmd: Port) -> Port:
    """``(Int -> Int, Int) / same commands -> same answers``: counts the prices given."""
    current, count = pget(unit)

    def ask(q: Port) -> Port:
        return pput(pair(current, count + 1)) >> _answer(current, q)

    def change(c: Port) -> Port:
        return kase_with(lambda f: pput(pair(f, count)) >> inr(unit),
                         lambda k: pput(pair(_plus(current, k), count)) >> inr(unit), c)

    return kase_with(ask, change, cmd)


@sm
def upgrade_pricing(old: Port) -> Port:
    """``() / (Int -> Int) -> (Int -> Int, Int)``: the same rule, no prices given yet."""
    return pair(old, konst(0, unit))


_IN, _OUT = "Either Int (Either (Int -> Int) Int)", "Either Int ()"
PRICING = Program("pricing", pricing, "Int -> Int", _IN, _OUT, per_item(10))
"""Version 1, ten per item."""
PRICING2 = Program("pricing2", pricing2, "(Int -> Int, Int)", _IN, _OUT, (per_item(10), 0))
"""Version 2."""
MIGRATION = Program("upgrade_pricing", upgrade_pricing, "()", "Int -> Int", "(Int -> Int, Int)", ())
"""Version 1's state to version 2's."""
UPGRADE = Upgrade(PRICING, PRICING2, MIGRATION)
"""Pricing version 1 -> 2."""
