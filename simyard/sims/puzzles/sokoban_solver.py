"""The Sokoban oracle: a move-optimal A* search over box pushes, from whatever state the agent reached.

Search nodes are the states just after a push (the player stands where the box was); an edge is a walk to the cell
behind a box plus the push, costing the walk's length plus one. The heuristic, each box's push distance to its
nearest target ignoring the other boxes, never overestimates and drops by at most one per push, so the first solved
node taken off the heap is a shortest solution in moves. Two kinds of dead states are pruned: a box on a cell from
which no pushes reach any target (a corner, most wall sides), and a box off target locked in a 2x2 block of walls and
boxes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

#: Nodes the search may expand before it gives up (a state reached by wandering can be large to search).
NODE_CAP = 200_000


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

    def solve(self, player: int, boxes: Sequence[int]) -> list[int] | None:
        """A shortest move sequence (indices into Up, Down, Left, Right) that puts every box on a target.

        Returns:
            The moves ([] when already solved), or None when the state is dead or too large to search.
        """
        floor, steps, targets, distance = self.floor, self.steps, self.targets, self.push_distance
        start = (player, tuple(sorted(boxes)))
        if any(distance[box] is None for box in start[1]):
            return None
        best = {start: 0}
        came_from: dict[tuple[int, tuple[int, ...]], tuple[tuple[int, tuple[int, ...]], int, int]] = {}
        heap = [(self._estimate(start[1]), 0, start)]
        expanded = 0
        while heap:
            _, negative_cost, node = heapq.heappop(heap)
            cost = -negative_cost
            if cost > best[node]:
                continue
            here, placed = node
            if targets.issuperset(placed):
                return self._moves(node, came_from)
            expanded += 1
            if expanded > NODE_CAP:
                return None
            reach = self._walk(here, placed)
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
        """Walking distance from `start` to every cell the player reaches without pushing."""
        floor, steps = self.floor, self.steps
        reach = {start: 0}
        frontier, distance = [start], 0
        while frontier:
            distance += 1
            following = []
            for cell in frontier:
                for step in steps:
                    nearby = cell + step
                    if floor[nearby] and nearby not in reach and nearby not in boxes:
                        reach[nearby] = distance
                        following.append(nearby)
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
