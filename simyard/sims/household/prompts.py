"""The planner's framing for the household worlds, laid out as EmbodiedBench's VLM planner lays it out.

EmbodiedBench's system prompt has, in order: a role line, one bullet per skill family saying when it is valid, the
numbered action list, in-context examples, and guidelines. simyard's prompt builder (`agents.formats.prompt`) puts
`ActionSpec.role`, `help`, the action list and `guidelines` in that order, so these texts go into the worlds' action
specs. The wording is simyard's own, written to carry the same rules; EmbodiedBench's ten in-context examples are not
reproduced (docs/architecture.md lists this difference).
"""

# ruff: noqa: E501  (one prompt bullet per line reads best)
from __future__ import annotations

ALFRED_ROLE = (
    "You are a robot operating in a home. Given a task, you must accomplish it using the defined set of actions to "
    "reach the desired outcome."
)

ALFRED_HELP = "\n".join(
    (
        "- Find: parameterised by the name of the object or receptacle to go to. Valid as long as the object is in the scene.",
        "- Pick up: parameterised by the name of the object to pick up. Valid only when the robot is close to the object, holds nothing, and the object is not inside a closed receptacle.",
        "- Put down: puts the object in hand into or onto the receptacle found last. Valid only when the robot holds an object and that receptacle is open (or has no door).",
        "- Drop: drops the object in hand. Valid only when the robot holds an object.",
        "- Open: parameterised by the name of the receptacle to open. Valid only when it is closed and the robot is close to it.",
        "- Close: parameterised by the name of the receptacle to close. Valid only when it is open and the robot is close to it.",
        "- Turn on: parameterised by the name of the object to turn on. Valid only when it is off and the robot is close to it.",
        "- Turn off: parameterised by the name of the object to turn off. Valid only when it is on and the robot is close to it.",
        "- Slice: parameterised by the name of the object to slice. Valid only when the object can be sliced, the robot is close to it, and the robot holds a knife.",
        "Send a skill's id or its exact text.",
    )
)

HABITAT_ROLE = (
    "You are a robot operating in a home with a kitchen and a living room. Given a task, you must accomplish it "
    "using the defined set of actions to reach the desired outcome."
)

HABITAT_HELP = "\n".join(
    (
        "- Navigate: parameterised by the name of the receptacle to go to. Always valid.",
        "- Pick up: parameterised by the name of the object to pick up. Valid only when the robot is at the receptacle the object is on or in, holds nothing, and the object is not inside a closed refrigerator or cabinet.",
        "- Place: parameterised by the name of the receptacle to place the object in hand at. Valid only when the robot holds an object and is at that receptacle, and the receptacle is open if it has a door.",
        "- Open: parameterised by the refrigerator or a cabinet. Valid only when it is closed and the robot is next to it.",
        "- Close: parameterised by the refrigerator or a cabinet. Valid only when it is open and the robot is next to it.",
        "Send a skill's id or its exact text.",
    )
)

GUIDELINES = "\n".join(
    (
        "- Output a non-empty plan of at most 20 actions.",
        "- Go to (find or navigate to) an object or receptacle before you interact with it.",
        "- Make sure each action id matches its action name.",
        "- Do not repeat an action sequence that already failed; try something else.",
        "- When one instance of a receptacle does not work (a Cabinet, say), explore the others (Cabinet_2, Cabinet_3, ...).",
        "- Reflect on the action history and the environment's feedback before you plan again.",
    )
)
