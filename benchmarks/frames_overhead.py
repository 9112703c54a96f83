"""How much recording frames slows a world loop: steps/s with `FrameWriter` (policy all) against no frames.

Also `sync`: each frame encoded and written inline, as the recorder did before the writer thread.

A synthetic world renders a fresh 500x500 RGB frame per step (a moving square on a gradient with grid lines, so PNGs
are not trivially small; --plain for flat colours). `--render-ms` adds work per step to stand in for a real renderer
(3D simulators spend 5-50 ms a frame): pure Python by default, which holds the GIL throughout (a Python world, an
agent parsing replies: the worst case for a writer thread, which must win the GIL back after each C call), numpy
with `--busy numpy`, which releases it (a C renderer), or `--busy sleep` (waiting: a model server, a simulator in
another process). Prints figures; asserts nothing.

    python benchmarks/frames_overhead.py                      # renders of 0, 2, 5, 10 ms
    python benchmarks/frames_overhead.py --busy numpy --video
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from simyard.platform import frames

SIZE = 500


class SyntheticWorld:
    """Renders a new frame each step; `render_ms` of extra work stands in for a real renderer."""

    def __init__(self, render_ms: float, detail: bool, busy: str = "python") -> None:
        self.render_ms = render_ms
        self.busy = busy
        y, x = np.mgrid[0:SIZE, 0:SIZE]
        self.background = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
        if detail:
            self.background[..., 0] = x * 200 // SIZE
            self.background[..., 1] = y * 200 // SIZE
            self.background[::25, :, :] = 255
            self.background[:, ::25, :] = 255
        else:
            self.background[:] = (40, 60, 80)
        self.scratch = np.empty(16 * 1024, dtype=np.float32)
        self.step_index = 0

    def step(self) -> dict[str, np.ndarray]:
        self.step_index += 1
        image = self.background.copy()  # a fresh array per step, as the contract asks of worlds
        top = (self.step_index * 7) % (SIZE - 60)
        left = (self.step_index * 11) % (SIZE - 60)
        image[top : top + 60, left : left + 60] = (220, 40, 40)
        if self.busy == "sleep":
            time.sleep(self.render_ms / 1000)
            return {"rgb": image}
        deadline = time.perf_counter() + self.render_ms / 1000
        while time.perf_counter() < deadline:
            if self.busy == "numpy":
                np.sin(self.scratch, out=self.scratch)
        return {"rgb": image}


def run(mode: str, steps: int, episode_steps: int, world: SyntheticWorld) -> float:
    """Steps per second over `steps` steps in episodes of `episode_steps`, frames handled as `mode` says."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = episode = 0
        while done < steps:
            count = min(episode_steps, steps - done)
            writer = None
            if mode in ("all", "video", "video-only"):
                writer = frames.FrameWriter(Path(tmp) / f"ep{episode}", "none" if mode == "video-only" else "all",
                                            video=mode != "all")
            for index in range(count):
                images = world.step()
                if writer is not None:
                    writer.add(index, images)
                elif mode == "sync":
                    frames.save_png(images["rgb"], Path(tmp) / "inline.png")
            if writer is not None:
                writer.close()  # counted: an episode is not done until its frames are
            done += count
            episode += 1
        return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--episode-steps", type=int, default=100)
    parser.add_argument("--render-ms", type=float, nargs="*", default=[0.0, 2.0, 5.0, 10.0])
    parser.add_argument("--busy", choices=["python", "numpy", "sleep"], default="python", help="the render work")
    parser.add_argument("--video", action="store_true", help="also PNGs + MP4, and MP4 alone")
    parser.add_argument("--plain", action="store_true", help="flat colours only (tiny PNGs)")
    args = parser.parse_args()

    frame = SyntheticWorld(0, not args.plain).step()["rgb"]
    started = time.perf_counter()
    for _ in range(20):
        png = frames._encode(frame)
    encode_ms = (time.perf_counter() - started) / 20 * 1000
    print(f"500x500 frame: PNG encode {encode_ms:.2f} ms, {len(png) / 1024:.0f} KiB; video: {frames.video_format()}")
    modes = ["off", "all", "sync"] + (["video", "video-only"] if args.video else [])
    for render_ms in args.render_ms:
        world = SyntheticWorld(render_ms, not args.plain, args.busy)
        run("all", 30, 30, world)  # warm up: the thread, imports, the page cache
        frames.queue_stats(reset_peak=True)
        rates = {mode: run(mode, args.steps, args.episode_steps, world) for mode in modes}
        figures = "  ".join(f"{mode} {rate:7.1f}" for mode, rate in rates.items())
        ratios = "  ".join(f"{mode}/off {rates[mode] / rates['off']:.2f}" for mode in modes[1:])
        peak_mib = frames.queue_stats().peak_bytes / 2**20
        print(f"render {render_ms:4.1f} ms ({args.busy}) steps/s: {figures}   {ratios}   queue peak {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
