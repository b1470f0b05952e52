"""Hypothesis strategies for types, values and well-typed terms.

Every strategy here is type-directed and never filters: every type is
inhabited, so a term of any requested signature can be built.

>>> from hypothesis import given, settings
>>> from catlib.typecheck import check
>>> @settings(max_examples=20)
... @given(terms(state="Int", input="Either () ()", output="Either () Int"))
... def test(f):
...     check(f, state="Int", input="Either () ()", output="Either () Int")
>>> test()

The terms, types and values come from `catlib.generator.Generator` (how
generation works is written there), its choices drawn from hypothesis, so
that failures shrink to small, still well-typed, terms.  The same generator
also runs on a plain `random.Random` (`Generator.seeded`), for campaigns of
millions of terms where hypothesis's bookkeeping would dominate
(``python -m cam.check``).
"""

from __future__ import annotations

import functools
import random
from typing import TYPE_CHECKING, Any, NamedTuple

from catlib.free import Term
from catlib.generator import CONSTRUCTORS, Choose, Generator
from catlib.plans import cached as _cached
from catlib.typecheck import Signature
from catlib.types import Type, as_type
from catlib.values import HostValue

if TYPE_CHECKING:  # hypothesis is imported where a strategy is made: a campaign (`Generator`) does without it
    from hypothesis import strategies as st

# Generator and CONSTRUCTORS are catlib.generator's, kept here too: campaigns and tests import them from here
__all__ = ["Generator", "types", "values", "terms", "typed_terms", "runs", "randoms", "drawing", "choices",
           "CONSTRUCTORS"]


def drawing(draw: Any, **options: Any) -> Generator:
    """A `Generator` (with `options`) whose choices are drawn by `draw`, a composite strategy's or
    ``st.data()``'s: for strategies of one's own built on the package's (see `choices`).

    >>> from hypothesis import given, strategies as st
    >>> from catlib.typecheck import check
    >>> @st.composite
    ... def squares(draw):
    ...     gen = drawing(draw, pure=True)
    ...     a = gen.type(1)
    ...     return gen.term(gen.type(1), a, a, 4)
    >>> @given(squares())
    ... def test(f): assert f.size() >= 1
    >>> test()
    """
    return Generator(choices(draw), **options)


def choices(draw: Any) -> Choose:
    """``choose`` for a composite strategy's (or ``st.data()``'s) `draw`: ``draw(integers(lo, hi))``, the
    same choice as hypothesis's own `integers` strategy makes (bounds and near-bounds weighted on wide
    ranges), asked of the test case's data directly.

    A generated term takes dozens of choices; drawn through the strategy each one also paid for
    hypothesis's strategy bookkeeping (looking up the strategy, validating it, recording a span around
    it), which took most of a property's time.  The choices themselves, and so generation, replay
    and shrinking, are the same.  Where `draw` is not a test case's (another engine), through the strategy.
    """
    data = getattr(draw, "__self__", None)
    data = getattr(data, "conjecture_data", data)  # st.data()'s `draw` (a `DataObject`'s) draws from this
    draw_integer = getattr(data, "draw_integer", None)
    if draw_integer is None:
        return lambda lo, hi: draw(_integers(lo, hi))

    def choose(lo: int, hi: int) -> int:
        if hi - lo > 127:  # what `st.integers(lo, hi)` does (`IntegersStrategy.do_draw`)
            return draw_integer(lo, hi, weights={lo: 2 / 128, lo + 1: 1 / 128, hi - 1: 1 / 128, hi: 2 / 128})
        return draw_integer(lo, hi)

    return choose


def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    from hypothesis import strategies as st

    return _cached("strategies.integers", (lo, hi), lambda: st.integers(lo, hi))


def _ground(t: Type | str | None, role: str) -> Type | None:
    if t is None:
        return None
    t = as_type(t)
    if not t.is_ground:
        raise ValueError(f"{role} must be a ground type (no variables), not {t}")
    return t


def types(max_depth: int = 2, functions: bool = False) -> st.SearchStrategy[Type]:
    """Ground types built from ``()``, ``Int``, pairs and sums (and functions), nested at most `max_depth`."""
    return _composites().types(max_depth, functions)


def values(t: Type | str) -> st.SearchStrategy[HostValue]:
    """Host values of ground type `t` (``()``, ints, tuples, `Left`/`Right`).

    >>> from catlib.values import has_type
    >>> from hypothesis import given
    >>> @given(values("Either () (Int, Int)"))
    ... def test(v): assert has_type(v, "Either () (Int, Int)")
    >>> test()
    """
    return _composites().values(_ground(t, "the value's type"))


def typed_terms(state: Type | str | None = None, input: Type | str | None = None,
                output: Type | str | None = None, *, max_size: int = 12, pure: bool = False,
                embed: bool = False, max_type_depth: int = 2, without: frozenset[str] = frozenset(),
                functions: bool = False) -> st.SearchStrategy[tuple[Term, Signature]]:
    """Pairs ``(term, signature)``: a well-typed term of exactly that signature.

    Parts left as `None` are drawn with `types`.  `max_size` bounds the
    number of rules applied (the term has a few nodes per rule); `pure`
    leaves out `Get` and `Put`; `embed` lets `Embed` appear; `without`
    names constructs to leave out (for an instance that lacks them, such as
    relations, which have no `Lt` and no `Curry`); `functions` lets function
    types occur in the drawn signature (input, output, state).
    """
    return _composites().typed_terms(*_typed_args(state, input, output, max_size=max_size, pure=pure, embed=embed,
                                                  max_type_depth=max_type_depth, without=without,
                                                  functions=functions))


