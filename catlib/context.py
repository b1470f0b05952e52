"""Types in context: the type every subterm occurrence has inside a term.

A subterm such as ``Fst`` is polymorphic on its own; inside a term, its
context instantiates it.  `subterm_types` gives each occurrence's type,
from one inference over the whole term: the diagrams label their wires with
it and the generic functor (`catlib.functor`) hands typed instances their
objects from it.
"""

from __future__ import annotations

from catlib.free import Term
from catlib.typecheck import Signature, check, infer_types
from catlib.types import Type, Unifier, UnifyError, Unit, as_type, instantiate, rename

__all__ = ["subterm_types"]


def subterm_types(term: Term, state: Type | str | None = None, input: Type | str | None = None,
                  output: Type | str | None = None) -> tuple[Signature, list[tuple[Type, Type]]]:
    """The term's signature and every subterm occurrence's (input, output) type.

    The signature is the principal one, or the declared one where `state`,
    `input` or `output` is given (as in `catlib.typecheck.check`).

    The list is in pre-order (the order of `catlib.tree.walk`).  A subterm's
    type is its type in this term (instantiated by its context), with the
    same variable names as the signature:

    >>> from catlib.free import Copy, Fst, Id
    >>> term = Copy >> Fst >> Id
    >>> term
    Compose(Id, Compose(Fst, Copy))
    >>> sig, types = subterm_types(term)
    >>> str(sig), [f"{a} -> {b}" for a, b in types]
    ('a / b -> b', ['b -> b', 'b -> b', 'b -> b', '(b, b) -> b', 'b -> (b, b)'])

    Raises `catlib.typecheck.TermTypeError` if the term is ill-typed.
    """
    declared = [as_type(d) if d is not None else None for d in (state, input, output)]
    if any(d is not None and not d.is_ground for d in declared):
        # a clear error if the term does not have that type, and one if it is less polymorphic than declared
        check(term, state, input, output)
    u = Unifier()
    trace: list[tuple[Type, Type]] = []
    raw = infer_types(term, u, trace)
    names: dict[str, Type] = {}
    try:
        for have, want in zip(raw, declared):
            if want is not None:
                u.unify(have, instantiate(want, u, names))
    except UnifyError:
        # ground declared types (the common case: checked here, not by a second inference): `check` says why
        check(term, state, input, output)
        raise
    # the trace is in post-order: give each post-order position its pre-order number
    pre_of_post: list[int] = []
    counter = 0
    todo: list[tuple[Term, int]] = [(term, -1)]
    while todo:
        t, pre = todo.pop()
        if pre >= 0:
            pre_of_post.append(pre)
            continue
        todo.append((t, counter))
        counter += 1
        todo.extend((k, -1) for k in reversed(t.kids))
    flat = list(raw)
    for d, c in trace:
        flat += (d, c)
    flat = rename(flat, unifier=u)
    sig = Signature(*flat[:3])
    types: list[tuple[Type, Type]] = [(Unit, Unit)] * len(trace)
    for k, pre in enumerate(pre_of_post):
        types[pre] = (flat[3 + 2 * k], flat[4 + 2 * k])
    return sig, types
