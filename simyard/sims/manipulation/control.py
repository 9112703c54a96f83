"""Moving the Panda under physics: inverse kinematics, interpolated waypoints, grasping, divergence checks.

An action is executed as RLBench's `ABS_EE_POSE_PLAN_WORLD_FRAME` mode does it, on MuJoCo:

1. plan: the goal joint configuration from damped-least-squares IK on MuJoCo's site Jacobian (several deterministic
   starts; joint limits clamped), then a straight line of the tip in space (positions lerped, orientations slerped,
   each waypoint solved from the last), falling back to joint-space interpolation when the line leaves the arm's
   reach, as RLBench falls back from a linear path to its planner. No goal configuration: the action is invalid and
   nothing moves. The whole path is planned before anything moves.
2. move: each waypoint becomes the position servos' target for 10 physics steps (20 ms); then the arm settles;
3. grip: the fingers close (or open) until they stop. A closing gripper that touches one object with both fingers
   holds it with a weld to the hand, as RLBench attaches grasped objects to the gripper; opening releases it, and
   the simulation runs on until things are still (at most 0.5 s, RLBench's ten 50 ms steps) so it lands.

Why not mink: its QP needs `qpsolvers`/`daqp` and gains nothing here (one end-effector task, box joint limits); the
Jacobian method is 40 lines, has no dependency beyond MuJoCo and solves a pose in well under a millisecond.

Every chunk of steps is checked for divergence (NaN or huge accelerations, MuJoCo's own instability warnings);
`PhysicsDiverged` is raised with the state, never a NaN state returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simyard.platform.errors import SimyardError
from simyard.sims.manipulation import panda

#: Tip speed along a straight path (m/s), near the table, and turning speed (rad/s).
SPEED_M_S, NEAR_SPEED_M_S, TURN_RAD_S = 0.5, 0.2, 2.0
#: Moves that start or end below this tip height (metres) go at `NEAR_SPEED_M_S`.
TABLE_NEAR_M = 0.85
#: Physics steps per waypoint.
STEPS_PER_WAYPOINT = 10
#: IK tolerances for a reachable pose.
IK_POS_TOL_M, IK_ROT_TOL_RAD = 0.002, 0.02
#: How far a waypoint of a straight path may miss the line before the path counts as broken.
PATH_TOL_M = 0.01
_MAX_SETTLE_STEPS = 250
_GRIP_STEPS = 150
_DROP_STEPS = 250
_QACC_LIMIT = 1e7
_QVEL_LIMIT = 500.0


class PhysicsDiverged(SimyardError):
    """The simulation blew up (NaN, huge accelerations or velocities): a world error, never a state to return."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Joint targets to visit in order, ending at the goal; `linear` when the tip follows a straight line."""

    waypoints: np.ndarray
    linear: bool


