"""Servers for the envserve tests: `simyard env serve`'s app on uvicorn in a thread, on 127.0.0.1 and a free port,
and a world that counts its live instances, so a test can see that no world outlives its session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from simyard.envserve.app import BackgroundEnvServer, EnvServer
from simyard.platform import registry
from simyard.platform.api import Task
from tests.kind_worlds import ChoiceWorld

COUNTING = "envserve-counting"


class CountingWorld(ChoiceWorld):
    """The household-skills test world (an image each step), counting instances built and not yet closed."""

    name = COUNTING
    live = 0
    _lock = threading.Lock()

    def __init__(self) -> None:
        with CountingWorld._lock:
            CountingWorld.live += 1
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with CountingWorld._lock:
                CountingWorld.live -= 1

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        return Task(id=f"counting-{seed}", world=COUNTING, max_steps=20)


@pytest.fixture
def counting_world() -> Iterator[type[CountingWorld]]:
    registry.register_world(COUNTING, CountingWorld)
    CountingWorld.live = 0
    try:
        yield CountingWorld
    finally:
        registry._tables["world"].pop(COUNTING, None)  # leave `simyard env list` as other tests expect


@contextmanager
def served(world: str, options: dict[str, Any] | None = None, **settings: Any) -> Iterator[BackgroundEnvServer]:
    """`world` served on loopback for the length of the block."""
    with BackgroundEnvServer(EnvServer(world, options, **settings)) as running:
        yield running


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
