"""Per-token log-probabilities of given ids under a model, with gradients: the quantity StarPO/PPO/GRPO losses need.

Token-faithful RL scores the ids the rollout sampled (kept in `Generation.token_ids`), never a re-tokenisation of the
text. This recomputes log p(id_t | ids_<t) for those ids in one forward pass, with the positions generate used (left
padding skipped), so at the sampling temperature it equals the log-probabilities recorded at rollout time up to
float noise, and the ratio new/old in a clipped objective starts at 1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def token_logprobs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    **model_inputs: Any,
) -> torch.Tensor:
    """log p(input_ids[:, t] | input_ids[:, :t]) for t = 1..L-1, shape (batch, L-1), differentiable.

    Args:
        model: A causal LM or VLM.
        input_ids: Prompt and completion ids, (batch, L), left-padded when rows differ in length.
        attention_mask: 1 for real tokens, 0 for padding; positions then skip the pad slots as in generate.
        temperature: Divide the logits by it first, to score under the distribution the rollout sampled from.
        **model_inputs: Anything else the forward pass needs (`pixel_values`, `image_grid_thw`...).

    Returns:
        Float32 log-probabilities; entries whose target is padding are meaningless (mask them with
        `attention_mask[:, 1:]`), and the prompt's entries are usually masked out of a policy loss too.
    """
    if attention_mask is not None and "position_ids" not in model_inputs and not bool(attention_mask.all()):
        position_ids = attention_mask.long().cumsum(-1) - 1
        model_inputs["position_ids"] = position_ids.masked_fill(attention_mask == 0, 1)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, **model_inputs).logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    targets = input_ids[:, 1:].unsqueeze(-1)
    # gather minus logsumexp, instead of a full log_softmax, keeps one (batch, L, vocab) tensor fewer alive.
    return logits.gather(-1, targets).squeeze(-1) - torch.logsumexp(logits, dim=-1)
