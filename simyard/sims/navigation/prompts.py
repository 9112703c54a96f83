"""The planner's framing for `navigation`, laid out as EmbodiedBench's navigation planner lays it out.

EB-Navigation's system prompt gives a role, what the actions do and a strategy (find the target first, move mostly
forward and sideways, rotate sparingly and once at a time when the target is lost, do not stop early). The words
here are simyard's own and carry the same rules; EB's three in-context examples are not reproduced.
"""

# ruff: noqa: E501  (one prompt bullet per line reads best)
from __future__ import annotations

ROLE = (
    "You are a robot navigating a kitchen. You see the room through a camera at eye height and must move close to "
    "the object the instruction describes, using the defined set of actions."
)

HELP = "\n".join(
    (
        "- Move forward/backward/rightward/leftward by 0.25: a step of 0.25 m in that direction, relative to where you face, without turning. Invalid when a wall or furniture is in the way.",
        "- Rotate to the right/left by 90 degrees: turn in place.",
        "- Tilt the camera upward/downward by 30 degrees: look up or down (at most 30 degrees up and 60 down).",
        "The task succeeds as soon as you are within 1 m of the target object. Send an action's id or its exact text.",
    )
)

GUIDELINES = "\n".join(
    (
        "- First locate the target in the image; if it is not in view, rotate (one rotation at a time) to look for it.",
        "- Once the target is in view, move mostly forward, leftward and rightward to approach it; avoid needless rotations.",
        "- When a move is invalid, something blocks the way: step sideways around it.",
        "- Keep going until you are close to the target; do not stop early.",
        "- Output a non-empty plan of a few actions, and reflect on the feedback before you plan again.",
    )
)