class Arm:
    """The Panda in one model/data pair: IK on a scratch copy of the data, motion and grip on the real one.

    Args:
        model, data: The world's MuJoCo model and data (the data is what moves).
        graspable: Body ids of the things the gripper may hold (their welds are named `hold_<body name>`).
    """

    def __init__(self, model: Any, data: Any) -> None:
        import mujoco

        self._mj = mujoco
        self.model, self.data = model, data
        self._scratch = mujoco.MjData(model)
        self.qpos_ids = np.array([model.jnt_qposadr[model.joint(name).id] for name in panda.ARM_JOINTS])
        self.dof_ids = np.array([model.jnt_dofadr[model.joint(name).id] for name in panda.ARM_JOINTS])
        self.finger_qpos = np.array([model.jnt_qposadr[model.joint(name).id] for name in panda.FINGER_JOINTS])
        self.finger_dofs = np.array([model.jnt_dofadr[model.joint(name).id] for name in panda.FINGER_JOINTS])
        self.limits = np.array([model.jnt_range[model.joint(name).id] for name in panda.ARM_JOINTS])
        self.arm_ctrl = np.arange(7)
        self.finger_ctrl = np.array([7, 8])
        self.tip = model.site("tip").id
        self.hand = model.body("panda0_link7").id
        self.finger_bodies = [model.body(name).id for name in panda.FINGER_BODIES]
        self._jac = np.zeros((6, model.nv))
        self._lag = model.dof_damping[self.dof_ids] / model.actuator_gainprm[self.arm_ctrl, 0]
        self.on_tick: Callable[[], None] | None = None

    # -- state -----------------------------------------------------------------------------------------------------

    def reset(self, qpos: np.ndarray) -> None:
        """Put the arm at `qpos` at rest with the gripper open and nothing held (the data is reset by the caller)."""
        self.data.qpos[self.qpos_ids] = qpos
        self.data.qpos[self.finger_qpos] = panda.FINGER_OPEN_M
        self.data.ctrl[self.arm_ctrl] = qpos
        self.data.ctrl[self.finger_ctrl] = panda.FINGER_OPEN_M

    def tip_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(position, quaternion w,x,y,z) of the tip now."""
        quat = np.empty(4)
        self._mj.mju_mat2Quat(quat, self.data.site_xmat[self.tip])
        return self.data.site_xpos[self.tip].copy(), quat

    def gripper_open(self) -> bool:
        return bool(self.data.ctrl[self.finger_ctrl[0]] > panda.FINGER_OPEN_M / 2)

    # -- inverse kinematics ----------------------------------------------------------------------------------------

    def solve(self, position: np.ndarray, quat: np.ndarray, start: np.ndarray, iterations: int = 60
              ) -> tuple[np.ndarray, float, float]:  # fmt: skip
        """Joint angles that put the tip at the pose, from `start`: (q, position error m, rotation error rad)."""
        mj, model, scratch = self._mj, self.model, self._scratch
        q = np.clip(np.asarray(start, dtype=float), self.limits[:, 0], self.limits[:, 1])
        error = np.zeros(6)
        current = np.empty(4)
        rot = np.empty(3)
        pos_err = rot_err = math.inf
        for _ in range(iterations):
            scratch.qpos[self.qpos_ids] = q
            mj.mj_kinematics(model, scratch)
            mj.mj_comPos(model, scratch)
            error[:3] = position - scratch.site_xpos[self.tip]
            mj.mju_mat2Quat(current, scratch.site_xmat[self.tip])
            mj.mju_subQuat(rot, quat, current)
            error[3:] = scratch.site_xmat[self.tip].reshape(3, 3) @ rot
            pos_err, rot_err = float(np.linalg.norm(error[:3])), float(np.linalg.norm(error[3:]))
            if pos_err < IK_POS_TOL_M * 0.25 and rot_err < IK_ROT_TOL_RAD * 0.25:
                break
            mj.mj_jacSite(model, scratch, self._jac[:3], self._jac[3:], self.tip)
            jac = self._jac[:, self.dof_ids]
            step = jac.T @ np.linalg.solve(jac @ jac.T + 1e-3 * np.eye(6), error)
            norm = float(np.linalg.norm(step))
            if norm > 0.4:
                step *= 0.4 / norm
            q = np.clip(q + step, self.limits[:, 0], self.limits[:, 1])
        return q, pos_err, rot_err

    def solve_goal(self, position: np.ndarray, quat: np.ndarray) -> np.ndarray | None:
        """A goal configuration for the pose (the one nearest the current one of several deterministic starts), or
        None when no start reaches it."""
        current = self.data.qpos[self.qpos_ids].copy()
        base = self.model.body("panda0_link0").id
        heading = math.atan2(position[1] - self.data.xpos[base][1], position[0] - self.data.xpos[base][0])
        starts = [current, panda.HOME_QPOS.copy()]
        for wrist in (0.0, math.pi / 2, -math.pi / 2):
            seed = panda.HOME_QPOS.copy()
            seed[0] = heading
            seed[6] = np.clip(seed[6] + wrist, *self.limits[6])
            starts.append(seed)
        best, best_cost = None, math.inf
        for start in starts:
            q, pos_err, rot_err = self.solve(position, quat, start, iterations=80)
            if pos_err <= IK_POS_TOL_M and rot_err <= IK_ROT_TOL_RAD:
                cost = float(np.abs(q - current).max())
                if cost < best_cost:
                    best, best_cost = q, cost
                if start is current and cost < 1.0:
                    break  # near the current configuration: good enough, and the cheapest path
        return best

    def plan(self, position: np.ndarray, quat: np.ndarray) -> Plan | None:
        """Waypoints to the pose, or None when the pose is out of reach."""
        goal = self.solve_goal(position, quat)
        if goal is None:
            return None
        start_q = self.data.qpos[self.qpos_ids].copy()
        start_pos, start_quat = self.tip_pose()
        distance = float(np.linalg.norm(position - start_pos))
        angle = _angle(start_quat, quat)
        # Near the table the arm moves slowly, as a careful planner would: servos lag under fast motion (the wrist's
        # are 12 N m), and a tip 2 cm off its line there knocks over what it reaches for.
        low = min(start_pos[2], position[2]) < TABLE_NEAR_M
        duration = max(distance / (NEAR_SPEED_M_S if low else SPEED_M_S), angle / TURN_RAD_S, 0.1)
        count = max(2, math.ceil(duration / (STEPS_PER_WAYPOINT * self.model.opt.timestep)))
        waypoints = np.empty((count, 7))
        q = start_q
        linear = True
        for index in range(1, count + 1):
            fraction = _smooth(index / count)
            target_pos = start_pos + (position - start_pos) * fraction
            target_quat = _slerp(start_quat, quat, fraction)
            q, pos_err, rot_err = self.solve(target_pos, target_quat, q, iterations=12)
            if pos_err > PATH_TOL_M or rot_err > 0.1 or np.abs(q - (waypoints[index - 2] if index > 1 else start_q)
                                                                ).max() > 0.5:  # fmt: skip
                linear = False
                break
            waypoints[index - 1] = q
        if not linear:
            fractions = _smooth(np.arange(1, count + 1) / count)[:, None]
            waypoints = start_q + (goal - start_q) * fractions
        else:
            waypoints[-1] = goal if np.abs(goal - waypoints[-1]).max() < 0.05 else waypoints[-1]
        return Plan(waypoints, linear)

    # -- physics ---------------------------------------------------------------------------------------------------

    def follow(self, plan: Plan) -> None:
        """Drive the servos through the plan's waypoints, then let the arm settle on the last one."""
        # Feed-forward of the joints' damping: a servo of stiffness kp on a joint of damping b trails a target moving
        # at v by b*v/kp, which on a straight line near the table is centimetres; leading the target by that lag
        # keeps the tip on the line.
        dt = STEPS_PER_WAYPOINT * self.model.opt.timestep
        previous = self.data.qpos[self.qpos_ids].copy()
        for waypoint in plan.waypoints:
            self.data.ctrl[self.arm_ctrl] = waypoint + self._lag * (waypoint - previous) / dt
            previous = waypoint
            self.run(STEPS_PER_WAYPOINT)
        self.data.ctrl[self.arm_ctrl] = plan.waypoints[-1]
        goal = plan.waypoints[-1]
        for _ in range(_MAX_SETTLE_STEPS // STEPS_PER_WAYPOINT):
            if (np.abs(self.data.qpos[self.qpos_ids] - goal).max() < 0.002
                    and np.abs(self.data.qvel[self.dof_ids]).max() < 0.02):  # fmt: skip
                break
            self.run(STEPS_PER_WAYPOINT)

    def grip(self, open_: bool, holdable: dict[int, int]) -> int | None:
        """Open or close the fingers until they stop; on closing, hold what both fingers touch.

        Args:
            open_: Open (True) or close.
            holdable: Weld id by body id, for the things that may be held.

        Returns:
            The body id held after closing, or None.
        """
        target = panda.FINGER_OPEN_M if open_ else 0.0
        if open_:
            for weld in holdable.values():
                self.data.eq_active[weld] = 0
        self.data.ctrl[self.finger_ctrl] = target
        for _ in range(_GRIP_STEPS // STEPS_PER_WAYPOINT):
            self.run(STEPS_PER_WAYPOINT)
            widths = self.data.qpos[self.finger_qpos]
            if np.abs(self.data.qvel[self.finger_dofs]).max() < 0.005 and (
                not open_ or np.abs(widths - target).max() < 0.002
            ):
                break
        if open_:
            # RLBench steps 10 more times (0.5 s of its 50 ms steps) so a released object lands; here: until nothing
            # moves, within the same half second.
            for _ in range(_DROP_STEPS // STEPS_PER_WAYPOINT):
                self.run(STEPS_PER_WAYPOINT)
                if np.abs(self.data.qvel).max() < 0.02:
                    break
            return None
        touched = self._touching_both_fingers()
        for body in touched:
            if body in holdable:
                self._weld(holdable[body], body)
                return body
        return None

    def held(self, holdable: dict[int, int]) -> int | None:
        """The body held now, if any."""
        for body, weld in holdable.items():
            if self.data.eq_active[weld]:
                return body
        return None

    def run(self, steps: int) -> None:
        """Step physics `steps` times, calling `on_tick` after, and check for divergence."""
        mj, model, data = self._mj, self.model, self.data
        for _ in range(steps):
            mj.mj_step(model, data)
        warnings = data.warning
        bad = int(warnings[mj.mjtWarning.mjWARN_BADQACC].number) + int(warnings[mj.mjtWarning.mjWARN_BADQPOS].number)
        bad += int(warnings[mj.mjtWarning.mjWARN_BADQVEL].number)
        if bad or not np.isfinite(data.qpos).all() or np.abs(data.qacc).max() > _QACC_LIMIT or (
                np.abs(data.qvel).max() > _QVEL_LIMIT):  # fmt: skip
            raise PhysicsDiverged(
                f"the physics diverged at t={data.time:.3f} s (max |qacc| {np.nanmax(np.abs(data.qacc)):.3g}, "
                f"max |qvel| {np.nanmax(np.abs(data.qvel)):.3g}, instability warnings {bad})",
                hint="a world error: the episode's state before the action is in the world's state(); report it",
            )
        if self.on_tick is not None:
            self.on_tick()

    def _touching_both_fingers(self) -> list[int]:
        model, data = self.model, self.data
        left, right = self.finger_bodies
        sides: dict[int, set[int]] = {}
        for index in range(data.ncon):
            contact = data.contact[index]
            bodies = (int(model.geom_bodyid[contact.geom1]), int(model.geom_bodyid[contact.geom2]))
            for finger, other in (bodies, bodies[::-1]):
                if finger in (left, right) and other not in (left, right, self.hand):
                    sides.setdefault(other, set()).add(finger)
        return sorted(body for body, fingers in sides.items() if len(fingers) == 2)

    def _weld(self, weld: int, body: int) -> None:
        """Hold `body` where it is now relative to the hand."""
        mj, model, data = self._mj, self.model, self.data
        hand_pos, hand_quat = data.xpos[self.hand], data.xquat[self.hand]
        inverse = np.empty(4)
        mj.mju_negQuat(inverse, hand_quat)
        relative_pos = np.empty(3)
        mj.mju_rotVecQuat(relative_pos, data.xpos[body] - hand_pos, inverse)
        relative_quat = np.empty(4)
        mj.mju_mulQuat(relative_quat, inverse, data.xquat[body])
        model.eq_data[weld, 0:3] = 0.0
        model.eq_data[weld, 3:6] = relative_pos
        model.eq_data[weld, 6:10] = relative_quat
        model.eq_data[weld, 10] = 1.0
        data.eq_active[weld] = 1


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    dot = abs(float(np.dot(a, b)))
    return 2 * math.acos(min(1.0, dot))


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    dot = float(np.dot(a, b))
    if dot < 0:
        b, dot = -b, -dot
    if dot > 0.9995:
        out = a + (b - a) * t
        return out / np.linalg.norm(out)
    theta = math.acos(dot)
    return (math.sin((1 - t) * theta) * a + math.sin(t * theta) * b) / math.sin(theta)


def _smooth(t: Any) -> Any:
    """Ease in and out (smoothstep), so the servos start and stop gently."""
    return t * t * (3 - 2 * t)
