"""Logits processors: the contrastive (CoDa-style) processor, the sampling chain, per-row chains for an engine."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from simyard.agents.backends.internals import (  # noqa: E402
    ContrastiveLogitsProcessor,
    apply_row_chains,
    sampling_chain,
)

from .tiny import prompt  # noqa: E402


def _next_logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits[:, -1, :]


def _greedy(model, ids, chain, steps=4):
    out = model.generate(input_ids=ids, max_new_tokens=steps, do_sample=False, logits_processor=chain, pad_token_id=0)
    return out[:, ids.shape[1] :]


def test_contrast_with_alpha_zero_is_the_identity(lm):
    ids, other = prompt(seed=0), prompt(seed=1)
    scores = _next_logits(lm, ids)
    processor = ContrastiveLogitsProcessor(lm, {"input_ids": other}, alpha=0.0)
    assert torch.equal(processor(ids, scores.clone()), scores)


def test_contrast_with_alpha_zero_generates_what_plain_greedy_does(lm):
    ids, other = prompt(seed=0), prompt(seed=1)
    plain = _greedy(lm, ids, None)
    contrasted = _greedy(lm, ids, [ContrastiveLogitsProcessor(lm, {"input_ids": other}, alpha=0.0)])
    assert torch.equal(plain, contrasted)


def test_contrast_of_identical_inputs_changes_nothing(lm):
    ids = prompt()
    plain = _greedy(lm, ids, None)
    contrasted = _greedy(lm, ids, [ContrastiveLogitsProcessor(lm, {"input_ids": ids.clone()}, alpha=3.0)])
    assert torch.equal(plain, contrasted)


def test_contrast_picks_the_argmax_of_the_contrasted_log_probabilities_at_every_step(lm):
    """Checked against full forward passes without a cache: the processor's own cache follows the generation."""
    ids, other, alpha = prompt(seed=0), prompt(9, seed=1), 4.0
    chosen = _greedy(lm, ids, [ContrastiveLogitsProcessor(lm, {"input_ids": other}, alpha=alpha)], steps=5)
    assert not torch.equal(chosen, _greedy(lm, ids, None, steps=5))
    for step in range(chosen.shape[1]):
        so_far = chosen[:, :step]
        expert = torch.log_softmax(_next_logits(lm, torch.cat([ids, so_far], 1)), -1)
        amateur = torch.log_softmax(_next_logits(lm, torch.cat([other, so_far], 1)), -1)
        assert int(((1 + alpha) * expert - alpha * amateur).argmax()) == int(chosen[0, step])


def test_contrast_handles_a_left_padded_contrast_prompt(lm):
    """A padded perturbed prompt gives the same choices as the unpadded one (positions skip the pad)."""
    ids, other = prompt(seed=0), prompt(9, seed=1)
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), other], 1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones_like(other)], 1)
    plain = _greedy(lm, ids, [ContrastiveLogitsProcessor(lm, {"input_ids": other}, alpha=4.0)])
    lm.set_attn_implementation("eager")  # sdpa with a padded row differs from no padding in the last bits
    try:
        left = _greedy(
            lm, ids, [ContrastiveLogitsProcessor(lm, {"input_ids": padded, "attention_mask": mask}, alpha=4.0)]
        )
    finally:
        lm.set_attn_implementation("sdpa")
    assert torch.equal(plain, left)


def test_plausibility_removes_tokens_far_below_the_top(lm):
    ids, other = prompt(seed=0), prompt(seed=1)
    scores = _next_logits(lm, ids)
    out = ContrastiveLogitsProcessor(lm, {"input_ids": other}, alpha=1.0, plausibility=0.5)(ids, scores)
    probs = torch.softmax(scores, -1)
    keep = probs >= 0.5 * probs.max()
    assert torch.isinf(out[~keep]).all() and torch.isfinite(out[keep]).all()


def test_sampling_chain_applies_temperature_then_top_p():
    scores = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    chain = sampling_chain(temperature=0.5, top_p=0.7)
    out = chain(torch.zeros(1, 1, dtype=torch.long), scores.clone())
    sharpened = torch.softmax(scores / 0.5, -1)  # 0.69, 0.25, ...: the top two reach 0.7
    assert torch.isinf(out[0, 2:]).all()
    torch.testing.assert_close(torch.softmax(out, -1)[0, :2], sharpened[0, :2] / sharpened[0, :2].sum())


def test_sampling_chain_leaves_neutral_settings_out():
    assert len(sampling_chain()) == 0
    assert len(sampling_chain(temperature=0.0, top_p=1.0, top_k=0)) == 0
    assert [type(p).__name__ for p in sampling_chain(0.7, 0.9, 5)] == [
        "TemperatureLogitsWarper",
        "TopKLogitsWarper",
        "TopPLogitsWarper",
    ]


def test_row_chains_change_only_their_own_rows():
    scores = torch.randn(3, 10)
    ids = [torch.tensor([1, 2]), torch.tensor([3]), torch.tensor([4, 5, 6])]
    chains = [None, sampling_chain(top_k=2), sampling_chain(temperature=2.0)]
    out = apply_row_chains(chains, ids, scores)
    assert torch.equal(out[0], scores[0])
    assert int(torch.isfinite(out[1]).sum()) == 2
    torch.testing.assert_close(out[2], scores[2] / 2.0)
    assert not math.isinf(float(scores[1].min()))  # the input is left alone
