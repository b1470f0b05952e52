"""CAM code and machine values: the one instruction table, the one decoder, the printed form.

Each instruction is one row of `INSTRUCTIONS`: its name, the kind of operand
it carries (none, a value, a block, a pair of blocks) and whether it is one
of the reference machine's 21 instructions (``SUB``, ``MUL``, ``LT``, ``EQ``
and ``DIVMOD`` are not: a reference node refuses code that uses them).  Everything else reads that
table: `Instr` checks operands by it, the text and JSON forms (`cam.text`)
parse by it, and `Decoder` -- the one decoder of `Code`, used by the machine,
the verifier and the proofs' symbolic machine -- turns code into blocks of
``(opcode, operand)`` by it, where an opcode is the row's index.

The text form is the reference's (Haskell ``show``) syntax, exactly (`cam.text` reads it):

>>> code = Code([ID, BRANCH([ID, GET, INR, RETURN], [QUOTE(IntV(-3)), RETURN])])
>>> to_text(code)
'[ID,BRANCH [ID,GET,INR,RETURN] [QUOTE (Int (-3)),RETURN]]'
>>> to_text(Pair(IntV(1), L(UnitV)))
'Pair (Int 1) (L Unit)'
>>> INSTRUCTIONS[OPCODE["BRANCH"]]
InstrSpec(name='BRANCH', operand='blocks', reference=True)

Everything here works without recursion, so deeply nested code and values
(from deep terms, or from an attacker) cannot overflow the Python stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar, overload

from catlib.tree import Tree, leaves_joined, render, set_hash, set_kids, set_label
from catlib.values import INT_MAX, INT_MIN

__all__ = [
    "Value", "UnitV", "IntV", "Pair", "L", "R", "Closure", "Instr", "Code", "InstrSpec", "INSTRUCTIONS", "OPCODE",
    "OPS", "SIMPLE_OPS", "REFERENCE_OPS", "NONE", "VALUE", "BLOCK", "BLOCKS", "Decoder", "QUOTE", "BRANCH", "CURRY",
    "to_text",
] + ["ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "ADD", "APP",
     "INL", "INR", "RETURN", "PUSH", "ROT", "GET", "PUT", "SUB", "MUL", "LT", "EQ", "DIVMOD"]


# ---------------------------------------------------------------- values


class Value(Tree):
    """A machine value: `UnitV`, `IntV`, `Pair`, `L`, `R` or `Closure`."""

    __slots__ = ()

    def __str__(self) -> str:
        return to_text(self)

    def __repr__(self) -> str:
        return _repr(self)


class _UnitValue(Value):
    __slots__ = ()

    def _leaf_repr(self) -> str:
        return "UnitV"

    def __reduce__(self) -> str:
        return "UnitV"  # pickle by name: unpickling gives the singleton back (the machine tests `is UnitV`)


UnitV: Value = _UnitValue()


class IntV(Value):
    """A 64-bit machine integer."""

    __slots__ = ()
    __match_args__ = ("n",)

    def __init__(self, n: int) -> None:
        if type(n) is not int or not INT_MIN <= n <= INT_MAX:
            raise ValueError(f"IntV needs a 64-bit int, not {n!r}")
        # `Tree.__init__` inlined in the hot constructors (the same slots and hash: see `catlib.tree.set_kids`)
        set_kids(self, ())
        set_label(self, n)
        set_hash(self, hash((type(self).__name__, n)))

    @property
    def n(self) -> int:
        return self.label  # type: ignore[return-value]


class Pair(Value):
    """``Pair v w``."""

    __slots__ = ()
    __match_args__ = ("left", "right")

    def __init__(self, left: Value, right: Value) -> None:
        if not (isinstance(left, Value) and isinstance(right, Value)):
            _value(left), _value(right)  # type: ignore[unreachable]  # callers without type hints get here
        set_kids(self, (left, right))
        set_label(self, None)
        set_hash(self, hash((type(self).__name__, None, left._hash, right._hash)))

    left = property(lambda self: self.kids[0])
    right = property(lambda self: self.kids[1])


class _Injection(Value):
    __slots__ = ()
    __match_args__ = ("value",)

    def __init__(self, value: Value) -> None:
        if not isinstance(value, Value):
            _value(value)  # type: ignore[unreachable]  # raises
        set_kids(self, (value,))
        set_label(self, None)
        set_hash(self, hash((type(self).__name__, None, value._hash)))

    value = property(lambda self: self.kids[0])


class L(_Injection):
    """``L v``: a left injection."""

    __slots__ = ()


class R(_Injection):
    """``R v``: a right injection."""

    __slots__ = ()


class Closure(Value):
    """``Closure code env``: made by ``CURRY``, entered by ``APP``."""

    __slots__ = ()
    __match_args__ = ("code", "env")

    def __init__(self, code: Code, env: Value) -> None:
        if not isinstance(code, Code):
            raise TypeError(f"Closure needs Code, not {code!r}")
        super().__init__(code, _value(env))

    code = property(lambda self: self.kids[0])
    env = property(lambda self: self.kids[1])


def _value(v: object) -> Value:
    if not isinstance(v, Value):
        raise TypeError(f"expected a machine Value, not {v!r}")
    return v


# ---------------------------------------------------------------- the instruction table

NONE, VALUE, BLOCK, BLOCKS = "none", "value", "block", "blocks"
"""Operand kinds: no operand, a `Value` (``QUOTE``), a `Code` block (``CURRY``), two blocks (``BRANCH``)."""

_OPERANDS = {NONE: (), VALUE: ("value",), BLOCK: ("code",), BLOCKS: ("code", "code")}


class InstrSpec(NamedTuple):
    """One row of the instruction table: `name`, `operand` kind, and whether the `reference` machine has it."""

    name: str
    operand: str
    reference: bool

    @property
    def operands(self) -> tuple[str, ...]:
        """The operands' kinds, one per argument: ``"value"`` or ``"code"``."""
        return _OPERANDS[self.operand]


