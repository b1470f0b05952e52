"""Version chains (issue 15, item 3): upgrades composed along a chain, checked, sent as one; bad input refused."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from cam import cli
from cam.client import Client, as_code
from cam.node import Node
from cam.server import start_in_thread
from cam.text import parse_value
from catlib.examples import counter_versions as cv
from catlib.examples.counter import COUNTER, COUNTER2, MIGRATION
from catlib.interpreter import run, step
from catlib.program import ChainError, Program, Upgrade, chain, compose, find_chain, same_program
from catlib.syntax import inl, inr, kase, konst, pair, sm
from catlib.values import Left, Right

L, R = Left(()), Right(())
_WRONG = Program("wrong", sm(lambda x: x), "()", "Either () Int", "Either () Int", ())
BAD_ADAPTER = [cv.UP_1_2, replace(cv.UP_2_3, output_adapter=_WRONG)]
"""A chain whose second piece carries an adapter of the wrong type (for ``--via``)."""
BAD_DOWN = [replace(cv.UP_1_2, down=MIGRATION), cv.UP_2_3]
"""A chain whose first piece carries a down-migration that does not type."""


def test_the_composite_does_what_the_steps_do_one_after_the_other():
    u = compose(cv.UP_1_2, cv.UP_2_3)
    u.check()
    assert u.preserves and u.input_adapter is None
    for n in (0, 5, -3):
        mid = step(cv.UP_1_2.migration.term, n, ())[1]
        assert step(u.migration.term, n, ())[1] == step(cv.UP_2_3.migration.term, mid, ())[1] == (n, n)
        back = step(cv.UP_2_3.down.term, (n, n + 1), ())[1]
        assert step(u.down.term, (n, n + 1), ())[1] == step(cv.UP_1_2.down.term, back, ())[1] == n + 1
    # version 1's client reads version 3's answers through the composite output adapter
    _, outs = run(cv.COUNTER3.term, [L, R], (4, 4))
    assert [step(u.output_adapter.term, o, ())[1] for o in outs] == [L, Right(5)]


def test_a_piece_without_a_way_back_leaves_the_composite_without_one():
    u = compose(Upgrade(COUNTER, COUNTER2, MIGRATION), cv.UP_2_3)
    assert u.down is None and not u.preserves
    u.check()


def test_find_chain_starts_from_the_running_version():
    running = lambda target: (lambda p: same_program(p, target))  # noqa: E731
    assert find_chain(cv.CHAIN, running(cv.COUNTER2), cv.COUNTER3) == [cv.UP_2_3]
    assert chain(find_chain(cv.CHAIN, running(cv.COUNTER), cv.COUNTER3)).new is cv.COUNTER3


@pytest.mark.parametrize("make, message", [
    (lambda: compose(cv.UP_2_3, cv.UP_1_2), "a gap: the first upgrade ends at counter3"),
    (lambda: chain([cv.UP_1_2, cv.UP_1_2]), "upgrade 1 of the chain does not follow upgrade 0"),
    (lambda: chain([]), "empty chain"),
    (lambda: find_chain(cv.CHAIN, lambda p: same_program(p, cv.COUNTER3), cv.COUNTER), "no upgrade starts from"),
    (lambda: find_chain(cv.CHAIN, lambda p: same_program(p, cv.COUNTER2), cv.COUNTER), "no chain of upgrades leads"),
    (lambda: find_chain(cv.CHAIN, lambda p: same_program(p, cv.COUNTER3), cv.COUNTER3), "running version already"),
])
def test_chains_with_gaps_are_clear_errors(make, message):
    with pytest.raises(ChainError, match=message):
        make()


def test_parts_of_the_wrong_type_are_refused_by_check():
    wrong_adapter = _WRONG
    with pytest.raises(TypeError, match=re.escape("output adapter wrong maps Either () Int -> Either () Int, but the "
                                                  "upgrade's output adapter goes from Either () (Int, Int) to "
                                                  "Either () Int")):
        replace(cv.UP_2_3, output_adapter=wrong_adapter).check()
    with pytest.raises(TypeError, match="the output type changes"):
        replace(cv.UP_2_3, output_adapter=None).check()
    with pytest.raises(TypeError, match=re.escape("down-migration upgrade_state maps Int -> (Int, Int), but the "
                                                  "way back goes from state (Int, Int) to Int")):
        replace(cv.UP_1_2, down=MIGRATION).check()
    with pytest.raises(TypeError, match="runs with state"):
        replace(cv.UP_1_2, down=COUNTER).check()


# ---------------------------------------------------------------- against a node


@pytest.fixture
def node():
    with start_in_thread(Node(as_code(COUNTER.term), parse_value("Int 0"), name="counter")) as running:
        yield running


def test_a_node_takes_the_composite_and_old_clients_still_count(node):
    with Client(node.host, node.port) as c:
        c.do(L)
        c.do(L)
        r = c.upgrade(chain(cv.CHAIN), name="counter3")
        assert (r["version"], r["state"]) == (2, "Pair (Int 2) (Int 2)")
        c.do(L)
        assert c.do(R).output == parse_value("R (Int 3)")  # interface 1, through the composite adapter
        assert c.do(R, interface=2).output == parse_value("R (Pair (Int 2) (Int 3))")
        back = c.rollback()  # the composite down-migration keeps the count
        assert back["state"] == "Int 3"


def test_cam_upgrade_to_finds_the_chain_from_the_running_version(node, capsys):
    port = ["--port", str(node.port)]
    with Client(node.host, node.port) as c:
        c.upgrade(cv.UP_1_2)  # now at version 2: the chain to 3 is one step
    assert cli.upgrade(["--to", "catlib.examples.counter_versions:COUNTER3", *port]) == 0
    out = capsys.readouterr().out
    assert "Chain:     counter2 -> counter3 [down, output adapter] (1 upgrade(s)" in out
    assert "output adapter () / Either () (Int, Int) -> Either () Int" in out
    assert "Claim:     every step claims counter3, seen through the adapters, answers as counter2 would" in out
    assert "Version:   v3 counter3" in out


def test_cam_upgrade_to_refuses_a_gap_and_changes_nothing(node, capsys):
    port = ["--port", str(node.port)]
    assert cli.upgrade(["--to", "catlib.examples.counter_versions:COUNTER3", *port]) == 0
    capsys.readouterr()
    with Client(node.host, node.port) as c:
        before = c.status()
    # no upgrade of the module starts from version 3
    assert cli.upgrade(["--to", "catlib.examples.counter_versions:COUNTER2", *port]) == 2
    assert "ChainError: a gap: no upgrade starts from the running version" in capsys.readouterr().err
    with Client(node.host, node.port) as c:
        after = c.status()
    assert (after["version"], after["digest"], after["state"]) == (before["version"], before["digest"], before["state"])


@pytest.mark.parametrize("via, message", [
    ("tests.test_chain:BAD_ADAPTER", "PlanError: upgrade 2 of the chain (counter2 -> counter3) does not type: output "
                                     "adapter wrong maps Either () Int -> Either () Int, but the upgrade's output "
                                     "adapter goes from"),
    ("tests.test_chain:BAD_DOWN", "PlanError: upgrade 1 of the chain (counter -> counter2) does not type: "
                                  "down-migration upgrade_state maps Int -> (Int, Int)"),
])
def test_cam_upgrade_to_refuses_a_chain_with_a_piece_of_the_wrong_type(node, capsys, via, message):
    assert cli.upgrade(["--to", "catlib.examples.counter_versions:COUNTER3", "--via", via, "--port", str(node.port)]) == 2
    assert message in capsys.readouterr().err
    with Client(node.host, node.port) as c:
        assert c.status()["version"] == 1


@pytest.mark.parametrize("args, message", [
    (["--to", "catlib.examples.counter_versions:COUNTER3", "--old", "x:y"], "--to composes the chain's own parts"),
    (["--to", "catlib.examples.counter_versions:KEEP"], "no chain of upgrades leads from the running version to "
                                                        "keep_count"),
    (["--to", "catlib.examples.counter_versions:CHAIN"], "it must name a catlib.program.Program"),
    (["--to", "catlib.examples.counter_versions:COUNTER3", "--via", "catlib.examples.generic"], "holds no "
                                                                                              "catlib.program.Upgrade"),
    (["--to", "catlib.examples.nowhere:X"], "No module named"),
])
def test_cam_upgrade_to_with_bad_input_changes_nothing(node, capsys, args, message):
    assert cli.upgrade([*args, "--port", str(node.port)]) == 2
    assert message in capsys.readouterr().err
    with Client(node.host, node.port) as c:
        assert c.status()["version"] == 1


def test_input_adapters_compose_in_the_order_the_inputs_travel():
    from catlib.free import Const, Id

    def version(name: str, input: str) -> Program:
        return Program(name, Const(0), "Int", input, "Int", 0)

    v1, v2, v3 = version("v1", "Either () ()"), version("v2", "Either Int ()"), version("v3", "Either (Int, Int) ()")
    same = Program("same", Id, "()", "Int", "Int", ())
    to_v2 = Program("to v2", sm(lambda cmd: kase(lambda u: inl(konst(1, u)), inr, cmd)), "()", "Either () ()",
                    "Either Int ()", ())
    to_v3 = Program("to v3", sm(lambda cmd: kase(lambda k: inl(pair(k, konst(0, k))), inr, cmd)), "()",
                    "Either Int ()", "Either (Int, Int) ()", ())
    u = chain([Upgrade(v1, v2, same, input_adapter=to_v2), Upgrade(v2, v3, same, input_adapter=to_v3)])
    u.check()
    assert u.output_adapter is None and u.down is None
    assert [step(u.input_adapter.term, x, ())[1] for x in (L, R)] == [Left((1, 0)), R]
