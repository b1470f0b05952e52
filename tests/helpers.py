"""Shared test helpers: instantiate a law's types and draw its metavariables."""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st

from catlib.laws import Law
from catlib.strategies import drawing
from catlib.types import Type, parse, substitute


def instantiate(text: str, env: dict[str, Type]) -> Type:
    """Replace the type variables of `text` by the ground types in `env`."""
    return substitute([_parsed(text)], lambda v: env[v.name])[0]


@functools.cache
def _parsed(text: str) -> Type:
    """A law's type text, parsed once (laws have a few dozen; parsing them per example was a tenth of it)."""
    return parse(text)


def _type_variables(law: Law) -> list[str]:
    return sorted({v for a, b in [*law.variables.values(), (law.input, law.output)] for t in (a, b)
                   for v in _parsed(t).vars()})


@functools.cache
def integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)``, made once per range: a `Generator`'s choices draw from it a few hundred times per
    example, and making it each time (bounds validated, hypothesis's own cache looked up) was a sixth of a draw."""
    return st.integers(lo, hi)


@st.composite
def law_instances(draw: Any, law: Law, pure: bool = True, max_size: int = 6, run: bool = True) -> tuple:
    """(lhs, rhs, input value, state value, terms) for a random instance of `law`.

    Without `run` the input and state are None, not drawn (for a property that does not run the sides).
    """
    gen = drawing(draw, pure=pure)
    env = {n: gen.type(1) for n in _type_variables(law)}
    state = gen.type(1)
    terms = {m: gen.term(state, instantiate(a, env), instantiate(b, env), gen.choose(0, max_size))
             for m, (a, b) in law.variables.items()}
    lhs, rhs = law.sides(**terms)
    if not run:
        return lhs, rhs, None, None, terms
    x = gen.value(instantiate(law.input, env))
    s = gen.value(state)
    return lhs, rhs, x, s, terms
