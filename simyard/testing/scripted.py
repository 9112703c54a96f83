"""Building blocks for tests of runners and agents: a world and an agent whose behaviour is injected.

Like Gymnasium's `GenericTestEnv`, they make any corner case of the runner a line of test code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from simyard.platform.api import Action, ActionSpec, Agent, Decision, Env, Observation, StepResult, Task


def counting_step(world: ScriptedWorld, action: Action) -> StepResult:
    """Default step: the action 'win' succeeds, 'bad' is invalid, anything else is a valid no-op."""
    win, valid = action == "win", action != "bad"
    text = "won" if win else ("invalid: say win, noop or bad" if not valid else "nothing happened")
    info = {"valid": valid, "feedback": text, "success": win, "progress": 1.0 if win else 0.0}
    return StepResult(Observation(text), 1.0 if win else 0.0, win, False, info)


class ScriptedWorld(Env):
    """A world whose step is a function of (world, action); it records every action it was given."""

    name = "scripted"

    def __init__(
        self,
        step: Callable[[ScriptedWorld, Action], StepResult] = counting_step,
        spec: ActionSpec = ActionSpec(kind="choice", choices=("noop", "win", "bad")),
        oracle: Callable[[ScriptedWorld], Action | list[Action]] = lambda world: "win",
    ) -> None:
        self._step, self._spec, self._oracle = step, spec, oracle
        self.actions: list[Action] = []
        self.resets = 0
        self.closed = False

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.resets += 1
        self.actions = []
        return Observation("start", data={"valid_actions": list(self._spec.choices)})

    def step(self, action: Action) -> StepResult:
        self.actions.append(action)
        return self._step(self, action)

    def action_spec(self) -> ActionSpec:
        return self._spec

    def oracle(self) -> Action | list[Action]:
        return self._oracle(self)

    def close(self) -> None:
        self.closed = True


class ScriptedAgent(Agent):
    """Replies from a script, in order; an exception in the script is raised instead of returned."""

    name = "scripted"

    def __init__(self, replies: Iterable[Action | list[Action] | Decision | BaseException]) -> None:
        self.replies = list(replies)
        self.seen: list[Observation] = []
        self.observed: list[tuple[Action | None, StepResult]] = []

    def act(self, observation: Observation) -> Any:
        self.seen.append(observation)
        reply = self.replies.pop(0) if self.replies else "noop"
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def observe(self, action: Action | None, result: StepResult) -> None:
        self.observed.append((action, result))
