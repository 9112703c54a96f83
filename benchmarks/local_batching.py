"""Continuous batching of the local engine: generated tokens/s with 1, 8 and 32 episodes in flight, on versus off.

    python benchmarks/local_batching.py                  # a tiny random Llama on the CPU (built in a temp folder)
    python benchmarks/local_batching.py --hidden 256 --layers 4 --turns 3
    python benchmarks/local_batching.py --model /models/Qwen2.5-0.5B-Instruct --device cuda

Each "episode" is a coroutine that makes `--turns` model calls one after the other, as an agent does (a
sokoban prompt of RAGEN's format, ~640 tokens with the tiny tokenizer, then `--max-tokens` greedy tokens). K episodes
run at once on one engine, as `--concurrency K` runs them in a worker. Batching on: the engine decodes up to 32
sequences per pass (`max_batch=32`); off: one request at a time (`max_batch=1`), in arrival order. With `--generate`,
the same requests also go through plain `model.generate` one at a time (the transformers baseline).

Printed per setting: generated tokens/s, the speed-up of batching, mean time to first token (from the request's
arrival to its first sampled token: queueing + prefill), the forward passes run, and peak memory (resident set on
the CPU, sampled every 5 ms; allocated memory on CUDA) above what the process held before the setting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory during a `with` block, above its start: RSS sampled every 5 ms, or CUDA's allocator peak."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak = 0

    def __enter__(self) -> PeakMemory:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            self.start = rss_bytes()
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes() - self.start)
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.start
        else:
            self.stop.set()
            self.thread.join()


def prompts(count: int) -> list[list[dict]]:
    """Sokoban prompts in RAGEN's format (different seeds, so prompts differ a little as episodes do)."""
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


def run_setting(engine, chats: list[list[dict]], episodes: int, turns: int, max_tokens: int) -> dict:
    from simyard.agents.backends.engine import Request, SamplingOptions

    stats = engine.batcher.stats
    before = (stats.tokens, stats.prefill_passes, stats.decode_passes, len(stats.first_token_s))

    async def episode(number: int) -> None:
        for turn in range(turns):
            chat = chats[(number * turns + turn) % len(chats)]
            await engine.generate(Request(chat, SamplingOptions(max_tokens=max_tokens)))

    async def everything() -> None:
        await asyncio.gather(*(episode(i) for i in range(episodes)))

    with PeakMemory(engine.facts.device) as memory:
        started = time.perf_counter()
        asyncio.run(everything())
        elapsed = time.perf_counter() - started
    tokens = stats.tokens - before[0]
    firsts = stats.first_token_s[before[3] :]
    return {
        "tokens": tokens,
        "seconds": elapsed,
        "tokens_per_s": tokens / elapsed,
        "ttft_ms": 1000 * statistics.mean(firsts),
        "passes": (stats.prefill_passes - before[1]) + (stats.decode_passes - before[2]),
        "peak_mib": memory.peak / 2**20,
    }


def plain_generate(engine, chats, episodes: int, turns: int, max_tokens: int) -> dict:
    """The same requests through `model.generate`, one at a time (greedy, same max_tokens)."""
    import torch

    total, started = 0, time.perf_counter()
    with torch.inference_mode():
        for number in range(episodes):
            for turn in range(turns):
                chat = chats[(number * turns + turn) % len(chats)]
                ids = torch.tensor([engine.prepare(chat).ids], device=engine.device)
                out = engine.model.generate(ids, max_new_tokens=max_tokens, do_sample=False,
                                            eos_token_id=engine.eos_ids(), pad_token_id=engine.batcher.pad_id)
                total += out.shape[1] - ids.shape[1]
    elapsed = time.perf_counter() - started
    return {"tokens": total, "seconds": elapsed, "tokens_per_s": total / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model folder (default: a tiny random Llama built in a temp folder)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--episodes", default="1,8,32", help="episodes in flight, comma-separated")
    parser.add_argument("--turns", type=int, default=2, help="model calls per episode")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--generate", action="store_true", help="also time plain model.generate one at a time")
    args = parser.parse_args()

    import torch

    from simyard.agents.backends.local import TransformersEngine
    from tests.agents.local.tiny import build_lm

    with tempfile.TemporaryDirectory() as scratch:
        path = args.model or build_lm(Path(scratch) / "tiny", layers=args.layers, hidden=args.hidden)
        counts = [int(part) for part in args.episodes.split(",")]
        chats = prompts(max(counts) * args.turns)
        engines = {
            "on": TransformersEngine(path, device=args.device, dtype=args.dtype, max_batch=32),
            "off": TransformersEngine(path, device=args.device, dtype=args.dtype, max_batch=1),
        }
        facts = engines["on"].facts
        print(f"model: {facts.architecture}, {facts.parameters / 1e6:.2f}M parameters, {facts.dtype} on "
              f"{facts.device} ({torch.get_num_threads()} torch threads); prompt "
              f"{len(engines['on'].prepare(chats[0]).ids)} tokens, {args.max_tokens} new tokens per call, "
              f"{args.turns} calls per episode")
        for engine in engines.values():  # warm up both (first passes allocate)
            run_setting(engine, chats, 2, 1, 4)
        print(f"{'episodes':>8} {'batching':>8} {'tok/s':>9} {'speed-up':>8} {'TTFT ms':>9} {'passes':>7} "
              f"{'peak MiB':>9} {'tokens':>7}")
        for count in counts:
            results = {mode: run_setting(engine, chats, count, args.turns, args.max_tokens)
                       for mode, engine in engines.items()}
            for mode in ("off", "on"):
                row = results[mode]
                speed = row["tokens_per_s"] / results["off"]["tokens_per_s"]
                print(f"{count:>8} {mode:>8} {row['tokens_per_s']:>9.0f} {speed:>7.2f}x {row['ttft_ms']:>9.1f} "
                      f"{row['passes']:>7} {row['peak_mib']:>9.1f} {row['tokens']:>7}")
            if args.generate:
                row = plain_generate(engines["off"], chats, count, args.turns, args.max_tokens)
                print(f"{count:>8} {'generate':>8} {row['tokens_per_s']:>9.0f} "
                      f"{row['tokens_per_s'] / results['off']['tokens_per_s']:>7.2f}x {'':>9} {'':>7} {'':>9} "
                      f"{row['tokens']:>7}")
        for engine in engines.values():
            engine.close()


if __name__ == "__main__":
    main()
