"""Probe inputs: what a new version must answer before it is installed, and again before its probation ends.

A probe is an input (of one of the interfaces the node will serve, by number;
the oldest if none is named) with, optionally, the output it must give.
Without an expected output the probe only must not fail (ill-typed input,
machine error, a failing adapter).  A probe never changes the node: it runs
on a copy of the state (values are immutable) and is not counted or
journalled.

An upgrade may carry probes (at most `MAX_PROBES`):

- before it is installed (or held by a prepare, and again at its commit),
  the probes run on the new code at the migrated state, the last of its
  checks: a failing probe refuses the upgrade (``probe_failed``) and nothing
  changes;
- if it is installed on probation, at ``make_permanent`` they run again on
  the running version at the state it has reached: a failing probe rolls the
  version back automatically (journalled like any rollback, with its
  reason) and ``make_permanent`` is refused with ``probe_failed``, saying
  where the node is now.

>>> from cam.text import parse_code, parse_value
>>> from cam.interfaces import Interface
>>> from catlib.types import parse
>>> one = [Interface(1, parse("()"), parse("Int"), (), ())]
>>> code, state = parse_code("[ID,GET]"), parse_value("Int 7")
>>> failure(code, state, one, Probe(parse_value("Unit"), parse_value("Int 7")), 100, _check)
>>> failure(code, state, one, Probe(parse_value("Unit"), parse_value("Int 8")), 100, _check)
'probe 1 (Unit) gave Int 7, not Int 8'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cam.code import Code, Value, to_text
from cam.contract import Refusal
from cam.ground import clip
from cam.interfaces import Interface, adapt, find
from cam.machine import MachineError, execute
from cam.text import parse_value
from catlib.types import Type

__all__ = ["Probe", "MAX_PROBES", "failure", "first_failure", "probes_digest", "Probing"]

MAX_PROBES = 16
"""Probes one upgrade may carry (each runs at most the node's step budget, on the checking thread)."""


@dataclass(frozen=True)
class Probe:
    """One probe input: its value, the output it must give (``None``: only must not fail), its interface."""

    input: Value
    expect: Value | None = None
    interface: int | None = None
    number: int = 1
    """Its place among the upgrade's probes (1 for the first), for messages."""

    def image(self) -> dict[str, Any]:
        """The probe as it travels and is journalled (values in their text form)."""
        return {"input": to_text(self.input), **({} if self.expect is None else {"expect": to_text(self.expect)}),
                **({} if self.interface is None else {"interface": self.interface})}

    @classmethod
    def of_image(cls, d: dict[str, Any], number: int) -> Probe:
        expect = d.get("expect")
        return cls(parse_value(d["input"]), None if expect is None else parse_value(expect), d.get("interface"),
                   number)


def probes_digest(probes: Sequence[Probe]) -> str:
    """What a signature covers of an upgrade's probes (so a signed upgrade's probes cannot be swapped).

    >>> from cam.text import parse_value
    >>> a, b = Probe(parse_value("R Unit")), Probe(parse_value("R Unit"), parse_value("R (Int 1)"))
    >>> probes_digest([a]) == probes_digest([a]), probes_digest([a]) == probes_digest([b])
    (True, False)
    """
    text = "\n".join(repr(sorted(p.image().items())) for p in probes)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check(value: Value, t: Type) -> None:
    from cam.verifier import check_value

    check_value(value, t)


def failure(code: Code, state: Value, interfaces: list[Interface], probe: Probe, fuel: int,
            check_value: Callable[[Value, Type], None]) -> str | None:
    """Why `probe` fails on `code` at `state` (serving `interfaces`), or ``None`` if it passes.  Changes nothing."""
    where = f"probe {probe.number} ({clip(to_text(probe.input), 80)})"
    try:
        iface = find(interfaces, probe.interface)
        try:
            check_value(probe.input, iface.input)
        except (TypeError, ValueError):
            return f"{where} does not have the input type {iface.input} of interface {iface.number}"
        x, _ = adapt(iface.ins, probe.input, fuel, "input")
        out, _ = adapt(iface.outs, execute(code, x, state, fuel=fuel).output, fuel, "output")
    except Refusal as e:
        return f"{where}: {e}"
    except MachineError as e:
        return f"{where}: the machine got stuck or ran out of its {fuel:,} steps after {e.steps} steps"
    if probe.expect is not None and out != probe.expect:
        return f"{where} gave {clip(to_text(out), 80)}, not {clip(to_text(probe.expect), 80)}"
    return None


def first_failure(code: Code, state: Value, interfaces: list[Interface], probes: Sequence[Probe], fuel: int,
                  check_value: Callable[[Value, Type], None]) -> str | None:
    """Why the first failing probe of `probes` fails, or ``None`` if all pass."""
    for p in probes:
        why = failure(code, state, interfaces, p, fuel, check_value)
        if why is not None:
            return why
    return None


class Probing:
    """The probes of the version on probation, for `cam.node.Node` (which sets these attributes)."""

    code: Code
    state: Value
    generation: int
    name: str
    interfaces: list[Interface]
    probes: tuple[Probe, ...]
    limits: Any
    check_value: Callable[[Value, Type], None] | None
    rollback: Callable[..., dict[str, Any]]
    say: Callable[..., None]

    def probe_now(self) -> str | None:
        """Why a probe of the running version fails at the current state, or ``None``.  Changes nothing."""
        assert self.check_value is not None
        return first_failure(self.code, self.state, self.interfaces, self.probes, self.limits.fuel, self.check_value)

    def fail_probation(self, why: str) -> Refusal:
        """Roll the version on probation back (a probe failed: `why`) and return the refusal that says so."""
        number, name = self.generation, self.name
        r = self.rollback(discard=True, why=f"a probe failed on probation: {why}")
        return Refusal("probe_failed", f"v{number} ({name or 'code'}) was on probation and {why}: rolled back to "
                                       f"{r['note'].removeprefix('rollback to ')} ({r['name'] or 'code'}), now "
                                       f"v{r['version']}, {r['forgotten']} input(s) forgotten")
