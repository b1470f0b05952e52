"""The node over real TCP on loopback: the seed's transcript, bad inputs, bad upgrades, the --fifo transport.

Every node binds 127.0.0.1 on a port chosen by the OS.  After each refused
request the node must answer with the right error kind, keep its digest and
state, and serve the next good request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cam.client import Client, NodeError, Upgrade, as_code
from cam.code import Code, UnitV, to_text
from cam.node import ERRORS, WRONG_VERSION, Limits, Node
from cam.protocol import json_depth
from cam.server import Running, start_in_thread
from cam.text import digest, parse_code, parse_value, to_json
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state
from catlib.free import Copy, Id, Snd
from tests.node_helpers import padded, slowly_verified

ROOT = Path(__file__).resolve().parents[1]

# The reference's bytecode for the counter (docs/reference.md, "Test vectors").
REF_COUNTER = "[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]"
REF_COUNTER2 = ("[ID,BRANCH [COPY,FIRST,ID,GET,FST,SWAP,CONS,SECOND,ID,GET,SND,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,"
                "SECOND,ID,CONS,ADD,CONS,PUT,INL,RETURN] [ID,GET,SND,INR,RETURN]]")
REF_MIGRATION = "[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]"

V1, V2, MIG = as_code(counter_sm), as_code(counter_sm2), as_code(upgrade_state)

# The seed README's expected output, literally (its blocks, in order).
SEED_BLOCK_1 = """Output:    L Unit
New state: Int 1

Output:    R (Int 1)
New state: Int 1
"""
SEED_BLOCK_2 = """Upgrade successful!

Output:    L Unit
New state: Pair (Int 1) (Int 1)

Output:    L Unit
New state: Pair (Int 1) (Int 2)

