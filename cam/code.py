"""CAM instructions and machine values, in the reference's text syntax and in JSON.

The text form is the reference's (Haskell ``show``) syntax, exactly:

>>> code = parse_code("[ID,BRANCH [ID,GET,INR,RETURN] [QUOTE (Int (-3)),RETURN]]")
>>> to_text(code)
'[ID,BRANCH [ID,GET,INR,RETURN] [QUOTE (Int (-3)),RETURN]]'
>>> to_text(parse_value("Pair (Int 1) (L Unit)"))
'Pair (Int 1) (L Unit)'
>>> from_json(to_json(code)) == code
True
>>> quote((1, Left(()))), unquote(Pair(Int(1), L(Unit)))
(Pair(Int(1), L(Unit)), (1, Left(())))

Malformed text raises `ParseError` with the position and what was expected:

>>> parse_code("[ID,FOO]")
Traceback (most recent call last):
  ...
cam.code.ParseError: at position 4: expected an instruction, found 'FOO'

Everything here works without recursion, so deeply nested code and values
(from deep terms, or from an attacker) cannot overflow the Python stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, overload

from catlib.tree import Tree, joined, render
from catlib.values import INT_MAX, INT_MIN, Left, Right

__all__ = [
    "Value", "Unit", "Int", "Pair", "L", "R", "Closure", "Instr", "Code", "OPS", "SIMPLE_OPS",
    "QUOTE", "BRANCH", "CURRY", "ParseError", "to_text", "parse_code", "parse_value", "to_json",
    "from_json", "digest", "quote", "unquote", "JSON_FORMAT", "JSON_VERSION",
] + ["ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "ADD", "APP",
     "INL", "INR", "RETURN", "PUSH", "ROT", "GET", "PUT"]


# ---------------------------------------------------------------- values


class Value(Tree):
    """A machine value: `Unit`, `Int`, `Pair`, `L`, `R` or `Closure`."""

    __slots__ = ()

    def __str__(self) -> str:
        return to_text(self)

    def __repr__(self) -> str:
        return _repr(self)


class _UnitValue(Value):
    __slots__ = ()

    def _leaf_repr(self) -> str:
        return "Unit"

    def __reduce__(self) -> str:
        return "Unit"  # pickle by name: unpickling gives the singleton back (the machine tests `is Unit`)


Unit: Value = _UnitValue()


class Int(Value):
    """A 64-bit machine integer."""

    __slots__ = ()
    __match_args__ = ("n",)

    def __init__(self, n: int) -> None:
        if type(n) is not int or not INT_MIN <= n <= INT_MAX:
            raise ValueError(f"Int needs a 64-bit int, not {n!r}")
        super().__init__(label=n)

    @property
    def n(self) -> int:
        return self.label  # type: ignore[return-value]


class Pair(Value):
    """``Pair v w``."""

    __slots__ = ()
    __match_args__ = ("left", "right")

    def __init__(self, left: Value, right: Value) -> None:
        super().__init__(_value(left), _value(right))

    left = property(lambda self: self.kids[0])
    right = property(lambda self: self.kids[1])


class L(Value):
    """``L v``: a left injection."""

    __slots__ = ()
    __match_args__ = ("value",)

    def __init__(self, value: Value) -> None:
        super().__init__(_value(value))

    value = property(lambda self: self.kids[0])


class R(Value):
    """``R v``: a right injection."""

    __slots__ = ()
    __match_args__ = ("value",)

    def __init__(self, value: Value) -> None:
        super().__init__(_value(value))

    value = property(lambda self: self.kids[0])


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


# ---------------------------------------------------------------- instructions

OPS = ("ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "QUOTE", "ADD",
       "APP", "CURRY", "INL", "INR", "BRANCH", "RETURN", "PUSH", "ROT", "GET", "PUT")
"""The 21 instructions of the reference machine."""

SIMPLE_OPS = tuple(op for op in OPS if op not in ("QUOTE", "BRANCH", "CURRY"))
"""Instructions without an argument."""


class Instr(Tree):
    """One instruction; `QUOTE`, `BRANCH` and `CURRY` carry a value or code blocks."""

    __slots__ = ()

    def __init__(self, op: str, *args: Tree) -> None:
        arity = _INSTR_ARGS.get(op, ())
        if op not in OPS:
            raise ValueError(f"unknown instruction {op!r}")
        if len(args) != len(arity) or not all(isinstance(a, k) for a, k in zip(args, arity)):
            want = ", ".join(k.__name__ for k in arity) or "no argument"
            raise TypeError(f"{op} takes {want}, not {args!r}")
        super().__init__(*args, label=op)

    @property
    def op(self) -> str:
        return self.label  # type: ignore[return-value]

    def __repr__(self) -> str:
        return _repr(self)

    def __str__(self) -> str:
        return to_text(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Instr, (self.op, *self.kids))


class Code(Tree):
    """A sequence of instructions (immutable, hashable, comparable).

    >>> Code([ID, GET]) + Code([INR])
    Code([ID, GET, INR])
    """

    __slots__ = ()

    def __init__(self, instrs: Iterable[Instr] = ()) -> None:
        instrs = tuple(instrs)
        for i in instrs:
            if not isinstance(i, Instr):
                raise TypeError(f"Code holds instructions, not {i!r}")
        super().__init__(*instrs)

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

    def __reduce__(self) -> tuple[Any, ...]:
        return (Code, (self.kids,))


def _repr(tree: Value | Instr | Code) -> str:
    """The repr of code, an instruction or a value, which evaluates back (with ``from cam.code import *``).

    Tree's generic repr would show ``Code(ID, GET)``, also for code inside a
    closure; pieces are written from an explicit stack, so deep code and
    values print in linear time and without recursion.

    >>> Closure(Code([ID, BRANCH([QUOTE(Int(-1))], [])]), Pair(Unit, L(Unit)))
    Closure(Code([ID, BRANCH(Code([QUOTE(Int(-1))]), Code([]))]), Pair(Unit, L(Unit)))
    """
    return render(tree, _repr_pieces)


def _repr_pieces(x: Tree) -> list[Any]:
    if isinstance(x, Code):
        return ["Code([", *joined(x.kids, ", "), "])"]
    if not x.kids:
        return [x.op if isinstance(x, Instr) else x._leaf_repr()]
    return [(x.op if isinstance(x, Instr) else type(x).__name__) + "(", *joined(x.kids, ", "), ")"]


_INSTR_ARGS: dict[str, tuple[type, ...]] = {"QUOTE": (Value,), "BRANCH": (Code, Code), "CURRY": (Code,)}


def QUOTE(v: Value) -> Instr:
    """``QUOTE v``: the accumulator becomes `v`."""
    return Instr("QUOTE", v)


def BRANCH(c: Code | Iterable[Instr], d: Code | Iterable[Instr]) -> Instr:
    """``BRANCH c d``: run `c` on ``L x``, `d` on ``R x``; each block ends in ``RETURN``."""
    return Instr("BRANCH", c if isinstance(c, Code) else Code(c), d if isinstance(d, Code) else Code(d))


def CURRY(c: Code | Iterable[Instr]) -> Instr:
    """``CURRY c``: make a closure of `c` over the accumulator."""
    return Instr("CURRY", c if isinstance(c, Code) else Code(c))


ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, ADD, APP, INL, INR, RETURN, PUSH, ROT, GET, PUT = (
    Instr(op) for op in ("ID", "FST", "SND", "COPY", "CONSUME", "FIRST", "SECOND", "CONS", "SWAP", "ADD",
                         "APP", "INL", "INR", "RETURN", "PUSH", "ROT", "GET", "PUT")
)
_SIMPLE = {i.op: i for i in (ID, FST, SND, COPY, CONSUME, FIRST, SECOND, CONS, SWAP, ADD, APP, INL, INR, RETURN,
                              PUSH, ROT, GET, PUT)}
"""The instructions without argument, by name: parsers share these instead of building new ones."""


# ---------------------------------------------------------------- text form


def to_text(x: Value | Instr | Code) -> str:
    """The reference's text form of a value, an instruction or code."""
    return render((x, False), _text_pieces)


