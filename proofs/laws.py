"""Every law of `catlib.laws`, proved for arbitrary morphisms; the effectful failures refuted.

An arbitrary morphism ``f : a -> b`` is a `catlib.symbolic.Unknown`: pure,
its output is the uninterpreted sympy function ``f(x)`` and the state is
untouched; stateful, the output is ``f(x, s)`` and the new state
``f_s(x, s)`` -- every state machine step is of that form, so a law proved
with stateful unknowns holds for all terms, effects included.  The two
sides are run by `catlib.symbolic.evaluate` on a symbolic input of the
law's type (split by case where a sum is inspected) and an opaque state,
and compared per case after normalisation.

A law with ``effectful=False`` fails with state.  The stateful symbolic
run shows where the sides differ as formulas; that alone is no proof of
failure (the uninterpreted functions might happen to agree), so the
failure is shown by a concrete instance: the metavariables are replaced by
small concrete terms over ``Int`` (some of them writing the state) until
`catlib.equivalence.equivalent` returns a counterexample, which the
interpreter confirms.

The laws of functions (`catlib.cartesian.Closed`) are proved the same way
where their metavariables are first-order: beta and the naturality of
``Curry`` (the symbolic model applies the closures a term builds by beta).
A law whose metavariable *answers* a function (eta, ``g : a -> (b -> c)``)
is not proved here: an unknown morphism answering an unknown function
would need uninterpreted functions of functions, which the symbolic model
does not have.  `UNPROVED` lists them; the law checker tests them
(`catlib.laws.check_instance`, ``tests/test_closures.py``).

>>> from catlib.laws import LAWS
>>> prove_law(LAWS["case fusion"], stateful=True)
Verdict(proved=True, detail='2 cases', counterexample=None)
>>> refute_with_state(LAWS["consume is terminal"]).proved
True
"""

from __future__ import annotations

import itertools
from functools import partial

from catlib.equivalence import equivalent
from catlib.examples.generic import add_constant
from catlib.free import (
    FREE,
    Apply,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
    Curry,
    Distr,
    Fst,
    Get,
    Id,
    Inl,
    Par,
    Put,
    Snd,
    Term,
)
from catlib.laws import LAWS, Law
from catlib.symbolic import Unknown, evaluate, fresh, normal, same, show_condition
from catlib.types import Var
from proofs.core import Theorem, Verdict

__all__ = ["prove_law", "refute_with_state", "pool", "theorems", "find_instance", "BROKEN", "UNPROVED", "provable"]


def provable(law: Law) -> bool:
    """False for a law with a metavariable of a type holding a function (see the module docstring)."""
    return not any("->" in t for types in law.variables.values() for t in types)


UNPROVED = tuple(name for name, law in LAWS.items() if not provable(law))
"""The laws not proved symbolically: a metavariable answers a function."""


def _unknowns(law: Law, stateful: bool) -> dict[str, Term]:
    return {name: Unknown(name, stateful).term(dom, cod) for name, (dom, cod) in law.variables.items()}


def pool(stateful: bool) -> list[tuple[str, Term]]:
    """Small concrete morphisms ``Int -> Int`` (over an ``Int`` state) that stand in for metavariables."""
    inc = add_constant(FREE, 1)
    terms = [("id", Id), ("add1", inc), ("const5", Const(5))]
    if stateful:
        tick = Copy >> Par(Id, Consume >> Get >> inc >> Put) >> Fst  # state + 1, answers its input
        store = Copy >> Par(Consume >> Get, Put) >> Fst  # stores its input, answers the old state
        terms += [("tick", tick), ("store", store)]
    return terms