INSTRUCTIONS: tuple[InstrSpec, ...] = (
    InstrSpec("ID", NONE, True), InstrSpec("FST", NONE, True), InstrSpec("SND", NONE, True),
    InstrSpec("COPY", NONE, True), InstrSpec("CONSUME", NONE, True), InstrSpec("FIRST", NONE, True),
    InstrSpec("SECOND", NONE, True), InstrSpec("CONS", NONE, True), InstrSpec("SWAP", NONE, True),
    InstrSpec("QUOTE", VALUE, True), InstrSpec("ADD", NONE, True), InstrSpec("APP", NONE, True),
    InstrSpec("CURRY", BLOCK, True), InstrSpec("INL", NONE, True), InstrSpec("INR", NONE, True),
    InstrSpec("BRANCH", BLOCKS, True), InstrSpec("RETURN", NONE, True), InstrSpec("PUSH", NONE, True),
    InstrSpec("ROT", NONE, True), InstrSpec("GET", NONE, True), InstrSpec("PUT", NONE, True),
    # beyond the reference: this package's integer primitives (`catlib.free.Sub` ...)
    InstrSpec("SUB", NONE, False), InstrSpec("MUL", NONE, False), InstrSpec("LT", NONE, False),
    InstrSpec("EQ", NONE, False), InstrSpec("DIVMOD", NONE, False),
)
"""Every instruction, in the reference's order; an instruction's opcode is its index here.

An instruction beyond the reference's 21 gets a row with ``reference=False``
(so that code meant for a reference node can be checked to avoid it)."""

OPCODE: dict[str, int] = {spec.name: i for i, spec in enumerate(INSTRUCTIONS)}
"""Opcode by name."""
SPECS: dict[str, InstrSpec] = {spec.name: spec for spec in INSTRUCTIONS}
OPS: tuple[str, ...] = tuple(spec.name for spec in INSTRUCTIONS)
"""Every instruction's name, in table order."""
REFERENCE_OPS: tuple[str, ...] = tuple(spec.name for spec in INSTRUCTIONS if spec.reference)
"""The instructions of the reference machine."""
SIMPLE_OPS: tuple[str, ...] = tuple(spec.name for spec in INSTRUCTIONS if spec.operand == NONE)
"""Instructions without an operand."""


