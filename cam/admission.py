"""What an upgrade must pass before a node installs it (`Admitting`, a part of `cam.node.Node`, calls `check`).

In this order: the old code's digest is the running digest (and the running
version is not on probation), the new code and the migration pass
`cam.verifier`, the migration has type ``() / running-state -> S``, the new
machine's state type is that ``S`` and its input and output types are the
running ones, the migration halts on the current state with a value of type
``S``, a down-migration (if any) has type ``() / S -> running-state`` and
halts on the migrated state, and the new code keeps the step budget on trial
inputs of its input type at the migrated state.  Nothing changes here.

The checks come in two parts.  `check_code` (every check of the code and
its types, and the new code's translation: the slow part) depends only on
the running version, and `check_state` (migration, down-migration, trials)
on the state it migrates: a server runs the first while the running
version goes on answering inputs, and the second again, at the state it
will replace, in the moment it swaps (`cam.server`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cam.code import Code, UnitV, Value, to_text
from cam.contract import WRONG_VERSION, Prepared, Refusal
from cam.ground import clip, freshen, ground, trial_inputs
from cam.history import check_down_type, run_down
from cam.hostvalue import from_value, host_text
from cam.interfaces import Interface, extend
from cam.machine import MachineError, OutOfFuel, execute, prepare
from cam.probes import Probe, first_failure
from cam.text import digest
from catlib.typecheck import Signature
from catlib.types import Type, Unifier, UnifyError, Unit

__all__ = ["check", "check_code", "check_state", "Typed", "Admitting", "probe_prepared"]


@dataclass
class Typed:
    """An upgrade whose code and types passed (`check_code`): what `check_state` needs besides a state."""

    new: Code
    migration: Code
    down: Code | None
    adapters: tuple[Code | None, Code | None]
    signature: Signature
    digest: str
    """The new code's digest."""
    running: Signature
    """The running version's signature the checks were made against."""
    seconds: float
    """How long the code's checks (and translation) took."""
    trials: tuple[tuple[Value, Any], ...]
    """The trial inputs (`cam.ground.trial_inputs` of the new input type), with their host values."""
    shown: str = ""
    """``str(signature)`` (made with the code's checks, in their worker thread: the swap's answer shows it)."""


def check(node: Any, old: Code, new: Code, migration: Code, down: Code | None = None,
          adapters: tuple[Code | None, Code | None] = (None, None), state: Value | None = None) -> Prepared:
    """Every check of an upgrade of `node` (a `cam.node.Node`), in order; `Refusal` at the first that fails.

    `adapters` (input adapter ``() / running input -> new input``, output adapter ``() / new output ->
    running output``, see `cam.interfaces`) let the new machine change that side of the interface.
    `state` (default the node's) is the state migrated.
    """
    return check_state(node, check_code(node, old, new, migration, down, adapters),
                       node.state if state is None else state)


