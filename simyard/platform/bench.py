"""Many episodes: a suite's tasks against one agent, across worker processes, into a resumable run directory.

`run_bench` is the whole job: it decides what to run (a new run, or the missing part of an old one), and owns the run
directory's manifest and results index while `executor` runs the episodes (in this process, or in spawned workers
that send back only small result rows). An episode that fails is a row with an error status; it never stops the
batch. An `infra_error` row (the machinery failed on every try) is not a result: a resume runs it again.

Resuming reads `run.json`, skips every (task_id, seed) pair already in the index and runs only the missing ones.
Worlds and agents that live outside simyard reach spawned workers through plugin imports (`imports`, the CLI's
`--import`): modules or `.py` files imported in every process before anything is built, recorded in run.json so a
resume imports them too.
"""

from __future__ import annotations

import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from simyard.platform import registry, rundir
from simyard.platform.adaptive import AUTO, AdaptiveSettings, DecisionLog, parse_count, plan_counts
from simyard.platform.api import Task
from simyard.platform.cleanup import sweep_stale
from simyard.platform.episode import EpisodeResult, Limits
from simyard.platform.errors import SimyardError
from simyard.platform.executor import EXECUTORS, Executor, WorkerSpec, make_executor, start_pool
from simyard.platform.frames import FramePolicy
from simyard.platform.lanes import options_for
from simyard.platform.manifest import RunConfig, RunManifest, RunSession, environment_facts, now_iso
from simyard.platform.plugins import import_plugins, normalise_imports
from simyard.platform.resources import Resources
from simyard.platform.rundir import RunDir, open_run


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
        errors: Recorded episodes that ended in an error or a timeout (infrastructure failures not counted).
        infra_failed: Episodes whose infrastructure failed on every try (re-run by --resume).
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
    infra_failed: int = 0


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


#: The adaptive settings, the decision records of `auto` counts, and the counts as asked (workers, concurrency,
#: ceiling), which a Ray run sized from its cluster plans again.
_Plan = tuple[AdaptiveSettings | None, list[dict[str, Any]], tuple[Any, ...]]


def run_bench(
    suite: str | None = None,
    agent: str | None = None,
    agent_options: dict[str, Any] | None = None,
    *,
    workers: int | str = 1,
    concurrency: int | str = 1,
    max_concurrency: int | None = None,
    limit: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    limits: Limits | None = None,
    imports: Sequence[str] = (),
    save_frames: bool | None = None,
    frames: str | None = None,
    video: bool | None = None,
    world_options: dict[str, Any] | None = None,
    reply_cap: int | None = None,
    suite_options: dict[str, Any] | None = None,
    watchdog_grace_s: float = 5.0,
    progress: ProgressCallback | None = None,
    executor: str | None = None,
    address: str | None = None,
) -> BenchSummary:
    """Run (or resume) a benchmark and record it in a run directory.

    Args:
        suite: Suite name or task file; required unless resuming.
        agent: Agent registry name; required unless resuming.
        agent_options: Keyword options for the agent factory.
        workers: Processes; 1 runs everything in this process (fastest to start, easiest to debug); `auto`: the
            machine's cores (fewer when memory is short), within `max_concurrency`.
        concurrency: Episodes in flight per worker, one lane each (world calls and sync agents run on the lane's
            thread, so a slow world never stalls the others); `auto`: start from the cores and adapt to measured
            headroom and model-server latency and 429s (`platform.adaptive`), logged in concurrency.jsonl.
        max_concurrency: The ceiling on episodes in flight over all workers (default 32 with `auto`).
        limit: Only the first `limit` tasks.
        seed: Base seed (default 0); each episode's seed is `episode_seed(seed, task_id)`.
        out: Run directory to create; default `runs/<suite>-<agent>-<timestamp>`.
        resume: An existing run directory to finish. Options given alongside must match its run.json.
        limits: Per-episode overrides of the tasks' step and invalid-action caps, plus a wall-clock limit.
        imports: Plugin modules or `.py` files that register worlds, agents or suites (imported in every worker).
        save_frames: Old switch for `frames` (False = `none`).
        frames: `all`, `every:N`, `final` or `none`; default all frames of worlds that render any.
        video: Also write one video per episode and view.
        world_options: Constructor options of the worlds (`key` for every world of the run, `world.key` for one).
        reply_cap: Characters of each model reply kept in trajectories (default 65,536; full length recorded).
        suite_options: Keyword options of the suite function (`{"data": PATH}` for EB-ALFRED's own data).
        watchdog_grace_s: How long a call may go on past its episode's deadline before its worker process is
            restarted (with workers > 1; in one process the call's thread is abandoned with a warning).
        progress: Called with a `BenchProgress` at the start and after each recorded result.
        executor: Where episodes run: `local` (default) or `ray` (`workers` actors on a Ray cluster); a resume
            reuses the run's own unless given.
        address: The Ray cluster's HOST:PORT (`ray` only; a local Ray is started when None); a resume reuses it.

    Returns:
        The summary; `status` is `finished` when every episode is recorded.

    Raises:
        SimyardError: Bad options, unknown names, a path that is not a run, a resume that conflicts or has nothing
            left to do. KeyboardInterrupt is re-raised after the run is marked `interrupted` (it can be resumed);
            SIGTERM is handled like Ctrl-C.
    """
    asked = (parse_count(workers, "--workers"), parse_count(concurrency, "--concurrency"), max_concurrency)
    workers, concurrency, adaptive, plan_records = plan_counts(*asked)
    if limit is not None and limit < 1:
        raise BenchOptionError(f"--limit must be at least 1, not {limit}", hint="leave it out to run every task")
    if reply_cap is not None and reply_cap < 0:
        raise BenchOptionError(f"the reply cap must be 0 or more characters, not {reply_cap}", hint="default 65536")
    if frames is not None:
        FramePolicy.parse(frames)
    elif save_frames is False:
        frames = "none"
    recorded_options = {"frames": frames, "video": video, "world_options": world_options, "reply_cap": reply_cap,
                        "suite_options": suite_options or None}
    # Workers start now, so importing simyard in them overlaps loading the suite; closing twice is harmless.
    if executor not in (None, *EXECUTORS):
        raise BenchOptionError(f"no executor named {executor!r}", hint=f"known executors: {', '.join(EXECUTORS)}")
    started = start_pool(workers) if executor in (None, "local") else None
    try:
        return _prepare_and_execute(suite, agent, agent_options, workers, concurrency, limit, seed, out, resume,
                                    limits, imports, recorded_options, watchdog_grace_s, progress, started,
                                    (adaptive, plan_records, asked), (executor, address))
    finally:
        if started is not None:
            started.close()


