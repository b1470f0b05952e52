"""Immutable trees with cached hashes and stack-safe equality.

Types, terms and their folds all need the same three things: structural
equality, hashing, and a bottom-up traversal that does not recurse on the
Python stack (a term of 100,000 nested compositions is normal here).
This module gives them once.

>>> class Leaf(Tree): pass
>>> class Node(Tree): pass
>>> t = Node(Leaf(), Node(Leaf(), Leaf()))
>>> t == Node(Leaf(), Node(Leaf(), Leaf())), t == Node(Leaf(), Leaf())
(True, False)
>>> fold(t, lambda node, kids: 1 + sum(kids))
5
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar, cast

R = TypeVar("R")


class Tree:
    """A node with children `kids` and an optional leaf `label`.

    Subclasses put their own data in `label` (a hashable) so that equality
    and hashing see it.  The hash is computed once, from the children's
    cached hashes, so building a tree of n nodes costs O(n).
    """

    __slots__ = ("kids", "label", "_hash")
    kids: tuple[Any, ...]
    label: Hashable
    _hash: int

    def __init__(self, *kids: Any, label: Hashable = None) -> None:
        set_kids(self, kids)
        set_label(self, label)
        try:  # the kids' cached hashes read directly (a call of `hash` per kid cost as much as the rest),
            # the common arities without a loop
            n = len(kids)
            if n == 2:
                h = hash((type(self).__name__, label, kids[0]._hash, kids[1]._hash))
            elif n == 0:
                h = hash((type(self).__name__, label))
            elif n == 1:
                h = hash((type(self).__name__, label, kids[0]._hash))
            else:
                h = hash((type(self).__name__, label, *[k._hash for k in kids]))
        except AttributeError:  # a kid that is not a tree: the same formula through `hash`
            h = hash((type(self).__name__, label, *(hash(k) for k in kids)))
        set_hash(self, h)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Tree):
            return NotImplemented
        if self._hash != other._hash or type(self) is not type(other):  # most unequal pairs stop here
            return False
        if not self.kids or self.label != other.label:
            return bool(self.label == other.label)
        todo = [(self, other)]
        # Shared subtrees are compared once per pair, and pairs are recorded only for a subtree met again (by the
        # id of its left side): a tree without sharing, the common case, makes no pair key per node.  A pair is
        # compared at most twice, so the work stays linear in the distinct pairs.
        seen: set[int] = set()  # left sides with kids met once
        again: set[tuple[int, int]] = set()  # pairs whose left side was met before
        while todo:
            a, b = todo.pop()
            ak, bk = a.kids, b.kids
            if len(ak) != len(bk):
                return False
            for x, y in zip(ak, bk):
                if x is y:
                    continue
                if type(x) is not type(y) or x._hash != y._hash or x.label != y.label:
                    return False
                if x.kids or y.kids:  # leaves are done (and so need no record)
                    if id(x) in seen:
                        key = (id(x), id(y))
                        if key in again:
                            continue
                        again.add(key)
                    else:
                        seen.add(id(x))
                    todo.append((x, y))
        return True

    def __ne__(self, other: object) -> bool:
        if self is other:
            return False
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Pickling (multiprocessing and Dask campaigns send terms) must not recurse: pickle's own walk of nested
        # kids goes one Python frame per level and a tree a few hundred deep overflows it.  A tree with kids is
        # sent flat (`flatten`), a leaf as its class and label.
        if self.kids:
            return (unflatten, (flatten(self),))
        return (_rebuild, (type(self), (), self.label))

    def __copy__(self) -> Tree:
        return self  # immutable: a copy could only be equal and interchangeable

    def __deepcopy__(self, memo: dict[int, Any]) -> Tree:
        return self  # likewise, and without a walk of the kids (which recursed, one frame per level)

    def __repr__(self) -> str:
        return render(self, _repr_pieces, shared(self))

    def _leaf_repr(self) -> str:
        return f"{type(self).__name__}({self.label!r})"

    def size(self) -> int:
        """The number of nodes (occurrences) in the tree."""
        return sum(1 for _ in walk(self))


# The slots' own setters: what ``object.__setattr__`` does past the immutability guard, without its lookup.
# The hottest constructors (types' and machine values') set the three slots with them directly rather than call
# `Tree.__init__`, computing the same hash: ``hash((type(self).__name__, label, *the kids' _hash))``.
set_kids: Callable[[Tree, tuple[Any, ...]], None] = cast(Any, Tree.__dict__["kids"]).__set__
set_label: Callable[[Tree, Hashable], None] = cast(Any, Tree.__dict__["label"]).__set__
set_hash: Callable[[Tree, int], None] = cast(Any, Tree.__dict__["_hash"]).__set__


def _repr_pieces(x: Tree) -> list[Any]:
    if not x.kids:
        return [x._leaf_repr()]
    return leaves_joined(type(x).__name__ + "(", x.kids, ")", _leaf_repr)


def _leaf_repr(x: Tree) -> str:
    return x._leaf_repr()


def leaves_joined(head: str, kids: Iterable[Tree], tail: str, leaf: Callable[[Tree], str]) -> list[Any]:
    """`head`, `kids` separated by ``", "``, then `tail`, as pieces for `render`: a kid without kids is written
    here, as ``leaf(kid)``, joined to its neighbouring strings (a leaf as an item of its own is most of the items
    `render` expands in a term or a code).

    >>> leaves_joined("P(", [Tree(label=1), Tree(Tree(label=2)), Tree(label=3)], ")", lambda t: str(t.label))
    ['P(1, ', Tree(Tree(2)), ', 3)']
    """
    out: list[Any] = []
    text, sep = head, ""
    for k in kids:
        if k.kids:
            out += (text + sep, k)
            text = ""
        else:
            text += sep + leaf(k)
        sep = ", "
    out.append(text + tail)
    return out


def joined(items: Iterable[Any], separator: str) -> list[Any]:
    """`items` with `separator` between each two: pieces for `render`."""
    out: list[Any] = []
    for item in items:
        if out:
            out.append(separator)
        out.append(item)
    return out


def render(root: Any, pieces: Callable[[Any], list[Any]], once: set[int] | frozenset[int] = frozenset()) -> str:
    """The text of `root`, written left to right from an explicit stack.

    `pieces(item)` gives an item's text as a list of strings and further
    items, which are expanded in turn.  No part's text is copied into its
    parent's, so printing is linear in the output and never recurses: every
    printer of deep trees here (repr, types, CAM text and JSON) is one
    `pieces` function.  An item whose id is in `once` (see `shared`) is
    expanded once, its text reused where it occurs again.

    >>> render((1, (2, 3)), lambda x: [str(x)] if isinstance(x, int) else ["<", *joined(x, " "), ">"])
    '<1 <2 3>>'
    """
    out: list[str] = []
    todo: list[Any] = [root]
    texts: dict[int, str] = {}
    while todo:
        x = todo.pop()
        if type(x) is str:
            out.append(x)
        elif not once:
            todo.extend(reversed(pieces(x)))
        elif type(x) is _Mark:  # the end of an item of `once`: its text, kept
            start, key = x.start, x.key
            texts[key] = text = "".join(out[start:])
            del out[start:]
            out.append(text)
        elif id(x) in once:
            known = texts.get(id(x))
            if known is not None:
                out.append(known)
            else:
                todo.append(_Mark(len(out), id(x)))
                todo.extend(reversed(pieces(x)))
        else:
            todo.extend(reversed(pieces(x)))
    return "".join(out)


class _Mark:
    __slots__ = ("start", "key")

    def __init__(self, start: int, key: int) -> None:
        self.start, self.key = start, key


def shared(tree: Tree) -> set[int]:
    """The ids of the nodes with kids that occur more than once in `tree` (by identity), its distinct nodes
    visited once: where a walk may reuse what it found (see `render`).

    >>> two = Tree(Tree(), label="two")
    >>> shared(Tree(two, two)) == {id(two)}, shared(Tree(two, Tree(Tree(), label="two")))
    (True, set())
    """
    seen: set[int] = set()
    again: set[int] = set()
    todo = [tree]
    while todo:
        for k in todo.pop().kids:
            if k.kids:
                if id(k) in seen:
                    again.add(id(k))
                else:
                    seen.add(id(k))
                    todo.append(k)
    return again


def _rebuild(cls: type[Tree], kids: tuple[Any, ...], label: Hashable) -> Tree:
    new = cls.__new__(cls)
    Tree.__init__(new, *kids, label=label)
    return new


class _Quoted:
    """A kid that is not a tree, in `flatten`'s list (where a class starts a record and an int refers back)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Quoted, (self.value,))


