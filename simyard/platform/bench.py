"""Many episodes: a suite's tasks against one agent, across worker processes, into a resumable run directory.

`run_bench` is the whole job: it decides what to run (a new run, or the missing part of an old one), and owns the run
directory's manifest and results index while `executor` runs the episodes (in this process, or in spawned workers
that send back only small result rows). An episode that fails is a row with status `error`; it never stops the
batch.

Resuming reads `run.json`, skips every (task_id, seed) pair already in the index and runs only the missing ones.
Worlds and agents that live outside simyard reach spawned workers through plugin imports (`imports`, the CLI's
`--import`): modules or `.py` files imported in every process before anything is built, recorded in run.json so a
resume imports them too.
"""

from __future__ import annotations

import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simyard.platform import registry, runlog
from simyard.platform.api import Task
from simyard.platform.episode import EpisodeResult, Limits
from simyard.platform.errors import SimyardError
from simyard.platform.executor import WorkerPool, WorkerSpec, run_in_process
from simyard.platform.plugins import import_plugins, normalise_imports
from simyard.platform.runlog import RunConfig, RunDir, RunManifest, RunSession, environment_facts, now_iso, open_run


class ResumeError(SimyardError):
    """A resume that cannot go ahead: options that contradict run.json, or a run with nothing left to do."""


class BenchOptionError(SimyardError):
    """Bench options that make no sense (no suite, zero workers, an empty task selection)."""


# ------------------------------------------------------------------------------------------------ public types


def episode_seed(base_seed: int, task_id: str) -> int:
    """The seed of a task's episode: depends only on the base seed and the task id (never on `hash`)."""
    return zlib.crc32(f"{base_seed}\x1f{task_id}".encode())


@dataclass(frozen=True, slots=True)
class BenchProgress:
    """What the progress callback hears: after the start, after each recorded result, and when stopping.

    Attributes:
        total: Episodes the run covers.
        done: Episodes recorded in the index (earlier sessions included).
        successes: Recorded episodes that succeeded.
        errors: Recorded episodes with status `error`.
        added: Episodes this session recorded (the basis of a rate).
        elapsed_s: Seconds since this session started.
        last: The result just recorded, if any.
        stopping: An interrupt was received; in-flight episodes are finishing.
    """

    total: int
    done: int
    successes: int
    errors: int
    added: int
    elapsed_s: float
    last: EpisodeResult | None = None
    stopping: bool = False


ProgressCallback = Callable[[BenchProgress], None]


@dataclass
class BenchSummary:
    """What `run_bench` returns: the run directory and every result recorded for it, in task order."""

    run_dir: Path
    status: str
    total: int
    added: int
    skipped: int
    results: list[EpisodeResult] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------- the entry


def run_bench(
    suite: str | None = None,
    agent: str | None = None,
    agent_options: dict[str, Any] | None = None,
    *,
    workers: int = 1,
    concurrency: int = 1,
    limit: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    limits: Limits | None = None,
    imports: Sequence[str] = (),
    save_frames: bool | None = None,
    progress: ProgressCallback | None = None,
) -> BenchSummary:
    """Run (or resume) a benchmark and record it in a run directory.

    Args:
        suite: Suite name or task file; required unless resuming.
        agent: Agent registry name; required unless resuming.
        agent_options: Keyword options for the agent factory.
        workers: Processes; 1 runs everything in this process (fastest to start, easiest to debug).
        concurrency: Episodes in flight per worker for async agents (sync agents run one at a time).
        limit: Only the first `limit` tasks.
        seed: Base seed (default 0); each episode's seed is `episode_seed(seed, task_id)`.
        out: Run directory to create; default `runs/<suite>-<agent>-<timestamp>`.
        resume: An existing run directory to finish. Options given alongside must match its run.json.
        limits: Per-episode overrides of the tasks' step and invalid-action caps, plus a wall-clock limit.
        imports: Plugin modules or `.py` files that register worlds, agents or suites (imported in every worker).
        save_frames: Save observation images as PNG; None saves them when the world produces any.
        progress: Called with a `BenchProgress` at the start and after each recorded result.

    Returns:
        The summary; `status` is `finished` when every episode is recorded.

    Raises:
        SimyardError: Bad options, unknown names, a path that is not a run, a resume that conflicts or has nothing
            left to do. KeyboardInterrupt is re-raised after the run is marked `interrupted` (it can be resumed).
    """
    if workers < 1 or concurrency < 1:
        raise BenchOptionError("workers and concurrency must be at least 1", hint="e.g. --workers 2 --concurrency 8")
    if limit is not None and limit < 1:
        raise BenchOptionError(f"--limit must be at least 1, not {limit}", hint="leave it out to run every task")
    if resume is not None:
        run, config = _prepare_resume(resume, suite, agent, agent_options, limit, seed, limits, imports, save_frames)
        tasks = run.tasks()
    else:
        run, config, tasks = _prepare_new(suite, agent, agent_options, limit, seed, out, limits, imports, save_frames)

    lock = run.lock()  # one writer per run directory: a second resume of the same run is refused, not interleaved
    try:
        return _execute(run, config, tasks, resume is not None, workers, concurrency, progress)
    except SimyardError:
        lock.close()
        if resume is None and not run.results():
            # A new run that failed to set up (bad agent options, a plugin missing in workers) recorded nothing;
            # leaving its directory would only make the corrected command collide with it.
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    finally:
        lock.close()


