"""Scopes of the port DSL: where a port comes from, and how it is seen from inside.

Each call of `catlib.syntax.sm`/`decode` and each branch of a `kase` makes
a `Scope`; a port's term starts at its scope's hidden source.  A
`kase_with` branch can see the ports of the scopes around it, through a
`lift` term; ports of unrelated scopes cannot meet (`ScopeError`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from catlib.free import Compose, Id, Term

__all__ = ["Scope", "ScopeError", "scope_name", "join_scopes", "into_scope", "running", "innermost_running"]


class ScopeError(ValueError):
    """A port was used outside the scope (`sm`, `decode`, `kase` branch) that made it."""


_ids = itertools.count(1)


class Scope:
    """Where ports live: one call of `sm`/`decode`, or one branch of a `kase`.

    A branch of `kase_with` has a `parent` (the scope around the ``kase_with``)
    and a `lift` term from its own source ``(a, r)`` to the parent's source
    ``r`` (`Snd`): ports of the parent, or of its ancestors along such
    links, can be re-expressed in the branch.  Other scopes have no parent.
    """

    __slots__ = ("id", "what", "parent", "lift")

    def __init__(self, what: str, parent: Scope | None = None, lift: Term | None = None) -> None:
        self.id, self.what, self.parent, self.lift = next(_ids), what, parent, lift

    def __repr__(self) -> str:
        return f"<scope {self.id}: {self.what}>"

    def lift_from(self, outer: Scope) -> Term | None:
        """The term from this scope's source to `outer`'s, or ``None`` if `outer` is not an enclosing scope.

        ``Id`` when `outer` is this scope; else the chain of `lift` terms up to `outer`.
        """
        lifts: list[Term] = []
        s: Scope | None = self
        while s is not None and s is not outer:
            if s.lift is None:
                return None
            lifts.append(s.lift)
            s = s.parent
        if s is None:
            return None
        if not lifts:
            return Id
        # the lift nearest `outer` runs last: ... Compose(l_outer_child, ... Compose(l_mid, l_self))
        t = lifts[-1]
        for lift in reversed(lifts[:-1]):
            t = Compose(t, lift)
        return t


_active: list[Scope] = []
"""The scopes whose function is running, innermost last (for `kase_with` on a scope-free port)."""


@contextmanager
def running(scope: Scope) -> Iterator[None]:
    """While the port function of `scope` runs."""
    _active.append(scope)
    try:
        yield
    finally:
        _active.pop()


def innermost_running(default: Scope | None) -> Scope | None:
    """The innermost scope whose port function is running, else `default`."""
    return _active[-1] if _active else default


def scope_name(s: Scope | None) -> str:
    """How messages name a scope."""
    return "no scope" if s is None else repr(s)


def join_scopes(ports: list[tuple[Term, Scope | None]]) -> tuple[Scope | None, list[Term]]:
    """The innermost scope of `ports` (each a term and its scope) and their terms re-expressed from its source.

    All scopes must lie on one chain of `kase_with` links; otherwise the ports
    come from unrelated machines or branches and `ScopeError` is raised.
    """
    target: Scope | None = None
    for _, s in ports:
        if s is None or s is target:
            continue
        if target is None or s.lift_from(target) is not None:
            target = s  # s is the same as or inside target
        elif target.lift_from(s) is None:
            raise ScopeError(f"ports from unrelated scopes meet: {scope_name(target)} and {scope_name(s)}. "
                             "A port belongs to the sm/kase branch that made it; for branches that "
                             "see outer ports, use kase_with")
    return target, [into_scope(t, s, target) for t, s in ports]


def into_scope(term: Term, own: Scope | None, scope: Scope | None) -> Term:
    """`term`, from `own`'s source, re-expressed from `scope`'s source (`ScopeError` if it does not belong there)."""
    if own is None or own is scope:
        return term
    lift = scope.lift_from(own) if scope is not None else None
    if lift is None:
        hint = " (plain kase branches cannot see outer ports: use kase_with)" if scope is not None else ""
        raise ScopeError(f"a port of {scope_name(own)} is used in {scope_name(scope)}{hint}")
    return Compose(term, lift)