def check_code(node: Any, old: Code, new: Code, migration: Code, down: Code | None = None,
               adapters: tuple[Code | None, Code | None] = (None, None)) -> Typed:
    """The checks of `check` that do not depend on the state, and the new code's translation."""
    t0 = time.perf_counter()
    verify, check_value = node.verify, node.check_value
    assert verify is not None and check_value is not None
    for name, c in (("old", old), ("new", new), ("migration", migration)):
        if not isinstance(c, Code):
            raise Refusal("bad_code", f"the {name} code is not Code: {type(c).__name__}")
    # 1. the sender upgrades the version it thinks is running
    if old != node.code and digest(old) != node.digest:  # (equal code has the running digest: not printed again)
        raise Refusal("wrong_version", f"the upgrade expects {digest(old)}, the node runs {node.digest}")
    if node.probation:
        raise Refusal("on_probation", f"v{node.generation} is on probation: make it permanent or roll it back")
    # 2. both pieces of code are well typed on their own
    try:
        new_sig = verify(new)
    except (TypeError, ValueError) as e:  # BytecodeError (a ValueError), whatever its cause
        raise Refusal("new_code_rejected", f"the new code fails verification: {e}") from None
    try:
        verify(migration)
    except (TypeError, ValueError) as e:
        raise Refusal("migration_rejected", f"the migration fails verification: {e}") from None
    hand_over()
    # 3. the migration maps the running state to something, with a unit register
    try:
        mig_sig = verify(migration, state=Unit, input=node.signature.state)
    except (TypeError, ValueError) as e:
        raise Refusal("migration_type", f"the migration does not have type () / {node.signature.state} -> s: "
                                        f"{e}") from None
    hand_over()
    # 4. the new machine's state is what the migration makes; its interface is the running one
    u = Unifier()
    (mig_out,) = freshen([mig_sig.output], u)
    s, i, o = freshen(new_sig, u)
    try:
        u.unify(s, mig_out)
    except UnifyError:
        raise Refusal("state_type", f"the new machine's state type {new_sig.state} is not the migration's "
                                    f"output type {mig_sig.output}") from None
    ia, oa = adapters
    for a, side, t, new_t in ((ia, "input", i, new_sig.input), (oa, "output", o, new_sig.output)):
        meets = getattr(node.signature, side) if a is None else freshen([adapter_sig(verify, a, side, node)], u)[0]
        try:
            u.unify(t, meets)
        except UnifyError:
            if a is not None:
                raise Refusal("adapter_type", f"the {side} adapter meets {meets}, the new machine's {side} type is "
                                              f"{new_t}") from None
            raise Refusal("interface_changed", f"the new machine has type {new_sig.input} -> {new_sig.output}, the "
                          f"running one {node.signature.input} -> {node.signature.output}; an upgrade keeps "
                          f"the input and output types unless it carries an adapter for the side that changes "
                          f"(here the {side})") from None
    signature = Signature(*(ground(u.resolve(t)) for t in (s, i, o)))
    for a, side, frm, to in ((ia, "input", node.signature.input, signature.input),
                             (oa, "output", signature.output, node.signature.output)):
        if a is not None:
            try:
                verify(a, state=Unit, input=frm, output=to)
            except (TypeError, ValueError) as e:
                raise Refusal("adapter_type", f"the {side} adapter does not have type () / {frm} -> {to}: {e}") from None
            for x in trial_inputs(frm, node.limits.trials):
                try:
                    execute(a, x, UnitV, fuel=node.limits.fuel)
                except MachineError as e:
                    raise Refusal("adapter_type", f"the {side} adapter fails on {clip(to_text(x))}: {e}") from None
    if down is not None:
        check_down_type(verify, down, signature.state, node.signature.state)
    # The code is translated to Python here, before the swap, so that no request after it pays for that (the
    # first input after the upgrade costs what the second does).  A `compile` holds the interpreter lock
    # throughout, which would stall the event loop, and every client, while the checks run in their thread:
    # a server's checks compile in a helper process (`cam.pysource.compiling_aside`), and large source is
    # compiled in pieces (`cam.pysource.compile_in_pieces`).
    hand_over()
    node.loaded(new)
    # The migrations run once in these checks and again at the swap if inputs changed the state meanwhile:
    # translated now, not on that second run (`cam.jit.JIT_AFTER`), which runs on the event loop.
    for m in (migration, down):
        if m is not None:
            prepare(m)
    hand_over()
    trials = _trials(signature.input, node.limits.trials)
    return Typed(new, migration, down, adapters, signature, digest(new), node.signature, time.perf_counter() - t0,
                 trials, str(signature))


def hand_over() -> None:
    """Let another thread waiting for the interpreter lock take it now (the checks' stages call it in between).

    The checks run in a worker thread while the event loop answers inputs.  A thread waiting for the lock
    gets it only once the running one is made to drop it (after the switch interval) and the system has
    scheduled it; on a loaded 2-core machine, with the clients' processes on the other core, that left every
    client unanswered for most of the checks (2.0 ms median against 0.3 ms just before an upgrade, the seed's
    counter, ``benchmarks/node.py``).  ``time.sleep(0)`` drops the lock at once, and costs a system call when
    nobody waits.
    """
    time.sleep(0)


@functools.lru_cache(maxsize=64)
def _trials(t: Type, limit: int) -> tuple[tuple[Value, Any], ...]:
    """`cam.ground.trial_inputs` of type `t`, with their host values: made once per type (upgrades keep it)."""
    return tuple((x, from_value(x)) for x in trial_inputs(t, limit))


def check_state(node: Any, t: Typed, state: Value) -> Prepared:
    """The checks of `check` at `state`: the migration, the down-migration and the trial inputs."""
    t0 = time.perf_counter()
    check_value, new, signature = node.check_value, t.new, t.signature
    # 5. the migration halts on the state (values are immutable: the running machine may go on meanwhile)
    try:
        r = execute(t.migration, state, UnitV, fuel=node.limits.migration_fuel)
    except MachineError as e:
        what = (f"ran out of its {node.limits.migration_fuel} steps" if isinstance(e, OutOfFuel)
                else f"got stuck after {e.steps} steps")
        raise Refusal("migration_failed", f"the migration {what} on the state {clip(to_text(state))}") from None
    try:
        check_value(r.output, signature.state)
    except (TypeError, ValueError) as e:
        raise Refusal("migration_failed", f"the migrated state {clip(to_text(r.output))} does not have the new "
                                          f"state type {signature.state}: {e}") from None
    if t.down is not None:
        back = run_down(t.down, r.output, node.limits.migration_fuel)
        try:
            check_value(back, t.running.state)
        except (TypeError, ValueError) as e:  # cannot happen to verified code; checked as every untrusted result is
            raise Refusal("down_migration_type", f"the down-migration made {clip(to_text(back))}, not a value of "
                                                 f"{t.running.state}: {e}") from None
    # 6. the new code keeps the step budget on trial inputs of its type, at the migrated state.
    # The trials run on the translation (`Node.loaded`, which the node keeps for its inputs), so the code is
    # translated once; past the loaded step's inline budget a trial runs again on the checked loop, to the
    # full step budget.
    step, host = node.loaded(new), from_value(r.output)
    most = 0
    for x, hx in t.trials:
        t1 = time.perf_counter()
        try:
            try:
                most = max(most, step(hx, host)[2])
            except OutOfFuel:
                most = max(most, execute(new, x, r.output, fuel=node.limits.fuel).steps)
        except OutOfFuel:
            raise Refusal("over_budget", f"the new code took more than {node.limits.fuel:,} steps "
                          f"({time.perf_counter() - t1:.2f} s) on the trial input {clip(to_text(x))} at the "
                          f"migrated state, over the node's step budget per input") from None
        except MachineError as e:
            raise Refusal("new_code_rejected", f"the new code got stuck on the trial input "
                                               f"{clip(to_text(x))}: {e}") from None
    return Prepared(new, t.digest, signature, r.output, t.seconds + time.perf_counter() - t0, most,
                    down=t.down, adapters=t.adapters, host=host, shown=t.shown, state_text=host_text(host))


