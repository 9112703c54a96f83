"""Episodes on a Ray cluster: one actor per worker, fed by the driver, which alone writes the run directory.

Each actor is what a pool worker is, on any node of the cluster: it imports the run's plugins, opens its own resource
scope (so one model and one renderer per actor, shared by its lanes), runs an `EpisodeRunner` with `concurrency`
lanes on a thread of its own, and answers two calls: `give` (a chunk of tasks) and `take` (a long poll that returns
the episodes started and the rows finished since the last one). Trajectories are written into a scratch folder on the
actor's node and shipped back with their row, so the driver writes every file of the run directory and a resume
works exactly as with the local pool, with or without a shared file system.

An actor asks Ray for what one episode of the run's worlds needs (`Env.needs`: CPUs and GPUs per actor, memory per
lane). A node that is lost takes only its actors' episodes in flight with it: those that had started are retried
(with backoff) up to `WorkerSpec.max_attempts` tries and then recorded as `infra_error`; the rest go back in the
queue, and a replacement actor is asked for.

Ray is imported only when a run uses this executor (`pip install 'simyard[ray]'`).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simyard.platform import registry
from simyard.platform.adaptive import AUTO, Capacity, DecisionLog, plan_counts
from simyard.platform.api import Needs, Task
from simyard.platform.cleanup import ScratchRoot
from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import SimyardError, describe, require
from simyard.platform.executor import Executor, Key, WorkerSpec
from simyard.platform.lanes import NOT_YET, EpisodeRunner
from simyard.platform.plugins import import_plugins
from simyard.platform.pool import _error_payload, _raise_payload
from simyard.platform.resources import Resources
from simyard.platform.rundir import episode_dir_name
from simyard.platform.trajectory import EPISODES_DIR

Item = tuple[dict[str, Any], int]  # a task as plain data and its episode seed

#: Seconds a Ray address has to answer before the run gives up (said in `--address`'s help).
CONNECT_TIMEOUT_S = 15.0
#: Seconds a finished row waits in its actor for others to travel with it (each call costs both sides CPU).
LINGER_S = 0.05
#: Seconds the news that episodes started may wait for a row to travel with (it matters only if the node is lost).
STARTS_S = 0.05
#: Seconds the run waits for at least one actor to be placed when none is working; then it stops with an error.
PLACEMENT_TIMEOUT_S = 120.0


class RayClusterError(SimyardError):
    """A Ray cluster that cannot be reached, or that has no node able to hold one worker."""


def world_needs(worlds: Sequence[str]) -> Needs:
    """What one actor must ask for to run an episode of any of `worlds`: the largest need of each kind."""
    needs = [getattr(registry.world_class(name), "needs", None) or Needs() for name in worlds] or [Needs()]
    return Needs(cpus=max(need.cpus for need in needs), gpus=max(need.gpus for need in needs),
                 memory_mb=max(need.memory_mb for need in needs),
                 gpus_optional=all(need.gpus_optional for need in needs if need.gpus))


def agent_needs(agent: str, options: dict[str, Any]) -> Needs:
    """What a worker needs for its agent (`Agent.needs_for`; a plain factory function needs nothing)."""
    try:
        factory = registry.agent_factory(agent)
    except SimyardError:  # an extra this driver lacks: the nodes may have it, and say so themselves if not
        return Needs(cpus=0.0)
    needs_for = getattr(factory, "needs_for", None)
    return needs_for(options) if callable(needs_for) else Needs(cpus=0.0)


def worker_needs(worlds: Needs, agent: Needs, lanes: int, cluster_gpus: float) -> Needs:
    """What one actor asks Ray for: the larger CPUs and GPUs of its worlds and its agent (they share them), the
    worlds' memory per lane plus the agent's once; optional GPUs only when the cluster has some."""
    gpus = max((need.gpus for need in (worlds, agent) if not need.gpus_optional or cluster_gpus > 0), default=0.0)
    return Needs(cpus=max(worlds.cpus, agent.cpus), gpus=gpus, memory_mb=worlds.memory_mb * lanes + agent.memory_mb)


def cluster_capacity(nodes: Sequence[dict[str, Any]], needs: Needs) -> Capacity:
    """What the live nodes of a Ray cluster (`ray.nodes()`) can hold: actors that fit each node by CPU, GPU and
    memory, summed (the `--workers auto` of a Ray run)."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    wanted = {"CPU": needs.cpus, "GPU": needs.gpus, "memory": needs.memory_mb * 2**20}
    slots = 0
    for node in alive:
        fits = [math.floor(node.get(kind, 0.0) / amount + 1e-9) for kind, amount in wanted.items() if amount]
        slots += min(fits) if fits else max(1, int(node.get("CPU", 1.0)))
    cpus, gpus = sum(node.get("CPU", 0.0) for node in alive), sum(node.get("GPU", 0.0) for node in alive)
    each = f"{needs.cpus:g} CPU" + (f", {needs.gpus:g} GPU" if needs.gpus else "")
    return Capacity(max(1, int(cpus)), max(1, slots), f"Ray cluster of {len(alive)} node(s) with {cpus:g} CPU and "
                                                     f"{gpus:g} GPU: room for {slots} worker(s) of {each}")


