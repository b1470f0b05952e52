"""The node's wire protocol: how request lines and the values and code in them are read.

A node's clients speak newline-delimited JSON, one request and one response a
line.  This module turns the pieces of a request into machine values and
code, and refuses what a node must not read (`Refusal` with a kind of
`cam.node.ERRORS`); the transports that carry the lines are in `cam.server`.

Requests: ``{"id": 1, "kind": "do", "input": V}``,
``{"id": 2, "kind": "upgrade", "old": C, "new": C, "migration": C}``,
``{"id": 3, "kind": "status"}``; and ``rollback``, ``make_permanent``, and a
release's ``prepare`` (an upgrade's fields, a ``token`` and a ``hold``),
``commit`` and ``abort`` (a ``token``: `cam.hold`); an upgrade may carry
``probes`` (`cam.probes`).  `decode_request` reads a line into a `Request`.
A value ``V`` is its text form
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
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cam import auth
from cam.code import Code, Value
from cam.contract import Limits, Refusal
from cam.ground import clip, value_depth
from cam.hold import DEFAULT_HOLD, MAX_HOLD, TOKEN
from cam.probes import MAX_PROBES, Probe, probes_digest
from cam.text import ParseError, digest, from_json, parse_code, parse_value

__all__ = ["Request", "decode_request", "read_input", "carries_code", "parse_line", "KINDS", "signature_field", "request_fields", "json_depth", "text_depth", "decode_value", "decode_code", "split_codes", "shown", "escape",
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
    probes: tuple[Probe, ...] = ()
    """An upgrade's (or prepare's) probe inputs (`cam.probes`)."""
    token: str | None = None
    """A prepare's, commit's or abort's release token (`cam.hold`)."""
    hold: float = DEFAULT_HOLD
    """Seconds a prepare holds its upgrade."""


KINDS = ("do", "upgrade", "rollback", "make_permanent", "prepare", "commit", "abort", "status")
"""Every request kind a node answers."""


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
    if req.kind in ("commit", "abort"):
        return {"token": req.token}
    if req.kind not in ("upgrade", "prepare") or req.codes is None:
        return {}
    old, new, migration = (digest(c) for c in req.codes)
    ia, oa = (None if c is None else digest(c) for c in req.adapters)
    fields = auth.upgrade_fields(old, new, migration, down=None if req.down is None else digest(req.down),
                                 name=req.name, probation=req.flag, input_adapter=ia, output_adapter=oa)
    return {**fields, **({"probes": probes_digest(req.probes)} if req.probes else {}),
            **({"token": req.token, "hold": req.hold} if req.kind == "prepare" else {})}


def decode_probes(x: Any, max_depth: int) -> tuple[Probe, ...]:
    """An upgrade's ``probes``: a list of ``{"input": V, "expect": V, "interface": N}`` (expect, interface optional)."""
    if not isinstance(x, list) or len(x) > MAX_PROBES or not all(isinstance(p, dict) and "input" in p for p in x):
        raise Refusal("bad_request", f"'probes' is a list of at most {MAX_PROBES} objects with an 'input' (and "
                                     "optionally 'expect' and 'interface')")
    out = []
    for n, p in enumerate(x, 1):
        interface = p.get("interface")
        if interface is not None and type(interface) is not int:
            raise Refusal("bad_request", f"probe {n}: 'interface' is the number of an interface")
        expect = p.get("expect")
        out.append(Probe(decode_value(p["input"], max_depth),
                         None if expect is None else decode_value(expect, max_depth), interface, n))
    return tuple(out)


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
def _value_of_text(text: str, document: bool, max_depth: int) -> tuple[Value | None, str]:
    """(value, "") or (None, why): inputs repeat (``L Unit``...), so short ones are parsed (and measured) once."""
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
    if value_depth(v) > max_depth:
        return None, "too_deep"
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
    v, why = (_value_of_text(text, document, max_depth) if len(text) <= 256
              else _value_of_text.__wrapped__(text, document, max_depth))
    if v is None:
        if why == "too_deep":
            raise Refusal("too_deep", f"the input is nested more than {max_depth} deep")
        raise Refusal("bad_value", why)
    return v


@lru_cache(maxsize=64)
def _code_of_text(text: str) -> Code | Value:
    """Code (or a value document) read from its text or its JSON document's: an upgrade names the running code
    (the last upgrade's new code), and one going back and forth between versions sends its migrations again, so
    short ones (at most 16 KiB) are read once."""
    return parse_code(text) if not text.lstrip().startswith("{") else from_json(text)


def decode_code(x: Any, name: str) -> Code:
    """Upgrade code from a request: the text form, or the JSON bytecode document of `cam.code.to_json`."""
    try:
        if isinstance(x, str):
            text = x
        elif isinstance(x, dict):  # its depth is bounded by the line's depth check
            text = json.dumps(x)  # (a document read again is the same code: remembered by its text too)
        else:
            raise Refusal("bad_request", f"{name!r} must be code: its text form or its JSON bytecode document")
        c = _code_of_text(text) if len(text) <= 16 * 1024 else _code_of_text.__wrapped__(text)
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


