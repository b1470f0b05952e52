"""Type-checking CAM bytecode itself, so that a node never has to trust the sender.

`verify` finds the principal signature (state, input, output) of a piece of
bytecode, the way the JVM and WebAssembly validate code before running it:

>>> from cam.code import parse_code
>>> str(verify(parse_code("[COPY,FIRST,SND,SWAP,CONS,SECOND,FST,CONS]")))
'a / (b, c) -> (c, b)'
>>> counter = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]")
>>> str(verify(counter))
'Int / Either () () -> Either () Int'
>>> str(verify(parse_code("[SND]"), input="(Int, b)"))
'a / (Int, b) -> b'

Bytecode that could get the machine stuck is rejected with `BytecodeError`,
which names the instruction by its path into nested blocks, what was
expected there and what was found:

>>> verify(parse_code("[BRANCH [ID,RETURN] [QUOTE (Int 1),RETURN]]"), input="Either () ()")
Traceback (most recent call last):
  ...
cam.verifier.BytecodeError: at 0/right/1 (RETURN): the branches disagree: expected (), found Int
>>> verify(parse_code("[PUSH]"))
Traceback (most recent call last):
  ...
cam.verifier.BytecodeError: at 1 (end of code): unbalanced stack: expected an empty stack, found 1 entry (top: a value of type a)

`check_value` types machine values (closures included, by verifying their code):

>>> from cam.code import Pair, Int, L, Unit
>>> value_has_type(Pair(Int(1), L(Unit)), parse("(Int, Either () b)"))
True
>>> check_value(Pair(Int(1), Unit), parse("(Int, Int)"))
Traceback (most recent call last):
  ...
cam.verifier.ValueTypeError: at right: expected Int, found Unit

How it works.  The verifier runs the machine abstractly: the accumulator
and every stack entry hold a type instead of a value, the state register
one type for the whole program, and a stack entry is either a value type or
a *code continuation* (pushed by ``BRANCH``).  Types are unified as the
instructions demand (``FST`` makes the accumulator a pair, ``BRANCH`` a
sum, ``ADD`` ``(Int, Int)``...).  ``BRANCH`` verifies both blocks on the
same stack, below which sits the continuation; the first ``RETURN`` that
pops a continuation records the accumulator type and stack it resumes with,
and the code after the ``BRANCH`` is verified once from there; every other
``RETURN`` to it must agree (unification).  A ``CURRY c`` body is verified
on its own, on ``Pair env z`` with a return continuation and nothing
reachable below it; the closure gets the type ``z -> r``; ``APP`` on
``Pair (z -> r) z`` gives ``r``.  Each instruction is visited once, from an
explicit work list, so verification is linear in the size of the code and
never recurses on the Python stack, however deep the nesting.

Types are unified on a private union-find graph (not `catlib.types.Unifier`):
code such as sixty-four ``COPY`` builds a type whose tree has 2**64 leaves,
and a tree-walking occurs check or printer would never finish.  The graph
handles sharing in near-linear time; the signature is converted to
`catlib.types` only when it is finite and no larger than ``max_type_size``.

Stricter than the machine, on purpose (nothing the compiler emits is affected):

* ``GET`` is typed like the term ``Get : () -> s`` (the machine ignores the
  accumulator), so compiled code gets exactly its term's signature;
* a block must end in ``RETURN``, and nothing may follow a ``RETURN``;
* infinite types are rejected everywhere, not only in the signature: with
  ``z = z -> r`` a closure could be applied to itself and loop forever;
* the state's type may not contain functions: a closure kept in the state
  could fetch itself and call itself forever (Landin's knot).  With both
  rules, verified code always halts (it is simply typed).

Soundness, "well-typed code does not go wrong": on inputs and states of its
signature's types (`check_value`), verified code halts without getting
stuck, with an output and a state of those types.  The properties in
``tests/test_verifier_properties.py`` and ``python -m cam.verifier --fuzz N`` (`cam.fuzz`)
check it on random, mutated and compiled code.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any

from cam.code import OPS, Closure, Code, Instr, Int, L, Pair, R, Unit, Value
from catlib import types as T
from catlib.tree import walk
from catlib.typecheck import Signature
from catlib.values import INT_MAX, INT_MIN

__all__ = ["verify", "BytecodeError", "check_value", "value_has_type", "ValueTypeError", "parse",
           "MAX_SIZE", "MAX_DEPTH", "MAX_TYPE_SIZE"]

parse = T.parse

MAX_SIZE = 2_000_000
"""Default bound on instructions plus value constructors in one piece of code."""
MAX_DEPTH = 250_000
"""Default bound on the nesting of blocks and values."""
MAX_TYPE_SIZE = 100_000
"""Default bound on the size of the signature's types, as trees."""

Path = tuple[int | str, ...]


