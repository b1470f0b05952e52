"""How a connection's bytes become request lines (`cam.guard.Lines`), driven chunk by chunk without a socket.

Each test feeds `Lines` the chunks a socket could deliver (a line cut anywhere, several lines in one chunk,
CRLF, blank lines, a line at and over the size limit, an end of file in the middle of a line) and checks the
answers written, in order, one per request, and what the connection does with its reading and its timer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cam.guard import Lines
from cam.node import Limits, Node
from cam.server import NodeServer
from tests.node_helpers import V1


class Transport(asyncio.Transport):
    """What `Lines` asks of a transport, recorded."""

    def __init__(self, tls: bool = False) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading, self.closing, self.tls = True, False, tls

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def pause_reading(self) -> None:
        assert self.reading, "paused twice"
        self.reading = False

    def resume_reading(self) -> None:
        assert not self.reading, "resumed while reading"
        self.reading = True

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sslcontext": object() if self.tls else None}.get(name, default)

    def answers(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in bytes(self.written).splitlines()]


def run(test: Callable[[NodeServer], Coroutine[Any, Any, None]], **limits: Any) -> None:
    """Run `test` on an event loop with a server (not listening) for a counter starting at 0."""
    from cam.text import parse_value

    async def main() -> None:
        server = NodeServer(Node(V1, parse_value("Int 0"), limits=Limits(**limits)))
        await test(server)

    asyncio.run(main())


def connect(server: NodeServer, tls: bool = False) -> tuple[Lines, Transport]:
    conn, t = Lines(server), Transport(tls)
    conn.connection_made(t)
    return conn, t


def do(i: int, pad: int = 0) -> bytes:
    return b'{"id": %d, "kind": "do", "input": "L Unit"}' % i + b" " * pad


def test_lines_cut_anywhere_are_answered_in_order_one_each():
    async def test(server: NodeServer) -> None:
        conn, t = connect(server)
        stream = b"".join(do(i) + b"\n" for i in range(1, 6))
        for cut in range(0, len(stream), 7):  # chunks that cut lines, and their newlines, anywhere
            conn.data_received(stream[cut:cut + 7])
        assert [(a["id"], a["state"]) for a in t.answers()] == [(i, f"Int {i}") for i in range(1, 6)]
        assert not conn.buffer and not conn.lines and conn.queued == 0
        conn.data_received(stream)  # and all in one chunk
        assert [a["state"] for a in t.answers()[5:]] == [f"Int {i}" for i in range(6, 11)]

    run(test)


def test_crlf_blank_lines_and_a_line_at_the_limit():
    async def test(server: NodeServer) -> None:
        conn, t = connect(server)
        at = do(1, 100 - len(do(1)))  # exactly max_line bytes
        conn.data_received(at + b"\n\n \t\r\n" + do(2) + b"\r\n" + do(3, 101 - len(do(3))) + b"\n")
        a = t.answers()
        assert [(x["id"], x["ok"]) for x in a] == [(1, True), (2, True), (None, False)]  # blank lines: no answer
        assert a[2]["error"] == "line_too_long" and server.node.state_text() == "Int 2"
        conn.data_received(do(4) + b"\n")  # the connection goes on
        assert t.answers()[3]["state"] == "Int 3" and not t.closing
        for line in (at, do(5, 101 - len(do(5)))):  # each line alone in one chunk (the commonest chunk)
            conn.data_received(line + b"\n")
        assert [x.get("error") for x in t.answers()[4:]] == [None, "line_too_long"]
        assert server.node.state_text() == "Int 4"

    run(test, max_line=100)


def test_a_line_over_the_limit_is_answered_once_and_skipped_as_it_comes():
    async def test(server: NodeServer) -> None:
        conn, t = connect(server)
        conn.data_received(do(1) + b"\n" + b"x" * 80)
        conn.data_received(b"y" * 80)  # over the limit: answered now, the rest of the line skipped
        assert [x.get("error") for x in t.answers()] == [None, "line_too_long"]
        assert len(conn.buffer) == 0 and conn.dropping
        conn.data_received(b"z" * 500)
        conn.data_received(b"z\n" + do(2) + b"\n")
        assert [x.get("error") for x in t.answers()] == [None, "line_too_long", None]
        assert t.answers()[2]["state"] == "Int 2" and not conn.dropping

    run(test, max_line=100)


def test_an_unterminated_last_line_is_answered_at_the_end_of_file_then_the_connection_closes():
    async def test(server: NodeServer) -> None:
        conn, t = connect(server)
        conn.data_received(do(1) + b"\n" + do(2)[:10])
        conn.data_received(do(2)[10:])
        assert [x["id"] for x in t.answers()] == [1] and not t.closing
        assert conn.eof_received() is True  # half-closed: keep writing
        assert [x["state"] for x in t.answers()] == ["Int 1", "Int 2"] and t.closing
        tls, tt = connect(server, tls=True)
        assert tls.eof_received() is False  # a TLS transport closes at the end of file whatever we say
        assert tt.closing

    run(test)


def test_an_answer_that_must_wait_keeps_the_later_lines_waiting_in_order():
    async def test(server: NodeServer) -> None:
        conn, t = connect(server)
        async with server.lock:  # the node's lock is held: an input waits for it, and the lines after it
            conn.data_received(do(1) + b"\n" + b'{"id": 2, "kind": "status"}\n' + do(3) + b"\n")
            await asyncio.sleep(0.01)
            assert t.answers() == [] and conn.busy and len(conn.lines) == 2
        for _ in range(100):
            await asyncio.sleep(0.005)
            if len(t.answers()) == 3:
                break
        a = t.answers()
        assert [x["id"] for x in a] == [1, 2, 3] and a[1]["state"] == "Int 1" and a[2]["state"] == "Int 2"

    run(test)


def test_a_connection_is_answered_a_batch_at_a_time_and_a_backlog_pauses_its_reading():
    async def test(server: NodeServer) -> None:
        conn, t = connect(server)
        n = Lines.BACKLOG + 50
        conn.data_received(b"".join(do(i) + b"\n" for i in range(n)))
        assert len(t.answers()) == Lines.BATCH and not t.reading and "backlog" in conn.paused
        while len(t.answers()) < n:
            await asyncio.sleep(0)
        assert t.reading and not conn.paused and [x["id"] for x in t.answers()] == list(range(n))

    run(test)


def test_one_big_line_at_a_time_and_the_slot_passes_on_when_its_holder_closes():
    async def test(server: NodeServer) -> None:
        a, ta = connect(server)
        b, tb = connect(server)
        a.data_received(b"{" + b" " * 2000)  # a started line over the threshold takes the slot
        assert a.holding_big and ta.reading
        b.data_received(b"{" + b" " * 2000)  # another waits for it, unread
        assert not b.holding_big and not tb.reading and "big" in b.paused
        a.connection_lost(None)  # the holder goes away: the next one is read
        assert b.holding_big and tb.reading and server.big_slot.holder is b
        assert a.timer is not None and a.timer.cancelled()
        b.data_received(b"}\n")
        for _ in range(200):  # decoded in a worker thread, answered in a task
            if tb.answers() and server.big_slot.holder is None:
                break
            await asyncio.sleep(0.005)
        assert server.big_slot.holder is None and not b.holding_big
        assert len(tb.answers()) == 1 and tb.answers()[0]["ok"] is False  # {} is not a request

    run(test, executor_threshold=1000)


def test_big_lines_that_come_whole_are_handled_one_at_a_time_too():
    """A big line that arrives in one chunk (a read takes up to 256 KiB) takes the slot before it is handled:
    one big line is decoded at a time; the next connection's waits, and is answered once the slot passes."""
    async def test(server: NodeServer) -> None:
        big = b'{"id": %d, "kind": "do", "input": "L Unit"' + b" " * 2000 + b"}\n"
        a, ta = connect(server)
        b, tb = connect(server)
        a.data_received(big % 1)
        assert a.busy and a.holding_big
        b.data_received(big % 2)
        assert not b.busy and "big" in b.paused and not tb.reading  # waits, unread
        for _ in range(400):
            if ta.answers() and tb.answers():
                break
            await asyncio.sleep(0.005)
        assert [x["state"] for x in ta.answers() + tb.answers()] == ["Int 1", "Int 2"]
        assert server.big_slot.holder is None and tb.reading and not b.paused

    run(test, executor_threshold=1000)


