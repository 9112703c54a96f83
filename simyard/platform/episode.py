"""One episode: reset, ask the agent, execute its plan, enforce the limits, and report what happened.

The loop is written once, as a generator that yields what it needs done (an observation the agent must answer, or
a blocking call such as a world's step) and receives the answer back. Two small drivers feed it: a plain one, and an
asyncio one that keeps many episodes of one worker in flight. Where a blocking call runs is the `Lane`'s business:
inline when nothing needs protecting from it, else on the lane's own thread, so a slow world never stalls the other
episodes in flight and a deadline holds even for a call that never returns.

Whatever goes wrong inside an episode (an agent that raises, a model API that keeps failing, a world bug, the
wall-clock limit) ends that episode with a status and a message; it never escapes to the batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
import queue
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from simyard.platform.api import (
    ActionSpec,
    Agent,
    Decision,
    Env,
    EpisodeQuit,
    ModelCall,
    Observation,
    StepResult,
    Task,
    WorldAware,
)
from simyard.platform.errors import InfraError, describe

#: How an episode ended. `completed` covers every end the agent brought about (success or failure); the errors say whose
#: fault the end was; `infra_error` episodes are retried and never count as failures; `timeout` is the wall clock.
Status = Literal["completed", "agent_error", "world_error", "infra_error", "timeout"]
STATUSES: tuple[str, ...] = ("completed", "agent_error", "world_error", "infra_error", "timeout")

EndReason = Literal["goal", "terminated", "truncated", "max_steps", "invalid_cap", "quit", "time_limit", "agent_error",
                    "world_error", "infra_error"]


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

    `status` says whose doing the end was (see `Status`); `reason` says which end it was. `attempts` counts the tries
    it took (infrastructure failures are retried); `cut_replies` the model replies cut short by a token limit.
    `metrics` is the last `info["metrics"]` the world reported (its own per-episode measures: numbers are averaged
    per group in reports, strings label the episode and split the report; see `platform.metrics`).
    """

    task_id: str
    world: str
    subset: str
    seed: int | None
    status: Status = "completed"
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
    attempts: int = 1
    cut_replies: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def errored(self) -> bool:
        """Whether the episode ended in an error of any kind (or the clock) rather than by the agent's own doing."""
        return self.status != "completed"

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> EpisodeResult:
        values = {name: row[name] for name in cls.__slots__ if name in row}
        if values.get("status") == "error":  # rows written before the outcome taxonomy
            reason = str(values.get("reason"))
            values["status"] = {"agent_error": "agent_error", "time_limit": "timeout"}.get(reason, "world_error")
        return cls(**values)


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


@dataclass(slots=True)
class _Call:
    """A blocking call the loop needs made (a world's reset or step, an agent's reset): `fn(*args)` by `deadline`."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    deadline: float | None


class CallTimeout(Exception):
    """A call did not return before the episode's deadline; the driver sends this into the loop instead of a value."""


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


