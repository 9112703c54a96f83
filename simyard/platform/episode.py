"""One episode: reset, ask the agent, execute its plan, enforce the limits, and report what happened.

The loop is written once, as a generator that yields each observation the agent must answer and receives the
agent's decision back. Two small drivers feed it: a plain one for ordinary agents and an asyncio one for agents
whose `act` is a coroutine, so a worker can keep many episodes in flight while they wait on a model server.

Whatever goes wrong inside an episode (an agent that raises, a model API that keeps failing, a world bug, the
wall-clock limit) ends that episode with a status and a message; it never escapes to the batch.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from simyard.platform.api import (
    Action,
    ActionSpec,
    Agent,
    Decision,
    Env,
    ModelCall,
    Observation,
    StepResult,
    Task,
    WorldAware,
)

EndReason = Literal["goal", "terminated", "truncated", "max_steps", "invalid_cap", "time_limit", "agent_error",
                    "world_error"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-episode limits; None keeps the task's own value (or no limit, for time)."""

    max_steps: int | None = None
    max_invalid: int | None = None
    time_limit_s: float | None = None


@dataclass(slots=True)
class StepRecord:
    """Everything about one executed step, as the recorder stores it."""

    index: int
    action: Any  # JSON form of the action; None when the reply held no usable action
    reward: float
    terminated: bool
    truncated: bool
    info: Mapping[str, Any]
    observation: Observation
    calls: list[ModelCall] = field(default_factory=list)
    act_latency_s: float = 0.0


@dataclass(slots=True)
class EpisodeResult:
    """The outcome of one episode: one row of a run's results index.

    `status` is `completed` when the episode ran to one of its ends and `error` when the agent or the world failed;
    `reason` says which end it was.
    """

    task_id: str
    world: str
    subset: str
    seed: int | None
    status: Literal["completed", "error"] = "completed"
    reason: EndReason = "max_steps"
    success: bool = False
    progress: float = 0.0
    steps: int = 0
    invalid_actions: int = 0
    reward: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> EpisodeResult:
        return cls(**{name: row[name] for name in cls.__slots__ if name in row})


class Recorder(Protocol):
    """Receives an episode as it happens (the run directory writer, the CLI's live printer)."""

    def start(self, task: Task, seed: int | None, observation: Observation) -> None: ...

    def step(self, record: StepRecord) -> None: ...

    def finish(self, result: EpisodeResult) -> None: ...


class _NoRecorder:
    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        pass

    def step(self, record: StepRecord) -> None:
        pass

    def finish(self, result: EpisodeResult) -> None:
        pass


@dataclass(slots=True)
class _Turn:
    """What the loop asks the driver for: an answer to `observation`, before `deadline` (monotonic seconds)."""

    observation: Observation
    deadline: float | None
    spec: ActionSpec


def as_decision(reply: Any, spec: ActionSpec | None = None) -> Decision:
    """Normalise what `Agent.act` returned: an action, a list of actions (a plan) or a Decision.

    A list is a plan, except in a vector world where a flat list of numbers is one vector action (a plan of
    vectors is then a list of lists).
    """
    if isinstance(reply, Decision):
        return reply
    if isinstance(reply, list):
        if spec is not None and spec.kind == "vector" and reply and all(_is_number(item) for item in reply):
            return Decision(actions=[reply])
        return Decision(actions=reply)
    return Decision(actions=[reply])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def jsonable_action(action: Action | None) -> Any:
    """The JSON form of an action, for trajectories."""
    if isinstance(action, np.ndarray):
        return action.tolist()
    if isinstance(action, np.generic):
        return action.item()
    if isinstance(action, Mapping):
        return dict(action)
    if isinstance(action, Sequence) and not isinstance(action, str):
        return [jsonable_action(item) for item in action]
    return action


