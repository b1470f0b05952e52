"""Verified code as a Python step function over host values: what `cam.machine.load` returns.

The host values are catlib's (``()``, ints, 2-tuples, `Left`/`Right`) and,
for the machine's closures, `HostClosure`.  `translate` turns decoded code
into Python source once, at load time, evaluating it symbolically as it
goes: the accumulator, the register and every stack entry are known at
translation time as a constant, a Python local, a pair of two such (not
allocated until something needs the pair itself), an injection of one or
a closure of known code (`cam.symbolic`); so stack traffic becomes
renaming, constant outputs are shared objects, a ``BRANCH`` on a value of
unknown side is an ``if`` on its class, and an ``APP`` of a closure of
known code is that code inlined (`INLINE_CLOSURES`).  Nested blocks are
inlined as nested ``if``\\ s up to `INLINE_DEPTH` levels (and `INLINE_SIZE`
instructions per function); deeper or larger blocks become functions of
their own, so neither Python's compiler limits nor its recursion limit are
reached at translation, and translation is linear in the code's size.  An
``APP`` of a closure known at run time only calls the function made for
its code (one per ``CURRY`` of the code, by code: ``CF``).

What the translation does not cover is left to the checked loop: a
configuration where the reference machine is stuck, a shape the code does
not expect (a ``FST`` of an int, a ``BRANCH`` on a pair), stack shapes
that differ between two arms, a closure whose code is not the loaded
code's (from the input, say), closures applied too deeply for Python's
recursion limit.  Such a point raises `Deopt` (or the `TypeError`,
`ValueError` or `KeyError` of unpacking or adding a value of the wrong
shape or finding a closure's function), and the step runs the input again from the start on the checked
loop, which returns the answer or raises exactly its `Stuck`/`OutOfFuel`.
(The machine is deterministic and the translated code has no effect
outside its locals, so running again is sound.)  Inputs and states are
trusted to be host values, as `catlib.interpreter.step` trusts them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from cam.decoded import (
    ADD,
    APP,
    BRANCH,
    CONS,
    CONSUME,
    COPY,
    CURRY,
    DIVMOD,
    EQ,
    FIRST,
    FST,
    GET,
    ID,
    INL,
    INR,
    LT,
    MUL,
    PUSH,
    PUT,
    QUOTE,
    RETURN,
    ROT,
    SECOND,
    SND,
    SUB,
    SWAP,
    Block,
    HostClosure,
    decode,
    to_host,
    to_internal,
)
from cam.pysource import Line, Out, drive, finish, source_of
from cam.symbolic import BIG, Deopt, Frame, Sym, Values, size
from catlib.values import Left, Right

__all__ = ["HostClosure", "Deopt", "translate", "to_internal", "to_host", "INLINE_DEPTH", "INLINE_SIZE"]

INLINE_DEPTH = 90
"""Nested blocks inlined into one Python function (as nested ``if``\\ s; the tokenizer allows 100 levels, the
batch loop's own take 3).  Deeper, an arm is a function of its own: a call per `INLINE_DEPTH` levels."""
INLINE_SIZE = 2_000
"""Instructions inlined into one Python function before a nested block becomes a function of its own."""
INLINE_CLOSURES = 1_000
"""Instructions of closures' code inlined where they are applied, beyond the code's own size (translation stays
linear in the code's size); a closure applied beyond that is called: a function of its own per closure code."""
DEAD, RET, END = "dead", "ret", "end"


class _Translator(Values):
    """Translates a block from a frame into Python lines (`block`), inlining what it can (see the module)."""

    def __init__(self, count: bool = False) -> None:
        super().__init__(count)
        self.functions: list[str] = []
        self.inline_left = 0  # instructions of closures' code that may still be inlined where applied
        self.nested = 0  # applications being inlined, one inside the other
        self.generic = False  # an APP of a closure whose code is known at run time only
        self.called: list[Block] = []  # closures' code called by a function of its own (not inlined)

    def block(self, block: Block, frame: Frame, out: Out, depth: int, marker: Sym | None, budget: list[int]) -> Any:
        """Translate `block` from `frame` into `out` (a generator: it yields nested functions to make).

        Returns RET (its ``RETURN`` popped `marker`), END (it ran off its
        end) or DEAD (it raised `Deopt` on every path).
        """
        st = frame.stack
        steps = 0  # instructions since the count in ``n`` was last brought up to date

        def flush() -> None:
            nonlocal steps
            if self.counting and steps:
                out(f"n += {steps}")
            steps = 0

        for op, arg in block:
            if budget[0] <= 0 and depth == 0 and out.head is not None:
                flush()
                self.split(frame, out)
                budget[0] = INLINE_SIZE
            budget[0] -= 1
            steps += 1
            if op == ID:
                continue
            if op in (FST, SND, FIRST, SECOND):
                ab = self.parts(frame.acc, out)
                if ab is None:
                    break
                if op == FIRST or op == SECOND:
                    st.append(ab[1] if op == FIRST else ab[0])
                frame.acc = ab[0] if op in (FST, FIRST) else ab[1]
            elif op == COPY:
                frame.acc = self.pair(frame.acc, frame.acc, out)
            elif op == CONSUME:
                frame.acc = self.const(())
            elif op == CONS or op == SWAP:
                if not st or st[-1][0] == "m":
                    break
                if op == CONS:
                    frame.acc = self.pair(st.pop(), frame.acc, out)
                else:
                    frame.acc, st[-1] = st[-1], frame.acc
            elif op == PUSH:
                st.append(frame.acc)
            elif op == ROT:
                if len(st) < 2:
                    break
                st[-1], st[-2] = st[-2], st[-1]
            elif op == QUOTE:
                frame.acc = self.const(to_host(arg))
            elif op == ADD:
                ab = self.parts(frame.acc, out)
                if ab is None or any(s[0] in "plrk" or (s[0] == "c" and type(s[2]) is not int) for s in ab):
                    break
                a, b = ab
                if a[0] == "c" and b[0] == "c":
                    frame.acc = self.const((a[2] + b[2] + 2**63) % 2**64 - 2**63)
                    continue
                # One expression, no test: it wraps to 64 bits, and raises TypeError (the step falls back)
                # for a pair or unit, which `+` alone would concatenate.  (An `if` costs 5x to compile.)
                added = f"{b[1]} + {a[2] + 2**63}" if a[0] == "c" else f"{a[1]} + {b[2] + 2**63}" if b[0] == "c" \
                    else f"{a[1]} + {b[1]} + {2**63}"
                frame.acc = self.var(out, f"({added}) % {2**64} - {2**63}")
            elif op == SUB or op == MUL or op == LT or op == EQ or op == DIVMOD:
                ab = self.parts(frame.acc, out)
                if ab is None or any(s[0] in "plrk" or (s[0] == "c" and type(s[2]) is not int) for s in ab):
                    break
                frame.acc = self.arith(op, ab[0], ab[1], out)
            elif op == INL or op == INR:
                frame.acc = self.inj("l" if op == INL else "r", frame.acc, out)
            elif op == GET:
                frame.acc = frame.reg
            elif op == PUT:
                frame.reg, frame.acc = frame.acc, self.const(())
            elif op == CURRY:
                env = frame.acc if size(frame.acc) <= BIG else self.var(out, self.m(frame.acc, out))
                frame.acc = ("k", arg, env, 1 + size(env))
            elif op == APP:
                flush()
                status = yield from self.apply(frame, out, depth, budget)
                if status == DEAD:
                    return DEAD
            elif op == BRANCH:
                flush()
                status = yield from self.branch(arg, frame, out, depth, budget)
                if status == DEAD:
                    return DEAD
            elif op == RETURN:
                if marker is None or not st or st[-1] is not marker:
                    break
                st.pop()
                flush()
                return RET
            else:  # pragma: no cover - an instruction the translator does not know: left to the checked loop
                break
        else:
            flush()
            return END
        out("raise D")
        return DEAD

    def apply(self, frame: Frame, out: Out, depth: int, budget: list[int]) -> Any:
        """``APP``: a closure whose code is known here is inlined (within `inline_left`), else called."""
        ab = self.parts(frame.acc, out)
        if ab is None:
            out("raise D")
            return DEAD
        clo, arg = ab
        body: Block | None = None
        if clo[0] == "k":
            body, env = clo[1], clo[2]
        elif clo[0] == "c" and type(clo[2]) is HostClosure:
            body, env = decode(clo[2].code), self.const(clo[2].env)
        elif clo[0] != "v":  # a pair, an injection or a constant that is not a closure: stuck
            out("raise D")
            return DEAD
        if body is not None and self.nested < 20 and self.extent(body) <= self.inline_left:
            self.inline_left -= self.extent(body)
            frame.acc = self.pair(env, arg, out)
            marker: Sym = ("m", self.fresh())
            frame.stack.append(marker)
            self.nested += 1
            status = yield from self.block(body, frame, out, depth, marker, budget)
            self.nested -= 1
            if status == END:  # ran off its end with the continuation still on the stack: stuck
                out("raise D")
                return DEAD
            return status
        self.generic = True
        if body is not None:  # over the budget: a call of the function for its code
            self.called.append(body)
            fn, envx = f"CF[{self.const(body.code)[1]}]", self.m(env, out)
        else:
            c = self.m(clo, out)
            out(f"if {c}.__class__ is not HC: raise D")
            fn, envx = f"CF[{c}.code]", f"{c}.env"
        acc, reg = self.fresh(), self.fresh()
        call = f"{fn}(({envx}, {self.m(arg, out)}), {self.m(frame.reg, out)}"
        out(f"{acc}, {reg}, n = {call}, n)" if self.counting else f"{acc}, {reg} = {call})")
        frame.acc, frame.reg = ("v", acc), ("v", reg)
        return RET

    def split(self, frame: Frame, out: Out) -> None:
        """End the function `out` is writing with a call of a new one, which goes on from `frame`.

        Constants stay constants and a closure of known code stays one (its environment is passed): what is
        known here is known there."""
        name = self.fresh("g")
        args: list[str] = []
        params: list[str] = []

        def carry(e: Sym) -> Sym:
            if e[0] == "c" or e[0] == "m" or e[0] == "k" and e[2][0] == "c":
                return e
            args.append(self.m(e[2] if e[0] == "k" else e, out))
            params.append(self.fresh())
            return ("k", e[1], ("v", params[-1]), 2) if e[0] == "k" else ("v", params[-1])

        acc, reg, stack = carry(frame.acc), carry(frame.reg), [carry(e) for e in frame.stack]
        if self.counting:
            args.append("n")
            params.append("n")
        out(f"return {name}({', '.join(args)})")
        assert out.head is not None
        self.functions.append(source_of(out.head, out.lines))
        out.head, out.lines = f"def {name}({', '.join(params)}):", []
        frame.acc, frame.reg, frame.stack[:] = acc, reg, stack

    def branch(self, arms: tuple[Block, Block], frame: Frame, out: Out, depth: int, budget: list[int]) -> Any:
        acc = frame.acc
        side: str | None = None
        if acc[0] in ("l", "r"):
            side, payload = acc[0], acc[1]
        elif acc[0] == "c" and type(acc[2]) in (Left, Right):
            side, payload = ("l" if type(acc[2]) is Left else "r"), self.const(acc[2].value)
        elif acc[0] != "v":
            out("raise D")
            return DEAD
        results: list[tuple[str, Frame | None, Out]] = []
        for which, arm in (("l", arms[0]), ("r", arms[1])):
            if side is not None and which != side:
                continue
            sub = Out(out.indent + (side is None))
            f = frame.copy()
            if side is None:
                f.acc = ("v", f"{acc[1]}.value")  # a pure read of an immutable value: read where needed
            else:
                f.acc = payload
            status = yield from self.arm(arm, f, sub, depth, budget)
            results.append((status, f if status == RET else None, sub))
        live = [(status, f, sub) for status, f, sub in results if f is not None]
        if live:
            first = live[0][1]
            assert first is not None
            # equal entries mean the same thing (names are fresh): the common case is decided by one
            # comparison in C, not an entry at a time (the stack holds a marker per enclosing branch)
            same = all(r[1].stack == first.stack or len(r[1].stack) == len(first.stack) and all(
                (a[0] == "m") == (b[0] == "m") and (a[0] != "m" or a is b) for a, b in zip(r[1].stack, first.stack))
                for r in live)
            if not same:
                for *_, arm_out in live:
                    arm_out("raise D")
                live = []
        if len(live) == 2:
            self.join(live[0][1], live[1][1], live[0][2], live[1][2])
        if side is None:
            for r in results:
                if not r[2].lines:
                    r[2]("pass")
            out(f"if {acc[1]}.__class__ is Left:")
            out.lines += results[0][2].lines
            out(f"elif {acc[1]}.__class__ is Right:")
            out.lines += results[1][2].lines
            out("else:")
            out.lines.append((out.indent + 1, "raise D"))
        else:
            out.lines += results[0][2].lines
        if not live:
            return DEAD
        f = live[0][1]
        assert f is not None
        frame.acc, frame.reg, frame.stack[:] = f.acc, f.reg, f.stack
        return RET

    def join(self, left: Frame, right: Frame, lout: Out, rout: Out) -> None:
        """Where two arms meet: what differs goes to a local both arms assign last."""
        joined = []
        both = [(left.acc, right.acc), (left.reg, right.reg)]
        for a, b in both if left.stack == right.stack else [*both, *zip(left.stack, right.stack)]:
            if a is b:
                joined.append(a)
                continue
            name = self.fresh("j")
            for s, sub in ((a, lout), (b, rout)):
                sub(f"{name} = {self.m(s, sub)}")
            joined.append(("v", name))
        left.acc, left.reg = joined[0], joined[1]
        if len(joined) > 2:
            left.stack[:] = joined[2:]

    def arm(self, arm: Block, f: Frame, out: Out, depth: int, budget: list[int]) -> Any:
        """One arm of a BRANCH from `f` (its payload in the accumulator): inline, or a function of its own."""
        marker: Sym = ("m", self.fresh())
        if depth + 1 < INLINE_DEPTH and budget[0] > 0:
            f.stack.append(marker)
            status = yield from self.block(arm, f, out, depth + 1, marker, budget)
            if status == END:  # ran off its end with the continuation still on the stack: stuck
                out("raise D")
                return DEAD
            return status
        # A function of its own gets the values above the nearest marker; those below are out of its reach.
        cut = max((i + 1 for i, e in enumerate(f.stack) if e[0] == "m"), default=0)
        visible = f.stack[cut:]
        args = ", ".join([self.m(f.acc, out), self.m(f.reg, out), *(self.m(s, out) for s in visible)])
        result = yield (arm, len(visible))
        if result is None:
            out("raise D")
            return DEAD
        name, back = result
        names = [self.fresh() for _ in range(2 + back)]
        if self.counting:
            out(f"{', '.join(names)}, n = {name}({args}, n)")
        else:
            out(f"{', '.join(names)}, = {name}({args})")
        f.acc, f.reg = ("v", names[0]), ("v", names[1])
        f.stack[cut:] = [("v", n) for n in names[2:]]
        return RET

    def function(self, arm: Block, visible: int) -> Any:
        """A function for `arm`: ``f(acc, reg, *values) -> (acc, reg, *values)``; yields what it needs too."""
        name = self.fresh("f")
        params = [self.fresh() for _ in range(2 + visible)]
        marker: Sym = ("m", name)
        frame = Frame(("v", params[0]), ("v", params[1]), [("v", p) for p in params[2:]] + [marker])
        out = Out(1, f"def {name}({', '.join(params + ['n'] * self.counting)}):")
        status = yield from self.block(arm, frame, out, 0, marker, [INLINE_SIZE])
        if status == END:
            out("raise D")  # a block that runs off its end with the continuation still on the stack: stuck
        if status == RET:
            exprs = [self.m(s, out) for s in [frame.acc, frame.reg, *frame.stack]]
            out(f"return ({', '.join(exprs + ['n'] * self.counting)},)")
        assert out.head is not None
        self.functions.append(source_of(out.head, out.lines))
        return (name, len(frame.stack)) if status == RET else None

    def closure(self, body: Block) -> Any:
        """A function for a closure's code: ``f(acc, reg) -> (acc, reg)`` (with the steps ``n`` when counting)."""
        name = self.fresh("c")
        marker: Sym = ("m", name)
        frame = Frame(("v", "a"), ("v", "r"), [marker])
        out = Out(1, f"def {name}(a, r, n):" if self.counting else f"def {name}(a, r):")
        if self.counting:  # closures are where steps can grow without bound: past the fuel, the checked loop says so
            out("if n > F: raise D")
        status = yield from self.block(body, frame, out, 0, marker, [INLINE_SIZE])
        if status == RET:
            out(f"return ({self.m(frame.acc, out)}, {self.m(frame.reg, out)}{', n' * self.counting})")
        elif status == END:
            out("raise D")  # ran off its end with the continuation still on the stack: stuck
        assert out.head is not None
        self.functions.append(source_of(out.head, out.lines))
        return name

    def closures(self, root: Block) -> dict[Any, str]:
        """When some ``APP`` calls a closure known at run time only: a function for the code of every ``CURRY``
        in `root` (and of every closure called), by code (``CF``; a closure of other code falls back)."""
        made: dict[Any, str] = {}
        todo, blocks = [root], list(self.called)
        while todo:
            for op, arg in todo.pop():
                if op == BRANCH:
                    todo += arg
                elif op == CURRY:
                    todo.append(arg)
                    blocks.append(arg)
        while blocks:  # a closure's function may call others: `called` grows
            body = blocks.pop()
            if body.code not in made:
                made[body.code] = drive(self.closure(body), self.function)
            blocks += self.called
            self.called.clear()
        return made

    def root(self, root: Block) -> Any:
        """A function for a large root block: ``body(x, s) -> (s, y)``."""
        out = Out(1, "def body(x, s, n):" if self.counting else "def body(x, s):")
        frame = Frame(("v", "x"), ("v", "s"), [])
        status = yield from self.block(root, frame, out, 0, None, [INLINE_SIZE])
        if status == END and not frame.stack:
            reg, acc = self.m(frame.reg, out), self.m(frame.acc, out)
            out(f"return ({reg}, {acc}{', n' * self.counting})")
        elif status != DEAD:
            out("raise D")  # halting needs an empty stack: stuck
        assert out.head is not None
        self.functions.append(source_of(out.head, out.lines))


def translate(root: Block, slow: Callable[[Any, Any], Any], count: bool = False,
              fuel: int | None = None) -> tuple[Callable[..., Any], Any]:
    """The step and batch functions for `root`; `slow(input, state)` is the checked loop on host values.

    ``step(x, s) -> (s, y)``; ``run(inputs, s) -> (s, outputs)``.  With
    `count`, ``step(x, s) -> (s, y, steps)`` and no batch function (None):
    the number of steps is a local that each straight stretch of code adds
    its length to.  With `fuel` too, a closure's function called past `fuel`
    steps hands the input to `slow` (`Deopt`): between two such calls at most
    the inlined code runs, whose size is linear in the code's, so a step over
    its fuel stops within that much of it.  Code that is stuck on every path
    (most random code) is not compiled: its step is `slow` itself.
    """
    t = _Translator(count)
    t.env["slow"] = slow
    t.env["F"] = sys.maxsize if fuel is None else fuel
    t.inline_left = root.size + INLINE_CLOSURES
    if root.size > INLINE_SIZE:  # a function of its own (split as it grows), called by both
        drive(t.root(root), t.function)
        call = "body(x, s, 0)" if count else "body(x, s)"
        return _finish(t, [(2, f"return {call}")], [(3, f"s, y = {call}"), (3, "out(y)")], root)
    body = Out(2)
    if count:
        body("n = 0")
    frame = Frame(("v", "x"), ("v", "s"), [])
    status = drive(t.block(root, frame, body, 0, None, [INLINE_SIZE]), t.function)
    if status == END and frame.stack:
        body("raise D")  # halting needs an empty stack: stuck
        status = DEAD
    if status == DEAD:  # stuck on every path: nothing to compile, every input goes to the checked loop
        return slow, None
    step_lines, run_lines = list(body.lines), [(i + 1, text) for i, text in body.lines]
    if status == END:
        tail = Out(2)
        reg, acc = t.m(frame.reg, tail), t.m(frame.acc, tail)
        step_lines += tail.lines + [(2, f"return ({reg}, {acc}{', n' * count})")]
        tail = Out(3)
        acc = t.m(frame.acc, tail)
        reg = t.m(frame.reg, tail)
        run_lines += tail.lines + [(3, f"out({acc})")]
        if reg != "s":
            run_lines.append((3, f"s = {reg}"))
    return _finish(t, step_lines, run_lines, root)


def _finish(t: _Translator, step_lines: list[Line], run_lines: list[Line], root: Block) -> tuple[Callable[..., Any], Any]:
    functions = t.closures(root) if t.generic else {}
    step, batch = finish(t.functions, t.env, t.counting, step_lines, run_lines, "<cam load>")
    t.env["CF"] = {code: t.env[name] for code, name in functions.items()}
    return step, batch


def run_list(step: Callable[[Any, Any], tuple[Any, Any]], inputs: Iterable[Any], state: Any) -> tuple[Any, list[Any]]:
    """``run`` by calls of `step` (for comparison in tests)."""
    outputs = []
    for x in inputs:
        state, y = step(x, state)
        outputs.append(y)
    return state, outputs
