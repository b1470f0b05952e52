"""The machine's internal form: decoded code, plain Python values, and the cache of decoded code.

The machine (`cam.machine`) and its translator to Python (`cam.jit`) work on
plain data: ``None`` for ``Unit``, ints, tuples for pairs, `InL`/`InR` for
``L``/``R``, `Clo` for closures and `Ret` for code continuations; `inside`
and `outside` convert at the boundary.  Code is decoded once into `Block`\\ s
of ``(opcode, operand)`` by `cam.code.Decoder` (the one decoder of `Code`)
and kept in a cache bounded by total size.

>>> from cam.text import parse_code, parse_value
>>> block = decode(parse_code("[QUOTE (Pair (Int 1) Unit),INL]"))
>>> block[0], block.size
((9, (1, None)), 2)
>>> outside(inside(parse_value("Pair (Int 1) (L Unit)")))
Pair(IntV(1), L(UnitV))
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from cam.code import OPCODE, Closure, Code, Decoder, IntV, L, Pair, R, UnitV, Value, to_text
from catlib.tree import Tree
from catlib.values import INT_MAX, INT_MIN, Curried, Left, Right

__all__ = ["InL", "InR", "Clo", "Ret", "Block", "Cont", "decode", "inside", "outside", "outside_all", "clear_cache",
           "CACHE_BUDGET", "mk_int",
           "HostClosure", "to_internal", "to_host", "mk_value", "host_divmod", "HOST_ARITH"]

# The opcodes the machine and the translators dispatch on (rows of `cam.code.INSTRUCTIONS`): the
# reference's 21, then the integer instructions beyond it.
(ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, QUOTE, ADD, APP, CURRY, INL, INR, BRANCH, RETURN,
 PUSH, ROT, GET, PUT, SUB, MUL, LT, EQ, DIVMOD) = (OPCODE[name] for name in (
    "ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "QUOTE", "ADD", "APP", "CURRY",
    "INL", "INR", "BRANCH", "RETURN", "PUSH", "ROT", "GET", "PUT", "SUB", "MUL", "LT", "EQ", "DIVMOD"))


class Cont(NamedTuple):
    """A code continuation on the stack, as seen in a configuration: the code still to run."""

    code: Code

    def __str__(self) -> str:
        return f"<code {to_text(self.code)}>"


class InL:
    """``L v`` inside the machine."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


class InR(InL):
    """``R v`` inside the machine."""

    __slots__ = ()


class Clo:
    """A closure inside the machine: a decoded `block` and its environment."""

    __slots__ = ("block", "env")

    def __init__(self, block: Block, env: Any) -> None:
        self.block, self.env = block, env


class Ret:
    """A code continuation on the machine's stack: resume `block` at `pc`."""

    __slots__ = ("block", "pc")

    def __init__(self, block: Block, pc: int) -> None:
        self.block, self.pc = block, pc


class Block(list[tuple[int, Any]]):
    """Decoded code: a list of (opcode, operand); `code` is the public form.

    While decoding, `level` is the BRANCH/CURRY nesting and `reachable`
    whether the block can run without ``APP`` (closures' code cannot).  A
    root block also keeps: `size` (reachable instructions, nested ones
    included), `depth` (their deepest nesting), `app` (reaches an ``APP``),
    and for the fast path (`cam.jit`) `runs` so far, the translation `jit`,
    `jittable` and `deopts`.
    """

    __slots__ = ("code", "level", "reachable", "size", "depth", "app", "jittable", "runs", "jit", "deopts")
    code: Code
    level: int
    reachable: bool
    size: int
    depth: int
    app: bool
    jittable: bool | None
    runs: int
    jit: Callable[[Any, Any, list[Any], Any], tuple[Any, Any, int]] | None
    deopts: int

    def __init__(self, code: Code, level: int = 0, reachable: bool = False) -> None:
        # (no ``super().__init__()``: a new list is empty already, and a campaign makes blocks by the thousand)
        self.code, self.level, self.reachable = code, level, reachable