def _execute(run: RunDir, config: RunConfig, tasks: list[Task], resuming: bool, workers: int, concurrency: int,
             progress: ProgressCallback | None) -> BenchSummary:
    pairs = [(task, episode_seed(config.seed, task.id)) for task in tasks]
    recorded = {(result.task_id, result.seed): result for result in run.results()}
    wanted = {(task.id, seed) for task, seed in pairs}
    missing = [(task, seed) for task, seed in pairs if (task.id, seed) not in recorded]
    if resuming and not missing:
        raise ResumeError(
            f"run {run.path} is already complete ({len(pairs)}/{len(pairs)} episodes)",
            hint=f"see it with `simyard bench report {run.path}`, or start a new run",
        )

    manifest = run.manifest
    session = RunSession(started_at=now_iso(), workers=workers, concurrency=concurrency)
    manifest.sessions.append(session)
    manifest.workers, manifest.concurrency, manifest.status, manifest.ended_at = workers, concurrency, "running", None
    run.write_manifest(manifest)

    tally = _Tally(total=len(pairs), callback=progress, results=[r for k, r in recorded.items() if k in wanted])

    def record(rows: list[EpisodeResult]) -> None:
        fresh = [row for row in rows if (row.task_id, row.seed) not in recorded]
        run.index.append(fresh)
        for row in fresh:
            recorded[(row.task_id, row.seed)] = row
            tally.add(row)

    spec = WorkerSpec(str(run.path.resolve()), config.agent, dict(config.agent_options), config.episode_limits(),
                       tuple(config.imports), config.save_frames, concurrency)
    status = "failed"
    tally.report()
    try:
        if workers == 1 or len(missing) == 1:
            run_in_process(spec, missing, record)
        else:
            WorkerPool(spec, workers, missing, record, lambda: tally.report(stopping=True)).run()
        status = "finished" if all(key in recorded for key in wanted) else "failed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        run.index.close()
        session.ended_at = manifest.ended_at = now_iso()
        session.status = manifest.status = status  # type: ignore[assignment]
        session.episodes = tally.added
        run.write_manifest(manifest)

    ordered = [recorded[(task.id, seed)] for task, seed in pairs if (task.id, seed) in recorded]
    return BenchSummary(run.path, status, len(pairs), tally.added, len(pairs) - len(missing), ordered)


