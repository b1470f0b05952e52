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

A step bound (`fuel`) raises `OutOfFuel`, a different error.

How it is fast.  Internally the machine works on plain Python data (``None``
for ``Unit``, ints, tuples for pairs, small objects for ``L``/``R``,
closures and continuations) and translates at the boundary; each `Code` is
decoded once (cached).  `_exec` is the reference: a loop over the decoded
instructions that checks every transition.  A code that runs again (a node
runs the same machine on every input) is also translated to Python source,
one function per block (`_jit`): straight-line code without dispatch, a
``BRANCH`` a call of the chosen block's function.  The translation covers
only the transitions that succeed; anything else -- a configuration where
the reference is stuck, a ``RETURN`` to a continuation that is not the
``BRANCH``'s own, an ``APP`` -- abandons the fast run, and the input is run
again from the start by `_exec`, which then raises exactly the error the
reference loop gives.  (The machine is deterministic and the fast run has no
effect outside, so running again gives the same answer.)  The two paths are
checked against each other on random code in ``tests/test_cam_machine.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from cam.code import Closure, Code, Instr, Int, L, Pair, R, Unit, Value, _UnitValue, to_text

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
    """Decoded code: a list of (opcode, argument); `code` is the public form.

    A root block also keeps what the fast path needs: `size` (instructions,
    nested ones included), `jittable`, `runs` so far, and the translation `jit`.
    """

    __slots__ = ("code", "size", "jittable", "runs", "jit", "deopts")


JIT_AFTER = 2
"""A code is translated to Python on its `JIT_AFTER`-th run (0: never translate)."""
_JIT_MAX_SIZE, _JIT_MAX_DEPTH = 5_000, 60  # beyond these, source gets long or calls get deep


_Pending = list[tuple[Code, "_Block", int, bool]]
"""Blocks still to decode: (code, block to fill, BRANCH/CURRY nesting level, reachable without APP)."""


def _decode(code: Code) -> _Block:
    """The decoded form of `code`, from the cache when this object (or an equal code) was seen."""
    entry = _BY_ID.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    block = _CACHE.get(code)
    if block is None:
        block = _decode_uncached(code)
        _remember(code, block)
    else:
        _CACHE.move_to_end(code)
    if len(_BY_ID) >= 256:
        _BY_ID.clear()
    _BY_ID[id(code)] = (code, block)  # keeps `code` alive, so its id is not reused while here
    return block


CACHE_BUDGET = 2_000_000
"""Decoded instructions kept between runs, in all (least recently used go first)."""

_CACHE: OrderedDict[Code, _Block] = OrderedDict()
_BY_ID: dict[int, tuple[Code, _Block]] = {}
"""The same blocks by the identity of their `Code`: a hit by equality compares codes in full."""
_cached = [0]  # total size of the blocks in _CACHE


def _remember(code: Code, block: _Block) -> None:
    # Weighed by size, not counted: a node fed large migrations must not keep
    # hundreds of them decoded.
    if block.size > CACHE_BUDGET:
        return
    _CACHE[code] = block
    _cached[0] += block.size
    while _cached[0] > CACHE_BUDGET:
        old, gone = _CACHE.popitem(last=False)
        _cached[0] -= gone.size
        for key in [k for k, (_, b) in _BY_ID.items() if b is gone]:
            del _BY_ID[key]


def clear_cache() -> None:
    """Forget every decoded (and translated) code."""
    _CACHE.clear()
    _BY_ID.clear()
    _cached[0] = 0


def _decode_uncached(code: Code) -> _Block:
    root = _Block()
    root.code = code
    size, depth, app = _decode_all([(code, root, 0, True)])
    root.size, root.runs, root.jit, root.deopts = size, 0, None, 0
    root.jittable = not app and size <= _JIT_MAX_SIZE and depth <= _JIT_MAX_DEPTH
    return root


