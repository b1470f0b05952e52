"""``cam upgrade --derive-migration``: the derived migration is printed before it is sent; refusals change nothing."""

from __future__ import annotations

import pytest

from cam import cli
from cam.client import Client, as_code
from cam.node import Node
from cam.server import start_in_thread
from cam.text import parse_value
from catlib.examples.counter import COUNTER

V1, V2 = "catlib.examples.counter:COUNTER", "catlib.examples.counter:COUNTER2"


@pytest.fixture
def node():
    with start_in_thread(Node(as_code(COUNTER.term), parse_value("Int 0"), name="counter")) as running:
        with Client(running.host, running.port) as c:
            c.do("L Unit")
            c.do("L Unit")
        yield running


def status(node):
    with Client(node.host, node.port) as c:
        s = c.status()
    return s["version"], s["digest"], s["state"]


def test_a_derived_migration_is_printed_then_sent(node, capsys):
    args = ["--old", V1, "--new", V2, "--derive-migration", "--default", "0=0", "--port", str(node.port)]
    assert cli.upgrade(args) == 0
    out = capsys.readouterr().out
    derived, _, reply = out.partition("Upgrade successful!")
    assert derived == ("Derived migration (catlib.derive):\n  Compose(Par(Const(0), Id), Copy)\n"
                       "    : () / Int -> (Int, Int)\n    new 0 = 0 (default)\n    new 1 <- old .\n")
    assert "State:     Pair (Int 0) (Int 2)" in reply  # the count carries on in version 2
    # and back: (Int, Int) -> Int is ambiguous (which count?) until a candidate is chosen
    back = ["--old", V2, "--new", V1, "--derive-migration", "--port", str(node.port)]
    before = status(node)
    assert cli.upgrade(back) == 2
    err = capsys.readouterr().err
    assert "Ambiguous: 2 structural candidates for () / (Int, Int) -> Int; none is chosen:" in err
    assert "1. new . <- old 0\n  2. new . <- old 1" in err
    assert status(node) == before
    assert cli.upgrade([*back, "--candidate", "2"]) == 0
    assert "State:     Int 2" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    ([], "MissingDefault: the new state needs a default (e.g. --default PATH=VALUE) at: 0 (Int) or 1 (Int)"),
    (["--default", "2=0"], "bad path '2'"),
    (["--default", "0=(1, 2)"], "the default at 0 = (1, 2) does not have type Int"),
    (["--default", "0"], "--default takes PATH=VALUE"),
    (["--default", "0=0", "--default", "0=1"], "two defaults for 0"),
    (["--default", "0=0", "--migration", "catlib.examples.counter:MIGRATION"], "give --old, --new and --migration "
                                                                              "(or --derive-migration)"),
])
def test_bad_derivations_are_clear_errors_and_change_nothing(node, capsys, extra, message):
    before = status(node)
    assert cli.upgrade(["--old", V1, "--new", V2, "--derive-migration", *extra, "--port", str(node.port)]) == 2
    assert message in capsys.readouterr().err
    assert status(node) == before


def test_a_default_needs_derive_migration(node, capsys):
    args = ["--old", V1, "--new", V2, "--migration", "catlib.examples.counter:MIGRATION", "--default", "0=0"]
    assert cli.upgrade([*args, "--port", str(node.port)]) == 2
    assert "--default and --candidate go with --derive-migration" in capsys.readouterr().err


def test_the_old_state_type_comes_from_the_node_for_code_text(node, capsys):
    old = cli.status(["--code", "--port", str(node.port)])
    code = capsys.readouterr().out.strip()
    assert old == 0
    args = ["--old", code, "--new", V2, "--derive-migration", "--default", "1=0", "--dry-run"]
    assert cli.upgrade([*args, "--port", str(node.port)]) == 0
    assert ": () / Int -> (Int, Int)" in capsys.readouterr().out
