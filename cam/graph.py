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
from catlib.repeats import run_pieces

__all__ = ["bytecode"]


def _label(i: Instr) -> str:
    return i.op if i.op in ("BRANCH", "CURRY") else to_text(i)


def _kind(i: Instr) -> str:
    return {"BRANCH": "control", "CURRY": "control", "RETURN": "return"}.get(i.op, "instr")


def bytecode(code: Code, limit: int | None = None) -> nx.DiGraph:
    """The graph of `code` (see the module docstring); nodes are numbered in text order.

    With a `limit`, a graph of more than `limit` nodes comes folded as `catlib.repeats.fold_runs` folds it
    (``fold_runs(bytecode(code), limit)``, the same nodes, numbers and edges), but the instructions folded away
    are never made into nodes: a code of a million instructions is drawn without a graph of a million nodes.

    >>> from cam.text import parse_code
    >>> g = bytecode(parse_code("[" + ",".join(["COPY", "ADD"] * 300) + "]"), limit=400)
    >>> [g.nodes[n]["label"] for n in g]
    ['start', '×300\\nCOPY\\nADD', 'stop']
    """
    if not isinstance(code, Code):
        raise TypeError(f"bytecode() takes cam.code.Code, not {type(code).__name__}")
    fold = limit is not None and _count_nodes(code) > limit
    labels: dict[Instr, str] = {}  # instructions recur (a run of COPY, ADD): each label is made once
    g = nx.DiGraph(rankdir="TB", clusters={}, title="bytecode")
    g.add_node(0, kind="terminal", label="start", cluster=None)
    number = 1  # a node's number is its place in text order, folded-away instructions counted
    stop = -1  # numbered last, once every instruction has its number
    # work items: (block, cluster, node the block follows, edge label into it, continuation)
    todo: list[tuple[Code, int | None, int, str, int | None]] = [(code, None, 0, "", stop)]
    pending: list[tuple[int, int | None]] = []  # (return node, continuation) resolved at the end
    fallthrough: list[int] = []  # last nodes of the top-level block
    while todo:
        block, cluster, entry, how, cont = todo.pop()
        folded = _folded(block, labels) if fold else {}
        nodes: list[tuple[int, Instr | None]] = []
        skip = 0
        for k, ins in enumerate(block):
            n, number = number, number + 1
            if skip:
                skip -= 1
                continue
            if k in folded:
                size, label = folded[k]
                g.add_node(n, kind="instr", label=label, cluster=cluster, op=ins.op, folded=size)
                skip = size - 1
            else:
                label = labels.get(ins) or labels.setdefault(ins, _label(ins))
                g.add_node(n, kind=_kind(ins), label=label, cluster=cluster, op=ins.op)
            nodes.append((n, ins))
        if not nodes:
            n, number = number, number + 1
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
    last = number
    g.add_node(last, kind="terminal", label="stop", cluster=None)
    for n in fallthrough:
        g.add_edge(n, last, label="", kind="next")
    for n, cont in pending:
        if cont is not None:
            g.add_edge(n, last if cont == stop else cont, label="return", kind="return", dot={"style": "dashed"})
    return g


def _count_nodes(code: Code) -> int:
    """How many nodes `bytecode(code)` has unfolded: start, stop, every instruction, one per empty block."""
    total, todo = 2, [code]
    while todo:
        block = todo.pop()
        total += len(block) or 1
        todo += [kid for ins in block if ins.op in ("BRANCH", "CURRY") for kid in ins.kids]
    return total


def _folded(block: Code, labels: dict[Instr, str]) -> dict[int, tuple[int, str]]:
    """Where `fold_runs` folds this block's straight runs of plain instructions: the first index of each folded
    stretch -> (how many instructions it stands for, its label)."""
    out: dict[int, tuple[int, str]] = {}
    run: list[int] = []
    for k in range(len(block) + 1):
        if k < len(block) and _kind(block[k]) == "instr":
            run.append(k)
            continue
        if run:
            texts = [labels.get(block[i]) or labels.setdefault(block[i], _label(block[i])) for i in run]
            for first, last, label in run_pieces(texts):
                out[run[first]] = (last - first + 1, label)
            run = []
    return out
