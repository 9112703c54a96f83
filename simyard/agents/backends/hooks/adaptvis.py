"""AdaptVis / ScalingVis: multiply the attention logits on a span of key positions (the image tokens) by alpha.

As released (github.com/shiqichen17/AdaptVis @ 3b41399, see shared/research/methods.md §1): the raw logits `QKᵀ/√d`
of the **last prompt row** on the **image columns** are multiplied by alpha in **every layer**, before the mask and
softmax, in the **prefill pass only** (decode steps feel it through the cache). alpha > 1 sharpens the attention among
image tokens, alpha < 1 flattens it; since text columns are left alone the image-vs-text mass moves too (towards the
image when its logits are positive). AdaptVis picks alpha per sample from the first generated token's probability:
below a threshold it smooths (alpha1 < 1), otherwise it sharpens (alpha2 > 1). The defaults here follow the release;
`queries="all"` and `prefill_only=False` widen them for other experiments.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Literal

import torch
from torch import nn

from simyard.agents.backends.hooks.attention import AttentionCall, Hook, Record, attention_hooks
from simyard.agents.backends.hooks.layers import decoder_layers

KeySpan = slice | range | tuple[int, int] | torch.Tensor
"""Key positions to scale: a slice/range/(start, stop) of cache slots, or a bool mask of shape (keys,) or (batch,
keys) such as `input_ids == image_token_id` (shorter masks are padded with False, so decode-step keys are never
scaled)."""


def scale_attention(
    keys: KeySpan,
    alpha: float,
    *,
    queries: Literal["last", "all"] = "last",
    prefill_only: bool = True,
) -> Hook:
    """A hook that multiplies the pre-softmax logits on `keys` by `alpha` (ScalingVis; AdaptVis with a chosen alpha).

    Args:
        keys: The key positions to scale (see `KeySpan`).
        alpha: The factor; 1 returns the logits untouched (bit-identical output).
        queries: `last`: only the last query row of the pass (the release's choice); `all`: every row.
        prefill_only: Scale only in the pass that reads the prompt, not in cached decode steps (the release's choice).
    """

    def hook(call: AttentionCall) -> torch.Tensor | None:
        if alpha == 1.0 or (prefill_only and not call.is_prefill):
            return None
        scores = call.scores
        columns = _key_mask(keys, scores.shape[0], scores.shape[-1], scores.device)
        rows = torch.zeros(scores.shape[-2], dtype=torch.bool, device=scores.device)
        if queries == "last":
            rows[-1] = True
        else:
            rows[:] = True
        where = columns[:, None, None, :] & rows[None, None, :, None]
        return torch.where(where, scores * alpha, scores)

    return hook


def _key_mask(keys: KeySpan, batch: int, n_keys: int, device: torch.device) -> torch.Tensor:
    """The span as a bool tensor of shape (batch or 1, n_keys)."""
    if isinstance(keys, torch.Tensor):
        mask = keys.to(device=device, dtype=torch.bool)
        mask = mask[None] if mask.dim() == 1 else mask
        if mask.shape[-1] < n_keys:
            mask = torch.nn.functional.pad(mask, (0, n_keys - mask.shape[-1]), value=False)
        return mask[:, :n_keys]
    if isinstance(keys, tuple):
        keys = slice(*keys)
    if isinstance(keys, range):
        keys = slice(keys.start, keys.stop, keys.step)
    mask = torch.zeros(1, n_keys, dtype=torch.bool, device=device)
    mask[:, keys] = True
    return mask


def image_token_mask(input_ids: torch.Tensor, image_token_id: int) -> torch.Tensor:
    """The image-token positions of a VLM prompt, for `keys`: LLaVA- and Qwen-VL-style processors expand the image
    placeholder to one id per image feature, so the ids mark exactly the slots the vision features fill."""
    return input_ids == image_token_id


def first_token_confidence(logits: torch.Tensor) -> torch.Tensor:
    """AdaptVis's confidence: the highest softmax probability of the first generated token, per row of (batch,
    vocab) next-token logits. (The release rounds it to 2 decimals on WhatsUp and uses raw scores on VSR.)"""
    return torch.softmax(logits.float(), dim=-1).max(dim=-1).values


def adaptive_alpha(confidence: float, threshold: float, smooth: float, sharpen: float) -> float:
    """AdaptVis's gate: smooth (alpha1 < 1) below the confidence threshold, otherwise sharpen (alpha2 > 1)."""
    return smooth if confidence < threshold else sharpen


@contextlib.contextmanager
def adaptvis(
    model: nn.Module,
    keys: KeySpan,
    alpha: float,
    *,
    layers: Iterable[int] | None = None,
    queries: Literal["last", "all"] = "last",
    prefill_only: bool = True,
    record: Iterable[int] = (),
) -> Iterator[Record]:
    """Run the model with its attention logits on `keys` scaled by `alpha` in `layers` (all, by default).

    Example:
        >>> with adaptvis(model, image_token_mask(inputs["input_ids"], model.config.image_token_id), 1.5):
        ...     out = model.generate(**inputs, max_new_tokens=20)
    """
    chosen = range(len(decoder_layers(model))) if layers is None else layers
    hook = scale_attention(keys, alpha, queries=queries, prefill_only=prefill_only)
    with attention_hooks(model, {layer: hook for layer in chosen}, record=record) as result:
        yield result
