"""The generator's building blocks: how each primitive fits a signature, types shared by structure, and
choices from a seeded `random.Random`.

`catlib.generator.Generator` builds terms from these; they are kept apart
so that each module stays one job.  A *plan* says how a primitive can serve
in a term ``s / a -> b``: as ``(construct, rule kind, type)``, the kind
being one of `READ`, `WRITE` (the state's effects), `BUILD`, `DIRECT` and
`INSPECT` (see `catlib.generator.Generator._primitive_rule`).

>>> from catlib.types import Int, Prod, Sum, Unit
>>> [(c.name, kind == BUILD, str(t)) for c, kind, t in pure_plans(Int, Sum(Int, Unit))][:2]
[('Inl', True, 'Int'), ('Inr', True, '()')]
>>> shared_type(Prod, Int, Unit) is share(Prod(Int, Unit))
True
"""

from __future__ import annotations

import functools
import operator
import random
from collections.abc import Callable
from typing import Any, cast

from catlib.constructs import CONSTRUCTS, STATE_VARIABLE, Construct
from catlib.tree import fold
from catlib.types import Fun, Prod, Sum, Type, Unit, Var, match, substitute

__all__ = ["PRIMITIVE_CONSTRUCTS", "READ", "WRITE", "BUILD", "DIRECT", "INSPECT", "GROUND", "BRANCHED", "THROUGH",
           "PURE", "EFFECTS", "EFFECTS_BY_STATE", "FIXED_TYPES", "table", "cached", "store", "shared_type", "share",
           "share_or_none", "pure_plans", "effect_plans", "seeded_choose"]

PRIMITIVE_CONSTRUCTS = [c for c in CONSTRUCTS.values() if not c.kids and c.name != "Embed"]


READ, WRITE, BUILD, DIRECT, INSPECT = range(5)

_SECOND = operator.itemgetter(1)

GROUND = [c for c in PRIMITIVE_CONSTRUCTS
          if not c.effect and not c.param and not any(list(t.vars()) for t in c.types)]
BRANCHED = tuple(c for c in GROUND if isinstance(c.types[1], Sum))
"""Pure primitives of fixed types with a sum output (`Lt`, `Eq`, `DivMod`): the generator branches on them
inside any signature (`Generator._rules`); an output as specific as ``Either () (Int, Int)`` is otherwise wanted
almost never."""
THROUGH = tuple(c for c in GROUND if not isinstance(c.types[1], Sum))
"""The other pure primitives of fixed types (`Add`, `Sub`, `Mul`): used in the middle of any signature too."""


PURE = tuple(c for c in PRIMITIVE_CONSTRUCTS if not c.effect)
EFFECTS = tuple(c for c in PRIMITIVE_CONSTRUCTS if c.effect)
EFFECTS_BY_STATE = all(Unit in c.types for c in EFFECTS)
"""Every effect reads or writes the state alone (`Get`, `Put`): its plans depend on the state's type only."""


def effect_plans(s: Type, a: Type, b: Type) -> tuple[tuple[Construct, int, Any], ...]:
    """How the state's readers and writers can serve in a term ``s / a -> b``: ``(construct, rule kind,
    type)`` (they depend on ``s`` alone; `pure_plans` gives the others).

    >>> from catlib.types import Int, Prod
    >>> def by_plan(s): return tuple((c, kind, share_or_none(t)) for c in EFFECTS for kind, t in _plan(c, s, Int, s))
    >>> all(effect_plans(s, Int, s) == by_plan(s) for s in (Prod(Int, Unit), Unit, Int, Sum(Unit, Unit)))
    True
    """
    if _STATE_SIDES is not None:  # (each effect reads or writes the state as it is: no substitution)
        shared = share(s)  # (`_plan` reads a writer of the state ``()`` as a reader: its input is ``()``)
        unit = s == Unit
        return tuple((c, READ if unit else kind, shared) for c, kind in _STATE_SIDES)
    return tuple((c, kind, share_or_none(t)) for c in EFFECTS for kind, t in _plan(c, s, a, b))


