"""A counter world and a few agents for the bench tests, importable by module path from spawned workers.

Bench workers are fresh processes, so test worlds must live in a module they can import; the tests pass this one as a
plugin import (`imports=["tests.platform.bench_worlds"]`, or `--import` on the command line). Importing it registers:

* world `tiny`: count up to `config.target` with `inc`; `dec` counts down; anything else is invalid. Rewards come
  from the episode seed's generator, so a wrong seed shows up in the totals. Config knobs: `sleep_s` per step (to
  make a batch slow enough to interrupt), `images` (an 8x8 `rgb` view), `fail_reset` (the world raises on reset).
* agent `tiny-counter`: a deterministic sync agent that always says `inc`; `crash_on` (a task id) makes it raise
  there, `die_on` makes it kill its own process there (a worker crash; with
  `die_once_marker` only the first time).
* world `tiny-counting` and agent `tiny-shared`: log their setups and teardowns and those of the resources they
  share through the worker's scope (the lifecycle test). Config `hang` makes a tiny step never return, `log` records
  when each step ran, `nan_progress` reports a NaN progress.
* agent `tiny-blocking`: a sync agent whose `act` blocks for `block_s` on task `block_on`.
* agent `tiny-async`: an async agent that sleeps `delay_s` before each `inc`, and counts how many of its kind are
  inside `act` at once (`TinyAsyncAgent.peak`, per process).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import simyard
from simyard.platform.api import Action, ActionSpec, Agent, Env, Observation, StepResult, Task
from simyard.tasks.files import write_task_file

MODULE = __name__


class TinyWorld(Env):
    """Count from 0 to the task's target."""

    name = "tiny"
    views = ("rgb",)

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        if task.config.get("fail_reset"):
            raise RuntimeError("this task's world refuses to start")
        self.task = task
        self.target = int(task.config.get("target", 3))
        self.sleep_s = float(task.config.get("sleep_s", 0.0))
        self.images = bool(task.config.get("images", False))
        self.rng = np.random.default_rng(seed)
        self.count = 0
        return self._observe("Start.")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("inc", "dec"), help="inc or dec")

    def oracle(self) -> Action:
        return "inc"

    def step(self, action: Action) -> StepResult:
        started = time.monotonic()
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.task.config.get("hang"):
            time.sleep(3600)  # a call that never returns (a wedged simulator)
        if log := self.task.config.get("log"):
            with open(log, "a") as handle:  # when each step ran, to see whether steps of episodes overlapped
                handle.write(f"{self.task.id} {started} {time.monotonic()} {os.getpid()}\n")
        choice = self.action_spec().choice_id(action)
        if choice is None:
            return StepResult(self._observe(f"{action!r} is not inc or dec"), 0.0, False, False,
                              {"valid": False, "feedback": "say inc or dec", "success": False,
                               "progress": self.count / self.target})
        self.count += 1 if choice == 0 else -1
        done = self.count >= self.target
        progress = float("nan") if self.task.config.get("nan_progress") else max(0.0, self.count / self.target)
        return StepResult(self._observe(f"Count is {self.count}."), float(self.rng.random()), done, False,
                          {"valid": True, "feedback": "ok", "success": done, "progress": progress})

    def _observe(self, text: str) -> Observation:
        images = {}
        if self.images:
            images = {"rgb": np.full((8, 8, 3), 20 * self.count % 256, dtype=np.uint8)}
        return Observation(text, images, {"valid_actions": ["inc", "dec"], "count": self.count})


class TinyCounterAgent(Agent):
    """Always `inc`; raises on task `crash_on`, kills its process on task `die_on`."""

    name = "tiny-counter"

    def __init__(self, crash_on: str = "", die_on: str = "", wrong_on: str = "", die_once_marker: str = "",
                 alive_marker: str = "") -> None:
        self.crash_on, self.die_on, self.wrong_on = crash_on, die_on, wrong_on
        self.die_once_marker = die_once_marker  # with die_on: die only while this file does not exist yet
        self.alive_marker = alive_marker  # with die_on: never die once this file exists (a repaired machine)
        self.task_id = ""

    def reset(self, task: Task, spec: ActionSpec) -> None:
        self.task_id = task.id

    def act(self, observation: Observation) -> Action:
        if self.task_id == self.crash_on:
            raise RuntimeError(f"agent bug on {self.task_id}")
        if self.task_id == self.die_on and not (self.alive_marker and os.path.exists(self.alive_marker)):
            if self.die_once_marker:
                if os.path.exists(self.die_once_marker):
                    return "inc"
                open(self.die_once_marker, "w").close()
            os._exit(7)
        if self.task_id == self.wrong_on:
            return "dec"
        return "inc"


