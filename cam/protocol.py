"""The node's wire protocol: how request lines and the values and code in them are read.

A node's clients speak newline-delimited JSON, one request and one response a
line.  This module turns the pieces of a request into machine values and
code, and refuses what a node must not read (`NodeError` with a kind of
`cam.node.ERRORS`); the transports that carry the lines are in `cam.server`.

Requests: ``{"id": 1, "kind": "do", "input": V}``,
``{"id": 2, "kind": "upgrade", "old": C, "new": C, "migration": C}``,
``{"id": 3, "kind": "status"}``.  A value ``V`` is its text form
(``"L Unit"``) or the JSON document of `cam.code.to_json`; code ``C`` is
likewise the text form (``"[ID,GET]"``) or the JSON bytecode document.
Responses: ``{"id": 1, "ok": true, "output": "L Unit", "state": "Int 1"}``
or ``{"id": 1, "ok": false, "error": KIND, "message": "..."}``, where KIND
is one of `cam.node.ERRORS`.  Values in responses use the text form.

The reference's text commands (``Do <value>``, ``Load <old> <new> <migration>``,
read from ``--fifo``) use the text forms; `split_codes` splits ``Load``'s arguments.

>>> decode_value("L Unit", max_depth=512)
L(UnitV)
>>> decode_code("[ID,GET]", "new")
Code([ID, GET])
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from cam.code import Code, Value
from cam.node import NodeError, value_depth
from cam.text import ParseError, from_json, parse_code, parse_value

__all__ = ["json_depth", "decode_value", "decode_code", "split_codes", "shown"]

# One left-to-right scan: a string (closed or not: an unclosed one runs to the end) or a bracket.
# Matching strings separately and then brackets would retry every quote of an unclosed string
# to the end of the line: quadratic, seconds for a few kilobytes of ``"\\"\\...``.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def json_depth(line: bytes) -> int:
    """Nesting depth of the JSON text `line` (brackets inside strings do not count).

    >>> json_depth(b'{"a": [1, {"b": "[[["}]}')
    3
    """
    depth = deepest = 0
    for m in _TOKEN.finditer(line):
        c = m.group()
        if c == b"[" or c == b"{":
            depth += 1
            deepest = max(deepest, depth)
        elif c == b"]" or c == b"}":
            depth -= 1
    return deepest


@lru_cache(maxsize=1024)
def _value_of_text(text: str, document: bool) -> tuple[Value | None, str]:
    """(value, "") or (None, why): inputs repeat (``L Unit``...), so short ones are parsed once."""
    try:
        v = from_json(text) if document else parse_value(text)
    except ParseError as e:
        return None, f"the input does not parse: {e}"
    if not isinstance(v, Value):
        return None, "the input is a code document, not a value document"
    return v, ""


def decode_value(x: Any, max_depth: int) -> Value:
    """An input value from a request: its text form, or the JSON document of `cam.code.to_json`."""
    if isinstance(x, str):
        text, document = x, False
    elif isinstance(x, dict):
        text, document = json.dumps(x), True  # its depth is bounded by the line's depth check
    else:
        raise NodeError("bad_request", "'input' must be a value: its text form or its JSON document")
    v, why = _value_of_text(text, document) if len(text) <= 256 else _value_of_text.__wrapped__(text, document)
    if v is None:
        raise NodeError("bad_value", why)
    if value_depth(v) > max_depth:
        raise NodeError("too_deep", f"the input is nested more than {max_depth} deep")
    return v


def decode_code(x: Any, name: str) -> Code:
    """Upgrade code from a request: the text form, or the JSON bytecode document of `cam.code.to_json`."""
    try:
        if isinstance(x, str):
            c = parse_code(x) if not x.lstrip().startswith("{") else from_json(x)
        elif isinstance(x, dict):
            c = from_json(json.dumps(x))  # its depth is bounded by the line's depth check
        else:
            raise NodeError("bad_request", f"{name!r} must be code: its text form or its JSON bytecode document")
    except ParseError as e:
        raise NodeError("bad_code", f"the {name} code does not parse: {e}") from None
    except (ValueError, TypeError) as e:  # a well-formed document with an ill-formed payload
        raise NodeError("bad_code", f"the {name} code is malformed: {e}") from None
    if not isinstance(c, Code):
        raise NodeError("bad_code", f"the {name} field holds a value document, not code")
    return c


def split_codes(text: str) -> list[str]:
    """Split ``[..] [..] [..]`` (the arguments of the reference's ``Load``) into the code texts.

    >>> split_codes("[ID,BRANCH [ID] [GET]] [] [QUOTE (Int 1)]")
    ['[ID,BRANCH [ID] [GET]]', '[]', '[QUOTE (Int 1)]']
    """
    out: list[str] = []
    depth, start, end = 0, 0, 0
    for m in re.finditer(r"[\[\]]", text):
        if m.group() == "[":
            if depth == 0:
                if text[end:m.start()].strip():
                    raise ParseError(end, "code lists separated by spaces", repr(text[end:m.start()].strip()))
                start = m.start()
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                raise ParseError(m.start(), "'[' before ']'", "']'")
            if depth == 0:
                out.append(text[start:m.end()])
                end = m.end()
    if depth or text[end:].strip():
        raise ParseError(len(text), "']' and nothing after the last code list", "<end of input>")
    return out


def shown(line: bytes) -> str:
    """The start of a request line, for a terminal message (at most 200 bytes, then ``...``).

    >>> shown(b"x" * 201)[-5:]
    'xx...'
    """
    return line[:200].decode("utf-8", "replace") + ("..." if len(line) > 200 else "")
