"""`simyard serve MODEL_PATH`: a local model behind an OpenAI-compatible HTTP server (see `simyard.serve`)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from simyard.platform.errors import SimyardError


class EngineName(enum.StrEnum):
    transformers = "transformers"
    vllm = "vllm"


def serve(
    model_path: Annotated[str, typer.Argument(help="The model folder (config.json, weights, tokenizer or processor).")],
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to the network (no auth!).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one, printed at start).")] = 8000,
    engine: Annotated[EngineName, typer.Option(help="transformers (simyard's, CPU or GPU) or vllm (vLLM's "
                                               "own server; needs vllm and a CUDA GPU).")] = EngineName.transformers,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto (bf16 on a GPU that has it, float32 on the CPU), bfloat16, "
                                       "float16 or float32.")] = "auto",
    served_model_name: Annotated[str | None, typer.Option(help="The name clients send as `model` (default: the "
                                                          "folder's name).")] = None,
    max_batch: Annotated[int, typer.Option(help="Sequences decoded together at most (transformers engine).")] = 32,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: warning, info (one line per request), "
                                           "debug.")] = "warning",
    stream_interval: Annotated[int, typer.Option(help="Tokens per streamed chunk at least, after the first (vLLM's "
                                                 "option): more means fewer chunks for the server and the client "
                                                 "to handle; 1 sends tokens as they come (transformers engine).")] = 1,
) -> None:
    """Serve a local model over an OpenAI-compatible HTTP API: POST /v1/chat/completions (streaming, images as data
    URLs, logprobs/top_logprobs, n, seed, stop, and the sampled token ids with vLLM's `return_token_ids`) and
    GET /v1/models. Concurrent requests are batched together by the engine. Stop it with Ctrl-C.

    Example:

        simyard serve ~/models/Qwen2.5-0.5B-Instruct --port 8000

        simyard episode run sokoban --agent openai --base-url http://127.0.0.1:8000/v1 --model Qwen2.5-0.5B-Instruct

        simyard serve ~/models/Qwen2.5-VL-3B-Instruct --engine vllm --dtype bfloat16
    """
    from simyard.agents.backends.local import model_folder

    folder = model_folder(model_path)
    name = served_model_name or folder.resolve().name
    if not 0 <= port <= 65535:
        raise SimyardError(f"--port {port} is not a port number", hint="use 1-65535, or 0 for a free one")
    if max_batch < 1:
        raise SimyardError(f"--max-batch {max_batch} must be >= 1")
    if stream_interval < 1:
        raise SimyardError(f"--stream-interval {stream_interval} must be >= 1", hint="1 sends every token at once")
    if engine is EngineName.vllm:
        from simyard.serve.vllm import exec_vllm

        exec_vllm(str(folder), host=host, port=port, name=name, dtype=dtype, device=device)
        return
    _serve_transformers(folder, host=host, port=port, name=name, device=device, dtype=dtype, max_batch=max_batch,
                        log_level=log_level, stream_interval=stream_interval)


def _serve_transformers(
    folder: Path, *, host: str, port: int, name: str, device: str, dtype: str, max_batch: int, log_level: str,
    stream_interval: int,
) -> None:
    from simyard.agents.backends.local import TransformersEngine
    from simyard.serve.app import ChatServer
    from simyard.serve.http import listen_on, uvicorn_server

    sock = listen_on(host, port)
    try:
        loaded = TransformersEngine(folder, device=device, dtype=dtype, max_batch=max_batch)
        try:
            facts = loaded.facts
            bound_host, bound_port = sock.getsockname()[:2]
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            typer.echo(
                f"simyard serve: {name!r} ({facts.architecture}, {facts.parameters / 1e6:,.1f}M parameters, "
                f"{facts.dtype} on {facts.device}{', images' if facts.takes_images else ''}) at "
                f"http://{shown}:{bound_port}/v1",
                )
            if host not in ("127.0.0.1", "localhost", "::1"):
                typer.echo(f"simyard serve: listening on {host}: anyone who reaches it can use the model (no auth)",
                           err=True)
            import sys

            sys.stdout.flush()
            server = uvicorn_server(ChatServer(loaded, name, stream_interval).app(), log_level=log_level,
                                    access_log=log_level in ("info", "debug", "trace"))
            _run_until_signal(server, sock)
            typer.echo("simyard serve: stopped")
        finally:
            loaded.close()
    finally:
        sock.close()


class _Stopped(Exception):
    """SIGTERM, after uvicorn has shut down gracefully (uvicorn hands the signal back once it is done)."""


def _run_until_signal(server, sock) -> None:
    """Serve until Ctrl-C or SIGTERM; uvicorn finishes the requests in flight, then this returns (exit code 0)."""
    import signal

    def stopped(signum, frame) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
