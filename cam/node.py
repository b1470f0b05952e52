"""The node: a CAM running one state machine, served over TCP, upgradable while it runs.

A `Node` holds the running code, its fixed signature and its state.  It is the
only place where inputs are run and upgrades installed, and it checks
everything it receives before anything changes:

- an input must have the running input type (``Do (Int 3)`` to the counter
  is refused; the reference answers it with ``Output:    Int 3``);
- an upgrade ``(old, new, migration)`` is applied only if, in this order,
  the old code's digest is the running digest, the new code and the
  migration pass `cam.verifier`, the migration has type
  ``() / running-state -> S``, the new machine's state type is that ``S``,
  its input and output types are the running ones, and the migration, run on
  the current state with a step bound, halts with a value of type ``S``.
  Only then are code and state swapped, in one assignment.

How a node fixes its types
--------------------------
The verifier gives the code's principal signature, which may have type
variables: `catlib.examples.generic.counter` consumes its command before
reading the state, so its input type is ``Either a b``.  The node unifies
the state type with the type of the initial state value (and with a
declared signature: ``--input-type``, or a `catlib.syntax.Program` given as
the machine), then instantiates every variable left with ``()``.  Both
counters therefore run at ``Int / Either () () -> Either () Int``, and
``Do (R (Int 5))`` (which the reference accepts) is refused: a node's
contract is a ground type, so a client knows exactly what it may send.

Why an upgrade keeps the input and output types
-----------------------------------------------
The new machine's principal input and output types must unify with the
running ones, which are ground, so after an upgrade clients may send exactly
what they sent before and read the same kind of answers (the seed's upgrade
keeps them: the counter's commands do not change).  A machine with another
interface is another service: start another node.  Such an upgrade is
refused with ``interface_changed``.

Serialisation
-------------
The server (`NodeServer`) runs every request, from every connection and the
``--fifo`` pipe, under one FIFO `asyncio.Lock`: inputs that arrive while an
upgrade is being checked wait, and are served in arrival order by the
machine that is installed when their turn comes.  Requests of one
connection are answered in order, one response each.  An upgrade line over
`Limits.executor_threshold` bytes is parsed and checked in a worker thread
(holding the lock while it checks), so the node keeps reading meanwhile.

Wire protocol (newline-delimited JSON, one request and one response a line)
---------------------------------------------------------------------------
Requests: ``{"id": 1, "kind": "do", "input": V}``,
``{"id": 2, "kind": "upgrade", "old": C, "new": C, "migration": C}``,
``{"id": 3, "kind": "status"}``.  A value ``V`` is its text form
(``"L Unit"``) or the JSON document of `cam.code.to_json`; code ``C`` is
likewise the text form (``"[ID,GET]"``) or the JSON bytecode document.
Responses: ``{"id": 1, "ok": true, "output": "L Unit", "state": "Int 1"}``
or ``{"id": 1, "ok": false, "error": KIND, "message": "..."}``, where KIND
is one of `ERRORS`.  Values in responses use the text form.

>>> from cam.code import parse_code, parse_value
>>> lines = []
>>> node = Node(parse_code("[ID,GET]"), parse_value("Int 7"), emit=lines.extend)
>>> str(node.signature)
'Int / () -> Int'
>>> node.do(parse_value("Unit")).output
Int(7)
>>> lines
['Output:    Int 7', 'New state: Int 7', '']
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, TextIO

from cam.code import (
    Closure,
    Code,
    Int,
    L,
    Pair,
    ParseError,
    R,
    Unit,
    Value,
    digest,
    from_json,
    parse_code,
    parse_value,
    to_text,
)
from cam.machine import MachineError, OutOfFuel, execute
from catlib.tree import fold
from catlib.typecheck import Signature
from catlib.types import Int as IntT
from catlib.types import Prod, Sum, Type, Unifier, UnifyError, Var
from catlib.types import Unit as UnitT

__all__ = [
    "Node", "NodeServer", "NodeError", "Limits", "Version", "Outcome", "ERRORS", "serve", "start_in_thread",
    "Running", "WRONG_VERSION", "UPGRADE_OK", "fix_signature", "value_type", "printer", "banner",
    "decode_value", "decode_code", "split_codes", "json_depth", "safe_emit",
]

WRONG_VERSION = "The version running isn't the one the upgrade expects. Aborting upgrade."
"""The reference's line for an upgrade whose old code is not the running code."""

