"""`simyard serve` under load: generated tokens/s and time to first token for 1, 8 and 32 concurrent clients using
the official openai client, beside the in-process engine's figures for the same requests in the same run.

    python benchmarks/serve_throughput.py                    # a tiny random Llama on the CPU (built in a temp folder)
    python benchmarks/serve_throughput.py --clients 1,8,32,64 --max-tokens 64
    python benchmarks/serve_throughput.py --model /models/Qwen2.5-0.5B-Instruct --device cuda

Each client makes `--turns` chat calls one after the other, as an agent does (sokoban prompts in RAGEN's format,
`--max-tokens` greedy tokens each). Rows per client count:

* `engine`: the requests straight into a `TransformersEngine` in this process (`engine.generate`): what the local
  agent gets. TTFT is the engine's own (arrival to first sampled token: queueing + prefill).
* `server`: the same requests to `simyard serve` (a separate process by default, as a real server is; `--server
  thread` runs it in this process) through `openai.AsyncOpenAI`, non-streamed; TTFT is not observable.
* `stream/K`: the same, streamed from a server started with `--stream-interval K` (one server per value of
  `--stream-intervals`; K=1 sends each token as it comes, larger K at least K tokens per chunk after the first);
  TTFT is the client's, from sending the request to the first chunk with a token.

Tokens are those the server reports (`usage.completion_tokens`); `vs engine` is a row's tokens/s over the engine
row's; `tok/chunk` is how many tokens a streamed chunk carried on average; `server s` and `client s` are the CPU
seconds the server process and this process (the openai client) spent on the row, which say where the time went on
a machine whose cores the two share. Each row is the best of `--repeat` runs (the runs take turns, so a burst of
load from elsewhere on a shared machine hits one run, not one row).

On a machine shared with other work, torch's default of one thread per core makes the intra-op threads wait for
each other whenever another process holds a core (their spinning burns the CPU the client needs): `--threads 1`
gives the engine and the server one thread each, which is how the figures in docs/architecture.md were taken.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "bench"


def prompts(count: int) -> list[list[dict]]:
    """Sokoban prompts in RAGEN's format, one per seed (they differ a little, as episodes do)."""
    from simyard.agents.backends.openai_compat import to_messages
    from simyard.agents.formats import build_prompt, choose_format
    from simyard.sims.puzzles.sokoban import SokobanEnv

    env = SokobanEnv()
    out = []
    for seed in range(count):
        task = SokobanEnv.sample_task(seed)
        observation = env.reset(task, seed)
        spec = env.action_spec()
        out.append(to_messages(build_prompt(task, spec, observation, [], choose_format("auto", task.world, spec))))
    return out


def engine_row(engine, chats, clients: int, turns: int, max_tokens: int) -> dict:
    from simyard.agents.backends.engine import Request, SamplingOptions

    stats = engine.batcher.stats
    tokens_before, firsts_before = stats.tokens, len(stats.first_token_s)

    async def client(number: int) -> None:
        for turn in range(turns):
            chat = chats[(number * turns + turn) % len(chats)]
            await engine.generate(Request(chat, SamplingOptions(max_tokens=max_tokens, temperature=0)))

    async def everything() -> None:
        await asyncio.gather(*(client(i) for i in range(clients)))

    started = time.perf_counter()
    asyncio.run(everything())
    elapsed = time.perf_counter() - started
    tokens = stats.tokens - tokens_before
    firsts = stats.first_token_s[firsts_before:]
    return {"tokens": tokens, "seconds": elapsed, "ttft_ms": 1000 * statistics.mean(firsts) if firsts else None}


def server_row(base_url: str, chats, clients: int, turns: int, max_tokens: int, stream: bool) -> dict:
    import openai

    tokens = chunks = 0
    firsts: list[float] = []

    async def call(client: openai.AsyncOpenAI, chat: list[dict]) -> None:
        nonlocal tokens, chunks
        if not stream:
            reply = await client.chat.completions.create(model=NAME, messages=chat, max_tokens=max_tokens,
                                                         temperature=0)
            tokens += reply.usage.completion_tokens
            return
        sent = time.perf_counter()
        reply = await client.chat.completions.create(model=NAME, messages=chat, max_tokens=max_tokens,
                                                      temperature=0, stream=True,
                                                      stream_options={"include_usage": True},
                                                      extra_body={"return_token_ids": True})
        first = None
        async for chunk in reply:
            if chunk.choices and (chunk.choices[0].model_extra or {}).get("token_ids"):
                chunks += 1
                if first is None:
                    first = time.perf_counter() - sent
            if chunk.usage is not None:
                tokens += chunk.usage.completion_tokens
        if first is not None:
            firsts.append(first)

    async def everything() -> None:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600,
                                      ) as client:

            async def one(number: int) -> None:
                for turn in range(turns):
                    await call(client, chats[(number * turns + turn) % len(chats)])

            await asyncio.gather(*(one(i) for i in range(clients)))

    started = time.perf_counter()
    asyncio.run(everything())
    elapsed = time.perf_counter() - started
    return {"tokens": tokens, "seconds": elapsed, "ttft_ms": 1000 * statistics.mean(firsts) if firsts else None,
            "chunks": chunks}


