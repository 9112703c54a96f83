"""How fast `simyard bench export` writes a large run: a synthetic 10,000-episode index to Parquet (and CSV).

    python benchmarks/export_speed.py                  # 10,000 episodes, best of 3
    python benchmarks/export_speed.py --episodes 50000

The run is made with the real run-directory code (`RunDir.create`, `ResultsIndex.append`), its rows varied the way
a mixed run's are (four worlds, errors with messages, model tokens, world metrics as nested objects), so the export
reads, checks and converts what a real index holds. Printed: seconds per export beside the issue's aim (Parquet
in under 10 s), and the same figure as a share of the aim.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from simyard.platform.api import Task
from simyard.platform.episode import EpisodeResult
from simyard.platform.export import export_run
from simyard.platform.manifest import RunConfig, RunManifest, environment_facts, now_iso
from simyard.platform.rundir import RunDir

AIM_S = 10.0
WORLDS = ("sokoban", "frozenlake", "bandit", "countdown")


def synthetic_run(path: Path, episodes: int) -> RunDir:
    """A run directory whose index holds `episodes` rows of four worlds."""
    tasks = [Task(id=f"{WORLDS[n % 4]}-{n:06d}", world=WORLDS[n % 4]) for n in range(episodes)]
    manifest = RunManifest(config=RunConfig(suite="synthetic", agent="openai", agent_options={"model": "m"}),
                           tasks_total=episodes, started_at=now_iso(), **environment_facts())
    run = RunDir.create(path, manifest, tasks)
    rows = []
    for n, task in enumerate(tasks):
        failed = n % 17 == 0
        rows.append(EpisodeResult(
            task_id=task.id, world=task.world, subset=("base", "hard")[n % 2], seed=None if n % 101 == 0 else n,
            status="agent_error" if failed else "completed", reason="agent_error" if failed else "goal",
            success=n % 3 == 0, progress=(n % 7) / 6, steps=n % 30, invalid_actions=n % 4, reward=float(n % 5),
            prompt_tokens=900 + n % 300, completion_tokens=40 + n % 90, model_calls=n % 30, cost_usd=0.0004 * (n % 9),
            duration_s=1.5 + n % 11, error=f"ValueError: reply {n} had no action" if failed else None,
            metrics={"turns": {"explore": n % 3, "act": n % 5}, "mode": "caller"} if n % 2 else {}))
    with run.index as index:
        index.append(rows)
    return run


def best_of(repeats: int, action) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        run = synthetic_run(folder / "run", args.episodes)
        print(f"synthetic run of {args.episodes:,} episodes made in {time.perf_counter() - started:.2f} s")
        for fmt in ("parquet", "csv"):
            seconds = best_of(args.repeats, lambda fmt=fmt: export_run(run.path, fmt, folder / f"out.{fmt}"))
            size = (folder / f"out.{fmt}").stat().st_size / 1e6
            print(f"export of {args.episodes:,} episodes to {fmt:<7}: {seconds:6.2f} s  ({size:.1f} MB)   "
                  f"aim: under {AIM_S:.0f} s  ->  {seconds / AIM_S:.1%} of the aim, "
                  f"{args.episodes / seconds:,.0f} episodes/s")


if __name__ == "__main__":
    main()
