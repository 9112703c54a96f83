"""What the puzzle worlds share: choice parsing, instruction text, grid pictures and seeding.

Kept apart so that each world module holds only its own rules, and so that the hot path of a step (turning
whatever the agent sent into an action id) is written, and tuned, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from simyard.platform.api import Action, ActionSpec, Task
from simyard.platform.errors import SimyardError, TaskFileError
from simyard.platform.taskfiles import config_problem

_Config = TypeVar("_Config", bound=BaseModel)


class OracleGaveUp(SimyardError):
    """A world's solver ran out of its search budget before finding or ruling out a solution.

    Raised by `oracle()` rather than answering with a guess, so an episode the oracle could not plan is recorded as
    an error saying so, never as a failure that looks like an unsolvable task.
    """


def read_config(model: type[_Config], task: Task) -> _Config:
    """`task.config` checked against the world's config model; a TaskFileError names the task and the field.

    Task files and suites are checked when they are read (`simyard.platform.taskfiles`); this catches tasks built
    in code and handed to `reset` directly.
    """
    try:
        return model.model_validate(task.config)
    except ValidationError as exc:
        raise TaskFileError(f"task {task.id!r}: {config_problem(model, exc)}", hint="fix the task's config") from None


class Choices:
    """The named actions of a choice world, and a fast map from what an agent sends to an action id.

    Accepts what `ActionSpec.choice_id` accepts (an id, a case-insensitive name, or an id written as text) but
    answers the common cases with one dictionary lookup, because FrozenLake steps in a few microseconds.

    Args:
        names: Action names, indexed by their ids.
        help: Prose for prompts, kept in the action spec (with `role` and `guidelines`, see `ActionSpec`).
    """

    def __init__(self, names: Sequence[str], help: str = "", role: str = "", guidelines: str = "") -> None:
        self.names = tuple(names)
        self.spec = ActionSpec(kind="choice", choices=self.names, help=help, role=role, guidelines=guidelines)
        self.listing = ", ".join(self.names)
        table: dict[object, int] = {}
        for index, name in enumerate(self.names):
            table[index] = table[str(index)] = table[name] = table[name.lower()] = index
        self._table = table

    def parse(self, action: Action) -> int | None:
        """The id `action` names, or None when it names no action."""
        kind = type(action)
        if kind is str:
            found = self._table.get(action)
            return found if found is not None else self._table.get(action.strip().lower())
        if kind is int:
            return self._table.get(action)
        return self.spec.choice_id(action)  # numpy integers and the rare odd type; bools and floats name nothing

    def unknown(self, action: Action) -> str:
        """Feedback for an action that names nothing: what was sent and what is allowed."""
        shown = repr(action)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{shown} is not an action; choose one of {self.listing}"


def instruction(rules: str, symbols: Mapping[str, str] | None, actions: Sequence[str], max_steps: int) -> str:
    """RAGEN's instruction layout: the rules, the symbol legend, the available actions and the action budget."""
    parts = [rules]
    if symbols:
        legend = ", ".join(f"{symbol}: {meaning}" for symbol, meaning in symbols.items())
        parts.append(f"The meaning of each symbol in the state is: {legend}.")
    parts.append(f"Your available actions are: {', '.join(actions)}.")
    parts.append(f"You can make up to {max_steps} action{'s' if max_steps != 1 else ''}.")
    return "\n".join(parts)


def grid_text(cells: Sequence[str], width: int) -> str:
    """A row-major list of one-character cells as lines of text."""
    return "\n".join("".join(cells[start : start + width]) for start in range(0, len(cells), width))


def grid_picture(codes: Sequence[int], width: int, palette: np.ndarray, tile_px: int) -> np.ndarray:
    """An HxWx3 uint8 picture: each cell a `tile_px` square in its code's palette colour, with a dark seam."""
    tiles = palette[np.asarray(codes, dtype=np.intp).reshape(-1, width)]
    picture = np.repeat(np.repeat(tiles, tile_px, axis=0), tile_px, axis=1)
    if tile_px >= 4:  # a seam between tiles keeps neighbouring cells of one colour countable
        picture[::tile_px, :, :] //= 2
        picture[:, ::tile_px, :] //= 2
    return picture


def world_rng(*parts: int) -> np.random.Generator:
    """The world's own generator, seeded from several integers (task instance seed, episode seed)."""
    return np.random.default_rng([int(part) % (1 << 64) for part in parts])


def rescore_by_replay(cls: type, task: Task, seed: int | None, steps: Sequence[Mapping]) -> tuple[bool, float]:
    """`Env.rescore` for the puzzles: they record no final state but are deterministic given the task and seed, so
    replaying the recorded actions on a fresh world scores the episode with the current rules
    (`simyard bench rescore`). Each puzzle class sets `rescore = classmethod(rescore_by_replay)`."""
    from simyard.platform.rescore import replay_score

    return replay_score(cls(), task, seed, steps)
