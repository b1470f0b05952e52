"""Write state machines with *ports* ("overloading the lambda").

A port of type ``a`` is a term from a hidden source object ``r`` to ``a``.
A machine is a Python function from ports to ports; `sm` applies it to the
identity port and takes the term out.  Each combinator builds exactly the
reference's term (``docs/reference.md``, "The port syntax"):

>>> from catlib.typecheck import infer
>>> bump = sm(lambda p: inl(pmodify(kadd(1), p)))
>>> bump
Compose(Inl, Compose(Compose(Compose(Put, Compose(Add, Compose(Par(Const(1), Id), Copy))), Get), Id))
>>> str(infer(bump))
'Int / () -> Either () a'

The seed's counter in full (`catlib.examples.counter`), with ``kase`` for
``Either`` inputs and tuple unpacking for pairs:

>>> @sm
... def counter2(p):
...     def incr(l):
...         old, new = pget(l)             # split: pfst / psnd of the state
...         return inl(pput(pair(old, new + 1)))
...     return kase(incr, lambda g: inr(psnd(pget(g))), p)
>>> str(infer(counter2))
'(a, Int) / Either () () -> Either () Int'

**Evaluation is by name.**  A port is a term, so every use of a port runs
its term again from the source, effects (`pget`, `pput`) included: above,
``old`` and ``new`` each read the state.  `box` builds a sub-machine once
and applies it to a port once, when that matters.

**Scopes.**  Every `sm`, `decode` and `kase` branch makes a new scope, and
each port remembers the scope it was made in (`unit` and ports built only
from it belong to none: their term works from any source).  Ports of
unrelated scopes never meet silently: combining them, or returning a port
from the wrong scope, raises `ScopeError`.

**Branches that see outer ports** (the seed's "kase'", which it calls
impossible): `kase_with(f, g, p)` gives each branch a port of its
alternative's value paired with the enclosing source, ``(a, r)``, through
the primitive `catlib.free.Distr` ``(Either a b, c) -> Either (a, c) (b, c)``;
a port from an enclosing scope used inside a branch is re-expressed as
``Compose(port, Snd)``:

>>> @sm
... def add_or_keep(p):                    # input (Either Int (), Int)
...     cmd, x = p
...     return kase_with(lambda n: n + x, lambda _: x, cmd)
>>> str(infer(add_or_keep))
'a / (Either Int b, Int) -> Int'
>>> from catlib.interpreter import step
>>> from catlib.values import Left, Right
>>> step(add_or_keep, (Left(2), 40), ()), step(add_or_keep, (Right(()), 40), ())
(((), 42), ((), 40))

The plain `kase` keeps the reference's term and rejects outer ports, with a
pointer to `kase_with`.

`decode` and `box` come from Escot's post (the reference has no table
entry for them): ``decode(fn)`` is the term of a port function (what `sm`
does), the inverse of `encode`; ``box(fn, p)`` is ``encode(decode(fn), p)``,
a sub-machine built once in its own scope and applied to `p` once.

Python sugar, each building the same term as the combinator it stands for:
``a, b = p`` (`split`), ``p[0]``/``p[1]`` (`pfst`/`psnd`), ``p + q``
(`plus`), ``p + k``/``k + p``/``p - k`` (`padd`), ``x >> y`` (sequencing),
``@sm`` as a decorator, and the curried forms ``pmodify(f)``, ``padd(k)``,
``kase(f, g)`` ... which return port functions, with `dot` for Haskell's
``.`` (so the seed's ``inl . pmodify (kadd 1)`` is
``dot(inl, pmodify(kadd(1)))``).
"""

from __future__ import annotations

from typing import overload

from catlib.free import Case, Compose, Copy, Distr, Fst, Id, Par, Snd
from catlib.ports import (
    Port,
    PortFn,
    as_port,
    box,
    decode,
    dot,
    encode,
    eq,
    inl,
    inr,
    kadd,
    konst,
    padd,
    pair,
    pdivmod,
    pfst,
    pget,
    plus,
    pmodify,
    port_into,
    pput,
    psnd,
    run_port_fn,
    seq,
    sm,
    split,
    unit,
    void,
)
from catlib.scopes import Scope, ScopeError, innermost_running

