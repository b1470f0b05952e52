"""What ``cam upgrade --to`` and ``cam upgrade --derive-migration`` work out before anything is sent.

`chain_to` finds, among a module's `catlib.program.Upgrade` values, the
chain from the version a node runs (by digest) to a target version, and
composes it (`catlib.program.chain`); `derive_migration` derives a state
migration (`catlib.derive`); `check_plan` checks an upgrade as the node
will: every part type-checked at its role (`catlib.program.Upgrade.check`)
and its compiled code verified (`cam.verifier`) at the same types.  Each
returns or raises before any request changes the node.

>>> from catlib.examples import counter_versions as cv
>>> from cam.client import as_code
>>> from cam.text import digest
>>> path, u = chain_to(cv.COUNTER3, cv.CHAIN, digest(as_code(cv.COUNTER.term)))
>>> [p.new.name for p in path], u.old.name, u.new.name
(['counter2', 'counter3'], 'counter', 'counter3')
>>> check_plan(u)[0]
'migration      () / Int -> (Int, Int)  sha256:...'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cam.code import Code, Value
from cam.compiler import compile
from cam.hostvalue import unquote
from cam.text import digest
from cam.verifier import BytecodeError, verify
from catlib.derive import Derived, derive
from catlib.program import Program, Upgrade, chain, find_chain, upgrades_in
from catlib.typecheck import Signature
from catlib.types import Type, parse

__all__ = ["PlanError", "chain_to", "check_plan", "derive_migration", "describe_chain", "chained", "derived"]


class PlanError(ValueError):
    """An upgrade that cannot be sent: a part of the wrong type, code the verifier rejects."""


def chain_to(target: Program, upgrades: Sequence[Upgrade], running: str) -> tuple[list[Upgrade], Upgrade]:
    """The chain of `upgrades` from the version whose digest is `running` to `target`, and its composite.

    `catlib.program.ChainError` (a `ValueError`) if there is a gap; `PlanError` if a piece does not type.
    """
    if not isinstance(target, Program):
        raise PlanError(f"--to names a {type(target).__name__}; it must name a catlib.program.Program (a version)")
    digests: dict[int, str] = {}

    def runs(p: Program) -> bool:
        if id(p) not in digests:
            digests[id(p)] = digest(compile(p.term))
        return digests[id(p)] == running

    path = find_chain(upgrades, runs, target)
    for k, u in enumerate(path, start=1):
        try:
            u.check()
        except TypeError as e:
            raise PlanError(f"upgrade {k} of the chain ({u.old.name} -> {u.new.name}) does not type: {e}") from None
    return path, chain(path)


def check_plan(u: Upgrade) -> list[str]:
    """Check `u`'s parts at their roles, as terms and as compiled code; one line per part (role, type, digest)."""
    try:
        u.check()
    except TypeError as e:
        raise PlanError(f"the upgrade does not type: {e}") from None
    lines = []
    roles = (("migration", u.migration), ("down", u.down), ("input adapter", u.input_adapter),
             ("output adapter", u.output_adapter), ("new", u.new))
    for role, prog in roles:
        if prog is None:
            continue
        code = compile(prog.term)
        try:
            verify(code, prog.state, prog.input, prog.output)
        except BytecodeError as e:
            raise PlanError(f"the {role}'s code fails verification at {prog.signature}: {e}") from None
        lines.append(f"{role:<14} {prog.signature}  {digest(code)}")
    return lines


def describe_chain(path: Sequence[Upgrade]) -> str:
    """``counter -> counter2 -> counter3`` with what each step carries."""
    def parts(u: Upgrade) -> str:
        got = [n for n, p in (("down", u.down), ("input adapter", u.input_adapter),
                              ("output adapter", u.output_adapter)) if p is not None]
        return f" [{', '.join(got)}]" if got else ""
    return path[0].old.name + "".join(f" -> {u.new.name}{parts(u)}" for u in path)


def derive_migration(old_state: Type, new_state: Type, defaults: Sequence[tuple[str, Value]],
                     choose: int | None = None) -> Derived:
    """`catlib.derive.derive` with defaults given as ``(PATH, machine value)`` (from ``--default PATH=VALUE``)."""
    table: dict[str | tuple[str, ...], Any] = {}
    for path, v in defaults:
        if path in table:
            raise PlanError(f"two defaults for {path}")
        table[path] = unquote(v)
    return derive(old_state, new_state, table, choose=choose)


# ---------------------------------------------------------------- for cam upgrade (cam.cli)

def chained(client: Any, to: str, via: str | None, name: str | None, probation: bool,
            load: Callable[[str], Any], probes: Any = ()) -> Callable[[], dict[str, Any]]:
    """``cam upgrade --to MODULE:NAME [--via ...]``: find, compose, check and print the chain; return the send."""
    where = via or to.partition(":")[0]
    found = load(where) if ":" in where else importlib.import_module(where)
    if isinstance(found, Upgrade):
        upgrades = [found]
    elif isinstance(found, (list, tuple)):
        upgrades = [u for u in found if isinstance(u, Upgrade)]
    else:
        upgrades = upgrades_in(found)
    if not upgrades:
        raise PlanError(f"{where} holds no catlib.program.Upgrade")
    path, u = chain_to(load(to), upgrades, client.status()["digest"])
    lines = check_plan(u)
    print(f"Chain:     {describe_chain(path)} ({len(path)} upgrade(s), composed and checked)")
    print("\n".join("  " + line for line in lines))
    if u.preserves:  # a claim this side cannot prove (a bisimulation needs a relation): say whose it is
        print(f"Claim:     every step claims {u.new.name}, seen through the adapters, answers as {u.old.name} would "
              f"(proofs/adapters.py proves it for catlib.examples.counter_versions)")
    sys.stdout.flush()
    return lambda: client.upgrade(u, name=u.new.name if name is None else name, probation=probation, probes=probes)


def derived(client: Any, new: Code, old_declared: Signature | None, new_declared: Signature | None,
            defaults: Sequence[str], choose: int | None, parse_value: Callable[[str], Value]) -> Code:
    """``cam upgrade --derive-migration [--default PATH=VALUE ...]``: the migration's code, printed first.

    The old state type is `old_declared`'s (a Program's), else the node's; the new one `new_declared`'s,
    else the new code's principal one (which must then be ground).
    """
    old_state = old_declared.state if old_declared else parse(client.status()["state_type"])
    new_state = new_declared.state if new_declared else verify(new).state
    if not new_state.is_ground:
        raise PlanError(f"the new code's state type {new_state} is not ground: name a Program with --new")
    table = []
    for d in defaults:
        path, sep, value = d.partition("=")
        if not sep:
            raise PlanError(f"--default takes PATH=VALUE, not {d!r}")
        table.append((path, parse_value(value)))
    result = derive_migration(old_state, new_state, table, choose)
    print("Derived migration (catlib.derive):\n  " + str(result).replace("\n", "\n  "), flush=True)
    return compile(result.term)
