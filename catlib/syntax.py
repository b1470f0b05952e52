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

import functools
from collections.abc import Callable, Iterator
from typing import overload

from catlib.free import (
    Add,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
    Distr,
    DivMod,
    Eq,
    Fst,
    Get,
    Id,
    Inl,
    Inr,
    Lt,
    Mul,
    Par,
    Put,
    Snd,
    Sub,
    Term,
)
from catlib.scopes import Scope, ScopeError, innermost_running, into_scope, join_scopes, running
from catlib.values import INT_MIN

__all__ = [
    "Port", "Scope", "ScopeError", "sm", "decode", "encode", "box", "pair", "unit", "pfst", "psnd", "split",
    "void", "konst", "pget", "pput", "pmodify", "kadd", "padd", "plus", "inl", "inr", "kase", "kase_with",
    "seq", "dot", "eq", "pdivmod",
]

PortFn = Callable[["Port"], "Port"]


class Port:
    """A port: `term` from the hidden source of `scope` (``None``: any source) to the port's type.

    Ports are immutable.  They do not compare (``==``) or test as booleans:
    ``if p == 0`` cannot mean anything at construction time (use `kase`).
    """

    __slots__ = ("term", "scope")
    term: Term
    scope: Scope | None

    def __init__(self, term: Term, scope: Scope | None = None) -> None:
        if not isinstance(term, Term):
            raise TypeError(f"a port holds a Term, not {type(term).__name__}: {term!r}")
        object.__setattr__(self, "term", term)
        object.__setattr__(self, "scope", scope)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ports are immutable")

    def __repr__(self) -> str:
        where = "" if self.scope is None else f", {self.scope!r}"
        return f"Port({self.term!r}{where})"

    def __bool__(self) -> bool:
        raise TypeError("a port has no truth value while the machine is being built; branch with kase()")

    def __eq__(self, other: object) -> bool:
        # ``p == 0`` would quietly be False and pick a branch at build time
        raise TypeError("ports cannot be compared with == while the machine is being built; eq(p, q) is the "
                        "port that compares them (branch on it with kase); compare .term to compare the terms")

    __hash__ = object.__hash__

    def __iter__(self) -> Iterator[Port]:
        """``a, b = p`` is ``split(p)``."""
        return iter(split(self))

    def __getitem__(self, i: int) -> Port:
        """``p[0]`` is ``pfst(p)``, ``p[1]`` is ``psnd(p)``."""
        if i == 0:
            return pfst(self)
        if i == 1:
            return psnd(self)
        raise IndexError(f"a pair port has components 0 and 1, not {i!r}")

    def __add__(self, other: Port | int) -> Port:
        """``p + q`` is ``plus(p, q)``; ``p + k`` is ``padd(k, p)``."""
        if isinstance(other, Port):
            return plus(self, other)
        if type(other) is int:
            return padd(other, self)
        return NotImplemented

    def __radd__(self, other: int) -> Port:
        """``k + p`` is ``padd(k, p)``."""
        if type(other) is int:
            return padd(other, self)
        return NotImplemented

    def __sub__(self, other: Port | int) -> Port:
        """``p - q`` is `Sub` of the pair; ``p - k`` is ``padd(-k, p)`` (the counter's code, unchanged)."""
        if type(other) is int and other != INT_MIN:
            return padd(-other, self)
        return _binary(Sub, self, other)

    def __rsub__(self, other: int) -> Port:
        return _binary(Sub, other, self)

    def __neg__(self) -> Port:
        """``-p`` is ``0 - p``."""
        return _binary(Sub, 0, self)

    def __mul__(self, other: Port | int) -> Port:
        """``p * q``: `Mul`, wrapping at 64 bits."""
        return _binary(Mul, self, other)

    __rmul__ = __mul__

    def __lt__(self, other: Port | int) -> Port:
        """``p < q``: a port of ``Either () ()``, ``Left ()`` when it holds (branch on it with `kase`)."""
        return _binary(Lt, self, other)

    def __gt__(self, other: Port | int) -> Port:
        return _binary(Lt, other, self)

    def __le__(self, other: Port | int) -> Port:
        """``p <= q`` is ``not (q < p)``."""
        return encode(Case(Inr, Inl), _binary(Lt, other, self))

    def __ge__(self, other: Port | int) -> Port:
        return encode(Case(Inr, Inl), _binary(Lt, self, other))

    def __rshift__(self, other: Port) -> Port:
        """``x >> y`` is ``seq(x, y)``: run `x` for its effects, answer `y`."""
        if isinstance(other, Port):
            return seq(self, other)
        return NotImplemented


