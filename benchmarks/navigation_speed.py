"""How fast the `navigation` world runs: steps per second without pictures, a step with its 500x500 frame beside raw
MuJoCo rendering the same scene, memory per world, and `bench run eb-navigation --agent oracle` episodes per minute.
Prints each figure beside its anchor.

1. Steps per second without rendering (`render=none`): random actions, every episode a task of the `eb-navigation`
   suite (a new kitchen each reset), on this process's one thread; with and without the resets counted.
2. Steps per second with the 500x500 egocentric frame (OSMesa, llvmpipe on one thread) beside raw MuJoCo's frames
   per second on the same compiled scene: a bare `mujoco.Renderer` on the world's own model and data, its camera
   where the agent's eye is, the same geom groups, no shadows (as the scene draws), the same 4x multisampling (the
   model's), drawing the very views the world drew: the agent walks (moves, turns, tilts) and raw MuJoCo replays
   its poses. Measured in alternating rounds, the best round of each kept, so a busy machine slows both alike. Aim:
   at least 80% of raw MuJoCo's rate.
3. Memory per world with pictures on: RSS growth per live world after a reset and a step.
4. `run_bench("eb-navigation", "oracle")` over the first `--episodes` tasks with every frame saved: episodes per
   minute, and the share solved.

The anchor printed beside them: EB-Navigation needs AI2-THOR 5.0 with its CloudRendering platform, i.e. a Vulkan
GPU for Unity's renderer, with the THOR build downloaded on first use; it has no CPU-only mode.

Run: python benchmarks/navigation_speed.py [--steps 20000] [--frames 60] [--rounds 3] [--episodes 60]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "1")  # llvmpipe on one core, set before GL starts
os.environ.setdefault("MUJOCO_GL", "osmesa")

import numpy as np  # noqa: E402

from simyard.platform import registry  # noqa: E402
from simyard.platform.bench import run_bench  # noqa: E402
from simyard.sims.navigation.world import NavigationEnv  # noqa: E402

#: A walk that stays valid in most kitchens and changes the view every step: forward, turn, forward, turn, ...
WALK = (0, 1, 5, 0, 1, 4, 3, 2, 7, 6)


def steps_without_pictures(steps: int) -> tuple[float, float]:
    """(steps/s counting steps only, counting resets too): random actions, a suite task per episode."""
    tasks = registry.load_suite("eb-navigation")
    env = NavigationEnv(render="none")
    rng = np.random.default_rng(0)
    done, index, stepping = 0, 0, 0.0
    started = time.process_time()
    while done < steps:
        env.reset(tasks[index % len(tasks)], seed=index)
        index += 1
        while done < steps:
            action = int(rng.integers(8))
            before = time.process_time()
            result = env.step(action)
            stepping += time.process_time() - before
            done += 1
            if result.terminated or result.truncated:
                break
    elapsed = time.process_time() - started
    env.close()
    return done / stepping, done / elapsed


def world_round(env: NavigationEnv, frames: int) -> tuple[float, list[tuple]]:
    """(steps per second of `env.step` with its frame along the walk, the (pose, horizon) of every frame)."""
    poses = []
    started = time.process_time()
    for frame in range(frames):
        env.step(WALK[frame % len(WALK)])
        poses.append((env._house.agent.pose, env._house.agent.horizon_deg))
    return frames / (time.process_time() - started), poses


def raw_round(env: NavigationEnv, renderer, poses: list[tuple]) -> float:
    """Frames per second of a bare `mujoco.Renderer` on the world's model and data, its free camera at the eye of
    each pose the world drew, with the world's geom groups and no shadows."""
    import mujoco

    from simyard.sims.household.scene import eye
    from simyard.sims.household.state import House

    scene = env._scene
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    option = scene._ego_option
    cameras = []
    for pose, horizon in poses:  # the camera's numbers first, so only rendering is timed
        probe = House()
        probe.agent.pose, probe.agent.horizon_deg = pose, horizon
        position, forward = eye(probe)
        azimuth = math.degrees(math.atan2(forward[1], forward[0]))
        elevation = math.degrees(math.asin(max(-1.0, min(1.0, forward[2]))))
        cameras.append((position + forward, azimuth, elevation))
    started = time.process_time()
    for lookat, azimuth, elevation in cameras:
        camera.lookat[:] = lookat
        camera.distance, camera.azimuth, camera.elevation = 1.0, azimuth, elevation
        renderer.update_scene(scene.data, camera, scene_option=option)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.render()
    return len(cameras) / (time.process_time() - started)


