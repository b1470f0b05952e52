from hypothesis import given
from hypothesis import strategies as st

from catlib.examples.generic import counter, swap
from catlib.free import FREE, Compose, Par
from catlib.instances import FUNCTIONS, MACHINES
from catlib.interpreter import run, step
from catlib.strategies import values
from catlib.typecheck import infer
from catlib.values import Left, Right, add64

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
