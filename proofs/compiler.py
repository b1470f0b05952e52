"""Compiler correctness: each row of `cam.compiler.TEMPLATES` proved symbolically; `compile` is their fold.

**Theorem.**  For every `Embed`-free term ``f``, input ``x`` and state
``s`` of its types, continuation ``k`` and stack ``st``: the machine in
configuration (quote x, code(f) ++ k, quote s, st) reaches
(quote y, k, quote s', st), where ``(s', y) = step(f, x, s)``.  With
``k = []`` and ``st = []`` the machine then halts: ``step(compile(f), quote
x, quote s) == (quote s', quote y)``.

**Proof** by structural induction on ``f``; one case per constructor,
decided here.  The code of a constructor is its row of the compiler's own
table, `cam.compiler.TEMPLATES` (the very object `compile` folds): fixed
instructions around holes for the codes of its subterms.  `template`
decodes a row into the symbolic machine's form (`proofs.machine`).  A hole
is run as the induction hypothesis says it behaves: from accumulator ``x``,
register ``s``, any continuation and any stack, it reaches accumulator
``f(x, s)`` and register ``f_s(x, s)`` (uninterpreted functions) with the
same continuation and stack.  The template, followed by the marker ``k``,
runs from a symbolic input of the constructor's principal input type, a
symbolic state and the opaque caller stack ``st``, splitting where
``BRANCH`` inspects an unknown sum.  The case holds when every path
reaches ``k`` with the stack exactly ``st`` again (the stack-discipline
lemma for this constructor) and with accumulator and register equal, after
normalisation, to what `catlib.symbolic.evaluate` gives for the constructor
applied to unknown stateful morphisms -- the interpreter's rule (``Const``
states its rule, ``(k, s)``, directly, with ``k`` symbolic).

**Syntax-directed by construction.**  `cam.compiler.compile` is
`cam.compiler.instantiate` over the table: it reads a term's constructor
to pick a row and the fields its holes name, nothing else, so no constant
or subterm shape can be compiled other than by its row.  `agrees` checks
that the compiler in use really is the fold of the proven table, against
`compile_with`, an independent fold written here, on every constructor
over every pair of small subterms and constants and on random terms.

A failing case reports the symbolic difference and, when `confirm` finds
one, a concrete term, input and state on which the real machine
(`cam.machine.step`) and the interpreter disagree.

>>> verify("Par")
Verdict(proved=True, detail='1 path', counterexample=None)
>>> verify("Par", BROKEN["Par swapped"][1]).proved
False
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from functools import cache, partial
from typing import Any, cast

import sympy

from cam.code import BRANCH, CURRY, Code, Instr, IntV, to_text
from cam.compiler import TEMPLATES, Body, Branch, Hole, QuoteHole, Template, compile_value
from cam.compiler import compile as cam_compile
from cam.machine import MachineError
from cam.machine import step as machine_run
from catlib.constructs import PRIMITIVES
from catlib.equivalence import assignments, concretize, refine
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
    Fst,
    Get,
    Id,
    Inl,
    Par,
    Prim,
    Put,
    Snd,
    Term,
)
from catlib.interpreter import step
from catlib.strategies import Generator
from catlib.symbolic import Unknown, evaluate, fresh, normal, same, show_condition, symbols_of
from catlib.tree import fold
from catlib.typecheck import infer
from catlib.types import Int, ground
from catlib.values import INT_MAX, INT_MIN, Curried
from proofs import machine
from proofs.core import Theorem, Verdict
from proofs.machine import CALLER, K, MachineClosure, from_code, op, run

__all__ = ["CONSTRUCTORS", "Table", "template", "compile_with", "verify", "confirm", "agrees", "corpus",
           "BROKEN", "BROKEN_COMPILERS", "theorems"]

CONSTRUCTORS = tuple(TEMPLATES)
"""Every constructor the compiler accepts (all but `Embed`), in the table's order."""

Table = dict[str, Template]
Compiler = Callable[[Term], Code]
K_SYMBOL = sympy.Symbol("k", integer=True)
_SUBTERMS = {"Compose": ("g", "f"), "Par": ("f", "g"), "Case": ("f", "g"), "Curry": ("f",)}


def template(op: str, table: Table = TEMPLATES) -> machine.Block:
    """Row `op` of `table` as a block of the symbolic machine: holes stay holes, ``k`` is a symbol.

    Instructions are decoded by `proofs.machine.from_code` (`cam.code.Decoder`).
    """
    return _block(table[op])