def parse_line(line: bytes | None, limits: Limits, say: Callable[..., None]) -> dict[str, Any]:
    """The request object of a line, or `Refusal` (too long, HTTP, too deep, not JSON, not an object)."""
    if line is None:
        say(f"Invalid command: a line over the {limits.max_line}-byte limit")
        raise Refusal("line_too_long", f"request lines are limited to {limits.max_line} bytes")
    if line[:1] != b"{" and looks_like_http(line):  # a JSON object is not an HTTP request line
        say(f"Refused an HTTP request (connection closed): {shown(line[:100])}")
        raise Refusal("http_refused", "this is not an HTTP server; the connection is closed")
    if line.count(b"[") + line.count(b"{") > limits.max_depth and json_depth(line) > limits.max_depth:
        say(f"Invalid command: {shown(line)}")
        raise Refusal("too_deep", f"the request is nested more than {limits.max_depth} deep")
    try:
        if line[:1] == b"{" and line[1:2] != b"\x00":  # what json.loads would read as UTF-8: say so, and skip its guess
            req = _object(line.decode("utf-8", "surrogatepass"))
        else:
            req = json.loads(line)
    except (ValueError, RecursionError) as e:
        say(f"Invalid command: {shown(line)}")
        raise Refusal("bad_json", f"not JSON: {clip(str(e))}") from None
    if not isinstance(req, dict):
        say(f"Invalid command: {shown(line)}")
        raise Refusal("bad_request", "a request is a JSON object")
    return req


_json_decode = json.JSONDecoder().decode
"""`json.loads` of a string, with its default settings."""
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _object(text: str) -> Any:
    """`json.loads(text)` for a text that starts with ``{``: the scanner alone, when the text is all one
    well-formed value (its errors, and what follows a value, are `json.loads`'s to say).

    >>> _object('{"a": [1, "x"]}  '), _object('{"id": 1}')
    ({'a': [1, 'x']}, {'id': 1})
    """
    try:
        obj, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return _json_decode(text)
    if end != len(text) and text[end:].strip(" \t\n\r"):  # json's whitespace, not str.isspace's
        return _json_decode(text)
    return obj

_INPUT_KEYS = frozenset(("id", "kind", "client", "seq", "input"))
_TEXT = rb'"([ !#-\[\]-~]{%d,%d})"'  # a JSON string of printable ASCII without escapes: its characters are its bytes
_COMMON = re.compile(rb'\{"id": ?(-?(?:0|[1-9][0-9]*)), ?"kind": ?"do", ?(?:"client": ?' + _TEXT % (1, 128)
                     + rb', ?"seq": ?(0|[1-9][0-9]*), ?)?"input": ?' + _TEXT % (0, 256) + rb"\}[ \t\r]*").fullmatch
"""The common input line exactly as `cam.client.Client` and ``json.dumps`` write it (fields in that order, at most a
space after each separator, printable ASCII strings without escapes): read without the JSON scanner."""


def read_input(line: bytes, short: int) -> tuple[Any, str | None, int | None, Value] | None:
    """The common request, an input (``{"id": ID, "kind": "do", "input": TEXT}``, with or without ``client``
    and ``seq``) on a line of at most `short` bytes, read in one go: (id, client, seq, input value); ``None``
    for any other line, or one with anything wrong (`decode_request` then reads it and says what).

    `short` is at most the depth limit (so no line it takes can be too deeply nested).  It gives what
    `decode_request` gives for the lines it takes (a ``do`` of the oldest interface), with the same checks.

    >>> read_input(b'{"id": 1, "kind": "do", "client": "c", "seq": 4, "input": "L Unit"}', 512)
    (1, 'c', 4, L(UnitV))
    >>> read_input(b'{"id": 1, "kind": "do", "input": "L Unit", "interface": 1}', 512) is None
    True
    """
    if len(line) > short or line[:1] != b"{" or line[1:2] == b"\x00":
        return None
    m = _COMMON(line)
    if m is not None:  # what the JSON scanner would read, without it (the rest of the checks as below)
        rid, client, seq, text = m.groups()
        v = _value_of_text(text.decode(), False, short)[0]
        return None if v is None else (int(rid), None if client is None else client.decode(),
                                       None if seq is None else int(seq), v)
    try:
        obj = _object(line.decode("utf-8", "surrogatepass"))
    except ValueError:  # json's errors and UnicodeDecodeError: decode_request says what is wrong
        return None
    if type(obj) is not dict or obj.get("kind") != "do" or not obj.keys() <= _INPUT_KEYS:
        return None
    rid, client, seq, text = obj.get("id"), obj.get("client"), obj.get("seq"), obj.get("input")
    if type(text) is not str or not (rid is None or type(rid) is int or type(rid) is str):
        return None
    if client is None:
        if seq is not None:
            return None
    elif not (type(client) is str and 0 < len(client) <= 128 and type(seq) is int and seq >= 0):
        return None
    v = _value_of_text(text, False, short)[0] if len(text) <= 256 else None  # its depth is at most `short`
    return None if v is None else (rid, client, seq, v)


