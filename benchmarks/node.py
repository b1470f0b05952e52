"""How fast a node serves, against the transport's own limit, and how long an upgrade pauses it.

    python benchmarks/node.py [--requests 20000] [--pauses 20] [--rounds 3] [--quick] [--loop auto]

Measured in one run, against the same counter:

- in process (contenders interleaved over rounds, min/median and ratios
  against the loaded step; measured once the client processes are up): the
  counter's step as the node runs it (`cam.machine.load`, host values,
  counting steps), `cam.machine.execute` on machine values made once (no
  parsing per call), `Node.do` on the same input (type check from its
  cache, step, bookkeeping, answer as machine values), and a request line
  answered as the server answers it (`NodeServer.answer`: read, check,
  step, commit, the answer's line), and the echo server's work on the same
  line (``json.loads``, ``json.dumps``);
- over loopback TCP, three servers each in its own process, with the same
  client processes sending the same request lines (``do`` with a client id
  and a sequence number, as `cam.client.Client` sends them) and reading one
  answer line each (blocking sockets read with ``recv`` until the answer's
  newline, each answer decoded with ``json.loads``: the clients' own cost is
  in every contender's round trip alike): a minimal asyncio JSON-lines echo
  server on streams (reads a line, ``json.loads``, ``json.dumps``, writes: the transport's
  limit in Python, and the baseline), the same on a bare `asyncio.Protocol`,
  and the node (``cam node``'s server, its transcript printed to
  /dev/null); the echo servers run on the node's event loop (``--loop``,
  `cam.loops`: uvloop when installed), and when that is not asyncio's, on
  asyncio's too (printed, not the baseline); with 1 client and with 8 client
  processes, interleaved over rounds (the order rotates), requests/s
  min/median and ratios against the echo server on streams on the node's
  loop, and p50/p99 latency;
- the upgrade pause under load: while 8 client processes send increments,
  upgrades back and forth between the two counters are sent, each with new
  code (the same machine, of a shape no code before it had: `shaped`, so
  every upgrade translates and compiles its code as a new program would);
  the node reports, per upgrade, how long inputs were held (from the
  moment it stops serving them to the next input answered) and the time from
  receiving the upgrade to the first input answered by the new code (its
  code's checks and translation, which run in a worker thread while the old
  code answers, and the pause).  The clients' own view is
  the longest time none of them got an answer while an upgrade ran, against
  the same just before it;
- durability (``--data``): three nodes at once, in memory, ``--durability
  sync`` and ``--durability group``, loaded in turn (the order rotates each
  round) by 1 and by 4 client processes: requests/s (min and median over the
  rounds) and p50/p99 latency, with ratios against the in-memory node of the
  same run;
- the cost of a snapshot (small and large states), and restart time against
  the length of the journal replayed (ratios against an empty journal).

``--durability-only`` runs the last two parts alone; ``--quick`` runs everything small.
The figures of other systems printed at the end are anchors from the
literature and the issue tracker, not measured by this script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import interleave, listening, table  # noqa: E402
from benchmarks import load as machine_load  # noqa: E402
from benchmarks.clients import Clients  # noqa: E402
from cam.client import Client, as_code  # noqa: E402
from cam.code import ADD, BRANCH, CONS, MUL, PUSH, QUOTE, SUB, Code, IntV, L, Pair, UnitV, Value  # noqa: E402
from cam.loops import LOOPS, chosen  # noqa: E402
from cam.machine import execute, load  # noqa: E402
from cam.node import Node  # noqa: E402
from cam.store import Store  # noqa: E402
from cam.text import parse_value  # noqa: E402
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state  # noqa: E402
from catlib.free import Snd  # noqa: E402
from catlib.values import Left  # noqa: E402

V1, V2, MIG, BACK = as_code(counter_sm), as_code(counter_sm2), as_code(upgrade_state), as_code(Snd)
BACK_ANY = as_code(Snd)  # a machine that runs on any pair state: for snapshots of big states

NODE_SCRIPT = """
import asyncio, os, sys
from cam.text import parse_value
from cam.client import as_code
from cam.node import Node
from cam.loops import run
from cam.server import SWITCH_INTERVAL, printer, serve
from cam.store import Store
from catlib.examples.counter import counter_sm
mode, data, loop = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(name="counter_sm", emit=printer(open(os.devnull, "w")))
if mode == "memory":
    node = Node(as_code(counter_sm), parse_value("Int 0"), **kw)
