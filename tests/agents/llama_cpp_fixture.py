"""llama-cpp-python's OpenAI-compatible server on a tiny model built here, for the slow end-to-end agent test.

Nothing is downloaded but packages. The model is a 2-layer Llama with a SentencePiece tokenizer trained on the spot,
converted to GGUF by the `convert_hf_to_gguf.py` that ships in llama-cpp-python's source distribution. Its weights
are random (small, as initialised) except for one designed path: large embeddings dominate the residual stream, and
the output rows chain `<|assistant|>` → `<answer>` → `Right` → `</answer>` → `</s>`, each row pointing at the
embedding of the token before. Greedy decoding therefore answers every prompt with `<answer>Right</answer>` and stops
on its own, so one server can be asked for a reply that stops (`finish_reason: "stop"`) and, under a small
max_tokens, one that is cut (`"length"`).

Everything slow is cached outside the repository, in `$SIMYARD_CACHE` or `~/.cache/simyard`, under a folder named
for the version; a run with the cache warm starts a server in seconds:

    sdist/   the source distribution (its vendor/llama.cpp holds the converter and gguf-py)
    wheels/  the wheel compiled from it (llama.cpp, CPU only: about 3 minutes on 2 cores, once)
    venv/    the server's own environment: the wheel with its server extras, torch, transformers, sentencepiece

The server gets its own environment so the project's .venv stays free of torch and FastAPI.

This file also runs as a script in that environment (`python llama_cpp_fixture.py DIR` builds the model in DIR),
so at module level it imports the standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

VERSION = "0.3.36"
#: What the server's environment gets besides the wheel; torch first and pinned (a loose pin downloads gigabytes).
TORCH = "torch==2.13.0"
BUILD_DEPS = ["transformers==4.57.6", "sentencepiece"]
#: llama.cpp built for the CPU, without the tools, tests, examples and vision library nothing here uses.
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
    "-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF"
)
#: The name the server lists its model under.
MODEL_ALIAS = "tiny-llama"
#: What the model answers to any prompt, one token each.
REPLY = ("<answer>", "Right", "</answer>")
_ROLES = ("<|system|>", "<|user|>", "<|assistant|>")
_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


class Unavailable(Exception):
    """This machine cannot build the server (no C/C++ compiler): a reason to skip, not a failure."""


@dataclass(frozen=True)
class ServerEnv:
    """The server's environment: its python, and the sdist's llama.cpp folder holding the converter."""

    python: Path
    llama_cpp: Path


def cache_dir() -> Path:
    root = Path(os.environ.get("SIMYARD_CACHE") or Path.home() / ".cache" / "simyard")
    return root / f"llama-cpp-python-{VERSION}"


def server_env() -> ServerEnv:
    """The cached environment, made first when missing (under a lock: parallel test runs share the cache).

    Raises:
        Unavailable: No C/C++ compiler to build llama.cpp with.
        RuntimeError: A download, the compile or an install failed (its log's tail says why).
    """
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    venv, ready, wheels = cache / "venv", cache / "venv" / "simyard-ready", cache / "wheels"
    wanted = json.dumps([VERSION, TORCH, *BUILD_DEPS])
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        must_compile = not list(wheels.glob("*.whl"))
        if must_compile and (missing := [tool for tool in ("cc", "c++") if shutil.which(tool) is None]):
            raise Unavailable(f"no {' or '.join(missing)} on PATH to compile llama.cpp (llama-cpp-python)")
        llama_cpp = _unpacked_sdist(cache)
        if not (ready.is_file() and ready.read_text() == wanted):
            shutil.rmtree(venv, ignore_errors=True)
            # The compile takes minutes on both cores; the environment's installs are mostly I/O, so they overlap.
            compile_ = _start_wheel_build(cache, wheels) if must_compile else None
            try:
                python = venv / "bin" / "python"
                _run([sys.executable, "-m", "venv", str(venv)], cache / "venv.log")
                _run([str(python), "-m", "pip", "install", "-q", TORCH], cache / "venv.log")
                _run([str(python), "-m", "pip", "install", "-q", *BUILD_DEPS], cache / "venv.log")
                if compile_ is not None:
                    _wait(compile_, cache / "build.log")
            finally:
                if compile_ is not None and compile_.poll() is None:  # an install failed: stop cmake and ninja too
                    os.killpg(compile_.pid, signal.SIGKILL)
                    compile_.wait()
            (wheel,) = wheels.glob("*.whl")
            _run([str(python), "-m", "pip", "install", "-q", f"{wheel}[server]"], cache / "venv.log")
            ready.write_text(wanted)
    return ServerEnv(venv / "bin" / "python", llama_cpp)


def _unpacked_sdist(cache: Path) -> Path:
    """The sdist's vendor/llama.cpp (converter, conversion/, gguf-py/), downloaded and unpacked once."""
    unpacked = cache / "src" / "vendor" / "llama.cpp"
    if (unpacked / "convert_hf_to_gguf.py").is_file():
        return unpacked
    sdist = cache / "sdist"
    if not list(sdist.glob("*.tar.gz")):
        spec = f"llama-cpp-python=={VERSION}"
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(sdist)]
        _run([*cmd, spec], cache / "download.log")
    (archive,) = sdist.glob("*.tar.gz")
    shutil.rmtree(cache / "src", ignore_errors=True)
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        parts = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
        prefixes = tuple(f"{top}/vendor/llama.cpp/{part}" for part in parts)
        members = [m for m in tar.getmembers() if m.name.startswith(prefixes)]
        for member in members:
            member.name = member.name.removeprefix(f"{top}/")
        tar.extractall(cache / "src", members=members, filter="data")
    return unpacked


