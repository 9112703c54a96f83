"""How many episodes per minute one process gets from the `openai` agent when the model server is slow.

A model call takes hundreds of milliseconds; the agent spends that time waiting, so one process should keep many
episodes in flight and its throughput should grow almost linearly with concurrency until the CPU, not the server,
is the limit. This harness measures it: the test chat server (`tests/agents/chat_server.py`, real HTTP on 127.0.0.1)
answers every call after a fixed delay, and N episodes of a short text world (3 model calls each) run at each
concurrency in ONE process, through `simyard.platform.bench.run_bench` (the batch runner, with its run directory) or
directly through `arun_episode_with` under an `asyncio.Semaphore`.

    python benchmarks/openai_concurrency.py                     # concurrency 1 and 32, 200 ms per call
    python benchmarks/openai_concurrency.py --runner direct --concurrency 1 8 32 64

The server runs in its own process by default (a model server is one), so its request handling does not compete
with the agent for this process's GIL; `--server thread` keeps it in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test server and world live in tests/agents

from simyard.agents.openai_agent import OpenAIAgent  # noqa: E402
from simyard.platform.api import Task  # noqa: E402
from simyard.platform.episode import EpisodeResult, arun_episode_with  # noqa: E402
from tests.agents.chat_server import ChatServer, Reply  # noqa: E402
from tests.agents.worlds import CounterWorld  # noqa: E402

REPLY = "<think>one more</think><answer>add 1</answer>"
TARGET = 3  # model calls per episode: one `add 1` per call


@dataclass
class Figure:
    concurrency: int
    episodes: int
    calls: int
    wall_s: float
    errors: int

    @property
    def per_minute(self) -> float:
        return self.episodes / self.wall_s * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument(
        "--episodes", type=int, default=None, help="episodes per concurrency (default 8 per lane, >=16)"
    )
    parser.add_argument("--delay-ms", type=float, default=200.0, help="server delay per call")
    parser.add_argument("--runner", choices=["bench", "direct"], default=None, help="default: bench if available")
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    args = parser.parse_args()
    runner = args.runner or ("bench" if _bench_has_concurrency() else "direct")
    os.environ.setdefault("OPENAI_API_KEY", "benchmark")

    base_url, stop = _start_server(args.server, args.delay_ms / 1000)
    options = {"model": "bench", "base_url": base_url, "timeout_s": 30.0, "max_attempts": 2, "backoff_s": 0.05}
    print(
        f"server: {base_url} ({args.server}), {args.delay_ms:g} ms per call; runner: {runner}; "
        f"{TARGET} calls per episode; python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    figures = []
    try:
        _run(runner, options, 2, 2)  # warm-up: imports, first connections
        for concurrency in args.concurrency:
            episodes = args.episodes or max(16, 8 * concurrency)
            figures.append(_run(runner, options, concurrency, episodes))
            _print(figures[-1])
    finally:
        stop()
    if len(figures) >= 2:
        first, last = figures[0], figures[-1]
        print(
            f"ratio c={last.concurrency} / c={first.concurrency}: {last.per_minute / first.per_minute:.1f}x "
            f"(ideal {last.concurrency / first.concurrency:g}x)"
        )


def _run(runner: str, options: dict, concurrency: int, episodes: int) -> Figure:
    tasks = [CounterWorld.task(target=TARGET, task_id=f"count-{i:04d}", max_steps=TARGET + 2) for i in range(episodes)]
    started = time.perf_counter()
    results = (
        _run_bench(tasks, options, concurrency)
        if runner == "bench"
        else asyncio.run(_run_direct(tasks, options, concurrency))
    )
    wall_s = time.perf_counter() - started
    errors = sum(result.status != "completed" or not result.success for result in results)
    return Figure(concurrency, len(results), sum(r.model_calls for r in results), wall_s, errors)


async def _run_direct(tasks: list[Task], options: dict, concurrency: int) -> list[EpisodeResult]:
    limit = asyncio.Semaphore(concurrency)
    idle = [OpenAIAgent(**options) for _ in range(concurrency)]  # agents keep per-episode state: one per lane

    async def episode(task: Task) -> EpisodeResult:
        async with limit:
            agent = idle.pop()
            try:
                return await arun_episode_with(CounterWorld(), agent, task, seed=0)
            finally:
                idle.append(agent)

    try:
        return await asyncio.gather(*(episode(task) for task in tasks))
    finally:
        for agent in idle:
            await agent.aclose()


def _run_bench(tasks: list[Task], options: dict, concurrency: int) -> list[EpisodeResult]:
    from simyard.platform import registry
    from simyard.platform.bench import run_bench

    registry.register_world(CounterWorld.name, CounterWorld)
    with tempfile.TemporaryDirectory(prefix="simyard-bench-") as tmp:
        suite = Path(tmp) / "tasks.jsonl"
        suite.write_text("".join(task.model_dump_json() + "\n" for task in tasks))
        summary = run_bench(
            str(suite), "openai", options, workers=1, concurrency=concurrency, out=Path(tmp) / "run", save_frames=False
        )
        return summary.results


def _bench_has_concurrency() -> bool:
    try:
        from simyard.platform.bench import run_bench
    except ImportError:
        return False
    import inspect

    return "concurrency" in inspect.signature(run_bench).parameters


def _start_server(where: str, delay_s: float):
    default = Reply(content=REPLY, delay_s=delay_s)
    if where == "thread":
        server = ChatServer(default=default).start()
        return server.base_url, server.stop
    context = multiprocessing.get_context("spawn")
    urls, done = context.Queue(), context.Event()
    process = context.Process(target=_serve, args=(default, urls, done), daemon=True)
    process.start()

    def stop() -> None:
        done.set()
        process.join(5)

    return urls.get(timeout=30), stop


def _serve(default: Reply, urls, done) -> None:
    with ChatServer(default=default) as server:
        urls.put(server.base_url)
        done.wait()


def _print(figure: Figure) -> None:
    print(
        f"concurrency {figure.concurrency:>3}: {figure.episodes:>4} episodes, {figure.calls:>5} calls in "
        f"{figure.wall_s:6.2f} s = {figure.per_minute:8.1f} episodes/min ({figure.calls / figure.wall_s:6.1f} calls/s)"
        f"{f', {figure.errors} failed' if figure.errors else ''}"
    )


if __name__ == "__main__":
    main()
