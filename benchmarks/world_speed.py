"""How fast RAGEN's four puzzle worlds run, and how that compares with the implementations RAGEN itself uses.

    python benchmarks/world_speed.py            # everything, about a minute
    python benchmarks/world_speed.py --quick    # fewer repetitions
    python benchmarks/world_speed.py --no-peers # simyard only

Printed figures:

* steps/s of each world called directly: `env.step` in a loop, with a reset whenever an episode ends (bandit and
  countdown end after every step, so theirs are reset+step rates);
* steps/s through the runner: `run_episode_with` with the `oracle` agent over the suite's base tasks, so the oracle's
  planning is included; and again with the run-directory recorder (`EpisodeWriter`) writing every step to disk;
* Sokoban room generation time, 10x10 with 3 boxes and 6x6 with 1 box;
* the peers: gym-sokoban (room generation at 10x10 with 3 boxes, steps/s at 6x6 with 1 box) and Gymnasium's
  FrozenLake-v1 made with `gymnasium.make`. gym-sokoban needs the retired `gym` package and numpy<2, so it runs in
  its own virtual environment, created on first use at /tmp/peer-venv (`--peer-venv` to move it); when it cannot
  be installed, the published figures are printed instead (about 540 ms per room, 9,000 steps/s).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simyard.agents.baselines import OracleAgent
from simyard.platform import registry
from simyard.platform.api import Task
from simyard.platform.episode import run_episode_with
from simyard.sims.puzzles._common import world_rng
from simyard.sims.puzzles.sokoban_rooms import generate_room
from simyard.tasks.ragen import ragen_suite

PUBLISHED_GYM_SOKOBAN = {"generate_10x10_3_s": 0.540, "steps_per_s_6x6_1": 9000.0}
PUBLISHED_GYMNASIUM_FROZENLAKE = 170_000.0

_PEER_SCRIPT = r"""
import json, random, sys, time
import numpy as np
from gym_sokoban.envs import room_utils
from gym_sokoban.envs.sokoban_env import SokobanEnv

rooms = int(sys.argv[1])
started = time.perf_counter()
for seed in range(rooms):
    random.seed(seed)
    np.random.seed(seed)
    room_utils.generate_room(dim=(10, 10), num_steps=int(1.7 * 20), num_boxes=3)
generate = (time.perf_counter() - started) / rooms

random.seed(0)
np.random.seed(0)
env = SokobanEnv(dim_room=(6, 6), num_boxes=1, max_steps=10**9)
rates = {}
for mode, steps in (("tiny_rgb_array", 20000), ("rgb_array", 2000)):
    env.reset()
    started = time.perf_counter()
    for index in range(steps):
        if env.step(1 + index % 4, observation_mode=mode)[2]:
            env.reset()
    rates[mode] = steps / (time.perf_counter() - started)
print(json.dumps({"generate_10x10_3_s": generate, "steps_per_s": rates}))
"""


def rate(run_batch: Callable[[], int], seconds: float) -> float:
    """Calls `run_batch` (which returns how many steps it took) until `seconds` have passed; steps per second."""
    steps, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        steps += run_batch()
    return steps / elapsed


def direct_steps_per_s(world: str, task: Task, seconds: float) -> float:
    """`env.step` in a loop, resetting (with the next seed) whenever an episode ends."""
    env = registry.make(world)
    seeds = itertools.count()
    env.reset(task, next(seeds))
    spec = env.action_spec()
    actions = itertools.cycle(spec.choices if spec.kind == "choice" else [env.oracle()])
    step, reset = env.step, env.reset

    def batch() -> int:
        for _ in range(1000):
            result = step(next(actions))
            if result.terminated or result.truncated:
                reset(task, next(seeds))
        return 1000

    try:
        return rate(batch, seconds)
    finally:
        env.close()


def runner_steps_per_s(world: str, tasks: list[Task], seconds: float, record_to: Path | None = None) -> float:
    """Episodes of the oracle through `run_episode_with`; with `record_to`, each recorded as a bench run records it."""
    env = registry.make(world)
    writer = _episode_writer() if record_to is not None else None
    episodes = itertools.count()

    def batch() -> int:
        seed = next(episodes)
        task = tasks[seed % len(tasks)]
        recorder = writer(record_to / f"{task.id}__s{seed}") if writer is not None and record_to is not None else None
        return run_episode_with(env, OracleAgent(), task, seed=seed, recorder=recorder).steps

    try:
        return rate(batch, seconds)
    finally:
        env.close()


def _episode_writer() -> Callable[[Path], object] | None:
    """The run-directory recorder, where this checkout has one (simyard.platform.trajectory)."""
    try:
        from simyard.platform.trajectory import EpisodeWriter
    except ImportError:
        return None
    return EpisodeWriter


def generation_s(size: tuple[int, int], boxes: int, depth: int, rooms: int) -> tuple[float, float]:
    """Mean and worst seconds to generate one Sokoban room."""
    times = []
    for seed in range(rooms):
        started = time.perf_counter()
        generate_room(*size, boxes, depth, world_rng(seed))
        times.append(time.perf_counter() - started)
    return float(np.mean(times)), max(times)


def gymnasium_frozenlake_steps_per_s(seconds: float) -> float:
    """Gymnasium's FrozenLake-v1 as `gymnasium.make` builds it (default: 4x4 map, slippery, wrappers on)."""
    import gymnasium

    env = gymnasium.make("FrozenLake-v1")
    env.reset(seed=0)
    actions = itertools.cycle(range(4))

    def batch() -> int:
        for _ in range(1000):
            _, _, terminated, truncated, _ = env.step(next(actions))
            if terminated or truncated:
                env.reset()
        return 1000

    try:
        return rate(batch, seconds)
    finally:
        env.close()


