"""The machine against hand-written Python: `cam.machine.load` per input and in batch, cliffs, translation.

    python -m benchmarks.speed [--inputs 20000] [--rounds 15] [--quick]

Every table interleaves its contenders over `--rounds` rounds (the order
rotates each round) and prints, per contender, the min and the median time
per input (or per step) and the ratio of each to the hand-written baseline
measured in the same run.  Rounds are timed in the process's CPU time
(`time.process_time`, a round lasting a millisecond or more), so that on a
busy machine the time the process waits for a core does not land on
whichever contender was running; caches are still shared: read the ratios,
not the absolute figures, and the load average printed first.  (Single
calls, the first input after a load, are timed by the wall clock.)

- ``step``: one call per input through the same driver loop for every
  contender (the counter, registers, turnstile and bank examples): the
  hand-written step function on host values, ``load(code)``,
  ``catlib.interpreter.step`` on the term, ``cam.machine.step`` (machine values).
- ``batch``: a whole list of inputs: ``load(code).run`` against a hand-written
  inline loop (state in a local, a branch and an output per input, no call).
- ``random terms``: random well-typed terms of about 500 nodes (seeded), ``load`` against the interpreter.
- ``cliffs``: ns per instruction for code of growing size and nesting depth, and translation time.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from cam.compiler import compile
from cam.hostvalue import quote
from cam.machine import load
from cam.machine import step as machine_step
from catlib.examples import bank, counter, registers, turnstile
from catlib.free import Term
from catlib.interpreter import step as interpret
from catlib.strategies import Generator
from catlib.values import INT_MAX, Left, Right, add64

Step = Callable[[Any, Any], tuple[Any, Any]]

# ---------------------------------------------------------------- hand-written contenders (test_examples' models)

_LEFT_UNIT = Left(())


def counter_hand(cmd: Any, n: int) -> tuple[int, Any]:
    """The counter by hand, as tests/test_examples.py's model (add64, a new output each time)."""
    return (add64(n, 1), Left(())) if isinstance(cmd, Left) else (n, Right(n))


def counter_tuned(cmd: Any, n: int) -> tuple[int, Any]:
    """The counter by hand, tuned: inline wrap-around, a shared constant output."""
    if type(cmd) is Left:
        n += 1
        if n > INT_MAX:
            n -= 2**64
        return n, _LEFT_UNIT
    return n, Right(n)


def registers_hand(cmd: Any, s: tuple[int, int]) -> tuple[tuple[int, int], int]:
    a, b = s
    if cmd == registers.SWAP:
        a, b = b, a
    elif cmd == registers.ACC:
        a = add64(a, b)
    else:
        b = cmd.value
    return (a, b), a


def bank_hand(cmd: Any, balance: int) -> tuple[int, Any]:
    """The bank account by hand (`catlib.examples.bank`): deposits that would lower the balance and
    withdrawals beyond it (or negative) are refused."""
    if type(cmd) is Left:
        after = add64(balance, cmd.value)
        return (balance, bank.REFUSED) if after < balance else (after, Right(after))
    if type(cmd.value) is Left:
        k = cmd.value.value
        return (balance, bank.REFUSED) if k < 0 or balance < k else (balance - k, Right(balance - k))
    return balance, Right(balance)


def turnstile_hand(cmd: Any, s: tuple[Any, int]) -> tuple[Any, Any]:
    lock, passes = s
    if cmd == turnstile.COIN:
        return ((turnstile.UNLOCKED, passes), turnstile.THANKS) if lock == turnstile.LOCKED else (s, turnstile.REFUND)
    if lock == turnstile.LOCKED:
        return s, turnstile.BLOCKED
    return (turnstile.LOCKED, add64(passes, 1)), turnstile.passed(add64(passes, 1))


def counter_inline(inputs: list[Any], n: int) -> tuple[int, list[Any]]:
    """The counter as one inline loop: state in a local, a branch and an output per input, no call."""
    outputs = []
    out = outputs.append
    for x in inputs:
        if isinstance(x, Left):
            n = (n + 1 + 2**63) % 2**64 - 2**63
            out(Left(()))
        else:
            out(Right(n))
    return n, outputs