def _block(items: Template) -> machine.Block:
    out: machine.Block = []
    for item in items:  # templates nest only through BRANCH, a level or two: recursion is bounded
        if type(item) is Hole:
            out.append(machine.Hole(item.name))
        elif type(item) is QuoteHole:
            out.append(machine.op("QUOTE", K_SYMBOL))
        elif type(item) is Branch:
            out.append(machine.op("BRANCH", (_block(item.left), _block(item.right))))
        elif type(item) is Body:
            out.append(machine.op("CURRY", _block(item.block)))
        else:
            out.extend(from_code(Code([cast(Instr, item)])))  # the holes and branches are handled above
    return out


def compile_with(table: Table, term: Term) -> Code:
    """Compile `term` by `table`, bottom up: independent of `cam.compiler.instantiate`, and equal to it.

    Iterative over the term (`catlib.tree.fold`); each row is filled by `_fill`.
    """
    def node(t: Any, kids: list[Code]) -> Code:
        if t.op not in table:
            raise ValueError(f"no template for {t.op}")
        return _fill(table[t.op], t, dict(zip(_SUBTERMS.get(t.op, ()), kids)))
    return fold(term, node)


def _fill(tpl: Template, t: Any, codes: dict[str, Code]) -> Code:
    out: list[Instr] = []
    for item in tpl:
        if type(item) is Hole:
            out.extend(codes[item.name])
        elif type(item) is QuoteHole:
            out.append(Instr("QUOTE", IntV(getattr(t, item.name))))
        elif type(item) is Branch:
            out.append(BRANCH(_fill(item.left, t, codes), _fill(item.right, t, codes)))
        elif type(item) is Body:
            out.append(CURRY(_fill(item.block, t, codes)))
        else:
            out.append(cast(Instr, item))  # the holes and branches are handled above
    return Code(out)


def _symbolic_term(op: str) -> Term:
    f = Unknown("f", stateful=True).term("a", "b")
    if op == "Compose":
        return Compose(Unknown("g", stateful=True).term("b", "c"), f)
    if op == "Par":
        return Par(f, Unknown("g", stateful=True).term("c", "d"))
    if op == "Case":
        return Case(Unknown("f", stateful=True).term("a", "c"), Unknown("g", stateful=True).term("b", "c"))
    if op == "Const":
        return Const(0)  # its type; the rule is stated with k symbolic
    if op == "Curry":
        return Curry(Unknown("f", stateful=True).term("(a, b)", "c"))
    return Prim(op)


def _applied(clo: Any, env: Any, z: Any, s: Any, body: Term) -> Verdict | None:
    """The closure case of the theorem: `clo` (a machine closure) applied by ``APP`` to `z` in state `s`
    returns to its continuation, stack kept, with what the interpreter gives for ``Apply`` on
    ``Curried(body, env)``; None when it does."""
    if type(clo) is not MachineClosure:
        return Verdict(False, f"the code answers {clo!r}, not a closure")
    if not same(clo.env, env):
        return Verdict(False, f"the closure's environment is {clo.env!r}, not the input {env!r}")
    for end in run([op("APP"), K], (clo, z), s, (CALLER,)):
        where = f"when {show_condition(end.condition)}" if end.condition else "always"
        if end.kind != "k" or end.stack != (CALLER,):
            return Verdict(False, f"{where}: applied, the closure does not return to its caller with the stack "
                           f"kept: {end.reason or end.kind}, stack {list(end.stack)}")
        for c, out, new_state in evaluate(Apply, (Curried(body, env), z), s, end.condition):
            if not (same(end.acc, out, c) and same(end.reg, new_state, c)):
                return Verdict(False, f"{where}: applied, the closure gives acc {normal(end.acc, c)}, register "
                               f"{normal(end.reg, c)}; the interpreter gives {normal(out, c)}, {normal(new_state, c)}")
    return None