def test_a_connection_pipelining_big_lines_lets_another_s_big_line_in_between():
    async def test(server: NodeServer) -> None:
        big = b'{"id": %d, "kind": "do", "input": "L Unit"' + b" " * 2000 + b"}\n"
        a, ta = connect(server)
        b, tb = connect(server)
        a.data_received(big % 1 + big % 2 + big % 3)
        b.data_received(big % 10)
        for _ in range(400):
            if len(ta.answers()) == 3 and tb.answers():
                break
            await asyncio.sleep(0.005)
        order = sorted((x["state"], x["id"]) for x in ta.answers() + tb.answers())
        assert [i for _, i in order] == [1, 10, 2, 3]  # b's line was handled second, between a's first two

    run(test, executor_threshold=1000)


def test_an_answer_goes_out_before_its_transcript_event_and_a_failed_write_loses_no_event(tmp_path) -> None:
    """A served node holds the events of the answers a callback makes until they are written: the state changes,
    the answer goes out, then the transcript says so, every event in order; a write that fails loses none."""
    from cam.terminal import Transcript
    from cam.text import parse_value

    path = tmp_path / "transcript.txt"

    async def main() -> None:
        with open(path, "w") as out:
            printed = Transcript(out)
            server = NodeServer(Node(V1, parse_value("Int 0"), emit=printed))
            await server.start()  # wires the transcript to the loop, as `cam node` does
            try:
                conn, t = connect(server)
                shown: list[str] = []
                real = t.write

                def write(data: bytes | bytearray | memoryview) -> None:  # what the terminal shows then
                    shown.append(path.read_text())
                    real(data)

                t.write = write  # type: ignore[method-assign]
                conn.data_received(do(1) + b"\n")  # one line alone: the short path
                conn.data_received(do(2) + b"\n" + do(3) + b"\n")  # two lines, one write
                printed.flush()
                assert shown == ["", "Output:    L Unit\nNew state: Int 1\n\n"]
                assert [a["state"] for a in t.answers()] == ["Int 1", "Int 2", "Int 3"]

                def broken(data: bytes | bytearray | memoryview) -> None:
                    raise ConnectionResetError("gone")

                t.write = broken  # type: ignore[method-assign]
                for chunk in (do(4) + b"\n", do(5) + b"\n" + do(6) + b"\n"):
                    with pytest.raises(ConnectionResetError):
                        conn.data_received(chunk)
                printed.flush()
                assert not printed.answering
            finally:
                await server.close()

    asyncio.run(main())
    states = [s for s in path.read_text().splitlines() if s.startswith("New state:")]
    assert states == [f"New state: Int {i}" for i in range(1, 7)]


