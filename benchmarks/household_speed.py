"""How fast the household worlds run: steps per second with and without pictures, memory per world, and
`bench run eb-alfred --agent oracle` episodes per minute with 1 and 2 workers. Prints figures beside the anchor.

1. Steps per second without rendering (`render=none`), skills drawn at random from each episode's list, resets
   included, per world (`household`, `rearrange`), on one core. Aim: at least 10,000 per core.
2. Steps per second with the 500x500 egocentric view (OSMesa, one llvmpipe thread), beside raw MuJoCo on a
   50-body scene measured in the same run (benchmarks/household_render.py has the anchor in detail). Aim: lose no
   more than 20% of raw MuJoCo's rate.
3. Peak memory per world instance with pictures on: RSS growth per live world after a reset and a step.
   Aim: at most 150 MB.
4. `run_bench("eb-alfred", "oracle")` (what `simyard bench run eb-alfred --agent oracle` runs) over the first
   `--episodes` tasks with frames saved, with 1 and 2 workers: episodes per minute.

The anchor printed beside them: EmbodiedBench's AI2-THOR needs an X server and a GPU and takes on the order of a
second per high-level skill (a `find` teleports through up to 20 positions), so about 60 skills per minute.

Run: python benchmarks/household_speed.py [--steps 20000] [--episodes 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "1")  # llvmpipe on one core, set before GL starts
os.environ.setdefault("MUJOCO_GL", "osmesa")

import numpy as np  # noqa: E402

from simyard.platform import registry  # noqa: E402
from simyard.platform.bench import run_bench  # noqa: E402

SUITES = {"household": "eb-alfred", "rearrange": "eb-habitat"}


def steps_per_second(world: str, steps: int, **options) -> tuple[float, float]:
    """(steps/s counting steps only, steps/s counting resets too): random skills from each episode's list, every
    episode a new task (a new home), on this process's one thread. Random play ends episodes early (10 invalid
    actions), so resets weigh far more here than in a real run."""
    tasks = registry.load_suite(SUITES[world])
    env = registry.make(world, **options)
    rng = np.random.default_rng(0)
    done, index, stepping = 0, 0, 0.0
    started = time.process_time()
    while done < steps:
        env.reset(tasks[index % len(tasks)], seed=index)
        index += 1
        while done < steps:
            action = env.sample_action(rng)
            before = time.process_time()
            result = env.step(action)
            stepping += time.process_time() - before
            done += 1
            if result.terminated or result.truncated:
                break
    elapsed = time.process_time() - started
    env.close()
    return done / stepping, done / elapsed


def raw_mujoco_fps(frames: int, size: int = 500) -> float:
    """Bare mujoco.Renderer on 50 boxes (no shadows, as the scene draws), the camera circling."""
    import mujoco

    rng = np.random.default_rng(0)
    bodies = "".join(
        f"<body pos='{rng.uniform(-4, 4):.2f} {rng.uniform(-4, 4):.2f} {rng.uniform(0.1, 1.2):.2f}'>"
        f"<geom type='box' size='.2 .2 .2' rgba='{rng.uniform():.2f} .4 .5 1'/></body>"
        for _ in range(50)
    )
    xml = (f"<mujoco><visual><global offwidth='{size}' offheight='{size}'/></visual><worldbody>"
           "<light pos='0 0 5' dir='0 0 -1'/><geom type='plane' size='6 6 .1'/>" f"{bodies}</worldbody></mujoco>")
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = mujoco.Renderer(model, size, size)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    camera = mujoco.MjvCamera()
    camera.distance, camera.elevation = 8.0, -30.0
    started = time.process_time()
    for frame in range(frames):
        camera.azimuth = frame * 9.0
        renderer.update_scene(data, camera)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.render()
    elapsed = time.process_time() - started
    renderer.close()
    return frames / elapsed


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_per_world(world: str, count: int = 4) -> float:
    """RSS growth per live world with pictures on, after a reset and one step each."""
    tasks = registry.load_suite(SUITES[world])
    warm = registry.make(world)
    warm.reset(tasks[0], seed=0)  # GL context and imports are per process, not per world
    before = rss_mb()
    worlds = []
    for index in range(count):
        env = registry.make(world)
        env.reset(tasks[index + 1], seed=0)
        env.step(0)
        worlds.append(env)
    grown = (rss_mb() - before) / count
    for env in [warm, *worlds]:
        env.close()
    return grown


def bench_rate(workers: int, episodes: int, root: Path) -> float:
    started = time.perf_counter()
    summary = run_bench("eb-alfred", "oracle", workers=workers, limit=episodes, out=root / f"w{workers}",
                        frames="all")
    elapsed = time.perf_counter() - started
    assert summary.status == "finished" and all(r.success for r in summary.results), summary.status
    return episodes / elapsed * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000, help="steps per world without pictures")
    parser.add_argument("--frames", type=int, default=100, help="steps with pictures, and anchor frames")
    parser.add_argument("--episodes", type=int, default=60, help="eb-alfred episodes per bench run")
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}; GL {os.environ['MUJOCO_GL']}, LP_NUM_THREADS={os.environ['LP_NUM_THREADS']}")
    print("anchor: EmbodiedBench's AI2-THOR (X server + GPU) takes ~1 s per high-level skill = ~60 skills/min")
    for world in SUITES:
        alone, with_resets = steps_per_second(world, args.steps, render="none")
        print(f"{world:<10} without pictures: {alone:>9,.0f} steps/s per core (aim >= 10,000); {with_resets:,.0f} "
              "counting a reset (a new home) every ~12 steps")
    raw = raw_mujoco_fps(args.frames)
    for world in SUITES:
        rate, _ = steps_per_second(world, args.frames, render="osmesa")
        print(f"{world:<10} with the 500x500 view: {rate:6.1f} steps/s per core = {rate / raw:4.0%} of raw MuJoCo's "
              f"{raw:.1f} frames/s on 50 bodies (aim >= 80%)")
    for world in SUITES:
        print(f"{world:<10} memory per world with pictures: {memory_per_world(world):.1f} MB (aim <= 150 MB)")
    with tempfile.TemporaryDirectory(prefix="household-speed-") as scratch:
        rates = {workers: bench_rate(workers, args.episodes, Path(scratch)) for workers in (1, 2)}
    print(f"bench run eb-alfred --agent oracle, {args.episodes} episodes, frames all: {rates[1]:,.0f} episodes/min "
          f"with 1 worker, {rates[2]:,.0f} with 2 ({rates[2] / rates[1]:.2f}x)")


if __name__ == "__main__":
    main()
