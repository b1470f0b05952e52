"""Objects of the category: ``()``, ``Int``, products, sums, functions, variables.

Types print and parse in the Haskell-like notation of the seed:

>>> t = parse("Either () (Int, Int)")
>>> t == Sum(Unit, Prod(Int, Int)), str(t)
(True, 'Either () (Int, Int)')
>>> str(Fun(Prod(Var("a"), Var("b")), Var("a")))
'(a, b) -> a'
>>> eval(repr(t)) == t
True

Unification finds the most general common instance of two types:

>>> u = Unifier()
>>> u.unify(parse("(a, Int)"), parse("(Either b (), c)"))
>>> str(u.resolve(parse("(a, c)")))
'(Either b (), Int)'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from catlib.tree import Tree, render, set_hash, set_kids, set_label


class Type(Tree):
    """A type: `Unit`, `Int`, `Prod`, `Sum`, `Fun` or a `Var`."""

    __slots__ = ()

    def __str__(self) -> str:
        return show(self)

    def vars(self) -> Iterator[str]:
        """Names of the type variables occurring in this type, in order of first appearance."""
        seen: set[int] = set()  # shared subtypes are visited once
        todo: list[Tree] = [self]
        while todo:
            t = todo.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            if isinstance(t, Var):
                yield t.name
            else:
                todo.extend(reversed(t.kids))

    @property
    def is_ground(self) -> bool:
        """True when the type has no variables."""
        return next(self.vars(), None) is None


class _Base(Type):
    __slots__ = ()

    def __init__(self, name: str) -> None:
        Tree.__init__(self, label=name)

    def _leaf_repr(self) -> str:
        return "Unit" if self.label == "()" else str(self.label)


class Var(Type):
    """A type variable, named by a lowercase identifier."""

    __slots__ = ()

    def __init__(self, name: str) -> None:
        # `Tree.__init__` inlined (the same slots and hash, see `catlib.tree.set_kids`): inference makes a
        # variable or two per term node, and the generic call cost a third of the whole constructor
        set_kids(self, ())
        set_label(self, name)
        set_hash(self, hash((type(self).__name__, name)))

    @property
    def name(self) -> str:
        return self.label  # type: ignore[return-value]


class _Binary(Type):
    __slots__ = ()

    def __init__(self, left: Type, right: Type) -> None:
        # `Tree.__init__` inlined, as in `Var` (the kids are types: their hashes are cached)
        set_kids(self, (left, right))
        set_label(self, None)
        set_hash(self, hash((type(self).__name__, None, left._hash, right._hash)))


class Prod(_Binary):
    """The product ``(a, b)``."""

    __slots__ = ()


class Sum(_Binary):
    """The sum ``Either a b``."""

    __slots__ = ()


class Fun(_Binary):
    """The exponential ``a -> b`` (its kids: domain and codomain): the type of CAM closures."""

    __slots__ = ()


Unit: Type = _Base("()")
Int: Type = _Base("Int")


def show(t: Type) -> str:
    """The type in the seed's notation (without recursion, in time linear in its size).

    >>> show(Fun(Sum(Unit, Prod(Int, Int)), Fun(Fun(Int, Int), Int)))
    'Either () (Int, Int) -> (Int -> Int) -> Int'
    """
    return render(t, _show_pieces)


def _piece(t: Type) -> Any:
    # a kid's piece: a leaf (variable, base type) as its name, not an item for `render` (half a signature's nodes)
    return t if t.kids else str(t.label)


def _atom(t: Type) -> list[Any]:
    # the arguments of Either are atoms
    return ["(", t, ")"] if isinstance(t, (Sum, Fun)) else [_piece(t)]


def _show_pieces(t: Type) -> list[Any]:
    if not t.kids:  # a variable or a base type
        return [str(t.label)]
    left, right = t.kids
    if isinstance(t, Prod):
        return ["(", _piece(left), ", ", _piece(right), ")"]
    if isinstance(t, Sum):
        return ["Either ", *_atom(left), " ", *_atom(right)]
    # Fun: a function domain is parenthesised, the codomain is not (-> is right-associative)
    return [*(["(", left, ")"] if isinstance(left, Fun) else [_piece(left)]), " -> ", _piece(right)]


class TypeParseError(ValueError):
    """Raised by `parse` with the position of the problem."""


_TOKEN_OR_BAD = re.compile(r"\s*(?:(->|\(\)|[(),]|[A-Za-z_][A-Za-z0-9_']*)|(\S))")
"""A token (first group), or a character that starts none (second group), after any spaces."""
_VAR_NAME = re.compile(r"[a-z_][A-Za-z0-9_']*")


def _positioned(text: str) -> list[tuple[int, str]]:
    """The tokens of `text` with their positions, then ``<end>``; `TypeParseError` at a character that starts none
    (at the spaces before it, if any).  For errors' positions only: `parse` cuts the text without them."""
    tokens: list[tuple[int, str]] = []
    for m in _TOKEN_OR_BAD.finditer(text):  # (each match starts where the last ended: spaces are in its `\s*`)
        if m.group(2) is not None:
            pos = m.start()
            raise TypeParseError(f"unexpected {text[pos]!r} at position {pos} in {text!r}")
        tokens.append((m.start(1), m.group(1)))
    tokens.append((len(text), "<end>"))
    return tokens


