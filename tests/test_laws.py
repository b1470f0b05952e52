import pytest
from hypothesis import find, given, settings

from catlib.interpreter import step
from catlib.laws import LAWS
from tests.conftest import scaled
from tests.helpers import law_instances

PURE = list(LAWS.values())
EFFECTFUL = [law for law in PURE if law.effectful]


def _check(law, pure):
    @settings(max_examples=scaled(150))
    @given(law_instances(law, pure=pure))
    def prop(case):
        lhs, rhs, x, s, _ = case
        assert step(lhs, x, s) == step(rhs, x, s)

    prop()


@pytest.mark.parametrize("law", PURE, ids=lambda law: law.name)
def test_law_holds_for_pure_terms(law):
    _check(law, pure=True)


@pytest.mark.parametrize("law", EFFECTFUL, ids=lambda law: law.name)
def test_effectful_law_holds_with_state(law):
    _check(law, pure=False)


@pytest.mark.parametrize("name", [law.name for law in PURE if not law.effectful])
def test_premonoidal_counterexample_is_found(name):
    """With state, these laws fail; hypothesis finds (and shrinks) a witness."""
    law = LAWS[name]
    lhs, rhs, x, s, terms = find(
        law_instances(law, pure=False),
        lambda c: step(c[0], c[2], c[3]) != step(c[1], c[2], c[3]),
        settings=settings(max_examples=5000, database=None),
    )
    assert step(lhs, x, s) != step(rhs, x, s)
    assert any(op in repr(t) for t in terms.values() for op in ("Put", "Get"))
