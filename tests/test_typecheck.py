import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catlib.free import Add, Case, Compose, Const, Consume, Copy, Distr, Embed, Fst, Get, Id, Inl, Par, Put
from catlib.strategies import CONSTRUCTORS, typed_terms
from catlib.tree import walk
from catlib.typecheck import TermTypeError, check, infer
from catlib.types import Int, Prod, parse
from tests.conftest import scaled


@settings(max_examples=scaled(500))
@given(typed_terms(embed=True))
def test_generated_terms_check_at_their_signature(pair):
    term, sig = pair
    assert check(term, state=sig.state, input=sig.input, output=sig.output) == sig


def test_every_constructor_is_reachable():
    from catlib.strategies import Generator

    seen = set()
    for seed in range(2000):
        g = Generator.seeded(seed, embed=True)
        seen |= {t.op for t in walk(g.term(g.type(), g.type(), g.type(), 12))}
    assert seen == set(CONSTRUCTORS)


def test_principal_types():
    assert str(infer(Fst)) == "a / (b, c) -> b"
    assert str(infer(Distr)) == "a / (Either b c, d) -> Either (b, d) (c, d)"
    assert str(infer(Compose(Put, Get))) == "a / () -> ()"
    assert str(infer(Embed(abs, "Int", "Int"))) == "a / Int -> Int"
    assert str(infer(Const(3))) == "a / b -> Int"


def test_check_is_not_fooled_by_a_less_general_term():
    with pytest.raises(TermTypeError, match="not general enough"):
        check(Compose(Add, Copy), input="a")
    assert str(check(Id, input="a")) == "b / a -> a"


def test_errors_name_the_path_and_both_types():
    bad = Par(Id, Compose(Par(Fst, Const(1)), Case(Const(1), Consume)))
    with pytest.raises(TermTypeError) as info:
        infer(bad)
    err = info.value
    assert err.path == ("g", "f")
    assert "root.g.f (Case)" in str(err) and "Int" in str(err) and "()" in str(err)
    with pytest.raises(TermTypeError, match=r"root \(Compose\).*\(c, d\)"):
        infer(Compose(Fst, Inl))
    with pytest.raises(TermTypeError, match="declared output"):
        check(Get, state=Int, output="()")
    assert isinstance(TermTypeError((), Id, "x", Int, Int), TypeError)


@given(st.sampled_from(["()", "Int", "(Int, ())", "Either () Int"]))
def test_state_is_threaded_through_get_and_put(s):
    assert check(Compose(Put, Get), state=parse(s)).state == parse(s)


def test_shared_types_are_not_unfolded():
    """64 chained copies have a type of 2**64 leaves, shared in memory: inference stays linear.

    (Assertions here only compare small values: printing such a type would never end.)
    """
    t = Id
    for _ in range(64):
        t = Compose(Copy, t)
    for sig, leaf in ((check(t, input="Int"), "Int"), (infer(t), "b")):
        depth, x, shared = 0, sig.output, True
        while isinstance(x, Prod):
            shared = shared and x.kids[0] is x.kids[1]
            x, depth = x.kids[0], depth + 1
        assert (depth, shared, str(x), str(sig.input)) == (64, True, leaf, leaf)


def test_integer_primitives():
    from catlib.free import DivMod, Eq, Lt, Mul, Sub
    assert [str(infer(t)) for t in (Sub, Mul, Lt, Eq, DivMod)] == [
        "a / (Int, Int) -> Int", "a / (Int, Int) -> Int", "a / (Int, Int) -> Either () ()",
        "a / (Int, Int) -> Either () ()", "a / (Int, Int) -> Either () (Int, Int)"]
    # a comparison is a sum to branch on: its answer cannot be added
    with pytest.raises(TermTypeError, match=r"root \(Compose\).*Either \(\) \(\).*Int"):
        infer(Compose(Add, Compose(Par(Lt, Lt), Copy)))
    with pytest.raises(TermTypeError, match=r"declared input \(\) but the term has Int"):
        check(Compose(DivMod, Copy), input="()")


def _reference_signature(term):
    """`infer` without reusing the types of shared subterms: with a trace, every occurrence is typed anew."""
    from catlib.typecheck import Signature, infer_types
    from catlib.types import Unifier, rename

    u = Unifier()
    raw = infer_types(term, u, trace=[])
    return Signature(*rename([u.resolve(t) for t in raw]))


def _outcome(f, term):
    import re

    try:
        return str(f(term))
    except TermTypeError as e:  # fresh variables' numbers differ: the path and the message otherwise agree
        return e.path, re.sub(r"_[0-9]+", "_", str(e))


@settings(max_examples=scaled(150))
@given(typed_terms(max_size=6), typed_terms(max_size=6), st.integers(0, 5))
def test_shared_subterms_are_typed_once_with_the_same_result(a, b, shape):
    """A subterm occurring twice (by identity) is typed once and reused as an instance: the signature, or the
    error and its path, is what typing every occurrence anew gives, also where the state links them."""
    from catlib.free import Apply, Case, Curry

    a, b = a[0], b[0]
    shared = Compose(b, a)
    term = [Par(shared, shared), Compose(shared, shared), Case(shared, Compose(a, shared)),
            Compose(Par(a, b), Par(b, a)), Curry(Compose(Apply, Par(Curry(Compose(a, Fst)), shared))),
            Par(Compose(a, Get), Compose(Put, Par(shared, Compose(a, Get))))][shape]
    assert _outcome(infer, term) == _outcome(_reference_signature, term)


def test_shared_subterms_keep_the_state_they_constrain():
    get_first = Compose(Fst, Get)  # state (a, b): its instances keep the state's variables
    assert str(infer(Par(get_first, get_first))) == "(a, b) / ((), ()) -> (a, a)"
    assert str(infer(Compose(Put, Par(get_first, get_first)))) == "(a, a) / ((), ()) -> ()"
    clash = Par(Compose(Put, Const(1)), Par(get_first, get_first))  # the state is Int, then a pair
    assert _outcome(infer, clash) == _outcome(_reference_signature, clash)
    with pytest.raises(TermTypeError) as info:
        infer(clash)
    assert info.value.path == ("g", "f")