# ---------------------------------------------------------------- timing


def drive(step: Step, inputs: list[Any], state: Any) -> Any:
    """The one driver loop every per-input contender runs in."""
    for x in inputs:
        state, _ = step(x, state)
    return state


def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds per run of each contender, `rounds` times, the order rotating every round."""
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.process_time()
            contenders[name]()
            times[name].append(time.process_time() - t0)
    return times


def table(title: str, times: dict[str, list[float]], per: int, unit: str, base: str) -> dict[str, float]:
    """Print min/median per unit and the ratios to `base`; return the ratios of the minima."""
    print(f"\n{title}")
    print(f"  {'contender':34} {'min ' + unit:>12} {'median ' + unit:>14} {'x base (min)':>13} {'x base (med)':>13}")
    bmin, bmed = min(times[base]), statistics.median(times[base])
    ratios = {}
    for name, ts in times.items():
        lo, med = min(ts), statistics.median(ts)
        ratios[name] = lo / bmin
        print(f"  {name:34} {lo / per * 1e9:12.0f} {med / per * 1e9:14.0f} {lo / bmin:13.2f} {med / bmed:13.2f}")
    return ratios


# ---------------------------------------------------------------- workloads


def example_inputs(name: str, n: int) -> tuple[list[Any], Any]:
    """`n` inputs and a start state for an example machine (a fixed mix of its commands)."""
    if name == "counter":
        return [Left(()) if i % 4 != 3 else Right(()) for i in range(n)], 0
    if name == "registers":
        cmds = [registers.SWAP, registers.ACC, Right(7), registers.ACC]
        return [cmds[i % 4] for i in range(n)], (1, 2)
    if name == "bank":  # SUB and LT at work (the integer instructions beyond the reference), refusals too
        cmds = [bank.deposit(100), bank.withdraw(30), bank.withdraw(500), bank.BALANCE, bank.deposit(-5)]
        return [cmds[i % 5] for i in range(n)], 0
    cmds = [turnstile.COIN, turnstile.PUSH, turnstile.PUSH, turnstile.COIN, turnstile.COIN, turnstile.PUSH]
    return [cmds[i % 6] for i in range(n)], turnstile.TURNSTILE.initial


def per_input(name: str, prog: Any, hand: dict[str, Step], n: int, rounds: int) -> dict[str, float]:
    inputs, state = example_inputs(name, n)
    code = compile(prog.term)
    loaded = load(code)
    want = drive(next(iter(hand.values())), inputs, state)
    qinputs, qstate = [quote(x) for x in inputs], quote(state)
    contenders: dict[str, Callable[[], Any]] = {k: (lambda f=f: drive(f, inputs, state)) for k, f in hand.items()}
    contenders["load(code)"] = lambda: drive(loaded, inputs, state)
    contenders["catlib.interpreter.step"] = lambda: drive(lambda x, s: interpret(prog.term, x, s), inputs, state)
    contenders["cam.machine.step (machine values)"] = lambda: drive(lambda x, s: machine_step(code, x, s), qinputs,
                                                                    qstate)
    for k, f in contenders.items():  # all agree, or the comparison means nothing
        got = f()
        if (got != want) if "machine values" not in k else (got != quote(want)):
            raise SystemExit(f"error: {k} disagrees on {name}: {got!r} != {want!r}")
    return table(f"{name}: one call per input, {n:,} inputs", interleaved(contenders, rounds), n, "ns",
                 base=next(iter(hand)))


def random_terms(count: int, nodes: int, seed: int) -> list[tuple[Term, Any, Any]]:
    """`count` random well-typed terms of about `nodes` nodes, with an input and a state each."""
    gen = Generator.seeded(seed)
    out: list[tuple[Term, Any, Any]] = []
    fuel = 60
    while len(out) < count:
        s, a, b = gen.type(), gen.type(), gen.type()
        term = gen.term(s, a, b, fuel)
        size = sum(1 for _ in term.walk()) if hasattr(term, "walk") else _nodes(term)
        if size < nodes * 0.8:
            fuel += 5
        elif size > nodes * 1.2:
            fuel = max(5, fuel - 5)
        else:
            out.append((term, gen.value(a), gen.value(s)))
    return out


def _reads_input(source: str) -> bool:
    import re

    step = source[source.index("def step(x, s):"):source.index("def run(")]
    body = step.split("except")[0].replace("def step(x, s):", "")
    return re.search(r"\b[xs]\b", body) is not None or "body(" in body


def _nodes(t: Any) -> int:
    n, todo = 0, [t]
    while todo:
        x = todo.pop()
        n += 1
        todo.extend(k for k in getattr(x, "kids", ()) if hasattr(k, "kids"))
    return n


def terms_table(count: int, rounds: int, seed: int) -> tuple[dict[str, float], int]:
    """The random terms' table; also how many of them fell back to the checked loop (their translation did not
    apply to their input: they run at the checked loop's speed, plus the translated attempt)."""
    cases = random_terms(count, 500, seed)
    loaded = [(load(compile(t)), x, s) for t, x, s in cases]
    for (t, x, s), (f, _, _) in zip(cases, loaded):
        if f(x, s) != interpret(t, x, s):
            raise SystemExit("error: load(code) and the interpreter disagree on a random term")
    fell_back = sum(f.fallbacks > 0 for f, _, _ in loaded)
    print(f"\nrandom terms whose load(code) fell back to the checked loop: {fell_back} of {count}")
    reps = 20
    contenders = {
        "catlib.interpreter.step": lambda: [interpret(t, x, s) for t, x, s in cases for _ in range(reps)],
        "load(code)": lambda: [f(x, s) for f, x, s in loaded for _ in range(reps)],
    }
    sizes = [_nodes(t) for t, _, _ in cases]
    # Many random terms ignore most of their input: their translation folds to a few constants.  The terms
    # whose translation still reads its input or state are timed apart too.
    live = [i for i, (f, _, _) in enumerate(loaded) if _reads_input(f.source)]
    if live:
        table(f"random terms whose translation reads its input or state: {len(live)} of {count}",
              interleaved({
                  "catlib.interpreter.step": lambda: [interpret(*cases[i]) for i in live for _ in range(reps)],
                  "load(code)": lambda: [loaded[i][0](*loaded[i][1:]) for i in live for _ in range(reps)],
              }, rounds), len(live) * reps, "ns", base="catlib.interpreter.step")
    return table(f"random terms: {count} terms of {min(sizes)}-{max(sizes)} nodes (seed {seed}), {reps} runs each",
                 interleaved(contenders, rounds), count * reps, "ns", base="catlib.interpreter.step"), fell_back


