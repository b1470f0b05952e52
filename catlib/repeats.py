"""Big pictures made readable: repeated blocks and long runs drawn as one node.

`tandem_repeats` finds blocks that come back several times in a row in a
sequence (a loop unrolled by hand); `catlib.folding` uses it on chains of
compositions, `fold_runs` on straight runs of bytecode instructions
(`cam.graph`), where it also shortens long runs that do not repeat.
`prune_tree` keeps the top of a big syntax tree (`catlib.graph.syntax_tree`)
and ends each branch it cuts in a node that says how much is hidden.

>>> tandem_repeats(list("xabababy"), min_cover=4)
[(1, 2, 3)]

Graphs at most `RUN_LIMIT` nodes big are left as they are.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import networkx as nx
import numpy as np

__all__ = ["tandem_repeats", "run_pieces", "fold_runs", "prune_tree", "RUN_LIMIT", "MAX_PERIOD"]

RUN_LIMIT = 400
"""`fold_runs` and `prune_tree` leave graphs of at most this many nodes as they are."""

MAX_PERIOD = 64
"""The longest block looked for as a repeat."""


def tandem_repeats(keys: Sequence[Hashable], weights: Sequence[int] | None = None, min_cover: int = 2,
                   max_period: int = MAX_PERIOD) -> list[tuple[int, int, int]]:
    """Non-overlapping ``(start, period, count)``, in order: ``keys[start:start + period]``
    comes `count` ≥ 2 times in a row, covering a total weight of at least `min_cover`
    (each key weighs 1 unless `weights` says otherwise).  Where repeats overlap, the one
    covering the most weight is kept (the shorter period on a tie).

    Time: O(len(keys) × max_period), in numpy.
    """
    n = len(keys)
    ids: dict[Hashable, int] = {}
    k_ = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), dtype=np.int64, count=n)
    prefix = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64), out=prefix[1:])
    found: list[tuple[int, int, int, int]] = []
    for p in range(1, min(max_period, n // 2) + 1):
        # runs of positions k with keys[k] == keys[k + p]: a run of r of them is r + p keys of period p
        same = np.concatenate(([False], k_[:-p] == k_[p:], [False]))
        edges = np.flatnonzero(same[1:] != same[:-1])
        starts, stops = edges[0::2], edges[1::2]
        counts = (stops - starts + p) // p
        keep = counts >= 2
        starts, counts = starts[keep], counts[keep]
        covers = prefix[starts + counts * p] - prefix[starts]
        found += [(int(c), p, int(st), int(m)) for c, st, m in zip(covers, starts, counts) if c >= min_cover]
    taken = [False] * n
    out = []
    for _cover, p, start, count in sorted(found, key=lambda x: (-x[0], x[1], x[2])):
        if not any(taken[start:start + p * count]):
            taken[start:start + p * count] = [True] * (p * count)
            out.append((start, p, count))
    return sorted(out)


def _runs(g: nx.DiGraph, kinds: tuple[str, ...]) -> list[list[Hashable]]:
    """Maximal straight runs: nodes of `kinds` in one cluster, each the only successor of the one before."""
    def link(u: Hashable, v: Hashable) -> bool:
        a, b = g.nodes[u], g.nodes[v]
        return (g.out_degree(u) == 1 and g.in_degree(v) == 1 and a.get("kind") in kinds
                and b.get("kind") in kinds and a.get("cluster") == b.get("cluster"))

    runs = []
    for n in g.nodes:
        if g.nodes[n].get("kind") not in kinds:
            continue
        preds = list(g.predecessors(n))
        if len(preds) == 1 and link(preds[0], n):
            continue  # not the start of a run
        run = [n]
        while True:
            succ = list(g.successors(run[-1]))
            if len(succ) != 1 or not link(run[-1], succ[0]):
                break
            run.append(succ[0])
        runs.append(run)
    return runs


def _summary(labels: Sequence[str], keep: int = 8) -> str:
    if len(labels) <= keep:
        return "\n".join(labels)
    return "\n".join([*labels[:keep - 3], f"… {len(labels) - keep + 2} more …", *labels[-2:]])


def run_pieces(labels: Sequence[str], longest: int = 12, min_cover: int = 12) -> list[tuple[int, int, str]]:
    """How one straight run of nodes with these `labels` is folded (see `fold_runs`): ``(first, last, label)``
    per folded node, in order, with the indices of the first and last node it stands for.

    >>> run_pieces(["GET"] + ["COPY", "ADD"] * 10)
    [(1, 20, '×10\\nCOPY\\nADD')]
    """
    pieces: list[tuple[int, int, str]] = []
    at = 0
    for start, p, count in [*tandem_repeats(labels, min_cover=min_cover), (len(labels), 0, 0)]:
        if start - at > longest:  # the stretch before the repeat does not repeat
            pieces.append((at, start - 1, f"{start - at} instructions\n{_summary(labels[at:start])}"))
        if count:
            pieces.append((start, start + p * count - 1, f"×{count}\n{_summary(labels[start:start + p])}"))
        at = start + p * count
    return pieces


def fold_runs(g: nx.DiGraph, limit: int = RUN_LIMIT, longest: int = 12, min_cover: int = 12,
              kinds: tuple[str, ...] = ("instr",)) -> nx.DiGraph:
    """A copy of `g` with its straight runs of nodes (``kind`` in `kinds`) folded, when `g` has more than
    `limit` nodes: a block repeated in a row (at least `min_cover` nodes in all) becomes one node
    ``×n`` listing the block, and a stretch longer than `longest` that does not repeat becomes one
    node listing its ends.

    >>> g = nx.DiGraph()
    >>> nx.add_path(g, range(600))
    >>> for n in g:
    ...     g.nodes[n].update(kind="instr", label=("COPY", "ADD")[n % 2])
    >>> f = fold_runs(g)
    >>> [f.nodes[n]["label"] for n in f]
    ['×300\\nCOPY\\nADD']
    """
    if g.number_of_nodes() <= limit:
        return g
    f = g.copy()
    for run in _runs(g, kinds):
        labels = [str(g.nodes[n].get("label", "")) for n in run]
        for first, last, label in run_pieces(labels, longest, min_cover):
            keep, gone = run[first], run[first + 1:last + 1]
            for _, v, a in list(f.out_edges(run[last], data=True)):
                f.add_edge(keep, v, **a)
            f.remove_nodes_from(gone)
            f.nodes[keep].update(label=label, kind=g.nodes[keep].get("kind", "instr"), folded=last - first + 1)
    return f


def prune_tree(g: nx.DiGraph, limit: int = RUN_LIMIT, root: Hashable = 0) -> nx.DiGraph:
    """A copy of the tree `g` (edges parent -> child) keeping its first `limit` nodes breadth-first from
    `root`; each subtree cut off ends in one node ``⋯ n nodes``.

    >>> t = nx.balanced_tree(2, 9, create_using=nx.DiGraph)
    >>> p = prune_tree(t, limit=10)
    >>> p.number_of_nodes(), sum(p.nodes[n].get("hidden", 1) for n in p) == t.number_of_nodes()
    (21, True)
    >>> sorted({p.nodes[n]["label"] for n in p if "hidden" in p.nodes[n]})
    ['⋯ 127 nodes', '⋯ 63 nodes']
    """
    if g.number_of_nodes() <= limit:
        return g
    keep: list[Hashable] = [root]
    seen = {root}
    i = 0
    while i < len(keep) and len(keep) < limit:
        for k in g.successors(keep[i]):
            if len(keep) < limit:
                keep.append(k)
                seen.add(k)
        i += 1
    p: nx.DiGraph = g.subgraph(keep).copy()
    fresh = max((n for n in g if isinstance(n, int)), default=0) + 1
    for n in keep:
        for k in g.successors(n):
            if k in seen:
                continue
            hidden = 1 + len(nx.descendants(g, k))
            attrs: dict[str, Any] = {**g.nodes[k], "label": f"⋯ {hidden:,} nodes", "hidden": hidden}
            p.add_node(fresh, **attrs)
            p.add_edge(n, fresh, **g.edges[n, k])
            fresh += 1
    return p
