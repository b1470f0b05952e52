"""How fast a node serves, and how long an upgrade pauses it.

    python benchmarks/node.py [--requests 20000] [--pauses 20]

Measured in one run, against the same counter:

- baseline: one machine step in process (`cam.machine.execute`), and one
  `Node.do` in process (the same step plus the input's type check);
- a node in its own process (``cam node``'s server, its terminal lines sent
  to /dev/null), over loopback TCP: requests per second and p50/p99
  latency with 1 client and with 8 concurrent clients (8 processes, one
  connection each; the machine's cores are shared by node and clients);
- the upgrade pause under load: while 8 clients send increments, an
  upgrade v1 -> v2 (then back, v2 -> v1 with ``Snd``) is sent; the node
  reports, per upgrade, the time from receiving it to having served the next
  input, and how long its checks took;
- durability (``--data``): three nodes at once, in memory, ``--durability
  sync`` and ``--durability group``, loaded in turn (the order rotates each
  round) by 1 and by 4 client processes: requests/s (min and median over the
  rounds) and p50/p99 latency, with ratios against the in-memory node of the
  same run;
- the cost of a snapshot (small and large states), and restart time against
  the length of the journal replayed (ratios against an empty journal).

``--durability-only`` runs the last two parts alone.

For comparison (the seed's Erlang): ``sys:suspend / code:load_file /
sys:change_code / sys:resume`` of the same counter takes about 1.4-2 ms and a
``gen_server:call`` about 1.8 us.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cam.client import Client, as_code  # noqa: E402
from cam.code import IntV, L, Pair, R, UnitV  # noqa: E402
from cam.machine import execute  # noqa: E402
from cam.node import Node  # noqa: E402
from cam.store import Store  # noqa: E402
from cam.text import parse_value  # noqa: E402
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state  # noqa: E402
from catlib.free import Snd  # noqa: E402

V1, V2, MIG, BACK = as_code(counter_sm), as_code(counter_sm2), as_code(upgrade_state), as_code(Snd)
BACK_ANY = as_code(Snd)  # a machine that runs on any pair state: for snapshots of big states

NODE_SCRIPT = """
import asyncio, os, sys
from cam.text import parse_value
from cam.client import as_code
from cam.node import Node
from cam.server import printer, serve
from cam.store import Store
from catlib.examples.counter import counter_sm
mode, data = sys.argv[1], sys.argv[2]
kw = dict(name="counter_sm", emit=printer(open(os.devnull, "w")))
if mode == "memory":
    node = Node(as_code(counter_sm), parse_value("Int 0"), **kw)
else:
    node = Node.open(Store(data, mode), as_code(counter_sm), parse_value("Int 0"), **kw)
