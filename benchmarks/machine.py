"""How fast the CAM runs the seed's counter, against the interpreter and plain Python.

    python -m benchmarks.machine [--inputs 1000000] [--repeats 5] [--campaign-terms 20000]

Workload: the reference's counter bytecode (``counterSM``) fed `--inputs`
inputs, three increments (``L Unit``) to one count (``R Unit``), the state
threaded from one input to the next.  Each row does the same work:

- ``python``: a hand-written counter on host values -- the floor;
- ``interpreter``: ``catlib.interpreter.step`` on the counter term;
- ``machine``: ``cam.machine.run`` on the compiled bytecode and machine
  values, one call per input (what a node does).

Prints the median over `--repeats` runs, inputs/s, machine steps/s (the
same step count for every row: the work the CAM does, 16 per increment
and 6 per count) and ratios; then terms/s of a ``cam check`` campaign.
All ratios are against baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from benchmarks import median_time
from cam.code import Int as MInt
from cam.code import L, R, Unit, parse_code, quote
from cam.compiler import compile
from cam.machine import execute, run
from catlib.examples.counter import counter_sm
from catlib.interpreter import step
from catlib.values import Left, Right

REFERENCE = ("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] "
             "[ID,GET,INR,RETURN]]")
"""The reference compiler's bytecode for the seed's counterSM (docs/reference.md, "Test vectors")."""


def python_counter(inputs: list[object]) -> object:
    """The floor: the counter written by hand on host values."""
    state = 0
    out: object = None
    for x in inputs:
        if isinstance(x, Left):
            state = (state + 1 + 2**63) % 2**64 - 2**63
            out = Left(())
        else:
            out = Right(state)
    return state, out


def interpreter_counter(inputs: list[object]) -> object:
    state: object = 0
    out: object = None
    for x in inputs:
        state, out = step(counter_sm, x, state)
    return state, out


def machine_counter(inputs: list[object]) -> object:
    code = parse_code(REFERENCE)
    state = MInt(0)
    out = Unit
    for x in inputs:
        state, out = run(code, x, state)  # type: ignore[arg-type]
    return state, out


def timed(fn: Callable[[list[object]], object], inputs: list[object], repeats: int) -> tuple[float, object]:
    """Median seconds of `fn(inputs)`, and its result."""
    results: list[object] = []
    return median_time(lambda: results.append(fn(inputs)), repeats), results[-1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.machine", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=1_000_000, help="inputs per run (default 1000000)")
    p.add_argument("--repeats", type=int, default=5, help="runs per row; the median is shown (default 5)")
    p.add_argument("--campaign-terms", type=int, default=20_000, help="terms for the campaign rate (0: skip)")
    args = p.parse_args(argv)

    code = parse_code(REFERENCE)
    if compile(counter_sm) != code:
        print("error: the counter term does not compile to the reference's bytecode", file=sys.stderr)
        return 1
    pattern = 4
    n = args.inputs
    host = [Left(()) if i % pattern != pattern - 1 else Right(()) for i in range(n)]
    machine_inputs = [L(Unit) if i % pattern != pattern - 1 else R(Unit) for i in range(n)]
    steps = sum(execute(code, x, MInt(0)).steps for x in machine_inputs[:pattern]) * (n // pattern)
    steps += sum(execute(code, x, MInt(0)).steps for x in machine_inputs[: n % pattern])

    print(f"counter: {n:,} inputs (3 incr : 1 count), {steps:,} machine steps, median of {args.repeats} runs")
    rows = [("python (floor)", python_counter, host), ("interpreter", interpreter_counter, host),
            ("machine", machine_counter, machine_inputs)]
    results = {}
    for name, fn, inputs in rows:
        results[name] = timed(fn, inputs, args.repeats)
    floor = results["python (floor)"][0]
    interp = results["interpreter"][0]
    # the three must agree, or the comparison means nothing
    host_result, interp_result, machine_result = (results[name][1] for name, _, _ in rows)
    if not host_result == interp_result or tuple(map(quote, host_result)) != machine_result:  # type: ignore[arg-type]
        print(f"error: results differ: {host_result}, {interp_result}, {machine_result}", file=sys.stderr)
        return 1
    print(f"{'':16} {'median s':>9} {'inputs/s':>12} {'steps/s':>12} {'x floor':>8} {'x interp':>9}")
    for name, _, _ in rows:
        t = results[name][0]
        print(f"{name:16} {t:9.3f} {n / t:12,.0f} {steps / t:12,.0f} {t / floor:8.1f} {t / interp:9.2f}")

    if args.campaign_terms:
        from cam.check import run_campaign

        print(f"\ncampaign (cam check, max size 16): {args.campaign_terms:,} terms")
        for jobs in sorted({1, os.cpu_count() or 1}):
            t0 = time.perf_counter()
            report = run_campaign(args.campaign_terms, seed=0, jobs=jobs, progress=False)
            t = time.perf_counter() - t0
            ok = "all agree" if not report.failures else f"{len(report.failures)} DISAGREE"
            print(f"  {jobs} job{'s' if jobs > 1 else ' '}  {t:7.2f} s  {report.terms / t:10,.0f} terms/s  ({ok})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
