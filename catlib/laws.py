"""The equations of the theory, as data.

A `Law` names its metavariables (``f``, ``g``, ...) with their types, in
type variables shared across the law, and builds its two sides from
terms.  The same list drives the property tests (``tests/test_laws.py``,
random terms in the interpreter) and the symbolic proofs (`proofs`).

>>> from catlib.free import Fst, Snd
>>> law = LAWS["fst after fanout"]
>>> law.sides(f=Fst, g=Snd)
(Compose(Fst, Compose(Par(Fst, Snd), Copy)), Fst)

**Effects.**  With `Get`/`Put` a term is a state machine step, and the
category of state machines is only *premonoidal*: the order of effects
matters and an effect cannot be thrown away or duplicated.  Laws with
``effectful=True`` hold for every term; the others hold for pure terms
only.  For example ``Fst . (f &&& g) = f`` fails when ``g`` writes the
state, since the left side still runs ``g``'s write; ``tests/test_laws.py``
keeps a test in which hypothesis finds such a counterexample.

=====================  ==========  ===========================================
law                    effectful   why it fails with effects
=====================  ==========  ===========================================
identities, assoc.     holds
fst/snd after fanout   fails       the dropped side's writes still happen
consume is terminal    fails       ``f``'s writes still happen
fanout after           fails       ``h`` runs twice on the right side
par interchange        fails       effects of f, g, h, k reorder
case laws, distr       holds       exactly one branch runs, on either side
=====================  ==========  ===========================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from catlib.free import FREE, Case, Compose, Consume, Copy, Distr, Fst, Id, Inl, Inr, Par, Snd, Term

__all__ = ["Law", "LAWS"]


@dataclass(frozen=True)
class Law:
    """``lhs == rhs`` for all metavariables of the given types.

    `variables` maps each metavariable to its ``(input, output)`` types
    (text, type variables shared across the law); `input` and `output` are
    the type of both sides; `effectful` says whether the law holds for
    terms using the state.
    """

    name: str
    structure: str
    input: str
    output: str
    build: Callable[..., tuple[Term, Term]]
    variables: dict[str, tuple[str, str]] = field(default_factory=dict)
    effectful: bool = True

    def sides(self, **terms: Term) -> tuple[Term, Term]:
        """The two sides, for terms given for every metavariable."""
        if set(terms) != set(self.variables):
            raise TypeError(f"law {self.name!r} needs terms for {sorted(self.variables)}, got {sorted(terms)}")
        return self.build(**terms)


fanout = FREE.fanout

_LAWS = [
    Law("left identity", "category", "a", "b", lambda f: (Compose(Id, f), f), {"f": ("a", "b")}),
    Law("right identity", "category", "a", "b", lambda f: (Compose(f, Id), f), {"f": ("a", "b")}),
    Law("associativity", "category", "a", "d",
        lambda f, g, h: (Compose(h, Compose(g, f)), Compose(Compose(h, g), f)),
        {"f": ("a", "b"), "g": ("b", "c"), "h": ("c", "d")}),
    Law("fst after fanout", "cartesian", "a", "b", lambda f, g: (Compose(Fst, fanout(f, g)), f),
        {"f": ("a", "b"), "g": ("a", "c")}, effectful=False),
    Law("snd after fanout", "cartesian", "a", "c", lambda f, g: (Compose(Snd, fanout(f, g)), g),
        {"f": ("a", "b"), "g": ("a", "c")}, effectful=False),
    Law("fanout of projections", "cartesian", "(a, b)", "(a, b)", lambda: (fanout(Fst, Snd), Id)),
    Law("consume is terminal", "cartesian", "a", "()", lambda f: (Compose(Consume, f), Consume),
        {"f": ("a", "b")}, effectful=False),
    Law("consume on unit", "cartesian", "()", "()", lambda: (Consume, Id)),
    Law("fst after copy", "cartesian", "a", "a", lambda: (Compose(Fst, Copy), Id)),
    Law("snd after copy", "cartesian", "a", "a", lambda: (Compose(Snd, Copy), Id)),
    Law("fanout after", "cartesian", "a", "(c, d)",
        lambda h, f, g: (Compose(fanout(f, g), h), fanout(Compose(f, h), Compose(g, h))),
        {"h": ("a", "b"), "f": ("b", "c"), "g": ("b", "d")}, effectful=False),
    Law("par identity", "cartesian", "(a, b)", "(a, b)", lambda: (Par(Id, Id), Id)),
    Law("par interchange", "cartesian", "(a, c)", "(e, g)",
        lambda f, g, h, k: (Compose(Par(h, k), Par(f, g)), Par(Compose(h, f), Compose(k, g))),
        {"f": ("a", "b"), "g": ("c", "d"), "h": ("b", "e"), "k": ("d", "g")}, effectful=False),
    Law("case after inl", "cocartesian", "a", "c", lambda f, g: (Compose(Case(f, g), Inl), f),
        {"f": ("a", "c"), "g": ("b", "c")}),
    Law("case after inr", "cocartesian", "b", "c", lambda f, g: (Compose(Case(f, g), Inr), g),
        {"f": ("a", "c"), "g": ("b", "c")}),
    Law("case of injections", "cocartesian", "Either a b", "Either a b", lambda: (Case(Inl, Inr), Id)),
    Law("case fusion", "cocartesian", "Either a b", "d",
        lambda f, g, h: (Compose(h, Case(f, g)), Case(Compose(h, f), Compose(h, g))),
        {"f": ("a", "c"), "g": ("b", "c"), "h": ("c", "d")}),
    Law("distr is invertible", "distributive", "(Either a b, c)", "(Either a b, c)",
        lambda: (Compose(Case(Par(Inl, Id), Par(Inr, Id)), Distr), Id)),
]

LAWS: dict[str, Law] = {law.name: law for law in _LAWS}
"""Every law, by name, in the order above."""
