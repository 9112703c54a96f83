"""JSON replies constrained to a schema (xgrammar; skipped where it is not installed) and the fallback without it."""

from __future__ import annotations

import importlib.util
import json

import pytest

from simyard.agents.backends.choice import reply_schema
from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.formats import EmbodiedJSON
from simyard.agents.local_agent import LocalAgent
from simyard.platform.episode import run_episode_with
from simyard.platform.errors import BackendError, SimyardError

from ..worlds import SKILLS, MugWorld
from .test_agent import Recorder

HAS_XGRAMMAR = importlib.util.find_spec("xgrammar") is not None
needs_xgrammar = pytest.mark.skipif(not HAS_XGRAMMAR, reason="xgrammar is not installed")


@needs_xgrammar
def test_every_sample_follows_the_schema_for_a_random_model(engine) -> None:
    schema = reply_schema(EmbodiedJSON(), MugWorld().action_spec())
    options = SamplingOptions(max_tokens=300, temperature=1.0, n=4, seed=2, json_schema=schema, logprobs=True)
    for generation in engine.generate_sync(Request([{"role": "user", "content": "plan"}], options)):
        assert generation.finish_reason == "stop"
        plan = json.loads(generation.text)["executable_plan"]
        assert plan and all(SKILLS.index(step["action_name"]) >= 0 for step in plan)
        assert all(0 <= step["action_id"] < len(SKILLS) for step in plan)


@needs_xgrammar
def test_the_agent_constrains_embodiedbench_plans_so_every_reply_parses(lm_path) -> None:
    agent = LocalAgent(model=str(lm_path), constrain="json", max_tokens=300)
    recorder = Recorder()
    try:
        result = run_episode_with(MugWorld(), agent, MugWorld.task(max_steps=4), seed=0, recorder=recorder)
    finally:
        agent.close()
    assert result.status == "completed", result.error
    assert all(step.action is not None for step in recorder.steps), "a reply did not parse"


@pytest.mark.skipif(HAS_XGRAMMAR, reason="xgrammar is installed")
def test_without_xgrammar_a_schema_is_a_clear_error_and_auto_generates_freely(engine, lm_path) -> None:
    options = SamplingOptions(max_tokens=5, json_schema='{"type": "object"}')
    with pytest.raises(BackendError, match="need xgrammar"):
        engine.generate_sync(Request([{"role": "user", "content": "x"}], options))
    with pytest.raises(SimyardError, match="needs xgrammar"):
        LocalAgent(model=str(lm_path), constrain="json")
    agent = LocalAgent(model=str(lm_path), constrain="auto")
    try:
        assert agent.constrain == "none"
    finally:
        agent.close()
