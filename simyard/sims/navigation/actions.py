"""EB-Navigation's eight atomic actions: their skill texts, what each does to the pose, and how input names one.

The texts and ids are EmbodiedBench's `DISCRETE_SKILLSET` (ids 0-7, in its order); the feedback names each action
by the AI2-THOR call EB-Navigation makes for it (`MoveAhead`, `RotateRight`, `LookUp`, ...), because EB's feedback
prints THOR's `lastAction`: "Last action MoveAhead executed successfully." A step also accepts those THOR names and
a skill text without its final period, as EmbodiedBench's later named-action mapper does, so a model that answers
`MoveAhead` is understood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simyard.platform.api import Action

#: EB-Navigation's step length and turn and tilt angles.
MOVE_M = 0.25
ROTATE_DEG = 90.0
TILT_DEG = 30.0
#: AI2-THOR's default agent looks at most 30 degrees up and 60 down (horizon -30..60, positive looks down).
HORIZON_MIN_DEG, HORIZON_MAX_DEG = -30.0, 60.0


@dataclass(frozen=True, slots=True)
class Skill:
    """One action: EB's text, THOR's name, and its effect (a move in the agent's frame, a turn, or a tilt).

    `ahead` and `left` are the move in metres along the heading and to its left; `turn_deg` is counter-clockwise
    seen from above (our frame, z up), so RotateRight is -90; `tilt_deg` adds to the horizon (positive looks down).
    """

    text: str
    thor: str
    ahead: float = 0.0
    left: float = 0.0
    turn_deg: float = 0.0
    tilt_deg: float = 0.0

    @property
    def moves(self) -> bool:
        return self.ahead != 0.0 or self.left != 0.0


SKILLS: tuple[Skill, ...] = (
    Skill("Move forward by 0.25", "MoveAhead", ahead=MOVE_M),
    Skill("Move backward by 0.25", "MoveBack", ahead=-MOVE_M),
    Skill("Move rightward by 0.25", "MoveRight", left=-MOVE_M),
    Skill("Move leftward by 0.25", "MoveLeft", left=MOVE_M),
    Skill("Rotate to the right by 90 degrees.", "RotateRight", turn_deg=-ROTATE_DEG),
    Skill("Rotate to the left by 90 degrees.", "RotateLeft", turn_deg=ROTATE_DEG),
    Skill("Tilt the camera upward by 30 degrees.", "LookUp", tilt_deg=-TILT_DEG),
    Skill("Tilt the camera downward by 30 degrees.", "LookDown", tilt_deg=TILT_DEG),
)
NAMES: tuple[str, ...] = tuple(skill.text for skill in SKILLS)
FORWARD, BACKWARD, RIGHTWARD, LEFTWARD, ROTATE_RIGHT, ROTATE_LEFT, LOOK_UP, LOOK_DOWN = range(8)


def _table() -> dict[str, int]:
    table: dict[str, int] = {}
    for index, skill in enumerate(SKILLS):
        for name in (skill.text, skill.text.rstrip("."), skill.thor, str(index)):
            table[name.lower()] = index
    return table


_BY_NAME = _table()


def parse(action: Action) -> int | None:
    """The id (0-7) an action names: an id, a skill text (any case, final period optional) or THOR's name; None
    for anything else (an id out of range, another string, a float, a list, None)."""
    if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
        return int(action) if 0 <= action < len(SKILLS) else None
    if isinstance(action, str):
        text = " ".join(action.split()).lower()
        found = _BY_NAME.get(text)
        return found if found is not None else _BY_NAME.get(text.rstrip("."))
    return None


def label(action: Action) -> str:
    """How feedback names what was sent: THOR's name for a known action, else the input, shortened."""
    index = parse(action)
    if index is not None:
        return SKILLS[index].thor
    shown = repr(action)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def listing() -> str:
    """The action list the way EmbodiedBench's prompt gives it."""
    body = ", ".join(f"action id {index}: {name}" for index, name in enumerate(NAMES))
    return f"The available action id (0 ~ {len(NAMES) - 1}) and action names are: {body}".rstrip(".") + "."