def _decode_all(todo: _Pending) -> tuple[int, int, bool]:
    """Fill every pending block, and those they lead to; (size, depth, has APP) of the reachable part.

    Nested blocks -- and closures quoted inside code, whose code holds more
    blocks -- are decoded from this one explicit stack, so no nesting
    depth of either kind reaches Python's recursion limit.
    """
    size, depth, app = 0, 0, False
    while todo:
        src, dst, level, reachable = todo.pop()
        if reachable:
            depth = max(depth, level)
        for ins in src:
            op = _OPCODE[ins.op]
            if reachable:
                size += 1
            arg: Any = None
            if op == QUOTE:
                arg = _convert(ins.kids[0], todo)
            elif op in (BRANCH, CURRY):
                subs = []
                for c in ins.kids:
                    b = _Block()
                    b.code = c
                    todo.append((c, b, level + 1, reachable))
                    subs.append(b)
                arg = subs[0] if op == CURRY else (subs[0], subs[1])
            elif op == APP:
                app = app or reachable
            dst.append((op, arg))
    return size, depth, app


_new = object.__new__
_set = object.__setattr__


def _mk_int(n: int) -> Value:
    """``Int(n)`` for an `n` known to be a 64-bit int: `Tree.__init__` without the checks.

    The fields and hash are exactly `Tree`'s (a test compares them with the public constructor).
    """
    v = _new(Int)
    _set(v, "kids", ())
    _set(v, "label", n)
    _set(v, "_hash", hash(("Int", n)))
    return v


def _mk(cls: type, kids: tuple[Any, ...], name: str) -> Value:
    """``cls(*kids)`` for machine values `kids`: `Tree.__init__` without the checks."""
    v = _new(cls)
    _set(v, "kids", kids)
    _set(v, "label", None)
    _set(v, "_hash", hash((name, None, *[k._hash for k in kids])))
    return v


_L_UNIT, _R_UNIT = L(Unit), R(Unit)


def _inside(v: Value) -> Any:
    """Public value -> internal value."""
    t = type(v)
    if t is _UnitValue:  # the common shapes first: no stack needed
        return None
    if t is Int:
        return v.label
    if (t is L or t is R) and type(v.kids[0]) is _UnitValue:
        return (_R if t is R else _L)(None)
    pending: _Pending = []
    x = _convert(v, pending)
    _decode_all(pending)  # the code of closures in `v`
    return x


def _convert(v: Value, pending: _Pending) -> Any:
    """Public value -> internal value; the blocks of its closures are left in `pending` to decode."""
    out: list[Any] = []
    todo: list[tuple[Value, bool]] = [(v, False)]
    while todo:
        x, ready = todo.pop()
        t = type(x)
        if ready:
            if t is Pair:
                b = out.pop()
                out.append((out.pop(), b))
            elif t is L or t is R:
                out.append((_R if t is R else _L)(out.pop()))
            else:  # Closure: its code is decoded later, from the caller's stack
                block = _Block()
                block.code = x.kids[0]
                pending.append((block.code, block, 0, False))
                out.append(_Clo(block, out.pop()))
        elif t is _UnitValue:
            out.append(None)
        elif t is Int:
            out.append(x.label)
        elif t is Pair:
            todo += [(x, True), (x.kids[1], False), (x.kids[0], False)]
        elif t is L or t is R:
            todo += [(x, True), (x.kids[0], False)]
        elif t is Closure:
            todo += [(x, True), (x.kids[1], False)]
        else:
            raise TypeError(f"expected a machine Value, not {x!r}")
    return out[0]


