"""The decorator `machine` and what it makes: a `Machine`, a `catlib.program.Program` that is
also the Python function it was written as.

Python is the oracle: calling the machine runs the original function on
host values.  Python's ints do not wrap and the machine's do, so two more
ways to run the function tell the cases apart: `Machine.checked` raises
`OverflowError` at the first operation whose result leaves 64 bits, and
`Machine.wrapping` computes with 64-bit ints, wrapping as the machine does.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from catlib.free import path_str
from catlib.frontend.errors import SourceError, error_at
from catlib.frontend.ir import Builder
from catlib.frontend.lower import lower_function, lower_machine
from catlib.frontend.oracle import Checked, Wrapping, callables, lifted, oracle_mode, plain, run_with, too_big
from catlib.frontend.source import NO_INITIAL, Definition, parse_definition
from catlib.frontend.stmts import Elaborator
from catlib.program import Program
from catlib.typecheck import TermTypeError
from catlib.types import Int, Prod, Sum, Type, Unit, as_type
from catlib.values import HostValue, Left, check_value

__all__ = ["Machine", "machine", "first_value"]


@dataclass(frozen=True, eq=False)
class Machine(Program):
    """A machine (or function) written as plain Python: a `Program` with the function it came from.

    ``m(input, state)`` (``m(x)`` for a function) runs the original Python
    function on host values, checking their types; `term`, `signature`,
    `check` and the rest are the `Program`'s.
    """

    function: Callable[..., Any] = field(default=print, repr=False)
    definition: Definition | None = field(default=None, repr=False)
    compile_seconds: float = field(default=0.0, repr=False)

    def __repr__(self) -> str:
        return f"<machine {self.name}: {self.signature}, {self.term.size()} term nodes>"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled by name (its source, module and AST are not data): unpickling imports it
        return (_by_name, (self.function.__module__, self.function.__qualname__))

    @property
    def stateful(self) -> bool:
        """A machine with input and state (else a function of one argument, state ``()``)."""
        return self.definition is not None and self.definition.stateful

    def _args(self, args: tuple[Any, ...]) -> None:
        if len(args) != (2 if self.stateful else 1):
            what = "(input, state)" if self.stateful else "one argument"
            raise TypeError(f"{self.name} takes {what}, not {len(args)} arguments")
        check_value(plain(args[0]), self.input, f"{self.name}'s input")
        if self.stateful:
            check_value(plain(args[1]), self.state, f"{self.name}'s state")

    @property
    def result_type(self) -> Type:
        """What the Python function returns: ``(new_state, output)``, or the function's output."""
        state, output = as_type(self.state), as_type(self.output)
        return Prod(state, output) if self.stateful else output

    def __call__(self, *args: HostValue) -> HostValue:
        self._args(args)
        args = self._callables(args)
        if oracle_mode() is not None:  # called by a machine run with 64-bit ints: run likewise
            return self._oracle()(*args)
        result = self.function(*args)
        try:
            check_value(plain(result), self.result_type, f"{self.name}'s result")
        except TypeError as e:
            if too_big(result):
                raise OverflowError(f"{e}: Python's ints do not wrap, the machine's do at 64 bits "
                                    f"({self.name}.wrapping(...) computes what the machine answers)") from None
            raise
        return result

    def wrapping(self, *args: HostValue) -> HostValue:
        """The function run with 64-bit ints that wrap: what the machine answers."""
        self._args(args)
        return run_with(Wrapping, self._oracle(), self._callables(args))

    def checked(self, *args: HostValue) -> HostValue:
        """The function run with 64-bit ints that raise `OverflowError` instead of leaving 64 bits."""
        self._args(args)
        return run_with(Checked, self._oracle(), self._callables(args))

    def _callables(self, args: tuple[HostValue, ...]) -> tuple[HostValue, ...]:
        """`args` with closure values as Python callables (`catlib.frontend.oracle.HostFunction`)."""
        state = args[1] if self.stateful and len(args) > 1 else ()
        return tuple(callables(a, state) for a in args)

    def _oracle(self) -> Callable[..., Any]:
        """The function with every int it computes with made a 64-bit int (`catlib.frontend.oracle`)."""
        if "_lifted" not in self.__dict__:
            assert self.definition is not None
            object.__setattr__(self, "_lifted", lifted(self.definition, self.function))
        return self.__dict__["_lifted"]


def _by_name(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def first_value(t: Type) -> HostValue:
    """The value a state of type `t` starts from when the machine gives none: 0, (), pairs of
    those, ``Left`` of the left side's."""
    if t == Int:
        return 0
    if t == Unit:
        return ()
    if isinstance(t, Prod):
        return (first_value(t.kids[0]), first_value(t.kids[1]))
    if isinstance(t, Sum):
        return Left(first_value(t.kids[0]))
    raise TypeError(f"a state of type {t} needs an initial value: give the state parameter a default")


def machine(fn: Callable[..., Any]) -> Machine:
    """Compile the plain Python function `fn` into a `Machine` (`SourceError` if it is outside the subset).

    ``def m(input: I, state: S = initial) -> tuple[S, O]`` is a machine
    ``S / I -> O``; ``def f(x: A) -> B`` a function ``() / A -> B`` (a state
    migration, or a helper other machines call).  See `catlib.frontend`.
    """
    try:
        return _compile(fn)
    except SourceError as e:  # the user's line is the point: not the frontend's frames
        raise e.with_traceback(None) from None


def _compile(fn: Callable[..., Any]) -> Machine:
    start = time.perf_counter()
    d = parse_definition(fn)
    b = Builder()
    el = Elaborator(d, b)
    x = b.var(d.params[0], d.param_types[0])
    if d.stateful:
        root = el.run([x, b.state_leaf(d.param_types[1])])
        term = lower_machine(root, x, b.u)
        state, output = d.param_types[1], d.result.kids[1]
    else:
        root = el.run([x])
        term = lower_function(root, [x], b.u)
        state, output = Unit, d.result
    try:
        initial = d.initial if d.initial is not NO_INITIAL else first_value(state)
    except TypeError as e:
        raise d.source.error(d.tree.args.args[-1], str(e), f"a default of type {state}") from None
    try:
        m = Machine(d.name, term, state, d.param_types[0], output, initial, fn, d, 0.0)
    except TypeError as e:
        raise d.source.error(d.tree.args.args[-1], f"the initial state: {e}",
                             f"a default of type {state}") from None
    try:
        m.check()
    except TermTypeError as e:
        # the elaborator typed every node, so the frontend's own checks missed this one: say where it
        # is in the source (the lowering placed each term at the expression it comes from)
        if e.origin is None or not e.origin.column:
            raise SourceError(d.source.filename, d.source.first_line, 1, 2, d.source.lines[0],
                              f"internal error, please report: the term of {d.name} does not type-check: "
                              f"{e}") from e
        raise error_at(e.origin, f"the term of this does not type-check: {e.what} (at {path_str(e.path)} "
                       f"in {d.name}'s term, a {e.subterm.op})",
                       "values of the types the annotations give (this one passed the frontend's own "
                       "checks: please report it too)") from e
    object.__setattr__(m, "compile_seconds", time.perf_counter() - start)
    object.__setattr__(m, "__doc__", fn.__doc__)
    object.__setattr__(m, "__wrapped__", fn)
    return m
