"""What a theorem is here, and what checking one returns.

A `Theorem` is a named claim with the method that decides it; `check()`
runs the method and returns a `Verdict`: proved, or not with a
counterexample (concrete when one was found, confirmed by running the
interpreter and, for compiler claims, the real machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Verdict", "Theorem", "Row", "check_all"]


@dataclass(frozen=True)
class Verdict:
    """The result of checking a theorem: `proved`, a short `detail`, and a `counterexample` if not."""

    proved: bool
    detail: str = ""
    counterexample: str | None = None

    def __bool__(self) -> bool:
        return self.proved

    def __str__(self) -> str:
        head = "proved" if self.proved else "FAILED"
        tail = f": {self.counterexample}" if self.counterexample else ""
        return f"{head} ({self.detail}){tail}" if self.detail else head + tail


@dataclass(frozen=True)
class Theorem:
    """A claim (`name`), its `group`, the `method` that decides it, and the decision procedure."""

    name: str
    group: str
    method: str
    decide: Callable[[], Verdict]

    def check(self) -> Verdict:
        """Run the decision procedure."""
        return self.decide()


@dataclass(frozen=True)
class Row:
    """A checked theorem with its verdict and the seconds it took."""

    theorem: Theorem
    verdict: Verdict
    seconds: float


def check_all(theorems: Iterable[Theorem]) -> list[Row]:
    """Check every theorem in turn, timing each."""
    rows = []
    for th in theorems:
        t0 = time.perf_counter()
        verdict = th.check()
        rows.append(Row(th, verdict, time.perf_counter() - t0))
    return rows
