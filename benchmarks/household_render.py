"""What pictures cost in the household worlds: the scene's frames per second beside raw MuJoCo's. Prints figures.

1. The anchor: a bare `mujoco.Renderer` (its defaults: shadows, 4x multisampling) drawing a plain MJCF of 50 boxes
   at 500x500, and the same without shadows (what the scene draws with).
2. `Scene` on a generated home of about 50 bodies: per step, the agent turns and moves (poses from `pose_facing`),
   then `sync` + `render("rgb")` + `visible()` (a half-resolution segmentation pass), and the same with detection
   boxes. Aim: at least 80% of the anchor's frames per second (lose no more than 20%).
3. Scene build time (compile, then the first frame, which makes the model's GL context) and memory per Scene:
   process RSS growth per live Scene (MuJoCo's C allocations and GL buffers, which tracemalloc cannot see) and
   Python's own peak (tracemalloc). Aim: at most 150 MB per world instance.

Anchor and scene are measured in alternating rounds and the best round of each is kept, so a busy machine slows
both alike. llvmpipe (OSMesa's rasteriser) runs on `--lp-threads` threads (default 1: one core, as the issue's
anchor); it must be set before GL starts, so it is an environment variable set here at start.

Run: python benchmarks/household_render.py [--frames 40] [--rounds 3] [--size 500] [--backend osmesa]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
import tracemalloc


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40, help="frames per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=500, help="picture side in pixels")
    parser.add_argument("--backend", default="osmesa", choices=("osmesa", "egl", "auto"))
    parser.add_argument("--lp-threads", default="1", help="llvmpipe threads (LP_NUM_THREADS); 0 = the caller's")
    parser.add_argument("--seed", type=int, default=3, help="generated home")
    return parser.parse_args()


def _boxes_mjcf(count: int, size: int) -> str:
    import numpy as np

    rng = np.random.default_rng(0)
    bodies = "".join(
        f"<body pos='{rng.uniform(-4, 4):.2f} {rng.uniform(-4, 4):.2f} {rng.uniform(0.1, 1.2):.2f}'>"
        f"<geom type='box' size='.2 .2 .2' rgba='{rng.uniform():.2f} {rng.uniform():.2f} .5 1'/></body>"
        for _ in range(count)
    )
    return (
        f"<mujoco><visual><global offwidth='{size}' offheight='{size}'/></visual><worldbody>"
        "<light pos='0 0 5' dir='0 0 -1'/><geom type='plane' size='6 6 .1' rgba='.8 .8 .8 1'/>"
        f"{bodies}</worldbody></mujoco>"
    )


class Anchor:
    """The bare renderer on 50 boxes, the camera circling so every frame differs."""

    def __init__(self, size: int) -> None:
        import mujoco

        self.mujoco = mujoco
        self.model = mujoco.MjModel.from_xml_string(_boxes_mjcf(50, size))
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        self.renderer = mujoco.Renderer(self.model, size, size)
        self.camera = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(self.model, self.camera)
        self.step = 0

    def frame(self, shadows: bool) -> None:
        self.step += 1
        self.camera.azimuth = (self.step * 7) % 360
        self.renderer.update_scene(self.data, self.camera)
        self.renderer.scene.flags[self.mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        self.renderer.render()

    def close(self) -> None:
        self.renderer.close()


def _poses(house, count: int) -> list[tuple[float, float, float]]:
    from simyard.sims.household.scene import pose_facing

    targets = [thing.id for thing in house.things.values() if thing.parent is None]
    return [pose_facing(house, targets[index % len(targets)]) for index in range(count)]


def _rate(step, frames: int) -> float:
    step(0)  # warm: the first frame of a model makes its GL context
    started = time.perf_counter()
    for index in range(frames):
        step(index + 1)
    return frames / (time.perf_counter() - started)


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    args = _args()
    os.environ.setdefault("LP_NUM_THREADS", args.lp_threads)
    from simyard.sims import mjrender

    backend = mjrender.choose_backend(args.backend)
    from simyard.sims.household.homes import generate
    from simyard.sims.household.scene import Scene

    house = generate(args.seed)
    poses = _poses(house, 16)
    anchor = Anchor(args.size)
    renderer = mjrender.Renderer(backend, args.size, args.size)
    scene = Scene(house, renderer, width_px=args.size, height_px=args.size, top_px=args.size)

    def scene_step(index: int, boxes: bool = False) -> None:
        house.agent.pose = poses[index % len(poses)]
        scene.sync(house)
        scene.render("rgb", boxes=boxes)
        scene.visible()

    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, step in (
            ("anchor", lambda i: anchor.frame(True)),
            ("anchor_noshadow", lambda i: anchor.frame(False)),
            ("scene", scene_step),
            ("scene_boxes", lambda i: scene_step(i, True)),
            ("render_only", lambda i: scene.render("rgb")),
        ):
            best[name] = max(best.get(name, 0.0), _rate(step, args.frames))
    anchor.close()

    builds, firsts = [], []
    for _ in range(5):
        started = time.perf_counter()
        fresh = Scene(house, renderer, width_px=args.size, height_px=args.size, top_px=args.size)
        builds.append(time.perf_counter() - started)
        fresh.render("rgb")
        firsts.append(time.perf_counter() - started)
        fresh.close()

    gc.collect()
    keep: list[Scene] = []
    rss_before = _rss_mb()
    tracemalloc.start()
    for _ in range(4):
        fresh = Scene(house, renderer, width_px=args.size, height_px=args.size, top_px=args.size)
        fresh.render("rgb")
        fresh.visible()
        keep.append(fresh)
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_per_scene = (_rss_mb() - rss_before) / len(keep)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for fresh in keep:
        fresh.close()
    scene.close()
    renderer.close()

    model = scene.model
    anchor_fps = best["anchor"]
    threads = os.environ["LP_NUM_THREADS"]
    print(f"household scene rendering, {args.size}x{args.size}, backend {backend}, LP_NUM_THREADS={threads}, "
          f"best of {args.rounds} rounds of {args.frames} frames")  # fmt: skip
    print(f"  anchor: bare mujoco.Renderer, 50 boxes, its defaults (shadows): {anchor_fps:6.1f} frames/s")
    print(f"  anchor without shadows (as the scene draws):                {best['anchor_noshadow']:6.1f} frames/s")
    print(f"  scene: {len(house.things)} things, {model.nbody} bodies, {model.ngeom} geoms:")
    print(f"    render only                                 {best['render_only']:6.1f} frames/s")
    for name, label in (("scene", "sync + render + visible"), ("scene_boxes", "sync + render(boxes) + visible")):
        fps = best[name]
        print(f"    {label:<43} {fps:6.1f} frames/s = {fps / anchor_fps:4.0%} of the anchor "
              f"({fps / best['anchor_noshadow']:4.0%} of it without shadows); aim >= 80%")  # fmt: skip
    print(f"  scene build: {min(builds) * 1000:.1f} ms to compile, {min(firsts) * 1000:.1f} ms to the first frame")
    print(f"  memory per live Scene: {rss_per_scene:.1f} MB RSS (aim <= 150 MB), Python peak "
          f"{python_peak / 2**20 / len(keep):.1f} MB; process peak RSS {peak_rss:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
