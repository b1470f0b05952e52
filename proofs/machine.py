"""A small symbolic CAM: the transitions of `cam.machine` on symbolic values, with holes.

Code here is a block: a list of items, each either a decoded instruction
``(opcode, operand)`` -- `cam.code.Decoder`'s form, opcodes from
`cam.code.INSTRUCTIONS`, a ``QUOTE``'s operand a symbolic value, a
``BRANCH``'s a pair of blocks -- or `Hole` (the code of an unknown subterm,
run in one step as the induction hypothesis says) or `K` (the continuation
``k`` that follows the code under study).  Values are `catlib.symbolic`
values read as machine values through `cam.hostvalue.quote`: ``()`` is ``Unit``, a
tuple a ``Pair``, ``Left``/``Right`` are ``L``/``R``, a sympy integer an ``Int``.

Each transition is the one in `cam.machine` (its checked loop), including
when the machine is stuck, one entry per instruction in `run` (and the reference's
table in ``docs/reference.md``):

=========  ===============================================  ====================================
op         needs                                            does
=========  ===============================================  ====================================
ID         --                                               --
FST/SND    a pair in the accumulator                        project
COPY       --                                               ``x -> (x, x)``
CONSUME    --                                               ``x -> ()``
FIRST      a pair ``(a, b)``                                push b; acc a
SECOND     a pair ``(a, b)``                                push a; acc b
CONS       a value on top of the stack                      ``acc := (pop, acc)``
SWAP       a value on top of the stack                      exchange acc and top
PUSH       --                                               push acc
ROT        two entries on the stack                         exchange the top two
RETURN     a continuation on top                            resume it
INL/INR    --                                               inject
BRANCH     ``Left``/``Right`` (a `SumVar` splits the run)   push the continuation; enter a block
QUOTE v    --                                               acc := v
ADD        a pair of integers                               add (integers read modulo 2**64)
SUB/MUL    a pair of integers                               subtract / multiply (the same)
LT/EQ      a pair of integers                               ``L ()`` or ``R ()`` when decided, else
                                                            the unknown comparison (`compare`)
DIVMOD     a pair of integers                               ``L ()`` for 0, else ``R (q, r)``; the same
GET/PUT    --                                               read / replace the register
CURRY c    --                                               acc := `MachineClosure` (c, acc)
APP        a pair ``(MachineClosure (c, v), z)``             push the continuation; run c on (v, z)
=========  ===============================================  ====================================

The machine halts when the current block ends with an empty stack; a
block that ends with a non-empty stack is stuck.  An instruction without
an entry here stops the run as unsupported.  The stack may
start with `CALLER`, the caller's stack ``st``: any instruction that would
pop, inspect or exchange it stops the run -- that is how the
stack-discipline lemma is checked.

`tests/test_proofs.py` runs this stepper and `cam.machine.step` on the
compiled code of random terms with concrete values and checks they agree,
so proofs made with it are about the real machine.

>>> from cam.text import parse_code
>>> from catlib.symbolic import fresh
>>> code = from_code(parse_code("[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]"))
>>> [(e.kind, e.acc) for e in run(code, fresh("Int", "n"), ())]
[('halt', (n, 0))]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sympy

from cam.code import INSTRUCTIONS, OPCODE, Code, Decoder, Value
from cam.hostvalue import unquote
from catlib.symbolic import Condition, SumVar, Unknown, apply_unknown, compare, map_leaves
from catlib.values import Left, Right

__all__ = ["Hole", "K", "CALLER", "Block", "End", "MachineClosure", "from_code", "run", "symbolic_value", "op",
           "show"]

# The opcodes the symbolic machine dispatches on (rows of `cam.code.INSTRUCTIONS`).
(ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, QUOTE, ADD, INL, INR, BRANCH, RETURN, PUSH, ROT, GET,
 PUT) = (OPCODE[name] for name in ("ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP",
                                   "QUOTE", "ADD", "INL", "INR", "BRANCH", "RETURN", "PUSH", "ROT", "GET", "PUT"))
SUB, MUL, LT, EQ, DIVMOD = (OPCODE[name] for name in ("SUB", "MUL", "LT", "EQ", "DIVMOD"))
CURRY, APP = OPCODE["CURRY"], OPCODE["APP"]
_COMPARE = {LT: "Lt", EQ: "Eq", DIVMOD: "DivMod"}


def op(name: str, operand: Any = None) -> tuple[int, Any]:
    """The decoded instruction `name` with `operand`: ``op("CONS")``, ``op("QUOTE", value)``."""
    return (OPCODE[name], operand)


@dataclass(frozen=True)
class Hole:
    """The code of subterm `name`: takes acc x, register s to ``name(x, s)``, ``name_s(x, s)``; stack unchanged."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


