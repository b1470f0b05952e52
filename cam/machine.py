"""The Categorical Abstract Machine: the reference's transitions, run without recursion.

A configuration is (accumulator, code, state register, stack); the stack
holds values and code continuations.  `step` executes until the code and
the stack are both empty and returns ``(state, output)``; `run` does so for
a list of inputs, as `catlib.interpreter.step` and `run` do for terms:

>>> from cam.code import L, R, UnitV, IntV
>>> from cam.text import parse_code, parse_value
>>> counter = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]")
>>> step(counter, L(UnitV), IntV(0))
(IntV(1), L(UnitV))
>>> execute(counter, R(UnitV), IntV(1)).steps
6

Unlike the reference, a machine where no rule applies does not pass off its
accumulator as an answer; it raises `Stuck` with the configuration:

>>> step(counter, IntV(3), IntV(0))
Traceback (most recent call last):
  ...
cam.machine.Stuck: stuck at step 2: BRANCH needs L or R in the accumulator, found Int 3
  accumulator: Int 3
  code:        [BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]
  register:    Int 0
  stack:       []

A step bound (`fuel`) raises `OutOfFuel`, a different error.

How it is fast.  Internally the machine works on plain Python data
(`cam.decoded`: ``None`` for ``Unit``, ints, tuples for pairs, small objects
for ``L``/``R``, closures and continuations) and converts at the boundary;
each `Code` is decoded once (cached).  `_exec` is the reference: a loop over
the decoded instructions that checks every transition, one entry per
instruction.  A code that runs again is also translated to Python
(`cam.jit`); whatever the translation does not handle abandons the fast run,
and the input is run again from the start by `_exec`, which then raises
exactly the error the reference loop gives.

Faster still: `load` translates code once, up front, to a step function on
host values (``()``, ints, tuples, `Left`/`Right`: `catlib.interpreter.step`'s),
with no conversion or lookup per call, and a batch ``run`` (`cam.loaded`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

from cam.code import Code, Instr, Value, to_text
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
    Clo,
    Cont,
    InL,
    InR,
    Ret,
    clear_cache,
    decode,
    inside,
    outside,
    outside_all,
)
from cam.jit import fast
from cam.jit import prepare as translate_ahead
from cam.loaded import run_list, to_host, to_internal, translate
from catlib.values import INT_MAX, INT_MIN

_WRAP = 2**63

__all__ = ["step", "run", "execute", "run_decoded", "trace", "Config", "Result", "MachineError", "Stuck", "OutOfFuel", "Cont",
           "clear_cache", "load", "Loaded", "prepare"]


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
    """The machine could not finish: see `Stuck` and `OutOfFuel`.  `config` is where it stopped, made when first
    read (converting a deep stack takes time, and most callers, a node rerunning with more fuel, a campaign, a
    fallback, never read it)."""

    def __init__(self, message: str, config: Config | Callable[[], Config], steps: int) -> None:
        self._config, self.steps, self.message = config, steps, message
        super().__init__(message)

    @property
    def config(self) -> Config:
        """The configuration where the machine stopped (made now if it was not yet)."""
        if not isinstance(self._config, Config):
            self._config = self._config()
        return self._config

    def __str__(self) -> str:
        # written when read: a caller that only catches (a campaign, a fallback) pays nothing for the text
        return f"{self.message}\n{self.config}"


class Stuck(MachineError):
    """No transition applies; `config` is where the machine stopped, `instruction` the culprit."""

    def __init__(self, reason: str, config: Config | Callable[[], Config], steps: int,
                 instruction: Instr | None = None) -> None:  # None at the code's end (or: read from a whole config)
        whole = instruction is None and isinstance(config, Config) and len(config.code)
        self.reason, self.instruction = reason, config.code[0] if whole else instruction  # type: ignore[union-attr]
        super().__init__(f"stuck at step {steps + 1}: {reason}", config, steps)


class OutOfFuel(MachineError):
    """The step bound ran out before the machine halted."""


def _config(acc: Any, block: Block, pc: int, reg: Any, stack: list[Any]) -> Config:
    # one conversion for all the parts: the stack's entries share their parts (`outside_all`)
    parts = outside_all([acc, reg, *reversed(stack)])
    return Config(parts[0], block.code[pc:], parts[1], tuple(parts[2:]))  # type: ignore[arg-type]


def _later(acc: Any, block: Block, pc: int, reg: Any, stack: list[Any]) -> Callable[[], Config]:
    return lambda: _config(acc, block, pc, reg, stack)  # made when read (`stack` no longer changes then)


def _stuck(why: str, acc: Any, block: Block, pc: int, reg: Any, stack: list[Any], steps: int) -> Stuck:
    return Stuck(why, _later(acc, block, pc, reg, stack), steps, block.code[pc] if pc < len(block) else None)


def _found(acc: Any) -> str:
    return to_text(outside(acc))  # type: ignore[arg-type]


Tracer = Callable[[Any, Block, int, Any, list[Any], int], None]


def _exec(block: Block, acc: Any, reg: Any, fuel: int | None, tracer: Tracer | None) -> tuple[Any, Any, int]:
    """The reference machine on decoded code: every transition checked, `Stuck` where none applies.

    One entry per instruction, each its condition (else stuck) and its
    effect; the most frequent first, as this is an if-chain (by their share of the steps of a campaign's
    terms, `cam.check`, whose code runs only here: code that runs often is translated, `cam.jit`).
    """
    pc, n, steps = 0, len(block), 0
    limit = -1 if fuel is None else fuel
    watched = fuel is not None or tracer is not None  # (one test a step where neither is given: campaigns)
    stack: list[Any] = []
    push, pop = stack.append, stack.pop
    while True:
        if pc == n:
            if not stack:
                if tracer is not None:
                    tracer(acc, block, pc, reg, stack, steps)
                return acc, reg, steps
            raise _stuck("the code ended but the stack is not empty", acc, block, pc, reg, stack, steps)
        if watched:
            if steps == limit:
                raise OutOfFuel(f"out of fuel after {steps} steps", _later(acc, block, pc, reg, stack), steps)
            if tracer is not None:
                tracer(acc, block, pc, reg, stack, steps)
        op, arg = block[pc]
        if op == CONS:
            if not stack or type(stack[-1]) is Ret:
                raise _stuck("CONS needs a value on the stack", acc, block, pc, reg, stack, steps)
            acc = (pop(), acc)
        elif op == SWAP:
            if not stack or type(stack[-1]) is Ret:
                raise _stuck("SWAP needs a value on the stack", acc, block, pc, reg, stack, steps)
            acc, stack[-1] = stack[-1], acc
        elif op == COPY:
            acc = (acc, acc)
        elif op == FIRST:
            if type(acc) is not tuple:
                raise _stuck(f"FIRST needs a Pair in the accumulator, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            push(acc[1])
            acc = acc[0]
        elif op == SECOND:
            if type(acc) is not tuple:
                raise _stuck(f"SECOND needs a Pair in the accumulator, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            push(acc[0])
            acc = acc[1]
        elif op == QUOTE:
            acc = arg
        elif op == RETURN:
            if not stack or type(stack[-1]) is not Ret:
                raise _stuck("RETURN needs a code continuation on the stack", acc, block, pc, reg, stack, steps)
            k = pop()
            block, pc = k.block, k.pc - 1
            n = len(block)
        elif op == ID:
            pass
        elif op == INL:
            acc = InL(acc)
        elif op == BRANCH:
            kind = type(acc)
            if kind is not InL and kind is not InR:
                raise _stuck(f"BRANCH needs L or R in the accumulator, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            push(Ret(block, pc + 1))
            block = arg[0] if kind is InL else arg[1]
            acc, pc, n = acc.v, -1, len(block)
        elif op == CONSUME:
            acc = None
        elif op == FST:
            if type(acc) is not tuple:
                raise _stuck(f"FST needs a Pair in the accumulator, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            acc = acc[0]
        elif op == SND:
            if type(acc) is not tuple:
                raise _stuck(f"SND needs a Pair in the accumulator, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            acc = acc[1]
        elif op == PUSH:
            push(acc)
        elif op == ROT:
            if len(stack) < 2:
                raise _stuck("ROT needs two entries on the stack", acc, block, pc, reg, stack, steps)
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif op == CURRY:
            acc = Clo(arg, acc)
        elif op == APP:
            if type(acc) is not tuple or type(acc[0]) is not Clo:
                raise _stuck(f"APP needs a Pair of a Closure and a value, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            clo = acc[0]
            push(Ret(block, pc + 1))
            acc = (clo.env, acc[1])
            block, pc = clo.block, -1
            n = len(block)
        elif op == GET:
            acc = reg
        elif op == PUT:
            reg, acc = acc, None
        elif op == INR:
            acc = InR(acc)
        elif op == ADD:
            if type(acc) is not tuple or type(acc[0]) is not int or type(acc[1]) is not int:
                raise _stuck(f"ADD needs a Pair of two Ints, found {_found(acc)}", acc, block, pc, reg, stack, steps)
            acc = acc[0] + acc[1]
            if acc > INT_MAX or acc < INT_MIN:
                acc = (acc + 2**63) % 2**64 - 2**63
        elif op == SUB or op == MUL or op == LT or op == EQ or op == DIVMOD:
            if type(acc) is not tuple or type(acc[0]) is not int or type(acc[1]) is not int:
                raise _stuck(f"{block.code[pc].op} needs a Pair of two Ints, found {_found(acc)}",
                             acc, block, pc, reg, stack, steps)
            a, b = acc
            if op == SUB or op == MUL:
                acc = a - b if op == SUB else a * b
                if acc > INT_MAX or acc < INT_MIN:
                    acc = (acc + _WRAP) % 2**64 - _WRAP
            elif op == LT:
                acc = InL(None) if a < b else InR(None)
            elif op == EQ:
                acc = InL(None) if a == b else InR(None)
            elif b == 0:  # DIVMOD by zero answers L Unit
                acc = InL(None)
            else:  # rounding down, as Python's divmod; only INT_MIN / -1 leaves the range
                q, r = divmod(a, b)
                acc = InR((q if q <= INT_MAX else INT_MIN, r))
        else:  # pragma: no cover - a row of the table the machine does not know (a test checks there is none)
            raise AssertionError(f"opcode {op} has no transition")
        pc += 1
        steps += 1


def _check_args(code: object, input: object, state: object) -> None:
    if not isinstance(code, Code):
        raise TypeError(f"expected Code, not {type(code).__name__}")
    for name, v in (("input", input), ("state", state)):
        if not isinstance(v, Value):
            raise TypeError(f"the {name} must be a machine Value (see cam.hostvalue.quote), not {v!r}")


def _run(code: Code, input: Value, state: Value, fuel: int | None) -> tuple[Any, Any, int]:
    """`execute` up to the internal results: accumulator, register, steps."""
    if not (isinstance(code, Code) and isinstance(input, Value) and isinstance(state, Value)):
        _check_args(code, input, state)  # type: ignore[unreachable]  # callers without type hints get here
    block = decode(code)
    acc, reg = inside(input), inside(state)
    done = fast(block, acc, reg, fuel)
    return done if done is not None else _exec(block, acc, reg, fuel, None)


def run_decoded(block: Block, acc: Any, reg: Any, fuel: int | None = None) -> tuple[Any, Any, int]:
    """The checked loop alone on decoded code and internal values (`cam.decoded`): accumulator, register and
    steps after the run.  For code made in decoded form and run once (`cam.compiler.compile_decoded`, campaigns).
    """
    return _exec(block, acc, reg, fuel, None)


def execute(code: Code, input: Value, state: Value, fuel: int | None = None) -> Result:
    """Run `code` with `input` in the accumulator and `state` in the register.

    Returns the new state, the output and the number of steps (instructions
    executed).  Raises `Stuck` or, after `fuel` steps, `OutOfFuel`.
    """
    acc, reg, steps = _run(code, input, state, fuel)
    return Result(outside(reg), outside(acc), steps)  # type: ignore[arg-type]


def step(code: Code, input: Value, state: Value, fuel: int | None = None) -> tuple[Value, Value]:
    """``(new_state, output)`` of one step of the machine on one input; see `execute`."""
    acc, reg, _ = _run(code, input, state, fuel)
    return outside(reg), outside(acc)  # type: ignore[return-value]


def run(code: Code, inputs: Iterable[Value], state: Value, fuel: int | None = None) -> tuple[Value, list[Value]]:
    """Run `code` on each input in turn from `state`: ``(final state, outputs)``, like `catlib.interpreter.run`.

    >>> from cam.code import L, R, UnitV, IntV
    >>> from cam.text import parse_code
    >>> counter = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] "
    ...                      "[ID,GET,INR,RETURN]]")
    >>> run(counter, [L(UnitV), L(UnitV), R(UnitV)], IntV(0))
    (IntV(2), [L(UnitV), L(UnitV), R(IntV(2))])

    `fuel` bounds each input's steps.
    """
    outputs = []
    for x in inputs:
        state, y = step(code, x, state, fuel)
        outputs.append(y)
    return state, outputs


def trace(code: Code, input: Value, state: Value, fuel: int | None = None) -> Iterator[Config]:
    """Every configuration, from the first to the halted one (for debugging).

    >>> from cam.code import UnitV, IntV
    >>> from cam.text import parse_code
    >>> for c in trace(parse_code("[COPY,FST]"), IntV(1), UnitV):
    ...     print(to_text(c.acc), to_text(c.code))
    Int 1 [COPY,FST]
    Pair (Int 1) (Int 1) [FST]
    Int 1 []

    A stuck machine raises `Stuck` after the configurations it reached.
    For debugging: each configuration holds a copy of the code still to run,
    so tracing costs time and memory proportional to steps times code size.
    """
    _check_args(code, input, state)
    seen: list[Config] = []
    # The machine calls back on every step; configurations are collected and
    # handed out in order (a generator cannot yield from inside the callback).
    error: MachineError | None = None
    try:
        _exec(decode(code), inside(input), inside(state), fuel,
              lambda acc, block, pc, reg, stack, steps: seen.append(_config(acc, block, pc, reg, stack)))
    except MachineError as e:
        error = e
    yield from seen
    if error is not None:
        raise error


# ---------------------------------------------------------------- loaded code: host values, translated once


class Loaded(Protocol):
    """What `load` returns: ``step(input, state) -> (state, output)`` on host values, and its batch `run`."""

    code: Code
    source: str
    fallbacks: int
    """Inputs run on the checked loop so far: where the translation does not apply (for tests and benchmarks)."""

    def __call__(self, input: Any, state: Any) -> tuple[Any, Any]: ...

    def run(self, inputs: Iterable[Any], state: Any) -> tuple[Any, list[Any]]: ...


def load(code: Code, fuel: int | None = None, *, steps: bool = False) -> Loaded:
    """`code` translated to Python now, as a step function over host values (`catlib.interpreter.step`'s).

    Host values are ``()``, ints, 2-tuples, `catlib.values.Left`/`Right` and, for closures,
    `cam.loaded.HostClosure` (code and environment), taken as given (a node checks what it receives:
    an int outside ``Int``'s range wraps here, where `catlib.interpreter.step` refuses it).  The returned
    ``step(input, state) -> (state, output)`` converts and looks up nothing per call; ``step.run(inputs,
    state) -> (state, outputs)`` runs a whole list inside the translated code.  Where the translation does
    not apply, the input runs again on the checked loop, so the answers and errors (`Stuck`, `OutOfFuel`
    after `fuel` steps per input) are the checked loop's (``step.fallbacks`` counts such inputs).  Closures
    whose code is known at translation are inlined where applied, others called (`cam.loaded`).  All the
    translation happens here: a node loads new code while it prepares an upgrade, and the first input
    costs what the second does.  With `steps`, the step also counts the machine's steps, as `execute`
    does: ``step(input, state) -> (state, output, steps)`` and ``step.run(inputs, state) -> (state,
    outputs, total steps)``.

    >>> from cam.text import parse_code
    >>> from catlib.values import Left, Right
    >>> counter = load(parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,"
    ...                           "INL,RETURN] [ID,GET,INR,RETURN]]"))
    >>> counter(Left(()), 41)
    (42, Left(()))
    >>> counter.run([Left(()), Left(()), Right(())], 0)
    (2, [Left(()), Left(()), Right(2)])
    >>> load(counter.code, steps=True)(Left(()), 41)
    (42, Left(()), 16)
    >>> counter(3, 0)
    Traceback (most recent call last):
      ...
    cam.machine.Stuck: stuck at step 2: BRANCH needs L or R in the accumulator, found Int 3
      accumulator: Int 3
      code:        [BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]
      register:    Int 0
      stack:       []
    """
    if not isinstance(code, Code):
        raise TypeError(f"expected Code, not {type(code).__name__}")
    block = decode(code)
    step: Any  # the function returned, whose `fallbacks` `checked` counts
    batch: Any = None

    def checked(x: Any, s: Any) -> tuple[Any, Any, int]:
        step.fallbacks += 1
        acc, reg, n = _exec(block, to_internal(x, decode), to_internal(s, decode), fuel, None)
        return to_host(reg), to_host(acc), n

    def slow(x: Any, s: Any) -> tuple[Any, ...]:
        return checked(x, s) if steps else checked(x, s)[:2]

    if fuel is not None and block.app:  # closures may run their code many times: the steps are counted
        counted, _ = translate(block, checked, count=True, fuel=fuel)
        source = "" if counted is checked else counted.__globals__["source"]  # stuck everywhere: not compiled

        def step(x: Any, s: Any) -> tuple[Any, ...]:
            r = counted(x, s)
            return slow(x, s) if r[2] > fuel else r if steps else r[:2]  # beyond `fuel`: OutOfFuel
    elif fuel is not None and fuel < block.size:  # without APP no instruction runs twice: size bounds the steps
        step, source = slow, ""
    else:
        step, batch = translate(block, slow, count=steps)
        source = "" if step is slow else step.__globals__["source"]  # stuck everywhere: not compiled
    if steps:
        step.run = lambda inputs, s: _run_counted(step, inputs, s)
    else:
        step.run = batch or (lambda inputs, s: run_list(step, inputs, s))
    step.code, step.source, step.fallbacks = code, source, 0
    return step


def _run_counted(step: Callable[[Any, Any], tuple[Any, Any, int]], inputs: Iterable[Any],
                 state: Any) -> tuple[Any, list[Any], int]:
    outputs, total = [], 0
    for x in inputs:
        state, y, n = step(x, state)
        outputs.append(y)
        total += n
    return state, outputs, total


def prepare(code: Code) -> None:
    """Decode and translate `code` for `step`/`execute`/`run` now, not on a request's path."""
    if not isinstance(code, Code):
        raise TypeError(f"expected Code, not {type(code).__name__}")
    translate_ahead(decode(code))
