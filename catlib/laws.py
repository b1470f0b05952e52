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
integer laws           holds       no subterm to run (``x - x = 0``, ``eq``...)
beta, eta, naturality  holds       a closure's effects run when it is applied
=====================  ==========  ===========================================

**Functions.**  Closures are values compared by what they are (a body and
an environment), so the laws of `catlib.cartesian.Closed` are stated
*applied*, as equations of first-order morphisms: beta, ``Apply .
Par(Curry(f), Id) = f``; eta, ``Curry(Apply) . g`` applied is ``g`` applied
(``Curry(Apply) = Id`` itself is not an equation of values); the
naturality of ``Curry`` in its environment.  All hold with effects.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from catlib import strategies as S
from catlib.cartesian import Arithmetic, Cartesian, Closed, Cocartesian, Distributive, Ordered, Stateful
from catlib.category import Category
from catlib.constructs import CONSTRUCTS
from catlib.context import subterm_types
from catlib.free import (
    FREE,
    Add,
    Apply,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
    Curry,
    Distr,
    DivMod,
    Embed,
    Eq,
    Fst,
    Id,
    Inl,
    Inr,
    Lt,
    Mul,
    Par,
    Snd,
    Sub,
    Term,
)
from catlib.functor import interpret
from catlib.generator import Generator
from catlib.tree import walk
from catlib.typecheck import construct_of
from catlib.types import Type, Unit, as_type, parse, substitute

__all__ = ["Law", "LAWS", "check_instance", "Report", "LawResult"]


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
    Law("sub of equals", "arithmetic", "Int", "Int", lambda: (Compose(Sub, Copy), Compose(Const(0), Consume))),
    Law("add after sub", "arithmetic", "(Int, Int)", "Int", lambda: (Compose(Add, fanout(Sub, Snd)), Fst)),
    Law("mul commutes", "arithmetic", "(Int, Int)", "Int", lambda: (Compose(Mul, fanout(Snd, Fst)), Mul)),
    Law("lt is irreflexive", "ordered", "Int", "Either () ()",
        lambda: (Compose(Lt, Copy), Compose(Inr, Consume))),
    Law("eq is reflexive", "ordered", "Int", "Either () ()", lambda: (Compose(Eq, Copy), Compose(Inl, Consume))),
    Law("eq is symmetric", "ordered", "(Int, Int)", "Either () ()", lambda: (Compose(Eq, fanout(Snd, Fst)), Eq)),
    Law("divmod by one", "ordered", "Int", "Either () (Int, Int)",
        lambda: (Compose(DivMod, fanout(Id, Const(1))), Compose(Inr, fanout(Id, Compose(Const(0), Consume))))),
    Law("divmod by zero", "ordered", "Int", "Either () (Int, Int)",
        lambda: (Compose(DivMod, fanout(Id, Const(0))), Compose(Inl, Consume))),
    Law("beta", "closed", "(a, b)", "c", lambda f: (Compose(Apply, Par(Curry(f), Id)), f), {"f": ("(a, b)", "c")}),
    Law("eta, applied", "closed", "(a, b)", "c",
        lambda g: (Compose(Apply, Par(Compose(Curry(Apply), g), Id)), Compose(Apply, Par(g, Id))),
        {"g": ("a", "b -> c")}),
    Law("curry is natural", "closed", "(a, b)", "c",
        lambda f, h: (Compose(Apply, Par(Compose(Curry(f), h), Id)),
                      Compose(Apply, Par(Curry(Compose(f, Par(h, Id))), Id))),
        {"f": ("(d, b)", "c"), "h": ("a", "d")}),
]

LAWS: dict[str, Law] = {law.name: law for law in _LAWS}
"""Every law, by name, in the order above."""


# ---------------------------------------------------------------- checking an instance