# ------------------------------------------------------------------------------------------------ the actor


class EpisodeActor:
    """A worker on a cluster node: an `EpisodeRunner` on its own thread, fed by `give`, drained by `take`.

    Ray runs this class as a threaded actor (several calls at once), so `take` can wait for news while episodes run.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        # The process's scratch root comes first, so the trajectories waiting to travel live inside it too: an actor
        # that dies (its node lost, or restarted by the watchdog) leaves a root the next actor on its node sweeps.
        self.root = ScratchRoot()
        self.scratch = Path(tempfile.mkdtemp(prefix="run-", dir=self.root.path))
        adaptive = None if spec.adaptive is None else replace(spec.adaptive, run_dir=str(self.scratch))
        # trajectories land in the scratch, then travel with their rows; disk headroom is this node's
        self.spec = replace(spec, run_dir=str(self.scratch), adaptive=adaptive)
        self.node = _node_name()
        self.buffered: deque[Item] = deque()
        self.events: list[tuple[str, Any]] = []
        self.news = threading.Condition()
        self.ended = False  # the driver has no more work for this actor
        self.stopping = False  # cancelled: start nothing more
        self.finished = False  # the runner returned; nothing more will come
        self.first_event_at = 0.0  # when the oldest event not yet taken came
        self.first_row_at: float | None = None  # ... and the oldest row (or other news that is not a start)
        self.ready = threading.Event()
        self.restart_heard = threading.Event()  # the driver has taken our "restart": exiting now loses nothing
        self.failure: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._serve, name="simyard-ray-episodes", daemon=True)

    def start(self) -> dict[str, Any] | None:
        """Import plugins and build the agents; None when ready, else the set-up error as plain data."""
        self.thread.start()
        self.ready.wait()
        return self.failure

    def give(self, chunk: list[Item] | None) -> None:
        """More tasks, or None: no more will come, so the runner returns once these are done."""
        with self.news:
            if chunk is None:
                self.ended = True
            else:
                self.buffered.extend(chunk)

    def stop(self) -> None:
        """Start nothing more; episodes in flight finish and their rows still come out of `take`."""
        with self.news:
            self.stopping = True
            self.news.notify_all()

    def take(self, wait_s: float) -> tuple[list[tuple[str, Any]], bool]:
        """Events since the last call (("start", key), ("result", (row, files)), ...) and whether the runner has
        finished; waits up to `wait_s` for news.

        Answers are batched, since every call costs both processes CPU that quick episodes would feel: a row waits
        up to `LINGER_S` for others to join it, and starts (needed only if this node is lost) up to `STARTS_S`.
        """
        deadline = time.monotonic() + wait_s
        with self.news:
            while not self.finished:
                now = time.monotonic()
                due = deadline
                if self.first_row_at is not None:
                    due = min(due, self.first_row_at + LINGER_S)
                elif self.events:
                    due = min(due, self.first_event_at + STARTS_S)
                if now >= due:
                    break
                self.news.wait(due - now)
            events, self.events = self.events, []
            self.first_row_at = None
            if any(kind == "restart" for kind, _ in events):
                self.restart_heard.set()
            return events, self.finished

    def _next_item(self) -> Any:
        with self.news:
            if self.stopping:
                return None
            if not self.buffered:
                return None if self.ended else NOT_YET
            data, seed = self.buffered.popleft()
        return Task.model_validate(data), seed

    def _emit(self, kind: str, payload: Any) -> None:
        with self.news:
            now = time.monotonic()
            if not self.events:
                self.first_event_at = now
            if kind != "start" and self.first_row_at is None:
                self.first_row_at = now
            self.events.append((kind, payload))
            self.news.notify_all()

    def _on_result(self, result: EpisodeResult) -> None:
        folder = self.scratch / EPISODES_DIR / episode_dir_name(result.task_id, result.seed)
        files = {path.relative_to(self.scratch).as_posix(): path.read_bytes()
                 for path in sorted(folder.rglob("*")) if path.is_file()}
        shutil.rmtree(folder, ignore_errors=True)  # a long run must not fill the node's disk
        self._emit("result", (result.to_dict(), files))

    def _wedged(self, why: str) -> None:
        """A call stuck past its deadline: tell the driver (so our other episodes are re-queued free), then exit.

        A thread stuck in a call cannot be killed; the actor's process can, and the driver asks for a new one.
        """
        self._emit("restart", why)
        if self.restart_heard.wait(10.0):
            time.sleep(0.5)  # the answer carrying it is still on its way to the driver
        os._exit(75)

    def _decided(self, record: dict[str, Any]) -> None:
        """A concurrency decision travels to the driver, which alone writes concurrency.jsonl."""
        self._emit("decision", {**record, "node": self.node})

    def _serve(self) -> None:
        runner = EpisodeRunner(self.spec, Resources("worker"), on_wedged=self._wedged, on_decision=self._decided,
                               scratch=self.root)
        try:
            import_plugins(self.spec.imports)
            runner.open()
            self.ready.set()
            asyncio.run(runner.run_items(self._next_item, lambda key: self._emit("start", key), self._on_result,
                                         lambda: self.stopping))
        except BaseException as exc:
            if not self.ready.is_set():
                self.failure = _error_payload(exc)
            else:
                self._emit("fatal", _error_payload(exc))
        finally:
            self.ready.set()
            runner.close()  # removes the scratch root, trajectories not yet shipped included
            with self.news:
                self.finished = True
                self.news.notify_all()




# ------------------------------------------------------------------------------------------------ the driver


@dataclass
class _Actor:
    handle: Any
    ready_ref: Any
    take_ref: Any = None
    assigned: dict[Key, Item] = field(default_factory=dict)  # given to it, no row yet
    started: set[Key] = field(default_factory=set)  # it said it began them, no row yet
    ready: bool = False
    restarting: bool = False  # it said a call is stuck and it exits: what it had in flight is not its fault
    ended: bool = False  # told that no more work will come
    gone: bool = False  # finished, or lost and accounted for
    born: float = field(default_factory=time.monotonic)


class RayExecutor(Executor):
    """`workers` actors on a Ray cluster (`address`, or a Ray started in this process when None).

    The driver hands each actor its own chunks (so it always knows who holds what), keeps a short backlog per actor,
    and writes each row's trajectory files into the run directory before the row goes to the index.
    """

    max_startup_deaths = 3
    wait_s = 0.2

    def __init__(self, spec: WorkerSpec, workers: int, address: str | None = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 placement_timeout_s: float = PLACEMENT_TIMEOUT_S, auto: tuple[Any, ...] | None = None) -> None:
        self.spec = spec
        self.size = max(1, workers)
        self.auto = auto  # (concurrency, ceiling) as asked with `--workers auto`: sized from the cluster
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.placement_timeout_s = placement_timeout_s
        self.run_dir = Path(spec.run_dir)
        self.pending: deque[Item] = deque()
        self.delayed: list[tuple[float, Item]] = []
        self.tasks: dict[Key, Task] = {}
        self.attempts: dict[Key, int] = {}
        self.outstanding: set[Key] = set()
        self.actors: list[_Actor] = []
        self.durations: list[float] = []
        self.startup_deaths = 0
        self.cancelled = False
        self._ray: Any = None
        self._owns_ray = False
        self._actor_class: Any = None
        self._rows: list[EpisodeResult] = []
        self._closed = False
        self.decisions = DecisionLog(self.run_dir)

    def submit(self, items: Sequence[tuple[Task, int]]) -> None:
        for task, seed in items:
            self.pending.append((task.model_dump(mode="json"), seed))
            self.tasks[(task.id, seed)] = task
            self.outstanding.add((task.id, seed))

    def cancel(self) -> None:
        self.cancelled = True
        self.pending.clear()
        self.delayed.clear()
        for actor in self._live():
            actor.handle.stop.remote()

    def results(self) -> Iterator[list[EpisodeResult]]:
        self._connect()
        self._plan()
        for _ in range(min(self.size, max(1, len(self.outstanding)))):
            self._spawn()
        while self._step():
            if self._rows:
                rows, self._rows = self._rows, []
                yield rows
        if self._rows:
            rows, self._rows = self._rows, []
            yield rows

    # -------------------------------------------------------------------------------------- connecting

    def _connect(self) -> None:
        """Join the cluster at `address` (or start a local Ray), refusing within the timeout when nobody answers."""
        ray = require("ray", "ray")
        self._ray = ray
        if ray.is_initialized():
            return
        if self.address in (None, "", "local"):
            # Started on this thread: Ray's processes die with the thread that started them. It serves this run
            # alone, so it listens on loopback only (as every simyard server does).
            try:
                ray.init(logging_level="ERROR", include_dashboard=False, _node_ip_address="127.0.0.1")
            except Exception as exc:
                raise RayClusterError(f"could not start a local Ray: {describe(exc)}",
                                      hint="start one with `ray start --head` and pass its --address") from None
            self._owns_ray = True
            return
        deadline = time.monotonic() + self.connect_timeout_s  # one timeout for the probe and the join together
        if self.address != "auto":  # `auto`: a cluster started on this machine, which Ray finds itself
            _probe(self.address, self.connect_timeout_s)
        done = threading.Event()
        failure: list[BaseException] = []

        def init() -> None:
            try:
                ray.init(address=self.address, logging_level="ERROR", include_dashboard=False)
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        # Ray's own connect retries for minutes; a daemon thread lets the run give up at the stated timeout.
        threading.Thread(target=init, name="simyard-ray-connect", daemon=True).start()
        if not done.wait(max(0.5, deadline - time.monotonic())):
            raise RayClusterError(f"the Ray cluster at {self.address} did not answer within "
                                  f"{self.connect_timeout_s:g} s", hint=_ADDRESS_HINT)
        if failure:
            raise RayClusterError(f"could not join the Ray cluster at {self.address}: {describe(failure[0])}",
                                  hint=_ADDRESS_HINT) from None
        self._owns_ray = True

    def _plan(self) -> None:
        """What each actor asks for (its worlds' and agent's needs), how many actors (`--workers auto`: as many as
        the cluster's nodes hold), and the actor class with those requests."""
        ray = self._ray
        nodes = ray.nodes()
        cluster_gpus = sum(node.get("Resources", {}).get("GPU", 0.0) for node in nodes if node.get("Alive"))
        worlds = world_needs(sorted({task.world for task in self.tasks.values()}))
        agent = agent_needs(self.spec.agent, self.spec.agent_options)
        if self.auto is not None:
            concurrency, ceiling = self.auto
            lanes = 1 if concurrency == AUTO else int(concurrency)
            capacity = cluster_capacity(nodes, worker_needs(worlds, agent, lanes, cluster_gpus))
            workers, lanes, settings, records = plan_counts(AUTO, concurrency, ceiling, capacity=capacity)
            for record in records:
                self.decisions.write(record)
            self.size = workers
            self.spec = replace(self.spec, concurrency=lanes, adaptive=settings)
            self.sized = (workers, lanes)
        needs = worker_needs(worlds, agent, self.spec.concurrency, cluster_gpus)
        self._check_fits(needs, nodes)
        self._actor_class = ray.remote(EpisodeActor).options(
            num_cpus=needs.cpus, num_gpus=needs.gpus, memory=needs.memory_mb * 2**20 or None,
            max_concurrency=4, max_restarts=0, max_task_retries=0)
        self.needs = needs

    def _check_fits(self, needs: Needs, nodes: list[dict[str, Any]]) -> None:
        """Refuse at once a cluster where no node could place even one actor (Ray would wait for ever)."""
        wanted = {"CPU": needs.cpus, "GPU": needs.gpus, "memory": needs.memory_mb * 2**20}
        alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
        if any(all(node.get(kind, 0.0) >= amount for kind, amount in wanted.items() if amount) for node in alive):
            return
        largest: dict[str, float] = max(alive, key=lambda node: node.get("CPU", 0.0), default={})
        raise RayClusterError(
            f"no node of the Ray cluster can hold one worker: each needs {needs.cpus:g} CPU, {needs.gpus:g} GPU and "
            f"{needs.memory_mb} MiB; the largest node has {largest.get('CPU', 0.0):g} CPU and "
            f"{largest.get('GPU', 0.0):g} GPU",
            hint="add a node with more resources, or lower --concurrency")

    # -------------------------------------------------------------------------------------- the loop

    def _live(self) -> list[_Actor]:
        return [actor for actor in self.actors if not actor.gone]

    def _spawn(self) -> None:
        handle = self._actor_class.remote(self.spec)
        self.actors.append(_Actor(handle, handle.start.remote()))

    def _step(self) -> bool:
        """One round: dispatch, wait for news, account for lost actors. False when every actor is done."""
        now = time.monotonic()
        if self.delayed and not self.cancelled:
            due = [item for when, item in self.delayed if when <= now]
            self.delayed = [(when, item) for when, item in self.delayed if when > now]
            self.pending.extendleft(reversed(due))
        live = self._live()
        for actor in live:
            self._dispatch(actor)
        waiting = {actor.take_ref if actor.ready else actor.ready_ref: actor for actor in live}
        if waiting:
            done, _ = self._ray.wait(list(waiting), num_returns=1, timeout=self.wait_s)
            for ref in done:
                self._hear(waiting[ref], ref)
        live = self._live()
        if self.cancelled or not self.outstanding:
            for actor in live:
                self._end(actor)
            return bool(live)
        if not live:
            if self.pending or self.delayed:
                self._spawn()
                return True
            return False
        self._check_placement(live, now)
        return True

    def _dispatch(self, actor: _Actor) -> None:
        if not actor.ready or actor.ended or self.cancelled:
            return
        # an adaptive actor may grow to its ceiling: a backlog of its starting lanes would keep it from ever growing
        lanes = self.spec.adaptive.ceiling if self.spec.adaptive is not None else self.spec.concurrency
        backlog = self._chunk_size() + lanes
        chunk: list[Item] = []
        while self.pending and len(actor.assigned) + len(chunk) < backlog:
            chunk.append(self.pending.popleft())
        if chunk:
            for item in chunk:
                actor.assigned[(item[0]["id"], item[1])] = item
            actor.handle.give.remote(chunk)

    def _chunk_size(self) -> int:
        """Tasks per `give`: about a tenth of a second of work, so quick episodes cost one call per many."""
        if not self.durations:
            return 1
        recent = self.durations[-64:]
        return max(1, min(64, math.ceil(0.1 / max(sum(recent) / len(recent), 1e-6))))

    def _end(self, actor: _Actor) -> None:
        """No more work for this actor: a working one finishes what it holds; one not yet placed is dropped."""
        if not actor.ready:
            actor.gone = True  # it holds nothing; it may wait for a node that never comes
            self._ray.kill(actor.handle, no_restart=True)
        elif not actor.ended:
            actor.ended = True
            actor.handle.give.remote(None)

    def _hear(self, actor: _Actor, ref: Any) -> None:
        """Handle an actor's answer: ready (or not), or a batch of events; a lost actor is accounted for."""
        ray = self._ray
        try:
            answer = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            self._lost(actor, exc)
            return
        if not actor.ready:
            if answer is not None:
                _raise_payload(answer)
            actor.ready = True
        else:
            events, finished = answer
            for kind, payload in events:
                if kind == "start":
                    actor.started.add(tuple(payload))
                elif kind == "result":
                    self._result(actor, *payload)
                elif kind == "restart":
                    actor.restarting = True
                elif kind == "decision":
                    self.decisions.write(payload)
                elif kind == "fatal":
                    _raise_payload(payload)
            if finished:
                actor.gone = True
                self._requeue(actor)
                ray.kill(actor.handle, no_restart=True)
                return
        actor.take_ref = actor.handle.take.remote(self.wait_s * 5)

    def _result(self, actor: _Actor, row: dict[str, Any], files: dict[str, bytes]) -> None:
        result = EpisodeResult.from_dict(row)
        key: Key = (result.task_id, result.seed)  # type: ignore[assignment]
        actor.assigned.pop(key, None)
        actor.started.discard(key)
        if key not in self.outstanding:
            return
        self.outstanding.discard(key)
        self.durations.append(result.duration_s)
        self._write_files(key, files)
        result.attempts += self.attempts.get(key, 0)
        self._rows.append(result)

    def _write_files(self, key: Key, files: dict[str, bytes]) -> None:
        """The episode's trajectory into the run directory, replacing what an earlier attempt left there."""
        folder = self.run_dir / EPISODES_DIR / episode_dir_name(*key)
        shutil.rmtree(folder, ignore_errors=True)
        for name, data in files.items():
            path = self.run_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def _lost(self, actor: _Actor, exc: BaseException) -> None:
        """An actor (or its node) died: retry what it had started, re-queue the rest, ask for a replacement."""
        actor.gone = True
        try:
            self._ray.kill(actor.handle, no_restart=True)  # unreachable is not always dead: make sure it stops
        except Exception:
            pass
        if not actor.ready:
            self.startup_deaths += 1
            if self.startup_deaths > self.max_startup_deaths:
                raise RayClusterError(f"Ray workers keep dying while starting: {str(exc).splitlines()[0]}",
                                      hint="run with --executor local to see the error in this process")
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for key in sorted(actor.started):
            item = actor.assigned.pop(key, None)
            if item is None:
                continue
            if actor.restarting:  # not these episodes' doing: a neighbour's call was stuck
                self.pending.appendleft(item)
                continue
            tries = self.attempts[key] = self.attempts.get(key, 0) + 1
            if tries < self.spec.max_attempts:
                self.delayed.append((time.monotonic() + min(8.0, 0.5 * 2 ** (tries - 1)), item))
                continue
            task = self.tasks[key]
            self.outstanding.discard(key)
            self._rows.append(EpisodeResult(
                task.id, task.world, task.subset, key[1], status="infra_error", reason="infra_error", attempts=tries,
                error=f"Ray worker lost during this episode, {tries} times: {why}"))
        actor.started.clear()
        self._requeue(actor)
        if self.outstanding and not self.cancelled:
            self._spawn()

    def _requeue(self, actor: _Actor) -> None:
        if not self.cancelled:
            self.pending.extendleft(reversed(list(actor.assigned.values())))
        actor.assigned.clear()

    def _check_placement(self, live: list[_Actor], now: float) -> None:
        """Stop with an error when no actor works and none has been placed for `placement_timeout_s`."""
        if any(actor.ready for actor in live):
            return
        if now - max(actor.born for actor in live) > self.placement_timeout_s:
            raise RayClusterError(
                f"no Ray worker could be placed in {self.placement_timeout_s:g} s (each needs {self.needs.cpus:g} "
                f"CPU, {self.needs.gpus:g} GPU); the cluster may have lost its nodes",
                hint="check `ray status`, then resume the run with --resume")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ray is None:
            return
        for actor in self.actors:
            try:
                self._ray.kill(actor.handle, no_restart=True)
            except Exception:
                pass  # already gone with its node
        if self._owns_ray:
            self._ray.shutdown()


def _node_name() -> str:
    """This actor's node, as Ray names it (shortened), so decisions from several nodes can be told apart."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # noqa: BLE001 (outside Ray: a name is only a label)
        return socket.gethostname()


_ADDRESS_HINT = ("check that `ray start --head` runs there and that --address is its HOST:PORT (the GCS port, 6379 "
                 "by default), or leave --address out to start a local Ray")


def _probe(address: str, timeout_s: float) -> None:
    """A TCP connect to the cluster's GCS port: a fast, clear refusal where Ray itself would retry for minutes."""
    host, _, port = address.rpartition(":")
    host = host.removeprefix("ray://") if host else address
    if not port.isdigit():
        raise RayClusterError(f"--address {address!r} is not HOST:PORT", hint=_ADDRESS_HINT)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except TimeoutError:
        raise RayClusterError(f"the Ray cluster at {address} did not answer within {timeout_s:g} s",
                              hint=_ADDRESS_HINT) from None
    except OSError as exc:
        raise RayClusterError(f"the Ray cluster at {address} did not answer: {exc.strerror or exc}",
                              hint=_ADDRESS_HINT) from None