def gym_sokoban_figures(venv: Path, rooms: int) -> dict | None:
    """gym-sokoban's figures measured in its own virtual environment (made on first use), or None."""
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            print(f"  creating {venv} with gym-sokoban (old gym needs numpy<2) ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "numpy<2", "gym-sokoban"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        done = subprocess.run(
            [str(python), "-W", "ignore", "-c", _PEER_SCRIPT, str(rooms)],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        print(f"  gym-sokoban could not be measured: {str(detail).strip().splitlines()[-1:]}")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--no-peers", action="store_true", help="skip gym-sokoban and Gymnasium")
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer-venv"), help="venv for gym-sokoban")
    options = parser.parse_args()
    seconds = 0.5 if options.quick else 2.0

    suite = ragen_suite()
    base = {
        world: [task for task in suite if task.world == world and task.subset == "base"]
        for world in ("sokoban", "frozenlake", "bandit", "countdown")
    }
    recorder = _episode_writer()
    print(f"steps/s (python {sys.version.split()[0]}, {seconds:g} s per figure)")
    print(f"{'world':<11}{'direct':>12}{'runner+oracle':>16}{'+recorder':>12}")
    with tempfile.TemporaryDirectory() as scratch:
        for world, tasks in base.items():
            direct = direct_steps_per_s(world, tasks[0], seconds)
            runner = runner_steps_per_s(world, tasks, seconds)
            if recorder is None:
                recorded = "n/a"  # the recorder (simyard.platform.trajectory) is not in this checkout yet
            else:
                recorded = f"{runner_steps_per_s(world, tasks, seconds, Path(scratch) / world):,.0f}"
            print(f"{world:<11}{direct:>12,.0f}{runner:>16,.0f}{recorded:>12}")

    rooms = 20 if options.quick else 100
    print(f"\nsokoban room generation ({rooms} rooms each; depth = max_steps - 3 as in the suite)")
    for size, boxes, depth in (((10, 10), 3, 27), ((6, 6), 1, 7)):
        mean_s, worst_s = generation_s(size, boxes, depth, rooms)
        print(
            f"  {size[0]}x{size[1]}, {boxes} box{'es' * (boxes > 1)}: mean {mean_s * 1000:.2f} ms, "
            f"worst {worst_s * 1000:.1f} ms"
        )

    if options.no_peers:
        return
    print("\npeers")
    frozenlake = gymnasium_frozenlake_steps_per_s(seconds)
    print(
        f"  Gymnasium FrozenLake-v1 (gymnasium.make): {frozenlake:,.0f} steps/s "
        f"(published: {PUBLISHED_GYMNASIUM_FROZENLAKE:,.0f})"
    )
    figures = gym_sokoban_figures(options.peer_venv, rooms=3 if options.quick else 5)
    if figures is None:
        print(
            f"  gym-sokoban published figures: {PUBLISHED_GYM_SOKOBAN['generate_10x10_3_s'] * 1000:.0f} ms per "
            f"10x10 room with 3 boxes, {PUBLISHED_GYM_SOKOBAN['steps_per_s_6x6_1']:,.0f} steps/s at 6x6"
        )
        return
    print(
        f"  gym-sokoban room generation, 10x10 with 3 boxes: {figures['generate_10x10_3_s'] * 1000:,.0f} ms "
        f"(published: {PUBLISHED_GYM_SOKOBAN['generate_10x10_3_s'] * 1000:.0f} ms)"
    )
    for mode, steps_per_s in figures["steps_per_s"].items():
        print(
            f"  gym-sokoban 6x6 with 1 box, observation {mode}: {steps_per_s:,.0f} steps/s "
            f"(published: {PUBLISHED_GYM_SOKOBAN['steps_per_s_6x6_1']:,.0f})"
        )


if __name__ == "__main__":
    main()
