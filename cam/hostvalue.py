"""Host values at a node's edge: their text form, and conversions to and from machine values.

A node runs its code as `cam.machine.load` gives it: a step function over
host values (``()``, ints, 2-tuples, `catlib.values.Left`/`Right`,
`cam.decoded.HostClosure`).  It keeps its state in that form, and converts
only at the edge: a request's input text to a host value (once per distinct
text, `cam.node`), an answer's output and state to text (`host_text`, which
writes exactly `cam.code.to_text` of the same machine value), and the machine
value itself only where the journal, a snapshot or an upgrade's checks need it
(`to_value`, `from_value`).

>>> from catlib.values import Left, Right
>>> host_text((-3, Right(((), Left(2)))))
'Pair (Int (-3)) (R (Pair Unit (L (Int 2))))'
>>> to_value(Left(()))
L(UnitV)
>>> from_value(to_value((1, 2)))
(1, 2)
"""

from __future__ import annotations

from typing import Any

from cam.code import Value, to_text
from cam.decoded import HostClosure, decode, inside, outside, to_host, to_internal
from catlib.values import Left, Right

__all__ = ["host_text", "to_value", "from_value"]

_UNIT: tuple[()] = ()
_SMALL: dict[Any, str] = {_UNIT: "Unit", Left(()): "L Unit", Right(()): "R Unit"}
"""The text of the commonest outputs, shared (a counter answers ``L Unit`` to every increment)."""


def to_value(h: Any) -> Value:
    """The machine value of host value `h` (`TypeError`/`ValueError` if it is not one)."""
    v = outside(to_internal(h, decode))
    assert isinstance(v, Value)
    return v


def from_value(v: Value) -> Any:
    """The host value of machine value `v`."""
    return to_host(inside(v))


def _int(n: int, arg: bool) -> str:
    s = f"Int {n}" if n >= 0 else f"Int ({n})"
    return f"({s})" if arg else s


def host_text(h: Any) -> str:
    """The reference's text form of host value `h`: ``to_text`` of its machine value, without making it.

    Iterative, so a value nested 100,000 deep prints.
    """
    t = type(h)
    if t is int:
        return f"Int {h}" if h >= 0 else f"Int ({h})"
    if (t is Left or t is Right) and type(h.value) is tuple and not h.value or t is tuple and not h:
        return _SMALL[h]
    out: list[str] = []
    todo: list[Any] = [(h, False)]  # an item is (host value, whether it is a constructor's argument) or a piece of text
    push, emit = todo.append, out.append
    while todo:
        item = todo.pop()
        if type(item) is str:
            emit(item)
            continue
        v, arg = item
        t = type(v)
        if t is int:
            emit(_int(v, arg))
            continue
        if t is tuple:
            if not v:
                emit("Unit")
                continue
            head, kids = "Pair", v
        elif t is Left or t is Right:
            head, kids = ("L" if t is Left else "R"), (v.value,)
        elif t is HostClosure:
            text = to_text(to_value(v))
            emit(f"({text})" if arg else text)
            continue
        else:
            raise TypeError(f"not a host value ((), int, pair, Left, Right, HostClosure): {v!r}")
        emit(f"({head}" if arg else head)
        if arg:
            push(")")
        for k in reversed(kids):
            push((k, True))
            push(" ")
    return "".join(out)
