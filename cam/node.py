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
  the current state with a step bound, halts with a value of type ``S``, a
  down-migration (if any) has type ``() / S -> running-state``, and the new
  code keeps the step budget on trial inputs of its input type.
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

Why an upgrade keeps the input and output types (unless it carries adapters)
----------------------------------------------------------------------------
The new machine's principal input and output types must unify with the
running ones, which are ground, so after an upgrade clients may send exactly
what they sent before and read the same kind of answers (the seed's upgrade
keeps them: the counter's commands do not change).  An upgrade that changes
them must carry adapters from and to the running ones; the node then serves
every interface of its history (`cam.interfaces`).  Without, it is refused
with ``interface_changed``.

What survives, and what a retry gets
------------------------------------
With a `cam.store.Store` (``--data DIR``) every change is an event in the
journal before the node changes or answers; `image` is what a snapshot holds,
and `Node.open` loads the newest one and replays the events after it
(`REPLAYERS`, in `cam.persist`).  A request with a client id and a sequence number is applied
at most once: a retry gets the first answer again (`remembered`).

Where the rest lives
--------------------
This module is the node's meaning: what it accepts, what it answers (`ERRORS`)
and how its state changes.  Types of values and trial inputs are
`cam.ground`; an upgrade's checks are `cam.admission`; the versions under the
running one (rollback, probation) are `cam.history`; prepared upgrades held for a
release's commit are `cam.hold`; probe inputs are `cam.probes`; snapshots and
restart are `cam.persist`; how requests are read off a line is `cam.protocol`;
the TCP and named-pipe transports, which serialise every change under one lock,
are `cam.server`; the data directory is `cam.store`; signatures are `cam.auth`.

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

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cam import verifier
from cam.admission import Admitting
from cam.code import Code, Value, to_text
from cam.contract import (
    ERRORS,
    UPGRADE_OK,
    WRONG_VERSION,
    Applied,
    ExactlyOnce,
    Limits,
    Prepared,
    Refusal,
    Version,
    safe_emit,
)
from cam.decoded import decode
from cam.ground import StateTypeError, clip, fix_signature, value_depth, value_type
from cam.history import History
from cam.hold import Hold
from cam.hostvalue import MISSING, HostResult, HostState, Ran, from_value, host_text, to_value
from cam.interfaces import Interface, adapt, extend, find
from cam.machine import Loaded, MachineError, OutOfFuel, Result, execute, load, prepare
from cam.persist import REPLAYERS, Persistent
from cam.probes import Probe, Probing
from cam.store import Store, StoreError
from cam.text import digest, parse_value
from catlib.typecheck import Signature
from catlib.types import Type

__all__ = [
    "Node", "Prepared", "Refusal", "Limits", "Version", "Applied", "ERRORS", "WRONG_VERSION", "UPGRADE_OK",
    "fix_signature", "value_type", "value_depth", "safe_emit", "clip", "REPLAYERS",
]

_host_result = tuple.__new__


class Node(HostState, ExactlyOnce, Persistent, Admitting, Hold, Probing, History):
    """A running machine: code, ground signature, state, history.  Not thread-safe: serialise calls.

    `declared` (parts may be ``None``) is checked by the verifier and fixes
    the types it names.  `emit` receives the terminal lines of each event (the
    reference's lines, each event followed by an empty line).  `verify` and `check_value`
    default to `cam.verifier`'s.  `store` (see `Node.open`) journals every change.

    The state is kept as a host value (`host_state`) while inputs run, and as a
    machine value (`state`) when something asks for one; each form is made
    from the other once, when first needed after a change.
    """

    def __init__(self, code: Code, state: Value, name: str = "", declared: Signature | None = None,
                 limits: Limits | None = None, emit: Callable[[list[str]], None] | None = None,
                 verify: Callable[..., Signature] | None = None,
                 check_value: Callable[[Value, Type], None] | None = None, store: Store | None = None) -> None:
        self.code, self.name, self.declared = code, name, declared
        self.limits = limits if limits is not None else Limits()
        self.emit, self.verify, self.check_value, self.store = emit, verify, check_value, store
        self._sv: Value | None = None
        self._sh: Any = MISSING
        self._state_text: str | None = None
        self.state = state
        self.__post_init__()

    def __repr__(self) -> str:
        return f"Node(name={self.name!r}, digest={self.digest[:19]!r}, signature='{self.signature}')"

    def __post_init__(self) -> None:
        self.verify = self.verify or verifier.Remembered()
        self.check_value = self.check_value or verifier.check_value
        if not isinstance(self.code, Code) or not isinstance(self.state, Value):
            raise TypeError("a Node needs cam.code.Code and a cam.code.Value state")
        d = self.declared
        try:
            self.principal = (self.verify(self.code) if d is None else
                              self.verify(self.code, state=d.state, input=d.input, output=d.output))
        except (TypeError, ValueError) as e:
            raise Refusal("new_code_rejected", f"the machine fails verification: {e}") from None
        prepare(self.code)  # translated now, not on the first request's path (long inputs, adapters)
        self._loaded: dict[Code, Loaded] = {}
        """Loaded code of the running version and the versions it may go back to (see `loaded`)."""
        self._running = (self.code, self.loaded(self.code))
        """The running code and its loaded form (`run_host` looks it up again when `code` changes)."""
        try:
            self.signature = fix_signature(self.principal, self.state)
            self.check_value(self.state, self.signature.state)
        except (TypeError, ValueError) as e:
            raise Refusal("ill_typed_state", f"the initial state does not have type {self.signature.state}: {e}"
                          if not isinstance(e, StateTypeError) else str(e)) from None
        self.digest = digest(self.code)
        self.node_id = self.store.node_id if self.store is not None else secrets.token_hex(16)
        self.inputs = 0
        self.machine_steps = 0
        self.started = time.time()
        self.generation = 1
        """How many versions this node has installed, its first included (never decreases)."""
        self.history: list[Version] = [Version(self.digest, 0, self.started, 0.0, 1, self.name)]
        """The last `Limits.max_history` versions (all of them are in the data directory)."""
        self.clients: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        """Per client id: the last sequence number answered and its answer (least recently seen first)."""
        self.upgrade_pauses: list[float] = []
        """Per upgrade (the last 100), the seconds inputs waited for it: from the moment the node stopped
        serving inputs to install it (a server checks its code first, while inputs go on) to the next input
        served.  Without a server, from receiving the upgrade."""
        self.upgrade_latencies: list[float] = []
        """Per upgrade (the last 100), the seconds from receiving it to the first input served by the new code."""
        self._pause_from: tuple[float, float] | None = None
        self._typed_inputs: dict[tuple[int | None, Value], Any] = {}
        """Inputs known to have the running input type, with their host values (cleared when the interfaces change)."""
        self._code_text: str | None = None
        self._shown: tuple[Signature | None, str] = (None, "")  # the signature last shown, and its text
        self.frames = []
        """The versions under the running one, for `rollback` (`cam.history`)."""
        self.interfaces = [Interface(1, self.signature.input, self.signature.output, (), ())]
        """Every interface served, oldest first (`cam.interfaces`)."""
        self.probation = False
        self.probes: tuple[Probe, ...] = ()
        """The probes of the version on probation (`cam.probes`), run again at make_permanent."""
        self.held = None
        """The prepared upgrade held for a release's commit (`cam.hold`)."""

    def say(self, *lines: str) -> None:
        """Print one event's lines; a failing terminal (a closed stdout pipe...) is reported, never raised: events
        are printed after the state has changed (or a refusal was decided), so an exception here would turn an
        applied request into an error answer (the output is lost, the answer stays true)."""
        if self.emit is not None:
            safe_emit(self.emit, [*lines, ""])

    def _journal(self, kind: str, body: dict[str, Any], version: dict[str, Any] | None = None) -> None:
        """Write one event before the change it records is made; `Refusal` (storage) if it cannot be written."""
        if self.store is not None:
            try:
                self.store.append(kind, body, version)
            except StoreError as e:
                self.say(f"Refused: the journal cannot be written ({e}). Nothing changed.")
                raise Refusal("storage", str(e)) from None

    def _maybe_snapshot(self) -> None:
        if self.store is not None and self.store.snapshot_due:
            try:
                self.store.snapshot(self.image())
            except StoreError as e:  # the events are safe in the journal; a later snapshot may succeed
                self.say(f"Warning: no snapshot taken ({e}); the journal keeps growing")

    # -- inputs

    def check_input(self, x: Value, interface: int | None = None) -> Any:
        """Refuse (`Refusal`) an input that is not a value of the input type of `interface` (default the oldest).

        Returns the input's host value (`cam.hostvalue`).  Clients repeat their commands, so the last
        1,024 distinct inputs are checked and converted once.
        """
        known = self._typed_inputs.get((interface, x), MISSING)  # the cache is emptied when interfaces change
        if known is not MISSING:
            return known
        if not isinstance(x, Value):
            raise Refusal("bad_value", f"not a machine value: {clip(repr(x))}")
        if value_depth(x) > self.limits.max_depth:
            raise self._refuse_input(Refusal("too_deep", f"the input is nested more than {self.limits.max_depth} deep"))
        try:
            iface = find(self.interfaces, interface)
        except Refusal as e:
            raise self._refuse_input(e) from None
        try:
            self.check_value(x, iface.input)  # type: ignore[misc]
        except (TypeError, ValueError) as e:  # ValueTypeError, or a value over the verifier's limits
            raise self._refuse_input(Refusal(
                "ill_typed_input", f"{clip(to_text(x))} does not have the input type {iface.input}: "
                                   f"{clip(str(e))}")) from None
        if len(self._typed_inputs) >= 1024:  # clients repeat their commands: remember the last ones
            self._typed_inputs.clear()
        h = self._typed_inputs[interface, x] = from_value(x)
        return h

    def loaded(self, code: Code) -> Loaded:
        """`code` loaded (`cam.machine.load`) for inputs, with the step budget an input may take inline.

        Called when a version is prepared (in a worker thread), so installing it translates nothing.
        The budget is `Limits.inline_fuel`, or the code's size if larger (code without ``APP`` runs each
        instruction at most once, so its translation never stops short), never more than `Limits.fuel`.
        """
        step = self._loaded.get(code)
        if step is None:
            step = load(code, self._inline_budget(code), steps=True)
            # the running version's and recent ones' stay; the others go by 16 (the recent ones fill the limit
            # once a node has made as many upgrades: dropping at the limit would walk them at every load)
            if len(self._loaded) > self.limits.max_history + 18:
                keep = {f.code for f in self.frames[-self.limits.max_history:]} | {self.code}
                # a copy (one C call): an upgrade's checks load code in their thread while inputs may here
                self._loaded = {c: s for c, s in list(self._loaded.items()) if c in keep}
            self._loaded[code] = step
        return step

    def run_host(self, h: Any, x: Value, interface: int | None = None) -> HostResult | Result:
        """Run a checked input (host value `h` of `x`) on the running code and state, changing nothing.

        At most the loaded code's inline budget (`loaded`) is spent: past it `OutOfFuel` is raised, to
        run `x` again with `run_input` and the full budget (in a worker thread on a server).  Inputs of
        an interface with adapters run on `run_input` (a `Result` of machine values).
        """
        iface = find(self.interfaces, interface) if interface is not None else self.interfaces[0]
        if iface.ins or iface.outs:  # the inline budget too: past it, run again in full (off the event loop)
            budget = self._inline_budget(self.code)
            return self.run_input(x, budget, budget >= self.limits.fuel, interface)
        code, step = self._running
        if code is not self.code:  # an upgrade or a rollback changed it: look its loaded code up once
            step = self.loaded(self.code)
            self._running = (self.code, step)
        state = self._sh if self._sh is not MISSING else self.host_state  # without the property when kept
        try:
            done: Any = step(h, state)  # loaded with steps=True: (state, output, steps)
        except MachineError as e:
            if isinstance(e, OutOfFuel) and self._inline_budget(step.code) < self.limits.fuel:
                raise
            raise self._machine_error(e, x) from None
        return _host_result(HostResult, done)  # HostResult(*done) without its Python-level __new__

    def _inline_budget(self, code: Code) -> int:
        return min(max(self.limits.inline_fuel, decode(code).size), self.limits.fuel)

    def run_input(self, x: Value, fuel: int | None = None, final: bool = True, interface: int | None = None) -> Result:
        """Run a checked input (of `interface`: through its adapters) on the running code and state, changing nothing.

        `fuel` defaults to the step budget.  With ``final=False`` running out of it raises `OutOfFuel`
        (to be rerun elsewhere with more); otherwise a machine error is a `Refusal`.
        """
        iface = find(self.interfaces, interface)
        limit = self.limits.fuel if fuel is None else fuel  # (each adapter, and the machine, may spend it)
        try:
            if not (iface.ins or iface.outs):
                return execute(self.code, x, self.state, fuel=limit)
            y, before = adapt(iface.ins, x, limit, "input", final)
            r = execute(self.code, y, self.state, fuel=limit)
            out, after = adapt(iface.outs, r.output, limit, "output", final)
            return Result(r.state, out, before + r.steps + after)
        except Refusal as e:
            raise self._refuse_input(e) from None
        except MachineError as e:
            if isinstance(e, OutOfFuel) and not final:
                raise
            raise self._machine_error(e, x) from None

    def run_aside(self, x: Value, interface: int | None = None) -> Ran:
        """`run_input` with the full budget, and the texts and host value its commit needs, made here: a
        server calls it in a worker thread, so that a long input leaves no work in proportion to the state
        for the event loop (changes nothing)."""
        r = self.run_input(x, None, True, interface)
        return Ran(r, to_text(r.output), to_text(r.state), from_value(r.state))

    def _machine_error(self, e: MachineError, x: Value) -> Refusal:
        what = (f"ran out of its step budget ({self.limits.fuel} steps)" if isinstance(e, OutOfFuel)
                else f"got stuck after {e.steps} steps")
        return self._refuse_input(Refusal("machine_error", f"the machine {what} on {clip(to_text(x))}; "
                                                           "the state is unchanged"))

    def commit(self, x: Value, r: HostResult | Result | Ran, client: str | None = None, seq: int | None = None,
               interface: int | None = None) -> dict[str, Any]:
        """Journal the input, then make its result the node's state; the answer's fields (call right after running it)."""
        if self.store is not None:
            self._journal("input", {"input": to_text(x), "client": client, "seq": seq,
                                    **({} if interface is None else {"interface": interface})})
        if isinstance(r, HostResult):
            reply = self._apply_host(r, client, seq)
        else:
            reply = self._apply_input(r, client, seq).reply()
        if self.emit is not None:  # `say`, without its packing: this is every input's path
            safe_emit(self.emit, [f"Output:    {reply['output']}", f"New state: {reply['state']}", ""])
        if self.store is not None:
            self._maybe_snapshot()
        return reply

    def commit_input(self, x: Value, r: HostResult | Result | Ran, client: str | None = None, seq: int | None = None,
                     interface: int | None = None) -> Applied:
        """`commit`, answering an `Applied` (machine values)."""
        reply = self.commit(x, r, client, seq, interface)
        out = to_value(r.output) if isinstance(r, HostResult) else (r.result if isinstance(r, Ran) else r).output
        return Applied(out, self.state, reply["steps"], reply["output"], reply["state"])

    def _served(self, steps: int) -> None:
        self.inputs += 1
        self.machine_steps += steps
        if self._pause_from is not None:
            now, (received, stopped) = time.perf_counter(), self._pause_from
            self.upgrade_pauses = [*self.upgrade_pauses[-99:], now - stopped]
            self.upgrade_latencies = [*self.upgrade_latencies[-99:], now - received]
            self._pause_from = None

    def _apply_host(self, r: HostResult, client: str | None, seq: int | None) -> dict[str, Any]:
        state_text = self.follow_host(r.state)
        self._served(r.steps)
        reply = {"output": host_text(r.output), "state": state_text, "steps": r.steps}
        if client is not None and seq is not None:
            self._remember(client, seq, reply)
        return reply

    def _apply_input(self, r: Result | Ran, client: str | None, seq: int | None) -> Applied:
        m, texts, h = ((r.result, (r.output_text, r.state_text), r.host) if isinstance(r, Ran)  # made in a worker
                       else (r, (to_text(r.output), to_text(r.state)), MISSING))  # (snapshots reuse the text)
        applied = Applied(m.output, m.state, m.steps, *texts)
        self.set_forms(m.state, h, applied.state_text)
        self._served(applied.steps)
        self._remember(client, seq, applied.reply())
        return applied

    def do(self, x: Value, client: str | None = None, seq: int | None = None, interface: int | None = None) -> Applied:
        """Run one input; the state changes only if the input is well typed and the machine halts.

        A retry of the client's last request gets its first answer again, without running.
        """
        old = self.remembered(client, seq)
        if old is not None:
            return Applied(parse_value(old["output"]), parse_value(old["state"]), old["steps"], old["output"],
                           old["state"])
        h = self.check_input(x, interface)
        try:
            try:
                r: HostResult | Result = self.run_host(h, x, interface)
            except OutOfFuel:
                r = self.run_input(x, interface=interface)
        except Refusal as e:
            raise self.on_failure(e) from None
        return self.commit_input(x, r, client, seq, interface)

    def _refuse_input(self, e: Refusal) -> Refusal:
        self.say(f"Input refused ({e.kind}): {e}")
        return e

    # -- upgrades

    def upgrade(self, old: Code, new: Code, migration: Code, received: float | None = None,
                client: str | None = None, seq: int | None = None, down: Code | None = None, name: str = "",
                probation: bool = False, adapters: tuple[Code | None, Code | None] = (None, None),
                probes: tuple[Probe, ...] = ()) -> Version:
        """Check an upgrade and install it; raise `Refusal` (and change nothing) if a check fails.

        `received` (a `time.perf_counter` value, default now) is when the upgrade arrived: the
        pause until the next input is served is recorded in `upgrade_pauses` (and `upgrade_latencies`).  `down`, `name` and
        `probation`: see `cam.history`; `probes`: see `cam.probes`.
        """
        received = time.perf_counter() if received is None else received
        p = self.checked(old, new, migration, down, adapters, probes)
        p.name, p.probation = name, probation
        return self.install(p, received, client, seq, probes)

    def install(self, p: Prepared, received: float | None = None, client: str | None = None,
                seq: int | None = None, probes: tuple[Probe, ...] = (), stopped: float | None = None) -> Version:
        """Journal the upgrade, then swap code and state as one step (call between two inputs).

        `received`: when the upgrade arrived; `stopped`: when inputs stopped being served for it (default
        `received`), both `time.perf_counter` values (see `upgrade_pauses`)."""
        v = Version(p.digest, self.inputs, time.time(), p.seconds, self.generation + 1, p.name,
                    "probation" if p.probation else "")
        if self.store is not None:  # the journal's record (its texts take time: made only when kept)
            if p.text is None:
                p.text = to_text(p.code)
            body = {"code": p.text, "state": p.state_text or to_text(p.state), "signature": [str(t) for t in p.signature],
                    "version": v._asdict(), "client": client, "seq": seq,
                    "down": None if p.down is None else to_text(p.down), "probation": p.probation,
                    "adapters": [None if a is None else to_text(a) for a in p.adapters],
                    **({"probes": [x.image() for x in probes]} if probes else {})}
            self._journal("upgrade", body, v._asdict())
        self._apply_upgrade(p.code, p.digest, p.signature, p.state, v, client, seq, p.down, p.probation, p.adapters,
                            p.host, p.shown, p.state_text)
        self.probes = probes if p.probation else ()
        self._code_text = p.text
        received = time.perf_counter() if received is None else received
        self._pause_from = (received, received if stopped is None else stopped)
        self.say(UPGRADE_OK)
        self._maybe_snapshot()
        return v

    def _apply_upgrade(self, code: Code, d: str, signature: Signature, state: Value, v: Version,
                       client: str | None, seq: int | None, down: Code | None = None, probation: bool = False,
                       adapters: tuple[Code | None, Code | None] = (None, None), host: Any = None,
                       shown: str = "", state_text: str | None = None) -> None:
        """Swap in an upgrade (`host`, `shown`, `state_text`: made by the checks, kept: none is made again)."""
        self.push_frame(down)
        interfaces = extend(self.interfaces, v.number, signature.input, signature.output, *adapters)
        if interfaces is not self.interfaces:  # the same interfaces: the inputs known to have their types still do
            self.interfaces, self._typed_inputs = interfaces, {}
        self.code, self.digest, self.signature = code, d, signature
        if shown:
            self._shown = (signature, shown)
        if host is None:
            self.state = state
        else:
            self.set_host_state(host, state_text)
            self.know_state(state, self.state_changes)
        self.name, self.probation = v.name, probation
        self.generation = v.number
        self.history = [*self.history[-(self.limits.max_history - 1):], v] if self.limits.max_history > 1 else [v]
        self._remember(client, seq, self.upgrade_reply(v))

    def upgrade_reply(self, v: Version) -> dict[str, Any]:
        """The answer's fields for an installed upgrade (what a retry gets again)."""
        return {"digest": v.digest, "signature": self.signature_text(), "state": self.state_text(),
                "check_seconds": v.check_seconds, "version": v.number, "name": v.name, "probation": self.probation}

    # -- status

    def status(self, code: bool = False) -> dict[str, Any]:
        """What a ``status`` request answers: version, digest, signature, state, counts, history (and `code`'s text)."""
        top = self.frames[-1] if self.frames else None
        return {
            "name": self.name, "version": self.generation,
            "probation": self.probation, "probes": len(self.probes), "held": self.held_status(),
            "interfaces": [i.public() for i in self.interfaces],
            "rollback": None if top is None else {"to": top.number, "name": top.name,
                                                  "how": "discard" if top.down is None else "down"},
            **({"code": self.code_text()} if code else {}),
            "node_id": self.node_id, "digest": self.digest, "signature": self.signature_text(),
            "state_type": str(self.signature.state), "input_type": str(self.signature.input),
            "output_type": str(self.signature.output), "state": self.state_text(),
            "inputs": self.inputs, "machine_steps": self.machine_steps,
            "generation": self.generation, "upgrades": self.generation - 1,
            "history": [v._asdict() for v in self.history],
            "upgrade_pauses": self.upgrade_pauses, "upgrade_latencies": self.upgrade_latencies,
            "uptime": time.time() - self.started,
            "data": None if self.store is None else {"path": self.store.path, "durability": self.store.durability,
                                                     "journal": self.store.journal_length()},
        }


