"""The scripted solver: EB-Manipulation-style plans of 7-integer actions, computed from the physics state.

Each family's plan is the one EB-Manipulation's in-context examples show: above the object with the gripper open,
down, close, up, over the goal, down, open (the wipe drags the sponge from one end of the area to the other instead
of opening). The plan starts from where the episode is (if the object is already held, it starts at "over the
goal"), so a runner that re-asks after a failed grasp gets a fresh attempt. Grasp yaws are chosen among the
object's symmetries so the pose is reachable (`reachable` asks the world's IK), and heights respect the fingertips'
clearance over the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simyard.sims.manipulation import discrete, scene, shapes

#: How far the grasp turns from the thing's own yaw: a moon is gripped across its narrow width (its local x).
GRASP_TURN = {"moon": 90.0}
#: Lowest tip height that keeps the fingertips (1.5 cm past the tip) off the table, as a Z index.
MIN_GRASP_Z = 17
#: Carrying height (Z index): clear of the sorter's top with an object hanging below the fingers.
CARRY_Z = 40
#: Symmetry of each kind's grasp about the vertical (degrees): yaws this far apart grip alike.
GRASP_PERIOD = {"cube": 90, "star": 72, "cylinder": 30, "triangular": 120, "moon": 180, "sponge": 180}


@dataclass(frozen=True)
class ThingState:
    """Where a thing is now."""

    kind: str
    pos: np.ndarray
    yaw_deg: float


Reachable = Callable[[list[int]], bool]


def plan(family: str, goal: dict[str, str], things: dict[str, ThingState], held: str | None, tip: np.ndarray,
         tip_yaw_deg: float, reachable: Reachable) -> list[list[int]]:  # fmt: skip
    """The rest of a plan that reaches the goal from this state.

    Args:
        family: The task family.
        goal: The family's roles -> thing ids.
        things: Every thing's state, by id.
        held: The id held now, or None.
        tip: Where the gripper's tip is now (metres).
        tip_yaw_deg: The tip's yaw now.
        reachable: Whether the world's arm can reach an action's pose.
    """
    carried = goal["top"] if family == "stack_cubes" else goal["sponge"] if family == "wipe_table" else goal["object"]
    steps: list[list[int]] = []
    if held != carried:
        if held is not None:  # holding the wrong thing: put it back down where it is
            x, y, _ = discrete.position_to_index(tip)
            steps.append([x, y, MIN_GRASP_Z + 4, 0, 60, discrete.degrees_to_index(tip_yaw_deg), 1])
        grasp, yaw_index, offset = _grasp(things[carried], reachable)
        above = [grasp[0], grasp[1], grasp[2] + 10]
        steps += [[*above, 0, 60, yaw_index, 1], [*grasp, 0, 60, yaw_index, 1], [*grasp, 0, 60, yaw_index, 0],
                  [grasp[0], grasp[1], CARRY_Z, 0, 60, yaw_index, 0]]  # fmt: skip
    else:
        offset = things[carried].pos - tip
        yaw_index = discrete.degrees_to_index(tip_yaw_deg)
        x, y, _ = discrete.position_to_index(tip)
        steps.append([x, y, CARRY_Z, 0, 60, yaw_index, 0])
    return steps + _reachable_delivery(family, goal, things, carried, offset, yaw_index, reachable)


def _reachable_delivery(family: str, goal: dict[str, str], things: dict[str, ThingState], carried: str,
                        offset: np.ndarray, yaw_index: int, reachable: Reachable) -> list[list[int]]:  # fmt: skip
    """`_deliver` with the gripper turned, if need be, so that every pose of the delivery is in reach (a held
    thing turns with the hand, and its offset from the tip with it)."""
    first = None
    for turn in [0, *[sign * step for step in range(5, 61, 5) for sign in (1, -1)]]:  # 15-degree steps
        angle = math.radians(turn * discrete.ROTATION_STEP_DEG)
        c, s = math.cos(angle), math.sin(angle)
        turned = np.array([c * offset[0] - s * offset[1], s * offset[0] + c * offset[1], offset[2]])
        steps = _deliver(family, goal, things, carried, turned, (yaw_index + turn) % discrete.ROTATION_BINS)
        first = first or steps
        if all(reachable(step) for step in steps):
            return steps
    return first or []


def _deliver(family: str, goal: dict[str, str], things: dict[str, ThingState], carried: str, offset: np.ndarray,
             yaw_index: int) -> list[list[int]]:  # fmt: skip
    """From carrying height over the pick spot: to the goal, and let go (or wipe)."""
    kind = things[carried].kind
    half = shapes.HALF_HEIGHT_M[kind]
    top = scene.TABLE_TOP_M
    if family == "pick_cube":
        target = things[goal["container"]].pos
        release_centre = top + shapes.CONTAINER_HEIGHT_M + half + 0.02
        return _over_and_drop(target, release_centre, offset, yaw_index)
    if family == "place_into_shape_sorter":
        target = things[goal["sorter"]].pos
        release_centre = top + shapes.SORTER_HEIGHT_M + half + 0.02
        return _over_and_drop(target, release_centre, offset, yaw_index)
    if family == "stack_cubes":
        bottom = things[goal["bottom"]]
        release_centre = bottom.pos[2] + shapes.HALF_HEIGHT_M[bottom.kind] + half + 0.008
        return _over_and_drop(bottom.pos, release_centre, offset, yaw_index)
    area = things[goal["area"]]
    axis = np.array([math.cos(math.radians(area.yaw_deg)), math.sin(math.radians(area.yaw_deg))])
    # Skim the table: the sponge's underside 2-12 mm above it (within goals.WIPE_GAP_M), never pressed into it,
    # where friction would stall the arm.
    lowest_tip = top + shapes.HALF_HEIGHT_M["sponge"] + 0.002 - offset[2]
    z_index = int(math.ceil((lowest_tip - discrete.LOWER[2]) / discrete.RESOLUTION_M[2] - 0.5))
    hover = z_index + 6
    start, end = area.pos[:2] - 0.095 * axis - offset[:2], area.pos[:2] + 0.095 * axis - offset[:2]
    sx, sy, _ = discrete.position_to_index((start[0], start[1], 1.0))
    ex, ey, _ = discrete.position_to_index((end[0], end[1], 1.0))
    return [[sx, sy, CARRY_Z, 0, 60, yaw_index, 0], [sx, sy, hover, 0, 60, yaw_index, 0],
            [sx, sy, z_index, 0, 60, yaw_index, 0], [ex, ey, z_index, 0, 60, yaw_index, 0],
            [ex, ey, hover, 0, 60, yaw_index, 0]]  # fmt: skip


def _over_and_drop(target: np.ndarray, release_centre: float, offset: np.ndarray, yaw_index: int) -> list[list[int]]:
    tip = target[:2] - offset[:2]
    x, y, _ = discrete.position_to_index((tip[0], tip[1], 1.0))
    z = _nearest_z(release_centre - offset[2])
    return [[x, y, CARRY_Z, 0, 60, yaw_index, 0], [x, y, z, 0, 60, yaw_index, 0], [x, y, z, 0, 60, yaw_index, 1],
            [x, y, z + 8, 0, 60, yaw_index, 1]]  # fmt: skip


def _grasp(thing: ThingState, reachable: Reachable) -> tuple[list[int], int, np.ndarray]:
    """(grasp position indices, yaw index, the thing's centre minus the tip once grasped)."""
    x, y, z = discrete.position_to_index(thing.pos)
    z = max(z, MIN_GRASP_Z)
    position = [x, y, z]
    tip = discrete.index_to_position(position)
    offset = thing.pos - tip
    period = GRASP_PERIOD.get(thing.kind, 90)
    base = np.array(scene.BASE_POS[:2])
    heading = math.degrees(math.atan2(thing.pos[1] - base[1], thing.pos[0] - base[0]))
    natural = heading - 45.0  # the tip's yaw when the arm points at the spot from its home pose
    candidates = []
    for k in range(-6, 7):
        yaw = thing.yaw_deg + GRASP_TURN.get(thing.kind, 0.0) + k * period
        candidates.append((abs(_wrap(yaw - natural)), _wrap(yaw)))
    for _, yaw in sorted(candidates):
        index = discrete.degrees_to_index(yaw)
        if reachable([*position, 0, 60, index, 1]) and reachable([x, y, z + 10, 0, 60, index, 1]):
            return position, index, offset
    return position, discrete.degrees_to_index(_wrap(sorted(candidates)[0][1])), offset


def _nearest_z(z_m: float) -> int:
    index = int(round((z_m - discrete.LOWER[2]) / discrete.RESOLUTION_M[2] - 0.5))
    return int(np.clip(max(index, 0), 0, discrete.VOXELS - 1))


def _wrap(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0
