"""Success from the physics state, one rule per EB-Manipulation family.

* pick_cube: the object rests inside the container's walls (its centre within the inner square, below the rim) and
  the gripper no longer holds it;
* stack_cubes: the top object rests on the bottom one (centres within 2.5 cm horizontally, heights adding up) and
  neither is held; the world also applies EB's rule that it counts only after an action with the gripper open,
  re-checked after lifting the gripper 3 cm;
* place_into_shape_sorter: the object is inside the sorter, below its top plate, not held;
* wipe_table: at least 90% of the area's sample points have had the sponge's underside on them, flat on the table.
"""

from __future__ import annotations

import math

import numpy as np

from simyard.sims.manipulation import scene, shapes

#: Share of a wiping area's sample points the sponge must cover.
WIPE_SHARE = 0.9
#: The sponge counts as wiping when its underside is this close to the table.
WIPE_GAP_M = 0.015


def inside_box(point: np.ndarray, centre: np.ndarray, yaw_deg: float, half_xy: float, z_low: float, z_high: float
               ) -> bool:  # fmt: skip
    """Whether `point` lies within a square column of half side `half_xy` turned by `yaw_deg`, between heights."""
    dx, dy = point[0] - centre[0], point[1] - centre[1]
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    u, v = c * dx + s * dy, -s * dx + c * dy
    return abs(u) <= half_xy and abs(v) <= half_xy and z_low <= point[2] <= z_high


def in_container(point: np.ndarray, container: np.ndarray, yaw_deg: float) -> bool:
    top = scene.TABLE_TOP_M + shapes.CONTAINER_HEIGHT_M + 0.01
    return inside_box(point, container, yaw_deg, shapes.CONTAINER_INNER_M / 2, scene.TABLE_TOP_M, top)


def in_sorter(point: np.ndarray, sorter: np.ndarray, yaw_deg: float) -> bool:
    top = scene.TABLE_TOP_M + shapes.SORTER_HEIGHT_M - shapes.SORTER_PLATE_M
    return inside_box(point, sorter, yaw_deg, shapes.SORTER_SIDE_M / 2 - 0.01, scene.TABLE_TOP_M, top)


def stacked(top: np.ndarray, top_kind: str, bottom: np.ndarray, bottom_kind: str) -> bool:
    rise = shapes.HALF_HEIGHT_M[top_kind] + shapes.HALF_HEIGHT_M[bottom_kind]
    horizontal = math.hypot(top[0] - bottom[0], top[1] - bottom[1])
    return horizontal <= 0.025 and 0.75 * rise <= top[2] - bottom[2] <= 1.25 * rise


def area_points(kind: str, centre: tuple[float, float], yaw_deg: float) -> np.ndarray:
    """Points (x, y) that a wipe must cover: along the area's long axis (its yaw), and beside it for a rectangle and
    the round and star areas."""
    along = np.linspace(-0.065, 0.065, 8)
    offsets = (-0.015, 0.0, 0.015) if kind == "rectangle_area" else (0.0,)
    if kind in ("round_area", "star_area"):  # no long axis: a band through the middle along its yaw
        local = [(u, v) for u in np.linspace(-0.035, 0.035, 5) for v in (-0.01, 0.0, 0.01)]
    else:
        local = [(u, v) for u in along for v in offsets]
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([(centre[0] + c * u - s * v, centre[1] + s * u + c * v) for u, v in local])


def under_sponge(points: np.ndarray, sponge_pos: np.ndarray, sponge_xmat: np.ndarray) -> np.ndarray:
    """Which points the sponge's underside covers now (a bool per point); none unless it is flat on the table."""
    half_x, half_y = shapes.HALF_EXTENT_M["sponge"]
    rot = sponge_xmat.reshape(3, 3)
    bottom = sponge_pos[2] - abs(rot[2, 2]) * shapes.HALF_HEIGHT_M["sponge"]
    if bottom - scene.TABLE_TOP_M > WIPE_GAP_M or abs(rot[2, 2]) < 0.9:
        return np.zeros(len(points), dtype=bool)
    offset = points - sponge_pos[:2]
    u = offset @ rot[:2, 0] / max(np.linalg.norm(rot[:2, 0]), 1e-9)
    v = offset @ rot[:2, 1] / max(np.linalg.norm(rot[:2, 1]), 1e-9)
    return (np.abs(u) <= half_x + 0.005) & (np.abs(v) <= half_y + 0.005)
