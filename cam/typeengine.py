"""Types as a union-find graph: unification, infinite types, printing, conversion to `catlib.types`.

The bytecode verifier (`cam.verifier`) unifies types on this graph rather
than on `catlib.types` trees: code such as sixty-four ``COPY`` builds a type
whose tree has 2**64 leaves, and a tree-walking occurs check or printer would
never finish.  The graph handles sharing in near-linear time (Huet's
unification); cycles are found afterwards (`TypeGraph.acyclic`), and types are
converted to `catlib.types` only when finite and no larger than a bound.

>>> g = TypeGraph(100)
>>> a, b = Node(VAR), Node(VAR)
>>> g.unify(Node(PROD, a, INT_NODE), Node(PROD, UNIT_NODE, b), None)
>>> [str(t) for t in g.to_types([a, b], ["a", "b"])]
['()', 'Int']
>>> show([Node(FUN, Node(SUM, a, b), a)])
['Either () Int -> ()']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catlib import types as T

__all__ = ["Node", "VAR", "UNIT", "INT", "PROD", "SUM", "FUN", "RIGID", "UNIT_NODE", "INT_NODE", "find", "Clash",
           "show", "TypeGraph"]

VAR, UNIT, INT, PROD, SUM, FUN, RIGID = range(7)


class Node:
    """A type node: a variable (bound through `up`), a base type or a constructor.

    `last` records, on a class's root, the latest union into it (for
    locating infinite types).
    """

    __slots__ = ("tag", "a", "b", "up", "last")
    tag: int
    a: Any
    b: Any
    up: Node | None
    last: tuple[int, Any] | None

    def __init__(self, tag: int, a: Any = None, b: Any = None) -> None:
        self.tag, self.a, self.b, self.up, self.last = tag, a, b, None, None


UNIT_NODE = Node(UNIT)
INT_NODE = Node(INT)


def find(n: Node) -> Node:
    root = n
    while root.up is not None:
        root = root.up
    while n.up is not None and n.up is not root:
        n.up, n = root, n.up
    return root


_LEAVE: Any = object()
"""On a traversal's stack: the node below it is left (its kids are all done)."""


class Clash(Exception):
    def __init__(self, x: Node, y: Node) -> None:
        self.x, self.y = x, y


