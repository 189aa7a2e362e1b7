"""Shared test settings: the hypothesis profiles.

``--hypothesis-profile=long`` runs the input fuzz tests (tests/test_input_fuzz.py) with
many more examples and fresh randomness, for a run on demand; the normal suite keeps a
few hundred derandomized examples so it never flakes.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
