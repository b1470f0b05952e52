"""``python -m benchmarks``: every benchmark with its quick setting (a few minutes), or one by name.

    python -m benchmarks [machine|speed|verifier|render|node ...] [--full]

Each benchmark interleaves its contenders over rounds and prints min,
median and ratios against a baseline measured in the same run (see
`benchmarks.interleave`).  ``--full`` runs each with its default (longer)
setting instead.  The node benchmark runs only when ``benchmarks/node.py``
has a quick setting (a ``main(argv)`` that takes ``--quick``); otherwise a
note says it was skipped.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import load

NAMES = ("machine", "speed", "verifier", "render", "node")


def _main(name: str) -> tuple[Callable[..., Any], bool, bool]:
    """The benchmark's `main`, whether it takes ``argv``, and whether it has a ``--quick`` option."""
    module = importlib.import_module(f"benchmarks.{name}")
    takes_argv = bool(inspect.signature(module.main).parameters)
    return module.main, takes_argv, takes_argv and "--quick" in inspect.getsource(module)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", metavar="NAME", help=f"which to run (default: all of {', '.join(NAMES)})")
    p.add_argument("--full", action="store_true", help="the default settings, not the quick ones")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        p.error(f"no benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    status = 0
    start = time.perf_counter()
    for name in args.names or NAMES:
        print(f"\n==== benchmarks.{name} ({load()})", flush=True)
        run, takes_argv, quick = _main(name)
        if not quick and not args.full:
            print(f"skipped: benchmarks/{name}.py has no quick setting (a main(argv) taking --quick)")
            continue
        t0 = time.perf_counter()
        if takes_argv:
            result = run([] if args.full else ["--quick"])
        else:  # its own parser reads sys.argv: give it none of ours
            saved, sys.argv = sys.argv, [f"benchmarks/{name}.py"]
            try:
                result = run()
            finally:
                sys.argv = saved
        print(f"---- benchmarks.{name}: {time.perf_counter() - t0:.1f} s", flush=True)
        status = status or int(result or 0)
    print(f"\nall benchmarks: {time.perf_counter() - start:.1f} s ({load()})")
    return status


if __name__ == "__main__":
    sys.exit(main())
