"""The run directory: what ran (`run.json`), what came out (`results.jsonl`) and how (per-episode trajectories).

A run directory looks like this::

    run.json                      the manifest: suite, agent and options, limits, seed, code version, sessions, status
    run.lock                      held (flock) by the one process writing the run
    tasks.jsonl                   the tasks the run covers, snapshotted at the start so a resume runs the same ones
    results.jsonl                 the results index: one `EpisodeResult` per line, fsynced, written by one process
    episodes/<task>__s<seed>/
        trajectory.jsonl          a `reset` line, one `step` line per executed step, an `end` line with the result
        frames/step_0003_rgb.png  the images the agent saw after step 3 (step 0 is the reset)

The index is the only file a resume trusts: an episode is done when its row is in the index, and a row is in the
index only once it was flushed and fsynced. A crash can leave at most one torn final line; readers ignore it and
the next writer repairs it, so nothing recorded is ever lost and nothing is counted twice. Trajectories are written
with ordinary buffered I/O (no fsync per step) because they are cheap to regenerate and the recorder must stay
within tens of microseconds per step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simyard.platform.api import Observation, Task
from simyard.platform.episode import EpisodeResult, Limits, StepRecord
from simyard.platform.errors import RunDirError

RUN_FILE = "run.json"
TASKS_FILE = "tasks.jsonl"
INDEX_FILE = "results.jsonl"
EPISODES_DIR = "episodes"
TRAJECTORY_FILE = "trajectory.jsonl"
FRAMES_DIR = "frames"
LOCK_FILE = "run.lock"

#: Said by every RunDirError, so a user who passed the wrong path learns what the right one looks like.
RUN_DIR_HINT = "a run directory holds run.json, results.jsonl and episodes/; `simyard bench run` makes one"

RunStatus = Literal["running", "finished", "interrupted", "failed"]


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string (run.json's clock)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json_default(value: Any) -> Any:
    # Worlds promise JSON-serialisable info, but numpy scalars slip through easily; never lose a step over it.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def dumps(value: Any) -> str:
    """Compact one-line JSON that never fails on numpy values (falls back to repr for the truly odd)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


