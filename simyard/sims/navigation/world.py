"""`navigation`: EB-Navigation's world on MuJoCo — eight atomic moves in a kitchen, an egocentric camera, and its
success rule.

An episode resets a task's kitchen (`NavigationConfig.scene_seed`, or an explicit `scene` built from EB-Navigation's
data), leaves out the target type's other instances (`hidden`, EB's `object_to_hide`), and puts the agent at the
start pose. Each step takes one of EB-Navigation's eight actions by id (0-7), skill text or AI2-THOR name:

* moves of 0.25 m forward, backward, rightward or leftward keep the heading; a move that would put the agent's
  body into a wall or a piece of furniture is invalid and leaves the agent where it was, with feedback naming
  what blocked it (`space.FreeSpace`);
* rotations turn by 90 degrees; tilts change the camera's pitch by 30 degrees within AI2-THOR's -30..60;
* anything else (an id outside 0-7, another string, a float, None) is invalid, with feedback listing the actions.

Feedback is EB-Navigation's: "Last action MoveAhead executed successfully." / "Last action MoveAhead is invalid.
<reason>". After every step, valid or not, success is checked as EB-Navigation does: the agent within 1.0 m of the
target's recorded position on the floor plane (THOR's x-z, our x-y); success ends the episode at once (reward 1),
and 20 steps truncate it. `info` has EB's keys (`task_success`, `env_feedback`, `last_action_success`, `env_step`,
`distance`, `action_id`, `action_description`, `instruction`) and simyard's (`valid`, `feedback`, `success`,
`progress`: 1 - distance / start distance, clipped to [0, 1]). There is no cap on invalid actions, as in EB.

The text observation is EB's: the instruction and the action list (after a step, the feedback first). Pictures come
from the household engine's MuJoCo scene (`household.scene.Scene`): the egocentric view at 500x500 with a 100
degree field of view by default, and with `top_view` a top-down map with the agent as a red arrow. With
`render="none"` the world is text-only and declares no views. Nothing in an episode is random: a task fixes the
kitchen and the start, so the same task gives the same frames, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import SimyardError
from simyard.sims.household.scene import EYE_HEIGHT_M, placements
from simyard.sims.household.state import House
from simyard.sims.mjrender import picture_options
from simyard.sims.navigation import actions, kitchens, planner, prompts
from simyard.sims.navigation.space import FreeSpace
from simyard.sims.navigation.taskconfig import NavigationConfig
from simyard.sims.puzzles._common import Choices, read_config

#: Values of the `render` option: a GL backend of `simyard.sims.mjrender`, or none for text only.
FOV_DEG = 100.0
_CHOICES = Choices(actions.NAMES, help=prompts.HELP, role=prompts.ROLE, guidelines=prompts.GUIDELINES)


def success_text(thor_name: str) -> str:
    return f"Last action {thor_name} executed successfully."


def invalid_text(thor_name: str, reason: str) -> str:
    return f"Last action {thor_name} is invalid. {reason}"


class NavigationEnv(Env):
    """EB-Navigation on MuJoCo: 20 steps, eight actions, success within 1.0 m of the target.

    Args:
        resolution: Side of the square egocentric picture in pixels (EmbodiedBench: 500).
        fov: The egocentric camera's field of view in degrees (EmbodiedBench: 100).
        render: The GL backend for pictures: `auto` (EGL where a display initialises, else OSMesa), `egl`,
            `osmesa`, or `none` (text only).
        top_view: Also put a top-down map (`top`) in every observation (EB's `multiview`).
        boxes: Draw labelled detection boxes of the things in view on the picture (EB's `boundingbox`).
        resources: The worker's shared resources (the renderer is made once per worker).
    """

    name = "navigation"
    views = ("rgb", "top")
    config_model = NavigationConfig

    @classmethod
    def rescore(cls, task: Task, seed: int | None, steps: Sequence[Mapping[str, Any]]) -> tuple[bool, float]:
        """`simyard bench rescore`: moves are kinematic and deterministic given task and seed, so the recorded
        actions are replayed on a fresh world with the current rules, without pictures (they never move the agent)."""
        from simyard.platform.rescore import replay_score

        return replay_score(cls(render="none"), task, seed, steps)

    def __init__(
        self,
        resolution: int = 500,
        fov: float = FOV_DEG,
        render: str = "auto",
        top_view: bool = False,
        boxes: bool = False,
        resources: Any = None,
    ) -> None:
        self.render_mode, self.resolution = picture_options(render, resolution)
        if not 1.0 <= float(fov) <= 170.0:
            raise SimyardError(f"fov={fov!r} is out of range", hint="a field of view of 1 to 170 degrees")
        self.fov = float(fov)
        self.views = () if render == "none" else (("rgb", "top") if top_view else ("rgb",))
        self.top_view = bool(top_view)
        self.boxes = bool(boxes)
        self.resources = resources
        self._scene: Any = None
        self._house: House | None = None

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A task of the `eb-navigation` suite's kind (any subset) in a kitchen made from `seed`."""
        from simyard.tasks.eb_navigation import sample_task

        return sample_task(seed)

    def action_spec(self) -> ActionSpec:
        return _CHOICES.spec

    # -- the episode

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = read_config(NavigationConfig, task)
        house = kitchens.generate(config.scene_seed) if config.scene_seed is not None else House.from_dict(config.scene)
        for thing_id in config.hidden:
            house.things.pop(thing_id, None)
        if config.target_id not in house.things:
            raise SimyardError(
                f"task {task.id!r}: the target {config.target_id!r} is not in its scene", hint="fix the task's config"
            )
        x, y, yaw = config.start
        house.agent.pose = (float(x), float(y), float(yaw) % 360.0)
        house.agent.horizon_deg = float(config.horizon_deg)
        self._house = house
        self._config = config
        self._space = FreeSpace(house)
        self._target_z = placements(house)[config.target_id].center[2]
        self._steps = 0
        self._done = False
        self._start_distance = max(self._distance(), 1e-6)
        self._open_scene()
        return self._observation("")

    def step(self, action: Action) -> StepResult:
        if self._house is None:
            raise RuntimeError("reset the navigation world before stepping it")
        self._steps += 1
        index = actions.parse(action)
        name = actions.label(action)
        if self._done:
            ok, reason = False, "The episode is over; reset for a new one."
        elif index is None:
            ok, reason = (
                False,
                (
                    f"{name} is not an action: send an id from 0 to {len(actions.NAMES) - 1} or one of: "
                    + "; ".join(f"{i}: {text}" for i, text in enumerate(actions.NAMES))
                ),
            )
        else:
            ok, reason = self._apply(actions.SKILLS[index])
        feedback = success_text(name) if ok else invalid_text(name, reason)
        distance = self._distance()
        success = distance <= self._config.success_m
        terminated = success and not self._done
        truncated = not terminated and not self._done and self._steps >= self._config.max_steps
        self._done = self._done or terminated or truncated
        progress = float(min(1.0, max(0.0, 1.0 - distance / self._start_distance)))
        info = {
            "valid": ok,
            "feedback": feedback,
            "success": success,
            "progress": 1.0 if success else progress,
            "task_success": float(success),
            "env_feedback": feedback,
            "last_action_success": float(ok),
            "env_step": self._steps,
            "distance": round(distance, 6),
            "action_id": index if index is not None else -1,
            "action_description": actions.NAMES[index] if index is not None else name,
            "instruction": self._config.instruction,
        }
        return StepResult(self._observation(feedback), float(success), terminated, truncated, info)

    def oracle(self) -> list[Action]:
        """The rest of a shortest plan: moves on the free 0.25 m grid into reach, then a turn to face the target."""
        assert self._house is not None, "reset before asking the oracle"
        x, y, yaw = self._house.agent.pose
        steps = planner.plan(
            self._space,
            (x, y, yaw),
            self._house.agent.horizon_deg,
            self._config.target_xy,
            self._config.success_m,
            self._target_z,
            EYE_HEIGHT_M,
        )
        return list(steps) or [actions.ROTATE_LEFT]  # nothing left to gain: any action, never an empty plan

    def render(self, view: str = "rgb") -> np.ndarray | None:
        if self._scene is None or self._house is None or view not in self.views:
            return None
        self._scene.sync(self._house)
        return self._scene.render(view, boxes=self.boxes and view == "rgb")

    def state(self) -> dict[str, Any]:
        if self._house is None:
            return {}
        x, y, yaw = self._house.agent.pose
        return {
            "pose": [x, y, yaw],
            "horizon_deg": self._house.agent.horizon_deg,
            "target": self._config.target_id,
            "distance": round(self._distance(), 6),
            "steps": self._steps,
            "done": self._done,
        }

    def close(self) -> None:
        scene, self._scene = self._scene, None
        if scene is not None:
            scene.close()

    # -- internals

    def _apply(self, skill: actions.Skill) -> tuple[bool, str]:
        """Carry out one action on the agent's pose; (valid, why not)."""
        agent = self._house.agent  # type: ignore[union-attr]
        x, y, yaw = agent.pose
        if skill.moves:
            heading = math.radians(yaw)
            nx = x + skill.ahead * math.cos(heading) - skill.left * math.sin(heading)
            ny = y + skill.ahead * math.sin(heading) + skill.left * math.cos(heading)
            nx, ny = round(nx, 9), round(ny, 9)  # no drift in the last bits from sums of cosines
            blocker = self._space.blocker((x, y), (nx, ny))
            if blocker is not None:
                return False, f"{blocker} is blocking the agent from moving {_direction(skill)} by {actions.MOVE_M} m."
            agent.pose = (nx, ny, yaw)
        elif skill.turn_deg:
            agent.pose = (x, y, (yaw + skill.turn_deg) % 360.0)
        else:
            horizon = agent.horizon_deg + skill.tilt_deg
            if not actions.HORIZON_MIN_DEG - 1e-9 <= horizon <= actions.HORIZON_MAX_DEG + 1e-9:
                limit = "30 degrees up" if skill.tilt_deg < 0 else "60 degrees down"
                return False, f"The camera cannot tilt further than {limit}."
            agent.horizon_deg = horizon
        return True, ""

    def _distance(self) -> float:
        x, y, _ = self._house.agent.pose  # type: ignore[union-attr]
        tx, ty = self._config.target_xy
        return math.hypot(x - tx, y - ty)

    def _observation(self, feedback: str) -> Observation:
        lines = [feedback] if feedback else []
        lines += [f"Instruction: {self._config.instruction}", actions.listing()]
        images = {}
        if self._scene is not None:
            # Only the agent moves here, and the egocentric camera reads the house's pose when it draws, so a full
            # sync (every thing's placement, about 1 ms of a 9 ms step) would not change this picture; the map's
            # arrow and the boxes' segmentation cache do need one. A test holds the two pictures equal.
            if self.top_view or self.boxes:
                self._scene.sync(self._house)
            images["rgb"] = self._scene.render("rgb", boxes=self.boxes)
            if self.top_view:
                images["top"] = self._scene.render("top")
        data = {"valid_actions": list(actions.NAMES), "instruction": self._config.instruction}
        return Observation("\n".join(lines), images, data)

    def _open_scene(self) -> None:
        """The MuJoCo scene: built once per world, brought to each new kitchen by `sync` (which recompiles it)."""
        if self.render_mode == "none":
            return
        if self._scene is not None:
            self._scene.sync(self._house)
            return
        from simyard.sims import mjrender
        from simyard.sims.household.scene import Scene

        size = self.resolution
        renderer = None
        if self.resources is not None:
            renderer = mjrender.renderer_for(self.resources, self.render_mode, size, size)
        self._scene = Scene(self._house, renderer, backend=self.render_mode, width_px=size, height_px=size,
                            top_px=size, fovy_deg=self.fov)  # fmt: skip


def _direction(skill: actions.Skill) -> str:
    if skill.ahead:
        return "ahead" if skill.ahead > 0 else "back"
    return "left" if skill.left > 0 else "right"
