"""The reference's text form and the JSON form of CAM code and values: reading them, and writing JSON.

>>> code = parse_code("[ID,BRANCH [ID,GET,INR,RETURN] [QUOTE (Int (-3)),RETURN]]")
>>> to_text(code)
'[ID,BRANCH [ID,GET,INR,RETURN] [QUOTE (Int (-3)),RETURN]]'
>>> to_text(parse_value("Pair (Int 1) (L Unit)"))
'Pair (Int 1) (L Unit)'
>>> from_json(to_json(code)) == code
True

Malformed text raises `ParseError` with the position and what was expected:

>>> parse_code("[ID,FOO]")
Traceback (most recent call last):
  ...
cam.text.ParseError: at position 4: expected an instruction, found 'FOO'

Instructions are read by the table `cam.code.INSTRUCTIONS` (an operand kind
says what follows the name); reading works without recursion, so deeply
nested code (from deep terms, or from an attacker) cannot overflow the
Python stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import islice
from typing import Any

from cam.code import SIMPLE, SPECS, Closure, Code, Instr, IntV, L, Pair, R, UnitV, Value, to_text
from catlib.tree import Tree, joined, render
from catlib.values import INT_MAX, INT_MIN

__all__ = ["ParseError", "parse_code", "parse_value", "to_json", "from_json", "digest", "JSON_FORMAT",
           "JSON_VERSION"]


# ---------------------------------------------------------------- text form


class ParseError(ValueError):
    """Malformed text or JSON: `position` (or JSON path), what was `expected`, what was `found`."""

    def __init__(self, position: int | str, expected: str, found: str) -> None:
        self.position, self.expected, self.found = position, expected, found
        where = f"at position {position}" if isinstance(position, int) else f"at {position}"
        super().__init__(f"{where}: expected {expected}, found {found}")


# A name runs on over digits, so ``Int1`` is one (unknown) token, as in Haskell's lexer.  The second group is a
# character that starts no token.
_TOKEN = re.compile(r"\s*(?:([\[\](),]|-?[0-9]+|[A-Za-z][A-Za-z0-9_']*)|(\S))")
_END = "<end of input>"


def _tokens(text: str) -> list[str]:
    """The tokens of `text`, then `_END`: cut in one call of the regex engine (positions, needed only for an
    error, are found again by `_position`)."""
    found = _TOKEN.findall(text)
    if not found:
        return [_END]
    toks, bad = zip(*found)
    if any(bad):
        j = next(j for j, b in enumerate(bad) if b)
        raise ParseError(_position(text, j), "a token", repr(bad[j]))
    return [*toks, _END]


def _position(text: str, j: int) -> int:
    """Where token `j` of `text` starts (`len(text)` for `_END`)."""
    m = next(islice(_TOKEN.finditer(text), j, None), None)
    return len(text) if m is None else m.start(m.lastindex or 0)


_ARITY: dict[str, tuple[str, ...]] = {
    "Pair": ("varg", "varg"), "L": ("varg",), "R": ("varg",), "Closure": ("code", "varg"),
    **{spec.name: tuple("varg" if k == "value" else "code" for k in spec.operands)
       for spec in SPECS.values() if spec.operands},
}
"""What follows a constructor or an instruction with operands: values (``varg``) and code blocks."""


_VALUE_CLASSES: dict[str, Any] = {"Pair": Pair, "L": L, "R": R, "Closure": Closure}


def _build(head: str, args: list[Any]) -> Any:
    # (the parsers collect each argument as the kind `_ARITY` wants: an instruction is made unchecked)
    cls = _VALUE_CLASSES.get(head)
    return Instr.of(head, *args) if cls is None else cls(*args)


def _parse(text: str, start: str) -> Any:
    if not isinstance(text, str):
        raise ParseError(0, "text", type(text).__name__)
    toks = _tokens(text)
    i = 0
    # frames: [head, wants, collected args] (the next want: wants[len(args)]); heads "[" (code) and "(" (parenthesised)
    frames: list[list[Any]] = []
    want = start
    while True:
        here = i  # the token's index (`_position` finds where it starts, for an error)
        tok = toks[i]
        item: Any = None
        done = False
        if want == "code":
            if tok != "[":
                raise ParseError(_position(text, here), "'[' to start code", repr(tok))
            i += 1
            if toks[i] == "]":
                i += 1
                item, done = Code(), True
            else:
                frames.append(["[", None, []])
                want = "instr"
        elif want == "instr":
            i += 1
            if tok in SIMPLE:
                item, done = SIMPLE[tok], True
            elif tok in SPECS:
                wants = _ARITY[tok]
                frames.append([tok, wants, []])
                want = wants[0]
            else:
                raise ParseError(_position(text, here), "an instruction", repr(tok))
        elif want in ("varg", "value"):
            i += 1
            if tok == "Unit":
                item, done = UnitV, True
            elif tok == "(":
                frames.append(["(", None, []])
                want = "value"
            elif want == "varg":
                raise ParseError(_position(text, here), "Unit or a parenthesised value", repr(tok))
            elif tok == "Int":
                here, tok = i, toks[i]
                if re.fullmatch(r"[0-9]+", tok):
                    n = int(tok)
                    i += 1
                elif tok == "(" and re.fullmatch(r"-[0-9]+", toks[i + 1]) and toks[i + 2] == ")":
                    here, tok = i + 1, toks[i + 1]
                    n = int(tok)
                    i += 3
                else:
                    raise ParseError(_position(text, here), "a number or (-number) after Int", repr(tok))
                if not INT_MIN <= n <= INT_MAX:
                    raise ParseError(_position(text, here), "a 64-bit integer", tok)
                item, done = IntV(n), True
            elif tok in ("Pair", "L", "R", "Closure"):
                wants = _ARITY[tok]
                frames.append([tok, wants, []])
                want = wants[0]
            else:
                raise ParseError(_position(text, here), "a value (Unit, Int, Pair, L, R or Closure)", repr(tok))
        # deliver finished items to the frames that wait for them
        while done:
            if not frames:
                if toks[i] != _END:
                    raise ParseError(_position(text, i), "end of input", repr(toks[i]))
                return item
            frame = frames[-1]
            head = frame[0]
            if head == "[":
                frame[2].append(item)
                tok = toks[i]
                i += 1
                if tok == ",":
                    want, done = "instr", False
                elif tok == "]":
                    frames.pop()
                    item = Code.of(frame[2])  # instructions only: the parser made them
                else:
                    raise ParseError(_position(text, i - 1), "',' or ']'", repr(tok))
            elif head == "(":
                if toks[i] != ")":
                    raise ParseError(_position(text, i), "')'", repr(toks[i]))
                i += 1
                frames.pop()
            else:
                args = frame[2]
                args.append(item)
                wants = frame[1]
                if len(args) < len(wants):
                    want, done = wants[len(args)], False
                else:
                    frames.pop()
                    item = _build(head, args)


def parse_code(text: str) -> Code:
    """Parse code in the reference's text form, e.g. ``[ID,QUOTE (Int 1)]``."""
    return _parse(text, "code")


