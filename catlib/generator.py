"""Type-directed generation of well-typed terms, types and values, driven by one `choose` function.

`Generator` runs on hypothesis's draws (the strategies of `catlib.strategies`)
or on a plain `random.Random` (`Generator.seeded`), for campaigns of
millions of terms where hypothesis's bookkeeping would dominate
(``python -m cam.check``).  Every rule is type-directed and never filters:
every type is inhabited, so a term of any requested signature can be built.

>>> g = Generator.seeded(0)
>>> from catlib.typecheck import check
>>> f = g.term(Int, Int, Int, 6)
>>> check(f, state="Int", input="Int", output="Int") is not None
True

How generation works: to build ``f : a -> b`` with fuel `n`, pick a rule
that fits (compose through a middle type; fan out or run in parallel into
a product; case on a sum, or branch on a sum computed from the input with
the input in scope; a primitive, used as its type scheme in
`catlib.constructs` allows: project out of a product, inject into a sum,
distribute, constants and addition, read or write the state; build a
closure with `Curry` where a function is wanted, or apply one, built from
the input, with `Apply`; an embedded host function), split the remaining
fuel among the subterms, and recurse.
A new primitive in the table is generated without a change here.  At fuel 0 the smallest term of that
type is built; fuel and splits shrink towards 0, so hypothesis shrinks
failures to small, still well-typed, terms.

**Functions.**  `Apply` is used inside any signature, so closures (and
function types in the middle of terms) occur in every run.  With
``functions=True`` function types also occur in the signatures drawn
(input, output, state) and `Generator.value` makes closures
(`catlib.values.Curried`, their bodies generated terms).  Where the state
holds functions, closures are generated without `Get`/`Put` (as the
verifier demands, `cam.verifier`): a closure that reads the state could
fetch itself from there and call itself forever.
"""

from __future__ import annotations

import builtins  # the class Generator has a method `int`, which shadows the type in its body
import random
from collections.abc import Callable
from typing import Any

from catlib.constructs import CONSTRUCTS, Construct
from catlib.free import FREE, Apply, Case, Compose, Const, Consume, Copy, Curry, Distr, Embed, Id, Inl, Par, Term
from catlib.plans import BRANCHED as _BRANCHED
from catlib.plans import BUILD as _BUILD
from catlib.plans import DIRECT as _DIRECT
from catlib.plans import EFFECTS_BY_STATE as _EFFECTS_BY_STATE
from catlib.plans import FIXED_TYPES as _TYPES
from catlib.plans import READ as _READ
from catlib.plans import THROUGH as _THROUGH
from catlib.plans import WRITE as _WRITE
from catlib.plans import cached as _cached
from catlib.plans import effect_plans as _effect_plans
from catlib.plans import pure_plans as _pure_plans
from catlib.plans import seeded_choose as _randint
from catlib.plans import share as _canon
from catlib.plans import shared_type as _make
from catlib.plans import store as _store
from catlib.plans import table as _table
from catlib.tree import Tree, walk
from catlib.types import Fun, Int, Prod, Sum, Type, Unit
from catlib.values import INT_MAX, INT_MIN, Curried, HostValue, Left, Right

__all__ = ["Generator", "Choose", "CONSTRUCTORS"]

CONSTRUCTORS = tuple(CONSTRUCTS)
"""Every constructor of the free category (`Embed` only when asked for)."""


Choose = Callable[[int, int], int]
"""``choose(lo, hi)``: an integer in ``[lo, hi]``; smaller is simpler."""


_COMPOSE, _FANOUT, _PAR, _CASE, _CURRY, _APPLY, _CASE_WITH, _VIA, _BRANCH_ON, _EMBED = (
    "compose", "fanout", "par", "case", "curry", "apply", "case_with", "via", "branch_on", "embed")
"""The structural rules of `Generator._rules` (a primitive's rule is its `_pure_plans` or `_effect_plans` triple)."""


_NEW = object.__new__
_SET_KIDS, _SET_LABEL, _SET_HASH = (Tree.__dict__[slot].__set__ for slot in ("kids", "label", "_hash"))
"""Making a node as `catlib.tree.Tree` does, without its checks and calls (`_binary`, `_const`)."""


