"""A client process of benchmarks/node.py: sends request lines to a server and times their answers.

    python benchmarks/clients.py FD

`FD` is this process's end of a socket pair, spoken to as a `multiprocessing.connection.Connection`: the
benchmark sends jobs ``(port, n, seconds)``; the client connects, says ``connected``, waits for the start time
(`time.monotonic`, the same clock for every process of the machine) that the benchmark sends once every client
of the job is connected, and sends back what `requests` returns.  This module imports only
the standard library, so that a client process costs little to start (the benchmark starts 8 and measures every
server, the echo servers and the node alike, with the same ones).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path


def requests(port: int, n: int, seconds: float, conn: Connection) -> tuple[float, float, list[float], list[float]]:
    """Connect, say ``connected`` on `conn`, wait for the start time it answers (monotonic), send `n` increments
    (or send for `seconds` from the start); (t0, t1, latencies, when each answer came (monotonic, only when sending
    for `seconds`)).

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
        conn.send("connected")
        start = conn.recv()
        until = start + seconds if seconds else 0.0
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
    """Say ``ready``, then answer each job ``(port, n, seconds)`` from `conn` with `requests`' result, until
    ``None``."""
    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(requests(*job, conn))


class Clients:
    """Client processes kept for the whole run (started once), each sending requests on its own connection.

    Each is ``python benchmarks/clients.py FD`` (`serve`): a process of its own that imports only the standard
    library (multiprocessing's "spawn" imported this script, and with it the package, in each of the 8: ~0.4 s of CPU
    apiece, 3.4 s of a quick run's 8), taking jobs over a `Connection` on a socket pair.  Every contender is
    measured with these same processes and the same request loop (`requests`).
    """

    def __init__(self, n: int) -> None:
        self.pipes: list[Connection] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        script = Path(__file__).resolve()
        for _ in range(n):
            here, there = socket.socketpair()
            p = subprocess.Popen([sys.executable, str(script), str(there.fileno())], pass_fds=[there.fileno()],
                                 cwd=script.parents[1])
            there.close()
            self.pipes.append(Connection(here.detach()))
            self.procs.append(p)
        for c in self.pipes:  # started and imported: measuring in this process meanwhile would share its CPU
            c.recv()

    def run(self, port: int, clients: int, per_client: int) -> tuple[float, list[float]]:
        """(wall seconds, latencies) of `clients` processes each sending `per_client` requests."""
        self._start(port, clients, per_client, 0.0)
        results = [c.recv() for c in self.pipes[:clients]]
        return max(r[1] for r in results) - min(r[0] for r in results), [x for r in results for x in r[2]]

    def send(self, port: int, clients: int, seconds: float) -> None:
        """Start `clients` processes sending requests for `seconds` (collect with `wait`)."""
        self._start(port, clients, 0, seconds)
        self._busy = clients

    def _start(self, port: int, clients: int, per_client: int, seconds: float) -> None:
        """Give `clients` processes a job, and once every one is connected (and has had its first answer), the
        same start time, a moment ahead: they start together without a fixed wait (a start 0.2 s ahead, as
        before, was ~6 s of a quick run's ~15 s spent sleeping)."""
        for c in self.pipes[:clients]:
            c.send((port, per_client, seconds))
        for c in self.pipes[:clients]:
            if c.recv() != "connected":
                raise RuntimeError("a client process did not connect")
        start = time.monotonic() + 0.002
        for c in self.pipes[:clients]:
            c.send(start)

    def wait(self) -> list[float]:
        """When each answer came (`time.monotonic`), every client's, sorted."""
        return sorted(t for c in self.pipes[:self._busy] for t in c.recv()[3])

    def close(self) -> None:
        for c in self.pipes:
            c.send(None)
        for p in self.procs:
            p.wait(5)


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
