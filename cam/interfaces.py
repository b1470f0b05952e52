"""Interfaces that evolve: a node serves every input/output type of its history whose adapters compose.

An upgrade may change the machine's input and output types when it carries
adapters: ``input_adapter : () / old input -> new input`` and
``output_adapter : () / new output -> old output`` (an omitted one means that
side keeps its type).  Interfaces are numbered by the version that
introduced them (interface 1 is the first machine's), so a number is never
reused, even after a rollback.  An input that speaks interface ``k`` goes
through the input adapters from ``k`` up to the running interface, the
machine runs, and its output comes back down through the output adapters.
A request without ``"interface"`` speaks the oldest interface served: what it
meant to the clients that were there first (and the reference's text
commands, which carry no tag, keep working).

>>> from cam.text import parse_code
>>> from catlib.types import parse
>>> one = [Interface(1, parse("Int"), parse("Int"), (), ())]
>>> two = extend(one, 2, parse("(Int, ())"), parse("Int"), parse_code("[ID]"), None)
>>> [(i.number, str(i.input), len(i.ins)) for i in two]
[(1, 'Int', 1), (2, '(Int, ())', 0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cam.code import Code, UnitV, Value, to_text
from cam.contract import Refusal
from cam.ground import clip
from cam.machine import MachineError, OutOfFuel, execute
from cam.text import parse_code
from catlib.types import Type, parse

__all__ = ["Interface", "extend", "adapt", "find"]


@dataclass(frozen=True)
class Interface:
    """One interface a node serves: its number, types, and the adapters between it and the running one."""

    number: int
    input: Type
    output: Type
    ins: tuple[Code, ...]
    """Input adapters, applied in order, from this interface's input to the running machine's."""
    outs: tuple[Code, ...]
    """Output adapters, applied in order, from the running machine's output to this interface's."""

    def image(self) -> dict[str, Any]:
        return {"number": self.number, "input": str(self.input), "output": str(self.output),
                "ins": [to_text(c) for c in self.ins], "outs": [to_text(c) for c in self.outs]}

    @classmethod
    def of_image(cls, d: dict[str, Any]) -> Interface:
        return cls(d["number"], parse(d["input"]), parse(d["output"]), tuple(map(parse_code, d["ins"])),
                   tuple(map(parse_code, d["outs"])))

    def public(self) -> dict[str, Any]:
        """What ``status`` lists."""
        return {"interface": self.number, "input": str(self.input), "output": str(self.output)}


def extend(interfaces: list[Interface], number: int, new_input: Type, new_output: Type,
           input_adapter: Code | None, output_adapter: Code | None) -> list[Interface]:
    """The interfaces after an upgrade: each old one composed with the new adapters, and the new one if it differs."""
    if input_adapter is None and output_adapter is None:
        return interfaces
    ins = () if input_adapter is None else (input_adapter,)
    outs = () if output_adapter is None else (output_adapter,)
    out = [Interface(i.number, i.input, i.output, i.ins + ins, outs + i.outs) for i in interfaces]
    if (new_input, new_output) != (interfaces[-1].input, interfaces[-1].output):
        out.append(Interface(number, new_input, new_output, (), ()))
    return out


def find(interfaces: list[Interface], number: int | None) -> Interface:
    """The interface `number` speaks (``None``: the oldest served), or `Refusal` (``unknown_interface``)."""
    if number is None:
        return interfaces[0]
    for i in interfaces:
        if i.number == number:
            return i
    raise Refusal("unknown_interface", f"this node serves interfaces {', '.join(str(i.number) for i in interfaces)}"
                                       f", not {number}")


def adapt(chain: tuple[Code, ...], x: Value, fuel: int, what: str, final: bool = True) -> tuple[Value, int]:
    """`x` through the adapters of `chain` (each with `fuel` steps): (value, steps), or `Refusal` (machine_error);
    with ``final=False``, running out of `fuel` raises `OutOfFuel` (to be run again with more, as an input is)."""
    steps = 0
    for c in chain:
        try:
            r = execute(c, x, UnitV, fuel=fuel)
        except MachineError as e:
            if isinstance(e, OutOfFuel) and not final:
                raise
            raise Refusal("machine_error", f"an {what} adapter failed on {clip(to_text(x))} after {e.steps} "
                                           "steps; the state is unchanged") from None
        x, steps = r.output, steps + r.steps
    return x, steps
