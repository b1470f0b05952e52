"""Verified code as a Python step function over host values: what `cam.machine.load` returns.

The host values are catlib's (``()``, ints, 2-tuples, `Left`/`Right`) and,
for the machine's closures, `HostClosure`.  `translate` turns decoded code
into Python source once, at load time, evaluating it symbolically as it
goes: the accumulator, the register and every stack entry are known at
translation time as a constant, a Python local, a pair of two such (not
allocated until something needs the pair itself) or an injection of one;
so stack traffic becomes renaming, constant outputs are shared objects,
and a ``BRANCH`` on a value of unknown side is an ``if`` on its class.
Nested blocks are inlined as nested ``if``\\ s up to `INLINE_DEPTH` levels
(and `INLINE_SIZE` instructions per function); deeper or larger blocks
become functions of their own, so neither Python's compiler limits nor
its recursion limit are reached at translation, and translation is linear
in the code's size.

What the translation does not cover is left to the checked loop: a
configuration where the reference machine is stuck, a shape the code does
not expect (a ``FST`` of an int, a ``BRANCH`` on a pair), ``APP``, stack
shapes that differ between two arms.  Such a point raises `Deopt` (or the
`TypeError`/`ValueError` of unpacking or adding a value of the wrong
shape), and the step runs the input again from the start on the checked
loop, which returns the answer or raises exactly its `Stuck`/`OutOfFuel`.
(The machine is deterministic and the translated code has no effect
outside its locals, so running again is sound.)  Inputs and states are
trusted to be host values, as `catlib.interpreter.step` trusts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cam.decoded import (
    ADD,
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
    HOST_ARITH,
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
    host_divmod,
    to_host,
    to_internal,
)
from cam.pysource import Line, Out, compile_in_pieces, source_of
from catlib.values import Left, Right

__all__ = ["HostClosure", "Deopt", "translate", "to_internal", "to_host", "INLINE_DEPTH", "INLINE_SIZE"]

INLINE_DEPTH = 40
"""Nested blocks inlined into one Python function (as nested ``if``\\ s; the tokenizer allows 100 levels)."""
INLINE_SIZE = 2_000
"""Instructions inlined into one Python function before a nested block becomes a function of its own."""
_BIG = 12
"""A virtual pair or injection bigger than this (in nodes) is built into a local at once."""


class Deopt(Exception):
    """The translated code met something it does not handle; the checked loop runs the input again."""


# ---------------------------------------------------------------- symbolic values
# A symbolic value is a tuple: ("c", name, value) a shared constant, ("v", name) a local,
# ("p", a, b, size) a pair not yet built, ("l"/"r", a, size) an injection not yet built.
# A stack entry is a symbolic value or a marker ("m", n): the continuation a BRANCH pushed.

Sym = tuple[Any, ...]


def _size(s: Sym) -> int:
    return s[-1] if s[0] in ("p", "l", "r") else 1


class _Frame:
    """The machine's configuration at a point of the translation: accumulator, register, stack."""

    __slots__ = ("acc", "reg", "stack")

    def __init__(self, acc: Sym, reg: Sym, stack: list[Sym]) -> None:
        self.acc, self.reg, self.stack = acc, reg, stack

    def copy(self) -> _Frame:
        return _Frame(self.acc, self.reg, list(self.stack))


DEAD, RET, END = "dead", "ret", "end"


