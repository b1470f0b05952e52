"""Type-checking CAM bytecode itself, so that a node never has to trust the sender.

`verify` finds the principal signature (state, input, output) of a piece of
bytecode, the way the JVM and WebAssembly validate code before running it:

>>> from cam.text import parse_code
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

>>> from cam.code import Pair, IntV, L, UnitV
>>> value_has_type(Pair(IntV(1), L(UnitV)), parse("(Int, Either () b)"))
True
>>> check_value(Pair(IntV(1), UnitV), parse("(Int, Int)"))
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

The modules: this one decodes and checks the code's shape (with
`cam.code.Decoder`), types values and gives the errors; `cam.absmachine`
is the abstract machine, one entry per instruction; `cam.typeengine` the
union-find graph of types it unifies on (not `catlib.types.Unifier`: code
such as sixty-four ``COPY`` builds a type whose tree has 2**64 leaves).

Stricter than the machine, on purpose (nothing the compiler emits is affected):

* ``GET`` is typed like the term ``Get : () -> s`` (the machine ignores the
  accumulator), so compiled code gets exactly its term's signature;
* a block must end in ``RETURN``, and nothing may follow a ``RETURN``;
* infinite types are rejected everywhere, not only in the signature: with
  ``z = z -> r`` a closure could be applied to itself and loop forever;
* when the state's type contains functions, no closure's code (``CURRY``
  bodies, closures in quoted values, at any depth) may use ``GET`` or
  ``PUT``: a closure that reads the state could fetch itself from there and
  call itself forever (Landin's knot).  The top level may read the state
  and apply the closures it finds (a pricing rule kept in the state, say):
  they cannot reach the state, so cannot reach themselves.  With both
  rules, verified code always halts (it is simply typed).

Soundness, "well-typed code does not go wrong": on inputs and states of its
signature's types (`check_value`), verified code halts without getting
stuck, with an output and a state of those types.  The properties in
``tests/test_verifier_properties.py`` and ``python -m cam verify --fuzz N`` (`cam.fuzz`)
check it on random, mutated and compiled code.
"""

from __future__ import annotations

import gc
from typing import Any

from cam.absmachine import CLOSURE, TOP, AbstractMachine, Blk, Ret
from cam.code import SPECS, Closure, Code, Decoder, Instr, InstrSpec, IntV, L, Pair, R, UnitV, Value, to_text
from cam.typeengine import FUN, INT_NODE, PROD, RIGID, SUM, UNIT_NODE, VAR, Clash, Node, show
from catlib import types as T
from catlib.tree import larger, unlink, walk
from catlib.typecheck import Signature
from catlib.values import INT_MAX, INT_MIN

