"""Forks started from the viewer's episode page: each plays in a background thread of the viewer process, through
`simyard.platform.fork_runner`, and is polled by the page until its new episode can be opened.

The new episode is a run directory under the parent run's `forks/` folder (`fork_runner.default_fork_dir`), so it
never touches a recorded file; when it ends it is opened as one more run of the viewer. A person (`human`) plays in
a terminal, so for that agent the page shows the command instead and this module refuses it.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simyard.platform.errors import SimyardError
from simyard.platform.rundir import RUN_FILE, open_run
from simyard.platform.trajectory import EPISODES_DIR, TRAJECTORY_FILE
from simyard.viewer.open_runs import OpenRuns
from simyard.viewer.runs import RunView

#: Agents that need a terminal; the page shows the command for them.
TERMINAL_AGENTS = ("human",)


class ForkRequestError(SimyardError):
    """A fork the page asked for that cannot start (bad step, agent or options); the message says what to send."""


@dataclass
class ForkJob:
    """One fork playing or played: what the page polls.

    Attributes:
        state: `running`, `done` (the episode is recorded; it may still have ended in an error, such as a replay
            that did not retrace the record: `diverged`) or `failed` (nothing was played: `error` says why).
        replayed: Steps of the parent replayed so far (of `step`).
        played: Steps the new agent has played so far.
    """

    id: int
    parent_run: int
    parent_name: str
    step: int
    agent: str
    options: dict[str, Any]
    state: str = "running"
    replayed: int = 0
    played: int = 0
    error: str | None = None
    diverged: str | None = None
    run: int | None = None
    name: str | None = None
    path: str | None = None
    result: dict[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("id", "parent_run", "parent_name", "step", "agent", "options",
                                                     "state", "replayed", "played", "error", "diverged", "run",
                                                     "name", "path", "result")}


class ForkJobs:
    """The forks started from this viewer, by id."""

    def __init__(self, views: OpenRuns) -> None:
        self.views = views
        self._jobs: dict[int, ForkJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, job_id: int) -> ForkJob | None:
        return self._jobs.get(job_id)

    def start(self, view: RunView, name: str, step: Any, agent: Any, options: Any,
              max_steps: Any = None) -> ForkJob:
        """Check a fork request and start playing it in a background thread.

        `max_steps` overrides the step cap (the parent run's, else the task's), as `--max-steps` does.

        Raises:
            ForkRequestError: The step or the step cap is not a whole number, the agent is missing, unknown or
                needs a terminal, or the options are not `key=value` lines.
            ForkError, RunDirError: The step is outside the episode, or the episode cannot be read.
        """
        from simyard.platform import registry
        from simyard.platform.episode import Limits
        from simyard.platform.fork_runner import prepare_fork

        if isinstance(step, bool) or not isinstance(step, int):
            raise ForkRequestError(f"step must be a whole number, not {step!r}", hint="send e.g. {\"step\": 3}")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
            raise ForkRequestError(f"max_steps must be a positive whole number, not {max_steps!r}",
                                   hint="leave it out to keep the episode's own step cap")
        if not isinstance(agent, str) or not agent.strip():
            raise ForkRequestError("no agent named", hint=f"name one of: {', '.join(registry.names('agent'))}")
        agent = agent.strip()
        if agent in TERMINAL_AGENTS:
            raise ForkRequestError(f"agent {agent!r} plays at a terminal, not in the viewer",
                                   hint="run the command the page shows in a terminal")
        parsed = parse_option_lines(options)
        # first: it imports the parent run's plugin agents
        setup = prepare_fork(view.episode_dir(name), step, Limits(max_steps=max_steps))
        registry.agent_factory(agent)  # an unknown name: UnknownNameError listing the known ones
        with self._lock:
            job = ForkJob(next(self._ids), view.number, name, step, agent, parsed)
            self._jobs[job.id] = job
        threading.Thread(target=self._play, args=(job, setup), name=f"simyard-view-fork-{job.id}",
                         daemon=True).start()
        return job

    def _play(self, job: ForkJob, setup: Any) -> None:
        from simyard.platform.fork_runner import BY_REPLAY, replay_diverged, run_fork

        def on_step(index: int, by: str) -> None:
            if by == BY_REPLAY:
                job.replayed += 1
            else:
                job.played += 1

        try:
            outcome = run_fork(setup, job.agent, job.options, on_step=on_step)
        except SimyardError as exc:
            job.error = str(exc)
            job.state = "failed"
            return
        except Exception as exc:  # noqa: BLE001 -- a bug in an agent or world: on the page, its traceback in the terminal
            import traceback

            traceback.print_exc()
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = "failed"
            return
        job.diverged = replay_diverged(outcome.result)
        job.result = outcome.result.to_dict()
        job.path = str(outcome.episode_dir)
        try:
            opened = self.views.open(outcome.run_dir, fork_label(job.agent, job.step, job.parent_name))
        except SimyardError as exc:
            job.error = f"the fork was recorded in {outcome.run_dir} but cannot be opened: {exc}"
            job.state = "failed"
            return
        job.run, job.name = opened.number, outcome.episode_dir.name
        job.state = "done"


def fork_label(agent: str, step: int, parent_name: str) -> str:
    """How a fork's run is named on the page."""
    return f"fork of {parent_name} at step {step} · {agent}"


