"""Deployment: machines with their declared signature, and hot upgrades between them.

A `Program` is a term pinned at the signature it runs at, with an initial
state; an `Upgrade` is what a hot upgrade installs: the old and new
programs, the migration of the state between them and, optionally, the
way back (a down-migration) and adapters for an interface that changes.
Upgrades compose (`compose`, `chain`): version 1 -> 2 and 2 -> 3 make one
upgrade 1 -> 3 whose migration, down-migration and adapters are the
pieces' composites; `find_chain` picks, among a module's upgrades, the
path from the running version to a target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from catlib.free import Compose, Id, Term
from catlib.typecheck import Signature
from catlib.typecheck import check as check_term
from catlib.types import Type, Unit, as_type
from catlib.values import check_value

__all__ = ["Program", "Upgrade", "ChainError", "compose", "chain", "find_chain", "upgrades_in", "same_program"]


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
    its state; its output is the new state.  Optional parts: `down`
    (``() / new state -> old state``, the way back for a rollback that keeps
    the state), `input_adapter` (``() / old input -> new input``) and
    `output_adapter` (``() / new output -> old output``), without which the
    input and output types must stay.  `preserves` claims that `new`, seen
    through the adapters, answers as `old` would have from the state it
    was migrated from (``python -m proofs`` proves the examples' claims).
    (A node's client sends one with `cam.client.Client.upgrade`;
    `cam.client.Upgrade` is this class.)

    >>> from catlib.examples.counter import UPGRADE
    >>> UPGRADE.check()
    """

    old: Program
    new: Program
    migration: Program
    down: Program | None = None
    input_adapter: Program | None = None
    output_adapter: Program | None = None
    preserves: bool = False

    def check(self) -> None:
        """Check every program, and that each part has the type its role needs (`TypeError` if not)."""
        for prog in self.parts():
            prog.check()
        old, new = self.old, self.new
        _role(self.migration, "migration", old.state, new.state, "the upgrade goes from state")
        if self.down is not None:
            _role(self.down, "down-migration", new.state, old.state, "the way back goes from state")
        for adapter, side, frm, to in ((self.input_adapter, "input", old.input, new.input),
                                       (self.output_adapter, "output", new.output, old.output)):
            if adapter is not None:
                _role(adapter, f"{side} adapter", frm, to, f"the upgrade's {side} adapter goes from")
            elif frm != to:
                raise TypeError(f"the {side} type changes from {getattr(old, side)} to {getattr(new, side)} and the "
                                f"upgrade carries no {side} adapter ({frm} -> {to})")

    def parts(self) -> list[Program]:
        """The programs of this upgrade: old, new, migration and those of down and the adapters that are given."""
        return [p for p in (self.old, self.new, self.migration, self.down, self.input_adapter, self.output_adapter)
                if p is not None]


def _role(prog: Program, role: str, frm: Type | str, to: Type | str, needs: str) -> None:
    if prog.state != Unit:
        raise TypeError(f"{role} {prog.name} has state {prog.state}; a {role} runs with state ()")
    if prog.input != frm or prog.output != to:
        raise TypeError(f"{role} {prog.name} maps {prog.input} -> {prog.output}, but {needs} {frm} to {to}")


class ChainError(ValueError):
    """Upgrades that do not chain: a gap between two of them, or no path to the version asked for."""


def same_program(a: Program, b: Program) -> bool:
    """The same machine: the same term at the same signature (names may differ)."""
    return a.term == b.term and a.signature == b.signature


def _then(first: Program | None, second: Program | None, frm: Type | str, to: Type | str,
          name: str) -> Program | None:
    """`first` then `second` (``() / frm -> to``); a missing piece is the identity, both missing give None."""
    if first is None and second is None:
        return None
    f, g = (Id if p is None else p.term for p in (first, second))
    return Program(name, Compose(g, f), Unit, frm, to, ())


