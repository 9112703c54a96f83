"""How fast the `manipulation` world runs: physics steps per second, actions per second (CPU per action), frames
per second at 500x500 on OSMesa, memory per world; printed beside what EB-Manipulation needs.

1. Physics steps per second: bare `mj_step` on a task's tabletop (the Panda, 5-6 things, contacts), on one core.
2. Actions per second without pictures (`render=none`): the oracle's plans on the first `--episodes` tasks of
   `eb-manipulation`, each action planned (IK and waypoints) and simulated (servos, grip, landing), resets excluded.
   Aim: one action in under 50 ms of CPU.
3. Frames per second at 500x500 on OSMesa (one llvmpipe thread): `render()` with EB's axes and boxes, beside bare
   MuJoCo rendering the same model and camera.
4. Memory per world: RSS growth per live world after a reset and an action, without and with pictures.

The anchor printed beside them: EB-Manipulation runs VLMbench on CoppeliaSim 4.1 with PyRep, which needs an X server
(a virtual one headless) and Ubuntu 20.04; its planner-driven actions take on the order of seconds each.

Run: python benchmarks/manipulation_speed.py [--episodes 40] [--frames 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("LP_NUM_THREADS", "1")  # llvmpipe on one core, set before GL starts
os.environ.setdefault("MUJOCO_GL", "osmesa")

import mujoco  # noqa: E402

from simyard.sims import mjrender  # noqa: E402
from simyard.sims.manipulation import picture  # noqa: E402
from simyard.sims.manipulation.world import ManipulationEnv  # noqa: E402
from simyard.tasks.eb_manipulation import eb_manipulation_suite  # noqa: E402

ANCHOR = ("anchor: EB-Manipulation needs CoppeliaSim 4.1 + PyRep (VLMbench) with an X server on Ubuntu 20.04; "
          "simyard needs pip install only, headless on a CPU")  # fmt: skip


def physics_steps_per_second(steps: int) -> float:
    env = ManipulationEnv(render="none")
    env.reset(eb_manipulation_suite()[0], seed=0)
    model, data = env._model, env._data
    started = time.process_time()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    elapsed = time.process_time() - started
    env.close()
    return steps / elapsed


def action_costs(episodes: int) -> tuple[list[float], int]:
    """CPU seconds of each action the oracle takes on the first tasks (every variation sampled), and successes."""
    tasks = eb_manipulation_suite()
    picked = [tasks[index * len(tasks) // episodes] for index in range(episodes)]
    env = ManipulationEnv(render="none")
    costs, solved = [], 0
    for task in picked:
        env.reset(task, seed=0)
        done = False
        while not done and env._steps < task.max_steps:
            for action in env.oracle():
                started = time.process_time()
                result = env.step(action)
                costs.append(time.process_time() - started)
                done = result.terminated or result.truncated or not result.info["valid"]
                if done:
                    solved += result.info["success"]
                    break
    env.close()
    return costs, solved


def frames_per_second(frames: int) -> tuple[float, float]:
    """(world render() with axes and boxes, bare MuJoCo on the same model and camera), frames per second."""
    env = ManipulationEnv(render="osmesa")
    env.reset(eb_manipulation_suite()[0], seed=0)
    env.render()
    started = time.process_time()
    for _ in range(frames):
        env.render()
    world = frames / (time.process_time() - started)
    renderer = mujoco.Renderer(env._model, 500, 500)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:], camera.distance = picture.CAMERA_TARGET, 1.4
    camera.elevation, camera.azimuth = -35.0, 180.0
    started = time.process_time()
    for _ in range(frames):
        renderer.update_scene(env._data, camera)
        renderer.render()
    raw = frames / (time.process_time() - started)
    renderer.close()
    env.close()
    return world, raw


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_per_world(render: str, count: int = 4) -> float:
    tasks = eb_manipulation_suite()
    warm = ManipulationEnv(render=render)
    warm.reset(tasks[0], seed=0)  # the compiled model, GL context and imports are per process
    before = rss_mb()
    worlds = []
    for index in range(count):
        env = ManipulationEnv(render=render)
        env.reset(tasks[index + 1], seed=0)
        env.step(env.oracle()[0])
        worlds.append(env)
    grown = (rss_mb() - before) / count
    for env in [warm, *worlds]:
        env.close()
    return grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40, help="oracle episodes timed action by action")
    parser.add_argument("--frames", type=int, default=60, help="frames rendered")
    parser.add_argument("--steps", type=int, default=20000, help="bare physics steps")
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}; GL {os.environ['MUJOCO_GL']}, LP_NUM_THREADS={os.environ['LP_NUM_THREADS']}")
    print(ANCHOR)
    print(f"physics: {physics_steps_per_second(args.steps):,.0f} steps/s per core (2 ms steps, Panda + table)")
    costs, solved = action_costs(args.episodes)
    mean_ms, p95_ms = 1000 * statistics.mean(costs), 1000 * sorted(costs)[int(0.95 * len(costs))]
    print(
        f"actions without pictures: {1 / statistics.mean(costs):,.0f} actions/s per core; CPU per action "
        f"{mean_ms:.1f} ms mean, {p95_ms:.1f} ms p95 (aim < 50 ms); {len(costs)} actions, oracle solved "
        f"{solved}/{args.episodes}"
    )
    world, raw = frames_per_second(args.frames)
    print(
        f"frames at 500x500 on OSMesa: {world:.1f} frames/s with EB's axes and boxes, bare MuJoCo {raw:.1f} "
        f"({world / raw:.0%})"
    )
    print(
        f"memory per world: {memory_per_world('none'):.1f} MB without pictures, "
        f"{memory_per_world('osmesa'):.1f} MB with (the backend: {mjrender.active_backend()})"
    )


if __name__ == "__main__":
    main()
