"""Symbolic values: what the translator to Python (`cam.loaded`) knows of the machine's values as it goes.

A symbolic value is a tuple: ``("c", name, value)`` a shared constant,
``("v", name)`` a local, ``("p", a, b, size)`` a pair not yet built,
``("l"/"r", a, size)`` an injection not yet built, ``("k", block, env,
size)`` a closure not yet built (its code known, so an ``APP`` of it is
inlined).  A stack entry is a symbolic value or a marker ``("m", name)``:
the continuation a ``BRANCH`` or an ``APP`` pushed.  `Values` writes the
Python for them: an expression (`Values.m`), built only where needed.

>>> from cam.pysource import Out
>>> v, out = Values(), Out(0)
>>> p = v.pair(("v", "x"), v.const(1), out)
>>> v.m(v.inj("l", p, out), out), out.lines
('v2', [(0, 'v2 = new(Left); setv(v2, (x, q1))')])
"""

from __future__ import annotations

from typing import Any

from cam.decoded import BRANCH, CURRY, EQ, HOST_ARITH, LT, MUL, SUB, Block, HostClosure, host_divmod
from cam.pysource import Out
from catlib.values import Left, Right

__all__ = ["Sym", "Frame", "Values", "Deopt", "size", "BIG"]

BIG = 12
"""A virtual pair or injection bigger than this (in nodes) is built into a local at once."""

Sym = tuple[Any, ...]


class Deopt(Exception):
    """The translated code met something it does not handle; the checked loop runs the input again."""


def size(s: Sym) -> int:
    """Nodes in the value `s` stands for, as far as it is not built yet (a local or a constant: 1)."""
    return s[-1] if s[0] in ("p", "l", "r", "k") else 1


class Frame:
    """The machine's configuration at a point of the translation: accumulator, register, stack."""

    __slots__ = ("acc", "reg", "stack")

    def __init__(self, acc: Sym, reg: Sym, stack: list[Sym]) -> None:
        self.acc, self.reg, self.stack = acc, reg, stack

    def copy(self) -> Frame:
        return Frame(self.acc, self.reg, list(self.stack))


class Values:
    """Names, constants (in `env`, the translated code's globals) and the Python for symbolic values."""

    def __init__(self, count: bool = False) -> None:
        self.counting = count  # keep the number of steps in the local ``n``
        self.env: dict[str, Any] = {"Left": Left, "Right": Right, "D": Deopt, "HC": HostClosure,
                                    "new": object.__new__, "setv": Left.value.__set__,  # type: ignore[misc]
                                    "dm": host_divmod}
        self.count = 0
        self.sizes: dict[int, int] = {}

    def fresh(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, value: Any) -> Sym:
        name = self.fresh("q")
        self.env[name] = value
        return ("c", name, value)

    def var(self, out: Out, expr: str) -> Sym:
        name = self.fresh()
        out(f"{name} = {expr}")
        return ("v", name)

    def m(self, s: Sym, out: Out) -> str:
        """A Python expression for `s`; injections are built by statements written first."""
        kind = s[0]
        if kind == "c" or kind == "v":
            return s[1]
        if kind == "p":
            return f"({self.m(s[1], out)}, {self.m(s[2], out)})"
        if kind == "k":
            if s[2][0] == "c":
                return self.const(HostClosure(s[1].code, s[2][2]))[1]
            return f"HC({self.const(s[1].code)[1]}, {self.m(s[2], out)})"
        inner = self.m(s[1], out)
        name = self.fresh()
        out(f"{name} = new({'Left' if kind == 'l' else 'Right'}); setv({name}, {inner})")
        return name

    def pair(self, a: Sym, b: Sym, out: Out) -> Sym:
        if a[0] == "c" and b[0] == "c":
            return self.const((a[2], b[2]))
        s = ("p", a, b, 1 + size(a) + size(b))
        return self.var(out, self.m(s, out)) if s[3] > BIG else s

    def inj(self, kind: str, a: Sym, out: Out) -> Sym:
        if a[0] == "c":
            return self.const((Left if kind == "l" else Right)(a[2]))
        s = ("l" if kind == "l" else "r", a, 1 + size(a))
        return ("v", self.m(s, out)) if s[2] > BIG else s

    def parts(self, s: Sym, out: Out) -> tuple[Sym, Sym] | None:
        """The two sides of a pair, None when `s` is known not to be one."""
        if s[0] == "p":
            return s[1], s[2]
        if s[0] == "c":
            v = s[2]
            return (self.const(v[0]), self.const(v[1])) if type(v) is tuple and len(v) == 2 else None
        if s[0] == "v":
            a, b = self.fresh(), self.fresh()
            out(f"{a}, {b} = {s[1]}")  # not a pair: TypeError or ValueError, the step falls back
            return ("v", a), ("v", b)
        return None

    # ------------------------------------------------------------ blocks

    def extent(self, block: Block) -> int:
        """Instructions in `block` and the blocks inside it (closures' code too)."""
        if id(block) not in self.sizes:
            n, todo = 0, [block]
            while todo:
                b = todo.pop()
                n += len(b)
                for op, arg in b:
                    if op == BRANCH:
                        todo += arg
                    elif op == CURRY:
                        todo.append(arg)
            self.sizes[id(block)] = n
        return self.sizes[id(block)]

    def arith(self, op: int, a: Sym, b: Sym, out: Out) -> Sym:
        """``SUB``/``MUL``/``LT``/``EQ``/``DIVMOD`` on two ints, constants or locals (tested first: ``*``
        repeats a tuple, ``<`` and ``==`` compare them; a failed test falls back to the checked loop)."""
        if a[0] == "c" and b[0] == "c":
            return self.const(HOST_ARITH[op](a[2], b[2]))
        x, y = a[1], b[1]
        out(f"if {' or '.join(f'{s[1]}.__class__ is not int' for s in (a, b) if s[0] == 'v')}: raise D")
        if op == SUB or op == MUL:
            return self.var(out, f"({x} {'-' if op == SUB else '*'} {y} + {2**63}) % {2**64} - {2**63}")
        if op == LT or op == EQ:  # the two answers are shared constants
            return self.var(out, f"{self.const(Left(()))[1]} if {x} {'<' if op == LT else '=='} {y} "
                                 f"else {self.const(Right(()))[1]}")
        return self.var(out, f"dm({x}, {y})")