@pytest.mark.parametrize("reader", ["_read_input", "_decode"])
def test_a_bug_in_reading_a_line_is_answered_and_the_connection_goes_on(monkeypatch, reader):
    """A bug in either reader, the inputs' short one or the general one, answers that line ``internal``."""
    async def test(server: NodeServer) -> None:
        read = getattr(server, reader)

        def failing(line: bytes | None) -> Any:
            if line is not None and b'"id": 2' in line:
                raise KeyError("a bug")
            return read(line)

        # an unknown field: not a line the short reader takes, so the general one reads it
        second = do(2) if reader == "_read_input" else do(2)[:-1] + b', "note": 2}'
        assert (server._read_input(second) is None) == (reader == "_decode")
        monkeypatch.setattr(server, reader, failing)
        conn, t = connect(server)
        conn.data_received(do(1) + b"\n" + second + b"\n" + do(3) + b"\n")
        a = t.answers()
        assert [(x["id"], x.get("error")) for x in a] == [(1, None), (None, "internal"), (3, None)]
        assert a[2]["state"] == "Int 2" and not t.closing

    run(test)



_FIELD = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**70), st.floats(allow_nan=False),
                   st.sampled_from(["", "c", "x" * 129, "do", "status", "L Unit", "R Unit", "Int 3", "L (",
                                    "L Unit\x00", "\u00e9", "((((((((L Unit))))))))"]),
                   st.lists(st.integers(0, 3), max_size=2))


