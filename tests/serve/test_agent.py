"""The `openai` agent against `simyard serve` keeps the tokens the model sampled: every `ModelCall`'s token ids and
log-probabilities are those of the engine's `Generation` for that request (token-faithful rollouts over HTTP)."""

from __future__ import annotations

import pytest

from simyard.agents.openai_agent import OpenAIAgent
from simyard.platform.episode import Limits, run_episode_with
from simyard.serve.app import BackgroundServer

from ..agents.worlds import CounterWorld, MugWorld
from .conftest import NAME


class Recording:
    """The engine, keeping every request it answered with its generations."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.answered: list[tuple[object, list]] = []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    async def generate(self, request):
        generations = await self.engine.generate(request)
        self.answered.append((request, generations))
        return generations


class Steps:
    """A recorder that keeps the steps (and so the model calls attached to them)."""

    def __init__(self) -> None:
        self.steps = []

    def start(self, task, seed, observation) -> None:
        pass

    def step(self, record) -> None:
        self.steps.append(record)

    def finish(self, result) -> None:
        pass


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


@pytest.mark.parametrize(("world", "task"), [(CounterWorld, CounterWorld.task(max_steps=3)),
                                             (MugWorld, MugWorld.task(max_steps=3, max_invalid=3))])
def test_openai_agent_records_the_sampled_tokens_and_logprobs(engine, world, task) -> None:
    recording = Recording(engine)
    with BackgroundServer(recording, NAME) as server:
        agent = OpenAIAgent(model=NAME, base_url=server.base_url, temperature=0, max_tokens=16, logprobs=True,
                            token_ids=True, images="never", max_attempts=1, timeout_s=60)
        steps = Steps()
        try:
            result = run_episode_with(world(), agent, task, limits=Limits(max_steps=3), recorder=steps)
        finally:
            agent.close()
    calls = [call for step in steps.steps for call in step.calls]
    assert result.model_calls == len(calls) == len(recording.answered) >= 2
    for call, (_request, [generation]) in zip(calls, recording.answered, strict=True):
        assert call.token_ids == generation.token_ids and call.token_ids
        assert call.logprobs == generation.logprobs  # exactly: floats cross JSON unchanged
        assert call.text == generation.text and call.finish_reason == generation.finish_reason
        assert (call.prompt_tokens, call.completion_tokens) == (generation.prompt_tokens, len(generation.token_ids))
    # and the engine asked directly, outside the server, samples the same greedy tokens with the same numbers
    request, _ = recording.answered[0]
    [own] = engine.generate_sync(request)
    assert calls[0].token_ids == own.token_ids
    assert calls[0].logprobs == pytest.approx(own.logprobs, abs=1e-5)