def _binary(prim: Term, p: Port | int, q: Port | int) -> Port:
    """`prim` on the pair of `p` and `q`; an int stands for a constant port."""
    if not isinstance(p, Port | int) or not isinstance(q, Port | int) or type(p) is bool or type(q) is bool:
        raise TypeError(f"{prim.op} needs integer ports or ints, not {p!r} and {q!r}")
    if not isinstance(p, Port):
        p = konst(p, q)  # type: ignore[arg-type]
    if not isinstance(q, Port):
        q = konst(q, p)
    return encode(prim, pair(p, q))


def eq(p: Port | int, q: Port | int) -> Port:
    """``Left ()`` when the integer ports are equal (``p == q`` cannot mean this: it would be a bool).

    >>> eq(Port(Fst), 0).term
    Compose(Eq, Compose(Par(Fst, Compose(Const(0), Fst)), Copy))
    """
    return _binary(Eq, p, q)


def pdivmod(p: Port | int, q: Port | int) -> Port:
    """``Left ()`` when `q` is 0, else ``Right`` of quotient and remainder (rounding down): `DivMod`."""
    return _binary(DivMod, p, q)


def _port(x: object, role: str) -> Port:
    if not isinstance(x, Port):
        hint = " (a Term must be applied with encode(term, port))" if isinstance(x, Term) else ""
        raise TypeError(f"{role} must be a Port, not {type(x).__name__}: {x!r}{hint}")
    return x


def _join(*ports: Port) -> tuple[Scope | None, list[Term]]:
    """The innermost scope of `ports` and their terms re-expressed from its source (`join_scopes`)."""
    return join_scopes([(p.term, p.scope) for p in ports])


def _into(p: Port, scope: Scope | None) -> Term:
    """`p`'s term re-expressed from `scope`'s source (`ScopeError` if it does not belong there)."""
    return into_scope(p.term, p.scope, scope)


def _run(fn: PortFn, scope: Scope, arg: Port, what: str) -> Term:
    """Apply `fn` to `arg` inside `scope`, check the result belongs there, and take its term out."""
    if not callable(fn):
        raise TypeError(f"{what} needs a function from ports to ports, not {fn!r}")
    with running(scope):
        out = fn(arg)
    return _into(_port(out, f"the result of {what}'s function {getattr(fn, '__name__', fn)!r}"), scope)


def decode(fn: PortFn) -> Term:
    """The term of the port function `fn`: ``fn`` applied to the identity port, taken out.

    Escot's ``decode``, inverse of `encode`: ``decode(lambda p: encode(f, p)) == Compose(f, Id)``.

    >>> decode(lambda p: encode(Fst, p))
    Compose(Fst, Id)
    """
    scope = Scope(f"decode({getattr(fn, '__name__', 'fn')})")
    return _run(fn, scope, Port(Id, scope), "decode")


def sm(fn: PortFn) -> Term:
    """The state machine written by `fn`: the term inside ``fn(port(Id))`` (same as `decode`).

    Usable as a decorator: ``@sm def machine(p): ...`` binds the term.

    >>> sm(lambda p: pget(void(p)))
    Compose(Get, Compose(Consume, Id))
    """
    scope = Scope(f"sm({getattr(fn, '__name__', 'fn')})")
    return _run(fn, scope, Port(Id, scope), "sm")


