"""Chat completions through `simyard serve` with the official openai client: plain, streamed, logprobs, token ids,
`n`, seeds, stop strings and images, each checked against what the engine itself samples."""

from __future__ import annotations

import json

import pytest

from .conftest import NAME
from .helpers import HELLO, engine_answer, png_data_url


def raw_create(client, **kwargs) -> dict:
    """The JSON body the server sent (not the client's parsed model), to see every field as sent."""
    raw = client.chat.completions.with_raw_response.create(model=NAME, messages=kwargs.pop("messages", HELLO), **kwargs)
    return json.loads(raw.content)


def test_models_lists_the_served_name_and_context(client, engine) -> None:
    [model] = client.models.list().data
    assert (model.id, model.owned_by) == (NAME, "simyard")
    assert model.model_extra["max_model_len"] == engine.facts.context_length == 4096
    assert client.models.retrieve(NAME).id == NAME


def test_greedy_chat_equals_the_engine_and_counts_usage(client, engine) -> None:
    reply = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=12, temperature=0)
    [own] = engine_answer(engine, max_tokens=12, temperature=0)
    [choice] = reply.choices
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", own.text, "length")
    assert reply.model == NAME and reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    usage = reply.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (own.prompt_tokens, 12)
    assert usage.total_tokens == own.prompt_tokens + 12


def test_max_completion_tokens_is_read_like_max_tokens(client) -> None:
    reply = client.chat.completions.create(model=NAME, messages=HELLO, max_completion_tokens=5, temperature=0)
    assert reply.usage.completion_tokens == 5 and reply.choices[0].finish_reason == "length"


def test_token_ids_and_logprobs_are_the_sampled_ones(client, engine) -> None:
    body = raw_create(client, max_tokens=10, temperature=0, logprobs=True, top_logprobs=3,
                      extra_body={"return_token_ids": True})
    [own] = engine_answer(engine, max_tokens=10, temperature=0, logprobs=True, top_logprobs=3)
    [choice] = body["choices"]
    assert choice["token_ids"] == own.token_ids  # where vLLM puts them
    entries = choice["logprobs"]["content"]
    assert [e["logprob"] for e in entries] == own.logprobs
    assert [e["token"] for e in entries] == [engine.token_text(t) for t in own.token_ids]
    for entry, top in zip(entries, own.top_logprobs, strict=True):
        assert 1 <= len(entry["top_logprobs"]) <= 3
        assert {alt["token"]: alt["logprob"] for alt in entry["top_logprobs"]} == top
        # greedy: the sampled token is the most likely one
        assert entry["logprob"] == pytest.approx(max(alt["logprob"] for alt in entry["top_logprobs"]))


def test_token_ids_and_logprobs_only_when_asked(client) -> None:
    choice = raw_create(client, max_tokens=4, temperature=0)["choices"][0]
    assert "token_ids" not in choice and choice["logprobs"] is None


def test_streamed_chunks_join_to_the_plain_reply(client) -> None:
    options = dict(model=NAME, messages=HELLO, max_tokens=16, temperature=0, logprobs=True, top_logprobs=2,
                   extra_body={"return_token_ids": True})
    plain = raw_create(client, **{k: v for k, v in options.items() if k not in ("model", "messages")})["choices"][0]
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **options))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    ids = [i for c in chunks if c.choices for i in (c.choices[0].model_extra.get("token_ids") or [])]
    logprobs = [e.logprob for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert text == plain["message"]["content"]
    assert ids == plain["token_ids"]
    assert logprobs == [e["logprob"] for e in plain["logprobs"]["content"]]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # it did stream
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens == 16


def test_n_samples_are_distinct_choices(client) -> None:
    reply = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=8, temperature=1.0, n=3, seed=7,
                                           extra_body={"return_token_ids": True})
    assert [c.index for c in reply.choices] == [0, 1, 2]
    ids = [tuple(c.model_extra["token_ids"]) for c in reply.choices]
    assert len(set(ids)) > 1  # three samples of a random model at temperature 1 do not all agree
    assert reply.usage.completion_tokens == sum(len(i) for i in ids)


def test_n_samples_stream_as_interleaved_choices(client) -> None:
    chunks = list(client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=6, temperature=1.0, n=2,
                                                 seed=3, stream=True))
    texts = {0: "", 1: ""}
    finishes = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    plain = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=6, temperature=1.0, n=2, seed=3)
    assert texts == {c.index: c.message.content for c in plain.choices}
    assert set(finishes) == {0, 1}


def test_a_seed_repeats_its_samples(client) -> None:
    def sample(seed: int) -> list[int]:
        body = raw_create(client, max_tokens=12, temperature=1.0, seed=seed, extra_body={"return_token_ids": True})
        return body["choices"][0]["token_ids"]

    first = sample(11)
    assert sample(11) == first
    assert sample(12) != first


def test_stop_string_cuts_the_reply_plain_and_streamed(client, engine) -> None:
    [own] = engine_answer(engine, max_tokens=24, temperature=0)
    text = own.text
    # a stop string from the middle of the greedy reply: the reply ends just before its first occurrence
    stop = next(text[i : i + 2] for i in range(4, len(text) - 2) if text[i : i + 2].strip() and "\ufffd" not in
                text[i : i + 2])
    cut = text.index(stop)
    body = raw_create(client, max_tokens=24, temperature=0, stop=[stop], logprobs=True,
                      extra_body={"return_token_ids": True})
    [choice] = body["choices"]
    assert (choice["message"]["content"], choice["finish_reason"]) == (text[:cut], "stop")
    kept = choice["token_ids"]
    # the ids are those wholly before the stop string (a token straddling it goes with it)
    assert kept == own.token_ids[: len(kept)] and text[:cut].startswith(engine.decode(kept))
    assert len(choice["logprobs"]["content"]) == len(kept)
    chunks = list(client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=24, temperature=0, stop=stop,
                                                 stream=True, extra_body={"return_token_ids": True}))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    streamed_ids = [i for c in chunks if c.choices for i in (c.choices[0].model_extra.get("token_ids") or [])]
    assert (streamed, streamed_ids) == (text[:cut], kept)  # nothing sent that the stop string took back


def test_an_image_message_reaches_the_vlm(vlm_server, vlm_engine) -> None:
    import openai

    with openai.OpenAI(base_url=vlm_server.base_url, api_key="test", max_retries=0, timeout=60) as client:
        text_only = [{"role": "user", "content": [{"type": "text", "text": "What is in the picture?"}]}]
        with_image = [{"role": "user", "content": [
            {"type": "text", "text": "What is in the picture?"},
            {"type": "image_url", "image_url": {"url": png_data_url()}},
        ]}]
        plain = client.chat.completions.create(model="tiny-vlm", messages=text_only, max_tokens=6, temperature=0)
        seen = client.chat.completions.create(model="tiny-vlm", messages=with_image, max_tokens=6, temperature=0,
                                              logprobs=True, extra_body={"return_token_ids": True})
    [own] = engine_answer(vlm_engine, with_image, max_tokens=6, temperature=0)
    assert seen.usage.prompt_tokens == own.prompt_tokens >= plain.usage.prompt_tokens + 16  # 16 image tokens
    assert seen.choices[0].message.content == own.text
    assert seen.choices[0].model_extra["token_ids"] == own.token_ids
    assert [e.logprob for e in seen.choices[0].logprobs.content] == own.logprobs
