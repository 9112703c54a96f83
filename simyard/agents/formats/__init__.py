"""Reply formats and prompt builders for model-driven agents.

Two formats come from the benchmarks simyard reproduces, so scores compare: EmbodiedBench's JSON plan
(`embodiedbench`) for skill worlds, and RAGEN's `<think>…</think><answer>a1 || a2</answer>` (`ragen`) for the puzzle
worlds and free-text commands. Worlds whose action is a JSON object or a vector get the action itself (`json`,
`vector`). `choose_format("auto", ...)` picks by world and action kind.
"""

from __future__ import annotations

from simyard.agents.formats.base import MAX_PARSE_CHARS, Parsed, Prompt, ReplyFormat, find_json, parse_reply
from simyard.agents.formats.embodied import EmbodiedJSON
from simyard.agents.formats.prompt import HistoryEntry, build_prompt, describe_action
from simyard.agents.formats.ragen import RagenFormat
from simyard.agents.formats.structured import JsonObjectFormat, VectorPlanFormat
from simyard.platform.api import ActionSpec
from simyard.platform.errors import SimyardError, UnknownNameError

#: Worlds that RAGEN trained and evaluated on; they get its format under `auto`, whatever their action kind.
RAGEN_WORLDS = frozenset({"sokoban", "frozenlake", "bandit", "countdown"})

FORMATS: dict[str, type[ReplyFormat]] = {
    cls.name: cls for cls in (EmbodiedJSON, RagenFormat, JsonObjectFormat, VectorPlanFormat)
}
_AUTO_BY_KIND: dict[str, type[ReplyFormat]] = {
    "choice": EmbodiedJSON,
    "text": RagenFormat,
    "json": JsonObjectFormat,
    "vector": VectorPlanFormat,
}


def check_format_name(name: str) -> str:
    """`name` if it is `auto` or a known format, else an error listing them (for agent constructors)."""
    if name != "auto" and name not in FORMATS:
        raise UnknownNameError(f"no reply format named {name!r}", hint=f"use one of: auto, {', '.join(FORMATS)}")
    return name


def choose_format(name: str, world: str, spec: ActionSpec) -> ReplyFormat:
    """The reply format for an episode of `world`, whose actions follow `spec`.

    Args:
        name: `auto`, or a name from `FORMATS`.
        world: The task's world name (`auto` gives RAGEN's worlds RAGEN's format).
        spec: What the world accepts.

    Raises:
        SimyardError: The format is unknown, or cannot express this world's actions.
    """
    check_format_name(name)
    if name == "auto":
        cls = RagenFormat if world in RAGEN_WORLDS and spec.kind in RagenFormat.kinds else _AUTO_BY_KIND[spec.kind]
    else:
        cls = FORMATS[name]
    if spec.kind not in cls.kinds:
        fits = [n for n, c in FORMATS.items() if spec.kind in c.kinds]
        raise SimyardError(
            f"reply format {cls.name!r} cannot express the {spec.kind} actions of world {world!r}",
            hint=f"use format=auto or one of: {', '.join(fits)}",
        )
    return cls()


__all__ = [
    "FORMATS",
    "MAX_PARSE_CHARS",
    "RAGEN_WORLDS",
    "EmbodiedJSON",
    "HistoryEntry",
    "JsonObjectFormat",
    "Parsed",
    "Prompt",
    "RagenFormat",
    "ReplyFormat",
    "VectorPlanFormat",
    "build_prompt",
    "check_format_name",
    "choose_format",
    "describe_action",
    "find_json",
    "parse_reply",
]