@overload
def encode(f: Term) -> PortFn: ...
@overload
def encode(f: Term, p: Port) -> Port: ...
def encode(f: Term, p: Port | None = None) -> Port | PortFn:
    """Apply the term `f` to the port `p`: ``Compose(f, p)``.  ``encode(f)`` is a port function.

    >>> encode(Snd, Port(Id))
    Port(Compose(Snd, Id))
    """
    if not isinstance(f, Term):
        raise TypeError(f"encode applies a Term, not {type(f).__name__}: {f!r}")
    if p is None:
        return lambda q: encode(f, q)
    p = _port(p, "encode's port")
    return Port(Compose(f, p.term), p.scope)


@overload
def box(fn: PortFn) -> PortFn: ...
@overload
def box(fn: PortFn, p: Port) -> Port: ...
def box(fn: PortFn, p: Port | None = None) -> Port | PortFn:
    """`fn` built once as a term in its own scope and applied to `p` once: ``encode(decode(fn), p)``.

    Escot's ``box``: the sub-machine is one closed box.  Unlike ``fn(p)``,
    which substitutes `p`'s term at every use, `p` runs once, so its
    effects are not repeated:

    >>> twice = lambda x: x + x
    >>> twice(pget(unit)).term
    Compose(Add, Compose(Par(Compose(Get, Consume), Compose(Get, Consume)), Copy))
    >>> box(twice, pget(unit)).term
    Compose(Compose(Add, Compose(Par(Id, Id), Copy)), Compose(Get, Consume))
    """
    if p is None:
        return lambda q: box(fn, q)
    return encode(decode(fn), _port(p, "box's port"))


def pair(p: Port, q: Port) -> Port:
    """The port of ``(p, q)``: ``p &&& q`` = ``Compose(Par(p, q), Copy)``.

    >>> pair(Port(Fst), Port(Snd))
    Port(Compose(Par(Fst, Snd), Copy))
    """
    scope, (tp, tq) = _join(_port(p, "pair's first port"), _port(q, "pair's second port"))
    return Port(Compose(Par(tp, tq), Copy), scope)


unit = Port(Consume)
"""The port of ``()``: the term `Consume`, valid in every scope."""


def pfst(p: Port) -> Port:
    """``Compose(Fst, p)``.

    >>> pfst(Port(Id))
    Port(Compose(Fst, Id))
    """
    return encode(Fst, _port(p, "pfst's port"))


def psnd(p: Port) -> Port:
    """``Compose(Snd, p)``.

    >>> psnd(Port(Id))
    Port(Compose(Snd, Id))
    """
    return encode(Snd, _port(p, "psnd's port"))


def split(p: Port) -> tuple[Port, Port]:
    """``(pfst(p), psnd(p))``; ``a, b = p`` does the same.

    >>> a, b = Port(Id)
    >>> (a.term, b.term) == tuple(x.term for x in split(Port(Id)))
    True
    """
    return pfst(p), psnd(p)


def void(p: Port) -> Port:
    """``Compose(Consume, p)``: `p`'s effects, answering ``()``.

    >>> void(Port(Get))
    Port(Compose(Consume, Get))
    """
    return encode(Consume, _port(p, "void's port"))


@overload
def konst(k: int) -> PortFn: ...
@overload
def konst(k: int, p: Port) -> Port: ...
def konst(k: int, p: Port | None = None) -> Port | PortFn:
    """``Compose(Const(k), p)``: the integer `k` (after `p`'s effects).

    >>> konst(0, unit)
    Port(Compose(Const(0), Consume))
    """
    c = Const(k)
    return encode(c) if p is None else encode(c, _port(p, "konst's port"))


def pget(p: Port) -> Port:
    """``Compose(Get, p)``: read the state (`p` is a port of ``()``).

    >>> pget(unit)
    Port(Compose(Get, Consume))
    """
    return encode(Get, _port(p, "pget's port"))


def pput(p: Port) -> Port:
    """``Compose(Put, p)``: replace the state by `p`, answering ``()``.

    >>> pput(Port(Id))
    Port(Compose(Put, Id))
    """
    return encode(Put, _port(p, "pput's port"))


