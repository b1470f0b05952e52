"""The generic functor: any term, in any instance of the interfaces.

The free category is initial: a term has exactly one meaning in each
instance ``C`` of the interfaces, obtained by replacing every constructor
by ``C``'s method for it (the table `catlib.constructs` says which).
`interpret` computes it bottom-up, without recursion, so a term of 100,000
nested compositions is fine (running the morphism it returns is the
instance's business: composed Python closures call each other):

>>> from catlib.free import Copy, Fst, Par, Snd
>>> from catlib.instances import FUNCTIONS
>>> swap = interpret(Copy >> Par(Snd, Fst), FUNCTIONS)
>>> swap((1, 2))
(2, 1)

**Typed instances.**  An instance whose class sets ``typed = True`` (finite
relations, matrices: `catlib.examples`) receives the objects of each
primitive, ground `catlib.types.Type`s in the order of the primitive's
type variables: ``id(a)``, ``fst(a, b)``, ``distr(a, b, c)``,
``const(k, a)``.  They are the subterms' types in context at `signature`
(``(state, input, output)``, parts left None are inferred); type variables
that the context leaves free are read as ``()``, since the term works at
every type there.

**Hooks.**  ``C.at_type(m, dom, cod)``, if defined, is called on every
morphism with its subterm's type in context (the diagrams use it to label
wires).  `Embed` calls ``C.embed(fn, dom, cod)``, or `embed` when given
(the law checker puts its morphisms in the holes of a law this way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from catlib.category import Category
from catlib.context import subterm_types
from catlib.free import Embed, Term
from catlib.typecheck import construct_of
from catlib.types import Type, Unit, ground, match

__all__ = ["interpret", "objects"]

M = TypeVar("M")


def objects(term: Term, dom: Type, cod: Type) -> list[Type]:
    """The ground objects of primitive `term` occurring at type ``dom -> cod``.

    >>> from catlib.free import Fst
    >>> from catlib.types import parse, Int
    >>> [str(t) for t in objects(Fst, parse("(Int, ())"), Int)]
    ['Int', '()']
    """
    c = construct_of(term)
    pin, pout = c.types
    binding = match(pin, ground(dom))
    binding = match(pout, ground(cod), binding) if binding is not None else None
    if binding is None:
        raise TypeError(f"{term.op} cannot have type {dom} -> {cod}")
    return [binding.get(v, Unit) for v in c.variables]


def interpret(term: Term, C: Category[M], signature: tuple[Type | str | None, ...] | None = None,
              embed: Callable[[Callable[[Any], Any], Type, Type], M] | None = None,
              types: list[tuple[Type, Type]] | None = None) -> M:
    """The morphism of `C` that `term` denotes (see the module docstring).

    `signature` is ``(state, input, output)`` (parts may be None); it is
    needed only by typed instances and `at_type` hooks, which otherwise get
    the principal types with their variables read as ``()``.  `types` are
    the subterms' types in context when the caller has them already
    (`catlib.context.subterm_types`).
    """
    typed = getattr(C, "typed", False)
    at_type = getattr(C, "at_type", None)
    if types is None and (typed or at_type is not None):
        types = subterm_types(term, *(signature or (None, None, None)))[1]
    on_embed = embed if embed is not None else getattr(C, "embed", None)
    # per constructor, looked up once: C's method, and whether the primitive takes its parameter
    methods: dict[str, tuple[Callable[..., M], bool]] = {}
    out: list[Any] = []
    # a node with kids is pushed again under `_KIDS` and its pre-order number, to be met once they are done
    todo: list[Any] = [term]
    pop, n = todo.pop, 0
    while todo:
        t = pop()
        if t is _KIDS:
            pre, t = pop(), pop()
        else:
            pre, n = n, n + 1
            if t.kids:
                todo += (t, pre, _KIDS)
                todo.extend(reversed(t.kids))
                continue
        if isinstance(t, Embed):
            if on_embed is None:
                raise TypeError(f"{type(C).__name__} cannot interpret Embed: it has no embed(fn, dom, cod) method")
            if types is not None:
                m = on_embed(t.fn, ground(types[pre][0]), ground(types[pre][1]))
            else:
                m = on_embed(t.fn, t.dom, t.cod)
        else:
            op = t.op
            found = methods.get(op)
            if found is None:
                c = construct_of(t)
                found = methods[op] = (getattr(C, c.method), c.param is not None)
            method, takes_param = found
            if t.kids:
                k = len(t.kids)
                m = method(*out[-k:])
                del out[-k:]
            else:
                args: list[Any] = [t.label] if takes_param else []
                if typed:
                    assert types is not None
                    args += objects(t, types[pre][0], types[pre][1])
                m = method(*args)
        if at_type is not None:
            assert types is not None
            m = at_type(m, types[pre][0], types[pre][1])
        out.append(m)
    return out[0]


_KIDS: Any = object()
"""On `interpret`'s stack, above a node's pre-order number and the node: its kids' morphisms end `out`."""