def test_the_short_reader_gives_what_the_general_one_gives() -> None:
    """`read_input` takes a line only if `decode_request` reads it as an input of the oldest interface, with
    the same fields; and it takes every common input line (and enough of the lines tried)."""
    from cam.protocol import decode_request, read_input

    taken: list[bool] = []

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.sampled_from(["id", "kind", "client", "seq", "input", "interface", "note"]),
                           _FIELD, max_size=6),
           st.sampled_from(["id", "kind", "client", "seq", "input", "", "", ""]), st.booleans(),
           st.sampled_from([b"", b" ", b"\t"]))
    def same(obj: dict[str, Any], key: str, plain: bool, tail: bytes) -> None:
        if plain:  # the common request, with one field perhaps changed
            obj = {"id": 7, "kind": "do", "client": "c1", "seq": 3, "input": "L Unit",
                   **({key: obj.get(key, 7)} if key else {})}
        line = json.dumps(obj).encode() + tail
        got = read_input(line, 512)
        req = decode_request(line, Limits(), False, lambda *a: None)
        event(f"taken: {got is not None}")
        taken.append(got is not None)
        if got is not None:
            assert req.error is None and req.kind == "do" and req.interface is None
            assert got == (req.rid, req.client, req.seq, req.input)
        elif plain and obj["kind"] == "do" and type(obj["id"]) is int and obj["input"] == "L Unit" and (
                type(obj["client"]) is str and 0 < len(obj["client"]) <= 128 and type(obj["seq"]) is int
                and obj["seq"] >= 0):
            raise AssertionError(f"a common input line was not taken: {line!r}")

    same()
    assert len(taken) >= 200 and sum(taken) >= 0.08 * len(taken)


def test_the_common_line_read_without_the_json_scanner_reads_as_json_does(monkeypatch) -> None:
    """`read_input` reads the common line's exact shape with a pattern, not the JSON scanner: on lines of that
    shape with one part changed (spacing, escapes, non-ASCII, control characters, numbers JSON refuses, lengths
    at and over the limits) it gives what the JSON reading gives, and the pattern takes the common lines."""
    from cam import protocol

    def json_only(line: bytes) -> Any:
        with monkeypatch.context() as m:
            m.setattr(protocol, "_COMMON", lambda line: None)
            return protocol.read_input(line, 512)

    # escapes that JSON reads as a plain text ("L\\u0020Unit" is "L Unit") must not be taken as they are written
    changes: dict[str, list[str]] = {
        "id": ["0", "-0", "-7", str(2**70), "03", "1.0", "1e2", "-", "+1", '"7"', "null"],
        "kind": ['"status"', '"Do"', '"d\\u006f"'],
        "client": ['"%s"' % ("x" * 128), '"%s"' % ("x" * 129), '""', '"c\\u0031"', '"a\\\\b"',
                   '"a\\"b"', '"\u00e9"', '"\x7f"', '"\x01"', '"~ !#[]"', "7"],
        "seq": ["0", "-1", "03", "1.0", "1e2", str(2**70), '"3"'],
        "input": ['"L\\u0020Unit"', '"\\u004c Unit"', '"Int 3"', '""', '"L Unit\x01"', '"\u00e9"', '"L ("',
                  '"L%sUnit"' % (" " * 251), '"L%sUnit"' % (" " * 252), '"(((L Unit)))"'],
        "tail": [" ", "\t", "\r", "  \r", "\f", "\x00", "x"],
        "space": ["  ", "\t", "\r", "\n", "\f", "\x0b"],
    }
    spacings = [[""] * 10, [" "] * 10, ["", " "] * 5, [" ", ""] * 5]
    lines = []
    for part, alternatives in [("none", [""]), *changes.items()]:
        for change in alternatives:
            for with_client in (True, False):
                for sp in spacings:
                    value = {"id": "7", "kind": '"do"', "client": '"c1"', "seq": "3", "input": '"L Unit"', "tail": "",
                             "space": ""}
                    if part != "none":
                        value[part] = change
                    sp = list(sp)
                    if part == "space":
                        sp[len(lines) % 10] = change
                    keys = ["id", "kind", *(["client", "seq"] if with_client or part in ("client", "seq") else []),
                            "input"]
                    body = ",".join(sp[2 * i] + f'"{k}":{sp[2 * i + 1]}{value[k]}' for i, k in enumerate(keys))
                    lines.append((part, ("{" + body.lstrip() + "}" + value["tail"]).encode()))
    for part, line in lines:
        taken = protocol._COMMON(line) is not None
        assert taken or part != "none", line
        assert protocol.read_input(line, 512) == json_only(line), line
