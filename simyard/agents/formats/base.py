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


#: Replies longer than this are read only at their two ends (half each): a model that writes 160 KB has already
#: failed the task's spirit, and reading it all would let one reply stall the event loop that serves other episodes.
MAX_PARSE_CHARS = 64_000
#: Brackets nested deeper than this are never an action; such spans are skipped without being decoded.
MAX_JSON_DEPTH = 64
#: Decoding stops once the spans tried add up to this many times the reply's length (nested spans overlap), so a
#: reply full of near-JSON costs O(size), not O(size²).
DECODE_BUDGET = 4

_FENCE_TAG = re.compile(r"[a-zA-Z0-9_-]*\s*")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
# The characters the bracket scan cares about; a backslash travels with the character it escapes.
_STRUCTURE = re.compile(r"\\.|[{}\[\]\"']", re.DOTALL)
_CLOSERS = {"{": "}", "[": "]"}
# How a JSON value or Python literal can begin: spans that open otherwise (`{x}`, `[see above]`) are not decoded.
_PLAUSIBLE = re.compile(r"""\{\s*[-"'}\d]|\[\s*(?:[-\[\]{"'\d.+]|true|false|null|True|False|None)""")
_PYTHON_ONLY = re.compile(r"'|\b(?:True|False|None)\b|\)")


def parse_reply(reply_format: ReplyFormat, text: str, spec: ActionSpec) -> Parsed:
    """`reply_format.parse(text)`, reading an overlong reply only at its ends, in time linear in `MAX_PARSE_CHARS`.

    The end of the reply is tried first (RAGEN's answer follows the thinking), then its start. Either way the model
    is told its reply was cut, in the notes of a plan or in the error.
    """
    if len(text) <= MAX_PARSE_CHARS:
        return reply_format.parse(text, spec)
    half = MAX_PARSE_CHARS // 2
    cut = f"your reply had {len(text):,} characters; only its first and last {half:,} were read: keep replies short"
    first_error = None
    for part in (text[-half:], text[:half]):
        parsed = reply_format.parse(part, spec)
        if parsed.error is None:
            return Parsed(actions=parsed.actions, notes=[cut, *parsed.notes])
        first_error = first_error or parsed.error
    return Parsed(error=f"{first_error} ({cut})")


def find_json(text: str, openers: str = "{[") -> Any | None:
    """The outermost JSON value in a model reply, or None.

    Models wrap JSON in ```json fences, put prose around it, or write Python literals (single quotes, True, None)
    and trailing commas. Fenced blocks are tried first, then the whole text; in each, the first opening bracket
    whose balanced span decodes wins, which is the outermost value because inner ones open later. One scan finds
    every balanced span no deeper than `MAX_JSON_DEPTH`, and the spans decoded add up to at most `DECODE_BUDGET`
    times the reply's length, so the time is linear in the reply's length whatever it holds.

    Args:
        text: The reply.
        openers: Which values to look for: `{` objects, `[` arrays.
    """
    budget = DECODE_BUDGET * len(text) + 1024
    for candidate in [*_fenced_blocks(text), text]:
        for start, end in _balanced_spans(candidate, openers):
            budget -= end - start
            if budget < 0:
                return None
            if _PLAUSIBLE.match(candidate, start) and (value := _decode(candidate[start:end])) is not None:
                return value
    return None


def _fenced_blocks(text: str) -> list[str]:
    """The bodies of the ``` fenced blocks in `text`, in order (str.find only: linear)."""
    blocks: list[str] = []
    position = 0
    while (opening := text.find("```", position)) >= 0:
        body = _FENCE_TAG.match(text, opening + 3).end()  # type: ignore[union-attr] (the pattern matches empty text)
        closing = text.find("```", body)
        if closing < 0:
            break
        blocks.append(text[body:closing])
        position = closing + 3
    return blocks


def _balanced_spans(text: str, openers: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced bracket span opening with one of `openers`, by start, nested at most
    `MAX_JSON_DEPTH` deep.

    Quoted strings are skipped inside brackets only, and only where a value or key may start, so the apostrophes of
    prose never hide the JSON after them. A closer that does not match breaks every span still open, as it would
    break a decoder reading from any of their starts.
    """
    stack: list[list[Any]] = []  # [start, expected closer, depth of the deepest span inside]
    found: list[tuple[int, int]] = []
    quote: str | None = None
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if quote:
            if token == quote:
                quote = None
            continue
        char = token[-1] if token[0] == "\\" else token
        if char in "\"'":
            # A string opens only where a value or key may start; elsewhere it is prose ("don't", "the 'x' key").
            if stack and _opens_value(text, match.start()):
                quote = char
        elif char in _CLOSERS:
            stack.append([match.end() - 1, _CLOSERS[char], 0])
        elif stack and stack[-1][1] == char:
            start, _, inner = stack.pop()
            depth = inner + 1
            if stack:
                stack[-1][2] = max(stack[-1][2], depth)
            if depth <= MAX_JSON_DEPTH and text[start] in openers:
                found.append((start, match.end()))
        elif stack:
            stack.clear()
    found.sort()
    return found


def _opens_value(text: str, index: int) -> bool:
    """Whether the quote at `index` follows (after blanks) a bracket, comma or colon, where a string may start."""
    before = index - 1
    while before >= 0 and text[before] in " \t\r\n":
        before -= 1
    return before >= 0 and text[before] in "{[(,:"


def _decode(span: str) -> Any | None:
    """A bracketed span as JSON, as JSON without trailing commas, or as a Python literal; None if none fits."""
    attempts: list[Any] = [json.loads]
    if _TRAILING_COMMA.search(span):
        attempts.append(lambda text: json.loads(_TRAILING_COMMA.sub(r"\1", text)))
    if _PYTHON_ONLY.search(span):
        attempts.append(ast.literal_eval)
    for attempt in attempts:
        try:
            value = attempt(span)
        except Exception:  # noqa: BLE001 (ValueError, SyntaxError, MemoryError, TypeError: all mean "not this")
            continue
        if isinstance(value, (dict, list)):
            return value
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