def _outside(x: Any) -> Value | Cont:
    """Internal value (or continuation) -> public form."""
    t = type(x)
    if x is None:  # the common shapes first
        return Unit
    if t is int:
        return _mk_int(x)
    if t is _L or t is _R:
        v = x.v
        if v is None:
            return _R_UNIT if t is _R else _L_UNIT
        if type(v) is int:  # a sum of Ints: the counter's answer
            return _mk(R, (_mk_int(v),), "R") if t is _R else _mk(L, (_mk_int(v),), "L")
    out: list[Any] = []
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        x, ready = todo.pop()
        t = type(x)
        if ready:
            if t is tuple:
                b = out.pop()
                out.append(_mk(Pair, (out.pop(), b), "Pair"))
            elif t is _Clo:
                out.append(_mk(Closure, (x.block.code, out.pop()), "Closure"))
            else:
                out.append(_mk(R, (out.pop(),), "R") if t is _R else _mk(L, (out.pop(),), "L"))
        elif x is None:
            out.append(Unit)
        elif t is int:
            out.append(_mk_int(x))
        elif t is tuple:
            todo += [(x, True), (x[1], False), (x[0], False)]
        elif t is _L or t is _R:
            todo += [(x, True), (x.v, False)]
        elif t is _Clo:
            todo += [(x, True), (x.env, False)]
        elif t is _K:
            out.append(Cont(x.block.code[x.pc:]))
        else:  # pragma: no cover
            raise AssertionError(x)
    return out[0]  # type: ignore[no-any-return]


def _config(acc: Any, block: _Block, pc: int, reg: Any, stack: list[Any]) -> Config:
    return Config(_outside(acc), block.code[pc:], _outside(reg),  # type: ignore[arg-type]
                  tuple(_outside(e) for e in reversed(stack)))


_NEEDS = {FST: "a Pair", SND: "a Pair", FIRST: "a Pair", SECOND: "a Pair", BRANCH: "L or R",
          ADD: "a Pair of two Ints", APP: "a Pair of a Closure and a value"}


def _stuck(op: int, why: str, acc: Any, block: _Block, pc: int, reg: Any, stack: list[Any], steps: int) -> Stuck:
    return Stuck(why, _config(acc, block, pc, reg, stack), steps)


def _exec(block: _Block, acc: Any, reg: Any, fuel: int | None,
          tracer: Callable[[Any, _Block, int, Any, list[Any], int], None] | None) -> tuple[Any, Any, int]:
    """The reference machine on decoded code: every transition checked, `Stuck` where none applies."""
    pc, n, steps = 0, len(block), 0
    limit = -1 if fuel is None else fuel
    stack: list[Any] = []
    push, pop = stack.append, stack.pop
    while True:
        if pc == n:
            if not stack:
                if tracer is not None:
                    tracer(acc, block, pc, reg, stack, steps)
                return acc, reg, steps
            raise _stuck(-1, "the code ended but the stack is not empty", acc, block, pc, reg, stack, steps)
        if steps == limit:
            raise OutOfFuel(f"out of fuel after {steps} steps", _config(acc, block, pc, reg, stack), steps)
        if tracer is not None:
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


# ---------------------------------------------------------------- the fast path


class _Deopt(Exception):
    """The translated code met something it does not handle; `_exec` runs the input again."""


_KIND = {type(None): "none", int: "int", tuple: "tuple", _L: "L", _R: "R", _Clo: "clo"}


