"""Concurrent clients of `simyard serve` share the engine's forward passes (the Batcher), and all are answered."""

from __future__ import annotations

import asyncio

import openai

from simyard.agents.backends.local import TransformersEngine
from simyard.serve.app import BackgroundServer

from .conftest import NAME
from .helpers import HELLO


def test_concurrent_requests_are_answered_in_shared_batches(lm_path) -> None:
    engine = TransformersEngine(lm_path, device="cpu", max_batch=32)  # its own, so its counters are this test's
    clients = 8
    try:
        with BackgroundServer(engine, NAME) as server:

            async def ask_all():
                async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
                    asks = [
                        client.chat.completions.create(
                            model=NAME, messages=[{"role": "user", "content": f"{HELLO[0]['content']} #{i}"}],
                            max_tokens=32, temperature=0, stream=i % 2 == 1,
                        )
                        for i in range(clients)
                    ]
                    replies = await asyncio.gather(*asks)
                    texts = []
                    for reply in replies:
                        if isinstance(reply, openai.AsyncStream):
                            texts.append("".join([c.choices[0].delta.content or "" async for c in reply if c.choices]))
                        else:
                            texts.append(reply.choices[0].message.content)
                    return replies, texts

            replies, texts = asyncio.run(ask_all())
        assert len(texts) == clients and all(texts)
        stats = engine.batcher.stats
        assert stats.requests == clients
        # one at a time would be 8 prefills and 8 x 31 decode passes with one row each
        assert stats.max_running >= clients // 2, stats
        assert stats.decode_passes < clients * 31 // 2, stats
    finally:
        engine.close()