class Instr(Tree):
    """One instruction: a row of `INSTRUCTIONS` and its operands (a value, or code blocks)."""

    __slots__ = ()

    def __init__(self, op: str, *args: Tree) -> None:
        kinds = _KINDS.get(op)
        if kinds is None:
            raise ValueError(f"unknown instruction {op!r}")
        n = len(args)
        # (one or two operands checked without a generator: most instructions have none, the rest one or two)
        if n != len(kinds) or n and not (isinstance(args[0], kinds[0]) and (
                n == 1 or isinstance(args[1], kinds[1]) and (n == 2 or all(map(isinstance, args, kinds))))):
            want = ", ".join(k.__name__ for k in kinds) or "no argument"
            raise TypeError(f"{op} takes {want}, not {args!r}")
        _filled(self, op, args)

    @classmethod
    def of(cls, op: str, *args: Tree) -> Instr:
        """``Instr(op, *args)`` for operands the caller made of the right kinds (the parsers do): not checked."""
        return _filled(cls.__new__(cls), op, args)

    @property
    def op(self) -> str:
        return self.label  # type: ignore[return-value]

    def __repr__(self) -> str:
        return _repr(self)

    def __str__(self) -> str:
        return to_text(self)


def _filled(instr: Instr, op: str, args: tuple[Tree, ...]) -> Instr:
    """`instr` with its slots set as `Tree.__init__` sets them (see `catlib.tree.set_kids`)."""
    set_kids(instr, args)
    set_label(instr, op)
    set_hash(instr, hash(("Instr", op, *[a._hash for a in args])))  # (no subclass of Instr: the name is known)
    return instr


class Code(Tree):
    """A sequence of instructions (immutable, hashable, comparable).

    >>> Code([ID, GET]) + Code([INR])
    Code([ID, GET, INR])
    """

    __slots__ = ()

    def __init__(self, instrs: Iterable[Instr] = ()) -> None:
        instrs = tuple(instrs)
        if not set(map(type, instrs)) <= _JUST_INSTR:  # the common case checked at C speed
            for i in instrs:
                if not isinstance(i, Instr):
                    raise TypeError(f"Code holds instructions, not {i!r}")
        set_kids(self, instrs)
        set_label(self, None)
        set_hash(self, hash((type(self).__name__, None, *[i._hash for i in instrs])))

    @classmethod
    def of(cls, instrs: Iterable[Instr]) -> Code:
        """The code of `instrs`, which the caller made of instructions only (the compiler does): not checked
        one by one.  Otherwise the same as ``Code(instrs)``."""
        code = cls.__new__(cls)
        Tree.__init__(code, *instrs)
        return code

    def __iter__(self) -> Iterator[Instr]:
        return iter(self.kids)

    def __len__(self) -> int:
        return len(self.kids)

    @overload
    def __getitem__(self, i: int) -> Instr: ...
    @overload
    def __getitem__(self, i: slice) -> Code: ...
    def __getitem__(self, i: int | slice) -> Instr | Code:
        return Code(self.kids[i]) if isinstance(i, slice) else self.kids[i]

    def __add__(self, other: Code) -> Code:
        return Code(self.kids + tuple(other))

    def __repr__(self) -> str:
        return _repr(self)

    def __str__(self) -> str:
        return to_text(self)


_KINDS: dict[str, tuple[type, ...]] = {
    spec.name: tuple(Value if k == "value" else Code for k in spec.operands) for spec in INSTRUCTIONS}
"""The classes of each instruction's operands, by name."""
_JUST_INSTR = {Instr}

_ROWS: dict[str, tuple[InstrSpec, int, int, str, tuple[int, None] | None]] = {
    spec.name: (spec, OPCODE[spec.name], len(spec.operands), spec.operand,
                (OPCODE[spec.name], None) if spec.operand == NONE else None) for spec in INSTRUCTIONS}
"""For the decoder, by name: the row, its opcode, how many operands, their kind, its shared decoded form."""


def QUOTE(v: Value) -> Instr:
    """``QUOTE v``: the accumulator becomes `v`."""
    return Instr("QUOTE", v)