def _typed_args(state: Type | str | None, input: Type | str | None, output: Type | str | None, *,
                max_size: int = 12, pure: bool = False, embed: bool = False, max_type_depth: int = 2,
                without: frozenset[str] = frozenset(), functions: bool = False
                ) -> tuple[tuple[Type | None, ...], int, dict[str, Any]]:
    """`typed_terms`'s arguments as its composite (`_Composites.typed_terms`) takes them."""
    fixed = tuple(_ground(t, n) for t, n in ((state, "state"), (input, "input"), (output, "output")))
    return fixed, max_size, dict(pure=pure, embed=embed, type_depth=max_type_depth, without=without,
                                 functions=functions)


def terms(state: Type | str | None = None, input: Type | str | None = None,
          output: Type | str | None = None, **options: Any) -> st.SearchStrategy[Term]:
    """Well-typed terms of the requested signature; options as in `typed_terms`."""
    return typed_terms(state, input, output, **options).map(lambda p: p[0])


def runs(state: Type | str | None = None, input: Type | str | None = None,
         output: Type | str | None = None, **options: Any
         ) -> st.SearchStrategy[tuple[Term, Signature, HostValue, HostValue]]:
    """``(term, signature, input value, state value)``: one step ready to run."""

    return _composites().runs(*_typed_args(state, input, output, **options))


def randoms() -> st.SearchStrategy[random.Random]:
    """``st.randoms(use_true_random=False)``, cheaper: a `random.Random` whose every result is a choice of
    the test case (so failures replay and shrink), asked of it directly.

    Code that takes a `random.Random` (`cam.fuzz.CodeFuzzer`) calls it hundreds of times per example;
    hypothesis's own random wraps each call in a recorded method call, and draws `random()` through a
    `floats` strategy, which took most of a fuzzing property's time.  The choices are the ones it makes:
    ``random()`` a float in ``[0, 1)``, ``randint(a, b)`` and ``randrange`` an integer in the range,
    ``choice`` an index; the rest of `random.Random` (``sample``, ``shuffle``, ``uniform``...) is built
    on these two by Python's own code.

    >>> from hypothesis import given
    >>> @given(randoms())
    ... def test(rng): assert 0 <= rng.random() < 1 and rng.randint(3, 5) in (3, 4, 5)
    >>> test()
    """
    return _composites().randoms()


class _DrawnRandom(random.Random):
    """A `random.Random` answering from a hypothesis test case (`randoms`)."""

    def __init__(self, data: Any) -> None:
        super().__init__(0)
        self._data = data

    def __repr__(self) -> str:
        return "randoms()"

    def random(self) -> float:
        # what `st.floats(0, 1, exclude_max=True)` draws
        return self._data.draw_float(0.0, _BELOW_ONE, allow_nan=False)

    def _randbelow(self, n: int) -> int:
        return self._data.draw_integer(0, n - 1)

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            start, stop = 0, start
        if step != 1 or start >= stop:
            return super().randrange(start, stop, step)
        return self._data.draw_integer(start, stop - 1)

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b + 1)

    def getrandbits(self, k: int) -> int:
        return self._data.draw_integer(0, 2**k - 1)


_BELOW_ONE = 1.0 - 2.0**-53
"""The largest float below 1."""


class _Composites(NamedTuple):
    types: Any
    values: Any
    typed_terms: Any
    runs: Any
    randoms: Any


@functools.cache
def _composites() -> _Composites:
    """The package's hypothesis strategies, each defined once.

    Defining an ``@st.composite`` reads its function's source (hypothesis
    copies the signature), which cost more than drawing from it when
    `values` and the rest defined one per call, often once per example.
    """
    from hypothesis import strategies as st

    @st.composite
    def types_(draw: Any, max_depth: int, functions: bool) -> Type:
        return drawing(draw, functions=functions).type(max_depth)

    @st.composite
    def values_(draw: Any, ty: Type) -> HostValue:
        return drawing(draw).value(ty)

    def typed(choose: Choose, fixed: tuple[Type | None, ...], max_size: int, options: dict[str, Any]
              ) -> tuple[Term, Signature]:
        gen = Generator(choose, **options)
        s, a, b = (t if t is not None else gen.type() for t in fixed)
        fuel = gen.choose(0, max_size)
        return gen.term(s, a, b, fuel), Signature(s, a, b)

    @st.composite
    def typed_terms_(draw: Any, fixed: tuple[Type | None, ...], max_size: int, options: dict[str, Any]
                     ) -> tuple[Term, Signature]:
        return typed(choices(draw), fixed, max_size, options)

    @st.composite
    def runs_(draw: Any, fixed: tuple[Type | None, ...], max_size: int, options: dict[str, Any]
              ) -> tuple[Term, Signature, HostValue, HostValue]:
        # the term drawn here rather than from `typed_terms_`: the same choices without a strategy drawn
        # inside this one (its bookkeeping was about 1% of the central property's instructions)
        choose = choices(draw)
        f, sig = typed(choose, fixed, max_size, options)
        gen = Generator(choose, without=options["without"])  # (values: the Generator's defaults but `without`)
        return f, sig, gen.value(sig.input), gen.value(sig.state)

    @st.composite
    def randoms_(draw: Any) -> random.Random:
        data = getattr(draw, "__self__", None)
        if getattr(data, "draw_float", None) is None or getattr(data, "draw_integer", None) is None:
            return draw(st.randoms(use_true_random=False))  # (`draw` is not a test case's: another engine)
        return _DrawnRandom(data)

    return _Composites(types_, values_, typed_terms_, runs_, randoms_)
