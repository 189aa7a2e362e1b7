"""Shared test settings and fixtures: the hypothesis profiles, Python's own Ctrl-C handler,
and the guest kit (built once per run, cached like `numaopt guest build` does).

``--hypothesis-profile=long`` runs the input fuzz tests (tests/cli/test_input_fuzz.py) with
many more examples and fresh randomness, for a run on demand; the normal suite keeps a
few hundred derandomized examples so it never flakes.
"""

import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from numaopt.guest.kit import GuestKit, load_kit

# The normal suite: every property test draws the same examples on every run (a fixed seed,
# no example database), so a run on CI is the run on this machine and nothing flakes on a
# new random draw. `--hypothesis-profile=long` draws fresh ones.
settings.register_profile("default", derandomize=True)
settings.load_profile("default")
settings.register_profile(
    "long",
    derandomize=False,  # a profile starts from the loaded one: without this, long draws the same examples too
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.fixture(autouse=True, scope="session")
def _python_handles_ctrl_c() -> Iterator[None]:
    """Tests that interrupt themselves or a child need Python's SIGINT handler, but a run
    started as a background job of a shell script begins with SIGINT ignored (and Python
    then installs none): the suite behaves the same however it was started."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def kit() -> GuestKit:
    """The guest kit (kernel + probe initramfs) the boot tests run; built on first use."""
    return load_kit()