def BRANCH(c: Code | Iterable[Instr], d: Code | Iterable[Instr]) -> Instr:
    """``BRANCH c d``: run `c` on ``L x``, `d` on ``R x``; each block ends in ``RETURN``."""
    return Instr("BRANCH", c if isinstance(c, Code) else Code(c), d if isinstance(d, Code) else Code(d))


def CURRY(c: Code | Iterable[Instr]) -> Instr:
    """``CURRY c``: make a closure of `c` over the accumulator."""
    return Instr("CURRY", c if isinstance(c, Code) else Code(c))


SIMPLE: dict[str, Instr] = {op: Instr(op) for op in SIMPLE_OPS}
"""The instructions without operand, by name: parsers share these instead of building new ones."""

_PLAIN_BY_ID: dict[int, tuple[int, None] | None] = {id(i): _ROWS[op][4] for op, i in SIMPLE.items()}
"""The decoded form of each `SIMPLE` instruction (alive there: ids not reused), by identity, for the decoder."""

(ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, ADD, APP, INL, INR, RETURN, PUSH, ROT, GET, PUT,
 SUB, MUL, LT, EQ, DIVMOD) = (
    SIMPLE[op] for op in ("ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "ADD",
                          "APP", "INL", "INR", "RETURN", "PUSH", "ROT", "GET", "PUT",
                          "SUB", "MUL", "LT", "EQ", "DIVMOD"))


# ---------------------------------------------------------------- the decoder

B = TypeVar("B")


class Decoder(Generic[B]):
    """The one decoder of `Code`: fills blocks with ``(opcode, operand)``, nested blocks included, iteratively.

    A subclass says what a block is (`new_block`: a fresh, empty, list-like
    block for `code`, made when its parent is decoded) and what a ``QUOTE``d
    value becomes (`value`); an operand is then None, that value, a block or
    a pair of blocks, as the instruction's row says.  `queue` a root block and
    `drain`: blocks met inside blocks (and inside values, if `value` queues
    the code of closures) are decoded from one explicit stack, so no nesting
    reaches Python's recursion limit.

    >>> class Plain(Decoder[list]):
    ...     def new_block(self, code, parent, index, role): return []
    ...     def value(self, v, block, index): return to_text(v)
    >>> d = Plain(); root = d.queue(Code([QUOTE(IntV(1)), BRANCH([INL], [])]), []); d.drain(); root
    [(9, 'Int 1'), (15, ([(13, None)], []))]
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Code, B]] = []

    def new_block(self, code: Code, parent: B, index: int, role: str) -> B:
        """A new block for `code`, the operand `role` (``left``/``right``/``body``) of instruction `index` of `parent`."""
        raise NotImplementedError

    def value(self, v: Value, block: B, index: int) -> Any:
        """The decoded operand of ``QUOTE v`` at `index` of `block` (default: `v` itself)."""
        return v

    def emit(self, block: B, index: int, spec: InstrSpec, opcode: int, operand: Any) -> None:
        """Add instruction `index`, decoded, to `block`."""
        block.append((opcode, operand))  # type: ignore[attr-defined]

    def start(self, block: B, index: int, found: object) -> None:
        """Called first for each instruction, well-formed or not (default: nothing)."""

    def malformed(self, block: B, index: int, found: object) -> None:
        """`found`, at `index` of `block`, is not a well-formed instruction (the default raises `TypeError`)."""
        raise TypeError(f"not an instruction: {found!r}")

    def queue(self, code: Code, block: B) -> B:
        """Decode `code` into `block` at the next `drain`."""
        self.pending.append((code, block))
        return block

    def drain(self) -> None:
        """Decode every queued block, and the blocks they lead to."""
        pending = self.pending
        # hooks looked up once: `start` is skipped where a subclass leaves it a no-op, and `emit` inlined where
        # it is the default (the machine's), which also finds the shared `SIMPLE` instructions by identity
        start = None if type(self).start is Decoder.start else self.start
        emit = None if type(self).emit is Decoder.emit else self.emit
        rows, plain_of = _ROWS, _PLAIN_BY_ID.get
        while pending:
            code, block = pending.pop()
            append = block.append if emit is None else None  # type: ignore[attr-defined]
            for i, ins in enumerate(code.kids):
                if start is not None:
                    start(block, i, ins)
                plain = plain_of(id(ins)) if append is not None else None
                if plain is None:
                    row = rows.get(ins.label) if type(ins) is Instr else None  # type: ignore[call-overload]
                    args = getattr(ins, "kids", None)
                    if row is None or type(args) is not tuple or len(args) != row[2]:
                        self.malformed(block, i, ins)
                        continue
                    spec, opcode, _, kind, plain = row
                    if kind == NONE:
                        operand: Any = None
                    elif kind == VALUE:
                        operand = self.value(args[0], block, i)
                    elif kind == BLOCK:
                        operand = self.queue(args[0], self.new_block(args[0], block, i, "body"))
                    else:
                        operand = (self.queue(args[0], self.new_block(args[0], block, i, "left")),
                                   self.queue(args[1], self.new_block(args[1], block, i, "right")))
                    if append is None:
                        emit(block, i, spec, opcode, operand)  # type: ignore[misc]
                        continue
                    plain = plain or (opcode, operand)
                append(plain)  # type: ignore[misc]


# ---------------------------------------------------------------- printing


def _repr(tree: Value | Instr | Code) -> str:
    """The repr of code, an instruction or a value, which evaluates back (with ``from cam.code import *``).

    Tree's generic repr would show ``Code(ID, GET)``, also for code inside a
    closure; pieces are written from an explicit stack, so deep code and
    values print in linear time and without recursion.

    >>> Closure(Code([ID, BRANCH([QUOTE(IntV(-1))], [])]), Pair(UnitV, L(UnitV)))
    Closure(Code([ID, BRANCH(Code([QUOTE(IntV(-1))]), Code([]))]), Pair(UnitV, L(UnitV)))
    """
    return render(tree, _repr_pieces)


def _repr_pieces(x: Tree) -> list[Any]:
    if not x.kids and type(x) is not Code:
        return [_leaf(x)]
    if type(x) is Code:
        return leaves_joined("Code([", x.kids, "])", _leaf)
    return leaves_joined((x.label if type(x) is Instr else type(x).__name__) + "(", x.kids, ")", _leaf)  # type: ignore[operator]


def _leaf(x: Tree) -> str:
    """The text of a tree without kids: a plain instruction, an empty block, a leaf value."""
    return x.label if type(x) is Instr else "Code([])" if type(x) is Code else x._leaf_repr()  # type: ignore[return-value]


def to_text(x: Value | Instr | Code) -> str:
    """The reference's text form of a value, an instruction or code."""
    return render((x, False), _text_pieces)


