"""The verifier's abstract machine: the CAM's transitions on types instead of values.

The accumulator and every stack entry hold a type (a `cam.typeengine.Node`),
the state register one type for the whole program, and a stack entry is
either a value type or a code continuation (`Ret`, pushed by ``BRANCH``, or
the return of a closure body).  Each instruction is one entry of
`AbstractMachine.run`, in the order of the machine's: what it needs (unified
into the types, else an error naming the instruction) and what it leaves.
``BRANCH`` verifies both blocks on the same stack, below which sits the
continuation; the first ``RETURN`` to it records the accumulator type and
stack it resumes with, and the code after the ``BRANCH`` is verified once
from there; every other ``RETURN`` to it must agree (`join`).  Decoding and
the error type are the verifier's (`cam.verifier`).
"""

from __future__ import annotations

from typing import Any

from cam.code import INSTRUCTIONS, OPCODE
from cam.typeengine import FUN, INT_NODE, PROD, SUM, UNIT_NODE, VAR, Clash, Node, TypeGraph, find, show
from catlib.tree import unlink

__all__ = ["Blk", "Ret", "AbstractMachine", "TOP", "CLOSURE", "depth_of"]

# The opcodes the abstract machine dispatches on (rows of `cam.code.INSTRUCTIONS`).
(ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, QUOTE, ADD, APP, CURRY, INL, INR, BRANCH, RETURN,
 PUSH, ROT, GET, PUT) = (OPCODE[name] for name in (
    "ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "QUOTE", "ADD", "APP", "CURRY",
    "INL", "INR", "BRANCH", "RETURN", "PUSH", "ROT", "GET", "PUT"))
SUB, MUL, LT, EQ, DIVMOD = (OPCODE[name] for name in ("SUB", "MUL", "LT", "EQ", "DIVMOD"))
_INT_PAIR_OPS = frozenset((ADD, SUB, MUL, LT, EQ, DIVMOD))
"""The instructions that need ``(Int, Int)``."""

TOP, CLOSURE = 0, 1
"""A block's context: the top-level code (or a branch in it), or a closure body."""


class Blk:
    """A decoded block: ``ops`` is a list of (opcode, operand); `link` its linked path.

    `top`: the root block (which may end without ``RETURN``); `ctx`: `TOP` or
    `CLOSURE`; `depth`: its nesting; `last`: the index of its last instruction.
    """

    __slots__ = ("ops", "link", "top", "ctx", "depth", "last")

    def __init__(self, link: Any, top: bool, ctx: int, depth: int, last: int) -> None:
        self.ops: list[tuple[int, Any]] = []
        self.link, self.top, self.ctx, self.depth, self.last = link, top, ctx, depth, last

    def append(self, item: tuple[int, Any]) -> None:
        self.ops.append(item)


class Ret:
    """A code continuation on the abstract stack.

    For ``BRANCH``: resume `blk` at `pc`; `acc` and `st` are the accumulator
    type and stack it resumes with, set by the first ``RETURN`` to it.  For a
    closure body (`r` set): return to the caller with result type `r`.
    `where` (a linked path) is the ``BRANCH``, ``CURRY`` or closure value.
    """

    __slots__ = ("blk", "pc", "acc", "st", "r", "where")

    def __init__(self, blk: Blk | None, pc: int, where: Any, r: Node | None = None) -> None:
        self.blk, self.pc, self.where, self.r = blk, pc, where, r
        self.acc: Node | None = None
        self.st: Any = None