def _verify_closed(op_name: str, table: Table) -> Verdict:
    """The cases of `Curry` and `Apply`, whose values include closures (compared by applying them).

    A machine closure stands for ``Curried(g, env)`` when applying it (``APP``)
    does what ``Apply`` does on that: the code of ``g`` is a hole, run by the
    induction hypothesis.  `Curry`: from any input ``x`` its code answers a
    closure with environment ``x``, register and stack kept, that stands for
    ``Curried(f, x)``.  `Apply`: on a closure standing for ``Curried(g, env)``
    (code ``[<g>, RETURN]``) and an argument, it is the interpreter's rule.
    """
    code = template(op_name, table)
    s, z = fresh("s", "s"), fresh("b", "z")
    if op_name == "Apply":
        env = fresh("e", "env")
        clo = MachineClosure([machine.Hole("g"), op("RETURN")], env)
        g = Unknown("g", stateful=True).term("(e, b)", "c")
        ends = run([*code, K], (clo, z), s, (CALLER,))
        for end in ends:
            where = f"when {show_condition(end.condition)}" if end.condition else "always"
            if end.kind != "k" or end.stack != (CALLER,):
                return Verdict(False, f"{where}: the code does not reach k with the stack kept: "
                               f"{end.reason or end.kind}", confirm(op_name, table))
            for c, out, new_state in evaluate(Apply, (Curried(g, env), z), s, end.condition):
                if not (same(end.acc, out, c) and same(end.reg, new_state, c)):
                    return Verdict(False, f"{where}: machine gives acc {normal(end.acc, c)}, register "
                                   f"{normal(end.reg, c)}; interpreter gives {normal(out, c)}, "
                                   f"{normal(new_state, c)}", confirm(op_name, table))
        return Verdict(True, f"{len(ends)} path{'s' if len(ends) != 1 else ''}")
    x = fresh("a", "x")
    f = Unknown("f", stateful=True).term("(a, b)", "c")
    ends = run([*code, K], x, s, (CALLER,))
    for end in ends:
        where = f"when {show_condition(end.condition)}" if end.condition else "always"
        if end.kind != "k" or end.stack != (CALLER,):
            return Verdict(False, f"{where}: the code does not reach k with the stack kept: {end.reason or end.kind}",
                           confirm(op_name, table))
        if not same(end.reg, s, end.condition):
            return Verdict(False, f"{where}: building the closure changes the register to {end.reg!r}",
                           confirm(op_name, table))
        bad = _applied(end.acc, x, z, fresh("s", "s2"), f)
        if bad is not None:
            return Verdict(False, bad.detail, confirm(op_name, table))
    return Verdict(True, f"{len(ends)} path{'s' if len(ends) != 1 else ''}, and the closure applied")


def verify(op: str, table: Table = TEMPLATES) -> Verdict:
    """Decide the induction case of constructor `op` for its row in `table`."""
    if op in ("Curry", "Apply"):
        return _verify_closed(op, table)
    code = template(op, table)
    term = _symbolic_term(op)
    sig = infer(term)
    x, s = fresh(sig.input, "x"), fresh(sig.state, "s")
    ends = run([*code, K], x, s, (CALLER,))
    for end in ends:
        where = f"when {show_condition(end.condition)}" if end.condition else "always"
        if end.kind != "k":
            return Verdict(False, f"{where}: the code does not reach k: {end.reason or end.kind}", confirm(op, table))
        if end.stack != (CALLER,):
            return Verdict(False, f"{where}: reaches k with stack {list(end.stack)} instead of st",
                           confirm(op, table))
        expected = ([(end.condition, K_SYMBOL, s)] if op == "Const" else
                    [(c, o, st) for c, o, st in evaluate(term, x, s, end.condition)])
        for c, out, new_state in expected:
            if not (same(end.acc, out, c) and same(end.reg, new_state, c)):
                return Verdict(False, f"{where}: machine gives acc {normal(end.acc, c)}, register "
                               f"{normal(end.reg, c)}; interpreter gives {normal(out, c)}, {normal(new_state, c)}",
                               confirm(op, table))
    return Verdict(True, f"{len(ends)} path{'s' if len(ends) != 1 else ''}")


def _pool() -> list[Term]:
    inc = add_constant(FREE, 1)
    tick = Copy >> Par(Id, Consume >> Get >> inc >> Put) >> Fst
    store = Copy >> Par(Consume >> Get, Put) >> Fst
    return [Id, inc, Const(5), tick, store]


def _build(op: str, f: Term, g: Term) -> Term:
    """Constructor `op` with subterms `f` and `g` (where it has them)."""
    if op == "Compose":
        return Compose(g, f)
    if op == "Par":
        return Par(f, g)
    if op == "Case":
        return Case(f, g)
    if op == "Curry":
        return Curry(f)
    return Prim(op)


def _closed(f: Term) -> Term:
    """`f : Int -> Int` through a closure: ``Apply . Par(Curry(f . Snd), Id)`` on ``((), n)``."""
    return Compose(Apply, Par(Curry(Compose(f, Snd)), Id))


