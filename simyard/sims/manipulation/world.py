"""`manipulation`: EB-Manipulation's world on MuJoCo: a Franka Panda at a table, EB's discretised 7-D actions.

An episode arranges a task's things on the table (`ManipulationConfig`), puts the arm at home with the gripper open,
and takes actions `[X, Y, Z, Roll, Pitch, Yaw, Gripper]` (integers; see `discrete`). Each valid action moves the
tip to that pose along planned waypoints under physics, then opens or closes the gripper if its state changes
(`control`). An action that is malformed or out of range, aims below the table or off it ("Target is outside of
workspace.") or at a pose the arm cannot take ("Could not create path.") is invalid: nothing moves, the reward is -1,
and the feedback is EB-Manipulation's sentence with the reason and, for bad input, the accepted ranges.

The observation's text is EB's task prompt input: the instruction and the object list, `{'object 1': [45, 13, 18],
...}`, each thing's centre in bins, sorted by Y (the shape sorter's is its top, where the hole is). Its picture is
the front camera (`rgb`, `resolution` square), with EB's axes and numbered boxes when `boxes` is on (EB's default).
`info` has simyard's `valid`, `feedback`, `success`, `progress` and EB's `env_feedback`, `instruction`, `env_step`,
`action`, `action_success`, `task_success`. Success is read from the physics (`goals`) after each action and ends
the episode; so do 15 steps.

World options: `resolution` (px, default 500), `render` (auto, osmesa, egl, none: text only and no views),
`boxes` (axes and numbered boxes on the picture), `resources` (the worker's renderer).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.sims.manipulation import discrete, goals, oracle, panda, picture, prompts, scene, shapes
from simyard.sims.manipulation.control import Arm, PhysicsDiverged
from simyard.sims.manipulation.taskconfig import ManipulationConfig
from simyard.sims.mjrender import picture_options
from simyard.sims.puzzles._common import read_config

SPEC = ActionSpec(
    kind="vector",
    size=discrete.ACTION_SIZE,
    low=tuple(float(v) for v in discrete.ACTION_LOW),
    high=tuple(float(v) for v in discrete.ACTION_HIGH),
    integer=True,
    help=prompts.HELP,
    role=prompts.ROLE,
)
#: Physics steps that let a freshly arranged table come to rest before the first observation.
_SETTLE_STEPS = 60


class ManipulationEnv(Env):
    """EB-Manipulation on MuJoCo: a Panda, a table, EB's tasks, actions, feedback and limits.

    Args:
        resolution: Side of the front camera's square picture in pixels (EmbodiedBench: 500).
        render: The GL backend for pictures: `auto`, `egl`, `osmesa`, or `none` (text only).
        boxes: Draw EB's XYZ axes and numbered object boxes on the picture (EB's `detection_box`, on by default).
        resources: The worker's shared resources (the renderer is created once per worker).
    """

    name = "manipulation"
    views = ("rgb",)
    config_model = ManipulationConfig

    def __init__(self, resolution: int = 500, render: str = "auto", boxes: bool = True, resources: Any = None) -> None:
        self.render_mode, self.resolution = picture_options(render, resolution)
        if render == "none":
            self.views = ()  # text only: nothing is declared that no observation shows
        self.boxes = bool(boxes)
        self.resources = resources
        self._model: Any = None
        self._renderer: Any = None
        self._own_renderer = False
        self._config: ManipulationConfig | None = None

    # -- episode --------------------------------------------------------------------------------------------------

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A task of the `eb-manipulation` suite's kind: the family and subset cycle with the seed."""
        from simyard.tasks.eb_manipulation import sample_task

        return sample_task(seed)

    def action_spec(self) -> ActionSpec:
        return SPEC

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        import mujoco

        config = read_config(ManipulationConfig, task)
        self._config = config
        if self._model is None:
            self._build()
        model, data = self._model, self._data
        mujoco.mj_resetData(model, data)
        self._arrange(config)
        self._arm.reset(panda.HOME_QPOS)
        mujoco.mj_forward(model, data)
        self._arm.run(_SETTLE_STEPS)
        self._steps = 0
        self._done = False
        self._success = False
        self._instruction = config.instruction
        return self._observation(None)

    def step(self, action: Action) -> StepResult:
        config = self._config
        if config is None:
            raise RuntimeError("reset the manipulation world before stepping it")  # a runner bug, not a bad action
        self._steps += 1
        shown = _jsonable(action)
        if self._done:
            problem: str | None = "The episode is over; reset the world to start a new one."
        else:
            problem = self._act(action)
        success = self._success = (self._success or self._check(action)) if problem is None else self._success
        reward = 1.0 if success and problem is None else (-1.0 if problem is not None else 0.0)
        feedback = prompts.feedback(self._instruction, self._steps, problem, reward)
        terminated = success
        truncated = not success and self._steps >= config.max_steps
        self._done = self._done or terminated or truncated
        info = {
            "valid": problem is None,
            "feedback": feedback,
            "success": success,
            "progress": self._progress(success),
            "env_feedback": feedback,
            "instruction": self._instruction,
            "env_step": self._steps,
            "action": shown,
            "action_success": 1.0 if problem is None else 0.0,
            "task_success": 1.0 if success else 0.0,
        }
        return StepResult(self._observation(feedback), reward, terminated, truncated, info)

    def _act(self, action: Action) -> str | None:
        """Carry out one action; the reason it is invalid, or None."""
        pose = discrete.parse_action(action)
        if isinstance(pose, str):
            return pose
        x, y, z = pose.position_m
        if z < scene.TABLE_TOP_M or not (scene.TABLE_X_M[0] <= x <= scene.TABLE_X_M[1]):
            lowest = int(math.floor((scene.TABLE_TOP_M - discrete.LOWER[2]) / discrete.RESOLUTION_M[2])) + 1
            return (f"{prompts.OUTSIDE_WORKSPACE[:-1]}: the gripper must stay above the table, Z of at least "
                    f"{lowest}")  # fmt: skip
        target = np.array(pose.position_m)
        quat = np.array(pose.quat_wxyz)
        plan = self._arm.plan(target, quat)
        if plan is None:
            return f"{prompts.NO_PATH[:-1]}: the arm cannot reach that position with that orientation"
        before = self._snapshot()
        try:
            self._arm.follow(plan)
            if pose.gripper_open != self._arm.gripper_open():
                self._arm.grip(pose.gripper_open, self._holdable)
        except PhysicsDiverged as exc:
            self._restore(before)
            raise PhysicsDiverged(f"{exc} during action {list(pose.indices)}; state before it: {before['summary']}",
                                  hint=exc.hint) from None  # fmt: skip
        return None

    def _check(self, action: Action) -> bool:
        """Success after an executed action, with EB's stacking rule (gripper open, still true 3 cm higher)."""
        config = self._config
        assert config is not None
        if not self._goal_met():
            return False
        if config.family != "stack_cubes":
            return True
        pose = discrete.parse_action(action)
        if isinstance(pose, str) or not pose.gripper_open:
            return False
        tip, quat = self._arm.tip_pose()
        lift = self._arm.plan(tip + np.array([0.0, 0.0, 0.03]), quat)
        if lift is not None:
            self._arm.follow(lift)
        return self._goal_met()

    def _goal_met(self) -> bool:
        config = self._config
        assert config is not None
        goal, family = config.goal, config.family
        held = self._held_id()
        if family == "wipe_table":
            return bool(self._wiped.mean() >= goals.WIPE_SHARE)
        if family == "stack_cubes":
            top, bottom = goal["top"], goal["bottom"]
            if held in (top, bottom) or not self._arm.gripper_open():
                return False
            return goals.stacked(self._pos(top), self._kinds[top], self._pos(bottom), self._kinds[bottom])
        thing = goal["object"]
        if held == thing:
            return False
        if family == "pick_cube":
            where = goal["container"]
            return goals.in_container(self._pos(thing), self._pos(where), self._yaw(where))
        where = goal["sorter"]
        return goals.in_sorter(self._pos(thing), self._pos(where), self._yaw(where))

    def _progress(self, success: bool) -> float:
        """1 on success; else 0.5 once the thing to move is in hand (a wipe counts the share wiped, below 1)."""
        config = self._config
        assert config is not None
        if success:
            return 1.0
        if config.family == "wipe_table":
            return round(min(float(self._wiped.mean()), 0.99), 4)
        carried = config.goal.get("top") or config.goal.get("object")
        return 0.5 if carried is not None and self._held_id() == carried else 0.0

    # -- observation -----------------------------------------------------------------------------------------------

    def object_coords(self) -> dict[str, list[int]]:
        """EB's object list: every thing's centre in bins (the sorter's top), numbered in order of Y."""
        entries = []
        for order, thing_id in enumerate(self._ids):
            entries.append((self._coord(thing_id), order, thing_id))
        entries.sort(key=lambda entry: (entry[0][1], entry[1]))
        self._listed = [thing_id for _, _, thing_id in entries]
        return {f"object {number}": coord for number, (coord, _, _) in enumerate(entries, start=1)}

    def _coord(self, thing_id: str) -> list[int]:
        kind = self._kinds[thing_id]
        pos = self._pos(thing_id).copy()
        if kind == "container":
            pos[2] += shapes.CONTAINER_HEIGHT_M / 2
        elif kind == "sorter":
            pos[2] += shapes.SORTER_HEIGHT_M
        elif kind in shapes.AREA_KINDS:
            pos[2] += shapes.AREA_THICKNESS_M / 2
        return discrete.position_to_index(pos)

    def _observation(self, feedback: str | None) -> Observation:
        coords = self.object_coords()
        lines = [feedback] if feedback else []
        lines += [f"Human Instruction: {self._instruction}", f"Input: {coords}"]
        images = {}
        if self.views:
            images["rgb"] = self._picture()
        data = {
            "instruction": self._instruction,
            "object_coords": coords,
            "env_step": self._steps,
            "gripper_open": self._arm.gripper_open(),
        }
        return Observation("\n".join(lines), images, data)

    def render(self, view: str = "rgb") -> np.ndarray | None:
        """The front camera's picture of the current state; None when pictures are off."""
        if self._config is None or view not in self.views:
            return None
        self.object_coords()
        return self._picture()

    def _picture(self) -> np.ndarray:
        import mujoco

        if self._renderer is None:
            from simyard.sims import mjrender

            size = self.resolution
            self._renderer = mjrender.renderer_for(self.resources, self.render_mode, size, size)
            self._own_renderer = self.resources is None
        mujoco.mj_kinematics(self._model, self._data)
        view = picture.front_view(self.resolution)
        image = self._renderer.render(self._model, self._data, view)
        if not self.boxes:
            return image
        boxes = [picture.project_box(view, self._corners(thing_id)) for thing_id in self._listed]
        return picture.annotate(image, view, boxes)

    def boxes_now(self) -> list[tuple[int, int, int, int] | None]:
        """The numbered boxes the picture shows (box i for object i + 1 of the object list), for tests and agents."""
        self.object_coords()
        view = picture.front_view(self.resolution)
        return [picture.project_box(view, self._corners(thing_id)) for thing_id in self._listed]

    def _corners(self, thing_id: str) -> np.ndarray:
        kind = self._kinds[thing_id]
        body = self._body[thing_id]
        hx, hy = shapes.HALF_EXTENT_M[kind]
        if kind in shapes.AREA_KINDS:
            half_z, lift = shapes.AREA_THICKNESS_M / 2, shapes.AREA_THICKNESS_M / 2
        elif kind in ("container", "sorter"):
            half_z = shapes.HALF_HEIGHT_M[kind]
            lift = half_z
        else:
            half_z, lift = shapes.HALF_HEIGHT_M[kind], 0.0
        local = np.array([(u, v, w) for u in (-hx, hx) for v in (-hy, hy) for w in (-half_z, half_z)])
        rot = self._data.xmat[body].reshape(3, 3)
        centre = self._data.xpos[body] + rot @ np.array([0.0, 0.0, lift])
        return centre + local @ rot.T

    # -- oracle ----------------------------------------------------------------------------------------------------

    def oracle(self) -> list[Action]:
        """The rest of a scripted plan (EB-style 7-integer actions) that reaches the goal from the current state."""
        config = self._config
        assert config is not None, "reset before asking the oracle"
        things = {
            thing_id: oracle.ThingState(self._kinds[thing_id], self._pos(thing_id), self._yaw(thing_id))
            for thing_id in self._ids
        }
        tip, quat = self._arm.tip_pose()
        return oracle.plan(config.family, config.goal, things, self._held_id(), tip, _yaw_of_quat(quat), self.reachable)

    def reachable(self, action: list[int]) -> bool:
        """Whether the arm has a configuration for the pose of a valid action (nothing moves)."""
        pose = discrete.parse_action(action)
        if isinstance(pose, str):
            return False
        return self._arm.solve_goal(np.array(pose.position_m), np.array(pose.quat_wxyz)) is not None

    # -- state -----------------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if self._config is None:
            return {}
        tip, quat = self._arm.tip_pose()
        return {
            "things": {
                thing_id: [round(float(v), 5) for v in (*self._pos(thing_id), self._yaw(thing_id))]
                for thing_id in self._ids
            },  # fmt: skip
            "tip": [round(float(v), 5) for v in (*tip, *quat)],
            "gripper_open": self._arm.gripper_open(),
            "held": self._held_id(),
            "wiped": int(self._wiped.sum()),
            "steps": self._steps,
            "done": self._done,
            "success": self._success,
        }

    def close(self) -> None:
        renderer, self._renderer = self._renderer, None
        if renderer is not None:
            if self._own_renderer:
                renderer.close()
            elif self._model is not None:
                renderer.forget(self._model)

    # -- internals -------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        import mujoco

        model = scene.fresh_model()
        self._model, self._data = model, mujoco.MjData(model)
        self._arm = Arm(model, self._data)
        self._arm.on_tick = self._tick
        self._slots = scene.slot_names()
        self._slot_geoms = {
            name: np.flatnonzero(model.geom_bodyid == model.body(name).id)
            for names in self._slots.values()
            for name in names
        }
        self._contype0 = model.geom_contype.copy()
        self._conaffinity0 = model.geom_conaffinity.copy()
        self._gravcomp0 = model.body_gravcomp.copy()
        self._rgba0 = model.geom_rgba.copy()

    def _arrange(self, config: ManipulationConfig) -> None:
        """Put the task's things into slots; park, hide and freeze the rest."""
        model, data = self._model, self._data
        model.geom_contype[:] = self._contype0
        model.geom_conaffinity[:] = self._conaffinity0
        model.body_gravcomp[:] = self._gravcomp0
        model.geom_rgba[:] = self._rgba0
        free = {kind: list(names) for kind, names in self._slots.items()}
        self._ids, self._kinds, self._body = [], {}, {}
        used: set[str] = set()
        self._holdable: dict[int, int] = {}
        for thing in config.things:
            slot = free[thing.kind].pop(0)
            used.add(slot)
            body = model.body(slot).id
            self._ids.append(thing.id)
            self._kinds[thing.id] = thing.kind
            self._body[thing.id] = body
            rgb = shapes.COLORS[thing.color]
            if thing.kind != "sorter":
                model.geom_rgba[self._slot_geoms[slot], :3] = rgb
            quat = scene.yaw_quat(thing.yaw_deg)
            if model.body_mocapid[body] >= 0:
                mocap = model.body_mocapid[body]
                data.mocap_pos[mocap] = (thing.x, thing.y, scene.TABLE_TOP_M)
                data.mocap_quat[mocap] = quat
            else:
                address = model.jnt_qposadr[model.body_jntadr[body]]
                height = scene.TABLE_TOP_M + shapes.HALF_HEIGHT_M[thing.kind] + 0.0005
                data.qpos[address : address + 3] = (thing.x, thing.y, height)
                data.qpos[address + 3 : address + 7] = quat
                self._holdable[body] = model.equality(f"hold_{slot}").id
        for names in self._slots.values():
            for slot in names:
                if slot not in used:
                    geoms = self._slot_geoms[slot]
                    model.geom_contype[geoms] = 0
                    model.geom_conaffinity[geoms] = 0
                    model.body_gravcomp[model.body(slot).id] = 1.0
        self._thing_of_body = {body: thing_id for thing_id, body in self._body.items()}
        self._listed = list(self._ids)
        self._wiped = np.zeros(0, dtype=bool)
        self._wipe_points = np.zeros((0, 2))
        if config.family == "wipe_table":
            area = next(t for t in config.things if t.id == config.goal["area"])
            self._wipe_points = goals.area_points(area.kind, (area.x, area.y), area.yaw_deg)
            self._wiped = np.zeros(len(self._wipe_points), dtype=bool)
            self._sponge = self._body[config.goal["sponge"]]

    def _tick(self) -> None:
        if len(self._wipe_points):
            data = self._data
            self._wiped |= goals.under_sponge(self._wipe_points, data.xpos[self._sponge], data.xmat[self._sponge])

    def _held_id(self) -> str | None:
        body = self._arm.held(self._holdable)
        return None if body is None else self._thing_of_body.get(body)

    def _pos(self, thing_id: str) -> np.ndarray:
        return self._data.xpos[self._body[thing_id]].copy()

    def _yaw(self, thing_id: str) -> float:
        return _yaw_of_quat(self._data.xquat[self._body[thing_id]])

    def _snapshot(self) -> dict[str, Any]:
        import mujoco

        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(self._model, spec))
        mujoco.mj_getState(self._model, self._data, state, spec)
        summary = {thing_id: [round(float(v), 4) for v in self._pos(thing_id)] for thing_id in self._ids}
        return {"state": state, "eq_data": self._model.eq_data.copy(), "wiped": self._wiped.copy(),
                "summary": {"things": summary, "steps": self._steps}}  # fmt: skip

    def _restore(self, snapshot: dict[str, Any]) -> None:
        import mujoco

        mujoco.mj_setState(self._model, self._data, snapshot["state"], mujoco.mjtState.mjSTATE_INTEGRATION)
        self._model.eq_data[:] = snapshot["eq_data"]
        self._wiped = snapshot["wiped"]
        self._data.warning.number[:] = 0
        mujoco.mj_forward(self._model, self._data)


def _yaw_of_quat(quat: np.ndarray) -> float:
    w, x, y, z = (float(v) for v in quat)
    return math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def _jsonable(action: Action) -> Any:
    """The action as JSON can hold it (for `info["action"]`), whatever was sent."""
    if isinstance(action, np.ndarray):
        action = action.tolist()
    if isinstance(action, (list, tuple)):
        return [_number(v) for v in action[:16]]
    return _number(action)


def _number(value: Any) -> Any:
    if isinstance(value, (bool, str)) or value is None:
        return value if not isinstance(value, str) else value[:80]
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and math.isfinite(float(value)):
        return float(value)
    return repr(value)[:80]
