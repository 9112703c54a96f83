"""The oracle: a shortest path on the free grid of 0.25 m steps to within reach of the target, then a turn to face it.

Moves keep the heading and rotations are by 90 degrees, so every pose the agent can reach lies on one square
lattice through its current position, aligned with its heading, with 0.25 m spacing. The four moves reach every
neighbouring lattice point without turning, so a breadth-first search over lattice points (not headings) finds a
shortest plan: rotations only cost steps. A point is free when the agent's disc fits there with a millimetre to
spare, and a step between two points also needs room at its middle (`space.SWEEP`), as the world checks.

The plan ends with at most two rotations that bring the target within 45 degrees of the heading, then a tilt
towards it when it is far below or above the view's middle. EB-Navigation ends an episode as soon as the agent is
within reach, so the runner stops the plan there; the turn matters when a plan is read or replayed without that
rule. When the target cannot be reached, the plan goes to the free point nearest to it: the episode then fails,
as it should, instead of the oracle raising.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from simyard.sims.navigation import actions
from simyard.sims.navigation.space import FreeSpace

#: Extra room the oracle keeps beyond the agent's radius, and inside the success distance.
_SPARE_M = 1e-3
#: Lattice points searched at most (a 7 m room has about 800).
_MAX_CELLS = 40_000


def plan(
    space: FreeSpace,
    pose: tuple[float, float, float],
    horizon_deg: float,
    target: tuple[float, float],
    within_m: float,
    target_z: float | None = None,
    eye_m: float = 1.5,
) -> list[int]:
    """Action ids from `pose` to within `within_m` of `target`, then turned to face it (see the module doc).

    Args:
        space: The obstacles.
        pose: (x, y, yaw_deg) now.
        horizon_deg: The camera's pitch now (positive looks down).
        target: The target's (x, y).
        within_m: The success distance.
        target_z: The target's height, for the final tilt (None: no tilt).
        eye_m: The camera's height.
    """
    path, end = shortest_path(space, pose, target, within_m)
    steps = list(path)
    x, y, yaw = end
    bearing = math.degrees(math.atan2(target[1] - y, target[0] - x)) - yaw
    bearing = (bearing + 180.0) % 360.0 - 180.0
    if 45.0 < bearing <= 135.0:
        steps.append(actions.ROTATE_LEFT)
    elif -135.0 <= bearing < -45.0:
        steps.append(actions.ROTATE_RIGHT)
    elif abs(bearing) > 135.0:
        steps += [actions.ROTATE_RIGHT, actions.ROTATE_RIGHT]
    if target_z is not None:
        down = math.degrees(math.atan2(eye_m - target_z, max(math.hypot(target[0] - x, target[1] - y), 0.1)))
        horizon = horizon_deg
        while down - horizon > 35.0 and horizon + actions.TILT_DEG <= actions.HORIZON_MAX_DEG:
            steps.append(actions.LOOK_DOWN)
            horizon += actions.TILT_DEG
        while horizon - down > 35.0 and horizon - actions.TILT_DEG >= actions.HORIZON_MIN_DEG:
            steps.append(actions.LOOK_UP)
            horizon -= actions.TILT_DEG
    return steps


def _free_grid(space: FreeSpace, origin: tuple[float, float], ahead: tuple[float, float], need_m: float):
    """A lookup `free(i, j)` over the half-step lattice through `origin`, computed for the whole room at once."""
    ox, oy = origin
    ux, uy = ahead
    half = actions.MOVE_M / 2
    corners = [(x, y) for x0, y0, x1, y1 in space.rooms for x in (x0, x1) for y in (y0, y1)] or [origin]
    along = [((x - ox) * ux + (y - oy) * uy) / half for x, y in corners]
    across = [(-(x - ox) * uy + (y - oy) * ux) / half for x, y in corners]
    i0, i1 = math.floor(min(along + [0.0])) - 1, math.ceil(max(along + [0.0])) + 1
    j0, j1 = math.floor(min(across + [0.0])) - 1, math.ceil(max(across + [0.0])) + 1
    ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
    xs = ox + half * (ii * ux - jj * uy)
    ys = oy + half * (ii * uy + jj * ux)
    distances, _ = space.clearance(np.stack([xs.ravel(), ys.ravel()], axis=1))
    grid = (distances >= need_m).reshape(ii.shape)
    grid[-i0, -j0] = True  # the agent stands where it stands
    rows, columns = grid.shape

    def free(i: int, j: int) -> bool:
        a, b = i - i0, j - j0
        return 0 <= a < rows and 0 <= b < columns and bool(grid[a, b])

    return free


def shortest_path(
    space: FreeSpace, pose: tuple[float, float, float], target: tuple[float, float], within_m: float
) -> tuple[list[int], tuple[float, float, float]]:
    """(move ids, end pose) of a shortest lattice path into reach of `target`, or to the free point nearest it."""
    x0, y0, yaw = pose
    heading = math.radians(yaw)
    ux, uy = math.cos(heading), math.sin(heading)  # ahead
    vx, vy = -uy, ux  # left

    def point(i: int, j: int) -> tuple[float, float]:
        """Lattice point (i, j) in half steps: i ahead, j to the left."""
        half = actions.MOVE_M / 2
        return x0 + half * (i * ux + j * vx), y0 + half * (i * uy + j * vy)

    reach = within_m - _SPARE_M
    free = _free_grid(space, (x0, y0), (ux, uy), space.radius_m + _SPARE_M)

    def near(i: int, j: int) -> float:
        px, py = point(i, j)
        return math.hypot(px - target[0], py - target[1])

    # (move, di, dj) in half steps, in the agent's frame
    moves = ((actions.FORWARD, 2, 0), (actions.BACKWARD, -2, 0), (actions.RIGHTWARD, 0, -2), (actions.LEFTWARD, 0, 2))
    previous: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {(0, 0): None}
    frontier: deque[tuple[int, int]] = deque([(0, 0)])
    best, best_gap = (0, 0), near(0, 0)
    found = best_gap <= reach
    while frontier and not found and len(previous) < _MAX_CELLS:
        i, j = frontier.popleft()
        for move, di, dj in moves:
            cell = (i + di, j + dj)
            if cell in previous or not (free(*cell) and free(i + di // 2, j + dj // 2)):
                continue
            previous[cell] = ((i, j), move)
            gap = near(*cell)
            if gap < best_gap - 1e-9:
                best, best_gap = cell, gap
            if gap <= reach:
                best, found = cell, True
                break
            frontier.append(cell)
    path: list[int] = []
    cell = best
    while previous[cell] is not None:
        parent, move = previous[cell]  # type: ignore[misc]
        path.append(move)
        cell = parent
    path.reverse()
    end_x, end_y = point(*best)
    return path, (end_x, end_y, yaw)