def jsonable_action(action: Any) -> Any:
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
) -> Generator[_Turn | _Call, Any, EpisodeResult]:
    started = time.monotonic()
    deadline = started + limits.time_limit_s if limits.time_limit_s else None
    max_steps = limits.max_steps or task.max_steps
    max_invalid = limits.max_invalid if limits.max_invalid is not None else task.max_invalid
    result = EpisodeResult(task_id=task.id, world=task.world, subset=task.subset, seed=seed)

    def finish(status: Status, reason: EndReason, error: str | None = None) -> EpisodeResult:
        result.status, result.reason, result.error = status, reason, error
        result.duration_s = time.monotonic() - started
        recorder.finish(result)
        return result

    def timed_out(what: str) -> EpisodeResult:
        limit = limits.time_limit_s
        return finish("timeout", "time_limit", f"{what} did not finish within the time limit of {limit} s")

    def agent_failed(exc: BaseException, doing: str) -> EpisodeResult:
        if isinstance(exc, EpisodeQuit):
            return finish("completed", "quit")
        if isinstance(exc, (CallTimeout, TimeoutError, asyncio.TimeoutError)):
            return timed_out(f"the agent's {doing}")
        if isinstance(exc, InfraError):
            return finish("infra_error", "infra_error", f"agent's {doing} failed: {describe(exc)}")
        return finish("agent_error", "agent_error", f"agent failed to {doing}: {describe(exc)}")

    reply = yield _Call(env.reset, (task, seed), deadline)
    if isinstance(reply, CallTimeout):
        return timed_out("the world's reset")
    if isinstance(reply, BaseException):  # a world that cannot start is that episode's error, not the batch's
        return finish(*_world_failure(reply, "reset"))
    observation = reply
    spec = yield _Call(env.action_spec, (), deadline)
    if isinstance(spec, BaseException) or not isinstance(observation, Observation):
        problem = spec if isinstance(spec, BaseException) else TypeError(
            f"reset returned {type(observation).__name__}, not an Observation")
        return finish(*_world_failure(problem, "reset"))
    reply = yield _Call(_start_agent, (agent, env, task, spec), deadline)
    if isinstance(reply, BaseException):
        return agent_failed(reply, "reset")
    recorder.start(task, seed, observation)
    world_observation = observation

    while True:
        if result.steps >= max_steps:
            return finish("completed", "max_steps")
        if deadline is not None and time.monotonic() >= deadline:
            return timed_out("the episode")
        asked = time.monotonic()
        decision = yield _Turn(observation, deadline, spec)
        act_latency_s = time.monotonic() - asked
        if isinstance(decision, BaseException):
            return agent_failed(decision, "act")
        if (malformed := _malformed_decision(decision)) is not None:
            return finish("agent_error", "agent_error", f"agent returned {malformed}")
        cut = False
        for call in decision.calls:
            result.model_calls += 1
            result.prompt_tokens += _count(call.prompt_tokens)
            result.completion_tokens += _count(call.completion_tokens)
            result.cost_usd += _amount(call.cost_usd)
            if call.finish_reason == "length":
                result.cut_replies += 1
                cut = True
        calls = decision.calls
        notes = dict(decision.info)  # the agent's notes go on the turn's first step, like its model calls

        if decision.error is not None or not decision.actions:
            # A reply without a usable action costs one invalid step; the world is not touched.
            message = decision.error or "the reply held an empty plan; give at least one action"
            # The prefix goes on the world's last observation, never on a previous prefix, so it cannot stack.
            shown = replace(world_observation, text=f"Invalid reply: {message}\n{world_observation.text}")
            info: dict[str, Any] = {"valid": False, "feedback": message, "success": result.success,
                                    "progress": result.progress}
            if cut:
                info["reply_cut"] = True
            if notes:
                info["agent"] = notes
            step = StepResult(shown, 0.0, False, False, info)
            observation = shown
            result.steps += 1
            result.invalid_actions += 1
            recorder.step(StepRecord(result.steps, None, 0.0, False, False, step.info, observation, calls,
                                     act_latency_s))
            reply = yield _Call(agent.observe, (None, step), deadline)
            if isinstance(reply, BaseException):
                return agent_failed(reply, "observe a step")
            if max_invalid is not None and result.invalid_actions >= max_invalid:
                return finish("completed", "invalid_cap")
            continue

        for action in decision.actions:
            if result.steps >= max_steps or (deadline is not None and time.monotonic() >= deadline):
                break
            step = yield _Call(env.step, (action,), deadline)
            if isinstance(step, CallTimeout):
                return timed_out(f"the world's step on action {_short(jsonable_action(action))}")
            if isinstance(step, BaseException):
                return finish(*_world_failure(step, f"action {_short(jsonable_action(action))}"))
            if (malformed := _malformed_step(step)) is not None:
                return finish("world_error", "world_error", f"world returned {malformed}")
            info = step.info
            if cut:
                info = {**info, "reply_cut": True}
            if notes:
                info = {**info, "agent": notes}
            valid = info.get("valid", True)
            result.steps += 1
            result.reward += step.reward
            result.success = bool(info.get("success", result.success))
            result.progress = float(info.get("progress", 1.0 if result.success else result.progress))
            result.cost_usd += _amount(info.get("cost"))
            if "metrics" in info:
                result.metrics = {key: value.item() if isinstance(value, np.generic) else value
                                  for key, value in info["metrics"].items()}
            if not valid:
                result.invalid_actions += 1
            observation = world_observation = step.observation
            recorder.step(StepRecord(result.steps, jsonable_action(action), step.reward, step.terminated,
                                     step.truncated, info, observation, calls, act_latency_s))
            calls, act_latency_s, cut, notes = [], 0.0, False, {}  # the model call belongs to the plan's first action
            reply = yield _Call(agent.observe, (action, step), deadline)
            if isinstance(reply, BaseException):
                return agent_failed(reply, "observe a step")
            if step.terminated:
                return finish("completed", "goal" if result.success else "terminated")
            if step.truncated:
                return finish("completed", "truncated")
            if max_invalid is not None and result.invalid_actions >= max_invalid:
                return finish("completed", "invalid_cap")
            if not valid:
                break  # EmbodiedBench: the rest of a plan is dropped at the first invalid action


