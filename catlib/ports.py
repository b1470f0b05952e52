"""Ports and their combinators: the building blocks of the port syntax (`catlib.syntax`).

A `Port` is a term from a hidden source to a value, with the scope it was
made in.  Everything here builds exactly the reference's terms; branching
(`kase`, `kase_with`) and functions over ports (`lam`, `apply`) are in
`catlib.syntax`, which re-exports this module and documents the syntax as
a whole.

>>> (Port(Fst) + Port(Snd)).term
Compose(Add, Compose(Par(Fst, Snd), Copy))
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import overload

from catlib.free import (
    Add,
    Apply,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
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
from catlib.origin import record
from catlib.scopes import Scope, into_scope, join_scopes, running
from catlib.values import INT_MIN

__all__ = [
    "Port", "PortFn", "sm", "decode", "encode", "box", "pair", "unit", "pfst", "psnd", "split",
    "void", "konst", "pget", "pput", "pmodify", "kadd", "padd", "plus", "inl", "inr",
    "seq", "dot", "eq", "pdivmod", "as_port", "join_ports", "port_into", "run_port_fn",
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
        record(term)  # the user's line that built it, for type errors (catlib.origin)

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

    def __call__(self, arg: Port | int) -> Port:
        """``f(x)`` for a port `f` of a function type: `Apply` on ``pair(f, x)`` (`catlib.syntax.apply`)."""
        if isinstance(arg, Port):
            return encode(Apply, pair(self, arg))
        if type(arg) is int:
            return encode(Apply, pair(self, konst(arg, self)))
        raise TypeError(f"a function port is applied to a port (or an int), not {type(arg).__name__}: {arg!r}"
                        + _hint(arg))

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


def _hint(x: object) -> str:
    if isinstance(x, Term):
        return " (a Term must be applied with encode(term, port))"
    if callable(x):
        return " (a Python function of ports becomes a function port with lam(fn), inside sm)"
    return ""


def as_port(x: object, role: str) -> Port:
    """`x` if it is a port, else a `TypeError` naming `role` (with a hint for terms and Python functions)."""
    if not isinstance(x, Port):
        raise TypeError(f"{role} must be a Port, not {type(x).__name__}: {x!r}{_hint(x)}")
    return x


def join_ports(*ports: Port) -> tuple[Scope | None, list[Term]]:
    """The innermost scope of `ports` and their terms re-expressed from its source (`join_scopes`)."""
    return join_scopes([(p.term, p.scope) for p in ports])


def port_into(p: Port, scope: Scope | None) -> Term:
    """`p`'s term re-expressed from `scope`'s source (`ScopeError` if it does not belong there)."""
    return into_scope(p.term, p.scope, scope)


def run_port_fn(fn: PortFn, scope: Scope, arg: Port, what: str) -> Term:
    """Apply `fn` to `arg` inside `scope`, check the result belongs there, and take its term out."""
    if not callable(fn):
        raise TypeError(f"{what} needs a function from ports to ports, not {fn!r}")
    with running(scope):
        out = fn(arg)
    return port_into(as_port(out, f"the result of {what}'s function {getattr(fn, '__name__', fn)!r}"), scope)


def decode(fn: PortFn) -> Term:
    """The term of the port function `fn`: ``fn`` applied to the identity port, taken out.

    Escot's ``decode``, inverse of `encode`: ``decode(lambda p: encode(f, p)) == Compose(f, Id)``.

    >>> decode(lambda p: encode(Fst, p))
    Compose(Fst, Id)
    """
    scope = Scope(f"decode({getattr(fn, '__name__', 'fn')})")
    return run_port_fn(fn, scope, Port(Id, scope), "decode")


def sm(fn: PortFn) -> Term:
    """The state machine written by `fn`: the term inside ``fn(port(Id))`` (same as `decode`).

    Usable as a decorator: ``@sm def machine(p): ...`` binds the term.

    >>> sm(lambda p: pget(void(p)))
    Compose(Get, Compose(Consume, Id))
    """
    scope = Scope(f"sm({getattr(fn, '__name__', 'fn')})")
    return run_port_fn(fn, scope, Port(Id, scope), "sm")


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
    p = as_port(p, "encode's port")
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
    return encode(decode(fn), as_port(p, "box's port"))


def pair(p: Port, q: Port) -> Port:
    """The port of ``(p, q)``: ``p &&& q`` = ``Compose(Par(p, q), Copy)``.

    >>> pair(Port(Fst), Port(Snd))
    Port(Compose(Par(Fst, Snd), Copy))
    """
    scope, (tp, tq) = join_ports(as_port(p, "pair's first port"), as_port(q, "pair's second port"))
    return Port(Compose(Par(tp, tq), Copy), scope)


unit = Port(Consume)
"""The port of ``()``: the term `Consume`, valid in every scope."""


def pfst(p: Port) -> Port:
    """``Compose(Fst, p)``.

    >>> pfst(Port(Id))
    Port(Compose(Fst, Id))
    """
    return encode(Fst, as_port(p, "pfst's port"))


def psnd(p: Port) -> Port:
    """``Compose(Snd, p)``.

    >>> psnd(Port(Id))
    Port(Compose(Snd, Id))
    """
    return encode(Snd, as_port(p, "psnd's port"))


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
    return encode(Consume, as_port(p, "void's port"))


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
    return encode(c) if p is None else encode(c, as_port(p, "konst's port"))


def pget(p: Port) -> Port:
    """``Compose(Get, p)``: read the state (`p` is a port of ``()``).

    >>> pget(unit)
    Port(Compose(Get, Consume))
    """
    return encode(Get, as_port(p, "pget's port"))


def pput(p: Port) -> Port:
    """``Compose(Put, p)``: replace the state by `p`, answering ``()``.

    >>> pput(Port(Id))
    Port(Compose(Put, Id))
    """
    return encode(Put, as_port(p, "pput's port"))


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
    return encode(Compose(Compose(Put, t), Get), as_port(p, "pmodify's port"))


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
    return encode(kadd(k)) if p is None else encode(kadd(k), as_port(p, "padd's port"))


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
    return encode(Inl, as_port(p, "inl's port"))


def inr(p: Port) -> Port:
    """``Compose(Inr, p)``.

    >>> inr(unit)
    Port(Compose(Inr, Consume))
    """
    return encode(Inr, as_port(p, "inr's port"))


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
