"""The central property: the compiled machine computes what the interpreter computes.

For every well-typed term ``f`` (every constructor but ``Embed``), input ``x`` and state ``s``::

    (quote(s'), quote(y)) == cam.machine.step(compile(f), quote(x), quote(s))   where (s', y) = step(f, x, s)

The two sides stay independent: the interpreter works on host values, the
machine on its own values, and only `quote` connects them -- for closures
`cam.compiler.compile_value`, which compiles a host closure's body: function
types occur in the signatures (inputs, outputs and state) of the runs here.
"""

from collections import Counter

import pytest
from hypothesis import event, find, given, settings

from cam.code import Code, Instr, IntV, Pair, to_text
from cam.compiler import DISTR_CODE, CompileError, compile
from cam.compiler import compile_value as cquote
from cam.hostvalue import quote
from cam.machine import clear_cache, execute
from cam.machine import step as machine_step
from catlib.free import Add, Case, Compose, Const, Copy, Distr, Embed, Fst, Id, Inl, Inr, Par, Put, Snd, subterms
from catlib.interpreter import step
from catlib.strategies import CONSTRUCTORS, Generator, runs
from catlib.tree import walk
from catlib.types import Fun, Sum
from catlib.values import Left, Right
from tests.conftest import scaled


@settings(max_examples=scaled(2000))
@given(runs(max_size=16, functions=True))
def test_machine_agrees_with_interpreter(r):
    f, sig, x, s = r
    for op in sorted({t.op for t in walk(f)}):
        event(op)
    for part, t in zip(("state", "input", "output"), sig):
        if any(isinstance(n, Fun) for n in walk(t)):  # (not `"->" in str(t)`: rendering cost more)
            event(f"function in the {part}")
    new_state, y = step(f, x, s)
    code, expected = compile(f), (cquote(new_state), cquote(y))
    mx, ms = cquote(x), cquote(s)  # machine values are immutable: both runs may share them
    clear_cache()  # decoded afresh: the first run is the checked loop, the second the translation (a node's path)
    assert machine_step(code, mx, ms) == expected
    assert machine_step(code, mx, ms) == expected


@settings(max_examples=scaled(300))
@given(runs(max_size=30, max_type_depth=3, functions=True))
def test_machine_agrees_with_interpreter_on_larger_terms(r):
    f, sig, x, s = r
    event(f"size {min(f.size() // 25 * 25, 200)}+")
    new_state, y = step(f, x, s)
    assert machine_step(compile(f), cquote(x), cquote(s)) == (cquote(new_state), cquote(y))


@settings(max_examples=scaled(200))
@given(runs(max_size=12, functions=True))
def test_machine_agrees_over_a_run_of_inputs(r):
    # The new state is fed back in: state threading agrees over several steps (closures kept in it too).
    f, sig, x, s = r
    code, ms = compile(f), cquote(s)
    for _ in range(3):
        s, y = step(f, x, s)
        ms, my = machine_step(code, cquote(x), ms)
        assert (ms, my) == (cquote(s), cquote(y))


def test_a_planted_bug_shrinks_to_a_small_run():
    # what the strategies' choices are worth when a property fails: a "bug" that needs an Add in the term,
    # a sum in the input and a function in the state shrinks to Add of two constants (7 nodes), or that
    # with a projection or a Consume around it, and types of at most 5 nodes
    def planted(r):
        f, sig, x, s = r
        return (any(t.op == "Add" for t in walk(f)) and any(isinstance(t, Sum) for t in walk(sig.input))
                and any(isinstance(t, Fun) for t in walk(sig.state)))

    f, sig, x, s = find(runs(max_size=16, functions=True), planted,
                        settings=settings(database=None, derandomize=True, max_examples=2000))
    assert f.size() <= 12, f
    assert all(len(list(walk(t))) <= 5 for t in sig), sig


def test_function_types_reach_every_part_of_the_signature():
    # closures as inputs, outputs and state: the runs above see each often
    seen: Counter[str] = Counter()
    for seed in range(300):
        gen = Generator.seeded(seed, functions=True)
        for part in ("state", "input", "output"):
            if "->" in str(gen.type()):
                seen[part] += 1
    assert min(seen[p] for p in ("state", "input", "output")) >= 60, seen


def test_generators_cover_every_constructor():
    # The property above is only as strong as the terms it sees: every constructor but Embed must occur.
    seen: Counter[str] = Counter()
    for seed in range(400):
        gen = Generator.seeded(seed)
        f = gen.term(gen.type(), gen.type(), gen.type(), 12)
        seen.update(t.op for t in walk(f))
    assert set(seen) == set(CONSTRUCTORS) - {"Embed"}, seen


# ---------------------------------------------------------------- hand-picked cases


@pytest.mark.parametrize("f, x, s", [
    (Distr, (Left(3), 4), ()),
    (Distr, (Right(()), (1, 2)), 9),
    (Par(Put, Put), (1, 2), 0),  # the right side's effect comes last
    (Case(Compose(Inl, Add), Inr), Left((2**63 - 1, 1)), ()),  # wraps to -2**63
    (Compose(Snd, Par(Const(-3), Copy)), ((), 5), ()),
])
def test_hand_picked(f, x, s):
    new_state, y = step(f, x, s)
    assert machine_step(compile(f), quote(x), quote(s)) == (quote(new_state), quote(y))


