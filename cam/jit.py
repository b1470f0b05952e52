"""The machine's fast path: decoded code translated to Python source, one function per block.

A code that runs again (a node runs the same machine on every input) is
translated (`translate`): straight-line code without dispatch, a ``BRANCH``
a call of the chosen block's function.  The translation covers only the
transitions that succeed; anything else -- a configuration where the
reference is stuck, a ``RETURN`` to a continuation that is not the
``BRANCH``'s own, an ``APP`` -- raises `Deopt`, and `cam.machine` runs the
input again from the start on its checked loop, which then raises exactly
the error the reference gives.  (The machine is deterministic and the fast
run has no effect outside, so running again gives the same answer.)  The two
paths are checked against each other in ``tests/test_cam_machine.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cam import loaded
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
    InL,
    InR,
    Ret,
    decode,
    to_host,
    to_internal,
)
from cam.pysource import compile_in_pieces
from catlib.values import INT_MAX, INT_MIN

__all__ = ["Deopt", "Untranslated", "translate", "prepare", "fast", "JIT_AFTER", "MAX_SIZE", "MAX_DEPTH"]

JIT_AFTER = 2
"""A code is translated to Python on its `JIT_AFTER`-th run (0: never translate)."""
MAX_SIZE, MAX_DEPTH = 5_000, 60
"""Code larger or more deeply nested is translated by `cam.loaded` instead (`large`): here one
function per block would make long source and deep calls; there nested blocks are inlined and
large code split into functions, at the price of converting values in and out (small next to
running large code)."""


class Untranslated(Exception):
    """The code has an instruction the translator lacks: it always runs on the checked loop."""


class Deopt(Exception):
    """The translated code met something it does not handle; the checked loop runs the input again."""


_KIND = {type(None): "none", int: "int", tuple: "tuple", InL: "L", InR: "R", Clo: "clo"}


_WRAP = f"+ {2**63}) % {2**64} - {2**63}"
"""The tail of a 64-bit wrap-around, ``(x + 2**63) % 2**64 - 2**63``: one expression, no test (an ``if`` costs
several times as much to compile, and compiling is most of what a translation costs)."""
CAUGHT = (TypeError, IndexError, KeyError)
"""What the translated code raises where the checked loop is stuck, besides `Deopt`: subscripting or
unpacking what is not a pair, adding what is not an int (a pair plus a pair plus an int), popping an
empty stack, a ``BRANCH`` on what is neither ``L`` nor ``R`` (a lookup by class).  The root function turns
them into `Deopt`: a test per instruction would cost more to compile than the code costs to run."""


Val = Any
"""What a value is at translation time: a Python expression that names it (a local, never assigned twice,
or a constant: ``None``, a quoted value), or not yet made: ``("pair", left, right, depth)`` or
``("inj", "InL" or "InR", payload, depth)`` (made only where something needs the object itself)."""
NEST = 20
"""Parts nested deeper than this are made and named first: Python's parser limits nesting."""


def _depth(v: Val) -> int:
    return 0 if type(v) is str else v[3]


def _expr(v: Val) -> str:
    """The Python expression that makes `v` (recursion at most `NEST` deep)."""
    if type(v) is str:
        return v
    if v[0] == "pair":
        return f"({_expr(v[1])}, {_expr(v[2])})"
    return f"{v[1]}({_expr(v[2])})"


