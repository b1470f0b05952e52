"""Model-based test: a node over TCP against a model made of the interpreter and the current term.

The model keeps the term the node should be running and the state (a host
value); an input is stepped by `catlib.interpreter.step`, a good upgrade
runs the migration term the same way.  Rules send inputs (well and ill
typed, on any interface the model serves), good upgrades (with or without a
down-migration, on probation or not, with probe inputs whose outputs the
model predicts), upgrades that change the output type through an adapter,
upgrades whose probe fails, wrong-version upgrades, ill-typed upgrades,
rollbacks (with and without discard), make_permanent (which runs the probes
again: the model predicts when that rolls back), and concurrent clients each
speaking another interface (their answers must be those of some order of
their requests: the model tries every order).  The model keeps its own stack
of the versions under the running one, and its own list of interfaces (an
old interface's input goes up through every input adapter installed since,
its output down through every output adapter).  After every step the node's
digest, state, version number, probation and interfaces must be the model's.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, NamedTuple

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cam.client import Client, NodeError, as_code
from cam.code import to_text
from cam.compiler import compile
from cam.hostvalue import quote
from cam.node import Node
from cam.server import start_in_thread
from cam.text import digest, parse_value
from catlib.examples.counter import counter_sm, counter_sm2, incr2, upgrade_state
from catlib.examples.generic import counter
from catlib.free import FREE, Add, Copy, Fst, Get, Id, Par, Snd, Term
from catlib.interpreter import step
from catlib.syntax import dot, inl, inr, kase, konst, pair, pget, psnd, sm, unit
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
    # answers a count with the whole state: its output type is Either () (Int, Int)
    Machine("counter3", sm(kase(dot(inl, incr2), dot(inr, pget)))),
]
COUNTER3, COUNTER2 = MACHINES[4], MACHINES[2]
TO_V2 = sm(kase(inl, dot(inr, psnd)))                                    # R (parked, n) -> R n
FROM_V2 = sm(kase(inl, dot(inr, lambda n: pair(konst(0, unit), n))))     # R n -> R (0, n)
OUT2, OUT3 = parse("Either () Int"), parse("Either () (Int, Int)")
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


def expected(state_type: Type, target: Machine, migration: Migration,
             output: Type = OUT2) -> tuple[str | None, Type | None]:
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
        check(target.term, state=new_state, input=INPUT_TYPE, output=output)
    except TermTypeError:
        return "interface_changed", None
    return None, new_state


class Iface(NamedTuple):
    """The model's interface: its number, output type, and the adapter terms between it and the running machine."""

    number: int
    output: Type
    ins: tuple[Term, ...]
    outs: tuple[Term, ...]


class Frame(NamedTuple):
    """The model's record of the version under an upgrade."""

    machine: Machine
    state_type: Type
    state: Any
    down: Migration | None
    inputs: int
    interfaces: list[Iface]
    output: Type


