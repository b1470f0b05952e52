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


def _block_source(block: Block, name: str, is_root: bool, env: dict[str, Any], names: dict[int, str],
                  todo: list[Block], branches: list[tuple[str, int, int]]) -> str:
    """The Python source of one block's function (see `translate`); nested blocks are added to `todo`, and
    each ``BRANCH`` on a value of unknown side to `branches` (its table, filled once the functions exist)."""
    out: list[str] = []
    emit = out.append
    kind: str | None = None  # what the accumulator holds, when known here
    local: list[tuple[str, str | None]] = []  # values pushed by this block, not yet on the real stack
    calls: list[str] = []  # the steps of each BRANCH's arm, in locals
    fresh = 0

    def push_local(expr: str, what: str | None) -> None:
        nonlocal fresh
        var = f"s{fresh}"
        fresh += 1
        emit(f"{var} = {expr}")
        local.append((var, what))

    def steps(n: int) -> str:
        return " + ".join([*calls, str(n)])

    ended = False
    for pc, (op, arg) in enumerate(block):
        if op == ID:
            continue
        if op == FST or op == SND:  # not a pair: a TypeError (see CAUGHT)
            emit(f"acc = acc[{0 if op == FST else 1}]")
            kind = None
        elif op == FIRST or op == SECOND:  # pairs are 2-tuples: unpacking one cannot fail but for a TypeError
            var = f"s{fresh}"
            fresh += 1
            emit(f"acc, {var} = acc" if op == FIRST else f"{var}, acc = acc")
            local.append((var, None))
            kind = None
        elif op == COPY:
            emit("acc = (acc, acc)")
            kind = "tuple"
        elif op == CONSUME:
            emit("acc = None")
            kind = "none"
        elif op == CONS:
            if local:
                emit(f"acc = ({local.pop()[0]}, acc)")
            else:  # an empty stack: an IndexError
                emit("acc = (stack.pop(), acc)")
                emit("if acc[0].__class__ is Ret: raise D")
            kind = "tuple"
        elif op == SWAP:
            if local:
                var, what = local[-1]
                emit(f"acc, {var} = {var}, acc")
                local[-1], kind = (var, kind), what
            else:
                emit("if stack[-1].__class__ is Ret: raise D")
                emit("acc, stack[-1] = stack[-1], acc")
                kind = None
        elif op == PUSH:
            push_local("acc", kind)
        elif op == ROT:
            if len(local) >= 2:
                local[-1], local[-2] = local[-2], local[-1]
            else:
                if local:
                    emit(f"stack.append({local.pop()[0]})")
                emit("stack[-1], stack[-2] = stack[-2], stack[-1]")
        elif op == QUOTE:
            const = f"q{len(env)}"
            env[const] = arg
            emit(f"acc = {const}")
            kind = _KIND.get(type(arg))
        elif op == ADD or op == SUB:  # on what is not a pair of ints, a TypeError (tuple + tuple + int too)
            emit(f"acc = (acc[0] {'+' if op == ADD else '-'} acc[1] {_WRAP}")
            kind = "int"
        elif op == MUL or op == LT or op == EQ or op == DIVMOD:  # tuple * int would repeat the tuple: tested
            emit("a, b = acc")
            emit("if a.__class__ is not int or b.__class__ is not int: raise D")
            if op == MUL:
                emit(f"acc = (a * b {_WRAP}")
                kind = "int"
            elif op == LT or op == EQ:  # the two answers are shared constants (internal values are never mutated)
                emit(f"acc = LU if a {'<' if op == LT else '=='} b else RU")
                kind = None
            else:  # by zero: L Unit; rounding down, as Python's divmod; only INT_MIN / -1 leaves the range
                emit("if b == 0: acc = LU")
                emit("else:")
                emit(" q, r = divmod(a, b)")
                emit(f" acc = InR((q if q <= {INT_MAX} else {INT_MIN}, r))")
                kind = None
        elif op == INL or op == INR:
            emit(f"acc = {'InL' if op == INL else 'InR'}(acc)")
            kind = "L" if op == INL else "R"
        elif op == GET:
            emit("acc = reg")
            kind = None
        elif op == PUT:
            emit("reg = acc; acc = None")
            kind = "none"
        elif op == CURRY:
            const = f"b{len(env)}"
            env[const] = arg
            emit(f"acc = Clo({const}, acc)")
            kind = "clo"
        elif op == BRANCH:
            cont = f"k{len(env)}"
            env[cont] = Ret(block, pc + 1)  # the continuation the checked loop would push, so stuck checks see the same
            # the values this block pushed go to the real stack first, then the continuation
            emit("stack.extend((" + "".join(f"{v}, " for v, _ in local) + f"{cont}))" if local
                 else f"stack.append({cont})")
            local.clear()
            left = names.setdefault(id(arg[0]), f"f{len(names)}")
            right = names.setdefault(id(arg[1]), f"f{len(names)}")
            todo += [arg[0], arg[1]]
            if kind in ("L", "R"):
                target = left if kind == "L" else right
            else:  # neither L nor R: a KeyError
                target = f"B{len(env)}"
                env[target] = None
                branches.append((target, id(arg[0]), id(arg[1])))
                target += "[acc.__class__]"
            calls.append(f"c{len(calls)}")
            emit(f"acc, reg, {calls[-1]} = {target}(acc.v, reg, stack, {cont})")
            kind = None
        elif op == RETURN:
            # a value, not the continuation, on top, or the root's RETURN (nothing of its own to return to): stuck
            if local or is_root:
                emit("raise D")
            else:  # an arm's stack always holds its continuation (nothing pops a Ret but a RETURN)
                emit("if stack.pop() is not k: raise D")
                emit(f"return acc, reg, {steps(pc + 1)}")
            ended = True
            break  # the rest of the block is never reached
        elif op == APP:  # never translated (`jittable` excludes it); be safe anyway
            emit("raise D")
        else:  # an instruction the translator does not know (beyond the reference): no fast path
            raise Untranslated(op)
    if not ended:
        # the end of a block: only the root may end, and only with an empty stack
        if local or not is_root:
            emit("raise D")
        else:
            emit("if stack: raise D")
            emit(f"return acc, reg, {steps(len(block))}")
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
    and uses it: the kind of value in the accumulator after some
    instructions (after ``INL`` an ``L``, so a ``BRANCH`` calls its left arm),
    the values this block pushed (kept in Python variables; ``ROT`` of two of
    them is a renaming; they go to the real stack only before a ``BRANCH``),
    and the number of steps of the whole block (a constant, plus the arms' counts).
    The source is kept short: compiling it is most of what a translation costs.
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


