"""How fast the CAM runs the seed's counter, against the interpreter and hand-written Python; campaign scaling.

    python -m benchmarks.machine [--inputs 200000] [--rounds 7] [--campaign-terms 4000] [--central-examples 150]
                                 [--quick]

Workload: the reference's counter bytecode (``counterSM``) fed `--inputs`
inputs, three increments (``L Unit``) to one count (``R Unit``), the state
threaded from one input to the next.  Contenders, each doing that work:

- ``python step`` (the baseline): a hand-written step function on host
  values, called once per input -- what a machine at hand-written speed
  would cost per call;
- ``python inline loop``: the same counter written inline in the loop over
  the inputs, no call per input (allocating every output);
- ``interpreter``: ``catlib.interpreter.step`` on the counter term, per input;
- ``machine``: ``cam.machine.step`` on the compiled bytecode and machine
  values, per input (what a node does).

The contenders take turns over `--rounds` rounds (`benchmarks.interleave`);
each prints its min and median, per input, and its ratio to ``python step``
in the same run; every result is checked against the others.

Then campaigns (``cam check``, max size 16) of `--campaign-terms` terms on
1 and on all cores, taking turns too: round ``r`` runs seed ``r`` (the same
terms for every contender in a round, new terms each round), a 1-job run
(in this process) starts with every module-level cache emptied, a 2-job
run starts its own workers (no generator tables, decoded or translated
code inherited from this process), and the ratio
against 1 job shows the scaling (0.5 for 2 jobs on 2 idle cores).  In the
same rounds, a plain CPU-bound loop run twice in 1 process and once in
each of 2 processes shows what scaling the machine offers at that moment
(on a machine shared with other work, less than its cores).

Last, the central property (``tests/test_central.py::
test_machine_agrees_with_interpreter``, the test function itself) run
`--central-examples` examples a round under the test suite's default
hypothesis profile (capped to that count, no example database), with the
garbage collector set as the suite sets it: examples per CPU-second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Callable
from typing import Any

from benchmarks import interleave, load, table
from cam.code import IntV, L, R, UnitV
from cam.compiler import compile
from cam.hostvalue import quote
from cam.machine import execute
from cam.machine import step as machine_step
from cam.text import parse_code
from catlib.examples.counter import counter_sm
from catlib.interpreter import step
from catlib.values import Left, Right

REFERENCE = ("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] "
             "[ID,GET,INR,RETURN]]")
"""The reference compiler's bytecode for the seed's counterSM (docs/reference.md, "Test vectors")."""

def counter_step(x: object, state: int) -> tuple[int, object]:
    """The counter by hand, one input: ``Left ()`` adds 1 (64-bit wrap-around), ``Right ()`` reads."""
    if type(x) is Left:
        state += 1
        if state > 2**63 - 1:
            state -= 2**64
        return state, Left(())
    return state, Right(state)


def python_step(inputs: list[Any]) -> tuple[object, object]:
    """The hand-written step function, called per input."""
    state: object = 0
    out: object = None
    for x in inputs:
        state, out = counter_step(x, state)  # type: ignore[arg-type]
    return state, out


def python_inline(inputs: list[Any]) -> tuple[object, object]:
    """The hand-written counter inline in the loop: no call per input."""
    state = 0
    out: object = None
    for x in inputs:
        if type(x) is Left:
            state += 1
            if state > 2**63 - 1:
                state -= 2**64
            out = Left(())
        else:
            out = Right(state)
    return state, out


def interpreter_counter(inputs: list[Any]) -> tuple[object, object]:
    state: object = 0
    out: object = None
    for x in inputs:
        state, out = step(counter_sm, x, state)
    return state, out


def machine_counter(code: Any, inputs: list[Any]) -> tuple[object, object]:
    state = IntV(0)
    out = UnitV
    for x in inputs:
        state, out = machine_step(code, x, state)
    return state, out


def counter(n: int, rounds: int) -> int:
    """The counter table; 1 when the contenders disagree."""
    code = parse_code(REFERENCE)
    if compile(counter_sm) != code:
        print("error: the counter term does not compile to the reference's bytecode", file=sys.stderr)
        return 1
    pattern = 4
    host = [Left(()) if i % pattern != pattern - 1 else Right(()) for i in range(n)]
    machine_inputs = [L(UnitV) if i % pattern != pattern - 1 else R(UnitV) for i in range(n)]
    steps = sum(execute(code, x, IntV(0)).steps for x in machine_inputs)
    expected = python_inline(host)
    wrong: list[str] = []

    def same(name: str, result: Any) -> None:
        if name == "machine":
            result = tuple(map(quote, expected)) == result and expected
        if result != expected:
            wrong.append(f"{name}: {result}")

    print(f"counter: {n:,} inputs (3 increments : 1 count), {steps:,} machine steps; {rounds} rounds; {load()}")
    times = interleave({
        "python step": lambda: python_step(host),
        "python inline loop": lambda: python_inline(host),
        "interpreter": lambda: interpreter_counter(host),
        "machine": lambda: machine_counter(code, machine_inputs),
    }, rounds, check=same)
    if wrong:
        print(f"error: results differ from the hand-written counter's {expected}: {wrong}", file=sys.stderr)
        return 1
    print(table(times, "python step", work=n, unit="input"))
    return 0


def burn(n: int) -> int:
    """A plain CPU-bound loop: the scaling the machine offers, for comparison."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def burn_in(processes: int, n: int, jobs: int) -> None:
    """`jobs` burns of `n` spread over `processes` new processes (or here, for 1)."""
    if processes == 1:
        for _ in range(jobs):
            burn(n)
        return
    with multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
                                     ).Pool(processes) as pool:
        pool.map(burn, [n] * jobs)