__all__ = ["verify", "Remembered", "BytecodeError", "check_value", "value_has_type", "ValueTypeError", "parse",
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


_VALUE_ARITY = {type(UnitV): 0, IntV: 0, Pair: 2, L: 1, R: 1, Closure: 2}
_VALUE_FIELDS = {Pair: ("left", "right"), L: ("value",), R: ("value",), Closure: ("code", "env")}


def _describe(x: object) -> str:
    text = object.__repr__(x) if not isinstance(x, (int, str)) else repr(x)
    return f"{type(x).__name__} {text[:60]}"


class _Engine(AbstractMachine, Decoder[Blk]):
    """One verification: code decoded (and its shape checked) into `Blk`\\ s, then run abstractly.

    Decoding is `cam.code.Decoder`'s; this class adds the checks an
    untrusted sender makes necessary (sizes, nesting, malformed objects,
    nothing after ``RETURN``) and types ``QUOTE``\\ d values.
    """

    def __init__(self, max_size: int, max_depth: int, max_type_size: int) -> None:
        AbstractMachine.__init__(self, max_type_size)
        Decoder.__init__(self)
        self.max_size, self.max_depth = max_size, max_depth
        self.size = 0
        self.state_in_closure: Any = None
        """Where a closure's code first reads or writes the state (``GET``/``PUT``), if anywhere."""

    def error(self, where: Any, expected: str, found: str, reason: str, op: str = "") -> BytecodeError:
        return BytecodeError(unlink(where), expected, found, reason, op)

    def grow(self, link: Any) -> None:
        self.size += 1
        if self.size > self.max_size:
            raise self.too_large(link)

    def too_large(self, link: Any) -> BytecodeError:
        return BytecodeError(unlink(link), f"code of at most {self.max_size} instructions and values", "more",
                             "code too large")

    def deep(self, depth: int, link: Any) -> None:
        if depth > self.max_depth:
            raise BytecodeError(unlink(link), f"code nested at most {self.max_depth} deep",
                                "deeper nesting", "code too deep")

    def make(self, code: object, link: Any, top: bool, ctx: int, depth: int) -> Blk:
        """A new block for `code` (not yet queued), after checking that `code` is code."""
        if type(code) is not Code or type(getattr(code, "kids", None)) is not tuple:
            raise BytecodeError(unlink(link), "code (a list of instructions)", _describe(code), "malformed code")
        if depth > self.max_depth:  # (`deep`'s test written out: it runs once per block)
            self.deep(depth, link)
        return Blk(link, top, ctx, depth, len(code.kids) - 1)

    def block(self, code: object, link: Any, top: bool, ctx: int, depth: int) -> Blk:
        """Queue `code` for decoding into a new block (filled by `drain`)."""
        return self.queue(code, self.make(code, link, top, ctx, depth))  # type: ignore[arg-type]

    # ------------------------------------------------ the hooks of cam.code.Decoder

    def new_block(self, code: Code, parent: Blk, index: int, role: str) -> Blk:
        ctx = CLOSURE if role == "body" else parent.ctx
        return self.make(code, (role, (index, parent.link)), False, ctx, parent.depth + 1)

    def start(self, block: Blk, index: int, found: object) -> None:
        # `grow` written out: its link is made only for the error (this runs once per instruction)
        self.size += 1
        if self.size > self.max_size:
            raise self.too_large((index, block.link))

    def malformed(self, block: Blk, index: int, found: object) -> None:
        here = (index, block.link)
        op = getattr(found, "label", None) if type(found) is Instr else None
        spec = SPECS.get(op) if isinstance(op, str) else None
        args = getattr(found, "kids", None)
        if spec is None or type(args) is not tuple:
            raise BytecodeError(unlink(here), "an instruction", _describe(found), "malformed code")
        want = len(spec.operands)
        raise BytecodeError(unlink(here), f"{op} with {want} argument(s)", f"{len(args)}", "malformed instruction",
                            spec.name)

    def value(self, v: Value, block: Blk, index: int) -> Node:
        return self.value_type(v, ("value", (index, block.link)), block.depth + 1)

    def emit(self, block: Blk, index: int, spec: InstrSpec, opcode: int, operand: Any) -> None:
        if spec.name == "RETURN" and index != block.last:
            raise BytecodeError(unlink((index + 1, block.link)), "RETURN to end its block",
                                f"{block.last - index} more instruction(s) after it",
                                "unreachable code after RETURN", spec.name)
        if block.ctx == CLOSURE and self.state_in_closure is None and spec.name in ("GET", "PUT"):
            self.state_in_closure = (index, block.link)
        block.ops.append((opcode, operand))

    def knot(self, state: T.Type, where: str) -> None:
        """Refuse closures that use the state when the state holds functions (Landin's knot)."""
        if self.state_in_closure is not None and any(isinstance(t, T.Fun) for t in walk(state)):
            # A closure that reads the state could fetch a closure kept there -- itself -- and call it
            # forever.  Closures that never touch the state cannot: with them, verified code halts.
            raise BytecodeError(unlink(self.state_in_closure), f"closures that leave the state alone, {where} "
                                f"holds functions ({state})", "GET or PUT in a closure's code",
                                "closures in the state could call themselves forever")

    def value_type(self, v: object, link: Any, depth: int) -> Node:
        """The principal type of machine value `v`; closures' code is queued for verification."""
        out: list[Node] = []
        todo: list[tuple[Any, Any, int, bool]] = [(v, link, depth, False)]
        while todo:
            x, where, d, ready = todo.pop()
            cls = type(x)
            if ready:
                if cls is Pair:
                    b = out.pop()
                    out.append(Node(PROD, out.pop(), b))
                elif cls is L:
                    out.append(Node(SUM, out.pop(), Node(VAR)))
                elif cls is R:
                    out.append(Node(SUM, Node(VAR), out.pop()))
                else:  # Closure: its body runs on Pair env z and returns r
                    env = out.pop()
                    z, r = Node(VAR), Node(VAR)
                    blk = self.block(x.kids[0], ("code", where), False, CLOSURE, d + 1)
                    self.work.append((blk, 0, Node(PROD, env, z), (Ret(None, 0, where, r), None)))
                    out.append(Node(FUN, z, r))
                continue
            self.grow(where)
            self.deep(d, where)
            kids = getattr(x, "kids", None)
            if cls not in _VALUE_ARITY or type(kids) is not tuple or len(kids) != _VALUE_ARITY[cls]:
                raise BytecodeError(unlink(where), "a machine value", _describe(x), "malformed value")
            if cls is IntV:
                n = getattr(x, "label", None)
                if type(n) is not int or not INT_MIN <= n <= INT_MAX:
                    raise BytecodeError(unlink(where), "a 64-bit Int", _describe(n), "malformed value")
                out.append(INT_NODE)
            elif not kids:
                out.append(UNIT_NODE)
            else:
                todo.append((x, where, d, True))
                fields = _VALUE_FIELDS[cls]
                for name, k in reversed(list(zip(fields, kids))):
                    if name != "code":
                        todo.append((k, (name, where), d + 1, False))
        return out[0]



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
    rigid: dict[str, Node] = {}
    state_n, input_n, out_n = (Node(VAR) if t is None else eng.from_type(t, rigid, True) for t in declared)
    eng.state, eng.out = state_n, out_n
    if type(code) is not Code:
        raise BytecodeError((), "Code", _describe(code), "not code")
    collecting = gc.isenabled()
    gc.disable()  # the verifier allocates many small objects and no garbage cycles; collections would cost 2x
    try:
        root = eng.block(code, None, True, TOP, 1)
        eng.drain()
        eng.work.append((root, 0, input_n, None))
        eng.work.reverse()  # the top level first, then closures met in QUOTEd values
        eng.run()
        sig = eng.to_types([state_n, input_n, out_n], ["state", "input", "output"], keep=rigid)
        eng.knot(sig[0], "as the state")
    except RecursionError:  # pragma: no cover - nothing here recurses; a last line of defence
        raise BytecodeError((), "code the verifier can handle", "a recursion overflow", "internal limit") from None
    finally:
        if collecting:
            gc.enable()
    return Signature(*sig)


class Remembered:
    """`verify` with the default limits, remembering the last `most` signatures it gave for code of at most
    `largest` instructions and operands (a node's: an upgrade checks its migration and down-migration at their
    roles, and a node going back and forth between versions meets the same code again; big code is not kept
    alive for it).  Refusals are not remembered: a code that fails is verified again each time.

    >>> v = Remembered()
    >>> code = Code([])
    >>> v(code, state="Int") is v(code, state=T.parse("Int"))
    True
    """

    def __init__(self, most: int = 64, largest: int = 10_000) -> None:
        self.most, self.largest = most, largest
        self.known: dict[tuple[Code, T.Type | None, T.Type | None, T.Type | None], Signature] = {}

    def __call__(self, code: Code, state: T.Type | str | None = None, input: T.Type | str | None = None,
                 output: T.Type | str | None = None) -> Signature:
        state, input, output = (None if t is None else _as_type(t) for t in (state, input, output))
        key = (code, state, input, output)
        sig = self.known.get(key) if type(code) is Code else None  # (an unhashable non-code: verify says so)
        if sig is None:
            sig = verify(code, state, input, output)
            if not larger(code, self.largest):
                if len(self.known) >= self.most:  # the oldest go (a copy: a worker thread may add meanwhile)
                    self.known = dict(list(self.known.items())[self.most // 2:])
                self.known[key] = sig
        return sig


# ---------------------------------------------------------------- machine values


def check_value(v: Value, t: T.Type | str, *, state: T.Type | str | None = None, max_size: int = MAX_SIZE,
                max_depth: int = MAX_DEPTH) -> None:
    """Raise `ValueTypeError` unless machine value `v` has type `t`.

    A type variable accepts any value, consistently: ``(a, a)`` needs both
    components of one type.  A closure has a function type when its code
    verifies with its environment at that type.  A closure's code may use
    ``GET``/``PUT``: give the program's `state` type, else the code must work
    whatever the state's type is (it may only move the state around), so
    that a closure passed in cannot change the type of the state.  When
    the given state holds functions, closures may not use ``GET``/``PUT``
    at all (see the module docstring: Landin's knot).
    """
    t = _as_type(t)
    eng = _Engine(max_size, max_depth, MAX_TYPE_SIZE)
    # The state's type (or an unknown one) is rigid: closures must not change it.
    eng.state = Node(RIGID, "state") if state is None else eng.from_type(_as_type(state), {}, True)
    names: dict[str, Node] = {}
    later: list[tuple[Path, Node, Node]] = []  # (path, value's type, wanted type): unified after the walk
    todo: list[tuple[Any, T.Type, Any, int]] = [(v, t, None, 1)]
    try:
        while todo:
            x, ty, link, depth = todo.pop()
            cls = type(x)
            if isinstance(ty, (T.Var, T.Fun)):
                node = eng.value_type(x, link, depth)
                later.append((unlink(link), node, eng.from_type(ty, names, False)))
                continue
            kids = getattr(x, "kids", None)
            if cls not in _VALUE_ARITY or type(kids) is not tuple or len(kids) != _VALUE_ARITY[cls]:
                raise ValueTypeError(unlink(link), str(ty), _describe(x), "not a machine value")
            eng.grow(link)
            eng.deep(depth, link)
            if ty == T.Unit:
                ok = cls is type(UnitV)
            elif ty == T.Int:
                n = getattr(x, "label", None)
                ok = cls is IntV and type(n) is int and INT_MIN <= n <= INT_MAX
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
                raise ValueTypeError(unlink(link), str(ty), _short(x))
        eng.drain()
        eng.run()
        for path, have, want in later:
            try:
                eng.unify(have, want, None)
            except Clash:
                exp, fnd = show([want, have])
                raise ValueTypeError(path, exp, f"a value of type {fnd}") from None
        eng.acyclic()  # e.g. L Unit at both a and Either () a
        if state is not None:  # (an unknown state is rigid: closures can only move it around)
            eng.knot(_as_type(state), "the program's state")
    except BytecodeError as e:
        raise ValueTypeError(e.path, "a well-formed value whose closures verify", str(e), "bad value") from None


def _short(x: Any) -> str:
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
