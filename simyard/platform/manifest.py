"""`run.json`: what a run is (its config, which must match on resume), where and with which code it ran, and how
each session of it ended."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simyard.platform.episode import Limits

RunStatus = Literal["running", "finished", "interrupted", "failed"]


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string (run.json's clock)."""
    return datetime.now(UTC).isoformat(timespec="seconds")



class RunConfig(BaseModel):
    """What a run is: everything that must match for a resume to be the same run.

    Attributes:
        suite: Suite name, or the absolute path of a task file.
        agent: Registry name of the agent.
        agent_options: Keyword options for the agent's factory.
        limits: Per-episode overrides (`max_steps`, `max_invalid`, `time_limit_s`).
        seed: Base seed; each episode's seed is derived from it and the task id.
        limit: Only the first `limit` tasks of the suite, or None for all.
        imports: Plugin modules (dotted names or .py paths) imported in every process before anything is built.
        save_frames: Old switch for frames (False = none); kept so older run.json files still read.
        frames: Frame policy: `all`, `every:N`, `final`, `none`; None = all frames of worlds that render any.
        video: Also write one video per episode and view.
        world_options: Constructor options of the worlds (`key` for every world, `world.key` for one).
        reply_cap: Characters of each model reply kept in trajectories.
        suite_options: Keyword options of the suite function (`data` for a suite read from a data folder).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    suite: str
    agent: str
    agent_options: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, float | int | None] = Field(default_factory=dict)
    seed: int = 0
    limit: int | None = None
    imports: list[str] = Field(default_factory=list)
    save_frames: bool | None = None
    frames: str | None = None
    video: bool = False
    world_options: dict[str, Any] = Field(default_factory=dict)
    reply_cap: int = 65536
    suite_options: dict[str, Any] = Field(default_factory=dict)

    def frames_policy(self) -> str:
        """The frame policy episodes use (`auto` = all frames of worlds that render any)."""
        if self.frames is not None:
            return self.frames
        return "none" if self.save_frames is False else "auto"

    def episode_limits(self) -> Limits:
        """The limits as the episode runner takes them."""
        values: dict[str, Any] = {key: value for key, value in self.limits.items() if value is not None}
        return Limits(**values)


class RunSession(BaseModel):
    """One process's go at a run: the first start, and each resume after it."""

    started_at: str
    ended_at: str | None = None
    status: RunStatus = "running"
    workers: int = 1
    concurrency: int = 1
    episodes: int = 0  # results this session added to the index


class RunManifest(BaseModel):
    """`run.json`: the run's config plus where and with which code it ran, and how each session ended."""

    model_config = ConfigDict(extra="allow")  # later versions may add keys; an older reader keeps them

    format: int = 1
    kind: Literal["bench", "episode"] = "bench"  # an `episode` run recorded one interactive episode
    config: RunConfig
    tasks_total: int
    workers: int = 1
    concurrency: int = 1
    executor: str = "local"  # where the latest session ran its episodes (`local` or `ray`); a resume reuses it
    address: str | None = None  # the Ray cluster's address, when it was given
    simyard_version: str = ""
    git_revision: str | None = None
    python: str = ""
    platform: str = ""
    started_at: str
    ended_at: str | None = None
    status: RunStatus = "running"
    sessions: list[RunSession] = Field(default_factory=list)


def environment_facts() -> dict[str, Any]:
    """Code version, git revision (when the package lives in a checkout), Python and platform, for run.json."""
    import platform
    import sys

    from simyard._version import __version__

    return {
        "simyard_version": __version__,
        "git_revision": _git_revision(Path(__file__).resolve().parents[1]),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _git_revision(where: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


# ------------------------------------------------------------------------------------------------ results index