class _Translator:
    def __init__(self, count: bool = False) -> None:
        self.counting = count  # keep the number of steps in the local ``n``
        self.env: dict[str, Any] = {"Left": Left, "Right": Right, "D": Deopt, "HC": HostClosure,
                                    "new": object.__new__, "setv": Left.value.__set__,  # type: ignore[misc]
                                    "dm": host_divmod}
        self.count = 0
        self.functions: list[str] = []

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
        inner = self.m(s[1], out)
        name = self.fresh()
        out(f"{name} = new({'Left' if kind == 'l' else 'Right'}); setv({name}, {inner})")
        return name

    def pair(self, a: Sym, b: Sym, out: Out) -> Sym:
        if a[0] == "c" and b[0] == "c":
            return self.const((a[2], b[2]))
        s = ("p", a, b, 1 + _size(a) + _size(b))
        return self.var(out, self.m(s, out)) if s[3] > _BIG else s

    def inj(self, kind: str, a: Sym, out: Out) -> Sym:
        if a[0] == "c":
            return self.const((Left if kind == "l" else Right)(a[2]))
        s = ("l" if kind == "l" else "r", a, 1 + _size(a))
        return ("v", self.m(s, out)) if s[2] > _BIG else s

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

    def block(self, block: Block, frame: _Frame, out: Out, depth: int, marker: Sym | None, budget: list[int]) -> Any:
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
                if ab is None or any(s[0] in "plr" or (s[0] == "c" and type(s[2]) is not int) for s in ab):
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
                if ab is None or any(s[0] in "plr" or (s[0] == "c" and type(s[2]) is not int) for s in ab):
                    break
                frame.acc = self.arith(op, ab[0], ab[1], out)
            elif op == INL or op == INR:
                frame.acc = self.inj("l" if op == INL else "r", frame.acc, out)
            elif op == GET:
                frame.acc = frame.reg
            elif op == PUT:
                frame.reg, frame.acc = frame.acc, self.const(())
            elif op == CURRY:
                code = self.const(arg.code)
                frame.acc = self.var(out, f"HC({code[1]}, {self.m(frame.acc, out)})")
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
            else:  # APP: left to the checked loop
                break
        else:
            flush()
            return END
        out("raise D")
        return DEAD

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

    def split(self, frame: _Frame, out: Out) -> None:
        """End the function `out` is writing with a call of a new one, which goes on from `frame`."""
        name = self.fresh("g")
        values = [i for i, e in enumerate(frame.stack) if e[0] != "m"]
        args = [self.m(frame.acc, out), self.m(frame.reg, out), *(self.m(frame.stack[i], out) for i in values)]
        params = [self.fresh() for _ in args]
        if self.counting:
            args.append("n")
            params.append("n")
        out(f"return {name}({', '.join(args)})")
        assert out.head is not None
        self.functions.append(source_of(out.head, out.lines))
        out.head, out.lines = f"def {name}({', '.join(params)}):", []
        frame.acc, frame.reg = ("v", params[0]), ("v", params[1])
        for i, p in zip(values, params[2:]):
            frame.stack[i] = ("v", p)

    def branch(self, arms: tuple[Block, Block], frame: _Frame, out: Out, depth: int, budget: list[int]) -> Any:
        acc = frame.acc
        side: str | None = None
        if acc[0] in ("l", "r"):
            side, payload = acc[0], acc[1]
        elif acc[0] == "c" and type(acc[2]) in (Left, Right):
            side, payload = ("l" if type(acc[2]) is Left else "r"), self.const(acc[2].value)
        elif acc[0] != "v":
            out("raise D")
            return DEAD
        results: list[tuple[str, _Frame | None, Out]] = []
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
            same = all(len(r[1].stack) == len(first.stack) and all(
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

    def join(self, left: _Frame, right: _Frame, lout: Out, rout: Out) -> None:
        """Where two arms meet: what differs goes to a local both arms assign last."""
        joined = []
        for a, b in [(left.acc, right.acc), (left.reg, right.reg), *zip(left.stack, right.stack)]:
            if a is b:
                joined.append(a)
                continue
            name = self.fresh("j")
            for s, sub in ((a, lout), (b, rout)):
                sub(f"{name} = {self.m(s, sub)}")
            joined.append(("v", name))
        left.acc, left.reg, left.stack[:] = joined[0], joined[1], joined[2:]

    def arm(self, arm: Block, f: _Frame, out: Out, depth: int, budget: list[int]) -> Any:
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
        frame = _Frame(("v", params[0]), ("v", params[1]), [("v", p) for p in params[2:]] + [marker])
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

    def root(self, root: Block) -> Any:
        """A function for a large root block: ``body(x, s) -> (s, y)``."""
        out = Out(1, "def body(x, s, n):" if self.counting else "def body(x, s):")
        frame = _Frame(("v", "x"), ("v", "s"), [])
        status = yield from self.block(root, frame, out, 0, None, [INLINE_SIZE])
        if status == END and not frame.stack:
            reg, acc = self.m(frame.reg, out), self.m(frame.acc, out)
            out(f"return ({reg}, {acc}{', n' * self.counting})")
        elif status != DEAD:
            out("raise D")  # halting needs an empty stack: stuck
        assert out.head is not None
        self.functions.append(source_of(out.head, out.lines))


def _drive(gen: Any, translator: _Translator) -> Any:
    """Run a translation generator to its end, making the functions it asks for (without recursion)."""
    gens = [gen]
    value: Any = None
    while True:
        try:
            request = gens[-1].send(value)
        except StopIteration as stop:
            gens.pop()
            if not gens:
                return stop.value
            value = stop.value
            continue
        gens.append(translator.function(*request))
        value = None


def translate(root: Block, slow: Callable[[Any, Any], Any], count: bool = False) -> tuple[Callable[..., Any], Any]:
    """The step and batch functions for `root`; `slow(input, state)` is the checked loop on host values.

    ``step(x, s) -> (s, y)``; ``run(inputs, s) -> (s, outputs)``.  With
    `count`, ``step(x, s) -> (s, y, steps)`` and no batch function (None):
    the number of steps is a local that each straight stretch of code adds
    its length to.
    """
    t = _Translator(count)
    t.env["slow"] = slow
    if root.size > INLINE_SIZE:  # a function of its own (split as it grows), called by both
        _drive(t.root(root), t)
        call = "body(x, s, 0)" if count else "body(x, s)"
        return _finish(t, [(2, f"return {call}")], [(3, f"s, y = {call}"), (3, "out(y)")], root)
    body = Out(2)
    if count:
        body("n = 0")
    frame = _Frame(("v", "x"), ("v", "s"), [])
    status = _drive(t.block(root, frame, body, 0, None, [INLINE_SIZE]), t)
    if status == END and frame.stack:
        body("raise D")  # halting needs an empty stack: stuck
        status = DEAD
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
    caught = "except (D, TypeError, ValueError, RecursionError):"
    step_src = source_of("def step(x, s):", [(1, "try:"), *step_lines, (1, caught), (2, "return slow(x, s)")])
    run_src = source_of("def run(inputs, s):", [
        (1, "outputs = []"), (1, "out = outputs.append"), (1, "for x in inputs:"), (2, "try:"), *run_lines,
        (2, caught), (3, "s, y = slow(x, s)"), (3, "out(y)"), (1, "return s, outputs")])
    pieces = [*t.functions, step_src] + ([] if t.counting else [run_src])
    compile_in_pieces(pieces, t.env, f"<cam load {id(root):x}>")
    t.env["source"] = "\n\n".join(pieces)
    return t.env["step"], t.env.get("run")


def run_list(step: Callable[[Any, Any], tuple[Any, Any]], inputs: Iterable[Any], state: Any) -> tuple[Any, list[Any]]:
    """``run`` by calls of `step` (for comparison in tests)."""
    outputs = []
    for x in inputs:
        state, y = step(x, state)
        outputs.append(y)
    return state, outputs
