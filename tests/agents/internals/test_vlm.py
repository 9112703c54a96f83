"""Hooks on LLaVA- and Qwen2-VL-style VLMs: the language model's attention to image tokens, not the vision tower."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from simyard.agents.backends.internals import (  # noqa: E402
    HOOKED,
    ContrastiveLogitsProcessor,
    adaptive_alpha,
    adaptvis,
    attention_hooks,
    first_token_confidence,
    image_token_mask,
)

from .tiny import IMAGE_TOKEN, VISION_END, VISION_START, prompt  # noqa: E402


def _image_prompt(before: list[int] = (), after: list[int] = ()) -> torch.Tensor:
    """Three text tokens, four image tokens (wrapped in `before`/`after` markers), five text tokens."""
    text = prompt(8)[0].tolist()
    return torch.tensor([text[:3] + list(before) + [IMAGE_TOKEN] * 4 + list(after) + text[3:]])


@pytest.fixture(params=["llava", "qwen2_vl"])
def vlm(request):
    """(model, inputs): a 16 px image in 8 px patches for LLaVA; 16 patches merged 2x2 for Qwen2-VL."""
    model = request.getfixturevalue(request.param)
    pixels = torch.Generator().manual_seed(0)
    if request.param == "llava":
        return model, {"input_ids": _image_prompt(), "pixel_values": torch.randn(1, 3, 16, 16, generator=pixels)}
    ids = _image_prompt([VISION_START], [VISION_END])
    return model, {
        "input_ids": ids,
        "pixel_values": torch.randn(16, 3 * 2 * 4 * 4, generator=pixels),
        "image_grid_thw": torch.tensor([[1, 4, 4]]),
        "mm_token_type_ids": (ids == IMAGE_TOKEN).long(),
    }


def _run(model, inputs, **adapt):
    mask = image_token_mask(inputs["input_ids"], IMAGE_TOKEN)
    with adaptvis(model, mask, record=[0], **adapt) as record, torch.no_grad():
        logits = model(**inputs).logits
    return logits, record


def test_adaptvis_with_alpha_one_is_bit_identical_to_eager_on_a_vlm(vlm):
    model, inputs = vlm
    hooked, _ = _run(model, inputs, alpha=1.0)
    model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.no_grad():
            eager = model(**inputs).logits
    finally:
        model.set_attn_implementation({"text_config": "sdpa"})
    assert torch.equal(hooked, eager)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_adaptvis_scales_the_last_rows_logits_on_the_image_tokens(vlm, alpha):
    model, inputs = vlm
    image = image_token_mask(inputs["input_ids"], IMAGE_TOKEN)[0]
    _, plain = _run(model, inputs, alpha=1.0)
    logits, scaled = _run(model, inputs, alpha=alpha)
    raw = plain.scores[0][0][0, :, -1]
    expected = torch.where(image, raw * alpha, raw)
    torch.testing.assert_close(scaled.probs[0][0][0, :, -1], torch.softmax(expected, -1), rtol=1e-5, atol=1e-6)
    assert not torch.equal(logits, _run(model, inputs, alpha=1.0)[0])


def test_only_the_language_model_is_switched(vlm):
    model, _ = vlm
    config = model.config
    with attention_hooks(model, {}):
        assert config.text_config._attn_implementation == HOOKED
        assert config.vision_config._attn_implementation == "sdpa"
    assert config.text_config._attn_implementation == "sdpa"


def test_the_adaptvis_gate_smooths_below_the_threshold_and_sharpens_above():
    logits = torch.log(torch.tensor([[0.35, 0.65], [0.9, 0.1]]))
    confidence = first_token_confidence(logits)
    torch.testing.assert_close(confidence, torch.tensor([0.65, 0.9]))
    assert [adaptive_alpha(float(c), 0.7, smooth=0.5, sharpen=1.5) for c in confidence] == [0.5, 1.5]


def _other_image(model, inputs):
    """The same prompt with another image: noise for LLaVA; a 2x8 patch grid (merged 1x4) for Qwen2-VL, whose M-RoPE
    offsets then differ from the generation's own (-2 for the 4x4 grid, 0 for 2x8)."""
    other = dict(inputs)
    other["pixel_values"] = torch.randn(inputs["pixel_values"].shape, generator=torch.Generator().manual_seed(1))
    if "image_grid_thw" in inputs:
        other["image_grid_thw"] = torch.tensor([[1, 2, 8]])
    return other


class _Recording(ContrastiveLogitsProcessor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def contrast_logits(self, input_ids):
        logits = super().contrast_logits(input_ids)
        self.seen.append((input_ids.clone(), logits))
        return logits


def test_contrast_passes_leave_the_vlm_generation_alone(vlm):
    """With alpha 0 the tokens are plain greedy's: the contrast's prefill did not overwrite the generation's
    decoding state (Qwen2-VL keeps its M-RoPE offsets on the model)."""
    model, inputs = vlm
    plain = model.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=0)
    contrast = ContrastiveLogitsProcessor(model, _other_image(model, inputs), alpha=0.0)
    contrasted = model.generate(
        **inputs, max_new_tokens=4, do_sample=False, pad_token_id=0, logits_processor=[contrast]
    )
    assert torch.equal(plain, contrasted)


@pytest.mark.parametrize("perturbation", ["other image", "no image"])
def test_contrast_logits_are_those_of_the_contrast_prompt_and_the_generated_tokens(vlm, perturbation):
    """Each step's contrast logits equal a full forward pass over the contrast prompt plus the tokens generated so
    far; without an image, Qwen2-VL's text positions must not take the generation's M-RoPE offsets."""
    model, inputs = vlm
    other = _other_image(model, inputs) if perturbation == "other image" else {"input_ids": prompt(6, seed=5)}
    contrast = _Recording(model, other, alpha=1.0)
    model.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=0, logits_processor=[contrast])
    ids, logits = contrast.seen[-1]
    generated = ids[:, inputs["input_ids"].shape[1] :]
    full = dict(other, input_ids=torch.cat([other["input_ids"], generated], 1))
    if "mm_token_type_ids" in full:
        full["mm_token_type_ids"] = torch.cat([other["mm_token_type_ids"], torch.zeros_like(generated)], 1)
    with torch.no_grad():
        expected = model(**full).logits[:, -1]
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
