"""What a node promises: the kinds of refusal it answers, its limits, and the records of what it did.

`cam.node` decides; this module names the outcomes, so the transports
(`cam.server`), the wire (`cam.protocol`) and clients share one list
(`ERRORS`).
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from cam.code import Code, Value
from cam.ground import clip
from catlib.typecheck import Signature

__all__ = ["ExactlyOnce", "ERRORS", "Refusal", "Limits", "Version", "Applied", "WRONG_VERSION", "UPGRADE_OK", "safe_emit", "Prepared",
           "internal_answer"]

WRONG_VERSION = "The version running isn't the one the upgrade expects. Aborting upgrade."
"""The reference's line for an upgrade whose old code is not the running code."""

UPGRADE_OK = "Upgrade successful!"

ERRORS: dict[str, str] = {
    "bad_json": "the request line is not valid UTF-8 JSON",
    "bad_request": "the request is not an object with the fields its kind needs",
    "unknown_kind": "the request's kind is not do, upgrade, rollback, make_permanent, prepare, commit, abort or status",
    "line_too_long": "the request line is longer than the node's limit",
    "too_deep": "the request or a value in it is nested more deeply than the node's limit",
    "bad_value": "the input value does not parse (text or JSON value form), or holds an integer beyond 64 bits",
    "ill_typed_input": "the input does not have the running machine's input type; nothing ran",
    "ill_typed_state": "(at start) the initial state does not have the machine's state type",
    "machine_error": "the machine got stuck or ran out of its step budget on this input; the state is unchanged",
    "bad_code": "upgrade code that does not parse (text or JSON bytecode form)",
    "beyond_reference": "(named pipe) the code uses instructions the reference machine lacks; send it over TCP",
    "wrong_version": "the upgrade's old code is not the running code",
    "new_code_rejected": "the new code fails the bytecode verifier",
    "migration_rejected": "the migration fails the bytecode verifier",
    "migration_type": "the migration's type is not () / running-state -> new-state",
    "state_type": "the new machine's state type is not the migration's output type",
    "interface_changed": "the new machine's input or output type differs from the running machine's",
    "migration_failed": "the migration (or down-migration), run on the current state, got stuck or ran out of steps",
    "down_migration_type": "the down-migration does not verify or its type is not () / new-state -> running-state",
    "no_history": "a rollback, but the node keeps no earlier version to go back to; nothing changed",
    "needs_discard": "a rollback of an upgrade without down-migration: only with discard (the state saved then)",
    "on_probation": "an upgrade while the running version is on probation: make it permanent or roll it back first",
    "adapter_type": "an adapter does not verify, does not have its type, or fails on a trial value",
    "unknown_interface": "the request names an interface this node does not serve (see status)",
    "not_on_probation": "make_permanent, but the running version is not on probation; nothing changed",
    "probe_failed": "a probe input of an upgrade on probation failed: refused before installing, rolled back after",
    "prepare_held": "a prepared release upgrade is held: other upgrades, prepares and rollbacks wait for its commit, "
                    "abort or expiry",
    "not_prepared": "a commit (or abort) names no prepared upgrade held by the node (never prepared, aborted, "
                    "expired, or dropped by a restart); nothing changed",
    "over_budget": "the new code takes more than the step budget per input on a trial input; nothing changed",
    "unauthorized": "the upgrade is not signed by a key the node trusts (or, without --trust, not from loopback)",
    "stale_request": "the request's sequence number is below the client's last answered one; that answer is gone",
    "storage": "the node could not write its journal; nothing changed",
    "http_refused": "the line looks like HTTP; the node speaks newline-delimited JSON and closes the connection",
    "too_many_connections": "the node serves its limit of connections; this one is closed after this answer",
    "internal": "an unexpected error in the node (a bug); the node keeps its state",
}
"""Every machine-readable error kind a node answers with, and what it means."""