def _prepare_and_execute(suite: str | None, agent: str | None, agent_options: dict[str, Any] | None, workers: int,
                         concurrency: int, limit: int | None, seed: int | None, out: str | Path | None,
                         resume: str | Path | None, limits: Limits | None, imports: Sequence[str],
                         recorded_options: dict[str, Any], watchdog_grace_s: float,
                         progress: ProgressCallback | None, started: Executor | None,
                         adaptive: _Plan = (None, [], ()),
                         placement: tuple[str | None, str | None] = (None, None)) -> BenchSummary:
    if resume is not None:
        if out is not None:
            raise BenchOptionError("--out cannot be combined with --resume: a resumed run stays where it is",
                                   hint=f"drop --out, or start a new run in {out} without --resume")
        run, config = _prepare_resume(resume, suite, agent, agent_options, limit, seed, limits, imports,
                                      recorded_options)
        tasks = run.tasks()
        if len(tasks) != run.manifest.tasks_total:
            raise ResumeError(f"{run.path}/tasks.jsonl holds {len(tasks)} tasks but run.json says "
                              f"{run.manifest.tasks_total}: the task snapshot was cut short or edited",
                              hint="restore tasks.jsonl, or start a new run")
    else:
        run, config, tasks, made = _prepare_new(suite, agent, agent_options, limit, seed, out, limits, imports,
                                                recorded_options)

    lock = run.lock()  # one writer per run directory: a second resume of the same run is refused, not interleaved
    try:
        return _execute(run, config, tasks, resume is not None, workers, concurrency, progress, watchdog_grace_s,
                        started, adaptive, placement)
    except SimyardError:
        lock.close()
        if resume is None and not run.results():
            # A new run that failed to set up (bad agent options, a plugin missing in workers) recorded nothing;
            # leaving it would only make the corrected command collide with it. A folder the user made stays.
            run.remove(keep_folder=not made)
        raise
    finally:
        lock.close()