def _translate(block: _Block, name: str, is_root: bool, env: dict[str, Any], names: dict[int, str],
               todo: list[_Block]) -> str:
    """The Python source of one block's function (see `_jit`); nested blocks are added to `todo`."""
    out = [f"def {name}(acc, reg, stack, k):", "    steps = 0"]
    emit = out.append
    pending = 0  # steps since the last flush
    kind: str | None = None  # what the accumulator holds, when known here
    local: list[tuple[str, str | None]] = []  # values pushed by this block, not yet on the real stack
    fresh = 0

    def push_local(expr: str, what: str | None) -> None:
        nonlocal fresh
        var = f"s{fresh}"
        fresh += 1
        emit(f"    {var} = {expr}")
        local.append((var, what))

    def flush() -> None:
        if local:
            emit("    stack.extend((" + "".join(f"{v}, " for v, _ in local) + "))")
            local.clear()

    def need_pair() -> None:
        if kind != "tuple":
            emit("    if type(acc) is not tuple: raise D")

    ended = False
    for pc, (op, arg) in enumerate(block):
        pending += 1
        if op == ID:
            continue
        if op == FST or op == SND:
            need_pair()
            emit(f"    acc = acc[{0 if op == FST else 1}]")
            kind = None
        elif op == FIRST or op == SECOND:
            need_pair()
            push_local(f"acc[{1 if op == FIRST else 0}]", None)
            emit(f"    acc = acc[{0 if op == FIRST else 1}]")
            kind = None
        elif op == COPY:
            emit("    acc = (acc, acc)")
            kind = "tuple"
        elif op == CONSUME:
            emit("    acc = None")
            kind = "none"
        elif op == CONS:
            if local:
                emit(f"    acc = ({local.pop()[0]}, acc)")
            else:
                emit("    if not stack or type(stack[-1]) is _K: raise D")
                emit("    acc = (stack.pop(), acc)")
            kind = "tuple"
        elif op == SWAP:
            if local:
                var, what = local[-1]
                emit(f"    acc, {var} = {var}, acc")
                local[-1], kind = (var, kind), what
            else:
                emit("    if not stack or type(stack[-1]) is _K: raise D")
                emit("    acc, stack[-1] = stack[-1], acc")
                kind = None
        elif op == PUSH:
            push_local("acc", kind)
        elif op == ROT:
            if len(local) >= 2:
                local[-1], local[-2] = local[-2], local[-1]
            else:
                flush()
                emit("    if len(stack) < 2: raise D")
                emit("    stack[-1], stack[-2] = stack[-2], stack[-1]")
        elif op == QUOTE:
            const = f"q{len(env)}"
            env[const] = arg
            emit(f"    acc = {const}")
            kind = _KIND.get(type(arg))
        elif op == ADD:
            need_pair()
            emit("    a, b = acc")
            emit("    if type(a) is not int or type(b) is not int: raise D")
            emit("    acc = a + b")
            emit(f"    if not {INT_MIN} <= acc <= {INT_MAX}: acc = (acc + {2**63}) % {2**64} - {2**63}")
            kind = "int"
        elif op == INL or op == INR:
            emit(f"    acc = {'_L' if op == INL else '_R'}(acc)")
            kind = "L" if op == INL else "R"
        elif op == GET:
            emit("    acc = reg")
            kind = None
        elif op == PUT:
            emit("    reg = acc; acc = None")
            kind = "none"
        elif op == CURRY:
            const = f"b{len(env)}"
            env[const] = arg
            emit(f"    acc = _Clo({const}, acc)")
            kind = "clo"
        elif op == BRANCH:
            flush()
            cont = f"k{len(env)}"
            env[cont] = _K(block, pc + 1)  # the continuation _exec would push, so stuck checks see the same
            left = names.setdefault(id(arg[0]), f"f{len(names)}")
            right = names.setdefault(id(arg[1]), f"f{len(names)}")
            todo += [arg[0], arg[1]]
            call = f"stack.append({cont}); acc, reg, s = {{}}(acc.v, reg, stack, {cont})"
            if kind in ("L", "R"):
                emit("    " + call.format(left if kind == "L" else right))
            else:
                emit("    t = type(acc)")
                emit("    if t is _L:")
                emit("        " + call.format(left))
                emit("    elif t is _R:")
                emit("        " + call.format(right))
                emit("    else: raise D")
            emit(f"    steps += s + {pending}")
            pending, kind = 0, None
        elif op == RETURN:
            if local:  # a value, not the continuation, is on top: stuck
                emit("    raise D")
            else:
                emit("    if k is None or not stack or stack[-1] is not k: raise D")
                emit("    stack.pop()")
                emit(f"    return acc, reg, steps + {pending}")
            ended = True
            break  # the rest of the block is never reached
        else:  # APP: never translated (`jittable` excludes it); be safe anyway
            emit("    raise D")
            ended = True
            break
    if not ended:
        # the end of a block: only the root may end, and only with an empty stack
        if local or not is_root:
            emit("    raise D")
        else:
            emit("    if stack: raise D")
            emit(f"    return acc, reg, steps + {pending}")
    return "\n".join(out)


