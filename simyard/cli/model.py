"""`simyard model info PATH`: what a local model is and what it needs, read from its folder without loading it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from simyard.cli import render
from simyard.cli.common import console

model_app = typer.Typer(help="Local models (the `local` agent's): inspect one.", no_args_is_help=True)


@model_app.command("info")
def model_info(
    path: Annotated[str, typer.Argument(help="The model folder (config.json, weights, tokenizer or processor).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as one JSON object.")] = False,
) -> None:
    """Describe a local model: architecture, parameters, dtype, context length, images, and the memory it needs on
    each device (the CPU, and CUDA when a GPU is present). Nothing is loaded: the config and the weights' headers
    are read.

    Example:

        simyard model info ~/models/Qwen2.5-0.5B-Instruct

        simyard model info ./checkpoints/step-200 --json
    """
    from simyard.agents.backends.local import (
        DTYPE_BYTES,
        config_dtype,
        memory_free,
        memory_needed,
        read_facts,
        resolve_dtype,
    )

    facts = read_facts(path, device="cpu")
    from simyard.agents.backends.local import read_config

    saved = config_dtype(read_config(path))
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    memory = []
    for device in devices:
        auto = resolve_dtype("auto", device)
        free = memory_free(device)
        for dtype in [auto] + [name for name in DTYPE_BYTES if name != auto and (device != "cpu" or name != "float16")]:
            need = memory_needed(facts.parameters, dtype)
            memory.append(
                {
                    "device": device,
                    "dtype": dtype,
                    "default": dtype == auto,
                    "needed_bytes": need,
                    "free_bytes": free,
                    "fits": None if free is None else need <= free,
                }
            )
    if as_json:
        payload = {
            "path": facts.path,
            "architecture": facts.architecture,
            "parameters": facts.parameters,
            "saved_dtype": saved,
            "context_length": facts.context_length,
            "takes_images": facts.takes_images,
            "memory": memory,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    cells = [
        ["fact", "value"],
        ["path", facts.path],
        ["architecture", facts.architecture],
        ["parameters", f"{facts.parameters:,} ({_short_count(facts.parameters)})"],
        ["saved dtype", saved],
        ["context length", f"{facts.context_length:,} tokens"],
        ["takes images", "yes" if facts.takes_images else "no (text only)"],
    ]
    console.print(render.rich_table(cells, title="model"))
    rows = [["device", "dtype", "needed", "free now", "fits"]]
    for entry in memory:
        dtype = entry["dtype"] + (" (auto)" if entry["default"] else "")
        free = "?" if entry["free_bytes"] is None else _gib(entry["free_bytes"])
        fits = "?" if entry["fits"] is None else "yes" if entry["fits"] else "no"
        rows.append([entry["device"], dtype, _gib(entry["needed_bytes"]), free, fits])
    console.print(render.rich_table(rows, title="memory (weights + 20% for activations and the KV cache)"))
    if len(devices) == 1:
        console.print("cuda: no GPU visible to torch here", markup=False)


def _gib(size: int) -> str:
    if size < 2**30:
        return f"{size / 2**20:.1f} MiB"
    return f"{size / 2**30:.1f} GiB"


def _short_count(count: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.2f}{unit}"
    return str(count)
