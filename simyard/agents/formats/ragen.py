"""RAGEN's reply: `<think> reasoning </think><answer> a1 || a2 </answer>`, several actions split by `||`.

This is the format RAGEN trains and evaluates its puzzle agents with (Sokoban, FrozenLake, Bandit, Countdown), so
scores compare. Choice names are matched case-insensitively and sent to the world in their canonical spelling; a
name that matches nothing is still sent, so the world answers with its own feedback on what is allowed (the step is
spent either way, as RAGEN spends the turn).
"""

from __future__ import annotations

import re

from simyard.agents.formats.base import Parsed, ReplyFormat, plural
from simyard.platform.api import Action, ActionSpec

SEPARATOR = "||"
_OPEN = re.compile(re.escape("<answer>"), re.IGNORECASE)
_CLOSE = re.compile(re.escape("</answer>"), re.IGNORECASE)
_THINK_END = re.compile(re.escape("</think>"), re.IGNORECASE)
_SHAPE = "<think> your reasoning </think><answer> action1 || action2 </answer>"


class RagenFormat(ReplyFormat):
    """`<think>…</think><answer>a1 || a2</answer>`, for puzzle worlds and free-text commands."""

    name = "ragen"
    kinds = frozenset({"choice", "text"})

    def instructions(self, spec: ActionSpec) -> str:
        example = " || ".join(spec.choices[:2]) if spec.kind == "choice" and spec.choices else "action1 || action2"
        what = "one action name from the list above" if spec.kind == "choice" else "one command, as described above"
        return (
            f"Always reply as {_SHAPE}, with no extra text. Each action is {what}. You may give several actions in "
            f"one answer, separated by ' {SEPARATOR} ' (e.g. <answer>{example}</answer>); they run in order, and the "
            "rest is dropped at the first invalid one."
        )

    def reminder(self, spec: ActionSpec, actions_left: int) -> str:
        return (
            f"You have {plural(actions_left, 'action')} left. Always output: <think> [Your thoughts] </think> "
            "<answer> [your answer] </answer> with no extra text. Strictly follow this format."
        )

    def parse(self, text: str, spec: ActionSpec) -> Parsed:
        think_end = _last(_THINK_END, text)
        answer = (_answer(text, think_end) if think_end >= 0 else None) or _answer(text, 0)
        if answer is None:
            if _OPEN.search(text):
                return Parsed(error=f"the <answer> block is not closed (was the reply cut short?); reply as {_SHAPE}")
            return Parsed(error=f"no <answer>...</answer> block; reply as {_SHAPE}")
        items = [_clean(part) for part in answer.split(SEPARATOR)]
        items = [item for item in items if item]
        if not items:
            return Parsed(error=f"the <answer> block is empty; give at least one action, as {_SHAPE}")
        actions: list[Action] = []
        for item in items:
            index = _choice(item, spec) if spec.kind == "choice" else None
            actions.append(spec.choices[index] if index is not None else item)
        return Parsed(actions=actions)


def _answer(text: str, start: int) -> str | None:
    """The text of the first <answer> block opening at or after `start` (two literal searches: linear time)."""
    opening = _OPEN.search(text, start)
    closing = _CLOSE.search(text, opening.end()) if opening else None
    return text[opening.end() : closing.start()] if opening and closing else None


def _last(pattern: re.Pattern[str], text: str) -> int:
    """Where the last match of `pattern` starts, or -1."""
    last = -1
    for match in pattern.finditer(text):
        last = match.start()
    return last


def _choice(item: str, spec: ActionSpec) -> int | None:
    """The id `item` names, forgiving a full stop added or dropped at the end (some skill names end in one)."""
    for variant in (item, item.removesuffix("."), item + "."):
        if (index := spec.choice_id(variant)) is not None:
            return index
    return None


def _clean(item: str) -> str:
    """An action as written, without the quotes and backticks models like to wrap it in."""
    item = item.strip()
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'`":
        item = item[1:-1].strip()
    return item
