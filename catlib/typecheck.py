"""Principal types of terms, and checking against a declared signature.

A term's type is a `Signature`: state, input and output.  `infer` finds the
most general one, with type variables where the term is polymorphic:

>>> from catlib.free import Fst, Copy, Par, Snd, Get, Add, Compose, Inl
>>> str(infer(Fst))
'a / (b, c) -> b'
>>> str(infer(Copy >> Par(Snd, Fst)))
'a / (b, c) -> (c, b)'
>>> str(infer(Get >> Add))
'(Int, Int) / () -> Int'

An ill-typed term raises `TermTypeError`, naming the subterm by its path:

>>> infer(Compose(Fst, Inl))
Traceback (most recent call last):
  ...
catlib.typecheck.TermTypeError: ill-typed at root (Compose): f's output Either a b does not match g's input (c, d)

Every pass here is iterative: a chain of 100,000 compositions type-checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

from catlib.constructs import CONSTRUCTS, STATE_VARIABLE, Construct
from catlib.free import Embed, Term, path_str
from catlib.origin import Origin, nearest
from catlib.tree import shared, unlink
from catlib.types import Fun, Type, Unifier, UnifyError, Var, as_type, instantiate, rename


class Signature(NamedTuple):
    """``state / input -> output``."""

    state: Type
    input: Type
    output: Type

    def __str__(self) -> str:
        i = f"({self.input})" if isinstance(self.input, Fun) else str(self.input)
        return f"{self.state} / {i} -> {self.output}"

    def normalized(self) -> Signature:
        """The same signature with variables renamed a, b, c, ... in order."""
        return Signature(*rename(list(self)))


class TermTypeError(TypeError):
    """A term is ill-typed: `path` locates the subterm, `expected`/`found` clash."""

    def __init__(self, path: tuple[str, ...], subterm: Term, what: str,
                 expected: Type, found: Type, origin: Origin | None = None) -> None:
        self.path, self.subterm, self.expected, self.found = path, subterm, expected, found
        self.what, self.origin = what, origin
        """`origin`: the Python line that built the subterm (or the nearest enclosing one), when the port
        DSL built it (`catlib.origin`)."""
        built = f" (built at {origin})" if origin is not None else ""
        super().__init__(f"ill-typed at {path_str(path)} ({subterm.op}): {what}{built}")


def construct_of(t: Term) -> Construct:
    """The table entry of `t`'s constructor."""
    return CONSTRUCTS[t.op]


def infer_types(term: Term, u: Unifier, trace: list[tuple[Type, Type]] | None = None
                ) -> tuple[Type, Type, Type]:
    """(state, input, output) of `term`, unresolved, in the unifier `u`.

    Every construct is typed by its scheme in `catlib.constructs`.  With
    `trace`, also appends every subterm occurrence's (input, output),
    unresolved, in post-order (children in the term's order, then the node):
    `catlib.context` resolves them once inference is done to get each
    subterm's type in context.
    """
    try:
        return _infer_types(term, u, trace)
    except TermTypeError as e:
        where = nearest(term, e.path) if e.origin is None else None
        if where is None:
            raise
        raise TermTypeError(e.path, e.subterm, e.what, e.expected, e.found, where) from None


def _infer_types(term: Term, u: Unifier, trace: list[tuple[Type, Type]] | None) -> tuple[Type, Type, Type]:
    state = u.fresh()
    out: list[tuple[Type, Type]] = []
    push: Callable[[tuple[Type, Type]], None] = out.append
    if trace is not None:  # every pushed (input, output) recorded too
        keep, record = out.append, trace.append

        def traced(types: tuple[Type, Type]) -> None:  # (a closure: cheaper than a list subclass's `append`)
            keep(types)
            record(types)

        push = traced
    todo: list[tuple[Term, object, bool]] = [(term, None, False)]
    pop, later = todo.pop, todo.append
    # A subterm that occurs more than once (by identity: ``inc`` in a chain of 100,000 ``inc``s) is typed at
    # its first occurrence only; later ones get an instance of that type, as a let-bound name would.  (Not
    # with `trace`, which records every occurrence.)
    again = shared(term) if trace is None else set()
    schemes: dict[int, _Scheme] = {}
    # a node with kids is popped twice (before and after them), the rest once; its rule is one cached lookup
    # (`_rule`), and a scheme without variables (``Add``'s) gives the same shared types every time
    while todo:
        t, path, ready = pop()
        if ready:
            n, plan, dom, cod = _rule(t.op)
            kids = out[-n:]
            del out[-n:]
            types = _apply_rule(plan, dom, cod, t, kids, u, path)
            if again and id(t) in again:
                schemes[id(t)] = _generalize(types, state, u)
            push(types)
        elif schemes and id(t) in schemes:
            push(_instance(schemes[id(t)], u))
        elif t.kids:
            later((t, path, True))
            subterms, fields = t.kids, t.fields
            for i in range(len(subterms) - 1, -1, -1):
                later((subterms[i], (fields[i], path), False))
        elif isinstance(t, Embed):
            names: dict[str, Type] = {}
            push((instantiate(t.dom, u, names), instantiate(t.cod, u, names)))
        else:
            _, _, dom, cod = _rule(t.op)
            names = {STATE_VARIABLE: state}
            push((dom(u, names), cod(u, names)))
    return state, out[0][0], out[0][1]