def _state_side(c: Construct) -> tuple[Construct, int] | None:
    """``(c, READ)`` for an effect ``() -> s``, ``(c, WRITE)`` for one ``s -> ()`` (``s`` the state's
    variable), else None."""
    dom, cod = c.types
    if dom == Unit and type(cod) is Var and cod.name == STATE_VARIABLE:
        return (c, READ)
    if cod == Unit and type(dom) is Var and dom.name == STATE_VARIABLE:
        return (c, WRITE)
    return None


_SIDES_OF_EFFECTS = tuple(x for c in EFFECTS for x in [_state_side(c)] if x is not None)
_STATE_SIDES = _SIDES_OF_EFFECTS if len(_SIDES_OF_EFFECTS) == len(EFFECTS) else None
"""Every effect's `_state_side` (None if one has none): `effect_plans` then needs no `_plan`."""


@functools.cache
def table(name: str) -> dict[Any, Any]:
    """The generator's cache called `name`, empty on first use.

    Made by a memoised function rather than kept in a module-level dict, so
    that ``table.cache_clear()`` forgets every table at once: tests/conftest.py
    does so before each test, and no test sees what an earlier one left.
    """
    return {}


def cached(name: str, key: Any, make: Callable[[], Any]) -> Any:
    """``table(name)[key]``, made on a miss and kept (`store`)."""
    value = table(name).get(key)
    return store(name, key, make()) if value is None else value


def store(name: str, key: Any, value: Any) -> Any:
    """`value`, put in ``table(name)`` under `key`; a table is emptied past 100,000 entries (hypothesis may
    ask for many odd types).  For a miss found by a lookup of one's own: no second lookup, no function
    made to make the value."""
    values = table(name)
    if len(values) > 100_000:
        values.clear()
    values[key] = value
    return value


def shared_type(cls: type, left: Type, right: Type) -> Type:
    """``cls(left, right)`` (`Prod`, `Sum` or `Fun`), one object per structure: the generator's tables are
    keyed by types, and a key found by identity is not compared node by node (`Tree.__eq__`).

    Only speed depends on the sharing, never a result: types are still compared with ``==``.
    """
    by_hash = table("made_by_hash")  # first by the parts' cached hashes, found by identity: no `Tree.__hash__`
    t = by_hash.get((cls, left._hash, right._hash))
    if t is not None and t.kids[0] is left and t.kids[1] is right:
        return t
    key = (cls, left, right)
    made = table("made")
    t = made.get(key)
    if t is None:
        canon = table("canon")
        if len(made) > 100_000:  # a bound: hypothesis may ask for many odd types
            for name in ("made", "canon", "made_by_hash", "strategies.depth_one"):  # (the generator's too)
                table(name).clear()
        t = made[key] = cls(left, right)
        canon.setdefault(t, t)
    by_hash[cls, left._hash, right._hash] = t
    return t


def share(t: Type) -> Type:
    """The shared object equal to `t` (see `shared_type`), its parts shared too."""
    if not t.kids:  # a leaf is shared as it is (`shared_type` builds on leaves as they come)
        return t
    canon = table("canon")
    shared = canon.get(t)
    if shared is not None:
        return shared
    shared = cast(Type, fold(t, lambda x, kids: shared_type(type(x), *cast(list[Type], kids)) if kids else x))
    canon = table("canon")  # (the same dict unless `shared_type` emptied the tables past their bound)
    canon[t] = canon[shared] = shared
    return shared


def share_or_none(t: Type | None) -> Type | None:
    """`share`, None kept."""
    return None if t is None else share(t)