def flatten(tree: Tree) -> tuple[Any, ...]:
    """`tree` as one flat tuple, in post-order, for pickling without recursion (`unflatten` inverts it).

    A node with kids is the record ``class, label, number of kids`` after its kids'; a leaf is itself (pickle
    sends it with its own ``__reduce__``, and a leaf met again as a two-byte reference to the first: a leaf
    has no kids, so nothing nests).  A subtree with kids shared by identity is written once, and where it
    occurs again as the int ``n``: the node of the ``n``-th record back.  A class with kids must be rebuilt
    from its class, label and kids alone, as `Tree.__init__` builds it (every tree here is).

    >>> leaf = Tree(label="x")
    >>> two = Tree(leaf, leaf, label="two")
    >>> [x.__name__ if isinstance(x, type) else x for x in flatten(Tree(two, two, leaf))]
    [Tree('x'), Tree('x'), 'Tree', 'two', 2, 1, Tree('x'), 'Tree', None, 3]
    """
    items: list[Any] = []
    index: dict[int, int] = {}  # a node with kids, by id -> how many records were written before its own
    todo: list[Any] = [tree]  # as in `fold`: `_KIDS_DONE` above a tree means its kids are all written
    pop = todo.pop
    while todo:
        t = pop()
        if t is _KIDS_DONE:
            t = pop()
            index[id(t)] = len(index)
            items += (type(t), t.label, len(t.kids))
        elif isinstance(t, Tree):
            kids = t.kids
            if not kids:
                items.append(t)
                continue
            known = index.get(id(t))
            if known is None:
                todo += (t, _KIDS_DONE, *reversed(kids))
            else:  # met before, and (post-order) written by now
                items.append(len(index) - known)
        else:  # a kid that is not a tree: marked, so that it cannot be read as a class or a reference
            items.append(_Quoted(t))
    return tuple(items)