def _prepare_new(
    suite: str | None,
    agent: str | None,
    agent_options: dict[str, Any] | None,
    limit: int | None,
    seed: int | None,
    out: str | Path | None,
    limits: Limits | None,
    imports: Sequence[str],
    save_frames: bool | None,
) -> tuple[RunDir, RunConfig, list[Task]]:
    if not suite:
        raise BenchOptionError("no suite given", hint="name a suite (e.g. ragen) or a task file, or use --resume")
    if not agent:
        raise BenchOptionError("no agent given", hint="pass --agent NAME (e.g. --agent random)")
    plugins = normalise_imports(imports)
    import_plugins(plugins)
    tasks = registry.load_suite(suite)[:limit]
    if not tasks:
        raise BenchOptionError(f"suite {suite!r} has no tasks", hint="check the suite or task file")
    registry.origin("agent", agent)  # unknown agent names fail here, before any directory is made
    for world in sorted({task.world for task in tasks}):
        registry.world_class(world)
    suite_path = Path(suite)
    stored_suite = str(suite_path.resolve()) if suite_path.is_file() else suite
    config = RunConfig(suite=stored_suite, agent=agent, agent_options=dict(agent_options or {}),
                       limits=_limits_dict(limits), seed=0 if seed is None else seed, limit=limit, imports=plugins,
                       save_frames=save_frames)
    path = Path(out) if out is not None else default_run_dir(suite, agent)
    started = now_iso()
    manifest = RunManifest(config=config, tasks_total=len(tasks), started_at=started, **environment_facts())
    return RunDir.create(path, manifest, tasks), config, tasks


def _prepare_resume(
    resume: str | Path,
    suite: str | None,
    agent: str | None,
    agent_options: dict[str, Any] | None,
    limit: int | None,
    seed: int | None,
    limits: Limits | None,
    imports: Sequence[str],
    save_frames: bool | None,
) -> tuple[RunDir, RunConfig]:
    run = open_run(resume)
    manifest = run.manifest
    if manifest.kind != "bench":
        raise ResumeError(f"{run.path} recorded a single interactive episode; there is nothing to resume",
                          hint="start a bench run with `simyard bench run SUITE --agent NAME`")
    config = manifest.config
    given: dict[str, Any] = {
        "agent": agent,
        "agent_options": agent_options,
        "limit": limit,
        "seed": seed,
        "limits": None if limits is None else _limits_dict(limits),
        "imports": normalise_imports(imports) or None,
        "save_frames": save_frames,
    }
    if suite is not None:
        given["suite"] = str(Path(suite).resolve()) if Path(suite).is_file() else suite
    conflicts = [
        f"{name} is {value!r} here but {getattr(config, name)!r} in run.json"
        for name, value in given.items()
        if value is not None and value != getattr(config, name)
    ]
    if conflicts:
        raise ResumeError(
            f"cannot resume {run.path}: {'; '.join(conflicts)}",
            hint="leave those options out to keep the run's own, or start a new run with --out",
        )
    import_plugins(config.imports)
    return run, config


def _limits_dict(limits: Limits | None) -> dict[str, float | int | None]:
    return asdict(limits or Limits())


def default_run_dir(suite: str, agent: str) -> Path:
    """`runs/<suite>-<agent>-<local time>` (a task file's suite label is its file name without the suffix)."""
    suite = Path(suite).stem if Path(suite).suffix in (".jsonl", ".json", ".yaml", ".yml") else suite
    return runlog.default_run_dir(f"{suite}-{agent}")


@dataclass
class _Tally:
    """Counts for progress reports; fed by the parent as rows reach the index."""

    total: int
    callback: ProgressCallback | None
    results: list[EpisodeResult]
    added: int = 0
    started: float = field(default_factory=time.monotonic)
    successes: int = field(init=False)
    errors: int = field(init=False)
    done: int = field(init=False)

    def __post_init__(self) -> None:
        self.successes = sum(result.success for result in self.results)
        self.errors = sum(result.status == "error" for result in self.results)
        self.done = len(self.results)

    def add(self, result: EpisodeResult) -> None:
        self.done += 1
        self.added += 1
        self.successes += result.success
        self.errors += result.status == "error"
        self.report(result)

    def report(self, last: EpisodeResult | None = None, stopping: bool = False) -> None:
        if self.callback is not None:
            self.callback(BenchProgress(self.total, self.done, self.successes, self.errors, self.added,
                                        time.monotonic() - self.started, last, stopping))


