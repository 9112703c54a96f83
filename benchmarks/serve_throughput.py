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
* `stream`: the same, streamed; TTFT is the client's, from sending the request to the first chunk with a token.

Tokens are those the server reports (`usage.completion_tokens`); `vs engine` is a row's tokens/s over the engine
row's. Each row is the best of `--repeat` runs (the runs take turns, so a burst of load from elsewhere on a shared
machine hits one run, not one row).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
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

    tokens = 0
    firsts: list[float] = []

    async def call(client: openai.AsyncOpenAI, chat: list[dict]) -> None:
        nonlocal tokens
        if not stream:
            reply = await client.chat.completions.create(model=NAME, messages=chat, max_tokens=max_tokens,
                                                         temperature=0)
            tokens += reply.usage.completion_tokens
            return
        sent = time.perf_counter()
        chunks = await client.chat.completions.create(model=NAME, messages=chat, max_tokens=max_tokens,
                                                      temperature=0, stream=True,
                                                      stream_options={"include_usage": True},
                                                      extra_body={"return_token_ids": True})
        first = None
        async for chunk in chunks:
            if first is None and chunk.choices and (chunk.choices[0].model_extra or {}).get("token_ids"):
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
    return {"tokens": tokens, "seconds": elapsed, "ttft_ms": 1000 * statistics.mean(firsts) if firsts else None}


class ServerProcess:
    """`simyard serve PATH --port 0` in its own process, as users run it; the URL is read from its first line."""

    def __init__(self, path: str, device: str, dtype: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simyard", "serve", str(path), "--port", "0", "--served-model-name", NAME,
             "--device", device, "--dtype", dtype],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


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
    parser.add_argument("--server", choices=["process", "thread"], default="process",
                        help="run simyard serve in its own process (default) or in a thread of this one")
    args = parser.parse_args()

    import torch

    from simyard.agents.backends.local import TransformersEngine
    from simyard.serve.app import BackgroundServer
    from tests.agents.local.tiny import build_lm

    with tempfile.TemporaryDirectory() as scratch:
        path = args.model or build_lm(Path(scratch) / "tiny", layers=args.layers, hidden=args.hidden)
        counts = [int(part) for part in args.clients.split(",")]
        chats = prompts(max(counts) * args.turns)
        engine = TransformersEngine(path, device=args.device, dtype=args.dtype, max_batch=32)
        if args.server == "process":
            server: ServerProcess | BackgroundServer = ServerProcess(path, args.device, args.dtype)
        else:
            server = BackgroundServer(engine, NAME).start()
        facts = engine.facts
        try:
            print(f"model: {facts.architecture}, {facts.parameters / 1e6:.2f}M parameters, {facts.dtype} on "
                  f"{facts.device} ({torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs); prompt "
                  f"{len(engine.prepare(chats[0]).ids)} tokens, {args.max_tokens} greedy tokens per call, "
                  f"{args.turns} calls per client; server: {args.server}")
            engine_row(engine, chats, 2, 1, 4)  # warm up (the first passes allocate)
            server_row(server.base_url, chats, 2, 1, 4, stream=True)
            print(f"{'clients':>7} {'path':>7} {'tok/s':>9} {'vs engine':>9} {'TTFT ms':>9} {'tokens':>7} {'s':>7}")
            for count in counts:
                runs: dict[str, list[dict]] = {"engine": [], "server": [], "stream": []}
                for _ in range(args.repeat):
                    runs["engine"].append(engine_row(engine, chats, count, args.turns, args.max_tokens))
                    runs["server"].append(server_row(server.base_url, chats, count, args.turns, args.max_tokens,
                                                     stream=False))
                    runs["stream"].append(server_row(server.base_url, chats, count, args.turns, args.max_tokens,
                                                     stream=True))
                rows = {name: min(found, key=lambda row: row["seconds"]) for name, found in runs.items()}
                base = rows["engine"]["tokens"] / rows["engine"]["seconds"]
                for name, row in rows.items():
                    rate = row["tokens"] / row["seconds"]
                    ttft = f"{row['ttft_ms']:.1f}" if row["ttft_ms"] is not None else "-"
                    print(f"{count:>7} {name:>7} {rate:>9.0f} {rate / base:>8.2f}x {ttft:>9} {row['tokens']:>7} "
                          f"{row['seconds']:>7.2f}")
        finally:
            if isinstance(server, ServerProcess):
                server.close()
            else:
                server.stop()
            engine.close()


if __name__ == "__main__":
    main()
