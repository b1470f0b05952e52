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

from typing import NamedTuple

from catlib.free import Case, Compose, Const, Embed, Par, Prim, Term, path_str
from catlib.tree import unlink
from catlib.types import Int, Prod, Sum, Type, Unifier, UnifyError, Unit, Var, as_type, rename


class Signature(NamedTuple):
    """``state / input -> output``."""

    state: Type
    input: Type
    output: Type

    def __str__(self) -> str:
        from catlib.types import Fun

        i = f"({self.input})" if isinstance(self.input, Fun) else str(self.input)
        return f"{self.state} / {i} -> {self.output}"

    def normalized(self) -> Signature:
        """The same signature with variables renamed a, b, c, ... in order."""
        return Signature(*rename(list(self)))


class TermTypeError(TypeError):
    """A term is ill-typed: `path` locates the subterm, `expected`/`found` clash."""

    def __init__(self, path: tuple[str, ...], subterm: Term, what: str,
                 expected: Type, found: Type) -> None:
        self.path, self.subterm, self.expected, self.found = path, subterm, expected, found
        super().__init__(f"ill-typed at {path_str(path)} ({subterm.op}): {what}")


def _prim_type(name: str, u: Unifier, state: Type) -> tuple[Type, Type]:
    if name == "Id":
        a = u.fresh()
        return a, a
    if name == "Copy":
        a = u.fresh()
        return a, Prod(a, a)
    if name == "Consume":
        return u.fresh(), Unit
    if name in ("Fst", "Snd"):
        a, b = u.fresh(), u.fresh()
        return Prod(a, b), (a if name == "Fst" else b)
    if name in ("Inl", "Inr"):
        a, b = u.fresh(), u.fresh()
        return (a if name == "Inl" else b), Sum(a, b)
    if name == "Get":
        return Unit, state
    if name == "Put":
        return state, Unit
    if name == "Add":
        return Prod(Int, Int), Int
    if name == "Distr":
        a, b, c = u.fresh(), u.fresh(), u.fresh()
        return Prod(Sum(a, b), c), Sum(Prod(a, c), Prod(b, c))
    raise AssertionError(name)  # pragma: no cover - Prim validates names


def _freshen(t: Type, u: Unifier, names: dict[str, Type]) -> Type:
    from catlib.tree import fold

    def node(n: object, kids: list[Type]) -> Type:
        if isinstance(n, Var):
            if n.name not in names:
                names[n.name] = u.fresh()
            return names[n.name]
        return type(n)(*kids) if kids else n  # type: ignore[return-value, arg-type]

    return fold(t, node)  # type: ignore[arg-type]


def _infer_raw(term: Term, u: Unifier, trace: list[tuple[Type, Type]] | None = None) -> tuple[Type, Type, Type]:
    """(state, dom, cod) of `term`, unresolved, in the unifier `u`.

    With `trace`, also appends every subterm occurrence's (dom, cod), unresolved,
    in post-order (children left to right, then the node): `catlib.graph` resolves
    them once inference is done to get each subterm's type in context.
    """
    state = u.fresh()
    out: list[tuple[Type, Type]] = []
    if trace is not None:
        out = _Traced(trace)
    todo: list[tuple[Term, object, bool]] = [(term, None, False)]
    while todo:
        t, path, ready = todo.pop()
        if isinstance(t, Prim):
            out.append(_prim_type(t.op, u, state))
            continue
        if isinstance(t, Const):
            out.append((u.fresh(), Int))
            continue
        if isinstance(t, Embed):
            names: dict[str, Type] = {}
            out.append((_freshen(t.dom, u, names), _freshen(t.cod, u, names)))
            continue
        if not ready:
            todo.append((t, path, True))
            for name, kid in reversed(list(zip(t.fields, t.kids))):  # type: ignore[attr-defined]
                todo.append((kid, (name, path), False))
            continue
        (d1, c1), (d2, c2) = out[-2], out[-1]
        del out[-2:]
        try:
            if isinstance(t, Compose):  # kids are (g, f)
                what = "f's output {} does not match g's input {}"
                u.unify(c2, d1)
                out.append((d2, c1))
            elif isinstance(t, Par):
                out.append((Prod(d1, d2), Prod(c1, c2)))
            elif isinstance(t, Case):
                what = "f's output {} does not match g's output {}"
                u.unify(c1, c2)
                out.append((Sum(d1, d2), c1))
            else:  # pragma: no cover
                raise AssertionError(t)
        except UnifyError as e:
            left, right = (c2, d1) if isinstance(t, Compose) else (c1, c2)
            lr, rr = rename([u.resolve(left), u.resolve(right)])
            detail = what.format(lr, rr)
            if (e.left, e.right) != (u.resolve(left), u.resolve(right)):
                detail += f" ({e})"
            raise TermTypeError(unlink(path), t, detail, rr, lr) from None
    return state, out[0][0], out[0][1]


class _Traced(list):  # type: ignore[type-arg]
    """The inference stack, also recording each pushed (dom, cod) in `trace`."""

    def __init__(self, trace: list[tuple[Type, Type]]) -> None:
        super().__init__()
        self.trace = trace

    def append(self, x: tuple[Type, Type]) -> None:
        super().append(x)
        self.trace.append(x)


def infer(term: Term) -> Signature:
    """The principal signature of `term`, variables renamed a, b, c, ...

    Raises `TermTypeError` if the term is ill-typed.
    """
    u = Unifier()
    raw = _infer_raw(term, u)
    return Signature(*rename([u.resolve(t) for t in raw]))


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
    raw = _infer_raw(term, u)
    declared = [as_type(d) if d is not None else None for d in (state, input, output)]
    rigid: dict[str, Type] = {}
    for part, have, want in zip(("state", "input", "output"), raw, declared):
        if want is None:
            continue
        want = _freshen(want, u, rigid)
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
            found = rename([u.resolve(t) for t in raw])
            raise TermTypeError((), term, f"declared type variable {name} is not general enough: "
                                f"the term has {Signature(*found)}", Var(name), img)
        seen[img] = name
    back = {img.name: Var(name) for img, name in seen.items()}  # type: ignore[attr-defined]
    resolved = [u.resolve(t) for t in raw]

    from catlib.tree import fold

    def node(n: object, kids: list[Type]) -> Type:
        if isinstance(n, Var):
            return back.get(n.name, n)
        return type(n)(*kids) if kids else n  # type: ignore[return-value, arg-type]

    sig = [fold(t, node) for t in resolved]  # type: ignore[arg-type]
    return Signature(*rename(sig, keep=frozenset(rigid)))


def _orig(part: str, state: object, input: object, output: object) -> Type | str:
    return {"state": state, "input": input, "output": output}[part]  # type: ignore[return-value]