asyncio.run(serve(node, "127.0.0.1", 0))
"""


def per_call(f, n: int) -> float:
    """Median seconds per call of `f` over 5 batches of `n` calls."""
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            f()
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times)


def start_node(mode: str = "memory", data: str = "") -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", NODE_SCRIPT, mode, data], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Listening:"):
            port = int(line.split()[1].rsplit(":", 1)[1])
        if line.startswith("Waiting"):
            return proc, port
    raise RuntimeError("the node did not start")


def _client_process(port: int, n: int, start: float) -> tuple[float, float, list[float]]:
    """One client: connect, wait for the common start time, send `n` increments; (t0, t1, latencies)."""
    lat = []
    with Client("127.0.0.1", port) as c:
        c.do(R(UnitV))
        while time.time() < start:
            time.sleep(0.001)
        t0 = time.time()
        for _ in range(n):
            t = time.perf_counter()
            c.do(L(UnitV))
            lat.append(time.perf_counter() - t)
        return t0, time.time(), lat


def load(port: int, clients: int, per_client: int) -> tuple[float, list[float]]:
    """(requests per second, latencies) of `clients` client processes each sending `per_client` increments.

    Clients are processes, not threads, so that their own Python work does not share one interpreter lock.
    """
    if clients == 1:
        t0, t1, lat = _client_process(port, per_client, 0.0)
        return per_client / (t1 - t0), lat
    start = time.time() + 0.5
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.starmap(_client_process, [(port, per_client, start)] * clients)
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    flat = [x for r in results for x in r[2]]
    return len(flat) / wall, flat


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(p / 100 * len(xs)))]


def upgrade_pauses(port: int, upgrades: int, down: bool = False) -> tuple[list[float], list[float], list[float]]:
    """Under load from 8 clients: (node-side pauses, node-side check times, client round trips) per upgrade.

    With `down`, each upgrade carries its down-migration (checked, typed and run once more at the upgrade).
    """
    stop = threading.Event()

    def hammer() -> None:
        with Client("127.0.0.1", port) as c:
            while not stop.is_set():
                c.do(L(UnitV))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    trips, checks = [], []
    with Client("127.0.0.1", port) as c:
        time.sleep(0.2)
        for i in range(upgrades):
            old, new, mig, back = (V1, V2, MIG, BACK) if i % 2 == 0 else (V2, V1, BACK, MIG)
            t = time.perf_counter()
            r = c.upgrade(old, new, mig, down=back if down else None)
            trips.append(time.perf_counter() - t)
            checks.append(r["check_seconds"])
            time.sleep(0.02)
        stop.set()
        for t in threads:
            t.join()
        pauses = c.status()["upgrade_pauses"]
    return pauses[-upgrades:], checks, trips


def durability(requests: int, rounds: int) -> None:
    """Requests/s and latency of nodes with and without ``--data``, interleaved over `rounds`."""
    modes = ["memory", "sync", "group"]
    with tempfile.TemporaryDirectory() as tmp:
        nodes = {m: start_node(m, os.path.join(tmp, m)) for m in modes}
        try:
            for clients in (1, 4):
                rates: dict[str, list[float]] = {m: [] for m in modes}
                lats: dict[str, list[float]] = {m: [] for m in modes}
                for m in modes:
                    load(nodes[m][1], 1, 200)  # warm up
                for r in range(rounds):
                    for m in modes[r % 3:] + modes[:r % 3]:  # each contender goes first in turn
                        rate, lat = load(nodes[m][1], clients, requests // clients)
                        rates[m].append(rate)
                        lats[m].extend(lat)
                base = statistics.median(rates["memory"])
                print(f"\n--data, {clients} client(s), {rounds} rounds of {requests} increments (interleaved)")
                print(f"  {'node':>8} {'min req/s':>10} {'median':>9} {'x memory':>9} {'p50 us':>9} {'p99 us':>9}")
                for m in modes:
                    med = statistics.median(rates[m])
                    print(f"  {m:>8} {min(rates[m]):>10.0f} {med:>9.0f} {med / base:>9.2f} "
                          f"{pct(lats[m], 50) * 1e6:>9.1f} {pct(lats[m], 99) * 1e6:>9.1f}")
        finally:
            for proc, _ in nodes.values():
                proc.terminate()
                proc.wait(10)


def snapshots_and_restarts(small: bool = False) -> None:
    """The cost of one snapshot, and of a restart against the journal's length (`small`: a tenth of the sizes)."""
    from benchmarks import median_time

    states = (("Int", 0), ("1,000 pairs", 1_000), ("10,000 pairs", 10_000) if small else ("100,000 pairs", 100_000))
    journals = (0, 1_000, 5_000) if small else (0, 1_000, 10_000, 50_000)
    with tempfile.TemporaryDirectory() as tmp:
        print("\nsnapshot (image to JSON, one SQLite transaction, journal truncated), median of 20")
        base = None
        for label, n in states:
            state = IntV(5)
            for _ in range(n):
                state = Pair(IntV(1), state)
            node = Node.open(Store(os.path.join(tmp, label), "sync"), V1 if n == 0 else BACK_ANY, state)
            assert node.store is not None
            t = median_time(lambda: node.store.snapshot(node.image()), 20)  # noqa: B023
            base = base or t
            print(f"  state {label:<20} {t * 1e3:8.2f} ms   x{t / base:6.1f}")
            node.store.close()
        print("\nrestart (open, load the snapshot, replay the journal), median of 3")
        base = None
        for n in journals:
            path = os.path.join(tmp, f"j{n}")
            node = Node.open(Store(path, "group", snapshot_every=10**9), V1, parse_value("Int 0"))
            for _ in range(n):
                node.do(L(UnitV))
            assert node.store is not None
            node.store.close()

            def restart(path: str = path) -> None:
                Node.open(Store(path, "sync")).store.close()  # type: ignore[union-attr]

            t = median_time(restart, 3)
            base = base or t
            print(f"  journal of {n:>6} events   {t * 1e3:9.1f} ms   x{t / base:7.1f}   "
                  f"({(t - base) / max(n, 1) * 1e6:.1f} us per event)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000, help="increments per load test (default 20000)")
    ap.add_argument("--pauses", type=int, default=20, help="upgrades under load (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the durability comparison (default 3)")
    ap.add_argument("--durability-only", action="store_true", help="only the --data comparison, snapshots, restarts")
    ap.add_argument("--small", action="store_true", help="snapshots and journals a tenth of the size (quick runs)")
    a = ap.parse_args()
    if a.durability_only:
        durability(a.requests // 4, a.rounds)
        snapshots_and_restarts(a.small)
        return

    us = 1e6
    step = per_call(lambda: execute(V1, L(UnitV), parse_value("Int 5")), 2000)
    node = Node(V1, parse_value("Int 0"))
    do = per_call(lambda: node.do(R(UnitV)), 2000)
    print("baseline, in process (median of 5 batches)")
    print(f"  machine step (execute, counter incr)   {step * us:8.1f} us")
    print(f"  Node.do (type check + step)            {do * us:8.1f} us   x{do / step:.2f} the step")

    proc, port = start_node()
    try:
        print("\nnode in its own process, loopback TCP, newline-delimited JSON")
        print(f"  {'clients':>7} {'req/s':>9} {'p50 us':>9} {'p99 us':>9} {'p50 / step':>11}")
        for clients in (1, 8):
            load(port, 1, 200)  # warm up
            rate, lat = load(port, clients, a.requests // clients)
            p50, p99 = pct(lat, 50), pct(lat, 99)
            print(f"  {clients:>7} {rate:>9.0f} {p50 * us:>9.1f} {p99 * us:>9.1f} {p50 / step:>10.1f}x")
        ms = 1e3
        for down in (False, True):
            pauses, checks, trips = upgrade_pauses(port, a.pauses, down)
            print(f"\nupgrade under load (8 clients sending increments), {len(pauses)} upgrades v1 <-> v2"
                  + (", each with a down-migration" if down else ""))
            print(f"  receive -> next input served (node)    median {statistics.median(pauses) * ms:7.3f} ms   "
                  f"max {max(pauses) * ms:7.3f} ms")
            print(f"  checks + migration (node)              median {statistics.median(checks) * ms:7.3f} ms   "
                  f"max {max(checks) * ms:7.3f} ms")
            print(f"  upgrade round trip (client)            median {statistics.median(trips) * ms:7.3f} ms   "
                  f"max {max(trips) * ms:7.3f} ms")
        print("\nErlang/OTP for comparison: suspend/load/change_code/resume ~1.4-2 ms; gen_server:call ~1.8 us")
    finally:
        proc.terminate()
        proc.wait(10)
    durability(a.requests // 4, a.rounds)
    snapshots_and_restarts(a.small)


if __name__ == "__main__":
    main()
