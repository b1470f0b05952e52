"""What the command line names: ``MODULE:NAME`` objects, values, probe inputs (`cam.cli`, `cam.release`).

>>> from cam.code import to_text
>>> to_text(parse_state("(1, -2)")), to_text(parse_probe("R Unit => R (Int 0)")[1])
('Pair (Int 1) (Int (-2))', 'R (Int 0)')
"""

from __future__ import annotations

import argparse
import ast
import importlib
from typing import Any

from cam.code import Value
from cam.hostvalue import quote
from cam.text import ParseError, parse_value

__all__ = ["load", "parse_state", "parse_probe"]


def load(spec: str) -> Any:
    """The object named ``MODULE:NAME`` (a term, a `catlib.program.Program`, code, ...)."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"expected MODULE:NAME, e.g. catlib.examples.counter:counter_sm, not {spec!r}")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def parse_state(text: str) -> Value:
    """A value from the reference's text form (``Int 0``, ``Pair (Int 1) (Int 2)``) or a plain
    Python literal: ``0``, ``(1, 2)``, ``()`` (quoted as host values).

    >>> from cam.code import to_text
    >>> to_text(parse_state("0")), to_text(parse_state("Int 0")), to_text(parse_state("(1, -2)"))
    ('Int 0', 'Int 0', 'Pair (Int 1) (Int (-2))')
    """
    try:
        return parse_value(text)
    except ParseError as first:
        try:
            literal = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise first from None
        try:
            return quote(literal)
        except (ValueError, TypeError) as e:  # a literal, but not a value: say why (an int out of range, ...)
            raise ParseError(0, "a value", f"{text.strip()}: {e}") from None


def parse_probe(text: str) -> Any:
    """A probe from the command line: ``INPUT`` (must not fail) or ``INPUT => OUTPUT``.

    >>> from cam.code import to_text
    >>> [to_text(v) for v in parse_probe("R Unit => R (Int 0)")], to_text(parse_probe("L Unit"))
    (['R Unit', 'R (Int 0)'], 'L Unit')
    """
    x, sep, out = text.partition("=>")
    try:
        return (parse_state(x), parse_state(out)) if sep else parse_state(x)
    except ParseError as e:
        raise argparse.ArgumentTypeError(f"a probe is 'INPUT' or 'INPUT => OUTPUT': {e}") from None
