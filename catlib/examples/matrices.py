"""Integer matrices: a typed instance where products and sums coincide.

A morphism ``a -> b`` is an integer matrix with ``dim(b)`` rows and
``dim(a)`` columns, composition is the matrix product.  Types are read as
dimensions: ``dim(()) = 0``, ``dim(Int) = 1``, and both ``(a, b)`` and
``Either a b`` have dimension ``dim(a) + dim(b)``: in the category of
matrices the direct sum is at once the product and the coproduct (a
*biproduct*), and the zero space is terminal and initial.

>>> M = Matrices()
>>> from catlib.free import Copy, Fst, Par, Snd
>>> from catlib.functor import interpret
>>> interpret(Copy >> Par(Snd, Fst), M, signature=(None, "(Int, Int)", None))
Matrix(((0, 1), (1, 0)))
>>> M.case(Matrix(((1,),)), Matrix(((2,),)))  # [f g] : Either Int Int -> Int
Matrix(((1, 2),))

**Structure.**  Matrices are `Cartesian` (``copy`` is ``[I; I]``,
``consume`` the empty matrix, ``fst`` is ``[I 0]``, ``par`` is block
diagonal) and `Cocartesian` (``inl`` is ``[I; 0]``, ``case(f, g)`` is
``[f g]``), and every law of those structures holds for every matrix,
including the ones that fail with effects: linear maps are "pure".  They
are *not* `Distributive`: ``(Either a b, c)`` has dimension ``a + b + c``
and ``Either (a, c) (b, c)`` has ``a + b + 2c``, so no ``distr`` is an
isomorphism (a biproduct category is distributive only when trivial).
Nor `Arithmetic`: a constant map is not linear (``add`` alone would be
``[1 1]``), nor `Stateful`.  `catlib.laws.check_instance` therefore checks
the category, cartesian and cocartesian laws and reports the others as not
applicable.  Random morphisms are native (`random_morphism`): free terms
need constants, which matrices lack.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catlib.cartesian import Cartesian, Cocartesian, Obj
from catlib.types import Int, Prod, Sum, Type, Unit

__all__ = ["Matrix", "Matrices", "dim"]


@dataclass(frozen=True)
class Matrix:
    """An integer matrix, a tuple of rows, with its shape (an empty matrix still has a shape)."""

    rows: tuple[tuple[int, ...], ...]
    width: int = -1

    def __post_init__(self) -> None:
        width = len(self.rows[0]) if self.rows else max(self.width, 0)
        if any(len(r) != width for r in self.rows):
            raise ValueError(f"rows of different lengths: {self.rows}")
        object.__setattr__(self, "width", width)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns): ``(dim(cod), dim(dom))``."""
        return len(self.rows), self.width

    def __repr__(self) -> str:
        return f"Matrix({self.rows!r})" if self.rows else f"Matrix((), width={self.width})"


def dim(t: Obj) -> int:
    """The dimension a ground type stands for."""
    if t is None:
        raise TypeError("Matrices is a typed instance: interpret terms with catlib.functor.interpret")
    out, todo = 0, [t]
    while todo:
        x = todo.pop()
        if x == Int:
            out += 1
        elif isinstance(x, (Prod, Sum)):
            todo += x.kids
        elif x != Unit:
            raise TypeError(f"no dimension for {x}")
    return out


def _block(rows: int, cols: int, placed: list[tuple[int, int, Matrix]]) -> Matrix:
    """A ``rows x cols`` zero matrix with each `Matrix` added at its (row, column) offset."""
    m = [[0] * cols for _ in range(rows)]
    for r0, c0, b in placed:
        for i, row in enumerate(b.rows):
            for j, x in enumerate(row):
                m[r0 + i][c0 + j] += x
    return Matrix(tuple(map(tuple, m)), cols)


def identity(n: int) -> Matrix:
    return Matrix(tuple(tuple(int(i == j) for j in range(n)) for i in range(n)), n)


class Matrices(Cartesian[Matrix], Cocartesian[Matrix]):
    """The category of integer matrices (see the module docstring)."""

    typed = True

    def id(self, a: Obj = None) -> Matrix:
        return identity(dim(a))

    def compose(self, g: Matrix, f: Matrix) -> Matrix:
        (p, q), (r, s) = g.shape, f.shape
        if q != r:
            raise ValueError(f"cannot compose a {p}x{q} matrix after a {r}x{s} one")
        return Matrix(tuple(tuple(sum(g.rows[i][k] * f.rows[k][j] for k in range(q)) for j in range(s))
                            for i in range(p)), s)

    def copy(self, a: Obj = None) -> Matrix:
        n = dim(a)
        return _block(2 * n, n, [(0, 0, identity(n)), (n, 0, identity(n))])

    def consume(self, a: Obj = None) -> Matrix:
        return Matrix((), dim(a))

    def fst(self, a: Obj = None, b: Obj = None) -> Matrix:
        return _block(dim(a), dim(a) + dim(b), [(0, 0, identity(dim(a)))])

    def snd(self, a: Obj = None, b: Obj = None) -> Matrix:
        return _block(dim(b), dim(a) + dim(b), [(0, dim(a), identity(dim(b)))])

    def par(self, f: Matrix, g: Matrix) -> Matrix:
        (p, q), (r, s) = f.shape, g.shape
        return _block(p + r, q + s, [(0, 0, f), (p, q, g)])

    def inl(self, a: Obj = None, b: Obj = None) -> Matrix:
        return _block(dim(a) + dim(b), dim(a), [(0, 0, identity(dim(a)))])

    def inr(self, a: Obj = None, b: Obj = None) -> Matrix:
        return _block(dim(a) + dim(b), dim(b), [(dim(a), 0, identity(dim(b)))])

    def case(self, f: Matrix, g: Matrix) -> Matrix:
        (p, q), (r, s) = f.shape, g.shape
        if p != r:
            raise ValueError(f"case needs branches with the same output, not {p} and {r} rows")
        return _block(p, q + s, [(0, 0, f), (0, q, g)])

    def random_morphism(self, draw: Callable[[Any], Any], dom: Type, cod: Type) -> Matrix:
        """Any small integer matrix ``dom -> cod``, for `catlib.laws.check_instance`."""
        rows, cols = dim(cod), dim(dom)
        entries = draw(_entries(rows * cols))
        return Matrix(tuple(tuple(entries[i * cols:(i + 1) * cols]) for i in range(rows)), cols)


@functools.cache
def _entries(n: int) -> Any:
    """`random_morphism`'s strategy for `n` entries, made once per size (making one cost more than a draw)."""
    from hypothesis import strategies as st

    return st.lists(st.integers(-3, 3), min_size=n, max_size=n)
