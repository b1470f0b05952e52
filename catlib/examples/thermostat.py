"""A thermostat: a comparison decides the heater, and version 2 adds hysteresis.

State ``(target, temperature)``, both ``Int`` (say, tenths of a degree).
Commands, input ``Either Int Int``: ``set_target(t)`` and ``reading(x)``
(a new temperature from the sensor).  After each command the thermostat
answers what the heater should do, output ``Either () ()``: ``HEAT`` when
the temperature is below the target (``Lt``), else ``OFF``.

>>> from catlib.interpreter import run
>>> run(thermostat, [reading(180), set_target(200), reading(200), reading(199)], (190, 190))
((200, 199), [Left(()), Left(()), Right(()), Left(())])

Version 2 keeps the heater's last answer in its state ``((target,
temperature), heating)`` and, when the temperature *equals* the target,
answers it again instead of ``OFF``: a dead band at the target, so that a
sensor flickering around it does not switch the heater on and off at
every reading.  Below or above the target it answers as version 1.  This
is a stated change of behaviour (as the turnstile's): `proofs.examples_lang`
proves that the two versions answer alike except exactly there, and shows
a run where they differ.  The migration `upgrade_thermostat` sets
``heating`` to what version 1 answers in the running state.

>>> run(thermostat2, [reading(180), set_target(200), reading(200), reading(201)], ((190, 190), OFF))
(((200, 201), Right(())), [Left(()), Left(()), Left(()), Right(())])

Size: 71 term nodes for version 1, and the CAM takes 50 steps per
command; version 2 is 171 nodes and takes 79 to 111 steps
(`tests/test_examples_lang.py` checks these figures).
"""

from __future__ import annotations

from catlib.program import Program, Upgrade
from catlib.syntax import Port, inl, inr, kase_with, pair, pget, pput, sm, unit
from catlib.values import Left, Right

__all__ = ["HEAT", "OFF", "set_target", "reading", "thermostat", "thermostat2", "upgrade_thermostat",
           "THERMOSTAT", "THERMOSTAT2", "MIGRATION", "UPGRADE"]

HEAT, OFF = Left(()), Right(())


def set_target(t: int) -> Left:
    """The command that sets the target temperature to `t`."""
    return Left(t)


def reading(x: int) -> Right:
    """The sensor's command: the temperature is now `x`."""
    return Right(x)


def _below(target: Port, temperature: Port) -> Port:
    """``HEAT`` (``Left ()``) when ``temperature < target``, else ``OFF``: `Lt`'s answer is the heater's."""
    return temperature < target


@sm
def thermostat(cmd: Port) -> Port:
    """``(Int, Int) / Either Int Int -> Either () ()``."""
    target, temperature = pget(unit)
    after = pget(unit)  # evaluated by name: read after the put
    return kase_with(lambda t: pput(pair(t, temperature)) >> _below(after[0], after[1]),
                     lambda x: pput(pair(target, x)) >> _below(after[0], after[1]), cmd)


def _decide(target: Port, temperature: Port, heating: Port) -> Port:
    """Version 2's answer: ``HEAT`` below the target, ``OFF`` above it, `heating` again at it."""
    return kase_with(lambda _: inl(unit),
                     lambda _: kase_with(lambda _: inr(unit), lambda _: heating, target < temperature),
                     temperature < target)


@sm
def thermostat2(cmd: Port) -> Port:
    """``((Int, Int), Either () ()) / Either Int Int -> Either () ()``."""
    (target, temperature), heating = pget(unit)

    def settle(t: Port, x: Port) -> Port:
        return pput(pair(pair(t, x), _decide(t, x, heating))) >> pget(unit)[1]

    return kase_with(lambda t: settle(t, temperature), lambda x: settle(target, x), cmd)


@sm
def upgrade_thermostat(old: Port) -> Port:
    """``() / (Int, Int) -> ((Int, Int), Either () ())``: the heater as version 1 would set it now."""
    target, temperature = old
    return pair(old, _below(target, temperature))


_STATE, _IN, _OUT = "(Int, Int)", "Either Int Int", "Either () ()"
THERMOSTAT = Program("thermostat", thermostat, _STATE, _IN, _OUT, (200, 200))
"""Version 1: target 20.0 degrees, the room at it."""
THERMOSTAT2 = Program("thermostat2", thermostat2, "((Int, Int), Either () ())", _IN, _OUT, ((200, 200), OFF))
"""Version 2, with the dead band at the target."""
MIGRATION = Program("upgrade_thermostat", upgrade_thermostat, "()", _STATE, "((Int, Int), Either () ())", ())
"""Version 1's state to version 2's."""
UPGRADE = Upgrade(THERMOSTAT, THERMOSTAT2, MIGRATION)
"""Thermostat version 1 -> 2."""