Output:    R (Int 2)
New state: Pair (Int 1) (Int 2)
"""
SEED_BLOCK_3 = "The version running isn't the one the upgrade expects. Aborting upgrade.\n"
SEED_TRANSCRIPT = SEED_BLOCK_1 + "\n" + SEED_BLOCK_2 + "\n" + SEED_BLOCK_3


class Served:
    """A node in a background thread, the lines it printed, and a client."""

    def __init__(self, running: Running, lines: list[str], node: Node) -> None:
        self.running, self.lines, self.node = running, lines, node
        self.client = Client(running.host, running.port, timeout=30)

    def raw(self, line: str | bytes) -> dict[str, Any]:
        """Send a raw line, return the parsed response."""
        data = line if isinstance(line, bytes) else line.encode()
        self.client._sock.sendall(data + b"\n")
        return json.loads(self.client._file.readline())

    def snapshot(self) -> tuple[str, str, int]:
        s = self.client.status()
        return s["digest"], s["state"], s["upgrades"]


@contextmanager
def serve(code: Code = V1, state: str = "Int 0", **kw: Any) -> Iterator[Served]:
    lines: list[str] = []
    limits = kw.pop("limits", Limits())
    node = Node(code, parse_value(state), emit=lines.extend, limits=limits, **kw)
    with start_in_thread(node) as running:
        served = Served(running, lines, node)
        try:
            yield served
        finally:
            served.client.close()


# ---------------------------------------------------------------- the seed's session


def test_compiled_counter_is_the_reference_bytecode():
    assert (to_text(V1), to_text(V2), to_text(MIG)) == (REF_COUNTER, REF_COUNTER2, REF_MIGRATION)


def test_seed_session_in_process():
    with serve() as s:
        c = s.client
        assert c.do("L Unit").output == parse_value("L Unit")
        assert c.do("R Unit").output == parse_value("R (Int 1)")
        answer = c.upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))
        assert answer["digest"] == digest(V2) and answer["state"] == "Pair (Int 1) (Int 0)"
        assert answer["signature"] == "(Int, Int) / Either () () -> Either () Int"
        for _ in range(2):
            c.do("L Unit")
        assert c.do("R Unit").output == parse_value("R (Int 2)")
        with pytest.raises(NodeError) as e:
            c.upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))
        assert e.value.kind == "wrong_version"
        assert "\n".join(s.lines) + "\n" == SEED_TRANSCRIPT + "\n"
        st = c.status()
        assert [v["digest"] for v in st["history"]] == [digest(V1), digest(V2)]
        assert st["history"][1]["since_input"] == 2 and st["inputs"] == 5 and st["state"] == "Pair (Int 1) (Int 2)"


def _start_node_process(*args: str) -> tuple[subprocess.Popen[str], str, int, list[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cam", "node", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head: list[str] = []
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, f"the node exited: {proc.stderr.read() if proc.stderr else ''}"
        head.append(line)
        if line.startswith("Listening:"):
            host, port = line.split()[1].rsplit(":", 1)
        if line == "Waiting for commands...\n":
            return proc, host, int(port), head


def test_seed_transcript_end_to_end_with_a_node_process():
    """``cam node`` as a subprocess; the seed's REPL session through `cam.client`'s module functions."""
    import cam.client as repl

    proc, host, port, head = _start_node_process("--machine", "catlib.examples.counter:counter_sm",
                                                 "--state", "0", "--port", "0")
    try:
        assert "Signature: Int / Either () () -> Either () Int\n" in head
        repl.connect(host, port)
        repl.incr()
        assert repl.count() == 1
        repl.upgrade(repl.Upgrade(counter_sm, counter_sm2, upgrade_state))
        repl.incr()
        repl.incr()
        assert repl.count() == 2
        with pytest.raises(NodeError) as e:
            repl.upgrade(repl.Upgrade(counter_sm, counter_sm2, upgrade_state))
        assert e.value.kind == "wrong_version"
        assert repl.status()["state"] == "Pair (Int 1) (Int 2)"
    finally:
        if repl._default is not None:
            repl._default.close()
            repl._default = None
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert out == SEED_TRANSCRIPT + "\n", out + err


def test_cam_demo_prints_the_seed_transcript():
    r = subprocess.run([sys.executable, "-m", "cam", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.endswith("Waiting for commands...\n" + SEED_TRANSCRIPT + "\n"), r.stdout
    assert ">>> upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))" in r.stderr


def test_one_off_cli_commands_against_a_node_process():
    proc, host, port, _ = _start_node_process("--machine", "catlib.examples.counter:counter_sm",
                                              "--state", "Int 5", "--port", "0")
    conn = ["--host", host, "--port", str(port)]

    def cam(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cam", *args, *conn], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)

    try:
        r = cam("send", "L Unit")
        assert (r.returncode, r.stdout) == (0, "Output:    L Unit\nNew state: Int 6\n")
        r = cam("send", "Int 3")
        assert r.returncode == 1 and "ill_typed_input" in r.stderr
        mods = "catlib.examples.counter:"
        up = ("upgrade", "--old", mods + "counter_sm", "--new", mods + "counter_sm2", "--migration",
              mods + "upgrade_state")
        r = cam(*up)
        assert r.returncode == 0 and "State:     Pair (Int 6) (Int 0)" in r.stdout, r.stderr
        r = cam(*up)
        assert r.returncode == 1 and "wrong_version" in r.stderr
        r = cam("status")
        assert r.returncode == 0 and "Signature: (Int, Int) / Either () () -> Either () Int" in r.stdout
        assert "Upgrades:  1" in r.stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_node_refuses_a_state_of_the_wrong_type():
    r = subprocess.run([sys.executable, "-m", "cam", "node", "--machine", "catlib.examples.counter:counter_sm",
                        "--state", "Pair (Int 1) (Int 2)", "--port", "0"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "state" in r.stderr


def test_a_declared_program_fixes_the_types():
    from catlib.examples.counter import COUNTER

    code, declared = as_code(COUNTER), COUNTER.signature
    node = Node(code, parse_value("Int 0"), declared=declared)
    assert str(node.signature) == "Int / Either () () -> Either () Int"


# ---------------------------------------------------------------- bad inputs


DEEP = 2000

BAD_LINES: list[tuple[str, bytes, str]] = [
    ("not JSON", b"Do (L Unit)", "bad_json"),
    ("truncated JSON", b'{"id": 1, "kind": "do", "input": "L Unit"', "bad_json"),
    ("not UTF-8", b'{"id": 1, "kind": "do", "input": "\xff\xfe"}', "bad_json"),
    ("not an object", b"[1, 2, 3]", "bad_request"),
    ("no kind", b'{"id": 1}', "unknown_kind"),
    ("unknown kind", b'{"id": 1, "kind": "launch"}', "unknown_kind"),
    ("id is an object", b'{"id": {"a": 1}, "kind": "status"}', "bad_request"),
    ("id is NaN (the answer would not be JSON)", b'{"id": NaN, "kind": "status"}', "bad_request"),
    ("id is Infinity", b'{"id": -Infinity, "kind": "status"}', "bad_request"),
    ("do without input", b'{"id": 1, "kind": "do"}', "bad_request"),
    ("input of the wrong JSON type", b'{"id": 1, "kind": "do", "input": 5}', "bad_request"),
    ("input that does not parse", b'{"id": 1, "kind": "do", "input": "L (Unit"}', "bad_value"),
    ("input document that is code", b'{"id": 1, "kind": "do", "input": ' + to_json(V1).encode() + b"}", "bad_value"),
    ("Int where Either () () is expected", b'{"id": 1, "kind": "do", "input": "Int 3"}', "ill_typed_input"),
    ("R (Int 5): accepted by the reference", b'{"id": 1, "kind": "do", "input": "R (Int 5)"}', "ill_typed_input"),
    ("a pair", b'{"id": 1, "kind": "do", "input": "Pair Unit Unit"}', "ill_typed_input"),
    ("JSON nested too deeply", b"[" * DEEP + b"]" * DEEP, "too_deep"),
    ("value document nested too deeply",
     b'{"id":1,"kind":"do","input":{"format":"cam-bytecode","version":1,"value":' + b'{"L":' * DEEP + b'"Unit"'
     + b"}" * DEEP + b"}}", "too_deep"),
    ("text value nested too deeply", b'{"id": 1, "kind": "do", "input": "' + b"L (" * DEEP + b"Unit" + b")" * DEEP
     + b'"}', "too_deep"),
    ("upgrade without fields", b'{"id": 1, "kind": "upgrade", "old": "[ID]"}', "bad_request"),
    # an unclosed string of escaped quotes: the depth scan once retried every quote to the end (quadratic,
    # minutes for this line)
    ("deep, then an unclosed string of escapes", b"[" * DEEP + b'"\\' * 200_000, "too_deep"),
]


@pytest.mark.parametrize("text", ['[]', '{"a": [1, {"b": "[[["}]}', '["\\"[", [[]]]', '["a\\\\", [1]]',
                                  '{"k": "}}", "l": [["\\\\\\"]"]]}', '"[[["', '[[[]], [[[[]]]]]'])
def test_json_depth_skips_strings_and_their_escapes(text):
    def depth(x: Any) -> int:
        kids = x.values() if isinstance(x, dict) else x if isinstance(x, list) else ()
        return 1 + max(map(depth, kids), default=0) if isinstance(x, (dict, list)) else 0

    assert json_depth(text.encode()) == depth(json.loads(text))
    assert json_depth(b"[[" + b'"\\' * 10) == 2  # an unclosed string runs to the end


@pytest.mark.parametrize("line, kind", [(line, kind) for _, line, kind in BAD_LINES],
                         ids=[name for name, _, _ in BAD_LINES])
def test_bad_input_is_answered_and_changes_nothing(line, kind):
    assert kind in ERRORS
    with serve(state="Int 41") as s:
        before = s.snapshot()
        r = s.raw(line)
        assert (r["ok"], r["error"]) == (False, kind), r
        assert r["message"]
        # the node's terminal says so: the reference's line for what it cannot read, ours for a refused input
        assert s.lines[-1] == "" and s.lines[-2].startswith(("Invalid command: ", "Input refused (")), s.lines
        assert s.snapshot() == before
        # the same connection goes on: the next good request is served
        assert s.client.do("L Unit").state == parse_value("Int 42")


def test_ill_typed_input_does_not_run_and_the_id_comes_back():
    with serve(state="Int 7") as s:
        r = s.raw('{"id": "abc", "kind": "do", "input": "Int 3"}')
        assert r["id"] == "abc" and r["error"] == "ill_typed_input"
        assert s.lines[-2].startswith("Input refused (ill_typed_input): Int 3")
        assert s.node.inputs == 0 and s.node.machine_steps == 0


def test_over_long_line_is_refused_and_the_connection_stays_up():
    with serve(limits=Limits(max_line=1000)) as s:
        before = s.snapshot()
        r = s.raw(b'{"id": 1, "kind": "do", "input": "' + b" " * 5000 + b'L Unit"}')
        assert (r["ok"], r["error"], r["id"]) == (False, "line_too_long", None)
        assert s.snapshot() == before
        # a long line that arrives in pieces, then a good one on the same connection
        s.client._sock.sendall(b"x" * 3000)
        time.sleep(0.05)
        s.client._sock.sendall(b"y" * 3000 + b"\n" + b'{"id": 9, "kind": "do", "input": "L Unit"}\n')
        assert json.loads(s.client._file.readline())["error"] == "line_too_long"
        assert json.loads(s.client._file.readline()) == {"id": 9, "ok": True, "output": "L Unit", "state": "Int 1",
                                                          "steps": 16}


def test_pipelined_requests_are_answered_in_order_one_each():
    with serve() as s:
        lines = b"".join(b'{"id": %d, "kind": "do", "input": "L Unit"}\n' % i for i in range(200))
        s.client._sock.sendall(lines + b"garbage\n" + b'{"id": "last", "kind": "status"}\n')
        answers = [json.loads(s.client._file.readline()) for _ in range(202)]
        assert [a["id"] for a in answers[:200]] == list(range(200))
        assert [a["state"] for a in answers[:200]] == [f"Int {i + 1}" for i in range(200)]
        assert answers[200]["error"] == "bad_json" and answers[201]["id"] == "last"


def test_value_forms_text_json_and_host():
    from catlib.values import Left, Right

    with serve() as s:
        assert s.client.do(Left(())).state == parse_value("Int 1")
        assert s.client.do(parse_value("L Unit")).state == parse_value("Int 2")
        r = s.raw(b'{"id":1,"kind":"do","input":' + to_json(parse_value("R Unit")).encode() + b"}")
        assert r["output"] == "R (Int 2)"
        assert s.client.do(Right(())).output == parse_value("R (Int 2)")


# ---------------------------------------------------------------- bad upgrades


def _upgrade_line(old: Code | str, new: Code | str, migration: Code | str) -> str:
    """An upgrade request; code goes as its JSON document, a str as it is if it is a document, else as text."""
    def field(c: Code | str) -> str:
        return to_json(c) if isinstance(c, Code) else c if c.startswith("{") else json.dumps(c)

    return f'{{"id":7,"kind":"upgrade","old":{field(old)},"new":{field(new)},"migration":{field(migration)}}}'


def _tamper(code: Code, old: str, new: str) -> str:
    text = to_json(code)
    assert old in text
    return text.replace(old, new, 1)


BAD_UPGRADES: list[tuple[str, Any, Any, Any, str]] = [
    ("old code is another version", V2, V2, MIG, "wrong_version"),
    ("old code tampered (QUOTE 1 -> 2)", "tampered-old", V2, MIG, "wrong_version"),
    ("new code does not verify (RETURN without a continuation)", V1, parse_code("[RETURN]"), MIG,
     "new_code_rejected"),
    ("new code does not verify (BRANCH on an Int)", V1, parse_code("[QUOTE (Int 1),BRANCH [RETURN] [RETURN]]"), MIG,
     "new_code_rejected"),
    ("new code tampered so it no longer type-checks", V1, "tampered-new", MIG, "new_code_rejected"),
    ("migration does not verify (ADD on Unit)", V1, V2, parse_code("[CONSUME,ADD]"), "migration_rejected"),
    ("migration of the wrong type (expects a pair, the state is Int)", V1, V2, as_code(Snd), "migration_type"),
    ("migration leaves the wrong state type for the new code", V1, V2, as_code(Copy >> Snd), "state_type"),
    ("identity migration to a machine with a pair state", V1, V2, as_code(Id), "state_type"),
    ("new machine changes the interface", V1, parse_code("[ID]"), as_code(Id), "interface_changed"),
    ("tampered JSON: unknown instruction", V1, "unknown-instr", MIG, "bad_code"),
    ("tampered JSON: Int as a string", V1, V2, "string-int", "bad_code"),
    ("code field holds a value document", V1, "value-doc", MIG, "bad_code"),
    ("code text that does not parse", V1, "[ID,BRANCH [RETURN]", MIG, "bad_code"),
]


def _field(x: Any) -> Code | str:
    special = {
        "tampered-old": lambda: _tamper(V1, '{"QUOTE":{"Int":1}}', '{"QUOTE":{"Int":2}}'),
        "tampered-new": lambda: _tamper(V2, '"SND","INR"', '"INR","SND"'),
        "unknown-instr": lambda: _tamper(V2, '"ADD"', '"ADDX"'),
        "string-int": lambda: _tamper(MIG, '{"Int":0}', '{"Int":"0"}'),
        "value-doc": lambda: to_json(parse_value("Int 1")),
    }
    return special[x]() if isinstance(x, str) and x in special else x


@pytest.mark.parametrize("old, new, migration, kind", [b[1:] for b in BAD_UPGRADES], ids=[b[0] for b in BAD_UPGRADES])
def test_bad_upgrade_is_refused_and_changes_nothing(old, new, migration, kind):
    with serve(state="Int 3") as s:
        s.client.do("L Unit")
        before = s.snapshot()
        r = s.raw(_upgrade_line(*[_field(x) for x in (old, new, migration)]))
        assert (r["ok"], r["error"], r["id"]) == (False, kind, 7), r
        assert s.snapshot() == before
        expected_line = WRONG_VERSION if kind == "wrong_version" else f"Upgrade refused ({kind}): "
        assert s.lines[-2].startswith(expected_line)
        assert s.client.do("R Unit").output == parse_value("R (Int 4)")
        # and a good upgrade still goes through afterwards
        s.client.upgrade(V1, V2, MIG)
        assert s.client.do("L Unit").state == parse_value("Pair (Int 4) (Int 1)")


def test_migration_out_of_steps_is_refused():
    with serve(state="Int 3", limits=Limits(migration_fuel=5)) as s:
        before = s.snapshot()
        with pytest.raises(NodeError) as e:
            s.client.upgrade(V1, V2, MIG)  # the migration takes 9 steps
        assert e.value.kind == "migration_failed" and "ran out" in e.value.message
        assert s.snapshot() == before
        assert s.client.do("L Unit").state == parse_value("Int 4")


def test_migration_that_gets_stuck_is_refused():
    """Defence in depth: a verified migration cannot get stuck, so a verifier that lies is needed to get here.

    The node must still refuse the upgrade when the migration run fails, whatever the verifier said.
    """
    from cam import verifier

    stuck = parse_code("[FST]")  # FST on Int 3: stuck

    def lying_verify(code: Code, state: Any = None, input: Any = None, output: Any = None) -> Any:
        if code == stuck:
            return verifier.verify(MIG, state=state, input=input, output=output)
        return verifier.verify(code, state=state, input=input, output=output)

    with serve(state="Int 3", verify=lying_verify, check_value=verifier.check_value) as s:
        before = s.snapshot()
        with pytest.raises(NodeError) as e:
            s.client.upgrade(V1, V2, stuck)
        assert e.value.kind == "migration_failed" and "stuck" in e.value.message
        assert s.snapshot() == before
        assert s.client.do("L Unit").state == parse_value("Int 4")


def test_upgrade_in_text_form_and_a_chain_of_upgrades():
    with serve(state="Int 10") as s:
        s.client.upgrade(REF_COUNTER, REF_COUNTER2, REF_MIGRATION)
        assert s.client.do("L Unit").state == parse_value("Pair (Int 10) (Int 1)")
        s.client.upgrade(V2, V1, as_code(Snd))  # and back: keep the current count
        assert s.client.do("R Unit").output == parse_value("R (Int 1)")
        hist = s.client.status()["history"]
        assert [h["digest"] for h in hist] == [digest(V1), digest(V2), digest(V1)]
        assert [h["since_input"] for h in hist] == [0, 0, 1]


def test_deep_code_travels_as_text():
    """A migration of 3,000 nested BRANCHes is too deep for JSON; the client sends its text form."""
    n = 3000
    deep = parse_code("[" + "INL,BRANCH [" * n + REF_MIGRATION[1:-1] + ",RETURN] [RETURN]" * n + "]")
    with serve(state="Int 2") as s:
        answer = s.client.upgrade(V1, V2, deep)
        assert answer["state"] == "Pair (Int 2) (Int 0)"
        assert s.client.do("R Unit").output == parse_value("R (Int 0)")


# ---------------------------------------------------------------- the reference's text commands on a FIFO


def test_fifo_transport_with_the_reference_commands(tmp_path):
    fifo = tmp_path / "node.fifo"
    lines: list[str] = []
    node = Node(V1, parse_value("Int 0"), emit=lines.extend)
    commands = [
        "Do (L Unit)", "Do (R Unit)",
        f"Load {REF_COUNTER} {REF_COUNTER2} {REF_MIGRATION}",
        "Do (L Unit)", "Do (L Unit)", "Do (R Unit)",
        f"Load {REF_COUNTER} {REF_COUNTER2} {REF_MIGRATION}",
        "Do (Int 3)",
        "Launch missiles",
        "Do (R Unit)",
    ]
    with start_in_thread(node, fifo=str(fifo)):
        assert fifo.is_fifo()
        with open(fifo, "w") as f:  # the reference's client: one command a line, then it closes
            f.write("\n".join(commands[:3]) + "\n")
        with open(fifo, "w") as f:  # a second writer later: the node still reads
            f.write("\n".join(commands[3:]) + "\n")
        deadline = time.time() + 20
        while "".join(lines).count("Output:") < 6 and time.time() < deadline:
            time.sleep(0.02)
    out = "\n".join(lines) + "\n"
    assert out.startswith(SEED_TRANSCRIPT + "\n")
    rest = out[len(SEED_TRANSCRIPT) + 1:].split("\n")
    assert rest[0].startswith("Input refused (ill_typed_input): Int 3")
    assert "Invalid command: Launch missiles" in rest
    assert out.endswith("Output:    R (Int 2)\nNew state: Pair (Int 1) (Int 2)\n\n")
    assert node.state == parse_value("Pair (Int 1) (Int 2)") and node.inputs == 6


def test_fifo_reader_survives_an_internal_error(tmp_path):
    fifo = tmp_path / "node.fifo"
    lines: list[str] = []
    node = Node(V1, parse_value("Int 0"), emit=lines.extend)
    real_do = node.do

    def do(x):  # a bug in the node, on the first input only
        if node.do is do:
            node.do = real_do
            raise RuntimeError("boom")
        return real_do(x)

    node.do = do
    with start_in_thread(node, fifo=str(fifo)):
        with open(fifo, "w") as f:
            f.write("Do (L Unit)\nDo (L Unit)\n")
        deadline = time.time() + 20
        while "Output:" not in "".join(lines) and time.time() < deadline:
            time.sleep(0.02)
    assert lines[0].startswith("Internal error (RuntimeError: boom)")
    assert "New state: Int 1" in lines and node.inputs == 1


def test_node_core_without_a_server():
    node = Node(V1, parse_value("Int 0"))
    assert node.do(parse_value("L Unit")).state == parse_value("Int 1")
    with pytest.raises(Exception) as e:
        node.do(parse_value("Int 3"))
    assert getattr(e.value, "kind", None) == "ill_typed_input"
    v = node.upgrade(V1, V2, MIG)
    assert v.digest == digest(V2) and node.state == parse_value("Pair (Int 1) (Int 0)")
    assert node.status()["upgrades"] == 1 and UnitV is not None


def test_upgrade_with_the_examples_declared_programs():
    from catlib.examples.counter import UPGRADE

    with serve(state="Int 4") as s:
        s.client.upgrade(UPGRADE)  # a catlib.program.Upgrade of Programs
        st = s.client.status()
        assert st["digest"] == digest(V2) and st["state"] == "Pair (Int 4) (Int 0)"
        assert st["upgrade_pauses"] == [] and s.client.do("L Unit").steps == 26
        assert len(s.client.status()["upgrade_pauses"]) == 1


def test_inputs_that_arrive_while_an_upgrade_is_checked_are_served_by_the_running_version():
    """A big upgrade's code is checked in a worker thread while the running version answers other clients;
    the migration then runs (again) on the state those inputs left, and the upgrading client's next input
    runs on the new machine."""
    import threading

    from cam import verifier

    big_v2 = padded(V2)  # > 64 KiB of JSON: the worker-thread path
    slow_verify, checking = slowly_verified(big_v2)

    with serve(state="Int 5", verify=slow_verify, check_value=verifier.check_value) as s:
        answers: list[Any] = []

        def upgrade() -> None:
            answers.append(s.client.upgrade(V1, big_v2, MIG))
            answers.append(s.client.do("L Unit").state)

        t = threading.Thread(target=upgrade)
        t.start()
        assert checking.wait(10)
        with Client(s.running.host, s.running.port) as other:
            states = [other.do("L Unit").state for _ in range(3)]
        t.join(10)
        assert states == [parse_value(f"Int {i}") for i in (6, 7, 8)]  # the old machine, without waiting
        assert answers[0]["digest"] == digest(big_v2) and answers[0]["state"] == "Pair (Int 8) (Int 0)"
        assert answers[1] == parse_value("Pair (Int 8) (Int 1)")  # after its upgrade, on the same connection
        assert s.lines.index("New state: Int 8") < s.lines.index("Upgrade successful!")
        with Client(s.running.host, s.running.port) as other:
            assert other.do("L Unit").state == parse_value("Pair (Int 8) (Int 2)")
            st = other.status()
        assert len(st["upgrade_pauses"]) == len(st["upgrade_latencies"]) == 1
        assert st["upgrade_pauses"][0] < st["upgrade_latencies"][0]  # the checks ran before inputs stopped


def test_an_upgrade_refused_at_the_state_inputs_left_changes_nothing():
    """The state's checks run again at the swap, on the state inputs left while the code was checked: a
    probe that passed at the first state fails there, and the upgrade is refused; nothing changed."""
    import threading

    from cam import verifier

    same = padded(V1)  # the same machine, checked in a worker thread
    slow_verify, checking = slowly_verified(same)

    with serve(state="Int 5", verify=slow_verify, check_value=verifier.check_value) as s:
        errors: list[NodeError] = []

        def upgrade() -> None:
            with pytest.raises(NodeError) as e:
                s.client.upgrade(V1, same, "[]", probes=[("R Unit", "R (Int 5)")])  # true at Int 5 only
            errors.append(e.value)

        t = threading.Thread(target=upgrade)
        t.start()
        assert checking.wait(10)
        with Client(s.running.host, s.running.port) as other:
            assert other.do("L Unit").state == parse_value("Int 6")
        t.join(10)
        assert errors and errors[0].kind == "probe_failed"
        assert s.node.digest == digest(V1) and s.node.generation == 1 and s.client.status()["state"] == "Int 6"
        assert s.lines[-2].startswith("Upgrade refused (probe_failed)")


def test_a_failing_terminal_never_turns_an_applied_request_into_an_error(capsys):
    """The node prints after it has changed state; a broken stdout must not make it answer an error."""

    def broken(lines: list[str]) -> None:
        raise BrokenPipeError("stdout is closed")

    node = Node(V1, parse_value("Int 0"), emit=broken)
    with start_in_thread(node) as running, Client(running.host, running.port, timeout=30) as c:
        assert c.do("L Unit").state == parse_value("Int 1")
        answer = c.upgrade(V1, V2, MIG)
        assert answer["digest"] == digest(V2) and answer["state"] == "Pair (Int 1) (Int 0)"
        with pytest.raises(NodeError) as e:  # refusals keep their kind and change nothing
            c.upgrade(V1, V2, MIG)
        assert e.value.kind == "wrong_version"
        with pytest.raises(NodeError) as e:
            c.do("Int 3")
        assert e.value.kind == "ill_typed_input"
        st = c.status()
        assert (st["digest"], st["state"], st["inputs"]) == (digest(V2), "Pair (Int 1) (Int 0)", 1)
    assert "BrokenPipeError" in capsys.readouterr().err


def test_connections_over_the_limit_are_answered_and_closed():
    """Each connection may buffer a max_line request: the node bounds how many it keeps open."""
    import socket

    with serve(limits=Limits(max_connections=2)) as s:  # s.client is the first connection
        with Client(s.running.host, s.running.port, timeout=30) as second:
            assert second.do("L Unit").state == parse_value("Int 1")  # both are registered now
            with socket.create_connection((s.running.host, s.running.port), timeout=30) as third:
                answer = json.loads(third.makefile("rb").readline())
                assert answer["ok"] is False and answer["error"] == "too_many_connections"
                assert answer["error"] in ERRORS and answer["id"] is None
                assert third.recv(1) == b""  # closed by the node
            with Client(s.running.host, s.running.port, timeout=30) as refused, pytest.raises(NodeError) as e:
                refused.status()
            assert e.value.kind == "too_many_connections"
            assert s.client.do("L Unit").state == parse_value("Int 2")  # the others are still served
            assert second.do("R Unit").output == parse_value("R (Int 2)")
        # a slot is free again once the node has seen the second connection close
        deadline = time.monotonic() + 10
        while True:
            try:
                with Client(s.running.host, s.running.port, timeout=30) as again:
                    assert again.status()["inputs"] == 3
                break
            except NodeError as e:
                assert e.kind == "too_many_connections" and time.monotonic() < deadline
                time.sleep(0.01)


def test_serving_a_node_from_a_program_leaves_its_switch_interval_alone():
    """Only the ``cam node`` command sets `sys.setswitchinterval` (in its own process): a program that
    imports the package and serves a node (`serve`, `start_in_thread`) keeps its interpreter's."""
    import asyncio
    import io

    from cam.server import serve as serve_until_cancelled

    before = sys.getswitchinterval()

    async def main() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(serve_until_cancelled(Node(V1, parse_value("Int 0"), emit=lambda *_: None), out=io.StringIO(),
                                         ready=lambda _: ready.set()))
        await asyncio.wait_for(ready.wait(), 10)
        assert sys.getswitchinterval() == before
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    with serve() as s:  # start_in_thread
        assert s.client.do("L Unit").state == parse_value("Int 1")
    assert sys.getswitchinterval() == before