def _block_source(block: Block, name: str, is_root: bool, env: dict[str, Any], names: dict[int, str],
                  todo: list[Block], branches: list[tuple[str, int, int]]) -> str:
    """The Python source of one block's function (see `translate`); nested blocks are added to `todo`, and
    each ``BRANCH`` on a value of unknown side to `branches` (its table, filled once the functions exist).

    The block is run symbolically (`Val`): the accumulator, the register and the values this block
    pushed are expressions, so that stack traffic, ``SWAP``, ``PUSH``, ``QUOTE``, ``GET``, ``PUT`` and
    a ``FST`` of a pair just made are renamings, and a pair or an injection is made only where the
    object itself is needed; every local is assigned once."""
    out: list[str] = []
    emit = out.append
    acc: Val = "acc"
    reg: Val = "reg"
    local: list[Val] = []  # values pushed by this block, not yet on the real stack
    calls: list[str] = []  # the steps of each BRANCH's arm, in locals
    fresh = 0

    def new() -> str:
        nonlocal fresh
        fresh += 1
        return f"v{fresh - 1}"

    def named(v: Val) -> str:
        """`v` as a name: made and named here if it is not one (before it is used twice)."""
        if type(v) is str:
            return v
        var = new()
        emit(f"{var} = {_expr(v)}")
        return var

    def pair(a: Val, b: Val) -> Val:
        if _depth(a) >= NEST:
            a = named(a)
        if _depth(b) >= NEST:
            b = named(b)
        return ("pair", a, b, 1 + max(_depth(a), _depth(b)))

    def side(v: Val) -> tuple[str, str] | None:
        """``("InL" or "InR", payload expression)`` where `v` is an injection known here, else None."""
        if type(v) is not str:
            return (v[1], _expr(v[2])) if v[0] == "inj" else None
        const = env.get(v) if v[0] in "qLR" else None
        return (type(const).__name__, f"{v}.v") if type(const) in (InL, InR) else None

    def steps(n: int) -> str:
        return " + ".join([*calls, str(n)])

    ended = False
    for pc, (op, arg) in enumerate(block):
        if op == ID:
            continue
        if acc == "None" and op in (FST, SND, FIRST, SECOND, ADD, SUB, MUL, LT, EQ, DIVMOD, BRANCH) or \
                type(acc) is not str and acc[0] == "inj" and op != BRANCH and op in (FST, SND, FIRST, SECOND, ADD,
                                                                                     SUB, MUL, LT, EQ, DIVMOD):
            emit("raise D")  # a unit or an injection where a pair or a sum is wanted: stuck
            ended = True
            break
        if op == FST or op == SND:  # not a pair: a TypeError (see CAUGHT)
            if type(acc) is str:
                var = new()
                emit(f"{var} = {acc}[{0 if op == FST else 1}]")
                acc = var
            else:
                acc = acc[1] if op == FST else acc[2]
        elif op == FIRST or op == SECOND:  # pairs are 2-tuples: unpacking one cannot fail but for a TypeError
            if type(acc) is str:
                a, b = new(), new()
                emit(f"{a}, {b} = {acc}")
                acc = ("pair", a, b, 1)
            local.append(acc[2] if op == FIRST else acc[1])
            acc = acc[1] if op == FIRST else acc[2]
        elif op == COPY:
            acc = named(acc)
            acc = ("pair", acc, acc, 1)
        elif op == CONSUME:
            acc = "None"
        elif op == CONS:
            if local:
                acc = pair(local.pop(), acc)
            else:  # an empty stack: an IndexError
                var = new()
                emit(f"{var} = stack.pop()")
                emit(f"if {var}.__class__ is Ret: raise D")
                acc = pair(var, acc)
        elif op == SWAP:
            if local:
                acc, local[-1] = local[-1], acc
            else:
                var = new()
                emit("if stack[-1].__class__ is Ret: raise D")
                emit(f"{var}, stack[-1] = stack[-1], {_expr(acc)}")
                acc = var
        elif op == PUSH:
            acc = named(acc)
            local.append(acc)
        elif op == ROT:
            if len(local) >= 2:
                local[-1], local[-2] = local[-2], local[-1]
            else:
                if local:
                    emit(f"stack.append({_expr(local.pop())})")
                emit("stack[-1], stack[-2] = stack[-2], stack[-1]")
        elif op == QUOTE:
            acc = f"q{len(env)}"
            env[acc] = arg
        elif op == ADD or op == SUB:  # on what is not a pair of ints, a TypeError (tuple + tuple + int too)
            a, b = (_expr(acc[1]), _expr(acc[2])) if type(acc) is not str else (f"{acc}[0]", f"{acc}[1]")
            var = new()
            emit(f"{var} = ({a} {'+' if op == ADD else '-'} {b} {_WRAP}")
            acc = var
        elif op == MUL or op == LT or op == EQ or op == DIVMOD:  # tuple * int would repeat the tuple: tested
            var = new()
            emit(f"a, b = {_expr(acc)}")
            emit("if a.__class__ is not int or b.__class__ is not int: raise D")
            if op == MUL:
                emit(f"{var} = (a * b {_WRAP}")
            elif op == LT or op == EQ:  # the two answers are shared constants (internal values are never mutated)
                emit(f"{var} = LU if a {'<' if op == LT else '=='} b else RU")
            else:  # by zero: L Unit; rounding down, as Python's divmod; only INT_MIN / -1 leaves the range
                emit(f"if b == 0: {var} = LU")
                emit("else:")
                emit(" q, r = divmod(a, b)")
                emit(f" {var} = InR((q if q <= {INT_MAX} else {INT_MIN}, r))")
            acc = var
        elif op == INL or op == INR:
            acc = ("inj", "InL" if op == INL else "InR", named(acc) if _depth(acc) >= NEST else acc,
                   1 + min(_depth(acc), NEST))
        elif op == GET:
            reg = named(reg)
            acc = reg
        elif op == PUT:
            reg, acc = acc, "None"
        elif op == CURRY:
            const, var = f"b{len(env)}", new()
            env[const] = arg
            emit(f"{var} = Clo({const}, {_expr(acc)})")
            acc = var
        elif op == BRANCH:
            known = side(acc)
            if known is None and type(acc) is not str:  # a pair: stuck
                emit("raise D")
                ended = True
                break
            cont = f"k{len(env)}"
            env[cont] = Ret(block, pc + 1)  # the continuation the checked loop would push, so stuck checks see the same
            # the values this block pushed go to the real stack first, then the continuation
            emit(f"stack.extend(({''.join(_expr(v) + ', ' for v in local)}{cont},))" if local
                 else f"stack.append({cont})")
            local.clear()
            left = names.setdefault(id(arg[0]), f"f{len(names)}")
            right = names.setdefault(id(arg[1]), f"f{len(names)}")
            todo += [arg[0], arg[1]]
            if known is not None:
                target, payload = left if known[0] == "InL" else right, known[1]
            else:  # neither L nor R: a KeyError
                target = f"B{len(env)}"
                env[target] = None
                branches.append((target, id(arg[0]), id(arg[1])))
                target, payload = f"{target}[{acc}.__class__]", f"{acc}.v"
            calls.append(f"c{len(calls)}")
            a, r = new(), new()
            emit(f"{a}, {r}, {calls[-1]} = {target}({payload}, {_expr(reg)}, stack, {cont})")
            acc, reg = a, r
        elif op == RETURN:
            # a value, not the continuation, on top, or the root's RETURN (nothing of its own to return to): stuck
            if local or is_root:
                emit("raise D")
            else:  # an arm's stack always holds its continuation (nothing pops a Ret but a RETURN)
                emit("if stack.pop() is not k: raise D")
                emit(f"return {_expr(acc)}, {_expr(reg)}, {steps(pc + 1)}")
            ended = True
            break  # the rest of the block is never reached
        elif op == APP:  # never translated (`jittable` excludes it); be safe anyway
            emit("raise D")
            ended = True
            break
        else:  # an instruction the translator does not know (beyond the reference): no fast path
            raise Untranslated(op)
    if not ended:
        # the end of a block: only the root may end, and only with an empty stack
        if local or not is_root:
            emit("raise D")
        else:
            emit("if stack: raise D")
            emit(f"return {_expr(acc)}, {_expr(reg)}, {steps(len(block))}")
    if is_root:  # what the code raises where the loop is stuck (CAUGHT) becomes a Deopt, once, here
        return "\n".join([f"def {name}(acc, reg, stack, k):", " try:", *("  " + line for line in out),
                          " except C: raise D"])
    return "\n".join([f"def {name}(acc, reg, stack, k):", *(" " + line for line in out)])


