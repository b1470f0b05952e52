"""Verification time is linear in code size, flat or nested: ``python benchmarks/verifier.py``.

For each shape of code and each size (1,000 to 1,000,000 instructions, counting
the instructions inside nested blocks) it prints the median time of `verify`
per instruction, its ratio to the same shape at 1,000 instructions (about 1
everywhere means linear), and its ratio to one run of the same code on the
machine (`cam.machine.step`), measured in the same process.  Times are CPU
time of this process (`time.process_time`), so that other work on a shared
machine does not count.

Shapes:
  flat     [COPY,ADD] repeated: a chain of doublings, Int -> Int
  stack    PUSH n/2 times, then CONS n/2 times: a deep stack and a large type
  branch   INL, BRANCH [..., RETURN] [RETURN] nested n/4 deep
  closure  closures applied inside closures, nested n/7 deep

Options: ``--max N`` (largest size, default 1,000,000), ``--repeat R`` (default 5; 3 at 1,000,000).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import median_time  # noqa: E402
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
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max]
    print(f"{'shape':<8} {'instructions':>12} {'verify':>10} {'per instr':>10} {'vs 1,000':>9} {'vs run':>7}")
    for name, make in SHAPES.items():
        base = None
        for n in sizes:
            code, x = make(n)
            k = count(code)
            repeat = args.repeat if n < 1_000_000 else min(args.repeat, 3)
            sig = verify(code, max_size=BIG, max_depth=BIG, max_type_size=BIG)
            assert sig.output is not None
            tv = median_time(lambda c=code: verify(c, max_size=BIG, max_depth=BIG, max_type_size=BIG), repeat, CPU)
            tr = median_time(lambda c=code, x=x: step(c, x, UnitV), repeat, CPU)
            per = tv / k
            base = base or per
            print(f"{name:<8} {k:>12,} {tv:>9.3f}s {per * 1e6:>8.2f}us {per / base:>9.2f} {tv / tr:>7.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
