"""Replies that are the action itself: a JSON object for `json` worlds, number lists for `vector` worlds.

The world validates the action against its schema or bounds and answers with feedback, so these formats check only
the shape a step must have to be sent at all. A reply may be a plan: a list of objects, or a list of vectors (as
EB-Manipulation's planner answers). EB-Manipulation's own reply, an object whose `executable_plan` holds the vectors
(as a list or as a string), is accepted too.
"""

from __future__ import annotations

import json
from numbers import Real
from typing import Any

from simyard.agents.formats.base import Parsed, ReplyFormat, find_json, plural
from simyard.platform.api import Action, ActionSpec


class JsonObjectFormat(ReplyFormat):
    """The action is a JSON object; a list of objects is a plan."""

    name = "json"
    kinds = frozenset({"json"})

    def instructions(self, spec: ActionSpec) -> str:
        return (
            "Reply with the action as one JSON object, as the actions section describes. To plan several actions, "
            "reply with a JSON list of such objects; they run in order, and the rest is dropped at the first invalid "
            "one. Write nothing else."
        )

    def reminder(self, spec: ActionSpec, actions_left: int) -> str:
        return f"You have {plural(actions_left, 'step')} left. Output the JSON action (or a list of them) now."

    def parse(self, text: str, spec: ActionSpec) -> Parsed:
        reply = find_json(text)
        if isinstance(reply, dict):
            return Parsed(actions=[reply])
        if isinstance(reply, list) and reply and all(isinstance(item, dict) for item in reply):
            return Parsed(actions=list(reply))
        if isinstance(reply, list) and not reply:
            return Parsed(error="the plan is an empty list; give at least one JSON action object")
        return Parsed(error="the reply holds no JSON object; reply with the action as one JSON object")


class VectorPlanFormat(ReplyFormat):
    """The action is a list of numbers; a list of such lists is a plan."""

    name = "vector"
    kinds = frozenset({"vector"})

    def instructions(self, spec: ActionSpec) -> str:
        return (
            "Reply with a JSON list of actions (a plan), e.g. [[...], [...]], each action a list of numbers as the "
            "actions section describes; they run in order, and the rest is dropped at the first invalid one. "
            "Write the list and nothing else."
        )

    def reminder(self, spec: ActionSpec, actions_left: int) -> str:
        return f"You have {plural(actions_left, 'step')} left. Output the plan as a JSON list of actions now."

    def parse(self, text: str, spec: ActionSpec) -> Parsed:
        reply = find_json(text)
        if isinstance(reply, dict):
            reply = reply.get("executable_plan")
            if isinstance(reply, str):
                listed = find_json(reply, "[")
                if not isinstance(listed, list):
                    shown = reply if len(reply) <= 60 else reply[:59] + "…"
                    return Parsed(error=f"executable_plan is a string ({shown!r}), not a JSON list of actions")
                reply = listed
        if not isinstance(reply, list):
            return Parsed(error="the reply holds no JSON list of numbers; reply with a plan like [[...], [...]]")
        if not reply:
            return Parsed(error="the plan is an empty list; give at least one action")
        plan = [reply] if all(_is_number(x) for x in reply) else reply
        actions: list[Action] = []
        notes: list[str] = []
        for number, item in enumerate(plan, start=1):
            problem = _vector_problem(item, spec)
            if problem is None:
                actions.append([float(x) if not isinstance(x, int) else x for x in item])
                continue
            if not actions:
                return Parsed(error=f"action 1 of the plan: {problem}")
            notes.append(f"the plan was cut before action {number}: {problem}")
            break
        return Parsed(actions=actions, notes=notes)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _vector_problem(item: Any, spec: ActionSpec) -> str | None:
    if not isinstance(item, list) or not all(_is_number(x) for x in item):
        return f"{json.dumps(item, default=str)[:80]} is not a list of numbers"
    if spec.size is not None and len(item) != spec.size:
        return f"{json.dumps(item)[:80]} has {len(item)} numbers, not {spec.size}"
    return None