def translate(root: Block) -> Callable[[Any, Any, list[Any], Any], tuple[Any, Any, int]]:
    """Translate `root` to Python: one function per block, ``f(acc, reg, stack, k) -> (acc, reg, steps)``.

    `k` is the continuation the block's ``RETURN`` must find on top of the
    stack (the one its ``BRANCH`` pushed); the root block has none and must
    end with an empty stack.  Every check of the checked loop is here too, but
    failing one raises `Deopt` instead of `Stuck` (many of them as the
    Python error that doing the instruction anyway raises: `CAUGHT`).

    Within a block the translation knows more than the checked loop does at run time,
    and uses it (`_block_source` runs the block symbolically): the values this block
    pushed, the accumulator and the register are expressions (``SWAP``, ``ROT`` of two
    of them, ``PUSH``, ``QUOTE``, ``GET``, ``PUT`` are renamings; they go to the real
    stack only before a ``BRANCH``), a pair or an injection made here is made only where
    the object is needed (a ``FST`` of it is its part, a ``BRANCH`` on it calls its arm),
    and the number of steps of the whole block is a constant plus the arms' counts.
    The source is kept short: compiling it is most of what a translation costs.

    >>> from cam.text import parse_code
    >>> from cam.decoded import decode
    >>> f = translate(decode(parse_code("[COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,CONS,ADD]")))
    >>> f(41, None, [], None)
    (42, None, 8)
    """
    env: dict[str, Any] = {"InL": InL, "InR": InR, "Ret": Ret, "Clo": Clo, "D": Deopt, "C": CAUGHT, "int": int,
                           "LU": InL(None), "RU": InR(None)}
    names: dict[int, str] = {}
    branches: list[tuple[str, int, int]] = []
    src: list[str] = []
    todo = [root]
    while todo:
        block = todo.pop()
        src.append(_block_source(block, names.setdefault(id(block), f"f{len(names)}"), block is root, env, names, todo,
                                 branches))
    compile_in_pieces(src, env, f"<cam jit {id(root):x}>")  # in pieces: other threads run in between
    for table, left, right in branches:
        env[table] = {InL: env[names[left]], InR: env[names[right]]}
    return env["f0"]


