"""A decorated function's source, parsed: its parameters, their types and its result type.

A machine is ``def name(input: I, state: S = initial) -> tuple[S, O]``; a
function (a state migration, a helper) is ``def name(x: A) -> B``.  Every
parameter and the result are annotated (`catlib.frontend.hints`); the state
parameter's default, if any, is the machine's initial state.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catlib.frontend.errors import Source
from catlib.frontend.hints import HintError, hint_type
from catlib.types import Prod, Type, Unifier

__all__ = ["Definition", "parse_definition", "annotation_type", "NO_INITIAL"]

NO_INITIAL = object()
"""The state parameter has no default."""

_SHAPE = "def name(input: I, state: S = initial) -> tuple[S, O], or def name(x: A) -> B"


@dataclass(frozen=True, eq=False)
class Definition:
    """What the frontend knows of a decorated function before compiling its body."""

    name: str
    source: Source
    tree: ast.FunctionDef
    globals: dict[str, Any]
    params: tuple[str, ...]
    param_types: tuple[Type, ...]
    result: Type
    initial: Any

    @property
    def stateful(self) -> bool:
        """A machine (input and state) rather than a function of one argument."""
        return len(self.params) == 2


def annotation_type(src: Source, globals: dict[str, Any], node: ast.expr) -> Type:
    """The type an annotation names, evaluated in the function's module."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value: Any = node.value
    else:
        try:
            value = eval(compile(ast.Expression(node), src.filename, "eval"), globals)  # noqa: S307
        except Exception as e:  # a name not defined, a bad subscript: the user's annotation
            raise src.error(node, f"this annotation does not evaluate: {type(e).__name__}: {e}",
                            "int, Unit, tuple[a, b], Either[a, b] (from catlib.frontend)") from None
    try:
        return hint_type(value)
    except HintError as e:
        raise src.error(node, str(e), "int, Unit, tuple[a, b], Either[a, b], Callable[[a], b]") from None


def _ground_type(src: Source, globals: dict[str, Any], node: ast.expr) -> Type:
    """A parameter's or the result's type: a machine runs at its types, so they have no variables."""
    t = annotation_type(src, globals, node)
    if not t.is_ground:
        raise src.error(node, f"{t} has type variables; a machine's types are ground (it runs at them)",
                        "int, Unit, tuple[a, b], Either[a, b], Callable[[a], b] of those")
    return t


def parse_definition(fn: Callable[..., Any]) -> Definition:
    """Read `fn`'s source and signature (`SourceError` if it is not a machine's or a function's)."""
    if not inspect.isfunction(fn):
        raise TypeError(f"@machine decorates a plain function (def), not {fn!r}")
    filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    # names of an enclosing function (a machine defined in a function) come before the module's
    closure: dict[str, Any] = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            closure[name] = cell.cell_contents
        except ValueError:  # not assigned yet
            pass
    names: dict[str, Any] = {**fn.__globals__, **closure} if closure else fn.__globals__
    try:
        lines, first = inspect.getsourcelines(fn)
    except OSError as e:
        raise TypeError(f"@machine needs {fn.__qualname__}'s source, which Python cannot find ({e}): define it in "
                        "a file (or a doctest), not at an interactive prompt") from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    src = Source(filename, [line.rstrip("\n") for line in lines], first, indent)
    tree = ast.parse(dedented)
    fdef = tree.body[0]
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise src.error(fdef, "an async function cannot be a machine", _SHAPE)
    if not isinstance(fdef, ast.FunctionDef):  # pragma: no cover - inspect found a def
        raise src.error(fdef, "not a function definition", _SHAPE)
    a = fdef.args
    extra = a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg
    if extra:
        raise src.error(fdef, "a machine's parameters are plain ones (no *args, **kwargs, / or *)", _SHAPE)
    if len(a.args) not in (1, 2):
        raise src.error(fdef, f"{fdef.name} has {len(a.args)} parameters; a machine has two (input, state), a "
                        "function one", _SHAPE)
    types = []
    for arg in a.args:
        if arg.annotation is None:
            raise src.error(arg, f"parameter {arg.arg} needs a type annotation", f"{arg.arg}: int (or Unit, "
                            "tuple[a, b], Either[a, b])")
        types.append(_ground_type(src, names, arg.annotation))
    if fdef.returns is None:
        raise src.error(fdef, f"{fdef.name} needs a result annotation", "-> tuple[S, O] for a machine with "
                        "state S and output O, -> B for a function")
    result = _ground_type(src, names, fdef.returns)
    if len(a.args) == 2:
        u = Unifier()
        out = u.fresh()
        try:
            u.unify(result, Prod(types[1], out))
        except TypeError:
            raise src.error(fdef.returns, f"a machine answers (new state, output): tuple[{types[1]}, O], since "
                            f"its state {a.args[1].arg} is {types[1]}; this is {result}",
                            f"-> tuple[{types[1]}, O]") from None
    defaults = fn.__defaults__ or ()
    if len(defaults) > 1 or (defaults and len(a.args) == 1):
        raise src.error(a.defaults[0], "only a machine's state parameter may have a default (its initial state)",
                        "def m(cmd: I, state: S = initial)")
    return Definition(fdef.name, src, fdef, names, tuple(x.arg for x in a.args), tuple(types), result,
                      defaults[0] if defaults else NO_INITIAL)

