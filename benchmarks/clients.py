"""A client process of benchmarks/node.py: sends request lines to a server and times their answers.

    python benchmarks/clients.py FD

`FD` is this process's end of a socket pair, spoken to as a `multiprocessing.connection.Connection`: the
benchmark sends jobs ``(port, n, start, until)`` and gets back what `requests` returns.  This module imports only
the standard library, so that a client process costs little to start (the benchmark starts 8 and measures every
server, the echo servers and the node alike, with the same ones).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from multiprocessing.connection import Connection


def requests(port: int, n: int, start: float, until: float = 0.0) -> tuple[float, float, list[float], list[float]]:
    """Connect, wait for `start` (monotonic), send `n` increments (or send until `until`);
    (t0, t1, latencies, when each answer came (monotonic, only when sending until `until`)).

    Every request is a fresh line with the client's id and next sequence number, as `cam.client.Client`
    sends it, and every answer is read whole and decoded (``json.loads``; a second line in one answer would
    fail it).  Answers are read with ``socket.recv``, not a buffered file's ``readline``: the client waits for
    each answer, so nothing follows it, and the file's Python-level layers added some microseconds to every
    contender's round trip alike (measured: see docs/node.md).
    """
    cid = os.urandom(16).hex()
    lat: list[float] = []
    came: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        clock, send, recv = time.perf_counter, sock.sendall, sock.recv

        def answer_line() -> bytes:
            # one request waits for its one answer, so what comes ends at that answer's newline: read until it
            # (a bare recv, not a buffered file's readline: its Python-level layers cost every contender alike)
            data = recv(65536)
            while not data.endswith(b"\n"):
                more = recv(65536)
                if not more:
                    raise RuntimeError(f"the server closed the connection after {data[:200]!r}")
                data += more
            return data

        send(b'{"id":0,"kind":"do","input":"R Unit"}\n')
        answer_line()
        while time.monotonic() < start:
            time.sleep(0.0005)
        t0 = time.monotonic()
        i = 0
        while i < n or time.monotonic() < until:
            i += 1
            t = clock()
            send(f'{{"id":{i},"kind":"do","client":"{cid}","seq":{i},"input":"L Unit"}}\n'.encode())
            answer = json.loads(answer_line())
            lat.append(clock() - t)
            if until:
                came.append(time.monotonic())
            if answer.get("id") != i or answer.get("ok") is False:
                raise RuntimeError(f"unexpected answer {answer}")
        return t0, time.monotonic(), lat, came


def serve(conn: Connection) -> None:
    """Say ``ready``, then answer each job ``(port, n, start, until)`` from `conn` with `requests`' result,
    until ``None``."""
    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(requests(*job))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
