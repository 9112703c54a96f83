"""Hooks on pre-softmax attention logits: exactness, the effect of scaling a span, restoring the implementation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from simyard.agents.backends.internals import (  # noqa: E402
    HOOKED,
    adaptvis,
    attention_hooks,
    register,
    scale_attention,
)
from simyard.platform.errors import BackendError  # noqa: E402

from .tiny import prompt  # noqa: E402


def _eager_logits(model, ids):
    """The reference: the same model on transformers' own eager attention, no hooks anywhere."""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            return model(input_ids=ids).logits
    finally:
        model.set_attn_implementation(previous)


def _last_row(model, ids, hooks, layer=0):
    """Layer `layer`'s raw logits and attention weights of the last query row, under `hooks`."""
    with attention_hooks(model, hooks, record=[layer]) as record, torch.no_grad():
        model(input_ids=ids)
    return record.scores[layer][0][0, :, -1], record.probs[layer][0][0, :, -1]


def test_alpha_one_is_bit_identical_to_eager_attention(lm):
    ids = prompt()
    with adaptvis(lm, slice(2, 8), 1.0, queries="all"), torch.no_grad():
        hooked = lm(input_ids=ids).logits
    assert torch.equal(hooked, _eager_logits(lm, ids))


def test_a_hook_that_returns_its_input_is_bit_identical_to_eager_attention(lm):
    ids = prompt()
    with attention_hooks(lm, {0: lambda call: call.scores, 1: lambda call: None}), torch.no_grad():
        hooked = lm(input_ids=ids).logits
    assert torch.equal(hooked, _eager_logits(lm, ids))


def test_hooked_attention_matches_sdpa_to_float_precision(lm):
    ids = prompt()
    with attention_hooks(lm, {}), torch.no_grad():
        hooked = lm(input_ids=ids).logits
    with torch.no_grad():
        plain = lm(input_ids=ids).logits
    assert lm.config._attn_implementation == "sdpa"
    torch.testing.assert_close(hooked, plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_span_mass_is_the_softmax_of_the_scaled_logits(lm, alpha):
    """The measured post-softmax weights are exactly what scaling the span's logits by alpha predicts, per head."""
    ids = prompt()
    span = slice(3, 9)
    raw, _ = _last_row(lm, ids, {})
    _, probs = _last_row(lm, ids, {0: scale_attention(span, alpha)})
    expected = raw.clone()
    expected[:, span] *= alpha
    torch.testing.assert_close(probs, torch.softmax(expected, dim=-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("alpha", "sign", "moves"), [(2.0, 1, "up"), (0.5, 1, "down"), (2.0, -1, "down")])
def test_scaling_a_span_moves_its_attention_mass_as_its_logits_say(lm, alpha, sign, moves):
    """alpha > 1 draws attention to keys with positive logits and away from keys with negative ones; alpha < 1 the
    reverse. Head 0's span is the keys whose logits have the given sign, so the direction is known in advance."""
    ids = prompt(16)
    raw, base = _last_row(lm, ids, {})
    head = raw[0]
    span = (head * sign > 0).nonzero().flatten()
    assert 0 < len(span) < len(head)
    keys = torch.zeros(len(head), dtype=torch.bool)
    keys[span] = True
    _, scaled = _last_row(lm, ids, {0: scale_attention(keys, alpha)})
    before, after = base[0, keys].sum(), scaled[0, keys].sum()
    assert after > before if moves == "up" else after < before


def test_scaling_the_last_row_leaves_the_other_rows_alone(lm):
    ids = prompt()
    with attention_hooks(lm, {}, record=[0]) as plain, torch.no_grad():
        lm(input_ids=ids)
    with attention_hooks(lm, {0: scale_attention(slice(0, 6), 3.0)}, record=[0]) as scaled, torch.no_grad():
        lm(input_ids=ids)
    before, after = plain.probs[0][0], scaled.probs[0][0]
    assert torch.equal(before[:, :, :-1], after[:, :, :-1])
    assert not torch.equal(before[:, :, -1], after[:, :, -1])


def test_the_previous_attention_implementation_is_restored(lm):
    assert lm.config._attn_implementation == "sdpa"
    with attention_hooks(lm, {0: lambda call: None}):
        assert lm.config._attn_implementation == HOOKED
    assert lm.config._attn_implementation == "sdpa"


def test_the_implementation_is_restored_after_an_error(lm):
    with pytest.raises(RuntimeError), attention_hooks(lm, {0: lambda call: None}):
        raise RuntimeError("boom")
    assert lm.config._attn_implementation == "sdpa"
    lm.set_attn_implementation("eager")
    try:
        with attention_hooks(lm, {}):
            pass
        assert lm.config._attn_implementation == "eager"
    finally:
        lm.set_attn_implementation("sdpa")


def test_hooks_see_layers_and_cache_positions_while_generating(lm):
    seen = []
    with attention_hooks(lm, {-1: lambda call: seen.append((call.layer, call.query_positions.tolist()))}):
        lm.generate(input_ids=prompt(5), max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert seen == [(1, [0, 1, 2, 3, 4]), (1, [5]), (1, [6])]


def test_a_model_with_hooks_attached_refuses_a_second_block(lm):
    with attention_hooks(lm, {}), pytest.raises(BackendError, match="already has attention hooks"):
        with attention_hooks(lm, {}):
            pass
    assert lm.config._attn_implementation == "sdpa"


def test_a_layer_out_of_range_is_refused(lm):
    with pytest.raises(BackendError, match="no decoder layer 5"):
        with attention_hooks(lm, {5: lambda call: None}):
            pass


def test_a_hook_returning_the_wrong_shape_is_named(lm):
    with attention_hooks(lm, {0: lambda call: call.scores[..., :1]}), pytest.raises(BackendError, match="layer 0"):
        lm(input_ids=prompt())


def test_a_model_loaded_with_the_hooked_attention_is_plain_eager_outside_a_block(lm):
    model = transformers.AutoModelForCausalLM.from_pretrained(lm.name_or_path, attn_implementation=register()).eval()
    ids = prompt()
    with torch.no_grad():
        outside = model(input_ids=ids).logits
    assert torch.equal(outside, _eager_logits(lm, ids))
    with attention_hooks(model, {0: scale_attention(slice(0, 6), 2.0)}), torch.no_grad():
        inside = model(input_ids=ids).logits
    assert not torch.equal(inside, outside)
    assert model.config._attn_implementation == HOOKED