def _episode_loop(
    env: Env, agent: Agent, task: Task, seed: int | None, limits: Limits, recorder: Recorder
) -> Generator[_Turn, Decision | BaseException, EpisodeResult]:
    started = time.monotonic()
    deadline = started + limits.time_limit_s if limits.time_limit_s else None
    max_steps = limits.max_steps or task.max_steps
    max_invalid = limits.max_invalid if limits.max_invalid is not None else task.max_invalid
    result = EpisodeResult(task_id=task.id, world=task.world, subset=task.subset, seed=seed)

    def finish(reason: EndReason, error: str | None = None) -> EpisodeResult:
        result.reason = reason
        if error is not None:
            result.status, result.error = "error", error
        result.duration_s = time.monotonic() - started
        recorder.finish(result)
        return result

    try:
        observation = env.reset(task, seed)
        spec = env.action_spec()
    except Exception as exc:  # a world that cannot start is that episode's error, not the batch's
        return finish("world_error", f"world failed to reset: {_describe(exc)}")
    try:
        agent.reset(task, spec)
        if isinstance(agent, WorldAware):
            agent.attach(env)
    except Exception as exc:
        return finish("agent_error", f"agent failed to reset: {_describe(exc)}")
    recorder.start(task, seed, observation)
    world_observation = observation

    while True:
        if result.steps >= max_steps:
            return finish("max_steps")
        if deadline is not None and time.monotonic() >= deadline:
            return finish("time_limit")
        asked = time.monotonic()
        decision = yield _Turn(observation, deadline, spec)
        act_latency_s = time.monotonic() - asked
        if isinstance(decision, (TimeoutError, asyncio.TimeoutError)):
            return finish("time_limit")
        if isinstance(decision, BaseException):
            return finish("agent_error", f"agent failed: {_describe(decision)}")
        for call in decision.calls:
            result.model_calls += 1
            result.prompt_tokens += call.prompt_tokens or 0
            result.completion_tokens += call.completion_tokens or 0
            result.cost_usd += call.cost_usd or 0.0
        calls = decision.calls

        if decision.error is not None or not decision.actions:
            # A reply without a usable action costs one invalid step; the world is not touched.
            message = decision.error or "the reply held an empty plan; give at least one action"
            # The prefix goes on the world's last observation, never on a previous prefix, so it cannot stack.
            shown = replace(world_observation, text=f"Invalid reply: {message}\n{world_observation.text}")
            step = StepResult(shown, 0.0, False, False, {"valid": False, "feedback": message,
                                                         "success": result.success, "progress": result.progress})
            observation = shown
            result.steps += 1
            result.invalid_actions += 1
            recorder.step(StepRecord(result.steps, None, 0.0, False, False, step.info, observation, calls,
                                     act_latency_s))
            if (failure := _observe(agent, None, step)) is not None:
                return finish("agent_error", failure)
            if max_invalid is not None and result.invalid_actions >= max_invalid:
                return finish("invalid_cap")
            continue

        for action in decision.actions:
            if result.steps >= max_steps or (deadline is not None and time.monotonic() >= deadline):
                break
            try:
                step = env.step(action)
            except Exception as exc:
                return finish("world_error", f"world failed on action {jsonable_action(action)!r}: {_describe(exc)}")
            info = step.info
            valid = info.get("valid", True)
            result.steps += 1
            result.reward += step.reward
            result.success = bool(info.get("success", result.success))
            result.progress = float(info.get("progress", 1.0 if result.success else result.progress))
            result.cost_usd += info.get("cost", 0.0)
            if not valid:
                result.invalid_actions += 1
            observation = world_observation = step.observation
            recorder.step(StepRecord(result.steps, jsonable_action(action), step.reward, step.terminated,
                                     step.truncated, info, observation, calls, act_latency_s))
            calls, act_latency_s = [], 0.0  # the model call belongs to the first action of its plan
            if (failure := _observe(agent, action, step)) is not None:
                return finish("agent_error", failure)
            if step.terminated:
                return finish("goal" if result.success else "terminated")
            if step.truncated:
                return finish("truncated")
            if max_invalid is not None and result.invalid_actions >= max_invalid:
                return finish("invalid_cap")
            if not valid:
                break  # EmbodiedBench: the rest of a plan is dropped at the first invalid action


def _observe(agent: Agent, action: Action | None, step: StepResult) -> str | None:
    """Tell the agent how its action went; a failure there is the agent's error, returned as a message."""
    try:
        agent.observe(action, step)
    except Exception as exc:
        return f"agent failed to observe a step: {_describe(exc)}"
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _drive(loop: Generator[_Turn, Decision | BaseException, EpisodeResult], agent: Agent) -> EpisodeResult:
    try:
        turn = next(loop)
        while True:
            try:
                answer: Decision | BaseException = as_decision(agent.act(turn.observation), turn.spec)
            except Exception as exc:
                answer = exc
            turn = loop.send(answer)
    except StopIteration as stop:
        return stop.value


async def _drive_async(loop: Generator[_Turn, Decision | BaseException, EpisodeResult], agent: Agent) -> EpisodeResult:
    try:
        turn = next(loop)
        while True:
            try:
                reply = agent.act(turn.observation)
                if inspect.isawaitable(reply):
                    timeout = None if turn.deadline is None else max(0.0, turn.deadline - time.monotonic())
                    reply = await asyncio.wait_for(reply, timeout)
                answer: Decision | BaseException = as_decision(reply, turn.spec)
            except Exception as exc:
                answer = exc
            turn = loop.send(answer)
    except StopIteration as stop:
        return stop.value


def is_async_agent(agent: Agent) -> bool:
    """Whether the agent's `act` is a coroutine function (and so should be awaited)."""
    return inspect.iscoroutinefunction(agent.act)


def run_episode_with(
    env: Env,
    agent: Agent,
    task: Task,
    seed: int | None = None,
    limits: Limits = Limits(),
    recorder: Recorder | None = None,
) -> EpisodeResult:
    """Run one episode of `task` in an existing world (blocking; async agents get their own event loop)."""
    loop = _episode_loop(env, agent, task, seed, limits, recorder or _NoRecorder())
    if is_async_agent(agent):
        return asyncio.run(_drive_async(loop, agent))
    return _drive(loop, agent)


async def arun_episode_with(
    env: Env,
    agent: Agent,
    task: Task,
    seed: int | None = None,
    limits: Limits = Limits(),
    recorder: Recorder | None = None,
) -> EpisodeResult:
    """Run one episode inside a running event loop, so many can share one worker."""
    loop = _episode_loop(env, agent, task, seed, limits, recorder or _NoRecorder())
    return await _drive_async(loop, agent)
