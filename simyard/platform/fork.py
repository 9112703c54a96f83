"""Forking a recorded episode: replay its actions up to a step, check the world retraces the record, hand over.

Worlds are deterministic given task and seed, so replaying the recorded actions rebuilds the state at step K without
saving states. Determinism is checked rather than trusted: `CheckedWorld` compares what the world returns on every
replayed step with the trajectory (observation text and data, reward, done flags, and the pixels of every frame the
trajectory kept) and fails that step, naming it, at the first difference. `ForkAgent` plays the recorded actions
(one per turn, so a plan that stopped at an invalid action replays the same way) and then hands the episode to the
agent that continues it. The new episode is a whole episode: its trajectory holds the replayed steps (marked
`by: replay`) and names its parent episode and step.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Agent, Decision, Env, Observation, StepResult, Task, WorldAware
from simyard.platform.episode import is_async_agent
from simyard.platform.errors import RunDirError, SimyardError
from simyard.platform.jsonl import dumps
from simyard.platform.trajectory import read_episode_result, read_trajectory

#: `info["agent"]["by"]` (and a step line's `by`) of a step replayed from the parent episode.
BY_REPLAY = "replay"


class ForkError(SimyardError):
    """A fork that cannot be made (a step outside the episode, a trajectory without its task)."""


class ReplayDiverged(SimyardError):
    """The world did not retrace the recorded episode: the fork's state would not be the recorded one."""


@dataclass(frozen=True, slots=True)
class ForkPoint:
    """Where a fork starts: the parent's task, seed and world options, and its recorded steps 1..`step`."""

    episode_dir: Path
    step: int
    task: Task
    seed: int | None
    world_options: dict[str, Any]
    reset: dict[str, Any]
    steps: list[dict[str, Any]]

    def parent(self) -> dict[str, Any]:
        """What the new trajectory records about where it came from."""
        return {"episode": str(self.episode_dir.resolve()), "step": self.step, "task_id": self.task.id,
                "seed": self.seed}


def load_fork_point(episode_dir: str | Path, step: int) -> ForkPoint:
    """Read what a fork at `step` needs from a recorded episode.

    Raises:
        ForkError: `step` is negative or past the last step a new agent could follow (the episode's length, or one
            less when the recorded episode ended there by terminating), or the trajectory has no task.
        RunDirError: `episode_dir` holds no readable trajectory.
    """
    episode_dir = Path(episode_dir)
    lines = read_trajectory(episode_dir)
    if not lines:
        raise RunDirError(f"{episode_dir}: the trajectory is empty", hint="fork an episode that recorded its reset")
    reset, steps = lines[0], lines[1:]
    last = len(steps)
    ended = bool(steps) and (steps[-1].get("terminated") or steps[-1].get("truncated"))
    if ended:
        last -= 1  # the world ended after the final step: there is nothing left for a new agent to play
    if not 0 <= step <= last:
        reason = "the world ended after its last step" if ended else "forking at its last step continues it"
        raise ForkError(f"--step {step} is outside the episode {episode_dir.name}: it has {len(steps)} steps",
                        hint=f"use --step 0..{last} ({reason})")
    try:
        task = Task.model_validate(reset.get("task"))
    except ValueError:
        raise ForkError(f"{episode_dir}: the trajectory does not record a whole task (the world failed before "
                        f"its first observation)", hint="fork an episode that started") from None
    return ForkPoint(episode_dir, step, task, reset.get("seed"), _world_options(episode_dir), reset, steps[:step])


def _world_options(episode_dir: Path) -> dict[str, Any]:
    """The parent run's world options (frames depend on them, e.g. `tile_px`); none outside a run directory."""
    from simyard.platform.rundir import RUN_FILE, RunDir

    run_path = episode_dir.parent.parent
    if not (run_path / RUN_FILE).is_file():
        return {}
    return dict(RunDir(run_path).manifest.config.world_options)


def parent_result_steps(episode_dir: str | Path) -> int | None:
    """The step count of the parent's recorded result, or None when it never finished (for messages)."""
    result = read_episode_result(episode_dir)
    return None if result is None else result.steps


# ----------------------------------------------------------------------------------------------- checking


