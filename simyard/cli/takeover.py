"""Taking over a model's episode from the terminal: pause it, play or edit its actions, hand control back.

`simyard episode run` with a model agent at a terminal wraps the agent in a `TakeoverAgent`. Ctrl-C once (or Enter)
asks for a pause; it happens before the next action runs, once the model has proposed it. The person then sees the
observation and the proposal, prefilled on the input line so it can be edited (readline), and answers: Enter runs
the proposal as it is, an edited or newly typed action runs instead (the step is marked `by: human` in the
trajectory, with the model's proposal kept beside it), `:c` hands control back to the model, `:q` or Ctrl-D ends the
episode. A second Ctrl-C quits: the episode ends `quit` and its trajectory gets its end line like any other.

The person's input is read by the `human` agent itself, so typing actions works exactly as when playing alone.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from simyard.agents.human import HumanAgent
from simyard.platform.api import (
    Action,
    ActionSpec,
    Agent,
    Decision,
    Env,
    EpisodeQuit,
    Observation,
    StepResult,
    Task,
    WorldAware,
)
from simyard.platform.episode import as_decision, is_async_agent, jsonable_action

#: `info["agent"]["by"]` (and a step line's `by`) of a step a person chose while a model was playing.
BY_HUMAN = "human"
HAND_BACK_WORDS = frozenset({":c", ":continue"})


class TakeoverQuit(EpisodeQuit):
    """The person pressed Ctrl-C a second time: the episode ends as `quit`, recorded to its end."""


class _HandBack(Exception):
    """The person typed `:c`: the model's proposal runs and the model plays on."""


class TakeoverAgent(Agent, WorldAware):
    """A model agent that a person at the terminal can pause and take over, one turn or many.

    Args:
        model: The agent that plays while the person watches.
        print_fn: Shows text to the person.
        input_fn: Reads one line (the builtin `input`, with readline editing and the proposal prefilled).
        stdin: Checked without blocking, between turns, for a line typed while the model plays (Enter pauses).
    """

    name = "takeover"

    def __init__(self, model: Agent, print_fn: Callable[[str], None] = print,
                 input_fn: Callable[[str], str] = input, stdin: Any = None) -> None:
        self.model = model
        self.print_fn = print_fn
        self.input_fn = input_fn
        self.stdin = sys.stdin if stdin is None else stdin
        self.pause_requested = False  # set by the first Ctrl-C (`pausing_on_sigint`) or a typed line
        self.in_control = False  # the person holds control until `:c`
        self.interrupted = False  # the episode ended by a second Ctrl-C
        self.human_steps = 0
        self.spec = ActionSpec(kind="text")
        self._task: Task | None = None
        self._human: HumanAgent | None = None
        self._prefill = ""  # the proposal as the person would type it, put on the input line
        self._proposal = ""  # the line that shows the proposal, printed right before the prompt
        self._shown: str | None = None  # the observation the live printer already showed
        self._last_line = ""
        self._reads = 0

    def reset(self, task: Task, spec: ActionSpec) -> None:
        self.spec, self._task, self._human = spec, task, None
        self.model.reset(task, spec)

    def attach(self, env: Env) -> None:
        if isinstance(self.model, WorldAware):
            self.model.attach(env)

    def observe(self, action: Action, result: StepResult) -> None:
        self.model.observe(action, result)

    def close(self) -> None:
        self.model.close()

    def act(self, observation: Observation) -> Decision:
        try:
            proposal = as_decision(self.model.act(observation), self.spec)
        except KeyboardInterrupt:
            raise self._quit() from None
        return self.decide(observation, proposal)

    # ------------------------------------------------------------------------------------------ the person's turn

    def decide(self, observation: Observation, proposal: Decision) -> Decision:
        """The model's proposal, or, while paused, what the person makes of it."""
        if not self.in_control and not (self.pause_requested or self._line_waiting()):
            return proposal
        if not self.in_control:
            self.in_control, self.pause_requested = True, False
            self.print_fn("-- paused: you have control. Enter runs the model's action as shown, or edit it or type "
                          "your own; :c hands control back to the model, :q ends the episode, Ctrl-C quits.")
        if self._human is None:
            self._human = HumanAgent(input_fn=self._read, print_fn=lambda text: None)
            if self._task is not None:
                self._human.reset(self._task, self.spec)  # the task was shown when the episode started
            self._human.print_fn = self._show
        self._prefill = _action_text(proposal.actions[0], self.spec) if len(proposal.actions) == 1 else ""
        if proposal.error is not None:
            self._proposal = f"model's reply held no usable action: {proposal.error}"
        elif len(proposal.actions) > 1:
            self._proposal = (f"model proposes a plan: {json.dumps(jsonable_action(proposal.actions))} (type one "
                              f"action instead, or :c to run the plan)")
        else:
            self._proposal = f"model proposes: {self._prefill}"
        self._reads = 0
        self._shown = observation.text  # the live printer showed it after the last step
        try:
            action = self._human.act(observation)
        except _HandBack:
            self.in_control = False
            self.print_fn("-- control handed back to the model")
            return proposal
        except KeyboardInterrupt:
            raise self._quit() from None
        if self._last_line == self._prefill and self._prefill:
            return proposal  # accepted as shown: the model's own step
        self.human_steps += 1
        notes = {**proposal.info, "by": BY_HUMAN, "proposed": jsonable_action(proposal.actions)}
        if proposal.error is not None:
            notes["proposed_error"] = proposal.error
        return Decision(actions=[action], calls=proposal.calls, info=notes)

    def _show(self, text: str) -> None:
        if text == self._shown:
            self._shown = None
            return
        self.print_fn(text)

    def _read(self, prompt: str) -> str:
        """One line for the human agent: the proposal prefilled the first time, `:c` handing control back.

        A command typed after the prefilled proposal (`Up:c`) is the command: the person did not clear the line.
        """
        prefill = ""
        if self._reads == 0:
            self.print_fn(self._proposal)
            prefill = self._prefill
        self._reads += 1
        with _prefilled(prefill):
            line = self.input_fn(prompt).strip()
        if prefill and line.startswith(prefill) and line != prefill:
            rest = line[len(prefill):].strip()
            if rest.lower() in HAND_BACK_WORDS | HumanAgent.quit_words:
                line = rest
        self._last_line = line
        if line.lower() in HAND_BACK_WORDS:
            raise _HandBack
        return line

    def _line_waiting(self) -> bool:
        """Whether the person pressed Enter while the model played (the line is consumed: it asked for a pause)."""
        try:
            if not self.stdin.isatty() or not select.select([self.stdin], [], [], 0)[0]:
                return False
            self.stdin.readline()
        except (OSError, ValueError):
            return False
        return True

    def _quit(self) -> TakeoverQuit:
        self.interrupted = True
        self.print_fn("")
        return TakeoverQuit("the person quit with Ctrl-C")


