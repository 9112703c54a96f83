"""How `--concurrency auto` tracks a model server's capacity: episodes per second with auto and fixed settings.

The server (`tests/platform/busy_server.py`, real HTTP on 127.0.0.1, the `openai` agent through the official client)
answers in `--latency-ms` while it serves at most `--capacity` requests and refuses more with HTTP 429, as a batch
model server does when full. Each setting runs the same episodes (one model call each) through `run_bench` in one
process. Too little concurrency leaves the server idle; too much spends time on 429s and backoff; `auto` should
land near the best fixed setting without being told the capacity.

    python benchmarks/adaptive_concurrency.py                      # capacity 8, 50 ms, fixed 2/8/32 and auto
    python benchmarks/adaptive_concurrency.py --capacity 16 --episodes 600
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test server and world live in tests/

from simyard.platform.adaptive import read_decisions  # noqa: E402
from simyard.platform.bench import run_bench  # noqa: E402
from tests.platform.bench_worlds import MODULE, write_tiny_suite  # noqa: E402
from tests.platform.busy_server import BusyChatServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacity", type=int, default=8, help="requests the server serves at once")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="reply time while under capacity")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--fixed", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--ceiling", type=int, default=32, help="--max-concurrency for auto")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "benchmark")
    work = Path(tempfile.mkdtemp(prefix="simyard-adaptive-bench-"))
    suite = write_tiny_suite(work / "tasks.jsonl", args.episodes, target=1)
    ideal = args.capacity / (args.latency_ms / 1000)
    print(f"server: capacity {args.capacity}, {args.latency_ms:g} ms per reply (at most {ideal:.0f} episodes/s); "
          f"{args.episodes} episodes per setting, one call each; {os.cpu_count()} CPUs")
    with BusyChatServer(capacity=args.capacity, base_s=args.latency_ms / 1000, knee=args.capacity) as server:
        options = {"model": "bench", "base_url": server.base_url, "format": "ragen", "max_attempts": 50,
                   "backoff_s": 0.05}
        run_bench(str(suite), "openai", options, concurrency=2, limit=20, imports=[MODULE], out=work / "warm-up")
        print(f"{'setting':>10} {'episodes/s':>11} {'of ideal':>9} {'429s':>6} {'peak in flight':>15}  limits")
        best_fixed = 0.0
        for setting in [*args.fixed, "auto"]:
            server.peak = server.refused = 0
            started = time.perf_counter()
            summary = run_bench(str(suite), "openai", options, concurrency=setting, max_concurrency=args.ceiling,
                                imports=[MODULE], out=work / f"run-{setting}", frames="none")
            rate = summary.added / (time.perf_counter() - started)
            limits = [record["value"] for record in read_decisions(work / f"run-{setting}")]
            if setting != "auto":
                best_fixed = max(best_fixed, rate)
            shown = " ".join(map(str, limits[:16])) + (" ..." if len(limits) > 16 else "")
            print(f"{setting!s:>10} {rate:11.1f} {rate / ideal:9.0%} {server.refused:6d} {server.peak:15d}  {shown}")
        print(f"auto / best fixed: {rate / best_fixed:.2f}")


if __name__ == "__main__":
    main()
