"""Finding a model's text decoder and its layers, and capturing their hidden states with public torch hooks.

For a VLM the methods act on the language model (AdaptVis scales the language model's attention to image tokens), so
everything here goes through `get_decoder()`, which transformers defines for causal LMs (`model.model`) and for
LLaVA- and Qwen-VL-style models (`model.model.language_model`) alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from simyard.platform.errors import BackendError


def text_decoder(model: nn.Module) -> nn.Module:
    """The module that holds the decoder layers: `model.get_decoder()`, or the model itself when it is one."""
    get = getattr(model, "get_decoder", None)
    decoder = get() if callable(get) else None
    for candidate in (decoder, model):
        if candidate is not None and isinstance(getattr(candidate, "layers", None), nn.ModuleList):
            return candidate
    raise BackendError(
        f"cannot find the decoder layers of {type(model).__name__}",
        hint="pass a transformers causal LM or VLM whose get_decoder() has a `layers` list",
    )


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of the model's language model, in order (index i is `layer_idx` i)."""
    return text_decoder(model).layers


@contextlib.contextmanager
def capture_hidden_states(model: nn.Module, layers: Iterable[int]) -> Iterator[dict[int, list[torch.Tensor]]]:
    """Keep the output hidden states of chosen decoder layers, one tensor per forward pass.

    A forward hook on each chosen layer (public torch API) rather than `output_hidden_states=True`, so only the
    chosen layers are kept and it works inside `generate`, where the caller does not own the forward call. Layer i's
    output equals `output_hidden_states[i + 1]`, except that some models give the last entry after the final norm.

    Yields:
        Per layer index, the list of (batch, tokens, hidden_size) tensors, detached, on the model's device.
    """
    all_layers = decoder_layers(model)
    n_layers = len(all_layers)
    captured: dict[int, list[torch.Tensor]] = {}
    handles = []
    try:
        for layer in sorted(set(layers)):
            index = layer + n_layers if layer < 0 else layer
            if not 0 <= index < n_layers:
                raise BackendError(f"no decoder layer {layer}: the model has {n_layers}", hint="use 0..n-1 or -1")
            handles.append(all_layers[index].register_forward_hook(_keeper(captured, index)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _keeper(captured: dict[int, list[torch.Tensor]], index: int):
    def hook(_module: nn.Module, _args: Any, output: Any) -> None:
        states = output[0] if isinstance(output, tuple) else output
        captured.setdefault(index, []).append(states.detach())

    return hook
