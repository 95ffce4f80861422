"""Shared test configuration: Hypothesis profiles.

``default`` keeps the local run fast; ``ci`` (selected by ``nox -s tests`` when
``CI`` is set) draws many more examples. Select with ``--hypothesis-profile``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--all-corruptions",
        action="store_true",
        default=False,
        help="corrupt every step of every derivation in every way (slow; CI runs it)",
    )
