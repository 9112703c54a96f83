"""The worker-process pool: spawned processes fed chunks of tasks by the driver, which alone records results.

We use plain `multiprocessing.Process`es rather than `ProcessPoolExecutor`/`Pool` because the requirements are per
worker, not per task: each worker imports the plugins, opens its resource scope, builds its agents once and its
worlds lazily, and closes all of them in `finally`; results reach the driver as each episode ends; a worker that dies
costs only its own episodes in flight, which are retried (an infrastructure failure, never the agent's).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from simyard.platform import errors as _errors
from simyard.platform.adaptive import DecisionLog
from simyard.platform.api import Task
from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import SimyardError
from simyard.platform.executor import Executor, Key, WorkerSpec
from simyard.platform.lanes import NOT_YET, EpisodeRunner
from simyard.platform.plugins import PluginImportError, import_plugins
from simyard.platform.resources import Resources

Item = tuple[dict[str, Any], int]  # a task as plain data (cheap to pickle) and its episode seed

# SimyardError subclasses defined outside errors.py that a worker may report; rebuilt by name in the parent.
_plugin_errors: dict[str, type[SimyardError]] = {"PluginImportError": PluginImportError}

#: Exit code of a worker that restarts itself because a call it abandoned never returned.
WEDGED_EXIT = 75


def _worker_main(inbox: Any, outbox: Any, stop: Any) -> None:
    """A worker process: wait for the spec, import plugins, build the agents, run what the parent sends, close all.

    The spec is the first message on `inbox` rather than an argument, so the parent can start workers before it
    knows the run (see `PoolExecutor.start`): importing simyard in a fresh process then overlaps the suite's loading.

    Messages to the parent, on `outbox` (this worker's own pipe): ("ready",), ("start", key), ("result", row),
    ("restart", why), ("fatal", error), ("exit",). They are sent synchronously, so a worker that dies mid-episode has
    already told the parent which episodes it was in. SIGINT and SIGTERM are ignored: the parent decides how an
    interrupt ends the run and tells workers through `stop`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    spec = _await_spec(inbox, parent)
    if spec is None:
        _send_quietly(lambda *message: outbox.send(message), "exit")
        return
    buffered: deque[Item] = deque()
    ended = False  # the parent sent its sentinel; every lane must hear it, not just the one that read it
    send_lock = threading.Lock()

    def send(*message: Any) -> None:
        with send_lock:
            outbox.send(message)

    def wedged(why: str) -> None:
        # A thread stuck in a call cannot be killed; the process can. The parent re-queues what we had in flight.
        _send_quietly(send, "restart", why)
        os._exit(WEDGED_EXIT)

    def next_item() -> Any:
        nonlocal ended
        while not buffered:
            if ended or stop.is_set():
                return None
            try:
                chunk = inbox.get_nowait()
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    ended = True  # orphaned: start nothing more, nobody would record it
                    continue
                return NOT_YET  # the lane waits without blocking the other lanes' episodes
            if chunk is None:
                ended = True
                continue
            buffered.extend(chunk)
        data, seed = buffered.popleft()
        return Task.model_validate(data), seed

    runner = EpisodeRunner(spec, Resources("worker"), on_wedged=wedged,
                           on_decision=lambda record: _send_quietly(send, "decision", record))
    try:
        import_plugins(spec.imports)
        runner.open()
        send("ready")
        asyncio.run(runner.run_items(next_item, lambda key: send("start", key),
                                     lambda result: send("result", result.to_dict()), stop.is_set))
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone; nobody is left to tell
    except BaseException as exc:
        _send_quietly(send, "fatal", _error_payload(exc))
    finally:
        runner.close()
        _send_quietly(send, "exit")
        inbox.cancel_join_thread()


#: Modules whose state must not be copied into a forked child (GPU and GL contexts, their own threads).
_FORK_UNSAFE = ("torch", "jax", "tensorflow", "mujoco", "OpenGL", "docker", "ray")


def _can_fork() -> bool:
    """Whether this process may fork workers: Linux, one thread (no lock can be held mid-operation by another), and
    none of the libraries whose state a fork would copy half-working."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return False
    return not any(name in sys.modules for name in _FORK_UNSAFE)


def _await_spec(inbox: Any, parent: Any) -> WorkerSpec | None:
    """The run's spec, or None when the parent closes the pool (or dies) before sending one."""
    while True:
        try:
            return inbox.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return None


def _send_quietly(send: Callable[..., None], *message: Any) -> None:
    try:
        send(*message)
    except OSError:  # BrokenPipeError included: the parent died first
        pass


def _error_payload(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": getattr(exc, "message", str(exc)),
        "hint": getattr(exc, "hint", ""),
        "simyard": isinstance(exc, SimyardError),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _raise_payload(payload: dict[str, Any]) -> None:
    if payload["simyard"]:
        cls = getattr(_errors, payload["type"], None) or _plugin_errors.get(payload["type"])
        if not (isinstance(cls, type) and issubclass(cls, SimyardError)):
            cls = SimyardError
        raise cls(payload["message"], hint=payload["hint"])
    raise RuntimeError(f"a bench worker failed:\n{payload['traceback']}")


@dataclass
class _Worker:
    process: Any
    inbox: Any  # a Queue: the parent's puts never block, whatever the worker is doing
    outbox: Any  # the reading end of the worker's pipe
    assigned: dict[Key, Item] = field(default_factory=dict)  # sent to it, no result yet
    started: set[Key] = field(default_factory=set)  # it said it began them, no result yet
    ready: bool = False
    exited: bool = False  # said goodbye, or found dead and accounted for
    stopped: bool = False  # sent its sentinel
    closed: bool = False  # its pipe reached end of file
    restarting: bool = False  # it asked to be replaced (a stuck call); what it had in flight is not its fault


class PoolExecutor(Executor):
    """Spawned worker processes fed chunks of tasks by the parent, which records results as they arrive.

    The parent hands each worker its own chunks (so it always knows who holds what) and keeps a short backlog per
    worker. Chunks grow with how fast episodes turn out to be: about a tenth of a second of work each. A worker that
    dies loses only the episodes it had said it started: they are re-queued (with backoff) up to
    `spec.max_attempts` tries and then recorded as `infra_error`; its other tasks go back in the queue and a new
    worker takes its place.
    """

    max_startup_deaths = 3

    def __init__(self, spec: WorkerSpec | None, workers: int) -> None:
        self.spec: WorkerSpec | None = spec
        self.context = multiprocessing.get_context("spawn")
        self.stop = self.context.Event()
        self.pending: deque[Item] = deque()
        self.delayed: list[tuple[float, Item]] = []  # retries waiting out their backoff
        self.tasks: dict[Key, Task] = {}
        self.attempts: dict[Key, int] = {}
        self.outstanding: set[Key] = set()
        self.size = workers
        self.workers: list[_Worker] = []
        self.durations: list[float] = []
        self.startup_deaths = 0
        self.cancelled = False
        self._rows: list[EpisodeResult] = []
        self._closed = False

    def start(self) -> None:
        """Start every worker now, before the spec is known; they wait for `configure`.

        A run's set-up (loading the suite, writing its task snapshot) then overlaps the workers' start-up. And when
        this process can be forked safely (`_can_fork`), these first workers are forked rather than spawned: a fork
        is ready in milliseconds, while a spawned interpreter spends about 0.27 s importing simyard, a tenth of a
        short run. Workers started later (replacing one that died) are always spawned: by then this process holds
        the run's lock and open files, and may have threads.
        """
        context = multiprocessing.get_context("fork") if _can_fork() else self.context
        while len(self.workers) < self.size:
            self._spawn(context)

    def configure(self, spec: WorkerSpec) -> None:
        """Give the pool its run: the spec goes to the workers already started and to every later one."""
        self.spec = spec
        for worker in self.workers:
            worker.inbox.put(spec)

    def _configured(self) -> WorkerSpec:
        if self.spec is None:
            raise RuntimeError("PoolExecutor.configure(spec) must come before results()")
        return self.spec

    def submit(self, items: Sequence[tuple[Task, int]]) -> None:
        for task, seed in items:
            self.pending.append((task.model_dump(mode="json"), seed))
            self.tasks[(task.id, seed)] = task
            self.outstanding.add((task.id, seed))

    def results(self) -> Iterator[list[EpisodeResult]]:
        self._configured()
        if not self.workers:
            for _ in range(min(self.size, max(1, len(self.outstanding)))):
                self._spawn()
        while self._step():
            if self._rows:
                rows, self._rows = self._rows, []
                yield rows
        if self._rows:
            rows, self._rows = self._rows, []
            yield rows

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.stop.set()
            self.pending.clear()
            self.delayed.clear()

    def _step(self) -> bool:
        """One round: dispatch, collect, look after dead workers. False when the pool is done."""
        now = time.monotonic()
        if self.delayed and not self.cancelled:
            due = [item for when, item in self.delayed if when <= now]
            self.delayed = [(when, item) for when, item in self.delayed if when > now]
            self.pending.extendleft(reversed(due))
        if not self.stop.is_set():
            for worker in self.workers:
                self._dispatch(worker)
        self._collect(timeout=0.2)
        self._reap()
        live = [worker for worker in self.workers if not worker.exited]
        if self.stop.is_set() or not self.outstanding:
            for worker in live:
                self._send_stop(worker)
            return bool(live)
        if not live and not self.pending and not self.delayed:
            return False
        return True

    def _spawn(self, context: Any = None) -> None:
        inbox = self.context.Queue()
        reader, writer = self.context.Pipe(duplex=False)
        process = (context or self.context).Process(target=_worker_main, args=(inbox, writer, self.stop),
                                       name=f"simyard-bench-{len(self.workers)}", daemon=False)
        process.start()
        if self.spec is not None:
            inbox.put(self.spec)
        writer.close()  # the worker holds the only writing end now, so its death shows as end of file here
        self.workers.append(_Worker(process, inbox, reader))

    def _chunk_size(self) -> int:
        if not self.durations:
            return 1
        recent = self.durations[-64:]
        return max(1, min(64, math.ceil(0.1 / max(sum(recent) / len(recent), 1e-6))))

    def _dispatch(self, worker: _Worker) -> None:
        if worker.exited or worker.stopped or worker.restarting:
            return
        size = self._chunk_size()
        spec = self._configured()
        lanes = spec.adaptive.ceiling if spec.adaptive is not None else spec.concurrency
        backlog = size + max(1, lanes)
        while self.pending and len(worker.assigned) < backlog:
            chunk = [self.pending.popleft() for _ in range(min(size, len(self.pending)))]
            for item in chunk:
                worker.assigned[(item[0]["id"], item[1])] = item
            worker.inbox.put(chunk)

    def _send_stop(self, worker: _Worker) -> None:
        if not worker.stopped and not worker.exited:
            worker.stopped = True
            worker.inbox.put(None)

    def _collect(self, timeout: float) -> None:
        """Wait up to `timeout` for any worker to say something or die, then handle everything that is waiting."""
        listening = {worker.outbox: worker for worker in self.workers if not worker.closed}
        sentinels = {worker.process.sentinel: worker for worker in self.workers if not worker.exited}
        ready = multiprocessing.connection.wait([*listening, *sentinels], timeout)
        for handle in ready:
            if handle in listening:
                self._read(listening[handle])

    def _read(self, worker: _Worker, limit: int = 1000) -> None:
        """Handle what one worker has sent (up to `limit` messages), noting end of file when it is gone."""
        count = 0
        try:
            while count < limit and not worker.closed and worker.outbox.poll():
                self._handle(worker, worker.outbox.recv())
                count += 1
        except (EOFError, OSError):
            worker.closed = True

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "start":
            worker.started.add(tuple(message[1]))
        elif kind == "result":
            result = EpisodeResult.from_dict(message[1])
            key: Key = (result.task_id, result.seed)  # type: ignore[assignment]
            worker.assigned.pop(key, None)
            worker.started.discard(key)
            if key in self.outstanding:
                self.outstanding.discard(key)
                self.durations.append(result.duration_s)
                result.attempts += self.attempts.get(key, 0)
                self._rows.append(result)
        elif kind == "decision":
            DecisionLog(self._configured().run_dir).write(message[1])
        elif kind == "restart":
            worker.restarting = True
        elif kind == "fatal":
            _raise_payload(message[1])
        elif kind == "exit":
            worker.exited = True

    def _reap(self) -> None:
        """Notice workers that died without saying goodbye; retry what they had started, re-queue the rest."""
        for worker in list(self.workers):
            if worker.exited or worker.process.is_alive():
                continue
            while not worker.closed and worker.outbox.poll(1.0):
                self._read(worker)  # its last words are still in the pipe
            worker.closed = True
            if worker.exited:
                continue
            worker.exited = True
            code = worker.process.exitcode
            if not worker.ready:
                self.startup_deaths += 1
                if self.startup_deaths > self.max_startup_deaths:
                    raise SimyardError(
                        f"bench workers keep dying while starting (exit code {code})",
                        hint="run with --workers 1 to see the error in this process",
                    )
            for key in sorted(worker.started):
                item = worker.assigned.pop(key, None)
                if item is None:
                    continue
                if worker.restarting:  # not these episodes' doing: a neighbour's call was stuck
                    self.pending.appendleft(item)
                    continue
                tries = self.attempts[key] = self.attempts.get(key, 0) + 1
                if tries < self._configured().max_attempts:
                    self.delayed.append((time.monotonic() + min(8.0, 0.5 * 2 ** (tries - 1)), item))
                    continue
                task = self.tasks[key]
                self.outstanding.discard(key)
                self._rows.append(EpisodeResult(
                    task.id, task.world, task.subset, key[1], status="infra_error", reason="infra_error",
                    attempts=tries,
                    error=f"worker process died (exit code {code}) during this episode, {tries} times"))
            self.pending.extendleft(reversed(list(worker.assigned.values())))
            worker.assigned.clear()
            if self.outstanding and not self.stop.is_set():
                self._spawn()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stop.set()
        deadline = time.monotonic() + 5.0
        for worker in self.workers:
            self._send_stop(worker)
        for worker in self.workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=2.0)
            worker.inbox.cancel_join_thread()  # a dead worker never takes what is left; do not wait to flush it
            worker.inbox.close()
            worker.outbox.close()
