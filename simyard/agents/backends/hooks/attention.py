"""Hooks on the pre-softmax attention logits of a transformers model, through its public attention interface.

transformers dispatches every attention layer through `ALL_ATTENTION_FUNCTIONS[config._attn_implementation]`. We
register one more entry, `simyard_hooked`, whose computation is the library's eager attention (bit for bit: same ops
in the same order) with a gap between `QKᵀ·scale` and the mask-and-softmax where user hooks run. A model opts in with
`model.set_attn_implementation("simyard_hooked")` or `attn_implementation="simyard_hooked"` at load; `attention_hooks`
does that for the duration of a `with` block and puts the previous implementation back. Nothing in the library is
patched, so an upgrade breaks loudly (a missing interface) rather than silently (a patched function that moved).

Hooks are bound to the attention modules of one model, so a model that is not inside a `with` block computes plain
eager attention even when its implementation is `simyard_hooked`, and two models can carry different hooks at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from simyard.agents.backends.hooks.layers import capture_hidden_states, decoder_layers, text_decoder
from simyard.platform.errors import BackendError

HOOKED = "simyard_hooked"
"""The name under which the hooked attention is registered in transformers' `AttentionInterface`."""


@dataclass(frozen=True)
class AttentionCall:
    """What a hook sees: one layer's attention logits in one forward pass.

    Attributes:
        layer: Index of the decoder layer (0-based, the model's own `layer_idx`).
        scores: Pre-softmax logits `QKᵀ·scale` (after soft-capping where the model has it), before the attention mask
            is added: shape (batch, heads, queries, keys). Return a tensor of the same shape to replace them.
        query_positions: Index of each query row in the key axis, shape (queries,): `arange(0, n)` in a prefill,
            `[n - 1]` for a decode step with a cache of n keys. With left padding the pad slots count, as in the cache.
            This assumes a growing (dynamic) cache; a static cache pads the keys to its size, so use `position_ids`.
        key_positions: `arange(keys)`: cache slots, including pad slots.
        attention_mask: The additive mask (0 or a large negative value) that will be added after the hooks, shape
            (batch, 1, queries, keys), or None when the model needs none.
        position_ids: The model's rotary positions for the query rows (they skip pad slots), where the model passes
            them; None otherwise.
        module: The attention module, for anything else a method needs (head_dim, the config).
    """

    layer: int
    scores: torch.Tensor
    query_positions: torch.Tensor
    key_positions: torch.Tensor
    attention_mask: torch.Tensor | None
    position_ids: torch.Tensor | None
    module: nn.Module

    @property
    def is_prefill(self) -> bool:
        """True when the queries start at the first key: the pass that reads the prompt (not a cached decode step)."""
        return int(self.query_positions[0]) == 0


Hook = Callable[[AttentionCall], torch.Tensor | None]
"""A function of an `AttentionCall` that returns replacement scores, or None to leave them."""


@dataclass
class Record:
    """What an `attention_hooks` block captured, one tensor per forward pass (detached, on the model's device).

    Attributes:
        scores: Per recorded layer, the pre-softmax logits after the hooks ran, before the mask: (batch, heads,
            queries, keys).
        probs: Per recorded layer, the attention weights after softmax (before dropout): same shape.
        hidden: Per captured layer, the decoder layer's output hidden states: (batch, tokens, hidden_size).
    """

    scores: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    probs: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    hidden: dict[int, list[torch.Tensor]] = field(default_factory=dict)


@dataclass
class _Binding:
    """The hooks and recording of one attention module while a `with` block is open."""

    layer: int
    hooks: Sequence[Hook]
    record: Record | None


# Keyed by id() of the attention module: the attention function gets the module, and ids cannot collide while the
# module is alive, which it is for as long as its binding exists (the `with` block holds the model).
_BINDINGS: dict[int, _Binding] = {}
_ACTIVE: set[int] = set()  # id() of the decoders inside a block, so a second block on one model is refused
_LOCK = threading.Lock()
_registered = False


def register() -> str:
    """Register `simyard_hooked` with transformers (idempotent) and return the name.

    Call it before `from_pretrained(..., attn_implementation=HOOKED)`; `attention_hooks` calls it itself. The mask
    function registered with it is the eager one, because the hooked attention adds the mask as eager attention does.
    """
    global _registered
    if not _registered:
        from transformers import AttentionInterface, AttentionMaskInterface
        from transformers.masking_utils import eager_mask

        AttentionInterface.register(HOOKED, hooked_attention_forward)
        AttentionMaskInterface.register(HOOKED, eager_mask)
        _registered = True
    return HOOKED


def hooked_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' eager attention with user hooks between the logits and the softmax (the registered function)."""
    if kwargs.get("s_aux") is not None:
        # Attention sinks (gpt-oss) add a column the hooks would have to know about; refuse rather than guess.
        raise BackendError(
            f"{type(module).__name__} uses attention sinks, which the hooked attention does not support",
            hint="use a model without attention sinks, or add the sink column to hooked_attention_forward",
        )
    groups = query.shape[1] // key.shape[1]
    key_states = _repeat_kv(key, groups)
    value_states = _repeat_kv(value, groups)

    scores = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    softcap = kwargs.get("softcap")
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap

    binding = _BINDINGS.get(id(module))
    mask = None if attention_mask is None else attention_mask[:, :, :, : key_states.shape[-2]]
    if binding is not None:
        scores = _run_hooks(binding, module, scores, mask, kwargs.get("position_ids"))
    if mask is not None:
        scores = scores + mask

    probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    if binding is not None and binding.record is not None:
        binding.record.probs.setdefault(binding.layer, []).append(probs.detach())
    probs_dropped = nn.functional.dropout(probs, p=dropout, training=module.training)
    output = torch.matmul(probs_dropped, value_states).transpose(1, 2).contiguous()
    return output, probs


