"""How often a "rejected or runs" property really runs, recorded and asserted.

A property that returns early on some examples (code the verifier rejects,
say) passes trivially on those.  `Tally` makes such a property say how often
each outcome happened (`hypothesis.event`, shown by
``--hypothesis-show-statistics``) and fail when the interesting outcome falls
under a stated share of the examples:

>>> from hypothesis import given, strategies as st
>>> EVEN = Tally("ran", at_least=0.2)
>>> @EVEN.checked
... @given(st.integers())
... def test_even(n):
...     if n % 2:
...         return EVEN("skipped")
...     EVEN("ran")
>>> test_even()
>>> NEVER = Tally("ran", at_least=0.2)
>>> @NEVER.checked
... @given(st.integers())
... def test_never(n):
...     NEVER("skipped")
>>> test_never()
Traceback (most recent call last):
  ...
AssertionError: test_never: 'ran' in 0 of ... examples (0%), under the floor of 20%: {'skipped': ...}
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import event

MIN_EXAMPLES = 50
"""Fewer examples than this are too few to measure a share on (only a zero count is then an error)."""


class Tally:
    """Counts the outcomes of one property's examples; `checked` asserts the share of `outcome`."""

    def __init__(self, outcome: str, at_least: float) -> None:
        self.outcome, self.at_least = outcome, at_least
        self.counts: Counter[str] = Counter()

    def __call__(self, outcome: str) -> None:
        """Record one example's outcome."""
        event(outcome)
        self.counts[outcome] += 1

    def checked(self, test: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a hypothesis test: run it, then require `outcome` in at least `at_least` of its examples."""

        @functools.wraps(test)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            self.counts.clear()
            test(*args, **kwargs)
            total = sum(self.counts.values())
            share = self.counts[self.outcome] / total if total else 0.0
            # A share of a handful of examples says little (the ``mutation`` profile runs 20, the same ones every
            # time): the floor is asserted from MIN_EXAMPLES on, and when the outcome never happened at all.
            if (total >= MIN_EXAMPLES or not self.counts[self.outcome]) and not share >= self.at_least:
                # (not an assert: it must hold under python -O too)
                raise AssertionError(
                    f"{test.__name__}: {self.outcome!r} in {self.counts[self.outcome]} of {total} examples "
                    f"({share:.0%}), under the floor of {self.at_least:.0%}: {dict(self.counts)}")

        return wrapper