def through(chain: tuple[Term, ...], x: Any) -> Any:
    for t in chain:
        x = step(t, x, ())[1]
    return x


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
        self.output: Type = OUT2
        self.interfaces = [Iface(1, OUT2, (), ())]
        self.probes: list[tuple[Any, Any]] = []
        self.node = Node(as_code(counter_sm), parse_value("Int 0"))
        self.running = start_in_thread(self.node)
        self.client = Client(self.running.host, self.running.port)
        self.others: list[Client] = []

    def teardown(self) -> None:
        for c in (self.client, *self.others):
            c.close()
        self.running.stop()

    def answer(self, x: Any, interface: int | None, state: Any) -> tuple[Any, Any]:
        """(new state, output) of input `x` speaking `interface` (None: the oldest) at `state`."""
        iface = self.interfaces[0] if interface is None else next(i for i in self.interfaces if i.number == interface)
        state, out = step(self.machine.term, through(iface.ins, x), state)
        return state, through(iface.outs, out)

    @rule(x=st.sampled_from(INPUTS), data=st.data())
    def send_input(self, x: Any, data: st.DataObject) -> None:
        interface = data.draw(st.sampled_from([None, *(i.number for i in self.interfaces)]), label="interface")
        event(f"input on interface {'untagged' if interface is None else 'oldest' if interface == 1 else 'newer'}")
        self.state, out = self.answer(x, interface, self.state)
        r = self.client.do(x, interface)
        assert (r.output, r.state) == (quote(out), quote(self.state))
        self.inputs += 1

    @rule(data=st.data(), n=st.integers(2, 4))
    def concurrent_clients(self, data: st.DataObject, n: int) -> None:
        """`n` clients at once, each speaking an interface: their answers are those of some order of their inputs."""
        while len(self.others) < n:
            self.others.append(Client(self.running.host, self.running.port))
        sent = [(data.draw(st.sampled_from([i.number for i in self.interfaces]), label="interface"),
                 data.draw(st.sampled_from(INPUTS), label="input")) for _ in range(n)]
        if len({i for i, _ in sent}) > 1:
            event("concurrent clients speak different interfaces")
        replies: list[Any] = [None] * n
        start = threading.Barrier(n)

        def go(k: int) -> None:
            start.wait()
            try:
                replies[k] = self.others[k].do(sent[k][1], sent[k][0])
            except NodeError as e:
                replies[k] = e
        threads = [threading.Thread(target=go, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(not isinstance(r, (NodeError, type(None))) for r in replies), replies
        for order in itertools.permutations(range(n)):
            state, ok = self.state, True
            for k in order:
                state, out = self.answer(sent[k][1], sent[k][0], state)
                if (replies[k].output, replies[k].state) != (quote(out), quote(state)):
                    ok = False
                    break
            if ok:
                self.state, self.inputs = state, self.inputs + n
                return
        raise AssertionError(f"no order of {sent} gives the answers {replies}")

    @rule(text=st.sampled_from(ILL_TYPED))
    def send_ill_typed_input(self, text: str) -> None:
        try:
            self.client.do(parse_value(text))
        except NodeError as e:
            assert e.kind == "ill_typed_input"
        else:
            raise AssertionError(f"{text} was served")

    @rule(data=st.data(), probation=st.booleans(), probed=st.booleans())
    def good_upgrade(self, data: st.DataObject, probation: bool, probed: bool) -> None:
        choices = [(t, m) for t in MACHINES for m in MIGRATIONS
                   if expected(self.state_type, t, m, self.output)[0] is None]
        target, migration = data.draw(st.sampled_from(choices), label="upgrade")
        new_state = expected(self.state_type, target, migration, self.output)[1]
        assert new_state is not None
        down = data.draw(st.sampled_from([None, *downs(new_state, self.state_type)]), label="down")
        probes = self._predicted_probes(target, migration) if probation and probed else []
        try:
            self.client.upgrade(compile(self.machine.term), target.term, migration.term,
                                down=None if down is None else down.term, probation=probation, probes=probes)
        except NodeError as e:
            assert e.kind == "on_probation" and self.probation, e
            event("upgrade: on_probation")
            return
        event(f"upgrade: {'with' if down is not None else 'without'} down-migration{', probes' if probes else ''}")
        assert not self.probation
        self._upgraded(target, migration, down, probation)
        self.probes = probes

    def _predicted_probes(self, target: Machine, migration: Migration) -> list[tuple[Any, Any]]:
        """Probes (count, on the oldest interface) with the outputs the model predicts after the upgrade."""
        migrated = step(migration.term, self.state, ())[1]
        out = step(target.term, Right(()), migrated)[1]
        return [(Right(()), through(self.interfaces[0].outs, out))]

    @rule(data=st.data())
    def upgrade_with_failing_probe(self, data: st.DataObject) -> None:
        choices = [(t, m) for t in MACHINES for m in MIGRATIONS
                   if expected(self.state_type, t, m, self.output)[0] is None]
        target, migration = data.draw(st.sampled_from(choices), label="upgrade")
        (x, out), = self._predicted_probes(target, migration)
        wrong = Left(()) if out != Left(()) else Right(7)
        try:
            self.client.upgrade(compile(self.machine.term), target.term, migration.term, probation=True,
                                probes=[(x, wrong)])
        except NodeError as e:
            assert e.kind == ("on_probation" if self.probation else "probe_failed"), e
        else:
            raise AssertionError("an upgrade whose probe fails was installed")

    def _adapted(self) -> tuple[Machine, Term, Migration, Type] | None:
        """(target, output adapter, migration, new output) of the model's adapted upgrade from here, if any."""
        state = str(self.state_type)
        if self.output == OUT2 and state in ("Int", "(Int, Int)"):
            return COUNTER3, TO_V2, MIGRATIONS[0] if state == "Int" else MIGRATIONS[2], OUT3
        if self.output == OUT3 and state == "(Int, Int)":
            return COUNTER2, FROM_V2, MIGRATIONS[2], OUT2
        return None

    @precondition(lambda self: self._adapted() is not None)
    @rule()
    def adapted_upgrade(self) -> None:
        """To counter3 with the output adapter TO_V2 (from a counter of output Either () Int), or back with FROM_V2."""
        adapted = self._adapted()
        assert adapted is not None
        target, adapter, migration, output = adapted
        try:
            self.client.upgrade(compile(self.machine.term), target.term, migration.term, output_adapter=adapter)
        except NodeError as e:
            assert e.kind == "on_probation" and self.probation, e
            return
        event("upgrade: output adapter")
        self._upgraded(target, migration, output=output)
        self.interfaces = [Iface(i.number, i.output, i.ins, (adapter, *i.outs)) for i in self.interfaces]
        if output != self.interfaces[-1].output:
            self.interfaces.append(Iface(self.generation, output, (), ()))
        self.output = output

    def _upgraded(self, target: Machine, migration: Migration, down: Migration | None = None,
                  probation: bool = False, output: Type | None = None) -> None:
        self.frames.append(Frame(self.machine, self.state_type, self.state, down, self.inputs, self.interfaces,
                                 self.output))
        _, self.state = step(migration.term, self.state, ())
        new_state = expected(self.state_type, target, migration, output or self.output)[1]
        assert new_state is not None
        self.machine, self.state_type = target, new_state
        self.generation, self.probation, self.probes = self.generation + 1, probation, []

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
        assert r["forgotten"] == self._rolled_back(), r

    def _rolled_back(self) -> int:
        """Pop the model's top frame; the inputs the rollback forgets."""
        top = self.frames.pop()
        self.state = step(top.down.term, self.state, ())[1] if top.down is not None else top.state
        self.machine, self.state_type = top.machine, top.state_type
        self.interfaces, self.output = top.interfaces, top.output
        self.generation, self.probation, self.probes = self.generation + 1, False, []
        return 0 if top.down is not None else self.inputs - top.inputs

    @rule()
    def make_permanent(self) -> None:
        fails = any(self.answer(x, None, self.state)[1] != out for x, out in self.probes)
        try:
            self.client.make_permanent()
        except NodeError as e:
            if e.kind == "probe_failed":
                assert self.probation and fails, e
                event("make_permanent: a probe failed, rolled back")
                self._rolled_back()
            else:
                assert e.kind == "not_on_probation" and not self.probation
        else:
            assert self.probation and not fails
            self.probation, self.probes = False, []

    @rule(new=st.sampled_from(MACHINES), migration=st.sampled_from(MIGRATIONS))
    def any_upgrade(self, new: Machine, migration: Migration) -> None:
        target = new
        kind = "on_probation" if self.probation else expected(self.state_type, target, migration, self.output)[0]
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
        assert [(i["interface"], i["output"]) for i in s["interfaces"]] == [(i.number, str(i.output))
                                                                            for i in self.interfaces]
        assert s["probes"] == len(self.probes)


# Each example starts a node; 30 runs of 25 steps keep the ci profile quick, ``thorough`` runs 1,000.
THOROUGH = settings.default.max_examples >= 10_000
NodeVersusModel.TestCase.settings = settings(max_examples=1000 if THOROUGH else 30, stateful_step_count=25,
                                             deadline=None)
TestNodeVersusModel = NodeVersusModel.TestCase
