"""Outside the subset, or ill-typed: `SourceError` at the line and column that caused it, saying what is
allowed instead."""

from __future__ import annotations

import linecache
from collections.abc import Callable

import pytest

from catlib.examples import plain
from catlib.frontend import Either, Left, Right, SourceError, Unit, machine
from catlib.frontend.ir import PRIM, Builder, Node
from catlib.origin import origin
from catlib.tree import walk


def at(e: SourceError, snippet: str, message: str) -> None:
    """`e` points at `snippet` in this file, says `message`, and says what is allowed instead."""
    assert e.filename == __file__
    line = linecache.getline(e.filename, e.line)
    assert line.rstrip("\n") == e.text and snippet in line, (line, e.text)
    assert line[e.column - 1:].startswith(snippet), (line, e.column, snippet)
    assert message in e.message, e.message
    assert e.hint and "allowed instead" in str(e) and "^" in str(e)


def test_a_while_loop():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> int:
            while x > 0:
                x = x - 1
            return x
    at(e.value, "while x > 0:", "while loop is outside the subset")


def test_unknown_functions():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> int:
            return undefined_helper(x)  # type: ignore[name-defined]  # noqa: F821
    at(e.value, "undefined_helper", "undefined_helper is not defined")
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: int) -> int:
            return print(x)  # type: ignore[func-returns-value]
    at(e.value, "print", "print is not a function the frontend knows")


def test_mutation_and_lists():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: tuple[int, int]) -> tuple[int, int]:
            x[0] = 1  # type: ignore[index]
            return x
    at(e.value, "x[0]", "assigning into a value")
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: int) -> int:
            return [x][0]
    at(e.value, "[x]", "lists, dicts, sets")
    with pytest.raises(SourceError) as e:
        @machine
        def m3(x: tuple[int, int]) -> int:
            x.count(1)
            return 0
    at(e.value, "x.count(1)", "method calls")


def test_missing_annotations():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x, s: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
            return s, x
    at(e.value, "x, s", "parameter x needs a type annotation")
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: int, s: int) -> int:
            return x
    at(e.value, "int:", "a machine answers (new state, output)")


def test_two_paths_returning_different_types():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> int:
            if x > 0:
                return 1
            return Left(())
    at(e.value, "Left(())", "what m returns is Either () a, but Int is expected")


def test_a_path_without_return():
    with pytest.raises(SourceError) as e:
        @machine
        def m(cmd: int, s: int) -> tuple[int, int]:
            if cmd > 0:
                return s + cmd, s
    at(e.value, "if cmd > 0:", "ends here without return")


def test_type_errors_at_the_subexpression():
    with pytest.raises(SourceError) as e:
        @machine
        def m(cmd: int, balance: int) -> tuple[int, int]:
            return balance + Left(()), cmd
    at(e.value, "Left(())", "the right operand is Either () a, but Int is expected")
    with pytest.raises(SourceError) as e:
        @machine
        def m2(cmd: Either[Unit, Unit], n: int) -> tuple[int, Either[Unit, int]]:
            return plain.counter(n, cmd)
    at(e.value, "n, cmd", "counter's parameter cmd is Int, but Either () () is expected")


def test_bools_and_truth():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> Either[Unit, Unit]:
            return x < 3  # type: ignore[return-value]
    at(e.value, "x < 3", "Python bool")
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: Either[Unit, Unit]) -> int:
            if x:
                return 1
            return 0
    at(e.value, "x:", "always true in Python")


def test_recursion_and_function_values_out_of_place():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> int:
            def again(v: int) -> int:
                return again(v)
            return again(x)
    at(e.value, "again(v)", "again calls itself: recursion")
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: int) -> int:
            f = lambda v: v  # noqa: E731
            return plain.low_bits(f)  # type: ignore[arg-type]
    at(e.value, "f)", "low_bits's parameter x is a -> a, but Int is expected")


def test_closure_errors():
    cases = []
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> tuple[Callable[[int], int], int]:
            return (lambda a, b: a + b), x  # type: ignore[return-value]
    cases.append((e.value, "lambda a, b", "a function value takes exactly one parameter"))
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: int) -> tuple[Callable[[int], int], int]:
            return (lambda v: v < x), x  # type: ignore[return-value]
    cases.append((e.value, "lambda v: v < x", "answers a Python bool"))
    with pytest.raises(SourceError) as e:
        @machine
        def m3(x: int) -> int:
            f = lambda v: v + 1  # noqa: E731
            g = lambda v: v + 2  # noqa: E731
            return 1 if f == g else 0
    cases.append((e.value, "g else", "== cannot compare functions"))
    with pytest.raises(SourceError) as e:
        @machine
        def m4(x: int) -> int:
            return x(3)  # type: ignore[operator]
    cases.append((e.value, "x(3)", "the function called is Int"))
    with pytest.raises(SourceError) as e:
        @machine
        def m5(f: Callable[[int], int]) -> int:
            return f(1, 2)
    cases.append((e.value, "f(1, 2)", "a function value takes one argument, not 2"))
    with pytest.raises(SourceError) as e:
        @machine
        def m6(x: int) -> tuple[Callable[[int], int], int]:
            return (lambda v: plain.counter), x  # type: ignore[return-value]
    cases.append((e.value, "plain.counter", "a @machine function is called here, not used as a value"))
    for err, snippet, message in cases:
        at(err, snippet, message)