_Scheme = tuple[Type, Type, "dict[str, Type] | None"]
"""A subterm's (input, output) as typed at its first occurrence, and the variables an instance keeps (those of
the state, which every occurrence shares); None when it keeps them all (a type without other variables)."""


def _generalize(types: tuple[Type, Type], state: Type, u: Unifier) -> _Scheme:
    dom, cod = u.resolve_many(list(types))
    names = {*dom.vars(), *cod.vars()}
    fixed: dict[str, Type] = {name: Var(name) for name in u.resolve(state).vars() if name in names} if names else {}
    return dom, cod, None if len(fixed) == len(names) else fixed


def _instance(scheme: _Scheme, u: Unifier) -> tuple[Type, Type]:
    dom, cod, fixed = scheme
    if fixed is None:
        return dom, cod
    names = dict(fixed)  # the state's variables stay, the others are renamed apart
    return instantiate(dom, u, names), instantiate(cod, u, names)


def _apply_rule(plan: list[Step], dom: Builder, cod: Builder, t: Term, kids: list[tuple[Type, Type]],
                u: Unifier, path: object) -> tuple[Type, Type]:
    """The type of `t` from its kids' types (in the term's order) by its construct's rule (`_plan`, `_builders`).

    A clash names the two positions, in the order the sub-morphisms run.
    """
    binding: dict[str, Type] = {}
    for index, pos, var, pattern, what in plan:
        have = kids[index][pos]
        if var is not None and var not in binding:
            binding[var] = have
            continue
        if var is not None:
            left, right = binding[var], have
            if left is right:  # (already one type: as in a chain of one shared subterm's instances)
                continue
        else:
            left, right = have, pattern(u, binding)  # type: ignore[misc]
        try:
            u.unify(left, right)
        except UnifyError as e:
            lr, rr = rename([u.resolve(left), u.resolve(right)])
            detail = what.format(lr, rr)
            if (e.left, e.right) != (u.resolve(left), u.resolve(right)):
                detail += f" ({e})"
            raise TermTypeError(unlink(path), t, detail, rr, lr) from None
    return dom(u, binding), cod(u, binding)


_POSITION = ("input", "output")
Step = tuple[int, int, "str | None", "Builder | None", str]


# Memoised with functools.cache (not a dict of our own) so that tests/conftest.py empties them before each test:
# a test then runs the rule compilers themselves, not what an earlier test compiled.
@functools.cache
def _plan(op: str) -> list[Step]:
    """The rule of construct `op` compiled once: per kid position, bind a variable, or unify with
    where it was first seen, or unify with an instance of a pattern."""
    c = CONSTRUCTS[op]
    order = c.field_order
    plan: list[Step] = []
    first: dict[str, tuple[str, int]] = {}
    for name, *patterns in c.kid_types:
        for pos, pattern in enumerate(patterns):
            index = order.index(name)
            if isinstance(pattern, Var) and pattern.name not in first:
                first[pattern.name] = (name, pos)
                plan.append((index, pos, pattern.name, None, ""))
            elif isinstance(pattern, Var):
                other, opos = first[pattern.name]
                what = f"{other}'s {_POSITION[opos]} {{}} does not match {name}'s {_POSITION[pos]} {{}}"
                plan.append((index, pos, pattern.name, None, what))
            else:
                for v in pattern.vars():
                    first.setdefault(v, (name, pos))
                what = f"{name}'s {_POSITION[pos]} {{}} does not fit {pattern} {{}}"
                plan.append((index, pos, None, _compile(pattern), what))
    return plan


