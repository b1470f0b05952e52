import pytest
from hypothesis import given

from catlib.strategies import types
from catlib.types import Fun, Int, Prod, Sum, TypeParseError, Unifier, UnifyError, Unit, Var, parse, rename


@given(types(max_depth=4))
def test_print_parse_round_trip(t):
    assert parse(str(t)) == t
    assert eval(repr(t)) == t


def test_notation():
    assert str(Sum(Unit, Prod(Int, Int))) == "Either () (Int, Int)"
    assert str(Sum(Sum(Int, Unit), Int)) == "Either (Either Int ()) Int"
    assert str(Fun(Fun(Int, Int), Int)) == "(Int -> Int) -> Int"
    assert parse("a -> b -> c") == Fun(Var("a"), Fun(Var("b"), Var("c")))


@pytest.mark.parametrize("text", ["(Int", "Either Int", "Int Int", "(,)", "Foo", "Int -> ", "#"])
def test_parse_errors_say_where(text):
    with pytest.raises(TypeParseError, match="position"):
        parse(text)


def test_unify_and_occurs_check():
    u = Unifier()
    u.unify(parse("(a, Either b Int)"), parse("(Int, c)"))
    assert u.resolve(parse("(a, c)")) == parse("(Int, Either b Int)")
    with pytest.raises(UnifyError, match="infinite"):
        Unifier().unify(Var("a"), Prod(Var("a"), Int))
    # the variable on the right, and the cycle only through earlier bindings (two terms with no common type)
    with pytest.raises(UnifyError, match="infinite"):
        Unifier().unify(Prod(Var("a"), Int), Var("a"))
    u = Unifier()
    u.unify(Var("b"), Prod(Var("c"), Var("d")))
    with pytest.raises(UnifyError, match="infinite"):
        u.unify(Sum(Var("b"), Var("e")), Var("c"))
    with pytest.raises(UnifyError):
        Unifier().unify(Int, Unit)


def test_rename_in_order_of_appearance():
    assert [str(t) for t in rename([parse("(x, y)"), parse("Either y z")])] == ["(a, b)", "Either b c"]


def test_deep_types_parse_and_print(no_gc):
    # types printed from a deep term's signature parse back: no recursion on the nesting
    t: Prod | Sum | Fun = Prod(Int, Unit)
    for k in range(100_000):  # (only the type used is made: not all three each round)
        t = Sum(t, Var("a")) if k % 3 == 0 else Prod(Unit, t) if k % 3 == 1 else Fun(t, Int)
    text = str(t)
    assert parse(text) == t
    assert parse("(" * 50_000 + "Int" + ")" * 50_000) == Int
    with pytest.raises(TypeParseError, match="position"):
        parse("(" * 50_000 + "Int")


def test_host_values_deep_checked_in_linear_time_with_clear_errors():
    from catlib.values import Left, check_value, has_type

    v, t = (), Unit
    for _ in range(100_000):
        v, t = Left(v), Sum(t, Int)
    assert has_type(v, t)  # the path to each level was once a new string: quadratic
    with pytest.raises(TypeError, match=r"^value\.value = <a Left nested too deeply to print> does not have type Int"):
        check_value(Left(v), Sum(Int, Int))
    with pytest.raises(TypeError, match=r"^x\[0\]\[1\]\.value = 5 does not have type \(\)$"):
        check_value(((1, Left(5)), 2), "((Int, Either () Int), Int)", "x")
