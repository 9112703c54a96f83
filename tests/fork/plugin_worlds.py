"""Worlds and agents for the fork and take-over tests, loaded with `--import` as a user's plugin file would be.

`coin-drift` is deliberately not deterministic from its third step on (its observation carries fresh system
randomness), so a fork that replays past step 2 must be reported. `slowpoke` is a model stand-in that thinks for a
moment before each move, so a person has time to press Ctrl-C before its next action.
"""

from __future__ import annotations

import random
import time

import simyard
from simyard.platform.api import ActionSpec, Agent, Env, Observation, StepResult, Task


class CoinDrift(Env):
    """A counter world whose observation after step 2 holds a number no seed controls."""

    name = "coin-drift"

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.steps = 0
        return Observation("count 0", data={"valid_actions": ["up", "stay"]})

    def step(self, action) -> StepResult:
        self.steps += 1
        text = f"count {self.steps}"
        if self.steps >= 3:
            text += f" drift {random.SystemRandom().getrandbits(64)}"
        return StepResult(Observation(text, data={"valid_actions": ["up", "stay"]}), 0.0, False, False,
                          {"valid": True, "success": False, "progress": 0.0})

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("up", "stay"))

    def oracle(self):
        return "up"

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        return Task(id=f"drift-{seed}", world=cls.name, instruction="Count.", max_steps=6)


class Slowpoke(Agent):
    """Thinks 0.4 s, then takes the first valid action."""

    name = "slowpoke"

    def act(self, observation: Observation):
        time.sleep(0.4)
        return observation.data["valid_actions"][0]


simyard.register_world("coin-drift", CoinDrift)
simyard.register_agent("slowpoke", Slowpoke)