def _text_pieces(item: tuple[Tree, bool]) -> list[Any]:
    # an item is (tree, whether it stands as a constructor's argument)
    t, arg = item
    if isinstance(t, Code):
        return ["[", *joined([(k, False) for k in t.kids], ","), "]"]
    if isinstance(t, _UnitValue):
        return ["Unit"]
    if isinstance(t, Int):
        s = f"Int {t.n}" if t.n >= 0 else f"Int ({t.n})"
        return [f"({s})" if arg else s]
    head = t.op if isinstance(t, Instr) else type(t).__name__
    body = [head, *(p for k in t.kids for p in (" ", (k, True)))]
    return ["(", *body, ")"] if arg and not isinstance(t, Instr) else body


class ParseError(ValueError):
    """Malformed text or JSON: `position` (or JSON path), what was `expected`, what was `found`."""

    def __init__(self, position: int | str, expected: str, found: str) -> None:
        self.position, self.expected, self.found = position, expected, found
        where = f"at position {position}" if isinstance(position, int) else f"at {position}"
        super().__init__(f"{where}: expected {expected}, found {found}")


# A name runs on over digits, so ``Int1`` is one (unknown) token, as in Haskell's lexer.
_TOKEN = re.compile(r"\s*(?:(\[|\]|,|\(|\))|(-?[0-9]+)|([A-Za-z][A-Za-z0-9_']*)|(\S))")