UPGRADE_OK = "Upgrade successful!"

ERRORS: dict[str, str] = {
    "bad_json": "the request line is not valid UTF-8 JSON",
    "bad_request": "the request is not an object with the fields its kind needs",
    "unknown_kind": "the request's kind is not do, upgrade or status",
    "line_too_long": "the request line is longer than the node's limit",
    "too_deep": "the request or a value in it is nested more deeply than the node's limit",
    "bad_value": "the input value does not parse (text or JSON value form)",
    "ill_typed_input": "the input does not have the running machine's input type; nothing ran",
    "ill_typed_state": "(at start) the initial state does not have the machine's state type",
    "machine_error": "the machine got stuck or ran out of fuel on this input; the state is unchanged",
    "bad_code": "upgrade code that does not parse (text or JSON bytecode form)",
    "wrong_version": "the upgrade's old code is not the running code",
    "new_code_rejected": "the new code fails the bytecode verifier",
    "migration_rejected": "the migration fails the bytecode verifier",
    "migration_type": "the migration's type is not () / running-state -> new-state",
    "state_type": "the new machine's state type is not the migration's output type",
    "interface_changed": "the new machine's input or output type differs from the running machine's",
    "migration_failed": "the migration, run on the current state, got stuck or ran out of steps",
    "too_many_connections": "the node serves its limit of connections; this one is closed after this answer",
    "internal": "an unexpected error in the node (a bug); the node keeps its state",
}
"""Every machine-readable error kind a node answers with, and what it means."""


class NodeError(Exception):
    """A refused request: `kind` is one of `ERRORS`, the message says why in words."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in ERRORS, kind
        self.kind = kind
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Limits:
    """What a node accepts.  Generous for honest clients, bounded for everyone else."""

    max_line: int = 8 * 1024 * 1024
    """Bytes in one request line (an upgrade of ~500,000 instructions fits)."""
    max_depth: int = 512
    """Nesting of the request's JSON, and of an input value in any form."""
    fuel: int = 10_000_000
    """Machine steps one input may take (verified code always halts; this bounds how long)."""
    migration_fuel: int = 1_000_000
    """Machine steps the migration may take on the current state."""
    executor_threshold: int = 64 * 1024
    """Upgrade lines longer than this are checked in a worker thread, so the node keeps reading."""
    max_connections: int = 256
    """Open TCP connections (each may buffer a line of `max_line` bytes); more are answered and closed."""


class Version(NamedTuple):
    """One entry of the upgrade history."""

    digest: str
    since_input: int
    """How many inputs had been served when this version was installed."""
    time: float
    """Unix time of the installation."""
    check_seconds: float
    """How long the upgrade's checks and migration took (0 for the initial version)."""


class Outcome(NamedTuple):
    """What one input did: the output, the new state and the machine steps it took."""

    output: Value
    state: Value
    steps: int
    output_text: str
    state_text: str


def safe_emit(emit: Callable[[list[str]], None], lines: list[str]) -> None:
    """Call `emit` with `lines`; if it raises, say so on ``sys.stderr`` (if that works) and return.

    >>> def broken(lines: list[str]) -> None:
    ...     raise BrokenPipeError("stdout closed")
    >>> safe_emit(broken, ["Output:    Int 1"])  # reported on stderr, not raised
    """
    try:
        emit(lines)
    except Exception as e:  # the terminal's failure is not the request's: the node carries on
        with contextlib.suppress(Exception):
            sys.stderr.write(f"cam node: could not print {lines[:1]!r}...: {type(e).__name__}: {e}\n")
            sys.stderr.flush()