def _repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    """Grouped-query attention: repeat each key/value head for its query heads (as transformers' `repeat_kv`)."""
    if groups == 1:
        return states
    batch, heads, length, dim = states.shape
    expanded = states[:, :, None, :, :].expand(batch, heads, groups, length, dim)
    return expanded.reshape(batch, heads * groups, length, dim)


def _run_hooks(
    binding: _Binding,
    module: nn.Module,
    scores: torch.Tensor,
    mask: torch.Tensor | None,
    position_ids: torch.Tensor | None,
) -> torch.Tensor:
    if binding.hooks:
        n_queries, n_keys = scores.shape[-2], scores.shape[-1]
        key_positions = torch.arange(n_keys, device=scores.device)
        for hook in binding.hooks:
            call = AttentionCall(
                layer=binding.layer,
                scores=scores,
                query_positions=key_positions[n_keys - n_queries :],
                key_positions=key_positions,
                attention_mask=mask,
                position_ids=position_ids,
                module=module,
            )
            replaced = hook(call)
            if replaced is not None:
                if replaced.shape != scores.shape:
                    raise BackendError(
                        f"an attention hook on layer {binding.layer} returned shape {tuple(replaced.shape)}, "
                        f"expected {tuple(scores.shape)}",
                        hint="return scores of the shape it was given, or None to leave them",
                    )
                scores = replaced
    if binding.record is not None:
        binding.record.scores.setdefault(binding.layer, []).append(scores.detach())
    return scores


def _layer_index(layer: int, n_layers: int) -> int:
    index = layer + n_layers if layer < 0 else layer
    if not 0 <= index < n_layers:
        raise BackendError(f"no decoder layer {layer}: the model has {n_layers}", hint=f"use 0..{n_layers - 1} or -1")
    return index


@contextlib.contextmanager
def attention_hooks(
    model: nn.Module,
    hooks: Mapping[int, Hook | Sequence[Hook]] | None = None,
    *,
    record: Iterable[int] = (),
    hidden: Iterable[int] = (),
) -> Iterator[Record]:
    """Run the model's forward passes with hooks on the attention logits of chosen layers.

    Inside the block the model's text decoder uses the `simyard_hooked` attention (eager, with hooks); on exit, even
    after an exception, its previous implementation (usually `sdpa`) is set back. For a VLM only the language model
    is switched: the vision tower keeps its own attention.

    Args:
        model: A transformers causal LM or VLM (anything whose `get_decoder()` has a `layers` list), or its decoder.
        hooks: Per layer index (negative counts from the end), a hook or hooks run in order on the logits.
        record: Layers whose scores (after the hooks) and attention weights are kept in the returned `Record`.
        hidden: Layers whose output hidden states are kept in `Record.hidden` (a forward hook on the decoder layer).

    Yields:
        The `Record`, filled as forward passes run.

    Raises:
        BackendError: a layer index out of range, a model whose attention cannot be switched, or a model that
            already has hooks attached (nest the hooks into one block instead).
    """
    decoder = text_decoder(model)
    layers = decoder_layers(model)
    n_layers = len(layers)
    per_layer: dict[int, list[Hook]] = {}
    for layer, fns in (hooks or {}).items():
        per_layer.setdefault(_layer_index(layer, n_layers), []).extend([fns] if callable(fns) else list(fns))
    recorded = {_layer_index(layer, n_layers) for layer in record}
    result = Record()

    modules = [m for m in decoder.modules() if isinstance(getattr(m, "layer_idx", None), int)]
    with _LOCK:
        if id(decoder) in _ACTIVE:
            raise BackendError(
                "this model already has attention hooks attached",
                hint="pass all the hooks to one attention_hooks block",
            )
        _ACTIVE.add(id(decoder))
        for m in modules:
            if m.layer_idx in per_layer or m.layer_idx in recorded:
                _BINDINGS[id(m)] = _Binding(
                    m.layer_idx, per_layer.get(m.layer_idx, []), result if m.layer_idx in recorded else None
                )

    previous = decoder.config._attn_implementation
    try:
        with capture_hidden_states(model, hidden) as captured:
            result.hidden = captured
            if previous != HOOKED:
                decoder.set_attn_implementation(register())
                if decoder.config._attn_implementation != HOOKED:
                    raise BackendError(
                        f"{type(decoder).__name__} cannot switch its attention implementation",
                        hint="the model must dispatch attention through transformers' AttentionInterface",
                    )
            yield result
    finally:
        with _LOCK:
            for m in modules:
                _BINDINGS.pop(id(m), None)
            _ACTIVE.discard(id(decoder))
        if decoder.config._attn_implementation != previous:
            decoder.set_attn_implementation(previous)
