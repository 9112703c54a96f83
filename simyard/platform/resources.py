"""Run-wide and per-worker resources: expensive things built once and shared, closed in reverse order at the end.

A local model loaded once per worker and batched across every episode in flight, a rendering context, a pool of warm
sandboxes, a Docker image built once per run: each is created through a `Resources` scope the first time someone asks
for it by key, handed to every later asker, and closed when the scope closes (last created, first closed), also when
the run ended in an error. The lifecycle of a batch run:

    run setup      the driver opens the run scope            (`Resources("run")`)
    worker setup   each worker process opens its own scope   (`Resources("worker")`)
    episode        worlds and agents ask `resources.shared(key, factory)`
    worker teardown  the worker scope closes: its resources, newest first
    run teardown   the run scope closes

A world or agent receives the scope of its process when its constructor takes a keyword named `resources`
(`registry.make` and `registry.make_agent` pass it then, and only then).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Resources:
    """A scope of shared things, each built once on first request and closed when the scope closes."""

    def __init__(self, name: str = "worker") -> None:
        self.name = name
        self._items: dict[Any, Any] = {}
        self._order: list[Any] = []
        self._closers: dict[Any, Callable[[Any], None] | None] = {}
        self._lock = threading.RLock()
        self._closed = False

    def shared(self, key: Any, factory: Callable[[], T], close: Callable[[T], None] | None = None) -> T:
        """The thing stored under `key`, built by `factory()` the first time.

        `close` releases it when the scope closes; by default its own `close()` method, if it has one.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} resource scope is already closed")
            if key not in self._items:
                self._items[key] = factory()
                self._order.append(key)
                self._closers[key] = close
            return self._items[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Close every resource, newest first; one that fails to close does not keep the others open."""
        with self._lock:
            self._closed = True
            order, self._order = self._order, []
        for key in reversed(order):
            thing = self._items.pop(key, None)
            closer = self._closers.pop(key, None)
            try:
                if closer is not None:
                    closer(thing)
                elif callable(getattr(thing, "close", None)):
                    thing.close()
            except Exception:
                traceback.print_exc()

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