def _start_wheel_build(cache: Path, wheels: Path) -> subprocess.Popen[bytes]:
    (sdist,) = (cache / "sdist").glob("*.tar.gz")
    env = os.environ | {"CMAKE_ARGS": CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(sdist)]
    with open(cache / "build.log", "wb") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(map(str, process.args))} failed:\n{_tail(log)}")


def _run(cmd: list[str], log: Path, timeout: float = 900) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def build_gguf(env: ServerEnv, workdir: Path) -> Path:
    """The tiny model, built as a Hugging Face folder in the server's environment and converted to GGUF."""
    hf, gguf = workdir / "hf", workdir / "tiny-llama.gguf"
    _run([str(env.python), __file__, str(hf)], workdir / "build-model.log", timeout=300)
    convert = [str(env.python), str(env.llama_cpp / "convert_hf_to_gguf.py"), str(hf), "--outtype", "f32"]
    _run([*convert, "--outfile", str(gguf)], workdir / "convert.log", timeout=300)
    return gguf


def _build_model(out: Path) -> None:
    """Tokenizer, config and weights of the tiny Llama (see the module docstring for its one designed path)."""
    import io

    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(Path(json.__file__).read_text().splitlines()),  # any text: the stdlib's is at hand
        model_writer=model,
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,
        hard_vocab_limit=False,
        user_defined_symbols=[*_ROLES, *REPLY],
        minloglevel=2,
    )
    (out / "tokenizer.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    ids = {piece: sp.piece_to_id(piece) for piece in (*_ROLES, *REPLY)}
    # Added tokens are matched whole in any text; the `<|role|>` ones are control tokens, the reply's are text.
    added = {str(i): {"content": piece, "special": piece in _ROLES} for piece, i in ids.items()}
    tokenizer_config = {
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": False,  # the template writes it
        "chat_template": _TEMPLATE,
        "added_tokens_decoder": added,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1))
    hidden = 64
    config = LlamaConfig(
        vocab_size=sp.get_piece_size(),
        hidden_size=hidden,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=8192,
        bos_token_id=sp.bos_id(),
        eos_token_id=sp.eos_id(),
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    llm = LlamaForCausalLM(config)
    with torch.no_grad():
        embeddings = torch.randn(config.vocab_size, hidden)
        llm.model.embed_tokens.weight.copy_(embeddings)
        # After the final RMS norm the state has length sqrt(hidden) = 8: a unit row scores about 8 for its token,
        # while the random rows (std 0.02) score about 0.2, so greedy decoding follows the chain, with
        # log-probabilities that are not all zero. The layers (random, std 0.02) add so little to the embedding
        # that they only move the log-probabilities a bit from one prompt to the next.
        chain = [ids["<|assistant|>"], *(ids[piece] for piece in REPLY), sp.eos_id()]
        for current, following in zip(chain, chain[1:], strict=False):
            llm.lm_head.weight[following] = embeddings[current] / embeddings[current].norm()
    llm.save_pretrained(out, safe_serialization=True)


class LlamaServer:
    """`python -m llama_cpp.server` on a free port of 127.0.0.1, its stdout and stderr in one log file.

    Stopped (killed if need be) when the `with` block ends, however it ends.
    """

    def __init__(self, env: ServerEnv, gguf: Path, log: Path, ready_s: float = 120.0) -> None:
        self.env, self.gguf, self.log, self.ready_s = env, gguf, log, ready_s
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaServer:
        cmd = [str(self.env.python), "-m", "llama_cpp.server", "--model", str(self.gguf)]
        cmd += ["--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "8192"]
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"PYTHONUNBUFFERED": "1"}
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self._process.returncode}:\n{_tail(self.log)}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=2) as answer:
                    if answer.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"llama_cpp.server not ready after {self.ready_s:g} s:\n{_tail(self.log)}")

    def requests(self, method: str, path: str) -> int:
        """How many `method path` requests the server answered, counted from its access log."""
        line = re.compile(rf'"{re.escape(method)} {re.escape(path)} HTTP/1\.1" \d{{3}}')
        return len(line.findall(self.log.read_text(errors="replace")))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Exchange:
    """One request passed through the proxy: the parsed request body, and the status and body the server sent."""

    method: str
    path: str
    request: Any
    status: int
    response: Any


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that passes each request to `upstream` unchanged and keeps the exchange.

    The agent talks to the real server through it, so a test can compare what simyard recorded with the bytes the
    server sent, not with what it was expected to send.
    """

    def __init__(self, upstream: str) -> None:
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._upstream = urlsplit(upstream)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def chat_calls(self) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = http.client.HTTPConnection(proxy._upstream.hostname, proxy._upstream.port, timeout=300)
                try:
                    passed = {k: v for k, v in self.headers.items() if k.lower() in {"content-type", "authorization"}}
                    upstream.request(self.command, self.path, body or None, headers=passed)
                    answer = upstream.getresponse()
                    data, status = answer.read(), answer.status
                    content_type = answer.getheader("Content-Type", "application/json")
                finally:
                    upstream.close()
                with proxy._lock:
                    proxy.exchanges.append(Exchange(self.command, self.path, _json(body), status, _json(data)))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data


@contextlib.contextmanager
def serving(workdir: Path) -> Iterator[tuple[LlamaServer, RecordingProxy]]:
    """The server on a freshly built tiny model, and a recording proxy in front of it."""
    env = server_env()
    gguf = build_gguf(env, workdir)
    with LlamaServer(env, gguf, workdir / "server.log") as server, RecordingProxy(server.url) as proxy:
        yield server, proxy


if __name__ == "__main__":
    _build_model(Path(sys.argv[1]))
