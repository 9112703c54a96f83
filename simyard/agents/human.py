"""The `human` agent: a person plays from the terminal, seeing what a model would see.

Input that names no action is answered with a hint and asked again; it costs no step, because a typo is not the
agent's decision. Images are saved as PNG files and their paths printed, so a person on a headless machine can open
them. `:q` (or `quit`, `exit`) and Ctrl-D end the episode normally: the agent raises `EpisodeQuit`, and the runner
records the episode as completed with reason `quit`. At a terminal, Python's `readline` gives line editing and history
(arrow keys). Everything is printed as plain text: a world's `[/b]` is never read as markup.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from simyard.platform.api import Action, ActionSpec, Agent, EpisodeQuit, Observation, Task


class HumanQuit(EpisodeQuit):
    """The person typed the quit command or closed the input (Ctrl-D): a normal end of the episode."""


def _enable_line_editing() -> None:
    """Arrow keys and history for `input()` at a terminal (a no-op where `readline` is missing, e.g. Windows)."""
    if not sys.stdin.isatty():
        return
    try:
        import readline  # noqa: F401 -- importing it is what makes input() editable
    except ImportError:
        pass


class HumanAgent(Agent):
    """Asks a person for each action on the terminal.

    Args:
        frames_dir: Where to save the images of each observation (a temporary directory by default).
        input_fn: Reads one line from the person (the builtin `input`, with `readline` line editing at a terminal,
            by default; injectable for tests). `EOFError` (Ctrl-D) ends the episode like `:q`.
        print_fn: Shows text to the person.
    """

    name = "human"
    quit_words = frozenset({":q", "quit", "exit"})

    def __init__(
        self,
        frames_dir: str | Path | None = None,
        input_fn: Callable[[str], str] = input,
        print_fn: Callable[[str], None] = print,
    ) -> None:
        self.frames_dir = Path(frames_dir or tempfile.mkdtemp(prefix="simyard-human-"))
        if input_fn is input:
            _enable_line_editing()
        self.input_fn, self.print_fn = input_fn, print_fn
        self.spec = ActionSpec(kind="text")
        self.turn = 0
        self.task_id = ""

    def reset(self, task: Task, spec: ActionSpec) -> None:
        self.spec, self.turn, self.task_id = spec, 0, task.id
        self.print_fn(f"Task {task.id}: {task.instruction}")
        if spec.help:
            self.print_fn(f"Actions: {spec.help}")

    def act(self, observation: Observation) -> Action:
        self.turn += 1
        self.print_fn(observation.text)
        for view, image in observation.images.items():
            self.print_fn(f"[image {view}] {self._save(view, image)}")
        choices = self._choices(observation)
        for index, name in choices:
            self.print_fn(f"  {index:>3}  {name}")
        while True:
            try:
                line = self.input_fn("action> ").strip()
            except EOFError:
                self.print_fn("")  # end the prompt's line
                raise HumanQuit("the person ended the input (Ctrl-D)") from None
            if line.lower() in self.quit_words:
                raise HumanQuit("the person quit the episode")
            action, problem = self._parse(line, choices)
            if problem is None:
                return action
            self.print_fn(problem)

    def _choices(self, observation: Observation) -> list[tuple[int, str]]:
        if self.spec.kind != "choice":
            return []
        valid = observation.data.get("valid_actions")
        ids = ((self.spec.choice_id(name), name) for name in (valid or self.spec.choices))
        return [(action_id, name) for action_id, name in ids if action_id is not None]

    def _parse(self, line: str, choices: list[tuple[int, str]]) -> tuple[Action | None, str | None]:
        if not line:
            return None, "Type an action (or :q, or Ctrl-D, to quit)."
        if self.spec.kind == "choice":
            action_id = self.spec.choice_id(line)
            if action_id is None:
                sample = ", ".join(name for _, name in choices[:3])
                return None, f"{line!r} is not an action: type its number or its name (e.g. {sample})."
            return self.spec.choices[action_id], None
        if self.spec.kind == "json":
            try:
                return json.loads(line), None
            except json.JSONDecodeError as exc:
                return None, f"not JSON ({exc.msg}); type an object like {self.spec.help or '{...}'}"
        if self.spec.kind == "vector":
            try:
                numbers = line.strip().strip("[]()").replace(",", " ").split()  # `1 2 3`, `1, 2, 3` or `[1, 2, 3]`
                vector = [float(v) if "." in v or "e" in v.lower() else int(v) for v in numbers]
            except ValueError:
                vector = None
            if vector is not None and (not self.spec.size or len(vector) == self.spec.size):
                return vector, None
            if vector is not None:  # a miscount is a typo, not a move: ask again without spending a step
                return None, f"that is {len(vector)} numbers; type {self.spec.size}, e.g. {self._example()}"
            return None, f"type {self.spec.size or 'some'} numbers separated by spaces, e.g. {self._example()}"
        return line, None

    def _example(self) -> str:
        """A vector inside the spec's bounds (their lower ends), to show what a typed action looks like."""
        if self.spec.low is not None:
            return " ".join(str(int(v)) if self.spec.integer else f"{v:g}" for v in self.spec.low)
        return " ".join(["0"] * (self.spec.size or 3))

    def _save(self, view: str, image) -> Path:
        from PIL import Image

        path = self.frames_dir / f"{self.task_id}_turn{self.turn:03d}_{view}.png"
        Image.fromarray(image).save(path)
        return path
