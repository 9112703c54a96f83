"""Episodes in lanes: one process keeps `concurrency` episodes in flight, each lane with its own agent and worlds.

`EpisodeRunner` is what a worker (or the driver itself, with one worker) runs: it opens the process's resource scope,
builds one agent per lane, builds worlds on their lane's thread (so thread-bound things such as a GL context stay on
the thread that uses them), retries infrastructure failures, and closes everything in order at the end. A watchdog
notices a call that outlived its episode's deadline by `grace_s` and asks for the process to be restarted.
`InProcessExecutor` runs an `EpisodeRunner` on a thread of the driver, so the driver's main thread stays free to
record rows and to hear Ctrl-C.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from simyard.platform import registry
from simyard.platform.adaptive import ConcurrencyController, DecisionLog
from simyard.platform.api import Agent, Env, Task
from simyard.platform.cleanup import Janitor, ScratchRoot
from simyard.platform.episode import EndReason, EpisodeResult, Lane, Status, arun_episode_with
from simyard.platform.errors import SimyardError, describe
from simyard.platform.executor import Executor, Key, WorkerSpec
from simyard.platform.resources import Resources
from simyard.platform.rundir import RunDir
from simyard.platform.trajectory import EpisodeWriter

Item = tuple[Task, int]

#: What `next_item` answers when work may still come but has not yet: the lane waits a moment and asks again.
NOT_YET: Any = object()

#: Statuses after which the world a lane used may be in any state, so it is replaced before the next episode.
_REPLACE_WORLD: frozenset[Status] = frozenset({"world_error", "infra_error", "timeout"})


def options_for(world: str, world_options: dict[str, Any]) -> dict[str, Any]:
    """The constructor options of one world: plain `key`s apply to every world, `world.key` to that world only."""
    options = {key: value for key, value in world_options.items() if "." not in key}
    prefix = f"{world}."
    options.update({key[len(prefix):]: value for key, value in world_options.items() if key.startswith(prefix)})
    return options


class _LaneState:
    """One episode lane: where its calls run, its agent (agents keep per-episode state) and its worlds by name."""

    def __init__(self, index: int, threaded: bool) -> None:
        self.index = index
        self.recycle = False  # close the worlds once the episode in flight ends (the scratch is over budget)
        self.lane = Lane(threaded=threaded, name=f"simyard-lane-{index}")
        self.agent: Agent | None = None
        self.worlds: dict[str, Env] = {}


class EpisodeRunner:
    """Builds agents and worlds inside one process and runs episodes with them; `close` releases everything.

    A world is reused by its lane for later tasks of the same world (reset makes each episode independent) and
    replaced after a world error, an infrastructure error or a timeout, since it may then be in any state.
    """

    def __init__(self, spec: WorkerSpec, resources: Resources | None = None,
                 on_wedged: Callable[[str], None] | None = None,
                 on_decision: Callable[[dict[str, Any]], None] | None = None,
                 scratch: ScratchRoot | None = None) -> None:
        self.spec = spec
        self.run = RunDir(Path(spec.run_dir))
        self.resources = resources or Resources("worker")
        self.on_wedged = on_wedged or _warn_wedged
        self.lanes: list[_LaneState] = []
        self._retired: list[Lane] = []  # lanes given up on, whose abandoned calls the watchdog still watches
        self._wedged = False
        self.on_decision = on_decision or (lambda record: None)
        self.scratch = scratch  # made at `open` when not given; removed at `close` either way
        self.janitor: Janitor | None = None if scratch is None else Janitor(scratch.path)
        self.controller: ConcurrencyController | None = None
        if spec.adaptive is not None:
            self.controller = ConcurrencyController(spec.adaptive, on_decision=self.on_decision)

    @property
    def width(self) -> int:
        """The episodes this process may have in flight now: fixed, or the controller's current limit."""
        return self.controller.limit if self.controller is not None else self.spec.concurrency

    def open(self) -> None:
        """Build one agent per lane; a failure here is a set-up error no episode can escape (a SimyardError).

        The process's scratch root is made first, so whatever the agents, worlds and their subprocesses put in the
        temp directory is this run's, removed at `close` (`platform.cleanup`)."""
        if self.scratch is None:
            self.scratch = ScratchRoot()
            self.janitor = Janitor(self.scratch.path)
        for index in range(self.width):
            self._lane(index)

    def _lane(self, index: int) -> _LaneState:
        """Lane `index`, built (with its agent) the first time it is wanted: adaptive runs add lanes as they grow."""
        while len(self.lanes) <= index:
            ceiling = self.spec.adaptive.ceiling if self.spec.adaptive is not None else self.spec.concurrency
            state = _LaneState(len(self.lanes), ceiling > 1 or self.spec.limits.time_limit_s is not None)
            state.agent = self._make_agent()
            self.lanes.append(state)
        return self.lanes[index]

    def _make_agent(self) -> Agent:
        try:
            return registry.make_agent(self.spec.agent, resources=self.resources, **self.spec.agent_options)
        except SimyardError:
            raise
        except Exception as exc:
            raise SimyardError(
                f"agent {self.spec.agent!r} could not be built with options {self.spec.agent_options}: "
                f"{describe(exc)}",
                hint=f"see `simyard agents info {self.spec.agent}` for its options",
            ) from None

    def close(self) -> None:
        """Close worlds and agents (each on the thread it lives on), then the lanes, then the resource scope."""
        for state in self.lanes:
            for name, env in state.worlds.items():
                _close_quietly(env, f"world {name!r}", state.lane)
            if state.agent is not None:
                _close_quietly(state.agent, f"agent {self.spec.agent!r}", None)
            state.lane.close()
        self.lanes.clear()
        try:
            self.resources.close()
        finally:
            if self.scratch is not None:
                self.scratch.close()

    async def run_items(
        self,
        next_item: Callable[[], Any],
        on_start: Callable[[Key], None],
        on_result: Callable[[EpisodeResult], None],
        stop: Callable[[], bool],
    ) -> None:
        """Run items until `next_item` returns None or `stop()` turns true; each lane pulls work when it is free.

        `next_item` never blocks: it answers an item, None (no more work) or NOT_YET (ask again shortly).
        """
        watchdog = asyncio.create_task(self._watch())
        exhausted = False
        busy = 0

        async def lane(state: _LaneState) -> None:
            nonlocal exhausted, busy
            # A lane past the current width stops after its episode; it is started again when the width grows.
            while not stop() and not exhausted and state.index < self.width:
                item = next_item()
                while item is NOT_YET and not stop():
                    await asyncio.sleep(0.005)
                    item = next_item()
                if item is None:
                    exhausted = True
                    self._shed(state)  # no more work here: free what its worlds hold for others now
                if item is None or item is NOT_YET:
                    return
                task, seed = item
                on_start((task.id, seed))
                busy += 1
                if self.controller is not None:
                    self.controller.note_busy(busy)
                try:
                    result = await self.run_one(state, task, seed)
                finally:
                    busy -= 1
                on_result(result)
                if self.controller is not None:
                    self.controller.note_ended()
                self._tidy(state)
            if exhausted or state.index >= self.width:
                self._shed(state)

        running: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                for index in range(self.width):
                    if exhausted or stop():
                        break
                    if index not in running or running[index].done():
                        running[index] = asyncio.create_task(lane(self._lane(index)))
                live = [job for job in running.values() if not job.done()]
                if not live:
                    break
                interval = self.controller.settings.min_gap_s if self.controller is not None else None
                done, _ = await asyncio.wait(live, timeout=interval, return_when=asyncio.FIRST_EXCEPTION)
                for job in done:
                    if job.exception() is not None:
                        raise job.exception()  # type: ignore[misc]
                if self.controller is not None:
                    self.controller.maybe_decide(waiting=not exhausted)
        finally:
            for job in running.values():
                job.cancel()
            watchdog.cancel()

    async def run_one(self, state: _LaneState, task: Task, seed: int) -> EpisodeResult:
        """One episode, retried with backoff while it ends in an infrastructure failure."""
        result = await self._attempt(state, task, seed)
        attempt = 1
        while result.status == "infra_error" and attempt < self.spec.max_attempts:
            await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            attempt += 1
            result = await self._attempt(state, task, seed)
        result.attempts = attempt
        return result

    async def _attempt(self, state: _LaneState, task: Task, seed: int) -> EpisodeResult:
        writer = EpisodeWriter(self.run.episode_dir(task.id, seed), frames=self.spec.frames, video=self.spec.video,
                               reply_cap=self.spec.reply_cap)
        env = await self._world(state, task)
        if isinstance(env, str):
            return _failed(task, seed, "world_error", env, writer)
        assert state.agent is not None
        try:
            result = await arun_episode_with(env, state.agent, task, seed, self.spec.limits, writer, state.lane)
        except Exception as exc:  # a bug below the runner is still only this episode's failure
            result = _failed(task, seed, "world_error", f"internal error: {describe(exc)}", writer)
        finally:
            writer.close()
        if state.lane.broken:
            # A call was abandoned on the old thread: the world (and a sync agent) may still be inside it.
            self._replace_lane(state)
        elif result.status in _REPLACE_WORLD and task.world in state.worlds:
            _close_quietly(state.worlds.pop(task.world), f"world {task.world!r}", state.lane)
        return result

    async def _world(self, state: _LaneState, task: Task) -> Env | str:
        if task.world not in state.worlds:
            options = options_for(task.world, self.spec.world_options)
            try:
                state.worlds[task.world] = await state.lane.call(
                    lambda: registry.make(task.world, resources=self.resources, **options), (), None)
            except Exception as exc:
                return f"world could not be built: {describe(exc)}"
        return state.worlds[task.world]

    def _tidy(self, state: _LaneState) -> None:
        """After an episode: when the scratch is over budget every lane recycles its worlds as its episode ends (a
        world's close removes what it kept), so a long run's temp files stay bounded."""
        if self.janitor is not None and self.janitor.episode_ended():
            self.janitor.recycles += 1
            for other in self.lanes:
                other.recycle = True
        if state.recycle:
            state.recycle = False
            for name, env in state.worlds.items():
                _close_quietly(env, f"world {name!r}", state.lane)
            state.worlds = {}

    def _shed(self, state: _LaneState) -> None:
        """A lane with no more work, or that the adaptive limit shrank past, closes its worlds: what they hold (a
        served world's session, a sandbox, memory) may be what other lanes or processes wait for. They are built
        again if the lane comes back."""
        for name, env in state.worlds.items():
            _close_quietly(env, f"world {name!r}", state.lane)
        state.worlds = {}

    def _replace_lane(self, state: _LaneState) -> None:
        old = state.lane
        for name, env in state.worlds.items():
            old.submit(_close_quietly, env, f"world {name!r}", None)  # runs once the stuck call returns, if ever
        state.worlds = {}
        if state.agent is not None and not asyncio.iscoroutinefunction(state.agent.act):
            state.agent = self._make_agent()
        state.lane = Lane(threaded=True, name=old.name)
        self._retired.append(old)

    async def _watch(self) -> None:
        """Ask for a restart when an abandoned call is still running `grace_s` after it was given up on."""
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for lane in [*self._retired, *(state.lane for state in self.lanes)]:
                since = lane.stuck_since()
                if since is not None and now - since > self.spec.grace_s and not self._wedged:
                    self._wedged = True
                    self.on_wedged(f"a call in {lane.name} has not returned {self.spec.grace_s:g} s after its "
                                   "episode's deadline")
            self._retired = [lane for lane in self._retired if lane.stuck_since() is not None]