def _tokens(text: str) -> list[tuple[int, str]]:
    toks = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing white space is left
            break
        kind = m.lastindex  # the one group that matched
        if kind == 4:
            raise ParseError(m.start(4), "a token", repr(m.group(4)))
        toks.append((m.start(kind), m.group(kind)))
        pos = m.end()
    toks.append((n, "<end of input>"))
    return toks


_ARITY = {"Pair": ("varg", "varg"), "L": ("varg",), "R": ("varg",), "Closure": ("code", "varg"),
          "QUOTE": ("varg",), "BRANCH": ("code", "code"), "CURRY": ("code",)}


def _build(head: str, args: list[Any]) -> Any:
    if head == "Pair":
        return Pair(*args)
    if head == "L":
        return L(args[0])
    if head == "R":
        return R(args[0])
    if head == "Closure":
        return Closure(*args)
    return Instr(head, *args)


def _parse(text: str, start: str) -> Any:
    if not isinstance(text, str):
        raise ParseError(0, "text", type(text).__name__)
    toks = _tokens(text)
    i = 0
    # frames: [head, remaining wants, collected args]; heads "[" (code) and "(" (parenthesised)
    frames: list[list[Any]] = []
    want = start
    while True:
        pos, tok = toks[i]
        item: Any = None
        done = False
        if want == "code":
            if tok != "[":
                raise ParseError(pos, "'[' to start code", repr(tok))
            i += 1
            if toks[i][1] == "]":
                i += 1
                item, done = Code(), True
            else:
                frames.append(["[", None, []])
                want = "instr"
        elif want == "instr":
            i += 1
            if tok in _SIMPLE:
                item, done = _SIMPLE[tok], True
            elif tok in ("QUOTE", "BRANCH", "CURRY"):
                frames.append([tok, list(_ARITY[tok]), []])
                want = frames[-1][1].pop(0)
            else:
                raise ParseError(pos, "an instruction", repr(tok))
        elif want in ("varg", "value"):
            i += 1
            if tok == "Unit":
                item, done = Unit, True
            elif tok == "(":
                frames.append(["(", None, []])
                want = "value"
            elif want == "varg":
                raise ParseError(pos, "Unit or a parenthesised value", repr(tok))
            elif tok == "Int":
                pos, tok = toks[i]
                if re.fullmatch(r"[0-9]+", tok):
                    n = int(tok)
                    i += 1
                elif tok == "(" and re.fullmatch(r"-[0-9]+", toks[i + 1][1]) and toks[i + 2][1] == ")":
                    pos, tok = toks[i + 1]
                    n = int(tok)
                    i += 3
                else:
                    raise ParseError(pos, "a number or (-number) after Int", repr(tok))
                if not INT_MIN <= n <= INT_MAX:
                    raise ParseError(pos, "a 64-bit integer", tok)
                item, done = Int(n), True
            elif tok in ("Pair", "L", "R", "Closure"):
                frames.append([tok, list(_ARITY[tok]), []])
                want = frames[-1][1].pop(0)
            else:
                raise ParseError(pos, "a value (Unit, Int, Pair, L, R or Closure)", repr(tok))
        # deliver finished items to the frames that wait for them
        while done:
            if not frames:
                pos, tok = toks[i]
                if tok != "<end of input>":
                    raise ParseError(pos, "end of input", repr(tok))
                return item
            frame = frames[-1]
            head = frame[0]
            if head == "[":
                frame[2].append(item)
                pos, tok = toks[i]
                i += 1
                if tok == ",":
                    want, done = "instr", False
                elif tok == "]":
                    frames.pop()
                    item = Code(frame[2])
                else:
                    raise ParseError(pos, "',' or ']'", repr(tok))
            elif head == "(":
                pos, tok = toks[i]
                if tok != ")":
                    raise ParseError(pos, "')'", repr(tok))
                i += 1
                frames.pop()
            else:
                frame[2].append(item)
                if frame[1]:
                    want, done = frame[1].pop(0), False
                else:
                    frames.pop()
                    item = _build(head, frame[2])


