"""Two-phase upgrades (releases across nodes): prepare, then commit or abort.

``prepare`` runs every check of an upgrade (`cam.admission`, and its probes)
and changes nothing, but *holds* the checked upgrade under a token chosen by
the sender, for a bounded time (``hold`` seconds, at most `MAX_HOLD`).
While it is held, every other upgrade, prepare and rollback is refused
(``prepare_held``); inputs are served as usual.  ``commit`` with the token
installs it; ``abort`` drops it; an expired hold is dropped the next time the
node looks at it (any request that would meet it, and ``status``).  A commit
without a held prepare (never prepared, aborted, expired) is refused with
``not_prepared``, and nothing changes.

Inputs keep changing the state while an upgrade is held, so a commit checks
again when the state is no longer the one checked at prepare time (the
migration runs on the state it will replace); a commit can therefore still
be refused, and the hold is then dropped.  The same token prepared twice
(a retry) gets the same answer.

What survives a restart: a prepare changes nothing and is not journalled;
a node that restarts while holding one comes back without it, on the version
it ran, and answers the commit with ``not_prepared`` (the release then rolls
back the nodes that committed: `cam.release`).  A commit is journalled as an
ordinary upgrade before it is installed, so a restart sees it whole or not at
all: never half-way.

>>> from cam.node import Node
>>> from cam.text import parse_code, parse_value
>>> node = Node(parse_code("[ID,GET]"), parse_value("Int 7"))
>>> node.hold_upgrade("t1", node.code, parse_code("[GET]"), parse_code("[ID]"))["version"]
2
>>> node.upgrade(node.code, parse_code("[GET]"), parse_code("[ID]"))
Traceback (most recent call last):
  ...
cam.contract.Refusal: a prepared upgrade (token t1, to v2) is held for 30 s more: commit or abort it first
>>> node.commit_held("t1").number, node.held is None
(2, True)
>>> node.commit_held("t1")
Traceback (most recent call last):
  ...
cam.contract.Refusal: no prepared upgrade is held under token t1 (never prepared, committed, aborted, expired, or dropped by a restart)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cam import admission
from cam.code import Code, Value
from cam.contract import Prepared, Refusal, Version
from cam.probes import Probe

__all__ = ["Held", "Hold", "MAX_HOLD", "DEFAULT_HOLD", "TOKEN"]

MAX_HOLD = 300.0
"""The longest a prepared upgrade may be held (seconds): a lost coordinator blocks upgrades no longer."""
DEFAULT_HOLD = 30.0
TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
"""What a token looks like (chosen by the sender, so that it can abort a prepare whose answer it never got)."""


@dataclass
class Held:
    """A checked upgrade held between prepare and commit."""

    token: str
    prepared: Prepared
    checked_state: Value
    """The state the checks ran on (a commit at another state checks again)."""
    parts: tuple[Code, Code, Code, Code | None, tuple[Code | None, Code | None]]
    """old, new, migration, down, adapters: what a commit checks again."""
    probes: tuple[Probe, ...]
    deadline: float
    """`time.monotonic` value after which the hold is dropped."""
    hold: float

    def reply(self, version: int) -> dict[str, Any]:
        """What a prepare answers (and a retry of it again)."""
        p = self.prepared
        return {"token": self.token, "hold": self.hold, "expires_in": round(max(0.0, self.deadline - time.monotonic()), 3),
                "version": version, "name": p.name, "digest": p.digest, "signature": str(p.signature),
                "probation": p.probation, "check_seconds": p.seconds}


class Hold:
    """Prepare / commit / abort for `cam.node.Node` (which sets these attributes)."""

    held: Held | None
    state: Value
    generation: int
    say: Callable[..., None]
    checked: Callable[..., Prepared]
    install: Callable[..., Version]

    def held_now(self) -> Held | None:
        """The held upgrade, after dropping it if it has expired."""
        h = self.held
        if h is not None and time.monotonic() > h.deadline:
            self.held = None
            self.say(f"Prepared upgrade {h.token} expired after {h.hold:g} s: dropped. Nothing changed.")
            return None
        return h

    def refuse_if_held(self, token: str | None = None) -> None:
        """`Refusal` (prepare_held) if an upgrade other than `token`'s is held."""
        h = self.held_now()
        if h is not None and h.token != token:
            raise Refusal("prepare_held", f"a prepared upgrade (token {h.token}, to v{self.generation + 1}) is held "
                                          f"for {max(0.0, h.deadline - time.monotonic()):.0f} s more: commit or abort "
                                          "it first")

    def hold_checked(self, token: str, p: Prepared, parts: Any, probes: Sequence[Probe] = (),
                     hold: float = DEFAULT_HOLD) -> dict[str, Any]:
        """Hold an upgrade checked for `token` (`Node.checked`, with its probes run); the prepare's answer."""
        if not TOKEN.fullmatch(token):
            raise Refusal("bad_request", "a release token is 1 to 64 letters, digits or _.:-")
        if not 0 < hold <= MAX_HOLD:
            raise Refusal("bad_request", f"'hold' is a number of seconds, more than 0 and at most {MAX_HOLD:g}")
        same = self.held_now()
        if same is not None and same.token == token:  # a retry: the same answer
            return same.reply(self.generation + 1)
        self.refuse_if_held()
        self.held = Held(token, p, self.state, parts, tuple(probes), time.monotonic() + hold, hold)
        self.say(f"Prepared upgrade {token} to v{self.generation + 1} ({p.name or 'code'}): held for {hold:g} s.")
        return self.held.reply(self.generation + 1)

    def hold_upgrade(self, token: str, old: Code, new: Code, migration: Code, down: Code | None = None,
                     adapters: tuple[Code | None, Code | None] = (None, None), name: str = "",
                     probation: bool = False, probes: Sequence[Probe] = (), hold: float = DEFAULT_HOLD) -> dict[str, Any]:
        """Prepare: check an upgrade and hold it under `token` (see the module's doc).  Changes nothing else."""
        same = self.held_now()
        if same is not None and same.token == token:  # a retry: the same answer
            return same.reply(self.generation + 1)
        p = self.checked(old, new, migration, down, adapters, probes)
        p.name, p.probation = name, probation
        return self.hold_checked(token, p, (old, new, migration, down, adapters), probes, hold)

    def claim(self, token: str) -> Held:
        """The upgrade held under `token`, or `Refusal` (not_prepared)."""
        h = self.held_now()
        if h is None or h.token != token:
            raise Refusal("not_prepared", f"no prepared upgrade is held under token {token} (never prepared, committed, "
                                          "aborted, expired, or dropped by a restart)")
        return h

    def recheck(self, h: Held) -> Prepared:
        """The held upgrade, checked again if the state has changed since it was prepared (thread-safe)."""
        if self.state is h.checked_state:
            return h.prepared
        old, new, migration, down, adapters = h.parts
        p = admission.check(self, old, new, migration, down, adapters)
        admission.probe_prepared(self, p, adapters, h.probes)
        p.name, p.probation, p.text = h.prepared.name, h.prepared.probation, h.prepared.text
        return p

    def commit_held(self, token: str, received: float | None = None, client: str | None = None,
                    seq: int | None = None) -> Version:
        """Commit: install the upgrade held under `token` (checked again at a changed state); `Refusal` if it cannot."""
        h = self.claim(token)
        try:
            p = self.recheck(h)
        except Refusal as e:
            self.held = None
            self.say(f"Commit of {token} refused ({e.kind}): {e}. The hold is dropped; nothing changed.")
            raise
        return self.install_held(h, p, received, client, seq)

    def install_held(self, h: Held, p: Prepared, received: float | None, client: str | None,
                     seq: int | None) -> Version:
        """Install a claimed and rechecked hold (the hold ends)."""
        self.held = None
        return self.install(p, received, client, seq, h.probes)

    def abort_held(self, token: str) -> dict[str, Any]:
        """Abort: drop the upgrade held under `token`; `Refusal` (not_prepared) if none is."""
        h = self.claim(token)
        self.held = None
        self.say(f"Prepared upgrade {token} aborted. Nothing changed.")
        return {"token": h.token, "aborted": True, "version": self.generation}

    def held_status(self) -> dict[str, Any] | None:
        """What ``status`` says of a held upgrade."""
        h = self.held_now()
        return None if h is None else {"token": h.token, "version": self.generation + 1, "name": h.prepared.name,
                                       "expires_in": round(max(0.0, h.deadline - time.monotonic()), 3)}