def parse(text: str) -> Type:
    """Parse a type written as the seed writes it, e.g. ``Either () (Int, Int)``.

    Lowercase names are type variables; ``Unit`` is accepted for ``()``.
    """
    found = _TOKEN_OR_BAD.findall(text)
    toks: list[str] = [tok for tok, _ in found]
    if any(bad for _, bad in found):
        _positioned(text)  # raises, naming the first bad character
    toks.append("<end>")
    i = 0

    def at(i: int) -> int:  # where token `i` starts (found again, for an error only)
        return _positioned(text)[i][0]

    def expect(tok: str) -> None:
        nonlocal i
        if toks[i] != tok:
            raise TypeParseError(f"expected {tok!r} at position {at(i)} in {text!r}, found {toks[i]!r}")
        i += 1

    # An explicit stack of what to do with the next finished type, instead of
    # recursive descent: types printed by `show` can be nested arbitrarily deep.
    #   fun  := app ["->" fun]      app := "Either" atom atom | atom
    #   atom := "()" | "Unit" | "Int" | var | "(" fun ["," fun] ")"
    then: list[tuple[str, Type | None]] = []
    goal = "fun"  # what to parse next; "" when `done` holds a finished type
    done: Type = Unit
    while True:
        if goal == "fun":
            then.append(("fun", None))
            goal = "app"
        if goal == "app":
            if toks[i] == "Either":
                i += 1
                then.append(("either", None))
            goal = "atom"
        if goal == "atom":
            tok = toks[i]
            if tok == "(":
                i += 1
                then.append(("(", None))
                goal = "fun"
                continue
            if tok in ("()", "Unit"):
                done = Unit
            elif tok == "Int":
                done = Int
            elif _VAR_NAME.fullmatch(tok):
                done = Var(tok)
            else:
                raise TypeParseError(f"expected a type at position {at(i)} in {text!r}, found {tok!r}")
            i += 1
        goal = ""
        while not goal and then:  # hand `done` to the frames waiting for it
            frame, first = then.pop()
            if frame == "fun" and toks[i] == "->":
                i += 1
                then.append(("->", done))
                goal = "fun"
            elif frame == "->":
                done = Fun(first, done)  # type: ignore[arg-type]
            elif frame == "either":
                then.append(("either2", done))
                goal = "atom"
            elif frame == "either2":
                done = Sum(first, done)  # type: ignore[arg-type]
            elif frame == "(":
                if toks[i] == ",":
                    i += 1
                    then.append((",", done))
                    goal = "fun"
                else:
                    expect(")")
            elif frame == ",":
                expect(")")
                done = Prod(first, done)  # type: ignore[arg-type]
        if not goal:
            break
    expect("<end>")
    return done


def as_type(t: Type | str) -> Type:
    """Accept a `Type` or its text."""
    return parse(t) if isinstance(t, str) else t


class UnifyError(TypeError):
    """Two types that cannot be made equal; `left` and `right` are the clash."""

    def __init__(self, left: Type, right: Type, reason: str = "") -> None:
        self.left, self.right = left, right
        super().__init__(reason or f"cannot unify {left} with {right}")