def _text_pieces(item: tuple[Tree, bool]) -> list[Any]:
    # an item is (tree, whether it is a constructor's argument); neighbouring strings joined and a block's
    # instructions written in its own pieces (an instruction is an item only at the top): fewer items for `render`
    t, arg = item
    if type(t) is Code:
        out: list[Any] = []
        text, sep = "[", ""
        for k in t.kids:
            text += sep + k.label
            if k.kids:
                text = _operands(k.kids, text, out)
            sep = ","
        out.append(text + "]")
        return out
    if t is UnitV:
        return ["Unit"]
    if type(t) is IntV:
        n = t.label
        s = f"Int {n}" if n >= 0 else f"Int ({n})"  # type: ignore[operator]
        return [f"({s})" if arg else s]
    if not t.kids:  # (an instruction without operands, or a value of a subclass: by its name)
        return [t.label if type(t) is Instr else type(t).__name__]
    name = t.label if type(t) is Instr else type(t).__name__  # (an instruction is never an argument)
    out = []
    out.append(_operands(t.kids, "(" + name if arg else name, out) + (")" if arg else ""))  # type: ignore[arg-type, operator]
    return out


def _operands(kids: tuple[Tree, ...], text: str, out: list[Any]) -> str:
    """Add a constructor's or an instruction's operands to `out`, after `text`; the text left to add after them."""
    for k in kids:
        if type(k) is Code and not any([i.kids for i in k.kids]):  # a block of plain instructions: its text now
            text += " [" + ",".join([i.label for i in k.kids]) + "]"
        else:
            out += (text + " ", (k, True))
            text = ""
    return text
