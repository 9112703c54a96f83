"""`simyard serve --engine vllm`: hand serving to vLLM's own OpenAI-compatible server.

vLLM's server already speaks what simyard's `openai` agent reads (log-probabilities, `return_token_ids`), batches with
paged attention and is much faster on a GPU than the transformers engine; so on a machine that has vLLM and a CUDA GPU,
`simyard serve` simply becomes `python -m vllm.entrypoints.openai.api_server` with the same model, host, port, name
and dtype (the process is replaced: signals and the exit code are vLLM's own). Where either is missing it says so in
one line and does not fall back silently, because the two engines differ in speed and numerics.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from simyard.platform.errors import SimyardError

#: simyard's dtype names (and aliases) to vLLM's `--dtype` values.
_DTYPES = {
    "auto": "auto", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16",
    "half": "float16", "float32": "float32", "fp32": "float32", "float": "float32",
}


def vllm_command(
    path: str, *, host: str, port: int, name: str, dtype: str = "auto", device: str = "auto",
) -> tuple[list[str], dict[str, str]]:
    """The argv and the environment changes that start vLLM's OpenAI server for this model.

    Raises:
        SimyardError: The dtype or device is not one vLLM can be given.
    """
    wanted = _DTYPES.get(dtype.strip().lower())
    if wanted is None:
        raise SimyardError(f"--dtype {dtype!r} is not one of auto, bfloat16, float16, float32")
    env: dict[str, str] = {}
    device = device.strip().lower()
    if device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.removeprefix("cuda:")
    elif device not in ("auto", "cuda"):
        raise SimyardError(
            f"--device {device} cannot be given to vLLM, which serves on CUDA GPUs",
            hint="use --device auto, cuda or cuda:N, or --engine transformers for the CPU",
        )
    argv = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", path,
        "--host", host,
        "--port", str(port),
        "--served-model-name", name,
        "--dtype", wanted,
    ]
    return argv, env


def check_vllm() -> None:
    """Refuse, in one line, when vLLM is not installed here or no CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        raise SimyardError(
            f"--engine vllm: vllm is not installed in this Python ({sys.executable})",
            hint="pip install vllm on a Linux machine with an NVIDIA GPU, or serve with --engine transformers "
            "(the default)",
        )
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        raise SimyardError(
            "--engine vllm: vllm is installed but no CUDA GPU is visible",
            hint="run it on a machine with an NVIDIA GPU, or serve with --engine transformers (CPU or GPU)",
        )


def exec_vllm(path: str, *, host: str, port: int, name: str, dtype: str, device: str) -> None:
    """Replace this process with vLLM's OpenAI server (never returns)."""
    check_vllm()
    argv, env = vllm_command(path, host=host, port=port, name=name, dtype=dtype, device=device)
    print("simyard serve: handing over to vLLM: " + " ".join(argv[1:]), flush=True)
    os.execve(argv[0], argv, {**os.environ, **env})