class Unifier:
    """A substitution built up by `unify`, with an occurs check.

    Works iteratively, so deep types cannot overflow the Python stack.
    """

    def __init__(self) -> None:
        self.bindings: dict[str, Type] = {}
        self._fresh = 0

    def fresh(self) -> Var:
        """A variable not used before by this unifier."""
        self._fresh += 1
        return Var(f"_{self._fresh}")

    def find(self, t: Type) -> Type:
        """Follow variable bindings at the top of `t` (with path compression)."""
        if not isinstance(t, Var) or t.label not in (bindings := self.bindings):  # most calls: nothing to follow
            return t
        seen = []
        while isinstance(t, Var) and t.label in bindings:
            seen.append(t.label)
            t = bindings[t.label]
        for name in seen[:-1]:
            bindings[name] = t
        return t

    def resolve(self, t: Type) -> Type:
        """Apply the substitution everywhere in `t` (iteratively, sharing work)."""
        return self.resolve_many([t])[0]

    def resolve_many(self, types: list[Type], image: Callable[[Var], Type] | None = None) -> list[Type]:
        """`resolve` for many types that share subtrees: each shared node is resolved once,
        so a whole inference trace resolves in time linear in its distinct type nodes.
        An unbound variable `v` becomes `image(v)`, if given (called in order of first appearance)."""
        memo: dict[int, Type] = {}
        keep: list[Type] = []  # keeps memo's keys alive
        bindings = self.bindings
        results = []
        # (the loop below is the hottest of inference: a resolved type is walked node by node, so the binary
        # constructors' rebuild and an unbound variable's test are written out rather than called)
        for t in types:
            todo: list[Any] = [t]  # `_DONE` above a node: its kids (or a variable's binding) are resolved
            out: list[Type] = []
            while todo:
                n = todo.pop()
                if n is _DONE:
                    n = todo.pop()
                    kids = n.kids
                    if not kids:  # a variable: out[-1] is what it stands for
                        r: Type = out.pop()
                    elif len(kids) == 2:
                        b = out.pop()
                        a = out.pop()
                        r = n if a is kids[0] and b is kids[1] else type(n)(a, b)
                    else:
                        r = _rebuilt(n, out)
                else:
                    r = memo.get(id(n), _DONE)
                    if r is not _DONE:
                        out.append(r)
                        continue
                    kids = n.kids
                    if kids:
                        todo += (n, _DONE, *reversed(kids))
                        continue
                    if type(n) is not Var:
                        r = n
                    elif n.label not in bindings:
                        r = n if image is None else image(n)
                    else:
                        todo += (n, _DONE, self.find(n))
                        continue
                memo[id(n)] = r
                keep.append(n)
                out.append(r)
            results.append(out[0])
        return results

    def _occurs(self, name: str, t: Type) -> bool:
        bindings = self.bindings
        todo = [t]
        seen: set[int] = set()  # shared subtrees once (variables need no such care: they have no kids)
        while todo:
            u = todo.pop()
            while isinstance(u, Var):
                if u.label == name:
                    return True
                if u.label not in bindings:
                    break
                u = bindings[u.label]
            else:
                if u.kids and id(u) not in seen:
                    seen.add(id(u))
                    todo.extend(u.kids)
        return False

    def unify(self, a: Type, b: Type) -> None:
        """Extend the substitution so that `a` and `b` become equal, or raise."""
        bindings, find = self.bindings, self.find
        todo = [a, b]  # pairs, flat
        while todo:
            y = todo.pop()
            x = todo.pop()
            # (`find` called only where a binding is to be followed: one unification per term node)
            x_var, y_var = type(x) is Var, type(y) is Var
            if x_var and x.label in bindings:
                x = find(x)
                x_var = type(x) is Var
            if y_var and y.label in bindings:
                y = find(y)
                y_var = type(y) is Var
            if x is y:
                continue
            if x_var or y_var:
                if not x_var:  # the variable on the left
                    x, y, y_var = y, x, False
                if y_var and x.label == y.label:  # (two unbound variables: one, or neither occurs in the other)
                    continue
                if not y_var and self._occurs(x.label, y):  # type: ignore[arg-type]
                    rx, ry = self.resolve(x), self.resolve(y)
                    raise UnifyError(rx, ry, f"infinite type: {rx} occurs in {ry}")
                bindings[x.label] = y  # type: ignore[index]
            elif type(x) is not type(y) or x.label != y.label:
                raise UnifyError(self.resolve(x), self.resolve(y))
            else:
                xk, yk = x.kids, y.kids
                if len(xk) == 2:  # (every type constructor is binary; the right kids are unified first)
                    todo += (xk[0], yk[0], xk[1], yk[1])
                else:
                    for pair in zip(xk, yk):
                        todo += pair