@overload
def pmodify(f: Term | PortFn) -> PortFn: ...
@overload
def pmodify(f: Term | PortFn, p: Port) -> Port: ...
def pmodify(f: Term | PortFn, p: Port | None = None) -> Port | PortFn:
    """``Compose(Compose(Compose(Put, f), Get), p)``: apply `f` to the state, answering ``()``.

    `f` is a term ``s -> s``, or a port function (then ``decode(f)`` is used).

    >>> pmodify(Fst, unit)
    Port(Compose(Compose(Compose(Put, Fst), Get), Consume))
    """
    if p is None:
        return lambda q: pmodify(f, q)
    t = f if isinstance(f, Term) else decode(f)
    return encode(Compose(Compose(Put, t), Get), _port(p, "pmodify's port"))


@functools.lru_cache(maxsize=1024, typed=True)
def kadd(k: int) -> Term:
    """The term ``Int -> Int`` adding `k`: ``Compose(Add, Compose(Par(Const(k), Id), Copy))``.

    Terms are immutable, so one copy per `k` is shared (``p + 1`` in a loop
    builds one node per step, not six).

    >>> kadd(1)
    Compose(Add, Compose(Par(Const(1), Id), Copy))
    """
    return Compose(Add, Compose(Par(Const(k), Id), Copy))


@overload
def padd(k: int) -> PortFn: ...
@overload
def padd(k: int, p: Port) -> Port: ...
def padd(k: int, p: Port | None = None) -> Port | PortFn:
    """``Compose(kadd(k), p)``; ``p + k``, ``k + p`` and ``p - k`` (as ``padd(-k, p)``) do the same.

    >>> (Port(Id) + 1).term == padd(1, Port(Id)).term == Compose(kadd(1), Id)
    True
    """
    return encode(kadd(k)) if p is None else encode(kadd(k), _port(p, "padd's port"))


def plus(p: Port, q: Port) -> Port:
    """The sum of two integer ports, ``Compose(Add, pair(p, q))``; ``p + q`` does the same.

    >>> (Port(Fst) + Port(Snd)).term
    Compose(Add, Compose(Par(Fst, Snd), Copy))
    """
    return encode(Add, pair(p, q))


def inl(p: Port) -> Port:
    """``Compose(Inl, p)``.

    >>> inl(unit)
    Port(Compose(Inl, Consume))
    """
    return encode(Inl, _port(p, "inl's port"))


def inr(p: Port) -> Port:
    """``Compose(Inr, p)``.

    >>> inr(unit)
    Port(Compose(Inr, Consume))
    """
    return encode(Inr, _port(p, "inr's port"))


def seq(x: Port, y: Port) -> Port:
    """``x >> y`` = ``psnd(pair(x, y))``: `x`'s effects first, then `y`'s value.

    >>> (pput(Port(Id)) >> pget(unit)).term
    Compose(Snd, Compose(Par(Compose(Put, Id), Compose(Get, Consume)), Copy))
    """
    return psnd(pair(x, y))


def dot(*fns: PortFn) -> PortFn:
    """Compose port functions right to left, like Haskell's ``.``: ``dot(f, g)(p) == f(g(p))``.

    >>> dot(inl, pget)(unit).term
    Compose(Inl, Compose(Get, Consume))
    """
    def composed(p: Port) -> Port:
        for fn in reversed(fns):
            p = fn(p)
        return p
    return composed


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
    p = _port(p, "kase's port")
    sf, sg = Scope("kase left branch"), Scope("kase right branch")
    tf = _run(f, sf, Port(Id, sf), "kase's left branch")
    tg = _run(g, sg, Port(Id, sg), "kase's right branch")
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
    p = _port(p, "kase_with's port")
    # the branches see the innermost scope being built (p may come from an enclosing one)
    env = innermost_running(p.scope)
    if env is None:
        raise ScopeError("kase_with needs an enclosing sm/decode: the branches see that machine's source")
    tp = _into(p, env)
    sf = Scope("kase_with left branch", parent=env, lift=Snd)
    sg = Scope("kase_with right branch", parent=env, lift=Snd)
    tf = _run(f, sf, Port(Fst, sf), "kase_with's left branch")
    tg = _run(g, sg, Port(Fst, sg), "kase_with's right branch")
    return Port(Compose(Case(tf, tg), Compose(Distr, Compose(Par(tp, Id), Copy))), env)
