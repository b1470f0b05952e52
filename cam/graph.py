"""CAM bytecode as a networkx graph: instructions in order, blocks as sub-graphs.

Each instruction occurrence is a node (``kind`` ``instr``; ``control`` for
``BRANCH`` and ``CURRY``; ``return`` for ``RETURN``), linked to the next one
by a ``next`` edge.  A ``BRANCH`` has an edge labelled ``L`` and one
labelled ``R`` into its two blocks, each a cluster; a ``RETURN`` in a block
has a dashed edge to where the machine resumes (the instruction after the
``BRANCH``).  A ``CURRY``'s body is a cluster reached by a ``body`` edge.
`catlib.render` draws it (``catlib render MODULE:NAME --view bytecode``).

>>> from cam.text import parse_code
>>> g = bytecode(parse_code("[ID,BRANCH [GET,INR,RETURN] [QUOTE (Int 1),RETURN]]"))
>>> [g.nodes[n]["label"] for n in g]
['start', 'ID', 'BRANCH', 'GET', 'INR', 'RETURN', 'QUOTE (Int 1)', 'RETURN', 'stop']
>>> sorted((g.nodes[u]["label"], g.nodes[v]["label"], a["label"]) for u, v, a in g.edges(data=True) if a["label"])
[('BRANCH', 'GET', 'L'), ('BRANCH', 'QUOTE (Int 1)', 'R'), ('RETURN', 'stop', 'return'), ('RETURN', 'stop', 'return')]

Iterative: code nested to any depth has a graph.
"""

from __future__ import annotations

import networkx as nx

from cam.code import Code, Instr, to_text

__all__ = ["bytecode"]


def _label(i: Instr) -> str:
    return i.op if i.op in ("BRANCH", "CURRY") else to_text(i)


def _kind(i: Instr) -> str:
    return {"BRANCH": "control", "CURRY": "control", "RETURN": "return"}.get(i.op, "instr")


def bytecode(code: Code) -> nx.DiGraph:
    """The graph of `code` (see the module docstring); nodes are numbered in text order."""
    if not isinstance(code, Code):
        raise TypeError(f"bytecode() takes cam.code.Code, not {type(code).__name__}")
    g = nx.DiGraph(rankdir="TB", clusters={}, title="bytecode")
    g.add_node(0, kind="terminal", label="start", cluster=None)
    stop = -1  # numbered last, once every instruction has its number
    # work items: (block, cluster, node the block follows, edge label into it, continuation)
    todo: list[tuple[Code, int | None, int, str, int | None]] = [(code, None, 0, "", stop)]
    pending: list[tuple[int, int | None]] = []  # (return node, continuation) resolved at the end
    fallthrough: list[int] = []  # last nodes of the top-level block
    while todo:
        block, cluster, entry, how, cont = todo.pop()
        nodes: list[tuple[int, Instr | None]] = []
        for ins in block:
            n = g.number_of_nodes()
            g.add_node(n, kind=_kind(ins), label=_label(ins), cluster=cluster, op=ins.op)
            nodes.append((n, ins))
        if not nodes:
            n = g.number_of_nodes()
            g.add_node(n, kind="terminal", label="(empty)", cluster=cluster)
            nodes.append((n, None))
        g.add_edge(entry, nodes[0][0], label=how, kind="body" if how == "body" else "next")
        later: list[tuple[Code, int | None, int, str, int | None]] = []
        for k, (n, instr) in enumerate(nodes):
            after = nodes[k + 1][0] if k + 1 < len(nodes) else cont
            if instr is None:
                if cluster is None:
                    fallthrough.append(n)
                continue
            if instr.op == "RETURN":
                pending.append((n, cont if cluster is not None else None))
                continue
            if instr.op == "BRANCH":  # no fall-through: the machine resumes after it through a RETURN
                blocks = []
                for side, blk in zip("LR", instr.kids):
                    cid = len(g.graph["clusters"])
                    g.graph["clusters"][cid] = {"label": f"on {side}", "parent": cluster, "kind": "block"}
                    blocks.append((blk, cid, n, side, after))
                later += blocks
                continue
            if k + 1 < len(nodes):
                g.add_edge(n, nodes[k + 1][0], label="", kind="next")
            elif cluster is None:
                fallthrough.append(n)
            if instr.op == "CURRY":
                cid = len(g.graph["clusters"])
                g.graph["clusters"][cid] = {"label": "closure body", "parent": cluster, "kind": "block"}
                later.append((instr.kids[0], cid, n, "body", None))
        todo.extend(reversed(later))
    last = g.number_of_nodes()
    g.add_node(last, kind="terminal", label="stop", cluster=None)
    for n in fallthrough:
        g.add_edge(n, last, label="", kind="next")
    for n, cont in pending:
        if cont is not None:
            g.add_edge(n, last if cont == stop else cont, label="return", kind="return", dot={"style": "dashed"})
    return g