class AbstractMachine(TypeGraph):
    """The abstract run over queued work items ``(block, pc, accumulator type, stack)``.

    A stack is a linked list ``(entry, rest)`` or None; `state` and `out` are
    the types of the state register and of the output.
    """

    def __init__(self, max_type_size: int) -> None:
        super().__init__(max_type_size)
        self.work: list[tuple[Blk, int, Node, Any]] = []
        self.state = Node(VAR)
        self.out = Node(VAR)

    def fail(self, blk: Blk, pc: int, reason: str, expected: str, found: str) -> Exception:
        """The error for the instruction at `pc` of `blk` (see `TypeGraph.error`)."""
        op = INSTRUCTIONS[blk.ops[pc][0]].name if pc < len(blk.ops) else \
            "end of block" if not blk.top else "end of code"
        return self.error((pc, blk.link), expected, found, reason, op)

    def clash(self, blk: Blk, pc: int, reason: str, expected: Node, found: Node, e: Clash) -> Exception:
        names: dict[Node, str] = {}
        exp, fnd = show([expected, found], names)
        x, y = show([e.x, e.y], names)
        if (find(e.x), find(e.y)) not in ((find(expected), find(found)), (find(found), find(expected))):
            fnd += f" ({x} does not match {y})"
        return self.fail(blk, pc, reason, exp, fnd)

    def underflow(self, blk: Blk, pc: int, need: str) -> Exception:
        bottom = "an empty stack" if blk.ctx == TOP else "the bottom of the closure body's stack"
        return self.fail(blk, pc, "stack underflow", need, bottom)

    def entry(self, e: Any) -> str:
        if type(e) is Ret:
            where = "/".join(map(str, unlink(e.where)))
            return f"a code continuation (the return of the closure at {where})" if e.r is not None else \
                f"a code continuation (after the BRANCH at {where})"
        return f"a value of type {show([e])[0]}"

    def run(self) -> None:
        """Verify every queued work item: (block, pc, accumulator type, stack)."""
        work = self.work
        state = self.state
        unify = self.unify
        while work:
            blk, pc, acc, st = work.pop()
            ops = blk.ops
            n = len(ops)
            while True:
                if pc == n:
                    if not blk.top:
                        raise self.fail(blk, pc, "the block can fall off its end", "RETURN at the end of the block",
                                        "no RETURN")
                    if st is not None:
                        k = depth_of(st)
                        raise self.fail(blk, pc, "unbalanced stack", "an empty stack",
                                        f"{k} entr{'y' if k == 1 else 'ies'} (top: {self.entry(st[0])})")
                    try:
                        unify(acc, self.out, (pc, blk.link))
                    except Clash as e:
                        raise self.clash(blk, pc, "the output", self.out, acc, e) from None
                    break
                op, arg = ops[pc]
                if op == ID:
                    pass
                elif op == FST or op == SND or op == FIRST or op == SECOND:  # need a pair
                    a = find(acc)
                    if a.tag != PROD:
                        if a.tag != VAR:
                            raise self.fail(blk, pc, "not a pair", "a pair (a, b) in the accumulator",
                                            show([a])[0])
                        a.up = Node(PROD, Node(VAR), Node(VAR))
                        a = a.up
                    if op == FST:
                        acc = a.a
                    elif op == SND:
                        acc = a.b
                    elif op == FIRST:
                        acc, st = a.a, (a.b, st)
                    else:
                        acc, st = a.b, (a.a, st)
                elif op == CONS or op == SWAP:
                    if st is None:
                        raise self.underflow(blk, pc, "a value on the stack")
                    top, rest = st
                    if type(top) is Ret:
                        raise self.fail(blk, pc, "a continuation where a value is needed", "a value on the stack",
                                        self.entry(top))
                    if op == CONS:
                        acc, st = Node(PROD, top, acc), rest
                    else:
                        acc, st = top, (acc, rest)
                elif op == QUOTE:
                    acc = arg
                elif op == GET:
                    # The machine's GET overwrites any accumulator, but it is typed like the term
                    # Get : () -> s, so that compiled code gets exactly its term's signature.
                    a = find(acc)
                    if a is not UNIT_NODE:
                        if a.tag != VAR:
                            raise self.fail(blk, pc, "GET is typed () -> state", "() in the accumulator",
                                            show([a])[0])
                        a.up = UNIT_NODE
                    acc = state
                elif op == PUT:
                    try:
                        unify(acc, state, (pc, blk.link))
                    except Clash as e:
                        raise self.clash(blk, pc, "PUT changes the state's type", state, acc, e) from None
                    acc = UNIT_NODE
                elif op == COPY:
                    acc = Node(PROD, acc, acc)
                elif op == CONSUME:
                    acc = UNIT_NODE
                elif op in _INT_PAIR_OPS:
                    name = INSTRUCTIONS[op].name
                    a = find(acc)
                    if a.tag == VAR:
                        a.up = a = Node(PROD, INT_NODE, INT_NODE)
                    if a.tag != PROD:
                        raise self.fail(blk, pc, f"{name} needs two Ints", "(Int, Int)", show([a])[0])
                    for part in (find(a.a), find(a.b)):
                        if part is not INT_NODE:
                            if part.tag != VAR:
                                raise self.fail(blk, pc, f"{name} needs two Ints", "(Int, Int)", show([a])[0])
                            part.up = INT_NODE
                    if op == ADD or op == SUB or op == MUL:
                        acc = INT_NODE
                    elif op == DIVMOD:
                        acc = Node(SUM, UNIT_NODE, Node(PROD, INT_NODE, INT_NODE))
                    else:
                        acc = Node(SUM, UNIT_NODE, UNIT_NODE)
                elif op == INL:
                    acc = Node(SUM, acc, Node(VAR))
                elif op == INR:
                    acc = Node(SUM, Node(VAR), acc)
                elif op == PUSH:
                    st = (acc, st)
                elif op == ROT:
                    if st is None or st[1] is None:
                        raise self.underflow(blk, pc, "two entries on the stack")
                    e1, (e2, rest) = st
                    st = (e2, (e1, rest))
                elif op == BRANCH:
                    a = find(acc)
                    if a.tag != SUM:
                        if a.tag != VAR:
                            raise self.fail(blk, pc, "not a sum", "a sum Either a b in the accumulator",
                                            show([a])[0])
                        a.up = Node(SUM, Node(VAR), Node(VAR))
                        a = a.up
                    cell = (Ret(blk, pc + 1, (pc, blk.link)), st)
                    work.append((arg[1], 0, a.b, cell))
                    work.append((arg[0], 0, a.a, cell))
                    break
                elif op == RETURN:
                    if st is None:
                        raise self.underflow(blk, pc, "a code continuation on the stack")
                    k, rest = st
                    if type(k) is not Ret:
                        raise self.fail(blk, pc, "a value where a continuation is needed",
                                        "a code continuation on the stack", self.entry(k))
                    if k.r is not None:  # the end of a closure body
                        try:
                            unify(acc, k.r, (pc, blk.link))
                        except Clash as e:  # pragma: no cover - r is a fresh variable, used once
                            raise self.clash(blk, pc, "closure result", k.r, acc, e) from None
                        if rest is not None:
                            raise self.fail(blk, pc, "unbalanced stack in a closure body",
                                            "only the return continuation on the stack",
                                            f"more entries below it (next: {self.entry(rest[0])})")
                    elif k.acc is None:  # the first return to this continuation: resume there
                        k.acc, k.st = acc, rest
                        work.append((k.blk, k.pc, acc, rest))  # type: ignore[arg-type]
                    else:
                        self.join(blk, pc, k, acc, rest)
                    break
                elif op == CURRY:
                    z, r = Node(VAR), Node(VAR)
                    work.append((arg, 0, Node(PROD, acc, z), (Ret(None, 0, (pc, blk.link), r), None)))
                    acc = Node(FUN, z, r)
                elif op == APP:
                    a = find(acc)
                    if a.tag == VAR:
                        a.up = Node(PROD, Node(VAR), Node(VAR))
                        a = a.up
                    if a.tag != PROD:
                        raise self.fail(blk, pc, "not a closure application", "a pair (a -> b, a)",
                                        show([a])[0])
                    f = find(a.a)
                    if f.tag == VAR:
                        f.up = Node(FUN, Node(VAR), Node(VAR))
                        f = f.up
                    if f.tag != FUN:
                        raise self.fail(blk, pc, "not a closure application", "a pair (a -> b, a)",
                                        show([a])[0])
                    try:
                        unify(f.a, a.b, (pc, blk.link))
                    except Clash as e:
                        raise self.clash(blk, pc, "closure argument", f.a, a.b, e) from None
                    acc = f.b
                else:  # pragma: no cover - every opcode is handled above
                    raise AssertionError(op)
                pc += 1
        self.acyclic()

    def join(self, blk: Blk, pc: int, k: Ret, acc: Node, st: Any) -> None:
        """A second RETURN to `k`: accumulator and stack must agree with the first."""
        where = (pc, blk.link)
        try:
            self.unify(k.acc, acc, where)  # type: ignore[arg-type]
        except Clash as e:
            raise self.clash(blk, pc, "the branches disagree", k.acc, acc, e) from None  # type: ignore[arg-type]
        s1, s2, depth = k.st, st, 0
        while s1 is not s2:
            if s1 is None or s2 is None:
                n1, n2 = depth_of(k.st), depth_of(st)
                raise self.fail(blk, pc, "the branches leave different stacks",
                                f"{n1} entr{'y' if n1 == 1 else 'ies'}, as the first RETURN here left",
                                f"{n2} entr{'y' if n2 == 1 else 'ies'}")
            (e1, s1), (e2, s2) = s1, s2
            if type(e1) is Ret or type(e2) is Ret:
                if e1 is not e2:
                    raise self.fail(blk, pc, f"the branches leave different stacks at depth {depth}",
                                    self.entry(e1), self.entry(e2))
            else:
                try:
                    self.unify(e1, e2, where)
                except Clash as e:
                    raise self.clash(blk, pc, f"the branches leave different stacks at depth {depth}",
                                     e1, e2, e) from None
            depth += 1


def depth_of(st: Any) -> int:
    k = 0
    while st is not None:
        k, st = k + 1, st[1]
    return k


