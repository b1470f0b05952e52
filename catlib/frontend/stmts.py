"""Elaborating statements: assignments, ``if``, ``match``, ``for`` (unrolled), ``return``.

A function body becomes one node, its result, by continuation passing:
each statement is elaborated with what comes after it.  A branching
statement (``if``, ``match``) hands the rest of the body to the branches
that fall through; when only one does (a guard clause ``if bad: return
...``), the rest is elaborated once, inside that branch.  When several do
(the statement is elaborated once first to count them), the rest would be
copied into each: the statement is elaborated with a *join* instead,
each falling branch answering the tuple of the variables it assigned
that are read later (``Right`` of it, and ``Left`` of the result for the
branches that return), and the rest is elaborated once,
after it.  Every path must end in ``return``: a machine never keeps its
state by default.
"""

from __future__ import annotations

import ast
from typing import Any

from catlib.frontend.exprs import UNASSIGNED, LocalFunction
from catlib.frontend.ir import Builder, DepthError, Node
from catlib.frontend.patterns import Patterns
from catlib.frontend.source import Definition
from catlib.types import Prod, Sum, Type, Unit

__all__ = ["Elaborator", "MAX_UNROLL"]

MAX_UNROLL = 256
"""The most iterations a ``for`` loop may unroll to."""
MAX_INLINE = 64
"""The deepest chain of inlined calls."""

_REFUSED = {
    ast.While: ("a while loop is outside the subset (a machine step must end)",
                "for i in range(N) with a constant N (unrolled); or keep the loop's variables in the state and "
                "take one step per input"),
    ast.Try: ("exceptions are outside the subset", "an Either result: Left(error) or Right(value)"),
    ast.Raise: ("exceptions are outside the subset", "an Either result: Left(error) or Right(value)"),
    ast.Assert: ("assert is outside the subset", "if not ...: return state, Left(...)"),
    ast.With: ("with is outside the subset", "plain statements"),
    ast.Global: ("global variables are outside the subset: the machine's state is its second parameter",
                 "return (new_state, output)"),
    ast.Nonlocal: ("nonlocal is outside the subset", "return the new value from the helper"),
    ast.Delete: ("del is outside the subset", "assign a new value"),
    ast.Import: ("imports belong at module level", "import at the top of the module"),
    ast.ImportFrom: ("imports belong at module level", "import at the top of the module"),
    ast.ClassDef: ("classes are outside the subset", "pairs and Either values"),
    ast.Break: ("break is outside the subset (loops are unrolled)", "if inside the loop body"),
    ast.Continue: ("continue is outside the subset (loops are unrolled)", "if inside the loop body"),
    ast.AsyncFunctionDef: ("async functions are outside the subset", "def"),
}


def _walk(nodes: list[Any]) -> list[ast.AST]:
    """Every AST node under `nodes`, not entering nested functions and lambdas (their bodies
    are elaborated where they are called)."""
    out: list[ast.AST] = []
    todo = [n for n in nodes if isinstance(n, ast.AST)]
    while todo:
        n = todo.pop()
        out.append(n)
        if isinstance(n, ast.FunctionDef | ast.Lambda):
            continue
        todo.extend(ast.iter_child_nodes(n))
    return out


