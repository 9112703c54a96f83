"""The Sokoban oracle: a move-optimal A* search over box pushes, from whatever state the agent reached.

Search nodes are the states just after a push (the player stands where the box was); an edge is a walk to the cell
behind a box plus the push, costing the walk's length plus one. The heuristic, each box's push distance to its
nearest target ignoring the other boxes, never overestimates and drops by at most one per push, so the first solved
node taken off the heap is a shortest solution in moves. Two kinds of dead states are pruned: a box on a cell from
which no pushes reach any target (a corner, most wall sides), and a box off target locked in a 2x2 block of walls and
boxes.

The search has a budget in cells visited (walks included), not in nodes alone, because one node costs a walk over
the room: on a 200x200 grid a node budget would still allow hours of work. Walks stop as soon as they have found every
cell the player could push a box from, so in open rooms they stay near the player. Out of budget, `solve` raises
`OracleGaveUp` rather than answering as if the state were dead.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from simyard.sims.puzzles._common import OracleGaveUp

#: Cells the search may visit (one per node expanded, plus every cell its walks reach) before it gives up: about
#: 2 s of work here. The ragen suite's hardest rooms need under 1% of it.
WORK_BUDGET = 3_000_000


class Solver:
    """Solves one room layout from any player and box cells.

    Args:
        width: Row length of the grid; cells are row-major indices and the border is wall.
        floor: Per cell, whether it is floor.
        targets: Cells of the box targets.
    """

    def __init__(self, width: int, floor: Sequence[bool], targets: Sequence[int]) -> None:
        self.floor = floor
        self.targets = frozenset(targets)
        #: Cell steps in the action order Up, Down, Left, Right.
        self.steps = (-width, width, -1, 1)
        self.push_distance = self._push_distances()

    def _push_distances(self) -> list[int | None]:
        """Per cell, the fewest pushes that bring a box there onto some target (None: never, a dead cell)."""
        floor, steps = self.floor, self.steps
        distance: list[int | None] = [None] * len(floor)
        queue = list(self.targets)
        for target in queue:
            distance[target] = 0
        for cell in queue:  # breadth-first, backwards: which cell could a box have been pushed here from?
            for step in steps:
                before, stand = cell - step, cell - 2 * step
                if distance[before] is None and floor[before] and floor[stand]:
                    distance[before] = distance[cell] + 1
                    queue.append(before)
        return distance

    def solve(self, player: int, boxes: Sequence[int], budget: int = WORK_BUDGET) -> list[int] | None:
        """A shortest move sequence (indices into Up, Down, Left, Right) that puts every box on a target.

        Args:
            player, boxes: The state to solve from.
            budget: Cells the search may visit (see `WORK_BUDGET`).

        Returns:
            The moves ([] when already solved), or None when the state is dead (no sequence of pushes solves it).

        Raises:
            OracleGaveUp: The budget ran out before a solution was found or the state was shown dead.
        """
        floor, steps, targets, distance = self.floor, self.steps, self.targets, self.push_distance
        start = (player, tuple(sorted(boxes)))
        if any(distance[box] is None for box in start[1]):
            return None
        best = {start: 0}
        came_from: dict[tuple[int, tuple[int, ...]], tuple[tuple[int, tuple[int, ...]], int, int]] = {}
        heap = [(self._estimate(start[1]), 0, start)]
        work = 0
        while heap:
            _, negative_cost, node = heapq.heappop(heap)
            cost = -negative_cost
            if cost > best[node]:
                continue
            here, placed = node
            if targets.issuperset(placed):
                return self._moves(node, came_from)
            reach = self._walk(here, placed)
            work += 1 + len(reach)
            if work > budget:
                raise OracleGaveUp(
                    f"the sokoban solver gave up after visiting {budget:,} cells ({len(best):,} states) on a "
                    f"{len(floor)}-cell room with {len(placed)} boxes, without finding a solution",
                    hint="use a smaller room or fewer boxes, or raise the budget (sokoban_solver.WORK_BUDGET)",
                )
            for box in placed:
                for direction, step in enumerate(steps):
                    walk = reach.get(box - step)
                    destination = box + step
                    if walk is None or not floor[destination] or destination in placed or distance[destination] is None:
                        continue
                    moved = tuple(sorted(destination if other == box else other for other in placed))
                    if destination not in targets and self._locked(destination, moved):
                        continue
                    child = (box, moved)
                    child_cost = cost + walk + 1
                    if child_cost < best.get(child, child_cost + 1):
                        best[child] = child_cost
                        came_from[child] = (node, box - step, direction)
                        # Ties go to the deeper node: it is closer to a solution under an admissible estimate.
                        heapq.heappush(heap, (child_cost + self._estimate(moved), -child_cost, child))
        return None

    def _estimate(self, boxes: tuple[int, ...]) -> int:
        distance = self.push_distance
        return sum(distance[box] for box in boxes)  # type: ignore[misc]  # dead cells never reach here

    def _locked(self, cell: int, boxes: tuple[int, ...]) -> bool:
        """Whether the box on `cell` sits in a 2x2 square of walls and boxes, which nothing can ever break up."""
        floor, targets = self.floor, self.targets
        up, down, left, right = self.steps
        for vertical in (up, down):
            for horizontal in (left, right):
                square = (cell + vertical, cell + horizontal, cell + vertical + horizontal)
                if all(not floor[other] or other in boxes for other in square):
                    # Locked for good; it is only a dead end if some box in the square is off target.
                    return any(other in boxes and other not in targets for other in (cell, *square))
        return False

    def _walk(self, start: int, boxes: tuple[int, ...]) -> dict[int, int]:
        """Walking distance from `start` to the cells the player reaches without pushing.

        Stops once every free cell next to a box is reached: only those matter to the search.
        """
        floor, steps = self.floor, self.steps
        reach = {start: 0}
        wanted = {box - step for box in boxes for step in steps if floor[box - step] and box - step not in boxes}
        wanted.discard(start)
        frontier, distance = [start], 0
        while frontier and wanted:
            distance += 1
            following = []
            for cell in frontier:
                for step in steps:
                    nearby = cell + step
                    if floor[nearby] and nearby not in reach and nearby not in boxes:
                        reach[nearby] = distance
                        following.append(nearby)
                        wanted.discard(nearby)
            frontier = following
        return reach

    def _path(self, start: int, goal: int, boxes: tuple[int, ...]) -> list[int]:
        """The moves of a shortest walk from `start` to `goal` around the boxes."""
        floor, steps = self.floor, self.steps
        came_from = {start: (start, -1)}
        frontier = [start]
        while goal not in came_from:
            following = []
            for cell in frontier:
                for direction, step in enumerate(steps):
                    nearby = cell + step
                    if floor[nearby] and nearby not in came_from and nearby not in boxes:
                        came_from[nearby] = (cell, direction)
                        following.append(nearby)
            frontier = following
        moves = []
        cell = goal
        while cell != start:
            cell, direction = came_from[cell]
            moves.append(direction)
        return moves[::-1]

    def _moves(
        self,
        node: tuple[int, tuple[int, ...]],
        came_from: dict[tuple[int, tuple[int, ...]], tuple[tuple[int, tuple[int, ...]], int, int]],
    ) -> list[int]:
        """Unroll the pushes leading to `node` into single moves: each walk, then its push."""
        pushes = []
        while node in came_from:
            parent, stand, direction = came_from[node]
            pushes.append((parent, stand, direction))
            node = parent
        moves: list[int] = []
        for (player, boxes), stand, direction in reversed(pushes):
            moves += self._path(player, stand, boxes)
            moves.append(direction)
        return moves