def _verifier() -> Any:
    # Imported when first needed: the node module stays importable for docs and tools.
    from cam import verifier

    return verifier


# ---------------------------------------------------------------- types of values


def value_type(v: Value, u: Unifier) -> Type:
    """The most general type of machine value `v`, with fresh variables from `u`.

    ``L x`` has type ``Either t b`` for a fresh ``b``; a closure's type is a
    fresh variable (its code is typed by the verifier, not here).
    """
    out: list[Type] = []
    todo: list[tuple[Value, bool]] = [(v, False)]
    while todo:
        t, ready = todo.pop()
        if ready:
            if isinstance(t, Pair):
                b = out.pop()
                out.append(Prod(out.pop(), b))
            elif isinstance(t, L):
                out.append(Sum(out.pop(), u.fresh()))
            else:
                out.append(Sum(u.fresh(), out.pop()))
        elif isinstance(t, Int):
            out.append(IntT)
        elif isinstance(t, (Pair, L, R)):
            todo.append((t, True))
            todo.extend((k, False) for k in reversed(t.kids))
        elif isinstance(t, Closure):
            out.append(u.fresh())
        else:
            out.append(UnitT)
    return out[0]


def _value_depth(v: Value) -> int:
    """Nesting depth of a value (closure environments count; their code does not)."""
    deepest = 0
    todo: list[tuple[Value, int]] = [(v, 1)]
    while todo:
        t, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((k, d + 1) for k in t.kids if isinstance(k, Value))
    return deepest


def _freshen(types: Iterable[Type], u: Unifier) -> list[Type]:
    """The same types with their variables replaced by fresh ones of `u` (shared across `types`)."""
    names: dict[str, Type] = {}

    def node(n: Any, kids: list[Type]) -> Type:
        if isinstance(n, Var):
            if n.name not in names:
                names[n.name] = u.fresh()
            return names[n.name]
        return type(n)(*kids) if kids else n  # type: ignore[no-any-return]

    return [fold(t, node) for t in types]


def _ground(t: Type) -> Type:
    """`t` with every variable left instantiated with ``()``."""
    return fold(t, lambda n, kids: UnitT if isinstance(n, Var) else (type(n)(*kids) if kids else n))  # type: ignore


def fix_signature(principal: Signature, state: Value) -> Signature:
    """The ground signature a node runs `principal` at, from state value `state`.

    The state type is unified with the type of `state`; every variable left becomes ``()``.

    >>> from catlib.types import parse
    >>> from cam.code import parse_value
    >>> sig = Signature(parse("Int"), parse("Either a b"), parse("Either () Int"))
    >>> str(fix_signature(sig, parse_value("Int 0")))
    'Int / Either () () -> Either () Int'
    """
    u = Unifier()
    s, i, o = _freshen(principal, u)
    try:
        u.unify(s, value_type(state, u))
    except UnifyError:
        raise NodeError("ill_typed_state", f"the initial state {to_text(state)} does not have the "
                        f"machine's state type {principal.state}") from None
    return Signature(*(_ground(u.resolve(t)) for t in (s, i, o)))


# ---------------------------------------------------------------- the node


@dataclass
class _Prepared:
    """A checked upgrade, ready to install."""

    code: Code
    digest: str
    signature: Signature
    state: Value
    seconds: float


