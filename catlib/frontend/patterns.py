"""``match`` statements: patterns compiled to a decision tree of `CASE` nodes.

Patterns: ``Left(p)``, ``Right(p)`` (nested), ``(p, q)`` on pairs, ``()``,
integer literals and module constants (``case 0:``, ``case REFUSED:``),
captures (``case Left(amount)``), ``_``, ``p as name``, ``p | q`` and
guards (``case Left(k) if k > 0:``).  Cases are tried in order, as Python
does: each sum is inspected once on every path (the first case that needs
it splits it, and every later case goes to the side it can match).  When no
case matches, the statement is left and the function goes on after it.  As in
Python, a case whose pattern matches but whose guard fails leaves the names
its pattern bound (later code may read them), and its guard is tested once:
an or-pattern's other alternatives are not tried after it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from catlib.frontend.exprs import Expressions
from catlib.frontend.ir import Node
from catlib.types import Prod, Sum, Type, Unit
from catlib.values import Left, Right

__all__ = ["Patterns", "Pattern"]


@dataclass(frozen=True, eq=False)
class Pattern:
    """One pattern: `kind` is ``wild``, ``bind`` (`name`, `sub`), ``unit``, ``pair`` (`subs`),
    ``inj`` (`left`, `sub`) or ``int`` (`value`); `at` is its source."""

    kind: str
    at: ast.AST
    name: str = ""
    subs: tuple[Pattern, ...] = ()
    left: bool = True
    value: int = 0


@dataclass(eq=False)
class Row:
    """A case still possible on this path: what it still requires of which node, its names so far."""

    needs: list[tuple[Node, Pattern]]
    body: list[ast.stmt]
    guard: ast.expr | None
    binds: dict[str, Node] = field(default_factory=dict)
    case: int = 0
    """Which ``case`` of the statement the row is (an or-pattern's alternatives are rows of one case)."""


class Patterns(Expressions):
    """The ``match`` half of the elaborator."""

    def pattern(self, p: ast.pattern) -> list[Pattern]:
        """`p` as patterns (several for an or-pattern)."""
        if isinstance(p, ast.MatchAs):
            if p.pattern is None:
                return [Pattern("wild", p)] if p.name is None else [Pattern("bind", p, p.name, (Pattern("wild", p),))]
            return [Pattern("bind", p, p.name or "", (s,)) for s in self.pattern(p.pattern)]
        if isinstance(p, ast.MatchOr):
            return [s for alt in p.patterns for s in self.pattern(alt)]
        if isinstance(p, ast.MatchSequence):
            if any(isinstance(s, ast.MatchStar) for s in p.patterns) or len(p.patterns) not in (0, 2):
                raise self.err(p, "a sequence pattern here is () or a pair (p, q)", "(a, (b, c))")
            if not p.patterns:
                return [Pattern("unit", p)]
            return [Pattern("pair", p, subs=(a, b)) for a in self.pattern(p.patterns[0])
                    for b in self.pattern(p.patterns[1])]
        if isinstance(p, ast.MatchClass):
            try:
                cls = self.global_object(p.cls)
            except AttributeError as e:
                raise self.err(p.cls, str(e), "Left(p), Right(p)") from None
            if cls is not Left and cls is not Right:
                raise self.err(p.cls, "the class patterns here are Left(p) and Right(p)", "Left(x), Right(())")
            if p.kwd_patterns or len(p.patterns) > 1:
                raise self.err(p, f"{cls.__name__}(p) takes one pattern", f"{cls.__name__}(x)")
            subs = self.pattern(p.patterns[0]) if p.patterns else [Pattern("wild", p)]
            return [Pattern("inj", p, subs=(s,), left=cls is Left) for s in subs]
        if isinstance(p, ast.MatchValue):
            return [self.value_pattern(self.static(p.value), p)]
        if isinstance(p, ast.MatchSingleton):
            raise self.err(p, f"{p.value} is not a machine value", "() for the unit value; Left(()), Right(())")
        raise self.err(p, f"this pattern ({type(p).__name__}) is outside the subset",
                       "Left(p), Right(p), (p, q), (), a name, _, an int")

    def static(self, e: ast.expr) -> Any:
        """The value of a constant expression in a pattern: a literal, -literal or module constant."""
        if isinstance(e, ast.Constant):
            return e.value
        if (isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant)
                and type(e.operand.value) is int):
            return -e.operand.value
        if isinstance(e, ast.Attribute | ast.Name):
            try:
                return self.global_object(e)
            except AttributeError as ex:
                raise self.err(e, str(ex), "a module constant") from None
        raise self.err(e, "a value pattern is a literal or a module constant", "case 0:, case REFUSED:")

    def value_pattern(self, v: Any, at: ast.AST) -> Pattern:
        """The pattern matching exactly the host value `v`."""
        if type(v) is int:
            self.constant(v, at)  # the range check
            return Pattern("int", at, value=v)
        if v == () and type(v) is tuple:
            return Pattern("unit", at)
        if type(v) is tuple and len(v) == 2:
            return Pattern("pair", at, subs=(self.value_pattern(v[0], at), self.value_pattern(v[1], at)))
        if isinstance(v, Left | Right):
            return Pattern("inj", at, subs=(self.value_pattern(v.value, at),), left=isinstance(v, Left))
        self.constant(v, at)  # raises the right message
        raise AssertionError(v)  # pragma: no cover

    # ---------------------------------------------------------------- the decision tree

    def match_stmt(self, s: ast.Match, env: dict[str, Any], k: Any) -> Node:
        subject = self.value(s.subject, env)
        rows = [Row([(subject, p)], c.body, c.guard, case=i) for i, c in enumerate(s.cases)
                for p in self.pattern(c.pattern)]
        return self.rows(rows, env, k, s)

    def simplify(self, row: Row) -> Row:
        """The row with only tests left in `needs` (binding names, splitting pairs, checking types)."""
        todo, done, binds = list(reversed(row.needs)), [], dict(row.binds)
        while todo:
            node, p = todo.pop()
            if p.kind == "wild":
                continue
            if p.kind == "bind":
                if p.name:
                    binds[p.name] = node
                todo.append((node, p.subs[0]))
            elif p.kind == "unit":
                self.expect(node.type, Unit, p.at, "the value matched by ()")
            elif p.kind == "pair":
                self.expect(node.type, Prod(self.u.fresh(), self.u.fresh()), p.at, "the value matched by a pair")
                todo += [(self.b.snd(node), p.subs[1]), (self.b.fst(node), p.subs[0])]
            else:
                done.append((node, p))
        return Row(done, row.body, row.guard, binds, row.case)

    def rows(self, rows: list[Row], env: dict[str, Any], k: Any, at: ast.Match) -> Node:
        if not rows:
            return k(env, at)  # no case matched: Python goes on after the match
        first = self.simplify(rows[0])
        if not first.needs:
            inner = {**env, **first.binds}
            if first.guard is None:
                return self.block(first.body, inner, k)
            test = self.cond(first.guard, inner)
            yes = self.block(first.body, inner, k)
            # as in Python, a guard that fails leaves its pattern's names bound, and the case's other
            # alternatives untried (the guard is evaluated once per case)
            no = self.rows([r for r in rows[1:] if r.case != first.case], inner, k, at)
            return self.branch(test, yes, no, k)
        node, p = first.needs[0]
        rest = [first, *rows[1:]]
        if p.kind == "int":
            self.expect(node.type, self.b.lit(0).type, p.at, "the value matched by an int")
            test = self.b.prim("Eq", node, self.b.lit(p.value))
            yes = self.rows(self.specialize(rest, node, lambda q: q.value == p.value, None), env, k, at)
            no = self.rows(self.specialize(rest, node, lambda q: q.value != p.value, False), env, k, at)
            return self.branch(test, yes, no, k)
        sides: list[Type] = [self.u.fresh(), self.u.fresh()]
        self.expect(node.type, Sum(*sides), p.at, f"the value matched by {'Left' if p.left else 'Right'}(...)")
        lv, rv = self.b.var("left", sides[0]), self.b.var("right", sides[1])
        left = self.rows(self.specialize(rest, node, lambda q: q.left, lv), env, k, at)
        right = self.rows(self.specialize(rest, node, lambda q: not q.left, rv), env, k, at)
        return self.b.case(node, lv, left, rv, right, k.answer_type)

    def specialize(self, rows: list[Row], node: Node, keeps: Any, payload: Node | None | bool) -> list[Row]:
        """The rows still possible once `node` is known to satisfy the side `keeps` tells.

        A test on `node` that `keeps` accepts is consumed (replaced by its sub-pattern on `payload`
        for injections; dropped for ints when `payload` is None; kept when it is False: the
        int is only known to differ from one constant); a test it rejects drops the row.
        """
        out = []
        for row in rows:
            row = self.simplify(row)
            needs, alive = [], True
            for n, p in row.needs:
                if n is not node:
                    needs.append((n, p))
                elif not keeps(p):
                    alive = False
                    break
                elif isinstance(payload, Node):
                    needs.append((payload, p.subs[0]))
                elif payload is False:
                    needs.append((n, p))
            if alive:
                out.append(Row(needs, row.body, row.guard, row.binds, row.case))
        return out

    def branch(self, test: Node, yes: Node, no: Node, k: Any) -> Node:
        """``yes if test else no`` (both built with continuation `k`)."""
        return self.b.case(test, self.b.var("yes", Unit), yes, self.b.var("no", Unit), no, k.answer_type)
