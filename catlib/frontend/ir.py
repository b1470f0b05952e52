"""The frontend's intermediate form: a graph of pure, typed value nodes.

A plain machine is elaborated into one node: the value ``(new_state,
output)`` computed from two leaves, its input (a `VAR`) and its state as
read at the start of the step (`STATE`, lowered to ``Get``).  Everything
in between is pure: arithmetic, pairs, injections, and `CASE`, which
branches on a sum and binds its payload to a variable in each branch.
Variables of the Python source are not nodes: an assignment only names a
node, so a value written once and used twice is one node (`catlib.frontend.lower`
then decides whether to compute it once and keep it, or compute it where
it is used).

Nodes are built through a `Builder`, which gives each its type (in a
`catlib.types.Unifier`) and simplifies as it goes (``fst((a, b))`` is
``a``, constants fold with 64-bit wrap-around).  Their height is bounded
(`MAX_HEIGHT`): every pass over nodes may recurse.

>>> b = Builder()
>>> x = b.var("x", Int)
>>> b.fst(b.pair(x, b.lit(3))) is x, b.prim("Add", b.lit(2**63 - 1), b.lit(1)).label
(True, -9223372036854775808)
"""

from __future__ import annotations

from itertools import count
from typing import Any

from catlib.origin import Origin
from catlib.types import Fun, Int, Prod, Sum, Type, Unifier, Unit
from catlib.values import add64, divmod64, mul64, sub64

__all__ = ["Node", "Builder", "DepthError", "MAX_HEIGHT", "VAR", "STATE", "LIT", "UNIT", "PAIR", "FST", "SND",
           "INL", "INR", "PRIM", "CASE", "TEST", "CURRY", "APPLY", "CMP"]

VAR, STATE, LIT, UNIT, PAIR, FST, SND, INL, INR, PRIM, CASE, TEST, CURRY, APPLY = (
    "var", "state", "lit", "unit", "pair", "fst", "snd", "inl", "inr", "prim", "case", "test", "curry", "apply")
CMP = ("Lt", "Eq")
"""The primitives that answer ``Either () ()``."""

MAX_HEIGHT = 250
"""The deepest node the frontend builds (about what Python's own parser allows for an expression)."""

_ids = count()


class DepthError(ValueError):
    """A node would be deeper than `MAX_HEIGHT` (a long unrolled loop, say)."""


class Node:
    """One value: `kind`, its `kids`, a `label` (the constant, the primitive's name, a case's
    variables), its `type`, its free variables `fv` and whether it is a Python ``bool`` (`test`)."""

    __slots__ = ("kind", "kids", "label", "type", "fv", "height", "test", "serial", "name", "where")
    kind: str
    kids: tuple[Node, ...]
    label: Any
    type: Type
    fv: frozenset[Node]
    height: int
    test: bool
    serial: int
    name: str
    where: Origin | None
    """The source span of the innermost expression that made this node (`catlib.frontend.lower` places
    its term there, so that a type error on the term names the user's line and column)."""

    def __init__(self, kind: str, kids: tuple[Node, ...], label: object, type: Type,
                 fv: frozenset[Node] | None = None, test: bool = False, name: str = "") -> None:
        self.kind, self.kids, self.label, self.type, self.test = kind, kids, label, type, test
        self.serial = next(_ids)  # a stable order for sets of nodes
        self.name = name
        self.where = None
        self.fv = fv if fv is not None else frozenset().union(*(k.fv for k in kids))
        self.height = 1 + max((k.height for k in kids), default=0)
        if self.height > MAX_HEIGHT:
            raise DepthError(f"this builds a value {self.height} levels deep; the frontend stops at {MAX_HEIGHT}")

    def __repr__(self) -> str:
        if self.kind == VAR:
            return self.name
        if self.kind == LIT:
            return str(self.label)
        if self.kind == PRIM:
            return f"{self.label}{self.kids!r}"
        return f"{self.kind}{self.kids!r}" if self.kids else self.kind

    @property
    def branches(self) -> tuple[tuple[Node, Node], ...]:
        """A `CASE`'s ``((left variable, left body), (right variable, right body))``; a `CURRY`'s
        ``((parameter, body),)``."""
        if self.kind == CURRY:
            return ((self.label[0], self.kids[0]),)
        lv, rv = self.label
        return (lv, self.kids[1]), (rv, self.kids[2])