def _jit(root: _Block) -> Callable[[Any, Any, list[Any], Any], tuple[Any, Any, int]]:
    """Translate `root` to Python: one function per block, ``f(acc, reg, stack, k) -> (acc, reg, steps)``.

    `k` is the continuation the block's ``RETURN`` must find on top of the
    stack (the one its ``BRANCH`` pushed); the root block has none and must
    end with an empty stack.  Every check of `_exec` is here too, but
    failing one raises `_Deopt` instead of `Stuck`.

    Within a block the translation knows more than `_exec` does at run time,
    and uses it: the kind of value in the accumulator after most
    instructions (after ``COPY`` a pair, so ``FIRST`` needs no test), the
    values this block pushed (kept in Python variables; ``ROT`` of two of
    them is a renaming; they go to the real stack only before a ``BRANCH``),
    and the number of steps of each straight stretch.
    """
    env: dict[str, Any] = {"_L": _L, "_R": _R, "_K": _K, "_Clo": _Clo, "D": _Deopt, "tuple": tuple, "int": int}
    names: dict[int, str] = {}
    src: list[str] = []
    todo = [root]
    while todo:
        block = todo.pop()
        src.append(_translate(block, names.setdefault(id(block), f"f{len(names)}"), block is root, env, names, todo))
    exec(compile("\n\n".join(src), f"<cam jit {id(root):x}>", "exec"), env)  # noqa: S102 - our own source
    return env["f0"]  # type: ignore[no-any-return]


def _fast(block: _Block, acc: Any, reg: Any, fuel: int | None) -> tuple[Any, Any, int] | None:
    """Run the translated code, translating on the `JIT_AFTER`-th run; None when `_exec` must run it."""
    jit = block.jit
    if jit is None:
        block.runs += 1
        if not block.jittable or not JIT_AFTER or block.runs < JIT_AFTER:
            return None
        block.jit = jit = _jit(block)
    if fuel is not None and fuel < block.size:  # without APP no instruction runs twice: size bounds the steps
        return None
    try:
        return jit(acc, reg, [], None)  # type: ignore[no-any-return]
    except (_Deopt, RecursionError):
        block.deopts += 1
        if block.deopts >= 16 and block.deopts * 2 > block.runs:  # mostly bad inputs: stop trying
            block.jit, block.jittable = None, False
        return None


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
    acc, reg, steps = _run(code, input, state, fuel)
    return Result(_outside(reg), _outside(acc), steps)  # type: ignore[arg-type]


def _run(code: Code, input: Value, state: Value, fuel: int | None) -> tuple[Any, Any, int]:
    """`execute` up to the internal results: accumulator, register, steps."""
    if not (isinstance(code, Code) and isinstance(input, Value) and isinstance(state, Value)):
        _check_args(code, input, state)
    block = _decode(code)
    acc, reg = _inside(input), _inside(state)
    done = _fast(block, acc, reg, fuel)
    return done if done is not None else _exec(block, acc, reg, fuel, None)


def run(code: Code, input: Value, state: Value, fuel: int | None = None) -> tuple[Value, Value]:
    """``(new_state, output)`` of one step of the machine; see `execute`."""
    acc, reg, _ = _run(code, input, state, fuel)
    return _outside(reg), _outside(acc)  # type: ignore[return-value]


def trace(code: Code, input: Value, state: Value, fuel: int | None = None) -> Iterator[Config]:
    """Every configuration, from the first to the halted one (for debugging).

    >>> from cam.code import parse_code, Unit
    >>> for c in trace(parse_code("[COPY,FST]"), Int(1), Unit):
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
        _exec(_decode(code), _inside(input), _inside(state), fuel,
              lambda acc, block, pc, reg, stack, steps: seen.append(_config(acc, block, pc, reg, stack)))
    except MachineError as e:
        error = e
    yield from seen
    if error is not None:
        raise error