@dataclass
class Node:
    """A running machine: code, ground signature, state, history.  Not thread-safe: serialise calls.

    `declared` (parts may be ``None``) is checked by the verifier and fixes
    the types it names.  `emit` receives the terminal lines of each event (the
    reference's lines, each event followed by an empty line).  `verify` and `check_value`
    default to `cam.verifier`'s.
    """

    code: Code
    state: Value
    name: str = ""
    declared: Signature | None = None
    limits: Limits = field(default_factory=Limits)
    emit: Callable[[list[str]], None] | None = None
    verify: Callable[..., Signature] | None = None
    check_value: Callable[[Value, Type], None] | None = None

    def __post_init__(self) -> None:
        v = _verifier() if self.verify is None or self.check_value is None else None
        self.verify = self.verify or v.verify
        self.check_value = self.check_value or v.check_value
        if not isinstance(self.code, Code) or not isinstance(self.state, Value):
            raise TypeError("a Node needs cam.code.Code and a cam.code.Value state")
        d = self.declared
        try:
            self.principal = (self.verify(self.code) if d is None else
                              self.verify(self.code, state=d.state, input=d.input, output=d.output))
        except (TypeError, ValueError) as e:
            raise NodeError("new_code_rejected", f"the machine fails verification: {e}") from None
        self.signature = fix_signature(self.principal, self.state)
        try:
            self.check_value(self.state, self.signature.state)
        except (TypeError, ValueError) as e:
            raise NodeError("ill_typed_state", f"the initial state does not have type {self.signature.state}: {e}") from None
        self.digest = digest(self.code)
        self.inputs = 0
        self.machine_steps = 0
        self.started = time.time()
        self.history: list[Version] = [Version(self.digest, 0, self.started, 0.0)]
        self.upgrade_pauses: list[float] = []
        """Seconds from receiving each upgrade to having served the next input (the last 100)."""
        self._pause_from: float | None = None
        self._typed_inputs: set[Value] = set()
        """Inputs known to have the running input type (cleared on upgrade)."""

    def _emit(self, *lines: str) -> None:
        """Print one event's lines; a failing terminal (a closed stdout pipe...) is reported, never raised.

        Events are printed after the state has changed (or after a refusal was decided), so an
        exception here would turn an applied request into an error answer: the output is lost, the
        answer stays true.
        """
        if self.emit is not None:
            safe_emit(self.emit, [*lines, ""])

    # -- inputs

    def do(self, x: Value) -> Outcome:
        """Run one input; the state changes only if the input is well typed and the machine halts."""
        if not isinstance(x, Value):
            raise NodeError("bad_value", f"not a machine value: {x!r}")
        if _value_depth(x) > self.limits.max_depth:
            raise self._refuse_input(NodeError("too_deep", f"the input is nested more than {self.limits.max_depth} deep"))
        if x not in self._typed_inputs:
            try:
                self.check_value(x, self.signature.input)  # type: ignore[misc]
            except (TypeError, ValueError) as e:  # ValueTypeError, or a value over the verifier's limits
                raise self._refuse_input(NodeError(
                    "ill_typed_input", f"{to_text(x)} does not have the input type {self.signature.input}: {e}")
                ) from None
            if len(self._typed_inputs) >= 1024:  # clients repeat their commands: remember the last ones
                self._typed_inputs.clear()
            self._typed_inputs.add(x)
        try:
            r = execute(self.code, x, self.state, fuel=self.limits.fuel)
        except MachineError as e:
            what = "ran out of fuel" if isinstance(e, OutOfFuel) else "got stuck"
            raise self._refuse_input(NodeError("machine_error", f"the machine {what} on {to_text(x)} after "
                                                                f"{e.steps} steps; the state is unchanged")) from None
        self.state = r.state
        self.inputs += 1
        self.machine_steps += r.steps
        if self._pause_from is not None:
            self.upgrade_pauses = [*self.upgrade_pauses[-99:], time.perf_counter() - self._pause_from]
            self._pause_from = None
        out_text, state_text = to_text(r.output), to_text(r.state)
        self._emit(f"Output:    {out_text}", f"New state: {state_text}")
        return Outcome(r.output, r.state, r.steps, out_text, state_text)

    def _refuse_input(self, e: NodeError) -> NodeError:
        self._emit(f"Input refused ({e.kind}): {e}")
        return e

    # -- upgrades

    def upgrade(self, old: Code, new: Code, migration: Code, received: float | None = None) -> Version:
        """Check an upgrade and install it; raise `NodeError` (and change nothing) if a check fails.

        `received` (a `time.perf_counter` value, default now) is when the upgrade arrived: the
        pause until the next input is served is recorded in `upgrade_pauses`.
        """
        received = time.perf_counter() if received is None else received
        try:
            p = self.prepare(old, new, migration)
        except NodeError as e:
            if e.kind == "wrong_version":
                self._emit(WRONG_VERSION)
            else:
                self._emit(f"Upgrade refused ({e.kind}): {e}. Nothing changed.")
            raise
        v = self.install(p)
        self._pause_from = received
        return v

    def prepare(self, old: Code, new: Code, migration: Code) -> _Prepared:
        """Every check of an upgrade, in order, without changing the node.  Raises `NodeError`."""
        t0 = time.perf_counter()
        verify, check_value = self.verify, self.check_value
        assert verify is not None and check_value is not None
        for name, c in (("old", old), ("new", new), ("migration", migration)):
            if not isinstance(c, Code):
                raise NodeError("bad_code", f"the {name} code is not Code: {type(c).__name__}")
        # 1. the sender upgrades the version it thinks is running
        if digest(old) != self.digest:
            raise NodeError("wrong_version", f"the upgrade expects {digest(old)}, the node runs {self.digest}")
        # 2. both pieces of code are well typed on their own
        try:
            new_sig = verify(new)
        except (TypeError, ValueError) as e:  # BytecodeError (a ValueError), whatever its cause
            raise NodeError("new_code_rejected", f"the new code fails verification: {e}") from None
        try:
            verify(migration)
        except (TypeError, ValueError) as e:
            raise NodeError("migration_rejected", f"the migration fails verification: {e}") from None
        # 3. the migration maps the running state to something, with a unit register
        try:
            mig_sig = verify(migration, state=UnitT, input=self.signature.state)
        except (TypeError, ValueError) as e:
            raise NodeError("migration_type", f"the migration does not have type () / {self.signature.state} -> s: "
                                              f"{e}") from None
        # 4. the new machine's state is what the migration makes; its interface is the running one
        u = Unifier()
        (mig_out,) = _freshen([mig_sig.output], u)
        s, i, o = _freshen(new_sig, u)
        try:
            u.unify(s, mig_out)
        except UnifyError:
            raise NodeError("state_type", f"the new machine's state type {new_sig.state} is not the migration's "
                                          f"output type {mig_sig.output}") from None
        try:
            u.unify(i, self.signature.input)
            u.unify(o, self.signature.output)
        except UnifyError:
            raise NodeError("interface_changed", f"the new machine has type {new_sig.input} -> {new_sig.output}, the "
                            f"running one {self.signature.input} -> {self.signature.output}; an upgrade keeps "
                            "the input and output types") from None
        signature = Signature(*(_ground(u.resolve(t)) for t in (s, i, o)))
        # 5. the migration halts on the current state (a copy: values are immutable)
        try:
            r = execute(migration, self.state, Unit, fuel=self.limits.migration_fuel)
        except MachineError as e:
            what = (f"ran out of its {self.limits.migration_fuel} steps" if isinstance(e, OutOfFuel)
                    else f"got stuck after {e.steps} steps")
            raise NodeError("migration_failed", f"the migration {what} on the state {to_text(self.state)}") from None
        try:
            check_value(r.output, signature.state)
        except (TypeError, ValueError) as e:
            raise NodeError("migration_failed", f"the migrated state {to_text(r.output)} does not have the new "
                                                f"state type {signature.state}: {e}") from None
        return _Prepared(new, digest(new), signature, r.output, time.perf_counter() - t0)

    def install(self, p: _Prepared) -> Version:
        """Swap code and state as one step (call between two inputs)."""
        self.code, self.digest, self.signature, self.state = p.code, p.digest, p.signature, p.state
        self._typed_inputs = set()
        v = Version(p.digest, self.inputs, time.time(), p.seconds)
        self.history.append(v)
        self._emit(UPGRADE_OK)
        return v

    # -- status

    def status(self) -> dict[str, Any]:
        """What a ``status`` request answers: digest, signature, state, counts, history."""
        return {
            "name": self.name,
            "digest": self.digest,
            "signature": str(self.signature),
            "state_type": str(self.signature.state),
            "input_type": str(self.signature.input),
            "output_type": str(self.signature.output),
            "state": to_text(self.state),
            "inputs": self.inputs,
            "machine_steps": self.machine_steps,
            "upgrades": len(self.history) - 1,
            "history": [v._asdict() for v in self.history],
            "upgrade_pauses": self.upgrade_pauses,
            "uptime": time.time() - self.started,
        }


