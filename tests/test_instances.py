import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catlib.cartesian import Closed, Ordered
from catlib.constructs import CONSTRUCTS
from catlib.examples.generic import counter, swap
from catlib.examples.matrices import Matrices
from catlib.examples.relations import Relations
from catlib.free import FREE, Case, Compose, Const, Consume, Distr, Embed, Free, Fst, Get, Par, Snd
from catlib.functor import interpret
from catlib.instances import FUNCTIONS, MACHINES
from catlib.interpreter import run, step
from catlib.strategies import runs, typed_terms, values
from catlib.typecheck import infer
from catlib.types import Int, Prod, Unit
from catlib.values import Left, Right, add64
from tests.conftest import scaled

commands = st.lists(st.sampled_from([Left(()), Right(())]), max_size=30)


@given(values("(Int, Either () Int)"), values("Int"))
def test_swap_agrees_in_every_instance(x, s):
    expected = (x[1], x[0])
    assert FUNCTIONS.then(swap(FUNCTIONS))(x) == expected
    assert swap(MACHINES)(x, s) == (s, expected)
    assert step(swap(FREE), x, s) == (s, expected)
    assert str(infer(swap(FREE))) == "a / (b, c) -> (c, b)"


@given(commands, values("Int"))
def test_counter_agrees_in_free_and_machines(cmds, n):
    sm = counter(MACHINES)
    state, outs = n, []
    for c in cmds:
        state, y = sm(c, state)
        outs.append(y)
    assert run(counter(FREE), cmds, n) == (state, outs)


def test_derived_combinators_are_the_references_terms():
    f, g = FREE.fst(), FREE.snd()
    assert FREE.first(f) == Par(f, FREE.id())
    assert FREE.second(g) == Par(FREE.id(), g)
    assert FREE.fanout(f, g) == Compose(Par(f, g), FREE.copy())
    assert FREE.plus(f, g) == FREE.case(Compose(FREE.inl(), f), Compose(FREE.inr(), g))
    assert FREE.choice(f, g) == FREE.case(f, g)
    assert FREE.left(f) == FREE.case(Compose(FREE.inl(), f), FREE.inr())
    assert FREE.right(g) == FREE.case(FREE.inl(), Compose(FREE.inr(), g))
    assert FREE.then(f, g) == Compose(g, f)


@given(values("Either Int (Int, Int)"))
def test_functions_model_of_sums(v):
    h = FUNCTIONS.plus(FUNCTIONS.const(7), FUNCTIONS.add())
    expected = Left(7) if isinstance(v, Left) else Right(add64(*v.value))
    assert h(v) == expected
    assert step(FREE.plus(FREE.const(7), FREE.add()), v, ())[1] == expected


# ---------------------------------------------------------------- the generic functor

@settings(max_examples=scaled(200))
@given(runs())
def test_functor_agrees_with_the_interpreter(case):
    t, sig, x, s = case
    assert interpret(t, FREE) == t  # the free category is initial: interpreting rebuilds the term
    assert interpret(t, MACHINES)(x, s) == step(t, x, s)


@settings(max_examples=scaled(200))
@given(runs(pure=True))
def test_functor_in_the_pure_model(case):
    t, sig, x, s = case
    assert interpret(t, FUNCTIONS)(x) == step(t, x, s)[1]


ORDERED = frozenset(c.name for c in CONSTRUCTS.values() if c.interface in (Ordered, Closed))
"""Relations are not `Ordered` (comparisons do not survive reading modulo 4), nor `Closed`."""


@settings(max_examples=scaled(100))
@given(typed_terms(state="()", pure=True, max_type_depth=1, max_size=8, without=ORDERED))
def test_relations_agree_with_the_interpreter_modulo_their_modulus(case):
    """A term's relation is the graph of its function, with integers read modulo 4."""
    t, sig = case
    R = Relations(modulus=4)
    rel = interpret(t, R, signature=sig)
    assert rel == frozenset((x, _mod(step(t, x, ())[1], 4)) for x in R.carrier(sig.input))


def _mod(v, m):
    if type(v) is int:
        return v % m
    if type(v) is tuple:
        return tuple(_mod(x, m) for x in v)
    return type(v)(_mod(v.value, m)) if isinstance(v, (Left, Right)) else v


class _Recorder(Free):
    """The free category, noting the objects each primitive receives."""

    typed = True

    def __init__(self):
        self.seen = []

    def fst(self, a=None, b=None):
        self.seen.append(("fst", a, b))
        return super().fst()

    def distr(self, a=None, b=None, c=None):
        self.seen.append(("distr", a, b, c))
        return super().distr()

    def const(self, k, a=None):
        self.seen.append(("const", k, a))
        return super().const(k)

    def get(self, s=None):
        self.seen.append(("get", s))
        return super().get()


def test_typed_instances_receive_their_objects_in_order():
    C = _Recorder()
    t = Distr >> Case(Fst >> Consume >> Get, Snd >> Fst) >> Const(3)
    assert interpret(t, C, signature=("Int", "(Either () Int, (Int, ()))", None)) == t
    IU = Prod(Int, Unit)
    # post-order, children in the term's order (Compose(g, f) visits g first)
    assert C.seen == [("const", 3, Int), ("get", Int), ("fst", Unit, IU), ("fst", Int, Unit),
                      ("distr", Unit, Int, IU)]
    # variables the context leaves free are read as ()
    C = _Recorder()
    interpret(Fst, C)
    assert C.seen == [("fst", Unit, Unit)]
    with pytest.raises(TypeError, match="embed"):
        interpret(Embed(abs, "Int", "Int"), Matrices(), signature=(None, "Int", None))
