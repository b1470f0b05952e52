"""Campaigns: the compiled machine against the interpreter on many random well-typed terms.

``python -m cam.check --terms 100000 --seed 1 --jobs 2`` (or ``cam check ...``)
generates terms with ``catlib.strategies.Generator`` -- term `i` from a seed
derived from the campaign seed and `i`, so any term of any campaign can be
rebuilt alone (``--start i --terms 1``) -- and checks, for each, with random
input ``x`` and state ``s`` of the right types::

    (quote(s'), quote(y)) == machine.step(compile(f), quote(x), quote(s))   where (s', y) = step(f, x, s)

(`quote` is `cam.compiler.compile_value`, which also compiles closures: one
term in `cam.trial.FUNCTIONS_EVERY` has function types in its signature.)
Most terms take a faster path to the same verdict, checked against this
one as the campaign runs (`cam.trial`).

It prints terms per second, how often each constructor occurred, and a
histogram of term sizes.  On a disagreement it shrinks the first failing
case -- smaller generator fuel, subterms replaced by smaller ones of the
same type, simpler input and state -- prints that reproducer in text form
and exits with status 1.

Where it runs: chunks of terms (``--chunk``) go to a local process pool
(``--jobs``) or to the workers of a Dask cluster (``--scheduler ADDRESS``;
see `cam.campaign_dist`).  Each chunk runs with the machine set for code
that runs once -- nothing translated, nothing kept decoded -- and the cycle
collector mostly off (`cam.campaign_dist.campaign_settings`).  The report
does not depend on how the work is cut or where it runs, and the first
failure is shrunk where the checks ran.

>>> main(["--terms", "20", "--seed", "7", "--jobs", "1", "--no-progress"])  # doctest: +ELLIPSIS
checked 20 terms (seed 7, max size 16, 1 job) in ... s: ... terms/s; all agree
...
0
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cam import campaign_dist, compiler
from cam.code import to_text
from cam.compiler import compile_value as quote
from cam.trial import FUNCTIONS_EVERY, Disagreement, Trial, disagreement, make_case, on_code, term_seed
from catlib import free
from catlib.free import Add, Case, Compose, Const, Consume, Copy, Distr, Fst, Get, Id, Inl, Inr, Par, Put, Snd, Term
from catlib.strategies import CONSTRUCTORS
from catlib.typecheck import check
from catlib.types import Int, Prod, Sum, Type, Unit
from catlib.values import Left, Right

__all__ = ["main", "Trial", "make_case", "disagreement", "shrink", "term_seed", "run_campaign", "Report",
           "Reproducer", "FUNCTIONS_EVERY", "on_code"]


# ---------------------------------------------------------------- shrinking

_SMALL_TERMS: tuple[Term, ...] = (Id, Consume, Fst, Snd, Inl, Inr, Copy, Get, Put, Add, Distr, Const(0))
"""Replacements tried for any subterm (kept only where the whole term keeps its type)."""


def _replace(term: Term, path: tuple[int, ...], new: Term) -> Term:
    """`term` with the subterm at `path` (child indices) replaced by `new`, without recursion."""
    spine = [term]
    for i in path[:-1]:
        spine.append(spine[-1].kids[i])
    for node, i in zip(reversed(spine), reversed(path)):
        kids = list(node.kids)
        kids[i] = new
        new = type(node)(*kids)
    return new


def _positions(term: Term) -> Iterator[tuple[tuple[int, ...], Term]]:
    todo: list[tuple[tuple[int, ...], Term]] = [((), term)]
    while todo:
        path, t = todo.pop()
        yield path, t
        if isinstance(t, (Compose, Par, Case)):
            todo.extend(((*path, i), k) for i, k in reversed(list(enumerate(t.kids))))


def _smallest(t: Type) -> Any:
    """The simplest host value of ground type `t`."""
    todo: list[Any] = [t]
    out: list[Any] = []
    while todo:  # t's depth is small, but no recursion costs nothing
        x = todo.pop()
        if isinstance(x, tuple):  # ("build", type)
            ty = x[1]
            if isinstance(ty, Prod):
                b, a = out.pop(), out.pop()
                out.append((a, b))
            else:
                out.append(Left(out.pop()))
        elif x == Unit:
            out.append(())
        elif x == Int:
            out.append(0)
        elif isinstance(x, Prod):
            todo += [("build", x), x.kids[1], x.kids[0]]
        elif isinstance(x, Sum):
            todo += [("build", x), x.kids[0]]
        else:
            raise ValueError(f"not a ground type: {x}")
    return out[0]


def _simpler_values(v: Any) -> Iterator[Any]:
    """`v` with one integer moved towards 0 (0, then half way)."""
    leaves: list[tuple[tuple[int, ...], int]] = []
    todo: list[tuple[tuple[int, ...], Any]] = [((), v)]
    while todo:
        path, x = todo.pop()
        if type(x) is int and x != 0:
            leaves.append((path, x))
        elif type(x) is tuple and len(x) == 2:
            todo += [((*path, 1), x[1]), ((*path, 0), x[0])]
        elif isinstance(x, (Left, Right)):
            todo.append(((*path, 0), x.value))
    for path, n in leaves:
        for m in (0, n // 2) if n not in (-1, 1) else (0,):
            yield _set(v, path, m)


def _set(v: Any, path: tuple[int, ...], new: Any) -> Any:
    spine = [v]
    for i in path[:-1]:
        x = spine[-1]
        spine.append(x[i] if type(x) is tuple else x.value)
    for node, i in zip(reversed(spine), reversed(path)):
        if type(node) is tuple:
            new = (new, node[1]) if i == 0 else (node[0], new)
        else:
            new = type(node)(new)
    return new


def shrink(case: Trial, seed: int | None = None, index: int | None = None, max_size: int = 0,
           budget: int = 20_000) -> Trial:
    """A smaller case that still fails, found greedily within `budget` checks.

    Tries, in order: the same generator seed with less fuel (when `seed` and
    `index` are given), each subterm replaced by one of its children or by a
    small primitive -- kept only if the whole term still has the case's
    signature -- and the simplest input and state of their types.
    """
    sig = case.signature
    tries = 0

    def fails(c: Trial) -> bool:
        nonlocal tries
        tries += 1
        return disagreement(c) is not None

    if seed is not None and index is not None:
        for fuel in range(max_size + 1):
            smaller = make_case(seed, index, max_size, fuel)
            if smaller.term.size() < case.term.size() and fails(smaller):
                case = smaller
                break
    improved = True
    while improved and tries < budget:
        improved = False
        size = case.term.size()
        for path, sub in _positions(case.term):
            for new in (*sub.kids, *_SMALL_TERMS):
                if new.size() >= sub.size() or new == sub:
                    continue
                term = _replace(case.term, path, new) if path else new
                if term.size() >= size:
                    continue
                try:
                    check(term, state=sig.state, input=sig.input, output=sig.output)
                except TypeError:
                    continue
                smaller = Trial(term, sig, case.input, case.state)
                if fails(smaller):
                    case, improved = smaller, True
                    break
            if improved or tries >= budget:
                break
        if improved:
            continue
        for field_name, t in (("input", sig.input), ("state", sig.state)):
            current = getattr(case, field_name)
            try:
                simplest: tuple[Any, ...] = (_smallest(t),)
            except ValueError:  # a type holding functions has no simplest value: its closures stay as drawn
                simplest = ()
            for v in (*simplest, *_simpler_values(current)):
                if v == current:
                    continue
                smaller = dataclasses.replace(case, **{field_name: v})
                if fails(smaller):
                    case, improved = smaller, True
                    break
            if improved:
                break
    return case


# ---------------------------------------------------------------- the campaign

@dataclass(frozen=True)
class Reproducer:
    """A campaign's first failing term `index`: the case as generated, shrunk, and what the shrunk one gave.

    `outcome` and `code` (the shrunk term's bytecode, as text) come from the
    worker that shrank it, so a failure seen on one machine only is shown as seen there.
    """

    index: int
    original: Trial
    shrunk: Trial
    outcome: Disagreement
    code: str


@dataclass
class Report:
    """What a campaign (or one chunk of it) saw; `reproducer` when some term failed."""

    terms: int = 0
    occurrences: Counter[str] = field(default_factory=Counter)  # constructor -> nodes
    terms_with: Counter[str] = field(default_factory=Counter)  # constructor -> terms containing it
    sizes: Counter[int] = field(default_factory=Counter)  # size bucket (power of two) -> terms
    failures: list[int] = field(default_factory=list)
    reproducer: Reproducer | None = None

    def add(self, other: Report) -> None:
        self.terms += other.terms
        self.occurrences.update(other.occurrences)
        self.terms_with.update(other.terms_with)
        self.sizes.update(other.sizes)
        self.failures.extend(other.failures)


def _bucket(size: int) -> int:
    return 1 << (size.bit_length() - 1)  # the power of two at or below `size`


def _keys(term: Term) -> list[Any]:
    """One key per node of `term` (an occurrence of a constructor): its class, or its name for a primitive
    (named per chunk).  A list, so that counting it is `Counter`'s loop in C."""
    keys: list[Any] = []
    todo = [term]
    pop, extend, add, prim = todo.pop, todo.extend, keys.append, free.Prim
    while todo:
        t = pop()
        kids = t.kids
        if kids:  # (a node with kids is named by its class)
            add(type(t))
            extend(kids)
        elif type(t) is prim:
            add(t.label)
        else:
            add(type(t))
    return keys


def _check_range(job: tuple[int, int, int, int]) -> Report:
    """Check terms ``start .. stop - 1`` of campaign `seed`: one chunk of work, run on any worker."""
    seed, start, stop, max_size = job
    report = Report(terms=stop - start)
    occurrences, terms_with = Counter[Any](), Counter[Any]()  # by `_keys`' keys
    # counted a batch at a time (`Counter`'s loop in C, one call per batch rather than two per term): every
    # node's key, each term's distinct keys, each term's size
    nodes: list[Any] = []
    kinds: list[Any] = []
    sizes: list[int] = []
    with campaign_dist.campaign_settings():
        for i in range(start, stop):
            case = make_case(seed, i, max_size)
            keys = _keys(case.term)
            nodes += keys
            kinds += set(keys)
            sizes.append(len(keys))
            if disagreement(case, full=on_code(i)) is not None:
                report.failures.append(i)
            if len(nodes) > 100_000 or i == stop - 1:
                occurrences.update(nodes)
                terms_with.update(kinds)
                report.sizes.update(map(_bucket, sizes))
                nodes, kinds, sizes = [], [], []
    report.occurrences, report.terms_with = (Counter({k if type(k) is str else k.__name__: n for k, n in c.items()})
                                             for c in (occurrences, terms_with))
    return report


def _reproduce(seed: int, index: int, max_size: int) -> Reproducer:
    """Term `index` of campaign `seed`, generated again and shrunk (on a worker, like the checks)."""
    with campaign_dist.campaign_settings():
        original = make_case(seed, index, max_size)
        small = shrink(original, seed, index, max_size)
        outcome = disagreement(small)
        if outcome is None:  # pragma: no cover - only a nondeterministic machine or interpreter gets here
            outcome = Disagreement("(agrees when run again)", "(agrees when run again)")
        try:
            code = to_text(compiler.compile(small.term))
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            code = f"(compile raised {type(e).__name__}: {e})"
        return Reproducer(index, original, small, outcome, code)


def run_campaign(terms: int, seed: int, jobs: int = 1, max_size: int = 16, start: int = 0,
                 progress: bool | None = None, *, chunk: int | None = None, scheduler: str | None = None,
                 reproduce: bool = True) -> Report:
    """Check terms ``start .. start + terms - 1`` of campaign `seed`, in chunks of `chunk` terms.

    The chunks run on `jobs` local processes, or on the workers of the Dask
    scheduler at address `scheduler` (``--jobs`` is then ignored); term `i`
    depends only on `seed` and `i`, so the report is the same however the
    work is cut and wherever it runs.  When a term fails and `reproduce`
    is true, the first failing one is shrunk on a worker as well
    (`Report.reproducer`).  `progress`: a tqdm bar on stderr (None: only
    when stderr is a terminal).  Raises `ClusterUnavailable` when Dask is
    missing or its scheduler cannot be reached.
    """
    executor: campaign_dist.Executor
    if scheduler is not None:
        executor = campaign_dist.DaskCluster(scheduler)
    elif jobs > 1:
        executor = campaign_dist.ProcessPool(jobs, initializer=campaign_dist.fresh_worker)
    else:
        executor = campaign_dist.InProcess()
    in_process = isinstance(executor, campaign_dist.InProcess)
    held = campaign_dist.campaign_settings() if in_process else contextlib.nullcontext()  # once, not per chunk
    with executor, held:
        if chunk is None:  # several chunks per worker, so that they end together; small enough for the bar
            chunk = max(1, min(250, terms // (executor.workers * 8) if executor.workers > 1 else 250))
        work = [(seed, a, min(a + chunk, start + terms), max_size) for a in range(start, start + terms, chunk)]
        report = Report()
        with _bar(terms, progress) as bar:
            for part in executor.imap_unordered(_check_range, work):
                report.add(part)
                bar.update(part.terms)
                if part.failures:
                    bar.set_postfix(failures=len(report.failures))
        report.failures.sort()
        if report.failures and reproduce:
            report.reproducer = executor.call(_reproduce, seed, report.failures[0], max_size)
    return report


class _NoBar:
    """What `_bar` gives when no bar is shown."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def set_postfix(self, **values: Any) -> None:
        pass


def _bar(terms: int, progress: bool | None) -> Any:
    """A tqdm bar on stderr for `terms` terms, shown when `progress` (None: when stderr is a terminal, as
    tqdm's ``disable=None``); tqdm is imported only then (its import is a tenth of a short campaign)."""
    if not (sys.stderr.isatty() if progress is None else progress):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=terms, unit="term", file=sys.stderr, smoothing=0.05)


def _histogram(report: Report, width: int = 40) -> list[str]:
    if not report.sizes:
        return []
    top = max(report.sizes.values())
    lines = []
    for b in sorted(report.sizes):
        label = f"{b}" if b == 1 else f"{b}-{2 * b - 1}"
        n = report.sizes[b]
        lines.append(f"  {label:>9} nodes {n:>8}  {'#' * max(1, round(width * n / top))}")
    return lines


def _coverage(report: Report) -> list[str]:
    lines = []
    for op in CONSTRUCTORS:
        if op == "Embed":
            continue
        n, t = report.occurrences[op], report.terms_with[op]
        share = 100 * t / report.terms if report.terms else 0
        lines.append(f"  {op:<8} {n:>10} nodes in {t:>8} terms ({share:5.1f}%)" + ("   <- never generated" if not n
                                                                                     else ""))
    return lines


def _reproducer(r: Reproducer, seed: int, max_size: int) -> list[str]:
    case = r.shrunk
    return [
        f"minimal reproducer (term {r.index} of seed {seed}, shrunk from {r.original.term.size()} to "
        f"{case.term.size()} nodes):",
        f"  term:        {case.term!r}",
        f"  signature:   {case.signature}",
        f"  code:        {r.code}",
        f"  input:       {to_text(quote(case.input))}",
        f"  state:       {to_text(quote(case.state))}",
        f"  interpreter: {r.outcome.expected}",
        f"  machine:     {r.outcome.got}",
        f"  unshrunk:    python -m cam.check --terms 1 --seed {seed} --start {r.index} --max-size {max_size} --jobs 1",
    ]


def main(argv: list[str] | None = None) -> int:
    """``cam check``: run a campaign; 0 when every term agrees, 1 otherwise."""
    p = argparse.ArgumentParser(prog="cam check", description=__doc__.split("\n\n")[0])
    p.add_argument("--terms", type=int, default=10_000, help="how many terms to check (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--max-size", type=int, default=16, help="generator fuel: rules per term, at most (default 16)")
    p.add_argument("--start", type=int, default=0, help="index of the first term (to rerun one term)")
    p.add_argument("--chunk", type=int, default=None, help="terms per unit of work (default: automatic)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786; needs the "
                        "optional extra: pip install 'hotswap-cat[cluster]'); --jobs is then ignored")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show the bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show the bar")
    args = p.parse_args(argv)
    chunk_ok = args.chunk is None or args.chunk >= 1  # None: automatic; 0 was let through as "automatic" too
    if args.terms < 0 or args.jobs < 1 or args.max_size < 0 or args.start < 0 or not chunk_ok:
        p.error("--terms, --max-size and --start must be >= 0, --jobs and --chunk >= 1")

    t0 = time.perf_counter()
    try:
        report = run_campaign(args.terms, args.seed, args.jobs, args.max_size, args.start, args.progress,
                              chunk=args.chunk, scheduler=args.scheduler)
    except campaign_dist.ClusterUnavailable as e:
        print(f"cam check: error: {e}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    rate = report.terms / seconds if seconds > 0 else float("inf")
    verdict = "all agree" if not report.failures else f"{len(report.failures)} DISAGREE"
    where = (f"Dask at {args.scheduler}" if args.scheduler is not None
             else f"{args.jobs} job{'s' if args.jobs != 1 else ''}")
    print(f"checked {report.terms} terms (seed {args.seed}, max size {args.max_size}, {where}) "
          f"in {seconds:.2f} s: {rate:,.0f} terms/s; {verdict}")
    print("constructors:")
    print("\n".join(_coverage(report)))
    print("term sizes:")
    print("\n".join(_histogram(report)))
    if not report.failures:
        return 0
    index = report.failures[0]
    shown = ", ".join(map(str, report.failures[:10])) + (" ..." if len(report.failures) > 10 else "")
    print(f"FAILED: machine and interpreter disagree on terms {shown}")
    assert report.reproducer is not None and report.reproducer.index == index
    print("\n".join(_reproducer(report.reproducer, args.seed, args.max_size)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