class Builder:
    """Makes nodes, typed in `unifier`, simplifying on the way."""

    def __init__(self, unifier: Unifier | None = None) -> None:
        self.u = unifier or Unifier()
        self._proj: dict[tuple[str, int], Node] = {}
        self._keep: list[Node] = []  # keeps _proj's keys alive
        self.state: Node | None = None

    def var(self, name: str, t: Type | None = None) -> Node:
        """A fresh variable (a parameter, or a case branch's payload)."""
        v = Node(VAR, (), None, t if t is not None else self.u.fresh(), name=name)
        v.fv = frozenset((v,))
        return v

    def state_leaf(self, t: Type) -> Node:
        """The machine's state as read at the start of the step (one node per builder)."""
        if self.state is None:
            self.state = Node(STATE, (), None, t)
        return self.state

    def lit(self, k: int) -> Node:
        return Node(LIT, (), k, Int)

    def unit(self) -> Node:
        return Node(UNIT, (), None, Unit)

    def pair(self, a: Node, b: Node) -> Node:
        if a.kind == FST and b.kind == SND and a.kids[0] is b.kids[0]:
            return a.kids[0]
        return Node(PAIR, (a, b), None, Prod(a.type, b.type))

    def _split(self, p: Node) -> tuple[Type, Type]:
        t = self.u.find(p.type)
        if isinstance(t, Prod):
            return t.kids[0], t.kids[1]
        a, b = self.u.fresh(), self.u.fresh()
        self.u.unify(t, Prod(a, b))
        return a, b

    def fst(self, p: Node) -> Node:
        return self._project(FST, 0, p)

    def snd(self, p: Node) -> Node:
        return self._project(SND, 1, p)

    def _project(self, kind: str, i: int, p: Node) -> Node:
        if p.kind == PAIR:
            return p.kids[i]
        key = (kind, id(p))
        if key not in self._proj:  # one node per projection, so that match rows name the same subject
            self._keep.append(p)
            self._proj[key] = Node(kind, (p,), None, self._split(p)[i])
        return self._proj[key]

    def inj(self, left: bool, a: Node, other: Type | None = None) -> Node:
        o = other if other is not None else self.u.fresh()
        return Node(INL if left else INR, (a,), None, Sum(a.type, o) if left else Sum(o, a.type))

    def truth(self, yes: bool) -> Node:
        """``Left(())`` (true) or ``Right(())`` as a test."""
        n = self.inj(yes, self.unit(), Unit)
        n.test = True
        return n

    def prim(self, op: str, a: Node, b: Node) -> Node:
        """`op` of the pair ``(a, b)`` of integers; folds constants."""
        if a.kind == LIT and b.kind == LIT:
            i, j = a.label, b.label
            if op in CMP:
                return self.truth(i < j if op == "Lt" else i == j)
            if op != "DivMod":
                return self.lit({"Add": add64, "Sub": sub64, "Mul": mul64}[op](i, j))
            folded = divmod64(i, j)
            if not isinstance(folded.value, tuple):
                return self.inj(True, self.unit(), Prod(Int, Int))
            return self.inj(False, self.pair(self.lit(folded.value[0]), self.lit(folded.value[1])), Unit)
        if op in ("Add", "Sub") and b.kind == LIT and b.label == 0:
            return a
        if op in CMP:
            return Node(PRIM, (a, b), op, Sum(Unit, Unit), test=True)
        t = Sum(Unit, Prod(Int, Int)) if op == "DivMod" else Int
        return Node(PRIM, (a, b), op, t)

    def case(self, scrut: Node, lv: Node, lbody: Node, rv: Node, rbody: Node, t: Type) -> Node:
        """Branch on `scrut`: `lbody` with `lv` bound to a left payload, else `rbody` with `rv`."""
        if scrut.kind in (INL, INR) and scrut.kids[0].kind == UNIT:
            # a known truth value: the branch taken (its variable is () and the body cannot use it)
            body, v = (lbody, lv) if scrut.kind == INL else (rbody, rv)
            if v not in body.fv:
                return body
        if _truth(lbody, lv, INL) and _truth(rbody, rv, INR) and self.u.resolve(scrut.type) == Sum(Unit, Unit):
            # x == Left(()) for x : Either () (), or Left(()) if x else Right(()): x itself
            test = lbody.test and rbody.test
            return scrut if scrut.test == test else Node(TEST, (scrut,), None, scrut.type, test=test)
        fv = scrut.fv | (lbody.fv - {lv}) | (rbody.fv - {rv})
        return Node(CASE, (scrut, lbody, rbody), (lv, rv), t, fv=fv,
                    test=lbody.test and rbody.test)


    def curry(self, param: Node, body: Node) -> Node:
        """The function value ``param -> body`` (a closure over the outer values `body` reads)."""
        return Node(CURRY, (body,), (param,), Fun(param.type, body.type), fv=body.fv - {param})

    def apply(self, f: Node, arg: Node) -> Node:
        """The function value `f` applied to `arg` (`SourceError`-free: the caller checked the types)."""
        out = self.u.fresh()
        self.u.unify(f.type, Fun(arg.type, out))
        return Node(APPLY, (f, arg), None, out)


def _truth(n: Node, v: Node, kind: str) -> bool:
    """Whether `n` is ``Left(())`` (`kind` INL) or ``Right(())`` made in a branch whose payload `v` is ()."""
    return n.kind == kind and (n.kids[0].kind == UNIT or n.kids[0] is v)
