"""How many examples a hypothesis test tries, decided by the loaded profile (see tests/conftest.py).

An explicit `settings(max_examples=N)` would override the profile, so a test that wants more or
fewer examples than the profile's default says so relative to it: `examples(150)` is 150 under
the "ci" profile (whose default is 100) and a fifth of that under the quick "dev" one.
"""

from __future__ import annotations

from hypothesis import settings

CI_DEFAULT = 100  # the "ci" profile's max_examples, hypothesis's own default


def examples(under_ci: int) -> int:
    """`under_ci` examples under the "ci" profile, scaled like the profile's default otherwise."""
    return max(1, round(under_ci * settings.default.max_examples / CI_DEFAULT))