__all__ = [
    "Port", "Scope", "ScopeError", "sm", "decode", "encode", "box", "pair", "unit", "pfst", "psnd", "split",
    "void", "konst", "pget", "pput", "pmodify", "kadd", "padd", "plus", "inl", "inr", "kase", "kase_with",
    "seq", "dot", "eq", "pdivmod",
]


@overload
def kase(f: PortFn, g: PortFn) -> PortFn: ...
@overload
def kase(f: PortFn, g: PortFn, p: Port) -> Port: ...
def kase(f: PortFn, g: PortFn, p: Port | None = None) -> Port | PortFn:
    """Branch on a port of ``Either a b``: ``Compose(Case(sm(f), sm(g)), p)``.

    Each branch gets a fresh port of its alternative's value, in a scope of
    its own: it cannot see ports from outside (`ScopeError`; see
    `kase_with`).  ``kase(f, g)`` is a port function, as in the seed's
    ``sm (kase incr get)``.

    >>> kase(lambda l: inr(l), lambda r: inl(r), Port(Id)).term
    Compose(Case(Compose(Inr, Id), Compose(Inl, Id)), Id)
    >>> sm(lambda p: kase(lambda l: p, inr, p))
    Traceback (most recent call last):
      ...
    catlib.scopes.ScopeError: a port of <scope ...: sm(<lambda>)> is used in <scope ...: kase left branch> ...
    """
    if p is None:
        return lambda q: kase(f, g, q)
    p = as_port(p, "kase's port")
    sf, sg = Scope("kase left branch"), Scope("kase right branch")
    tf = run_port_fn(f, sf, Port(Id, sf), "kase's left branch")
    tg = run_port_fn(g, sg, Port(Id, sg), "kase's right branch")
    return Port(Compose(Case(tf, tg), p.term), p.scope)


@overload
def kase_with(f: PortFn, g: PortFn) -> PortFn: ...
@overload
def kase_with(f: PortFn, g: PortFn, p: Port) -> Port: ...
def kase_with(f: PortFn, g: PortFn, p: Port | None = None) -> Port | PortFn:
    """The seed's "kase'": branch on `p`, and let the branches use ports from outside.

    With ``r`` the source of the enclosing scope, the term is
    ``Compose(Case(F, G), Compose(Distr, pair(p, Id)))``: the sum is paired
    with the whole source, `Distr` moves the source into the alternative,
    and each branch works from ``(a, r)``: its own port is ``Fst``, and an
    outer port ``q`` used inside becomes ``Compose(q, Snd)`` (evaluated by
    name, like every port: its effects run again inside the branch).

    >>> sm(lambda p: kase_with(lambda l: p[1], lambda r: r, p[0]))
    Compose(Case(Compose(Compose(Snd, Id), Snd), Fst),
            Compose(Distr, Compose(Par(Compose(Fst, Id), Id), Copy)))
    """
    if p is None:
        return lambda q: kase_with(f, g, q)
    p = as_port(p, "kase_with's port")
    # the branches see the innermost scope being built (p may come from an enclosing one)
    env = innermost_running(p.scope)
    if env is None:
        raise ScopeError("kase_with needs an enclosing sm/decode: the branches see that machine's source")
    tp = port_into(p, env)
    sf = Scope("kase_with left branch", parent=env, lift=Snd)
    sg = Scope("kase_with right branch", parent=env, lift=Snd)
    tf = run_port_fn(f, sf, Port(Fst, sf), "kase_with's left branch")
    tg = run_port_fn(g, sg, Port(Fst, sg), "kase_with's right branch")
    return Port(Compose(Case(tf, tg), Compose(Distr, Compose(Par(tp, Id), Copy))), env)
