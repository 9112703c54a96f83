"""Figures for worlds that are slow or hang (issue: the core ready for heavy worlds). Prints figures; asserts nothing.

1. A world whose step sleeps 200 ms (standing in for a sandboxed command), sync agent, one worker: episodes per minute
   at --concurrency 8 against --concurrency 1. Target: at least 6x.
2. A blocking agent that never answers on one task, with a 2 s time limit: how long that episode took (target: within
   the limit plus 5 s) and whether the batch went on.
3. A world rendering a 500x500 frame every step (numpy drawing), frames all vs none: steps per second. Target: with
   frames at least 80% of without.

Run: python benchmarks/heavy_worlds.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import simyard
from simyard.platform.api import ActionSpec, Agent, Env, Observation, StepResult, Task

HERE = str(Path(__file__).resolve())


class SleepyWorld(Env):
    """Two steps to the goal; each step sleeps `sleep_s` (a sandboxed command's latency)."""

    name = "bench-sleepy"

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.count, self.sleep_s = 0, float(task.config.get("sleep_s", 0.2))
        return Observation("go")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("go",))

    def oracle(self):
        return "go"

    def step(self, action) -> StepResult:
        time.sleep(self.sleep_s)
        self.count += 1
        done = self.count >= 2
        return StepResult(Observation("ok"), 0.0, done, False, {"valid": True, "success": done,
                                                               "progress": self.count / 2})


class PaintedWorld(SleepyWorld):
    """A 500x500 picture every step, drawn with numpy (a stand-in for a MuJoCo render)."""

    name = "bench-painted"

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.count = 0
        self.rng = np.random.default_rng(seed)
        return Observation("go", {"rgb": self._draw()})

    def step(self, action) -> StepResult:
        self.count += 1
        done = self.count >= 20
        return StepResult(Observation("ok", {"rgb": self._draw()}), 0.0, done, False,
                          {"valid": True, "success": done, "progress": self.count / 20})

    def _draw(self) -> np.ndarray:
        y, x = np.mgrid[0:500, 0:500]
        image = np.empty((500, 500, 3), dtype=np.uint8)
        image[..., 0] = (x + self.count * 7) % 256
        image[..., 1] = (y * 2 + self.count) % 256
        image[..., 2] = ((x ^ y) + self.count) % 256
        return image


class Go(Agent):
    """Always `go`; blocks forever in `act` on task `block_on` (a model call that never returns)."""

    def __init__(self, block_on: str = "") -> None:
        self.block_on, self.task_id = block_on, ""

    def reset(self, task: Task, spec: ActionSpec) -> None:
        self.task_id = task.id

    def act(self, observation: Observation):
        if self.task_id == self.block_on:
            time.sleep(3600)
        return "go"


simyard.register_world("bench-sleepy", SleepyWorld)
simyard.register_world("bench-painted", PaintedWorld)
simyard.register_agent("bench-go", Go)


def _suite(root: Path, world: str, count: int) -> str:
    from simyard.platform.taskfiles import write_task_file

    path = root / f"{world}-{count}.jsonl"
    write_task_file(path, [Task(id=f"e{i:03d}", world=world, max_steps=30) for i in range(count)])
    return str(path)


def main() -> None:
    from simyard.platform.bench import run_bench
    from simyard.platform.episode import Limits

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite = _suite(root, "bench-sleepy", 16)
        rates = {}
        for concurrency in (1, 8):
            started = time.perf_counter()
            run_bench(suite, "bench-go", out=root / f"sleepy-{concurrency}", concurrency=concurrency, imports=[HERE])
            rates[concurrency] = 16 / (time.perf_counter() - started) * 60
        print(f"slow world (200 ms steps): {rates[1]:.0f} episodes/min at concurrency 1, {rates[8]:.0f} at 8: "
              f"{rates[8] / rates[1]:.2f}x (target >= 6x)")

        suite = _suite(root, "bench-sleepy", 4)
        started = time.perf_counter()
        summary = run_bench(suite, "bench-go", {"block_on": "e001"}, out=root / "blocking", imports=[HERE],
                            limits=Limits(time_limit_s=2.0))
        blocked = next(result for result in summary.results if result.task_id == "e001")
        print(f"blocking agent, 2 s limit: that episode ended as {blocked.status} after {blocked.duration_s:.2f} s "
              f"(target <= 7 s); the batch of 4 took {time.perf_counter() - started:.2f} s, "
              f"{sum(r.status == 'completed' for r in summary.results)} others completed")

        suite = _suite(root, "bench-painted", 10)
        speeds = {}
        for frames in ("none", "all", "none", "all"):
            started = time.perf_counter()
            run_bench(suite, "bench-go", out=root / f"painted-{frames}-{time.perf_counter_ns()}", imports=[HERE],
                      frames=frames)
            speeds.setdefault(frames, []).append(200 / (time.perf_counter() - started))
        best = {frames: max(values) for frames, values in speeds.items()}
        print(f"500x500 frames every step: {best['none']:.0f} steps/s with --frames none, {best['all']:.0f} with "
              f"--frames all: {best['all'] / best['none']:.0%} (target >= 80%)")


if __name__ == "__main__":
    sys.exit(main())