def _start_agent(agent: Agent, env: Env, task: Task, spec: ActionSpec) -> None:
    agent.reset(task, spec)
    if isinstance(agent, WorldAware):
        agent.attach(env)


def _world_failure(exc: BaseException, doing: str) -> tuple[Status, EndReason, str]:
    if isinstance(exc, InfraError):
        return "infra_error", "infra_error", f"world infrastructure failed on {doing}: {describe(exc)}"
    return "world_error", "world_error", f"world failed on {doing}: {describe(exc)}"


def _malformed_decision(decision: Decision) -> str | None:
    """What is wrong with a Decision an agent built by hand, or None; checked so a bad one ends only its episode."""
    if not isinstance(decision.actions, list):
        return f"a Decision whose actions are a {type(decision.actions).__name__}, not a list"
    if not isinstance(decision.calls, list) or not all(isinstance(call, ModelCall) for call in decision.calls):
        return "a Decision whose calls are not a list of ModelCall"
    if decision.error is not None and not isinstance(decision.error, str):
        return f"a Decision whose error is a {type(decision.error).__name__}, not a string"
    if not isinstance(decision.info, dict):
        return f"a Decision whose info is a {type(decision.info).__name__}, not a dict"
    return None


def _malformed_step(step: Any) -> str | None:
    """What is wrong with a world's StepResult, or None. Non-finite numbers would poison every mean of the run."""
    if not isinstance(step, StepResult):
        return f"{type(step).__name__} from step(), not a StepResult"
    if not isinstance(step.observation, Observation):
        return f"a step whose observation is a {type(step.observation).__name__}, not an Observation"
    if not isinstance(step.info, Mapping):
        return f"a step whose info is a {type(step.info).__name__}, not a mapping"
    if not _is_number(step.reward) or not math.isfinite(step.reward):
        return f"a step with reward {step.reward!r}; rewards must be finite numbers"
    progress = step.info.get("progress")
    if progress is not None and (not _is_number(progress) or not math.isfinite(progress)):
        return f"a step with progress {progress!r}; progress must be a finite number in [0, 1]"
    cost = step.info.get("cost")
    if cost is not None and (not _is_number(cost) or not math.isfinite(cost)):
        return f"a step with cost {cost!r}; costs must be finite numbers"
    if "metrics" in step.info:
        return _malformed_metrics(step.info["metrics"])
    return None


def _malformed_metrics(metrics: Any) -> str | None:
    """What is wrong with a world's `info["metrics"]`, or None: a mapping of names to finite numbers, booleans or
    strings (labels), since reports average the numbers and split by the strings."""
    if not isinstance(metrics, Mapping):
        return f"a step whose metrics are a {type(metrics).__name__}, not a mapping"
    for key, value in metrics.items():
        if not isinstance(key, str):
            return f"a step with metric name {key!r}; names must be strings"
        if isinstance(value, (bool, str)):
            continue
        if not _is_number(value) or not math.isfinite(value):
            return f"a step with metric {key}={value!r}; metrics must be finite numbers, booleans or strings"
    return None


