"""Hypothesis profiles of the fuzz suite.

``ci`` (the default) is deterministic, so a CI run never fails on an example no earlier run saw; it runs
enough examples that the suite still finds every bug recorded in its regression examples. ``deep`` runs many
more, with a fresh seed each time, to look for new bugs: ``HYPOTHESIS_PROFILE=deep pytest tests/fuzz``.
No example database is kept (``database=None``): regressions live in the tests as ``@example``s.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=5_000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
