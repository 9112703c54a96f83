"""Suite options shared by the generated suites (`fresh_seed`), checked in one place so they read the same."""

from __future__ import annotations

from typing import Any

from simyard.platform.errors import SimyardError


def fresh_seed_family(fresh_seed: Any) -> int:
    """The suite family a `fresh_seed` option draws: -1 for the published suite (None), else the seed itself.

    Raises:
        SimyardError: not a whole number of 0 or more (a bool is refused too: `fresh_seed=true` is a typo).
    """
    if fresh_seed is None:
        return -1
    if isinstance(fresh_seed, bool) or not isinstance(fresh_seed, int) or fresh_seed < 0:
        raise SimyardError(f"fresh_seed={fresh_seed!r} is not a whole number of 0 or more", hint="e.g. fresh_seed=1")
    return int(fresh_seed)
