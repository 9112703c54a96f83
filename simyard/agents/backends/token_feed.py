"""The hand-off of streamed tokens from the batching thread to an event loop, in batches of what is ready.

The batching thread samples a token for every running sequence in each pass; a streamed request's consumer (a
`simyard serve` handler) lives on an event loop. Waking the loop once per token (`call_soon_threadsafe` per token,
a task and an `asyncio.wait` per token on the other side) cost more than the tokens of a tiny model take to make,
and on a loaded machine the consumer then fell further and further behind. Here the thread appends to a plain deque
and wakes the loop only when the consumer has drained everything before (one wake-up per batch, not per token); the
consumer takes all that is there at once, so tokens that became ready while it was busy travel together, as vLLM's
output collector merges the outputs a slow consumer has not yet taken.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any


class TokenFeed:
    """A one-consumer channel from any thread to the event loop it was made on.

    `push` may be called from any thread; `batches` yields lists of what was pushed, in order, each as soon as the
    loop runs after it arrived, and ends after `close` (whatever was pushed before `close` is yielded first).

    Args:
        wake_every: Wake the consumer only once this many items wait (the first item and `close` wake it at once):
            a consumer that would hold fewer back anyway (`simyard serve --stream-interval K`) is not woken for
            nothing on every pass.
    """

    def __init__(self, wake_every: int = 1) -> None:
        self._wake_every = max(1, wake_every)
        self._first = True
        self._loop = asyncio.get_running_loop()
        self._items: collections.deque[Any] = collections.deque()
        self._ready = asyncio.Event()
        self._waking = False  # a wake-up is on its way to the loop: further pushes need none
        self._closed = False

    def push(self, item: Any) -> None:
        """Add one item (any thread). Cheap: a deque append, and a wake-up only when none is pending."""
        self._items.append(item)
        if self._first or len(self._items) >= self._wake_every:
            self._first = False
            self._wake()

    def close(self) -> None:
        """No more items (any thread); the consumer ends once it has taken what is there."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waking:
            return
        self._waking = True
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    async def batches(self) -> AsyncIterator[list[Any]]:
        """What was pushed, in lists of what arrived together (while the consumer was busy elsewhere)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            # Cleared before draining: an item pushed from here on finds no wake-up pending and sends one, so
            # nothing can be left in the deque unannounced.
            self._waking = False
            closed = self._closed
            taken = []
            while self._items:
                taken.append(self._items.popleft())
            if taken:
                yield taken
            if closed and not self._items:
                return
