"""Bad command-line values are one-line usage errors (exit 2) before anything is contacted or changed.

Each test runs the real entry point (`cam.__main__.main`, `catlib.__main__.main`, or a subprocess where the
process's own stdout matters) and checks the exit status, the message, and that the node (or a bare listening
socket standing for one) was not contacted or did not change; a control beside each shows the same command
with a good value doing its work, so that the check can fail.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cam import auth
from cam.__main__ import main as cam_main
from cam.client import Client
from cam.node import Node
from cam.server import Running, start_in_thread
from cam.text import parse_value
from catlib.__main__ import main as catlib_main
from tests.node_helpers import ROOT, V1

M = "catlib.examples.counter"


def run(main: Any, *argv: str) -> int:
    """`main(argv)`'s exit status, whether it returns it or argparse raises SystemExit."""
    try:
        return int(main(list(argv)) or 0)
    except SystemExit as e:
        return int(e.code or 0)


@pytest.fixture
def node() -> Iterator[tuple[Node, Running]]:
    """The seed's counter at Int 1, served in this process."""
    n = Node(V1, parse_value("Int 0"), name="counter")
    n.do(parse_value("L Unit"))
    running = start_in_thread(n)
    yield n, running
    running.stop()


def where(n: Node) -> tuple[int, str, bool, int]:
    """What a command must not change: version, digest, probation, inputs served."""
    return n.generation, n.digest, n.probation, n.inputs


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket that no one should connect to (a client's connection would wait in its backlog)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.setblocking(False)
    yield s
    s.close()


def untouched(s: socket.socket) -> bool:
    try:
        conn, _ = s.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


# ---------------------------------------------------------------- 1. cam release apply --rolling --pause


def release_file(tmp_path: Path, running: Running) -> str:
    path = tmp_path / "release.toml"
    path.write_text(f"""
timeout = 5
pause = 0

[upgrades.v2]
old = "{M}:COUNTER"
new = "{M}:COUNTER2"
migration = "{M}:MIGRATION"

[nodes."{running.host}:{running.port}"]
upgrade = "v2"
""")
    return str(path)


@pytest.mark.parametrize("pause", ["-3", "nan", "inf", "3601", "soon"])
def test_a_bad_pause_is_refused_before_any_node_is_contacted(node, tmp_path, capsys, pause):
    n, running = node
    path, before = release_file(tmp_path, running), where(n)
    assert run(cam_main, "release", "apply", path, "--rolling", "--pause", pause) == 2
    err = capsys.readouterr().err
    assert "argument --pause: pause is a number of seconds, at least 0 and at most 3600" in err
    assert "Traceback" not in err
    assert where(n) == before  # not upgraded, not on probation


def test_a_good_pause_upgrades(node, tmp_path, capsys):
    n, running = node
    assert run(cam_main, "release", "apply", release_file(tmp_path, running), "--rolling", "--pause", "0") == 0
    assert (n.generation, n.probation) == (2, False)


# ---------------------------------------------------------------- 2. cam check --chunk 0


@pytest.mark.parametrize("chunk", ["0", "-1"])
def test_chunk_zero_is_a_usage_error(capsys, chunk):
    assert run(cam_main, "check", "--terms", "10", "--chunk", chunk, "--jobs", "1", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "--chunk >= 1" in err and "Traceback" not in err


def test_chunk_one_runs():
    assert run(cam_main, "check", "--terms", "3", "--chunk", "1", "--jobs", "1", "--no-progress") == 0


# ---------------------------------------------------------------- 3. --timeout


TIMEOUT_COMMANDS = [["send", "L Unit"], ["status"], ["rollback"], ["make-permanent"],
                    ["upgrade", "--old", f"{M}:COUNTER", "--new", f"{M}:COUNTER2", "--migration", f"{M}:MIGRATION"]]


@pytest.mark.parametrize("command", TIMEOUT_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("timeout", ["-1", "nan", "inf", "0", "1e10", "later"])
def test_a_bad_timeout_is_a_usage_error(listener, capsys, command, timeout):
    port = str(listener.getsockname()[1])
    assert run(cam_main, *command, "--port", port, "--timeout", timeout) == 2
    err = capsys.readouterr().err
    assert f"argument --timeout: expected a number of seconds more than 0 and at most 1,000,000,000, not '{timeout}'" \
        in err
    assert "Traceback" not in err
    assert untouched(listener)


def test_a_good_timeout_reaches_the_node(node, capsys):
    n, running = node
    assert run(cam_main, "status", "--port", str(running.port), "--timeout", "0.5") == 0
    assert "Version:   v1" in capsys.readouterr().out


# ---------------------------------------------------------------- 4. cam upgrade --dry-run checks


@pytest.mark.parametrize("new, migration, says", [
    (f"{M}:counter_sm", f"{M}:upgrade_state", "dry run: the node would refuse it (state_type): the new machine's "
                                              "state type Int is not the migration's output type (Int, Int)"),
    ("[GET,RETURN]", f"{M}:upgrade_state", "dry run: the node would refuse it (new_code_rejected): the new code "
                                           "fails verification"),
    (f"{M}:counter_sm2", f"{M}:counter_sm", "dry run: the node would refuse it (migration_type)"),
])
def test_a_dry_run_runs_the_nodes_checks(node, capsys, new, migration, says):
    n, running = node
    before = where(n)
    args = ["upgrade", "--old", f"{M}:counter_sm", "--new", new, "--migration", migration, "--port", str(running.port)]
    assert run(cam_main, *args, "--dry-run") == 1
    captured = capsys.readouterr()
    assert says in captured.err and "Dry run: nothing sent." not in captured.out
    assert where(n)[:3] == before[:3]
    # the real upgrade is refused for the same reason
    assert run(cam_main, *args) == 1
    kind = says.split("(")[1].split(")")[0]
    assert f"refused ({kind})" in capsys.readouterr().err
    assert where(n)[:3] == before[:3]


def test_a_dry_run_of_a_good_upgrade_says_what_it_would_install(node, capsys):
    n, running = node
    before = where(n)
    args = ["upgrade", "--old", f"{M}:counter_sm", "--new", f"{M}:counter_sm2", "--migration", f"{M}:upgrade_state",
            "--port", str(running.port)]
    assert run(cam_main, *args, "--dry-run", "--probe", "R Unit => R (Int 0)") == 0
    out = capsys.readouterr().out
    assert "v2 would run at (Int, Int) / Either () () -> Either () Int, state Pair (Int 1) (Int 0)" in out
    assert out.endswith("Dry run: nothing sent.\n")
    assert where(n)[:3] == before[:3]
    # a probe that fails is found by the dry run as by the node
    assert run(cam_main, *args, "--dry-run", "--probe", "R Unit => R (Int 5)") == 1
    assert "(probe_failed): probe 1 (R Unit) gave R (Int 0), not R (Int 5)" in capsys.readouterr().err
    assert run(cam_main, *args) == 0
    assert n.generation == 2


def test_a_dry_run_on_probation_is_refused_as_the_node_would(node, capsys):
    n, running = node
    port = ["--port", str(running.port)]
    up = ["upgrade", "--old", f"{M}:COUNTER", "--new", f"{M}:COUNTER2", "--migration", f"{M}:MIGRATION", *port]
    assert run(cam_main, *up, "--probation") == 0
    back = ["upgrade", "--old", f"{M}:COUNTER2", "--new", f"{M}:COUNTER2", "--migration", f"{M}:counter_sm2", *port]
    capsys.readouterr()
    assert run(cam_main, *back, "--dry-run") == 1
    assert "(on_probation): v2 is on probation" in capsys.readouterr().err


# ---------------------------------------------------------------- 5. cam send takes the JSON value document


def test_send_takes_the_json_value_document(node, capsys):
    n, running = node
    doc = '{"format":"cam-bytecode","version":1,"value":{"L":"Unit"}}'
    assert run(cam_main, "send", doc, "--port", str(running.port)) == 0
    assert capsys.readouterr().out == "Output:    L Unit\nNew state: Int 2\n"
    assert n.inputs == 2


@pytest.mark.parametrize("value, says", [
    ('{"format":"cam-bytecode","version":1,"code":[]}', "expected a value document ('value'), found a code document"),
    ('{"format":"cam-bytecode","version":2,"value":"Unit"}', "at $.version: expected 1, found 2"),
    ("{nope", "expected valid JSON"),
    ("Lx Unit", "the value does not parse"),
])
def test_a_bad_input_is_a_usage_error(listener, capsys, value, says):
    assert run(cam_main, "send", value, "--port", str(listener.getsockname()[1])) == 2
    err = capsys.readouterr().err
    assert "argument value: the value does not parse" in err and says in err
    assert untouched(listener)


# ---------------------------------------------------------------- 6. catlib render -o into a missing directory


def test_render_into_a_missing_directory_names_it(capsys):
    assert run(catlib_main, "render", f"{M}:counter_sm", "-o", "/nonexistent/x.svg") == 2
    err = capsys.readouterr().err
    assert err == "catlib render: cannot write /nonexistent/x.svg: the directory /nonexistent does not exist\n"


def test_render_into_an_existing_directory(tmp_path, capsys):
    out = tmp_path / "x.dot"
    assert run(catlib_main, "render", f"{M}:counter_sm", "-o", str(out)) == 0
    assert out.read_text().startswith("digraph")


# ---------------------------------------------------------------- 7. a reader that stops early


def closed_pipe(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGV`` with its stdout a pipe whose reading end is already closed (``| head`` at its end)."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, *argv], stdout=w, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    finally:
        os.close(w)
    return p


def cam_to_a_closed_pipe(running: Running) -> list[list[str]]:
    port = ["--port", str(running.port)]
    return [["-m", "cam", "status", *port], ["-m", "cam", "status", "--json", *port],
            ["-m", "cam", "send", "L Unit", *port], ["-m", "cam", "--help"]]


def test_a_closed_stdout_ends_every_entry_point_quietly(node):
    n, running = node
    for argv in [*cam_to_a_closed_pipe(running), ["-m", "catlib", "tour"],
                 ["-m", "catlib", "render", f"{M}:counter_sm"], ["-m", "proofs", "-v", "--group", "laws"]]:
        p = closed_pipe(*argv)
        assert (p.returncode, p.stderr) == (1, ""), argv
    assert n.inputs == 2  # the send was served: only its printing failed
    # the control: with a reader, the same commands print and succeed
    p = subprocess.run([sys.executable, "-m", "cam", "status", "--port", str(running.port)], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert p.returncode == 0 and "Version:   v1" in p.stdout


def test_a_broken_pipe_that_is_not_stdouts_is_shown(monkeypatch, capfd):
    """A node's connection breaking inside a subcommand is an error to see, not a reader that stopped."""
    from cam import demo

    def broken(argv: list[str]) -> int:
        print("before the break")
        raise BrokenPipeError(32, "Broken pipe (a node's connection)")

    monkeypatch.setattr(demo, "demo", broken)
    with pytest.raises(BrokenPipeError, match="a node's connection"):
        cam_main(["demo"])
    print("stdout still works")
    assert capfd.readouterr().out == "before the break\nstdout still works\n"
    # a stdout with no file descriptor is no pipe whose reader went: the error is shown as it is
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    with pytest.raises(BrokenPipeError, match="a node's connection"):
        cam_main(["demo"])


# ---------------------------------------------------------------- 8. cam node's limits


@pytest.mark.parametrize("flag, value, says", [
    ("--fuel", "-1", "expected a whole number of at least 1"),
    ("--fuel", "0", "expected a whole number of at least 1"),
    ("--migration-fuel", "-1", "expected a whole number of at least 1"),
    ("--max-line", "0", "expected a whole number of at least 1"),
    ("--max-depth", "0", "expected a whole number of at least 1"),
    ("--max-connections", "0", "expected a whole number of at least 1"),
    ("--snapshot-every", "0", "expected a whole number of at least 1"),
    ("--read-timeout", "-1", "expected a number of seconds more than 0"),
    ("--idle-timeout", "inf", "expected a number of seconds more than 0"),
    ("--sync-interval", "nan", "expected a number of seconds more than 0"),
    ("--port", "70000", "expected a TCP port from 0 to 65535"),
])
def test_node_limits_are_checked_at_parse_time(capsys, flag, value, says):
    assert run(cam_main, "node", "--machine", f"{M}:counter_sm", "--state", "0", flag, value) == 2
    err = capsys.readouterr().err
    assert f"cam node: error: argument {flag}: {says}" in err and f"not '{value}'" in err


# ---------------------------------------------------------------- 9. render --timeout, verify --fuzz/--runs


@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf", "1e9"])
def test_render_timeout_must_be_positive_and_bounded(tmp_path, capsys, timeout):
    out = tmp_path / "never.svg"
    assert run(catlib_main, "render", f"{M}:counter_sm", "--timeout", timeout, "-o", str(out)) == 2
    assert (f"argument --timeout: expected a number of seconds more than 0 and at most 86,400, not '{timeout}'"
            in capsys.readouterr().err)
    assert not out.exists()


def test_render_with_a_timeout_draws(tmp_path, capsys):
    out = tmp_path / "drawn.svg"
    assert run(catlib_main, "render", f"{M}:counter_sm", "--timeout", "86400", "-o", str(out)) == 0
    assert "<svg" in out.read_text()


@pytest.mark.parametrize("args, says", [
    (["--fuzz", "-5"], "argument --fuzz: expected a whole number of at least 1, not '-5'"),
    (["--fuzz", "3", "--runs", "-1"], "argument --runs: expected a whole number of at least 0, not '-1'"),
    (["some.cam", "--fuzz", "3"], "FILE and --fuzz are exclusive"),
])
def test_verify_arguments(capsys, args, says):
    assert run(cam_main, "verify", *args) == 2
    assert says in capsys.readouterr().err


def test_verify_fuzz_runs(capsys):
    assert run(cam_main, "verify", "--fuzz", "3", "--runs", "0") == 0


# ---------------------------------------------------------------- 10. errors name the file or the flag at fault


@pytest.fixture
def keys(tmp_path: Path) -> tuple[str, str]:
    return auth.keygen(str(tmp_path / "ops"))


def test_missing_files_are_named(listener, tmp_path, capsys):
    port = ["--port", str(listener.getsockname()[1])]
    missing = str(tmp_path / "nonexist.pem")
    for argv, flag in [(["node", "--machine", f"{M}:counter_sm", "--state", "0", "--cert", missing, "--keyfile",
                         missing], "--cert"),
                       (["upgrade", "--old", "a:b", "--new", "a:b", "--migration", "a:b", "--tls-ca", missing, *port],
                        "--tls-ca"),
                       (["upgrade", "--to", "a:b", "--key", missing, *port], "--key"),
                       (["node", "--machine", f"{M}:counter_sm", "--state", "0", "--trust", missing], "--trust")]:
        assert run(cam_main, *argv) == 2
        assert f"argument {flag}: cannot read {missing}: No such file or directory" in capsys.readouterr().err
    assert run(cam_main, "node", "--machine", f"{M}:counter_sm", "--state", "0", "--fifo", "/nonexistent/x.fifo") == 2
    assert ("argument --fifo: cannot make the named pipe /nonexistent/x.fifo: the directory /nonexistent does not "
            "exist") in capsys.readouterr().err
    assert untouched(listener)


def test_a_public_key_is_not_a_certificate_nor_a_private_key(listener, keys, capsys):
    private, public = keys
    port = ["--port", str(listener.getsockname()[1])]
    assert run(cam_main, "send", "L Unit", "--tls-ca", public, *port) == 2
    err = capsys.readouterr().err
    assert f"argument --tls-ca: {public} holds no PEM certificate to trust" in err and "reach" not in err
    assert run(cam_main, "upgrade", "--to", "a:b", "--key", public, *port) == 2
    assert f"argument --key: {public} is not an Ed25519 private key in PEM" in capsys.readouterr().err
    assert untouched(listener)
    # the control: the private key passes the check (the command then fails on --to's MODULE:NAME, not the key)
    assert run(cam_main, "upgrade", "--to", "nowhere_at_all:b", "--key", private, *port) == 2
    assert "--key" not in capsys.readouterr().err


def test_a_bad_certificate_pair_is_named(tmp_path, keys, capsys):
    private, public = keys
    assert run(cam_main, "node", "--machine", f"{M}:counter_sm", "--state", "0", "--cert", public, "--keyfile",
               private, "--port", "0") == 2
    assert f"--cert {public} and --keyfile {private} are not a PEM certificate chain" in capsys.readouterr().err


def test_a_bad_input_type_blames_the_flag(capsys):
    assert run(cam_main, "node", "--machine", f"{M}:counter_sm", "--state", "0", "--input-type", "garbage (") == 2
    err = capsys.readouterr().err
    assert "argument --input-type: the type 'garbage (' does not parse" in err and "fails verification" not in err


# ---------------------------------------------------------------- 11. --derive-migration with --migration


def test_derive_migration_and_migration_are_exclusive(node, capsys):
    n, running = node
    before = where(n)
    assert run(cam_main, "upgrade", "--old", f"{M}:COUNTER", "--new", f"{M}:COUNTER2", "--derive-migration",
               "--migration", f"{M}:MIGRATION", "--port", str(running.port)) == 2
    assert "cam upgrade: --migration and --derive-migration are exclusive" in capsys.readouterr().err
    assert where(n) == before


# ---------------------------------------------------------------- 12. cam without a command; --version


def test_cam_without_a_command_is_a_usage_error(capsys):
    assert run(cam_main) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("cam: a command is needed\nusage: cam")
    assert run(cam_main, "--help") == 0 and "commands:" in capsys.readouterr().out


def test_cam_version(capsys):
    assert run(cam_main, "--version") == 0
    assert capsys.readouterr().out == f"cam (hotswap-cat) {importlib.metadata.version('hotswap-cat')}\n"


def test_the_client_reaches_the_node_with_defaults(node):
    """The fixture's node answers a plain client (the tests above that expect no change see a live node)."""
    _, running = node
    with Client(running.host, running.port) as c:
        assert c.status()["version"] == 1


def test_a_transcript_whose_reader_went_says_so_once(capfd):
    """``cam node | head`` (and ``cam demo | head``): one line on stderr, not one per event."""
    from cam.terminal import Transcript

    class Gone(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    t = Transcript(Gone())
    for k in range(5):
        t([f"Output:    Int {k}"])
        t.flush()
    err = capfd.readouterr().err
    assert err.count("could not print") == 1 and "BrokenPipeError" in err, err
