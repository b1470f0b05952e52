"""Model-based test: a node over TCP against a model made of the interpreter and the current term.

The model keeps the term the node should be running and the state (a host
value); an input is stepped by `catlib.interpreter.step`, a good upgrade
runs the migration term the same way.  Rules send inputs (well and ill
typed), good upgrades (with or without a down-migration, on probation or
not), wrong-version upgrades, ill-typed upgrades, rollbacks (with and
without discard) and make_permanent; the model keeps its own stack of the
versions under the running one.  After every step the node's digest, state,
version number and probation must be the model's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cam.client import Client, NodeError, as_code
from cam.code import quote, to_text
from cam.compiler import compile
from cam.node import Node
from cam.server import start_in_thread
from cam.text import digest, parse_value
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state
from catlib.examples.generic import counter
from catlib.free import FREE, Add, Copy, Fst, Get, Id, Par, Snd, Term
from catlib.interpreter import step
from catlib.typecheck import TermTypeError, check
from catlib.types import Type, parse
from catlib.values import Left, Right


class Machine(NamedTuple):
    name: str
    term: Term


class Migration(NamedTuple):
    name: str
    term: Term


MACHINES = [
    Machine("counter_sm", counter_sm),
    Machine("generic counter", counter(FREE)),
    Machine("counter_sm2", counter_sm2),
    Machine("get: () -> state", Get),  # another interface
]
MIGRATIONS = [
    Migration("upgrade_state: n -> (n, 0)", upgrade_state),
    Migration("copy: n -> (n, n)", Copy),
    Migration("id", Id),
    Migration("double", Copy >> Add),
    Migration("snd", Snd),
    Migration("fst", Fst),
    Migration("add", Add),
    Migration("swap", Copy >> Par(Snd, Fst)),
]
INPUTS = [Left(()), Right(())]
ILL_TYPED = ["Int 3", "R (Int 5)", "L (Int 0)", "Pair Unit Unit", "Unit"]
INPUT_TYPE, OUTPUT_TYPE = "Either () ()", "Either () Int"


def expected(state_type: Type, target: Machine, migration: Migration) -> tuple[str | None, Type | None]:
    """(error kind or None, new state type) for an upgrade from the right old version, by typing the terms.

    The model types free terms with `catlib.typecheck`; the node types bytecode with `cam.verifier`.
    """
    try:
        new_state = check(migration.term, state="()", input=state_type).output
    except TermTypeError:
        return "migration_type", None
    try:
        check(target.term, state=new_state)
    except TermTypeError:
        return "state_type", None
    try:
        check(target.term, state=new_state, input=INPUT_TYPE, output=OUTPUT_TYPE)
    except TermTypeError:
        return "interface_changed", None
    return None, new_state


class Frame(NamedTuple):
    """The model's record of the version under an upgrade."""

    machine: Machine
    state_type: Type
    state: Any
    down: Migration | None
    inputs: int


def downs(new_state: Type, old_state: Type) -> list[Migration]:
    """The migrations that type as down-migrations ``() / new_state -> old_state`` (typed by the model)."""
    out = []
    for m in MIGRATIONS:
        try:
            check(m.term, state="()", input=new_state, output=old_state)
        except TermTypeError:
            continue
        out.append(m)
    return out


class NodeVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.machine = MACHINES[0]
        self.state: Any = 0
        self.state_type: Type = parse("Int")
        self.frames: list[Frame] = []
        self.generation, self.probation, self.inputs = 1, False, 0
        self.node = Node(as_code(counter_sm), parse_value("Int 0"))
        self.running = start_in_thread(self.node)
        self.client = Client(self.running.host, self.running.port)

    def teardown(self) -> None:
        self.client.close()
        self.running.stop()

    @rule(x=st.sampled_from(INPUTS))
    def send_input(self, x: Any) -> None:
        self.state, out = step(self.machine.term, x, self.state)
        r = self.client.do(x)
        assert (r.output, r.state) == (quote(out), quote(self.state))
        self.inputs += 1

    @rule(text=st.sampled_from(ILL_TYPED))
    def send_ill_typed_input(self, text: str) -> None:
        try:
            self.client.do(parse_value(text))
        except NodeError as e:
            assert e.kind == "ill_typed_input"
        else:
            raise AssertionError(f"{text} was served")

    @rule(data=st.data(), probation=st.booleans())
    def good_upgrade(self, data: st.DataObject, probation: bool) -> None:
        choices = [(t, m) for t in MACHINES for m in MIGRATIONS if expected(self.state_type, t, m)[0] is None]
        target, migration = data.draw(st.sampled_from(choices), label="upgrade")
        new_state = expected(self.state_type, target, migration)[1]
        assert new_state is not None
        down = data.draw(st.sampled_from([None, *downs(new_state, self.state_type)]), label="down")
        try:
            self.client.upgrade(compile(self.machine.term), target.term, migration.term,
                                down=None if down is None else down.term, probation=probation)
        except NodeError as e:
            assert e.kind == "on_probation" and self.probation, e
            event("upgrade: on_probation")
            return
        event(f"upgrade: {'with' if down is not None else 'without'} down-migration")
        assert not self.probation
        self._upgraded(target, migration, down, probation)

    def _upgraded(self, target: Machine, migration: Migration, down: Migration | None = None,
                  probation: bool = False) -> None:
        self.frames.append(Frame(self.machine, self.state_type, self.state, down, self.inputs))
        _, self.state = step(migration.term, self.state, ())
        self.machine, self.state_type = target, expected(self.state_type, target, migration)[1]  # type: ignore[assignment]
        self.generation, self.probation = self.generation + 1, probation

    @rule(discard=st.booleans())
    def rollback(self, discard: bool) -> None:
        top = self.frames[-1] if self.frames else None
        kind = "no_history" if top is None else "needs_discard" if top.down is None and not discard else None
        event(f"rollback: {kind or ('down-migration' if top is not None and top.down is not None else 'discard')}")
        try:
            r = self.client.rollback(discard)
        except NodeError as e:
            assert e.kind == kind, (e, kind)
            return
        assert kind is None and top is not None
        self.frames.pop()
        self.state = step(top.down.term, self.state, ())[1] if top.down is not None else top.state
        assert r["forgotten"] == (0 if top.down is not None else self.inputs - top.inputs), r
        self.machine, self.state_type = top.machine, top.state_type
        self.generation, self.probation = self.generation + 1, False

    @rule()
    def make_permanent(self) -> None:
        try:
            self.client.make_permanent()
        except NodeError as e:
            assert e.kind == "not_on_probation" and not self.probation
        else:
            assert self.probation
            self.probation = False

    @rule(new=st.sampled_from(MACHINES), migration=st.sampled_from(MIGRATIONS))
    def any_upgrade(self, new: Machine, migration: Migration) -> None:
        target = new
        kind = "on_probation" if self.probation else expected(self.state_type, target, migration)[0]
        try:
            self.client.upgrade(self.machine.term, target.term, migration.term)
        except NodeError as e:
            assert e.kind == kind, (e, kind)
        else:
            assert kind is None
            self._upgraded(target, migration)

    @rule(old=st.sampled_from(MACHINES), new=st.sampled_from(MACHINES), migration=st.sampled_from(MIGRATIONS))
    def wrong_version_upgrade(self, old: Machine, new: Machine, migration: Migration) -> None:
        if compile(old.term) == compile(self.machine.term):
            old = MACHINES[2] if self.machine is not MACHINES[2] else MACHINES[0]
        try:
            self.client.upgrade(old.term, new.term, migration.term)
        except NodeError as e:
            assert e.kind == "wrong_version"
        else:
            raise AssertionError("an upgrade from a version not running was applied")

    @invariant()
    def node_agrees_with_model(self) -> None:
        s = self.client.status()
        assert s["digest"] == digest(compile(self.machine.term))
        assert s["state"] == to_text(quote(self.state))
        assert s["state_type"] == str(self.state_type)
        assert (s["version"], s["probation"]) == (self.generation, self.probation)
        assert (s["rollback"] is None) == (not self.frames)


# Each example starts a node; 30 runs of 25 steps keep the ci profile quick, ``thorough`` runs 1,000.
THOROUGH = settings.default.max_examples >= 10_000
NodeVersusModel.TestCase.settings = settings(max_examples=1000 if THOROUGH else 30, stateful_step_count=25,
                                             deadline=None)
TestNodeVersusModel = NodeVersusModel.TestCase
