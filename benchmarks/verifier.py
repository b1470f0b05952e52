"""Verification time is linear in code size, flat or nested: ``python -m benchmarks.verifier``.

For each shape of code, the contenders are `verify` at each size (1,000 to
1,000,000 instructions, counting the instructions inside nested blocks) and
one run of the 1,000-instruction code on the machine (`cam.machine.step`,
after two untimed runs, so translated to Python where the machine
translates it); they take turns over the rounds (`benchmarks.interleave`).
The table gives min and median per instruction and ratios per instruction
to ``verify 1,000`` in the same rounds (about 1 everywhere means linear;
the ``run`` row says how verifying an instruction compares to running it).
Times are CPU time of this process (`time.process_time`), so that other
work on a shared machine counts less.

Shapes:
  flat     [COPY,ADD] repeated: a chain of doublings, Int -> Int
  stack    PUSH n/2 times, then CONS n/2 times: a deep stack and a large type
  branch   INL, BRANCH [..., RETURN] [RETURN] nested n/4 deep
  closure  closures applied inside closures, nested n/7 deep

Options: ``--max N`` (largest size, default 1,000,000), ``--rounds R`` (default 5),
``--quick`` (up to 100,000 instructions, 5 rounds).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import interleave, load, table  # noqa: E402
from cam.code import ADD, APP, BRANCH, CONS, COPY, CURRY, INL, PUSH, RETURN, SND, SWAP, Code, IntV, UnitV, Value  # noqa: E402
from cam.machine import step  # noqa: E402
from cam.verifier import verify  # noqa: E402

CPU = time.process_time

BIG = 10**8


def flat(n: int) -> tuple[Code, Value]:
    return Code([COPY, ADD] * (n // 2)), IntV(1)


def stack(n: int) -> tuple[Code, Value]:
    return Code([PUSH] * (n // 2) + [CONS] * (n // 2)), UnitV


def branch(n: int) -> tuple[Code, Value]:
    code = Code([])
    for _ in range(n // 4):
        code = Code([INL, BRANCH(code + Code([RETURN]), Code([RETURN]))])
    return code, UnitV


def closure(n: int) -> tuple[Code, Value]:
    body = Code([SND, RETURN])
    for _ in range(n // 7 - 1):
        body = Code([SND, PUSH, CURRY(body), SWAP, CONS, APP, RETURN])
    return Code([PUSH, CURRY(body), SWAP, CONS, APP]), IntV(7)


SHAPES: dict[str, Callable[[int], tuple[Code, Value]]] = {
    "flat": flat, "stack": stack, "branch": branch, "closure": closure}


def count(code: Code) -> int:
    n, todo = 0, [code]
    while todo:
        c = todo.pop()
        n += len(c)
        todo += [k for ins in c for k in ins.kids if isinstance(k, Code)]
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.verifier", description=__doc__.splitlines()[0])
    p.add_argument("--max", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="up to 100,000 instructions, 5 rounds")
    args = p.parse_args(argv)
    if args.quick:
        args.max, args.rounds = min(args.max, 100_000), 5
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max]
    print(f"verify, per instruction; {args.rounds} rounds; CPU time; {load()}")
    for name, make in SHAPES.items():
        contenders: dict[str, Callable[[], object]] = {}
        work: dict[str, int] = {}
        for n in sizes:
            code, x = make(n)
            sig = verify(code, max_size=BIG, max_depth=BIG, max_type_size=BIG)
            assert sig.output is not None
            contenders[f"verify {n:,}"] = lambda c=code: verify(c, max_size=BIG, max_depth=BIG, max_type_size=BIG)
            work[f"verify {n:,}"] = count(code)
            if n == sizes[0]:
                contenders[f"run {n:,}"] = lambda c=code, x=x: step(c, x, UnitV)
                work[f"run {n:,}"] = count(code)
        times = interleave(contenders, args.rounds, clock=CPU, warmup=2)
        print(f"\n{name}:")
        print(table(times, f"verify {sizes[0]:,}", work=work, unit="instr"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
