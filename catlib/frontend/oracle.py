"""Python as the oracle, with the machine's ints: the function run on 64-bit ints.

Python's ints do not wrap; the machine's do.  `lifted` recompiles a plain
machine's function so that every int it computes with is a `Wrapping` or a
`Checked` int (chosen when it runs, by `run_with`): each int literal and
each name it reads goes through ``__lift__``, which makes plain ints 64-bit
ones (and leaves anything else as it is).  Arguments are lifted too, and a
machine it calls runs its own lifted function, so no plain int is left to
compute with: `Wrapping` gives what the machine answers, and `Checked`
raises `OverflowError` at the first operation whose result leaves 64 bits.

>>> Wrapping(2**63 - 1) + 1, 1 + Wrapping(2**63 - 1)
(-9223372036854775808, -9223372036854775808)
>>> Checked(2**63 - 1) + 1
Traceback (most recent call last):
  ...
OverflowError: 9223372036854775808 leaves the 64-bit range
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from catlib.frontend.source import Definition
from catlib.interpreter import step
from catlib.values import INT_MAX, INT_MIN, Curried, HostValue, Left, Right, wrap

__all__ = ["Wrapping", "Checked", "lift", "plain", "too_big", "lifted", "run_with", "oracle_mode", "HostFunction",
           "callables"]

_MODE: ContextVar[type[int] | None] = ContextVar("catlib.frontend.oracle mode", default=None)


def oracle_mode() -> type[int] | None:
    """The int class the function running now computes with (None: Python's own ints)."""
    return _MODE.get()


class Wrapping(int):
    """An int whose arithmetic wraps at 64 bits (Python prefers a subclass's reflected operators,
    so ``1 + x`` wraps too)."""

    def _new(self, v: int) -> Wrapping:
        return type(self)(wrap(v))

    def __add__(self, o: int) -> Wrapping:
        return self._new(int(self) + int(o)) if isinstance(o, int) else NotImplemented

    __radd__ = __add__

    def __sub__(self, o: int) -> Wrapping:
        return self._new(int(self) - int(o)) if isinstance(o, int) else NotImplemented

    def __rsub__(self, o: int) -> Wrapping:
        return self._new(int(o) - int(self)) if isinstance(o, int) else NotImplemented

    def __mul__(self, o: int) -> Wrapping:
        return self._new(int(self) * int(o)) if isinstance(o, int) else NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, o: int) -> Wrapping:
        return self._new(int(self) // int(o)) if isinstance(o, int) else NotImplemented

    def __rfloordiv__(self, o: int) -> Wrapping:
        return self._new(int(o) // int(self)) if isinstance(o, int) else NotImplemented

    def __mod__(self, o: int) -> Wrapping:
        return self._new(int(self) % int(o)) if isinstance(o, int) else NotImplemented

    def __rmod__(self, o: int) -> Wrapping:
        return self._new(int(o) % int(self)) if isinstance(o, int) else NotImplemented

    def __divmod__(self, o: int) -> tuple[Wrapping, Wrapping]:
        return self // o, self % o

    def __rdivmod__(self, o: int) -> tuple[Wrapping, Wrapping]:
        return self._new(o) // self, self._new(o) % self

    def __pow__(self, o: int) -> Wrapping:  # type: ignore[override]
        return self._new(pow(int(self), int(o), 2**64))

    def __neg__(self) -> Wrapping:
        return self._new(-int(self))

    def __pos__(self) -> Wrapping:
        return self

    def __abs__(self) -> Wrapping:
        return self._new(abs(int(self)))

    def __invert__(self) -> Wrapping:
        return self._new(~int(self))


class Checked(Wrapping):
    """An int that raises `OverflowError` when an operation's result leaves 64 bits."""

    def _new(self, v: int) -> Wrapping:
        if not INT_MIN <= v <= INT_MAX:
            raise OverflowError(f"{v} leaves the 64-bit range")
        return type(self)(v)

    def __pow__(self, o: int) -> Wrapping:  # type: ignore[override]
        return self._new(int(self) ** int(o))


def lift(v: Any, cls: type[int]) -> Any:
    """`v` with every int made a `cls`."""
    if type(v) is int:
        return cls(v)
    if type(v) is tuple:
        return tuple(lift(x, cls) for x in v)
    if isinstance(v, Left | Right):
        return type(v)(lift(v.value, cls))
    return v


def plain(v: Any) -> Any:
    """`v` with every int subclass (`bool` aside) made a plain int."""
    if isinstance(v, int) and not isinstance(v, bool) and type(v) is not int:
        return int(v)
    if type(v) is tuple:
        return tuple(plain(x) for x in v)
    if isinstance(v, Left | Right):
        return type(v)(plain(v.value))
    return v


def too_big(v: Any) -> bool:
    if type(v) is int:
        return not INT_MIN <= v <= INT_MAX
    if type(v) is tuple:
        return any(too_big(x) for x in v)
    return isinstance(v, Left | Right) and too_big(v.value)



def _lift_any(v: Any) -> Any:
    cls = _MODE.get()
    return v if cls is None or type(v) is not int else cls(v)


class _Lifter(ast.NodeTransformer):
    """Int literals and names read become ``__lift__(...)`` (patterns and call targets stay)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) is not int:
            return node
        return ast.copy_location(ast.Call(ast.Name("__lift__", ast.Load()), [node], []), node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            return node
        return ast.copy_location(ast.Call(ast.Name("__lift__", ast.Load()), [node], []), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_match_case(self, node: ast.match_case) -> ast.AST:
        node.guard = self.visit(node.guard) if node.guard is not None else None
        node.body = [self.visit(s) for s in node.body]
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node  # annotations are not computed with

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.body = [self.visit(s) for s in node.body]
        node.decorator_list, node.returns = [], None
        node.args.defaults = []
        return node


def lifted(d: Definition, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` recompiled from its definition with every int read through ``__lift__``."""
    tree = ast.Module([_Lifter().visit(copy.deepcopy(d.tree))], [])  # the definition's own tree is inlined elsewhere
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, d.source.first_line - 1)  # tracebacks show the file's lines
    names = {**d.globals, "__lift__": _lift_any}
    exec(compile(tree, d.source.filename, "exec"), names)  # noqa: S102 - the user's own function
    return names[d.name]


def run_with(cls: type[int], fn: Callable[..., Any], args: tuple[HostValue, ...]) -> HostValue:
    """`fn` on `args`, every int a `cls`; the answer with plain ints."""
    token = _MODE.set(cls)
    try:
        return plain(fn(*lift(args, cls)))
    finally:
        _MODE.reset(token)


class HostFunction:
    """A closure value (`catlib.values.Curried`) as a Python callable, for the Python function:
    applied, the interpreter runs its body on ``(env, argument)`` with the state the step started
    from (a closure that writes the state has its write dropped here: the frontend's closures are pure).

    >>> from catlib.free import Add
    >>> HostFunction(Curried(Add, 1), ())(41)
    42
    """

    __slots__ = ("closure", "state")

    def __init__(self, closure: Curried, state: HostValue) -> None:
        self.closure, self.state = closure, state

    def __call__(self, z: Any) -> Any:
        mode = oracle_mode()
        out = step(self.closure.body, (self.closure.env, plain(z)), self.state)[1]
        out = callables(out, self.state)
        return lift(out, mode) if mode is not None else out

    def __repr__(self) -> str:
        return f"HostFunction({self.closure!r})"


def callables(v: Any, state: HostValue) -> Any:
    """`v` with every closure value made a `HostFunction` (what the Python function calls)."""
    if type(v) is Curried:
        return HostFunction(v, state)
    if type(v) is tuple:
        return tuple(callables(x, state) for x in v)
    if isinstance(v, Left | Right):
        return type(v)(callables(v.value, state))
    return v
