"""The local engine: loading by path, continuous batching, sampling and the records it returns."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch

from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.backends.local import TransformersEngine


def chat(text: str) -> list[dict]:
    return [{"role": "system", "content": "You push boxes."}, {"role": "user", "content": text}]


def greedy(max_tokens: int, **more) -> SamplingOptions:
    return SamplingOptions(max_tokens=max_tokens, logprobs=True, **more)


def test_a_model_loads_by_path_with_its_facts(lm_path) -> None:
    engine = TransformersEngine(lm_path, max_batch=2)
    try:
        facts = engine.facts
        assert (facts.architecture, facts.device, facts.dtype) == ("LlamaForCausalLM", "cpu", "float32")
        assert facts.parameters == sum(p.numel() for p in engine.model.parameters())
        assert (facts.context_length, facts.takes_images) == (4096, False)
        assert facts.path == str(lm_path)
    finally:
        engine.close()


def test_greedy_decoding_gives_the_same_tokens_batched_as_one_at_a_time(engine) -> None:
    requests = [Request(chat("push the box " * (1 + 3 * i)), greedy(12 + 3 * i)) for i in range(8)]
    alone = [engine.generate_sync(request)[0] for request in requests]
    before = engine.batcher.stats.decode_passes

    async def together():
        return await asyncio.gather(*(engine.generate(request) for request in requests))

    batched = [generations[0] for generations in asyncio.run(together())]
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    assert [g.text for g in batched] == [g.text for g in alone]
    for one, other in zip(batched, alone, strict=True):
        assert one.logprobs == pytest.approx(other.logprobs, abs=1e-4)
    # Batched: the longest request's tokens in passes, not the sum of all of them.
    assert engine.batcher.stats.decode_passes - before <= max(len(g.token_ids) for g in alone) + 2


def test_a_short_request_finishes_before_a_long_one_started_earlier(engine) -> None:
    long_future = engine.batcher.submit(engine.prepare(chat("a long answer")), greedy(100))  # no EOS before 109
    while not engine.batcher.running:  # the long one is decoding
        time.sleep(0.001)
    started = engine.batcher.stats.tokens
    [short] = engine.generate_sync(Request(chat("a short answer"), greedy(3)))
    assert not long_future.done(), "the short request waited for the long one"
    assert len(short.token_ids) == 3 and short.finish_reason == "length"
    assert engine.batcher.stats.tokens - started < 100
    [long] = long_future.result(timeout=60)
    assert len(long.token_ids) == 100


def test_a_finished_sequence_frees_its_slot_at_once(lm_path) -> None:
    engine = TransformersEngine(lm_path, max_batch=2)
    try:
        long_future = engine.batcher.submit(engine.prepare(chat("a long answer")), greedy(100))
        short_future = engine.batcher.submit(engine.prepare(chat("short")), greedy(2))
        third_future = engine.batcher.submit(engine.prepare(chat("third")), greedy(2))  # waits for a slot
        third_future.result(timeout=60)
        short_future.result(timeout=60)
        assert not long_future.done(), "the third request waited for the longest of the batch"
        assert engine.batcher.stats.max_running == 2
        assert len(long_future.result(timeout=60)[0].token_ids) == 100
    finally:
        engine.close()


def test_logprobs_are_those_of_a_plain_forward_pass_over_the_sampled_tokens(engine) -> None:
    request = Request(chat("score me"), SamplingOptions(max_tokens=10, temperature=0.7, seed=3, logprobs=True))
    [generation] = engine.generate_sync(request)
    prompt = engine.prepare(request.messages).ids
    ids = torch.tensor([prompt + generation.token_ids])
    with torch.inference_mode():
        logits = engine.model(input_ids=ids).logits[0].float()
    expected = torch.log_softmax(logits[len(prompt) - 1 : -1] / 0.7, dim=-1)
    expected = expected.gather(1, torch.tensor(generation.token_ids).unsqueeze(1)).squeeze(1).tolist()
    assert generation.logprobs == pytest.approx(expected, abs=1e-4)
    assert generation.text == engine.decode(generation.token_ids)


def test_a_seeded_request_samples_the_same_tokens_whatever_it_is_batched_with(engine) -> None:
    seeded = Request(chat("roll"), SamplingOptions(max_tokens=16, temperature=1.0, top_p=0.9, seed=11))
    [alone] = engine.generate_sync(seeded)

    async def crowd():
        others = [Request(chat(f"noise {i}"), SamplingOptions(max_tokens=8, temperature=1.0)) for i in range(5)]
        results = await asyncio.gather(*(engine.generate(r) for r in [*others[:2], seeded, *others[2:]]))
        return results[2][0]

    assert asyncio.run(crowd()).token_ids == alone.token_ids
    [other_seed] = engine.generate_sync(Request(seeded.messages, SamplingOptions(16, 1.0, 0.9, seed=12)))
    assert other_seed.token_ids != alone.token_ids


def test_a_stop_string_cuts_the_text_and_its_tokens(engine) -> None:
    [full] = engine.generate_sync(Request(chat("stop somewhere"), greedy(40)))
    stop = full.text[10:13]
    assert stop and stop in full.text
    [cut] = engine.generate_sync(Request(chat("stop somewhere"), greedy(40, stop=(stop,))))
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert cut.token_ids == full.token_ids[: len(cut.token_ids)]
    assert stop not in engine.decode(cut.token_ids) and cut.text.startswith(engine.decode(cut.token_ids))
    assert len(cut.logprobs) == len(cut.token_ids)


def test_top_logprobs_list_the_likeliest_tokens_with_the_sampled_one_first_when_greedy(engine) -> None:
    [generation] = engine.generate_sync(Request(chat("top"), greedy(5, top_logprobs=3)))
    assert generation.top_logprobs is not None and len(generation.top_logprobs) == 5
    for top, token, logprob in zip(generation.top_logprobs, generation.token_ids, generation.logprobs, strict=True):
        assert 1 <= len(top) <= 3
        best_text, best = max(top.items(), key=lambda item: item[1])
        assert best == pytest.approx(logprob, abs=1e-5) and best_text == engine.token_text(token)


def test_n_samples_share_one_prompt_and_differ(engine) -> None:
    passes = engine.batcher.stats.prefill_passes
    samples = engine.generate_sync(Request(chat("many"), SamplingOptions(max_tokens=12, temperature=1.0, n=4, seed=1)))
    assert len(samples) == 4 and len({tuple(s.token_ids) for s in samples}) > 1
    assert engine.batcher.stats.prefill_passes == passes + 1


def test_stream_yields_each_token_as_sampled_then_the_generations(engine) -> None:
    request = Request(chat("stream"), greedy(6))

    async def collect():
        return [event async for event in engine.stream(request)]

    events = asyncio.run(collect())
    [generation] = engine.generate_sync(request)
    assert [e.token_id for e in events[:-1]] == generation.token_ids
    assert events[-2].finish_reason == "length" and events[-1].generations[0].token_ids == generation.token_ids


def test_generate_is_safe_from_many_threads(engine) -> None:
    results: dict[int, list[int]] = {}

    def worker(i: int) -> None:
        results[i] = engine.generate_sync(Request(chat(f"thread {i}"), greedy(5)))[0].token_ids

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == list(range(6)) and all(len(ids) == 5 for ids in results.values())