else:
    node = Node.open(Store(data, mode), as_code(counter_sm), parse_value("Int 0"), **kw)
sys.setswitchinterval(SWITCH_INTERVAL)  # as `cam node` does in its process
run(serve(node, "127.0.0.1", 0), loop)
"""

ECHO_SCRIPT = """
import asyncio, json, sys

async def streams(reader, writer):  # the minimal JSON-lines server: read a line, load it, dump it, write it
    while line := await reader.readline():
        writer.write(json.dumps(json.loads(line)).encode() + b"\\n")
        await writer.drain()

class Lines(asyncio.Protocol):  # the same on a bare protocol: no stream objects, no task per connection
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        *lines, self.buffer = (self.buffer + data).split(b"\\n")
        for line in lines:
            self.transport.write(json.dumps(json.loads(line)).encode() + b"\\n")

async def main():
    loop = asyncio.get_running_loop()
    if sys.argv[1] == "streams":
        server = await asyncio.start_server(streams, "127.0.0.1", 0)
    else:
        server = await loop.create_server(Lines, "127.0.0.1", 0)
    print("Listening: 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    print("Waiting for commands...", flush=True)
    await asyncio.Event().wait()

if sys.argv[2] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


def per_call(f: Any, n: int) -> float:
    """Median seconds per call of `f` over 5 batches of `n` calls."""
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            f()
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times)


LOOP = "auto"
"""The event loop of the node and of the echo servers it is compared with (``--loop``, `cam.loops`)."""


