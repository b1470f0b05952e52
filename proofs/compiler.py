"""Compiler correctness, one theorem per constructor, by symbolic execution of its code template.

**Theorem.**  For every `Embed`-free term ``f``, input ``x`` and state
``s`` of its types, continuation ``k`` and stack ``st``: the machine in
configuration (quote x, code(f) ++ k, quote s, st) reaches
(quote y, k, quote s', st), where ``(s', y) = step(f, x, s)``.  With
``k = []`` and ``st = []`` the machine then halts: ``run(compile(f), quote
x, quote s) == (quote s', quote y)``.

**Proof** by structural induction on ``f``; one case per constructor,
decided here.  The code of a constructor is a *template*: fixed
instructions around the codes of its subterms (`template` recovers it from
`cam.compiler.compile` by compiling the constructor applied to placeholder
subterms ``Const(P_F)``, ``Const(P_G)`` and reading their ``QUOTE``\\ s back
as holes).  A hole is run as the induction hypothesis says it behaves:
from accumulator ``x``, register ``s``, any continuation and any stack, it
reaches accumulator ``f(x, s)`` and register ``f_s(x, s)`` (uninterpreted
functions) with the same continuation and stack.  `proofs.machine` runs the
template, followed by the marker ``k``, from a symbolic input of the
constructor's principal input type, a symbolic state and the opaque
caller stack ``st``, splitting where ``BRANCH`` inspects an unknown sum.
The case holds when every path reaches ``k`` with the stack exactly
``st`` again (the stack-discipline lemma for this constructor: nothing of
``st`` is popped, inspected or exchanged, and nothing is left above it)
and with accumulator and register equal, after normalisation, to what
`catlib.symbolic.evaluate` gives for the constructor applied to unknown
stateful morphisms -- the interpreter's rule (``Const`` states its rule,
``(k, s)``, directly, with ``k`` symbolic).

A failing case reports the symbolic difference and, when
`confirm` finds one, a concrete term, input and state on which the real
machine (`cam.machine.run`) and the interpreter disagree.

>>> verify("Par")
Verdict(proved=True, detail='1 path', counterexample=None)
>>> verify("Par", BROKEN["Par swapped"][1]).proved
False
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import sympy

from cam.code import BRANCH, CONS, COPY, FST, ID, INL, INR, PUSH, RETURN, SND, SWAP, Code, Instr, quote, to_text
from cam.code import Int as MInt
from cam.compiler import compile as cam_compile
from cam.machine import MachineError
from cam.machine import run as machine_run
from catlib.equivalence import assignments, concretize, refine
from catlib.examples.generic import add_constant
from catlib.free import FREE, Case, Compose, Const, Consume, Copy, Embed, Fst, Get, Id, Par, Prim, Put, Term
from catlib.interpreter import step
from catlib.symbolic import Unknown, evaluate, fresh, normal, same, show_condition, symbols_of
from catlib.tree import fold
from catlib.typecheck import infer
from catlib.types import Int, ground
from proofs.core import Theorem, Verdict
from proofs.machine import CALLER, Block, Branch, Hole, K, Quote, from_code, run

__all__ = ["CONSTRUCTORS", "P_F", "P_G", "P_K", "template", "fill", "compile_with", "verify", "confirm",
           "BROKEN", "theorems"]

CONSTRUCTORS = ("Id", "Copy", "Consume", "Fst", "Snd", "Inl", "Inr", "Get", "Put", "Add", "Const", "Distr",
                "Compose", "Par", "Case")
"""Every constructor the compiler accepts (all but `Embed`)."""

P_F, P_G, P_K = 7_003_001_001_001_001_001, 7_003_002_002_002_002_002, 7_003_003_003_003_003_003
"""Placeholder constants standing for subterm f, subterm g and the constant of `Const`."""

Compiler = Callable[[Term], Code]
K_SYMBOL = sympy.Symbol("k", integer=True)
_SUBTERMS = {"Compose": ("g", "f"), "Par": ("f", "g"), "Case": ("f", "g")}


def _placeholder(op: str) -> Term:
    return _build(op, Const(P_F), Const(P_G))


def _build(op: str, f: Term, g: Term) -> Term:
    """Constructor `op` with subterms `f` and `g` (where it has them)."""
    if op == "Compose":
        return Compose(g, f)
    if op == "Par":
        return Par(f, g)
    if op == "Case":
        return Case(f, g)
    if op == "Const":
        return Const(P_K)
    return Prim(op)


def template(op: str, compiler: Compiler = cam_compile) -> Block:
    """The code template of constructor `op` under `compiler`, holes for its subterms (``k`` for Const's value)."""
    return from_code(compiler(_placeholder(op)), {P_F: Hole("f"), P_G: Hole("g"), P_K: Quote(K_SYMBOL)})


def fill(block: Block, codes: dict[str, Code], k: int | None = None) -> Code:
    """Real code from a template: holes replaced by `codes`, the symbolic constant by `k`."""
    out: list[Instr] = []
    for item in block:  # templates nest only through BRANCH, a level or two: recursion is bounded
        if isinstance(item, Hole):
            out.extend(codes[item.name])
        elif isinstance(item, Branch):
            out.append(BRANCH(fill(item.left, codes, k), fill(item.right, codes, k)))
        elif isinstance(item, Quote):
            v = item.value
            out.append(Instr("QUOTE", MInt(k) if v == K_SYMBOL else _quote(v)))
        else:
            out.append(Instr(item.name))
    return Code(out)


def _quote(v: Any) -> Any:
    """A constant symbolic value as a machine value."""
    return quote(concretize(v, {}, {}))


def compile_with(templates: dict[str, Block], term: Term) -> Code:
    """Compile `term` by filling `templates` bottom-up (iteratively); equals `cam.compiler.compile` for TEMPLATES."""
    def node(t: Any, kids: list[Code]) -> Code:
        if isinstance(t, Embed):
            raise ValueError("Embed is not compilable")
        return fill(templates[t.op], dict(zip(_SUBTERMS.get(t.op, ()), kids)), t.k if isinstance(t, Const) else None)
    return fold(term, node)  # type: ignore[no-any-return]


def _symbolic_term(op: str) -> Term:
    f = Unknown("f", stateful=True).term("a", "b")
    if op == "Compose":
        return Compose(Unknown("g", stateful=True).term("b", "c"), f)
    if op == "Par":
        return Par(f, Unknown("g", stateful=True).term("c", "d"))
    if op == "Case":
        return Case(Unknown("f", stateful=True).term("a", "c"), Unknown("g", stateful=True).term("b", "c"))
    return _placeholder(op)


def verify(op: str, compiler: Compiler = cam_compile) -> Verdict:
    """Decide the induction case of constructor `op` for `compiler`'s template."""
    code = template(op, compiler)
    term = _symbolic_term(op)
    sig = infer(term)
    x, s = fresh(sig.input, "x"), fresh(sig.state, "s")
    ends = run((*code, K), x, s, (CALLER,))
    for end in ends:
        where = f"when {show_condition(end.condition)}" if end.condition else "always"
        if end.kind != "k":
            return Verdict(False, f"{where}: the code does not reach k: {end.reason or end.kind}",
                           confirm(op, compiler))
        if end.stack != (CALLER,):
            return Verdict(False, f"{where}: reaches k with stack {list(end.stack)} instead of st",
                           confirm(op, compiler))
        expected = ([(end.condition, K_SYMBOL, s)] if op == "Const" else
                    [(c, o, st) for c, o, st in evaluate(term, x, s, end.condition)])
        for c, out, new_state in expected:
            if not (same(end.acc, out, c) and same(end.reg, new_state, c)):
                return Verdict(False, f"{where}: machine gives acc {normal(end.acc, c)}, register "
                               f"{normal(end.reg, c)}; interpreter gives {normal(out, c)}, {normal(new_state, c)}",
                               confirm(op, compiler))
    return Verdict(True, f"{len(ends)} path{'s' if len(ends) != 1 else ''}")


def _pool() -> list[Term]:
    inc = add_constant(FREE, 1)
    tick = Copy >> Par(Id, Consume >> Get >> inc >> Put) >> Fst
    store = Copy >> Par(Consume >> Get, Put) >> Fst
    return [Id, inc, Const(5), tick, store]


def confirm(op: str, compiler: Compiler) -> str | None:
    """A concrete term with constructor `op` at the root on which `compiler`'s code and the interpreter disagree.

    The code is `compiler`'s for the whole term; the machine is
    `cam.machine.run`.  Subterms range over small terms
    ``Int -> Int`` over an ``Int`` state.
    """
    names = _SUBTERMS.get(op, ())
    if op == "Const":
        terms = [Const(5), Const(-1)]
    elif names:
        terms = [_build(op, f, g) for f, g in itertools.product(_pool(), repeat=2)]
    else:
        terms = [Prim(op)]
    for term in terms:
        real = compiler(term)
        sig = infer(term)
        x, s = fresh(ground(sig.input, Int), "x"), fresh(ground(sig.state, Int), "s")
        for c in refine((x, s), {}):
            for values in itertools.islice(assignments(symbols_of(x, s, *c.values())), 4):
                xi, si = concretize(x, c, values), concretize(s, c, values)
                want = step(term, xi, si)
                try:
                    new_state, output = machine_run(real, quote(xi), quote(si))
                    got = f"output {to_text(output)}, state {to_text(new_state)}"
                    ok = (new_state, output) == (quote(want[0]), quote(want[1]))
                except MachineError as e:
                    got, ok = f"{type(e).__name__}: {str(e).splitlines()[0]}", False
                if not ok:
                    return (f"term {term}, input {xi!r}, state {si!r}: machine {got}; "
                            f"interpreter output {want[1]!r}, state {want[0]!r}")
    return None


def _root_only(op: str, change: Callable[[Term], Code]) -> Compiler:
    """A compiler that is `cam.compiler.compile` except at a root of constructor `op`, where it is `change`."""
    def compiler(t: Term) -> Code:
        return change(t) if t.op == op else cam_compile(t)
    return compiler


def _drop_left_return(t: Term) -> Code:
    code = cam_compile(t)
    (branch,) = code
    left, right = branch.kids
    return Code([BRANCH(left[:-1], right)])


def _quote_plus_one(t: Term) -> Code:
    return Code([Instr("QUOTE", MInt(t.k + 1 if t.k < 2**63 - 1 else 0))])  # type: ignore[attr-defined]


def _par_without_last_cons(t: Term) -> Code:
    return cam_compile(t)[:-1]


_DISTR_NO_ROT = Code([PUSH, FST, BRANCH([SWAP, SND, CONS, INL, RETURN], [SWAP, SND, CONS, INR, RETURN])])

BROKEN: dict[str, tuple[str, Compiler]] = {
    "Id as COPY": ("Id", _root_only("Id", lambda t: Code([COPY]))),
    "Copy as ID": ("Copy", _root_only("Copy", lambda t: Code([ID]))),
    "Consume as ID": ("Consume", _root_only("Consume", lambda t: Code([ID]))),
    "Fst as SND": ("Fst", _root_only("Fst", lambda t: Code([SND]))),
    "Snd as FST": ("Snd", _root_only("Snd", lambda t: Code([FST]))),
    "Inl as INR": ("Inl", _root_only("Inl", lambda t: Code([INR]))),
    "Inr as INL": ("Inr", _root_only("Inr", lambda t: Code([INL]))),
    "Get as ID": ("Get", _root_only("Get", lambda t: Code([ID]))),
    "Put as CONSUME": ("Put", _root_only("Put", lambda t: Code([Instr("CONSUME")]))),
    "Add as FST": ("Add", _root_only("Add", lambda t: Code([FST]))),
    "Const off by one": ("Const", _root_only("Const", _quote_plus_one)),
    "Distr without ROT": ("Distr", _root_only("Distr", lambda t: _DISTR_NO_ROT)),
    "Compose in the wrong order": ("Compose", _root_only("Compose", lambda t: cam_compile(Compose(t.f, t.g)))),
    "Par swapped": ("Par", _root_only("Par", lambda t: cam_compile(Par(t.g, t.f)))),
    "Par without its last CONS": ("Par", _root_only("Par", _par_without_last_cons)),
    "Case without RETURN": ("Case", _root_only("Case", _drop_left_return)),
}
"""Deliberately wrong compilers, each wrong for one constructor: name -> (constructor, compiler)."""


def theorems(compiler: Compiler = cam_compile) -> list[Theorem]:
    """One theorem per constructor, for `compiler`."""
    return [Theorem(f"compile {op}: code ; k  ~>  interpreter rule ; k, stack st kept", "compiler",
                    "symbolic CAM, induction hypothesis at holes", lambda op=op: verify(op, compiler))
            for op in CONSTRUCTORS]
