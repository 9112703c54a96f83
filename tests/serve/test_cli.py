"""`simyard serve` as a user runs it: a real server process on a free loopback port, stopped by SIGTERM with exit
code 0; and the errors it gives before loading anything (no model folder, a port in use, `--engine vllm` without
vLLM)."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from typer.testing import CliRunner

from simyard.cli import app
from simyard.platform.errors import SimyardError
from simyard.serve.vllm import vllm_command

from .helpers import HELLO

ROOT = Path(__file__).resolve().parents[2]


def test_serve_process_answers_and_stops_on_sigterm(lm_path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simyard", "serve", str(lm_path), "--port", "0", "--served-model-name", "cli-tiny",
         "--device", "cpu"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    try:
        url = None
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if match := re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line):
                url = match.group(1)
        assert url is not None, f"no URL printed; exit code {process.poll()}"
        with openai.OpenAI(base_url=url, api_key="test", max_retries=2, timeout=60) as client:
            assert [m.id for m in client.models.list().data] == ["cli-tiny"]
            reply = client.chat.completions.create(model="cli-tiny", messages=HELLO, max_tokens=4, temperature=0)
            assert reply.usage.completion_tokens == 4
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_cli(*args: str):
    return CliRunner().invoke(app, ["serve", *args])


def test_a_path_that_is_not_a_model_is_one_clear_error(tmp_path) -> None:
    result = run_cli(str(tmp_path))
    assert isinstance(result.exception, SimyardError) and "is not a model folder" in str(result.exception)


def test_a_port_in_use_fails_before_loading(lm_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli(str(lm_path), "--port", str(taken.getsockname()[1]))
    assert isinstance(result.exception, SimyardError) and "cannot listen on 127.0.0.1" in str(result.exception)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_engine_vllm_without_vllm_says_so(lm_path) -> None:
    result = run_cli(str(lm_path), "--engine", "vllm")
    assert isinstance(result.exception, SimyardError)
    assert "vllm is not installed" in str(result.exception) and "--engine transformers" in str(result.exception)


def test_vllm_command_carries_the_model_address_name_and_dtype() -> None:
    argv, env = vllm_command("/models/qwen", host="127.0.0.1", port=8123, name="qwen", dtype="bf16",
                             device="cuda:1")
    assert argv[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    flags = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert flags == {"--model": "/models/qwen", "--host": "127.0.0.1", "--port": "8123",
                     "--served-model-name": "qwen", "--dtype": "bfloat16"}
    assert env == {"CUDA_VISIBLE_DEVICES": "1"}
    with pytest.raises(SimyardError, match="serves on CUDA GPUs"):
        vllm_command("/models/qwen", host="127.0.0.1", port=1, name="q", device="cpu")
