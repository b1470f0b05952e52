"""Hypothesis profiles: ``ci`` (default) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough``)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def scaled(n: int) -> int:
    """`n` examples under the ci profile, more under ``thorough``."""
    return max(n, settings.default.max_examples)
