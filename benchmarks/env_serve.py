"""`simyard env serve` under load: steps per second over WebSocket and over HTTP for a puzzle world with 1 and 32
concurrent sessions, and the latency each step gains against calling the world in this process.

    python benchmarks/env_serve.py                       # frozenlake, 3 s per row, best of 3
    python benchmarks/env_serve.py --world sokoban --seconds 2 --sessions 1,8,32

The server is a separate process (`python -m simyard env serve WORLD --port 0`), as a real one is; the clients are
plain protocol clients in this process (websockets for /ws, httpx for /reset and /step with a session header each),
so the figures are the server's and the wire's, not a client library's (`ws-sync`: one session through websockets'
synchronous client, as the `remote` world talks). Every session plays random actions and
resets when its episode ends; a row counts steps and resets alike (round trips). `in-process` is the same loop on
the world itself. Added latency = a 1-session row's time per round trip minus in-process time per call. Each row
is the best of `--repeat` runs (the runs take turns, so a burst of load from elsewhere on a shared machine hits one
run, not one row).

Aim (issue 10): under 1 ms added per step on loopback for WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AIM_ADDED_MS = 1.0


def in_process(world: str, seconds: float) -> float:
    """Round trips (steps and resets) per second on the world itself."""
    from simyard.platform import registry

    env = registry.make(world)
    task = type(env).sample_task(0)
    rng = np.random.default_rng(0)
    count, episode = 0, 0
    env.reset(task, seed=episode)
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(200):
            result = env.step(int(rng.integers(len(env.action_spec().choices))))
            count += 1
            if result.terminated or result.truncated:
                episode += 1
                env.reset(task, seed=episode)
                count += 1
    rate = count / (time.perf_counter() - started)
    env.close()
    return rate


async def _ws_session(url: str, choices: int, deadline: float, seed: int) -> int:
    from websockets.asyncio.client import connect

    rng = np.random.default_rng(seed)
    count = 0
    async with connect(url, max_size=None) as socket:
        async def call(message: dict) -> dict:
            await socket.send(json.dumps(message))
            return json.loads(await socket.recv())

        await call({"type": "reset", "data": {"seed": seed, "task_seed": 0}})
        while time.perf_counter() < deadline:
            reply = await call({"type": "step", "data": {"action": int(rng.integers(choices))}})
            if reply["type"] != "observation":
                raise SystemExit(f"the server answered {reply}")
            count += 1
            if reply["data"]["done"]:
                await call({"type": "reset", "data": {"seed": seed + count, "task_seed": 0}})
                count += 1
        await socket.send(json.dumps({"type": "close"}))
    return count


def ws_sync(base_url: str, choices: int, seconds: float) -> float:
    """One session through websockets' synchronous client: the client the `remote` world uses."""
    from websockets.sync.client import connect

    rng = np.random.default_rng(0)
    count = 0
    with connect(base_url.replace("http", "ws", 1) + "/ws", max_size=None) as socket:
        def call(message: dict) -> dict:
            socket.send(json.dumps(message))
            return json.loads(socket.recv())

        call({"type": "reset", "data": {"seed": 0, "task_seed": 0}})
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            reply = call({"type": "step", "data": {"action": int(rng.integers(choices))}})
            count += 1
            if reply["data"]["done"]:
                call({"type": "reset", "data": {"seed": count, "task_seed": 0}})
                count += 1
        rate = count / (time.perf_counter() - started)
        socket.send(json.dumps({"type": "close"}))
    return rate


async def _http_session(client, choices: int, deadline: float, seed: int) -> int:
    rng = np.random.default_rng(seed)
    headers = {"X-Session-Id": f"bench-{seed}"}
    count = 0
    (await client.post("/reset", json={"seed": seed, "task_seed": 0}, headers=headers)).raise_for_status()
    while time.perf_counter() < deadline:
        answer = await client.post("/step", json={"action": {"action": int(rng.integers(choices))}}, headers=headers)
        answer.raise_for_status()
        count += 1
        if answer.json()["done"]:
            (await client.post("/reset", json={"seed": seed + count, "task_seed": 0}, headers=headers)
             ).raise_for_status()
            count += 1
    return count


async def over_the_wire(base_url: str, transport: str, sessions: int, choices: int, seconds: float) -> float:
    import httpx

    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    if transport == "ws":
        url = base_url.replace("http", "ws", 1) + "/ws"
        counts = await asyncio.gather(*(_ws_session(url, choices, deadline, seed) for seed in range(sessions)))
    else:
        limits = httpx.Limits(max_connections=sessions, max_keepalive_connections=sessions)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            counts = await asyncio.gather(*(_http_session(client, choices, deadline, seed)
                                            for seed in range(sessions)))
    return sum(counts) / (time.perf_counter() - started)


def start_server(world: str, max_sessions: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "simyard", "env", "serve", world, "--port", "0",
                                "--max-sessions", str(max_sessions), "--idle-timeout", "0"],
                               stdout=subprocess.PIPE, text=True, env=env)
    banner = process.stdout.readline()
    found = re.search(r"at (http://127\.0\.0\.1:\d+) ", banner)
    if not found:
        process.kill()
        raise SystemExit(f"the server did not start: {banner!r}")
    return process, found.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default="frozenlake")
    parser.add_argument("--sessions", default="1,32", help="concurrent session counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counts = [int(part) for part in args.sessions.split(",")]

    from simyard.platform import registry

    probe = registry.make(args.world)
    probe.reset(type(probe).sample_task(0), seed=0)
    choices = len(probe.action_spec().choices)
    probe.close()

    # HTTP sessions stay open (no idle timeout) while the next WebSocket runs start: room for both
    process, base_url = start_server(args.world, 2 * max(counts) + 4)
    best: dict[tuple[str, int], float] = {}
    local = 0.0
    try:
        for _ in range(args.repeat):
            local = max(local, in_process(args.world, args.seconds))
            best["ws-sync", 1] = max(best.get(("ws-sync", 1), 0.0), ws_sync(base_url, choices, args.seconds))
            for transport in ("ws", "http"):
                for sessions in counts:
                    rate = asyncio.run(over_the_wire(base_url, transport, sessions, choices, args.seconds))
                    best[transport, sessions] = max(best.get((transport, sessions), 0.0), rate)
    finally:
        process.terminate()
        process.wait(timeout=20)

    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(f"env serve: {args.world}, server in its own process, clients in this one ({cores} cores, load average "
          f"{load:.1f}; best of {args.repeat} x {args.seconds:g} s)")
    print(f"  {'transport':<11}{'sessions':>9}{'round trips/s':>15}{'ms per trip':>13}")
    print(f"  {'in-process':<11}{1:>9}{local:>15,.0f}{1000 / local:>13.4f}")
    for (transport, sessions), rate in sorted(best.items()):
        print(f"  {transport:<11}{sessions:>9}{rate:>15,.0f}{1000 * sessions / rate:>13.3f}")
    for transport in ("ws", "ws-sync", "http"):
        if (transport, 1) in best:
            added = 1000 / best[transport, 1] - 1000 / local
            aim = f"  (aim < {AIM_ADDED_MS:g} ms: {'met' if added < AIM_ADDED_MS else 'NOT met'})" \
                if transport != "http" else ""
            print(f"added latency per step, {transport}, 1 session: {added:.3f} ms{aim}")
    if ("ws", 1) in best and ("ws", max(counts)) in best and max(counts) > 1:
        print(f"ws scaling {max(counts)} vs 1 session: {best['ws', max(counts)] / best['ws', 1]:.2f}x round trips/s")


if __name__ == "__main__":
    main()
