"""A node's way back: the versions under the running one, rollback, probation and make_permanent.

Every installed upgrade pushes a `Frame`: the version it replaces (code,
name, signature, the interfaces it served), the state and input count at that moment, and the
upgrade's down-migration if it carried one (``() / new state -> old
state``, verified and type-checked when the upgrade was checked, and run
once then on the migrated state).  `History.rollback` pops the top frame
and reinstalls its version, with the state carried back through the
down-migration; without one it is refused unless asked to ``discard``, and
then the state saved at the upgrade comes back and the answer says how many
inputs served since are forgotten.  A rollback is journalled and installs a
new version number (the generation never decreases, so a signature made for
one version cannot be replayed after a rollback to the same code).

Probation (Erlang's install / make_permanent): an upgrade installed with
``probation`` is rolled back automatically when an input makes its machine
fail, and a node restarted on probation comes back on the version below it;
`History.make_permanent` ends the probation.

>>> from cam.node import Node
>>> from cam.text import parse_code, parse_value
>>> node = Node(parse_code("[ID,GET]"), parse_value("Int 7"), name="seven")
>>> v = node.upgrade(node.code, parse_code("[GET]"), parse_code("[ID]"), down=parse_code("[ID]"), name="got")
>>> node.status()["name"], node.status()["version"]
('got', 2)
>>> node.rollback()["note"], node.name, node.state
('rollback to v1', 'seven', IntV(7))
>>> node.rollback()
Traceback (most recent call last):
  ...
cam.contract.Refusal: there is no earlier version to roll back to (the node runs v3, seven)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cam.code import Code, UnitV, Value, to_text
from cam.contract import Refusal, Version
from cam.ground import clip
from cam.interfaces import Interface
from cam.machine import MachineError, OutOfFuel, execute
from cam.text import parse_code, parse_value
from catlib.typecheck import Signature
from catlib.types import Type, Unit, parse

__all__ = ["Frame", "History", "check_down_type", "run_down"]


@dataclass
class Frame:
    """What rolling back one upgrade needs: the version under it, and how to carry the state back."""

    code: Code
    digest: str
    name: str
    signature: Signature
    number: int
    """The version number the rollback reinstalls (its code's number when it ran)."""
    state: Value
    """The state when the upgrade was installed (what a rollback with discard restores)."""
    inputs: int
    """Inputs served when the upgrade was installed."""
    down: Code | None
    interfaces: list[Interface]

    def image(self) -> dict[str, Any]:
        """The frame as JSON-able data (snapshots)."""
        return {"code": to_text(self.code), "digest": self.digest, "name": self.name,
                "signature": [str(t) for t in self.signature], "number": self.number,
                "state": to_text(self.state), "inputs": self.inputs,
                "down": None if self.down is None else to_text(self.down),
                "interfaces": [i.image() for i in self.interfaces]}

    @classmethod
    def of_image(cls, d: dict[str, Any]) -> Frame:
        return cls(parse_code(d["code"]), d["digest"], d["name"], Signature(*(parse(t) for t in d["signature"])),
                   d["number"], parse_value(d["state"]), d["inputs"],
                   None if d["down"] is None else parse_code(d["down"]),
                   [Interface.of_image(i) for i in d["interfaces"]])


def check_down_type(verify: Callable[..., Signature], down: Code, new_state: Type, old_state: Type) -> None:
    """Refuse (`Refusal`) a down-migration that is not ``() / new_state -> old_state``."""
    if not isinstance(down, Code):
        raise Refusal("bad_code", f"the down-migration is not Code: {type(down).__name__}")
    try:
        verify(down, state=Unit, input=new_state, output=old_state)
    except (TypeError, ValueError) as e:
        raise Refusal("down_migration_type", f"the down-migration does not have type () / {new_state} -> "
                                             f"{old_state}: {e}") from None


def run_down(down: Code, state: Value, fuel: int) -> Value:
    """The down-migration's output on `state`, or `Refusal` (``migration_failed``)."""
    try:
        return execute(down, state, UnitV, fuel=fuel).output
    except MachineError as e:
        what = f"ran out of its {fuel} steps" if isinstance(e, OutOfFuel) else f"got stuck after {e.steps} steps"
        raise Refusal("migration_failed", f"the down-migration {what} on the state {clip(to_text(state))}") from None


class History:
    """Rollback, probation and make_permanent for `cam.node.Node` (which sets these attributes), and the running
    version's texts (its code's and its signature's, kept until a version change)."""

    code: Code
    digest: str
    name: str
    signature: Signature
    state: Value
    inputs: int
    generation: int
    history: list[Version]
    frames: list[Frame]
    interfaces: list[Interface]
    probation: bool
    limits: Any
    _code_text: str | None
    _shown: tuple[Signature | None, str]
    _state_text: str | None
    _typed_inputs: dict[tuple[int | None, Value], Any]
    _pause_from: tuple[float, float] | None
    _journal: Callable[..., None]
    _remember: Callable[..., None]
    _maybe_snapshot: Callable[[], None]
    say: Callable[..., None]
    probes: tuple[Any, ...]
    refuse_if_held: Callable[[], None]
    probe_now: Callable[[], str | None]
    fail_probation: Callable[[str], Refusal]

    def code_text(self) -> str:
        """The running code's text form (so an upgrade can always be written, even for code nobody kept)."""
        if self._code_text is None:
            self._code_text = to_text(self.code)
        return self._code_text

    def signature_text(self) -> str:
        """``str(self.signature)``, kept until the signature changes (an upgrade's checks make the new one's)."""
        if self._shown[0] is not self.signature:
            self._shown = (self.signature, str(self.signature))
        return self._shown[1]

    def push_frame(self, down: Code | None) -> None:
        """Remember the running version under an upgrade about to be installed (at most `max_history`)."""
        self.frames = [*self.frames[-(self.limits.max_history - 1):], Frame(
            self.code, self.digest, self.name, self.signature, self.generation, self.state, self.inputs, down, self.interfaces)]

    def rollback_plan(self, discard: bool) -> tuple[Frame, Value, int]:
        """(frame, state to restore, inputs forgotten) of a rollback now, or `Refusal`.  Changes nothing."""
        self.refuse_if_held()
        if not self.frames:
            raise Refusal("no_history", f"there is no earlier version to roll back to (the node runs "
                                        f"v{self.generation}, {self.name or '(code)'})")
        f = self.frames[-1]
        if f.down is not None:
            return f, run_down(f.down, self.state, self.limits.migration_fuel), 0
        forgotten = self.inputs - f.inputs
        if not discard:
            raise Refusal("needs_discard", f"the upgrade from v{f.number} carries no down-migration; rollback with "
                                           f"discard restores the state saved then and forgets the {forgotten} "
                                           "input(s) served since")
        return f, f.state, forgotten

    def rollback(self, discard: bool = False, client: str | None = None, seq: int | None = None,
                 why: str = "") -> dict[str, Any]:
        """Reinstall the version under the running one (see the module's doc) and return the answer's
        fields; `Refusal` if it cannot (nothing changed)."""
        try:
            f, state, forgotten = self.rollback_plan(discard)
        except Refusal as e:
            self.say(f"Rollback refused ({e.kind}): {e}. Nothing changed.")
            raise
        v = Version(f.digest, self.inputs, time.time(), 0.0, self.generation + 1, f.name, f"rollback to v{f.number}")
        body = {"state": to_text(state), "forgotten": forgotten, "version": v._asdict(), "client": client,
                "seq": seq, "why": why}
        self._journal("rollback", body, v._asdict())
        self._apply_rollback(state, v, forgotten, client, seq)
        self._pause_from = None  # an upgrade no input reached: its pause and latency are never measured
        how = f"state restored, {forgotten} input(s) forgotten" if f.down is None else "state migrated back"
        self.say(f"Rolled back to v{f.number} ({f.name or 'code'}{'; ' + why if why else ''}): {how}.")
        self._maybe_snapshot()
        return self.rollback_reply(v, forgotten)

    def _apply_rollback(self, state: Value, v: Version, forgotten: int, client: str | None,
                        seq: int | None) -> None:
        f = self.frames.pop()
        self.code, self.digest, self.name, self.signature, self.state = f.code, f.digest, f.name, f.signature, state
        self._code_text, self._state_text, self._typed_inputs = None, None, {}
        self.generation, self.probation, self.interfaces, self.probes = v.number, False, f.interfaces, ()
        self.history = [*self.history[-(self.limits.max_history - 1):], v]
        self._remember(client, seq, self.rollback_reply(v, forgotten))

    def rollback_reply(self, v: Version, forgotten: int) -> dict[str, Any]:
        """The answer's fields for a rollback (what a retry gets again)."""
        return {"digest": v.digest, "name": v.name, "version": v.number, "note": v.note,
                "signature": self.signature_text(), "state": to_text(self.state), "forgotten": forgotten}

    def _replay_rollback(self, body: dict[str, Any]) -> None:
        self._apply_rollback(parse_value(body["state"]), Version(**body["version"]), body["forgotten"],
                             body["client"], body["seq"])

    def on_failure(self, e: Refusal) -> Refusal:
        """After an input's machine error: on probation, roll back (discarding if need be) and say so in `e`."""
        if not (self.probation and e.kind == "machine_error"):
            return e
        r = self.rollback(discard=True, why="a machine error on probation")
        back = r["note"].removeprefix("rollback to ")
        return Refusal("machine_error", f"{e}; the version was on probation: rolled back to {back} "
                                        f"({r['name'] or 'code'}), now v{r['version']}, {r['forgotten']} input(s) "
                                        "forgotten")

    def make_permanent(self, client: str | None = None, seq: int | None = None,
                       probed: tuple[str | None] | None = None) -> dict[str, Any]:
        """End the running version's probation (journalled); `Refusal` (``not_on_probation``) if it is not on it.

        The version's probes (`cam.probes`) run first, at the current state (`probed`: their outcome, if
        already run): if one fails, the version is rolled back instead and `Refusal` (``probe_failed``) says so.
        """
        if not self.probation:
            self.say("make_permanent refused (not_on_probation). Nothing changed.")
            raise Refusal("not_on_probation", f"v{self.generation} ({self.name or 'code'}) is not on probation")
        why = (self.probe_now() if self.probes else None) if probed is None else probed[0]
        if why is not None:
            raise self.fail_probation(why)
        self._journal("make_permanent", {"client": client, "seq": seq})
        reply = self._apply_permanent(client, seq)
        self.say(f"v{self.generation} ({self.name or 'code'}) is permanent.")
        return reply

    def _apply_permanent(self, client: str | None, seq: int | None) -> dict[str, Any]:
        self.probation, self.probes = False, ()
        reply = {"version": self.generation, "name": self.name, "digest": self.digest}
        self._remember(client, seq, reply)
        return reply

    def _replay_permanent(self, body: dict[str, Any]) -> None:
        self._apply_permanent(body["client"], body["seq"])