def campaign(terms: int, rounds: int) -> int:
    """Campaign rates on 1 and all cores, taking turns; 1 when a campaign fails."""
    from cam.check import run_campaign

    cores = os.cpu_count() or 1
    jobs = sorted({1, cores})
    failed: list[str] = []

    def verdict(name: str, report: Any) -> None:
        if report is not None and (report.failures or report.terms != terms):
            failed.append(f"{name}: {len(report.failures)} disagree")

    print(f"\ncampaign (cam check, max size 16, seed r in round r, caches emptied before each run): "
          f"{terms:,} terms per run; {rounds} rounds; {load()}")
    n = 4_000 * terms  # about as long as the campaign on one core
    import resource  # here: the rest of this module does without it

    def cpu_seconds() -> float:  # user + sys of this process and of its finished workers
        return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage,
                                                        (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))

    cpu: dict[str, list[float]] = {}

    from tests.conftest import clear_caches  # the suite's reset of every module-level cache

    def checked(name: str, j: int) -> Callable[[], Any]:
        seeds = iter(range(1_000_000))

        def run() -> Any:
            # A new seed each round (the same one for every contender in a round) and, in this process,
            # caches emptied: otherwise round 2 on meets the generator's caches warm from round 1's terms.
            clear_caches()
            t0 = cpu_seconds()
            report = run_campaign(terms, next(seeds), jobs=j, progress=False)
            cpu.setdefault(name, []).append(cpu_seconds() - t0)
            return report
        return run

    contenders: dict[str, Callable[[], Any]] = {
        name: checked(name, j) for j in jobs for name in [f"{j} job{'s' if j > 1 else ''}"]}
    for j in jobs:
        contenders[f"CPU loop, {j} process{'es' if j > 1 else ''}"] = lambda j=j: burn_in(j, n // cores, cores)
    times = interleave(contenders, rounds, check=verdict, warmup=0)
    if failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    print(table({k: v for k, v in times.items() if "CPU" not in k}, "1 job", work=terms, unit="term"))
    print(table({k: v for k, v in times.items() if "CPU" in k}, "CPU loop, 1 process"))
    for name, ts in times.items():
        if "CPU" not in name:
            print(f"  {name}: {terms / min(ts):,.0f} terms/s at best, {terms * len(ts) / sum(ts):,.0f} on average; "
                  f"{terms / min(cpu[name]):,.0f} terms per CPU-second (user+sys, workers included) at best, "
                  f"{terms * len(cpu[name]) / sum(cpu[name]):,.0f} on average")
    return 0


def central(examples: int, rounds: int) -> int:
    """The central property's examples per CPU-second, `examples` a round (fewer than the ci profile's 200)."""
    import gc
    import time

    from hypothesis import settings

    import tests.conftest as conftest  # the suite's hypothesis profiles

    if not 0 < examples < conftest.CI_EXAMPLES:
        print(f"error: --central-examples must be 1..{conftest.CI_EXAMPLES - 1}", file=sys.stderr)
        return 2
    # a profile below ci's count caps the property's `scaled` count to it (tests/conftest.py)
    settings.register_profile("benchmark", parent=settings.get_profile("ci"), max_examples=examples, database=None)
    settings.load_profile("benchmark")
    from tests import test_central  # imported under that profile: its example count is read at import

    prop = test_central.test_machine_agrees_with_interpreter
    gc.collect()
    gc.freeze()  # what tests/conftest.py does once the tests are collected
    saved = gc.get_threshold()
    gc.set_threshold(20_000, 20, 20)
    try:
        prop()  # warm-up: imports, caches
        rates = []
        for _ in range(rounds):
            conftest.clear_caches()  # each test starts with empty caches
            t0 = time.process_time()
            prop()
            rates.append(examples / (time.process_time() - t0))
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()
    rates.sort()
    print(f"\ncentral property (test_machine_agrees_with_interpreter, {examples} examples a round, {rounds} rounds; "
          f"{load()}): {rates[-1]:,.0f} examples per CPU-second at best, {rates[len(rates) // 2]:,.0f} median, "
          f"{rates[0]:,.0f} at worst")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.machine", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=200_000, help="inputs per run (default 200000)")
    p.add_argument("--rounds", type=int, default=7, help="rounds of turns (default 7)")
    p.add_argument("--campaign-terms", type=int, default=4_000, help="terms per campaign run (0: skip)")
    p.add_argument("--central-examples", type=int, default=150,
                   help="examples a round of the central property, below 200 (0: skip; default 150)")
    p.add_argument("--quick", action="store_true", help="a short run: 100,000 inputs, 2,000 terms, 5 rounds")
    args = p.parse_args(argv)
    if args.quick:
        args.inputs, args.campaign_terms, args.rounds = 100_000, 2_000, 5
    status = counter(args.inputs, args.rounds)
    if args.campaign_terms and not status:
        status = campaign(args.campaign_terms, args.rounds)
    if args.central_examples and not status:
        status = central(args.central_examples, args.rounds)
    return status


if __name__ == "__main__":
    sys.exit(main())
