"""Sokoban as RAGEN plays it: push every box onto a target in a room generated so that it is solvable.

Rules and rewards are gym-sokoban's (RAGEN's SimpleSokoban): each move costs 0.1, a box pushed onto a target earns
1, a box pushed off one loses 1, and placing the last box earns 10 and ends the episode. Moves are "push" moves:
walking into a box pushes it when the cell behind it is free, and nothing moves otherwise. An invalid action (a
name that is not a move) costs a step like any other, so it pays the 0.1 too.

Task config (`SokobanConfig`): `size` ([rows, cols], walls included, 4 to 40 each; default [6, 6]), `boxes`
(1 to 10, default 1), `room_seed` (the room; defaults to the reset seed, RAGEN's `reset(seed)`), `search_depth` (most
reverse-play moves; defaults to `max_steps - 3` so the oracle's solution always fits the step budget, see
`sokoban_rooms`), `render` (also put an `rgb` picture in every observation). A handmade room is given instead as
`grid`: rows of RAGEN's symbols, up to 500x500; the oracle's search has a budget (see `sokoban_solver`).
"""

from __future__ import annotations

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
from simyard.sims.puzzles.sokoban_rooms import GenerationError, Room, generate_room
from simyard.sims.puzzles.sokoban_solver import Solver

ACTIONS = ("Up", "Down", "Left", "Right")
#: RAGEN's grid vocabulary.
SYMBOLS = {
    "#": "wall",
    "_": "empty",
    "O": "target",
    "√": "box on target",
    "X": "box",
    "P": "player",
    "S": "player on target",
}
RULES = (
    "You are solving the Sokoban puzzle. You are the player and you need to push all boxes to targets. When you "
    "are right next to a box, you can push it by moving in the same direction. You cannot push a box through a "
    "wall, and you cannot pull a box."
)
STEP_REWARD, ON_TARGET_REWARD, OFF_TARGET_REWARD, SOLVED_REWARD = -0.1, 1.0, -1.0, 10.0

#: Largest handmade grid, in rows and in columns.
MAX_GRID = 500

_CHOICES = Choices(
    ACTIONS, help="Up, Down, Left, Right: move one cell, pushing a box ahead if the cell behind it is free."
)
# Picture colours: wall, floor, target, box on target, box, player, player on target.
_PALETTE = np.array(
    [[90, 90, 90], [230, 220, 200], [220, 90, 90], [80, 180, 80], [170, 110, 50], [60, 90, 220], [150, 60, 200]],
    dtype=np.uint8,
)


def sokoban_task(
    task_id: str, size: tuple[int, int], boxes: int, room_seed: int, max_steps: int, subset: str = "base"
) -> Task:
    """A Sokoban task; the room itself is generated at reset from these parameters."""
    return Task(
        id=task_id,
        world="sokoban",
        instruction=instruction(RULES, SYMBOLS, ACTIONS, max_steps),
        subset=subset,
        config={"size": list(size), "boxes": boxes, "room_seed": room_seed},
        goal={"all_boxes_on_targets": True},
        max_steps=max_steps,
    )


def room_from_grid(rows: object) -> Room:
    """A handmade room written in RAGEN's symbols, one string per row, walled all round."""
    hint = 'e.g. ["######", "#P_XO#", "######"] (symbols: ' + " ".join(SYMBOLS) + ")"
    if not (isinstance(rows, list) and rows and all(isinstance(row, str) for row in rows)):
        raise TaskFileError(f"sokoban task config 'grid' must be a list of strings, got {rows!r}", hint=hint)
    height, width = len(rows), len(rows[0])
    if any(len(row) != width for row in rows) or set("".join(rows)) - set(SYMBOLS):
        raise TaskFileError("sokoban grid rows must have equal lengths and use only RAGEN's symbols", hint=hint)
    cells = "".join(rows)
    border = rows[0] + rows[-1] + "".join(row[0] + row[-1] for row in rows)
    players = [cell for cell, symbol in enumerate(cells) if symbol in "PS"]
    targets = tuple(cell for cell, symbol in enumerate(cells) if symbol in "O√S")
    boxes = tuple(cell for cell, symbol in enumerate(cells) if symbol in "X√")
    if set(border) != {"#"} or len(players) != 1 or not boxes or len(boxes) != len(targets):
        raise TaskFileError(
            "a sokoban grid needs a wall all round, one player, and as many targets as boxes (at least one)", hint=hint
        )
    return Room(height, width, tuple(symbol != "#" for symbol in cells), targets, boxes, players[0], None)