# ---------------------------------------------------------------- request decoding

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
    if _value_depth(v) > max_depth:
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


# ---------------------------------------------------------------- the server


async def _lines(reader: asyncio.StreamReader, max_line: int) -> AsyncIterator[bytes | None]:
    """Lines of `reader` without their newline; ``None`` stands for a line over `max_line` (dropped)."""
    pending: list[bytes] = []
    size = 0
    dropping = False
    while True:
        chunk = await reader.read(1 << 16)
        if not chunk:
            if pending and not dropping:
                yield b"".join(pending)
            return
        start = 0
        while True:
            i = chunk.find(b"\n", start)
            if i < 0:
                if not dropping:
                    rest = chunk[start:]
                    pending.append(rest)
                    size += len(rest)
                    if size > max_line:  # answer now; skip the rest of this line as it arrives
                        pending, size, dropping = [], 0, True
                        yield None
                break
            piece, start = chunk[start:i], i + 1
            if dropping:
                dropping = False
                continue
            if pending:
                piece, pending, size = b"".join(pending) + piece, [], 0
            yield piece if len(piece) <= max_line else None


def printer(out: TextIO | None = None) -> Callable[[list[str]], None]:
    """An `emit` for `Node` that writes the lines to `out` (default: the current ``sys.stdout``) and flushes."""

    def emit(lines: list[str]) -> None:
        f = out or sys.stdout
        f.write("\n".join(lines) + "\n")
        f.flush()

    return emit


