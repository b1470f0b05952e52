"""All theorems, and all deliberately broken variants they must reject.

>>> len(theorems()) > 40, all(th.group in GROUPS for th in theorems())
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from proofs import adapters, compiler, examples_lang, laws, upgrade
from proofs.core import Theorem, Verdict

__all__ = ["GROUPS", "theorems", "broken"]

GROUPS = ("laws", "compiler", "upgrade")


def theorems(groups: tuple[str, ...] = GROUPS) -> list[Theorem]:
    """Every theorem of the named groups, in table order."""
    out: list[Theorem] = []
    if "laws" in groups:
        out += laws.theorems()
    if "compiler" in groups:
        out += compiler.theorems()
    if "upgrade" in groups:
        out += upgrade.theorems() + adapters.theorems() + examples_lang.theorems()
    return out


def broken() -> list[tuple[str, str, Callable[[], Verdict]]]:
    """``(group, name, check)`` for each deliberately wrong law, template table, compiler or upgrade.

    Each check must fail with a counterexample: a broken row of the template
    table fails its induction case; a compiler that is not the fold of the
    proven table fails `proofs.compiler.agrees`.
    """
    out: list[tuple[str, str, Callable[[], Verdict]]] = []
    for name, law in laws.BROKEN.items():
        out.append(("laws", name, partial(laws.prove_law, law, stateful=False)))
    for name, (op, table) in compiler.BROKEN.items():
        out.append(("compiler", f"table: {name}", partial(compiler.verify, op, table)))
    for name, comp in compiler.BROKEN_COMPILERS.items():
        out.append(("compiler", name, partial(compiler.agrees, comp)))
    for name, check in (upgrade.BROKEN | adapters.BROKEN | examples_lang.BROKEN).items():
        out.append(("upgrade", name, check))
    return out