def show(nodes: list[Node], names: dict[Node, str] | None = None, budget: int = 120) -> list[str]:
    """Print types in the seed's notation; variables named a, b, ... in order of appearance.

    Bounded by `budget` characters each, so huge types print quickly; a
    structure met again inside itself (an infinite type) prints as its name
    in `names` if it has one, else as ``...``.
    """
    names = {} if names is None else names
    out = []
    for node in nodes:
        parts: list[str] = []
        length = 0
        inside: set[Node] = set()
        todo: list[Any] = [(node, 0)]  # (node, context): 0 plain, 1 Either argument, 2 function domain
        while todo:
            if length > budget:
                parts.append("...")
                break
            item = todo.pop()
            if isinstance(item, str):
                parts.append(item)
                length += len(item)
                continue
            if isinstance(item, Node):  # leaving a structure
                inside.discard(item)
                continue
            n, ctx = item
            n = find(n)
            tag = n.tag
            if tag == VAR:
                if n not in names:
                    k = len(names)
                    names[n] = chr(ord("a") + k % 26) + (str(k // 26) if k >= 26 else "")
                s = names[n]
            elif tag == RIGID:
                s = n.a
            elif tag == UNIT:
                s = "()"
            elif tag == INT:
                s = "Int"
            elif n in inside or (n in names and (n is not find(node) or parts)):
                s = names.get(n, "...")
            else:
                inside.add(n)
                todo.append(n)
                wrap = (tag == SUM and ctx == 1) or (tag == FUN and ctx > 0)
                if wrap:
                    todo.append(")")
                if tag == PROD:
                    todo += [")", (n.b, 0), ", ", (n.a, 0), "("]
                elif tag == SUM:
                    todo += [(n.b, 1), " ", (n.a, 1), "Either "]
                else:
                    todo += [(n.b, 0), " -> ", (n.a, 2)]
                if wrap:
                    todo.append("(")
                continue
            parts.append(s)
            length += len(s)
        out.append("".join(parts))
    return out


class TypeGraph:
    """Unification on `Node`\\ s, with a record of merged structures for `acyclic`.

    `error(where, expected, found, reason, op)` makes the exception raised for an
    infinite or too large type (`where` is a linked path, or None); a
    subclass makes it the error of its domain.
    """

    def __init__(self, max_type_size: int) -> None:
        self.max_type_size = max_type_size
        self.seq = 0
        self.merged: list[Node] = []  # structure nodes that unification gave a new parent

    def error(self, where: Any, expected: str, found: str, reason: str, op: str = "") -> Exception:
        """The exception for a type that cannot be accepted (at instruction `op`, if known)."""
        return ValueError(f"{reason}: expected {expected}, found {found}")

    def unify(self, a: Node, b: Node, where: Any) -> None:
        """Make `a` and `b` equal, or raise `Clash` and leave both as they were.

        Union-find on all nodes (Huet): a pair of structures is merged before
        their parts are unified, so shared and even cyclic graphs take
        near-linear time.  Cycles are found later, by `acyclic`.  Every change
        (unions and path compression) goes on a trail, so that a failed
        unification can be undone: error messages show the types as they were.
        """
        todo = [(a, b)]
        trail: list[tuple[Node, Node | None]] = []
        try:
            while todo:
                x, y = todo.pop()
                if x.up is not None:
                    x = self.find_undoably(x, trail)
                if y.up is not None:
                    y = self.find_undoably(y, trail)
                if x is y:
                    continue
                if x.tag == VAR or y.tag == VAR:
                    if x.tag != VAR:
                        x, y = y, x
                    x.up = y
                    trail.append((x, None))
                    if PROD <= y.tag <= FUN:  # a variable inside y may now lead back to y
                        self.seq += 1
                        y.last = (self.seq, where)
                        self.merged.append(y)
                    continue
                if x.tag != y.tag or x.tag == RIGID:
                    raise Clash(x, y)
                if x.a is None:
                    continue
                x.up = y
                trail.append((x, None))
                self.seq += 1
                y.last = (self.seq, where)
                self.merged.append(y)
                todo.append((x.b, y.b))
                todo.append((x.a, y.a))
        except Clash:
            for n, up in reversed(trail):
                n.up = up
            raise

    @staticmethod
    def find_undoably(n: Node, trail: list[tuple[Node, Node | None]]) -> Node:
        """`find`, recording the path compression on `trail`."""
        root = n
        while root.up is not None:
            root = root.up
        while n.up is not None and n.up is not root:
            trail.append((n, n.up))
            n.up, n = root, n.up
        return root

    def from_type(self, t: T.Type, names: dict[str, Node], rigid: bool) -> Node:
        """A catlib type as a graph; its variables are `names` (rigid: declared, must stay general)."""
        out: list[Node] = []
        todo: list[tuple[T.Type, bool]] = [(t, False)]
        while todo:
            n, ready = todo.pop()
            if isinstance(n, T.Var):
                if n.name not in names:
                    names[n.name] = Node(RIGID, n.name) if rigid else Node(VAR)
                out.append(names[n.name])
            elif not n.kids:
                out.append(UNIT_NODE if n == T.Unit else INT_NODE)
            elif not ready:
                todo.append((n, True))
                todo.extend((k, False) for k in reversed(n.kids))
            else:
                b = out.pop()
                a = out.pop()
                out.append(Node(PROD if isinstance(n, T.Prod) else SUM if isinstance(n, T.Sum) else FUN, a, b))
        return out[0]

    def acyclic(self) -> None:
        """Reject infinite types: every cycle passes through a node that unification merged.

        (Code typed with infinite types could loop: self-application needs ``z = z -> r``.)
        """
        done: set[Node] = set()
        onpath: set[Node] = set()
        for start in self.merged:
            start = find(start)
            if start in done:
                continue
            todo: list[Any] = [start]  # a node to visit, or `_LEAVE` above a node whose kids are all visited
            while todo:
                n = todo.pop()
                if n is _LEAVE:
                    n = todo.pop()
                    onpath.discard(n)
                    done.add(n)
                    continue
                if n in done:
                    continue
                onpath.add(n)
                todo += (n, _LEAVE)
                if PROD <= n.tag <= FUN:
                    # (`find` called only where there is a link to follow: most kids are roots already)
                    b, a = n.b, n.a
                    if b.up is not None:
                        b = find(b)
                    if a.up is not None:
                        a = find(a)
                    for k in (b, a):
                        if k in onpath:
                            self.infinite(n, k)
                        if k not in done:
                            todo.append(k)
        self.merged.clear()

    def to_types(self, nodes: list[Node], what: list[str], keep: Iterable[str] = ()) -> list[T.Type]:
        """Catlib types of acyclic `nodes`; an `error` if one is larger than `max_type_size`.

        Variables are named a, b, c, ... in order of appearance, avoiding the rigid names in `keep`,
        exactly as `catlib.types.rename` would (without walking the types as trees).
        """
        done: dict[Node, T.Type] = {}
        taken = set(keep)
        count = 0
        size: dict[Node, int] = {}
        results = []
        classes = {PROD: T.Prod, SUM: T.Sum, FUN: T.Fun}
        # One walk per type, left to right, a node visited at its first appearance (a shared part once): a
        # variable is named when first met, which is the order of first appearance (one walk instead of a naming
        # walk before a building one).  (`find` is called only where there is a link to follow.)
        for node, name in zip(nodes, what):
            todo: list[Any] = [find(node)]  # a node, or `_LEAVE` above a node and its two kids' roots
            while todo:
                n = todo.pop()
                if n is _LEAVE:
                    n, a, b = todo.pop()
                    size[n] = k = 1 + size[a] + size[b]
                    if k > self.max_type_size:
                        raise self.error(None, f"{name} types of at most {self.max_type_size} nodes",
                                         f"one of {k} or more: {show([n])[0]}", "type too large")
                    done[n] = classes[n.tag](done[a], done[b])
                    continue
                if n in done:
                    continue
                tag = n.tag
                if not PROD <= tag <= FUN:
                    if tag == VAR:
                        while True:
                            var = chr(ord("a") + count % 26) + (str(count // 26) if count >= 26 else "")
                            count += 1
                            if var not in taken:
                                break
                        done[n] = T.Var(var)
                    else:
                        done[n] = T.Var(n.a) if tag == RIGID else T.Unit if tag == UNIT else T.Int
                    size[n] = 1
                    continue
                a, b = n.a, n.b
                if a.up is not None:
                    a = find(a)
                if b.up is not None:
                    b = find(b)
                todo += ((n, a, b), _LEAVE)
                if b not in done:
                    todo.append(b)
                if a not in done:
                    todo.append(a)
            results.append(done[find(node)])
        return results

    def infinite(self, n: Node, k: Node) -> None:
        """Report the cycle through `n` and `k` at the latest unification that merged either."""
        lasts = [x.last for x in (n, k) if x.last is not None]
        where = max(lasts, key=lambda w: w[0])[1] if lasts else None
        names: dict[Node, str] = {k: "t"}
        raise self.error(where, "a finite type", f"t = {show([k], names)[0]}", "infinite type")