class ServerProcess:
    """`simyard serve PATH --port 0` in its own process, as users run it; the URL is read from its first line."""

    def __init__(self, path: str, device: str, dtype: str, extra: list[str], threads: int) -> None:
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simyard", "serve", str(path), "--port", "0", "--served-model-name", NAME,
             "--device", device, "--dtype", dtype, *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.base_url = None
        lines = []
        while self.base_url is None:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("simyard serve did not start:\n" + "".join(lines))
            lines.append(line)
            if match := re.search(r"at (http://\S+/v1)", line):
                self.base_url = match.group(1)

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system), from /proc (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def measure(load: tuple, server: ServerProcess | None, stream: bool) -> dict:
    """One row's run: the engine in this process (server None) or a server; with the CPU seconds spent."""
    engine, chats, count, turns, max_tokens = load
    server_cpu = server.cpu_s if isinstance(server, ServerProcess) else (lambda: 0.0)
    before, own = server_cpu(), own_cpu_s()
    if server is None:
        row = engine_row(engine, chats, count, turns, max_tokens)
    else:
        row = server_row(server.base_url, chats, count, turns, max_tokens, stream=stream)
    row["server_s"], row["client_s"] = server_cpu() - before, own_cpu_s() - own
    return row


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model folder (default: a tiny random Llama built in a temp folder)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients, comma-separated")
    parser.add_argument("--turns", type=int, default=2, help="calls per client, one after the other")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest is printed")
    parser.add_argument("--stream-intervals", default="1,8",
                        help="simyard serve --stream-interval values to stream from, comma-separated")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for the engine and the server (default: torch's, one per core)")
    parser.add_argument("--server", choices=["process", "thread"], default="process",
                        help="run simyard serve in its own process (default) or in a thread of this one")
    args = parser.parse_args()

    import torch

    from simyard.agents.backends.local import TransformersEngine
    from simyard.serve.app import BackgroundServer
    from tests.agents.local.tiny import build_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.model or build_lm(Path(scratch) / "tiny", layers=args.layers, hidden=args.hidden)
        counts = [int(part) for part in args.clients.split(",")]
        intervals = [int(part) for part in args.stream_intervals.split(",")]
        chats = prompts(max(counts) * args.turns)
        engine = TransformersEngine(path, device=args.device, dtype=args.dtype, max_batch=32)
        servers: dict[int, ServerProcess | BackgroundServer] = {}
        try:
            for interval in intervals:
                if args.server == "process":
                    servers[interval] = ServerProcess(path, args.device, args.dtype,
                                                      ["--stream-interval", str(interval)], args.threads)
                else:
                    servers[interval] = BackgroundServer(engine, NAME, stream_interval=interval).start()
            facts = engine.facts
            print(f"model: {facts.architecture}, {facts.parameters / 1e6:.2f}M parameters, {facts.dtype} on "
                  f"{facts.device} ({torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, load "
                  f"{os.getloadavg()[0]:.1f}); prompt {len(engine.prepare(chats[0]).ids)} tokens, {args.max_tokens} "
                  f"greedy tokens per call, {args.turns} calls per client; server: {args.server}")
            engine_row(engine, chats, 2, 1, 4)  # warm up (the first passes allocate)
            for server in servers.values():
                server_row(server.base_url, chats, 2, 1, 4, stream=True)
            print(f"{'clients':>7} {'path':>9} {'tok/s':>7} {'vs engine':>9} {'TTFT ms':>8} {'tok/chunk':>9} "
                  f"{'server s':>8} {'client s':>8} {'tokens':>6} {'s':>6}")
            first = next(iter(servers.values()))
            for count in counts:
                runs: dict[str, list[dict]] = {}

                load = (engine, chats, count, args.turns, args.max_tokens)
                for _ in range(args.repeat):
                    runs.setdefault("engine", []).append(measure(load, None, stream=False))
                    runs.setdefault("server", []).append(measure(load, first, stream=False))
                    for interval, server in servers.items():
                        runs.setdefault(f"stream/{interval}", []).append(measure(load, server, stream=True))
                rows = {name: min(found, key=lambda row: row["seconds"]) for name, found in runs.items()}
                base = rows["engine"]["tokens"] / rows["engine"]["seconds"]
                for name, row in rows.items():
                    rate = row["tokens"] / row["seconds"]
                    ttft = f"{row['ttft_ms']:.1f}" if row["ttft_ms"] is not None else "-"
                    per_chunk = f"{row['tokens'] / row['chunks']:.1f}" if row.get("chunks") else "-"
                    server_s = f"{row['server_s']:.2f}" if name != "engine" and args.server == "process" else "-"
                    print(f"{count:>7} {name:>9} {rate:>7.0f} {rate / base:>8.2f}x {ttft:>8} {per_chunk:>9} "
                          f"{server_s:>8} {row['client_s']:>8.2f} {row['tokens']:>6} {row['seconds']:>6.2f}")
        finally:
            for server in servers.values():
                if isinstance(server, ServerProcess):
                    server.close()
                else:
                    server.stop()
            engine.close()


if __name__ == "__main__":
    main()
