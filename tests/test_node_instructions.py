"""Which instruction set a node accepts: extended over TCP, the reference's on the named pipe."""

from __future__ import annotations

import time

import pytest

from cam.cli import status as status_command
from cam.client import Client, as_code
from cam.code import to_text
from cam.compiler import compile
from cam.fifo import beyond_reference
from cam.node import ERRORS, Node
from cam.server import start_in_thread
from cam.text import parse_code, parse_value
from catlib.examples import bank, counter

BANK, BANK2, MIGRATION = (as_code(t) for t in (bank.bank, bank.bank2, bank.upgrade_bank))


def test_beyond_reference_names_the_extensions_inside_blocks_too() -> None:
    assert beyond_reference(compile(counter.counter_sm), compile(counter.upgrade_state)) == []
    assert beyond_reference(BANK) == ["LT", "SUB"]  # inside BRANCH blocks
    assert beyond_reference(parse_code("[CURRY [DIVMOD],MUL]"), parse_code("[EQ]")) == ["DIVMOD", "EQ", "MUL"]
    assert "beyond_reference" in ERRORS


def _wait_for(lines: list[str], text: str) -> None:
    deadline = time.time() + 20
    while text not in "\n".join(lines) and time.time() < deadline:
        time.sleep(0.02)


def test_the_named_pipe_refuses_extended_code_and_tcp_takes_it(tmp_path: object,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "node.fifo"  # type: ignore[operator]
    lines: list[str] = []
    node = Node(BANK, parse_value("Int 70"), emit=lines.extend)
    with start_in_thread(node, fifo=str(fifo)) as running:
        with Client(running.host, running.port) as c:
            assert c.status()["instructions"] == {"tcp": "extended", "fifo": "reference"}
        assert status_command(["--port", str(running.port)]) == 0
        assert "Instructions: extended over TCP, reference on the named pipe" in capsys.readouterr().out
        with open(fifo, "w") as f:
            f.write(f"Load {to_text(BANK)} {to_text(BANK2)} {to_text(MIGRATION)}\nDo (L (Int 5))\n")
        _wait_for(lines, "Output:")
        refused = [x for x in lines if x.startswith("Upgrade refused")]
        assert refused == ["Upgrade refused (beyond_reference): the code uses LT, SUB, which the reference machine "
                           "lacks; the named pipe takes the reference's 21 instructions only (send extended code "
                           "over TCP). Nothing changed."]
        assert node.code == BANK and node.generation == 1  # the input after it ran on version 1
        assert node.state == parse_value("Int 75")
        with Client(running.host, running.port) as c:  # the same upgrade over TCP is taken
            c.upgrade(BANK, BANK2, MIGRATION)
            assert c.do("R (L (Int 500))").output == parse_value("L Unit")
        assert node.state == parse_value("Pair (Int 75) (Int 1)")


def test_a_node_without_a_pipe_says_so() -> None:
    with start_in_thread(Node(BANK, parse_value("Int 0"))) as running, Client(running.host, running.port) as c:
        assert c.status()["instructions"] == {"tcp": "extended", "fifo": None}
