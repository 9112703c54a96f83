"""What running episodes as Ray actors costs, against the local pool, on a CPU-bound suite.

    sudo python benchmarks/ray_overhead.py              # eb-alfred without pictures (300 tasks), best of 3
    sudo python benchmarks/ray_overhead.py --limit 120 --repeats 1

The suite is the household one without rendering (`eb-alfred`, `--world-opt render=none`, no frames) with the oracle
agent: each episode is a few tens of milliseconds of pure CPU, so any per-episode cost of the executor shows. As root
the script runs itself inside a network namespace that has only loopback (`unshare -n`), where it starts a one-node
Ray cluster with 2 CPUs (`ray start --head --num-cpus 2`, HOME and temp dir of its own) and stops it by process id
at the end; traffic never leaves 127.0.0.1.

Printed figures, each beside its aim:

* episodes/s with the local pool at 1 and 2 workers and with Ray at 2 actors, end to end (start-up included) and
  steady state (first recorded result to last);
* the executor's overhead per episode: the worker time each episode takes (workers x steady wall time / episodes)
  minus the time the episode itself measured (its row's `duration_s`), for the pool and for Ray;
* Ray's overhead per episode over the pool at 2 workers each (the figure to keep under 5 ms): the difference in
  worker time per episode, split into time outside the episodes and the episodes themselves running slower;
* scaling: 2 workers (pool, Ray) over 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSIDE = "SIMYARD_RAY_BENCH_NETNS"
PORT = 6379  # the namespace is ours alone


def reexec_in_namespace() -> None:
    """Run this script again inside a loopback-only network namespace (as root), with a HOME of its own."""
    home = tempfile.mkdtemp(prefix="/tmp/syrb-home")
    env = {**os.environ, INSIDE: "1", "HOME": home, "RAY_USAGE_STATS_ENABLED": "0"}
    command = " ".join(["ip link set lo up && exec", sys.executable, *map(_quote, sys.argv)])
    try:
        sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", command], env=env))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def start_cluster(temp: Path) -> None:
    subprocess.run(["ray", "start", "--head", f"--port={PORT}", "--num-cpus=2", "--node-ip-address=127.0.0.1",
                    "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=80000000",
                    f"--temp-dir={temp}"], check=True, capture_output=True)


def stop_cluster() -> None:
    """Kill every process of this namespace but this one: the cluster's, all started here (never `ray stop`,
    which would stop other people's Ray on the machine)."""
    ours = os.readlink("/proc/self/ns/net")
    keep = {os.getpid(), os.getppid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in keep:
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/net") == ours:
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            pass


def time_run(root: Path, label: str, limit: int | None, workers: int, executor: str) -> dict[str, float]:
    """End-to-end and steady-state seconds of one `run_bench`, and the episodes' own mean duration."""
    from simyard.platform.bench import BenchProgress, run_bench

    stamps: list[float] = []

    def progress(event: BenchProgress) -> None:
        if event.last is not None:
            stamps.append(time.perf_counter())

    started = time.perf_counter()
    summary = run_bench("eb-alfred", "oracle", workers=workers, limit=limit, out=root / label, frames="none",
                        world_options={"render": "none"}, progress=progress, executor=executor,
                        address=f"127.0.0.1:{PORT}" if executor == "ray" else None)
    total = time.perf_counter() - started
    assert summary.status == "finished", summary.status
    episodes = len(summary.results)
    steady = (stamps[-1] - stamps[0]) * episodes / max(1, episodes - 1)
    own = sum(result.duration_s for result in summary.results) / episodes
    return {"total": total, "steady": steady, "episodes": episodes, "own": own, "workers": workers}


def overhead_ms(run: dict[str, float]) -> float:
    """Worker time per episode beyond the episode's own measured time, in milliseconds."""
    return (run["workers"] * run["steady"] / run["episodes"] - run["own"]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks (default all 300)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; the best steady state is reported")
    args = parser.parse_args()

    if os.environ.get(INSIDE) != "1":
        if os.geteuid() == 0 and shutil.which("unshare"):
            reexec_in_namespace()
        print("warning: not root (or no unshare): Ray runs on this machine's network address", file=sys.stderr)

    temp = Path(tempfile.mkdtemp(prefix="/tmp/syrb"))
    scratch = Path(tempfile.mkdtemp(prefix="ray-overhead-", dir="."))
    try:
        start_cluster(temp)
        print(f"cpu cores: {os.cpu_count()}; Ray {__import__('ray').__version__} head with 2 CPUs on 127.0.0.1 "
              f"(loopback-only namespace: {os.environ.get(INSIDE) == '1'})")
        configs = (("pool-1", 1, "local"), ("pool-2", 2, "local"), ("ray-2", 2, "ray"))
        tries: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in configs}
        for repeat in range(args.repeats):  # interleaved, so a neighbour's load on the machine hits all alike
            for label, workers, executor in configs:
                tries[label].append(time_run(scratch, f"{label}-{repeat}", args.limit, workers, executor))
        runs: dict[str, dict[str, float]] = {}
        for label, _, _ in configs:
            runs[label] = best = min(tries[label], key=lambda run: run["steady"])
            print(f"{label}: {best['episodes']:.0f} episodes, {best['episodes'] / best['total']:6.1f} episodes/s end "
                  f"to end, {best['episodes'] / best['steady']:6.1f} steady state; episode itself "
                  f"{best['own'] * 1e3:.1f} ms, worker overhead {overhead_ms(best):.2f} ms/episode")
        ray_run, pool_run = runs["ray-2"], runs["pool-2"]
        extra = 2 * (ray_run["steady"] / ray_run["episodes"] - pool_run["steady"] / pool_run["episodes"]) * 1e3
        slower = (ray_run["own"] - pool_run["own"]) * 1e3
        print(f"Ray overhead per episode over the local pool, 2 workers each: {extra:.2f} ms of worker time "
              f"(aim: under 5 ms) = {overhead_ms(ray_run) - overhead_ms(pool_run):.2f} ms outside the episodes "
              f"(calls, shipping trajectories) + {slower:.2f} ms of the episodes themselves running slower beside "
              f"Ray's own processes")
        rate = {label: run["episodes"] / run["steady"] for label, run in runs.items()}
        print(f"scaling from 1 to 2 workers, steady state: pool {rate['pool-2'] / rate['pool-1']:.2f}x, Ray "
              f"{rate['ray-2'] / rate['pool-1']:.2f}x (ideal 2x on 2 free cores; this machine's cores are shared)")
    finally:
        stop_cluster()
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
