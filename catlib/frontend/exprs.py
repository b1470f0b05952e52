"""Elaborating Python expressions into value nodes (`catlib.frontend.ir`), with their types.

Integers are 64-bit (``+ - * // % **`` and ``-x`` wrap as `catlib.values`
says; ``//`` and ``%`` need a constant divisor other than 0, since Python
raises where the machine cannot: `catlib.values.divmod64` is the total
division, answering ``Left(())`` for a zero divisor).  A comparison is a
Python ``bool``: it may be branched on, combined with ``and``/``or``/``not``
and named, but not stored in the state or answered (write
``Left(()) if c else Right(())``).  ``==`` compares any values but
functions.  A lambda or local def used as a value (stored, returned,
passed) is a closure (``Curry`` over the outer values it reads, which are
read when it is created).  Calls: ``Left``, ``Right``, other ``@machine`` functions (their
body is inlined), local helpers and lambdas called by name (inlined: their
free names are read when they are called, as Python reads them), values
of function type (``Apply``), ``abs``, ``min``, ``max``, ``divmod`` (constant divisor), and
``catlib.values``' ``divmod64``, ``add64``, ``sub64``, ``mul64``.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Any

from catlib.frontend.errors import Source, SourceError
from catlib.frontend.ir import LIT, Builder, Node
from catlib.frontend.source import Definition, annotation_type
from catlib.types import Fun, Int, Prod, Sum, Type, UnifyError, Unit, Var, rename
from catlib.values import INT_MAX, INT_MIN, Left, Right, add64, divmod64, mul64, sub64

__all__ = ["Expressions", "LocalFunction", "UNASSIGNED", "CLOSURES"]

CLOSURES = ("a function value: a lambda or local def of one parameter (a pair for two), capturing ints, (), "
            "pairs, Left/Right and other function values")
UNASSIGNED = object()
"""A local name not assigned (yet) on this path."""

_VALUES = {divmod64: "DivMod", add64: "Add", sub64: "Sub", mul64: "Mul"}
_ARITH = {ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mul"}
_SUBSET = ("ints, (), pairs, Left/Right; arithmetic and comparisons on int; calls of Left, Right, @machine "
           "functions and local helpers")


@dataclass(frozen=True, eq=False)
class LocalFunction:
    """A ``def`` or ``name = lambda`` inside a machine, inlined where it is called."""

    name: str
    tree: ast.FunctionDef | ast.Lambda


def _show(t: Type) -> str:
    return str(rename([t])[0])


class Expressions:
    """The expression half of the elaborator (see `catlib.frontend.stmts.Elaborator`)."""

    def __init__(self, d: Definition, b: Builder, stack: tuple[str, ...]) -> None:
        self.d, self.b, self.u, self.stack = d, b, b.u, stack
        self.src: Source = d.source
        self.globals = d.globals

    # ---------------------------------------------------------------- helpers

    def err(self, node: ast.AST | None, message: str, hint: str = "") -> SourceError:
        return self.src.error(node, message, hint)

    def expect(self, have: Type, want: Type, at: ast.AST, what: str) -> None:
        """Unify `have` with `want`, or a `SourceError` at `at`: "`what` is have, but want is expected"."""
        try:
            self.u.unify(have, want)
        except UnifyError:
            h, w = self.u.resolve(have), self.u.resolve(want)
            raise self.err(at, f"{what} is {_show(h)}, but {_show(w)} is expected here",
                           f"a value of type {_show(w)} here") from None

    def resolved(self, t: Type) -> Type:
        return self.u.resolve(t)

    def block(self, items: list[Any], env: dict[str, Any], k: Any,  # pragma: no cover - abstract
              where: ast.AST | None = None) -> Node:
        raise NotImplementedError

    def inline(self, fn: LocalFunction, args: list[Node], env: dict[str, Any], at: ast.AST) -> Node:
        raise NotImplementedError  # pragma: no cover - abstract

    def call_definition(self, d: Definition, args: list[Node], at: ast.Call) -> Node:
        raise NotImplementedError  # pragma: no cover - abstract

    # ---------------------------------------------------------------- entry points

    def expr(self, e: ast.expr, env: dict[str, Any]) -> Node:
        """Any expression: a value or a test (a Python bool)."""
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None:
            raise self.refusal(e)
        n: Node = method(e, env)
        if n.where is None:  # the innermost expression that made it (a name's node keeps its own)
            n.where = self.src.origin(e)
        return n

    def value(self, e: ast.expr, env: dict[str, Any]) -> Node:
        """An expression whose value the machine keeps: not a Python bool."""
        n = self.expr(e, env)
        if n.test:
            raise self.err(e, "this is a Python bool (a comparison); the machine's values are ints, (), pairs and "
                           "Left/Right", "Left(()) if condition else Right(()) (an Either[Unit, Unit])")
        return n

    def integer(self, e: ast.expr, env: dict[str, Any], what: str = "this") -> Node:
        n = self.value(e, env)
        self.expect(n.type, Int, e, what)
        return n

    def cond(self, e: ast.expr, env: dict[str, Any]) -> Node:
        """A test: a comparison, ``and``/``or``/``not`` of tests, or an int (true when not 0)."""
        n = self.expr(e, env)
        if n.test:
            return n
        t = self.resolved(n.type)
        if t == Int:
            return self.negate(self.b.prim("Eq", n, self.b.lit(0)))
        what = {Unit: "() is always false"}.get(t, f"a value of type {_show(t)} is always true")
        raise self.err(e, f"{what} in Python, so this condition would not depend on it",
                       "compare it: x == Left(()), or match x")

    def refusal(self, e: ast.AST) -> SourceError:
        name = type(e).__name__
        if isinstance(e, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp
                      | ast.GeneratorExp):
            return self.err(e, "lists, dicts, sets and comprehensions are outside the subset: a machine's values "
                            "are ints, (), pairs and Left/Right", "a pair (a, b), or nested pairs")
        if isinstance(e, ast.NamedExpr):
            return self.err(e, "an assignment expression (:=) is outside the subset", "an assignment statement")
        if isinstance(e, ast.JoinedStr):
            return self.err(e, "strings are outside the subset", _SUBSET)
        return self.err(e, f"this expression ({name}) is outside the subset", _SUBSET)

    # ---------------------------------------------------------------- names and constants

    def global_object(self, e: ast.expr) -> Any:
        """The module-level object a name or dotted name refers to."""
        if isinstance(e, ast.Attribute):
            return getattr(self.global_object(e.value), e.attr)
        assert isinstance(e, ast.Name)
        if e.id in self.globals:
            return self.globals[e.id]
        if hasattr(builtins, e.id):
            return getattr(builtins, e.id)
        raise self.err(e, f"{e.id} is not defined", "a parameter, a variable assigned before, or a module constant")

    def constant(self, v: Any, at: ast.AST) -> Node:
        """A node for the host value `v` (an int, (), a pair, Left or Right of constants)."""
        if type(v) is int:
            if not INT_MIN <= v <= INT_MAX:
                raise self.err(at, f"{v} does not fit in 64 bits", f"an int in [{INT_MIN}, {INT_MAX}]")
            return self.b.lit(v)
        if v == () and type(v) is tuple:
            return self.b.unit()
        if type(v) is tuple and len(v) == 2:
            return self.b.pair(self.constant(v[0], at), self.constant(v[1], at))
        if isinstance(v, Left | Right):
            return self.b.inj(isinstance(v, Left), self.constant(v.value, at))
        if isinstance(v, bool):
            raise self.err(at, "True and False are Python bools; the machine's truth values are Left(()) and "
                           "Right(())", "a comparison in a condition, or Left(()) / Right(())")
        if isinstance(v, tuple):
            raise self.err(at, f"a tuple of {len(v)} is not a machine value: tuples are pairs", "(a, (b, c))")
        if hasattr(v, "definition"):
            raise self.err(at, "a @machine function is called here, not used as a value",
                           "lambda x: machine(x) (a function value over it)")
        raise self.err(at, f"{type(v).__name__} values are outside the subset", "module constants that are ints, "
                       "(), pairs or Left/Right of those")

    def _Name(self, e: ast.Name, env: dict[str, Any]) -> Node:
        if e.id in env:
            v = env[e.id]
            if v is UNASSIGNED:
                raise self.err(e, f"{e.id} is not assigned on every path that reaches here",
                               f"assign {e.id} before, on every path")
            if isinstance(v, LocalFunction):
                return self.closure(v, e, env)
            return v
        return self.constant(self.global_object(e), e)

    def _Lambda(self, e: ast.Lambda, env: dict[str, Any]) -> Node:
        return self.closure(LocalFunction("<lambda>", e), e, env)

    def closure(self, fn: LocalFunction, at: ast.AST, env: dict[str, Any]) -> Node:
        """`fn` as a value: ``Curry`` of its body over the outer values it reads, read now (where
        Python would read them when it is called: assign what a closure reads before creating it)."""
        a = fn.tree.args
        if len(a.args) != 1 or a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults:
            raise self.err(at, f"{fn.name} is used as a value here, and a function value takes exactly one "
                           f"parameter", CLOSURES)
        p = a.args[0]
        param = self.b.var(p.arg, self.annotation(p.annotation) if p.annotation is not None else None)
        body = self.inline(fn, [param], env, at)
        if body.test:
            raise self.err(at, f"{fn.name} answers a Python bool (a comparison); a function value answers a "
                           "machine value", "Left(()) if condition else Right(())")
        return self.b.curry(param, body)

    def apply(self, f: Node, args: list[ast.expr], env: dict[str, Any], at: ast.Call) -> Node:
        """The function value `f` applied to the one argument in `args` (``Apply``)."""
        if len(args) != 1:
            raise self.err(at, f"a function value takes one argument, not {len(args)}", "f(x), or f((a, b))")
        x = self.value(args[0], env)
        out = self.u.fresh()
        self.expect(f.type, Fun(x.type, out), at.func, "the function called")
        return self.b.apply(f, x)

    def _Attribute(self, e: ast.Attribute, env: dict[str, Any]) -> Node:
        root: ast.expr = e
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name) or root.id in env:
            raise self.err(e, "attributes of values are outside the subset (.value of Left/Right, methods)",
                           "match x: case Left(v): ...; a module constant as module.NAME")
        try:
            return self.constant(self.global_object(e), e)
        except AttributeError as ex:
            raise self.err(e, str(ex), "a module constant") from None

    def _Constant(self, e: ast.Constant, env: dict[str, Any]) -> Node:
        if e.value is None:
            raise self.err(e, "None is not a machine value", "() for the unit value")
        if isinstance(e.value, str | bytes | float | complex) or e.value is Ellipsis:
            raise self.err(e, f"{type(e.value).__name__} values are outside the subset", "an int")
        return self.constant(e.value, e)

    def _Tuple(self, e: ast.Tuple, env: dict[str, Any]) -> Node:
        if not e.elts:
            return self.b.unit()
        if len(e.elts) != 2 or any(isinstance(x, ast.Starred) for x in e.elts):
            raise self.err(e, f"a tuple of {len(e.elts)} is not a machine value: tuples are pairs", "(a, (b, c))")
        return self.b.pair(self.value(e.elts[0], env), self.value(e.elts[1], env))

    def _Subscript(self, e: ast.Subscript, env: dict[str, Any]) -> Node:
        p = self.value(e.value, env)
        if not (isinstance(e.slice, ast.Constant) and type(e.slice.value) is int and e.slice.value in (0, 1)):
            raise self.err(e.slice, "a pair is indexed by the constant 0 or 1", "p[0], p[1], or a, b = p")
        a, b = self.u.fresh(), self.u.fresh()
        self.expect(p.type, Prod(a, b), e.value, "this")
        return self.b.fst(p) if e.slice.value == 0 else self.b.snd(p)

    # ---------------------------------------------------------------- arithmetic

    def arith(self, op: ast.operator, a: Node, b: Node, at: ast.AST, right: ast.AST) -> Node:
        if type(op) in _ARITH:
            return self.b.prim(_ARITH[type(op)], a, b)
        if isinstance(op, ast.FloorDiv | ast.Mod):
            if b.kind != LIT or b.label == 0:
                raise self.err(right, "// and % need a constant divisor other than 0 (Python raises on 0, the "
                               "machine cannot)", "divmod64(a, b): Left(()) for b == 0, else Right((q, r))")
            q, r = self.divmod_const(a, b)
            return q if isinstance(op, ast.FloorDiv) else r
        if isinstance(op, ast.Pow):
            if b.kind != LIT or not 0 <= b.label <= 64:
                raise self.err(right, "** needs a constant exponent from 0 to 64", "x * x")
            return self.power(a, b.label)
        hint = "// (rounding down)" if isinstance(op, ast.Div) else "+, -, *, //, %, ** on int"
        raise self.err(at, f"the operator {type(op).__name__} is outside the subset", hint)

    def divmod_const(self, a: Node, b: Node) -> tuple[Node, Node]:
        """Quotient and remainder by a nonzero constant (DivMod's Left branch cannot happen)."""
        d = self.b.prim("DivMod", a, b)
        if d.kind != "prim":  # both constant: folded to Right((q, r))
            qr = d.kids[0]
            return qr.kids[0], qr.kids[1]
        out = []
        for take in (self.b.fst, self.b.snd):
            lv, rv = self.b.var("zero", Unit), self.b.var("qr", Prod(Int, Int))
            out.append(self.b.case(d, lv, self.b.lit(0), rv, take(rv), Int))
        return out[0], out[1]

    def power(self, a: Node, n: int) -> Node:
        result, base = self.b.lit(1), a
        while n:
            if n & 1:
                result = self.b.prim("Mul", result, base) if result.kind != LIT or result.label != 1 else base
            n >>= 1
            if n:
                base = self.b.prim("Mul", base, base)
        return result

    def _BinOp(self, e: ast.BinOp, env: dict[str, Any]) -> Node:
        a = self.integer(e.left, env, "the left operand")
        b = self.integer(e.right, env, "the right operand")
        return self.arith(e.op, a, b, e, e.right)

    def _UnaryOp(self, e: ast.UnaryOp, env: dict[str, Any]) -> Node:
        if isinstance(e.op, ast.Not):
            return self.negate(self.cond(e.operand, env))
        if (isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant)
                and type(e.operand.value) is int):  # -9223372036854775808 is a literal: 2**63 alone is not
            return self.constant(-e.operand.value, e)
        x = self.integer(e.operand, env, "the operand")
        if isinstance(e.op, ast.UAdd):
            return x
        neg = self.b.prim("Sub", self.b.lit(0), x)
        return neg if isinstance(e.op, ast.USub) else self.b.prim("Sub", neg, self.b.lit(1))

    # ---------------------------------------------------------------- tests

    def negate(self, t: Node) -> Node:
        yes, no = self.b.var("yes", Unit), self.b.var("no", Unit)
        n = self.b.case(t, yes, self.b.inj(False, yes, Unit), no, self.b.inj(True, no, Unit), Sum(Unit, Unit))
        n.test = True
        return n

    def both(self, p: Node, q: Node) -> Node:
        yes, no = self.b.var("yes", Unit), self.b.var("no", Unit)
        n = self.b.case(p, yes, q, no, self.b.inj(False, no, Unit), Sum(Unit, Unit))
        n.test = True
        return n

    def either(self, p: Node, q: Node) -> Node:
        yes, no = self.b.var("yes", Unit), self.b.var("no", Unit)
        n = self.b.case(p, yes, self.b.inj(True, yes, Unit), no, q, Sum(Unit, Unit))
        n.test = True
        return n

    def equal(self, a: Node, b: Node, t: Type, at: ast.AST) -> Node:
        """The test ``a == b`` for values of type `t`, as Python's ``==`` on host values."""
        t = self.resolved(t)
        if isinstance(t, Var):  # nothing fixes it (the side of a sum no value takes): make it ()
            self.u.unify(t, Unit)
            t = Unit
        if t == Int:
            return self.b.prim("Eq", a, b)
        if t == Unit:
            return self.b.truth(True)
        if isinstance(t, Prod):
            return self.both(self.equal(self.b.fst(a), self.b.fst(b), t.kids[0], at),
                             self.equal(self.b.snd(a), self.b.snd(b), t.kids[1], at))
        if isinstance(t, Sum):
            sides = []
            for i, side in enumerate(t.kids):
                x = self.b.var("x", side)
                y, other = self.b.var("y", side), self.b.var("other", t.kids[1 - i])
                same = self.equal(x, y, side, at)
                differ = self.b.truth(False)
                inner = (self.b.case(b, y, same, other, differ, Sum(Unit, Unit)) if i == 0 else
                         self.b.case(b, other, differ, y, same, Sum(Unit, Unit)))
                sides.append((x, inner))
            n = self.b.case(a, sides[0][0], sides[0][1], sides[1][0], sides[1][1], Sum(Unit, Unit))
            n.test = True
            return n
        what = "functions" if isinstance(t, Fun) else f"values of a type not known here ({_show(t)})"
        raise self.err(at, f"== cannot compare {what}", "compare ints, (), pairs and Left/Right values")

    def compare(self, op: ast.cmpop, a: Node, b: Node, at: ast.AST) -> Node:
        if isinstance(op, ast.Eq | ast.NotEq):
            self.expect(b.type, a.type, at, "the right side")
            eq = self.equal(a, b, a.type, at)
            return eq if isinstance(op, ast.Eq) else self.negate(eq)
        if isinstance(op, ast.Lt):
            return self.b.prim("Lt", a, b)
        if isinstance(op, ast.Gt):
            return self.b.prim("Lt", b, a)
        if isinstance(op, ast.LtE):
            return self.negate(self.b.prim("Lt", b, a))
        if isinstance(op, ast.GtE):
            return self.negate(self.b.prim("Lt", a, b))
        raise self.err(at, f"the comparison {type(op).__name__} is outside the subset", "<, <=, >, >=, ==, !=")

    def _Compare(self, e: ast.Compare, env: dict[str, Any]) -> Node:
        left, lnode = e.left, self.value(e.left, env)
        result: Node | None = None
        for op, right in zip(e.ops, e.comparators):
            rnode = self.value(right, env)
            if not isinstance(op, ast.Eq | ast.NotEq):
                self.expect(lnode.type, Int, left, "the left side")
                self.expect(rnode.type, Int, right, "the right side")
            c = self.compare(op, lnode, rnode, right)
            result = c if result is None else self.both(result, c)
            left, lnode = right, rnode
        assert result is not None
        return result

    def _BoolOp(self, e: ast.BoolOp, env: dict[str, Any]) -> Node:
        tests = [self.cond(v, env) for v in e.values]
        out = tests[-1]
        for t in reversed(tests[:-1]):
            out = self.both(t, out) if isinstance(e.op, ast.And) else self.either(t, out)
        return out

    def _IfExp(self, e: ast.IfExp, env: dict[str, Any]) -> Node:
        c = self.cond(e.test, env)
        yes, no = self.expr(e.body, env), self.expr(e.orelse, env)
        if yes.test != no.test:
            raise self.err(e, "one side of this conditional is a bool and the other a value", "two values")
        self.expect(no.type, yes.type, e.orelse, "the else side")
        n = self.b.case(c, self.b.var("yes", Unit), yes, self.b.var("no", Unit), no, yes.type)
        return n

    # ---------------------------------------------------------------- calls

    def _Call(self, e: ast.Call, env: dict[str, Any]) -> Node:
        if e.keywords or any(isinstance(a, ast.Starred) for a in e.args):
            raise self.err(e, "calls here take positional arguments only", "f(a, b)")
        f = e.func
        if isinstance(f, ast.Name) and f.id in env:
            fn = env[f.id]
            if isinstance(fn, LocalFunction):
                return self.inline(fn, [self.value(a, env) for a in e.args], env, e)
            return self.apply(self.value(f, env), e.args, env, e)
        if isinstance(f, ast.Lambda):
            return self.inline(LocalFunction("<lambda>", f), [self.value(a, env) for a in e.args], env, e)
        if not isinstance(f, ast.Name | ast.Attribute):
            return self.apply(self.value(f, env), e.args, env, e)
        root = f
        while isinstance(root, ast.Attribute):
            root = root.value  # type: ignore[assignment]
        if isinstance(root, ast.Name) and root.id in env:
            raise self.err(e, "method calls are outside the subset: values never change (no list.append, ...)",
                           "build a new value: p = (a, p[1]); pairs and Left/Right instead of lists")
        try:
            obj = self.global_object(f)
        except AttributeError as ex:
            raise self.err(f, str(ex), "a function of the module") from None
        return self.call_object(obj, e, env)

    def call_object(self, obj: Any, e: ast.Call, env: dict[str, Any]) -> Node:
        n = len(e.args)
        name = ast.unparse(e.func)

        def arity(k: int) -> None:
            if n != k:
                raise self.err(e, f"{name} takes {k} argument{'s' if k > 1 else ''}, not {n}",
                               f"{name}({', '.join('abcd'[:k])})")

        if obj is Left or obj is Right:
            arity(1)
            return self.b.inj(obj is Left, self.value(e.args[0], env))
        d = getattr(obj, "definition", None)
        if isinstance(d, Definition):
            arity(len(d.params))
            args = [self.value(a, env) for a in e.args]
            for a, t, p, at in zip(args, d.param_types, d.params, e.args):
                self.expect(a.type, t, at, f"{d.name}'s parameter {p}")
            return self.call_definition(d, args, e)
        if obj in _VALUES:
            arity(2)
            a, b = (self.integer(x, env, "the argument") for x in e.args)
            return self.b.prim(_VALUES[obj], a, b)
        if obj is abs:
            arity(1)
            x = self.integer(e.args[0], env, "abs's argument")
            neg = self.b.prim("Sub", self.b.lit(0), x)
            return self.b.case(self.b.prim("Lt", x, self.b.lit(0)), self.b.var("yes", Unit), neg,
                               self.b.var("no", Unit), x, Int)
        if obj is min or obj is max:
            arity(2)
            a, b = (self.integer(x, env, "the argument") for x in e.args)
            # Python answers the first of equal extremes
            swap = self.b.prim("Lt", b, a) if obj is min else self.b.prim("Lt", a, b)
            return self.b.case(swap, self.b.var("yes", Unit), b, self.b.var("no", Unit), a, Int)
        if obj is divmod:
            arity(2)
            a, b = (self.integer(x, env, "the argument") for x in e.args)
            if b.kind != LIT or b.label == 0:
                raise self.err(e.args[1], "divmod needs a constant divisor other than 0 (Python raises on 0)",
                               "divmod64(a, b) from catlib.values: Left(()) for b == 0, else Right((q, r))")
            return self.b.pair(*self.divmod_const(a, b))
        if obj is range:
            raise self.err(e, "range is only the iterable of a for loop", "for i in range(N): ...")
        raise self.err(e.func, f"{name} is not a function the frontend knows",
                       "Left, Right, @machine functions, local helpers, abs, min, max, divmod, divmod64")

    def annotation(self, node: ast.expr) -> Type:
        return annotation_type(self.src, self.globals, node)

    def fresh_like(self) -> Var:
        return self.u.fresh()