class _Decode(Decoder[Block]):
    """`cam.code.Decoder` into `Block`\\ s; QUOTEd values become internal values, their closures decoded too.

    The blocks that can run without ``APP`` (`Block.reachable`) are listed in `reached`, for the root's
    `Block.size` and `Block.app`, counted when all is decoded."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.reached: list[Block] = []

    def new_block(self, code: Code, parent: Block, index: int, role: str) -> Block:
        block = Block(code, parent.level + 1, parent.reachable)
        if parent.reachable:
            self.depth = max(self.depth, block.level)
            self.reached.append(block)
        return block

    def value(self, v: Value, block: Block, index: int) -> Any:
        return v.label if type(v) is IntV else convert(v, self)


_APP = (APP, None)  # how the decoder writes APP: `cam.code.Decoder` shares the tuple, `==` finds it all the same


def _decode_uncached(code: Code) -> Block:
    root = Block(code, 0, True)
    d = _Decode()
    d.reached.append(d.queue(code, root))
    d.drain()
    root.size = sum(map(len, d.reached))
    root.depth, root.app = d.depth, any(_APP in b for b in d.reached)
    root.runs, root.jit, root.deopts, root.jittable = 0, None, 0, None
    return root


def decode(code: Code) -> Block:
    """The decoded form of `code`, from the cache when this object (or an equal code) was seen."""
    entry = _BY_ID.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    found = _CACHE.get(code)
    block = _decode_uncached(code) if found is None else found
    with _LOCK:
        if found is None:
            _remember(code, block)
        else:
            with contextlib.suppress(KeyError):  # another thread's eviction may have taken it meanwhile
                _CACHE.move_to_end(code)
        if len(_BY_ID) >= 256:
            _BY_ID.clear()
        _BY_ID[id(code)] = (code, block)  # keeps `code` alive, so its id is not reused while here
    return block


CACHE_BUDGET = 2_000_000
"""Decoded instructions kept between runs, in all (least recently used go first)."""

_CACHE: OrderedDict[Code, Block] = OrderedDict()
_BY_ID: dict[int, tuple[Code, Block]] = {}
"""The same blocks by the identity of their `Code`: a hit by equality compares codes in full."""
_cached = [0]  # total size of the blocks in _CACHE
_LOCK = threading.Lock()
"""Held while the caches change: a node's worker thread (an upgrade's checks) decodes while its event loop
does, and an eviction that iterates `_BY_ID` or a size count updated by both would break without it."""


def _remember(code: Code, block: Block) -> None:
    # Weighed by size, not counted: a node fed large migrations must not keep
    # hundreds of them decoded.
    if block.size > CACHE_BUDGET:
        return
    if code in _CACHE:  # decoded by another thread meanwhile (its size is counted once)
        return
    _CACHE[code] = block
    _cached[0] += block.size
    while _cached[0] > CACHE_BUDGET:
        old, gone = _CACHE.popitem(last=False)
        _cached[0] -= gone.size
        for key in [k for k, (_, b) in _BY_ID.items() if b is gone]:
            del _BY_ID[key]


def cached() -> list[tuple[Code, Block]]:
    """The codes kept decoded now, least recently used first (for tests and diagnostics)."""
    return list(_CACHE.items())


def clear_cache() -> None:
    """Forget every decoded (and translated) code."""
    with _LOCK:
        _CACHE.clear()
        _BY_ID.clear()
        _cached[0] = 0


# ---------------------------------------------------------------- values in and out

_INT_NAME = IntV.__name__  # Tree hashes a node's class name with its label
_new = object.__new__
_set = object.__setattr__


# The slots' own setters (what ``object.__setattr__`` does past `Tree`'s immutability guard, without its lookup
# by name): converting a large value makes a node per node.
_set_kids = Tree.__dict__["kids"].__set__
_set_label = Tree.__dict__["label"].__set__
_set_hash = Tree.__dict__["_hash"].__set__


def mk_int(n: int) -> Value:
    """``Int(n)`` for an `n` known to be a 64-bit int: `Tree.__init__` without the checks.

    The fields and hash are exactly `Tree`'s (a test compares them with the public constructor).
    """
    v = _new(IntV)
    _set_kids(v, ())
    _set_label(v, n)
    _set_hash(v, hash((_INT_NAME, n)))
    return v


def mk_value(cls: type, kids: tuple[Any, ...]) -> Value:
    """``cls(*kids)`` for machine values `kids`: `Tree.__init__` without the checks (for conversions)."""
    v: Value = _new(cls)
    _set_kids(v, kids)
    _set_label(v, None)
    _set_hash(v, hash((cls.__name__, None, kids[0]._hash, kids[1]._hash) if len(kids) == 2
                      else (cls.__name__, None, kids[0]._hash)))
    return v


_L_UNIT, _R_UNIT = L(UnitV), R(UnitV)


def inside(v: Value) -> Any:
    """Public value -> internal value."""
    t = type(v)
    if v is UnitV:  # the common shapes first: no stack needed
        return None
    if t is IntV:
        return v.label
    if (t is L or t is R) and v.kids[0] is UnitV:
        return (InR if t is R else InL)(None)
    d = _Decode()
    x = convert(v, d)
    d.drain()  # the code of closures in `v`
    return x


def convert(v: Value, decoder: Decoder[Block]) -> Any:
    """Public value -> internal value; the code of its closures is queued on `decoder`."""
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
                out.append((InR if t is R else InL)(out.pop()))
            else:  # Closure: its code is decoded later, from the decoder's stack
                code = x.kids[0]
                out.append(Clo(decoder.queue(code, Block(code)), out.pop()))
        elif x is UnitV:
            out.append(None)
        elif t is IntV:
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


def outside(x: Any) -> Value | Cont:
    """Internal value (or continuation) -> public form."""
    t = type(x)
    if x is None:  # the common shapes first
        return UnitV
    if t is int:
        return mk_int(x)
    if t is InL or t is InR:
        v = x.v
        if v is None:
            return _R_UNIT if t is InR else _L_UNIT
        if type(v) is int:  # a sum of Ints: the counter's answer
            return mk_value(R, (mk_int(v),)) if t is InR else mk_value(L, (mk_int(v),))
    return outside_all([x])[0]


def outside_all(xs: list[Any]) -> list[Value | Cont]:
    """`outside` of each of `xs` (internal values or continuations), a part shared between them (or inside one)
    converted once: linear in the distinct parts, where converting each alone is not.

    A machine's stack shares its parts with its accumulator and with each other (``FIRST`` pushes a part of
    what it splits), so a configuration of a deep value converted entry by entry takes time quadratic in
    its depth (`cam.machine`'s errors convert theirs this way, when read).

    >>> a = (1, None)
    >>> x, y = outside_all([a, (a, a)])
    >>> y.kids[0] is x and y.kids[1] is x
    True
    """
    memo: dict[int, Any] = {}  # id of an internal tuple, `InL`/`InR` or `Clo` (alive in `xs`) -> its public form
    made: list[Value | Cont] = []
    for top in xs:
        out: list[Any] = []
        todo: list[tuple[Any, bool]] = [(top, False)]
        while todo:
            x, ready = todo.pop()
            t = type(x)
            if ready:
                if t is tuple:
                    b = out.pop()
                    v: Any = mk_value(Pair, (out.pop(), b))
                elif t is Clo:
                    v = mk_value(Closure, (x.block.code, out.pop()))
                else:
                    v = mk_value(R, (out.pop(),)) if t is InR else mk_value(L, (out.pop(),))
                memo[id(x)] = v
                out.append(v)
            elif x is None:
                out.append(UnitV)
            elif t is int:
                out.append(mk_int(x))
            elif id(x) in memo:
                out.append(memo[id(x)])
            elif t is tuple:
                todo += [(x, True), (x[1], False), (x[0], False)]
            elif t is InL or t is InR:
                todo += [(x, True), (x.v, False)]
            elif t is Clo:
                todo += [(x, True), (x.env, False)]
            elif t is Ret:
                out.append(Cont(x.block.code[x.pc:]))
            else:  # pragma: no cover
                raise AssertionError(x)
        made.append(out[0])
    return made


# ---------------------------------------------------------------- host values (catlib's, and closures)


class HostClosure:
    """A machine closure as a host value: `code` (a `cam.code.Code`) and its environment `env` (a host value).

    ``CURRY c`` makes ``HostClosure(c, acc)``; ``APP`` on ``(closure, x)``
    runs `code` on ``(env, x)``.  It holds no machine state and imports
    nothing from the machine, so an interpreter of terms with closures can
    use the same class with a term in `code` (catlib cannot import cam: the
    class would then move to ``catlib.values`` unchanged).

    >>> from cam.code import ID, Code
    >>> HostClosure(Code([ID]), 1) == HostClosure(Code([ID]), 1)
    True
    """

    __slots__ = ("code", "env")
    code: Any
    env: Any

    def __init__(self, code: Any, env: Any) -> None:
        _set(self, "code", code)
        _set(self, "env", env)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("HostClosure is immutable (translated code shares constant ones)")

    def __eq__(self, other: object) -> bool:
        return type(other) is HostClosure and other.code == self.code and other.env == self.env

    def __hash__(self) -> int:
        return hash(("HostClosure", self.code, self.env))

    def __repr__(self) -> str:
        return f"HostClosure({self.code!r}, {self.env!r})"


def to_internal(x: Any, decode: Callable[[Code], Block], body: Callable[[Any], Block] | None = None) -> Any:
    """A host value as the machine's internal value (`cam.decoded`); closures' code decoded by `decode`.

    With `body`, a term's closure (`catlib.values.Curried`) is a host value
    too, its code ``body(term)``.  Raises `TypeError` for what is not a host
    value and `ValueError` for an int outside 64 bits, as
    `cam.hostvalue.quote` does.
    """
    t = type(x)
    if t is int and INT_MIN <= x <= INT_MAX:  # the common shapes without a stack
        return x
    if t is tuple and not x:
        return None
    out: list[Any] = []
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        v, ready = todo.pop()
        t = type(v)
        if ready:
            if t is tuple:
                b = out.pop()
                out.append((out.pop(), b))
            elif t is HostClosure:
                out.append(Clo(decode(v.code), out.pop()))
            elif t is Curried:
                out.append(Clo(body(v.body), out.pop()))  # type: ignore[misc]  # (only queued with a `body`)
            else:
                out.append((InL if t is Left else InR)(out.pop()))
        elif t is tuple and not v:
            out.append(None)
        elif t is int:
            if not INT_MIN <= v <= INT_MAX:
                raise ValueError(f"not a 64-bit int: {v}")
            out.append(v)
        elif t is tuple and len(v) == 2:
            todo += [(v, True), (v[1], False), (v[0], False)]
        elif t is Left or t is Right:
            todo += [(v, True), (v.value, False)]
        elif t is HostClosure:
            if not isinstance(v.code, Code):
                raise TypeError(f"a machine closure holds Code, not {v.code!r}")
            todo += [(v, True), (v.env, False)]
        elif t is Curried and body is not None:
            todo += [(v, True), (v.env, False)]
        else:
            raise TypeError(f"not a host value ((), int, pair, Left, Right, HostClosure): {v!r}")
    return out[0]


def to_host(x: Any) -> Any:
    """An internal value of the machine as a host value."""
    out: list[Any] = []
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        v, ready = todo.pop()
        t = type(v)
        if ready:
            if t is tuple:
                b = out.pop()
                out.append((out.pop(), b))
            elif t is Clo:
                out.append(HostClosure(v.block.code, out.pop()))
            else:
                out.append((Left if t is InL else Right)(out.pop()))
        elif v is None:
            out.append(())
        elif t is int:
            out.append(v)
        elif t is tuple:
            todo += [(v, True), (v[1], False), (v[0], False)]
        elif t is InL or t is InR:
            todo += [(v, True), (v.v, False)]
        elif t is Clo:
            todo += [(v, True), (v.env, False)]
        else:  # pragma: no cover - a continuation never is a result
            raise AssertionError(v)
    return out[0]


_HOST_L_UNIT = Left(())


def host_divmod(a: int, b: int) -> Any:
    """``DIVMOD``: ``Left(())`` by zero, else ``Right((q, r))`` rounding down; only INT_MIN / -1 wraps."""
    if b == 0:
        return _HOST_L_UNIT
    q, r = divmod(a, b)
    return Right((q if q <= INT_MAX else INT_MIN, r))


HOST_ARITH: dict[int, Callable[[int, int], Any]] = {
    SUB: lambda a, b: (a - b + 2**63) % 2**64 - 2**63,
    MUL: lambda a, b: (a * b + 2**63) % 2**64 - 2**63,
    LT: lambda a, b: Left(()) if a < b else Right(()),
    EQ: lambda a, b: Left(()) if a == b else Right(()),
    DIVMOD: host_divmod,
}
"""The integer instructions beyond the reference on host ints (what the translated code computes)."""
