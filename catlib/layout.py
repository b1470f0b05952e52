"""A layered layout of a diagram's graph, for drawing it without Graphviz (`catlib.render`'s fallback).

Nodes go in layers along the flow of the wires (``back`` edges ignored), and
each cluster's nodes stay together within a layer.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import networkx as nx

__all__ = ["layered_layout"]


def layered_layout(g: nx.Graph) -> dict[Hashable, tuple[float, float]]:
    """Positions in layers: (layer, place in layer), following the flow, ignoring ``back`` edges.

    Layers are topological generations.  Each cluster gets a horizontal band
    of its own (its nodes' rows, then its sub-clusters' bands), so clusters
    never overlap; a cluster's nodes in layers its sub-clusters do not reach
    (a case's entry and exit, the inputs and outputs) are centred in its band.
    Within a band a layer's nodes are sorted by the mean place of their
    predecessors, so wires cross little.
    """
    flow = nx.DiGraph()
    flow.add_nodes_from(g.nodes)
    flow.add_edges_from((u, v) for u, v, a in g.edges(data=True) if not a.get("back"))
    if nx.is_directed_acyclic_graph(flow):
        layers = [list(x) for x in nx.topological_generations(flow)]
    else:  # cannot happen for our graphs; still lay out something sensible
        layers = [list(g.nodes)]
    index = {n: i for i, n in enumerate(g.nodes)}
    clusters: dict[Any, dict[str, Any]] = g.graph.get("clusters", {})
    layer_of = {n: li for li, layer in enumerate(layers) for n in layer}
    kids: dict[Any, list[Any]] = {}
    for c in sorted(clusters):
        kids.setdefault(clusters[c].get("parent"), []).append(c)
    # the layers each cluster spans (with its sub-clusters): a cluster's own nodes in a layer
    # that none of its sub-clusters reaches (a case's entry and exit) are centred in its band
    span: dict[Any, tuple[int, int]] = {}
    for n in g.nodes:
        c = g.nodes[n].get("cluster")
        while c is not None:
            lo, hi = span.get(c, (layer_of[n], layer_of[n]))
            span[c] = (min(lo, layer_of[n]), max(hi, layer_of[n]))
            c = clusters[c].get("parent")
    free: dict[Any, set[int]] = {}
    for c in [None, *clusters]:
        busy = {li for k in kids.get(c, []) if k in span for li in range(span[k][0], span[k][1] + 1)}
        free[c] = set(range(len(layers))) - busy
    # each cluster gets a horizontal band: rows for its own nodes beside its sub-clusters, then
    # its sub-clusters' bands (clusters are numbered after their parents, so one pass each way)
    rows: dict[Any, dict[int, int]] = {}
    for n in g.nodes:
        c = g.nodes[n].get("cluster")
        if layer_of[n] not in free[c] or not kids.get(c):
            per = rows.setdefault(c, {})
            per[layer_of[n]] = per.get(layer_of[n], 0) + 1
    own = {c: max(rows.get(c, {}).values(), default=0) for c in [None, *clusters]}
    gap = 0.7
    height = dict.fromkeys(own, 0.0)
    for c in [*sorted(clusters, reverse=True), None]:
        sub = sum(height[k] + gap for k in kids.get(c, [])) - (gap if kids.get(c) else 0.0)
        height[c] = max(own[c] + (gap if own[c] and sub else 0.0) + sub, 1.0)
    offset: dict[Any, float] = {None: 0.0}
    for c in [None, *sorted(clusters)]:
        row = offset[c] + own[c] + (gap if own[c] else 0.0)
        for k in kids.get(c, []):
            offset[k] = row
            row += height[k] + gap
    place: dict[Hashable, float] = {}
    for layer in layers:
        def key(n: Hashable) -> tuple[float, int]:
            preds = [place[p] for p in flow.predecessors(n) if p in place]
            return (sum(preds) / len(preds) if preds else float(index[n]), index[n])

        groups: dict[Any, list[Hashable]] = {}
        for n in layer:
            groups.setdefault(g.nodes[n].get("cluster"), []).append(n)
        for c, group in groups.items():
            li = layer_of[group[0]]
            centred = li in free[c] and bool(kids.get(c))
            top = offset[c] + ((height[c] - len(group)) / 2 if centred else 0.0)
            for i, n in enumerate(sorted(group, key=key)):
                place[n] = top + i
    return {n: (float(layer_of[n]), place[n]) for n in g.nodes}
