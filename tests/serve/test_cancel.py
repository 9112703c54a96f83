"""A streaming client of `simyard serve` that goes away cancels its sequence: the slot is free at once."""

from __future__ import annotations

import time

import openai

from simyard.agents.backends.local import TransformersEngine
from simyard.serve.app import BackgroundServer

from .conftest import NAME

# The tiny model's greedy reply to this chat runs past 2,000 tokens (seconds) without an end-of-sequence token.
LONG = [{"role": "user", "content": "left or right?"}]


def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_streaming_client_that_disconnects_frees_its_slot(lm_path) -> None:
    engine = TransformersEngine(lm_path, device="cpu", max_batch=4)  # its own, so its counters are this test's
    batcher = engine.batcher
    try:
        with BackgroundServer(engine, NAME) as server, openai.OpenAI(
            base_url=server.base_url, api_key="test", max_retries=0, timeout=60
        ) as client:
            stream = client.chat.completions.create(model=NAME, messages=LONG, max_tokens=3000, temperature=0,
                                                    stream=True)
            chunks = iter(stream)
            first, second = next(chunks), next(chunks)
            assert first.choices[0].delta.role == "assistant" and second.choices[0].delta.content
            wait_for(lambda: batcher.running == 1)  # the first token is streamed just before its row joins
            assert batcher.running == 1
            stream.close()
            wait_for(lambda: batcher.running == 0)
            assert batcher.running == 0, "the disconnected client's sequence still holds its slot"
            assert batcher.stats.cancelled == 1
            tokens = batcher.stats.tokens
            assert tokens < 2000, "the sequence ran on after its client left"
            time.sleep(0.2)
            assert batcher.stats.tokens == tokens, "tokens were still generated for nobody"
            # The server goes on serving.
            reply = client.chat.completions.create(model=NAME, messages=LONG, max_tokens=3, temperature=0)
            assert reply.usage.completion_tokens == 3
    finally:
        engine.close()


def test_an_abandoned_stream_of_the_engine_cancels_its_request(lm_path) -> None:
    import asyncio

    from simyard.agents.backends.engine import Request, SamplingOptions

    engine = TransformersEngine(lm_path, device="cpu", max_batch=4)
    try:
        async def read_two_then_leave() -> None:
            events = engine.stream(Request(LONG, SamplingOptions(max_tokens=3000)))
            await anext(events)
            await anext(events)
            await events.aclose()

        asyncio.run(read_two_then_leave())
        wait_for(lambda: engine.batcher.running == 0)
        assert engine.batcher.running == 0 and engine.batcher.stats.cancelled == 1
        assert engine.batcher.stats.tokens < 2000
    finally:
        engine.close()


def test_a_client_that_times_out_on_a_plain_request_frees_its_slot(lm_path) -> None:
    engine = TransformersEngine(lm_path, device="cpu", max_batch=4)
    batcher = engine.batcher
    try:
        with BackgroundServer(engine, NAME) as server, openai.OpenAI(
            base_url=server.base_url, api_key="test", max_retries=0, timeout=0.5
        ) as client:
            try:
                client.chat.completions.create(model=NAME, messages=LONG, max_tokens=3000, temperature=0)
            except openai.APITimeoutError:
                pass
            else:
                raise AssertionError("3,000 tokens came back within the client's 0.5 s")
            wait_for(lambda: batcher.stats.cancelled == 1 and batcher.running == 0)
            assert (batcher.stats.cancelled, batcher.running) == (1, 0)
            assert batcher.stats.tokens < 2000, "the sequence ran on after its client left"
            reply = client.with_options(timeout=60).chat.completions.create(model=NAME, messages=LONG, max_tokens=3,
                                                                            temperature=0)
            assert reply.usage.completion_tokens == 3
    finally:
        engine.close()
