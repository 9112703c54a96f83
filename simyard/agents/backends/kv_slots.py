"""A preallocated KV cache with one row (slot) per running sequence, for continuous batching.

transformers' `DynamicCache` concatenates every layer's keys and values on every generated token, and a batch that
changes (a sequence joins or leaves) has to be rebuilt with `index_select` and padding: the batching thread then
copies the whole cache for each token. `SlotCache` keeps per-layer buffers of shape (slots, kv heads, capacity, head
dim) that stay put:

* all running rows share one column clock: a decode step writes each row's new key and value into column `end` and
  attention reads the view `[:rows, :, start:end + 1]` (no copy);
* a row's tokens are right-aligned to `end`: row r holds real tokens in columns `[row_start[r], end)`, everything to
  their left is masked, so rows of different lengths share the window as left padding does;
* a joining group of prompts is written once into the next free rows (`add`); a leaving row is replaced by the last
  running row (one row copied, `remove`), so the running rows stay `0..rows-1` and the views stay views;
* the buffers are reallocated only when the window outgrows them (capacity doubles) or when a longer prompt needs
  more room on the left: amortised, never per token.

It plugs into the models through transformers' own cache interface (`Cache` with one `CacheLayerMixin` per layer):
each layer's `update` writes the new keys and values and returns the views, `get_mask_sizes` and `get_seq_length`
describe the window, so the model builds its causal mask from the 2-D mask `mask()` returns.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

#: Columns a fresh buffer holds beyond what is asked for (and the least it grows by).
_HEADROOM = 256


class _SlotLayer(CacheLayerMixin):
    """One layer's view of the `SlotCache`: writes at the shared column clock, reads the window."""

    is_sliding = False

    def __init__(self, owner: SlotCache, number: int) -> None:
        super().__init__()
        self.owner = owner
        self.number = number

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        raise RuntimeError("a SlotCache is filled by SlotCache.add, not by a forward pass")

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        owner = self.owner
        rows, width = key_states.shape[0], key_states.shape[-2]
        if rows != owner.rows or owner.end + width > owner.capacity:
            raise RuntimeError(f"the slot cache holds {owner.rows} rows and {owner.capacity - owner.end} free columns; "
                               f"got {rows} rows of {width}")
        stop = owner.end + width
        keys, values = owner.keys[self.number], owner.values[self.number]
        keys[:rows, :, owner.end : stop] = key_states
        values[:rows, :, owner.end : stop] = value_states
        return keys[:rows, :, owner.start : stop], values[:rows, :, owner.start : stop]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.owner.end - self.owner.start + query_length, 0

    def get_seq_length(self) -> int:
        return self.owner.end - self.owner.start

    def get_max_length(self) -> int:
        return -1


