"""``python -m proofs``: check every theorem and print a table (theorem, method, result, time).

``--self-check`` instead runs the deliberately broken compilers, laws and
upgrades, each of which must be rejected with a counterexample.
``--group laws`` (or ``compiler``, ``upgrade``) restricts to one group;
``-v`` prints each verdict's detail and counterexample.  The exit status is
0 when every theorem is proved (or, with ``--self-check``, every broken
variant rejected).
"""

from __future__ import annotations

import argparse
import sys
import time

from proofs.catalog import GROUPS, broken, theorems
from proofs.core import check_all


def _table(rows: list[tuple[str, str, str, str]], out: list[str]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    """Run the proofs; return the exit status."""
    ap = argparse.ArgumentParser(prog="python -m proofs", description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=GROUPS, action="append", help="only this group (repeatable)")
    ap.add_argument("--self-check", action="store_true", help="run the broken variants; each must fail")
    ap.add_argument("-v", "--verbose", action="store_true", help="print details and counterexamples")
    args = ap.parse_args(argv)
    groups = tuple(args.group or GROUPS)
    start = time.perf_counter()
    lines: list[str] = []
    rows = [("theorem", "group" if args.self_check else "method", "result", "time")]
    notes: list[str] = []
    if args.self_check:
        ok = True
        for group, name, check in broken():
            if group not in groups:
                continue
            t0 = time.perf_counter()
            verdict = check()
            dt = time.perf_counter() - t0
            rejected = not verdict.proved and verdict.counterexample is not None
            ok &= rejected
            rows.append((f"[broken] {name}", group, "rejected" if rejected else "NOT REJECTED", f"{dt * 1000:.0f} ms"))
            notes.append(f"{name}: {verdict}")
        total, good = len(rows) - 1, sum(r[2] == "rejected" for r in rows[1:])
        summary = f"{good}/{total} broken variants rejected with a counterexample"
    else:
        results = check_all(theorems(groups))
        ok = all(r.verdict.proved for r in results)
        for r in results:
            rows.append((r.theorem.name, r.theorem.method, "proved" if r.verdict.proved else "FAILED",
                         f"{r.seconds * 1000:.0f} ms"))
            if args.verbose or not r.verdict.proved:
                notes.append(f"{r.theorem.name}: {r.verdict}")
        summary = f"{sum(r.verdict.proved for r in results)}/{len(results)} theorems proved"
    _table(rows, lines)
    lines.append("")
    lines.append(f"{summary} in {time.perf_counter() - start:.2f} s")
    if notes:  # failures always; every verdict with -v or --self-check
        lines.append("")
        lines += notes
    try:
        print("\n".join(lines), flush=True)  # a closed pipe (``| head``) shows here, not in the flush at exit
    except BrokenPipeError:
        from cam.__main__ import quiet_broken_pipe

        if not quiet_broken_pipe():
            raise
        return 1  # as `cam` does: the table was not read
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