def pure_plans(a: Type, b: Type) -> tuple[tuple[Construct, int, Any], ...]:
    """`_plan` for every pure primitive, in the table's order, from the halves that depend on ``b`` alone
    (*build*, *direct*) and on ``a`` alone (*inspect*), each cached per type: pairs ``a -> b`` are too many
    to cache well, their sides are few.  Most inputs ``a`` inspect nothing (only pairs do): then the plans
    are ``b``'s, made once, unless ``a`` is the input a *direct* one needs.

    The same as `_plan` for each primitive in turn (types of depth 1 against each other and against pairs and
    sums of them with a base type):

    >>> from catlib.types import Fun, Int, Prod
    >>> small = [Unit, Int, *(k(x, y) for k in (Prod, Sum, Fun) for x in (Unit, Int) for y in (Unit, Int))]
    >>> large = small + [k(x, y) for k in (Prod, Sum) for x in small for y in (Unit, Int)]
    >>> def by_plan(a, b): return tuple((c, kind, share_or_none(t)) for c in PURE for kind, t in _plan(c, Unit, a, b))
    >>> all(pure_plans(a, b) == by_plan(a, b) and pure_plans(b, a) == by_plan(b, a)
    ...     for a in small for b in large)
    True
    """
    # (each table keyed by the types' cached hashes, its entry found by identity: no `Tree.__hash__` call; a
    # miss, or another type of the same hash, makes the entry anew, equal to what it would have found)
    found = table("plans_by_output").get(b._hash)
    if found is None or found[0] is not b:
        found = store("plans_by_output", b._hash, (b, _by_output(b)))
    by_output = found[1]
    found = table("plans_by_input").get(a._hash)
    if found is None or found[0] is not a:
        found = store("plans_by_input", a._hash, (a, _by_input(a)))
    by_input = found[1]
    if not by_input and (not by_output[3] or a not in by_output[3]):  # (``Id``'s input must be ``b``, ...)
        return by_output[2]
    key = (a._hash, b._hash)
    found = table("plans_by_pair").get(key)
    if found is None or found[0] is not a or found[1] is not b:
        found = store("plans_by_pair", key, (a, b, _merge(a, by_output, by_input)))
    return found[2]


def _merge(a: Type, by_output: tuple[Any, ...], by_input: tuple[Any, ...]) -> tuple[Any, ...]:
    """The plans of `by_output` and `by_input` for input ``a``, in the table's order (a primitive's *build*
    before its *inspect*: keys ``2 * index`` and ``2 * index + 1`` are distinct ints, so the sort compares
    the keys alone, as ints)."""
    keyed, bound = by_output[:2]
    found = [*keyed, *((k, plan) for k, t, plan in bound if t == a), *by_input]
    found.sort()
    return tuple(map(_SECOND, found))  # (no generator run per pair)


_NEVER, _MATCH, _EQUAL = range(3)
"""How a primitive's side is matched against a type: never (a variable or ``()``: `_other_side`), by
`_instantiate`, or by ``==`` (a side without variables, the other side fixed: the answer is that side)."""


def _how(side: Type, other: Type) -> int:
    if isinstance(side, Var) or side == Unit:
        return _NEVER
    if next(side.vars(), None) is None:
        return _EQUAL if next(other.vars(), None) is None else _NEVER
    return _MATCH


_SIDES = tuple((i, c, dom, cod, _how(cod, dom), _how(dom, cod)) for i, c in enumerate(PURE) for dom, cod in [c.types])
"""Each pure primitive with its place, its type ``dom -> cod``, and how ``cod`` and ``dom`` are matched
(`_how`)."""

_CLASSES = {Prod, Sum, Fun, *(type(t) for t in (Unit, *(t for c in PURE for t in c.types)))}
_BY_OUTPUT_CLASS = {k: tuple(x for x in _SIDES if x[4] and type(x[3]) is k
                             or isinstance(x[2], Var) and type(x[3]) in (Var, k)) for k in _CLASSES}
_BY_INPUT_CLASS = {k: tuple(x for x in _SIDES if x[5] and type(x[2]) is k) for k in _CLASSES}
"""The `_SIDES` that may give plans (`_by_output`, `_by_input`) for a type of a given class (a side matches
a type of its own class, a variable any type): the others are not tried.  A class not here tries them all."""


def _match_side(how: int, side: Type, t: Type, other: Type) -> Type | None:
    """`_other_side`, knowing `how` `side` is matched."""
    if how == _MATCH:
        return _instantiate(side, t, other) if type(side) is type(t) else None
    return other if how == _EQUAL and side._hash == t._hash and side == t else None  # (unequal hashes: unequal)


