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

import builtins
from collections.abc import Callable
from types import CodeType, FunctionType
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
from cam.pysource import compiled, pieces
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


def _block_source(block: Block, is_root: bool, env: dict[str, Any], todo: list[Block],
                  calls_to: list[tuple[dict[str, Any], str, Block]],
                  branches: list[tuple[dict[str, Any], str, Block, Block]]) -> str:
    """The Python source of one block's function (see `translate`), whose globals are `env` (it adds the
    block's constants there); the blocks it calls are added to `todo`, each name of such a call to `calls_to`
    and the table of each ``BRANCH`` on a value of unknown side to `branches` (both filled in once the
    functions exist).  Every name the source uses is the block's own, numbered from the same start in every
    block: two blocks of the same shape have the same source, whatever their constants (`_codes`).

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
    real: int | None = 0  # entries this block put on the real stack (None: not known), above the root's empty
    # stack or an arm's continuation: taking more from it is stuck
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
            elif real == 0:  # nothing of this block's on the real stack: empty, or its continuation on top
                emit("raise D")
                ended = True
                break
            else:  # an empty stack: an IndexError
                real = None if real is None else real - 1
                var = new()
                emit(f"{var} = stack.pop()")
                emit(f"if {var}.__class__ is Ret: raise D")
                acc = pair(var, acc)
        elif op == SWAP:
            if local:
                acc, local[-1] = local[-1], acc
            elif real == 0:
                emit("raise D")
                ended = True
                break
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
                    real = None if real is None else real + 1
                if is_root and real is not None and real < 2:  # the root's stack has fewer than two entries
                    emit("raise D")
                    ended = True
                    break
                if real is not None and real < 2:  # an arm's continuation moves: what lies below is not known
                    real = None
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
            real = None  # an arm may take values from below its continuation (reached by ROT)
            if known is not None:  # only the arm taken is called (and translated, unless another block calls the other)
                arm = arg[0] if known[0] == "InL" else arg[1]
                target, payload = f"f{len(env)}", known[1]
                env[target] = None
                calls_to.append((env, target, arm))
                todo.append(arm)
            else:  # neither L nor R: a KeyError
                target = f"B{len(env)}"
                env[target] = None
                branches.append((env, target, arg[0], arg[1]))
                todo += [arg[0], arg[1]]
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
            if real != 0:
                emit("if stack: raise D")
            emit(f"return {_expr(acc)}, {_expr(reg)}, {steps(len(block))}")
    if is_root:  # what the code raises where the loop is stuck (CAUGHT) becomes a Deopt, once, here
        return "\n".join(["def root(acc, reg, stack, k):", " try:", *("  " + line for line in out),
                          " except C: raise D"])
    return "\n".join(["def arm(acc, reg, stack, k):", *(" " + line for line in out)])


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
    The source is kept short: compiling it is most of what a translation costs.  Each block is
    compiled on its own, its constants and the functions it calls in its own globals, so that
    blocks of the same shape share one compiled code (`_codes`).

    >>> from cam.text import parse_code
    >>> from cam.decoded import decode
    >>> f = translate(decode(parse_code("[COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,CONS,ADD]")))
    >>> f(41, None, [], None)
    (42, None, 8)
    """
    index: dict[int, int] = {}  # the blocks by id, in the order of `sources` (a block called twice: translated once)
    sources: list[str] = []
    envs: list[dict[str, Any]] = []
    calls_to: list[tuple[dict[str, Any], str, Block]] = []
    branches: list[tuple[dict[str, Any], str, Block, Block]] = []
    todo = [root]
    while todo:
        block = todo.pop()
        if id(block) not in index:
            index[id(block)] = len(sources)
            envs.append(dict(_GLOBALS))
            sources.append(_block_source(block, block is root, envs[-1], todo, calls_to, branches))
            if len(sources) == 1 and "\n  return " not in sources[0]:
                return _stuck  # the root never returns: stuck on every path (most random code), nothing to compile
    functions = [FunctionType(code, env) for code, env in zip(_codes(sources), envs)]
    for env, name, block in calls_to:
        env[name] = functions[index[id(block)]]
    for env, name, left, right in branches:
        env[name] = {InL: functions[index[id(left)]], InR: functions[index[id(right)]]}
    return functions[0]


_GLOBALS: dict[str, Any] = {"__builtins__": builtins, "InL": InL, "InR": InR, "Ret": Ret, "Clo": Clo, "D": Deopt,
                            "C": CAUGHT, "int": int, "LU": InL(None), "RU": InR(None)}
"""What every translated block's source may use besides its own constants (`_block_source`)."""
CODE_CACHE_CHARS, CODE_CACHE_SIZE = 4_000, 2_048
"""The compiled code of blocks of source at most `CODE_CACHE_CHARS` long is kept, `CODE_CACHE_SIZE` blocks'
at most (`_codes`)."""
_CODES: dict[str, CodeType] = {}
"""Compiling is most of what translating costs, and blocks of the same shape recur: a ``Distr``'s two arms in
every code with a ``Distr``, arms such as ``[INL,RETURN]``, a closure's body in every code that builds it.
A code object holds no constant of the block (its function's globals do), so one serves every such block."""


def clear_cache() -> None:
    """Forget the compiled code kept for blocks' sources (`_codes`)."""
    _CODES.clear()


def _codes(sources: list[str]) -> list[CodeType]:
    """The code object of each of `sources` (a function's ``def`` each): as compiled before, or compiled now,
    those new compiled together (a `compile` has a cost of its own), about `cam.pysource.PIECE_LINES` lines at a time:
    `compile` holds the interpreter lock throughout."""
    found: dict[str, CodeType] = {}
    for src in sources:  # (`get`: another thread may empty the dict meanwhile)
        code = _CODES.get(src)
        if code is not None:
            found[src] = code
    new = [src for src in dict.fromkeys(sources) if src not in found]
    for piece in pieces(new):
        starts, line = [], 1
        for src in piece:
            starts.append(line)
            line += src.count("\n") + 1
        module = compiled("\n".join(piece), "<cam jit>")
        first_line = {c.co_firstlineno: c for c in module.co_consts if isinstance(c, CodeType)}
        found.update(zip(piece, (first_line[line] for line in starts)))
    if new:
        if len(_CODES) + len(new) > CODE_CACHE_SIZE:
            _CODES.clear()
        _CODES.update((src, found[src]) for src in new if len(src) <= CODE_CACHE_CHARS)
    return [found[src] for src in sources]


def _stuck(acc: Any, reg: Any, stack: list[Any], k: Any) -> tuple[Any, Any, int]:
    """The translation of a root block that is stuck on every path."""
    raise Deopt


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


