"""EmbodiedBench's planner reply: one JSON object whose `executable_plan` lists `{action_id, action_name}` steps.

The four keys are EmbodiedBench's (`visual_state_description`, `reasoning_and_reflection`, `language_plan`,
`executable_plan`); only the plan is needed to act, so a reply missing the others still acts. Each step is checked
against the world's choices: the id wins, the name is the fallback, and a contradiction between them is reported
back to the model. As in EmbodiedBench, an unknown first step rejects the reply, and an unknown later step cuts the
plan just before it.
"""

from __future__ import annotations

import json
from typing import Any

from simyard.agents.formats.base import Parsed, ReplyFormat, as_int, find_json, plural
from simyard.platform.api import Action, ActionSpec

KEYS = ("visual_state_description", "reasoning_and_reflection", "language_plan", "executable_plan")


class EmbodiedJSON(ReplyFormat):
    """EmbodiedBench's JSON plan, for worlds of skills (`choice`) and, with names as commands, `text` worlds."""

    name = "embodiedbench"
    kinds = frozenset({"choice", "text"})

    def instructions(self, spec: ActionSpec) -> str:
        if spec.kind == "choice":
            first = spec.choices[0] if spec.choices else "..."
            step = f'{{"action_id": 0, "action_name": "{first}"}}'
            rule = "Each step names one available action by its id and its exact name; the id and the name must match."
        else:
            step = '{"action_name": "<command>"}'
            rule = "Each step's action_name is one command, written as the actions section describes."
        return "\n".join(
            [
                "Reply with one JSON object and nothing else, with these keys:",
                '- "visual_state_description": what you see in the current image(s), if any;',
                '- "reasoning_and_reflection": a summary of the history and its feedback, and why the last plan '
                "failed, if it did;",
                '- "language_plan": the plan in numbered natural-language steps;',
                f'- "executable_plan": a non-empty list of steps, e.g. [{step}, ...].',
                rule,
                "The steps run in order; the rest of the plan is dropped at the first invalid action, and you plan "
                "again from the new state. Do not repeat a sequence that already failed.",
            ]
        )

    def reminder(self, spec: ActionSpec, actions_left: int) -> str:
        return (
            f"You have {plural(actions_left, 'step')} left. Describe the current state, reflect on the history and its "
            "feedback, then output the JSON object with a new non-empty executable_plan."
        )

    def parse(self, text: str, spec: ActionSpec) -> Parsed:
        expected = f"reply with one JSON object with the keys {', '.join(KEYS)}"
        reply = find_json(text, "{")
        if not isinstance(reply, dict):
            return Parsed(error=f"the reply holds no JSON object; {expected}")
        if "executable_plan" not in reply:
            return Parsed(error=f"the JSON object has no executable_plan; {expected}")
        plan = reply["executable_plan"]
        if isinstance(plan, str):  # some models stringify the list, as EB-Manipulation's format does on purpose
            listed = find_json(plan, "[")
            if not isinstance(listed, list):
                return Parsed(
                    error=f"executable_plan is a string ({_show(plan)}), not a list of {{action_id, action_name}} "
                    'steps; write it as a JSON list, e.g. [{"action_id": 0, "action_name": "..."}]'
                )
            plan = listed
        if plan is None:
            return Parsed(error="executable_plan is null; give a non-empty list of {action_id, action_name} steps")
        if not isinstance(plan, list):
            return Parsed(error=f"executable_plan must be a list of {{action_id, action_name}} steps, not {plan!r:.80}")
        if not plan:
            return Parsed(error="executable_plan is empty; give at least one action")
        actions: list[Action] = []
        notes: list[str] = []
        for number, item in enumerate(plan, start=1):
            action, problem = _resolve(item, spec)
            if action is None:
                if not actions:
                    return Parsed(error=f"step 1 of executable_plan: {problem}")
                notes.append(f"executable_plan was cut before step {number}: {problem}")
                break
            if problem:
                notes.append(f"step {number} of executable_plan: {problem}")
            actions.append(action)
        return Parsed(actions=actions, notes=notes)


def _resolve(item: Any, spec: ActionSpec) -> tuple[Action | None, str | None]:
    """(action, note) for one plan step; the action is None when the step names nothing the world accepts."""
    if isinstance(item, dict):
        raw_id, name = item.get("action_id"), item.get("action_name")
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        raw_id, name = item
    elif isinstance(item, str) and as_int(item) is None:
        raw_id, name = None, item
    else:
        raw_id, name = item, None
    if spec.kind != "choice":
        if isinstance(name, str) and name.strip():
            return name.strip(), None
        return None, f"{_show(item)} has no action_name command"

    count = len(spec.choices)
    index = as_int(raw_id)
    named = isinstance(name, str) and bool(name.strip())
    by_name = spec.choice_id(name) if named and as_int(name) is None else None
    if index is not None and 0 <= index < count:
        if named and by_name != index:
            return index, (
                f"action_id {index} is {spec.choices[index]!r} but action_name says {name!r}; the id was used"
            )
        return index, None
    if by_name is not None:
        if raw_id is not None:
            return by_name, f"action_id {raw_id!r} is not an available id; the name {name!r} (id {by_name}) was used"
        return by_name, None
    return None, f"{_show(item)} is not an available action (ids 0 to {count - 1}, with their exact names)"


def _show(item: Any) -> str:
    text = json.dumps(item) if isinstance(item, (dict, list, str, int, float)) else repr(item)
    return text if len(text) <= 120 else text[:119] + "…"
