"""The `demo-coin` world: name the side the coin landed on."""

from __future__ import annotations

import numpy as np

from simyard import ActionSpec, Env, Observation, StepResult, Task


class CoinWorld(Env):
    """Name the side a coin landed on: heads or tails (the demo plugin's world).

    Args:
        bias: Probability of heads when the task does not fix the side.
    """

    name = "demo-coin"

    def __init__(self, bias: float = 0.5) -> None:
        self.bias = float(bias)
        self.side = "heads"

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        return Task(id=f"coin-{seed:03d}", world="demo-coin", instruction="Say which side the coin shows.",
                    config={"side": "heads" if seed % 2 == 0 else "tails"}, max_steps=3)

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        rng = np.random.default_rng(seed)
        self.side = task.config.get("side") or ("heads" if rng.random() < self.bias else "tails")
        return Observation(f"The coin shows {self.side}.", data={"valid_actions": ["heads", "tails"]})

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("heads", "tails"), help="heads or tails")

    def step(self, action) -> StepResult:
        choice = self.action_spec().choice_id(action) if isinstance(action, (int, str)) else None
        if choice is None:
            info = {"valid": False, "success": False, "progress": 0.0, "feedback": "say heads or tails"}
            return StepResult(Observation("say heads or tails", data={"valid_actions": ["heads", "tails"]}),
                              0.0, False, False, info)
        won = ("heads", "tails")[choice] == self.side
        info = {"valid": True, "success": won, "progress": float(won), "feedback": "right" if won else "wrong"}
        return StepResult(Observation("right" if won else "wrong", data={"valid_actions": ["heads", "tails"]}),
                          float(won), True, False, info)

    def oracle(self):
        return self.side