def _binary(cls: type[Term]) -> Callable[[Term, Term], Term]:
    """``cls(x, y)`` for the generator's terms `x`, `y`, made as `catlib.tree.Tree` makes it -- the same kids,
    label and cached hash -- without its checks and two calls: a campaign builds some fifteen nodes per term.

    >>> from catlib.free import Copy, Fst
    >>> for cls in (Compose, Par, Case):
    ...     made, built = _binary(cls)(Fst, _binary(cls)(Copy, Fst)), cls(Fst, cls(Copy, Fst))
    ...     assert (type(made), made.kids, made.label, hash(made), made) == (cls, built.kids, None, hash(built), built)
    """
    name = cls.__name__

    def make(x: Term, y: Term) -> Term:
        t = _NEW(cls)
        _SET_KIDS(t, (x, y))
        _SET_LABEL(t, None)
        _SET_HASH(t, hash((name, None, x._hash, y._hash)))
        return t

    make.__qualname__ = f"_binary({name})"
    return make


_compose, _par, _case = _binary(Compose), _binary(Par), _binary(Case)


def _const(k: int) -> Term:
    """``Const(k)`` for the generator's 64-bit `k` (`Generator.int`), made as `_binary` makes a node.

    >>> all((type(c), c.kids, c.label, hash(c), c) == (Const, (), k, hash(Const(k)), Const(k))
    ...     for k in (0, -3, INT_MAX) for c in [_const(k)])
    True
    """
    t = _NEW(Const)
    _SET_KIDS(t, ())
    _SET_LABEL(t, k)
    _SET_HASH(t, hash(("Const", k)))
    return t


_FIXED = {c.name: made for c in CONSTRUCTS.values() if not c.kids and not c.param and c.name != "Embed"
          for made in [getattr(FREE, c.method)()] if made is getattr(FREE, c.method)()}
"""The primitives without a parameter, by name: each is one term (`catlib.free`), made once here."""


_BASES, _KINDS = (Unit, Int), (Prod, Sum, Fun)
"""`Generator.type`'s kinds: 0 and 1 a base type, 2 to 4 (`_KINDS[k - 2]`) a type made of two."""


def _depth_one(functions: bool) -> tuple[Type, ...]:
    """`Generator.type`'s draws at depth 1, one choice of ``4 * kinds`` slots: slot ``4 * k + 2 * x + y`` is
    base type ``k`` (k < 2, four slots each) or ``_KINDS[k - 2](_BASES[x], _BASES[y])``, shared
    (`catlib.plans.shared_type`), so that one uniform choice gives each type the odds that a kind then its
    two parts drawn in turn would; made once per set of tables.

    >>> one = _depth_one(False)
    >>> len(one), one[:8] == (Unit,) * 4 + (Int,) * 4, one[4 * 3 + 2 * 1 + 0] == Sum(Int, Unit)
    (16, True, True)
    >>> _depth_one(True)[4 * 4 + 1] is _make(Fun, Unit, Int)
    True
    """
    # (a table emptied with `shared_type`'s: its types are shared)
    found: tuple[Type, ...] | None = _table("strategies.depth_one").get(functions)
    if found is None:
        found = _store("strategies.depth_one", functions, tuple(
            _BASES[k] if k < 2 else _make(_KINDS[k - 2], x, y)
            for k in range(5 if functions else 4) for x in _BASES for y in _BASES))
    return found