@dataclass(frozen=True)
class _KMarker:
    def __repr__(self) -> str:
        return "<k>"


K = _KMarker()
"""The continuation that follows the code under study: reaching it ends the run with kind ``"k"``."""


class _Caller:
    def __repr__(self) -> str:
        return "st"


CALLER = _Caller()
"""The caller's stack ``st`` at the bottom: opaque, never to be touched."""

Block = list[Any]


def show(block: Block) -> str:
    """A block in the reference's notation, holes as ``<f>``."""
    parts = []
    for item in block:
        if isinstance(item, tuple):
            code, operand = item
            name = INSTRUCTIONS[code].name
            if code == BRANCH:
                name += f" {show(operand[0])} {show(operand[1])}"
            elif operand is not None:
                name += f" {operand!r}"
            parts.append(name)
        else:
            parts.append(repr(item))
    return "[" + ",".join(parts) + "]"


@dataclass(frozen=True)
class MachineClosure:
    """``Closure c v`` on the symbolic machine: the decoded `block` and the environment `env`."""

    block: Block = field(hash=False)
    env: Any

    def __repr__(self) -> str:
        return f"Closure {show(self.block)} {self.env!r}"


class End(NamedTuple):
    """How one path of a run ended.

    `kind` is ``"k"`` (reached `K`), ``"halt"`` (code and stack empty) or
    ``"stuck"`` (`reason` says why); `stack` is bottom first.
    """

    kind: str
    condition: Condition
    acc: Any
    reg: Any
    stack: tuple[Any, ...]
    reason: str = ""


@dataclass(frozen=True)
class _Cont:
    block: Block
    pc: int

    def __repr__(self) -> str:
        return f"<code {show(self.block[self.pc:])}>"


def symbolic_value(v: Any) -> Any:
    """A machine value (or host value) as a symbolic value: ints become sympy integers."""

    host = unquote(v) if not isinstance(v, (tuple, int, Left, Right)) else v
    return map_leaves(host, lambda x: sympy.Integer(x) if type(x) is int else x)


class _Symbolic(Decoder[Block]):
    def new_block(self, code: Code, parent: Block, index: int, role: str) -> Block:
        return []

    def value(self, v: Value, block: Block, index: int) -> Any:
        return symbolic_value(v)


def from_code(code: Code) -> Block:
    """`code` decoded by `cam.code.Decoder`, ``QUOTE``\\ d values symbolic (iterative: deep code is fine)."""
    d = _Symbolic()
    root = d.queue(code, [])
    d.drain()
    return root


def _stuck(reason: str, cond: Condition, acc: Any, reg: Any, stack: list[Any]) -> End:
    return End("stuck", cond, acc, reg, tuple(stack), reason)


def _look(v: Any, cond: Condition) -> Any:
    while type(v) is SumVar and v in cond:
        v = cond[v]
    return v