def parse_option_lines(options: Any) -> dict[str, Any]:
    """Agent options from the page: a dict, or text of `key=value` lines (values read as JSON when they can)."""
    if options is None or options == "":
        return {}
    if isinstance(options, dict):
        return dict(options)
    if not isinstance(options, str):
        raise ForkRequestError("options must be key=value lines", hint="e.g. temperature=0.5")
    parsed: dict[str, Any] = {}
    for line in options.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ForkRequestError(f"option {line.strip()!r} is not key=value", hint="e.g. temperature=0.5")
        try:
            parsed[key.strip()] = json.loads(value)
        except ValueError:
            parsed[key.strip()] = value.strip()
    return parsed


# ------------------------------------------------------------------------------------------------ relatives


def parent_of(lines_head: dict[str, Any]) -> dict[str, Any] | None:
    """The `parent` a fork's reset line records ({episode, step, ...}), or None for an episode that is no fork."""
    parent = lines_head.get("parent")
    return parent if isinstance(parent, dict) and isinstance(parent.get("episode"), str) else None


def link_parent(views: OpenRuns, parent: dict[str, Any]) -> dict[str, Any]:
    """The parent as the page links it: its path and step, plus `run` and `name` when its run can be opened."""
    episode = Path(parent["episode"])
    link: dict[str, Any] = {"episode": str(episode), "step": parent.get("step"), "run": None, "name": episode.name}
    run_path = episode.parent.parent
    if (run_path / RUN_FILE).is_file() and (episode / TRAJECTORY_FILE).is_file():
        try:
            link["run"] = views.open(run_path).number
        except SimyardError:
            pass
    return link


def forks_of(views: OpenRuns, view: RunView, name: str) -> list[dict[str, Any]]:
    """The forks of one episode found under its run's `forks/` folder, each opened so the page can link it."""
    from simyard.platform.fork_runner import FORKS_DIR

    episode = view.episode_dir(name).resolve()
    found = []
    try:
        with os.scandir(view.path / FORKS_DIR) as entries:
            candidates = sorted(entry.path for entry in entries if entry.is_dir())
    except OSError:
        return []
    for candidate in candidates:
        child = Path(candidate) / EPISODES_DIR / name
        head = _first_line(child / TRAJECTORY_FILE)
        parent = parent_of(head) if head else None
        if parent is None or Path(parent["episode"]).resolve() != episode:
            continue
        step = parent.get("step")
        try:
            agent = open_run(candidate).manifest.config.agent
            opened = views.open(candidate, fork_label(agent, step, name))
        except SimyardError:
            continue
        found.append({"run": opened.number, "name": name, "step": step, "agent": agent, "path": str(child)})
    return found


def _first_line(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            line = handle.readline()
        value = json.loads(line)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
