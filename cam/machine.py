"""The Categorical Abstract Machine: the reference's transitions, run without recursion.

A configuration is (accumulator, code, state register, stack); the stack
holds values and code continuations.  `run` executes until the code and the
stack are both empty and returns ``(state, output)``:

>>> from cam.code import parse_code, parse_value, L, R, Unit, Int
>>> counter = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]")
>>> run(counter, L(Unit), Int(0))
(Int(1), L(Unit))
>>> execute(counter, R(Unit), Int(1)).steps
6

Unlike the reference, a machine where no rule applies does not pass off its
accumulator as an answer; it raises `Stuck` with the configuration:

>>> run(counter, Int(3), Int(0))
Traceback (most recent call last):
  ...
cam.machine.Stuck: stuck at step 2: BRANCH needs L or R in the accumulator, found Int 3
  accumulator: Int 3
  code:        [BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]
  register:    Int 0
  stack:       []

A step bound (`fuel`) raises `OutOfFuel`, a different error.  Internally the
machine works on plain Python data (tuples for pairs, ints) and translates at
the boundary; each `Code` is translated once and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from cam.code import Closure, Code, Instr, Int, L, Pair, R, Unit, Value, to_text

__all__ = ["run", "execute", "trace", "Config", "Result", "MachineError", "Stuck", "OutOfFuel", "Cont"]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1

# opcodes, most frequent first (the dispatch is an if-chain)
(ID, CONS, SWAP, FIRST, SECOND, GET, PUT, COPY, FST, SND, QUOTE, ADD, INL, INR, BRANCH, RETURN,
 CONSUME, PUSH, ROT, APP, CURRY) = range(21)
_OPCODE = {name: i for i, name in enumerate(
    ("ID", "CONS", "SWAP", "FIRST", "SECOND", "GET", "PUT", "COPY", "FST", "SND", "QUOTE", "ADD", "INL", "INR",
     "BRANCH", "RETURN", "CONSUME", "PUSH", "ROT", "APP", "CURRY"))}


class Cont(NamedTuple):
    """A code continuation on the stack, as seen in a `Config`: the code still to run."""

    code: Code

    def __str__(self) -> str:
        return f"<code {to_text(self.code)}>"


class Config(NamedTuple):
    """A machine configuration, in public form."""

    acc: Value
    code: Code
    reg: Value
    stack: tuple[Value | Cont, ...]

    def __str__(self) -> str:
        stack = ", ".join(str(e) for e in self.stack)
        return (f"  accumulator: {to_text(self.acc)}\n  code:        {to_text(self.code)}\n"
                f"  register:    {to_text(self.reg)}\n  stack:       [{stack}]")


class Result(NamedTuple):
    """What `execute` returns: new state, output and the number of steps taken."""

    state: Value
    output: Value
    steps: int


class MachineError(RuntimeError):
    """The machine could not finish: see `Stuck` and `OutOfFuel`."""

    def __init__(self, message: str, config: Config, steps: int) -> None:
        self.config, self.steps = config, steps
        super().__init__(f"{message}\n{config}")


class Stuck(MachineError):
    """No transition applies; `config` is where the machine stopped, `instruction` the culprit."""

    def __init__(self, reason: str, config: Config, steps: int) -> None:
        self.reason = reason
        self.instruction: Instr | None = config.code[0] if len(config.code) else None
        super().__init__(f"stuck at step {steps + 1}: {reason}", config, steps)


class OutOfFuel(MachineError):
    """The step bound ran out before the machine halted."""


# ---------------------------------------------------------------- internal form


class _L:
    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


class _R(_L):
    __slots__ = ()


class _Clo:
    __slots__ = ("block", "env")

    def __init__(self, block: _Block, env: Any) -> None:
        self.block, self.env = block, env


class _K:
    __slots__ = ("block", "pc")

    def __init__(self, block: _Block, pc: int) -> None:
        self.block, self.pc = block, pc


class _Block(list):  # type: ignore[type-arg]
    """Decoded code: a list of (opcode, argument); `code` is the public form."""

    __slots__ = ("code",)


@lru_cache(maxsize=256)
def _decode(code: Code) -> _Block:
    # Nested blocks are decoded from an explicit stack: deep BRANCH nesting is fine.
    root = _Block()
    root.code = code
    todo: list[tuple[Code, _Block]] = [(code, root)]
    while todo:
        src, dst = todo.pop()
        for ins in src:
            op = _OPCODE[ins.op]
            arg: Any = None
            if op == QUOTE:
                arg = _inside(ins.kids[0])
            elif op in (BRANCH, CURRY):
                subs = []
                for c in ins.kids:
                    b = _Block()
                    b.code = c
                    todo.append((c, b))
                    subs.append(b)
                arg = subs[0] if op == CURRY else (subs[0], subs[1])
            dst.append((op, arg))
    return root


def _inside(v: Value) -> Any:
    """Public value -> internal value."""
    out: list[Any] = []
    todo: list[tuple[Value, bool]] = [(v, False)]
    while todo:
        t, ready = todo.pop()
        if ready:
            if isinstance(t, Pair):
                b = out.pop()
                out.append((out.pop(), b))
            elif isinstance(t, (L, R)):
                out.append((_R if isinstance(t, R) else _L)(out.pop()))
            else:  # Closure
                out.append(_Clo(_decode(t.code), out.pop()))
        elif t is Unit:
            out.append(None)
        elif isinstance(t, Int):
            out.append(t.n)
        elif isinstance(t, (Pair, L, R, Closure)):
            todo.append((t, True))
            todo.extend((k, False) for k in reversed(t.kids) if not isinstance(k, Code))
        else:
            raise TypeError(f"expected a machine Value, not {t!r}")
    return out[0]


def _outside(x: Any) -> Value | Cont:
    """Internal value (or continuation) -> public form."""
    out: list[Any] = []
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        t, ready = todo.pop()
        if ready:
            if type(t) is tuple:
                b = out.pop()
                out.append(Pair(out.pop(), b))
            elif type(t) is _Clo:
                out.append(Closure(t.block.code, out.pop()))
            else:
                out.append((R if type(t) is _R else L)(out.pop()))
        elif t is None:
            out.append(Unit)
        elif type(t) is int:
            out.append(Int(t))
        elif type(t) is tuple:
            todo += [(t, True), (t[1], False), (t[0], False)]
        elif type(t) in (_L, _R):
            todo += [(t, True), (t.v, False)]
        elif type(t) is _Clo:
            todo += [(t, True), (t.env, False)]
        elif type(t) is _K:
            out.append(Cont(t.block.code[t.pc:]))
        else:  # pragma: no cover
            raise AssertionError(t)
    return out[0]  # type: ignore[no-any-return]


def _config(acc: Any, block: _Block, pc: int, reg: Any, stack: list[Any]) -> Config:
    return Config(_outside(acc), block.code[pc:], _outside(reg),  # type: ignore[arg-type]
                  tuple(_outside(e) for e in reversed(stack)))


_NEEDS = {FST: "a Pair", SND: "a Pair", FIRST: "a Pair", SECOND: "a Pair", BRANCH: "L or R",
          ADD: "a Pair of two Ints", APP: "a Pair of a Closure and a value"}


def _stuck(op: int, why: str, acc: Any, block: _Block, pc: int, reg: Any, stack: list[Any], steps: int) -> Stuck:
    return Stuck(why, _config(acc, block, pc, reg, stack), steps)


def _exec(code: Code, acc: Any, reg: Any, fuel: int | None,
          tracer: Callable[[Any, _Block, int, Any, list[Any], int], None] | None) -> tuple[Any, Any, int]:
    block = _decode(code)
    pc, n, steps = 0, len(block), 0
    limit = -1 if fuel is None else fuel
    stack: list[Any] = []
    push, pop = stack.append, stack.pop
    while True:
        if pc == n:
            if not stack:
                if tracer:
                    tracer(acc, block, pc, reg, stack, steps)
                return acc, reg, steps
            raise _stuck(-1, "the code ended but the stack is not empty", acc, block, pc, reg, stack, steps)
        if steps == limit:
            raise OutOfFuel(f"out of fuel after {steps} steps", _config(acc, block, pc, reg, stack), steps)
        if tracer:
            tracer(acc, block, pc, reg, stack, steps)
        op, arg = block[pc]
        pc += 1
        if op == ID:
            pass
        elif op == CONS:
            if not stack or type(stack[-1]) is _K:
                pc -= 1
                raise _stuck(op, "CONS needs a value on the stack", acc, block, pc, reg, stack, steps)
            acc = (pop(), acc)
        elif op == SWAP:
            if not stack or type(stack[-1]) is _K:
                pc -= 1
                raise _stuck(op, "SWAP needs a value on the stack", acc, block, pc, reg, stack, steps)
            acc, stack[-1] = stack[-1], acc
        elif op == FIRST or op == SECOND or op == FST or op == SND:
            if type(acc) is not tuple:
                pc -= 1
                name = ("FIRST", "SECOND", "FST", "SND")[(FIRST, SECOND, FST, SND).index(op)]
                raise _stuck(op, f"{name} needs a Pair in the accumulator, found {to_text(_outside(acc))}",
                             acc, block, pc, reg, stack, steps)
            if op == FIRST:
                push(acc[1])
                acc = acc[0]
            elif op == SECOND:
                push(acc[0])
                acc = acc[1]
            else:
                acc = acc[0] if op == FST else acc[1]
        elif op == GET:
            acc = reg
        elif op == PUT:
            reg, acc = acc, None
        elif op == COPY:
            acc = (acc, acc)
        elif op == QUOTE:
            acc = arg
        elif op == ADD:
            if type(acc) is not tuple or type(acc[0]) is not int or type(acc[1]) is not int:
                pc -= 1
                raise _stuck(op, f"ADD needs a Pair of two Ints, found {to_text(_outside(acc))}",
                             acc, block, pc, reg, stack, steps)
            acc = acc[0] + acc[1]
            if acc > INT_MAX or acc < INT_MIN:
                acc = (acc + 2**63) % 2**64 - 2**63
        elif op == INL:
            acc = _L(acc)
        elif op == INR:
            acc = _R(acc)
        elif op == BRANCH:
            kind = type(acc)
            if kind is not _L and kind is not _R:
                pc -= 1
                raise _stuck(op, f"BRANCH needs L or R in the accumulator, found {to_text(_outside(acc))}",
                             acc, block, pc, reg, stack, steps)
            push(_K(block, pc))
            block = arg[0] if kind is _L else arg[1]
            acc, pc, n = acc.v, 0, len(block)
        elif op == RETURN:
            if not stack or type(stack[-1]) is not _K:
                pc -= 1
                raise _stuck(op, "RETURN needs a code continuation on the stack", acc, block, pc, reg, stack, steps)
            k = pop()
            block, pc = k.block, k.pc
            n = len(block)
        elif op == CONSUME:
            acc = None
        elif op == PUSH:
            push(acc)
        elif op == ROT:
            if len(stack) < 2:
                pc -= 1
                raise _stuck(op, "ROT needs two entries on the stack", acc, block, pc, reg, stack, steps)
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif op == CURRY:
            acc = _Clo(arg, acc)
        elif op == APP:
            if type(acc) is not tuple or type(acc[0]) is not _Clo:
                pc -= 1
                raise _stuck(op, f"APP needs a Pair of a Closure and a value, found {to_text(_outside(acc))}",
                             acc, block, pc, reg, stack, steps)
            clo = acc[0]
            push(_K(block, pc))
            acc = (clo.env, acc[1])
            block, pc = clo.block, 0
            n = len(block)
        steps += 1


def _check_args(code: Code, input: Value, state: Value) -> None:
    if not isinstance(code, Code):
        raise TypeError(f"expected Code, not {type(code).__name__}")
    for name, v in (("input", input), ("state", state)):
        if not isinstance(v, Value):
            raise TypeError(f"the {name} must be a machine Value (see cam.code.quote), not {v!r}")


def execute(code: Code, input: Value, state: Value, fuel: int | None = None) -> Result:
    """Run `code` with `input` in the accumulator and `state` in the register.

    Returns the new state, the output and the number of steps (instructions
    executed).  Raises `Stuck` or, after `fuel` steps, `OutOfFuel`.
    """
    _check_args(code, input, state)
    acc, reg, steps = _exec(code, _inside(input), _inside(state), fuel, None)
    return Result(_outside(reg), _outside(acc), steps)  # type: ignore[arg-type]


def run(code: Code, input: Value, state: Value, fuel: int | None = None) -> tuple[Value, Value]:
    """``(new_state, output)`` of one step of the machine; see `execute`."""
    r = execute(code, input, state, fuel)
    return r.state, r.output


def trace(code: Code, input: Value, state: Value, fuel: int | None = None) -> Iterator[Config]:
    """Every configuration, from the first to the halted one (for debugging).

    >>> from cam.code import parse_code, Unit
    >>> for c in trace(parse_code("[COPY,FST]"), Int(1), Unit):
    ...     print(to_text(c.acc), to_text(c.code))
    Int 1 [COPY,FST]
    Pair (Int 1) (Int 1) [FST]
    Int 1 []

    A stuck machine raises `Stuck` after the configurations it reached.
    """
    _check_args(code, input, state)
    seen: list[Config] = []
    # The machine calls back on every step; configurations are collected and
    # handed out in order (a generator cannot yield from inside the callback).
    error: MachineError | None = None
    try:
        _exec(code, _inside(input), _inside(state), fuel,
              lambda acc, block, pc, reg, stack, steps: seen.append(_config(acc, block, pc, reg, stack)))
    except MachineError as e:
        error = e
    yield from seen
    if error is not None:
        raise error
