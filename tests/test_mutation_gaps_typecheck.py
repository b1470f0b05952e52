"""Tests for mutants of the type checker (catlib/typecheck.py, catlib/types.py) that survived the rest.

Each test names, in its docstring, the kind of mutant it kills (docs/mutation.md lists them).
"""

from __future__ import annotations

import pytest

from catlib.free import Add, Const, Id
from catlib.syntax import inl, kase, pget, pput, sm
from catlib.typecheck import TermTypeError, check
from catlib.types import (
    Int,
    Prod,
    TypeParseError,
    Unifier,
    UnifyError,
    Unit,
    Var,
    ground,
    match,
    parse,
    rename,
    variable_name,
)


def _answers_two_types(cmd):  # noqa: ANN001, ANN202 - a port-DSL machine
    return kase(lambda u: inl(pput(pget(u) + 1)), lambda u: pget(u), cmd)


def test_an_error_located_by_its_origin_keeps_its_clash():
    """`infer_types` re-raises a clash with the line that built the subterm: path, subterm, expected and found
    stay those of the clash (mutants drop `found` or shift the arguments, or skip the origin)."""
    with pytest.raises(TermTypeError) as e:
        check(sm(_answers_two_types), state="Int")
    err = e.value
    assert err.origin is not None and err.origin.file == __file__
    assert err.path == ("g",) and err.subterm.op == "Case"
    assert (str(err.expected), str(err.found)) == ("Int", "Either () a")
    assert err.what == "f's output Either () a does not match g's output Int"


def test_a_declared_part_that_does_not_match_reports_both_types():
    """`check`'s clash with a declared part carries the declared type as `expected` (a mutant passes None)."""
    with pytest.raises(TermTypeError) as e:
        check(Const(1), output="()")
    assert (e.value.path, e.value.subterm, e.value.expected, e.value.found) == ((), Const(1), Unit, Int)


def test_a_declared_variable_that_is_not_general_enough_is_named_in_the_error():
    """The error's `expected` is the declared variable itself (a mutant builds ``Var(None)``)."""
    with pytest.raises(TermTypeError) as e:
        check(Add, input="(a, a)")
    assert (e.value.expected, e.value.found) == (Var("a"), Int)
    assert "declared type variable a is not general enough" in str(e.value)
    with pytest.raises(TermTypeError, match="declared type variable b is not general enough"):
        check(Id, input="(a, b)", output="(b, a)")


def test_variable_names_go_on_with_a_number_after_z():
    """a .. z, then a1 .. z1, a2 (a mutant starts the numbers one name late, so two variables share ``a``)."""
    assert [variable_name(n) for n in (0, 25, 26, 27, 51, 52)] == ["a", "z", "a1", "b1", "z1", "a2"]
    names = [str(t) for t in rename([Var(f"v{i}") for i in range(27)])]
    assert names[25:] == ["z", "a1"] and len(set(names)) == 27


def test_an_infinite_type_names_both_sides():
    """The occurs check's `UnifyError` carries the variable and the type it occurs in (a mutant drops the type)."""
    with pytest.raises(UnifyError, match=r"infinite type: a occurs in \(a, Int\)") as e:
        Unifier().unify(parse("a"), parse("(a, Int)"))
    assert (e.value.left, e.value.right) == (Var("a"), Prod(Var("a"), Int))


def test_match_tells_the_base_types_apart():
    """``()`` and ``Int`` are both leaves of one class: only their labels differ (a mutant needs the labels *and*
    the number of kids to differ before it refuses)."""
    assert match(Unit, Int) is None and match(Int, Unit) is None
    assert match(parse("(a, ())"), parse("(Int, Int)")) is None
    assert match(parse("(a, ())"), parse("(Int, ())")) == {"a": Int}


def test_resolving_keeps_what_needs_no_change_and_its_sharing():
    """`resolve_many` returns a subtree without bound variables as it is, so shared parts stay shared and a trace
    resolves in linear time (a mutant rebuilds every node: equal types, sharing lost)."""
    u = Unifier()
    u.unify(parse("x"), Int)
    s = parse("(a, Either () b)")
    t = Prod(s, s)
    [same, bound] = u.resolve_many([t, Prod(parse("x"), s)])
    assert same is t
    assert bound == Prod(Int, s) and bound.kids[1] is s


def test_ground_replaces_variables_by_the_default_given():
    """A mutant always grounds to ``()``."""
    assert ground(parse("(a, Either b a)")) == parse("((), Either () ())")
    assert ground(parse("(a, Either b a)"), Int) == parse("(Int, Either Int Int)")


def test_a_variable_name_may_hold_capitals_after_its_first_letter():
    """``aB`` is one type variable (a mutant's pattern allows only lower case after the first letter)."""
    assert parse("(aB, Int)") == Prod(Var("aB"), Int)
    assert parse("x'Y_1") == Var("x'Y_1")


def test_a_word_that_is_not_a_type_is_reported_at_its_position():
    """The position is the token's offset in the text (a mutant prints the token itself there)."""
    with pytest.raises(TypeParseError) as e:
        parse("(Int, Foo)")
    assert str(e.value) == "expected a type at position 6 in '(Int, Foo)', found 'Foo'"
