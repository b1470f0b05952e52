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

**Functions as ports.**  ``lam(fn)`` is the function port of the port
function `fn`: `Curry` of its body, which sees its argument and, like a
`kase_with` branch, the ports around it (its source is ``(r, b)``; an
outer port ``q`` becomes ``Compose(q, Fst)``).  Calling a function port,
``f(x)``, is `Apply`; the body's effects happen then, every time:

>>> @sm
... def twice_then(p):                     # input (Int, Int): add the first to the second, twice
...     k, x = p
...     add_k = lam(lambda y: y + k)
...     return add_k(add_k(x))
>>> str(infer(twice_then))
'a / (Int, Int) -> Int'
>>> step(twice_then, (5, 1), ())
((), 11)

A function port is a port like any other: it can be kept in the state
(`pput`), taken as an input and returned (`catlib.examples.pricing`).

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

from collections.abc import Callable
from typing import overload

from catlib.free import Case, Compose, Copy, Curry, Distr, Fst, Id, Par, Snd
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
    "seq", "dot", "eq", "pdivmod", "lam", "closure", "apply",
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


def lam(fn: PortFn) -> Port:
    """The function port of `fn` (a Python function from ports to ports): ``Curry(body)``.

    The body's source is ``(r, b)``, with ``r`` the source of the enclosing
    `sm` (or branch) and ``b`` the argument: `fn` gets the port ``Snd``, and
    a port ``q`` from around the ``lam`` used inside becomes ``Compose(q,
    Fst)`` (evaluated by name, as every port, when the function is applied).

    >>> sm(lambda p: lam(lambda y: y + p))
    Curry(Compose(Add, Compose(Par(Snd, Compose(Id, Fst)), Copy)))
    >>> lam(lambda y: y)
    Traceback (most recent call last):
      ...
    catlib.scopes.ScopeError: lam needs an enclosing sm/decode: the function's body sees that machine's source
    """
    if isinstance(fn, Port):
        raise TypeError("lam takes a Python function from ports to ports, not a port; a port of a function "
                        "type is applied with f(x) or apply(f, x)")
    env = innermost_running(None)
    if env is None:
        raise ScopeError("lam needs an enclosing sm/decode: the function's body sees that machine's source")
    body = Scope("lam body", parent=env, lift=Fst)
    t = run_port_fn(fn, body, Port(Snd, body), "lam")
    return Port(Curry(t), env)


def closure(fn: Callable[[Port, Port], Port], p: Port) -> Port:
    """The function port closing over the *value* of `p`: ``Compose(Curry(body), p)``.

    `fn` gets two ports, the captured value and the argument, in a scope of
    its own (like a `kase` branch it sees no outer ports).  Unlike `lam`,
    whose body re-runs the outer ports it uses every time it is applied
    (effects included), `p` runs once, when the closure is built: a closure
    kept in the state should capture what it needs this way, since a
    closure that reads the state cannot be kept there (`cam.verifier`).

    >>> sm(lambda p: closure(lambda k, y: y + k, p))
    Compose(Curry(Compose(Add, Compose(Par(Compose(Snd, Id), Compose(Fst, Id)), Copy))), Id)
    """
    p = as_port(p, "closure's captured port")
    if not callable(fn):
        raise TypeError(f"closure needs a function of two ports (captured value, argument), not {fn!r}")
    body = Scope("closure body")
    t = run_port_fn(lambda q: fn(q[0], q[1]), body, Port(Id, body), "closure")
    return encode(Curry(t), p)


def apply(f: Port, x: Port | int) -> Port:
    """The port of `f` applied to `x`: ``Compose(Apply, pair(f, x))``; ``f(x)`` does the same.

    >>> apply(Port(Fst), Port(Snd)).term
    Compose(Apply, Compose(Par(Fst, Snd), Copy))
    """
    f = as_port(f, "apply's function port")
    if not isinstance(x, (Port, int)) or type(x) is bool:
        as_port(x, "apply's argument")
    return f(x)