def _by_output(b: Type) -> tuple[Any, ...]:
    """``b``'s half of `pure_plans`: the plans that depend on ``b`` alone, keyed by their place; the *direct*
    ones whose input must be a given type (``Id``: ``b`` itself), with it; the first as plain plans; and
    the types the second need.  *Direct* needs ``match(cod, b, {dom: a})``: the match of ``cod`` against
    ``b`` alone, whose binding of ``dom``, if it has one, must be ``a``."""
    keyed: list[tuple[int, Any]] = []
    bound: list[tuple[int, Type, Any]] = []
    for i, c, dom, cod, builds, _ in _BY_OUTPUT_CLASS.get(type(b), _SIDES):
        built = _match_side(builds, cod, b, dom) if builds else None
        if built is not None:
            keyed.append((2 * i, (c, BUILD, share(built))))
        elif isinstance(dom, Var):
            direct = _match(cod, b) if type(cod) is Var or type(cod) is type(b) else None  # (`match` fails else)
            if direct is not None:
                t = direct.get(dom.name)
                if t is None:
                    keyed.append((2 * i, (c, DIRECT, None)))
                else:
                    bound.append((2 * i, t, (c, DIRECT, None)))
    return tuple(keyed), tuple(bound), tuple(map(_SECOND, keyed)), tuple(map(_SECOND, bound))


def _by_input(a: Type) -> tuple[tuple[int, Any], ...]:
    """``a``'s half of `pure_plans`: the *inspect* plans, keyed by their place."""
    out = []
    for i, c, dom, cod, _, inspects in _BY_INPUT_CLASS.get(type(a), _SIDES):
        if inspects:
            inspected = _match_side(inspects, dom, a, cod)
            if inspected is not None:
                out.append((2 * i + 1, (c, INSPECT, share(inspected))))
    return tuple(out)


def _build(dom: Type, cod: Type, b: Type) -> Type | None:
    """The input type ``m`` that a primitive ``dom -> cod`` needs to build ``b`` (*build*), or None."""
    return _other_side(cod, b, dom)


def _inspect(dom: Type, cod: Type, a: Type) -> Type | None:
    """The output type ``m`` that a primitive ``dom -> cod`` makes from ``a`` (*inspect*), or None."""
    return _other_side(dom, a, cod)


def _other_side(side: Type, t: Type, other: Type) -> Type | None:
    """`other` instantiated by matching `side` against `t`, or None (`side` a variable or ``()``, no
    match, or `other` with variables the match does not fix)."""
    return _match_side(_how(side, other), side, t, other)


def _instantiate(side: Type, t: Type, other: Type) -> Type | None:
    """`_other_side` past its first checks (`side` neither a variable nor ``()``, and of `t`'s class: `match`
    fails otherwise).

    >>> from catlib.types import Int, Prod
    >>> dom, cod = next(c for c in PURE if c.name == "Distr").types
    >>> a = Prod(Sum(Int, Unit), Prod(Int, Int))
    >>> _instantiate(dom, a, cod) == substitute([cod], lambda v: match(dom, a)[v.name])[0]
    True
    """
    found = _match(side, t)
    if found is None:
        return None
    if type(other) is Var:
        return found.get(other.name)
    if not _variables(other) <= found.keys():
        return None
    # `substitute`, building shared types (`share` then finds them at once): a new type's plans are
    # made from here, on the generator's first sight of it; from `other`'s `_postorder` when it has one
    steps = _POSTORDER.get(id(other))
    if steps is None:
        return cast(Type, fold(other, lambda x, kids: found[x.name] if isinstance(x, Var)
                               else shared_type(type(x), *cast(list[Type], kids)) if kids else x))
    made: list[Type] = []
    for kind, v in steps:
        if kind == _VARIABLE:
            made.append(found[v])
        elif kind == _LEAF:
            made.append(v)
        else:
            right = made.pop()
            made[-1] = shared_type(v, made[-1], right)
    return made[0]


_VARIABLE, _LEAF, _NODE = range(3)


def _postorder(t: Type) -> tuple[tuple[int, Any], ...] | None:
    """`t`'s nodes in the order `fold` combines them (kids first, left first), for `_instantiate`:
    ``(_VARIABLE, name)``, ``(_LEAF, type)``, ``(_NODE, class)`` (a node of two kids); None when `t` has a
    node of another arity."""
    out: list[tuple[int, Any]] = []
    todo: list[tuple[Type, bool]] = [(t, False)]
    while todo:
        x, kids_done = todo.pop()
        if isinstance(x, Var):
            out.append((_VARIABLE, x.name))
        elif not x.kids:
            out.append((_LEAF, x))
        elif kids_done:
            out.append((_NODE, type(x)))
        elif len(x.kids) != 2:
            return None
        else:
            todo.append((x, True))
            todo.extend((k, False) for k in reversed(x.kids))
    return tuple(out)