class SlotCache(Cache):
    """Per-slot preallocated keys and values for every layer (see the module docs).

    Args:
        slots: Rows the cache can hold at once (the batcher's `max_batch`).
        layers: Decoder layers of the model.
    """

    def __init__(self, slots: int, layers: int) -> None:
        super().__init__(layers=[_SlotLayer(self, number) for number in range(layers)])
        self.slots = slots
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.capacity = 0
        self.rows = 0
        self.start = 0
        self.end = 0
        self.row_start: list[int] = []
        self.reallocations = 0

    # ------------------------------------------------------------------------------------------- rows

    def add(self, layers: list[tuple[torch.Tensor, torch.Tensor]], lengths: list[int]) -> None:
        """Append rows: per layer (keys, values) of shape (n, heads, width, dim), left-padded to `width`, whose row
        i holds `lengths[i]` real tokens at its right end."""
        count, width = layers[0][0].shape[0], layers[0][0].shape[2]
        if self.rows + count > self.slots:
            raise RuntimeError(f"{self.rows} + {count} rows do not fit {self.slots} slots")
        if not self.keys or (not self.rows and self.capacity < width + 1):
            self._allocate(layers, width + _HEADROOM)
        if not self.rows:  # an empty cache: the window starts where this group's prompts end
            self.start = self.end = width
            self.row_start = []
        elif self.end < width or self.end + 1 > self.capacity:
            # The prompt needs more room on the left than the window has: move the window right (a rare copy).
            self._relayout(end=max(self.end, width), capacity=max(self.capacity, max(self.end, width) + _HEADROOM))
        first = self.end - width
        for number, (keys, values) in enumerate(layers):
            self.keys[number][self.rows : self.rows + count, :, first : self.end] = keys
            self.values[number][self.rows : self.rows + count, :, first : self.end] = values
        self.row_start.extend(self.end - length for length in lengths)
        self.rows += count
        self.start = min(self.row_start)

    def remove(self, gone: list[int]) -> list[int]:
        """Drop the rows in `gone`; the last running rows move into their places (one row copied each).

        Returns:
            The new order: element i is the old index of the row now at i (for the caller's per-row lists).
        """
        gone_set = set(gone)
        order = list(range(self.rows))
        keep = self.rows - len(gone_set)
        holes = sorted(row for row in gone_set if row < keep)
        movers = [row for row in range(keep, self.rows) if row not in gone_set]
        if holes:
            to = torch.tensor(holes, device=self.keys[0].device)
            source = torch.tensor(movers, device=self.keys[0].device)
            for buffers in (self.keys, self.values):
                for buffer in buffers:
                    window = buffer[:, :, self.start : self.end]
                    window.index_copy_(0, to, window.index_select(0, source))
            for hole, mover in zip(holes, movers, strict=True):
                order[hole] = mover
                self.row_start[hole] = self.row_start[mover]
        order = order[:keep]
        self.row_start = self.row_start[:keep]
        self.rows = keep
        self.start = min(self.row_start) if keep else self.end
        return order

    # ------------------------------------------------------------------------------------------- decoding

    def reserve(self, width: int = 1) -> None:
        """Make room for `width` more columns at the end (compacting or growing the buffers if needed)."""
        if self.end + width <= self.capacity:
            return
        window = self.end - self.start
        if window + width + _HEADROOM <= self.capacity // 2:
            self._relayout(end=window, capacity=self.capacity)  # mostly dead columns on the left: slide back
        else:
            self._relayout(end=window, capacity=max(2 * self.capacity, window + width + _HEADROOM))

    def mask(self, width: int = 1) -> torch.Tensor:
        """The 2-D attention mask of the next pass: (rows, window + width), True where a row has a real token."""
        device = self.keys[0].device
        columns = torch.arange(self.start, self.end + width, device=device)
        starts = torch.tensor(self.row_start, device=device)
        return columns.unsqueeze(0) >= starts.unsqueeze(1)

    def advance(self, width: int = 1) -> None:
        """Commit the columns the last pass wrote."""
        self.end += width

    def clear(self) -> None:
        self.rows, self.start, self.end, self.row_start = 0, 0, 0, []

    # ------------------------------------------------------------------------------------------- buffers

    def _allocate(self, layers: list[tuple[torch.Tensor, torch.Tensor]], capacity: int) -> None:
        self.keys = [_buffer(keys, self.slots, capacity) for keys, _ in layers]
        self.values = [_buffer(values, self.slots, capacity) for _, values in layers]
        self.capacity = capacity

    def _relayout(self, *, end: int, capacity: int) -> None:
        """New buffers of `capacity` columns with the window moved to end at column `end`."""
        window, shift = self.end - self.start, end - self.end
        for buffers in (self.keys, self.values):
            for number, old in enumerate(buffers):
                new = old.new_zeros((old.shape[0], old.shape[1], capacity, old.shape[3]))
                new[: self.rows, :, end - window : end] = old[: self.rows, :, self.start : self.end]
                buffers[number] = new
        self.capacity = capacity
        self.start, self.end = self.start + shift, end
        self.row_start = [row + shift for row in self.row_start]
        self.reallocations += 1


def _buffer(like: torch.Tensor, slots: int, capacity: int) -> torch.Tensor:
    return like.new_zeros((slots, like.shape[1], capacity, like.shape[3]))
