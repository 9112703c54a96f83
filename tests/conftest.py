"""Shared fixtures for the whole suite."""

from __future__ import annotations

import pytest

from tests.kind_worlds import KIND_WORLDS


@pytest.fixture(params=KIND_WORLDS, ids=lambda world: world.name)
def kind_world(request):
    """Each of the four small worlds of a different action kind, freshly built and closed after the test."""
    world = request.param()
    yield world
    world.close()
