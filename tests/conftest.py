"""Shared test settings."""

from hypothesis import HealthCheck, settings

# Deterministic example generation: the same examples on every machine and run.
settings.register_profile(
    "book", derandomize=True, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("book")