def batch_table(n: int, rounds: int) -> dict[str, float]:
    inputs, state = example_inputs("counter", n)
    loaded = load(compile(counter.counter_sm))
    if loaded.run(inputs, state) != counter_inline(inputs, state):
        raise SystemExit("error: load(code).run and the inline loop disagree")
    contenders = {
        "hand-written inline loop": lambda: counter_inline(inputs, state),
        "load(code).run": lambda: loaded.run(inputs, state),
        "load(code) per input": lambda: drive(loaded, inputs, state),
    }
    return table(f"counter in batch: {n:,} inputs", interleaved(contenders, rounds), n, "ns",
                 base="hand-written inline loop")


def cliffs(quick: bool) -> dict[str, float]:
    """ns per instruction around the limits of the translators, translation time, and the first input's cost.

    The limits: `cam.loaded.INLINE_SIZE` instructions (beyond, the root is split into functions) and
    `INLINE_DEPTH` nested branches (beyond, arms are functions of their own); `cam.jit`'s `MAX_SIZE` and
    `MAX_DEPTH` (beyond, `cam.machine.step` uses `cam.loaded`).  Returns the worst ratio of ns per
    instruction just beyond a limit over just before it (for `load`, for `cam.machine.step`), the ratio of the largest
    to the smallest translation cost per instruction, the median over the cases of the first input's
    time over the second's, and of the same ratio for a step that ran many times, called right after
    another load of its code (the control: what a load's own work costs the next call through the CPU's
    caches).
    """
    from cam import jit, loaded
    from cam.code import ADD, BRANCH, COPY, GET, RETURN, Code

    print("\ncliffs: ns per instruction run (min and median of 15 rounds, CPU time; every case's rounds interleaved"
          " with the others') by load(code)\n        and by cam.machine.step (translated on its 2nd run);"
          " load's translation in us per instruction (min over the loads),\n        and a fresh load's first and"
          " second input (median of 9 loads); control: the same ratio for a warm step called right after another"
          " load of its code")
    print(f"  {'code':46} {'instrs':>8} {'load ns':>8} {'median':>8} {'machine':>8} {'median':>8} {'trans. us':>9}"
          f" {'1st us':>8} {'2nd us':>8} {'1st/2nd':>8} {'control':>8}")
    size_limits = [loaded.INLINE_SIZE, jit.MAX_SIZE]
    depth_limits = [loaded.INLINE_DEPTH, jit.MAX_DEPTH]
    sizes = sorted({n for limit in size_limits for n in (limit - 2, limit + 2)} | {20_000}
                   | (set() if quick else {100_000}))
    depths = sorted({d for limit in depth_limits for d in (limit - 1, limit + 1)} | {400}
                    | (set() if quick else {3_000}))
    cases: list[tuple[str, Code, Any, Any, int]] = []
    for n in sizes:
        cases.append((f"[COPY,ADD] x {n // 2}", Code([COPY, ADD] * (n // 2)), 1, (), n))
    for d in depths:
        code = Code([GET])
        for _ in range(d):
            code = Code([GET, BRANCH(code + Code([RETURN]), Code([RETURN]))])
        cases.append((f"[GET,BRANCH] nested {d} deep (side at run time)", code, Left(1), Left(1), d))
    translation, firsts, controls, rows = [], [], [], []
    runs: dict[str, Callable[[], Any]] = {}
    for name, code, x, s, _ in cases:
        costs, first, second = [], [], []
        for i in range(9):
            t0 = time.perf_counter()
            f = load(code)
            t1 = time.perf_counter()
            f(x, s)
            t2 = time.perf_counter()
            f(x, s)
            t3 = time.perf_counter()
            costs.append(t1 - t0)
            first.append(t2 - t1)
            second.append(t3 - t2)
            if i == 2 and len(code) > 5_000:
                break  # large code: 3 loads are enough (and take long)
        qx, qs = quote(x), quote(s)
        machine_step(code, qx, qs)
        machine_step(code, qx, qs)  # translated on the second run
        size = sum(1 for _ in _instrs(code))
        reps = max(20, 400_000 // size)  # a round takes milliseconds: process_time costs microseconds
        runs[f"load {name}"] = functools.partial(_repeat, f, x, s, reps)
        runs[f"machine {name}"] = functools.partial(_repeat, functools.partial(machine_step, code), qx, qs, reps)
        # the control: a step that has run many times, called right after another load of the same code (whose
        # work evicts it from the CPU's caches, as a first input's step is after its own load)
        cold, warm = [], []
        for _ in range(min(len(costs), 5)):
            load(code)
            t1 = time.perf_counter()
            f(x, s)
            t2 = time.perf_counter()
            f(x, s)
            cold.append(t2 - t1)
            warm.append(time.perf_counter() - t2)
        controls.append(statistics.median(cold) / statistics.median(warm))
        translation.append(min(costs) / size)
        firsts.append(statistics.median(first) / statistics.median(second))
        rows.append((name, size, reps, statistics.median(first), statistics.median(second)))
    # every case's rounds interleaved with the others': a ratio of two cases is of the same moments of the machine
    # (measured one case after the other, the same code ran at 30 or at 54 ns per instruction from run to run)
    times = interleaved(runs, 15)
    per_instr: dict[str, float] = {}
    per_machine: dict[str, float] = {}
    for (name, size, reps, a, b), trans, control in zip(rows, translation, controls):
        ld, mc = (sorted(t / (size * reps) * 1e9 for t in times[f"{who} {name}"]) for who in ("load", "machine"))
        per_instr[name], per_machine[name] = ld[0], mc[0]
        print(f"  {name:46} {size:8,} {ld[0]:8.1f} {statistics.median(ld):8.1f} {mc[0]:8.1f}"
              f" {statistics.median(mc):8.1f} {trans * 1e6:9.1f} {a * 1e6:8.1f} {b * 1e6:8.1f} {a / b:8.2f}"
              f" {control:8.2f}")
    worst = {"load": 0.0, "machine": 0.0}
    for who, times in (("load", per_instr), ("machine", per_machine)):
        for kind, limits, step in (("[COPY,ADD]", size_limits, 2), ("nested", depth_limits, 1)):
            for limit in limits:
                before, beyond = [times[c[0]] for c in cases if kind in c[0] and c[4] in (limit - step, limit + step)]
                worst[who] = max(worst[who], beyond / before)  # a cliff: slower beyond the limit
    return {**worst, "translation": max(translation) / min(translation), "first": statistics.median(firsts),
            "control": statistics.median(controls)}


def _repeat(f: Callable[[Any, Any], Any], x: Any, s: Any, reps: int) -> None:
    for _ in range(reps):
        f(x, s)


def _instrs(code: Any) -> Any:
    todo = [code]
    while todo:
        c = todo.pop()
        for ins in c:
            yield ins
            todo.extend(k for k in ins.kids if type(k).__name__ == "Code")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=20_000, help="inputs per run (default 20000)")
    p.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    p.add_argument("--terms", type=int, default=40, help="random terms of about 500 nodes (default 40)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="fewer inputs and rounds, no 100,000-instruction case")
    args = p.parse_args(argv)
    n, rounds = (2_000, 5) if args.quick else (args.inputs, args.rounds)
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    goals: list[tuple[str, float, float | None]] = []
    r = per_input("counter", counter.COUNTER, {"hand-written (test model)": counter_hand,
                                               "hand-written (tuned)": counter_tuned}, n, rounds)
    goals.append(("counter: load <= 1.2x hand-written (test model)", r["load(code)"], 1.2))
    goals.append(("counter: load vs hand-written (tuned), for the record", r["load(code)"] / r["hand-written (tuned)"],
                  None))
    r = per_input("registers", registers.UPGRADE.old, {"hand-written": registers_hand}, n, rounds)
    goals.append(("registers: load <= 2x hand-written", r["load(code)"], 2.0))
    r = per_input("turnstile", turnstile.UPGRADE.old, {"hand-written": turnstile_hand}, n, rounds)
    goals.append(("turnstile: load <= 2x hand-written", r["load(code)"], 2.0))
    r = per_input("bank", bank.BANK, {"hand-written": bank_hand}, n, rounds)
    goals.append(("bank (SUB, LT): load vs hand-written, for the record", r["load(code)"], None))
    r, fell_back = terms_table(10 if args.quick else args.terms, rounds, args.seed)
    goals.append(("random 500-node terms: interpreter / load >= 5", 1 / r["load(code)"], None))
    goals.append(("random 500-node terms that fell back to the checked loop", fell_back, 0))
    r = batch_table(n * 5, rounds)
    goals.append(("counter batch: load.run <= 0.5x inline loop", r["load(code).run"], 0.5))
    r = cliffs(args.quick)
    goals.append(("cliffs: load, worst ns/instr beyond / before a limit <= 1.5", r["load"], 1.5))
    goals.append(("cliffs: cam.machine.step, the same <= 1.5", r["machine"], 1.5))
    goals.append(("translation us/instruction, largest / smallest, for the record", r["translation"], None))
    goals.append(("first input / second after a fresh load (median), for the record", r["first"], None))
    goals.append(("the same for a warm step after another load (control)", r["control"], None))
    print(f"\ngoals (ratios of minima, this run; load average now {os.getloadavg()[0]:.2f})")
    for what, ratio, bound in goals:
        verdict = "" if bound is None else ("met" if ratio <= bound else "NOT met")
        if ">= 5" in what:
            verdict = "met" if ratio >= 5 else "NOT met"
        figure = f"{ratio:6.2f}" if isinstance(ratio, float) else f"{ratio:6}"
        print(f"  {what:58} {figure}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
