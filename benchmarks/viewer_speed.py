"""How fast `simyard view` shows an episode and a big run's episode list, in headless Chromium.

    python benchmarks/viewer_speed.py            # 5 page loads of each, median and worst
    python benchmarks/viewer_speed.py --loads 10

Printed figures, each beside its aim (issue 11):

* the episode page of a 30-step episode with 500x500 frames (recorded by the platform's own `EpisodeWriter`), from
  navigation start to the first frame decoded on screen (aim: under 1 s);
* the run page of a synthetic 10,000-episode run (index rows written by the platform's `ResultsIndex`), from
  navigation start to the first page of the list on screen, table per world and subset included (aim: under 2 s);
  a load right after the index changed pays for reading and summarising it (the server also does that in the
  background at start), later loads reuse it until the index changes, so both are printed;
* the JSON API alone for the same two pages (what the server costs, without the browser).

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian's chromium and chromium-driver) and selenium.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from simyard.platform.api import ModelCall, Observation, Task
from simyard.platform.episode import EpisodeResult, StepRecord
from simyard.platform.manifest import RunConfig, RunManifest, environment_facts, now_iso
from simyard.platform.rundir import RunDir, episode_dir_name
from simyard.platform.trajectory import EpisodeWriter
from simyard.viewer.server import ViewerServer

EPISODE_AIM_S, LIST_AIM_S = 1.0, 2.0
STEPS, SIDE_PX, EPISODES = 30, 500, 10_000
WORLDS = ("sokoban", "frozenlake", "bandit", "countdown")


def make_run(path: Path, tasks: list[Task]) -> RunDir:
    config = RunConfig(suite="synthetic", agent="synthetic", seed=0)
    manifest = RunManifest(config=config, tasks_total=len(tasks), started_at=now_iso(), status="finished",
                           **environment_facts())
    return RunDir.create(path, manifest, tasks)


def picture(step: int, rng: np.random.Generator) -> np.ndarray:
    """A 500x500 frame with structure and noise, so PNG sizes are those of a rendered scene, not of a flat fill."""
    y, x = np.mgrid[0:SIDE_PX, 0:SIDE_PX]
    base = np.stack([(x + step * 7) % 256, (y * 2) % 256, ((x + y) // 3) % 256], axis=-1)
    return (base + rng.integers(0, 24, base.shape)).clip(0, 255).astype(np.uint8)


def episode_run(root: Path) -> tuple[Path, str]:
    """A run holding one 30-step episode with a 500x500 frame and a model reply at every step."""
    task = Task(id="long-episode", world="synthetic", instruction="Walk thirty steps.", subset="base", max_steps=STEPS)
    run = make_run(root / "episode-run", [task])
    rng = np.random.default_rng(0)
    writer = EpisodeWriter(run.episode_dir(task.id, 1), frames="all")
    writer.start(task, 1, Observation("start", {"rgb": picture(0, rng)}, {}))
    for index in range(1, STEPS + 1):
        call = ModelCall(text=f"<think>step {index}</think><answer>forward</answer>", prompt_tokens=900,
                         completion_tokens=40, latency_s=0.8)
        writer.step(StepRecord(index, "forward", 0.0, index == STEPS, False, {"valid": True, "progress": index / STEPS},
                               Observation(f"after step {index}", {"rgb": picture(index, rng)}, {}), [call], 0.8))
    result = EpisodeResult(task.id, task.world, task.subset, 1, reason="goal", success=True, progress=1.0, steps=STEPS)
    writer.finish(result)
    with run.index as index:
        index.append([result])
    return run.path, episode_dir_name(task.id, 1)


def big_run(root: Path) -> Path:
    """10,000 recorded episodes over four worlds and three subsets (index rows only: the list needs no more)."""
    rng = np.random.default_rng(1)
    tasks = [Task(id=f"task-{n:05d}", world=WORLDS[n % 4], instruction=f"task number {n}",
                  subset=("base", "hard", "long")[n % 3]) for n in range(EPISODES)]
    run = make_run(root / "big-run", tasks)
    results = []
    for n, task in enumerate(tasks):
        success = bool(rng.random() < 0.4)
        status = "completed" if rng.random() > 0.05 else "agent_error"
        results.append(EpisodeResult(task.id, task.world, task.subset, n, status=status,
                                     reason="goal" if success else "max_steps", success=success,
                                     progress=1.0 if success else float(rng.random()), steps=int(rng.integers(1, 30)),
                                     prompt_tokens=int(rng.integers(500, 5000)), completion_tokens=200, model_calls=5,
                                     error=None if status == "completed" else "ValueError: no action in reply"))
    with run.index as index:
        index.append(results)
    return run.path


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def page_load_s(driver, url: str, timing: str) -> float:
    """Seconds from navigation start to `window.viewerTimings[timing]` (set by the page), on a fresh load."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return window.viewerTimings && window.viewerTimings.{timing};")
        if value:
            return float(value) / 1000
        time.sleep(0.005)
    raise TimeoutError(f"{url}: {timing} never happened")


def api_s(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        json.loads(response.read())
    return time.perf_counter() - started


def report(label: str, times: list[float], aim_s: float) -> None:
    median, worst = statistics.median(times), max(times)
    verdict = "meets" if worst < aim_s else ("median meets" if median < aim_s else "MISSES")
    print(f"{label:<58} median {median:6.3f} s  worst {worst:6.3f} s   aim < {aim_s:g} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=5, help="page loads of each page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        episode_path, name = episode_run(root)
        big_path = big_run(root)
        print(f"made the runs in {time.perf_counter() - started:.1f} s "
              f"({STEPS}-step episode with {SIDE_PX}x{SIDE_PX} frames; {EPISODES:,} episodes)")
        with ViewerServer([episode_path, big_path]) as server:
            driver = chromium()
            try:
                episode_url = server.url + f"#/episode?refs=0:{name}"
                list_url = server.url + "#/run/1"
                # a new mtime makes the server read and summarise the index again, inside this page load
                os.utime(big_path / "results.jsonl")
                cold_list = page_load_s(driver, list_url, "listShown")
                episode = [page_load_s(driver, episode_url, "firstFrame") for _ in range(args.loads)]
                warm_list = [page_load_s(driver, list_url, "listShown") for _ in range(args.loads)]
            finally:
                driver.quit()
            report(f"episode page, {STEPS} steps, {SIDE_PX}px frames, to first frame", episode, EPISODE_AIM_S)
            report(f"run page, {EPISODES:,} episodes, index read on request", [cold_list], LIST_AIM_S)
            report(f"run page, {EPISODES:,} episodes, later loads", warm_list, LIST_AIM_S)
            api_episode = [api_s(server.url + f"api/runs/0/episodes/{name}") for _ in range(args.loads)]
            api_list = [api_s(server.url + "api/runs/1/episodes?success=no&subset=hard") for _ in range(args.loads)]
            report("API only: episode replay JSON", api_episode, EPISODE_AIM_S)
            report(f"API only: filtered page of {EPISODES:,} episodes", api_list, LIST_AIM_S)


if __name__ == "__main__":
    main()
