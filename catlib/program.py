"""Deployment: machines with their declared signature, and hot upgrades between them.

A `Program` is a term pinned at the signature it runs at, with an initial
state; an `Upgrade` is what a hot upgrade installs: the old and new
programs and the migration of the state between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catlib.free import Term
from catlib.typecheck import Signature
from catlib.typecheck import check as check_term
from catlib.types import Type, Unit, as_type
from catlib.values import check_value

__all__ = ["Program", "Upgrade"]


@dataclass(frozen=True)
class Program:
    """A machine with its declared signature ``state / input -> output`` and an initial state.

    `sm` terms are polymorphic where the program does not constrain a type;
    a `Program` pins the one it is meant to run at.  A state migration is a
    `Program` too: state ``()``, input the old state type, output the new one.

    >>> from catlib.syntax import inl, inr, kase, sm
    >>> p = Program("flip", sm(lambda p: kase(inr, inl, p)), "()", "Either Int ()", "Either () Int", ())
    >>> str(p.check())
    '() / Either Int () -> Either () Int'
    """

    name: str
    term: Term
    state: Type | str
    input: Type | str
    output: Type | str
    initial: Any

    def __post_init__(self) -> None:
        for part in ("state", "input", "output"):
            t = as_type(getattr(self, part))
            if not t.is_ground:
                raise ValueError(f"{self.name}'s {part} type must be ground (the program runs at it), not {t}")
            object.__setattr__(self, part, t)
        check_value(self.initial, self.state, f"{self.name}'s initial state")

    @property
    def signature(self) -> Signature:
        """The declared signature."""
        return Signature(self.state, self.input, self.output)  # type: ignore[arg-type]

    def check(self) -> Signature:
        """Type-check the term against the declared signature (`TermTypeError` if it does not fit)."""
        return check_term(self.term, self.state, self.input, self.output)


@dataclass(frozen=True)
class Upgrade:
    """A hot upgrade: from machine `old` to machine `new`, converting the state with `migration`.

    The migration runs once, with the old state as its input and ``()`` as
    its state; its output is the new state.  `old` and `new` may differ in
    their input and output types too (clients then need telling).  (A
    node's client sends one with `cam.client.upgrade`; `cam.client.Upgrade`
    is the seed's form of the same request, taking terms, programs or code.)

    >>> from catlib.examples.counter import UPGRADE
    >>> UPGRADE.check()
    """

    old: Program
    new: Program
    migration: Program

    def check(self) -> None:
        """Check the three programs, and that the migration maps `old`'s state type to `new`'s."""
        for prog in (self.old, self.new, self.migration):
            prog.check()
        if self.migration.state != Unit:
            raise TypeError(f"migration {self.migration.name} has state {self.migration.state}; a migration runs "
                            "with state ()")
        if self.migration.input != self.old.state or self.migration.output != self.new.state:
            raise TypeError(f"migration {self.migration.name} maps {self.migration.input} -> "
                            f"{self.migration.output}, but the upgrade goes from state {self.old.state} "
                            f"to {self.new.state}")
