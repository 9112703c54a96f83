"""Tokens that are ready together travel together: the engine hands a slow reader what piled up in one batch, and
`simyard serve --stream-interval K` sends at least K tokens per chunk, never text a stop string later takes back."""

from __future__ import annotations

import asyncio
import threading
import time

import openai
import pytest

from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.backends.token_feed import TokenFeed
from simyard.serve.app import BackgroundServer

from .conftest import NAME
from .helpers import HELLO, engine_answer


def test_a_feed_hands_over_everything_pushed_from_another_thread_in_order_then_ends() -> None:
    async def run() -> list[list[int]]:
        feed = TokenFeed()

        def produce() -> None:
            for number in range(2000):
                feed.push(number)
                if number % 500 == 0:
                    time.sleep(0.01)  # the consumer catches up now and then, so batches end at different places
            feed.close()

        thread = threading.Thread(target=produce)
        thread.start()
        batches = [batch async for batch in feed.batches()]
        thread.join()
        return batches

    batches = asyncio.run(run())
    assert [item for batch in batches for item in batch] == list(range(2000))
    assert 1 < len(batches) < 2000  # items that piled up came together


def test_a_feed_that_wakes_every_four_items_hands_over_the_first_alone_then_four_or_more() -> None:
    async def run() -> list[list[int]]:
        feed = TokenFeed(wake_every=4)

        def produce() -> None:
            for number in range(22):
                feed.push(number)
                time.sleep(0.002)  # a pass's pace: the consumer would be woken for each item otherwise
            feed.close()

        thread = threading.Thread(target=produce)
        thread.start()
        batches = [batch async for batch in feed.batches()]
        thread.join()
        return batches

    batches = asyncio.run(run())
    assert [item for batch in batches for item in batch] == list(range(22))
    assert batches[0] == [0] and all(len(batch) >= 4 for batch in batches[1:-1])  # the last comes with the close


def test_a_reader_that_falls_behind_gets_the_tokens_that_piled_up_in_one_batch(engine) -> None:
    request = Request(HELLO, SamplingOptions(max_tokens=40, temperature=0))

    async def read_slowly() -> list[list]:
        batches = []
        async for batch in engine.stream_batches(request):
            batches.append(batch)
            if len(batches) == 1:
                await asyncio.sleep(0.3)  # a busy handler: the model goes on meanwhile
        return batches

    batches = asyncio.run(read_slowly())
    [own] = engine_answer(engine, max_tokens=40, temperature=0)
    tokens = [event.token_id for batch in batches for event in batch if event.generations is None]
    assert tokens == own.token_ids
    assert max(len(batch) for batch in batches) > 5, "the tokens made while the reader slept came one by one"
    assert batches[-1][-1].generations[0].token_ids == own.token_ids


@pytest.fixture(scope="module")
def coarse_client(engine):
    with BackgroundServer(engine, NAME, stream_interval=4) as server, openai.OpenAI(
        base_url=server.base_url, api_key="test", max_retries=0, timeout=60
    ) as client:
        yield client


def streamed(client, **options) -> list:
    chunks = client.chat.completions.create(model=NAME, messages=HELLO, temperature=0, stream=True, logprobs=True,
                                            extra_body={"return_token_ids": True}, **options)
    return [c for c in chunks if c.choices and c.choices[0].model_extra.get("token_ids")]


def test_a_stream_interval_sends_several_tokens_per_chunk_that_join_to_the_reply(
    coarse_client, client, engine
) -> None:
    [own] = engine_answer(engine, max_tokens=30, temperature=0)
    chunks = streamed(coarse_client, max_tokens=30)
    # Half characters (this random model writes bytes) hold a token back now and then, so chunks carry 3 or 4
    # tokens, and half as many chunks or fewer come as from a server that sends tokens as they come.
    assert len(chunks) * 2 <= len(streamed(client, max_tokens=30))
    assert [i for c in chunks for i in c.choices[0].model_extra["token_ids"]] == own.token_ids
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == own.text
    logprobs = [e.logprob for c in chunks for e in c.choices[0].logprobs.content]
    assert logprobs == pytest.approx(own.logprobs, abs=1e-6)


def test_coarse_chunks_never_carry_what_a_stop_string_takes_back(coarse_client, engine) -> None:
    [own] = engine_answer(engine, max_tokens=30, temperature=0)
    text = own.text
    stop = next(text[i : i + 2] for i in range(6, len(text) - 2) if text[i : i + 2].strip() and "\ufffd" not in
                text[i : i + 2])
    [cut] = engine_answer(engine, max_tokens=30, temperature=0, stop=(stop,))
    chunks = streamed(coarse_client, max_tokens=30, stop=[stop])
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == cut.text == text[: text.index(stop)]
    assert [i for c in chunks for i in c.choices[0].model_extra["token_ids"]] == cut.token_ids


def test_a_stream_interval_below_one_is_refused_by_the_cli(lm_path) -> None:
    from typer.testing import CliRunner

    from simyard.cli import app
    from simyard.platform.errors import SimyardError

    result = CliRunner().invoke(app, ["serve", str(lm_path), "--stream-interval", "0", "--port", "0"])
    assert isinstance(result.exception, SimyardError)
    assert "--stream-interval 0 must be >= 1" in str(result.exception)


class TokenByToken:
    """An engine with `stream` but no `stream_batches` (any `Engine` may stream one event at a time)."""

    def __init__(self, engine) -> None:
        self.engine, self.facts = engine, engine.facts
        self.generate, self.stream = engine.generate, engine.stream
        self.decode, self.token_text = engine.decode, engine.token_text


def test_an_engine_that_streams_one_token_at_a_time_is_served_as_well(engine) -> None:
    [own] = engine_answer(engine, max_tokens=12, temperature=0)
    with BackgroundServer(TokenByToken(engine), NAME) as server, openai.OpenAI(
        base_url=server.base_url, api_key="test", max_retries=0, timeout=60
    ) as client:
        chunks = streamed(client, max_tokens=12)
    assert [i for c in chunks for i in c.choices[0].model_extra["token_ids"]] == own.token_ids
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == own.text
