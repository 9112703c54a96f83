"""The episode runner: plans, caps, limits and failures, on injected worlds and agents."""

from __future__ import annotations

import asyncio
import time

import pytest

from simyard.agents.baselines import OracleAgent, RandomAgent
from simyard.platform.api import Agent, Decision, ModelCall, Observation, StepResult, Task
from simyard.platform.episode import Limits, arun_episode_with, run_episode_with
from simyard.testing.scripted import ScriptedAgent, ScriptedWorld

TASK = Task(id="t1", world="scripted", max_steps=8, max_invalid=3)


def run(agent, world=None, task=TASK, **limits):
    world = world or ScriptedWorld()
    return run_episode_with(world, agent, task, seed=0, limits=Limits(**limits)), world


def test_single_winning_action_ends_with_goal():
    result, world = run(ScriptedAgent(["win"]))
    assert (result.success, result.reason, result.steps, result.status) == (True, "goal", 1, "completed")
    assert world.actions == ["win"]


def test_plan_runs_in_order_until_the_goal():
    result, world = run(ScriptedAgent([["noop", "noop", "win", "noop"]]))
    assert world.actions == ["noop", "noop", "win"]
    assert result.steps == 3 and result.success


def test_plan_stops_at_first_invalid_action_and_agent_is_asked_again():
    agent = ScriptedAgent([["noop", "bad", "win"], "win"])
    result, world = run(agent)
    assert world.actions == ["noop", "bad", "win"]  # the plan's "win" was dropped; the second reply's ran
    assert len(agent.seen) == 2
    assert "invalid" in agent.seen[1].text
    assert result.invalid_actions == 1 and result.success


def test_max_steps_truncates_the_episode():
    result, world = run(ScriptedAgent(["noop"] * 20))
    assert result.reason == "max_steps" and result.steps == TASK.max_steps and not result.success


def test_limits_override_the_task_step_cap():
    result, _ = run(ScriptedAgent(["noop"] * 20), max_steps=2)
    assert result.steps == 2


def test_invalid_action_cap_ends_the_episode():
    result, _ = run(ScriptedAgent(["bad"] * 20))
    assert result.reason == "invalid_cap" and result.invalid_actions == 3 and result.steps == 3


def test_default_invalid_cap_is_ten():
    task = Task(id="t", world="scripted", max_steps=50)
    result, _ = run(ScriptedAgent(["bad"] * 50), task=task)
    assert result.invalid_actions == 10 and result.reason == "invalid_cap"


def test_agent_that_raises_ends_episode_with_error_status_and_message():
    result, world = run(ScriptedAgent(["noop", RuntimeError("model exploded")]))
    assert result.status == "agent_error" and result.reason == "agent_error"
    assert "model exploded" in result.error and "RuntimeError" in result.error
    assert result.steps == 1


def test_world_that_raises_is_reported_not_propagated():
    def broken(world, action):
        raise ValueError("physics diverged")

    result, _ = run(ScriptedAgent(["noop"]), world=ScriptedWorld(step=broken))
    assert result.status == "world_error" and result.reason == "world_error" and "physics diverged" in result.error


def test_unparseable_reply_costs_one_invalid_step_without_touching_the_world():
    agent = ScriptedAgent([Decision(error="reply was not JSON"), "win"])
    result, world = run(agent)
    assert world.actions == ["win"]
    assert result.steps == 2 and result.invalid_actions == 1 and result.success
    assert "reply was not JSON" in agent.seen[1].text
    assert agent.observed[0][0] is None and agent.observed[0][1].info["valid"] is False


def test_empty_plan_counts_as_invalid_so_a_silent_model_cannot_loop_forever():
    result, world = run(ScriptedAgent([[]] * 50))
    assert world.actions == []
    assert result.reason == "invalid_cap" and result.steps == 3


def test_model_calls_add_up_tokens_and_cost():
    call = ModelCall(text="win", prompt_tokens=100, completion_tokens=7, cost_usd=0.25)
    result, _ = run(ScriptedAgent([Decision(actions=["noop"], calls=[call]), Decision(actions=["win"], calls=[call])]))
    assert (result.prompt_tokens, result.completion_tokens, result.model_calls) == (200, 14, 2)
    assert result.cost_usd == pytest.approx(0.5)


def test_world_costs_are_added_to_the_episode_cost():
    def costly(world, action):
        return StepResult(Observation("ok"), 0.0, False, False, {"valid": True, "feedback": "ok", "cost": 0.1})

    result, _ = run(ScriptedAgent(["noop"] * 3), world=ScriptedWorld(step=costly), max_steps=3)
    assert result.cost_usd == pytest.approx(0.3)


def test_wall_clock_limit_stops_a_slow_sync_agent():
    class Slow(Agent):
        def act(self, observation):
            time.sleep(0.05)
            return "noop"

    task = Task(id="t", world="scripted", max_steps=1000)
    result, _ = run(Slow(), task=task, time_limit_s=0.2)
    assert result.reason == "time_limit" and 2 <= result.steps < 10


def test_wall_clock_limit_interrupts_a_hanging_async_agent():
    class Hangs(Agent):
        async def act(self, observation):
            await asyncio.sleep(30)

    started = time.monotonic()
    result, _ = run(Hangs(), time_limit_s=0.2)
    assert result.reason == "time_limit" and time.monotonic() - started < 5


def test_async_agents_share_one_event_loop():
    class Sleepy(Agent):
        async def act(self, observation):
            await asyncio.sleep(0.2)
            return "win"

    async def many():
        return await asyncio.gather(*(arun_episode_with(ScriptedWorld(), Sleepy(), TASK) for _ in range(10)))

    started = time.monotonic()
    results = asyncio.run(many())
    elapsed = time.monotonic() - started
    assert all(result.success for result in results)
    assert elapsed < 10 * 0.2 / 2  # concurrent, not one after another


def test_oracle_agent_solves_through_the_world_solver():
    result, _ = run(OracleAgent())
    assert result.success


def test_random_agent_is_repeatable_for_a_task_and_seed(kind_world):
    task = type(kind_world).sample_task(3) if kind_world.name == "test-skills" else Task(id="x", world=kind_world.name)
    first = run_episode_with(kind_world, RandomAgent(seed=5), task, seed=1, limits=Limits(max_steps=6))
    second = run_episode_with(kind_world, RandomAgent(seed=5), task, seed=1, limits=Limits(max_steps=6))
    assert first.to_dict() | {"duration_s": 0} == second.to_dict() | {"duration_s": 0}


def test_every_action_kind_runs_to_success_with_its_oracle(kind_world):
    task = Task(id="kind", world=kind_world.name, max_steps=12)
    result = run_episode_with(kind_world, OracleAgent(), task, seed=4)
    assert result.success and result.status == "completed", result


def test_repeated_unparseable_replies_do_not_stack_their_feedback():
    agent = ScriptedAgent([Decision(error="bad format")] * 2 + ["win"])
    run(agent)
    assert agent.seen[2].text.count("Invalid reply") == 1
    assert agent.seen[2].text.endswith("start")
