"""The agents that need no model: `random` (a floor for every report) and `oracle` (the ceiling)."""

from __future__ import annotations

import zlib

import numpy as np

from simyard.platform.api import Action, ActionSpec, Agent, Env, Observation, Task, WorldAware


def stable_seed(*parts: object) -> int:
    """A seed that depends only on `parts`, never on the process (unlike `hash`)."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode())


class RandomAgent(Agent, WorldAware):
    """Uniform over the valid actions the world lists, else a random action of the world's kind; seeded per task.

    Args:
        seed: Base seed; each task's draws depend on it and the task id only, so runs are repeatable in any order.
    """

    name = "random"

    def __init__(self, seed: int | str = 0) -> None:
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.env: Env | None = None

    def reset(self, task: Task, spec: ActionSpec) -> None:
        self.rng = np.random.default_rng(stable_seed(self.seed, task.id))

    def attach(self, env: Env) -> None:
        self.env = env

    def act(self, observation: Observation) -> Action:
        valid = observation.data.get("valid_actions")
        if valid:
            return valid[int(self.rng.integers(len(valid)))]
        assert self.env is not None, "the runner attaches the world before the first act"
        return self.env.sample_action(self.rng)


class OracleAgent(Agent, WorldAware):
    """Follows the world's own solver: proves every task solvable and gives the upper line of every report."""

    name = "oracle"

    def __init__(self) -> None:
        self.env: Env | None = None

    def attach(self, env: Env) -> None:
        self.env = env

    def act(self, observation: Observation) -> Action | list[Action]:
        assert self.env is not None, "the runner attaches the world before the first act"
        return self.env.oracle()