class BytecodeError(ValueError):
    """Code that does not verify.

    `path` locates the instruction: indices into blocks and the names
    ``left``/``right`` (``BRANCH``), ``body`` (``CURRY``), ``value`` (``QUOTE``)
    and value fields; ``(3, 'left', 5)`` is instruction 5 of the left block
    of the ``BRANCH`` at 3.  `expected` and `found` say what clashed.
    """

    def __init__(self, path: Path, expected: str, found: str, reason: str = "", op: str = "") -> None:
        self.path, self.expected, self.found, self.reason, self.op = path, expected, found, reason, op
        where = "/".join(map(str, path)) if path else "the top level"
        what = f" ({op})" if op else ""
        why = f"{reason}: " if reason else ""
        super().__init__(f"at {where}{what}: {why}expected {expected}, found {found}")


class ValueTypeError(TypeError):
    """A machine value that does not have the type asked for; `path` names the field."""

    def __init__(self, path: Path, expected: str, found: str, reason: str = "") -> None:
        self.path, self.expected, self.found, self.reason = path, expected, found, reason
        where = "/".join(map(str, path)) if path else "the top level"
        why = f"{reason}: " if reason else ""
        super().__init__(f"at {where}: {why}expected {expected}, found {found}")


# ---------------------------------------------------------------- types as a union-find graph

_VAR, _UNIT, _INT, _PROD, _SUM, _FUN, _RIGID = range(7)


class _N:
    """A type node: a variable (bound through `up`), a base type or a constructor.

    `last` records, on a class's root, the latest union into it (for
    locating infinite types).
    """

    __slots__ = ("tag", "a", "b", "up", "last")

    def __init__(self, tag: int, a: Any = None, b: Any = None) -> None:
        self.tag, self.a, self.b, self.up, self.last = tag, a, b, None, None


_UNIT_N = _N(_UNIT)
_INT_N = _N(_INT)


def _find(n: _N) -> _N:
    root = n
    while root.up is not None:
        root = root.up
    while n.up is not None and n.up is not root:
        n.up, n = root, n.up
    return root


class _Clash(Exception):
    def __init__(self, x: _N, y: _N) -> None:
        self.x, self.y = x, y