# --------------------------------------------------------------------------------------------------- manifest


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
        save_frames: Save observation images as PNG; None saves them when the world produces any.
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

    def episode_limits(self) -> Limits:
        """The limits as the episode runner takes them."""
        return Limits(**{key: value for key, value in self.limits.items() if value is not None})


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

    import simyard

    return {
        "simyard_version": getattr(simyard, "__version__", ""),
        "git_revision": _git_revision(Path(simyard.__file__).resolve().parent),
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


class ResultsIndex:
    """`results.jsonl`: an append-only, fsynced log of `EpisodeResult` rows, one JSON object per line.

    Exactly one process writes it (the bench parent); that is what makes plain appends safe. `read` ignores a torn
    final line (a crash mid-write) and keeps the first row of any (task_id, seed) pair; `append` repairs a torn tail
    before writing, so a torn fragment never glues itself to the next row.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def read(self) -> list[EpisodeResult]:
        """Every complete row, in write order, first row per (task_id, seed)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        results: list[EpisodeResult] = []
        seen: set[tuple[str, int | None]] = set()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            last = number == len(lines)  # no newline after it: the write may have been torn
            row = _parse_row(line)
            if row is None:
                if last:
                    continue
                raise RunDirError(
                    f"{self.path}:{number} is not a results row",
                    hint="the index was edited by hand or by another program; restore that line or delete it",
                )
            result = EpisodeResult.from_dict(row)
            key = (result.task_id, result.seed)
            if key not in seen:
                seen.add(key)
                results.append(result)
        return results

    def keys(self) -> set[tuple[str, int | None]]:
        """The (task_id, seed) pairs already recorded."""
        return {(result.task_id, result.seed) for result in self.read()}

    def append(self, results: Iterable[EpisodeResult]) -> int:
        """Write rows and make them durable with one flush + fsync (a group commit); returns how many were written."""
        text = "".join(dumps(result.to_dict()) + "\n" for result in results)
        if not text:
            return 0
        handle = self._open()
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
        return text.count("\n")

    def close(self) -> None:
        """Close the file handle (appends reopen it)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> Any:
        if self._handle is None:
            self._repair_tail()
            self._handle = self.path.open("ab")
        return self._handle

    def _repair_tail(self) -> None:
        """End the file on a newline: keep a complete row that only lost its newline, drop a torn fragment."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            start = data.rfind(b"\n") + 1
            if _parse_row(data[start:]) is not None:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
            else:
                handle.truncate(start)
            handle.flush()
            os.fsync(handle.fileno())

    def __enter__(self) -> ResultsIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_row(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(row, dict) or "task_id" not in row:
        return None
    return row


# ------------------------------------------------------------------------------------------------- run directory


def default_run_dir(label: str) -> Path:
    """`runs/<label>-<local time>`, with a counter appended if that directory already exists."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{label}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def episode_dir_name(task_id: str, seed: int | None) -> str:
    """`<task_id>__s<seed>`: one directory per (task, seed) pair, so repeats of a task never collide."""
    return f"{task_id}__s{'none' if seed is None else seed}"


@dataclass
class RunDir:
    """A run directory on disk. Build one with `RunDir.create` (a new run) or `open_run` (an existing one)."""

    path: Path
    index: ResultsIndex = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.index = ResultsIndex(self.path / INDEX_FILE)

    @classmethod
    def create(cls, path: Path, manifest: RunManifest, tasks: list[Task]) -> RunDir:
        """Make a new run directory; refuses a path that already holds a run or anything else."""
        from simyard.tasks.files import write_task_file

        path = Path(path)
        if (path / RUN_FILE).exists():
            raise RunDirError(f"{path} already holds a run", hint=f"continue it with --resume {path}, or pick --out")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"{path} exists and is not an empty directory", hint="pick a new --out directory")
        (path / EPISODES_DIR).mkdir(parents=True, exist_ok=True)
        write_task_file(path / TASKS_FILE, tasks)
        (path / INDEX_FILE).touch()
        run = cls(path)
        run.write_manifest(manifest)  # last: a directory with run.json is a complete, resumable run
        return run

    @property
    def manifest(self) -> RunManifest:
        """run.json, parsed."""
        try:
            return RunManifest.model_validate_json((self.path / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunDirError(f"{self.path / RUN_FILE} cannot be read: {first}", hint=RUN_DIR_HINT) from None

    def write_manifest(self, manifest: RunManifest) -> None:
        """Replace run.json atomically (write aside, fsync, rename), so a crash leaves the old or the new one."""
        target = self.path / RUN_FILE
        scratch = target.with_suffix(".json.tmp")
        with scratch.open("w", encoding="utf-8") as handle:
            handle.write(manifest.model_dump_json(indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, target)

    def lock(self) -> Any:
        """Take the run's writer lock (`run.lock`, an flock the OS drops when the holder dies, even by SIGKILL).

        Returns the open lock file; closing it releases the lock. Raises RunDirError when another live process holds
        it, because two writers appending to one index would count episodes twice.
        """
        handle = (self.path / LOCK_FILE).open("a+")
        try:
            import fcntl
        except ImportError:  # no flock on this platform: run unguarded rather than not at all
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RunDirError(
                f"run {self.path} is being written by another process",
                hint="wait for it to finish (or stop it), then resume",
            ) from None
        return handle

    def tasks(self) -> list[Task]:
        """The tasks this run covers (the snapshot taken when it started)."""
        from simyard.tasks.files import load_task_file

        return load_task_file(self.path / TASKS_FILE)

    def results(self) -> list[EpisodeResult]:
        """The results index, deduplicated, in write order."""
        return self.index.read()

    def episode_dir(self, task_id: str, seed: int | None) -> Path:
        """Where the trajectory and frames of one episode live."""
        return self.path / EPISODES_DIR / episode_dir_name(task_id, seed)


def open_run(path: str | Path) -> RunDir:
    """An existing run directory; `RunDirError` when `path` is not one."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a run directory (no such directory)", hint=RUN_DIR_HINT)
    if not (path / RUN_FILE).is_file():
        raise RunDirError(f"{path} is not a run directory (it has no {RUN_FILE})", hint=RUN_DIR_HINT)
    run = RunDir(path)
    run.manifest  # noqa: B018 -- validate now, so a broken run.json is reported where the user named the path
    return run


# ------------------------------------------------------------------------------------------------- trajectories


class EpisodeWriter:
    """A `Recorder` that writes one episode's trajectory (and frames) into its episode directory.

    `trajectory.jsonl` gets a `reset` line (task, seed, first observation), one `step` line per executed step and,
    when the episode ends, an `end` line holding the `EpisodeResult`. Lines are buffered and never fsynced: a step costs
    one `json.dumps` of a small dict and a buffered write (the results index is what must survive a crash). Frames
    cost a PNG encode each, which is why they can be switched off.

    Args:
        episode_dir: The episode's directory; created, and emptied first if a crashed attempt left files in it.
        save_frames: Save observation images as PNG files; None saves them when the reset observation has any.
    """

    def __init__(self, episode_dir: Path, save_frames: bool | None = None) -> None:
        self.episode_dir = Path(episode_dir)
        self.save_frames = save_frames
        self.result: EpisodeResult | None = None
        self._handle: Any = None

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        self._open()
        if self.save_frames is None:
            self.save_frames = bool(observation.images)
        line = {"type": "reset", "task": task.model_dump(mode="json"), "seed": seed,
                "observation": self._observation(0, observation)}
        self._handle.write(dumps(line) + "\n")

    def step(self, record: StepRecord) -> None:
        line = {
            "type": "step",
            "index": record.index,
            "observation": self._observation(record.index, record.observation),
            "action": record.action,
            "reward": record.reward,
            "terminated": record.terminated,
            "truncated": record.truncated,
            "info": dict(record.info),
            "calls": [call.to_dict() for call in record.calls],
            "act_latency_s": record.act_latency_s,
        }
        self._handle.write(dumps(line) + "\n")

    def finish(self, result: EpisodeResult) -> None:
        if self._handle is None:
            # The world failed before the first observation; a header line keeps the episode replayable.
            self._open()
            header = {"type": "reset", "task": {"id": result.task_id, "world": result.world, "subset": result.subset},
                      "seed": result.seed,
                      "observation": {"text": f"(no observation: {result.error or result.reason})", "data": {}}}
            self._handle.write(dumps(header) + "\n")
        # The result is the trajectory's last line rather than a file of its own: creating a file is the dearest
        # thing the recorder does, so each episode creates exactly one.
        self._handle.write(dumps({"type": "end", "result": result.to_dict()}) + "\n")
        self.result = result
        self.close()

    def close(self) -> None:
        """Flush and close the trajectory file (safe to call twice)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> None:
        if self.episode_dir.exists():
            shutil.rmtree(self.episode_dir)  # leftovers of an attempt that never reached the index
        self.episode_dir.mkdir(parents=True)
        self._handle = (self.episode_dir / TRAJECTORY_FILE).open("w", encoding="utf-8", buffering=1 << 16)

    def _observation(self, index: int, observation: Observation) -> dict[str, Any]:
        entry: dict[str, Any] = {"text": observation.text, "data": dict(observation.data)}
        if self.save_frames and observation.images:
            entry["frames"] = self._save_frames(index, observation.images)
        return entry

    def _save_frames(self, index: int, images: Mapping[str, np.ndarray]) -> list[str]:
        from PIL import Image

        frames = self.episode_dir / FRAMES_DIR
        frames.mkdir(exist_ok=True)
        names = []
        for view, array in images.items():
            name = f"{FRAMES_DIR}/{frame_name(index, view)}"
            # compress_level=1: frames are written while the episode runs; size matters less than time here.
            Image.fromarray(np.asarray(array, dtype=np.uint8)).save(self.episode_dir / name, compress_level=1)
            names.append(name)
        return names

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def frame_name(index: int, view: str) -> str:
    """`step_0003_rgb.png`: the image from `view` after step `index` (0 is the reset)."""
    return f"step_{index:04d}_{view}.png"


def read_trajectory(episode_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of an episode's trajectory: the `reset` line first, then one `step` line per executed step.

    Each line has an `observation` object (`text`, `data`, and `frames`: PNG paths relative to the episode
    directory, when saved). The `end` line is left out (`read_episode_result` reads it). A torn final line (the
    process died mid-write) is ignored.

    Raises:
        RunDirError: `episode_dir` holds no trajectory, or a line before the last is damaged.
    """
    return [entry for entry in _trajectory_lines(Path(episode_dir)) if entry.get("type") != "end"]


def read_episode_result(episode_dir: str | Path) -> EpisodeResult | None:
    """The result an episode directory recorded, or None if the episode never finished."""
    for entry in reversed(_trajectory_lines(Path(episode_dir))):
        if entry.get("type") == "end":
            return EpisodeResult.from_dict(entry["result"])
    return None


def _trajectory_lines(episode_dir: Path) -> list[dict[str, Any]]:
    path = episode_dir / TRAJECTORY_FILE
    if not path.is_file():
        raise RunDirError(
            f"{episode_dir} is not an episode directory (it has no {TRAJECTORY_FILE})",
            hint=f"episode directories live in <run>/{EPISODES_DIR}/ and are named <task_id>__s<seed>",
        )
    lines = path.read_text(encoding="utf-8").split("\n")
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            hint = "the trajectory was edited or damaged"
            raise RunDirError(f"{path}:{number} is not valid JSON", hint=hint) from None
    return entries


@contextmanager
def single_episode_writer(
    out: Path | None,
    task: Task,
    agent: str,
    agent_options: Mapping[str, Any],
    seed: int | None,
    save_frames: bool | None = None,
) -> Iterator[EpisodeWriter]:
    """A run directory for one interactive episode: the same layout as a bench run, so reports and replays work.

    Yields the episode's `EpisodeWriter` (use it as the episode's recorder); on exit the result goes into the index
    and run.json says how the episode ended.
    """
    path = Path(out) if out is not None else default_run_dir(f"episode-{task.world}")
    started = now_iso()
    config = RunConfig(suite=task.world, agent=agent, agent_options=dict(agent_options),
                       seed=0 if seed is None else seed, save_frames=save_frames)
    manifest = RunManifest(kind="episode", config=config, tasks_total=1, started_at=started,
                           sessions=[RunSession(started_at=started)], **environment_facts())
    run = RunDir.create(path, manifest, [task])
    writer = EpisodeWriter(run.episode_dir(task.id, seed), save_frames)
    status: RunStatus = "failed"
    try:
        yield writer
        status = "finished" if writer.result is not None else "failed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        writer.close()
        if writer.result is not None:
            with run.index as index:
                index.append([writer.result])
        manifest.ended_at = manifest.sessions[0].ended_at = now_iso()
        manifest.status = manifest.sessions[0].status = status
        manifest.sessions[0].episodes = int(writer.result is not None)
        run.write_manifest(manifest)