class NodeServer:
    """Serves a `Node` over TCP (newline-delimited JSON) and, optionally, the reference's text commands on a FIFO."""

    def __init__(self, node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None) -> None:
        self.node, self.host, self.port, self.fifo = node, host, port, fifo
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._fifo_fds: list[int] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def lock(self) -> asyncio.Lock:
        """The node's one serialising lock (FIFO-fair): every request runs under it."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _emit(self, *lines: str) -> None:
        self.node._emit(*lines)

    async def start(self) -> None:
        """Bind the TCP port (0 = chosen by the OS, see `port`) and open the FIFO."""
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        if self.fifo is not None:
            self._tasks.add(asyncio.get_running_loop().create_task(self._serve_fifo(self.fifo)))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for w in list(self._writers):  # their handlers see end of file and finish
            w.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        for t in self._tasks:
            t.cancel()
        for fd in self._fifo_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fifo_fds.clear()

    # -- TCP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limit = self.node.limits.max_connections
        if len(self._writers) >= limit:  # each connection may hold max_line bytes: bound the memory
            await self._refuse_connection(writer, limit)
            return
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            async for line in _lines(reader, self.node.limits.max_line):
                if line is not None and not line.strip():
                    continue
                response = await self.handle(line)
                writer.write(json.dumps(response).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the peer went away, or the node is shutting down: nothing left to answer
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    @staticmethod
    async def _refuse_connection(writer: asyncio.StreamWriter, limit: int) -> None:
        """Answer one error line (id null) to a connection over the limit, and close it."""
        response = {"id": None, "ok": False, "error": "too_many_connections",
                    "message": f"the node serves at most {limit} connections at once; try again later"}
        try:
            writer.write(json.dumps(response).encode() + b"\n")
            await writer.drain()  # one short line: the socket's buffer takes it at once
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def handle(self, line: bytes | None) -> dict[str, Any]:
        """The response to one request line (``None``: a line over the size limit)."""
        self.requests += 1
        received = time.perf_counter()
        rid: Any = None
        try:
            req = self._parse(line)
            rid = req.get("id")
            shown = _shown(line)
            if not (rid is None or isinstance(rid, (str, int)) and not isinstance(rid, bool)
                    or isinstance(rid, float) and math.isfinite(rid)):  # NaN, Infinity: not JSON, cannot go back
                rid = None
                self._emit(f"Invalid command: {shown}")
                raise NodeError("bad_request", "'id' must be a string, a finite number or null")
            kind = req.get("kind")
            if kind == "do":
                return {"id": rid, "ok": True, **await self._do(req, line)}  # type: ignore[arg-type]
            if kind == "upgrade":
                return {"id": rid, "ok": True, **await self._upgrade(req, line, received)}
            if kind == "status":
                async with self.lock:
                    return {"id": rid, "ok": True, **self.node.status()}
            self._emit(f"Invalid command: {shown}")
            raise NodeError("unknown_kind", f"unknown request kind {kind!r}; the kinds are do, upgrade, status")
        except NodeError as e:
            return {"id": rid, "ok": False, "error": e.kind, "message": str(e)}
        except Exception as e:  # a bug must not take the node down; say so
            return {"id": rid, "ok": False, "error": "internal", "message": f"{type(e).__name__}: {e}"}

    def _parse(self, line: bytes | None) -> dict[str, Any]:
        """The request object of a line, or `NodeError` (line too long, too deep, not JSON, not an object)."""
        limits = self.node.limits
        if line is None:
            self._emit(f"Invalid command: a line over the {limits.max_line}-byte limit")
            raise NodeError("line_too_long", f"request lines are limited to {limits.max_line} bytes")
        if line.count(b"[") + line.count(b"{") > limits.max_depth and json_depth(line) > limits.max_depth:
            self._emit(f"Invalid command: {_shown(line)}")
            raise NodeError("too_deep", f"the request is nested more than {limits.max_depth} deep")
        try:
            req = json.loads(line)
        except (ValueError, RecursionError) as e:
            self._emit(f"Invalid command: {_shown(line)}")
            raise NodeError("bad_json", f"not JSON: {e}") from None
        if not isinstance(req, dict):
            self._emit(f"Invalid command: {_shown(line)}")
            raise NodeError("bad_request", "a request is a JSON object")
        return req

    async def _do(self, req: dict[str, Any], line: bytes) -> dict[str, Any]:
        try:
            if "input" not in req:
                raise NodeError("bad_request", "a do request needs 'input'")
            x = decode_value(req["input"], self.node.limits.max_depth)
        except NodeError as e:  # a command the node cannot read, as the reference would say
            self._emit(f"Invalid command: {_shown(line)}")
            raise e from None
        async with self.lock:
            r = self.node.do(x)
        return {"output": r.output_text, "state": r.state_text, "steps": r.steps}

    async def _upgrade(self, req: dict[str, Any], line: bytes | None, received: float) -> dict[str, Any]:
        missing = [k for k in ("old", "new", "migration") if k not in req]
        if missing:
            self._emit(f"Invalid command: {_shown(line or b'')}")
            raise NodeError("bad_request", f"an upgrade request needs {', '.join(missing)}")
        big = line is not None and len(line) > self.node.limits.executor_threshold
        loop = asyncio.get_running_loop()

        def parse() -> tuple[Code, Code, Code]:
            return (decode_code(req["old"], "old"), decode_code(req["new"], "new"),
                    decode_code(req["migration"], "migration"))

        try:
            old, new, migration = await loop.run_in_executor(None, parse) if big else parse()
        except NodeError as e:
            self._emit(f"Upgrade refused ({e.kind}): {e}. Nothing changed.")
            raise
        async with self.lock:
            # Big upgrades are checked in a worker thread: the node keeps reading, and what it reads waits here.
            if big:
                v = await loop.run_in_executor(None, self.node.upgrade, old, new, migration, received)
            else:
                v = self.node.upgrade(old, new, migration, received)
            return {"digest": v.digest, "signature": str(self.node.signature), "state": to_text(self.node.state),
                    "check_seconds": v.check_seconds}

    # -- the reference's text commands on a named pipe

    async def _serve_fifo(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own write end keeps the pipe open between writers, so the reader never sees end of file.
        wfd = os.open(path, os.O_WRONLY)
        self._fifo_fds.append(wfd)
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(rfd, "rb", buffering=0))
        try:
            async for line in _lines(reader, self.node.limits.max_line):
                if line is None:
                    self._emit(f"Invalid command: a line over the {self.node.limits.max_line}-byte limit")
                elif line.strip():
                    try:
                        await self.text_command(line.decode("utf-8", "replace"))
                    except Exception as e:  # a bug must not end the pipe's reader: say so and read on
                        self._emit(f"Internal error ({type(e).__name__}: {e}); the node keeps its state")
        finally:
            transport.close()

    async def text_command(self, text: str) -> None:
        """Run one of the reference's text commands: ``Do <value>`` or ``Load <old> <new> <migration>``."""
        line = text.strip()
        try:
            if line.startswith("Do ") or line.startswith("Do("):
                x = parse_value(line[2:].strip())
                async with self.lock:
                    self.node.do(x)
                return
            if line.startswith("Load ") or line.startswith("Load["):
                parts = split_codes(line[4:])
                if len(parts) != 3:
                    raise ParseError(4, "three code lists", str(len(parts)))
                old, new, migration = map(parse_code, parts)
                async with self.lock:
                    self.node.upgrade(old, new, migration)
                return
        except ParseError:
            pass
        except NodeError:  # the node has printed why
            return
        self._emit(f"Invalid command: {text.rstrip()[:1000]}")