def test_compile_scheme_examples():
    assert to_text(compile(Copy >> Par(Snd, Fst))) == "[COPY,FIRST,SND,SWAP,CONS,SECOND,FST,CONS]"
    assert to_text(compile(Case(Id, Const(-3)))) == "[BRANCH [ID,RETURN] [QUOTE (Int (-3)),RETURN]]"
    assert compile(Distr) == DISTR_CODE
    assert to_text(DISTR_CODE) == ("[PUSH,FST,BRANCH [ROT,SWAP,SND,CONS,INL,RETURN] "
                                   "[ROT,SWAP,SND,CONS,INR,RETURN]]")


# ---------------------------------------------------------------- Embed


def test_compile_error_on_embed_names_the_path():
    e1 = Embed(abs, "Int", "Int")
    f = Par(Id, Compose(Case(Id, Compose(Inl, e1)), Fst))
    with pytest.raises(CompileError) as e:
        compile(f)
    assert e.value.path == ("g", "g", "g", "f")
    assert "root.g.g.g.f" in str(e.value) and "Embed" in str(e.value)
    assert e.value.subterm == e1
    assert [p for p, t in subterms(f) if t == e1] == [e.value.path]


@settings(max_examples=scaled(200))
@given(runs(max_size=10, embed=True))
def test_compile_error_exactly_on_terms_with_embed(r):
    f = r[0]
    embeds = [p for p, t in subterms(f) if isinstance(t, Embed)]
    if not embeds:
        compile(f)
        return
    with pytest.raises(CompileError) as e:
        compile(f)
    assert e.value.path in embeds and isinstance(e.value.subterm, Embed)


# ---------------------------------------------------------------- linear size

# Instructions contributed by each constructor, counting those inside BRANCH blocks
# (read off the scheme in cam.compiler):
#   Compose 0 (just the two codes, concatenated); Par 5 (FIRST, SWAP, CONS, SECOND, CONS);
#   Case 3 (BRANCH and two RETURNs); Distr 15 (PUSH, FST, BRANCH, 2 x (ROT, SWAP, SND, CONS, INL/INR, RETURN));
#   Curry 2 (CURRY and its body's RETURN); every other constructor 1 (Id, Copy, ..., Const k, Apply).
WEIGHT = {"Compose": 0, "Par": 5, "Case": 3, "Distr": 15, "Curry": 2}
MAX_WEIGHT = max(WEIGHT.values())  # so every code has at most 15 * f.size() instructions


def instruction_count(code: Code) -> int:
    """Instructions of `code`, those in nested blocks included."""
    n, todo = 0, [code]
    while todo:
        for i in todo.pop():
            n += 1
            if isinstance(i, Instr) and i.op in ("BRANCH", "CURRY"):
                todo.extend(i.kids)
    return n


@settings(max_examples=scaled(300))
@given(runs(max_size=40))
def test_compile_is_linear_in_term_size(r):
    f = r[0]
    code = compile(f)
    exact = sum(WEIGHT.get(t.op, 1) for t in walk(f))
    assert instruction_count(code) == exact
    assert len(code) <= instruction_count(code) <= MAX_WEIGHT * f.size()


def test_the_bound_is_tight():
    assert instruction_count(compile(Distr)) == MAX_WEIGHT * Distr.size()


# ---------------------------------------------------------------- deep terms

N = 100_000
DOUBLE = Compose(Add, Copy)


@pytest.mark.parametrize("left", [True, False], ids=["left-nested", "right-nested"])
def test_deep_compose_chain_compiles_and_runs(left):
    t = Id
    for _ in range(N):
        t = Compose(t, DOUBLE) if left else Compose(DOUBLE, t)
    code = compile(t)
    assert len(code) == 2 * N + 1
    r = execute(code, IntV(3), IntV(7))
    assert (r.state, r.output, r.steps) == (IntV(7), IntV(3 * 2**N % 2**64), 2 * N + 1)
    assert (r.state, r.output) == tuple(map(quote, step(t, 3, 7)))


def test_deep_par_nesting_compiles_and_runs():
    # Par(Par(...Par(Add, Const 0)..., Const k-1), Const k): a 100,000-deep product in and out.
    t, x = Add, (1, 2)
    for k in range(N // 2):
        t, x = Par(t, Const(k)), (x, ())
    code = compile(t)
    assert instruction_count(code) == 5 * (N // 2) + 1 + N // 2
    state, y = machine_step(code, quote(x), quote(()))
    expect = IntV(3)
    for k in range(N // 2):
        expect = Pair(expect, IntV(k))
    assert y == expect == quote(step(t, x, ())[1])


def test_deep_case_nesting_compiles_and_runs():
    # Case(Case(...), Inr) nested 50,000 deep: BRANCH blocks nested as deep, a continuation per level.
    t, x = Compose(Inl, Add), (4, 5)
    for _ in range(N // 2):
        t, x = Case(t, Inr), Left(x)
    code = compile(t)
    nested, depth = code, 0
    while nested[0].op == "BRANCH":
        nested, depth = nested[0].kids[0], depth + 1
    assert depth == N // 2
    r = execute(code, quote(x), quote(()))
    assert r.output == quote(step(t, x, ())[1])
    assert r.steps == 2 * (N // 2) + 2
