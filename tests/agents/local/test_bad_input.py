"""Bad input to the local engine and `simyard model info`: one clear line each, never a crash or a download."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simyard.agents.backends import local
from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.backends.local import (
    ImagesNotSupportedError,
    ModelPathError,
    ModelTooBigError,
    PromptTooLongError,
    TransformersEngine,
)
from simyard.platform.errors import BackendError


def png_url(size: int = 20) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size + 4, 3), 90, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_chat(text: str = "What is in the picture?") -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": png_url()}}]}]


@pytest.fixture(scope="module")
def huge_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 70B-shaped Llama config with no weights: what a user points at before downloading the shards."""
    from transformers import LlamaConfig

    folder = tmp_path_factory.mktemp("models") / "llama-70b-config-only"
    LlamaConfig(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
                num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192).save_pretrained(folder)
    return folder


def test_a_path_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelPathError) as caught:
        TransformersEngine(tmp_path / "nowhere")
    assert "does not exist" in caught.value.message and "\n" not in caught.value.message


def test_a_folder_without_a_config_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ModelPathError, match="is not a model folder"):
        TransformersEngine(tmp_path)


def test_a_file_given_for_the_model_folder_is_named_as_a_file(lm_path) -> None:
    with pytest.raises(ModelPathError, match="config.json is a file, not a model folder"):
        TransformersEngine(Path(lm_path) / "config.json")


def test_a_hub_name_is_never_downloaded() -> None:
    with pytest.raises(ModelPathError, match="does not exist"):
        TransformersEngine("Qwen/Qwen2.5-0.5B-Instruct")


def test_a_folder_with_a_config_but_no_weights_is_one_line(tmp_path: Path, lm_path) -> None:
    (tmp_path / "config.json").write_text((Path(lm_path) / "config.json").read_text())
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_text((Path(lm_path) / name).read_text())
    with pytest.raises(ModelPathError, match="could not load the model"):
        TransformersEngine(tmp_path)


def test_a_model_too_big_for_the_device_is_refused_from_its_config_before_loading(huge_config: Path) -> None:
    with pytest.raises(ModelTooBigError) as caught:
        TransformersEngine(huge_config)
    message = caught.value.message
    assert "70.55B parameters" in message and "float32 on cpu" in message and "GiB free" in message


def test_memory_check_uses_parameters_times_dtype_size(lm_path, monkeypatch: pytest.MonkeyPatch) -> None:
    facts = local.read_facts(lm_path)
    needed = local.memory_needed(facts.parameters, "float32")
    assert needed == int(facts.parameters * 4 * local.MEMORY_FACTOR)
    monkeypatch.setattr(local, "memory_free", lambda device: needed - 1)
    with pytest.raises(ModelTooBigError):
        local.check_fits(facts)
    monkeypatch.setattr(local, "memory_free", lambda device: needed)
    local.check_fits(facts)


def test_an_image_sent_to_a_text_only_model_is_a_clear_error(engine) -> None:
    with pytest.raises(ImagesNotSupportedError, match="takes text only"):
        engine.generate_sync(Request(image_chat(), SamplingOptions(max_tokens=2)))


def test_a_prompt_longer_than_the_context_is_refused_with_its_size(engine) -> None:
    messages = [{"role": "user", "content": "push the box " * 4000}]
    with pytest.raises(PromptTooLongError) as caught:
        engine.generate_sync(Request(messages, SamplingOptions(max_tokens=2)))
    assert caught.value.context_length == 4096 and caught.value.prompt_tokens > 4096


def test_bad_sampling_options_and_messages_are_one_line_errors(engine) -> None:
    chat = [{"role": "user", "content": "hi"}]
    for options in (SamplingOptions(max_tokens=0), SamplingOptions(top_p=0.0), SamplingOptions(temperature=-1),
                    SamplingOptions(n=1000)):
        with pytest.raises(BackendError):
            engine.generate_sync(Request(chat, options))
    for messages in ([{"content": "no role"}], [{"role": "user", "content": [{"type": "audio"}]}]):
        with pytest.raises(BackendError):
            engine.generate_sync(Request(messages, SamplingOptions(max_tokens=1)))


def test_a_vlm_takes_an_image(llava_path) -> None:
    engine = TransformersEngine(llava_path, max_batch=4)
    try:
        assert engine.facts.takes_images
        with_image = engine.prepare(image_chat())
        without = engine.prepare([{"role": "user", "content": "What is in the picture?"}])
        assert len(with_image.ids) == len(without.ids) + 16  # the <image> placeholder becomes 16 patch tokens
        assert with_image.extra["pixel_values"].shape == (1, 3, 32, 32)
        [seen] = engine.generate_sync(Request(image_chat(), SamplingOptions(max_tokens=6, logprobs=True)))
        assert seen.prompt_tokens == len(with_image.ids) and len(seen.token_ids) == len(seen.logprobs) >= 1
        [again] = engine.generate_sync(Request(image_chat(), SamplingOptions(max_tokens=6)))
        assert again.token_ids == seen.token_ids
    finally:
        engine.close()


def test_an_image_url_over_the_network_is_refused(llava_path) -> None:
    engine = TransformersEngine(llava_path, max_batch=2)
    try:
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
        with pytest.raises(BackendError, match="not fetched"):
            engine.generate_sync(Request(messages, SamplingOptions(max_tokens=1)))
        bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]
        with pytest.raises(BackendError, match="could not be read"):
            engine.generate_sync(Request(bad, SamplingOptions(max_tokens=1)))
    finally:
        engine.close()


def simyard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, timeout=120)


def test_model_info_describes_the_tiny_models(lm_path, llava_path) -> None:
    from typer.testing import CliRunner

    from simyard.cli import app

    result = CliRunner().invoke(app, ["model", "info", str(lm_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("LlamaForCausalLM", "148,032", "4,096 tokens", "no (text only)", "float32 (auto)", "cpu"):
        assert text in result.output
    result = CliRunner().invoke(app, ["model", "info", str(llava_path), "--json"])
    facts = json.loads(result.output)
    assert facts["architecture"] == "LlavaForConditionalGeneration" and facts["takes_images"] is True
    assert facts["memory"][0] == {**facts["memory"][0], "device": "cpu", "dtype": "float32", "default": True,
                                  "fits": True}


def test_model_info_on_a_config_only_70b_says_it_does_not_fit(huge_config: Path) -> None:
    from typer.testing import CliRunner

    from simyard.cli import app

    facts = json.loads(CliRunner().invoke(app, ["model", "info", str(huge_config), "--json"]).output)
    assert facts["parameters"] == 70_553_706_496
    cpu32 = next(m for m in facts["memory"] if m["device"] == "cpu" and m["dtype"] == "float32")
    assert cpu32["fits"] is False


def test_model_info_on_a_path_that_is_not_a_model_is_one_line(tmp_path: Path) -> None:
    done = simyard("model", "info", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is not a model folder" in done.stderr


def test_serve_refuses_a_model_too_big_for_the_device_from_its_config(huge_config: Path) -> None:
    done = simyard("serve", str(huge_config), "--port", "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "needs about" in done.stderr and "free" in done.stderr


def test_a_bench_run_on_a_local_model_that_is_not_there_stops_before_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = simyard("bench", "run", "ragen", "--agent", "local", "--agent-opt", f"model={tmp_path / 'missing'}",
                   "--limit", "2", "--out", str(out))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists(), "a run directory was made for a run that could not start"