def _execute(run: RunDir, config: RunConfig, tasks: list[Task], resuming: bool, workers: int, concurrency: int,
             progress: ProgressCallback | None, grace_s: float, started: Executor | None = None,
             adaptive: _Plan = (None, [], ()),
             placement: tuple[str | None, str | None] = (None, None)) -> BenchSummary:
    pairs = [(task, episode_seed(config.seed, task.id)) for task in tasks]
    recorded = {(result.task_id, result.seed): result for result in run.results()}
    wanted = {(task.id, seed) for task, seed in pairs}
    # Infrastructure failures are not results: a resume runs them again.
    missing = [(task, seed) for task, seed in pairs
               if (task.id, seed) not in recorded or recorded[(task.id, seed)].status == "infra_error"]
    if resuming and not missing:
        raise ResumeError(
            f"run {run.path} is already complete ({len(pairs)}/{len(pairs)} episodes)",
            hint=f"see it with `simyard bench report {run.path}`, or start a new run",
        )

    manifest = run.manifest
    session = RunSession(started_at=now_iso(), workers=workers, concurrency=concurrency)
    manifest.sessions.append(session)
    manifest.workers, manifest.concurrency, manifest.status, manifest.ended_at = workers, concurrency, "running", None
    executor_kind, address = placement  # (executor, address): given ones win, missing ones are the run's own
    if executor_kind is not None and executor_kind != manifest.executor:
        manifest.address = None  # the recorded address belongs to the recorded executor
    manifest.executor = executor_kind or manifest.executor
    manifest.address = address if address is not None else manifest.address
    settings, plan_records, asked = adaptive
    # `--workers auto` on Ray counts the cluster's nodes, which only the executor sees once it has joined them
    cluster_sized = manifest.executor == "ray" and bool(asked) and asked[0] == AUTO
    if cluster_sized:
        plan_records = []  # this machine's plan is not the run's; the executor logs its own
    run.write_manifest(manifest)

    tally = _Tally(total=len(pairs), callback=progress, results=[r for k, r in recorded.items() if k in wanted])

    def record(rows: list[EpisodeResult]) -> None:
        fresh = [row for row in rows if (row.task_id, row.seed) not in recorded
                 or recorded[(row.task_id, row.seed)].status == "infra_error"]
        run.index.append(fresh)
        for row in fresh:
            previous = recorded.get((row.task_id, row.seed))
            recorded[(row.task_id, row.seed)] = row
            tally.add(row, previous)

    spec = WorkerSpec(str(run.path.resolve()), config.agent, dict(config.agent_options), config.episode_limits(),
                      tuple(config.imports), frames=config.frames_policy(), concurrency=concurrency,
                      world_options=dict(config.world_options), video=config.video, reply_cap=config.reply_cap,
                      grace_s=grace_s, adaptive=_settle(settings, plan_records, run.path))
    status = "failed"
    tally.report()
    stopper = _Stopper(lambda: tally.report(stopping=True))
    executor = make_executor(spec, 1 if len(missing) == 1 and manifest.executor == "local" else workers, started,
                             manifest.executor, manifest.address, auto=asked[1:] if cluster_sized else None)
    with run_resources(config, tasks) as _run_scope:
        try:
            with stopper, executor:
                stopper.executor = executor
                executor.submit(missing)
                for rows in executor.results():
                    record(rows)
            if stopper.interrupted:
                raise KeyboardInterrupt
            status = "finished" if all(key in recorded and recorded[key].status != "infra_error"
                                       for key in wanted) else "failed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            sweep_stale()  # scratch left by workers that died during the run (their own close never ran)
            run.index.close()
            session.ended_at = manifest.ended_at = now_iso()
            session.status = manifest.status = status  # type: ignore[assignment]
            session.episodes = tally.added
            if executor.sized is not None:  # counts the executor chose from its cluster
                session.workers, session.concurrency = executor.sized
                manifest.workers, manifest.concurrency = executor.sized
            run.write_manifest(manifest)

    ordered = [recorded[(task.id, seed)] for task, seed in pairs if (task.id, seed) in recorded]
    return BenchSummary(run.path, status, len(pairs), tally.added, len(pairs) - len(missing), ordered)


def _settle(settings: AdaptiveSettings | None, records: list[dict[str, Any]],
            run_dir: Path) -> AdaptiveSettings | None:
    """The adaptive settings pointed at the run directory (where disk headroom is measured), with the choices made
    so far (`auto` worker and lane counts) logged there."""
    decisions = DecisionLog(run_dir)
    for record in records:
        decisions.write(record)
    return None if settings is None else replace(settings, run_dir=str(run_dir.resolve()))


@contextmanager
def run_resources(config: RunConfig, tasks: list[Task]) -> Iterator[Resources]:
    """The run's resource scope on the driver: each world class's `prepare_run(resources, options)` hook, if it
    has one, runs once here before any episode (a Docker image built once per run), and the scope closes last."""
    scope = Resources("run")
    try:
        for world in sorted({task.world for task in tasks}):
            cls = registry.world_class(world)
            hook = getattr(cls, "prepare_run", None)
            if callable(hook):
                hook(scope, options_for(world, dict(config.world_options)))
        yield scope
    finally:
        scope.close()


