"""Adaptive concurrency: how many episodes a process keeps in flight, grown and shrunk from what is measured.

`--concurrency auto` gives each process a `ConcurrencyController`. It starts from the machine's cores and, every
`interval_s`, looks at what the last interval showed:

* the model server: any HTTP 429 halves the episodes in flight (the server said it is full); replies slower than
  `latency_factor` times the fastest interval seen take a quarter off (more requests would only queue there);
* the machine: memory, disk (where the run directory is) or GPU memory with less than `min_free` left take a
  quarter off; so does CPU busy past `cpu_high` while this process itself uses more than half a core (on a shared
  machine, CPU that others use is not ours to free, and a process waiting on a model server adds none); CPU past
  `cpu_busy` stops growth, under the same condition;
* otherwise, when every lane was busy and work is waiting, it grows: doubling until the server first pushes back
  (as TCP's slow start), then one at a time;

never past the ceiling (`--max-concurrency`) nor below 1. Every change is a decision record (the new limit, why,
and what was measured), written to `concurrency.jsonl` in the run directory and logged on `simyard.adaptive` (shown
by `bench run -v`).

Model clients report into this module (`note_model_call`, `note_throttled`): the platform imports no agent code, so
the openai backend calls in, and any other backend may do the same.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simyard.platform.errors import SimyardError

log = logging.getLogger("simyard.adaptive")

DECISIONS_FILE = "concurrency.jsonl"

#: The ceiling on episodes in flight when `--max-concurrency` is not given.
DEFAULT_CEILING = 32

#: Memory a worker process is assumed to need when `--workers auto` sizes the pool.
WORKER_MEMORY_BYTES = 512 * 2**20

AUTO = "auto"


class ConcurrencyError(SimyardError):
    """`--workers`/`--concurrency`/`--max-concurrency` values that make no sense."""


def parse_count(value: int | str, flag: str) -> int | str:
    """A worker or concurrency count: a positive integer or `auto`.

    Raises:
        ConcurrencyError: Anything else.
    """
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ConcurrencyError(f"{flag} must be a positive integer or 'auto', not {value!r}",
                               hint=f"e.g. {flag} 4, or {flag} auto with --max-concurrency N")
    return number


def cores() -> int:
    """CPU cores this process may use (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class AdaptiveSettings:
    """How a process adapts; plain data, so it travels to worker processes inside the WorkerSpec.

    Attributes:
        ceiling: Episodes in flight this process never exceeds.
        start: Episodes in flight to begin with.
        interval_s: Seconds between decisions at most (sooner once as many episodes ended as are in flight).
        min_gap_s: Seconds between decisions at least.
        latency_factor: Replies this many times slower than the fastest interval seen mean the server is queueing.
        cpu_high, cpu_busy: CPU percentages past which to shrink, and past which not to grow.
        min_free: Fraction of memory, disk and GPU memory that must stay free.
        run_dir: Where the disk headroom is measured (the run directory's file system).
    """

    ceiling: int
    start: int
    interval_s: float = 0.5
    min_gap_s: float = 0.1
    latency_factor: float = 2.0
    cpu_high: float = 95.0
    cpu_busy: float = 85.0
    min_free: float = 0.05
    run_dir: str = "."


@dataclass(frozen=True)
class Capacity:
    """Where the workers will run, as `auto` counts see it: this machine, or a Ray cluster's nodes.

    Attributes:
        cores: CPU cores there (lanes start from each worker's share of them).
        workers: Workers it can hold at once (this machine: cores, fewer when memory is short).
        described: What was measured, for the decision record.
    """

    cores: int
    workers: int
    described: str


def machine_capacity() -> Capacity:
    """This machine: its cores, and as many workers as cores unless memory cannot hold 512 MiB each."""
    count = cores()
    by_memory = max(1, int(_available_memory() // WORKER_MEMORY_BYTES))
    return Capacity(count, min(count, by_memory), f"{count} cores, memory for {by_memory} workers")


def plan_counts(workers: int | str, concurrency: int | str, ceiling: int | None, run_dir: str = ".",
                capacity: Capacity | None = None) -> tuple[int, int, AdaptiveSettings | None, list[dict[str, Any]]]:
    """Resolve `auto` counts: the worker processes, the lanes each opens at first, the per-process settings (None
    when concurrency is fixed), and the decision records that explain the choice.

    `--workers auto` is what `capacity` can hold (default: this machine's cores, fewer when memory cannot hold that
    many workers), never more than the ceiling. `--concurrency auto` starts each worker with its share of the cores
    and lets it grow to its share of the ceiling.
    """
    if ceiling is not None and ceiling < 1:
        raise ConcurrencyError(f"--max-concurrency must be at least 1, not {ceiling}", hint="e.g. --max-concurrency 64")
    limit = ceiling or DEFAULT_CEILING
    records = []
    capacity = capacity or machine_capacity()
    count = capacity.cores
    if workers == AUTO:
        fixed_lanes = 1 if concurrency == AUTO else int(concurrency)
        workers = max(1, min(capacity.workers, limit // fixed_lanes or 1))
        records.append(_record("workers", workers, f"{capacity.described}, ceiling {limit}"))
    workers = int(workers)
    if concurrency != AUTO:
        if ceiling is not None and workers * int(concurrency) > ceiling:
            raise ConcurrencyError(f"{workers} workers x {concurrency} episodes exceeds --max-concurrency {ceiling}",
                                   hint="lower --concurrency or --workers, or use --concurrency auto")
        return workers, int(concurrency), None, records
    share = max(1, limit // workers)
    start = max(1, min(share, count // workers or 1))
    settings = AdaptiveSettings(ceiling=share, start=start, run_dir=run_dir)
    records.append(_record("concurrency", start, f"start from {count} cores over {workers} worker(s); ceiling "
                                                 f"{share} per worker ({limit} in all)"))
    return workers, start, settings, records


def _record(what: str, value: int, why: str, **measured: Any) -> dict[str, Any]:
    return {"time": round(time.time(), 3), "pid": os.getpid(), "what": what, "value": value, "why": why, **measured}


# ------------------------------------------------------------------------------------------------ signals


class ModelSignals:
    """What model clients of this process saw since the last look: reply latencies and 429s (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies: list[float] = []
        self._throttled = 0

    def note_call(self, latency_s: float) -> None:
        with self._lock:
            self._latencies.append(latency_s)

    def note_throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def take(self) -> tuple[list[float], int]:
        """The latencies and 429 count since the last `take`, forgetting them."""
        with self._lock:
            latencies, throttled = self._latencies, self._throttled
            self._latencies, self._throttled = [], 0
        return latencies, throttled


#: The process's signals: model clients write, the process's controller reads.
SIGNALS = ModelSignals()


def note_model_call(latency_s: float) -> None:
    """A model call answered after `latency_s` (one attempt, without backoff)."""
    SIGNALS.note_call(latency_s)


def note_throttled() -> None:
    """A server said it is full: a model server's HTTP 429, or a world server with no free session."""
    SIGNALS.note_throttled()


@dataclass(frozen=True)
class Headroom:
    """What the machine has left: CPU busy %, this process's own CPU % (of one core), and the free fraction of memory,
    disk and GPU memory (None: no GPU in use)."""

    cpu_percent: float
    own_cpu_percent: float
    memory_free: float
    disk_free: float
    gpu_free: float | None = None


def measure_headroom(run_dir: str) -> Headroom:
    """The machine's headroom now (psutil; CPU since the previous call)."""
    import psutil

    memory = psutil.virtual_memory()
    try:
        disk = shutil.disk_usage(run_dir)
        disk_free = disk.free / disk.total if disk.total else 1.0
    except OSError:
        disk_free = 1.0
    return Headroom(psutil.cpu_percent(None), _own_process().cpu_percent(None), memory.available / memory.total,
                    disk_free, _gpu_free())


_process: Any = None


def _own_process() -> Any:
    """This process, as psutil sees it (one object, so its CPU % is measured since the previous call)."""
    global _process
    import psutil

    if _process is None or _process.pid != os.getpid():
        _process = psutil.Process()
    return _process


def _available_memory() -> float:
    import psutil

    return float(psutil.virtual_memory().available)


def _gpu_free() -> float | None:
    """The free fraction of the current GPU's memory, when this process already uses CUDA through torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if not torch.cuda.is_initialized():
            return None
        free, total = torch.cuda.mem_get_info()
        return free / total if total else None
    except Exception:  # noqa: BLE001 (a driver hiccup is no reason to stop a run)
        return None


# ------------------------------------------------------------------------------------------------ the controller


@dataclass
class ConcurrencyController:
    """Decides how many episodes this process keeps in flight (see the module docstring)."""

    settings: AdaptiveSettings
    on_decision: Callable[[dict[str, Any]], None] = lambda record: None
    measure: Callable[[str], Headroom] = measure_headroom
    signals: ModelSignals = field(default_factory=lambda: SIGNALS)
    limit: int = field(init=False)
    peak: int = field(init=False)
    baseline_s: float | None = field(default=None, init=False)
    slow_start: bool = field(default=True, init=False)
    _busy_seen: int = field(default=0, init=False)
    _ended: int = field(default=0, init=False)
    _last: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self) -> None:
        self.limit = self.peak = max(1, min(self.settings.start, self.settings.ceiling))
        self.measure(self.settings.run_dir)  # primes psutil's CPU counter
        self.signals.take()  # what an earlier run of this process saw is not this run's

    def note_ended(self) -> None:
        """An episode ended (a round trip: enough of them make a decision before `interval_s` is up)."""
        self._ended += 1

    def maybe_decide(self, waiting: bool) -> dict[str, Any] | None:
        """Decide when `interval_s` passed, or sooner once as many episodes ended as are in flight (short episodes
        should not wait a whole interval to grow; as TCP grows once per round trip), but never within `min_gap_s`."""
        elapsed = time.monotonic() - self._last
        if elapsed < self.settings.min_gap_s:
            return None
        if elapsed < self.settings.interval_s and self._ended < self.limit:
            return None
        return self.decide(waiting)

    def note_busy(self, busy: int) -> None:
        """The lanes running an episode now; the busiest moment of an interval decides whether to grow."""
        self._busy_seen = max(self._busy_seen, busy)

    def decide(self, waiting: bool) -> dict[str, Any] | None:
        """One decision from the interval just ended; returns its record when the limit changed."""
        self._ended, self._last = 0, time.monotonic()
        latencies, throttled = self.signals.take()
        headroom = self.measure(self.settings.run_dir)
        busy, self._busy_seen = self._busy_seen, 0
        median = statistics.median(latencies) if latencies else None
        if median is not None and (self.baseline_s is None or median < self.baseline_s):
            self.baseline_s = median
        s = self.settings
        short = [name for name, free in (("memory", headroom.memory_free), ("disk", headroom.disk_free),
                                         ("GPU memory", headroom.gpu_free)) if free is not None and free < s.min_free]
        old = self.limit
        cpu_bound = headroom.own_cpu_percent > 50.0
        if throttled:
            new, why = old // 2, f"{throttled} busy answers (HTTP 429 from a model server, or a world server's cap)"
        elif short:
            new, why = old - max(1, old // 4), f"{' and '.join(short)} below {s.min_free:.0%} free"
        elif headroom.cpu_percent > s.cpu_high and cpu_bound:
            new, why = old - max(1, old // 4), f"CPU {headroom.cpu_percent:.0f}% busy"
        elif median is not None and self.baseline_s and median > s.latency_factor * self.baseline_s:
            new, why = old - max(1, old // 4), (f"replies take {median:.3f} s, {median / self.baseline_s:.1f}x the "
                                                f"fastest ({self.baseline_s:.3f} s)")
        elif waiting and busy >= old and not (headroom.cpu_percent > s.cpu_busy and cpu_bound) and old < s.ceiling:
            new, why = (old * 2 if self.slow_start else old + 1), "every lane busy, work waiting, headroom left"
        else:
            return None
        if new < old and (throttled or "replies take" in why):
            self.slow_start = False  # the server's limit is near: grow one at a time from here
        new = max(1, min(s.ceiling, new))
        if new == old:
            return None
        self.limit = new
        self.peak = max(self.peak, new)
        record = _record("concurrency", new, why, previous=old, ceiling=s.ceiling, busy=busy,
                         calls=len(latencies), throttled=throttled,
                         latency_s=None if median is None else round(median, 4),
                         **{key: round(value, 3) for key, value in asdict(headroom).items() if value is not None})
        self.on_decision(record)
        return record


class DecisionLog:
    """`concurrency.jsonl` in the run directory: one JSON line per decision, also logged on `simyard.adaptive`."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / DECISIONS_FILE
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True)
        with self._lock, self.path.open("a") as handle:
            handle.write(line + "\n")
        log.info("%s -> %s (pid %s): %s", record["what"], record["value"], record.get("pid"), record["why"])


def read_decisions(run_dir: str | Path) -> list[dict[str, Any]]:
    """The decisions recorded in a run directory, oldest first (a cut last line is skipped)."""
    path = Path(run_dir) / DECISIONS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
