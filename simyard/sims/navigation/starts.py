"""Start poses as EB-Navigation draws them: 2.5-3.0 m from the target, on free floor, facing it (or turned away).

Shared by the suite generator and the data loader, which checks that a scene built around EB's recorded start keeps
the geometry the record implies. "In view" here is geometric: the target within the camera's horizontal field of
view, no furniture footprint on the floor between the agent and it, and nothing as tall on its own furniture in front
of it. The pictures' own visibility test
(`household.scene.Scene.visible`, from a segmentation render) is what the tests check a sample against.
"""

from __future__ import annotations

import math

import numpy as np

from simyard.sims.household.scene import extents, placements
from simyard.sims.household.state import House
from simyard.sims.navigation.space import FreeSpace

#: EB-Navigation's base subset: a start 2.5-3.0 m from the target.
START_RANGE_M = (2.5, 3.0)
#: Free floor the start keeps round the agent's body, so the first moves are not all blocked.
START_SPARE_M = 0.05


def bearing_deg(start: tuple[float, float], target: tuple[float, float]) -> float:
    """The direction from `start` to `target`, degrees counter-clockwise from +x, in [0, 360)."""
    return math.degrees(math.atan2(target[1] - start[1], target[0] - start[0])) % 360.0


def facing_yaw(start: tuple[float, float], target: tuple[float, float]) -> float:
    """The axis-aligned yaw (0, 90, 180, 270) nearest to facing the target, as AI2-THOR's grid agents stand."""
    return float((round(bearing_deg(start, target) / 90.0) % 4) * 90)


def off_axis_deg(pose: tuple[float, float, float], target: tuple[float, float]) -> float:
    """How far the target is from straight ahead, in degrees (0-180)."""
    turn = (bearing_deg(pose[:2], target) - pose[2] + 180.0) % 360.0 - 180.0
    return abs(turn)


def in_field(pose: tuple[float, float, float], target: tuple[float, float], fov_deg: float) -> bool:
    """Whether the target's direction is inside the square view's horizontal field (`fov_deg` wide)."""
    return off_axis_deg(pose, target) <= fov_deg / 2


def clear_line(space: FreeSpace, start: tuple[float, float], target: tuple[float, float], stop_m: float = 0.8) -> bool:
    """No furniture footprint or wall on the floor between `start` and a point `stop_m` short of the target (the
    last stretch is the target's own furniture)."""
    distance = math.hypot(target[0] - start[0], target[1] - start[1])
    if distance <= stop_m:
        return True
    ts = np.linspace(0.0, (distance - stop_m) / distance, max(2, int((distance - stop_m) / 0.05) + 1))
    points = np.stack([start[0] + ts * (target[0] - start[0]), start[1] + ts * (target[1] - start[1])], axis=1)
    clearance, _ = space.clearance(points)
    return bool(np.all(clearance > 0.0))


def hidden_behind(house: House, target_id: str, start: tuple[float, float]) -> list[str]:
    """Things on the target's furniture that stand between `start` and the target on the floor plan and are at least
    as tall as it (a kettle in front of a mug): from the start, they may hide it."""
    target = house.things[target_id]
    if target.parent is None:
        return []
    where = placements(house)
    tx, ty, _ = where[target_id].center
    sx, sy = start
    length = math.hypot(tx - sx, ty - sy)
    ux, uy = (tx - sx) / length, (ty - sy) / length
    own = max(extents(target)[:2]) * where[target_id].scale / 2
    found = []
    for other in house.children(target.parent):
        if other.id == target_id or extents(other)[2] < 0.8 * extents(target)[2]:
            continue
        ox, oy, _ = where[other.id].center
        ahead = (ox - sx) * ux + (oy - sy) * uy  # along the line of sight
        aside = abs(-(ox - sx) * uy + (oy - sy) * ux)
        if ahead < length and aside < own + max(extents(other)[:2]) * where[other.id].scale / 2:
            found.append(other.id)
    return found


def free_start(space: FreeSpace, xy: tuple[float, float]) -> bool:
    """Whether the agent's body fits at `xy` with `START_SPARE_M` to spare."""
    clearance, _ = space.clearance(np.array([xy]))
    return bool(clearance[0] >= space.radius_m + START_SPARE_M)
