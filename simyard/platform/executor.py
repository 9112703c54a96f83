"""Where episodes run: in this process, or in spawned worker processes fed by the parent.

Both paths share `EpisodeRunner`, which builds the agent and worlds inside the process that uses them and closes
them in `finally`. The parent (the caller of `run_in_process` or `WorkerPool.run`) gets each `EpisodeResult` through
a `record` callback as soon as it is known, and writes the index; workers write trajectories straight into their
episode directories, so only small result rows cross process boundaries.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import queue
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simyard.platform import errors as _errors
from simyard.platform import registry
from simyard.platform.api import Env, Task
from simyard.platform.episode import EpisodeResult, Limits, arun_episode_with, is_async_agent, run_episode_with
from simyard.platform.errors import SimyardError
from simyard.platform.plugins import PluginImportError, import_plugins
from simyard.platform.runlog import EpisodeWriter, RunDir

Key = tuple[str, int]
Item = tuple[dict[str, Any], int]  # a task as plain data (cheap to pickle) and its episode seed

# SimyardError subclasses defined outside errors.py that a worker may report; rebuilt by name in the parent.
_plugin_errors: dict[str, type[SimyardError]] = {"PluginImportError": PluginImportError}


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build its agent and worlds; plain data, so it pickles into spawned processes."""

    run_dir: str
    agent: str
    agent_options: dict[str, Any]
    limits: Limits
    imports: tuple[str, ...]
    save_frames: bool | None
    concurrency: int


class _Slot:
    """One episode lane: an agent (agents keep per-episode state, so lanes never share one) and its worlds."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.worlds: dict[str, Env] = {}


class EpisodeRunner:
    """Builds agents and worlds inside one process and runs episodes with them; `close` releases everything.

    A world is reused by its lane for later tasks of the same world (reset makes each episode independent), and
    replaced after a world error, since a world that failed may be in any state.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.run = RunDir(Path(spec.run_dir))
        self.slots: list[_Slot] = []
        self.is_async = False

    def open(self) -> None:
        """Build the agents: one lane for a sync agent, `concurrency` lanes for an async one."""
        self.slots.append(_Slot(registry.make_agent(self.spec.agent, **self.spec.agent_options)))
        self.is_async = is_async_agent(self.slots[0].agent)
        for _ in range(1, self.spec.concurrency if self.is_async else 1):
            self.slots.append(_Slot(registry.make_agent(self.spec.agent, **self.spec.agent_options)))

    def close(self) -> None:
        for slot in self.slots:
            for env in slot.worlds.values():
                _close_quietly(env)
            _close_quietly(slot.agent)
        self.slots.clear()

    def run_items(
        self,
        next_item: Callable[[], Item | None],
        on_start: Callable[[Key], None],
        on_result: Callable[[EpisodeResult], None],
        stop: Callable[[], bool],
    ) -> None:
        """Run items until `next_item` returns None or `stop()` turns true, reporting each result."""
        if self.is_async:
            asyncio.run(self._run_async(next_item, on_start, on_result, stop))
            return
        slot = self.slots[0]
        while not stop() and (item := next_item()) is not None:
            task, seed = _task_of(item), item[1]
            on_start((task.id, seed))
            on_result(self._run_sync(slot, task, seed))

    async def _run_async(
        self,
        next_item: Callable[[], Item | None],
        on_start: Callable[[Key], None],
        on_result: Callable[[EpisodeResult], None],
        stop: Callable[[], bool],
    ) -> None:
        # One event loop for the whole worker, so async clients bound to it stay valid across episodes; each lane
        # pulls its next item when it is free, which keeps exactly `concurrency` episodes in flight.
        lock = threading.Lock()

        def locked_next() -> Item | None:
            with lock:
                return next_item()

        async def lane(slot: _Slot) -> None:
            while not stop():
                item = await asyncio.to_thread(locked_next)
                if item is None:
                    return
                task, seed = _task_of(item), item[1]
                on_start((task.id, seed))
                on_result(await self._run_async_one(slot, task, seed))

        await asyncio.gather(*(lane(slot) for slot in self.slots))

    def _world(self, slot: _Slot, task: Task, seed: int) -> Env | EpisodeResult:
        if task.world not in slot.worlds:
            try:
                slot.worlds[task.world] = registry.make(task.world)
            except Exception as exc:
                return self._failed(task, seed, "world_error", f"world could not be built: {_describe(exc)}")
        return slot.worlds[task.world]

    def _run_sync(self, slot: _Slot, task: Task, seed: int) -> EpisodeResult:
        env = self._world(slot, task, seed)
        if isinstance(env, EpisodeResult):
            return env
        writer = EpisodeWriter(self.run.episode_dir(task.id, seed), self.spec.save_frames)
        try:
            result = run_episode_with(env, slot.agent, task, seed, self.spec.limits, writer)
        except Exception as exc:  # a bug below the runner is still only this episode's failure
            result = self._failed(task, seed, "world_error", f"internal error: {_describe(exc)}", writer)
        finally:
            writer.close()
        return self._after(slot, task, result)

    async def _run_async_one(self, slot: _Slot, task: Task, seed: int) -> EpisodeResult:
        env = self._world(slot, task, seed)
        if isinstance(env, EpisodeResult):
            return env
        writer = EpisodeWriter(self.run.episode_dir(task.id, seed), self.spec.save_frames)
        try:
            result = await arun_episode_with(env, slot.agent, task, seed, self.spec.limits, writer)
        except Exception as exc:
            result = self._failed(task, seed, "world_error", f"internal error: {_describe(exc)}", writer)
        finally:
            writer.close()
        return self._after(slot, task, result)

    def _after(self, slot: _Slot, task: Task, result: EpisodeResult) -> EpisodeResult:
        if result.reason == "world_error" and task.world in slot.worlds:
            _close_quietly(slot.worlds.pop(task.world))
        return result

    def _failed(self, task: Task, seed: int, reason: Any, message: str,
                writer: EpisodeWriter | None = None) -> EpisodeResult:
        result = EpisodeResult(task.id, task.world, task.subset, seed, status="error", reason=reason, error=message)
        writer = writer or EpisodeWriter(self.run.episode_dir(task.id, seed), self.spec.save_frames)
        try:
            writer.finish(result)  # the episode directory says why there is no trajectory
        except Exception:
            writer.close()
        return result


