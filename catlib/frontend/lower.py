"""From value nodes to a free term: sharing what is used twice, passing branches what they need.

A *region* is the part of the graph computed from one source: the
machine's input at the top, and inside a branch of a `CASE` the pair of
the branch's payload and what the branch needs from outside.  The term of a
region is built by structure (``(a, b)`` is ``Compose(Par(a, b), Copy)``,
``fst p`` is ``Compose(Fst, p)``, ...), with two refinements:

- **Sharing.**  A node used more than once in a region, and big enough that
  recomputing it costs more than keeping it, is computed once: the region's
  source is replaced by a tuple of the shared nodes and of the atoms still
  needed, and the rest reads them by projection (innermost shared nodes
  first, a layer of tuples for each level of nesting).  Structurally equal
  nodes are merged first, so ``balance + k`` written twice is one node.
  What to share is decided in one walk from the leaves up, and every layer
  is built from that decision (then again, at most `ROUNDS` times, while
  the smaller terms make more worth sharing): the search is a few walks
  over the region, not one per layer.
- **Branches.**  A branch sees only its payload unless it needs outer
  values; then `Distr` hands it ``(payload, needs)``, where `needs` are the
  largest outer nodes the branch uses (computed before branching: the
  language is pure and total, so this changes no answer).  Constants and
  the state read (``Get``) need nothing: they are computed where used,
  unless they hold a branch and have several users (`Lowering.cheap`):
  computing those again in every branch would double the term at each
  level of nested branches.

The machine itself reads the state with ``Get`` wherever its value is used
and writes it once, at the end: ``Put`` of the first component of the
result, after everything else (no ``Get`` runs after it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from catlib.free import (
    Add,
    Apply,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
    Curry,
    Distr,
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
from catlib.frontend.ir import APPLY, CASE, CURRY, FST, INL, INR, LIT, PAIR, PRIM, SND, STATE, TEST, UNIT, VAR, Node
from catlib.origin import place
from catlib.tree import walk
from catlib.types import Unifier

__all__ = ["lower_machine", "lower_function", "comp", "tuple_term", "projections", "tree_size"]

_PRIMS: dict[str, Term] = {"Add": Add, "Sub": Sub, "Mul": Mul, "Lt": Lt, "Eq": Eq, "DivMod": DivMod}
_GET = Compose(Get, Consume)
_READ = Fst  # a shared value below, as read from the tuple of shared values (all sizes decided as before)


def comp(g: Term, f: Term) -> Term:
    """``g`` after ``f``, leaving out identities."""
    if g == Id:
        return f
    if f == Id:
        return g
    return Compose(g, f)


def tuple_term(terms: list[Term]) -> Term:
    """The right-nested tuple of `terms` (one term: itself)."""
    out = terms[-1]
    for t in reversed(terms[:-1]):
        out = Compose(Par(t, out), Copy)
    return out


def projections(k: int) -> list[Term]:
    """The terms reading each component of a right-nested tuple of `k` (none for 0).

    >>> projections(3)
    [Fst, Compose(Fst, Snd), Compose(Snd, Snd)]
    >>> projections(0)
    []
    """
    if k <= 1:
        return [Id] * k
    out: list[Term] = [Fst, Snd]  # the last two of the tuple: read from its innermost pair
    for _ in range(k - 2):
        out = [Fst, *(comp(p, Snd) for p in out)]
    return out


def tree_size(t: Term, memo: dict[int, int] | None = None) -> int:
    """`t.size()` in time linear in its distinct nodes (a term made of shared parts unfolds to a
    tree that may be exponentially larger: deciding what to share must not walk that tree)."""
    memo = {} if memo is None else memo
    todo: list[tuple[Term, bool]] = [(t, False)]
    while todo:
        x, ready = todo.pop()
        if id(x) in memo:
            continue
        if ready or not x.kids:
            memo[id(x)] = 1 + sum(memo[id(k)] for k in x.kids)
        else:
            todo.append((x, True))
            todo.extend((k, False) for k in x.kids if id(k) not in memo)
    return memo[id(t)]


ROUNDS = 4
"""How many times a region decides what to share (see `Lowering._region`): each decision shares
every layer at once, so this bounds the search at a few walks over the region."""


def worth_sharing(uses: int, size: int) -> bool:
    """Whether computing a node of term `size` once beats recomputing it at each of its `uses`
    (keeping it costs a tuple slot, about three nodes, and a projection per use)."""
    return uses >= 2 and (uses - 1) * size > 3 + 2 * uses


class Lowering:
    """Lowers the nodes of one elaborated function (see the module docstring)."""

    def __init__(self, u: Unifier) -> None:
        self.u = u
        self._canon: dict[object, Node] = {}
        self._seen: dict[int, Node] = {}
        self._needs: dict[tuple[int, bool], list[Node]] = {}
        self._capture = False  # inside a closure's body: branches receive the state read, not Get
        self._state: dict[int, bool] = {}
        self._cheap: dict[int, bool] = {}
        self.users: Counter[Node] = Counter()
        self._regions: dict[object, Term] = {}
        self._keep: list[Node] = []

    # ---------------------------------------------------------------- merging equal nodes

    def canon(self, n: Node) -> Node:
        """The one node structurally equal to `n` (same kind, label, kids and type)."""
        if id(n) in self._seen:
            return self._seen[id(n)]
        kids = tuple(self.canon(k) for k in n.kids)
        if n.kind in (VAR, STATE):
            key: object = n
        else:
            label = tuple(id(v) for v in n.label) if n.kind in (CASE, CURRY) else n.label
            key = (n.kind, label, tuple(id(k) for k in kids), self.u.resolve(n.type))
        if key not in self._canon:
            if all(a is b for a, b in zip(kids, n.kids)):
                m = n
            else:
                fv = None
                if n.kind == CASE:
                    (lv, _), (rv, _) = n.branches
                    fv = kids[0].fv | (kids[1].fv - {lv}) | (kids[2].fv - {rv})
                elif n.kind == CURRY:
                    fv = kids[0].fv - {n.label[0]}
                m = Node(n.kind, kids, n.label, n.type, fv=fv, test=n.test, name=n.name)
            self._canon[key] = m
        self._keep.append(n)
        self._seen[id(n)] = self._canon[key]
        return self._canon[key]

    # ---------------------------------------------------------------- regions

    def children(self, n: Node) -> list[Node]:
        """What `n` is computed from in its region: a case's scrutinee and its branches' needs."""
        if n.kind == CASE:
            return [n.kids[0], *self.needs(n)]
        if n.kind == CURRY:
            return self.needs(n)
        return list(n.kids)

    def needs(self, n: Node) -> list[Node]:
        """The largest nodes from outside that `n`'s branches use (not constants or state reads; a
        closure captures the state read, since its body runs later, when the state may differ)."""
        capture = n.kind == CURRY or self._capture
        key = (id(n), capture)
        if key not in self._needs:
            acc: dict[Node, None] = {}
            was, self._capture = self._capture, capture  # nested branches see the same rule
            for v, body in n.branches:
                todo, seen = [body], set()
                while todo:
                    m = todo.pop()
                    if id(m) in seen or m is v:
                        continue
                    seen.add(id(m))
                    if v in m.fv:  # computed in the branch, from its payload
                        todo.extend(self.children(m))
                    elif m.fv or capture and self.reads_state(m) or self.users[m] > 1 and not self.cheap(m):
                        acc[m] = None
                    elif not self.cheap(m):  # computed in the branch, once: what it needs is needed
                        todo.extend(self.children(m))
            self._capture = was
            self._needs[key] = sorted(acc, key=lambda m: m.serial)
        return self._needs[key]

    def count_users(self, root: Node) -> None:
        """How many nodes use each node below `root` (a case or function body counts as used by it)."""
        self.users.clear()
        todo, seen = [root], {id(root)}
        while todo:
            n = todo.pop()
            for k in n.kids:
                self.users[k] += 1
                if id(k) not in seen:
                    seen.add(id(k))
                    todo.append(k)

    def cheap(self, n: Node) -> bool:
        """Whether `n` may be computed again in each branch that uses it: it holds no branch and no
        function (whose bodies are regions of their own).

        A value of constants and the state that holds one, and that more than one node uses, is
        computed before branching and handed in, like a value of the input: computing it again in
        each branch that uses it doubles it at each level of nested branches (the term would grow
        exponentially with the program).  One used once is computed where it is used, once; one
        without branches at most once per region."""
        if id(n) not in self._cheap:
            # nodes are at most MAX_HEIGHT deep: this recursion is bounded
            self._cheap[id(n)] = n.kind not in (CASE, CURRY) and all(self.cheap(k) for k in n.kids)
            self._keep.append(n)
        return self._cheap[id(n)]

    def reads_state(self, n: Node) -> bool:
        """Whether `n`'s value depends on the state read at the start of the step."""
        if id(n) not in self._state:
            # nodes are at most MAX_HEIGHT deep: this recursion is bounded
            self._state[id(n)] = n.kind == STATE or any(self.reads_state(k) for k in n.kids)
            self._keep.append(n)
        return self._state[id(n)]

    def _uses(self, root: Node, ctx: dict[Node, Term]) -> Counter[Node]:
        uses: Counter[Node] = Counter()
        todo, seen = [root], {id(root)}
        while todo:
            n = todo.pop()
            if n in ctx or n.kind in (LIT, UNIT):
                continue
            for k in self.children(n):
                uses[k] += 1
                if id(k) not in seen:
                    seen.add(id(k))
                    todo.append(k)
        return uses

    def _worth_sharing(self, root: Node, ctx: dict[Node, Term]) -> set[Node]:
        """The nodes of `root`'s region worth computing once, decided from the leaves up: a node's
        size is counted with the shared nodes below it read by a projection."""
        uses = self._uses(root, ctx)
        shared: set[Node] = set()
        memo: dict[int, Term] = {}
        sizes: dict[int, int] = {}
        deciding = dict(ctx)  # the region's atoms, and the shared nodes decided so far
        seen: set[int] = set()
        todo: list[tuple[Node, bool]] = [(root, False)]
        while todo:
            n, ready = todo.pop()
            if ready:  # every node below is decided, so its term (memoised) is final
                c = uses[n]
                if c >= 2 and worth_sharing(c, tree_size(self.term(n, deciding, memo), sizes)):
                    shared.add(n)
                    deciding[n] = _READ
            elif id(n) not in seen and n not in ctx:
                seen.add(id(n))
                todo.append((n, True))
                todo.extend((k, False) for k in self.children(n) if id(k) not in seen)
        return shared

    def _layers(self, root: Node, shared: set[Node], ctx: dict[Node, Term]) -> dict[Node, int]:
        """Each node of `shared`'s layer: 0 with no other shared node below it, else one more than the
        highest below (one pass over the region of `root`)."""
        top: dict[int, int] = {}  # the highest layer of a shared node at or below, -1 for none
        layer: dict[Node, int] = {}
        todo: list[tuple[Node, bool]] = [(root, False)]
        while todo:
            n, ready = todo.pop()
            if id(n) in top:
                continue
            kids = [] if n in ctx else self.children(n)
            if ready:
                below = max((top[id(k)] for k in kids), default=-1)
                if n in shared:
                    layer[n] = below = below + 1
                top[id(n)] = below
            else:
                todo.append((n, True))
                todo.extend((k, False) for k in kids if id(k) not in top)
        return layer

    def _last_uses(self, root: Node, layer: dict[Node, int], ctx: dict[Node, Term]) -> dict[Node, int]:
        """For each atom of `ctx` and shared node, the last layer that reads it (the root's layer is
        one past the last).  Each consumer walks down to the values it reads; a node that is not
        shared is walked by all its consumers, but it is small or has one of them."""
        end = 1 + max(layer.values(), default=-1)
        last: dict[Node, int] = {}
        for c, at in [*layer.items(), (root, end)]:
            todo = list(self.children(c)) if c in layer else [c]
            seen: set[int] = set()
            while todo:
                m = todo.pop()
                if id(m) in seen:
                    continue
                seen.add(id(m))
                if m in ctx or m in layer:
                    last[m] = max(last.get(m, -1), at)
                else:
                    todo.extend(self.children(m))
        return last

    def region(self, root: Node, ctx: dict[Node, Term]) -> Term:
        """The term computing `root` from the source whose atoms `ctx` reads (each region once: an
        enclosing region lowers its nodes again while it decides what to share)."""
        key = (id(root), self._capture, tuple((id(n), t) for n, t in ctx.items()))
        if key not in self._regions:
            self._regions[key] = self._region(root, ctx)
        return self._regions[key]

    def _region(self, root: Node, ctx: dict[Node, Term]) -> Term:
        """Share what is worth it, all layers at once (each decision walks the region once), then
        again while the terms, smaller now, make more worth sharing (at most `ROUNDS` times)."""
        prefix: Term = Id
        for _ in range(ROUNDS):
            shared = self._worth_sharing(root, ctx)
            if not shared:
                break
            layer = self._layers(root, shared, ctx)
            last = self._last_uses(root, layer, ctx)
            by_layer: dict[int, list[Node]] = {}
            for n, j in layer.items():
                by_layer.setdefault(j, []).append(n)
            for j in range(len(by_layer)):
                fresh = sorted(by_layer[j], key=lambda m: m.serial)
                kept = sorted((m for m in ctx if last.get(m, -1) > j), key=lambda m: m.serial)
                items = fresh + kept
                # the layer's terms read the values of the layers before it
                memo: dict[int, Term] = {}
                prefix = comp(tuple_term([self.term(m, ctx, memo) if m in by_layer[j] else ctx[m]
                                          for m in items]), prefix)
                ctx = dict(zip(items, projections(len(items))))
        return comp(self.term(root, ctx, {}), prefix)

    def term(self, n: Node, ctx: dict[Node, Term], memo: dict[int, Term]) -> Term:
        """`n`'s term in a region whose atoms `ctx` reads (by structure)."""
        if n in ctx:
            return ctx[n]
        if id(n) in memo:
            return memo[id(n)]
        k, kids = n.kind, n.kids
        if k == LIT:
            t: Term = Const(n.label)
        elif k == UNIT:
            t = Consume
        elif k == STATE:
            t = _GET
        elif k == PAIR:
            t = tuple_term([self.term(kids[0], ctx, memo), self.term(kids[1], ctx, memo)])
        elif k in (FST, SND, INL, INR):
            t = comp({FST: Fst, SND: Snd, INL: Inl, INR: Inr}[k], self.term(kids[0], ctx, memo))
        elif k == PRIM:
            t = comp(_PRIMS[n.label], tuple_term([self.term(kids[0], ctx, memo),
                                                   self.term(kids[1], ctx, memo)]))
        elif k == CASE:
            t = self._case(n, ctx, memo)
        elif k == TEST:
            t = self.term(kids[0], ctx, memo)
        elif k == CURRY:
            t = self._curry(n, ctx, memo)
        elif k == APPLY:
            t = Compose(Apply, tuple_term([self.term(kids[0], ctx, memo), self.term(kids[1], ctx, memo)]))
        else:
            raise AssertionError(f"a {k} node outside its region: {n!r}")
        if n.where is not None and t is not _GET:  # a term built here (the first place counts)
            place(t, n.where)
        memo[id(n)] = t
        return t

    def _case(self, n: Node, ctx: dict[Node, Term], memo: dict[int, Term]) -> Term:
        scrut = self.term(n.kids[0], ctx, memo)
        needs = self.needs(n)
        (lv, lbody), (rv, rbody) = n.branches
        if not needs:
            return comp(Case(self.region(lbody, {lv: Id}), self.region(rbody, {rv: Id})), scrut)
        env = tuple_term([self.term(m, ctx, memo) for m in needs])
        outer = {m: comp(p, Snd) for m, p in zip(needs, projections(len(needs)))}
        f = self.region(lbody, {lv: Fst, **outer})
        g = self.region(rbody, {rv: Fst, **outer})
        return comp(Case(f, g), comp(Distr, Compose(Par(scrut, env), Copy)))


    def _curry(self, n: Node, ctx: dict[Node, Term], memo: dict[int, Term]) -> Term:
        """``Curry(body)`` over the tuple of the outer values the body reads (its environment)."""
        needs = self.needs(n)
        ((param, body),) = n.branches
        env = tuple_term([self.term(m, ctx, memo) for m in needs]) if needs else Consume
        outer = {m: comp(p, Fst) for m, p in zip(needs, projections(len(needs)))}
        was, self._capture = self._capture, True
        try:
            inner = self.region(body, {param: Snd, **outer})
        finally:
            self._capture = was
        return comp(Curry(inner), env)