class CheckedWorld(Env):
    """A world that checks each replayed step against the record and then steps freely.

    Only steps that touched the world are compared here; a recorded reply with no usable action is replayed by
    `ForkAgent` as the same invalid reply, which the runner answers without the world.
    """

    def __init__(self, env: Env, point: ForkPoint) -> None:
        self.env = env
        self.name = env.name  # type: ignore[misc]  # the wrapped world's name, on the instance
        self.views = env.views
        self.point = point
        self.expected = [line for line in point.steps if line.get("action") is not None]
        self.checked_steps = 0
        self.checked_frames = 0

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        observation = self.env.reset(task, seed)
        self.checked_steps = self.checked_frames = 0
        self._compare(0, self.point.reset.get("observation") or {}, observation, None)
        return observation

    def step(self, action: Action) -> StepResult:
        result = self.env.step(action)
        if self.checked_steps < len(self.expected):
            line = self.expected[self.checked_steps]
            self.checked_steps += 1
            self._compare(int(line.get("index", self.checked_steps)), line.get("observation") or {},
                          result.observation, (line, result))
        return result

    def _compare(self, index: int, recorded: Mapping[str, Any], observation: Observation,
                 step: tuple[Mapping[str, Any], StepResult] | None) -> None:
        differences: list[tuple[str, Any, Any]] = []
        if recorded.get("text") != observation.text:
            differences.append(("observation text", recorded.get("text"), observation.text))
        elif _roundtrip(recorded.get("data", {})) != _roundtrip(dict(observation.data)):
            differences.append(("observation data", recorded.get("data"), dict(observation.data)))
        if step is not None:
            line, result = step
            for field, replayed in (("reward", result.reward), ("terminated", result.terminated),
                                    ("truncated", result.truncated)):
                if _roundtrip(line.get(field)) != _roundtrip(replayed):
                    differences.append((field, line.get(field), replayed))
        for path in recorded.get("frames") or ():
            view = _view_of(str(path), index)
            if view is None:
                continue
            if view not in observation.images:
                differences.append((f"frame {path}", "an image", "no image from that view"))
            elif not _same_pixels(self.point.episode_dir / str(path), observation.images[view]):
                differences.append((f"frame {path}", "the saved pixels", "different pixels"))
            else:
                self.checked_frames += 1
        if differences:
            what, was, now = differences[0]
            raise ReplayDiverged(
                f"replay differs from the record at step {index}: {what} was {_short(was)}, replayed {_short(now)}",
                hint="the world is not deterministic for this task and seed, or it changed since the episode was "
                     "recorded; the fork would not start from the recorded state")

    def action_spec(self) -> ActionSpec:
        return self.env.action_spec()

    def oracle(self) -> Action | list[Action]:
        return self.env.oracle()

    def render(self, view: str = "rgb") -> np.ndarray | None:
        return self.env.render(view)

    def state(self) -> dict[str, Any]:
        return self.env.state()

    def sample_action(self, rng: np.random.Generator) -> Action:
        return self.env.sample_action(rng)

    def close(self) -> None:
        self.env.close()

    def __getattr__(self, name: str) -> Any:  # world-specific helpers an attached agent may call
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)


def _roundtrip(value: Any) -> Any:
    """A value as it reads back from a trajectory line (tuples become lists, numpy numbers plain ones)."""
    return json.loads(dumps(value))


def _view_of(path: str, index: int) -> str | None:
    """The view a saved frame file belongs to (`frames/step_0003_rgb.png` -> `rgb`), if it is this step's."""
    name = Path(path).name
    prefix = f"step_{index:04d}_"
    return name[len(prefix):-len(".png")] if name.startswith(prefix) and name.endswith(".png") else None


def _same_pixels(path: Path, image: Any) -> bool:
    """Whether a saved PNG holds exactly the pixels of `image` (both decoded, so encoder settings do not matter)."""
    from PIL import Image

    from simyard.platform.frames import encode_png

    try:
        with Image.open(path) as saved:
            recorded = np.asarray(saved)
    except OSError:
        return False
    with Image.open(io.BytesIO(encode_png(image))) as fresh:
        replayed = np.asarray(fresh)
    return recorded.shape == replayed.shape and bool(np.array_equal(recorded, replayed))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------------ the agent


class ForkAgent(Agent, WorldAware):
    """Plays the recorded actions of a fork point, one per turn, then lets `successor` play.

    Args:
        point: The fork point (its recorded steps are replayed).
        successor: The agent that continues the episode; it sees every replayed step through `observe`.
        on_handover: Called once, just before the successor's first turn (the CLI says the replay matched).
    """

    name = "fork"

    def __init__(self, point: ForkPoint, successor: Agent, on_handover: Callable[[], None] | None = None) -> None:
        self.point = point
        self.successor = successor
        self.on_handover = on_handover
        self.position = 0

    def reset(self, task: Task, spec: ActionSpec) -> None:
        self.position = 0
        self.successor.reset(task, spec)

    def attach(self, env: Env) -> None:
        if isinstance(self.successor, WorldAware):
            self.successor.attach(env)

    def replaying(self) -> bool:
        """Whether the next turn is still a recorded one (the successor's turn calls `on_handover` first)."""
        if self.position < len(self.point.steps):
            return True
        if self.position == len(self.point.steps):
            self.position += 1
            if self.on_handover is not None:
                self.on_handover()
        return False

    def recorded_decision(self) -> Decision:
        line = self.point.steps[self.position]
        self.position += 1
        note = {"by": BY_REPLAY, "parent_step": line.get("index")}
        if line.get("action") is None:  # a reply without a usable action: the same invalid reply again
            feedback = str((line.get("info") or {}).get("feedback") or "the reply held no usable action")
            return Decision(actions=[], error=feedback, info=note)
        return Decision(actions=[line["action"]], info=note)

    def act(self, observation: Observation) -> Any:
        if self.replaying():
            return self.recorded_decision()
        return self.successor.act(observation)

    def observe(self, action: Action, result: StepResult) -> None:
        self.successor.observe(action, result)

    def close(self) -> None:
        self.successor.close()


class AsyncForkAgent(ForkAgent):
    """`ForkAgent` for a successor whose `act` is a coroutine (the openai agent)."""

    async def act(self, observation: Observation) -> Any:  # type: ignore[override]
        if self.replaying():
            return self.recorded_decision()
        pending: Any = self.successor.act(observation)  # a coroutine: `fork_agent` chose this class for it
        return await pending


def fork_agent(point: ForkPoint, successor: Agent, on_handover: Callable[[], None] | None = None) -> ForkAgent:
    """The `ForkAgent` that suits `successor` (sync or async)."""
    kind = AsyncForkAgent if is_async_agent(successor) else ForkAgent
    return kind(point, successor, on_handover)