def substitute(types: list[Type], image: Callable[[Var], Type]) -> list[Type]:
    """`types` with every variable `v` replaced by `image(v)`, iteratively.

    The one substitution of the package (instantiation, freshening, renaming
    and grounding are all this).  A subtree shared by identity, across all
    of `types`, is rebuilt once, and a subtree without replaced variables is
    kept as it is, so types built by unification (which share heavily) cost
    time linear in their distinct nodes.

    >>> [str(t) for t in substitute([parse("(a, Either b a)")], lambda v: Int if v.name == "a" else v)]
    ['(Int, Either b Int)']
    """
    return Unifier().resolve_many(types, image)  # (a unifier without bindings: only the image applies)


_DONE: Any = object()


def _rebuilt(x: Type, done: list[Type]) -> Type:
    """`x` with its kids replaced by the last results in `done` (taken off), or `x` itself where they are its own."""
    k = len(x.kids)
    kids = done[-k:]
    del done[-k:]
    return x if all(a is b for a, b in zip(kids, x.kids)) else type(x)(*kids)


def instantiate(t: Type, u: Unifier, names: dict[str, Type]) -> Type:
    """`t` with each variable replaced by a fresh variable of `u` (the same one for the same name).

    `names` records the choice and is shared between calls, so several types
    (a scheme's input and output, say) are instantiated together.
    """

    def image(v: Var) -> Type:
        if v.name not in names:
            names[v.name] = u.fresh()
        return names[v.name]

    return substitute([t], image)[0]


def match(pattern: Type, t: Type, binding: dict[str, Type] | None = None) -> dict[str, Type] | None:
    """The binding of `pattern`'s variables that makes it `t` (one-way), or None.

    >>> {k: str(v) for k, v in match(parse("(a, Either a b)"), parse("(Int, Either Int ())")).items()}
    {'a': 'Int', 'b': '()'}
    """
    binding = {} if binding is None else binding
    todo = [(pattern, t)]
    while todo:
        p, x = todo.pop()
        if isinstance(p, Var):
            if p.name in binding:
                if binding[p.name] != x:
                    return None
            else:
                binding[p.name] = x
        elif type(p) is not type(x) or p.label != x.label or len(p.kids) != len(x.kids):
            return None
        else:
            todo.extend(reversed(list(zip(p.kids, x.kids))))
    return binding


def ground(t: Type, default: Type | None = None) -> Type:
    """`t` with every type variable replaced by `default` (``()`` unless given)."""
    d = Unit if default is None else default
    return substitute([t], lambda v: d)[0]


def variable_name(n: int) -> str:
    """The `n`-th variable name: a, b, ..., z, a1, b1, ..."""
    return chr(ord("a") + n % 26) + (str(n // 26) if n >= 26 else "")


def rename(types: list[Type], keep: frozenset[str] = frozenset(), unifier: Unifier | None = None,
           known: dict[str, Type] | None = None) -> list[Type]:
    """Rename the variables of `types` to a, b, c, ... in order of first appearance.

    Variables named in `keep` keep their names; the others avoid them; those in `known` become what it says.
    With `unifier`, `types` are resolved in it in the same pass.  Shared subtrees are visited once.
    """
    names: dict[str, Type] = {k: Var(k) for k in keep} | (known or {})
    n = 0

    def image(v: Var) -> Type:
        nonlocal n
        new = names.get(v.label)  # type: ignore[call-overload]  # (`label`: `name` without the property's call)
        while new is None:
            name = variable_name(n)
            n += 1
            if name not in keep:
                new = names[v.label] = Var(name)  # type: ignore[index]
        return new

    # both passes meet the variables in pre-order, left to right: the order of first appearance
    return substitute(types, image) if unifier is None else unifier.resolve_many(types, image)