class Generator:
    """Type-directed generation driven by a `Choose` function.

    `choose` is hypothesis's ``draw(integers(lo, hi))`` in the strategies
    below, or ``Random.randint`` for fast campaigns (`Generator.seeded`).
    """

    def __init__(self, choose: Choose, *, pure: bool = False, embed: bool = False,
                 type_depth: int = 2, without: frozenset[str] = frozenset(), functions: bool = False) -> None:
        self.choose, self.pure, self.embed, self.type_depth = choose, pure, embed, type_depth
        self.without, self.functions = without, functions
        self._flags = (pure, without, embed)  # what the rules depend on besides the signature (`_rules`)
        self._pure_twin: Generator | None = None
        self._bodies: Generator | None = None  # the generator of closures' bodies in values (`value`)
        self._state: Type | None = None  # the last state met and its `_state_rules` (`_term`)
        self._held: tuple[Any, ...] = ()
        # the tables read on every rule, held (`catlib.plans.table` is a call): this generator's rules by
        # signature (the flags are its own), a type's parts and a smallest term by output (`_smallest`)
        self._by_signature: dict[Any, Any] = _table("strategies.rules").setdefault(self._flags, {})
        self._parts, self._smallest_by_output = _table("strategies.parts"), _table("strategies.smallest_by_output")
        self._depth_one = _depth_one(functions)

    def _closures(self, s: Type) -> Generator:
        """The generator for closures' bodies in state `s`: this one, or a pure twin where `s` holds functions."""
        if self.pure or not any(isinstance(x, Fun) for x in walk(s)):
            return self
        if self._pure_twin is None:
            self._pure_twin = Generator(self.choose, pure=True, embed=self.embed, type_depth=self.type_depth,
                                        without=self.without, functions=self.functions)
        return self._pure_twin

    @classmethod
    def seeded(cls, seed: int, **options: Any) -> Generator:
        """A reproducible generator on `random.Random(seed)`."""
        return cls(_randint(random.Random(seed)), **options)

    def type(self, depth: int | None = None) -> Type:
        """A ground type of at most `depth` nested products/sums (and functions, with ``functions``).

        A kind is drawn, then its two parts, with fewer choices at the same odds (a choice is most of what a
        type costs under hypothesis): a type of depth 1 is one choice (`_depth_one`); at depth 2 the kind and
        the first part are one choice of ``kinds * len(one)`` (at most 100: hypothesis draws it uniformly)."""
        depth = self.type_depth if depth is None else depth
        choose = self.choose
        one = self._depth_one
        if depth == 1:
            return one[choose(0, len(one) - 1)]
        if depth == 2:
            k, first = divmod(choose(0, (5 if self.functions else 4) * len(one) - 1), len(one))
            if k < 2:
                return _BASES[k]
            return _make(_KINDS[k - 2], one[first], one[choose(0, len(one) - 1)])
        k = choose(0, (4 if self.functions else 3) if depth > 0 else 1)
        if k < 2:
            return _BASES[k]
        return _make(_KINDS[k - 2], self.type(depth - 1), self.type(depth - 1))

    def int(self) -> int:
        """A 64-bit integer, small ones most often, the extremes sometimes."""
        k = self.choose(0, 2)
        if k == 0:
            return self.choose(-4, 4) if self.choose(0, 1) else self.choose(0, 4)
        if k == 1:
            return self.choose(-(2**16), 2**16)
        return self.choose(INT_MIN, INT_MAX)

    def value(self, t: Type) -> HostValue:
        """A host value of ground type `t`."""
        kind = type(t)  # (by class first: most types are made of two, and `==` runs in Python)
        if kind is Prod:
            return (self.value(t.kids[0]), self.value(t.kids[1]))
        if kind is Sum:
            side = self.choose(0, 1)
            return (Left, Right)[side](self.value(t.kids[side]))
        if t is Unit or t == Unit:  # (the generator's types share their leaves: by identity first)
            return ()
        if t is Int or t == Int:
            return self.int()
        if kind is Fun:
            # a closure: an environment and a body that leaves the state alone (it may be kept in the state);
            # its environment's type (as `type(1)`) and its body's fuel (0 to 6) are one choice, at the same odds
            e, fuel = divmod(self.choose(0, 7 * len(self._depth_one) - 1), 7)
            env, bodies = self._depth_one[e], self._bodies
            if bodies is None:  # (made once: a generator's tables are looked up as it is made)
                bodies = self._bodies = Generator(self.choose, pure=True, type_depth=1, without=self.without)
            body = bodies.term(Unit, _make(Prod, env, t.kids[0]), t.kids[1], fuel)
            return Curried(body, self.value(env))
        raise ValueError(f"values need a ground type of (), Int, pairs, sums and functions, not {t}")

    def term(self, state: Type, a: Type, b: Type, fuel: builtins.int) -> Term:
        """A term of signature ``state / a -> b`` using about `fuel` rules."""
        return self._term(_canon(state), _canon(a), _canon(b), fuel)

    def _term(self, state: Type, a: Type, b: Type, fuel: builtins.int) -> Term:
        if fuel <= 0:
            return self._smallest(a, b)
        # With fuel left a rule is always applied, so a term's size follows its
        # fuel; the smallest term stays reachable (and is what hypothesis
        # shrinks towards) through fuel 0 in the splits.
        # `_rules` then `_state_rules`, the common case inline: one rule drawn from both (keyed by the types'
        # cached hashes, found by identity: no `Tree.__hash__` call; `_rules` on a miss or on another signature
        # of the same hashes)
        found = self._by_signature.get((a._hash, b._hash))
        signature = found[2] if found is not None and found[0] is a and found[1] is b else self._rules(a, b)
        if state is self._state:  # (a term's state is one type throughout: its half is held here)
            anywhere = self._held
        else:
            anywhere = self._state_rules(state, a, b)
            if _EFFECTS_BY_STATE:
                self._state, self._held = state, anywhere
        n = len(signature)
        r = self.choose(0, n + len(anywhere) - 1)
        rule = signature[r] if r < n else anywhere[r - n]
        if type(rule) is tuple and len(rule) == 3:  # a primitive's plan, the commonest rule: one call fewer
            return self._primitive_rule(rule[0], rule[1], rule[2], state, a, b, fuel - 1)
        return self._rule(rule, state, a, b, fuel - 1)

    def _split(self, fuel: builtins.int) -> tuple[builtins.int, builtins.int]:
        left = self.choose(0, fuel) if fuel > 0 else 0
        return left, fuel - left

    def _rules(self, a: Type, b: Type) -> tuple[Any, ...]:
        """The rules that fit ``a -> b`` for this generator whatever the state, as data (`_rule` applies one);
        a rule of ``s / a -> b`` is drawn from these followed by `_state_rules`.

        Cached: generation asks for the same signatures again and again, and only the chosen rule is built,
        so a rule's order and count (what `choose` sees) are all that matter here.  Signatures are many
        (middle types are drawn), so a new one is put together from parts cached on fewer types: the
        structural rules (by the kinds of ``a`` and ``b``) and the primitives' plans (by ``a -> b``).  The
        state's part is kept apart: keyed by ``a -> b`` alone, a new signature is met less often."""
        flags = self._flags
        # each part looked up first, made (by `_cached`) on a miss: a signature is often new, its parts seldom
        key_h = (type(a), type(b), flags)
        head = _table("strategies.heads").get(key_h) or _cached("strategies.heads", key_h,
                                                               lambda: self._structural(a, b))
        if not self.pure and not self.without:  # every plan allowed: `_pure_plans` caches them
            plans = _pure_plans(a, b)
        else:
            key_p = (a, b, flags)
            plans = _table("strategies.allowed").get(key_p) or _cached(
                "strategies.allowed", key_p, lambda: self._allowed(_pure_plans(a, b)))
        table = self._by_signature  # the generator's caches: see `catlib.plans.table`
        if len(table) > 100_000:  # a bound: hypothesis may ask for many odd types
            table.clear()
        rules = head + plans
        table[a._hash, b._hash] = (a, b, rules)
        return rules

    def _state_rules(self, s: Type, a: Type, b: Type) -> tuple[Any, ...]:
        """The rules of ``s / a -> b`` that `_rules` leaves out: the state's effects and the rules that fit
        any signature (cached by the state alone where the effects depend on it alone)."""
        flags = self._flags
        key = (s, flags) if _EFFECTS_BY_STATE else (s, a, b, flags)
        rules = _table("strategies.state_rules").get(key)
        if rules is None:
            tail = _table("strategies.tails").get(flags) or _store("strategies.tails", flags, self._anywhere())
            rules = _store("strategies.state_rules", key, self._allowed(_effect_plans(s, a, b)) + tail)
        return rules

    def _structural(self, a: Type, b: Type) -> tuple[Any, ...]:
        """The structural rules that fit ``a -> b``: they depend on the kinds of ``a`` and ``b`` only."""
        menu: list[Any] = [_COMPOSE]
        if isinstance(b, Prod):
            menu.append(_FANOUT)
            if isinstance(a, Prod):
                menu.append(_PAR)
        if isinstance(a, Sum):
            menu.append(_CASE)
        if isinstance(b, Fun) and "Curry" not in self.without:
            menu.append(_CURRY)
        if "Apply" not in self.without:
            menu.append(_APPLY)
        menu.append(_CASE_WITH)
        return tuple(menu)

    def _allowed(self, plans: tuple[tuple[Construct, builtins.int, Any], ...]
                 ) -> tuple[tuple[Construct, builtins.int, Any], ...]:
        """The `plans` of primitives this generator may use."""
        return tuple(p for p in plans if not (self.pure and p[0].effect) and p[0].name not in self.without)

    def _anywhere(self) -> tuple[Any, ...]:
        """The rules that fit any signature: through a pure primitive, branching on one, an embedded function."""
        menu: list[Any] = []
        through = tuple(c for c in _THROUGH if c.name not in self.without)
        if through:
            menu.append((_VIA, through))
        branched = tuple(c for c in _BRANCHED if c.name not in self.without)
        if branched:
            menu.append((_BRANCH_ON, branched))
        if self.embed:
            menu.append(_EMBED)
        return tuple(menu)

    def _rule(self, rule: Any, s: Type, a: Type, b: Type, n: builtins.int) -> Term:
        """Apply `rule` (one of `_rules`, not a primitive's plan: `_term` applies those) to build a term
        ``s / a -> b`` with fuel `n`."""
        T = self._term
        if rule is _COMPOSE:
            m = self.type()
            nf, ng = self._split(n)
            return _compose(T(s, m, b, ng), T(s, a, m, nf))
        if rule is _FANOUT:
            nf, ng = self._split(n)
            return _compose(_par(T(s, a, b.kids[0], nf), T(s, a, b.kids[1], ng)), Copy)
        if rule is _PAR:
            nf, ng = self._split(n)
            return _par(T(s, a.kids[0], b.kids[0], nf), T(s, a.kids[1], b.kids[1], ng))
        if rule is _CASE:
            nf, ng = self._split(n)
            return _case(T(s, a.kids[0], b, nf), T(s, a.kids[1], b, ng))
        if rule is _CURRY:
            return Curry(self._closures(s)._term(s, _make(Prod, a, b.kids[0]), b.kids[1], n))
        if rule is _APPLY:
            # a function built from the input, applied to an argument built from the input
            x = self.type(1)
            nf, nx = self._split(n)
            return _compose(Apply, _compose(_par(T(s, a, _make(Fun, x, b), nf), T(s, a, x, nx)), Copy))
        if rule is _CASE_WITH:
            # what `catlib.syntax.kase_with` builds: branch on a sum computed
            # from the input, each branch seeing the input too
            x, y = self.type(1), self.type(1)
            ne, rest = self._split(n)
            nf, ng = self._split(rest)
            scrutinee = _compose(_par(T(s, a, _make(Sum, x, y), ne), Id), Copy)
            branches = _case(T(s, _make(Prod, x, a), b, nf), T(s, _make(Prod, y, a), b, ng))
            return _compose(branches, _compose(Distr, scrutinee))
        if rule is _EMBED:
            return self._embed(a, b, n)
        if rule[0] is _VIA:
            through = rule[1]
            c = through[self.choose(0, len(through) - 1)]
            dom, cod = _TYPES[c.name]
            nf, ng = self._split(max(n - 1, 0))  # two rules' worth: compose, and build with `c`
            return _compose(T(s, cod, b, ng), _compose(self._primitive(c), T(s, a, dom, nf)))
        # what is left is `_BRANCH_ON`: a comparison or a division inside any signature (see _BRANCHED), used
        # as it is written, `kase_with(yes, no, p < q)`: its answer is branched on, each branch seeing the input
        branched = rule[1]
        c = branched[self.choose(0, len(branched) - 1)]
        dom, (x, y) = _TYPES[c.name][0], _TYPES[c.name][1].kids
        ne, rest = self._split(max(n - 1, 0))  # two rules' worth: case_with, and build with `c`
        nf, ng = self._split(rest)
        scrutinee = _compose(_par(_compose(self._primitive(c), T(s, a, dom, ne)), Id), Copy)
        branches = _case(T(s, _make(Prod, x, a), b, nf), T(s, _make(Prod, y, a), b, ng))
        return _compose(branches, _compose(Distr, scrutinee))

    def _primitive(self, c: Construct) -> Term:
        made = _FIXED.get(c.name)
        if made is not None:
            return made
        return _const(self.int()) if c.param == "int64" else getattr(FREE, c.method)()

    def _primitive_rule(self, c: Construct, kind: builtins.int, t: Any, s: Type, a: Type, b: Type,
                        n: builtins.int) -> Term:
        """A term with fuel `n` that uses primitive `c`, of a `kind` read off its scheme (`catlib.constructs`,
        `_plan`):

        - *direct*: it takes any input (its input type is a variable) and its
          output fits ``b`` (``Const``, ``Consume``, ``Copy``, ``Id``);
        - *inspect*: its input type has structure that ``a`` fits, and fixes
          its output type ``m``: `c` then a term ``m -> b`` (``Fst``, ``Distr``);
        - *build*: its output type has structure that ``b`` fits, and fixes
          its input type ``m``: a term ``a -> m`` then `c` (``Inl``, ``Add``);
        - *effects*: a state reader ``() -> m`` runs from any input (after
          ``Consume``), a state writer ``m -> ()`` on a term ``a -> m``, and
          the rest of the output is built from ``()`` (``Get``, ``Put``).

        `c` is made where it is used (a `Const` draws its integer then), so the choices come in one order.
        """
        # (types compared as `Tree.__eq__` does, by identity then by their cached hashes first: the generator's
        # types are shared, so most equal ones are the same object and most unequal ones differ in hash)
        T = self._term
        if kind == _DIRECT:
            return self._primitive(c)
        if kind == _BUILD:
            return (self._primitive(c) if a is t or a._hash == t._hash and a == t
                    else _compose(self._primitive(c), T(s, a, t, n)))
        if kind == _READ:
            return (self._primitive(c) if a == Unit and t == b
                    else _compose(T(s, t, b, n), _compose(self._primitive(c), Consume)))
        if kind == _WRITE:
            nf, ng = self._split(n)
            f = (self._primitive(c) if a is t or a._hash == t._hash and a == t
                 else _compose(self._primitive(c), T(s, a, t, nf)))
            return f if b == Unit else _compose(T(s, Unit, b, ng), f)
        return (self._primitive(c) if t is b or t._hash == b._hash and t == b
                else _compose(T(s, t, b, n), self._primitive(c)))

    def _embed(self, a: Type, b: Type, fuel: builtins.int) -> Term:
        from catlib.interpreter import step

        body = Generator(self.choose, pure=True, type_depth=self.type_depth).term(Unit, a, b, fuel)

        def embedded(x: HostValue, body: Term = body) -> HostValue:
            return step(body, x, ())[1]

        embedded.__qualname__ = f"embedded_{abs(hash(body)) % 10**6}"
        return Embed(embedded, a, b)

    def _smallest(self, a: Type, b: Type) -> Term:
        """The smallest term ``a -> b`` we know: Id, or build `b` from nothing (terms are immutable: one
        object serves every use of a signature).

        Cached by `b` alone for the inputs `a` that are no part of `b` (most: signatures ``a -> b`` are too
        many to cache well): `_build_smallest` compares `b`'s parts with `a` (or with pairs holding `a`,
        under a function type) and makes `Id` where they are equal, so for such an `a` it makes the same
        term, built once per `b`."""
        # (each table keyed by the types' cached hashes and its entry found by identity: no `Tree.__hash__`
        # call; a miss, or another type of the same hash, makes the entry anew)
        found = self._parts.get(b._hash)
        if found is None or found[0] is not b:
            parts = frozenset(walk(b))
            found = _store("strategies.parts", b._hash, (b, parts, frozenset(t._hash for t in parts)))
        if a._hash in found[2] and a in found[1]:  # (equal types hash alike: most `a` stop at their hash)
            entry = _table("strategies.smallest").get((a._hash, b._hash))
            if entry is not None and entry[0] is a and entry[1] is b:
                return entry[2]
            return _store("strategies.smallest", (a._hash, b._hash), (a, b, self._build_smallest(a, b)))[2]
        entry = self._smallest_by_output.get(b._hash)
        if entry is not None and entry[0] is b:
            return entry[1]
        return _store("strategies.smallest_by_output", b._hash, (b, self._build_smallest(a, b)))[1]

    def _build_smallest(self, a: Type, b: Type) -> Term:
        if a == b:
            return Id
        if b == Unit:
            return Consume
        if b == Int:
            return Const(0)
        if isinstance(b, Prod):
            return _compose(_par(self._smallest(a, b.kids[0]), self._smallest(a, b.kids[1])), Copy)
        if isinstance(b, Sum):
            return _compose(Inl, self._smallest(a, b.kids[0]))
        if isinstance(b, Fun):
            return Curry(self._smallest(_make(Prod, a, b.kids[0]), b.kids[1]))
        raise ValueError(f"terms need ground types of (), Int, pairs, sums and functions, not {b}")
