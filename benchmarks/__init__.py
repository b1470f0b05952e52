"""Benchmarks: contenders timed in turn over rounds, with ratios against a baseline from the same run.

Every benchmark here measures its contenders with `interleave`: round after
round, each contender runs once, in an order that rotates from round to
round, so that a change of load on a shared machine (other processes, CPU
frequency) falls on all contenders alike instead of on whichever ran last.
`table` prints, per contender, the minimum and the median over the rounds
and its ratio to the baseline: the median of the per-round ratios (each
taken between runs a few moments apart), next to the ratio of the minima.

>>> import time
>>> times = interleave({"base": lambda: None, "slow": lambda: time.sleep(0.002)}, rounds=3)
>>> [len(ts) for ts in times.values()]
[3, 3]
>>> print(table(times, "base", work=10, unit="call"))  # doctest: +ELLIPSIS
contender ... per call    ratio  ratio of min   (ratios against base)
base ... 1.00 ...
slow ...
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["interleave", "table", "ratios", "load", "median_time"]


def interleave(contenders: Mapping[str, Callable[[], Any]], rounds: int,
               clock: Callable[[], float] = time.perf_counter, check: Callable[[str, Any], None] | None = None,
               warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of each contender in each of `rounds` rounds, the contenders taking turns.

    Round ``r`` starts with contender ``r mod k`` (of `k`), so each runs
    first, in the middle and last equally often.  `check(name, result)`
    sees every result (to make sure the contenders do the same work);
    each contender first runs `warmup` times, untimed.
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            result = contenders[name]()
            if check is not None:
                check(name, result)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = contenders[name]
            t0 = clock()
            result = fn()
            times[name].append(clock() - t0)
            if check is not None:
                check(name, result)
    return times


def ratios(times: Mapping[str, list[float]], baseline: str, work: Mapping[str, int] | None = None) -> dict[str, float]:
    """Each contender's median over rounds of its time over the baseline's in the same round (per unit of `work`)."""
    base = times[baseline]
    w = work or {}
    return {name: statistics.median((t / w.get(name, 1)) / (b / w.get(baseline, 1)) for t, b in zip(ts, base))
            for name, ts in times.items()}


def _seconds(t: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def table(times: Mapping[str, list[float]], baseline: str, work: int | Mapping[str, int] | None = None,
          unit: str = "item", notes: Mapping[str, str] | None = None) -> str:
    """Min and median per contender (and per `unit` of `work`), with ratios to `baseline`.

    ``ratio``: the median over rounds of the contender's time over the
    baseline's in the same round; ``ratio of min``: min over min.  When
    `work` maps contenders to different amounts of work, times and ratios
    are per unit.  `notes` adds text after a contender's row.
    """
    each_work = {name: work for name in times} if isinstance(work, int) else dict(work or {})
    rel = ratios(times, baseline, each_work)
    unit_min = {name: min(ts) / each_work.get(name, 1) for name, ts in times.items()}
    width = max(len("contender"), *map(len, times))
    per = f"per {unit}" if work else ""
    lines = [f"{'contender':<{width}}  {'min':>9}  {'median':>9}  {per:>11}  {'ratio':>7}  {'ratio of min':>12}"
             f"   (ratios against {baseline}{f', per {unit}' if not isinstance(work, int) and work else ''})"]
    for name, ts in times.items():
        med = statistics.median(ts)
        each = _seconds(med / each_work[name]) if name in each_work else ""
        note = f"  {notes[name]}" if notes and name in notes else ""
        lines.append(f"{name:<{width}}  {_seconds(min(ts)):>9}  {_seconds(med):>9}  {each:>11}  "
                     f"{rel[name]:>7.2f}  {unit_min[name] / unit_min[baseline]:>12.2f}{note}")
    return "\n".join(lines)


def load() -> str:
    """The machine's load averages and core count, to print next to figures measured on a shared machine."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return f"load: unknown, {os.cpu_count()} cores"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def median_time(fn: Callable[[], Any], repeats: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median seconds of `repeats` calls of `fn`, by `clock` (wall time unless told otherwise)."""
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def listening(proc: subprocess.Popen[str], drain: bool = False) -> tuple[subprocess.Popen[str], int]:
    """`proc` (a ``cam node`` or a server printing the node's ``Listening:`` and ``Waiting`` lines) once it
    listens: (process, port).  With `drain`, the rest of its output is read in a thread, so that it never blocks."""
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:
        if line.startswith("Listening:"):
            port = int(line.split()[1].rsplit(":", 1)[1])
        if line.startswith("Waiting"):
            if drain:
                threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, port
    raise RuntimeError("the server did not start")
