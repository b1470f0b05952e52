"""Type errors in port-DSL machines name the Python line that built the ill-typed subterm (issue 14, item 3)."""

import inspect

import pytest

from catlib.origin import origin
from catlib.syntax import inl, inr, kase, pget, pput, sm, unit
from catlib.typecheck import TermTypeError, check


def _line_of(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def counter_with_a_bug(cmd):
    incr = lambda u: inl(pput(pget(u) + 1))  # noqa: E731
    count = lambda u: pget(u)  # the bug: not inr(...), so the branches answer different types  # noqa: E731
    return kase(incr, count, cmd)


def test_a_type_error_names_the_line_that_built_the_subterm():
    with pytest.raises(TermTypeError) as e:
        check(sm(counter_with_a_bug), state="Int")
    assert e.value.origin is not None
    assert e.value.origin.file == __file__
    assert e.value.origin.line == _line_of(counter_with_a_bug, "return kase(")
    assert f"(built at {__file__}:{e.value.origin.line}: return kase(incr, count, cmd))" in str(e.value)


def nested_bug(cmd):
    balance = pget(unit)
    bad = balance + inr(unit)  # adds a sum to an integer
    return kase(lambda u: inl(pput(bad)), lambda u: inr(pget(u)), cmd)


def test_the_deepest_recorded_subterm_is_named():
    with pytest.raises(TermTypeError) as e:
        check(sm(nested_bug), state="Int")
    assert e.value.origin is not None and e.value.origin.line == _line_of(nested_bug, "bad = balance")


def test_where_a_term_was_built_is_not_part_of_the_term():
    a = sm(lambda p: inl(pget(p)))
    b = sm(lambda p: inl(pget(p)))  # the same term, another line
    assert a == b and hash(a) == hash(b) and a is not b
    where_a, where_b = origin(a), origin(b)
    assert where_a is not None and where_b is not None
    assert (where_a.file, where_b.line) == (__file__, where_a.line + 1)


def test_terms_not_built_with_ports_carry_no_line():
    from catlib.free import Add, Compose, Inl

    with pytest.raises(TermTypeError) as e:
        check(Compose(Add, Inl))
    assert e.value.origin is None and "built at" not in str(e.value)
