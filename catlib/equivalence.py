"""Equivalence of terms, decided with the symbolic model.

`equivalent` decides, for terms without `Embed`, whether two terms give the
same output and new state for every input and state, and otherwise returns
a `Counterexample` that `catlib.interpreter.step` confirms:

>>> from catlib.free import Case, Copy, Fst, Id, Inl, Inr, Par, Snd
>>> bool(equivalent(Case(Inl, Inr), Id))
True
>>> equivalent(Copy >> Par(Fst, Snd), Id).proved
True
>>> cex = equivalent(Fst, Snd).counterexample
>>> cex.input, cex.left, cex.right
((1, 0), (0, 1), (0, 0))

Both terms run symbolically (`catlib.symbolic.evaluate`) on the most
general input and state; each pair of paths is compared in normal form.
A comparison of unknown integers splits a path in two (`catlib.symbolic.compare`);
when a difference shows only on paths no input tried reaches, or between
polynomials (`Mul`), `equivalent` raises `SymbolicError` saying so rather
than guess.
Terms that build closures and apply them (`Curry`, `Apply`) are decided by
beta; terms whose input, state or output has a function type are not, and
`equivalent` raises `SymbolicError` saying why.
A difference is turned into concrete values (`refine`, `assignments`,
`concretize`) and confirmed by the interpreter.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sympy

from catlib.free import Embed, Term, path_str, subterms
from catlib.interpreter import step
from catlib.symbolic import (
    Condition,
    SumVar,
    SymbolicError,
    evaluate,
    fresh,
    map_leaves,
    normal,
    resolve_leaf,
    same,
    show_condition,
    sumvars,
    symbols_of,
)
from catlib.tree import walk
from catlib.typecheck import Signature, infer, infer_types
from catlib.types import Fun, Int, Unifier, UnifyError, ground, rename
from catlib.values import INT_MAX, INT_MIN, HostValue, Left, Right, wrap

__all__ = ["equivalent", "Equivalence", "Counterexample", "common_signature", "refine", "concretize",
           "assignments", "witness"]


# ---------------------------------------------------------------- equivalence


@dataclass(frozen=True)
class Counterexample:
    """An input and state on which two terms differ, with both ``(new state, output)`` results."""

    input: HostValue
    state: HostValue
    left: tuple[HostValue, HostValue]
    right: tuple[HostValue, HostValue]
    condition: str = ""

    def __str__(self) -> str:
        return (f"input {self.input!r}, state {self.state!r}: "
                f"(state, output) {self.left!r} vs {self.right!r}")


@dataclass(frozen=True)
class Equivalence:
    """The verdict of `equivalent`: proved over `cases` paths, or refuted by `counterexample`."""

    signature: Signature
    cases: int
    counterexample: Counterexample | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def proved(self) -> bool:
        return self.counterexample is None

    def __bool__(self) -> bool:
        return self.proved


def common_signature(f: Term, g: Term) -> Signature:
    """The most general signature at which both `f` and `g` are typed (their principal ones unified).

    Both are inferred in one unifier (each inference's variables are fresh in it), and their signatures
    unified there: the same as unifying their principal signatures renamed apart, without resolving,
    renaming and substituting each first.
    """
    u = Unifier()
    a, b = infer_types(f, u), infer_types(g, u)
    try:
        for x, y in zip(a, b):
            u.unify(x, y)
    except UnifyError as e:
        raise TypeError(f"the terms have no common signature: {infer(f)} and {infer(g)} ({e})") from None
    return Signature(*rename([u.resolve(t) for t in a]))


def refine(values: Iterable[Any], cond: Condition, limit: int = 256) -> Iterator[Condition]:
    """Every extension of `cond` that decides each `SumVar` reachable in `values` (at most `limit`)."""
    values = list(values)
    todo = [cond]
    count = 0
    while todo:
        c = todo.pop()
        pending = [sv for v in values for sv in sumvars(v, c)]
        if not pending:
            count += 1
            yield c
            if count >= limit:
                return
            continue
        sv = pending[0]
        left, right = sv.split()
        todo += [{**c, sv: right}, {**c, sv: left}]


def concretize(v: Any, cond: Condition, values: dict[sympy.Symbol, int]) -> HostValue:
    """The host value `v` denotes when its symbols take `values` (missing ones 0) under `cond`.

    Every `SumVar` of `v` must be decided by `cond` (see `refine`).
    """
    def leaf(x: Any) -> Any:
        if type(x) is SumVar:
            raise SymbolicError(f"{x.name} is not decided by the condition")
        e = resolve_leaf(x, cond).xreplace({s: sympy.Integer(values.get(s, 0)) for s in x.free_symbols})
        if not e.is_Integer:
            raise SymbolicError(f"{x} is not an integer once its symbols have values")
        return wrap(int(e))
    return map_leaves(v, leaf, cond)


def assignments(symbols: list[sympy.Symbol], seed: int = 0) -> Iterator[dict[sympy.Symbol, int]]:
    """Zeros, then each symbol 1 alone, then random 64-bit values: enough to separate linear forms."""
    yield {}
    for s in symbols:
        yield {s: 1}
    rng = random.Random(seed)
    for _ in range(32):
        yield {s: rng.randint(INT_MIN, INT_MAX) for s in symbols}


def witness(f: Term, g: Term, x: Any, s: Any, cond: Condition,
            run: Callable[[Term, HostValue, HostValue], tuple[HostValue, HostValue]] = step) -> Counterexample | None:
    """A concrete input and state, allowed by `cond`, on which `run` (the interpreter) tells `f` from `g`."""
    for c in refine((x, s), cond):
        syms = symbols_of(x, s, *c.values())
        for values in assignments(syms):
            xi, si = concretize(x, c, values), concretize(s, c, values)
            left, right = _outcome(run, f, xi, si), _outcome(run, g, xi, si)
            if left != right:
                return Counterexample(xi, si, left, right, show_condition(c))
    return None


def _outcome(run: Callable[[Term, HostValue, HostValue], tuple[HostValue, HostValue]], t: Term,
             x: HostValue, s: HostValue) -> Any:
    try:
        return run(t, x, s)
    except Exception as e:  # a crash is an observable difference too
        return (type(e).__name__, str(e).splitlines()[0])


def equivalent(f: Term, g: Term, signature: Signature | None = None) -> Equivalence:
    """Decide whether `f` and `g` agree (output and new state) on every input and state.

    Both must be free of `Embed`.  They are compared at `signature`, by
    default their `common_signature`; type variables stay opaque, so a
    proof holds at every instance.  On failure the counterexample reads
    type variables as ``Int`` and is confirmed by `catlib.interpreter.step`.
    """
    for t in (f, g):
        if any(isinstance(sub, Embed) for sub in walk(t)):  # walk is linear; paths only for the message
            path = next(p for p, sub in subterms(t) if isinstance(sub, Embed))
            raise SymbolicError(f"equivalent() handles terms without Embed; found one at {path_str(path)}")
    sig = signature or common_signature(f, g)
    for part, ty in zip(("state", "input", "output"), sig):
        if any(isinstance(sub, Fun) for sub in walk(ty)):
            raise SymbolicError(f"undecided: the {part} has a function type ({ty}); the symbolic model knows the "
                                "closures a term builds with Curry (Apply on them is beta) but not a function "
                                "given as an input or kept in the state, and it does not decide whether two "
                                "closures are equal as functions (agree on every argument and state)")
    x, s = fresh(sig.input, "x"), fresh(sig.state, "s")
    cases = 0
    for cf, of, sf in evaluate(f, x, s):
        for cg, og, sg in evaluate(g, x, s, cf):
            cases += 1
            if same(of, og, cg) and same(sf, sg, cg):
                continue
            diff = (f"when {show_condition(cg)}: output {normal(of, cg)} vs {normal(og, cg)}, "
                    f"state {normal(sf, cg)} vs {normal(sg, cg)}")
            gx, gs = fresh(ground(sig.input, Int), "x"), fresh(ground(sig.state, Int), "s")
            # the same names, now all integers: re-run the path's decisions on the ground values
            cex = witness(f, g, gx, gs, _reground(cg, gx, gs))
            if cex is None and any(sv.origin is not None for sv in cg):
                raise SymbolicError(f"undecided: {diff}; no input tried satisfies these comparisons and tells the "
                                    "terms apart (the path may be impossible: the model does not solve integer "
                                    "constraints)")
            if cex is None and any(isinstance(sub, Term) and sub.op == "Mul" for t in (f, g) for sub in walk(t)):
                raise SymbolicError(f"undecided: {diff}; with Mul the integers are polynomials, which can differ "
                                    "in their coefficients and still agree everywhere modulo 2**64, and no input "
                                    "tried tells them apart")
            if cex is None:  # pragma: no cover - would mean the symbolic model and the interpreter disagree
                raise AssertionError(f"symbolic results differ but the interpreter agrees everywhere: {diff}")
            return Equivalence(sig, cases, cex, [diff])
    return Equivalence(sig, cases)


def _reground(cond: Condition, gx: Any, gs: Any) -> Condition:
    """`cond`, rebuilt over the ground-typed unknowns of `gx`, `gs` (same names, Int for type variables)."""
    ground: dict[str, SumVar] = {}

    def collect(v: Any) -> None:
        todo = [v]
        while todo:
            y = todo.pop()
            if type(y) is SumVar:
                ground[y.name] = y
                todo.extend(y.split())
            elif type(y) is tuple:
                todo.extend(y)
            elif isinstance(y, (Left, Right)):
                todo.append(y.value)

    collect(gx)
    collect(gs)
    out: Condition = {}
    for sv, shape in cond.items():
        if sv.origin is not None:  # a comparison's answer: the interpreter recomputes it
            continue
        g = ground[sv.name]
        out[g] = g.split()[isinstance(shape, Right)]
    return out
