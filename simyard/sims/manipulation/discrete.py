"""EB-Manipulation's discretised 7-D action and object coordinates: bins to metres and back, and action checking.

EmbodiedBench (`eb_man_utils.py`) splits the workspace x in [-0.3, 0.7], y in [-0.5, 0.5], z in [0.6, 1.6] m into
100 bins per axis (about 1 cm); an index means its bin's centre, `lower + res*idx + res/2`, and a point maps back to
`floor((p - lower) / res)`, capped at 99. Rotations are 3-degree steps, `angle = idx*3 - 180`, read as extrinsic
x-y-z Euler angles (SciPy's `'xyz'`). The gripper is 0 (close) or 1 (open). These numbers are the benchmark's; they
are kept exactly so that plans written for EB-Manipulation mean the same here.

`parse_action` is the only door from what an agent sends to a pose: it answers a `Pose` or the reason the action is
refused, stating the accepted ranges, and never raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

#: (x_low, y_low, z_low, x_high, y_high, z_high) in metres, EB-Manipulation's SCENE_BOUNDS.
SCENE_BOUNDS = (-0.3, -0.5, 0.6, 0.7, 0.5, 1.6)
LOWER = np.array(SCENE_BOUNDS[:3])
UPPER = np.array(SCENE_BOUNDS[3:])
#: Bins per position axis (EB's VOXEL_SIZE).
VOXELS = 100
#: Metres per bin on each axis.
RESOLUTION_M = (UPPER - LOWER) / VOXELS
#: Degrees per rotation step (EB's ROTATION_RESOLUTION).
ROTATION_STEP_DEG = 3
#: Rotation indices run 0..ROTATION_BINS-1 (index 120 would be +180 degrees, the same angle as index 0).
ROTATION_BINS = 360 // ROTATION_STEP_DEG
ACTION_SIZE = 7
ACTION_LOW = (0, 0, 0, 0, 0, 0, 0)
ACTION_HIGH = (VOXELS - 1,) * 3 + (ROTATION_BINS - 1,) * 3 + (1,)
RANGES_TEXT = (
    f"an action is 7 integers [X, Y, Z, Roll, Pitch, Yaw, Gripper]: X, Y and Z from 0 to {VOXELS - 1}, "
    f"Roll, Pitch and Yaw from 0 to {ROTATION_BINS - 1} (each unit {ROTATION_STEP_DEG} degrees), Gripper 0 (close) "
    "or 1 (open)"
)


@dataclass(frozen=True, slots=True)
class Pose:
    """A gripper target: tip position (metres), orientation (unit quaternion w, x, y, z) and gripper state."""

    indices: tuple[int, ...]
    position_m: tuple[float, float, float]
    quat_wxyz: tuple[float, float, float, float]
    gripper_open: bool


def index_to_position(index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Metres at the centre of the bins `index` (x, y, z), as EB's `get_continous_action_from_discrete`."""
    return LOWER + RESOLUTION_M * np.asarray(index, dtype=float) + RESOLUTION_M / 2


def position_to_index(point: Sequence[float] | np.ndarray) -> list[int]:
    """The bins holding `point`, as EB's `point_to_voxel_index` (floored, capped at 99; points below a bound are
    clamped to 0 here, where EB would give a negative index)."""
    raw = np.floor((np.asarray(point, dtype=float) - LOWER) / (RESOLUTION_M + 1e-12)).astype(int)
    return [int(v) for v in np.clip(raw, 0, VOXELS - 1)]


def index_to_degrees(index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Euler angles in degrees of rotation indices: `idx*3 - 180`."""
    return np.asarray(index, dtype=float) * ROTATION_STEP_DEG - 180.0


def degrees_to_index(angle_deg: float) -> int:
    """The rotation index nearest `angle_deg` (any angle; wrapped into 0..119)."""
    return int(round((angle_deg + 180.0) / ROTATION_STEP_DEG)) % ROTATION_BINS


def euler_xyz_to_quat(angles_deg: Sequence[float]) -> tuple[float, float, float, float]:
    """(w, x, y, z) of extrinsic x-y-z Euler angles (SciPy's `from_euler('xyz', ...)`): R = Rz @ Ry @ Rx."""
    halves = [math.radians(a) / 2 for a in angles_deg]
    qx = (math.cos(halves[0]), math.sin(halves[0]), 0.0, 0.0)
    qy = (math.cos(halves[1]), 0.0, math.sin(halves[1]), 0.0)
    qz = (math.cos(halves[2]), 0.0, 0.0, math.sin(halves[2]))
    w, x, y, z = _mul(qz, _mul(qy, qx))
    if w < 0:  # one sign for one rotation, so equal poses compare equal
        w, x, y, z = -w, -x, -y, -z
    return (w, x, y, z)


def _mul(a: tuple, b: tuple) -> tuple[float, float, float, float]:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def pose_of(indices: Sequence[int]) -> Pose:
    """The pose a valid 7-integer action means (no checks: `parse_action` checks)."""
    values = tuple(int(v) for v in indices)
    position = index_to_position(values[:3])
    quat = euler_xyz_to_quat(index_to_degrees(values[3:6]))
    return Pose(values, (float(position[0]), float(position[1]), float(position[2])), quat, values[6] == 1)


def parse_action(action: object) -> Pose | str:
    """The pose `action` asks for, or why it is refused (a sentence that states the accepted ranges).

    Accepts a sequence or 1-D array of 7 whole numbers (ints, or floats with no fraction, as JSON may bring them).
    Refuses anything else: another length or type, a bool, NaN or infinity, a fraction, a value out of its range.
    """
    if isinstance(action, np.ndarray):
        if action.ndim != 1:
            return f"the action has shape {action.shape}; {RANGES_TEXT}."
        items: list = action.tolist()
    elif isinstance(action, (list, tuple)):
        items = list(action)
    else:
        return f"{_shown(action)} is not a list of numbers; {RANGES_TEXT}."
    if len(items) != ACTION_SIZE:
        return f"the action has {len(items)} numbers, not {ACTION_SIZE}; {RANGES_TEXT}."
    values = []
    for position, item in enumerate(items):
        name = _NAMES[position]
        if isinstance(item, bool) or not isinstance(item, Real):
            return f"{name} is {_shown(item)}, not a number; {RANGES_TEXT}."
        number = float(item)
        if not math.isfinite(number):
            return f"{name} is {number}; {RANGES_TEXT}."
        if not isinstance(item, Integral) and not number.is_integer():
            return f"{name} is {number}, not a whole number; {RANGES_TEXT}."
        if not ACTION_LOW[position] <= number <= ACTION_HIGH[position]:
            return f"{name} is {int(number)}, outside {ACTION_LOW[position]}..{ACTION_HIGH[position]}; {RANGES_TEXT}."
        values.append(int(number))
    return pose_of(values)


_NAMES = ("X", "Y", "Z", "Roll", "Pitch", "Yaw", "Gripper")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