def _shown(line: bytes) -> str:
    return line[:200].decode("utf-8", "replace") + ("..." if len(line) > 200 else "")


def banner(node: Node, server: NodeServer) -> list[str]:
    """The lines a node prints when it starts: what runs, at which type, where; then the reference's line."""
    lines = [f"Machine:   {node.name or '(code)'}  {node.digest[:19]}",
             f"Signature: {node.signature}",
             f"State:     {to_text(node.state)}",
             f"Listening: {server.host}:{server.port} (newline-delimited JSON)"]
    if server.fifo:
        lines.append(f"Commands:  {server.fifo} (the reference's text commands)")
    return [*lines, "Waiting for commands..."]


async def serve(node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None,
                out: TextIO | None = None) -> None:
    """Run a node until cancelled, printing its banner to `out` first."""
    if fifo is not None:
        _make_fifo(fifo)
    server = NodeServer(node, host, port, fifo)
    await server.start()
    f = out or sys.stdout
    f.write("\n".join(banner(node, server)) + "\n")
    f.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def _make_fifo(path: str) -> None:
    if os.path.exists(path):
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise NodeError("bad_request", f"{path} exists and is not a named pipe")
    else:
        os.mkfifo(path, 0o600)


@dataclass
class Running:
    """A node served from a background thread (see `start_in_thread`)."""

    server: NodeServer
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def host(self) -> str:
        return self.server.host

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(10)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(node: Node, host: str = "127.0.0.1", port: int = 0, fifo: str | None = None) -> Running:
    """Serve `node` from a daemon thread with its own event loop; returns once it listens."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            if fifo is not None:
                _make_fifo(fifo)
            server = NodeServer(node, host, port, fifo)
            await server.start()
        except BaseException as e:
            box["error"] = e
            ready.set()
            return
        stop = asyncio.Event()
        box.update(server=server, loop=asyncio.get_running_loop(), stop=stop)
        ready.set()
        try:
            await stop.wait()
        finally:
            await server.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="cam-node", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        raise box["error"]
    return Running(box["server"], thread, box["loop"], box["stop"])
