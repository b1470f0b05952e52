"""docs/upgrades.md runs as written: its files are written, its nodes started, its commands' outputs compared.

A ``console`` block's ``$`` lines are commands, the lines after each its
expected output (``...`` stands for anything, whitespace is normalised:
addresses change width).  ``python -m cam node`` commands start nodes (in
subprocesses); the other ``cam`` commands run in this process
(`cam.__main__.main`), in a temporary directory holding the files of the
blocks that start with ``# file: NAME``.  The ports of the text are replaced
by free ones.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import socket
import sys

from cam.__main__ import main
from tests.node_helpers import ROOT, NodeProcess

DOC = ROOT / "docs" / "upgrades.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit:  # argparse
            pass
    return out.getvalue() + err.getvalue()


def test_docs_upgrades_runs_as_written(tmp_path, monkeypatch):
    text = DOC.read_text()
    for port in ("7701", "7702", "7703"):
        text = text.replace(port, str(free_port()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # what `python -m cam` does with the current directory
    checker, nodes, commands = doctest.OutputChecker(), [], 0
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    try:
        for lang, body in BLOCK.findall(text):
            first = body.split("\n", 1)[0]
            if first.startswith("# file: "):
                (tmp_path / first.removeprefix("# file: ")).write_text(body)
                continue
            if lang != "console":
                continue
            for chunk in body.split("$ ")[1:]:
                command, _, expected = chunk.partition("\n")
                argv = shlex.split(command)
                assert argv[:3] == ["python", "-m", "cam"], command
                if argv[3] == "node":
                    nodes.append(NodeProcess(*argv[4:], env={**os.environ, "PYTHONPATH": f"{ROOT}:{tmp_path}"}))
                    continue
                got = run(argv[3:])
                commands += 1
                assert checker.check_output(expected, got, flags), f"$ {command}\nexpected:\n{expected}\ngot:\n{got}"
    finally:
        for n in nodes:
            n.kill()
        sys.modules.pop("counter_v2", None)
    assert len(nodes) == 3 and commands >= 15
