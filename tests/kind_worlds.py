"""Four tiny worlds, one per action kind, shaped like the worlds later issues bring.

They prove the contract carries every kind of world rather than promising it: numbered skills whose names change
per episode and an image each step (household), free-text commands that cost money and hold a workspace on disk
(SyncMind), JSON actions checked against a schema over several revise steps (layout), and vectors of integer bins
with a text object list (tabletop manipulation).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task


def _result(obs: Observation, reward: float, done: bool, valid: bool, feedback: str, progress: float,
            **extra: Any) -> StepResult:
    info = {"valid": valid, "feedback": feedback, "success": progress >= 1.0, "progress": progress, **extra}
    return StepResult(obs, reward, done, False, info)


class ChoiceWorld(Env):
    """Household skills: find an object, pick it up, put it in a receptacle. Names carry per-episode suffixes."""

    name = "test-skills"
    views = ("rgb",)

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        rng = np.random.default_rng(seed)
        self.copies = int(rng.integers(1, 4))
        self.target = f"Mug_{int(rng.integers(1, self.copies + 1))}" if self.copies > 1 else "Mug"
        mugs = [f"Mug_{i}" for i in range(1, self.copies + 1)] if self.copies > 1 else ["Mug"]
        self.skills = tuple([f"find a {m}" for m in mugs] + [f"pick up the {m}" for m in mugs]
                            + ["find a Cabinet", "open the Cabinet", "put down the object in hand"])
        self.found: str | None = None
        self.holding: str | None = None
        self.cabinet_open = False
        self.placed = False
        return self._observe("You are in a kitchen.")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=self.skills, help="Choose a skill by id or by name.")

    def _progress(self) -> float:
        return (int(self.holding == self.target or self.placed) + int(self.placed)) / 2

    def _observe(self, feedback: str) -> Observation:
        image = np.zeros((16, 16, 3), dtype=np.uint8)
        image[..., 0] = 40 * int(self.holding is not None)
        image[..., 1] = 80 * int(self.cabinet_open)
        image[..., 2] = 120 * int(self.placed)
        return Observation(f"{feedback} Put {self.target} in the Cabinet.", {"rgb": image},
                           {"valid_actions": list(self.skills)})

    def step(self, action: Action) -> StepResult:
        index = self.action_spec().choice_id(action)
        if index is None:
            message = f"{action!r} is not a skill; choose an id 0-{len(self.skills) - 1} or a skill name"
            return _result(self._observe(message), 0.0, False, False, message, self._progress())
        skill = self.skills[index]
        verb, _, thing = skill.rpartition(" ")
        ok, message = True, f"Last action '{skill}' executed successfully."
        if skill.startswith("find a"):
            self.found = thing
        elif skill.startswith("pick up"):
            ok = self.found == thing and self.holding is None
            self.holding = thing if ok else self.holding
        elif skill == "open the Cabinet":
            ok = self.found == "Cabinet"
            self.cabinet_open = self.cabinet_open or ok
        else:
            ok = self.holding == self.target and self.found == "Cabinet" and self.cabinet_open
            self.placed, self.holding = (True, None) if ok else (self.placed, self.holding)
        if not ok:
            message = f"Last action '{skill}' is invalid here."
        progress = self._progress()
        return _result(self._observe(message), float(self.placed), self.placed, ok, message, progress)

    def oracle(self) -> list[Action]:
        plan = []
        if not self.placed and self.holding != self.target:
            plan += [f"find a {self.target}", f"pick up the {self.target}"]
        if not self.placed:
            plan += ["find a Cabinet"] + ([] if self.cabinet_open else ["open the Cabinet"])
            plan += ["put down the object in hand"]
        return plan

    def state(self) -> dict[str, Any]:
        return {"target": self.target, "found": self.found, "holding": self.holding, "placed": self.placed}

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        return Task(id=f"skills-{seed}", world=cls.name, instruction="Put the mug in the cabinet.")


class TextWorld(Env):
    """Shell-like commands over a workspace on disk; each command costs money. `close` must remove the workspace."""

    name = "test-shell"
    cost_per_action = 0.01

    def __init__(self) -> None:
        self.workspace: Path | None = None

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.close()
        self.workspace = Path(tempfile.mkdtemp(prefix="simyard-shell-"))
        self.secret = str(np.random.default_rng(seed).integers(1000, 9999))
        (self.workspace / "secret.txt").write_text(self.secret)
        self.done = False
        return Observation("Workspace ready. Commands: ls, cat FILE, submit ANSWER.", data={"files": ["secret.txt"]})

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="text", help="ls | cat FILE | submit ANSWER")

    def step(self, action: Action) -> StepResult:
        assert self.workspace is not None
        command, _, argument = str(action).strip().partition(" ")
        valid, output = True, ""
        if command == "ls":
            output = " ".join(sorted(p.name for p in self.workspace.iterdir()))
        elif command == "cat" and (self.workspace / argument).is_file():
            output = (self.workspace / argument).read_text()
        elif command == "submit":
            self.done = True
            output = "correct" if argument == self.secret else "wrong"
        else:
            valid, output = False, f"unknown command {str(action)!r}; use ls, cat FILE or submit ANSWER"
        progress = 1.0 if output == "correct" else 0.0
        return _result(Observation(output), progress, self.done, valid, output, progress, cost=self.cost_per_action)

    def oracle(self) -> Action:
        return f"submit {self.secret}"

    def sample_action(self, rng: np.random.Generator) -> Action:
        return str(rng.choice(["ls", "cat secret.txt", "submit 0000"]))

    def close(self) -> None:
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None


class JsonWorld(Env):
    """Place named boxes on a grid with JSON actions; overlapping or out-of-bounds placements are rejected."""

    name = "test-layout"
    schema = {"type": "object", "required": ["object", "x", "y"],
              "properties": {"object": {"type": "string"}, "x": {"type": "integer"}, "y": {"type": "integer"}}}

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.size = int(task.config.get("size", 4))
        self.objects = list(task.config.get("objects", ["sofa", "table", "lamp"]))
        self.placed: dict[str, tuple[int, int]] = {}
        return Observation(f"Place {', '.join(self.objects)} on a {self.size}x{self.size} grid.")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="json", schema=self.schema, help='{"object": NAME, "x": INT, "y": INT}')

    def _problem(self, action: Action) -> str | None:
        if isinstance(action, str):
            try:
                action = json.loads(action)
            except json.JSONDecodeError:
                return "not JSON; send an object like {\"object\": \"sofa\", \"x\": 0, \"y\": 0}"
        if not isinstance(action, dict) or set(action) != {"object", "x", "y"}:
            return "an action is an object with exactly the keys object, x, y"
        if action["object"] not in self.objects:
            return f"unknown object {action['object']!r}; objects: {', '.join(self.objects)}"
        if not all(isinstance(action[k], int) and 0 <= action[k] < self.size for k in "xy"):
            return f"x and y must be integers in 0..{self.size - 1}"
        taken = {pos for name, pos in self.placed.items() if name != action["object"]}
        if (action["x"], action["y"]) in taken:
            return "that cell is taken"
        self.placed[action["object"]] = (action["x"], action["y"])
        return None

    def step(self, action: Action) -> StepResult:
        problem = self._problem(action)
        progress = len(self.placed) / len(self.objects)
        message = problem or f"placed; {len(self.placed)}/{len(self.objects)} objects down"
        return _result(Observation(message), 0.0, progress >= 1.0, problem is None, message, progress)

    def oracle(self) -> list[Action]:
        todo = [name for name in self.objects if name not in self.placed]
        free = [(x, y) for y in range(self.size) for x in range(self.size) if (x, y) not in self.placed.values()]
        return [{"object": name, "x": x, "y": y} for name, (x, y) in zip(todo, free, strict=False)]

    def sample_action(self, rng: np.random.Generator) -> Action:
        return {"object": str(rng.choice(self.objects)), "x": int(rng.integers(self.size)),
                "y": int(rng.integers(self.size))}

    def state(self) -> dict[str, Any]:
        return {"placed": {name: list(pos) for name, pos in sorted(self.placed.items())}}


class VectorWorld(Env):
    """Move a gripper with 7-integer bin vectors to the object named in the instruction."""

    name = "test-reach"
    bins = 100

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        rng = np.random.default_rng(seed)
        self.objects = {f"object {i}": rng.integers(0, self.bins, 3).tolist() for i in range(1, 4)}
        self.target = "object 2"
        self.gripper = [50, 50, 50]
        return self._observe("ready")

    def _observe(self, feedback: str) -> Observation:
        return Observation(f"{feedback}. Objects: {self.objects}. Reach {self.target}.", data={"objects": self.objects})

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="vector", size=7, low=(0,) * 7, high=(self.bins - 1,) * 7, integer=True,
                          help="[x, y, z, roll, pitch, yaw, gripper] as integer bins 0-99")

    def step(self, action: Action) -> StepResult:
        values = np.asarray(action, dtype=object).ravel() if not isinstance(action, (str, dict)) else None
        if values is None or values.size != 7 or not all(
            isinstance(v, (int, np.integer)) and 0 <= v < self.bins for v in values
        ):
            message = f"{action!r} is not 7 integers in 0..{self.bins - 1}"
            return _result(self._observe(message), 0.0, False, False, message, 0.0)
        self.gripper = [int(v) for v in values[:3]]
        distance = max(abs(a - b) for a, b in zip(self.gripper, self.objects[self.target], strict=True))
        reached = distance <= 1
        return _result(self._observe("moved"), float(reached), reached, True, "moved", 1.0 if reached else 0.0)

    def oracle(self) -> Action:
        return [*self.objects[self.target], 0, 0, 0, 1]


KIND_WORLDS = (ChoiceWorld, TextWorld, JsonWorld, VectorWorld)