def run(code: Block, acc: Any, reg: Any, stack: tuple[Any, ...] = (), condition: Condition | None = None,
        fuel: int = 1_000_000) -> list[End]:
    """Every path of the machine from (acc, code, reg, stack): how each ended, and in what configuration."""
    ends: list[End] = []
    todo: list[tuple[Block, int, Any, Any, list[Any], Condition]] = [
        (code, 0, acc, reg, list(stack), dict(condition or {}))]
    steps = 0
    while todo:
        block, pc, acc, reg, st, cond = todo.pop()
        while True:
            steps += 1
            if steps > fuel:
                ends.append(_stuck("out of fuel", cond, acc, reg, st))
                break
            if pc == len(block):
                if not st:
                    ends.append(End("halt", cond, acc, reg, ()))
                else:
                    ends.append(_stuck("the code ended but the stack is not empty", cond, acc, reg, st))
                break
            item = block[pc]
            pc += 1
            if item is K:
                ends.append(End("k", cond, acc, reg, tuple(st)))
                break
            if isinstance(item, Hole):
                acc, reg = apply_unknown(Unknown(item.name, stateful=True), acc, reg, "b", None, cond)
                continue
            opcode, arg = item
            name = INSTRUCTIONS[opcode].name
            top = st[-1] if st else None
            stuck = ""
            if opcode == ID:
                pass
            elif opcode in (FST, SND, FIRST, SECOND) and (type(acc) is not tuple or len(acc) != 2):
                stuck = f"{name} needs a Pair, found {acc!r}"
            elif opcode == FST:
                acc = acc[0]
            elif opcode == SND:
                acc = acc[1]
            elif opcode == FIRST:
                st.append(acc[1])
                acc = acc[0]
            elif opcode == SECOND:
                st.append(acc[0])
                acc = acc[1]
            elif opcode in (CONS, SWAP, RETURN) and top is CALLER:
                stuck = f"{name} touches the caller's stack st"
            elif opcode in (CONS, SWAP) and (not st or type(top) is _Cont):
                stuck = f"{name} needs a value on the stack"
            elif opcode == CONS:
                acc = (st.pop(), acc)
            elif opcode == SWAP:
                acc, st[-1] = st[-1], acc
            elif opcode == PUSH:
                st.append(acc)
            elif opcode == ROT:
                if any(e is CALLER for e in st[-2:]):
                    stuck = "ROT touches the caller's stack st"
                elif len(st) < 2:
                    stuck = "ROT needs two entries on the stack"
                else:
                    st[-1], st[-2] = st[-2], st[-1]
            elif opcode == RETURN:
                if type(top) is not _Cont:
                    stuck = "RETURN needs a code continuation on the stack"
                else:
                    k = st.pop()
                    block, pc = k.block, k.pc
            elif opcode == COPY:
                acc = (acc, acc)
            elif opcode == CONSUME:
                acc = ()
            elif opcode == INL:
                acc = Left(acc)
            elif opcode == INR:
                acc = Right(acc)
            elif opcode == GET:
                acc = reg
            elif opcode == PUT:
                reg, acc = acc, ()
            elif opcode == QUOTE:
                acc = arg
            elif opcode == ADD:
                if type(acc) is not tuple or len(acc) != 2 or not all(isinstance(a, sympy.Expr) for a in acc):
                    stuck = f"ADD needs a Pair of two Ints, found {acc!r}"
                else:
                    acc = acc[0] + acc[1]
            elif opcode in (SUB, MUL, LT, EQ, DIVMOD):
                if type(acc) is not tuple or len(acc) != 2 or not all(isinstance(a, sympy.Expr) for a in acc):
                    stuck = f"{name} needs a Pair of two Ints, found {acc!r}"
                elif opcode == SUB:
                    acc = acc[0] - acc[1]
                elif opcode == MUL:
                    acc = acc[0] * acc[1]
                else:
                    acc = compare(_COMPARE[opcode], acc, cond)
            elif opcode == BRANCH:
                e = _look(acc, cond)
                if type(e) is SumVar:  # an undecided sum: one path per side
                    left, right = e.split()
                    todo.append((block, pc - 1, acc, reg, list(st), {**cond, e: right}))
                    todo.append((block, pc - 1, acc, reg, list(st), {**cond, e: left}))
                    break
                if not isinstance(e, (Left, Right)):
                    stuck = f"BRANCH needs L or R, found {e!r}"
                else:
                    st.append(_Cont(block, pc))
                    block, pc, acc = (arg[1] if isinstance(e, Right) else arg[0]), 0, e.value
            elif opcode == CURRY:
                acc = MachineClosure(arg, acc)
            elif opcode == APP:
                if type(acc) is not tuple or len(acc) != 2 or type(acc[0]) is not MachineClosure:
                    stuck = f"APP needs a Pair of a Closure and a value, found {acc!r}"
                else:
                    st.append(_Cont(block, pc))
                    block, pc, acc = acc[0].block, 0, (acc[0].env, acc[1])
            else:  # any instruction without an entry here
                stuck = f"{name} is not modelled symbolically"
            if stuck:
                ends.append(_stuck(stuck, cond, acc, reg, st))
                break
    return ends