STRUCTURES: dict[str, type] = {
    "category": Category, "cartesian": Cartesian, "cocartesian": Cocartesian, "distributive": Distributive,
    "arithmetic": Arithmetic, "ordered": Ordered, "closed": Closed,
}
"""The interface each law's `structure` needs."""


class _Hole:
    """A metavariable of a law inside its sides (an `Embed` of this); never called."""

    def __init__(self, name: str) -> None:
        self.name = self.__qualname__ = name

    def __call__(self, x: object) -> object:  # pragma: no cover - holes are filled, not run
        raise TypeError(f"the law's metavariable {self.name} has no value")

    def __repr__(self) -> str:
        return self.name


@dataclass
class LawResult:
    """One law on one instance: `status` is ``holds``, ``fails``, ``expected failure``
    (an ``effectful=False`` law on an instance with effects) or ``not applicable``."""

    law: Law
    status: str
    counterexample: str | None = None
    reason: str = ""

    def __str__(self) -> str:
        extra = f": {self.counterexample}" if self.counterexample else (f" ({self.reason})" if self.reason else "")
        return f"{self.law.name}: {self.status}{extra}"


@dataclass
class Report:
    """What `check_instance` found, one `LawResult` per law."""

    instance: str
    results: list[LawResult]

    def _with(self, status: str) -> list[LawResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failures(self) -> list[LawResult]:
        """The laws that fail and should hold, each with a shrunk counterexample."""
        return self._with("fails")

    @property
    def expected_failures(self) -> list[LawResult]:
        """Laws that fail as the effects of the instance say they may."""
        return self._with("expected failure")

    @property
    def holds(self) -> list[LawResult]:
        return self._with("holds")

    @property
    def not_applicable(self) -> list[LawResult]:
        return self._with("not applicable")

    @property
    def ok(self) -> bool:
        """True when no law fails unexpectedly."""
        return not self.failures

    def __str__(self) -> str:
        head = (f"{self.instance}: {len(self.holds)} hold, {len(self.failures)} fail, "
                f"{len(self.expected_failures)} expected failures, {len(self.not_applicable)} not applicable")
        return "\n".join([head, *(f"  {r}" for r in self.results if r.status != "holds")])


def _needs(law: Law) -> list[type]:
    """The interfaces the law's sides use."""
    holes = {name: Embed(_Hole(name), "a", "b") for name in law.variables}
    needed: list[type] = [STRUCTURES[law.structure]]
    for side in law.build(**holes):
        for t in walk(side):
            if not isinstance(t, Embed):
                needed.append(construct_of(t).interface)  # type: ignore[arg-type]
    return needed


def check_instance(C: Category[Any], *, max_examples: int | None = None, state: Type | str = "Int",
                   max_type_depth: int = 1, samples: int = 3, laws: list[str] | None = None,
                   free_terms: bool | None = None, derandomize: bool = False) -> Report:
    """Check every law of `LAWS` that `C`'s structure supports, on random morphisms of `C`.

    For each law, hypothesis draws ground types for its type variables (at
    most `max_type_depth` nested pairs and sums) and a morphism of `C` for
    each metavariable, then compares the two sides interpreted in `C`
    (`catlib.functor.interpret`, typed instances get their objects).

    - **Morphisms** are random free terms of the needed type interpreted
      in `C` (when `C` is `Distributive` and `Arithmetic`; terms use the
      state only if `C` is `Stateful`, comparisons only if it is `Ordered`), and/or
      native ones from ``C.random_morphism(draw, dom, cod)`` if `C` has it
      (`draw` is hypothesis's): each metavariable one or the other when both
      are possible.  ``free_terms=True`` draws free terms only,
      ``free_terms=False`` native morphisms only.
    - **Equality** is ``C.equal(f, g, dom, cod)`` if `C` has it; otherwise,
      for callable morphisms, equal results on `samples` random inputs (and
      states, for a `Stateful` instance: ``f(x, s)``; ``f(x)`` otherwise);
      otherwise ``==``.
    - **Effects**: laws with ``effectful=False`` may fail on an instance
      with effects (`Stateful`, or ``C.effects = True`` for, say,
      nondeterminism); such failures are reported as expected.

    `max_examples` defaults to the hypothesis profile's; `derandomize`
    makes the search repeatable (a fixed seed).  Returns a
    `Report`; ``report.failures`` lists the laws that fail, each with a
    shrunk counterexample.
    """
    name = type(C).__name__
    effects = getattr(C, "effects", isinstance(C, Stateful))
    state_t = as_type(state) if isinstance(C, Stateful) else Unit
    native = getattr(C, "random_morphism", None)
    can_free = isinstance(C, Distributive) and isinstance(C, Arithmetic)
    use_free = can_free if free_terms is None else free_terms
    # primitives of interfaces C lacks (Ordered, for relations) are left out of its random terms
    lacking = frozenset(c.name for c in CONSTRUCTS.values()
                        if not c.kids and c.name != "Embed" and not c.effect and not isinstance(C, c.interface))
    if use_free and not can_free:
        raise TypeError(f"{name} lacks constructs that random terms use (it is not Distributive and Arithmetic)")
    if not use_free and native is None:
        raise TypeError(f"{name} has no random_morphism(draw, dom, cod) and cannot run random terms: "
                        "give it one, or make it Distributive and Arithmetic")
    n = max_examples if max_examples is not None else settings().max_examples
    # `free_terms=True` forces free terms: native morphisms are then not drawn
    check = _Checker(C, state_t, None if free_terms else native, use_free, lacking, samples, max_type_depth)

    def _law_property(law: Law, found: list[str], shrink: bool) -> Callable[[], None]:
        phases = list(Phase) if shrink else [p for p in Phase if p not in (Phase.shrink, Phase.explain)]

        # (the body is `_Checker.example`: hypothesis reads and tokenizes this function's source on every
        # run, to name the test in its database, which cost more than a law's examples when it was long)
        @settings(max_examples=n, database=None, deadline=None, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck), phases=phases, derandomize=derandomize)
        @given(st.data())
        def prop(data: Any) -> None:
            check.example(law, data, found)

        return prop

    results = []
    for law in (LAWS[k] for k in laws) if laws is not None else LAWS.values():
        missing = [i.__name__ for i in _needs(law) if not isinstance(C, i)]
        if missing:
            results.append(LawResult(law, "not applicable", reason=f"{name} is not {', '.join(sorted(set(missing)))}"))
            continue
        expected = effects and not law.effectful
        found: list[str] = []
        try:
            # search first without shrinking (cheap); shrink only a surprise, an expected
            # failure keeps the first counterexample found (shrinking one can take minutes)
            _law_property(law, found, shrink=False)()
        except Exception:
            if not found:
                raise  # not a difference between the sides: a bug in C or in a hook, shown as it is
            if not expected:
                try:
                    _law_property(law, found, shrink=True)()
                except Exception:  # the last recorded failure is hypothesis's shrunk one
                    pass
            results.append(LawResult(law, "expected failure" if expected else "fails", found[0]))
        else:
            results.append(LawResult(law, "holds"))
    return Report(name, results)