_POSTORDER = {id(t): steps for c in PURE for t in c.types for steps in [_postorder(t)] if steps is not None}
"""The pure primitives' types as `_postorder` steps, by identity (they live as long as the table)."""


def _steps(pattern: Type) -> tuple[tuple[Any, ...], ...]:
    """`pattern` as the steps of `_match`, in the order `catlib.types.match` visits its nodes: ``(name,)``
    binds a variable, ``(class, label, arity)`` checks a node (its kids are visited next, left first)."""
    steps: list[tuple[Any, ...]] = []
    todo = [pattern]
    while todo:
        p = todo.pop()
        if isinstance(p, Var):
            steps.append((p.name,))
        else:
            steps.append((type(p), p.label, len(p.kids)))
            todo.extend(reversed(p.kids))
    return tuple(steps)


_STEPS = {id(t): _steps(t) for c in PURE for t in c.types}
"""The pure primitives' types as `_steps`, by identity (they live as long as the table)."""


def _match(pattern: Type, t: Type) -> dict[str, Type] | None:
    """``catlib.types.match(pattern, t)``, from `pattern`'s steps when it is one of the primitives' types:
    no pairing of kids, no property read per node (a new type's plans are made from here).

    >>> from catlib.types import Int, Prod
    >>> dom = next(c for c in PURE if c.name == "Distr").types[0]
    >>> all(_match(dom, t) == match(dom, t) for t in (Prod(Sum(Int, Unit), Int), Prod(Int, Int), Unit))
    True
    """
    steps = _STEPS.get(id(pattern))
    if steps is None:
        return match(pattern, t)
    binding: dict[str, Type] = {}
    todo = [t]
    for step in steps:
        x = todo.pop()
        if len(step) == 1:
            bound = binding.get(step[0])
            if bound is None:
                binding[step[0]] = x
            elif bound != x:
                return None
        else:
            if type(x) is not step[0] or x.label != step[1] or len(x.kids) != step[2]:
                return None
            todo.extend(reversed(x.kids))
    return binding


@functools.cache
def _variables(t: Type) -> frozenset[str]:
    """The variables of `t`, one of the primitives' types (they are few)."""
    return frozenset(t.vars())


def _plan(c: Construct, s: Type, a: Type, b: Type) -> list[tuple[int, Any]]:
    """How primitive `c` can serve in a term ``s / a -> b``: ``(rule kind, type)`` pairs (see
    `Generator._primitive_rule`)."""
    dom, cod = c.types
    if c.effect:
        dom, cod = substitute([dom, cod], lambda v: s if v.name == STATE_VARIABLE else v)
        if dom == Unit:
            return [(READ, cod)]
        if cod == Unit:
            return [(WRITE, dom)]
    out: list[tuple[int, Any]] = []
    built = _build(dom, cod, b)
    if built is not None:
        out.append((BUILD, built))
    if isinstance(dom, Var):
        if built is None and match(cod, b, {dom.name: a}) is not None:
            out.append((DIRECT, None))
    else:
        inspected = _inspect(dom, cod, a)
        if inspected is not None:
            out.append((INSPECT, inspected))
    return out


FIXED_TYPES = {c.name: (share(c.types[0]), share(c.types[1])) for c in GROUND}
"""The fixed types of `THROUGH` and `BRANCHED`, shared (`shared_type`)."""


def seeded_choose(rng: random.Random) -> Callable[[int, int], int]:
    """``rng.randint``, the same numbers from the same state, without its three layers of calls.

    >>> a, b, ranges = random.Random(5), random.Random(5), [(0, 0), (0, 1), (-4, 4), (0, 5), (0, 2**64)] * 50
    >>> choose = seeded_choose(b)
    >>> [a.randint(lo, hi) for lo, hi in ranges] == [choose(lo, hi) for lo, hi in ranges]
    True
    """
    getrandbits = rng.getrandbits

    def choose(lo: int, hi: int) -> int:
        # `Random._randbelow_with_getrandbits(hi - lo + 1)`: rejection sampling on k bits
        n = hi - lo + 1
        if n <= 0:
            raise ValueError(f"empty range for choose({lo}, {hi})")
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return lo + r

    return choose
