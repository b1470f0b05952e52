"""A small symbolic CAM: the transitions of `cam.machine` on symbolic values, with holes.

Code here is a tuple of items: `Op` (an instruction without argument),
`Quote` (``QUOTE v`` with a symbolic `v`), `Branch` (``BRANCH c d``),
`Hole` (the code of an unknown subterm, run in one step as the induction
hypothesis says) and `K` (the continuation ``k`` that follows the code
under study).  Values are `catlib.symbolic` values read as machine values
through `cam.code.quote`: ``()`` is ``Unit``, a tuple a ``Pair``,
``Left``/``Right`` are ``L``/``R``, a sympy integer an ``Int``.

Each transition is the one in `cam.machine._exec` (and the reference's
table in ``docs/reference.md``), including when the machine is stuck:

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
GET/PUT    --                                               read / replace the register
=========  ===============================================  ====================================

The machine halts when the current block ends with an empty stack; a
block that ends with a non-empty stack is stuck.  ``APP`` and ``CURRY``
are not modelled (no term compiles to them): they stop the run as
unsupported.  The stack may start with `CALLER`, the caller's stack
``st``: any instruction that would pop, inspect or exchange it stops the
run -- that is how the stack-discipline lemma is checked.

`tests/test_proofs.py` runs this stepper and `cam.machine.run` on the
compiled code of random terms with concrete values and checks they agree,
so proofs made with it are about the real machine.

>>> from cam.code import parse_code
>>> from catlib.symbolic import fresh
>>> code = from_code(parse_code("[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]"))
>>> [(e.kind, e.acc) for e in run(code, fresh("Int", "n"), ())]
[('halt', (n, 0))]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import sympy

from cam.code import Code, Instr, unquote
from catlib.symbolic import Condition, SumVar, Unknown, apply_unknown, map_leaves
from catlib.tree import fold
from catlib.values import Left, Right

__all__ = ["Op", "Quote", "Branch", "Hole", "K", "CALLER", "Block", "End", "from_code", "run", "symbolic_value"]


@dataclass(frozen=True)
class Op:
    """An instruction without argument, by name (``"FST"``, ``"CONS"``, ...)."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Quote:
    """``QUOTE v`` with a symbolic value `v`."""

    value: Any

    def __repr__(self) -> str:
        return f"QUOTE {self.value!r}"


@dataclass(frozen=True)
class Branch:
    """``BRANCH c d``."""

    left: tuple[Any, ...]
    right: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"BRANCH {list(self.left)} {list(self.right)}"


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

Block = tuple[Any, ...]


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
        return f"<code {list(self.block[self.pc:])}>"


def symbolic_value(v: Any) -> Any:
    """A machine value (or host value) as a symbolic value: ints become sympy integers."""

    host = unquote(v) if not isinstance(v, (tuple, int, Left, Right)) else v
    return map_leaves(host, lambda x: sympy.Integer(x) if type(x) is int else x)


def from_code(code: Code, holes: dict[int, Any] | None = None) -> Block:
    """`code` as a block of items; ``QUOTE (Int n)`` becomes ``holes[n]`` when `n` is a key (a `Hole`, ...).

    Iterative (`catlib.tree.fold`), so deeply nested code is fine.
    """
    holes = holes or {}

    def node(t: Any, kids: list[Any]) -> Any:
        if isinstance(t, Code):
            return tuple(kids)
        if isinstance(t, Instr):
            if t.op == "QUOTE":
                v = t.kids[0]
                n = getattr(v, "n", None)
                if type(n) is int and n in holes:
                    return holes[n]
                return Quote(symbolic_value(v))
            if t.op == "BRANCH":
                return Branch(kids[0], kids[1])
            return Op(t.op)
        return None  # values inside QUOTE: handled at the instruction

    return fold(code, node)  # type: ignore[no-any-return]


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
            if isinstance(item, Quote):
                acc = item.value
                continue
            if isinstance(item, Branch):
                e = _look(acc, cond)
                if type(e) is SumVar:
                    left, right = e.split()
                    todo.append((block, pc - 1, acc, reg, list(st), {**cond, e: right}))
                    todo.append((block, pc - 1, acc, reg, list(st), {**cond, e: left}))
                    break
                if not isinstance(e, (Left, Right)):
                    ends.append(_stuck(f"BRANCH needs L or R, found {e!r}", cond, acc, reg, st))
                    break
                st.append(_Cont(block, pc))
                block, pc, acc = (item.right if isinstance(e, Right) else item.left), 0, e.value
                continue
            op = item.name
            top = st[-1] if st else None
            if op == "ID":
                pass
            elif op in ("FST", "SND", "FIRST", "SECOND"):
                if type(acc) is not tuple or len(acc) != 2:
                    ends.append(_stuck(f"{op} needs a Pair, found {acc!r}", cond, acc, reg, st))
                    break
                if op == "FIRST":
                    st.append(acc[1])
                    acc = acc[0]
                elif op == "SECOND":
                    st.append(acc[0])
                    acc = acc[1]
                else:
                    acc = acc[op == "SND"]
            elif op in ("CONS", "SWAP"):
                if top is CALLER:
                    ends.append(_stuck(f"{op} touches the caller's stack st", cond, acc, reg, st))
                    break
                if not st or type(top) is _Cont:
                    ends.append(_stuck(f"{op} needs a value on the stack", cond, acc, reg, st))
                    break
                if op == "CONS":
                    acc = (st.pop(), acc)
                else:
                    acc, st[-1] = st[-1], acc
            elif op == "PUSH":
                st.append(acc)
            elif op == "ROT":
                if any(e is CALLER for e in st[-2:]):
                    ends.append(_stuck("ROT touches the caller's stack st", cond, acc, reg, st))
                    break
                if len(st) < 2:
                    ends.append(_stuck("ROT needs two entries on the stack", cond, acc, reg, st))
                    break
                st[-1], st[-2] = st[-2], st[-1]
            elif op == "RETURN":
                if top is CALLER:
                    ends.append(_stuck("RETURN touches the caller's stack st", cond, acc, reg, st))
                    break
                if type(top) is not _Cont:
                    ends.append(_stuck("RETURN needs a code continuation on the stack", cond, acc, reg, st))
                    break
                k = st.pop()
                block, pc = k.block, k.pc
            elif op == "COPY":
                acc = (acc, acc)
            elif op == "CONSUME":
                acc = ()
            elif op == "INL":
                acc = Left(acc)
            elif op == "INR":
                acc = Right(acc)
            elif op == "GET":
                acc = reg
            elif op == "PUT":
                reg, acc = acc, ()
            elif op == "ADD":
                if type(acc) is not tuple or len(acc) != 2 or not all(isinstance(a, sympy.Expr) for a in acc):
                    ends.append(_stuck(f"ADD needs a Pair of two Ints, found {acc!r}", cond, acc, reg, st))
                    break
                acc = acc[0] + acc[1]
            else:  # APP, CURRY
                ends.append(_stuck(f"{op} is not modelled symbolically", cond, acc, reg, st))
                break
    return ends