def test_shapes_outside_the_subset():
    cases = []
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> tuple[int, tuple[int, int]]:
            return (x, x, x)  # type: ignore[return-value]
    cases.append((e.value, "(x, x, x)", "tuples are pairs"))
    with pytest.raises(SourceError) as e:
        @machine
        def m2(x: int) -> int:
            return x / 2  # type: ignore[return-value]
    cases.append((e.value, "x / 2", "Div is outside the subset"))
    with pytest.raises(SourceError) as e:
        @machine
        def m3(x: tuple[int, int]) -> int:
            return x[0] % x[1]
    cases.append((e.value, "x[1]", "constant divisor"))
    with pytest.raises(SourceError) as e:
        @machine
        def m4(x: int) -> int:
            if x > 0:
                y = 1
            return y
    cases.append((e.value, "y", "y is not assigned on every path that reaches here"))
    with pytest.raises(SourceError) as e:
        @machine
        def m5(x: int) -> int:
            for i in range(x):
                x = x + i
            return x
    cases.append((e.value, "x", "bounds of range must be constants"))
    with pytest.raises(SourceError) as e:
        @machine
        def m6(x: int) -> int:
            for i in range(1000):
                x = x + i
            return x
    cases.append((e.value, "range(1000)", "limit is 256"))
    with pytest.raises(SourceError) as e:
        @machine
        def m7(x: int) -> int:
            global LIMIT
            return x
    cases.append((e.value, "global LIMIT", "global variables"))
    for err, snippet, message in cases:
        at(err, snippet, message)


def test_a_long_unrolled_chain_is_refused_not_a_crash():
    with pytest.raises(SourceError) as e:
        @machine
        def m(x: int) -> int:
            for _ in range(200):
                for _ in range(2):
                    x = x * x + 1
            return x
    at(e.value, "x = x * x + 1", "levels deep")


POLYMORPHIC = "Either Int a"


def test_type_variables_in_the_signature():
    with pytest.raises(SourceError) as e:
        @machine
        def m(cmd: POLYMORPHIC, s: int) -> tuple[int, int]:  # type: ignore[valid-type]
            return s, cmd
    at(e.value, "POLYMORPHIC", "Either Int a has type variables; a machine's types are ground")


def test_a_type_error_on_the_term_is_reported_at_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: "Type errors found on the term are reported at the source span of the subterm that
    caused them."  The frontend types every expression it elaborates, so no program of the subset is
    known to reach the term ill-typed (none of 300 random programs and 1,284 copies of the examples
    with one name replaced by a value of another type did: docs/frontend.md).
    A bug in the frontend would: here a simulated one, a product typed Int but lowered as ``Lt``
    (which answers ``Either () ()``).  The error names the line and column of the expression whose
    term is ill-typed, not a path in the generated term alone.
    """
    real = Builder.prim

    def buggy(self: Builder, op: str, a: Node, b: Node) -> Node:
        n = real(self, op, a, b)
        if op == "Mul" and n.kind == PRIM:
            n.label = "Lt"
        return n

    monkeypatch.setattr(Builder, "prim", buggy)
    with pytest.raises(SourceError) as e:
        @machine
        def m(cmd: Either[int, Unit], s: int) -> tuple[int, int]:
            match cmd:
                case Left(k):
                    return s, (k * 3) - s
                case Right(()):
                    return s, s
    at(e.value, "(k * 3) - s", "the term of this does not type-check: f's output (Either () (), Int) does not "
       "match g's input (Int, Int)")
    assert "in m's term, a Compose" in e.value.message


def test_terms_remember_the_expression_that_built_them() -> None:
    """The lowering places each term it builds at its expression (`catlib.origin`, as the port DSL
    does with lines); where a term is built is not part of it (equality and hashing ignore it)."""
    @machine
    def m(cmd: Either[Unit, Unit], count: int) -> tuple[int, Either[Unit, int]]:
        if cmd == Left(()):
            return count + 1, Left(())
        return count, Right(count)
    places = {origin(t) for t in walk(m.term)} - {None}
    line = linecache.getline(__file__, next(p.line for p in places if p is not None and
                                            "count + 1," in linecache.getline(__file__, p.line)))
    spans = {line[p.column - 1:p.end_column - 1] for p in places if p is not None and p.line and
             "count + 1," in linecache.getline(__file__, p.line)}
    assert "count + 1" in spans, spans
    assert machine(m.function).term == m.term


def test_a_state_without_a_first_value_needs_a_default() -> None:
    with pytest.raises(SourceError) as e:
        @machine
        def m(cmd: Unit, rule: Callable[[int], int]) -> tuple[Callable[[int], int], Unit]:
            return rule, ()
    at(e.value, "rule: Callable", "a state of type Int -> Int needs an initial value")
