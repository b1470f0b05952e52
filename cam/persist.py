"""A node's image and its restart: what a snapshot holds, and how journal events are applied again.

`cam.store` keeps events and snapshots; this module is the node's side of it:
`Persistent.image` is what a snapshot holds, `Persistent.open` loads the
newest one and replays the events after it, each through its entry of
`REPLAYERS` (a new kind of change is a new entry).  Nothing here journals:
the node journals each change before making it (`cam.node`, `cam.history`).

What a restart does not bring back: a prepared release (`cam.hold`) is not a
change, so it is not journalled; a node restarted while holding one comes
back without it, on the version it ran (its commit, journalled as an
ordinary upgrade, is either in the journal whole or not at all).  A node
restarted on probation comes back on the version below (Erlang's release
handler boots the permanent release).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cam.code import Code, Value
from cam.contract import Refusal, Version
from cam.history import Frame, History
from cam.interfaces import Interface
from cam.machine import MachineError, Result, execute
from cam.probes import Probe
from cam.store import Store, StoreError
from cam.text import digest, parse_code, parse_value
from catlib.typecheck import Signature
from catlib.types import parse

__all__ = ["Persistent", "REPLAYERS"]


class Persistent:
    """Snapshots and restart for `cam.node.Node` (which sets these attributes)."""

    name: str
    code: Code
    state: Value
    signature: Signature
    inputs: int
    machine_steps: int
    generation: int
    started: float
    history: list[Version]
    probation: bool
    frames: list[Frame]
    interfaces: list[Interface]
    clients: OrderedDict[str, tuple[int, dict[str, Any]]]
    probes: tuple[Probe, ...]
    _code_text: str | None
    code_text: Callable[[], str]
    state_text: Callable[[], str]
    run_input: Callable[..., Result]
    rollback: Callable[..., dict[str, Any]]
    _apply_input: Callable[..., Any]
    _apply_upgrade: Callable[..., None]


    def image(self) -> dict[str, Any]:
        """Everything a snapshot holds: enough, with the events after it, to rebuild this node exactly."""
        return {"name": self.name, "code": self.code_text(), "state": self.state_text(),
                "signature": [str(t) for t in self.signature], "inputs": self.inputs,
                "machine_steps": self.machine_steps, "generation": self.generation, "started": self.started,
                "history": [v._asdict() for v in self.history], "probation": self.probation,
                "frames": [f.image() for f in self.frames], "interfaces": [i.image() for i in self.interfaces],
                "clients": [[c, s, r] for c, (s, r) in self.clients.items()]}

    @classmethod
    def open(cls, store: Store, code: Code | None = None, state: Value | None = None, **kw: Any) -> Any:
        """The node of a data directory: restored from its snapshot and journal, or created from `code` and `state`.

        A new directory needs `code` and `state`; a directory that holds a node ignores neither: they
        must be the node's first version and state (or ``None``).  Raises `cam.store.StoreError`.
        """
        make: Callable[..., Any] = cls  # cam.node.Node, whose constructor takes these (this mixin has none)
        image, events = store.load()
        if image is None:
            if code is None or state is None:
                raise StoreError(f"{store.path} holds no node yet: give the machine and its initial state")
            node = make(code, state, store=store, **kw)
            store.snapshot(node.image(), [node.history[0]._asdict()])
            return node
        first = store.versions(1)[:1]
        if code is not None and first and first[0]["digest"] != digest(code):
            raise StoreError(f"{store.path} holds a node that started with {first[0]['digest']}, not "
                             f"{digest(code)}; start it with --data alone, or give another directory")
        try:
            sig = Signature(*(parse(t) for t in image["signature"]))
            kw = {**kw, "declared": sig, "name": image.get("name", "")}
            node = make(parse_code(image["code"]), parse_value(image["state"]), store=store, **kw)
            node.inputs, node.machine_steps = image["inputs"], image["machine_steps"]
            node.generation, node.started = image["generation"], image["started"]
            node.history = [Version(**v) for v in image["history"]]
            node.clients = OrderedDict((c, (s, r)) for c, s, r in image["clients"])
            node.frames = [Frame.of_image(f) for f in image.get("frames", [])]
            node.probation = image.get("probation", False)
            if "interfaces" in image:
                node.interfaces = [Interface.of_image(i) for i in image["interfaces"]]
            for seq, kind, body in events:
                node._replay(seq, kind, body)
            if node.probation:  # Erlang's release handler boots the permanent release after a restart
                node.rollback(discard=True, why="the node restarted on probation")
        except StoreError:
            raise
        except (Refusal, KeyError, TypeError, ValueError) as e:
            raise StoreError(f"{store.path} cannot be restored: {type(e).__name__}: {e}") from None
        return node

    def _replay(self, seq: int, kind: str, body: dict[str, Any]) -> None:
        """Apply one journal event again (at restart), without journalling or printing it.

        Each kind of event has its replayer in `REPLAYERS`: a new kind of change is a new entry.
        """
        replayer = REPLAYERS.get(kind)
        if replayer is None:
            raise StoreError(f"event {seq} is of kind {kind!r}, unknown to this node (written by a newer one?)")
        try:
            replayer(self, body)
        except MachineError as e:
            raise StoreError(f"event {seq} ({kind}) no longer applies: {e}") from None

    def _replay_input(self, body: dict[str, Any]) -> None:
        x, interface = parse_value(body["input"]), body.get("interface")
        # it halted once: it halts again, whatever the step budget is now
        r = execute(self.code, x, self.state) if interface is None else self.run_input(x, 2**62, True, interface)
        self._apply_input(r, body["client"], body["seq"])

    def _replay_upgrade(self, body: dict[str, Any]) -> None:
        code = parse_code(body["code"])
        sig = Signature(*(parse(t) for t in body["signature"]))
        down, adapters = body.get("down"), body.get("adapters", [None, None])
        ia, oa = (None if a is None else parse_code(a) for a in adapters)
        self._apply_upgrade(code, digest(code), sig, parse_value(body["state"]), Version(**body["version"]),
                            body["client"], body["seq"], None if down is None else parse_code(down),
                            body.get("probation", False), (ia, oa))
        self._code_text = body["code"]
        self.probes = tuple(Probe.of_image(p, n) for n, p in enumerate(body.get("probes", []), 1))


REPLAYERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "input": Persistent._replay_input,
    "upgrade": Persistent._replay_upgrade,
    "rollback": History._replay_rollback,
    "make_permanent": History._replay_permanent,
}
"""How each kind of journal event is applied again at restart (`Persistent.open`)."""
