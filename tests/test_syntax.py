"""The port DSL: the reference's terms, scope safety, and kase_with against a model of by-name ports."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cam.compiler import compile
from cam.hostvalue import quote, unquote
from cam.machine import step as machine_run
from catlib import syntax as S
from catlib.free import (
    Add,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
    Distr,
    Fst,
    Get,
    Id,
    Inl,
    Inr,
    Lt,
    Par,
    Put,
    Snd,
    Term,
    subterms,
)
from catlib.interpreter import step
from catlib.program import Program, Upgrade
from catlib.strategies import Generator
from catlib.tree import walk
from catlib.typecheck import check
from catlib.types import Int, Prod, Sum, Type, Unit
from catlib.values import Left, Right, add64
from tests.conftest import scaled
from tests.helpers import integers

P = S.Port(Id)  # a port of no scope, for building terms by hand

# ------------------------------------------------------- the reference's table


def kadd(k: int) -> Term:
    return Compose(Add, Compose(Par(Const(k), Id), Copy))


@pytest.mark.parametrize("built, expected", [
    (S.encode(Fst, P), Compose(Fst, Id)),
    (S.pair(S.Port(Fst), S.Port(Snd)), Compose(Par(Fst, Snd), Copy)),
    (S.unit, Consume),
    (S.pfst(P), Compose(Fst, Id)),
    (S.psnd(P), Compose(Snd, Id)),
    (S.void(P), Compose(Consume, Id)),
    (S.konst(3, P), Compose(Const(3), Id)),
    (S.pget(P), Compose(Get, Id)),
    (S.pput(P), Compose(Put, Id)),
    (S.pmodify(Fst, P), Compose(Compose(Compose(Put, Fst), Get), Id)),
    (S.padd(2, P), Compose(kadd(2), Id)),
    (S.inl(P), Compose(Inl, Id)),
    (S.inr(P), Compose(Inr, Id)),
    (S.kase(S.inr, S.inl, P), Compose(Case(Compose(Inr, Id), Compose(Inl, Id)), Id)),
    (S.seq(S.Port(Fst), S.Port(Snd)), Compose(Snd, Compose(Par(Fst, Snd), Copy))),
], ids=lambda x: x.op if isinstance(x, Term) else None)
def test_combinators_build_the_reference_terms(built: S.Port, expected: Term) -> None:
    assert built.term == expected


def test_kadd_and_sm() -> None:
    assert S.kadd(1) == kadd(1)
    assert S.sm(lambda p: S.inl(p)) == Compose(Inl, Id) == S.decode(S.inl)
    assert S.split(P)[0].term == S.pfst(P).term and S.split(P)[1].term == S.psnd(P).term


def test_sugar_builds_the_same_terms() -> None:
    q = S.Port(Snd)
    a, b = P
    assert (a.term, b.term) == (S.pfst(P).term, S.psnd(P).term)
    assert (P[0].term, P[1].term) == (S.pfst(P).term, S.psnd(P).term)
    assert (P + 1).term == (1 + P).term == S.padd(1, P).term
    assert (P - 4).term == S.padd(-4, P).term
    assert (P + q).term == S.plus(P, q).term == Compose(Add, S.pair(P, q).term)
    assert (P >> q).term == S.seq(P, q).term == S.psnd(S.pair(P, q)).term
    # curried forms are port functions building the same terms
    assert S.pmodify(Fst)(P).term == S.pmodify(Fst, P).term
    assert S.padd(3)(P).term == S.padd(3, P).term
    assert S.konst(3)(P).term == S.konst(3, P).term
    assert S.encode(Fst)(P).term == S.encode(Fst, P).term
    assert S.kase(S.inr, S.inl)(P).term == S.kase(S.inr, S.inl, P).term
    assert S.dot(S.inl, S.pget)(P).term == S.inl(S.pget(P)).term
    # a port function as pmodify's argument is decoded
    assert S.pmodify(lambda n: n + 1, P).term == S.pmodify(Compose(kadd(1), Id), P).term

    @S.sm
    def decorated(p: S.Port) -> S.Port:
        return S.inl(p)

    assert decorated == Compose(Inl, Id)


def test_misuse_is_reported() -> None:
    with pytest.raises(TypeError, match="truth value"):
        bool(P)
    with pytest.raises(TypeError, match="compared"):
        P == 0  # noqa: B015
    with pytest.raises(TypeError, match="truth value"):  # P < 0 is a port now (Lt): `if P < 0:` still refused
        bool(P < 0)
    assert P in {P} and P in [P]  # identity still works for containers
    with pytest.raises(AttributeError):
        P.term = Id  # type: ignore[misc]
    with pytest.raises(TypeError, match="encode"):
        S.pair(P, Fst)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Term"):
        S.encode(P, P)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="result of sm"):
        S.sm(lambda p: 3)  # type: ignore[arg-type, return-value]
    with pytest.raises(IndexError):
        P[2]
    with pytest.raises(ValueError, match="64-bit"):
        S.padd(2**63, P)


def test_box_runs_its_port_once() -> None:
    bump = S.pmodify(S.kadd(1), S.unit) >> S.pget(S.unit)  # increments the state, answers it
    twice = lambda x: x + x
    inline, boxed = S.sm(lambda p: twice(bump)), S.sm(lambda p: S.box(twice, bump))
    assert step(inline, (), 10) == (12, 11 + 12)  # by name: bump runs at each use
    assert step(boxed, (), 10) == (11, 22)
    assert S.box(twice)(bump).term == S.box(twice, bump).term == S.encode(S.decode(twice), bump).term


def test_program_and_upgrade_are_checked() -> None:
    from catlib.examples import counter
    from catlib.typecheck import TermTypeError

    with pytest.raises(TypeError, match="initial state"):
        Program("bad", counter.counter_sm, "Int", "Either () ()", "Either () Int", ())
    with pytest.raises(ValueError, match="ground"):
        Program("poly", Id, "a", "a", "a", 0)
    with pytest.raises(TermTypeError):
        Program("wrong", counter.counter_sm, "(Int, Int)", "Either () ()", "Either () Int", (0, 0)).check()
    with pytest.raises(TypeError, match="upgrade goes from state"):
        Upgrade(counter.COUNTER, counter.COUNTER2, Program("m", Id, "()", "Int", "Int", ())).check()
    with pytest.raises(TypeError, match="runs with state"):
        Upgrade(counter.COUNTER, counter.COUNTER, Program("m", Id, "Int", "Int", "Int", 0)).check()


# ----------------------------------------------------------------------- scopes


def test_ports_of_another_machine_are_rejected() -> None:
    leaked: list[S.Port] = []
    S.sm(lambda p: leaked.append(p) or p)
    with pytest.raises(S.ScopeError, match="used in"):
        S.sm(lambda p: leaked[0])
    with pytest.raises(S.ScopeError, match="unrelated scopes"):
        S.sm(lambda p: S.pair(p, leaked[0]))
    with pytest.raises(S.ScopeError, match="unrelated scopes"):
        S.sm(lambda p: leaked[0] + p)


def test_plain_kase_branches_see_only_their_own_port() -> None:
    with pytest.raises(S.ScopeError, match="use kase_with"):
        S.sm(lambda p: S.kase(lambda a: S.pair(a, p[1]), S.inr, p[0]))
    with pytest.raises(S.ScopeError, match="use kase_with"):
        S.sm(lambda p: S.kase(lambda a: p, S.inr, p))


@pytest.mark.parametrize("kase", [S.kase, S.kase_with], ids=["kase", "kase_with"])
def test_branch_ports_do_not_escape(kase: Any) -> None:
    leaked: list[S.Port] = []

    def spy(a: S.Port) -> S.Port:
        leaked.append(a)
        return a

    with pytest.raises(S.ScopeError):  # a branch's port used after the kase
        S.sm(lambda p: kase(spy, spy, p) >> leaked[0])
    leaked.clear()
    with pytest.raises(S.ScopeError):  # the left branch's port used in the right branch
        S.sm(lambda p: kase(spy, lambda b: S.pair(b, leaked[0]), p))
    leaked.clear()
    with pytest.raises(S.ScopeError):  # a branch's port returned by the machine
        S.sm(lambda p: (kase(spy, spy, p), leaked[0])[1])


def test_kase_with_needs_a_machine() -> None:
    with pytest.raises(S.ScopeError, match="enclosing sm"):
        S.kase_with(S.inr, S.inl, S.inl(S.unit))


def test_kase_with_lifts_outer_ports_through_nested_branches() -> None:
    # input (Either (Either () ()) (), Int): the innermost branches see the sm's x and the middle branch's port
    @S.sm
    def nested(p: S.Port) -> S.Port:
        cmd, x = p
        return S.kase_with(lambda inner: S.kase_with(lambda u: x + 1, lambda v: x + 2, inner),
                           lambda w: x, cmd)

    assert str(check(nested, "()", "(Either (Either () ()) (), Int)", "Int")) == \
        "() / (Either (Either () ()) (), Int) -> Int"
    for cmd, want in [(Left(Left(())), 11), (Left(Right(())), 12), (Right(()), 10)]:
        assert step(nested, (cmd, 10), ()) == ((), want)
        assert unquote(machine_run(compile(nested), quote((cmd, 10)), quote(()))[1]) == want
    # a scope-free scrutinee branches in the innermost scope being built
    t = S.sm(lambda p: S.kase_with(lambda u: p + 1, lambda v: p, S.inl(S.unit)))
    assert step(t, 4, ()) == ((), 5)


def test_plain_kase_never_uses_distr() -> None:
    from catlib.examples.counter import counter_sm, counter_sm2

    for t in (counter_sm, counter_sm2):
        assert all(sub != Distr for _, sub in subterms(t))


@pytest.mark.usefixtures("no_gc")
def test_deep_port_chains() -> None:
    """Building through ports does not recurse (type-checking deep terms is tests/test_deep.py's job)."""
    @S.sm
    def deep(p: S.Port) -> S.Port:
        for _ in range(100_000):
            p = p + 1
        return p

    assert step(deep, 5, ()) == ((), 100_005)
    assert unquote(machine_run(compile(deep), quote(5), quote(()))[1]) == 100_005


# ------------------------------------- random port programs against a by-name model
#
# An expression is a tuple; environments list the ports in reach.  The model
# evaluates expressions directly: sm's input and branch values are values, a
# `let` is by name (its expression runs again, with the state of the moment,
# at every use), pairs run left then right.  Terms from the generator are run
# by the interpreter, the only shared piece.

Expr = tuple[Any, ...]


class ProgramGen:
    """Random well-typed port programs of a given type, with kase_with branches using outer ports."""

    def __init__(self, gen: Generator, state: Type) -> None:
        self.g, self.state = gen, state

    def term(self, a: Type, b: Type) -> Term:
        return self.g.term(self.state, a, b, self.g.choose(0, 2))

    def expr(self, env: list[Type], t: Type, fuel: int) -> Expr:
        g = self.g
        if fuel <= 0 or g.choose(0, 4) == 0:
            matching = [i for i, e in enumerate(env) if e == t]
            if matching and g.choose(0, 1):
                return ("var", matching[g.choose(0, len(matching) - 1)])
            i = g.choose(0, len(env))
            if i == len(env):
                return ("app", self.term(Unit, t), ("unit",))
            return ("app", self.term(env[i], t), ("var", i))
        n = fuel - 1
        rule = g.choose(0, 11)
        u, a, b = g.type(1), g.type(1), g.type(1)
        if rule == 0:
            return ("app", self.term(u, t), self.expr(env, u, n))
        if rule == 1 and isinstance(t, Prod):
            return ("pair", self.expr(env, t.kids[0], n // 2), self.expr(env, t.kids[1], n // 2))
        if rule == 2:
            return ("fst", self.expr(env, Prod(t, u), n)) if g.choose(0, 1) else ("snd", self.expr(env, Prod(u, t), n))
        if rule == 3 and t == Int:
            if g.choose(0, 1):
                return ("add", self.expr(env, Int, n // 2), self.expr(env, Int, n // 2))
            return ("addk", g.int(), self.expr(env, Int, n))
        if rule == 4:
            return ("seq", self.expr(env, u, n // 2), self.expr(env, t, n // 2))
        if rule == 5:
            return ("let", self.expr(env, u, n // 2), self.expr([*env, u], t, n // 2))
        if rule == 6:
            return ("box", self.expr([u], t, n // 2), self.expr(env, u, n // 2))
        if rule == 10 and t == self.state:
            return ("get", self.expr(env, Unit, n))
        if rule == 11 and t == Unit:
            if g.choose(0, 1):
                return ("put", self.expr(env, self.state, n))
            return ("modify", self.term(self.state, self.state), self.expr(env, Unit, n))
        if rule >= 7:
            with_ = rule != 8
            scrut = self.expr(env, Sum(a, b), n // 3)
            outer = env if with_ else []
            return ("kase", with_, scrut, self.expr([*outer, a], t, n // 3), self.expr([*outer, b], t, n // 3))
        return self.expr(env, t, 0)


def build(e: Expr, ports: list[S.Port]) -> S.Port:
    """The DSL calls a user would write for `e`."""
    op = e[0]
    if op == "var":
        return ports[e[1]]
    if op == "unit":
        return S.unit
    if op == "app":
        return S.encode(e[1], build(e[2], ports))
    if op == "pair":
        return S.pair(build(e[1], ports), build(e[2], ports))
    if op == "fst":
        first, _ = build(e[1], ports)
        return first
    if op == "snd":
        return build(e[1], ports)[1]
    if op == "add":
        return build(e[1], ports) + build(e[2], ports)
    if op == "addk":
        return build(e[2], ports) + e[1]
    if op == "seq":
        return build(e[1], ports) >> build(e[2], ports)
    if op == "get":
        return S.pget(build(e[1], ports))
    if op == "put":
        return S.pput(build(e[1], ports))
    if op == "modify":
        return S.pmodify(e[1], build(e[2], ports))
    if op == "let":
        y = build(e[1], ports)
        return build(e[2], [*ports, y])
    if op == "box":
        return S.box(lambda x: build(e[1], [x]), build(e[2], ports))
    if op == "kase":
        _, with_, scrut, f, g = e
        if with_:
            return S.kase_with(lambda a: build(f, [*ports, a]), lambda b: build(g, [*ports, b]), build(scrut, ports))
        return S.kase(lambda a: build(f, [a]), lambda b: build(g, [b]), build(scrut, ports))
    raise AssertionError(op)


def model(e: Expr, env: list[tuple[Any, ...]], s: Any) -> tuple[Any, Any]:
    """``(state, value)`` of `e`, ports by name."""
    op = e[0]
    if op == "var":
        entry = env[e[1]]
        return (s, entry[1]) if entry[0] == "val" else model(entry[1], entry[2], s)
    if op == "unit":
        return s, ()
    if op == "app":
        s, v = model(e[2], env, s)
        return step(e[1], v, s)
    if op in ("pair", "add", "seq"):
        s, v = model(e[1], env, s)
        s, w = model(e[2], env, s)
        return s, {"pair": (v, w), "add": add64(v, w) if op == "add" else None, "seq": w}[op]
    if op in ("fst", "snd"):
        s, v = model(e[1], env, s)
        return s, v[0 if op == "fst" else 1]
    if op == "addk":
        s, v = model(e[2], env, s)
        return s, add64(v, e[1])
    if op == "let":
        return model(e[2], [*env, ("name", e[1], env)], s)
    if op == "get":
        s, _ = model(e[1], env, s)
        return s, s
    if op == "put":
        s, v = model(e[1], env, s)
        return v, ()
    if op == "modify":
        s, _ = model(e[2], env, s)
        s, v = step(e[1], s, s)
        return v, ()
    if op == "box":
        s, v = model(e[2], env, s)
        return model(e[1], [("val", v)], s)
    if op == "kase":
        _, with_, scrut, f, g = e
        s, v = model(scrut, env, s)
        outer = env if with_ else []
        return model(f if isinstance(v, Left) else g, [*outer, ("val", v.value)], s)
    raise AssertionError(op)


def captures(e: Expr) -> bool:
    """Whether a kase_with branch of `e` uses a port bound outside that branch."""
    todo: list[tuple[Expr, int, int]] = [(e, 1, 0)]  # (expression, ports in reach, first port of the branch)
    while todo:
        x, n, own = todo.pop()
        op = x[0]
        if op == "var" and x[1] < own:
            return True
        if op == "let":
            todo += [(x[1], n, own), (x[2], n + 1, own)]
        elif op == "box":
            todo += [(x[1], 1, 0), (x[2], n, own)]
        elif op == "kase":
            inner, first = (n + 1, n) if x[1] else (1, 0)
            todo += [(x[2], n, own), (x[3], inner, first), (x[4], inner, first)]
        else:
            todo += [(k, n, own) for k in x[1:] if isinstance(k, tuple) and k and isinstance(k[0], str)]
    return False


def uses_kase_with(e: Expr) -> bool:
    todo = [e]
    while todo:
        x = todo.pop()
        if x[0] == "kase" and x[1]:
            return True
        todo += [k for k in x[1:] if isinstance(k, tuple) and k and isinstance(k[0], str)]
    return False


@st.composite
def port_programs(draw: Any) -> tuple[Expr, Type, Type, Type, Any, Any]:
    gen = Generator(lambda lo, hi: draw(integers(lo, hi)), type_depth=1)
    state, input, output = gen.type(1), gen.type(1), gen.type(1)
    e = ProgramGen(gen, state).expr([input], output, draw(st.integers(0, 14)))
    return e, state, input, output, gen.value(input), gen.value(state)


@settings(max_examples=scaled(300))
@given(port_programs())
@example((("modify", Compose(Case(Const(0), Const(0)), Compose(Distr, Compose(Par(Compose(Lt, Compose(Par(Id, Id), Copy)),
                                                                           Id), Copy))),
           ("app", Consume, ("var", 0))), Int, Prod(Unit, Unit), Unit, ((), ()), 0))  # Distr from a 'modify' term
def test_port_programs_typecheck_interpret_compile_and_run_alike(program: tuple) -> None:
    e, state, input, output, x, s = program
    term = S.sm(lambda p: build(e, [p]))
    check(term, state, input, output)
    want = model(e, [("val", x)], s)
    assert step(term, x, s) == want
    assert machine_run(compile(term), quote(x), quote(s)) == (quote(want[0]), quote(want[1]))
    # kase_with is the only source of Distr, besides generated terms embedded with 'app' or 'modify'
    if not uses_kase_with(e) and not any(sub == Distr for t in embedded_terms(e) for sub in walk(t)):
        assert all(sub != Distr for _, sub in subterms(term))


def embedded_terms(e: Expr) -> list[Term]:
    """The generated terms that an expression embeds (those it applies with 'app' and the state updates of
    'modify')."""
    found, todo = [], [e]
    while todo:
        x = todo.pop()
        found += [k for k in x[1:] if isinstance(k, Term)]
        todo += [k for k in x[1:] if isinstance(k, tuple) and k and isinstance(k[0], str)]
    return found


def test_generated_programs_cover_outer_ports_in_branches() -> None:
    """The generator reaches what the property is about: kase_with branches using outer ports."""
    import random

    hits = 0
    for seed in range(300):
        rng = random.Random(seed)
        gen = Generator(rng.randint, type_depth=1)
        state, input, output = gen.type(1), gen.type(1), gen.type(1)
        e = ProgramGen(gen, state).expr([input], output, rng.randint(0, 14))
        hits += captures(e)
    assert hits >= 60
