"""The run directory: what ran (`run.json`), what came out (`results.jsonl`) and how (per-episode trajectories).

A run directory looks like this::

    run.json                      the manifest: suite, agent and options, limits, seed, code version, sessions, status
    run.lock                      held (flock) by the one process writing the run
    tasks.jsonl                   the tasks the run covers, snapshotted at the start so a resume runs the same ones
    results.jsonl                 the results index: one `EpisodeResult` per line, written by one process
    episodes/<task>__s<seed>/
        trajectory.jsonl          a `reset` line, one `step` line per executed step, an `end` line with the result
        frames/step_0003_rgb.png  the images the agent saw after step 3 (step 0 is the reset)

The index is the only file a resume trusts: an episode is done when its row is in the index, and a row is in the
index once it was flushed to the OS (it is fsynced within 0.1 s, and at the end). A crash can leave at most one
torn final line; readers ignore it and the next writer repairs it, so nothing recorded is ever lost and nothing is
counted twice. Trajectories are written
with ordinary buffered I/O (no fsync per step) because they are cheap to regenerate and the recorder must stay
within tens of microseconds per step.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simyard.platform.api import Task
from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import RunDirError
from simyard.platform.manifest import RunConfig, RunManifest, RunSession, RunStatus, environment_facts, now_iso
from simyard.platform.results import ResultsIndex
from simyard.platform.trajectory import EPISODES_DIR, EpisodeWriter

RUN_FILE = "run.json"
TASKS_FILE = "tasks.jsonl"
INDEX_FILE = "results.jsonl"
LOCK_FILE = "run.lock"

#: Said by every RunDirError, so a user who passed the wrong path learns what the right one looks like.
RUN_DIR_HINT = "a run directory holds run.json, results.jsonl and episodes/; `simyard bench run` makes one"

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
        """Make a new run directory; refuses a path that already holds a run or anything else.

        Raises:
            RunDirError: The path holds a run or other files, or cannot be made (under a file, read-only, /proc).
        """
        from simyard.platform.taskfiles import write_task_file

        path = Path(path)
        if (path / RUN_FILE).exists():
            raise RunDirError(f"{path} already holds a run", hint=f"continue it with --resume {path}, or pick --out")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"{path} exists and is not an empty directory", hint="pick a new --out directory")
        made = not path.exists()
        try:
            (path / EPISODES_DIR).mkdir(parents=True, exist_ok=True)
            write_task_file(path / TASKS_FILE, tasks)
            _fsync_file(path / TASKS_FILE)  # a resume trusts this snapshot; it must not be cut short by a crash
            (path / INDEX_FILE).touch()
            run = cls(path)
            run.write_manifest(manifest)  # last: a directory with run.json is a complete, resumable run
        except OSError as exc:
            cls(path).remove(keep_folder=not made)
            reason = exc.strerror or type(exc).__name__
            raise RunDirError(f"cannot make the run directory {path}: {reason}",
                              hint="pick an --out in a folder you can write to") from None
        return run

    def remove(self, keep_folder: bool = False) -> None:
        """Delete what a run put in its directory (and the directory itself unless `keep_folder`)."""
        if not keep_folder:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for name in (RUN_FILE, TASKS_FILE, INDEX_FILE, LOCK_FILE, RUN_FILE + ".tmp"):
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / EPISODES_DIR, ignore_errors=True)

    @property
    def manifest(self) -> RunManifest:
        """run.json, parsed."""
        try:
            return RunManifest.model_validate_json((self.path / RUN_FILE).read_text(encoding="utf-8"))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "the file"
            raise RunDirError(f"{self.path / RUN_FILE} cannot be read: {where}: {error['msg']}",
                              hint=RUN_DIR_HINT) from None
        except (OSError, ValueError) as exc:  # UnicodeDecodeError included
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
        from simyard.platform.taskfiles import load_task_file

        return load_task_file(self.path / TASKS_FILE)

    def results(self) -> list[EpisodeResult]:
        """The results index, deduplicated, in write order."""
        return self.index.read()

    def episode_dir(self, task_id: str, seed: int | None) -> Path:
        """Where the trajectory and frames of one episode live."""
        return self.path / EPISODES_DIR / episode_dir_name(task_id, seed)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def open_run(path: str | Path) -> RunDir:
    """An existing run directory; `RunDirError` when `path` is not one."""
    path = Path(path)
    if path.is_file():
        raise RunDirError(f"{path} is a file, not a run directory", hint=RUN_DIR_HINT)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a run directory (no such directory)", hint=RUN_DIR_HINT)
    if not (path / RUN_FILE).is_file():
        from simyard.platform.matrix import ARMS_DIR, MATRIX_FILE

        if (path / MATRIX_FILE).is_file():
            arms = sorted(arm.name for arm in (path / ARMS_DIR).iterdir() if arm.is_dir()) \
                if (path / ARMS_DIR).is_dir() else []
            raise RunDirError(f"{path} is a matrix run (arms: {', '.join(arms) or 'none yet'}), not a single run",
                              hint=f"name an arm's directory ({path / ARMS_DIR}/<arm>), or, for bench compare, "
                                   f"--arms A B")
        raise RunDirError(f"{path} is not a run directory (it has no {RUN_FILE})", hint=RUN_DIR_HINT)
    run = RunDir(path)
    run.manifest  # noqa: B018 -- validate now, so a broken run.json is reported where the user named the path
    return run


# ------------------------------------------------------------------------------------------------- trajectories


@contextmanager
def single_episode_writer(
    out: Path | None,
    task: Task,
    agent: str,
    agent_options: Mapping[str, Any],
    seed: int | None,
    save_frames: bool | None = None,
    world_options: Mapping[str, Any] | None = None,
) -> Iterator[EpisodeWriter]:
    """A run directory for one interactive episode: the same layout as a bench run, so reports and replays work.

    Yields the episode's `EpisodeWriter` (use it as the episode's recorder); on exit the result goes into the index
    and run.json says how the episode ended.
    """
    path = Path(out) if out is not None else default_run_dir(f"episode-{task.world}")
    started = now_iso()
    config = RunConfig(suite=task.world, agent=agent, agent_options=dict(agent_options),
                       seed=0 if seed is None else seed, save_frames=save_frames,
                       world_options=dict(world_options or {}))
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