def parse_value(text: str) -> Value:
    """Parse a value in the reference's text form, e.g. ``Pair (Int 1) Unit``."""
    return _parse(text, "value")


# ---------------------------------------------------------------- JSON form

JSON_FORMAT, JSON_VERSION = "cam-bytecode", 1


def _json_body(x: Value | Instr | Code) -> str:
    """Compact JSON of `x`, written without recursion (``json.dumps`` recurses)."""
    return render(x, _json_pieces)


def _json_pieces(t: Tree) -> list[Any]:
    if isinstance(t, Code):
        return ["[", *joined(t.kids, ","), "]"]
    if t is UnitV:
        return ['"Unit"']
    if isinstance(t, IntV):
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


def _spelled(path: Any) -> str:
    """A JSON path written out, as in ``$[3].BRANCH[1]``, made only for an error's message.

    A path is ``$``, or a pair: where the item's parent is, and the item's index in a list or its
    constructor's name.

    >>> _spelled(((("$", 3), "BRANCH"), 1))
    '$[3].BRANCH[1]'
    """
    steps: list[str] = []
    while isinstance(path, tuple):
        path, step = path
        steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return path + "".join(reversed(steps))


def _bad(path: Any, expected: str, found: Any) -> ParseError:
    text = json.dumps(found)
    return ParseError(_spelled(path), expected, text if len(text) < 60 else text[:57] + "...")


def _from_plain(data: Any, start: str) -> Any:
    # explicit stack: ("code", list, path) / ("instr", obj, path) / ("value", obj, path) / build markers.  Paths
    # are linked pairs, spelled out only for an error: formatting each item's path made reading take ten times
    # as long as json.loads.
    out: list[Any] = []
    todo: list[tuple[str, Any, Any]] = [(start, data, "$")]
    push, pop = todo.append, todo.pop
    while todo:
        kind, x, path = pop()
        if kind == "build":
            head, n = x
            args = out[len(out) - n:]
            del out[len(out) - n:]
            out.append(Code(args) if head == "code" else _build(head, args))
            continue
        if kind == "code":
            if not isinstance(x, list):
                raise _bad(path, "a list of instructions", x)
            push(("build", ("code", len(x)), path))
            for j in range(len(x) - 1, -1, -1):
                push(("instr", x[j], (path, j)))
            continue
        if kind == "instr":
            if isinstance(x, str) and x in SIMPLE:
                out.append(SIMPLE[x])
                continue
            if not (isinstance(x, dict) and len(x) == 1 and next(iter(x)) in _ARITY and next(iter(x)) in SPECS):
                raise _bad(path, "an instruction", x)
            head, arg = next(iter(x.items()))
        else:
            if x == "Unit":
                out.append(UnitV)
                continue
            if not (isinstance(x, dict) and len(x) == 1 and next(iter(x)) in ("Int", "Pair", "L", "R", "Closure")):
                raise _bad(path, "a value", x)
            head, arg = next(iter(x.items()))
            if head == "Int":
                if type(arg) is not int or not INT_MIN <= arg <= INT_MAX:
                    raise _bad((path, "Int"), "a 64-bit integer", arg)
                out.append(IntV(arg))
                continue
        wants = _ARITY[head]
        at = (path, head)
        if len(wants) == 1:
            push(("build", (head, 1), path))
            push(("code" if wants[0] == "code" else "value", arg, at))
            continue
        if not isinstance(arg, list) or len(arg) != len(wants):
            raise _bad(at, f"{len(wants)} arguments", arg)
        push(("build", (head, len(wants)), path))
        for j in range(len(wants) - 1, -1, -1):
            push(("code" if wants[j] == "code" else "value", arg[j], (at, j)))
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
        return _from_plain(doc["code"], "code")
    if keys == {"value"}:
        return _from_plain(doc["value"], "value")
    raise ParseError("$", "exactly one of 'code' or 'value'", repr(sorted(keys)))


def digest(code: Code) -> str:
    """A stable name for a version of a machine: ``sha256:`` of its canonical text form."""
    return "sha256:" + hashlib.sha256(to_text(code).encode()).hexdigest()


