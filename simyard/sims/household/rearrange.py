"""`rearrange`: EB-Habitat's world on the embedded household engine — a ReplicaCAD-like apartment, 70 skills in
EB-Habitat's order and words, Habitat's preconditions, EB-Habitat's feedback, progress and limits.

An episode resets a task's apartment (`HouseholdConfig.scene_seed`, or an explicit `scene`), then takes skills by
id (0-69) or by name ("pick up the apple"). Each step answers as `EBHabEnv.step` does: `info["env_feedback"]` in
EB-Habitat's words, `last_action_success` (1.0 or 0.0), `task_success`, `task_progress` and `env_step`, besides
simyard's `valid`, `feedback`, `success` and `progress`. An episode ends on success (EB-Habitat's `end_on_success`),
after 30 steps or after 10 invalid actions (the task config's `max_steps` and `max_invalid`).

Progress is EB-Habitat's `task_progress`: the share of the task's subgoals (`HouseholdConfig.subgoals`; each goal
predicate on its own when a task gives none) that have held at some step, each counted once reached, and 1.0 on
success.

Pictures come from the MuJoCo scene (`simyard.sims.household.scene`), built once per world and synced each step;
with `render="none"` the world is text-only, as EB-Habitat is for a language-only agent, and declares no views.

World options: `resolution` (side of the square egocentric view, px; EmbodiedBench's 500), `render` ("auto",
"none", or a backend the scene knows: "egl", "osmesa"), `top_view` (also a top-down map in each observation),
`boxes` (detection boxes with labels drawn on the view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.sims.household import goals as goal_checker
from simyard.sims.household import habitat_home as home
from simyard.sims.household.rearrange_skills import (
    INVALID,
    SKILL_NAMES,
    SKILLS,
    NoPlan,
    apply,
    index_of,
    plan,
)
from simyard.sims.household.state import House
from simyard.sims.household.taskconfig import HouseholdConfig
from simyard.sims.mjrender import picture_options
from simyard.sims.puzzles._common import Choices, OracleGaveUp, read_config

HELP = (
    "You are a robot in a home with a kitchen and a living room. Skills: 'navigate to the <receptacle>' (always "
    "works; brings you next to it); 'pick up the <object>' (only when you are at the receptacle the object is on or "
    "in, your hand is empty and the object is not inside a closed refrigerator or cabinet); 'place at the "
    "<receptacle>' (only when you hold an object and are at that receptacle; the refrigerator must be open); "
    "'open/close the refrigerator' and 'open/close the cabinet N' (only when you are next to it)."
)
_CHOICES = Choices(SKILL_NAMES, help=HELP)
#: Values of the `render` option: a GL backend of `simyard.sims.mjrender`, or none for text only.


class RearrangeEnv(Env):
    """EB-Habitat's rearrangement world: skills on a symbolic apartment, pictures from MuJoCo when available.

    Args:
        resolution: Side of the egocentric RGB view in pixels (EmbodiedBench: 500).
        render: The GL backend for pictures: "auto" (EGL where a display initialises, else OSMesa), "egl",
            "osmesa", or "none" (text only, as for a language-only agent).
        top_view: Also put a top-down map (`top`) in every observation.
        boxes: Draw labelled detection boxes of the things in view on the RGB view.
        resources: The worker's shared resources (the renderer is created once per worker).
    """

    name = "rearrange"
    views = ("rgb", "top")
    config_model = HouseholdConfig

    @classmethod
    def rescore(cls, task: Task, seed: int | None, steps: Sequence[Mapping[str, Any]]) -> tuple[bool, float]:
        """`simyard bench rescore`: the world is deterministic given task and seed, so the recorded actions are
        replayed on a fresh world with the current rules, without pictures (they never change the state)."""
        from simyard.platform.rescore import replay_score

        return replay_score(cls(render="none"), task, seed, steps)

    def __init__(
        self,
        resolution: int = 500,
        render: str = "auto",
        top_view: bool = False,
        boxes: bool = False,
        resources: Any = None,
    ) -> None:
        self.render_mode, self.resolution = picture_options(render, resolution)
        if render == "none":
            self.views = ()  # text-only: nothing is declared that no observation shows
        self.top_view = bool(top_view)
        self.boxes = bool(boxes)
        self.resources = resources
        self._scene: Any = None
        self._pose_cache: dict[int | None, dict[str, tuple[float, float, float]]] = {}
        self._house: House | None = None

    # -- episode ----------------------------------------------------------------------------------------------

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A task of the `eb-habitat` generator: `seed` picks the subset, the apartment and the task."""
        from simyard.tasks.eb_habitat import sample_task

        return sample_task(seed)

    def action_spec(self) -> ActionSpec:
        return _CHOICES.spec

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = read_config(HouseholdConfig, task)
        self._config = config
        self._house = House.from_dict(config.scene) if config.scene is not None else home.generate(config.scene_seed)
        self._goals = goal_checker.parse_all(config.goals)
        stages = config.subgoals or [[text] for text in config.goals]
        self._subgoals = [goal_checker.parse_all(stage) for stage in stages]
        self._reached: set[int] = set()
        # Goals read only the things their first arguments name (and the held thing, for not_holding): checking
        # those alone keeps a step in the tens of microseconds.
        words = {goal.args[0].word.lower() for stage in [self._goals, *self._subgoals] for goal in stage if goal.args}
        self._subjects = [t.id for t in self._house.things.values() if {t.type.lower(), t.name.lower()} & words]
        # Standing poses depend on the furniture alone, which never moves: keep them per generated apartment.
        key = config.scene_seed if config.scene is None else None
        if key is None or key not in self._pose_cache:  # an explicit scene starts afresh every episode
            if len(self._pose_cache) > 256:
                self._pose_cache.clear()
            self._pose_cache[key] = {}
        self._poses = self._pose_cache[key]
        self._steps = 0
        self._invalid = 0
        self._done = False
        self._instruction = config.instruction or task.instruction
        self._open_scene()
        success, progress = self._score()
        return self._observation(self._instruction, success, progress)

    def step(self, action: Action) -> StepResult:
        house = self._house
        if house is None:
            raise RuntimeError("reset the rearrange world before stepping it")  # a runner bug, not a bad action
        index = _CHOICES.parse(action)
        self._steps += 1
        if self._done:
            valid, feedback = False, f"{INVALID} The episode is over; reset the world to start a new one."
        elif index is None:
            valid, feedback = False, _unknown(action)
        else:
            valid, feedback = apply(house, SKILLS[index])
            if valid and SKILLS[index].verb == "nav":
                target = SKILLS[index].target
                pose = self._poses.get(target)
                if pose is None:
                    pose = self._poses[target] = self._pose_facing(target)
                house.agent.pose = pose
        if not valid:
            self._invalid += 1
        was_done = self._done
        success, progress = self._score()
        terminated = success  # EB-Habitat's end_on_success
        truncated = not success and self._truncated()
        self._done = was_done or terminated or truncated
        info = {
            "valid": valid,
            "feedback": feedback,
            "success": success,
            "progress": progress,
            "env_feedback": feedback,
            "last_action_success": 1.0 if valid else 0.0,
            "task_success": 1.0 if success else 0.0,
            "task_progress": progress,
            "env_step": self._steps,
            "action_id": index if index is not None else -1,
            "action_description": SKILL_NAMES[index] if index is not None else "",
        }
        reward = 1.0 if success and not was_done else 0.0
        return StepResult(self._observation(feedback, success, progress), reward, terminated, truncated, info)

    def _truncated(self) -> bool:
        return self._steps >= self._config.max_steps or self._invalid >= self._config.max_invalid

    def _score(self) -> tuple[bool, float]:
        """(success, progress) now, counting every subgoal that holds as reached for good."""
        assert self._house is not None
        held = self._house.agent.holding
        ids = self._subjects if held is None or held in self._subjects else [*self._subjects, held]
        facts = _facts(self._house, ids)
        met, total = goal_checker.check(self._goals, facts)
        for number, stage in enumerate(self._subgoals):
            if number not in self._reached and all(goal.holds(facts) for goal in stage):
                self._reached.add(number)
        success = met == total
        return success, 1.0 if success else len(self._reached) / len(self._subgoals)

    def _observation(self, text: str, success: bool, progress: float) -> Observation:
        images = self._pictures()
        data = {
            "instruction": self._instruction,
            "env_step": self._steps,
            "task_success": success,
            "task_progress": progress,
        }
        return Observation(text, images, data)

    # -- oracle -----------------------------------------------------------------------------------------------

    def oracle(self) -> Action:
        """The next skill of a plan to the goal from the current state (re-planned every call)."""
        assert self._house is not None, "reset before asking the oracle"
        try:
            steps = plan(self._house, self._goals)
        except NoPlan as exc:
            raise OracleGaveUp(f"the rearrange planner found no plan: {exc}", hint="check the task's goals") from None
        if not steps:  # the goal holds already: any harmless skill
            return SKILL_NAMES[index_of("nav", self._house.agent.at or home.NAV_TARGETS[0])]
        return SKILL_NAMES[steps[0]]

    # -- pictures ---------------------------------------------------------------------------------------------

    def _open_scene(self) -> None:
        """Bring the MuJoCo scene to this episode's apartment (built once per world, rebuilt only when needed)."""
        if self.render_mode == "none" or self._house is None:
            return
        if self._scene is None:
            from simyard.sims import mjrender
            from simyard.sims.household import scene as module

            size = self.resolution
            renderer = None
            if self.resources is not None:  # the worker's shared renderer; otherwise the scene makes its own
                renderer = mjrender.renderer_for(self.resources, self.render_mode, size, size)
            self._scene = module.Scene(
                self._house, renderer, backend=self.render_mode, width_px=size, height_px=size, top_px=size
            )
        else:
            self._scene.sync(self._house)

    def _pose_facing(self, thing_id: str) -> tuple[float, float, float]:
        """Where the robot stands to use `thing_id`: in front of it, clear of other furniture, looking at it."""
        from simyard.sims.household.scene import pose_facing

        assert self._house is not None
        x, y, yaw = pose_facing(self._house, thing_id)
        return float(x), float(y), float(yaw)

    def _pictures(self) -> dict[str, np.ndarray]:
        if self._scene is None or self._house is None:
            return {}
        self._scene.sync(self._house)
        images = {"rgb": self._scene.render("rgb", boxes=self.boxes)}
        if self.top_view:
            images["top"] = self._scene.render("top")
        return images

    def render(self, view: str = "rgb") -> np.ndarray | None:
        """The egocentric view (`rgb`) or the map (`top`) of the current state; None when pictures are off."""
        if self._scene is None or self._house is None or view not in self.views:
            return None
        self._scene.sync(self._house)
        return self._scene.render(view, boxes=self.boxes and view == "rgb")

    def state(self) -> dict[str, Any]:
        if self._house is None:
            return {}
        return {
            "house": self._house.to_dict(),
            "steps": self._steps,
            "invalid": self._invalid,
            "reached_subgoals": sorted(self._reached),
            "done": self._done,
        }

    def _close_scene(self) -> None:
        scene, self._scene = self._scene, None
        if scene is not None:
            scene.close()

    def close(self) -> None:
        self._close_scene()


def _facts(house: House, ids: list[str]) -> list[goal_checker.Fact]:
    """`goals.facts_of` for the things `ids` only."""
    facts = []
    for thing_id in ids:
        thing = house.things[thing_id]
        holders = list(house.ancestors(thing_id))
        facts.append(
            goal_checker.Fact(
                id=thing_id,
                type=thing.type,
                name=thing.name,
                parents=tuple(h.id for h in holders),
                parent_names=tuple(h.name for h in holders),
                parent_types=tuple(h.type for h in holders),
                is_open=thing.is_open,
                held=house.agent.holding == thing_id,
            )
        )
    return facts


def _unknown(action: Action) -> str:
    """EB-Habitat's invalid-action line, plus what was sent and what is accepted (EB-Habitat says only the first)."""
    shown = repr(action)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return (
        f"{INVALID} {shown} is not an action; choose an action id from 0 to {len(SKILL_NAMES) - 1} or an action "
        "name from the action list."
    )
