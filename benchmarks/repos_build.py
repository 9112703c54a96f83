"""How fast the scenario builder verifies instances, and what a per-episode workspace costs.

    python benchmarks/repos_build.py            # a mini repository: build with 1 and 2 workers; 100 workspaces
    python benchmarks/repos_build.py --quick    # 1 worker, 30 workspaces

Printed figures:

* instances built per minute (and candidates verified per minute) by `build_suite` on a generated repository
  (`minirepos.make_repo`, seed 0: 41 candidates, 17 instances), with 1 worker (in process) and 2 spawned workers,
  end to end (pinning the source, walking the history, every pytest run, writing the suite);
* the time to create a workspace at a belief state: the first for a scenario (its template: fetch of the agent's
  past, checkout of the world's files, the belief commit) and the following ones (a copy of the template), median
  of many; beside `git worktree add` and `git clone --local` of the same repository, the alternatives a copy
  replaces (both would hand the agent the world's commits);
* SyncMind's anchor: its runs set up each instance in Docker (`docker run` of the repository image, `docker cp` of
  the repository out, zip, copy-in, `pip install -e .` before every test run); research notes 4.4 found no measured
  figure and estimate minutes per instance.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from simyard.repos.builder import build_suite
from simyard.repos.instances import belief_of, read_instances
from simyard.repos.minirepos import make_repo
from simyard.repos.workspaces import WorkspaceRoot, Workspaces, git, pin_source


def build_rate(source: Path, scratch: Path, workers: int) -> tuple[float, float, int, int]:
    """(instances per minute, candidates per minute, instances, candidates) of one build."""
    started = time.perf_counter()
    report = build_suite(source, scratch / f"suite-{workers}", workers=workers, name="mini0", workspace_base=scratch)
    minutes = (time.perf_counter() - started) / 60
    return report.kept / minutes, report.pairs / minutes, report.kept, report.pairs


def median_ms(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def workspace_times(source: Path, suite: Path, scratch: Path, repeats: int) -> dict[str, float]:
    instances = read_instances(suite)
    with WorkspaceRoot(scratch, run_id="bench") as root:
        factory = Workspaces(root, pin_source(source, root))
        firsts = []
        for instance in instances:
            started = time.perf_counter()
            factory.create(belief_of(instance)).close()
            firsts.append(time.perf_counter() - started)
        belief = belief_of(instances[0])
        warm = median_ms(lambda: factory.create(belief).close(), repeats)
        clone = root.new_dir("clone")
        git(None, "clone", "-q", str(source), str(clone / "repo"))
        counter = iter(range(10**6))

        def worktree() -> None:
            path = root.path / f"wt-{next(counter)}"
            git(clone / "repo", "worktree", "add", "-q", "--detach", str(path), "HEAD")

        def local_clone() -> None:
            git(None, "clone", "-q", "--local", str(clone / "repo"), str(root.path / f"cl-{next(counter)}"))

        return {"first": statistics.median(firsts) * 1000, "warm": warm,
                "worktree": median_ms(worktree, repeats), "clone": median_ms(local_clone, repeats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 worker only, fewer workspaces")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="simyard-repos-bench-") as tmp:
        scratch = Path(tmp)
        source = make_repo(scratch / "mini0", seed=0).path
        print("instances built per minute (mini repository, seed 0; end to end)")
        for workers in (1,) if args.quick else (1, 2):
            per_min, pairs_min, kept, pairs = build_rate(source, scratch, workers)
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {per_min:6.1f} instances/min "
                  f"({kept} of {pairs} candidates kept; {pairs_min:.1f} candidates/min)")
        times = workspace_times(source, scratch / "suite-1", scratch, 30 if args.quick else 100)
        print("time to create a workspace at a belief state (median)")
        print(f"  first for a scenario (template): {times['first']:6.1f} ms")
        print(f"  each further one (copy):         {times['warm']:6.1f} ms")
        print(f"  for comparison, git worktree add: {times['worktree']:5.1f} ms; git clone --local: "
              f"{times['clone']:.1f} ms (both expose the world's commits)")
        print("SyncMind's anchor: minutes per instance in container setup (docker run + cp + zip + copy-in + "
              "pip install -e . per test run; no measured figure published)")


if __name__ == "__main__":
    main()
