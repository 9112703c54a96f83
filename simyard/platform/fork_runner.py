"""Running a fork without a terminal: what the viewer's fork button and `episode run --from` share.

`prepare_fork` reads the parent (its run's plugins, caps and world options, and the fork point) and refuses a fork
that cannot be made; `run_fork` plays it headless with a named agent and records it as a run directory of one
episode. By default that directory lies under the parent run's `forks/` folder, so a fork sits beside what it came
from and never touches a recorded file (a run's resume, report, export and rescore read only run.json,
tasks.jsonl, results.jsonl and episodes/).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simyard.platform.episode import EpisodeResult, Limits, StepRecord
from simyard.platform.errors import SimyardError
from simyard.platform.fork import BY_REPLAY, CheckedWorld, ForkError, ForkPoint, fork_agent, load_fork_point
from simyard.platform.lanes import options_for

#: The folder of a run directory that holds the forks made from its episodes.
FORKS_DIR = "forks"


@dataclass(frozen=True, slots=True)
class ForkSetup:
    """A fork ready to play: where it starts, the caps that hold in it, and the world's options."""

    point: ForkPoint
    limits: Limits
    world_options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ForkOutcome:
    """How a headless fork ended: its result (an error naming the step when the replay diverged), where it lies,
    and how much of the record the replay was checked against."""

    result: EpisodeResult
    run_dir: Path
    episode_dir: Path
    checked_steps: int
    checked_frames: int


def prepare_fork(episode_dir: str | Path, step: int, limits: Limits = Limits(),
                 world_options: Mapping[str, Any] | None = None) -> ForkSetup:
    """Read what a fork of `episode_dir` at `step` needs, refusing one that cannot be made.

    The parent run's plugins are imported (its worlds and agents), its caps hold unless `limits` sets them, and its
    world options apply under `world_options`.

    Raises:
        ForkError: The step is outside the episode, or the step cap leaves no step after it.
        RunDirError: The episode has no readable trajectory.
    """
    from simyard.platform.plugins import import_plugins
    from simyard.platform.rundir import RUN_FILE, RunDir

    episode_dir = Path(episode_dir)
    run_path = episode_dir.parent.parent
    if (run_path / RUN_FILE).is_file():
        config = RunDir(run_path).manifest.config
        import_plugins(config.imports)
        parent = config.episode_limits()
        limits = Limits(max_steps=limits.max_steps or parent.max_steps,
                        max_invalid=limits.max_invalid if limits.max_invalid is not None else parent.max_invalid,
                        time_limit_s=limits.time_limit_s or parent.time_limit_s)
    point = load_fork_point(episode_dir, step)
    cap = limits.max_steps or point.task.max_steps
    if cap <= step:
        raise ForkError(f"the step cap is {cap}, so a fork at step {step} would leave the new agent no step",
                        hint=f"raise it, e.g. --max-steps {step + point.task.max_steps}")
    options = {**options_for(point.task.world, dict(point.world_options)), **(world_options or {})}
    return ForkSetup(point, limits, options)


def default_fork_dir(episode_dir: str | Path, step: int, agent: str) -> Path:
    """`<run>/forks/<episode>-step<K>-<agent>-<time>`: a new folder beside the parent run's recorded files."""
    episode_dir = Path(episode_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe_agent = re.sub(r"[^A-Za-z0-9_.-]+", "_", agent)[:40] or "agent"
    base = episode_dir.parent.parent / FORKS_DIR / f"{episode_dir.name}-step{step}-{safe_agent}-{stamp}"
    path, number = base, 1
    while path.exists():
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path


class _Progress:
    """A recorder that reports each recorded step to `on_step(index, by)` (`by`: `replay` or the agent)."""

    def __init__(self, writer: Any, on_step: Callable[[int, str], None] | None) -> None:
        self.writer = writer
        self.on_step = on_step

    def start(self, task: Any, seed: int | None, observation: Any) -> None:
        self.writer.start(task, seed, observation)

    def step(self, record: StepRecord) -> None:
        self.writer.step(record)
        if self.on_step is not None:
            notes = record.info.get("agent") if isinstance(record.info, dict) else None
            by = notes.get("by") if isinstance(notes, dict) else None
            self.on_step(record.index, by if isinstance(by, str) else "agent")

    def finish(self, result: EpisodeResult) -> None:
        self.writer.finish(result)


def run_fork(setup: ForkSetup, agent_name: str, agent_options: Mapping[str, Any] | None = None,
             out: str | Path | None = None, on_step: Callable[[int, str], None] | None = None) -> ForkOutcome:
    """Play a prepared fork headless with the agent `agent_name` and record it (blocking).

    A replay that does not retrace the record ends the episode at that step as a `world_error` whose message names
    the step and what differed; it is recorded like any other end.

    Args:
        out: The new run directory; `default_fork_dir` when None.
        on_step: Called after each recorded step with its index and who chose it (`replay` for the parent's).

    Raises:
        SimyardError: The agent is unknown or refuses its options, or the world refuses its options.
    """
    from simyard.platform import registry
    from simyard.platform.episode import run_episode_with
    from simyard.platform.rundir import single_episode_writer

    point = setup.point
    world = point.task.world
    registry.world_class(world)
    agent = registry.make_agent(agent_name, **dict(agent_options or {}))
    try:
        env = registry.make(world, **setup.world_options)
    except TypeError as exc:
        agent.close()
        raise SimyardError(f"world {world!r} does not accept the options {sorted(setup.world_options)}: {exc}",
                           hint=f"see `simyard env info {world}` for what it takes") from None
    except BaseException:
        agent.close()
        raise
    checked = CheckedWorld(env, point)
    forking = fork_agent(point, agent)
    path = Path(out) if out is not None else default_fork_dir(point.episode_dir, point.step, agent_name)
    try:
        with single_episode_writer(path, point.task, agent_name, dict(agent_options or {}), point.seed,
                                   world_options=setup.world_options) as writer:
            writer.parent = point.parent()
            result = run_episode_with(checked, forking, point.task, point.seed, setup.limits,
                                      _Progress(writer, on_step))
            episode_dir = writer.episode_dir
    finally:
        checked.close()
        forking.close()
    return ForkOutcome(result, path, episode_dir, checked.checked_steps, checked.checked_frames)


def replay_diverged(result: EpisodeResult) -> str | None:
    """The replay's mismatch message when a fork ended because the world did not retrace its parent, else None."""
    error = result.error or ""
    marker = "replay differs from the record"
    return error[error.index(marker):] if marker in error else None


__all__ = ["BY_REPLAY", "FORKS_DIR", "ForkOutcome", "ForkSetup", "default_fork_dir", "prepare_fork",
           "replay_diverged", "run_fork"]