def assigned(nodes: list[Any]) -> list[str]:
    """The names `nodes` assign (targets, loop variables, match captures, local defs), in order."""
    names: dict[str, None] = {}
    for n in sorted(_walk(nodes), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names[n.id] = None
        elif isinstance(n, ast.MatchAs | ast.MatchStar) and n.name:
            names[n.name] = None
        elif isinstance(n, ast.FunctionDef):
            names[n.name] = None
    return list(names)


def read(nodes: list[Any]) -> frozenset[str]:
    """The names `nodes` read (nested functions included: they read when called)."""
    return frozenset(n.id for x in nodes if isinstance(x, ast.AST) for n in ast.walk(x)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


class _Drop(Exception):
    def __init__(self, join: Join, names: set[str]) -> None:
        self.join, self.names = join, names


class Tail:
    """The end of a function body: a path that gets here did not return."""

    cheap = True
    reads: frozenset[str] = frozenset()

    def __init__(self, el: Elaborator, result: Type, tree: ast.AST, name: str) -> None:
        self.el, self.answer_type, self.result_type, self.tree, self.name = el, result, result, tree, name

    def __call__(self, env: dict[str, Any], where: ast.AST | None) -> Node:
        raise self.el.err(where or self.tree, f"a path through {self.name} ends here without return",
                          "end every path with return (new_state, output) (a machine never keeps its state "
                          "silently), or return value for a function")

    def on_return(self, node: Node, at: ast.AST) -> Node:
        self.el.expect(node.type, self.result_type, at, f"what {self.name} returns")
        return node


class Rest:
    """The statements after a branching one, elaborated where a path reaches them (once: a
    statement with several paths reaching its end gets a `Join` instead)."""

    cheap = False

    def __init__(self, el: Elaborator, items: list[Any], outer: Any) -> None:
        self.el, self.items, self.outer = el, items, outer
        self.reads = read(items) | outer.reads
        self.answer_type, self.result_type = outer.answer_type, outer.result_type

    def __call__(self, env: dict[str, Any], where: ast.AST | None) -> Node:
        return self.el.block(self.items, env, self.outer)

    def on_return(self, node: Node, at: ast.AST) -> Node:
        return self.outer.on_return(node, at)


class _Count:
    """Stands for a `Rest` while a statement is elaborated once to count the paths reaching its end."""

    cheap = True

    def __init__(self, el: Elaborator, after: Rest) -> None:
        self.el, self.after, self.calls = el, after, 0
        self.reads, self.answer_type, self.result_type = after.reads, after.answer_type, after.result_type

    def __call__(self, env: dict[str, Any], where: ast.AST | None) -> Node:
        self.calls += 1
        return self.el.b.var("rest", self.answer_type)

    def on_return(self, node: Node, at: ast.AST) -> Node:
        return self.after.on_return(node, at)


class Join:
    """The end of a branching statement elaborated as a join (see the module docstring)."""

    cheap = True

    def __init__(self, el: Elaborator, names: list[str], mixed: bool, stmt: ast.stmt, outer: Any) -> None:
        self.el, self.names, self.mixed, self.stmt = el, names, mixed, stmt
        self.types = [el.u.fresh() for _ in names]
        self.reads = frozenset(names)  # what the join takes from each path (the rest is elaborated after it)
        self.result_type = outer.result_type
        self.tuple_type: Type = self.types[-1] if self.types else Unit
        for t in reversed(self.types[:-1]):
            self.tuple_type = Prod(t, self.tuple_type)
        self.answer_type = Sum(self.result_type, self.tuple_type) if mixed else self.tuple_type

    def __call__(self, env: dict[str, Any], where: ast.AST | None) -> Node:
        missing = {n for n in self.names if not isinstance(env.get(n, UNASSIGNED), Node)}
        if missing:  # not a value on this path: left out of the join, unassigned after it
            raise _Drop(self, missing)
        values = []
        for name, t in zip(self.names, self.types):
            v = env[name]
            self.el.expect(v.type, t, where or self.stmt, f"{name} here")
            values.append(v)
        out = self.el.b.unit() if not values else values[-1]
        for v in reversed(values[:-1]):
            out = self.el.b.pair(v, out)
        return self.el.b.inj(False, out, self.result_type) if self.mixed else out

    def on_return(self, node: Node, at: ast.AST) -> Node:
        self.el.expect(node.type, self.result_type, at, "what this returns")
        return self.el.b.inj(True, node, self.tuple_type)


class Elaborator(Patterns):
    """Elaborates one function body into a node (inlining the functions it calls)."""

    def __init__(self, d: Definition, b: Builder, stack: tuple[str, ...] = ()) -> None:
        super().__init__(d, b, stack or (d.name,))

    def run(self, params: list[Node]) -> Node:
        """The node of the body's result, with the parameters bound to `params`."""
        env: dict[str, Any] = {name: UNASSIGNED for name in assigned(self.d.tree.body)}
        env.update(zip(self.d.params, params))
        return self.block(self.d.tree.body, env, Tail(self, self.d.result, self.d.tree, self.d.name))

    # ---------------------------------------------------------------- blocks

    def block(self, items: list[Any], env: dict[str, Any], k: Any, where: ast.AST | None = None) -> Node:
        """`items` then `k`; `where` is the statement a path through an empty `items` comes from."""
        env = dict(env)
        last: ast.AST | None = where
        i = 0
        while i < len(items):
            s = items[i]
            if isinstance(s, tuple):  # a loop variable's value in an unrolled loop
                env[s[0]] = s[1]
                i += 1
                continue
            try:
                if isinstance(s, ast.Return):
                    if s.value is None:
                        raise self.err(s, "return needs a value", "return new_state, output")
                    return k.on_return(self.value(s.value, env), s.value)
                if isinstance(s, ast.If | ast.Match):
                    return self.branching(s, items[i + 1:], env, k)
                if isinstance(s, ast.For):
                    items = [*self.unroll(s, env), *items[i + 1:]]
                    i = 0
                    continue
                self.simple(s, env)
            except DepthError as e:
                raise self.err(s, str(e), "fewer loop iterations, or a shorter chain of operations") from None
            last = s
            i += 1
        return k(env, last)

    def simple(self, s: ast.stmt, env: dict[str, Any]) -> None:
        """A statement that neither branches nor returns: it only names values."""
        if isinstance(s, ast.Assign):
            if len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) and isinstance(s.value, ast.Lambda):
                env[s.targets[0].id] = LocalFunction(s.targets[0].id, s.value)
                return
            tuple_target = any(not isinstance(t, ast.Name) for t in s.targets)
            v = self.value(s.value, env) if tuple_target else self.expr(s.value, env)
            for t in s.targets:
                self.bind(t, v, env)
        elif isinstance(s, ast.AugAssign):
            if not isinstance(s.target, ast.Name):
                raise self.mutation(s.target)
            cur = self.integer(ast.Name(s.target.id, ast.Load(), **_pos(s.target)), env, s.target.id)
            v = self.arith(s.op, cur, self.integer(s.value, env, "the right operand"), s, s.value)
            env[s.target.id] = v
        elif isinstance(s, ast.AnnAssign):
            if not isinstance(s.target, ast.Name) or s.value is None:
                raise self.err(s, "an annotated assignment here is name: type = value", "x: int = 0")
            v = self.value(s.value, env)
            self.expect(v.type, self.annotation(s.annotation), s.value, s.target.id)
            env[s.target.id] = v
        elif isinstance(s, ast.Expr):
            if not (isinstance(s.value, ast.Constant) and isinstance(s.value.value, str | type(Ellipsis))):
                self.expr(s.value, env)  # a more precise refusal first (a method call, say)
                raise self.err(s, "an expression statement does nothing here (machines have no side effects)",
                               "assign its value: x = ...")
        elif isinstance(s, ast.FunctionDef):
            a = s.args
            if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults or s.decorator_list:
                raise self.err(s, "a local helper takes plain parameters (no defaults, *args, decorators)",
                               "def helper(a, b): ...")
            env[s.name] = LocalFunction(s.name, s)
        elif not isinstance(s, ast.Pass):
            message, hint = _REFUSED.get(type(s), (f"this statement ({type(s).__name__}) is outside the subset",
                                                   "assignments, if, match, for over range, return"))
            raise self.err(s, message, hint)

    def mutation(self, target: ast.AST) -> Exception:
        return self.err(target, "assigning into a value (an item, an attribute) is outside the subset: values "
                        "never change", "build a new value: p = (a, p[1])")

    def bind(self, target: ast.expr, v: Node, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = v
            return
        if not isinstance(target, ast.Tuple | ast.List):
            raise self.mutation(target)
        if len(target.elts) != 2 or any(isinstance(x, ast.Starred) for x in target.elts):
            raise self.err(target, "unpacking takes a pair apart: two names", "a, b = p; a, (b, c) = q")
        self.expect(v.type, Prod(self.u.fresh(), self.u.fresh()), target, "the value unpacked")
        self.bind(target.elts[0], self.b.fst(v), env)
        self.bind(target.elts[1], self.b.snd(v), env)

    # ---------------------------------------------------------------- branching and joins

    def branches(self, s: ast.If | ast.Match, env: dict[str, Any], k: Any) -> Node:
        if isinstance(s, ast.Match):
            return self.match_stmt(s, env, k)
        test = self.cond(s.test, env)
        return self.branch(test, self.block(s.body, env, k, s), self.block(s.orelse, env, k, s), k)

    def branching(self, s: ast.If | ast.Match, rest: list[Any], env: dict[str, Any], k: Any) -> Node:
        after = Rest(self, rest, k) if rest else k
        if after.cheap:
            return self.branches(s, env, after)
        # count the paths that reach the rest first: elaborating the rest and then finding a second
        # path would cost time exponential in the number of statements after
        probe = _Count(self, after)
        self.branches(s, env, probe)
        if probe.calls <= 1:
            return self.branches(s, env, after)
        names = [n for n in assigned([s]) if n in after.reads]
        mixed = any(isinstance(n, ast.Return) for n in _walk([s]))
        dropped: set[str] = set()
        while True:
            join = Join(self, names, mixed, s, k)
            try:
                joined = self.branches(s, env, join)
                break
            except _Drop as e:
                if e.join is not join:
                    raise
                dropped |= e.names
                names = [n for n in names if n not in dropped]

        def go_on(t: Node) -> Node:
            # a name some path leaves without a value is unassigned after: reading it is refused there
            inner = {**env, **{n: UNASSIGNED for n in dropped}}
            for i, name in enumerate(names):
                last = i == len(names) - 1
                inner[name] = t if last else self.b.fst(t)
                if not last:
                    t = self.b.snd(t)
            return self.block(rest, inner, k)

        if not mixed:
            return go_on(joined)
        done, cont = self.b.var("returned", join.result_type), self.b.var("joined", join.tuple_type)
        return self.b.case(joined, done, k.on_return(done, s), cont, go_on(cont), k.answer_type)

    # ---------------------------------------------------------------- loops

    def unroll(self, s: ast.For, env: dict[str, Any]) -> list[Any]:
        if s.orelse:
            raise self.err(s, "for ... else is outside the subset", "a plain for loop")
        if not isinstance(s.target, ast.Name):
            raise self.err(s.target, "the loop variable is one name", "for i in range(N)")
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id not in env
                and self.global_object(it.func) is range and not it.keywords and 1 <= len(it.args) <= 3):
            raise self.err(it, "a for loop runs over range(...) of constants (it is unrolled)",
                           "for i in range(N), N an int constant")
        bounds: list[int] = []
        for a in it.args:
            n = self.integer(a, env, "a bound of range")
            if n.kind != "lit":
                raise self.err(a, "the bounds of range must be constants (the loop is unrolled)",
                               "a literal or a module-level int")
            bounds.append(n.label)
        if len(bounds) == 3 and bounds[2] == 0:
            raise self.err(it.args[2], "range's step must not be 0", "a step of 1, or -1")
        values = range(*bounds)
        if len(values) > MAX_UNROLL:
            raise self.err(it, f"this loop unrolls to {len(values)} copies of its body; the limit is {MAX_UNROLL}",
                           "fewer iterations")
        for x in _walk(s.body):
            if isinstance(x, ast.Break | ast.Continue):
                raise self.err(x, *_REFUSED[type(x)])
        out: list[Any] = []
        for v in values:
            out.append((s.target.id, self.b.lit(v)))
            out.extend(s.body)
        return out

    # ---------------------------------------------------------------- calls

    def inline(self, fn: LocalFunction, args: list[Node], env: dict[str, Any], at: ast.AST) -> Node:
        """A local helper's body with its parameters bound to `args`, its free names read now."""
        if fn.name in self.stack:
            raise self.err(at, f"{fn.name} calls itself: recursion is outside the subset",
                           "a for loop over a constant range")
        tree = fn.tree
        a = tree.args
        if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults:
            raise self.err(tree, "a local helper takes plain parameters", "lambda a, b: ...")
        if len(a.args) != len(args):
            raise self.err(at, f"{fn.name} takes {len(a.args)} arguments, not {len(args)}",
                           f"{fn.name} called with {len(a.args)}")
        sub = type(self)(self.d, self.b, (*self.stack, fn.name))
        for p, v in zip(a.args, args):
            if p.annotation is not None:
                self.expect(v.type, self.annotation(p.annotation), at, f"{fn.name}'s parameter {p.arg}")
        if isinstance(tree, ast.Lambda):
            inner = {**env, **{p.arg: v for p, v in zip(a.args, args)}}
            return sub.expr(tree.body, inner)
        inner = {**env, **{n: UNASSIGNED for n in assigned(tree.body)}, **{p.arg: v for p, v in zip(a.args, args)}}
        result = self.annotation(tree.returns) if tree.returns is not None else self.u.fresh()
        return sub.block(tree.body, inner, Tail(sub, result, tree, fn.name))

    def call_definition(self, d: Definition, args: list[Node], at: ast.Call) -> Node:
        """Another ``@machine`` function's body, inlined with its parameters bound to `args`."""
        if len(self.stack) > MAX_INLINE:
            raise self.err(at, f"calls nested {len(self.stack)} deep: recursion is outside the subset",
                           "a for loop over a constant range")
        sub = type(self)(d, self.b, (*self.stack, d.name))
        return sub.run(args)


def _pos(node: ast.AST) -> dict[str, int]:
    return {k: getattr(node, k) for k in ("lineno", "col_offset", "end_lineno", "end_col_offset")}
