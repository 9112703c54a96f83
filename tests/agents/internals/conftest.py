"""Tiny random models built from configs, saved to a temporary directory and loaded by path as a user's would be."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from .tiny import IMAGE_TOKEN, VIDEO_TOKEN, VISION_END, VISION_START, VOCAB  # noqa: E402

TEXT = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)


def _save_and_load(model, path, auto):
    model.save_pretrained(path)
    return auto.from_pretrained(path).eval()


@pytest.fixture(scope="session")
def llama(tmp_path_factory):
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TEXT))
    return _save_and_load(model, tmp_path_factory.mktemp("llama"), transformers.AutoModelForCausalLM)


@pytest.fixture(scope="session")
def qwen2(tmp_path_factory):
    torch.manual_seed(1)
    model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**TEXT))
    return _save_and_load(model, tmp_path_factory.mktemp("qwen2"), transformers.AutoModelForCausalLM)


@pytest.fixture(params=["llama", "qwen2"])
def lm(request):
    """Each text-model test runs on a Llama-style and a Qwen2-style model."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def llava(tmp_path_factory):
    """LLaVA-style: a one-layer CLIP tower (16 px images in 8 px patches: 4 image tokens) and the Llama LM."""
    torch.manual_seed(2)
    config = transformers.LlavaConfig(
        text_config=transformers.LlamaConfig(**TEXT),
        vision_config=transformers.CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=16,
            patch_size=8,
            projection_dim=32,
        ),
        image_token_id=IMAGE_TOKEN,
        vision_feature_layer=-1,
    )
    model = transformers.LlavaForConditionalGeneration(config)
    return _save_and_load(model, tmp_path_factory.mktemp("llava"), transformers.AutoModelForImageTextToText)


@pytest.fixture(scope="session")
def qwen2_vl(tmp_path_factory):
    """Qwen2-VL-style: a one-block vision tower (4 px patches merged 2x2: an 8 px image is one image token) and an
    M-RoPE Qwen2 LM."""
    torch.manual_seed(3)
    text = {k: v for k, v in TEXT.items() if k != "max_position_embeddings"}
    config = transformers.Qwen2VLConfig(
        text_config=dict(
            **text, rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}
        ),
        vision_config=dict(
            depth=1,
            embed_dim=32,
            hidden_size=32,
            num_heads=2,
            mlp_ratio=2,
            patch_size=4,
            temporal_patch_size=2,
            spatial_merge_size=2,
            in_channels=3,
        ),
        image_token_id=IMAGE_TOKEN,
        video_token_id=VIDEO_TOKEN,
        vision_start_token_id=VISION_START,
        vision_end_token_id=VISION_END,
    )
    model = transformers.Qwen2VLForConditionalGeneration(config)
    return _save_and_load(model, tmp_path_factory.mktemp("qwen2_vl"), transformers.AutoModelForImageTextToText)
