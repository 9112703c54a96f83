"""What every reply format shares: the prompt it fills, the parse result it returns, and tolerant JSON extraction.

A reply format is a pair of promises: `instructions` tell the model how to answer, and `parse` turns the answer
back into actions, or into an error message that says what was wrong and what is expected. The message goes back to
the model as the feedback of one invalid step, so it is written for the model to read.
"""

from __future__ import annotations

import abc
import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from simyard.platform.api import Action, ActionKind, ActionSpec


@dataclass(frozen=True, slots=True)
class Prompt:
    """A provider-neutral prompt: one system text and one user turn with its images.

    Following EmbodiedBench's default (`chat_history=False`), every call is a fresh prompt that restates the
    history as text and attaches only the current frames, so the cost per call stays flat over an episode.

    Attributes:
        system: Role, actions and reply format: the same for every call of an episode.
        user: Instruction, history, current observation and the closing request.
        images: Named HxWx3 uint8 frames of the current observation.
    """

    system: str
    user: str
    images: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A reply turned into actions.

    Attributes:
        actions: The plan, in order; empty when `error` is set.
        error: Why no action could be taken, written for the model ("what was wrong, what is expected").
        notes: Things the model should hear even though a plan came out (an id that contradicts its name, a plan
            cut short at an unknown action).
    """

    actions: list[Action] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


class ReplyFormat(abc.ABC):
    """How the model is asked to answer, and how its answer becomes actions."""

    #: The name `--agent-opt format=NAME` selects.
    name: ClassVar[str] = ""
    #: The action kinds this format can express.
    kinds: ClassVar[frozenset[ActionKind]] = frozenset()

    @abc.abstractmethod
    def instructions(self, spec: ActionSpec) -> str:
        """The reply-format section of the system prompt."""

    @abc.abstractmethod
    def reminder(self, spec: ActionSpec, actions_left: int) -> str:
        """The closing line of each user turn: what to output now."""

    @abc.abstractmethod
    def parse(self, text: str, spec: ActionSpec) -> Parsed:
        """The actions in `text`, or an error saying what was wrong and what is expected."""


_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def find_json(text: str, openers: str = "{[") -> Any | None:
    """The outermost JSON value in a model reply, or None.

    Models wrap JSON in ```json fences, put prose around it, or write Python literals (single quotes, True, None)
    and trailing commas. Fenced blocks are tried first, then the whole text; in each, the first opening bracket
    whose balanced span decodes wins, which is the outermost value because inner ones open later.

    Args:
        text: The reply.
        openers: Which values to look for: `{` objects, `[` arrays.
    """
    for candidate in [*_FENCE.findall(text), text]:
        for start, char in enumerate(candidate):
            if char in openers and (value := _decode_at(candidate, start)) is not None:
                return value
    return None


def _decode_at(text: str, start: int) -> Any | None:
    try:
        return json.JSONDecoder().raw_decode(text, start)[0]
    except ValueError:
        pass
    end = _balanced_end(text, start)
    if end is None:
        return None
    span = text[start:end]
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", span))
    except ValueError:
        pass
    try:
        value = ast.literal_eval(span)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (dict, list)) else None


def _balanced_end(text: str, start: int) -> int | None:
    """End index of the bracketed span opening at `start`, skipping quoted strings; None if it never closes."""
    closers = {"{": "}", "[": "]"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in closers:
            stack.append(closers[char])
        elif char in "}]":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return index + 1
    return None


def as_int(value: Any) -> int | None:
    """An integer id written as a number or digits ("3", 3.0), or None; booleans are not ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def choice_list(spec: ActionSpec) -> str:
    """The EmbodiedBench-style numbered list of choices, one per line."""
    return "\n".join(f"action id {index}: {name}" for index, name in enumerate(spec.choices))


def plural(count: int, noun: str) -> str:
    """`1 step`, `2 steps`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