def _show(nodes: list[_N], names: dict[_N, str] | None = None, budget: int = 120) -> list[str]:
    """Print types in the seed's notation; variables named a, b, ... in order of appearance.

    Bounded by `budget` characters each, so huge types print quickly; a
    structure met again inside itself (an infinite type) prints as its name
    in `names` if it has one, else as ``...``.
    """
    names = {} if names is None else names
    out = []
    for node in nodes:
        parts: list[str] = []
        length = 0
        inside: set[_N] = set()
        todo: list[Any] = [(node, 0)]  # (node, context): 0 plain, 1 Either argument, 2 function domain
        while todo:
            if length > budget:
                parts.append("...")
                break
            item = todo.pop()
            if isinstance(item, str):
                parts.append(item)
                length += len(item)
                continue
            if isinstance(item, _N):  # leaving a structure
                inside.discard(item)
                continue
            n, ctx = item
            n = _find(n)
            tag = n.tag
            if tag == _VAR:
                if n not in names:
                    k = len(names)
                    names[n] = chr(ord("a") + k % 26) + (str(k // 26) if k >= 26 else "")
                s = names[n]
            elif tag == _RIGID:
                s = n.a
            elif tag == _UNIT:
                s = "()"
            elif tag == _INT:
                s = "Int"
            elif n in inside or (n in names and (n is not _find(node) or parts)):
                s = names.get(n, "...")
            else:
                inside.add(n)
                todo.append(n)
                wrap = (tag == _SUM and ctx == 1) or (tag == _FUN and ctx > 0)
                if wrap:
                    todo.append(")")
                if tag == _PROD:
                    todo += [")", (n.b, 0), ", ", (n.a, 0), "("]
                elif tag == _SUM:
                    todo += [(n.b, 1), " ", (n.a, 1), "Either "]
                else:
                    todo += [(n.b, 0), " -> ", (n.a, 2)]
                if wrap:
                    todo.append("(")
                continue
            parts.append(s)
            length += len(s)
        out.append("".join(parts))
    return out


# ---------------------------------------------------------------- decoded code

(ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, QUOTE, ADD, APP, CURRY, INL, INR, BRANCH, RETURN,
 PUSH, ROT, GET, PUT) = range(21)
_OPCODE = {name: i for i, name in enumerate(OPS)}
assert _OPCODE["PUT"] == PUT and _OPCODE["BRANCH"] == BRANCH

_VALUE_TYPES = (type(Unit), Int, Pair, L, R, Closure)
_VALUE_ARITY = {type(Unit): 0, Int: 0, Pair: 2, L: 1, R: 1, Closure: 2}
_VALUE_FIELDS = {Pair: ("left", "right"), L: ("value",), R: ("value",), Closure: ("code", "env")}
_TOP, _CLOSURE = 0, 1


class _Blk:
    """A decoded block: ``ops`` is a list of (opcode, argument); `link` its linked path."""

    __slots__ = ("ops", "link", "top", "ctx")

    def __init__(self, link: Any, top: bool, ctx: int) -> None:
        self.ops: list[tuple[int, Any]] = []
        self.link, self.top, self.ctx = link, top, ctx


class _K:
    """A code continuation on the abstract stack.

    For ``BRANCH``: resume `blk` at `pc`; `acc` and `st` are the accumulator
    type and stack it resumes with, set by the first ``RETURN`` to it.  For a
    closure body (`r` set): return to the caller with result type `r`.
    `where` (a linked path) is the ``BRANCH``, ``CURRY`` or closure value.
    """

    __slots__ = ("blk", "pc", "acc", "st", "r", "where")

    def __init__(self, blk: _Blk | None, pc: int, where: Any, r: _N | None = None) -> None:
        self.blk, self.pc, self.where, self.r = blk, pc, where, r
        self.acc: _N | None = None
        self.st: Any = None


def _unlink(link: Any) -> Path:
    names = []
    while link is not None:
        name, link = link
        names.append(name)
    return tuple(reversed(names))


def _describe(x: object) -> str:
    text = object.__repr__(x) if not isinstance(x, (int, str)) else repr(x)
    return f"{type(x).__name__} {text[:60]}"


class _Engine:
    """One verification: the type graph, decoded blocks and the work list."""

    def __init__(self, max_size: int, max_depth: int, max_type_size: int) -> None:
        self.max_size, self.max_depth, self.max_type_size = max_size, max_depth, max_type_size
        self.size = 0
        self.seq = 0
        self.work: list[tuple[_Blk, int, _N, Any]] = []
        self.pending: list[tuple[Code, _Blk, int]] = []
        self.state = _N(_VAR)
        self.out = _N(_VAR)
        self.merged: list[_N] = []  # structure nodes that unification gave a new parent

    # ------------------------------------------------ unification

    def unify(self, a: _N, b: _N, where: Any) -> None:
        """Make `a` and `b` equal, or raise `_Clash` and leave both as they were.

        Union-find on all nodes (Huet): a pair of structures is merged before
        their parts are unified, so shared and even cyclic graphs take
        near-linear time.  Cycles are found later, by `acyclic`.  Every change
        (unions and path compression) goes on a trail, so that a failed
        unification can be undone: error messages show the types as they were.
        """
        todo = [(a, b)]
        trail: list[tuple[_N, _N | None]] = []
        try:
            while todo:
                x, y = todo.pop()
                if x.up is not None:
                    x = self.find_undoably(x, trail)
                if y.up is not None:
                    y = self.find_undoably(y, trail)
                if x is y:
                    continue
                if x.tag == _VAR or y.tag == _VAR:
                    if x.tag != _VAR:
                        x, y = y, x
                    x.up = y
                    trail.append((x, None))
                    if _PROD <= y.tag <= _FUN:  # a variable inside y may now lead back to y
                        self.seq += 1
                        y.last = (self.seq, where)
                        self.merged.append(y)
                    continue
                if x.tag != y.tag or x.tag == _RIGID:
                    raise _Clash(x, y)
                if x.a is None:
                    continue
                x.up = y
                trail.append((x, None))
                self.seq += 1
                y.last = (self.seq, where)
                self.merged.append(y)
                todo.append((x.b, y.b))
                todo.append((x.a, y.a))
        except _Clash:
            for n, up in reversed(trail):
                n.up = up
            raise

    @staticmethod
    def find_undoably(n: _N, trail: list[tuple[_N, _N | None]]) -> _N:
        """`_find`, recording the path compression on `trail`."""
        root = n
        while root.up is not None:
            root = root.up
        while n.up is not None and n.up is not root:
            trail.append((n, n.up))
            n.up, n = root, n.up
        return root

    def from_type(self, t: T.Type, names: dict[str, _N], rigid: bool) -> _N:
        """A catlib type as a graph; its variables are `names` (rigid: declared, must stay general)."""
        out: list[_N] = []
        todo: list[tuple[T.Type, bool]] = [(t, False)]
        while todo:
            n, ready = todo.pop()
            if isinstance(n, T.Var):
                if n.name not in names:
                    names[n.name] = _N(_RIGID, n.name) if rigid else _N(_VAR)
                out.append(names[n.name])
            elif not n.kids:
                out.append(_UNIT_N if n == T.Unit else _INT_N)
            elif not ready:
                todo.append((n, True))
                todo.extend((k, False) for k in reversed(n.kids))
            else:
                b = out.pop()
                a = out.pop()
                out.append(_N(_PROD if isinstance(n, T.Prod) else _SUM if isinstance(n, T.Sum) else _FUN, a, b))
        return out[0]

    def acyclic(self) -> None:
        """Reject infinite types: every cycle passes through a node that unification merged.

        (Code typed with infinite types could loop: self-application needs ``z = z -> r``.)
        """
        done: set[_N] = set()
        onpath: set[_N] = set()
        for start in self.merged:
            start = _find(start)
            if start in done:
                continue
            todo: list[tuple[_N, bool]] = [(start, False)]
            while todo:
                n, ready = todo.pop()
                if ready:
                    onpath.discard(n)
                    done.add(n)
                    continue
                if n in done:
                    continue
                onpath.add(n)
                todo.append((n, True))
                if _PROD <= n.tag <= _FUN:
                    for k in (_find(n.b), _find(n.a)):
                        if k in onpath:
                            self.infinite(n, k)
                        if k not in done:
                            todo.append((k, False))
        self.merged.clear()

    def to_types(self, nodes: list[_N], what: list[str], keep: Iterable[str] = ()) -> list[T.Type]:
        """Catlib types of acyclic `nodes`, or `BytecodeError` if one is larger than `max_type_size`.

        Variables are named a, b, c, ... in order of appearance, avoiding the rigid names in `keep`,
        exactly as `catlib.types.rename` would (without walking the types as trees).
        """
        done: dict[_N, T.Type] = {}
        taken = set(keep)
        count = 0
        seen: set[_N] = set()
        for node in nodes:  # name the variables in pre-order; a shared part is seen once, first
            todo = [_find(node)]
            while todo:
                n = todo.pop()
                if n in seen:
                    continue
                seen.add(n)
                if n.tag == _VAR:
                    while True:
                        name = chr(ord("a") + count % 26) + (str(count // 26) if count >= 26 else "")
                        count += 1
                        if name not in taken:
                            break
                    done[n] = T.Var(name)
                elif _PROD <= n.tag <= _FUN:
                    todo += [_find(n.b), _find(n.a)]
        size: dict[_N, int] = dict.fromkeys(done, 1)
        results = []
        for node, name in zip(nodes, what):
            todo: list[tuple[_N, bool]] = [(_find(node), False)]
            while todo:
                n, ready = todo.pop()
                if n in done:
                    continue
                if not _PROD <= n.tag <= _FUN:  # variables are done already
                    done[n] = T.Var(n.a) if n.tag == _RIGID else T.Unit if n.tag == _UNIT else T.Int
                    size[n] = 1
                    continue
                a, b = _find(n.a), _find(n.b)
                if not ready:
                    todo.append((n, True))
                    todo += [(k, False) for k in (b, a) if k not in done]
                    continue
                size[n] = 1 + size[a] + size[b]
                if size[n] > self.max_type_size:
                    raise BytecodeError((), f"{name} types of at most {self.max_type_size} nodes",
                                        f"one of {size[n]} or more: {_show([n])[0]}", "type too large")
                cls = T.Prod if n.tag == _PROD else T.Sum if n.tag == _SUM else T.Fun
                done[n] = cls(done[a], done[b])
            results.append(done[_find(node)])
        return results

    def infinite(self, n: _N, k: _N) -> None:
        """Report the cycle through `n` and `k` at the latest unification that merged either."""
        lasts = [x.last for x in (n, k) if x.last is not None]
        where = max(lasts, key=lambda w: w[0])[1] if lasts else None
        names: dict[_N, str] = {k: "t"}
        raise BytecodeError(_unlink(where), "a finite type", f"t = {_show([k], names)[0]}", "infinite type")

    # ------------------------------------------------ decoding (and validating) code and values

    def grow(self, link: Any) -> None:
        self.size += 1
        if self.size > self.max_size:
            raise BytecodeError(_unlink(link), f"code of at most {self.max_size} instructions and values",
                                "more", "code too large")

    def deep(self, depth: int, link: Any) -> None:
        if depth > self.max_depth:
            raise BytecodeError(_unlink(link), f"code nested at most {self.max_depth} deep",
                                "deeper nesting", "code too deep")

    def block(self, code: object, link: Any, top: bool, ctx: int, depth: int) -> _Blk:
        """Queue `code` for decoding into a new block (filled by `drain`)."""
        blk = _Blk(link, top, ctx)
        if type(code) is not Code or type(getattr(code, "kids", None)) is not tuple:
            raise BytecodeError(_unlink(link), "code (a list of instructions)", _describe(code), "malformed code")
        self.deep(depth, link)
        self.pending.append((code, blk, depth))
        return blk

    def drain(self) -> None:
        """Decode every queued block, iteratively (blocks nested in blocks are queued, not recursed into)."""
        while self.pending:
            code, blk, depth = self.pending.pop()
            ops = blk.ops
            link = blk.link
            kids = code.kids
            last = len(kids) - 1
            for i, ins in enumerate(kids):
                here = (i, link)
                self.grow(here)
                op = getattr(ins, "label", None) if type(ins) is Instr else None
                args = getattr(ins, "kids", None)
                if op not in _OPCODE or type(args) is not tuple:
                    raise BytecodeError(_unlink(here), "an instruction", _describe(ins), "malformed code")
                code_op = _OPCODE[op]
                want = 1 if code_op in (QUOTE, CURRY) else 2 if code_op == BRANCH else 0
                if len(args) != want:
                    raise BytecodeError(_unlink(here), f"{op} with {want} argument(s)", f"{len(args)}",
                                        "malformed instruction", op)
                arg: Any = None
                if code_op == QUOTE:
                    arg = self.value_type(args[0], ("value", here), depth + 1)
                elif code_op == BRANCH:
                    arg = (self.block(args[0], ("left", here), False, blk.ctx, depth + 1),
                           self.block(args[1], ("right", here), False, blk.ctx, depth + 1))
                elif code_op == CURRY:
                    arg = self.block(args[0], ("body", here), False, _CLOSURE, depth + 1)
                elif code_op == RETURN and i != last:
                    raise BytecodeError(_unlink((i + 1, link)), "RETURN to end its block",
                                        f"{len(kids) - 1 - i} more instruction(s) after it",
                                        "unreachable code after RETURN", op)
                ops.append((code_op, arg))

    def value_type(self, v: object, link: Any, depth: int) -> _N:
        """The principal type of machine value `v`; closures' code is queued for verification."""
        out: list[_N] = []
        todo: list[tuple[Any, Any, int, bool]] = [(v, link, depth, False)]
        while todo:
            x, where, d, ready = todo.pop()
            cls = type(x)
            if ready:
                if cls is Pair:
                    b = out.pop()
                    out.append(_N(_PROD, out.pop(), b))
                elif cls is L:
                    out.append(_N(_SUM, out.pop(), _N(_VAR)))
                elif cls is R:
                    out.append(_N(_SUM, _N(_VAR), out.pop()))
                else:  # Closure: its body runs on Pair env z and returns r
                    env = out.pop()
                    z, r = _N(_VAR), _N(_VAR)
                    blk = self.block(x.kids[0], ("code", where), False, _CLOSURE, d + 1)
                    self.work.append((blk, 0, _N(_PROD, env, z), (_K(None, 0, where, r), None)))
                    out.append(_N(_FUN, z, r))
                continue
            self.grow(where)
            self.deep(d, where)
            kids = getattr(x, "kids", None)
            if cls not in _VALUE_ARITY or type(kids) is not tuple or len(kids) != _VALUE_ARITY[cls]:
                raise BytecodeError(_unlink(where), "a machine value", _describe(x), "malformed value")
            if cls is Int:
                n = getattr(x, "label", None)
                if type(n) is not int or not INT_MIN <= n <= INT_MAX:
                    raise BytecodeError(_unlink(where), "a 64-bit Int", _describe(n), "malformed value")
                out.append(_INT_N)
            elif not kids:
                out.append(_UNIT_N)
            else:
                todo.append((x, where, d, True))
                fields = _VALUE_FIELDS[cls]
                for name, k in reversed(list(zip(fields, kids))):
                    if name != "code":
                        todo.append((k, (name, where), d + 1, False))
        return out[0]

    # ------------------------------------------------ the abstract machine

    def fail(self, blk: _Blk, pc: int, reason: str, expected: str, found: str) -> BytecodeError:
        op = OPS[blk.ops[pc][0]] if pc < len(blk.ops) else "end of block" if not blk.top else "end of code"
        return BytecodeError(_unlink((pc, blk.link)), expected, found, reason, op)

    def clash(self, blk: _Blk, pc: int, reason: str, expected: _N, found: _N, e: _Clash) -> BytecodeError:
        names: dict[_N, str] = {}
        exp, fnd = _show([expected, found], names)
        x, y = _show([e.x, e.y], names)
        if (_find(e.x), _find(e.y)) not in ((_find(expected), _find(found)), (_find(found), _find(expected))):
            fnd += f" ({x} does not match {y})"
        return self.fail(blk, pc, reason, exp, fnd)

    def underflow(self, blk: _Blk, pc: int, need: str) -> BytecodeError:
        bottom = "an empty stack" if blk.ctx == _TOP else "the bottom of the closure body's stack"
        return self.fail(blk, pc, "stack underflow", need, bottom)

    def entry(self, e: Any) -> str:
        if type(e) is _K:
            where = "/".join(map(str, _unlink(e.where)))
            return f"a code continuation (the return of the closure at {where})" if e.r is not None else \
                f"a code continuation (after the BRANCH at {where})"
        return f"a value of type {_show([e])[0]}"

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
                        k = _depth(st)
                        raise self.fail(blk, pc, "unbalanced stack", "an empty stack",
                                        f"{k} entr{'y' if k == 1 else 'ies'} (top: {self.entry(st[0])})")
                    try:
                        unify(acc, self.out, (pc, blk.link))
                    except _Clash as e:
                        raise self.clash(blk, pc, "the output", self.out, acc, e) from None
                    break
                op, arg = ops[pc]
                if op == ID:
                    pass
                elif op <= SND or op == FIRST or op == SECOND:  # FST, SND, FIRST, SECOND: need a pair
                    a = _find(acc)
                    if a.tag != _PROD:
                        if a.tag != _VAR:
                            raise self.fail(blk, pc, "not a pair", "a pair (a, b) in the accumulator",
                                            _show([a])[0])
                        a.up = _N(_PROD, _N(_VAR), _N(_VAR))
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
                    e, rest = st
                    if type(e) is _K:
                        raise self.fail(blk, pc, "a continuation where a value is needed", "a value on the stack",
                                        self.entry(e))
                    if op == CONS:
                        acc, st = _N(_PROD, e, acc), rest
                    else:
                        acc, st = e, (acc, rest)
                elif op == QUOTE:
                    acc = arg
                elif op == GET:
                    # The machine's GET overwrites any accumulator, but it is typed like the term
                    # Get : () -> s, so that compiled code gets exactly its term's signature.
                    a = _find(acc)
                    if a is not _UNIT_N:
                        if a.tag != _VAR:
                            raise self.fail(blk, pc, "GET is typed () -> state", "() in the accumulator",
                                            _show([a])[0])
                        a.up = _UNIT_N
                    acc = state
                elif op == PUT:
                    try:
                        unify(acc, state, (pc, blk.link))
                    except _Clash as e:
                        raise self.clash(blk, pc, "PUT changes the state's type", state, acc, e) from None
                    acc = _UNIT_N
                elif op == COPY:
                    acc = _N(_PROD, acc, acc)
                elif op == CONSUME:
                    acc = _UNIT_N
                elif op == ADD:
                    a = _find(acc)
                    if a.tag == _VAR:
                        a.up = a = _N(_PROD, _INT_N, _INT_N)
                    if a.tag != _PROD:
                        raise self.fail(blk, pc, "ADD needs two Ints", "(Int, Int)", _show([a])[0])
                    for k in (_find(a.a), _find(a.b)):
                        if k is not _INT_N:
                            if k.tag != _VAR:
                                raise self.fail(blk, pc, "ADD needs two Ints", "(Int, Int)", _show([a])[0])
                            k.up = _INT_N
                    acc = _INT_N
                elif op == INL:
                    acc = _N(_SUM, acc, _N(_VAR))
                elif op == INR:
                    acc = _N(_SUM, _N(_VAR), acc)
                elif op == PUSH:
                    st = (acc, st)
                elif op == ROT:
                    if st is None or st[1] is None:
                        raise self.underflow(blk, pc, "two entries on the stack")
                    e1, (e2, rest) = st
                    st = (e2, (e1, rest))
                elif op == BRANCH:
                    a = _find(acc)
                    if a.tag != _SUM:
                        if a.tag != _VAR:
                            raise self.fail(blk, pc, "not a sum", "a sum Either a b in the accumulator",
                                            _show([a])[0])
                        a.up = _N(_SUM, _N(_VAR), _N(_VAR))
                        a = a.up
                    cell = (_K(blk, pc + 1, (pc, blk.link)), st)
                    work.append((arg[1], 0, a.b, cell))
                    work.append((arg[0], 0, a.a, cell))
                    break
                elif op == RETURN:
                    if st is None:
                        raise self.underflow(blk, pc, "a code continuation on the stack")
                    k, rest = st
                    if type(k) is not _K:
                        raise self.fail(blk, pc, "a value where a continuation is needed",
                                        "a code continuation on the stack", self.entry(k))
                    if k.r is not None:  # the end of a closure body
                        try:
                            unify(acc, k.r, (pc, blk.link))
                        except _Clash as e:  # pragma: no cover - r is a fresh variable, used once
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
                    z, r = _N(_VAR), _N(_VAR)
                    work.append((arg, 0, _N(_PROD, acc, z), (_K(None, 0, (pc, blk.link), r), None)))
                    acc = _N(_FUN, z, r)
                elif op == APP:
                    a = _find(acc)
                    if a.tag == _VAR:
                        a.up = _N(_PROD, _N(_VAR), _N(_VAR))
                        a = a.up
                    if a.tag != _PROD:
                        raise self.fail(blk, pc, "not a closure application", "a pair (a -> b, a)",
                                        _show([a])[0])
                    f = _find(a.a)
                    if f.tag == _VAR:
                        f.up = _N(_FUN, _N(_VAR), _N(_VAR))
                        f = f.up
                    if f.tag != _FUN:
                        raise self.fail(blk, pc, "not a closure application", "a pair (a -> b, a)",
                                        _show([a])[0])
                    try:
                        unify(f.a, a.b, (pc, blk.link))
                    except _Clash as e:
                        raise self.clash(blk, pc, "closure argument", f.a, a.b, e) from None
                    acc = f.b
                else:  # pragma: no cover - every opcode is handled above
                    raise AssertionError(op)
                pc += 1
        self.acyclic()

    def join(self, blk: _Blk, pc: int, k: _K, acc: _N, st: Any) -> None:
        """A second RETURN to `k`: accumulator and stack must agree with the first."""
        where = (pc, blk.link)
        try:
            self.unify(k.acc, acc, where)  # type: ignore[arg-type]
        except _Clash as e:
            raise self.clash(blk, pc, "the branches disagree", k.acc, acc, e) from None  # type: ignore[arg-type]
        s1, s2, depth = k.st, st, 0
        while s1 is not s2:
            if s1 is None or s2 is None:
                n1, n2 = _depth(k.st), _depth(st)
                raise self.fail(blk, pc, "the branches leave different stacks",
                                f"{n1} entr{'y' if n1 == 1 else 'ies'}, as the first RETURN here left",
                                f"{n2} entr{'y' if n2 == 1 else 'ies'}")
            (e1, s1), (e2, s2) = s1, s2
            if type(e1) is _K or type(e2) is _K:
                if e1 is not e2:
                    raise self.fail(blk, pc, f"the branches leave different stacks at depth {depth}",
                                    self.entry(e1), self.entry(e2))
            else:
                try:
                    self.unify(e1, e2, where)
                except _Clash as e:
                    raise self.clash(blk, pc, f"the branches leave different stacks at depth {depth}",
                                     e1, e2, e) from None
            depth += 1


def _depth(st: Any) -> int:
    k = 0
    while st is not None:
        k, st = k + 1, st[1]
    return k


def _as_type(t: T.Type | str) -> T.Type:
    if isinstance(t, str):
        return T.parse(t)
    if not isinstance(t, T.Type):
        raise TypeError(f"expected a type (catlib.types.Type or its text), not {t!r}")
    return t


def verify(code: Code, state: T.Type | str | None = None, input: T.Type | str | None = None,
           output: T.Type | str | None = None, *, max_size: int = MAX_SIZE, max_depth: int = MAX_DEPTH,
           max_type_size: int = MAX_TYPE_SIZE) -> Signature:
    """The principal signature of `code`, or check it against the declared types.

    Declared parts (catlib types or their text) may contain type variables;
    the code must then be that general (as in `catlib.typecheck.check`).
    Returns the signature, variables renamed a, b, c, ... (declared ones keep
    their names).  Raises `BytecodeError` for code that could get stuck,
    is malformed, or is larger than `max_size` instructions and values,
    nested deeper than `max_depth`, or whose signature's types exceed
    `max_type_size` nodes.
    """
    declared = [None if t is None else _as_type(t) for t in (state, input, output)]
    eng = _Engine(max_size, max_depth, max_type_size)
    rigid: dict[str, _N] = {}
    state_n, input_n, out_n = (_N(_VAR) if t is None else eng.from_type(t, rigid, True) for t in declared)
    eng.state, eng.out = state_n, out_n
    if type(code) is not Code:
        raise BytecodeError((), "Code", _describe(code), "not code")
    collecting = gc.isenabled()
    gc.disable()  # the verifier allocates many small objects and no garbage cycles; collections would cost 2x
    try:
        root = eng.block(code, None, True, _TOP, 1)
        eng.drain()
        eng.work.append((root, 0, input_n, None))
        eng.work.reverse()  # the top level first, then closures met in QUOTEd values
        eng.run()
        sig = eng.to_types([state_n, input_n, out_n], ["state", "input", "output"], keep=rigid)
        if any(isinstance(t, T.Fun) for t in walk(sig[0])):
            # A closure kept in the state can fetch itself and call itself (Landin's knot): the
            # step would never end.  With first-order state, verified code always halts.
            raise BytecodeError((), "a state type without functions", str(sig[0]),
                                "closures in the state could call themselves forever")
    except RecursionError:  # pragma: no cover - nothing here recurses; a last line of defence
        raise BytecodeError((), "code the verifier can handle", "a recursion overflow", "internal limit") from None
    finally:
        if collecting:
            gc.enable()
    return Signature(*sig)


# ---------------------------------------------------------------- machine values


def check_value(v: Value, t: T.Type | str, *, state: T.Type | str | None = None, max_size: int = MAX_SIZE,
                max_depth: int = MAX_DEPTH) -> None:
    """Raise `ValueTypeError` unless machine value `v` has type `t`.

    A type variable accepts any value, consistently: ``(a, a)`` needs both
    components of one type.  A closure has a function type when its code
    verifies with its environment at that type.  A closure's code may use
    ``GET``/``PUT``: give the program's `state` type, else the code must work
    whatever the state's type is (it may only move the state around), so
    that a closure passed in cannot change the type of the state.
    """
    t = _as_type(t)
    eng = _Engine(max_size, max_depth, MAX_TYPE_SIZE)
    # The state's type (or an unknown one) is rigid: closures must not change it.
    eng.state = _N(_RIGID, "state") if state is None else eng.from_type(_as_type(state), {}, True)
    names: dict[str, _N] = {}
    later: list[tuple[Path, _N, _N]] = []  # (path, value's type, wanted type): unified after the walk
    todo: list[tuple[Any, T.Type, Any, int]] = [(v, t, None, 1)]
    try:
        while todo:
            x, ty, link, depth = todo.pop()
            cls = type(x)
            if isinstance(ty, (T.Var, T.Fun)):
                node = eng.value_type(x, link, depth)
                later.append((_unlink(link), node, eng.from_type(ty, names, False)))
                continue
            kids = getattr(x, "kids", None)
            if cls not in _VALUE_ARITY or type(kids) is not tuple or len(kids) != _VALUE_ARITY[cls]:
                raise ValueTypeError(_unlink(link), str(ty), _describe(x), "not a machine value")
            eng.grow(link)
            eng.deep(depth, link)
            if ty == T.Unit:
                ok = cls is type(Unit)
            elif ty == T.Int:
                n = getattr(x, "label", None)
                ok = cls is Int and type(n) is int and INT_MIN <= n <= INT_MAX
            elif isinstance(ty, T.Prod):
                ok = cls is Pair
                if ok:
                    todo += [(kids[1], ty.kids[1], ("right", link), depth + 1),
                             (kids[0], ty.kids[0], ("left", link), depth + 1)]
            else:
                ok = cls is L or cls is R
                if ok:
                    todo.append((kids[0], ty.kids[cls is R], ("value", link), depth + 1))
            if not ok:
                raise ValueTypeError(_unlink(link), str(ty), _short(x))
        eng.drain()
        eng.run()
        for path, have, want in later:
            try:
                eng.unify(have, want, None)
            except _Clash:
                exp, fnd = _show([want, have])
                raise ValueTypeError(path, exp, f"a value of type {fnd}") from None
        eng.acyclic()  # e.g. L Unit at both a and Either () a
    except BytecodeError as e:
        raise ValueTypeError(e.path, "a well-formed value whose closures verify", str(e), "bad value") from None


def _short(x: Any) -> str:
    from cam.code import to_text

    try:
        text = to_text(x)
    except Exception:  # noqa: BLE001 - a malformed value deeper down: name the outer constructor only
        text = f"{type(x).__name__} ..."
    return text if len(text) <= 80 else text[:77] + "..."


def value_has_type(v: Value, t: T.Type | str, *, state: T.Type | str | None = None) -> bool:
    """True when machine value `v` has type `t` (see `check_value`)."""
    try:
        check_value(v, t, state=state)
    except ValueTypeError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m cam.verifier --fuzz N [--seed S]``, or ``python -m cam.verifier FILE`` to verify code."""
    import argparse
    import time

    from cam.code import ParseError, parse_code

    p = argparse.ArgumentParser(prog="python -m cam.verifier", description=main.__doc__)
    p.add_argument("file", nargs="?", help="code to verify, in the reference's text form ('-' for stdin)")
    p.add_argument("--fuzz", type=int, metavar="N", help="run a fuzzing campaign of N cases")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=int, default=2, help="runs on random typed inputs per accepted case")
    args = p.parse_args(argv)
    if args.fuzz is not None:
        from cam.fuzz import Unsound, campaign

        t0 = time.perf_counter()
        try:
            counts = campaign(args.fuzz, args.seed, args.runs, progress=True)
        except Unsound as e:
            print(f"UNSOUND: {e}")
            return 1
        for k in sorted(counts):
            print(f"{k:>28}: {counts[k]}")
        print(f"({time.perf_counter() - t0:.0f} s, seed {args.seed})")
        return 0 if counts["crashed"] == 0 else 1
    if args.file is None:
        p.print_usage()
        return 2
    import sys

    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file).read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    try:
        print(verify(parse_code(text.strip())))
    except (ParseError, BytecodeError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