def _failed(task: Task, seed: int, status: Status, message: str, writer: EpisodeWriter) -> EpisodeResult:
    reason: EndReason = "infra_error" if status == "infra_error" else "world_error"
    result = EpisodeResult(task.id, task.world, task.subset, seed, status=status, reason=reason, error=message)
    try:
        writer.finish(result)  # the episode directory says why there is no trajectory
    except Exception:
        writer.close()
    return result


def _close_quietly(thing: Any, what: str, lane: Lane | None) -> None:
    """Close something; a failure is one line on stderr, never a traceback, and never keeps the others open."""
    try:
        if lane is not None:
            lane.call_sync(thing.close, (), time.monotonic() + 30.0)
        else:
            thing.close()
    except Exception as exc:
        print(f"warning: closing {what} failed: {describe(exc)}", file=sys.stderr)


def _warn_wedged(message: str) -> None:
    print(f"warning: {message}; its thread is abandoned (with --workers 2 or more, such a worker is restarted)",
          file=sys.stderr)



class InProcessExecutor(Executor):
    """workers=1: the lanes run on one thread of this process; rows come back through a queue."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._pending: deque[Item] = deque()
        self._rows: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, items: Sequence[tuple[Task, int]]) -> None:
        with self._lock:
            self._pending.extend(items)

    def results(self) -> Iterator[list[EpisodeResult]]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="simyard-episodes", daemon=True)
            self._thread.start()
        while True:
            try:
                message = self._rows.get(timeout=0.2)  # a timeout, so Ctrl-C reaches the main thread promptly
            except queue.Empty:
                continue
            kind, payload = message
            if kind == "rows":
                batch = [payload]
                while True:  # whatever else is waiting goes out in the same batch (one fsync for all of it)
                    try:
                        more = self._rows.get_nowait()
                    except queue.Empty:
                        break
                    if more[0] != "rows":
                        self._rows.put(more)
                        break
                    batch.append(more[1])
                yield batch
            elif kind == "fatal":
                raise payload
            else:
                return

    def _next(self) -> Item | None:
        with self._lock:
            return self._pending.popleft() if self._pending and not self._cancelled.is_set() else None

    def _serve(self) -> None:
        runner = EpisodeRunner(self.spec, on_decision=DecisionLog(self.spec.run_dir).write)
        try:
            runner.open()
            asyncio.run(runner.run_items(self._next, lambda key: None, lambda row: self._rows.put(("rows", row)),
                                         self._cancelled.is_set))
        except BaseException as exc:
            self._rows.put(("fatal", exc))
        finally:
            try:
                runner.close()
            finally:
                self._rows.put(("done", None))

    def cancel(self) -> None:
        self._cancelled.set()

    def close(self) -> None:
        self._cancelled.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