def spawn_node(mode: str = "memory", data: str = "") -> subprocess.Popen[str]:
    """A node process (`NODE_SCRIPT`), started (`listening` waits until it listens)."""
    return subprocess.Popen([sys.executable, "-c", NODE_SCRIPT, mode, data, LOOP], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def spawn_echo(kind: str, loop: str) -> subprocess.Popen[str]:
    """The minimal JSON-lines echo server (`kind`: ``streams`` or ``protocol``) on `loop`, in its own process."""
    return subprocess.Popen([sys.executable, "-c", ECHO_SCRIPT, kind, loop], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def start_node(mode: str = "memory", data: str = "") -> tuple[subprocess.Popen[str], int]:
    return listening(spawn_node(mode, data))


def all_listening(procs: dict[str, subprocess.Popen[str]]) -> dict[str, tuple[subprocess.Popen[str], int]]:
    """Processes started together, each once it listens: (process, port) by name (their starts overlap, where
    one after another each waited for the one before to import and listen)."""
    out: dict[str, tuple[subprocess.Popen[str], int]] = {}
    try:
        for name, proc in procs.items():
            out[name] = listening(proc)
    except BaseException:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        raise
    return out


def warm_up(requests: int) -> int:
    """Requests each client sends a server before a measurement: a tenth of a run's, 20 to 200."""
    return min(200, max(20, requests // 10))


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(p / 100 * len(xs)))]


def in_process(n: int, rounds: int) -> None:
    """The counter's step as the node runs it, `execute` on values made once, `Node.do`, and a request line
    answered as the server does it, interleaved."""
    from cam.server import NodeServer

    step = load(V1, 20_000, steps=True)
    x, s, hx = L(UnitV), IntV(5), Left(())
    node = Node(V1, parse_value("Int 0"))
    node.do(x)
    server = NodeServer(Node(V1, parse_value("Int 0")))
    cid = os.urandom(16).hex()
    echo_line = f'{{"id":1,"kind":"do","client":"{cid}","seq":1,"input":"L Unit"}}'.encode()
    lines = iter([f'{{"id":{i},"kind":"do","client":"{cid}","seq":{i},"input":"L Unit"}}'.encode()
                  for i in range(1, n * (2 * max(rounds, 3) + 2) + 1)])

    def answer() -> bytes:
        r = server.answer(next(lines))
        assert type(r) is bytes
        return r

    def batch(f: Any) -> Any:
        def run() -> None:
            for _ in range(n):
                f()
        return run

    times = interleave({
        "loaded step (node's path)": batch(lambda: step(hx, 5)),
        "execute (machine values)": batch(lambda: execute(V1, x, s)),
        "Node.do (check, step, answer)": batch(lambda: node.do(x)),
        "request line (read ... answer's line)": batch(answer),
        "echo's work (json.loads, json.dumps)": batch(lambda: json.dumps(json.loads(echo_line)).encode() + b"\n"),
    }, rounds)
    print(f"in process, counter increment, {rounds} rounds of {n} calls (interleaved)")
    print(table(times, "loaded step (node's path)", work=n, unit="call"))
    print("  Node.do answers machine values (`Applied`: output and state made as cam.code values); the server's\n"
          "  path (NodeServer.answer: read the line, check, step, commit, the answer's line; transcript off,\n"
          "  as for Node.do) answers text")


def served(clients: Clients, requests: int, rounds: int) -> None:
    """Requests/s and latency of the echo servers and the node, 1 and 8 client processes, interleaved."""
    loop = chosen(LOOP)
    streams, protocol = f"echo ({loop} streams)", f"echo ({loop} protocol)"
    procs = {streams: spawn_echo("streams", loop), protocol: spawn_echo("protocol", loop), "node": spawn_node()}
    if loop != "asyncio":  # the plain asyncio figures too, for a reader comparing with other runs
        procs.update({"echo (asyncio streams)": spawn_echo("streams", "asyncio"),
                      "echo (asyncio protocol)": spawn_echo("protocol", "asyncio")})
    servers = all_listening(procs)
    try:
        for n in (1, 8):
            for _, port in servers.values():
                clients.run(port, n, warm_up(requests))
            times: dict[str, list[float]] = {k: [] for k in servers}
            lats: dict[str, list[float]] = {k: [] for k in servers}
            names = list(servers)
            for r in range(rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    wall, lat = clients.run(servers[name][1], n, requests // n)
                    times[name].append(wall)
                    lats[name].extend(lat)
            total = (requests // n) * n
            print(f"\nloopback TCP, {n} client process{'es' if n > 1 else ''}, {rounds} rounds of {total} "
                  f"requests (interleaved), the node on {loop}")
            notes = {k: f"{total / statistics.median(t):>8.0f} req/s   p50 {pct(lats[k], 50) * 1e6:6.0f} us   "
                        f"p99 {pct(lats[k], 99) * 1e6:6.0f} us" for k, t in times.items()}
            print(table(times, streams, work=total, unit="request", notes=notes))
            node = times["node"]
            for echo_name in [k for k in servers if k != "node"]:
                echo = times[echo_name]
                per_round = statistics.median(e / t for e, t in zip(echo, node))
                of_medians = statistics.median(echo) / statistics.median(node)
                print(f"  node's throughput / {echo_name}: {of_medians:.2f} (of the medians), {per_round:.2f} "
                      f"(median of the rounds' ratios), {min(echo) / min(node):.2f} (of the minima); p50 latency "
                      f"node / echo {pct(lats['node'], 50) / pct(lats[echo_name], 50):.2f}")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)


def variants(first: Code, done: int, upgrades: int) -> list[tuple[Code, Code, Code, Code]]:
    """(old, new, migration, down) of `upgrades` upgrades from `first` (a v1 after `done` upgrades if even,
    else a v2) to v2, v1, ...: each new code is the same machine, of the same size, translated to Python source
    that no code before it had (`shaped`), so every upgrade translates and compiles afresh."""
    bits = max(6, (done + upgrades).bit_length())
    out = []
    old = first
    for i in range(done, done + upgrades):
        base, mig, back = (V2, MIG, BACK) if i % 2 == 0 else (V1, BACK, MIG)
        new = shaped(base, i, bits)
        out.append((old, new, mig, back))
        old = new
    return out


def shaped(code: Code, i: int, bits: int) -> Code:
    """`code` with `bits` steps that leave its first sum as it is, ``- 0`` or ``* 1`` by the bits of `i`.

    The translator keeps constants out of the source it compiles (and leaves out an ``+ 0``), so a new
    constant alone gives the same source, whose compiled code `cam.pysource` remembers: a different shape
    per upgrade makes each one pay for its ``compile`` as a new program would.

    >>> from cam.machine import load
    >>> [load(shaped(V1, i, 6))(Left(()), 5) for i in (0, 45)]
    [(6, Left(())), (6, Left(()))]
    """
    noop = [[PUSH, QUOTE(IntV(1)), CONS, MUL], [PUSH, QUOTE(IntV(0)), CONS, SUB]]
    kids: list[Any] = []
    for k, ins in enumerate(code):
        if ins is ADD:
            return Code(kids + [ADD] + [x for b in range(bits) for x in noop[(i >> b) & 1]] + list(code)[k + 1:])
        if ins.label == "BRANCH":
            inner = [shaped(c, i, bits) for c in ins.kids]
            if inner != list(ins.kids):
                return Code(kids + [BRANCH(*inner)] + list(code)[k + 1:])
        kids.append(ins)
    return code


def longest_silence(came: list[float], start: float, end: float) -> float:
    """The longest time between two answers (`came`, sorted) in [`start`, `end`], its ends included."""
    inside = [t for t in came if start <= t <= end]
    points = [start, *inside, end]
    return max(b - a for a, b in zip(points, points[1:]))


def upgrade_pauses(clients: Clients, port: int, upgrades: list[tuple[Code, Code, Code, Code]],
                   down: bool = False) -> None:
    """Under load from 8 client processes: the node's pause per upgrade, its checks, and the clients' view."""
    sending = 0.5 + 0.1 * len(upgrades)  # long enough for every upgrade below, on a loaded machine
    clients.send(port, 8, sending)
    stop = time.monotonic() + sending
    trips, checks, windows = [], [], []
    try:
        with Client("127.0.0.1", port) as c:
            recorded = len(c.status()["upgrade_pauses"])  # (the node keeps its last 100)
            time.sleep(0.2)
            for old, new, mig, back in upgrades:
                t, m = time.perf_counter(), time.monotonic()
                r = c.upgrade(old, new, mig, down=back if down else None)
                trips.append(time.perf_counter() - t)
                windows.append((m, time.monotonic()))
                checks.append(r["check_seconds"])
                time.sleep(0.02)
            # an upgrade's pause is recorded when the new code answers its first input: on a loaded machine the
            # clients' next input may come after the status is asked for, so ask until all are in (or the
            # clients stop sending)
            want = min(100, recorded + len(upgrades))
            while len((st := c.status())["upgrade_pauses"]) < want and time.monotonic() < stop:
                time.sleep(0.005)
            n = len(upgrades) - (want - len(st["upgrade_pauses"]))  # the upgrades' pauses recorded (the last n)
            pauses, latencies = (st[k][len(st[k]) - n:] for k in ("upgrade_pauses", "upgrade_latencies"))
    finally:
        came = clients.wait()
    # the clients' view: the longest time no client got an answer, from sending each upgrade to 2 ms after its
    # answer, against the same in a window as long just before it (no upgrade running)
    during = [longest_silence(came, a, b + 0.002) for a, b in windows]
    before = [longest_silence(came, a - 0.012 - (b - a), a - 0.01) for a, b in windows]
    ms = 1e3
    print(f"\nupgrade under load (8 client processes sending increments), {len(upgrades)} upgrades v1 <-> v2, "
          "each with new code" + (" and a down-migration" if down else ""))
    if len(pauses) < len(upgrades):
        print(f"  (the node's own figures for {len(upgrades) - len(pauses)} of them are missing: no client's input "
              "came after the upgrade before the clients stopped sending; the machine is overloaded)")
    for label, xs in (("inputs held: swap starts -> next input answered (node)", pauses),
                      ("receive -> first input answered by the new code (node)", latencies),
                      ("checks + translation + migration (node)", checks),
                      ("upgrade round trip (client)", trips),
                      ("longest silence of all 8 clients during an upgrade", during),
                      ("the same just before it (no upgrade)", before)):
        print(f"  {label:<56} median {statistics.median(xs) * ms:7.3f} ms   max {max(xs) * ms:7.3f} ms" if xs
              else f"  {label:<56} (none recorded)")


def durability(clients: Clients, requests: int, rounds: int) -> None:
    """Requests/s and latency of nodes with and without ``--data``, interleaved over `rounds`."""
    modes = ["memory", "sync", "group"]
    with tempfile.TemporaryDirectory() as tmp:
        nodes = all_listening({m: spawn_node(m, os.path.join(tmp, m)) for m in modes})
        try:
            for n in (1, 4):
                rates: dict[str, list[float]] = {m: [] for m in modes}
                lats: dict[str, list[float]] = {m: [] for m in modes}
                for m in modes:
                    clients.run(nodes[m][1], 1, warm_up(requests))
                for r in range(rounds):
                    for m in modes[r % 3:] + modes[:r % 3]:  # each contender goes first in turn
                        wall, lat = clients.run(nodes[m][1], n, requests // n)
                        rates[m].append(len(lat) / wall)
                        lats[m].extend(lat)
                base = statistics.median(rates["memory"])
                print(f"\n--data, {n} client process(es), {rounds} rounds of {requests} increments (interleaved)")
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
            state: Value = IntV(5)
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
                Node.open(Store(path, "sync")).store.close()

            t = median_time(restart, 3)
            base = base or t
            print(f"  journal of {n:>6} events   {t * 1e3:9.1f} ms   x{t / base:7.1f}   "
                  f"({(t - base) / max(n, 1) * 1e6:.1f} us per event)")


ANCHORS = """anchors from elsewhere (literature and the project's issue tracker; NOT measured by this script):
  Erlang/OTP gen_server:call within one VM                          ~1.1-1.8 us per call
  Erlang/OTP sys:suspend / code:load_file / sys:change_code / resume ~1.4-2 ms under load (the seed's counter)"""


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000, help="requests per load test (default 20000)")
    ap.add_argument("--pauses", type=int, default=20, help="upgrades under load (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each interleaved comparison (default 3)")
    ap.add_argument("--durability-only", action="store_true", help="only the --data comparison, snapshots, restarts")
    ap.add_argument("--small", action="store_true", help="snapshots and journals a tenth of the size (quick runs)")
    ap.add_argument("--quick", action="store_true", help="everything small: --requests 2000 --pauses 6 --small")
    ap.add_argument("--loop", choices=LOOPS, default="auto", help="the node's event loop, and its echo servers' "
                                                                  "(default auto: uvloop when installed)")
    a = ap.parse_args(argv)
    global LOOP
    LOOP = chosen(a.loop)
    if a.quick:
        a.requests, a.pauses, a.small = min(a.requests, 2000), min(a.pauses, 6), True
    print(f"benchmarks/node.py ({machine_load()}; the node on {LOOP})")
    clients = Clients(8)
    try:
        if not a.durability_only:
            in_process(2000, max(a.rounds, 3))
            served(clients, a.requests, a.rounds)
            proc, port = start_node()
            try:
                plan = variants(V1, 0, 2 * a.pauses)
                for down in (False, True):
                    upgrade_pauses(clients, port, plan[a.pauses * down:a.pauses * (down + 1)], down)
            finally:
                proc.terminate()
                proc.wait(10)
            print()
            print(ANCHORS)
        durability(clients, a.requests // 4, a.rounds)
    finally:
        clients.close()
    snapshots_and_restarts(a.small)


if __name__ == "__main__":
    main()