class Refusal(Exception):
    """A refused request: `kind` is one of `ERRORS`, the message says why in words (at most ~1,000 characters)."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in ERRORS, kind
        self.kind = kind
        super().__init__(clip(message, 1000))

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
    """The step budget: machine steps one input may take (and an upgrade's code on each trial input)."""
    migration_fuel: int = 1_000_000
    """Machine steps the migration may take on the current state."""
    executor_threshold: int = 64 * 1024
    """Request lines longer than this are parsed and checked in a worker thread, one at a time."""
    max_connections: int = 256
    """Open TCP connections (each may buffer a line of `max_line` bytes); more are answered and closed."""
    inline_fuel: int = 20_000
    """Steps an input may take on the event loop; a longer one is rerun in a worker thread (status stays fast)."""
    trials: int = 8
    """Trial inputs an upgrade's new code is run on (generated from the input type, at the migrated state)."""
    max_history: int = 100
    """Versions kept in memory (and in ``status``); the data directory keeps them all."""
    max_clients: int = 65_536
    """Clients whose last answer is remembered (the least recently seen are forgotten first)."""
    read_timeout: float = 10.0
    """Seconds a connection may take to finish a line it has started (and to take an answer)."""
    idle_timeout: float = 600.0
    """Seconds a connection may stay silent between requests before it is closed."""


class Version(NamedTuple):
    """One entry of the upgrade history."""

    digest: str
    since_input: int
    """How many inputs had been served when this version was installed."""
    time: float
    """Unix time of the installation."""
    check_seconds: float
    """How long the upgrade's checks and migration took (0 for the initial version)."""
    number: int = 1
    """1 for the node's first version, then one more for each version installed (a rollback installs one)."""
    name: str = ""
    """The machine's name (a `catlib.program.Program`'s, or the ``MODULE:NAME`` it was loaded from)."""
    note: str = ""
    """How it came: ``""`` (start or upgrade), ``"probation"``, ``"rollback to v1"``..."""


class Applied(NamedTuple):
    """What one input did: the output, the new state and the machine steps it took."""

    output: Value
    state: Value
    steps: int
    output_text: str
    state_text: str

    def reply(self) -> dict[str, Any]:
        """The answer's fields on the wire (what a retry gets again)."""
        return {"output": self.output_text, "state": self.state_text, "steps": self.steps}


def internal_answer(rid: Any, e: Exception) -> dict[str, Any]:
    """The answer to request `rid` when answering it raised `e`: an ``internal`` error (a bug; the node goes on)."""
    return {"id": rid, "ok": False, "error": "internal", "message": clip(f"{type(e).__name__}: {e}")}


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


@dataclass
class Prepared:
    """A checked upgrade, ready to install."""

    code: Code
    digest: str
    signature: Signature
    state: Value
    seconds: float
    trial_steps: int = 0
    """The most steps the new code took on a trial input."""
    text: str | None = None
    """The new code's text form, for the journal (made off the event loop by whoever has the time)."""
    down: Code | None = None
    """The down-migration (``() / new state -> running state``) a rollback will carry the state back through."""
    name: str = ""
    """The new version's name."""
    probation: bool = False
    """Installed on probation: a machine error rolls it back until `make_permanent`."""
    adapters: tuple[Code | None, Code | None] = (None, None)
    """Input adapter (``() / running input -> new input``) and output adapter (``() / new output -> running
    output``), or ``None`` for a side that keeps its type (`cam.interfaces`)."""
    host: Any = None
    """`state` as a host value (`cam.hostvalue`), if the checks made it (``None``: not made)."""
    shown: str = ""
    """``str(signature)``, if the checks made it (``""``: not made)."""
    state_text: str | None = None
    """`state`'s text form, if the checks made it (an upgrade's answer shows it)."""


class ExactlyOnce:
    """A node's memory of each client's last answer: a retry gets the same answer, a request runs at most once."""

    clients: OrderedDict[str, tuple[int, dict[str, Any]]]
    """Per client id: the last sequence number answered and its answer (least recently seen first)."""
    limits: Limits

    def remembered(self, client: str | None, seq: int | None) -> dict[str, Any] | None:
        """The answer already given to (`client`, `seq`), if that is the client's last request; else ``None``.

        Raises `Refusal` (``stale_request``) for a sequence number below the client's last one.
        """
        if client is None or seq is None:
            return None
        last = self.clients.get(client)
        if last is None or seq > last[0]:
            return None
        if seq < last[0]:
            raise Refusal("stale_request", f"client {clip(client, 64)} already had request {last[0]} answered; "
                                           f"request {seq} is older and its answer is forgotten")
        self.clients.move_to_end(client)
        return last[1]

    def _remember(self, client: str | None, seq: int | None, reply: dict[str, Any]) -> None:
        if client is not None and seq is not None:
            self.clients[client] = (seq, reply)
            self.clients.move_to_end(client)
            while len(self.clients) > self.limits.max_clients:
                self.clients.popitem(last=False)