class AsyncTakeoverAgent(TakeoverAgent):
    """`TakeoverAgent` for a model whose `act` is a coroutine (the openai agent)."""

    async def act(self, observation: Observation) -> Decision:  # type: ignore[override]
        try:
            pending: Any = self.model.act(observation)  # a coroutine: `takeover_agent` chose this class for it
            proposal = as_decision(await pending, self.spec)
        except KeyboardInterrupt:
            raise self._quit() from None
        return self.decide(observation, proposal)


def takeover_agent(model: Agent, print_fn: Callable[[str], None] = print) -> TakeoverAgent:
    """The `TakeoverAgent` that suits `model` (sync or async)."""
    kind = AsyncTakeoverAgent if is_async_agent(model) else TakeoverAgent
    return kind(model, print_fn=print_fn)


@contextmanager
def pausing_on_sigint(agent: TakeoverAgent) -> Iterator[None]:
    """While inside, the first Ctrl-C asks `agent` to pause; a second one (or one while paused) interrupts."""

    def on_sigint(signum: int, frame: Any) -> None:
        if agent.pause_requested or agent.in_control:
            raise KeyboardInterrupt
        agent.pause_requested = True
        # os.write, not print: a signal handler may run in the middle of another write to the terminal
        os.write(sys.stderr.fileno(), b"\n-- pausing before the next action (Ctrl-C again quits)\n")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _prefilled(text: str) -> Iterator[None]:
    """Put `text` on the next input line, editable, where readline is in use (a terminal)."""
    if not text or not sys.stdin.isatty():
        yield
        return
    try:
        import readline
    except ImportError:
        yield
        return
    readline.set_startup_hook(lambda: readline.insert_text(text))
    try:
        yield
    finally:
        readline.set_startup_hook(None)


def _action_text(action: Action, spec: ActionSpec) -> str:
    """An action as the person would type it (a choice's name, JSON for a mapping, spaced numbers for a vector)."""
    value = jsonable_action(action)
    if spec.kind == "choice" and isinstance(value, int) and 0 <= value < len(spec.choices):
        return spec.choices[value]
    if isinstance(value, str):
        return value
    if spec.kind == "vector" and isinstance(value, list):
        return " ".join(str(item) for item in value)
    return json.dumps(value)