def pictures(frames: int, rounds: int, size: int) -> tuple[float, float]:
    """(best world steps/s with the frame, best raw MuJoCo frames/s of the same views) on a suite task's kitchen."""
    import mujoco

    task = registry.load_suite("eb-navigation")[0]
    env = NavigationEnv(resolution=size, render="osmesa")
    env.reset(task)
    model = env._scene.model
    model.vis.global_.fovy = env.fov  # the free camera's lens: the world's 100 degrees
    renderer = mujoco.Renderer(model, size, size)
    best_world = best_raw = 0.0
    for _ in range(rounds):
        env.reset(task)
        rate, poses = world_round(env, frames)
        best_world = max(best_world, rate)
        best_raw = max(best_raw, raw_round(env, renderer, poses))
    renderer.close()
    env.close()
    return best_world, best_raw


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_per_world(count: int = 4) -> float:
    """RSS growth per live world with pictures on, after a reset and one step each."""
    tasks = registry.load_suite("eb-navigation")
    warm = NavigationEnv(render="osmesa")
    warm.reset(tasks[0])  # the GL context and imports are per process, not per world
    warm.step(0)
    before = rss_mb()
    worlds = []
    for index in range(count):
        env = NavigationEnv(render="osmesa")
        env.reset(tasks[index + 1])
        env.step(0)
        worlds.append(env)
    grown = (rss_mb() - before) / count
    for env in [warm, *worlds]:
        env.close()
    return grown


def bench_rate(episodes: int, root: Path) -> tuple[float, float]:
    started = time.perf_counter()
    summary = run_bench("eb-navigation", "oracle", workers=1, limit=episodes, out=root / "run", frames="all")
    elapsed = time.perf_counter() - started
    solved = sum(r.success for r in summary.results) / len(summary.results)
    return episodes / elapsed * 60, solved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000, help="steps without pictures")
    parser.add_argument("--frames", type=int, default=60, help="frames per round, world and raw MuJoCo each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--episodes", type=int, default=60, help="eb-navigation episodes in the bench run")
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}; GL {os.environ['MUJOCO_GL']}, LP_NUM_THREADS={os.environ['LP_NUM_THREADS']}")
    print("anchor: EB-Navigation needs AI2-THOR 5.0 CloudRendering, i.e. a Vulkan GPU; it has no CPU-only mode")
    alone, with_resets = steps_without_pictures(args.steps)
    print(
        f"navigation without pictures: {alone:>9,.0f} steps/s per core; {with_resets:,.0f} counting a reset (a new "
        "kitchen) every episode of random play"
    )
    world, raw = pictures(args.frames, args.rounds, args.size)
    print(
        f"navigation with its {args.size}x{args.size} frame: {world:6.1f} steps/s per core = {world / raw:4.0%} of "
        f"raw MuJoCo's {raw:.1f} frames/s on the same scene (aim >= 80%)"
    )
    print(f"memory per world with pictures: {memory_per_world():.1f} MB")
    with tempfile.TemporaryDirectory(prefix="navigation-speed-") as scratch:
        rate, solved = bench_rate(args.episodes, Path(scratch))
    print(
        f"bench run eb-navigation --agent oracle, {args.episodes} episodes, frames all: {rate:,.0f} episodes/min, "
        f"{solved:.0%} solved"
    )


if __name__ == "__main__":
    main()