def _task_of(item: Item) -> Task:
    return item[0] if isinstance(item[0], Task) else Task.model_validate(item[0])


def _close_quietly(thing: Any) -> None:
    try:
        thing.close()
    except Exception:  # one failing close must not keep the others from running
        traceback.print_exc()


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def run_in_process(spec: WorkerSpec, missing: list[tuple[Task, int]],
                    record: Callable[[list[EpisodeResult]], None]) -> None:
    """workers=1: run here, no pool: quickest to start, and a debugger or profiler sees everything."""
    runner = EpisodeRunner(spec)
    pending: deque[Item] = deque(missing)  # type: ignore[arg-type]  # Task objects stand in for their dicts here

    def next_item() -> Item | None:
        return pending.popleft() if pending else None

    try:
        runner.open()
        runner.run_items(next_item, lambda key: None, lambda result: record([result]), lambda: False)
    finally:
        runner.close()


# ------------------------------------------------------------------------------------------------- the pool


def _worker_main(worker_id: int, spec: WorkerSpec, inbox: Any, outbox: Any, stop: Any) -> None:
    """A worker process: import plugins, build the agent, run what the parent sends, close everything.

    Messages to the parent: ("ready", id), ("start", id, key), ("result", id, row), ("fatal", id, error), ("exit",
    id). SIGINT is ignored: the parent decides how an interrupt ends the run and tells workers through `stop`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    buffered: deque[Item] = deque()
    ended = False  # the parent sent its sentinel; every lane must hear it, not just the one that read it
    runner = EpisodeRunner(spec)

    def next_item() -> Item | None:
        nonlocal ended
        while not buffered:
            if ended or stop.is_set():
                return None
            try:
                chunk = inbox.get(timeout=0.5)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    ended = True  # orphaned: start nothing more, nobody would record it
                continue
            if chunk is None:
                ended = True
                continue
            buffered.extend(chunk)
        return buffered.popleft()

    try:
        import_plugins(spec.imports)
        runner.open()
        outbox.put(("ready", worker_id))
        runner.run_items(next_item, lambda key: outbox.put(("start", worker_id, key)),
                         lambda result: outbox.put(("result", worker_id, result.to_dict())), stop.is_set)
    except BaseException as exc:
        outbox.put(("fatal", worker_id, _error_payload(exc)))
    finally:
        runner.close()
        outbox.put(("exit", worker_id))
        if parent is not None and not parent.is_alive():
            outbox.cancel_join_thread()  # nobody reads any more; do not hang on a full pipe at exit


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
    inbox: Any
    assigned: dict[Key, Item] = field(default_factory=dict)  # sent to it, no result yet
    started: set[Key] = field(default_factory=set)  # it said it began them, no result yet
    ready: bool = False
    exited: bool = False
    stopped: bool = False  # sent its sentinel


class WorkerPool:
    """Spawned worker processes fed chunks of tasks by the parent, which records results as they arrive.

    The parent hands each worker its own chunks (so it always knows who holds what) and keeps a short backlog per
    worker. Chunks grow with how fast episodes turn out to be: about a tenth of a second of work each, so fast worlds
    send few messages and slow ones still balance. A worker that dies loses only the episodes it had started (they
    become error rows); its other tasks go back in the queue and a new worker takes its place.
    """

    max_startup_deaths = 3

    def __init__(self, spec: WorkerSpec, workers: int, missing: list[tuple[Task, int]],
                 record: Callable[[list[EpisodeResult]], None], on_stopping: Callable[[], None]) -> None:
        self.spec = spec
        self.context = multiprocessing.get_context("spawn")
        self.outbox = self.context.Queue()
        self.stop = self.context.Event()
        self.pending: deque[Item] = deque((task.model_dump(mode="json"), seed) for task, seed in missing)
        self.tasks = {(task.id, seed): task for task, seed in missing}
        self.outstanding: set[Key] = set(self.tasks)
        self.record = record
        self.on_stopping = on_stopping
        self.size = min(workers, len(missing))
        self.workers: dict[int, _Worker] = {}
        self.next_id = 0
        self.durations: list[float] = []
        self.startup_deaths = 0

    def run(self) -> None:
        interrupts = 0
        try:
            for _ in range(self.size):
                self._spawn()
            while True:
                try:
                    if not self._step():
                        break
                except KeyboardInterrupt:
                    interrupts += 1
                    if interrupts > 1:
                        raise
                    self.stop.set()  # finish what is in flight, record it, then stop; a second Ctrl-C kills
                    self.pending.clear()
                    self.on_stopping()
            if interrupts:
                raise KeyboardInterrupt
        finally:
            self._shutdown()

    def _step(self) -> bool:
        """One round: dispatch, collect, record, look after dead workers. False when the pool is done."""
        if not self.stop.is_set():
            for worker in self.workers.values():
                self._dispatch(worker)
        self._handle(_drain(self.outbox, timeout=0.2))
        self._reap()
        live = [w for w in self.workers.values() if not w.exited]
        if self.stop.is_set():
            for worker in live:
                self._send_stop(worker)
            return bool(live)
        if not self.outstanding:
            for worker in live:
                self._send_stop(worker)
            return bool(live)
        return True

    def _spawn(self) -> None:
        worker_id, self.next_id = self.next_id, self.next_id + 1
        inbox = self.context.Queue()
        process = self.context.Process(target=_worker_main, args=(worker_id, self.spec, inbox, self.outbox, self.stop),
                                       name=f"simyard-bench-{worker_id}", daemon=False)
        process.start()
        self.workers[worker_id] = _Worker(process, inbox)

    def _chunk_size(self) -> int:
        if not self.durations:
            return 1
        mean_s = sum(self.durations[-64:]) / len(self.durations[-64:])
        return max(1, min(64, math.ceil(0.1 / max(mean_s, 1e-6))))

    def _dispatch(self, worker: _Worker) -> None:
        if worker.exited or worker.stopped:
            return
        size = self._chunk_size()
        backlog = size + (self.spec.concurrency if self.spec.concurrency > 1 else 1)
        while self.pending and len(worker.assigned) < backlog:
            chunk = [self.pending.popleft() for _ in range(min(size, len(self.pending)))]
            for item in chunk:
                worker.assigned[(item[0]["id"], item[1])] = item
            worker.inbox.put(chunk)

    def _send_stop(self, worker: _Worker) -> None:
        if not worker.stopped and not worker.exited:
            worker.stopped = True
            worker.inbox.put(None)

    def _handle(self, messages: list[tuple]) -> None:
        rows: list[EpisodeResult] = []
        for message in messages:
            kind, worker = message[0], self.workers[message[1]]
            if kind == "ready":
                worker.ready = True
            elif kind == "start":
                worker.started.add(tuple(message[2]))  # type: ignore[arg-type]
            elif kind == "result":
                result = EpisodeResult.from_dict(message[2])
                key = (result.task_id, result.seed)
                worker.assigned.pop(key, None)  # type: ignore[arg-type]
                worker.started.discard(key)  # type: ignore[arg-type]
                if key in self.outstanding:
                    self.outstanding.discard(key)  # type: ignore[arg-type]
                    self.durations.append(result.duration_s)
                    rows.append(result)
            elif kind == "fatal":
                if rows:
                    self.record(rows)
                _raise_payload(message[2])
            elif kind == "exit":
                worker.exited = True
        if rows:
            self.record(rows)

    def _reap(self) -> None:
        """Notice workers that died without saying goodbye; charge them only what they had started."""
        for worker in list(self.workers.values()):
            if worker.exited or worker.process.is_alive():
                continue
            self._handle(_drain(self.outbox, timeout=0.05))  # its last words may still be in the pipe
            if worker.exited:
                continue
            worker.exited = True
            worker.inbox.cancel_join_thread()
            code = worker.process.exitcode
            if not worker.ready:
                self.startup_deaths += 1
                if self.startup_deaths > self.max_startup_deaths:
                    raise SimyardError(
                        f"bench workers keep dying while starting (exit code {code})",
                        hint="run with --workers 1 to see the error in this process",
                    )
            rows = []
            for key in sorted(worker.started):
                task = self.tasks[key]
                rows.append(EpisodeResult(task.id, task.world, task.subset, key[1], status="error",
                                          reason="world_error",
                                          error=f"worker process died (exit code {code}) during this episode"))
                self.outstanding.discard(key)
                worker.assigned.pop(key, None)
            if rows:
                self.record(rows)
            self.pending.extendleft(reversed(list(worker.assigned.values())))
            worker.assigned.clear()
            if self.outstanding and not self.stop.is_set():
                self._spawn()

    def _shutdown(self) -> None:
        self.stop.set()
        deadline = time.monotonic() + 5.0
        for worker in self.workers.values():
            self._send_stop(worker)
        for worker in self.workers.values():
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=2.0)
            worker.inbox.cancel_join_thread()
            worker.inbox.close()
        self.outbox.cancel_join_thread()
        self.outbox.close()


def _drain(channel: Any, timeout: float) -> list[tuple]:
    """Every message waiting on `channel` (at most 1000), after waiting up to `timeout` for the first."""
    try:
        messages = [channel.get(timeout=timeout)]
    except queue.Empty:
        return []
    while len(messages) < 1000:
        try:
            messages.append(channel.get_nowait())
        except queue.Empty:
            break
    return messages
