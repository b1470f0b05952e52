"""The node: a CAM running one state machine, upgradable while it runs (served by `cam.server`).

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
declared signature: ``--input-type``, or a `catlib.program.Program` given as
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

Where the rest lives
--------------------
This module is the node's meaning: what it accepts, what it answers (`ERRORS`)
and how its state changes.  How requests are read off a line is
`cam.protocol`; the TCP and named-pipe transports, which serialise every
request under one lock, are `cam.server`.

>>> from cam.text import parse_code, parse_value
>>> lines = []
>>> node = Node(parse_code("[ID,GET]"), parse_value("Int 7"), emit=lines.extend)
>>> str(node.signature)
'Int / () -> Int'
>>> node.do(parse_value("Unit")).output
IntV(7)
>>> lines
['Output:    Int 7', 'New state: Int 7', '']
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cam.code import Closure, Code, IntV, L, Pair, R, UnitV, Value, to_text
from cam.machine import MachineError, OutOfFuel, execute
from cam.text import digest
from catlib.tree import fold
from catlib.typecheck import Signature
from catlib.types import Int, Prod, Sum, Type, Unifier, UnifyError, Unit, Var

__all__ = [
    "Node", "NodeError", "Limits", "Version", "Outcome", "ERRORS", "WRONG_VERSION", "UPGRADE_OK",
    "fix_signature", "value_type", "value_depth", "safe_emit",
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
        elif isinstance(t, IntV):
            out.append(Int)
        elif isinstance(t, (Pair, L, R)):
            todo.append((t, True))
            todo.extend((k, False) for k in reversed(t.kids))
        elif isinstance(t, Closure):
            out.append(u.fresh())
        else:
            out.append(Unit)
    return out[0]


def value_depth(v: Value) -> int:
    """Nesting depth of a value (closure environments count; their code does not).

    >>> from cam.text import parse_value
    >>> value_depth(parse_value("Pair (Int 1) (L Unit)"))
    3
    """
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
    return fold(t, lambda n, kids: Unit if isinstance(n, Var) else (type(n)(*kids) if kids else n))  # type: ignore


def fix_signature(principal: Signature, state: Value) -> Signature:
    """The ground signature a node runs `principal` at, from state value `state`.

    The state type is unified with the type of `state`; every variable left becomes ``()``.

    >>> from catlib.types import parse
    >>> from cam.text import parse_value
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
        if value_depth(x) > self.limits.max_depth:
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
            mig_sig = verify(migration, state=Unit, input=self.signature.state)
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
            r = execute(migration, self.state, UnitV, fuel=self.limits.migration_fuel)
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