Builder = Callable[[Unifier, dict[str, Type]], Type]


@functools.cache
def _rule(op: str) -> tuple[int, list[Step], Builder, Builder]:
    """Construct `op`'s arity, its compiled rule (`_plan`) and its scheme's builders (`_builders`): one lookup."""
    return (len(CONSTRUCTS[op].kids), _plan(op), *_builders(op))


@functools.cache
def _builders(op: str) -> tuple[Builder, Builder]:
    """`instantiate` for construct `op`'s scheme, compiled once: inference instantiates a scheme per node."""
    c = CONSTRUCTS[op]
    return _compile(c.types[0]), _compile(c.types[1])


def _compile(t: Type) -> Builder:
    # a scheme is a few nodes deep: recursion is bounded by the table, not by terms
    if isinstance(t, Var):
        name = t.name

        def var(u: Unifier, names: dict[str, Type]) -> Type:
            v = names.get(name)
            if v is None:
                v = names[name] = u.fresh()
            return v

        return var
    if t.is_ground:  # no variable to instantiate: every instance is `t` itself (types are immutable)
        return lambda u, names: t
    cls = type(t)
    a, b = t.kids  # every type constructor (Prod, Sum, Fun) is binary
    if isinstance(a, Var) and isinstance(b, Var):  # (the commonest pattern, ``(a, b)``: its two lookups inline)
        x, y = a.name, b.name

        def pair_of_vars(u: Unifier, names: dict[str, Type]) -> Type:
            v = names.get(x)
            if v is None:
                v = names[x] = u.fresh()
            w = names.get(y)
            if w is None:
                w = names[y] = u.fresh()
            return cls(v, w)

        return pair_of_vars
    left, right = _compile(a), _compile(b)
    return lambda u, names: cls(left(u, names), right(u, names))


def infer(term: Term) -> Signature:
    """The principal signature of `term`, variables renamed a, b, c, ...

    Raises `TermTypeError` if the term is ill-typed.
    """
    u = Unifier()
    raw = infer_types(term, u)
    return Signature(*rename(list(raw), unifier=u))


def check(term: Term, state: Type | str | None = None, input: Type | str | None = None,
          output: Type | str | None = None) -> Signature:
    """Check `term` against a declared signature; `None` leaves a part free.

    The declared types may contain variables; the term must then be that
    polymorphic (variables in the declaration are not instantiated).
    Returns the declared signature with its free parts filled in.

    >>> from catlib.free import Fst, Const
    >>> str(check(Fst, input="(Int, ())"))
    'a / (Int, ()) -> Int'
    >>> check(Const(1), output="()")
    Traceback (most recent call last):
      ...
    catlib.typecheck.TermTypeError: ill-typed at root (Const): declared output () but the term has Int
    """
    u = Unifier()
    raw = infer_types(term, u)
    declared = [as_type(d) if d is not None else None for d in (state, input, output)]
    rigid: dict[str, Type] = {}
    for part, have, want in zip(("state", "input", "output"), raw, declared):
        if want is None:
            continue
        want = instantiate(want, u, rigid)
        try:
            u.unify(have, want)
        except UnifyError:
            found = rename([u.resolve(have)])[0]
            raise TermTypeError((), term, f"declared {part} {as_type(_orig(part, state, input, output))} "
                                f"but the term has {found}", want, found) from None
    # declared variables must stay distinct variables: the term may not
    # be less polymorphic than declared
    images = {name: u.resolve(v) for name, v in rigid.items()}
    seen: dict[Type, str] = {}
    for name, img in images.items():
        if not isinstance(img, Var) or img in seen:
            principal = rename([u.resolve(t) for t in raw])
            raise TermTypeError((), term, f"declared type variable {name} is not general enough: "
                                f"the term has {Signature(*principal)}", Var(name), img)
        seen[img] = name
    back: dict[str, Type] = {img.name: Var(name) for img, name in seen.items()}  # type: ignore[attr-defined]
    return Signature(*rename(list(raw), keep=frozenset(rigid), unifier=u, known=back))


def _orig(part: str, state: object, input: object, output: object) -> Type | str:
    return {"state": state, "input": input, "output": output}[part]  # type: ignore[return-value]
