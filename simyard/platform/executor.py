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
import multiprocessing.connection
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
from simyard.platform.episode import (
    EndReason,
    EpisodeResult,
    Limits,
    arun_episode_with,
    is_async_agent,
    run_episode_with,
)
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

    def _failed(self, task: Task, seed: int, reason: EndReason, message: str,
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


def _worker_main(spec: WorkerSpec, inbox: Any, outbox: Any, stop: Any) -> None:
    """A worker process: import plugins, build the agent, run what the parent sends, close everything.

    Messages to the parent, on `outbox` (this worker's own pipe): ("ready",), ("start", key), ("result", row),
    ("fatal", error), ("exit",). They are sent synchronously, so a worker that dies mid-episode has already told
    the parent which episode it was in. SIGINT is ignored: the parent decides how an interrupt ends the run and
    tells workers through `stop`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    buffered: deque[Item] = deque()
    ended = False  # the parent sent its sentinel; every lane must hear it, not just the one that read it
    runner = EpisodeRunner(spec)
    send_lock = threading.Lock()  # async lanes report from the event loop, the main thread from outside it

    def send(*message: Any) -> None:
        with send_lock:
            outbox.send(message)

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
        send("ready")
        runner.run_items(next_item, lambda key: send("start", key), lambda result: send("result", result.to_dict()),
                         stop.is_set)
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone; nobody is left to tell
    except BaseException as exc:
        _send_quietly(send, "fatal", _error_payload(exc))
    finally:
        runner.close()
        _send_quietly(send, "exit")
        inbox.cancel_join_thread()


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


class WorkerPool:
    """Spawned worker processes fed chunks of tasks by the parent, which records results as they arrive.

    The parent hands each worker its own chunks (so it always knows who holds what) and keeps a short backlog per
    worker. Chunks grow with how fast episodes turn out to be: about a tenth of a second of work each, so fast worlds
    send few messages and slow ones still balance. Each worker reports on a pipe of its own, synchronously; a worker
    that dies therefore loses only the episodes it had said it started (they become error rows); its other tasks go
    back in the queue and a new worker takes its place.
    """

    max_startup_deaths = 3

    def __init__(self, spec: WorkerSpec, workers: int, missing: list[tuple[Task, int]],
                 record: Callable[[list[EpisodeResult]], None], on_stopping: Callable[[], None]) -> None:
        self.spec = spec
        self.context = multiprocessing.get_context("spawn")
        self.stop = self.context.Event()
        self.pending: deque[Item] = deque((task.model_dump(mode="json"), seed) for task, seed in missing)
        self.tasks = {(task.id, seed): task for task, seed in missing}
        self.outstanding: set[Key] = set(self.tasks)
        self.record = record
        self.on_stopping = on_stopping
        self.size = min(workers, len(missing))
        self.workers: list[_Worker] = []
        self.durations: list[float] = []
        self.startup_deaths = 0
        self.interrupted = False

    def run(self) -> None:
        """Run every missing episode; raises KeyboardInterrupt after a Ctrl-C once in-flight episodes are recorded."""
        previous = _catch_sigint(self._on_sigint)
        try:
            for _ in range(self.size):
                self._spawn()
            while self._step():
                pass
            if self.interrupted:
                raise KeyboardInterrupt
        finally:
            _restore_sigint(previous)
            self._shutdown()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # The first Ctrl-C only raises a flag, so it can never land between writing a row and counting it; the
        # loop then stops dispatching and waits for the episodes in flight. A second Ctrl-C stops waiting.
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True

    def _step(self) -> bool:
        """One round: dispatch, collect, record, look after dead workers. False when the pool is done."""
        if self.interrupted and not self.stop.is_set():
            self.stop.set()
            self.pending.clear()
            self.on_stopping()
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
        return True

    def _spawn(self) -> None:
        inbox = self.context.Queue()
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_worker_main, args=(self.spec, inbox, writer, self.stop),
                                       name=f"simyard-bench-{len(self.workers)}", daemon=False)
        process.start()
        writer.close()  # the worker holds the only writing end now, so its death shows as end of file here
        self.workers.append(_Worker(process, inbox, reader))

    def _chunk_size(self) -> int:
        if not self.durations:
            return 1
        recent = self.durations[-64:]
        return max(1, min(64, math.ceil(0.1 / max(sum(recent) / len(recent), 1e-6))))

    def _dispatch(self, worker: _Worker) -> None:
        if worker.exited or worker.stopped:
            return
        size = self._chunk_size()
        backlog = size + max(1, self.spec.concurrency)
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
        rows: list[EpisodeResult] = []
        try:
            while len(rows) < limit and not worker.closed and worker.outbox.poll():
                self._handle(worker, worker.outbox.recv(), rows)
        except (EOFError, OSError):
            worker.closed = True
        finally:
            if rows:
                self.record(rows)

    def _handle(self, worker: _Worker, message: tuple, rows: list[EpisodeResult]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "start":
            worker.started.add(tuple(message[1]))  # type: ignore[arg-type]
        elif kind == "result":
            result = EpisodeResult.from_dict(message[1])
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
                rows.clear()
            _raise_payload(message[1])
        elif kind == "exit":
            worker.exited = True

    def _reap(self) -> None:
        """Notice workers that died without saying goodbye; charge them only what they had started."""
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


def _catch_sigint(handler: Callable[[int, Any], None]) -> Any:
    """Install a SIGINT handler if this is the main thread (only it may); returns what to restore, or None."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        return None  # not ours to catch: another thread's program, or a process told to ignore Ctrl-C
    return signal.signal(signal.SIGINT, handler)


def _restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
