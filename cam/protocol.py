"""The node's wire protocol: how request lines and the values and code in them are read.

A node's clients speak newline-delimited JSON, one request and one response a
line.  This module turns the pieces of a request into machine values and
code, and refuses what a node must not read (`Refusal` with a kind of
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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cam import auth
from cam.code import Code, Value
from cam.contract import Refusal
from cam.ground import clip, value_depth
from cam.text import ParseError, digest, from_json, parse_code, parse_value

__all__ = ["Request", "signature_field", "request_fields", "json_depth", "text_depth", "decode_value", "decode_code", "split_codes", "shown", "escape",
           "looks_like_http"]

@dataclass
class Request:
    """One decoded request line (decoding may run in a worker thread: it changes nothing)."""

    rid: Any = None
    kind: str = ""
    client: str | None = None
    seq: int | None = None
    input: Value | None = None
    codes: tuple[Code, Code, Code] | None = None
    signature: str | None = None
    error: Refusal | None = None
    down: Code | None = None
    name: str = ""
    flag: bool = False
    """``probation`` (upgrade), ``discard`` (rollback), ``code`` (status)."""
    interface: int | None = None
    """The interface a ``do`` speaks (``None``: the oldest the node serves)."""
    adapters: tuple[Code | None, Code | None] = (None, None)


def signature_field(obj: dict[str, Any], required: bool) -> str | None:
    """A request's ``signature``; `Refusal` if malformed, or missing when `required` (a node with --trust)."""
    sig = obj.get("signature")
    if sig is not None and not isinstance(sig, str):
        raise Refusal("bad_request", "'signature' is the base64 text of an Ed25519 signature")
    if required and sig is None and obj.get("kind") != "status":  # refused before its code is even parsed
        raise Refusal("unauthorized", f"this node accepts only {clip(str(obj.get('kind')), 30)} requests signed "
                                      "by a trusted key (--key KEY)")
    return sig


def request_fields(req: Request) -> dict[str, Any]:
    """What a request's signature covers beyond the node's id, generation and digest (`cam.auth.payload`)."""
    if req.kind == "rollback":
        return {"discard": req.flag}
    if req.kind != "upgrade" or req.codes is None:
        return {}
    old, new, migration = (digest(c) for c in req.codes)
    ia, oa = (None if c is None else digest(c) for c in req.adapters)
    return auth.upgrade_fields(old, new, migration, down=None if req.down is None else digest(req.down),
                               name=req.name, probation=req.flag, input_adapter=ia, output_adapter=oa)


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


_LONG_NUMBER = re.compile(r"\d{20}")
_NESTING = re.compile(r"[^()\[\]{}]+")


def text_depth(text: str, stop: int | None = None) -> int:
    """Nesting of the brackets of `text` ( ``()``, ``[]``, ``{}`` alike ), without parsing it.

    With `stop`, the count ends as soon as the nesting exceeds it.

    >>> text_depth("Pair (Int 1) (L (R Unit))"), text_depth("(" * 10**6, stop=512)
    (2, 513)
    """
    depth = deepest = 0
    for c in _NESTING.sub("", text):
        if c in "([{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop is not None and deepest > stop:
                    break
        else:
            depth -= 1
    return deepest


@lru_cache(maxsize=1024)
def _value_of_text(text: str, document: bool) -> tuple[Value | None, str]:
    """(value, "") or (None, why): inputs repeat (``L Unit``...), so short ones are parsed once."""
    if _LONG_NUMBER.search(text):  # int() of thousands of digits is slow, and no 64-bit integer has 20
        return None, "the input holds an integer beyond 64 bits"
    try:
        v = from_json(text) if document else parse_value(text)
    except ParseError as e:
        return None, f"the input does not parse: {clip(str(e))}"
    except (ValueError, TypeError) as e:
        return None, f"the input is malformed: {clip(str(e))}"
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
        raise Refusal("bad_request", "'input' must be a value: its text form or its JSON document")
    if text.count("(") > max_depth and text_depth(text, max_depth) > max_depth:  # before parsing: parsers may recurse
        raise Refusal("too_deep", f"the input is nested more than {max_depth} deep")
    v, why = _value_of_text(text, document) if len(text) <= 256 else _value_of_text.__wrapped__(text, document)
    if v is None:
        raise Refusal("bad_value", why)
    if value_depth(v) > max_depth:
        raise Refusal("too_deep", f"the input is nested more than {max_depth} deep")
    return v


def decode_code(x: Any, name: str) -> Code:
    """Upgrade code from a request: the text form, or the JSON bytecode document of `cam.code.to_json`."""
    try:
        if isinstance(x, str):
            c = parse_code(x) if not x.lstrip().startswith("{") else from_json(x)
        elif isinstance(x, dict):
            c = from_json(json.dumps(x))  # its depth is bounded by the line's depth check
        else:
            raise Refusal("bad_request", f"{name!r} must be code: its text form or its JSON bytecode document")
    except ParseError as e:
        raise Refusal("bad_code", f"the {name} code does not parse: {clip(str(e))}") from None
    except (ValueError, TypeError) as e:  # a well-formed document with an ill-formed payload
        raise Refusal("bad_code", f"the {name} code is malformed: {clip(str(e))}") from None
    if not isinstance(c, Code):
        raise Refusal("bad_code", f"the {name} field holds a value document, not code")
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


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """`text` with control characters (C0, DEL, C1, line separators, bidi overrides) as visible escapes.

    What a client sent reaches the operator's terminal only through this: no escape sequence,
    carriage return or fake line can be printed by a client.

    >>> escape("Upgrade successful!\\x1b[2K\\rok")
    'Upgrade successful!\\\\x1b[2K\\\\rok'
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1] if m.group() in "\t\n\r" else f"\\x{ord(m.group()):02x}"
                        if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def shown(line: bytes) -> str:
    """The start of a request line, for a terminal message (at most 200 bytes, then ``...``), escaped.

    >>> shown(b"x" * 201)[-5:]
    'xx...'
    >>> shown(b"\\x1b[31mred")
    '\\\\x1b[31mred'
    """
    return escape(line[:200].decode("utf-8", "replace")) + ("..." if len(line) > 200 else "")


_HTTP = re.compile(rb"^\s*(?:[A-Z]{3,10} +\S+ +HTTP/\d|(?:GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|TRACE) )")


def looks_like_http(line: bytes) -> bool:
    """Whether `line` is an HTTP request line (a browser or ``curl`` talking to the node).

    >>> looks_like_http(b"POST / HTTP/1.1"), looks_like_http(b'{"kind": "status"}')
    (True, False)
    """
    return _HTTP.match(line[:512]) is not None
