"""FrozenLake as RAGEN plays it: walk across a random frozen lake to the goal without falling into a hole.

Maps follow RAGEN's generator: each cell is frozen with probability `p_frozen`, start and goal are random distinct
cells, and maps are drawn again until a path joins them (here also: a path no longer than the step budget, so the
oracle can always make it on a deterministic lake). Moves off the edge leave the player in place. On a slippery
lake the chosen move is replaced, with probability `slip`, by one of its two perpendicular moves (Gymnasium's
`is_slippery` is `slip = 2/3`; RAGEN's current config, success rate 0.8, is `slip = 0.2`). Reaching the goal earns 1
and ends the episode; falling into a hole ends it with nothing.

Steps are the hot path of RL rollouts, so everything a step can produce is computed once per map and cell: the
moves, the outcomes and the observation objects themselves (shared between steps and resets, so read-only); a step
is a few dictionary lookups.

Task config (`FrozenLakeConfig`): `size` (2 to 32, default 4), `p_frozen` (above 0, at most 1; default 0.8), `slip`
(0 to 1, default 0), `map_seed` (the map; defaults to the reset seed), `render` (also put an `rgb` picture in every
observation). A handmade map is given instead as `map`: rows of Gymnasium's letters S F H G, at most 200 a side. The
reset seed (with `map_seed`) drives the slipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import TaskFileError
from simyard.sims.puzzles._common import (
    Choices,
    grid_picture,
    grid_text,
    instruction,
    read_config,
    rescore_by_replay,
    world_rng,
)

ACTIONS = ("Left", "Down", "Right", "Up")
#: RAGEN's grid vocabulary.
SYMBOLS = {"P": "player", "_": "frozen", "O": "hole", "G": "goal", "X": "player in hole", "√": "player on goal"}
RULES = (
    "You are solving the FrozenLake puzzle. Walk across the frozen lake to the goal without falling into a hole. "
    "Moving off the edge of the lake leaves you where you are."
)
_SLIPPERY = " The ice is slippery: you may move in a direction perpendicular to the one you chose."
_MAP_ATTEMPTS = 1000
_MAP_HINT_ROWS = '["SFFF", "FHFH", "FFFH", "HFFG"]'
#: Largest handmade map side.
MAX_MAP = 200

_CHOICES = Choices(ACTIONS, help="Left, Down, Right, Up: move one cell on the lake.")
# Picture colours: frozen, hole, goal, player, player in hole, player on goal.
_PALETTE = np.array(
    [[200, 230, 250], [30, 60, 120], [240, 200, 60], [220, 60, 60], [120, 40, 120], [60, 180, 80]], dtype=np.uint8
)
_CODES = {"_": 0, "O": 1, "G": 2, "P": 3, "X": 4, "√": 5}


def frozenlake_task(
    task_id: str, size: int, p_frozen: float, slip: float, map_seed: int, max_steps: int, subset: str = "base"
) -> Task:
    """A FrozenLake task; the map itself is generated at reset from these parameters."""
    rules = RULES + (_SLIPPERY if slip else "")
    return Task(
        id=task_id,
        world="frozenlake",
        instruction=instruction(rules, SYMBOLS, ACTIONS, max_steps),
        subset=subset,
        config={"size": size, "p_frozen": p_frozen, "slip": slip, "map_seed": map_seed},
        goal={"reach": "goal"},
        max_steps=max_steps,
    )


class FrozenLakeConfig(BaseModel):
    """What a FrozenLake task's `config` may hold: how to generate a lake, or a handmade map."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    size: int = Field(4, ge=2, le=32, description="an integer from 2 to 32: cells per side")
    p_frozen: float = Field(0.8, gt=0.0, le=1.0, description="a number above 0, at most 1: the share of frozen cells")
    slip: float = Field(0.0, ge=0.0, le=1.0, description="a number from 0 to 1: the chance a move goes sideways")
    map_seed: int | None = Field(None, ge=-(1 << 63), description="an integer: the generated map")
    render: bool = Field(False, description="true or false")
    map: list[str] | None = Field(
        None,
        min_length=2,
        max_length=MAX_MAP,
        description=f"square rows of S F H G with one S and one G joined by a path, e.g. {_MAP_HINT_ROWS}",
    )

    @field_validator("map")
    @classmethod
    def _map_is_a_lake(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            try:
                _given_lake(tuple(value))
            except TaskFileError as exc:
                raise ValueError(exc.message) from None
        return value


class FrozenLakeEnv(Env):
    """RAGEN's FrozenLake with optional slipping, precomputed per map for speed.

    Args:
        tile_px: Side of one cell in `render("rgb")` pictures.
    """

    name = "frozenlake"
    views = ("rgb",)
    config_model = FrozenLakeConfig
    rescore = classmethod(rescore_by_replay)

    def __init__(self, tile_px: int = 16) -> None:
        self.tile_px = int(tile_px)
        self._size = 0
        self._outcome_tables: dict[tuple[_Lake, bool], dict[int, Any]] = {}

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """RAGEN's FrozenLake: a 4x4 deterministic lake, 80% frozen, 10 actions; `seed` picks the map."""
        return frozenlake_task(f"frozenlake-4x4-{seed:03d}", 4, 0.8, 0.0, seed, max_steps=10)

    def action_spec(self) -> ActionSpec:
        return _CHOICES.spec

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = read_config(FrozenLakeConfig, task)
        slip = config.slip
        map_seed = config.map_seed if config.map_seed is not None else seed or 0
        if config.map is not None:
            lake = _given_lake(tuple(config.map))
        else:
            lake = _generated_lake(config.size, config.p_frozen, task.max_steps, map_seed)
        self._size, self._holes, self._start, self._goal = lake.size, lake.holes, lake.start, lake.goal
        self._distance, self._moves = lake.distance, lake.moves
        self._slip = slip
        self._rng = world_rng(map_seed, seed or 0) if slip else None
        self._cell, self._steps, self._done = lake.start, 0, False
        self._pictures = config.render
        self._max_steps = task.max_steps
        self._policies: dict[int, list[int]] = {}
        # Outcomes (observations included) depend only on the lake and on whether pictures are on: keep them
        # across resets, so replaying a task costs no rendering at all.
        if len(self._outcome_tables) > 512:
            self._outcome_tables.clear()
        self._outcomes = self._outcome_tables.setdefault((lake, self._pictures), {})
        first = self._outcomes.get(-1)
        if first is None:
            first = self._outcomes[-1] = self._observation(
                "Reach the goal (G) without falling into a hole (O).", lake.start
            )
        return first

    def step(self, action: Action) -> StepResult:
        direction = _CHOICES.parse(action)
        self._steps += 1
        if direction is None:
            return self._invalid(_CHOICES.unknown(action))
        if self._done:
            return self._invalid("the episode is over; reset for a new one")
        actual = direction
        if self._slip:
            draw = self._rng.random()  # type: ignore[union-attr]  # made whenever there is slip
            if draw < self._slip:
                actual = (direction - 1) % 4 if draw < self._slip / 2 else (direction + 1) % 4
        key = (self._cell * 4 + direction) * 4 + actual
        outcome = self._outcomes.get(key)
        if outcome is None:
            outcome = self._outcomes[key] = self._outcome(self._cell, direction, actual)
        observation, reward, done, success, progress, effective, feedback = outcome
        self._cell = self._moves[self._cell][actual]
        self._done = done
        info = {
            "valid": True,
            "feedback": feedback,
            "success": success,
            "progress": progress,
            "action_is_effective": effective,
        }
        return StepResult(observation, reward, done, False, info)

    def _outcome(
        self, here: int, direction: int, actual: int
    ) -> tuple[Observation, float, bool, bool, float, bool, str]:
        """Everything a step from `here` produces when `direction` was chosen and `actual` happened."""
        there = self._moves[here][actual]
        chosen, went = ACTIONS[direction], ACTIONS[actual]
        if actual != direction:
            feedback = f"You chose {chosen} but slipped and moved {went}."
        else:
            feedback = f"You moved {went}."
        if there == here:
            feedback = feedback[:-1] + " into the edge and stayed in place."
        success = there == self._goal
        done = success or there in self._holes
        if success:
            feedback += " You reached the goal!"
        elif done:
            feedback += " You fell into a hole."
        return (
            self._observation(feedback, there),
            float(success),
            done,
            success,
            self._progress(there),
            there != here,
            feedback,
        )

    def _invalid(self, feedback: str) -> StepResult:
        success = self._cell == self._goal
        info = {
            "valid": False,
            "feedback": feedback,
            "success": success,
            "progress": self._progress(self._cell),
            "action_is_effective": False,
        }
        return StepResult(self._observation(feedback, self._cell), 0.0, self._done, False, info)

    def _progress(self, cell: int) -> float:
        """How much closer to the goal than the start, by walking distance: 1 at the goal, 0 in a hole."""
        left, total = self._distance.get(cell), self._distance[self._start]
        if left is None or cell in self._holes:
            return 0.0
        return max(0.0, 1.0 - left / total)

    def _cells(self, player: int) -> list[str]:
        cells = ["O" if cell in self._holes else "_" for cell in range(self._size * self._size)]
        cells[self._goal] = "G"
        cells[player] = "X" if player in self._holes else "√" if player == self._goal else "P"
        return cells

    def _observation(self, feedback: str, player: int) -> Observation:
        text = f"{feedback}\n{grid_text(self._cells(player), self._size)}"
        images = {"rgb": self._picture(player)} if self._pictures else {}
        return Observation(text, images, {"valid_actions": list(ACTIONS)})

    def _picture(self, player: int) -> np.ndarray:
        codes = [_CODES[cell] for cell in self._cells(player)]
        return grid_picture(codes, self._size, _PALETTE, self.tile_px)

    def render(self, view: str = "rgb") -> np.ndarray | None:
        """A top-down picture: pale ice, dark holes, a gold goal, a red player."""
        return self._picture(self._cell) if self._size else None

    def state(self) -> dict[str, Any]:
        if not self._size:
            return {}
        size = self._size
        return {
            "grid": grid_text(self._cells(self._cell), size).split("\n"),
            "player": [self._cell // size, self._cell % size],
            "start": [self._start // size, self._start % size],
            "goal": [self._goal // size, self._goal % size],
            "steps": self._steps,
            "done": self._done,
        }

    def oracle(self) -> Action:
        """The best move from the current cell.

        On a deterministic lake: a step along a shortest path around the holes. On a slippery lake: the move with
        the highest chance of reaching the goal within the steps left (finite-horizon value iteration), ties going
        to the move whose intended cell is nearest the goal.
        """
        if not self._slip:
            return ACTIONS[self._nearest_move(self._cell)]
        left = max(1, self._max_steps - self._steps)
        policy = self._policies.get(left)
        if policy is None:
            policy = self._policies[left] = self._plan(left)
        return ACTIONS[policy[self._cell]]

    def _nearest_move(self, cell: int, allowed: tuple[int, ...] = (0, 1, 2, 3)) -> int:
        """Of the `allowed` moves, the one whose intended cell is nearest the goal (never a hole, if avoidable)."""
        far = len(self._moves)

        def closeness(direction: int) -> int:
            there = self._moves[cell][direction]
            return far if there in self._holes else self._distance.get(there, far)

        return min(allowed, key=closeness)

    def _plan(self, horizon: int) -> list[int]:
        """Per cell, the move maximising the probability of reaching the goal within `horizon` steps."""
        cells = range(self._size * self._size)
        straight, side = 1.0 - self._slip, self._slip / 2
        value = [1.0 if cell == self._goal else 0.0 for cell in cells]
        policy = [self._nearest_move(cell) for cell in cells]
        for _ in range(horizon):
            updated = value.copy()
            for cell in cells:
                if cell == self._goal or cell in self._holes:
                    continue
                moves = self._moves[cell]
                worth = [
                    straight * value[moves[a]] + side * (value[moves[(a - 1) % 4]] + value[moves[(a + 1) % 4]])
                    for a in range(4)
                ]
                best = max(worth)
                policy[cell] = self._nearest_move(cell, tuple(a for a in range(4) if worth[a] >= best - 1e-12))
                updated[cell] = best
            value = updated
        return policy


def _neighbours(cell: int, size: int) -> tuple[int, int, int, int]:
    """The cell reached by Left, Down, Right, Up from `cell`; moving off the edge stays put."""
    row, col = divmod(cell, size)
    return (
        cell - 1 if col > 0 else cell,
        cell + size if row < size - 1 else cell,
        cell + 1 if col < size - 1 else cell,
        cell - size if row > 0 else cell,
    )


@dataclass(frozen=True, eq=False)
class _Lake:
    """A map and what follows from it alone: per cell, where each move leads and how far the goal is on foot."""

    size: int
    holes: frozenset[int]
    start: int
    goal: int
    distance: dict[int, int]  # walking distance to the goal, for cells that can reach it
    moves: tuple[tuple[int, int, int, int], ...]


@lru_cache(maxsize=1024)
def _generated_lake(size: int, p_frozen: float, max_steps: int, map_seed: int) -> _Lake:
    """RAGEN's random map, redrawn until a path of at most `max_steps` moves joins start and goal.

    A pure function of its arguments, so it is cached: resetting a task again costs no generation.
    """
    rng = world_rng(map_seed)
    cells = size * size
    for _ in range(_MAP_ATTEMPTS):
        frozen = rng.random(cells) < p_frozen
        start, goal = (int(cell) for cell in rng.integers(cells, size=2))
        if start == goal:
            continue
        frozen[start] = frozen[goal] = True
        holes = frozenset(int(cell) for cell in np.flatnonzero(~frozen))
        distance = _distances_to(goal, holes, size)
        if distance.get(start, max_steps + 1) <= max_steps:
            return _Lake(size, holes, start, goal, distance, _all_moves(size))
    raise TaskFileError(
        f"no {size}x{size} lake with p_frozen={p_frozen} has a path within {max_steps} steps",
        hint="raise p_frozen or max_steps",
    )


_MAP_HINT = f"e.g. {_MAP_HINT_ROWS}"


@lru_cache(maxsize=256)
def _given_lake(rows: tuple[str, ...]) -> _Lake:
    """A handmade square map in Gymnasium's letters (S start, F frozen, H hole, G goal), one string per row."""
    size, cells = len(rows), "".join(rows)
    if (
        any(len(row) != size for row in rows)
        or set(cells) - set("SFHG")
        or cells.count("S") != 1
        or cells.count("G") != 1
    ):
        raise TaskFileError("a frozenlake map is square, uses S F H G, and has one S and one G", hint=_MAP_HINT)
    holes = frozenset(cell for cell, letter in enumerate(cells) if letter == "H")
    start, goal = cells.index("S"), cells.index("G")
    distance = _distances_to(goal, holes, size)
    if start not in distance:
        raise TaskFileError("no path around the holes joins S and G on this frozenlake map", hint=_MAP_HINT)
    return _Lake(size, holes, start, goal, distance, _all_moves(size))


@lru_cache(maxsize=64)
def _all_moves(size: int) -> tuple[tuple[int, int, int, int], ...]:
    return tuple(_neighbours(cell, size) for cell in range(size * size))


def _distances_to(goal: int, holes: frozenset[int], size: int) -> dict[int, int]:
    """Walking distance to `goal` from every cell that can reach it without crossing a hole."""
    distance = {goal: 0}
    frontier = [goal]
    while frontier:
        following = []
        for cell in frontier:
            for nearby in _neighbours(cell, size):
                if nearby not in distance and nearby not in holes:
                    distance[nearby] = distance[cell] + 1
                    following.append(nearby)
        frontier = following
    return distance