def confirm(op: str, table: Table) -> str | None:
    """A concrete term with constructor `op` at the root on which `table`'s code and the interpreter disagree.

    The code is `compile_with(table, term)`; the machine is `cam.machine.step`.
    Subterms range over small terms ``Int -> Int`` over an ``Int`` state.
    """
    names = _SUBTERMS.get(op, ())
    terms: list[Term]
    if op == "Const":
        terms = [Const(5), Const(-1)]
    elif op in ("Curry", "Apply"):  # closures are compared by applying them
        terms = [_closed(f) for f in _pool()]
    elif names:
        terms = [_build(op, f, g) for f, g in itertools.product(_pool(), repeat=2)]
    else:
        terms = [Prim(op)]
    for term in terms:
        real = compile_with(table, term)
        sig = infer(term)
        x, s = fresh(ground(sig.input, Int), "x"), fresh(ground(sig.state, Int), "s")
        for c in refine((x, s), {}):
            for values in itertools.islice(assignments(symbols_of(x, s, *c.values())), 4):
                xi, si = concretize(x, c, values), concretize(s, c, values)
                want = step(term, xi, si)
                try:
                    new_state, output = machine_run(real, compile_value(xi), compile_value(si))
                    got = f"output {to_text(output)}, state {to_text(new_state)}"
                    ok = (new_state, output) == (compile_value(want[0]), compile_value(want[1]))
                except MachineError as e:
                    got, ok = f"{type(e).__name__}: {str(e).splitlines()[0]}", False
                if not ok:
                    return (f"term {term}, input {xi!r}, state {si!r}: machine {got}; "
                            f"interpreter output {want[1]!r}, state {want[0]!r}")
    return None


# ---------------------------------------------------------------- compile is the fold of the proven table

CONSTANTS = (*range(-8, 9), 2**16, -(2**16), INT_MIN, INT_MIN + 1, INT_MAX - 1, INT_MAX)
"""The constants `Const` is tried with in `corpus`; the first of them also inside every pair."""
_IN_PAIRS = (0, 1, -1, 5, INT_MIN, INT_MAX)
_LEAVES = tuple(Prim(name) for name in PRIMITIVES)  # every primitive of the table, new ones included


@cache
def corpus(random_terms: int = 150, seed: int = 0) -> tuple[Term, ...]:
    """Terms to compare compilers on (compiling needs no types, so they need not be well typed).

    Every leaf (each primitive, `Const` at each of `CONSTANTS`), every binary
    constructor over every pair of primitives and small or extreme
    constants, and `random_terms` random terms (well typed, random
    constants) from `catlib.generator.Generator`.
    """
    out: list[Term] = [*_LEAVES, *map(Const, CONSTANTS)]
    small = [*_LEAVES, *map(Const, _IN_PAIRS)]
    out += [_build(op, f, g) for op in _SUBTERMS for f in small for g in small]
    rng = random.Random(seed)
    gen = Generator(rng.randint)
    for _ in range(random_terms):
        out.append(gen.term(gen.type(), gen.type(), gen.type(), rng.randint(0, 40)))
    return tuple(out)


def agrees(compiler: Compiler = cam_compile, table: Table = TEMPLATES) -> Verdict:
    """Check that `compiler` is the fold of `table` (by `compile_with`, independent of `cam.compiler`) on `corpus`."""
    terms = corpus()
    for term in terms:
        mine, folded = compiler(term), compile_with(table, term)
        if mine != folded:
            return Verdict(False, "the compiler is not the fold of the proven table",
                           f"term {term}: compile gives {to_text(mine)}, the table gives {to_text(folded)}")
    return Verdict(True, f"{len(terms)} terms")


# ---------------------------------------------------------------- deliberately wrong tables and compilers


def _broken(op: str, row: Template) -> tuple[str, Table]:
    return op, {**TEMPLATES, op: row}


