"""Crash test: kill a node with SIGKILL at random moments under load, restart it, check nothing was lost or doubled.

    python -m benchmarks.crash [--kills 300] [--clients 4] [--seed 1] [--snapshot-every 40]

A node (``cam node --data DIR``, the counter, durability ``sync`` or
``group`` chosen at random at each restart) serves `clients` threads that each
send increments through `cam.client.Client` (retrying on timeouts and broken
connections with the same client id and sequence number, across restarts),
and one thread that upgrades v1 -> v2 -> v1 ... (migrations that keep the
count: ``n -> (n, n)`` and ``(a, b) -> b``).  The main thread kills the node
with SIGKILL after a random delay, restarts it with ``--data DIR`` alone, and
repeats.  Every request is retried until it is acknowledged, so at the end:

- the acknowledged counts are exactly 1..N, each once (an increment applied
  twice would skip a count; an acknowledged one lost would repeat one), and
  each client saw its counts increase;
- the node's final count is N, the number of increments sent, and its
  generation is one more than the number of acknowledged upgrades;
- no upgrade was refused as ``wrong_version`` (a lost or doubled upgrade
  would be).

This is a linearizability check for a counter: each increment's answer is
its position in the one order the node applied them in.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cam.client import Client, NodeError, as_code  # noqa: E402
from cam.text import parse_value  # noqa: E402
from catlib.examples.counter import counter_sm, counter_sm2  # noqa: E402
from catlib.free import Copy, Snd  # noqa: E402

V1, V2, UP, DOWN = as_code(counter_sm), as_code(counter_sm2), as_code(Copy), as_code(Snd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProcess:
    """``cam node`` in a subprocess on a fixed port, restartable."""

    def __init__(self, data: str | None, port: int, rng: random.Random, snapshot_every: int) -> None:
        self.data, self.port, self.rng, self.snapshot_every = data, port, rng, snapshot_every
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start_seconds: list[float] = []

    def start(self) -> None:
        args = [sys.executable, "-m", "cam", "node", "--port", str(self.port)]
        if self.data is not None:
            args += ["--data", self.data, "--durability", self.rng.choice(["sync", "group"]),
                     "--snapshot-every", str(self.snapshot_every)]
        if self.starts == 0 or self.data is None:
            args += ["--machine", "catlib.examples.counter:counter_sm", "--state", "0"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(b"Waiting for commands"):
                break
        else:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"the node did not start: {err}")
        self.start_seconds.append(time.perf_counter() - t0)
        self.starts += 1
        # Nobody reads the transcript from now on: the node must not block on it.
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()

    @staticmethod
    def _drain(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def run(kills: int = 300, clients: int = 4, seed: int = 1, snapshot_every: int = 40, min_gap: float = 0.02,
        max_gap: float = 0.4, verbose: bool = True, journal: bool = True) -> dict[str, Any]:
    """Run the campaign; return its figures.  Raises `AssertionError` on any violation.

    ``journal=False`` runs the node without ``--data`` (the harness's self-check: it must fail).
    """
    rng = random.Random(seed)
    data = tempfile.mkdtemp(prefix="cam-crash-")
    port = free_port()
    node = NodeProcess(os.path.join(data, "node") if journal else None, port, rng, snapshot_every)
    node.start()
    stop = threading.Event()
    acked: list[list[int]] = [[] for _ in range(clients)]
    upgrades_acked = [0]
    failures: list[str] = []
    retried = [0]

    def incrementer(k: int) -> None:
        with Client("127.0.0.1", port, timeout=2.0, retries=1000) as c:
            while not stop.is_set():
                try:
                    r = c.do("L Unit")
                except (NodeError, OSError) as e:
                    failures.append(f"client {k}: {type(e).__name__}: {e}")
                    return
                out = r.state
                acked[k].append(out.kids[1].n if len(out.kids) == 2 else out.n)  # type: ignore[attr-defined]
            retried[0] += c.retried

    def upgrader() -> None:
        running_v1 = True
        with Client("127.0.0.1", port, timeout=2.0, retries=1000) as c:
            while not stop.is_set():
                time.sleep(rng.uniform(0.01, 0.1))
                try:
                    if running_v1:
                        c.upgrade(V1, V2, UP)
                    else:
                        c.upgrade(V2, V1, DOWN)
                except NodeError as e:
                    failures.append(f"upgrade: {e}")
                    return
                except OSError as e:
                    failures.append(f"upgrade: {type(e).__name__}: {e}")
                    return
                running_v1 = not running_v1
                upgrades_acked[0] += 1
            retried[0] += c.retried

    threads = [threading.Thread(target=incrementer, args=(k,), daemon=True) for k in range(clients)]
    threads.append(threading.Thread(target=upgrader, daemon=True))
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    try:
        for i in range(kills):
            time.sleep(rng.uniform(min_gap, max_gap))
            node.kill()
            node.start()  # before stopping on a failure too: clients retry until a node answers, up to 1000 times
            if failures:
                break
            if verbose and (i + 1) % 25 == 0:
                n = sum(map(len, acked))
                print(f"  {i + 1} kills, {n} increments and {upgrades_acked[0]} upgrades acknowledged", flush=True)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    try:
        assert not failures, failures[:5]
        with Client("127.0.0.1", port, timeout=10) as c:
            st = c.status()
        node.kill()
        counts = sorted(x for a in acked for x in a)
        n = len(counts)
        assert counts == list(range(1, n + 1)), _first_violation(counts)
        for k, a in enumerate(acked):
            assert a == sorted(a), f"client {k} saw its counts go down"
        state = parse_value(st["state"])
        final = state.kids[1].n if len(state.kids) == 2 else state.n  # type: ignore[attr-defined]
        assert final == n, f"the node counts {final}, the clients had {n} increments acknowledged"
        assert st["generation"] == 1 + upgrades_acked[0], (st["generation"], upgrades_acked[0])
    finally:
        node.kill()
        shutil.rmtree(data, ignore_errors=True)
    starts = sorted(node.start_seconds)
    return {"kills": node.starts - 1, "increments": n, "upgrades": upgrades_acked[0], "retries": retried[0],
            "seconds": time.perf_counter() - t0, "restart_median": starts[len(starts) // 2],
            "restart_max": starts[-1]}


def _first_violation(counts: list[int]) -> str:
    for i, c in enumerate(counts, 1):
        if c != i:
            return f"the acknowledged counts are not 1..N: count {i} is {'missing' if c > i else 'repeated'}"
    return "?"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=300)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--snapshot-every", type=int, default=40)
    a = p.parse_args()
    r = run(a.kills, a.clients, a.seed, a.snapshot_every)
    print(f"OK: {r['kills']} SIGKILLs in {r['seconds']:.0f} s; {r['increments']} increments and {r['upgrades']} "
          f"upgrades acknowledged, each applied exactly once ({r['retries']} requests sent again); "
          f"restart to serving: median {r['restart_median']:.2f} s, max {r['restart_max']:.2f} s")


if __name__ == "__main__":
    main()
