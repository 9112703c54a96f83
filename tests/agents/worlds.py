"""Two tiny worlds for agent tests: a skill world with a camera (choice actions) and a counter (text commands).

They keep simyard's world rules (never raise for a bad action; answer `valid=False` with feedback; own oracle) so the
agent meets the same contract it meets in real worlds, at no cost.
"""

from __future__ import annotations

import re

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task

SKILLS = ("find a Mug", "pick up the Mug", "find a Table", "put down the object in hand", "find a Sofa")


class MugWorld(Env):
    """EB-ALFRED in miniature: find the mug, pick it up, find the table, put it down. Renders an 8x8 frame."""

    name = "mugworld"
    views = ("rgb",)

    def __init__(self) -> None:
        self.at: str | None = None
        self.holding = False
        self.done = False

    @staticmethod
    def task(task_id: str = "mug-1", max_steps: int = 10, max_invalid: int | None = 5) -> Task:
        return Task(
            id=task_id,
            world=MugWorld.name,
            instruction="Put the mug on the table.",
            max_steps=max_steps,
            max_invalid=max_invalid,
        )

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.at, self.holding, self.done = None, False, False
        return self._observe("You are in a kitchen.")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=SKILLS, help="find X walks to X; pick up needs you at the object.")

    def step(self, action: Action) -> StepResult:
        index = self.action_spec().choice_id(action)
        if index is None:
            return self._result(False, f"{action!r} is not an action; use an id 0-{len(SKILLS) - 1} or a skill name")
        skill = SKILLS[index]
        if skill.startswith("find a "):
            self.at = skill.removeprefix("find a ")
        elif skill == "pick up the Mug":
            if self.at != "Mug" or self.holding:
                return self._result(False, "Cannot find Mug to pick up. Find the object before picking up it")
            self.holding = True
        elif skill == "put down the object in hand":
            if not self.holding:
                return self._result(False, "Robot is not holding any object")
            self.holding, self.done = False, self.at == "Table"
        return self._result(True, "Last action executed successfully.")

    def oracle(self) -> list[Action]:
        return [0, 1, 2, 3]

    def render(self, view: str = "rgb") -> np.ndarray:
        frame = np.zeros((8, 8, 3), dtype=np.uint8)
        frame[:, :, 0] = 200 if self.holding else 30
        frame[:, :, 1] = 200 if self.done else 30
        return frame

    def _observe(self, text: str) -> Observation:
        return Observation(text=text, images={"rgb": self.render()})

    def _result(self, valid: bool, message: str) -> StepResult:
        feedback = message if valid else f"Last action is invalid. {message}"
        progress = 1.0 if self.done else 0.5 if self.holding else 0.0
        info = {"valid": valid, "feedback": feedback, "success": self.done, "progress": progress}
        return StepResult(self._observe(feedback), 1.0 if self.done else 0.0, self.done, False, info)


class CounterWorld(Env):
    """Reach `config["target"]` from 0 with `add N` / `sub N` commands (a text world)."""

    name = "counter"

    def __init__(self) -> None:
        self.value = 0
        self.target = 0

    @staticmethod
    def task(target: int = 3, task_id: str = "count-1", max_steps: int = 10) -> Task:
        return Task(
            id=task_id,
            world=CounterWorld.name,
            instruction=f"Make the counter show {target}.",
            config={"target": target},
            max_steps=max_steps,
        )

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.value, self.target = 0, int(task.config.get("target", 3))
        return Observation(text=f"The counter shows {self.value}.")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="text", help="Commands: 'add N' adds N to the counter, 'sub N' subtracts N.")

    def step(self, action: Action) -> StepResult:
        match = re.fullmatch(r"\s*(add|sub)\s+(\d+)\s*", action) if isinstance(action, str) else None
        if match is None:
            text = f"{action!r} is not a command; use 'add N' or 'sub N'"
            return StepResult(Observation(text=text), 0.0, False, False, {"valid": False, "feedback": text})
        self.value += int(match[2]) * (1 if match[1] == "add" else -1)
        success = self.value == self.target
        text = f"The counter shows {self.value}."
        info = {"valid": True, "feedback": text, "success": success, "progress": float(success)}
        return StepResult(Observation(text=text), float(success), success, False, info)

    def oracle(self) -> Action:
        gap = self.target - self.value
        return f"add {gap}" if gap >= 0 else f"sub {-gap}"