def parse_code(text: str) -> Code:
    """Parse code in the reference's text form, e.g. ``[ID,QUOTE (Int 1)]``."""
    return _parse(text, "code")  # type: ignore[no-any-return]


def parse_value(text: str) -> Value:
    """Parse a value in the reference's text form, e.g. ``Pair (Int 1) Unit``."""
    return _parse(text, "value")  # type: ignore[no-any-return]


# ---------------------------------------------------------------- JSON form

JSON_FORMAT, JSON_VERSION = "cam-bytecode", 1


def _json_body(x: Value | Instr | Code) -> str:
    """Compact JSON of `x`, written without recursion (``json.dumps`` recurses)."""
    return render(x, _json_pieces)


def _json_pieces(t: Tree) -> list[Any]:
    if isinstance(t, Code):
        return ["[", *joined(t.kids, ","), "]"]
    if isinstance(t, _UnitValue):
        return ['"Unit"']
    if isinstance(t, Int):
        return [f'{{"Int":{t.n}}}']
    if isinstance(t, Instr) and not t.kids:
        return [f'"{t.op}"']
    name = t.op if isinstance(t, Instr) else type(t).__name__
    if len(t.kids) == 1:
        return [f'{{"{name}":', t.kids[0], "}"]
    return [f'{{"{name}":[', *joined(t.kids, ","), "]}"]


def to_json(x: Code | Value) -> str:
    """JSON text: ``{"format":"cam-bytecode","version":1,"code":[...]}`` (or ``"value"``).

    Instructions are ``"ID"``, ``{"QUOTE": v}``, ``{"BRANCH": [c, d]}``,
    ``{"CURRY": c}``; values ``"Unit"``, ``{"Int": n}``, ``{"Pair": [v, w]}``,
    ``{"L": v}``, ``{"R": v}``, ``{"Closure": [code, v]}``.
    """
    key = "code" if isinstance(x, Code) else "value"
    return f'{{"format":"{JSON_FORMAT}","version":{JSON_VERSION},"{key}":{_json_body(x)}}}'