class _Stopper:
    """SIGINT and SIGTERM on the driver: the first stops dispatching (episodes in flight finish and are recorded),
    the second stops waiting. Only the main thread may install handlers; elsewhere this does nothing."""

    def __init__(self, on_stopping: Callable[[], None]) -> None:
        self.on_stopping = on_stopping
        self.executor: Executor | None = None
        self.interrupted = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Stopper:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) != signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        if self.executor is not None:
            self.executor.cancel()
        self.on_stopping()


def _prepare_new(
    suite: str | None,
    agent: str | None,
    agent_options: dict[str, Any] | None,
    limit: int | None,
    seed: int | None,
    out: str | Path | None,
    limits: Limits | None,
    imports: Sequence[str],
    recorded_options: dict[str, Any],
) -> tuple[RunDir, RunConfig, list[Task], bool]:
    if not suite:
        raise BenchOptionError("no suite given", hint="name a suite (e.g. ragen) or a task file, or use --resume")
    if not agent:
        raise BenchOptionError("no agent given", hint="pass --agent NAME (e.g. --agent random)")
    plugins = normalise_imports(imports)
    import_plugins(plugins)
    tasks = registry.load_suite(suite, recorded_options.get("suite_options"))[:limit]
    if not tasks:
        raise BenchOptionError(f"suite {suite!r} has no tasks", hint="check the suite or task file")
    registry.origin("agent", agent)  # unknown agent names fail here, before any directory is made
    world_options = dict(recorded_options.get("world_options") or {})
    for world in sorted({task.world for task in tasks}):
        registry.check_world_options(world, options_for(world, world_options))
    stored_suite = _stored_suite(suite)
    extra = {key: value for key, value in recorded_options.items() if value is not None}
    config = RunConfig(suite=stored_suite, agent=agent, agent_options=dict(agent_options or {}),
                       limits=_limits_dict(limits), seed=0 if seed is None else seed, limit=limit, imports=plugins,
                       **extra)
    path = Path(out) if out is not None else default_run_dir(suite, agent)
    made = not path.exists()
    started = now_iso()
    manifest = RunManifest(config=config, tasks_total=len(tasks), started_at=started, **environment_facts())
    return RunDir.create(path, manifest, tasks), config, tasks, made


def _prepare_resume(
    resume: str | Path,
    suite: str | None,
    agent: str | None,
    agent_options: dict[str, Any] | None,
    limit: int | None,
    seed: int | None,
    limits: Limits | None,
    imports: Sequence[str],
    recorded_options: dict[str, Any],
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
        **recorded_options,
    }
    if suite is not None:
        given["suite"] = _stored_suite(suite)
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
    """`runs/<suite>-<agent>-<local time>` (a task file's suite label is its file name without the suffix, a
    directory of task folders' its name)."""
    if Path(suite).suffix in (".jsonl", ".json", ".yaml", ".yml"):
        suite = Path(suite).stem
    elif _is_folder_suite(suite):
        suite = Path(suite).resolve().name
    return rundir.default_run_dir(f"{suite}-{agent}")


def _is_folder_suite(suite: str) -> bool:
    """Whether `suite` names a directory of task folders rather than a registered suite (as `load_suite` decides)."""
    return Path(suite).is_dir() and suite not in registry.names("suite")


def _stored_suite(suite: str) -> str:
    """What run.json records: a task file or a directory of task folders by absolute path (a resume from another
    directory finds it), a registered suite by name."""
    path = Path(suite)
    return str(path.resolve()) if path.is_file() or _is_folder_suite(suite) else suite


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
    infra_failed: int = 0

    def __post_init__(self) -> None:
        final = [result for result in self.results if result.status != "infra_error"]
        self.successes = sum(result.success for result in final)
        self.errors = sum(result.errored for result in final)
        self.done = len(final)
        self.infra_failed = len(self.results) - len(final)

    def add(self, result: EpisodeResult, previous: EpisodeResult | None = None) -> None:
        """Count a recorded row; `previous` is the infra_error row it replaces, if any."""
        if previous is not None:
            self.infra_failed -= 1
        self.added += 1
        if result.status == "infra_error":
            self.infra_failed += 1
        else:
            self.done += 1
            self.successes += result.success
            self.errors += result.errored
        self.report(result)

    def report(self, last: EpisodeResult | None = None, stopping: bool = False) -> None:
        if self.callback is not None:
            self.callback(BenchProgress(self.total, self.done, self.successes, self.errors, self.added,
                                        time.monotonic() - self.started, last, stopping, self.infra_failed))