def adapter_sig(verify: Any, a: Code, side: str, node: Any) -> Any:
    """The side of the new machine an adapter meets: the input adapter's output, or the output adapter's input."""
    if not isinstance(a, Code):
        raise Refusal("bad_code", f"the {side} adapter is not Code: {type(a).__name__}")
    running = node.signature.input if side == "input" else node.signature.output
    try:
        sig = verify(a, state=Unit, input=running) if side == "input" else verify(a, state=Unit, output=running)
    except (TypeError, ValueError) as e:
        t = f"{running} -> b" if side == "input" else f"a -> {running}"
        raise Refusal("adapter_type", f"the {side} adapter does not have type () / {t}: {e}") from None
    return sig.output if side == "input" else sig.input


def probe_prepared(node: Any, p: Prepared, adapters: tuple[Code | None, Code | None], probes: Sequence[Probe]) -> None:
    """Run `probes` on a checked upgrade's new code at its migrated state; `Refusal` (probe_failed) if one fails."""
    if not probes:
        return
    interfaces: list[Interface] = extend(node.interfaces, node.generation + 1, p.signature.input, p.signature.output,
                                         *adapters)
    why = first_failure(p.code, p.state, interfaces, probes, node.limits.fuel, node.check_value)
    if why is not None:
        raise Refusal("probe_failed", f"{why}; the upgrade is not installed")


class Admitting:
    """Checking an upgrade, for `cam.node.Node` (which sets these attributes): the checks above, the node's
    refusal lines, and the hold a release may have on upgrades (`cam.hold`)."""

    state: Value
    say: Callable[..., None]
    refuse_if_held: Callable[..., None]

    def checked(self, old: Code, new: Code, migration: Code, down: Code | None = None,
                adapters: tuple[Code | None, Code | None] = (None, None), probes: tuple[Probe, ...] = ()) -> Prepared:
        """`prepare`, printing the reference's line (or why) when the upgrade is refused.  Changes nothing."""
        return self.checked_at(self.checked_code(old, new, migration, down, adapters), self.state, probes)

    def checked_code(self, old: Code, new: Code, migration: Code, down: Code | None = None,
                     adapters: tuple[Code | None, Code | None] = (None, None)) -> Typed:
        """The checks of an upgrade's code (`admission.check_code`: thread-safe while no other version change
        runs, and inputs may go on meanwhile), printing why when it is refused.  Changes nothing."""
        try:
            self.refuse_if_held()
            return check_code(self, old, new, migration, down, adapters)
        except Refusal as e:
            raise self._upgrade_refused(e) from None

    def checked_at(self, t: Typed, state: Value, probes: tuple[Probe, ...] = ()) -> Prepared:
        """The rest of an upgrade's checks at `state` (`admission.check_state`, and `probes`), printing why
        when it is refused.  Changes nothing."""
        try:
            p = check_state(self, t, state)
            probe_prepared(self, p, t.adapters, probes)
            return p
        except Refusal as e:
            raise self._upgrade_refused(e) from None

    def _upgrade_refused(self, e: Refusal) -> Refusal:
        self.say(WRONG_VERSION if e.kind == "wrong_version" else f"Upgrade refused ({e.kind}): {e}. Nothing changed.")
        return e

    def prepare(self, old: Code, new: Code, migration: Code, down: Code | None = None,
                adapters: tuple[Code | None, Code | None] = (None, None), probes: tuple[Probe, ...] = ()) -> Prepared:
        """Every check of an upgrade, in order, without changing the node.  Raises `Refusal`.

        A `down` migration must have type ``() / new state -> running state`` and halt on the migrated state;
        `probes` must pass on the new code at the migrated state.  Refused while a release holds another upgrade.
        The new code is translated here (in the checks' worker thread on a server), not on the next input's path.
        """
        self.refuse_if_held()
        p = check(self, old, new, migration, down, adapters)
        probe_prepared(self, p, adapters, probes)
        return p
