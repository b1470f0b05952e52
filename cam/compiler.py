"""Compile free terms to CAM code, by the reference's scheme.

=====================  =====================================================
term                   code
=====================  =====================================================
``Id``                 ``[ID]``
``Compose(g, f)``      code of `f`, then code of `g`
primitives             the instruction of that name (``Copy`` -> ``COPY``, ...)
``Par(f, g)``          ``FIRST, f, SWAP, CONS, SECOND, g, CONS``
``Case(f, g)``         ``[BRANCH (f ++ [RETURN]) (g ++ [RETURN])]``
``Const(k)``           ``[QUOTE (Int k)]``
``Distr``              ``[PUSH, FST, BRANCH [ROT,SWAP,SND,CONS,INL,RETURN] [.. INR ..]]``
``Embed``              not compilable: `CompileError`
=====================  =====================================================

>>> from catlib.free import Copy, Par, Snd, Fst
>>> print(compile(Copy >> Par(Snd, Fst)))
[COPY,FIRST,SND,SWAP,CONS,SECOND,FST,CONS]

`Distr` is this package's addition.  It needs no new instruction: with
``Pair e c`` in the accumulator, ``PUSH`` keeps a copy, ``FST`` exposes the
sum for ``BRANCH``; inside a branch the stack is ``k : Pair e c``, ``ROT``
brings the pair above the continuation `k`, ``SWAP, SND`` fetches `c`, and
``CONS`` pairs it with the branch's value, which ``INL``/``INR`` re-inject
before ``RETURN`` resumes `k`.

Compilation is iterative and linear in the size of the term.
"""

from __future__ import annotations

from cam.code import BRANCH, CONS, FIRST, FST, INL, INR, PUSH, QUOTE, RETURN, ROT, SECOND, SND, SWAP, Code, Instr, Int
from catlib.free import Case, Compose, Const, Embed, Par, Prim, Term, path_str
from catlib.tree import unlink

__all__ = ["compile", "CompileError", "DISTR_CODE"]


class CompileError(ValueError):
    """A term that cannot be compiled (an `Embed`); `path` locates it."""

    def __init__(self, path: tuple[str, ...], subterm: Term) -> None:
        self.path, self.subterm = path, subterm
        super().__init__(f"cannot compile {subterm} at {path_str(path)}: "
                         "Embed wraps a host function, which has no bytecode")


_PRIM = {"Id": "ID", "Copy": "COPY", "Consume": "CONSUME", "Fst": "FST", "Snd": "SND", "Inl": "INL",
         "Inr": "INR", "Get": "GET", "Put": "PUT", "Add": "ADD"}

_DISTR_BRANCH = (ROT, SWAP, SND, CONS)
DISTR_CODE = Code([PUSH, FST, BRANCH([*_DISTR_BRANCH, INL, RETURN], [*_DISTR_BRANCH, INR, RETURN])])
"""The code of `catlib.free.Distr`."""

_EMIT, _OPEN, _CLOSE, _TERM = range(4)


def compile(term: Term) -> Code:
    """The CAM code of `term` (``Embed`` raises `CompileError`)."""
    blocks: list[list[Instr]] = [[]]
    todo: list[tuple[int, object, object]] = [(_TERM, term, None)]
    while todo:
        kind, x, path = todo.pop()
        if kind == _EMIT:
            blocks[-1].append(x)  # type: ignore[arg-type]
        elif kind == _OPEN:
            blocks.append([])
        elif kind == _CLOSE:
            d, c = blocks.pop(), blocks.pop()
            blocks[-1].append(BRANCH(Code(c), Code(d)))
        elif isinstance(x, Compose):  # run f, then g: push g first
            todo.append((_TERM, x.g, ("g", path)))
            todo.append((_TERM, x.f, ("f", path)))
        elif isinstance(x, Par):
            todo += [(_EMIT, CONS, None), (_TERM, x.g, ("g", path)), (_EMIT, SECOND, None),
                     (_EMIT, CONS, None), (_EMIT, SWAP, None), (_TERM, x.f, ("f", path)), (_EMIT, FIRST, None)]
        elif isinstance(x, Case):
            todo += [(_CLOSE, None, None), (_EMIT, RETURN, None), (_TERM, x.g, ("g", path)), (_OPEN, None, None),
                     (_EMIT, RETURN, None), (_TERM, x.f, ("f", path)), (_OPEN, None, None)]
        elif isinstance(x, Const):
            blocks[-1].append(QUOTE(Int(x.k)))
        elif isinstance(x, Prim):
            if x.op == "Distr":
                blocks[-1].extend(DISTR_CODE)
            else:
                blocks[-1].append(Instr(_PRIM[x.op]))
        elif isinstance(x, Embed):
            raise CompileError(unlink(path), x)
        else:  # pragma: no cover
            raise TypeError(f"not a term: {x!r}")
    return Code(blocks[0])