def _ignores_input(t: Term) -> bool:
    """Whether `t` computes its answer without reading its input or the state (``Inl . Consume``)."""
    if isinstance(t, Const) or t == Consume:
        return True
    if isinstance(t, Compose):
        return _ignores_input(t.f) and not any(x in (Get, Put) for x in walk(t.g))
    if isinstance(t, Par):
        return _ignores_input(t.f) and _ignores_input(t.g)
    return False


def _put_last(core: Term) -> Term:
    """``core : i -> (s', o)`` followed by writing ``s'`` and answering ``o``: the smallest of a
    few equivalent forms (each writes after every read of the state)."""
    general = Compose(Snd, Compose(Par(Put, Id), core))
    if isinstance(core, Compose) and core.f == Copy and isinstance(core.g, Par):
        new, out = core.g.f, core.g.g
        if new == _GET:  # the state is left as it was
            return out
        if _ignores_input(out):  # a constant answer: write, then answer
            return Compose(out, comp(Put, new))
        # out first: it may read the state, which must still be the old one
        return Compose(Fst, Compose(Par(out, comp(Put, new)), Copy))
    if isinstance(core, Case):  # write at the end of each branch, if that is smaller
        split = Case(_put_last(core.f), _put_last(core.g))
        return split if tree_size(split) < tree_size(general) else general
    if isinstance(core, Compose) and not isinstance(core.g, Par):
        return comp(_put_last(core.g), core.f)
    return general


def lower_machine(root: Node, input_var: Node, u: Unifier) -> Term:
    """The machine term of `root` = ``(new_state, output)`` computed from `input_var` and the state."""
    low = Lowering(u)
    top = low.canon(root)
    low.count_users(top)
    return _put_last(low.region(top, {low.canon(input_var): Id}))


def lower_function(root: Node, params: Iterable[Node], u: Unifier) -> Term:
    """The term of a pure function of one parameter."""
    low = Lowering(u)
    (p,) = params
    top = low.canon(root)
    low.count_users(top)
    return low.region(top, {low.canon(p): Id})