def _give_up(x: Any, s: Any) -> Any:
    raise Deopt  # the checked loop runs the input, from the start


def large(root: Block) -> Callable[[Any, Any, list[Any], Any], tuple[Any, Any, int]]:
    """`root` translated by `cam.loaded` (host values, counting steps), with `translate`'s signature."""
    step, _ = loaded.translate(root, _give_up, count=True)

    def run(acc: Any, reg: Any, stack: list[Any], k: Any) -> tuple[Any, Any, int]:
        s, y, n = step(to_host(acc), to_host(reg))
        return to_internal(y, decode), to_internal(s, decode), n

    return run


def prepare(block: Block) -> bool:
    """Translate the root `block` now, if it can be and is not yet: whether it has a translation.

    What `fast` does on a code's `JIT_AFTER`-th run, done ahead: a node calls
    it (through `cam.machine.prepare`) when it starts and while it prepares
    an upgrade, so that no request pays for translating.  Code with ``APP``
    (or an instruction the translator lacks) is never translated.
    """
    if block.jit is not None:
        return True
    if block.jittable is None:
        block.jittable = not block.app
    if not block.jittable:
        return False
    try:
        block.jit = translate(block) if block.size <= MAX_SIZE and block.depth <= MAX_DEPTH else large(block)
    except Untranslated:
        block.jittable = False
        return False
    return True


def fast(block: Block, acc: Any, reg: Any, fuel: int | None) -> tuple[Any, Any, int] | None:
    """Run the translated code, translating on the `JIT_AFTER`-th run; None when the checked loop must run it."""
    jit = block.jit
    if jit is None:
        block.runs += 1
        if not JIT_AFTER or block.runs < JIT_AFTER or not prepare(block):
            return None
        jit = block.jit
        assert jit is not None  # prepare translated it
    if fuel is not None and fuel < block.size:  # without APP no instruction runs twice: size bounds the steps
        return None
    try:
        return jit(acc, reg, [], None)
    except (Deopt, RecursionError):
        block.deopts += 1
        if block.deopts >= 16 and block.deopts * 2 > block.runs:  # mostly bad inputs: stop trying
            block.jit, block.jittable = None, False
        return None