class TinyAsyncAgent(Agent):
    """An async `inc` after `delay_s`, recording how many agents of its kind were acting at once."""

    name = "tiny-async"
    inside: ClassVar[int] = 0
    peak: ClassVar[int] = 0

    def __init__(self, delay_s: float = 0.01) -> None:
        self.delay_s = float(delay_s)

    async def act(self, observation: Observation) -> Action:
        TinyAsyncAgent.inside += 1
        TinyAsyncAgent.peak = max(TinyAsyncAgent.peak, TinyAsyncAgent.inside)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            TinyAsyncAgent.inside -= 1
        return "inc"


def tiny_tasks(count: int, prefix: str = "t", **config: Any) -> list[Task]:
    """`count` tiny tasks with targets 1..4 and subsets `even`/`odd` by position."""
    return [
        Task(id=f"{prefix}{index:03d}", world="tiny", subset="even" if index % 2 == 0 else "odd",
             config={"target": 1 + index % 4, **config}, max_steps=10)
        for index in range(count)
    ]


def write_tiny_suite(path: Path, count: int, **config: Any) -> Path:
    """Write `tiny_tasks(count, **config)` as a JSONL task file and return its path."""
    write_task_file(path, tiny_tasks(count, **config))
    return path


class CountingWorld(TinyWorld):
    """The tiny world, sharing one per-process resource through the worker's scope and logging its lifecycle.

    Every line of `log` is `<event> <pid>`: world-setup/world-close per world object, resource-setup/resource-close
    per shared resource, run-setup/run-close for the run scope on the driver.
    """

    name = "tiny-counting"

    def __init__(self, log: str, resources: Any = None) -> None:
        self.log = log
        _log(log, "world-setup")
        if resources is not None:
            self.shared = resources.shared("tiny-resource", lambda: _Logged(log, "resource"))

    @classmethod
    def prepare_run(cls, resources: Any, options: dict[str, Any]) -> None:
        resources.shared("tiny-run-resource", lambda: _Logged(options["log"], "run"))

    def close(self) -> None:
        _log(self.log, "world-close")


class CountingAgent(TinyCounterAgent):
    """`inc` forever, with a backend shared by every agent of its process (the way a local model is shared)."""

    name = "tiny-shared"

    def __init__(self, log: str, resources: Any = None) -> None:
        super().__init__()
        self.log = log
        _log(log, "agent-setup")
        if resources is not None:
            self.backend = resources.shared("tiny-backend", lambda: _Logged(log, "backend"))

    def close(self) -> None:
        _log(self.log, "agent-close")


class BlockingAgent(TinyCounterAgent):
    """A sync agent that blocks for `block_s` seconds in `act` on task `block_on` (a hung model call)."""

    name = "tiny-blocking"

    def __init__(self, block_on: str = "", block_s: float = 3600.0) -> None:
        super().__init__()
        self.block_on, self.block_s = block_on, float(block_s)

    def act(self, observation: Observation) -> Action:
        if self.task_id == self.block_on:
            time.sleep(self.block_s)
        return "inc"


class _Logged:
    def __init__(self, log: str, kind: str) -> None:
        self.log, self.kind = log, kind
        _log(log, f"{kind}-setup")

    def close(self) -> None:
        _log(self.log, f"{self.kind}-close")


def _log(path: str, event: str) -> None:
    with open(path, "a") as handle:
        handle.write(f"{event} {os.getpid()}\n")


def counting_tasks(count: int) -> list[Task]:
    return [Task(id=f"c{index:03d}", world="tiny-counting", config={"target": 2}, max_steps=10)
            for index in range(count)]


simyard.register_world("tiny", TinyWorld)
simyard.register_world("tiny-counting", CountingWorld)
simyard.register_agent("tiny-shared", CountingAgent)
simyard.register_agent("tiny-blocking", BlockingAgent)
simyard.register_agent("tiny-counter", TinyCounterAgent)
simyard.register_agent("tiny-async", TinyAsyncAgent)
