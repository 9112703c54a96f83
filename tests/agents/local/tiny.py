"""Tiny checkpoints built from configs and saved to a folder, loaded by path exactly as a user's checkpoint is.

* `build_lm(path)`: a 2-layer Llama-style causal LM with a byte-level BPE tokenizer trained here on a few sentences
  and puzzle prompts (so any text encodes), saved with a ChatML chat template.
* `build_llava(path)`: a tiny LLaVA (a 2-layer CLIP vision tower, 32x32 images in 8x8 patches, 16 image tokens per
  image) over the same kind of language model, saved with its processor and a chat template that places `<image>`.

Weights are random (seeded): the tests check plumbing, batching and records, not answers. The benchmark
(benchmarks/local_batching.py) builds its model here too.
"""

from __future__ import annotations

import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIALS = ["<pad>", "<|im_start|>", "<|im_end|>", "<image>"]

CORPUS = [
    "You are an agent acting in a world to complete a task. You act only through the actions below.",
    "Always reply as <think> your reasoning </think><answer> action1 || action2 </answer>, with no extra text.",
    "The available action ids and action names are: action id 0: Up, action id 1: Down, action id 2: Left.",
    'Reply with one JSON object and nothing else: {"executable_plan": [{"action_id": 0, "action_name": "Up"}]}',
    "## The instruction is: push every box onto a target. ## The action history: Step 1, Up, env feedback: moved",
    "## Current observation: # # # # _ P X O # # You have 10 actions left. Strictly follow this format.",
    "find a Mug, pick up the Mug, find a Table, put down the object in hand, find a Sofa. Valid actions now:",
    "Sokoban FrozenLake Bandit Countdown: the player, the box, the target, the wall, the floor, the hole, the goal.",
]


def train_tokenizer(vocab_size: int = 600):
    """A byte-level BPE tokenizer (every string encodes) with ChatML specials, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from simyard.sims.puzzles.sokoban import SokobanEnv

    corpus = list(CORPUS)
    try:  # the real puzzle prompts, so the tiny model's prompts stay short in tokens
        corpus.append(SokobanEnv().action_spec().help)
    except Exception:  # noqa: BLE001 (the corpus above is enough)
        pass
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<|im_end|>", bos_token="<|im_start|>"
    )
    fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _text_config(tokenizer, layers: int = 2, hidden: int = 64, context: int = 4096, **extra):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.2,  # peaked distributions: greedy ties (and their float noise) stay out of the tests
        **extra,
    )


def build_lm(path: str | Path, *, layers: int = 2, hidden: int = 64, context: int = 4096, seed: int = 0) -> Path:
    """Save a tiny Llama-style LM with its tokenizer and chat template to `path`; returns `path`."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = train_tokenizer()
    config = _text_config(tokenizer, layers=layers, hidden=hidden, context=context)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_llava(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny LLaVA (CLIP tower, 32x32 images, 16 image tokens) with its processor to `path`; returns `path`."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    path = Path(path)
    tokenizer = train_tokenizer()
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_text_config(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, do_center_crop=True
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


QWEN2_VL_TEMPLATE = CHAT_TEMPLATE.replace(
    "{% if part['type'] == 'image' %}<image>",
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>",
)
QWEN2_VL_SPECIALS = ["<image>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def build_qwen2_vl(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny Qwen2-VL (a 2-block vision tower, 8x8 patches merged 2x2, so a 32x32 image is 4 image tokens; 3-D
    multimodal rotary positions in a 2-layer language model) with its tokenizer and image processor to `path`."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    path = Path(path)
    tokenizer = train_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN2_VL_SPECIALS})
    tokenizer.chat_template = QWEN2_VL_TEMPLATE
    ids = tokenizer.convert_tokens_to_ids
    hidden, heads = 64, 4
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": 2 * hidden,
            "num_hidden_layers": 2, "num_attention_heads": heads, "num_key_value_heads": 2,
            "max_position_embeddings": 4096, "initializer_range": 0.2,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            # M-RoPE splits each head's rotary half (hidden / heads / 2 = 8) into temporal, height, width sections.
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        },
        vision_config={
            "depth": 2, "embed_dim": 32, "hidden_size": hidden, "num_heads": 2, "mlp_ratio": 2, "patch_size": 8,
            "spatial_merge_size": 2, "temporal_patch_size": 2,
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id
    )
    pixels = {"shortest_edge": 32 * 32, "longest_edge": 32 * 32}  # every image is resized to 32x32
    # Saved as a Qwen2-VL checkpoint's files are: the image processor's config names the processor class. (The
    # processor object itself cannot be built here: transformers wants torchvision for its video half.)
    image_processor = Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, temporal_patch_size=2, size=pixels)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    image_processor.save_pretrained(path)
    preprocessor = path / "preprocessor_config.json"
    settings = json.loads(preprocessor.read_text())
    settings.update(processor_class="Qwen2VLProcessor", image_processor_type="Qwen2VLImageProcessor")
    preprocessor.write_text(json.dumps(settings, indent=2))
    return path