_P = TEMPLATES  # rows kept as they are where a broken row reuses them
_SWAP = tuple(cam_compile(Compose(Par(Snd, Fst), Copy)))  # (a, b) -> (b, a)
BROKEN: dict[str, tuple[str, Table]] = {
    "Id as COPY": _broken("Id", (_P["Copy"][0],)),
    "Copy as ID": _broken("Copy", (_P["Id"][0],)),
    "Consume as ID": _broken("Consume", (_P["Id"][0],)),
    "Fst as SND": _broken("Fst", (_P["Snd"][0],)),
    "Snd as FST": _broken("Snd", (_P["Fst"][0],)),
    "Inl as INR": _broken("Inl", (_P["Inr"][0],)),
    "Inr as INL": _broken("Inr", (_P["Inl"][0],)),
    "Get as ID": _broken("Get", (_P["Id"][0],)),
    "Put as CONSUME": _broken("Put", (_P["Consume"][0],)),
    "Add as FST": _broken("Add", (_P["Fst"][0],)),
    "Sub as ADD": _broken("Sub", (_P["Add"][0],)),
    "Sub with its operands swapped": _broken("Sub", (*_SWAP, Instr("SUB"))),
    "Mul as ADD": _broken("Mul", (_P["Add"][0],)),
    "Lt as EQ": _broken("Lt", (_P["Eq"][0],)),
    "Eq as LT": _broken("Eq", (_P["Lt"][0],)),
    "Lt with its answer swapped": _broken("Lt", (Instr("LT"), Branch((Instr("INR"), Instr("RETURN")),
                                                                      (Instr("INL"), Instr("RETURN"))))),
    "DivMod with its operands swapped": _broken("DivMod", (*_SWAP, Instr("DIVMOD"))),
    "Const off by one": _broken("Const", (QuoteHole("k"), Instr("PUSH"), Instr("QUOTE", IntV(1)), Instr("CONS"),
                                          Instr("ADD"))),
    "Const as a fixed constant": _broken("Const", (Instr("QUOTE", IntV(5)),)),
    "Distr without ROT": _broken("Distr", (Instr("PUSH"), Instr("FST"), Branch(
        tuple(Instr(o) for o in ("SWAP", "SND", "CONS", "INL", "RETURN")),
        tuple(Instr(o) for o in ("SWAP", "SND", "CONS", "INR", "RETURN"))))),
    "Compose in the wrong order": _broken("Compose", (Hole("g"), Hole("f"))),
    "Par swapped": _broken("Par", tuple(Hole("g") if i == Hole("f") else Hole("f") if i == Hole("g") else i
                                        for i in _P["Par"])),
    "Par without its last CONS": _broken("Par", _P["Par"][:-1]),
    "Case without RETURN": _broken("Case", (Branch((Hole("f"),), (Hole("g"), Instr("RETURN"))),)),
    "Curry without RETURN": _broken("Curry", (Body((Hole("f"),)),)),
    "Curry with its argument first": _broken("Curry", (Body((*_SWAP, Hole("f"), Instr("RETURN"))),)),
    "Curry running f at once": _broken("Curry", (Hole("f"), Body((Instr("SND"), Instr("RETURN"))))),
    "Apply as SND": _broken("Apply", (_P["Snd"][0],)),
}
"""Tables with one row wrong: name -> (constructor, table); `verify` must reject that row."""


def _special_casing(match: Callable[[Term], bool], code: Code) -> Compiler:
    """A compiler that is the table's fold except at (sub)terms where `match` holds: there it emits `code`."""
    def compiler(term: Term) -> Code:
        def node(t: Any, kids: list[Code]) -> Code:
            return code if match(t) else _fill(TEMPLATES[t.op], t, dict(zip(_SUBTERMS.get(t.op, ()), kids)))
        return fold(term, node)
    return compiler


BROKEN_COMPILERS: dict[str, Compiler] = {
    "compile special-cases Const(5) as QUOTE (Int 6)": _special_casing(
        lambda t: t == Const(5), Code([Instr("QUOTE", IntV(6))])),
    "compile special-cases the shape Par(Id, Id) as ID": _special_casing(
        lambda t: t == Par(Id, Id), Code([Instr("ID")])),
    "compile special-cases Compose(Inl, Get) as GET, INR": _special_casing(
        lambda t: t == Compose(Inl, Get), Code([Instr("GET"), Instr("INR")])),
}
"""Compilers that are not the fold of the proven table, each in one constant or subterm shape; `agrees` must
reject each (their rows are all proved: only the fold check can)."""


def theorems(table: Table = TEMPLATES, compiler: Compiler = cam_compile) -> list[Theorem]:
    """One theorem per row of `table`, and one that `compiler` is the fold of `table`."""
    out = [Theorem(f"compile {op}: code ; k  ~>  interpreter rule ; k, stack st kept", "compiler",
                   "symbolic CAM, induction hypothesis at holes", partial(verify, op, table))
           for op in table]
    out.append(Theorem("compile is the fold of these templates", "compiler",
                       "generic fold; compared on leaves, pairs, random terms", lambda: agrees(compiler, table)))
    return out
