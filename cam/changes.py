"""Version changes on a served node (`cam.server.NodeServer`): who may make them, and how they are checked.

An upgrade's code is checked and translated (`cam.admission.check_code`, in a
worker thread, its translated source compiled in a helper process,
`cam.pysource.compiling_aside`, since ``compile`` would hold the event loop
off for its whole call) while the running version goes on answering inputs; then,
under the node's lock, the checks that depend on the state
(`cam.admission.check_state`: migration, down-migration, trial inputs,
probes) run again if inputs changed the state meanwhile, and the new version
is swapped in (`upgrade`).  Rollback, make_permanent, prepare, commit and
abort run under the node's lock throughout.  Every version change holds the
server's `versions` lock from its checks to its end, so that they run one at
a time and the checks see the version they will replace.

>>> from cam.text import parse_code
>>> bounded(Request(kind="upgrade", codes=(parse_code("[ID]"), parse_code("[FST]"), parse_code("[]"))))
True
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cam import auth
from cam.admission import Typed
from cam.code import Value, to_text
from cam.contract import Prepared, Refusal
from cam.hostvalue import StateForm, form_value, small_value
from cam.protocol import Request, request_fields
from cam.pysource import compiling_aside

__all__ = ["VersionChanges", "bounded", "SMALL_UPGRADE"]

SMALL_UPGRADE = 4096
"""An upgrade request line at most this long, whose code has no ``APP``, has its state checked again on the
event loop (when inputs changed the state while its code was checked)."""

def bounded(req: Request) -> bool:
    """Whether every run of the request's code is bounded by its size: no ``APP`` (`Request.codes` and
    down-migration and adapters).  Without ``APP`` no instruction runs twice (a quoted closure runs only
    through an ``APP``), so such an upgrade's checks take at most a few steps per instruction.
    """
    todo: list[Any] = [c for c in (*(req.codes or ()), req.down, *req.adapters) if c is not None]
    while todo:
        for instr in todo.pop().kids:
            op = instr.label
            if op == "APP":
                return False
            if op == "BRANCH" or op == "CURRY":  # the instructions holding code (QUOTE holds a value)
                todo += instr.kids
    return True


class VersionChanges:
    """Upgrades, rollbacks and releases for `cam.server.NodeServer` (which sets these attributes)."""

    node: Any
    trust: list[bytes]
    stats: dict[str, int]
    lock: Any
    say: Any

    def authorize(self, req: Request, local: bool) -> None:
        """Refuse (`Refusal`, unauthorized) an upgrade the node must not take from this peer or signer."""
        if not self.trust:
            if not local:
                self.say("Upgrade refused (unauthorized): not from loopback, and no --trust key. Nothing changed.")
                raise Refusal("unauthorized", "without --trust this node takes upgrades only from loopback")
            return
        node = self.node
        message = auth.payload(req.kind, node.node_id, node.generation, node.digest, **request_fields(req))
        if not auth.verify_any(self.trust, message, req.signature or ""):
            self.say(f"{req.kind.capitalize()} refused (unauthorized): no trusted key signed it for this node and "
                     "version. Nothing changed.")
            raise Refusal("unauthorized", f"the signature does not verify with any trusted key for this node "
                          f"({node.node_id}) at generation {node.generation} running {node.digest}")

    def checked_upgrade(self, req: Request, local: bool, state: Value | None = None) -> tuple[Typed, Prepared]:
        """Authorize and check an upgrade at `state` (default the node's), and make what installing it needs.

        Runs in a worker thread, while other requests are served (only version changes must not run
        meanwhile: `versions`) if `state` is given; without, only while inputs wait (under the node's lock).
        The code translated meanwhile is compiled in a helper process (`cam.pysource.compiling_aside`).
        """
        self.authorize(req, local)
        assert req.codes is not None
        node = self.node
        with compiling_aside():
            t = node.checked_code(*req.codes, req.down, req.adapters)
            p = node.checked_at(t, form_value(node.state_form()) if state is None else state, req.probes)
        p.name, p.probation = req.name, req.flag
        if node.store is not None:
            p.text = to_text(p.code)
        return t, p

    def _checked_from(self, req: Request, local: bool, form: StateForm, small: bool
                      ) -> tuple[Typed, Prepared, Value, bool]:
        """`checked_upgrade` at the state `form` holds (taken on the loop), making its machine value here
        (in a worker thread: a big state takes seconds); the checks, that value, and whether the state's
        checks may run again on the event loop (`small`, a short request line, and `bounded`)."""
        state = form_value(form)
        return (*self.checked_upgrade(req, local, state), state, small and bounded(req))

    def _checked_again(self, t: Typed, form: StateForm, probes: Any) -> tuple[Prepared, Value]:
        """The state's checks again at the state `form` holds (in a worker thread); the checks and its value."""
        state = form_value(form)
        with compiling_aside():
            return self.node.checked_at(t, state, probes), state

    def _remembered(self, client: str | None, seq: int | None) -> dict[str, Any] | None:
        """The answer already given to `client`'s request `seq` (a retry, counted), or ``None``."""
        old = self.node.remembered(client, seq)
        if old is not None:
            self.stats["retries_answered"] += 1
        return old

    async def _upgrade(self, req: Request, local: bool, received: float, small: bool = False) -> dict[str, Any]:
        """Authorize, check and install a decoded upgrade (holding `versions`).

        Its checks run while the running version answers inputs; then, under the node's lock, the checks that
        depend on the state run again if inputs changed it meanwhile, and the new version is swapped in.
        """
        node, loop = self.node, asyncio.get_running_loop()
        old = self._remembered(req.client, req.seq)
        if old is not None:
            return old
        # the state as kept now, taken on the loop (inputs change it meanwhile); its machine value is made in
        # the checks' thread, and kept if no input changed the state meanwhile (the swap needs it)
        form, changes = node.state_form(), node.state_changes
        t, p, state, quick = await loop.run_in_executor(None, self._checked_from, req, local, form, small)
        node.know_state(state, changes)
        stopped = time.perf_counter()
        async with self.lock:  # inputs wait from here: only the state's checks (if it changed) and the swap
            node.remembered(req.client, req.seq)  # stale_request if this client's later request ran meanwhile
            if node.state_changes != changes:  # (not a comparison of values: a big state takes long to compare)
                form, changes = node.state_form(), node.state_changes
                # a small upgrade's checks, at a small state, take less than handing them to a thread would
                value = small_value(form, 256) if quick else None
                if value is not None:
                    p2 = node.checked_at(t, value, req.probes)
                else:
                    p2, value = await loop.run_in_executor(None, self._checked_again, t, form, req.probes)
                node.know_state(value, changes)
                p2.name, p2.probation, p2.text = p.name, p.probation, p.text
                p = p2
            reply = node.upgrade_reply(node.install(p, received, req.client, req.seq, req.probes, stopped))
        # the inputs held by the swap are answered before this answer is written (its client's next lines wait
        # for it: `cam.guard.Lines.busy`): two turns of the loop, as uvloop reads sockets after what a turn
        # queued and asyncio's loop before it
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return reply

    async def _prepare(self, req: Request, local: bool) -> dict[str, Any]:
        """Authorize, check (in a worker thread) and hold a decoded prepare (under both locks)."""
        held = self.node.held_now()
        if held is not None and held.token == req.token:  # a retry: the same answer
            return held.reply(self.node.generation + 1)
        _, p = await asyncio.get_running_loop().run_in_executor(None, self.checked_upgrade, req, local)
        assert req.token is not None and req.codes is not None
        return self.node.hold_checked(req.token, p, (*req.codes, req.down, req.adapters), req.probes, req.hold)

    async def _admin(self, req: Request, received: float) -> dict[str, Any]:
        """rollback, make_permanent (its probes run in a worker thread), commit (checked again there), abort."""
        node, loop = self.node, asyncio.get_running_loop()
        if req.kind == "rollback":
            return node.rollback(req.flag, req.client, req.seq)
        if req.kind == "make_permanent":
            probed = (await loop.run_in_executor(None, node.probe_now),) if node.probes and node.probation else None
            return node.make_permanent(req.client, req.seq, probed)
        assert req.token is not None
        if req.kind == "abort":
            return node.abort_held(req.token)
        h = node.claim(req.token)
        try:
            p = await loop.run_in_executor(None, node.recheck, h)
        except Refusal as e:
            node.held = None
            node.say(f"Commit of {h.token} refused ({e.kind}): {e}. The hold is dropped; nothing changed.")
            raise
        if node.store is not None and p.text is None:
            p.text = await loop.run_in_executor(None, to_text, p.code)
        return {**node.upgrade_reply(node.install_held(h, p, received, req.client, req.seq)), "token": h.token}