def find_instance(law: Law, stateful: bool) -> str | None:
    """A concrete instance of `law` whose sides differ, confirmed by the interpreter, or None."""
    names = sorted(law.variables)
    for choice in itertools.product(pool(stateful), repeat=len(names)):
        lhs, rhs = law.sides(**{n: t for n, (_, t) in zip(names, choice)})
        result = equivalent(lhs, rhs)
        if not result.proved:
            inst = ", ".join(f"{n} = {label}" for n, (label, _) in zip(names, choice)) or "no metavariables"
            return f"{inst}; {result.counterexample}"
    return None


def prove_law(law: Law, stateful: bool) -> Verdict:
    """Prove `law` for unknown morphisms (stateful or pure), case by case; refuted with a witness if false."""
    lhs, rhs = law.sides(**_unknowns(law, stateful))
    x, s = fresh(law.input, "x"), fresh(Var("s"), "s")
    cases = 0
    for c1, o1, s1 in evaluate(lhs, x, s):
        for c2, o2, s2 in evaluate(rhs, x, s, c1):
            cases += 1
            if not (same(o1, o2, c2) and same(s1, s2, c2)):
                formal = (f"when {show_condition(c2)}: output {normal(o1, c2)} vs {normal(o2, c2)}, "
                          f"state {normal(s1, c2)} vs {normal(s2, c2)}")
                concrete = find_instance(law, stateful)
                return Verdict(False, formal, concrete or "sides differ as formulas; no concrete instance found")
    return Verdict(True, f"{cases} case{'s' if cases != 1 else ''}")


def refute_with_state(law: Law) -> Verdict:
    """Show that `law` fails for stateful morphisms: the sides differ, on a confirmed concrete instance."""
    formal = prove_law(law, stateful=True)
    if formal.proved:
        return Verdict(False, "the law holds with state after all")
    concrete = find_instance(law, stateful=True)
    if concrete is None:
        return Verdict(False, "sides differ as formulas but no concrete instance was found")
    return Verdict(True, "fails with state", concrete)


def theorems(laws: dict[str, Law] = LAWS) -> list[Theorem]:
    """For each law: proved pure; proved with state, or refuted with state when ``effectful=False``
    (the laws in `UNPROVED` left out)."""
    out = []
    for name, law in laws.items():
        if not provable(law):
            continue
        out.append(Theorem(f"law {name}: pure morphisms", "laws", "symbolic, uninterpreted f",
                           partial(prove_law, law, stateful=False)))
        if law.effectful:
            out.append(Theorem(f"law {name}: stateful morphisms", "laws", "symbolic, uninterpreted f, f_s",
                               partial(prove_law, law, stateful=True)))
        else:
            out.append(Theorem(f"law {name}: FAILS with state", "laws", "counterexample, interpreter-confirmed",
                               partial(refute_with_state, law)))
    return out


BROKEN: dict[str, Law] = {law.name: law for law in [
    Law("fst after fanout gives g (wrong)", "cartesian", "a", "b",
        lambda f, g: (Compose(Fst, FREE.fanout(f, g)), g), {"f": ("a", "b"), "g": ("a", "b")}),
    Law("case after inl picks g (wrong)", "cocartesian", "a", "c",
        lambda f, g: (Compose(Case(f, g), Inl), g), {"f": ("a", "c"), "g": ("a", "c")}),
    Law("associativity with f and g exchanged (wrong)", "category", "a", "a",
        lambda f, g, h: (Compose(h, Compose(g, f)), Compose(Compose(h, f), g)),
        {"f": ("a", "a"), "g": ("a", "a"), "h": ("a", "a")}),
    Law("distr re-injects on the left (wrong)", "distributive", "(Either a a, c)", "(Either a a, c)",
        lambda: (Compose(Case(Par(Inl, Id), Par(Inl, Id)), Distr), Id)),
    Law("beta gives f the argument first (wrong)", "closed", "(a, a)", "c",
        lambda f: (Compose(Apply, Par(Curry(f), Id)), Compose(f, FREE.fanout(Snd, Fst))), {"f": ("(a, a)", "c")}),
]}
"""Wrong equations of the shapes above: the prover must refute each with a concrete instance."""