class _Checker:
    """One example of a law on instance `C`, as `check_instance` draws and compares it (see there)."""

    def __init__(self, C: Category[Any], state_t: Type, native: Callable[..., Any] | None, use_free: bool,
                 lacking: frozenset[str], samples: int, max_type_depth: int) -> None:
        self.C, self.state_t, self.native, self.use_free = C, state_t, native, use_free
        self.lacking, self.samples, self.max_type_depth = lacking, samples, max_type_depth
        self.stateful, self.equal = isinstance(C, Stateful), getattr(C, "equal", None)
        self.typed = getattr(C, "typed", False) or getattr(C, "at_type", None) is not None
        self._sides: dict[tuple[str, tuple[Type, ...]], _Sides] = {}

    def example(self, law: Law, data: Any, found: list[str]) -> None:
        # Types, terms and values come from the package's generator with its strategies' choices (`S.types`,
        # `S.terms`, `S.values` make these), drawn from the test case directly: drawn through `data.draw`,
        # hypothesis's bookkeeping around each draw took more than the example.
        choose = S.choices(data.draw)
        gen = Generator(choose)
        tvars = _type_variables(law)
        inst = {v: gen.type(self.max_type_depth) for v in tvars}
        sides = self._sides.get((law.name, tuple(inst.values())))
        if sides is None:
            sides = self._sides[law.name, tuple(inst.values())] = _Sides(law, inst, self.state_t, self.typed)
        C, native = self.C, self.native
        chosen: dict[str, Any] = {}
        shown: list[str] = [", ".join(f"{v} = {t}" for v, t in inst.items())]
        for var, (dom, cod) in sides.variables.items():
            if self.use_free and (native is None or choose(0, 1)):
                terms = Generator(choose, pure=not self.stateful, without=self.lacking)
                term = terms.term(self.state_t, dom, cod, terms.choose(0, 6))  # (`S.terms(max_size=6)`)
                chosen[var] = interpret(term, C, (self.state_t, dom, cod))
                shown.append(f"{var} = {term!r}")
            else:
                chosen[var] = native(data.draw, dom, cod)  # type: ignore[misc]
                shown.append(f"{var} = {chosen[var]!r}")
        fill = lambda fn, d, c: chosen[fn.name]  # noqa: E731
        lhs = interpret(sides.lhs, C, sides.signature, embed=fill, types=sides.lhs_types)
        rhs = interpret(sides.rhs, C, sides.signature, embed=fill, types=sides.rhs_types)
        if self.equal is not None or not callable(lhs):
            if not (self.equal(lhs, rhs, sides.dom, sides.cod) if self.equal is not None else lhs == rhs):
                found[:] = ["; ".join(shown) + f": sides differ ({lhs!r} vs {rhs!r})"]
                raise AssertionError(found[0])
            return
        for _ in range(self.samples):
            x = gen.value(sides.dom)
            args = (x, gen.value(self.state_t)) if self.stateful else (x,)
            left, right = _outcome(lhs, args), _outcome(rhs, args)
            if left != right:
                found[:] = ["; ".join(shown) + f"; on {', '.join(map(repr, args))}: {left!r} vs {right!r}"]
                raise AssertionError(found[0])


