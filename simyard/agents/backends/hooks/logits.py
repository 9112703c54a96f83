"""Next-token logits processors: contrastive decoding (CoDa-style), the sampling chain, and per-row chains.

Everything here is a transformers `LogitsProcessor` (`__call__(input_ids, scores) -> scores`), so a chain is a
`LogitsProcessorList` that works with `model.generate(logits_processor=...)` and with simyard's own engine, which
applies each request's chain to that request's rows only (`apply_row_chains`).

CoDa's exact formula is not verified (shared/research/methods.md §2.2); `ContrastiveLogitsProcessor` implements the
contrastive-decoding form the notes give, s(y) = log p(y|x) + alpha·[log p(y|x) − log p(y|x′)] over the plausible
tokens {y : p(y|x) ≥ tau·max p}, which is also the form of CAD and VCD (x′ a perturbed prompt or image). How to
build x′ (which span is overshadowed and masked) is the method's business, not this module's.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from simyard.platform.errors import BackendError

_DECODING_STATE = ("rope_deltas",)
"""Attributes some models keep between generation steps on the model object (Qwen2/2.5-VL: M-RoPE offsets)."""


class ContrastiveLogitsProcessor(LogitsProcessor):
    """Contrast the model's next-token distribution with its distribution given a perturbed input.

    Returns `scores + alpha·(log_softmax(scores) − log_softmax(contrast))`, which samples like CD's
    `(1+alpha)·log p − alpha·log p′` (the two differ by a per-row constant), and is exactly `scores` for alpha = 0
    and tau = 0. The contrast model runs alongside the generation with its own KV cache: the first call reads the
    perturbed prompt, each later call feeds it the tokens generated since, so each step costs one extra token of
    forward pass. Put it first in a chain: it should see the model's own logits, before temperature or top-p.

    One instance serves one generation (its cache follows that generation's tokens); make a new one per call.

    Args:
        model: The model that gives the contrast logits, usually the generating model itself.
        contrast_inputs: The perturbed prompt's model inputs (`input_ids`, optionally `attention_mask` with left
            padding, `pixel_values`...), batch 1 or the generation's batch.
        alpha: The contrast weight; 0 turns the processor into the identity.
        plausibility: tau: tokens whose probability is below tau times the top probability get -inf (0 keeps all).
    """

    def __init__(
        self,
        model: nn.Module,
        contrast_inputs: Mapping[str, torch.Tensor],
        *,
        alpha: float = 1.0,
        plausibility: float = 0.0,
    ) -> None:
        if "input_ids" not in contrast_inputs:
            raise BackendError("contrast_inputs has no input_ids", hint="pass the tokenised perturbed prompt")
        if not 0.0 <= plausibility <= 1.0:
            raise BackendError(f"plausibility {plausibility} is outside [0, 1]", hint="tau is a fraction of max p")
        self.model = model
        self.alpha = alpha
        self.plausibility = plausibility
        self._inputs = dict(contrast_inputs)
        self._cache: Any = None
        self._mask: torch.Tensor | None = None
        self._seen = 0
        self._stateful = [m for m in model.modules() if any(hasattr(m, name) for name in _DECODING_STATE)]
        self._state: list[dict[str, Any]] = [dict.fromkeys(_DECODING_STATE) for _ in self._stateful]

    @torch.no_grad()
    def contrast_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The contrast model's next-token logits for the generation so far (advances its cache)."""
        generation_state = self._swap(self._state)
        try:
            out = self._forward(input_ids)
        finally:
            self._state = self._swap(generation_state)
        self._cache = out["cache"] if "cache" in out else out["past_key_values"]
        self._seen = input_ids.shape[1]
        return out.logits[:, -1, :]

    def _swap(self, state: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Install one stream's decoding state on the model and return the other's: some VLMs keep state between
        steps on the model itself (Qwen2-VL's M-RoPE offsets), and the two streams must not read each other's."""
        previous = []
        for module, values in zip(self._stateful, state, strict=True):
            previous.append({name: getattr(module, name, None) for name in values})
            for name, value in values.items():
                if hasattr(module, name):
                    setattr(module, name, value)
        return previous

    def _forward(self, input_ids: torch.Tensor) -> Any:
        batch = input_ids.shape[0]
        if self._cache is None:
            inputs = {k: _expand(v, batch) for k, v in self._inputs.items()}
            self._mask = inputs.get("attention_mask")
            return self.model(**inputs, use_cache=True)
        if input_ids.shape[1] < self._seen:
            raise BackendError(
                "a ContrastiveLogitsProcessor was reused for a second generation",
                hint="make a new processor for each generate call",
            )
        new = input_ids[:, self._seen :]
        kwargs: dict[str, Any] = {}
        if self._mask is not None:
            self._mask = torch.cat([self._mask, self._mask.new_ones(new.shape)], dim=1)
            kwargs["attention_mask"] = self._mask
            if not bool(self._mask.all()):
                # Left padding: rotary positions skip the pad slots, as generate computes them.
                positions = (self._mask.long().cumsum(-1) - 1).clamp(min=0)
                kwargs["position_ids"] = positions[:, -new.shape[1] :]
        kwargs[_cache_argument(self.model)] = self._cache
        return self.model(input_ids=new, use_cache=True, **kwargs)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        contrast = self.contrast_logits(input_ids)
        expert = torch.log_softmax(scores.float(), dim=-1)
        amateur = torch.log_softmax(contrast.float().to(scores.device), dim=-1)
        difference = expert - amateur
        # Tokens already at -inf (masked by an earlier processor) stay there instead of turning into NaN.
        difference = torch.where(torch.isfinite(difference), difference, torch.zeros_like(difference))
        out = scores.float() + self.alpha * difference
        if self.plausibility > 0.0:
            cutoff = expert.max(dim=-1, keepdim=True).values + math.log(self.plausibility)
            out = out.masked_fill(expert < cutoff, -math.inf)
        return out.to(scores.dtype)


def _cache_argument(model: nn.Module) -> str:
    """transformers 5 renamed `past_key_values` to `cache`; use whichever this version's forward takes."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _expand(value: Any, batch: int) -> Any:
    """Repeat a batch-1 input to the generation's batch (n samples of one prompt share one perturbed prompt)."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == 1 and batch > 1:
        return value.expand(batch, *value.shape[1:]).contiguous()
    return value


def sampling_chain(
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    *,
    first: Sequence[LogitsProcessor] = (),
) -> LogitsProcessorList:
    """`first` (e.g. a contrast), then temperature, top-k and top-p: transformers' own warpers, in generate's order.

    Temperature 0 means greedy and adds no warper (take the argmax of the result); 1, top_p 1 and top_k 0 are left
    out because they change nothing.
    """
    chain = LogitsProcessorList(first)
    if temperature > 0.0 and temperature != 1.0:
        chain.append(TemperatureLogitsWarper(temperature))
    if top_k > 0:
        chain.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        chain.append(TopPLogitsWarper(top_p))
    return chain


def apply_row_chains(
    chains: Sequence[LogitsProcessorList | None],
    input_ids: Sequence[torch.Tensor],
    scores: torch.Tensor,
) -> torch.Tensor:
    """Apply each row's own chain to its row of a batch's next-token logits (for a batching engine).

    Args:
        chains: One chain per row, or None for rows without one (left as they are).
        input_ids: Per row, that sequence's ids so far (prompt and generated, no padding), shape (length,).
        scores: The batch's next-token logits, (rows, vocab).

    Returns:
        A new (rows, vocab) tensor; the input is not modified.
    """
    if len(chains) != scores.shape[0] or len(input_ids) != scores.shape[0]:
        raise BackendError(
            f"{len(chains)} chains and {len(input_ids)} id rows for {scores.shape[0]} rows of logits",
            hint="pass one chain (or None) and one id tensor per row",
        )
    out = scores.clone()
    for row, chain in enumerate(chains):
        if chain:
            out[row] = chain(input_ids[row][None, :], scores[row : row + 1])[0]
    return out
