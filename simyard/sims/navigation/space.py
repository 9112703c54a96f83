"""Where the agent's body fits: walls and furniture footprints as signed distances, shared by moves and the oracle.

The agent is a disc of `AGENT_RADIUS_M` (AI2-THOR's agent collider is a capsule of about that radius). What blocks
it: the walls of the room it stands in, and every thing standing on the floor (no parent) whose bottom is below
`BLOCKS_BELOW_M`, by its drawn footprint (`scene.placements`, so what blocks is what the pictures show). Things on
furniture do not block (the furniture does). A move of 0.25 m is checked at its middle and its end, so a corner
cannot slip between the disc's two positions.

`FreeSpace.blocker(a, b)` is the world's rule for one move; `FreeSpace.clearance` over many points at once (numpy)
serves the oracle's grid. Both use the same distances, and the oracle keeps a millimetre more room than a move
needs, so a plan never hits a wall the world would report.
"""

from __future__ import annotations

import math

import numpy as np

from simyard.sims.household.scene import WALL_THICKNESS_M, extents, placements
from simyard.sims.household.state import House

AGENT_RADIUS_M = 0.2
#: Things whose bottom is higher than this (a cabinet on the wall) leave the floor free under them.
BLOCKS_BELOW_M = 1.0
#: Where along a move the body is checked (fractions of the step).
SWEEP = (0.5, 1.0)
WALL = "a wall"


class FreeSpace:
    """The obstacles of one house for an agent of `radius_m`, as arrays for vectorised distance queries."""

    def __init__(self, house: House, radius_m: float = AGENT_RADIUS_M) -> None:
        self.radius_m = radius_m
        half = WALL_THICKNESS_M / 2
        self.rooms = np.array(
            [(r.x0 + half, r.y0 + half, r.x1 - half, r.y1 - half) for r in house.rooms], dtype=float
        ).reshape(-1, 4)
        where = placements(house)
        names, rows = [], []
        for thing in house.things.values():
            if thing.parent is not None or thing.id == house.agent.holding:
                continue
            placed = where[thing.id]
            depth, width, height = (side * placed.scale for side in extents(thing))
            if placed.center[2] - height / 2 > BLOCKS_BELOW_M:
                continue
            yaw = math.radians(placed.yaw_deg)
            rows.append((placed.center[0], placed.center[1], math.cos(yaw), math.sin(yaw), depth / 2, width / 2))
            names.append(thing.name)
        self.names = names
        self._boxes = np.array(rows, dtype=float).reshape(-1, 6)

    def clearance(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance from each point to the nearest wall or footprint, negative inside one; index of that obstacle:
        -1 for a wall, else an index into `names`) for points of shape (N, 2)."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        x, y = points[:, 0], points[:, 1]
        wall = np.full(len(points), -np.inf)
        for x0, y0, x1, y1 in self.rooms:  # the room the point is in (the one with the most room) bounds it
            wall = np.maximum(wall, np.minimum.reduce([x - x0, x1 - x, y - y0, y1 - y]))
        if len(self.rooms) == 0:
            wall = np.full(len(points), np.inf)
        if len(self._boxes) == 0:
            return wall, np.full(len(points), -1)
        cx, cy, cos, sin, hx, hy = (self._boxes[:, k][None, :] for k in range(6))
        dx, dy = x[:, None] - cx, y[:, None] - cy
        qx = np.abs(cos * dx + sin * dy) - hx
        qy = np.abs(-sin * dx + cos * dy) - hy
        outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
        signed = outside + np.minimum(np.maximum(qx, qy), 0.0)
        nearest = np.argmin(signed, axis=1)
        box = signed[np.arange(len(points)), nearest]
        closer_wall = wall <= box
        return np.where(closer_wall, wall, box), np.where(closer_wall, -1, nearest)

    def name(self, index: int) -> str:
        """What obstacle `index` (from `clearance`) is, for feedback."""
        return WALL if index < 0 else self.names[index]

    def blocker(self, start: tuple[float, float], end: tuple[float, float]) -> str | None:
        """What stops a move from `start` to `end`, or None when the body fits along it.

        A sample point blocks when the body would overlap something there and overlap it more than at the start, so
        an agent that starts touching furniture can still step away from it.
        """
        sx, sy = start
        ex, ey = end
        samples = np.array([(sx, sy)] + [(sx + (ex - sx) * t, sy + (ey - sy) * t) for t in SWEEP])
        clear, which = self.clearance(samples)
        limit = min(self.radius_m, float(clear[0]))
        for index in range(1, len(samples)):
            if clear[index] < limit - 1e-9:
                return self.name(int(which[index]))
        return None