def _count(value: Any) -> int:
    """A token count as a server reported it; anything that is not a whole number counts as unknown (0)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, np.integer)):
        return int(value)
    return 0


def _amount(value: Any) -> float:
    if _is_number(value) and math.isfinite(value):
        return float(value)
    return 0.0


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."



# ------------------------------------------------------------------------------------------------- the drivers


class Lane:
    """Where one episode's blocking calls run: inline on the caller's thread, or on a thread of the lane's own.

    A lane with a thread makes every world call and every sync agent call there, so a slow world or a blocking agent
    stalls only its own episode, and a deadline can be enforced by waiting on it. One thread per lane (rather than a
    shared pool) because worlds may hold thread-bound things, such as an OpenGL context, that must always be used
    from the thread that made them. A call that outlives its deadline is abandoned: the lane moves to a new thread,
    and the old one is left to finish (it is a daemon thread); `stuck_since` lets a watchdog act on it.
    """

    def __init__(self, threaded: bool = False, name: str = "simyard-lane") -> None:
        self.threaded = threaded
        self.name = name
        self._thread: _LaneThread | None = None
        self._abandoned: list[tuple[float, concurrent.futures.Future[Any]]] = []
        self.broken = False  # a call was abandoned: what it was using (world, sync agent) must be replaced

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run `fn(*args)` on the lane's thread; its future."""
        if self._thread is None:
            self._thread = _LaneThread(self.name)
        return self._thread.submit(fn, *args)

    def call_sync(self, fn: Callable[..., Any], args: tuple[Any, ...], deadline: float | None) -> Any:
        """Make a call from plain (non-async) code; raises CallTimeout when the deadline passes first."""
        if not self.threaded and deadline is None:
            return fn(*args)
        future = self.submit(fn, *args)
        try:
            return future.result(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            self._abandon(future)
            raise CallTimeout from None

    async def call(self, fn: Callable[..., Any], args: tuple[Any, ...], deadline: float | None) -> Any:
        """Make a call from the event loop without blocking it; raises CallTimeout when the deadline passes first."""
        if not self.threaded and deadline is None:
            return fn(*args)
        future = self.submit(fn, *args)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except TimeoutError:
            self._abandon(future)
            raise CallTimeout from None

    def _abandon(self, future: concurrent.futures.Future[Any]) -> None:
        self.broken = True
        self._abandoned.append((time.monotonic(), future))
        if self._thread is not None:
            self._thread.stop()  # it exits once the stuck call returns, if ever
            self._thread = None

    def stuck_since(self) -> float | None:
        """When the oldest abandoned call that is still running was abandoned (monotonic), or None."""
        self._abandoned = [(since, future) for since, future in self._abandoned if not future.done()]
        return self._abandoned[0][0] if self._abandoned else None

    def close(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None


class _LaneThread:
    """One daemon thread running submitted calls in order (a daemon, so a stuck call never blocks interpreter exit)."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put((future, fn, args))
        return future

    def stop(self) -> None:
        self._queue.put(None)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # delivered to the waiting episode, which decides what it means
                future.set_exception(exc)


def _drive(loop: Generator[_Turn | _Call, Any, EpisodeResult], agent: Agent, lane: Lane) -> EpisodeResult:
    try:
        request = next(loop)
        while True:
            answer: Any
            try:
                if isinstance(request, _Call):
                    answer = lane.call_sync(request.fn, request.args, request.deadline)
                else:
                    reply = lane.call_sync(agent.act, (request.observation,), request.deadline)
                    answer = as_decision(reply, request.spec)
            except Exception as exc:
                answer = exc
            request = loop.send(answer)
    except StopIteration as stop:
        return stop.value


async def _drive_async(loop: Generator[_Turn | _Call, Any, EpisodeResult], agent: Agent, lane: Lane) -> EpisodeResult:
    coroutine_agent = is_async_agent(agent)
    try:
        request = next(loop)
        while True:
            answer: Any
            try:
                if isinstance(request, _Call):
                    answer = await lane.call(request.fn, request.args, request.deadline)
                elif coroutine_agent:
                    timeout = None if request.deadline is None else max(0.0, request.deadline - time.monotonic())
                    pending: Any = agent.act(request.observation)
                    answer = as_decision(await asyncio.wait_for(pending, timeout), request.spec)
                else:
                    reply = await lane.call(agent.act, (request.observation,), request.deadline)
                    answer = as_decision(reply, request.spec)
            except Exception as exc:
                answer = exc
            request = loop.send(answer)
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
    """Run one episode of `task` in an existing world (blocking; async agents get their own event loop).

    With a time limit, world calls and a sync agent's calls run on a thread of their own so the limit holds even
    for a call that never returns (it is abandoned and the episode ends as `timeout`).
    """
    loop = _episode_loop(env, agent, task, seed, limits, recorder or _NoRecorder())
    lane = Lane(threaded=False)
    try:
        if is_async_agent(agent):
            return asyncio.run(_drive_async(loop, agent, lane))
        return _drive(loop, agent, lane)
    finally:
        lane.close()


async def arun_episode_with(
    env: Env,
    agent: Agent,
    task: Task,
    seed: int | None = None,
    limits: Limits = Limits(),
    recorder: Recorder | None = None,
    lane: Lane | None = None,
) -> EpisodeResult:
    """Run one episode inside a running event loop, so many can share one worker; `lane` says where calls run."""
    loop = _episode_loop(env, agent, task, seed, limits, recorder or _NoRecorder())
    own = lane is None
    lane = lane or Lane(threaded=True)
    try:
        return await _drive_async(loop, agent, lane)
    finally:
        if own:
            lane.close()