class SokobanConfig(BaseModel):
    """What a Sokoban task's `config` may hold: how to generate a room, or a handmade one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    size: tuple[int, int] = Field((6, 6), description="[rows, cols], walls included, each 4 to 40, e.g. [6, 6]")
    boxes: int = Field(1, ge=1, le=10, description="an integer from 1 to 10")
    room_seed: int | None = Field(None, ge=-(1 << 63), description="an integer: the generated room")
    search_depth: int | None = Field(None, ge=1, description="an integer >= 1: most reverse-play moves")
    render: bool = Field(False, description="true or false")
    grid: list[str] | None = Field(
        None,
        min_length=3,
        max_length=MAX_GRID,
        description=f"rows of RAGEN's symbols {' '.join(SYMBOLS)}, walled all round, at most {MAX_GRID}x{MAX_GRID}",
    )

    @field_validator("size", mode="before")
    @classmethod
    def _size_is_a_pair(cls, value: object) -> object:
        # JSON has no tuples: a size arrives as a list, which strict mode would refuse for a tuple field.
        if isinstance(value, list):
            return tuple(value)
        if not isinstance(value, tuple):
            raise ValueError(f"{value!r} is not a list of two integers")
        return value

    @field_validator("size")
    @classmethod
    def _size_in_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not all(4 <= side <= 40 for side in value):
            raise ValueError(f"{list(value)} is out of range")
        return value

    @field_validator("grid")
    @classmethod
    def _grid_is_a_room(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if len(value[0]) > MAX_GRID:
                raise ValueError(f"rows are longer than {MAX_GRID}")
            try:
                room_from_grid(value)
            except TaskFileError as exc:
                raise ValueError(exc.message) from None
        return value


def _generated_room(task: Task, config: SokobanConfig, seed: int | None) -> Room:
    height, width = config.size
    room_seed = config.room_seed if config.room_seed is not None else seed or 0
    depth = config.search_depth if config.search_depth is not None else max(1, task.max_steps - 3)
    try:
        return generate_room(height, width, config.boxes, depth, world_rng(room_seed))
    except GenerationError as exc:
        raise TaskFileError(str(exc), hint="use a larger room or fewer boxes") from None


class SokobanEnv(Env):
    """Sokoban rooms from RAGEN, with a shortest-solution oracle.

    Args:
        tile_px: Side of one cell in `render("rgb")` pictures.
    """

    name = "sokoban"
    views = ("rgb",)
    config_model = SokobanConfig
    rescore = classmethod(rescore_by_replay)

    def __init__(self, tile_px: int = 16) -> None:
        self.tile_px = int(tile_px)
        self._room: Room | None = None

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """RAGEN's SimpleSokoban: a 6x6 room with one box and a 10-action budget; `seed` picks the room."""
        return sokoban_task(f"sokoban-6x6-1b-{seed:03d}", (6, 6), 1, seed, max_steps=10)

    def action_spec(self) -> ActionSpec:
        return _CHOICES.spec

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = read_config(SokobanConfig, task)
        room = room_from_grid(config.grid) if config.grid is not None else _generated_room(task, config, seed)
        boxes, width = len(room.boxes), room.width
        self._room = room
        self._steps_by_action = (-width, width, -1, 1)
        self._floor = room.floor
        self._targets = frozenset(room.targets)
        self._player = room.player
        self._boxes = set(room.boxes)
        self._placed = len(self._boxes & self._targets)
        self._solved = self._placed == boxes
        self._steps = 0
        self._background = ["_" if is_floor else "#" for is_floor in room.floor]
        for target in room.targets:
            self._background[target] = "O"
        self._solver: Solver | None = None
        self._plan: list[str] = []
        self._plan_index: dict[tuple[int, frozenset[int]], int] = {}
        self._pictures = config.render
        plural = "es" if boxes > 1 else ""
        return self._observation(f"Push the {boxes} box{plural} (X) onto the target{'s' * (boxes > 1)} (O).")

    def step(self, action: Action) -> StepResult:
        direction = _CHOICES.parse(action)
        self._steps += 1
        if direction is None:
            return self._invalid(_CHOICES.unknown(action))
        if self._solved:
            return self._invalid("the puzzle is already solved; reset for a new one")
        name, step, boxes = ACTIONS[direction], self._steps_by_action[direction], self._boxes
        here = self._player
        there = here + step
        reward, effective = STEP_REWARD, True
        if not self._floor[there]:
            feedback, effective = f"You moved {name} into a wall and stayed in place.", False
        elif there in boxes:
            beyond = there + step
            if not self._floor[beyond] or beyond in boxes:
                blocker = "another box" if beyond in boxes else "a wall"
                feedback, effective = f"You could not push the box {name}: {blocker} is behind it.", False
            else:
                boxes.remove(there)
                boxes.add(beyond)
                self._player = there
                change = (beyond in self._targets) - (there in self._targets)
                self._placed += change
                if change > 0:
                    reward += ON_TARGET_REWARD
                    feedback = f"You pushed a box {name} onto a target."
                elif change < 0:
                    reward += OFF_TARGET_REWARD
                    feedback = f"You pushed a box {name} off a target."
                else:
                    feedback = f"You pushed a box {name}."
                if self._placed == len(boxes):
                    self._solved = True
                    reward += SOLVED_REWARD
                    feedback += " Every box is on a target: solved!"
        else:
            self._player = there
            feedback = f"You moved {name}."
        info = {
            "valid": True,
            "feedback": feedback,
            "success": self._solved,
            "progress": self._placed / len(boxes),
            "action_is_effective": effective,
        }
        return StepResult(self._observation(feedback), reward, self._solved, False, info)

    def _invalid(self, feedback: str) -> StepResult:
        # An invalid action costs a step like any other, so it carries the step penalty too.
        info = {
            "valid": False,
            "feedback": feedback,
            "success": self._solved,
            "progress": self._placed / len(self._boxes),
            "action_is_effective": False,
        }
        return StepResult(self._observation(feedback), STEP_REWARD, self._solved, False, info)

    def _cells(self) -> list[str]:
        cells = self._background.copy()
        for box in self._boxes:
            cells[box] = "√" if box in self._targets else "X"
        cells[self._player] = "S" if self._player in self._targets else "P"
        return cells

    def _observation(self, feedback: str) -> Observation:
        assert self._room is not None, "reset the world before stepping it"
        text = f"{feedback}\n{grid_text(self._cells(), self._room.width)}"
        images = {"rgb": self.render()} if self._pictures else {}
        return Observation(text, images, {"valid_actions": list(ACTIONS)})

    def render(self, view: str = "rgb") -> np.ndarray | None:
        """A top-down picture: grey walls, sand floor, red targets, brown boxes (green on target), blue player."""
        if self._room is None:
            return None
        codes = {"#": 0, "_": 1, "O": 2, "√": 3, "X": 4, "P": 5, "S": 6}
        return grid_picture([codes[cell] for cell in self._cells()], self._room.width, _PALETTE, self.tile_px)

    def state(self) -> dict[str, Any]:
        if self._room is None:
            return {}
        width = self._room.width

        def at(cell: int) -> list[int]:
            return [cell // width, cell % width]

        return {
            "grid": grid_text(self._cells(), width).split("\n"),
            "player": at(self._player),
            "boxes": sorted(at(box) for box in self._boxes),
            "targets": sorted(at(target) for target in self._targets),
            "boxes_on_target": self._placed,
            "steps": self._steps,
            "solved": self._solved,
        }

    def oracle(self) -> Action | list[Action]:
        """The rest of a shortest solution from the current state; solved once and reused while it is followed.

        From a dead state (a box stuck in a corner) there is no solution; the oracle then returns any move that
        changes the state, and the episode fails as it should.

        Raises:
            OracleGaveUp: The search ran out of its budget (`sokoban_solver.WORK_BUDGET`, about 2 s; large handmade
                rooms) before finding a solution or proving the state dead. The oracle does not guess: the runner
                records the episode as an error whose message says the solver gave up.
        """
        assert self._room is not None, "reset the world before asking the oracle"
        key = (self._player, frozenset(self._boxes))
        index = self._plan_index.get(key)
        if index is None:
            if self._solver is None:
                self._solver = Solver(self._room.width, self._floor, self._room.targets)
            moves = self._solver.solve(self._player, self._boxes)
            if moves is None:
                return self._any_move()
            self._remember(moves)
            index = 0
        return self._plan[index:]

    def _remember(self, moves: list[int]) -> None:
        """Keep the plan and the state before each of its moves, so a caller taking one move at a time reuses it."""
        player, boxes = self._player, set(self._boxes)
        self._plan = [ACTIONS[move] for move in moves]
        self._plan_index = {}
        for index, move in enumerate(moves):
            self._plan_index[(player, frozenset(boxes))] = index
            step = self._steps_by_action[move]
            player += step
            if player in boxes:
                boxes.remove(player)
                boxes.add(player + step)

    def _any_move(self) -> str:
        for name, step in zip(ACTIONS, self._steps_by_action, strict=True):
            there = self._player + step
            if self._floor[there] and (
                there not in self._boxes or (self._floor[there + step] and there + step not in self._boxes)
            ):
                return name
        return ACTIONS[0]