def unflatten(items: tuple[Any, ...]) -> Tree:
    """The tree `flatten` wrote as `items`, rebuilt without recursion, its shared subtrees shared again.

    >>> t = Tree(Tree(label=1), Tree(Tree(label=2)))
    >>> u = unflatten(flatten(t))
    >>> u == t and hash(u) == hash(t) and u is not t
    True
    """
    init = Tree.__init__
    made: list[Any] = []  # the nodes built from records, in order (what references count back in)
    out: list[Any] = []  # the nodes whose parent is not yet built (as `fold`'s results)
    push, pop = out.append, out.pop
    it = iter(items)
    for x in it:
        if isinstance(x, type):
            label, arity = next(it), next(it)
            node: Tree = x.__new__(x)  # type: ignore[call-overload]  # x is a Tree subclass (a record)
            if arity == 2:  # the common arity, without a list
                right = pop()
                init(node, pop(), right, label=label)
            else:
                kids = out[-arity:]
                del out[-arity:]
                init(node, *kids, label=label)
            made.append(node)
            push(node)
        elif type(x) is int:
            push(made[-x])
        elif type(x) is _Quoted:
            push(x.value)
        else:
            push(x)
    return cast(Tree, out[-1])


def walk(tree: Tree) -> Iterator[Tree]:
    """Every node occurrence, pre-order, left to right, without recursion."""
    todo = [tree]
    while todo:
        t = todo.pop()
        yield t
        todo.extend(reversed(t.kids))


def larger(tree: Tree, most: int) -> bool:
    """Whether `tree` has more than `most` node occurrences (counted up to `most` + 1, without recursion).

    >>> t = Tree(Tree(label="b"), Tree(label="c"), label="a")
    >>> larger(t, 2), larger(t, 3)
    (True, False)
    """
    return next(islice(walk(tree), most, None), None) is not None


Path = tuple[str, ...]


def unlink(link: object) -> Path:
    """Turn a linked path ``(name, parent_link)`` into a tuple, root first.

    Traversals carry links rather than tuples so that a deep tree costs
    O(1) per node, not O(depth).
    """
    names: list[str] = []
    while link is not None:
        name, link = cast(tuple[str, object], link)
        names.append(name)
    return tuple(reversed(names))


def walk_paths(tree: Tree, names: Callable[[Tree], tuple[str, ...]]) -> Iterator[tuple[Path, Tree]]:
    """Every node with its path from the root; `names(t)` names t's children.

    Paths are built on demand (O(depth) each); use `walk` when you do not
    need them all.
    """
    todo: list[tuple[object, Tree]] = [(None, tree)]
    while todo:
        link, t = todo.pop()
        yield unlink(link), t
        todo.extend(reversed([((n, link), k) for n, k in zip(names(t), t.kids)]))


def fold(tree: Tree, combine: Callable[[Tree, list[R]], R]) -> R:
    """Bottom-up fold: `combine(node, results_of_kids)`, iteratively.

    `combine` must be pure: a subtree shared by identity (types built by
    unification share heavily) is folded once and its result reused, so the
    cost is linear in the number of distinct nodes, not in the size of the
    tree they unfold to.
    """
    memo: dict[int, R] = {}
    out: list[R] = []
    todo: list[Any] = [tree]  # trees to fold; `_KIDS_DONE` above a tree: its kids' results end `out`
    while todo:
        t = todo.pop()
        if t is _KIDS_DONE:
            t = todo.pop()
            n = len(t.kids)
            kids = out[-n:]
            del out[-n:]
        else:
            r = memo.get(id(t), _KIDS_DONE)
            if r is not _KIDS_DONE:
                out.append(r)
                continue
            if t.kids:
                todo += (t, _KIDS_DONE)
                todo.extend(reversed(t.kids))  # (no pair per kid: the kids go as they are)
                continue
            kids = []
        memo[id(t)] = result = combine(t, kids)
        out.append(result)
    return out[0]


_KIDS_DONE: Any = object()
