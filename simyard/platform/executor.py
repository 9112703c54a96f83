"""Where episodes run, behind one small interface: submit tasks, stream results, cancel, close.

`bench.py` talks only to `Executor`. Three implementations ship: `InProcessExecutor` (lanes in this process; quickest
to start, and a debugger sees everything), `PoolExecutor` (spawned worker processes) and `RayExecutor` (actors on a
Ray cluster, `ray_executor.py`), which touches nothing else. Every implementation keeps the same promises:

* each submitted (task, seed) comes out of `results()` exactly once, as a row, unless the run was cancelled first;
* a row comes out as soon as its episode ended, so a crash of the driver loses only episodes in flight;
* infrastructure failures (a worker that died, an `InfraError`) are retried up to `WorkerSpec.max_attempts` times
  with backoff before an `infra_error` row is given;
* `cancel()` starts nothing new; episodes in flight finish and their rows still come out.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from simyard.platform.adaptive import AdaptiveSettings
from simyard.platform.api import Task
from simyard.platform.episode import EpisodeResult, Limits

Key = tuple[str, int]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build its agent and worlds; plain data, so it pickles into spawned processes.

    Attributes:
        run_dir: The run directory episodes write their trajectories into.
        agent, agent_options: The agent's registry name and factory options.
        limits: Per-episode caps and wall-clock limit.
        imports: Plugin modules imported in every process before anything is built.
        frames: Frame policy (`all`, `every:N`, `final`, `none`; `auto` = all when the world renders any).
        concurrency: Episodes in flight per worker (one lane each).
        world_options: Constructor options for the worlds (`key` for every world, `world.key` for one).
        video: Also write one video per episode and view.
        reply_cap: Characters of each model reply kept in trajectories (the full length is recorded).
        max_attempts: Tries per episode when the infrastructure fails.
        grace_s: How long a call may run past its deadline before the watchdog restarts its worker.
        adaptive: With `--concurrency auto`, how each worker grows and shrinks its episodes in flight
            (`platform.adaptive`); None keeps `concurrency` fixed.
    """

    run_dir: str
    agent: str
    agent_options: dict[str, Any]
    limits: Limits
    imports: tuple[str, ...] = ()
    frames: str = "auto"
    concurrency: int = 1
    world_options: dict[str, Any] = field(default_factory=dict)
    video: bool = False
    reply_cap: int = 65536
    max_attempts: int = 3
    grace_s: float = 5.0
    adaptive: AdaptiveSettings | None = None


class Executor(abc.ABC):
    """Runs episodes somewhere and streams their result rows back to the one process that records them."""

    #: The (workers, concurrency) an executor chose itself once it saw where it runs (Ray's `--workers auto`
    #: counts the cluster's nodes); None when it used the counts it was given.
    sized: tuple[int, int] | None = None

    @abc.abstractmethod
    def submit(self, items: Sequence[tuple[Task, int]]) -> None:
        """Queue episodes (a task and its episode seed each)."""

    @abc.abstractmethod
    def results(self) -> Iterator[list[EpisodeResult]]:
        """Rows as episodes end, in batches; returns when everything submitted (or, after cancel, in flight) ended.

        Raises the SimyardError of a set-up failure that no episode can escape (bad agent options, a plugin that does
        not import).
        """

    @abc.abstractmethod
    def cancel(self) -> None:
        """Start nothing more; the episodes in flight finish and their rows still come out of `results()`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop everything and release workers; safe to call twice."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Where episodes can run: `local` (this process or a spawned pool) or `ray` (actors on a Ray cluster).
EXECUTORS = ("local", "ray")


def make_executor(spec: WorkerSpec, workers: int, started: Executor | None = None, kind: str = "local",
                  address: str | None = None, auto: tuple[Any, ...] | None = None) -> Executor:
    """The executor for `workers` workers: locally in this process for 1, a spawned pool otherwise; with
    `kind="ray"`, `workers` actors on the Ray cluster at `address` (a local Ray when None).

    `auto` is (concurrency, ceiling) as asked with `--workers auto`: a Ray executor then sizes itself from its
    cluster's nodes instead of `workers` (`RayExecutor.sized` says what it chose).

    `started` is a pool from `start_pool`, spawned before the run was known: it is used when a pool is wanted and
    closed otherwise (a run left with one task runs it in process).
    """
    from simyard.platform.pool import PoolExecutor

    if kind not in EXECUTORS:
        from simyard.platform.errors import UnknownNameError

        raise UnknownNameError(f"no executor named {kind!r}", hint=f"known executors: {', '.join(EXECUTORS)}")
    if kind == "ray":
        if started is not None:
            started.close()
        from simyard.platform.ray_executor import RayExecutor

        return RayExecutor(spec, workers, address, auto=auto)
    if address is not None:
        from simyard.platform.errors import SimyardError

        raise SimyardError(f"--address {address} is for the ray executor only", hint="add --executor ray")
    if workers > 1 and isinstance(started, PoolExecutor):
        started.configure(spec)
        return started
    if started is not None:
        started.close()
    if workers <= 1:
        from simyard.platform.lanes import InProcessExecutor

        return InProcessExecutor(spec)
    return PoolExecutor(spec, workers)


def start_pool(workers: int) -> Executor | None:
    """Worker processes spawned now, for a run about to be set up; None for one worker (nothing to start).

    Hand the result to `make_executor`, or `close()` it if the run never starts.
    """
    if workers <= 1:
        return None
    from simyard.platform.pool import PoolExecutor

    pool = PoolExecutor(None, workers)
    pool.start()
    return pool