def compose(first: Upgrade, second: Upgrade) -> Upgrade:
    """One upgrade doing `first` then `second` (`ChainError` if `second` does not start where `first` ends).

    The migration is ``second.migration . first.migration``; the down-migration
    ``first.down . second.down`` when both have one (else none: the way back
    would lose the state); the input adapter ``second's . first's``, the output
    adapter ``first's . second's`` (a missing adapter is the identity); the
    claim `preserves` holds when both pieces claim it.

    >>> from catlib.examples.counter_versions import UP_1_2, UP_2_3
    >>> u = compose(UP_1_2, UP_2_3)
    >>> u.check()
    >>> u.old.name, u.new.name, str(u.migration.signature), u.down is not None, u.output_adapter.name
    ('counter', 'counter3', '() / Int -> (Int, Int)', True, 'counter3 -> counter')
    """
    if not same_program(first.new, second.old):
        raise ChainError(f"a gap: the first upgrade ends at {first.new.name} ({first.new.signature}), the second "
                         f"starts from {second.old.name} ({second.old.signature})")
    a, c = first.old, second.new
    label = f"{c.name} -> {a.name}"
    mig = _then(first.migration, second.migration, a.state, c.state, f"{a.name} -> {c.name}")
    assert mig is not None
    down = None
    if first.down is not None and second.down is not None:
        down = _then(second.down, first.down, c.state, a.state, label)
    ia = _then(first.input_adapter, second.input_adapter, a.input, c.input, f"{a.name} -> {c.name} input")
    oa = _then(second.output_adapter, first.output_adapter, c.output, a.output, label)
    return Upgrade(a, c, mig, down, ia, oa, first.preserves and second.preserves)


def chain(upgrades: Sequence[Upgrade]) -> Upgrade:
    """The composite of a non-empty sequence of upgrades, in order (`ChainError` at the first gap)."""
    if not upgrades:
        raise ChainError("an empty chain of upgrades")
    out = upgrades[0]
    for k, u in enumerate(upgrades[1:], start=1):
        try:
            out = compose(out, u)
        except ChainError as e:
            raise ChainError(f"upgrade {k} of the chain does not follow upgrade {k - 1}: {e}") from None
    return out


def upgrades_in(module: ModuleType) -> list[Upgrade]:
    """Every `Upgrade` a module exposes, alone or in a list or tuple, in the order of its attributes."""
    out: list[Upgrade] = []
    for value in vars(module).values():
        items: Iterable[Any] = value if isinstance(value, (list, tuple)) else (value,)
        out += [u for u in items if isinstance(u, Upgrade) and not any(u is v for v in out)]
    return out


def find_chain(upgrades: Sequence[Upgrade], running: Callable[[Program], bool], target: Program) -> list[Upgrade]:
    """The shortest sequence of `upgrades` from a program for which `running` is true to `target`.

    `running` recognises the running version (a node compares digests). `ChainError` says which gap
    stops it: no upgrade starts from the running version, or none reaches the target from there.

    >>> from catlib.examples.counter_versions import COUNTER, COUNTER3, CHAIN
    >>> [u.new.name for u in find_chain(CHAIN, lambda p: same_program(p, COUNTER), COUNTER3)]
    ['counter2', 'counter3']
    """
    if running(target):
        raise ChainError(f"{target.name} is the running version already")
    starts = [u for u in upgrades if running(u.old)]
    if not starts:
        known = ", ".join(dict.fromkeys(u.old.name for u in upgrades)) or "none"
        raise ChainError(f"a gap: no upgrade starts from the running version (the upgrades start from: {known})")
    # breadth first over versions; a version is its (term, signature)
    frontier: list[tuple[Program, list[Upgrade]]] = [(u.old, []) for u in starts]
    seen: list[Program] = []
    while frontier:
        nxt: list[tuple[Program, list[Upgrade]]] = []
        for prog, path in frontier:
            if any(same_program(prog, s) for s in seen):
                continue
            seen.append(prog)
            if path and same_program(prog, target):
                return path
            nxt += [(u.new, path + [u]) for u in upgrades if same_program(u.old, prog)]
        frontier = nxt
    reached = ", ".join(p.name for p in seen)
    raise ChainError(f"a gap: no chain of upgrades leads from the running version to {target.name} (reachable: "
                     f"{reached})")

