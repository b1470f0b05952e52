"""``python -m catlib``: a short tour of a term, its type and a run."""

from __future__ import annotations

import argparse
import sys


def tour() -> None:
    """Print the seed's swap and counter: terms, types, runs in three models."""
    from catlib.examples.generic import counter, swap
    from catlib.free import FREE
    from catlib.instances import FUNCTIONS, MACHINES
    from catlib.interpreter import run, step
    from catlib.typecheck import infer
    from catlib.values import Left, Right

    term = swap(FREE)
    print("swap as a term:        ", term)
    print("its principal type:    ", infer(term))
    print("free + interpreter:    ", step(term, (1, 2), ())[1])
    print("Python functions:      ", swap(FUNCTIONS)((1, 2)))
    print("state machines:        ", swap(MACHINES)((1, 2), ())[1])
    c = counter(FREE)
    print()
    print("counter as a term:     ", c)
    print("its principal type:    ", infer(c))
    state, outputs = run(c, [Left(()), Left(()), Right(())], 0)
    print("incr, incr, count:     ", outputs, "final state", state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="catlib", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tour", help="print a term, its type and runs")
    args = parser.parse_args(argv)
    if args.command in (None, "tour"):
        tour()
    return 0


if __name__ == "__main__":
    sys.exit(main())