def _from_plain(data: Any, start: str) -> Any:
    # explicit stack: ("code", list, path) / ("instr", obj, path) / ("value", obj, path) / build markers
    out: list[Any] = []
    todo: list[tuple[str, Any, str]] = [(start, data, "$")]

    def bad(path: str, expected: str, found: Any) -> ParseError:
        text = json.dumps(found)
        return ParseError(path, expected, text if len(text) < 60 else text[:57] + "...")

    while todo:
        kind, x, path = todo.pop()
        if kind == "build":
            head, n = x
            args = out[len(out) - n:]
            del out[len(out) - n:]
            out.append(Code(args) if head == "code" else _build(head, args))
            continue
        if kind == "code":
            if not isinstance(x, list):
                raise bad(path, "a list of instructions", x)
            todo.append(("build", ("code", len(x)), path))
            todo.extend(("instr", ins, f"{path}[{j}]") for j, ins in reversed(list(enumerate(x))))
            continue
        if kind == "instr":
            if isinstance(x, str) and x in _SIMPLE:
                out.append(_SIMPLE[x])
                continue
            if not (isinstance(x, dict) and len(x) == 1 and next(iter(x)) in ("QUOTE", "BRANCH", "CURRY")):
                raise bad(path, "an instruction", x)
            head, arg = next(iter(x.items()))
        else:
            if x == "Unit":
                out.append(Unit)
                continue
            if not (isinstance(x, dict) and len(x) == 1 and next(iter(x)) in ("Int", "Pair", "L", "R", "Closure")):
                raise bad(path, "a value", x)
            head, arg = next(iter(x.items()))
            if head == "Int":
                if type(arg) is not int or not INT_MIN <= arg <= INT_MAX:
                    raise bad(path + ".Int", "a 64-bit integer", arg)
                out.append(Int(arg))
                continue
        wants = _ARITY[head]
        args = [arg] if len(wants) == 1 else arg
        if not isinstance(args, list) or len(args) != len(wants):
            raise bad(f"{path}.{head}", f"{len(wants)} arguments", arg)
        todo.append(("build", (head, len(wants)), path))
        todo.extend((("code" if w == "code" else "value"), a, f"{path}.{head}" + (f"[{j}]" if len(wants) > 1 else ""))
                    for j, (w, a) in reversed(list(enumerate(zip(wants, args)))))
    return out[0]


def from_json(text: str | bytes) -> Code | Value:
    """Parse the JSON form made by `to_json`; `ParseError` on anything else."""
    try:
        doc = json.loads(text)
    except RecursionError:
        # Python's json parser recurses; code nested this deep travels in the text form.
        raise ParseError("$", "JSON nested less deeply (use the text form for very deep code)",
                         "too deep a nesting") from None
    except (ValueError, TypeError) as e:
        raise ParseError(getattr(e, "pos", 0), "valid JSON", str(e)) from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise ParseError("$.format", repr(JSON_FORMAT), repr(doc.get("format") if isinstance(doc, dict) else doc))
    if type(doc.get("version")) is not int or doc["version"] != JSON_VERSION:  # not True, not 1.0
        raise ParseError("$.version", str(JSON_VERSION), repr(doc.get("version")))
    keys = set(doc) - {"format", "version"}
    if keys == {"code"}:
        return _from_plain(doc["code"], "code")  # type: ignore[no-any-return]
    if keys == {"value"}:
        return _from_plain(doc["value"], "value")  # type: ignore[no-any-return]
    raise ParseError("$", "exactly one of 'code' or 'value'", repr(sorted(keys)))


def digest(code: Code) -> str:
    """A stable name for a version of a machine: ``sha256:`` of its canonical text form."""
    return "sha256:" + hashlib.sha256(to_text(code).encode()).hexdigest()


# ---------------------------------------------------------------- host values


def quote(x: Any) -> Value:
    """A catlib host value as a machine value: ``()``, int, 2-tuple, `Left`, `Right`."""
    out: list[Value] = []
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        v, ready = todo.pop()
        if ready:
            if type(v) is tuple:
                b, a = out.pop(), out.pop()
                out.append(Pair(a, b))
            else:
                out.append((L if isinstance(v, Left) else R)(out.pop()))
        elif type(v) is tuple and len(v) == 0:
            out.append(Unit)
        elif type(v) is int:
            out.append(Int(v))
        elif type(v) is tuple and len(v) == 2:
            todo += [(v, True), (v[1], False), (v[0], False)]
        elif isinstance(v, (Left, Right)):
            todo += [(v, True), (v.value, False)]
        else:
            raise TypeError(f"cannot quote {v!r}: not a host value ((), int, pair, Left, Right)")
    return out[0]


def unquote(v: Value) -> Any:
    """A machine value as a catlib host value (closures have no host form)."""
    from catlib.tree import fold

    def node(t: Tree, kids: list[Any]) -> Any:
        if isinstance(t, _UnitValue):
            return ()
        if isinstance(t, Int):
            return t.n
        if isinstance(t, Pair):
            return (kids[0], kids[1])
        if isinstance(t, L):
            return Left(kids[0])
        if isinstance(t, R):
            return Right(kids[0])
        if isinstance(t, Closure):
            raise TypeError("a Closure has no host value")
        return t  # Code or Instr inside a closure, never reached

    return fold(v, node)
