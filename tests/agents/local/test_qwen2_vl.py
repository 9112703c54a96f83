"""A tiny Qwen2-VL (3-D multimodal rotary positions, `image_grid_thw`) through the local engine and `simyard serve`.

transformers 5 builds Qwen2-VL's processor only with torchvision (for its video half), which the CPU install lacks:
the engine then loads the same processor class with images only, and these tests run that path.
"""

from __future__ import annotations

import asyncio

import openai
import pytest
import torch

from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.backends.local import TransformersEngine
from simyard.serve.app import BackgroundServer
from tests.serve.helpers import png_data_url

from .tiny import build_qwen2_vl


def image_chat(colour=(200, 30, 30)) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "text", "text": "Which way is the box?"},
        {"type": "image_url", "image_url": {"url": png_data_url(colour=colour)}},
    ]}]


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    engine = TransformersEngine(build_qwen2_vl(tmp_path_factory.mktemp("models") / "tiny-qwen2-vl"), max_batch=8)
    yield engine
    engine.close()


def test_an_image_chat_decodes_as_model_generate_does(qwen) -> None:
    assert (qwen.facts.architecture, qwen.facts.takes_images) == ("Qwen2VLForConditionalGeneration", True)
    prepared = qwen.prepare(image_chat())
    assert prepared.ids.count(qwen.config.image_token_id) == 4  # a 32x32 image: 4x4 patches merged 2x2
    assert prepared.extra["image_grid_thw"].tolist() == [[1, 4, 4]]
    [own] = qwen.generate_sync(Request(image_chat(), SamplingOptions(max_tokens=16, logprobs=True)))
    ids = torch.tensor([prepared.ids])
    with torch.inference_mode():
        reference = qwen.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **prepared.extra,
                                        max_new_tokens=16, do_sample=False, eos_token_id=qwen.eos_ids())
    assert own.token_ids == reference[0, ids.shape[1]:].tolist()
    assert own.prompt_tokens == len(prepared.ids)


def test_the_image_changes_the_reply(qwen) -> None:
    [red] = qwen.generate_sync(Request(image_chat((200, 30, 30)), SamplingOptions(max_tokens=8, logprobs=True)))
    [blue] = qwen.generate_sync(Request(image_chat((20, 40, 220)), SamplingOptions(max_tokens=8, logprobs=True)))
    assert red.logprobs[0] != pytest.approx(blue.logprobs[0], abs=1e-6) or red.token_ids != blue.token_ids


def test_image_and_text_chats_batched_decode_as_they_do_alone(qwen) -> None:
    requests = [
        Request(image_chat(), SamplingOptions(max_tokens=12)),
        Request([{"role": "user", "content": "push the box"}], SamplingOptions(max_tokens=20)),
        Request(image_chat((20, 40, 220)), SamplingOptions(max_tokens=6)),
        Request([{"role": "user", "content": "left or right?"}], SamplingOptions(max_tokens=9)),
    ]
    alone = [qwen.generate_sync(request)[0].token_ids for request in requests]

    async def together():
        return await asyncio.gather(*(qwen.generate(request) for request in requests))

    assert [generations[0].token_ids for generations in asyncio.run(together())] == alone


def test_an_image_chat_through_simyard_serve_equals_the_engine(qwen) -> None:
    [own] = qwen.generate_sync(Request(image_chat(), SamplingOptions(max_tokens=10, logprobs=True)))
    with BackgroundServer(qwen, "tiny-qwen2-vl") as server, openai.OpenAI(
        base_url=server.base_url, api_key="test", max_retries=0, timeout=60
    ) as client:
        reply = client.chat.completions.create(model="tiny-qwen2-vl", messages=image_chat(), max_tokens=10,
                                               temperature=0, logprobs=True, extra_body={"return_token_ids": True})
        streamed = client.chat.completions.create(model="tiny-qwen2-vl", messages=image_chat(), max_tokens=10,
                                                  temperature=0, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    [choice] = reply.choices
    assert choice.message.content == own.text == text
    assert choice.model_extra["token_ids"] == own.token_ids
    assert [entry.logprob for entry in choice.logprobs.content] == own.logprobs
    assert reply.usage.prompt_tokens == own.prompt_tokens