class _Sides:
    """A law's two sides at one instance of its type variables, metavariables as holes, typed once."""

    def __init__(self, law: Law, inst: dict[str, Type], state_t: Type, typed: bool) -> None:
        def at(text: str) -> Type:
            return substitute([_parsed(text)], lambda v: inst[v.name])[0]

        self.variables = {var: (at(d), at(c)) for var, (d, c) in law.variables.items()}
        holes = {var: Embed(_Hole(var), dom, cod) for var, (dom, cod) in self.variables.items()}
        self.lhs, self.rhs = law.build(**holes)
        self.dom, self.cod = at(law.input), at(law.output)
        self.signature = (state_t, self.dom, self.cod)
        self.lhs_types = subterm_types(self.lhs, *self.signature)[1] if typed else None
        self.rhs_types = subterm_types(self.rhs, *self.signature)[1] if typed else None


@functools.cache
def _parsed(text: str) -> Type:
    """A law's type, parsed once (laws have a few dozen, read on every example)."""
    return parse(text)


def _type_variables(law: Law) -> list[str]:
    """The type variables of `law`'s types, in order."""
    return sorted({v for text in (law.input, law.output, *(t for p in law.variables.values() for t in p))
                   for v in _parsed(text).vars()})




def _outcome(m: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    try:
        return m(*args)
    except Exception as e:  # a crash is an observable difference too
        return (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
