"""The term generators cover what the properties claim to test: every constructor, every instruction, sizes.

Two generators feed the tests: the hypothesis strategy `catlib.strategies.typed_terms`
(every property) and `catlib.strategies.Generator.seeded` (the `cam check`
campaign).  Each is sampled here on a fixed seed and the sample must contain
every term constructor, compile to every CAM instruction the compiler emits,
and span the sizes stated below.  The floors sit well under what the sample
had when written (in the comments), so that a generator that drifts towards
tiny terms, or stops producing a constructor, fails here rather than
weakening every property silently.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, event, given, settings

from cam.code import OPS, Instr
from cam.compiler import compile
from catlib.free import Term
from catlib.strategies import CONSTRUCTORS, Generator, typed_terms
from catlib.tree import walk

NEVER_EMITTED: dict[str, str] = {}
"""Instructions the compiler never emits, and why; every other instruction must appear.  (Empty since
`Curry` and `Apply` compile to ``CURRY`` and ``APP``: the compiler emits every instruction.)"""

SAMPLE = 300


def hypothesis_sample() -> list[Term]:
    """The first `SAMPLE` terms the strategy gives with hypothesis derandomised (the same on every run)."""
    terms: list[Term] = []

    @settings(max_examples=SAMPLE, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(typed_terms(embed=True, max_size=16))
    def collect(pair: tuple[Term, object]) -> None:
        term = pair[0]
        terms.append(term)
        for op in sorted({t.op for t in walk(term)}):
            event(f"contains {op}")  # shown by --hypothesis-show-statistics
        size = term.size()
        event(f"size {'<5' if size < 5 else '5-19' if size < 20 else '20-49' if size < 50 else '50+'}")

    collect()
    return terms


def seeded_sample() -> list[Term]:
    """The campaign's generator on seeds 0 .. `SAMPLE` - 1, at its default fuel (16)."""
    terms = []
    for seed in range(SAMPLE):
        g = Generator.seeded(seed, embed=True)
        terms.append(g.term(g.type(), g.type(), g.type(), 16))
    return terms


def coverage(terms: list[Term]) -> tuple[Counter[str], Counter[str], list[int]]:
    """How many terms contain each constructor; how many compiled codes each instruction; the sorted sizes."""
    constructors: Counter[str] = Counter()
    instructions: Counter[str] = Counter()
    for term in terms:
        ops = {t.op for t in walk(term)}
        constructors.update(ops)
        if "Embed" not in ops:  # an Embed does not compile
            instructions.update({n.op for n in walk(compile(term)) if isinstance(n, Instr)})
    return constructors, instructions, sorted(t.size() for t in terms)


# (sample, fewest terms per constructor, fewest codes per instruction, (min, median, max) size bounds)
# When written -- typed_terms: Add in 14 terms, ADD in 6 codes, sizes 1 / 5 / 93 (10% of terms >= 39);
# seeded: Add in 49, ADD in 11, sizes 1 / 19 / 145.
CASES = {
    "typed_terms": (hypothesis_sample, 5, 3, (2, (3, 30), 60), 25),
    "Generator.seeded": (seeded_sample, 20, 5, (2, (10, 60), 100), 25),
}


@pytest.mark.parametrize("name", list(CASES))
def test_generator_quality(name: str) -> None:
    sample, per_constructor, per_instruction, (smallest, (lo, hi), largest), big = CASES[name]
    terms = sample()
    assert len(terms) == SAMPLE
    constructors, instructions, sizes = coverage(terms)
    rare = {op: constructors[op] for op in CONSTRUCTORS if constructors[op] < per_constructor}
    assert not rare, f"constructors in fewer than {per_constructor} of {SAMPLE} terms: {rare}"
    expected = set(OPS) - set(NEVER_EMITTED)
    assert not set(NEVER_EMITTED) & set(instructions), "the compiler emitted an instruction said never to be"
    rare = {op: instructions[op] for op in sorted(expected) if instructions[op] < per_instruction}
    assert not rare, f"instructions in fewer than {per_instruction} compiled codes: {rare}"
    assert sizes[0] <= smallest and sizes[-1] >= largest, (sizes[0], sizes[-1])
    assert lo <= sizes[len(sizes) // 2] <= hi, sizes[len(sizes) // 2]
    assert sum(s >= big for s in sizes) >= SAMPLE // 20, "too few big terms"
