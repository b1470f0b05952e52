"""The upgrade pause with adapters, and the time of a release across three nodes on loopback.

    python -m benchmarks.release [--rounds 15] [--quick]

Nodes run in their own processes (``cam node``, terminal to /dev/null), the
counter at version 1.  Measured in one run, contenders interleaved
(`benchmarks.interleave`), min and median over the rounds, ratios against a
baseline of the same run:

- the upgrade pause: while one client process sends increments, the node
  reports the time inputs waited for the upgrade, from the moment it stopped
  serving them to swap (its code was checked before, while they went on) to
  having served the next input (``status``'s ``upgrade_pauses``).  Contenders: v1 -> v2 keeping the
  interface (baseline); v1 -> counter3, which answers a count with its whole
  state, with the output adapter that keeps version 1's clients counting;
  and the commit of a prepared v1 -> v2 (its pause; the prepare came
  before).  Each is rolled back (down-migration) after it is measured;
- a release on three nodes: the same upgrade on each node one after the
  other with plain ``upgrade`` requests (baseline), `cam.release.apply` (two
  phases: prepare everywhere, concurrently, then commit in turn),
  `cam.release.check` (prepare and abort), and `cam.release.rolling` with no
  pause (upgrade on probation, status, make_permanent, node after node).
  Each forward release is followed by the release back (v2 -> v1), timed
  with it: the figures are for the pair.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import interleave, listening, load, table  # noqa: E402
from cam import release  # noqa: E402
from cam.client import Client, as_code  # noqa: E402
from catlib.examples.counter import COUNTER, COUNTER2, DOWNGRADE, MIGRATION, incr2  # noqa: E402
from catlib.syntax import dot, inl, inr, kase, pget, psnd, sm  # noqa: E402

V1, V2, MIG, DOWN = (as_code(x) for x in (COUNTER, COUNTER2, MIGRATION, DOWNGRADE))
V3 = as_code(sm(kase(dot(inl, incr2), dot(inr, pget))))   # answers a count with (parked, n)
TO_V1 = as_code(sm(kase(inl, dot(inr, psnd))))            # ... and version 1's clients get n

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
RELEASE = """
hold = 30
timeout = 30
pause = 0
[upgrades.up]
old = "catlib.examples.counter:COUNTER"
new = "catlib.examples.counter:COUNTER2"
migration = "catlib.examples.counter:MIGRATION"
down = "catlib.examples.counter:DOWNGRADE"
[upgrades.back]
old = "catlib.examples.counter:COUNTER2"
new = "catlib.examples.counter:COUNTER"
migration = "catlib.examples.counter:DOWNGRADE"
down = "catlib.examples.counter:MIGRATION"
"""


def start_node() -> tuple[subprocess.Popen[str], int]:
    """``cam node`` running the counter on a free port, its terminal to /dev/null; (process, port)."""
    proc = subprocess.Popen([sys.executable, "-m", "cam", "node", "--machine", "catlib.examples.counter:COUNTER",
                             "--port", "0"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=ENV)
    return listening(proc, drain=True)


def pauses(port: int, rounds: int) -> dict[str, list[float]]:
    """Node-side pause (inputs stopped for the swap -> next input served) per contender and round."""
    got: dict[str, list[float]] = {}
    c = Client("127.0.0.1", port)
    tokens = iter(range(10**9))

    def after(upgrade: Any) -> float:
        before = len(c.status()["upgrade_pauses"])
        upgrade()
        while len(p := c.status()["upgrade_pauses"]) == before:  # the loader serves the next input
            time.sleep(0.001)
        c.rollback()
        return float(p[-1])

    def commit() -> None:
        token = f"bench-{next(tokens)}"
        c.prepare(token, V1, V2, MIG, down=DOWN)
        c.commit(token)
    contenders = {
        "same interface": lambda: after(lambda: c.upgrade(V1, V2, MIG, down=DOWN)),
        "output adapter": lambda: after(lambda: c.upgrade(V1, V3, MIG, down=DOWN, output_adapter=TO_V1)),
        "prepared commit": lambda: after(commit),
    }
    stop = threading.Event()
    loader = subprocess_loader(port, stop)
    try:
        interleave(contenders, rounds, check=lambda name, r: got.setdefault(name, []).append(r))
    finally:
        stop.set()
        loader.join(10)
        c.close()
    return got


def subprocess_loader(port: int, stop: threading.Event) -> threading.Thread:
    """A client process sending increments (its Python work does not share this process's lock) until `stop`."""
    code = ("import sys\nfrom cam.client import Client\nc = Client('127.0.0.1', int(sys.argv[1]))\n"
            "while True:\n    c.do('L Unit')\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait() -> None:
        stop.wait()
        proc.kill()
        proc.wait(10)
    t = threading.Thread(target=wait, daemon=True)
    t.start()
    return t


def releases(ports: list[int], rounds: int, tmp: str) -> dict[str, list[float]]:
    """Seconds of a release there and back on three nodes, per contender and round."""
    nodes = "".join(f'[nodes."127.0.0.1:{p}"]\nupgrade = "{{u}}"\n' for p in ports)
    paths = {}
    for u in ("up", "back"):
        path = Path(tmp) / f"{u}.toml"
        path.write_text(RELEASE + nodes.replace("{u}", u))
        paths[u] = release.load(str(path))
    clients = [Client("127.0.0.1", p) for p in ports]

    def sequential() -> None:
        for c in clients:
            c.upgrade(V1, V2, MIG, down=DOWN)
        for c in clients:
            c.upgrade(V2, V1, DOWN, down=MIG)

    def ok(r: release.Report) -> None:
        assert r.ok, r.text()
    contenders = {
        "one by one (upgrade)": sequential,
        "two-phase (apply)": lambda: [ok(release.apply(paths[u])) for u in ("up", "back")],
        "check only": lambda: [ok(release.check(paths["up"])) for _ in range(2)],
        "rolling (no pause)": lambda: [ok(release.rolling(paths[u], pause=0)) for u in ("up", "back")],
    }
    try:
        return interleave(contenders, rounds)
    finally:
        for c in clients:
            c.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.release", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--quick", action="store_true", help="5 rounds")
    a = p.parse_args(argv)
    rounds = 5 if a.quick else a.rounds
    print(load())
    procs = [start_node() for _ in range(3)]
    try:
        got = pauses(procs[0][1], rounds)
        print(f"\nupgrade pause under load (1 client process sending increments), {rounds} rounds; "
              "inputs stopped for the swap -> next input served, node side")
        print(table(got, "same interface"))
        print(f"  (medians in ms: {', '.join(f'{k} {statistics.median(v) * 1e3:.2f}' for k, v in got.items())})")
        with tempfile.TemporaryDirectory() as tmp:
            times = releases([port for _, port in procs], rounds, tmp)
        print(f"\nrelease v1 -> v2 -> v1 on three nodes on loopback, {rounds} rounds (a pair of releases each)")
        print(table(times, "one by one (upgrade)"))
    finally:
        for proc, _ in procs:
            proc.kill()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