carries_code = re.compile(rb'"kind"\s*:\s*"(?:upgrade|prepare)"').search
"""Whether a line looks like a request carrying code (an upgrade, a prepare): a server reads it in a worker thread,
as a big line, not on its event loop, where making its code (a JSON document is made into `Code` afresh each time)
held every input 0.24-0.3 ms for the seed's counter.  A line that only looks like one is answered the same."""

_FLAGS = {"status": "code", "upgrade": "probation", "prepare": "probation", "rollback": "discard"}


def decode_request(line: bytes | None, limits: Limits, trusted: bool, say: Callable[..., None]) -> Request:
    """Read one request line into a `Request` (its error set if it is refused).  Changes nothing.

    `trusted`: the node has trusted keys (every request but ``status`` must then be signed); `say` prints
    the terminal's line for a command the node cannot read.
    """
    req = Request()
    try:
        obj = parse_line(line, limits, say)
        rid = obj.get("id")
        if not (rid is None or isinstance(rid, (str, int)) and not isinstance(rid, bool)
                or isinstance(rid, float) and math.isfinite(rid)):  # NaN, Infinity: not JSON, cannot go back
            say(f"Invalid command: {shown(line or b'')}")
            raise Refusal("bad_request", "'id' must be a string, a finite number or null")
        req.rid, kind = rid, obj.get("kind")
        client, seq = obj.get("client"), obj.get("seq")
        if (client is None) != (seq is None) or client is not None and not (
                isinstance(client, str) and 0 < len(client) <= 128 and type(seq) is int and seq >= 0):
            raise Refusal("bad_request", "'client' (a string of 1 to 128 characters) and 'seq' (an integer "
                                         ">= 0) come together")
        req.client, req.seq = client, seq
        flag = obj.get(_FLAGS.get(str(kind), ""), False)
        if not isinstance(flag, bool):
            raise Refusal("bad_request", "'code' (status), 'probation' (upgrade, prepare), 'discard' (rollback) are "
                                         "booleans")
        req.flag = flag
        if kind in ("status", "rollback", "make_permanent"):
            req.kind, req.signature = kind, signature_field(obj, trusted)
        elif kind in ("commit", "abort"):
            req.signature, req.token = signature_field(obj, trusted), _token(obj)
            req.kind = kind
        elif kind == "do":
            if "input" not in obj:
                say(f"Invalid command: {shown(line or b'')}")
                raise Refusal("bad_request", "a do request needs 'input'")
            req.interface = obj.get("interface")
            if req.interface is not None and type(req.interface) is not int:
                raise Refusal("bad_request", "'interface' is the number of an interface the node serves (status)")
            try:
                req.input = decode_value(obj["input"], limits.max_depth)
            except Refusal:  # a command the node cannot read, as the reference would say
                say(f"Invalid command: {shown(line or b'')}")
                raise
            req.kind = kind
        elif kind in ("upgrade", "prepare"):
            _upgrade_fields(req, obj, kind, limits, trusted, say, line)
        else:
            say(f"Invalid command: {shown(line or b'')}")
            raise Refusal("unknown_kind", f"unknown request kind {clip(repr(kind), 60)}; the kinds are "
                                          f"{', '.join(KINDS)}")
    except Refusal as e:
        req.error = e
    return req


def _token(obj: dict[str, Any]) -> str:
    token = obj.get("token")
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise Refusal("bad_request", "'token' names the prepared upgrade: 1 to 64 letters, digits or _.:-")
    return token


def _upgrade_fields(req: Request, obj: dict[str, Any], kind: str, limits: Limits, trusted: bool,
                    say: Callable[..., None], line: bytes | None) -> None:
    """Decode an upgrade's (or a prepare's) fields into `req`."""
    missing = [k for k in ("old", "new", "migration") if k not in obj]
    if missing:
        say(f"Invalid command: {shown(line or b'')}")
        raise Refusal("bad_request", f"an upgrade request needs {', '.join(missing)}")
    sig = signature_field(obj, trusted)
    name = obj.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise Refusal("bad_request", "'name' is the new version's name: a string of at most 200 characters")
    if kind == "prepare":
        req.token, hold = _token(obj), obj.get("hold", DEFAULT_HOLD)
        if type(hold) not in (int, float) or not 0 < hold <= MAX_HOLD:
            raise Refusal("bad_request", f"'hold' is a number of seconds, more than 0 and at most {MAX_HOLD:g}")
        req.hold = float(hold)
    if obj.get("probes") is not None:
        req.probes = decode_probes(obj["probes"], limits.max_depth)
    try:
        req.codes = (decode_code(obj["old"], "old"), decode_code(obj["new"], "new"),
                     decode_code(obj["migration"], "migration"))
        req.down, ia, oa = (None if obj.get(k) is None else decode_code(obj[k], k.replace("_", " "))
                            for k in ("down", "input_adapter", "output_adapter"))
        req.adapters = (ia, oa)
        req.name = name
    except Refusal as e:
        say(f"Upgrade refused ({e.kind}): {e}. Nothing changed.")
        raise
    req.kind, req.signature = kind, sig
