"""Per-token log-probabilities for RL (StarPO): equal to what generate sampled the tokens from."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from simyard.agents.backends.internals import token_logprobs  # noqa: E402

from .tiny import prompt  # noqa: E402


def test_token_logprobs_equal_the_scores_generate_sampled_from(lm):
    """A left-padded batch of two prompts, sampled at temperature 0.8, rescored in one forward pass."""
    ids = prompt(6, batch=2)
    ids[0, :2] = 0
    mask = (ids != 0).long()
    torch.manual_seed(0)
    out = lm.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=4,
        do_sample=True,
        temperature=0.8,
        top_k=0,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=0,
    )
    sampled = (torch.stack(out.logits, 1) / 0.8).log_softmax(-1)  # (batch, steps, vocab): what was sampled from
    new = out.sequences[:, ids.shape[1] :]
    recorded = sampled.gather(-1, new[..., None]).squeeze(-1)
    full_mask = torch.cat([mask, torch.ones_like(new)], 1)
    with torch.no_grad():
        rescored = token_logprobs(lm, out.sequences, full_mask, temperature=0.8)[:, ids.shape[1] - 1 :]
    torch.testing.assert_close(rescored, recorded, rtol=1e-4, atol=1e-4)


def test_token_logprobs_carry_gradients(lm):
    ids = prompt(6)
    logprobs = token_logprobs(lm, ids)
    assert logprobs.shape == (1, 5) and logprobs.requires_grad
    logprobs.sum().backward()
    assert lm.lm_head.weight.grad is not None
    lm.zero_grad(set_to_none=True)
