"""The prompt a planner sends each turn, built from the task, the action spec, the history and the observation.

Its layout follows EmbodiedBench's planner: the system text gives the role, the actions (numbered, `action id k:
name`) and the reply format; the user text gives the instruction, the action history with the world's feedback
(`Step i, action id k, name, env feedback: ...`), the current observation and a closing request. Only the current
frames are attached; past ones are described by the history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simyard.agents.formats.base import Prompt, ReplyFormat, choice_list
from simyard.platform.api import Action, ActionSpec, Observation, Task

ROLE = (
    "You are an agent acting in a world to complete a task. You act only through the actions below. Every action "
    "costs a step, and an invalid action (or a reply that cannot be read) costs a step too."
)
#: Lists of valid actions longer than this are cut in the prompt (EB-ALFRED scenes list 160+).
MAX_LISTED = 50


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One executed step as the planner remembers it.

    Attributes:
        action: What was sent to the world; None when the reply held no usable action.
        feedback: The world's (or the runner's) feedback text.
        reward: The step's reward.
        valid: Whether the step was valid.
    """

    action: Action | None
    feedback: str
    reward: float
    valid: bool


def build_prompt(
    task: Task,
    spec: ActionSpec,
    observation: Observation,
    history: Sequence[HistoryEntry],
    reply_format: ReplyFormat,
    *,
    keep: int | None = None,
    actions_left: int | None = None,
    notes: Sequence[str] = (),
) -> Prompt:
    """The prompt for the next turn.

    Args:
        task: The episode's task (its instruction is restated every turn).
        spec: What the world accepts.
        observation: What the agent sees now; its images are attached.
        history: Every step so far, oldest first.
        reply_format: How the model must answer.
        keep: Show only the latest `keep` steps of the history (None: all).
        actions_left: Steps left in the episode, for the closing request.
        notes: Remarks on the last reply that produced a plan anyway (an id/name mismatch, a cut plan).
    """
    parts = [spec.role.strip() or ROLE, "## Actions\n" + describe_spec(spec)]
    if spec.guidelines.strip():
        parts.append("## Guidelines\n" + spec.guidelines.strip())
    system = "\n\n".join([*parts, "## Reply format\n" + reply_format.instructions(spec)])
    sections = [f"## The instruction is: {task.instruction or '(none given; see the observation)'}"]
    if history and keep != 0:
        shown = list(enumerate(history, start=1))[-keep if keep else None :]
        header = "## The action history" + (
            f" (the latest {len(shown)} of {len(history)} steps)" if len(shown) < len(history) else ""
        )
        lines = [_history_line(step, entry, spec) for step, entry in shown]
        sections.append(header + ":\n" + "\n".join(lines))
    if notes:
        sections.append("## Notes on your last reply:\n" + "\n".join(f"- {note}" for note in notes))
    sections.append("## Current observation:\n" + (observation.text.strip() or "(no text)"))
    if observation.images:
        sections[-1] += f"\n(Attached image(s): {', '.join(observation.images)}.)"
    valid = observation.data.get("valid_actions") if isinstance(observation.data, Mapping) else None
    if isinstance(valid, Sequence) and not isinstance(valid, str) and valid and not _lists_every_choice(valid, spec):
        listed = "; ".join(describe_action(action, spec) for action in valid[:MAX_LISTED])
        more = f"; and {len(valid) - MAX_LISTED} more" if len(valid) > MAX_LISTED else ""
        sections.append(f"Valid actions now: {listed}{more}")
    sections.append(reply_format.reminder(spec, actions_left if actions_left is not None else task.max_steps))
    return Prompt(system=system, user="\n\n".join(sections), images=dict(observation.images))


def describe_spec(spec: ActionSpec) -> str:
    """The actions section: the world's help text, then what an action looks like for its kind."""
    parts = [spec.help.strip()] if spec.help.strip() else []
    if spec.kind == "choice":
        parts.append(
            f"The available action ids (0 ~ {len(spec.choices) - 1}) and action names are:\n{choice_list(spec)}"
        )
    elif spec.kind == "text":
        parts.append("An action is one command string.")
    elif spec.kind == "json":
        schema = f":\n{json.dumps(spec.schema)}" if spec.schema else "."
        parts.append(f"An action is a JSON object matching this schema{schema}")
    else:
        numbers = "integers" if spec.integer else "numbers"
        bounds = ""
        if spec.low is not None and spec.high is not None:
            bounds = f" Number i lies between low[i] and high[i]: low = {list(spec.low)}, high = {list(spec.high)}."
        parts.append(f"An action is a list of {spec.size or 'some'} {numbers}.{bounds}")
    return "\n".join(parts)


def describe_action(action: Action | None, spec: ActionSpec) -> str:
    """An action as the history shows it: `action id k, name` for choices, the command or JSON otherwise."""
    if action is None:
        return "no usable action"
    if spec.kind == "choice" and (index := spec.choice_id(action)) is not None:
        return f"action id {index}, {spec.choices[index]}"
    if isinstance(action, str):
        return repr(action)
    if isinstance(action, np.ndarray):
        action = action.tolist()
    try:
        return json.dumps(action)
    except TypeError:
        return repr(action)


def _lists_every_choice(valid: Sequence[Action], spec: ActionSpec) -> bool:
    """Whether `valid` names every choice, so repeating it would say nothing the action list does not."""
    return spec.kind == "choice" and {spec.choice_id(action) for action in valid} >= set(range(len(spec.choices)))


def _history_line(step: int, entry: HistoryEntry, spec: ActionSpec) -> str:
    feedback = " ".join(entry.feedback.split()) or ("valid" if entry.valid else "invalid")
    reward = f", reward {entry.reward:g}" if entry.reward else ""
    return f"Step {step}, {describe_action(entry.action, spec)}{reward}, env feedback: {feedback}"
