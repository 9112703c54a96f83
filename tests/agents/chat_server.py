"""A real OpenAI-compatible chat server for tests and benchmarks: HTTP on 127.0.0.1, scripted replies.

The agent under test talks to it through the official `openai` client over a real socket, so retries, timeouts,
status codes and the request body are exercised exactly as they would be against vLLM or the OpenAI API. Nothing is
patched. Each test scripts what the next calls get (a reply, a status code, a delay) and reads back the requests the
server received.

It also imitates what real servers do that trips clients up: it cuts a reply at the request's `max_tokens` (one
token per word) with `finish_reason: "length"`; it answers `logprobs` (and vLLM's `return_token_ids`); it lists its
models at `GET /v1/models`; as a text-only server it rejects image content parts the way vLLM, llama.cpp's server
and llama-cpp-python do; and a scripted reply can carry malformed usage, no choices, or a raw body of any type.

    with ChatServer() as server:
        server.script(Reply(status=429), Reply(content="<answer>Up</answer>"))
        ...  # point the agent at server.base_url
        assert server.requests[1]["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server answers to one call.

    Attributes:
        content: The assistant message text (for status 200).
        status: HTTP status; anything but 200 answers an OpenAI-style error body.
        delay_s: Seconds to wait before answering (for client timeouts and throughput runs).
        prompt_tokens, completion_tokens: The usage the server reports (any JSON value, to imitate broken servers).
        finish_reason: Why generation stopped; a reply cut at `max_tokens` says "length" whatever this is.
        usage: False leaves `usage` out of the body.
        choices: False answers `"choices": []`.
        logprobs: False answers `"logprobs": null` even when they were asked for.
        body: Raw bytes sent as the whole body (with `content_type`), instead of a chat completion.
        content_type: The Content-Type of `body`.
        error: The error message for a status other than 200.
    """

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    prompt_tokens: Any = 100
    completion_tokens: Any = 20
    finish_reason: str | None = "stop"
    usage: bool = True
    choices: bool = True
    logprobs: bool = True
    body: bytes | None = None
    content_type: str = "application/json"
    error: str | None = None


#: How servers that cannot take image content parts answer them, by `ChatServer(images=...)`.
IMAGE_REJECTIONS: dict[str, tuple[int, str]] = {
    # vLLM (and llama-cpp-python) with a chat template that concatenates `content` as a string
    "concat-500": (500, 'can only concatenate str (not "list") to str'),
    # vLLM serving a text-only model
    "text-model-400": (400, "Qwen/Qwen2.5-0.5B-Instruct is not a multimodal model"),
    # llama.cpp's llama-server started without --mmproj
    "llama-500": (
        500,
        "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
    ),
}

_TOKEN = re.compile(r"\S+\s*|\s+")


def tokens(text: str) -> list[str]:
    """The server's tokenizer: one token per word with its trailing blanks (leading blanks are a token)."""
    return _TOKEN.findall(text)


def token_id(token: str) -> int:
    """A stable id for a token, as a tokenizer would give."""
    return 1000 + zlib.crc32(token.encode()) % 50_000


class ChatServer:
    """`POST /v1/chat/completions` on a free port of 127.0.0.1, served from a background thread.

    Calls take scripted replies in order; once the script is used up they get `default`. The server never binds to
    another interface, so tests never open a port to the network.

    Args:
        default: The reply once the script is empty.
        images: `accept` image content parts, or answer them as a text-only server does (a key of
            `IMAGE_REJECTIONS`).
        models: What `GET /v1/models` lists; None answers 404, bytes are sent as a raw (non-JSON) body.
    """

    def __init__(
        self, default: Reply | None = None, images: str = "accept", models: list[str] | bytes | None = None
    ) -> None:
        assert images == "accept" or images in IMAGE_REJECTIONS, images
        self.default = default or Reply(content="(no scripted reply left)")
        self.images = images
        self.models = models
        self.model_requests = 0
        self.requests: list[dict[str, Any]] = []  # JSON bodies, in arrival order
        self.headers: list[dict[str, str]] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll so `stop()` returns at once; tests start and stop a server each.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="chat-server", daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give the client (`.../v1`)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next calls; a string is a 200 reply with that content."""
        with self._lock:
            self._script.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def fail(self, status: int, times: int) -> None:
        """Answer the next `times` calls with `status` (429, 500, ...)."""
        self.script(*[Reply(status=status)] * times)

    @property
    def calls(self) -> int:
        """How many requests arrived (failed attempts included)."""
        with self._lock:
            return len(self.requests)

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self._script.popleft() if self._script else self.default

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(reply: Reply, request: dict[str, Any], number: int) -> dict[str, Any]:
    content, finish_reason = reply.content, reply.finish_reason
    pieces = tokens(content)
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    if isinstance(limit, int) and len(pieces) > limit:
        pieces = pieces[:limit]
        content, finish_reason = "".join(pieces), "length"
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": finish_reason,
    }
    if request.get("logprobs"):
        choice["logprobs"] = _logprobs(pieces, request.get("top_logprobs") or 0) if reply.logprobs else None
    if request.get("return_token_ids"):  # vLLM >= 0.10.2
        choice["token_ids"] = [token_id(piece) for piece in pieces]
    body: dict[str, Any] = {
        "id": f"chatcmpl-test-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(request.get("model", "")),
        "choices": [choice] if reply.choices else [],
    }
    if reply.usage:
        body["usage"] = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
    return body


def _logprobs(pieces: list[str], top: int) -> dict[str, Any]:
    """OpenAI's shape: one entry per sampled token, each with its `top` alternatives."""
    entries = []
    for index, piece in enumerate(pieces):
        logprob = -0.25 * (index % 4)
        alternatives = [{"token": piece, "logprob": logprob, "bytes": list(piece.encode())}]
        alternatives += [{"token": f"alt{k}", "logprob": logprob - k - 1, "bytes": None} for k in range(top - 1)]
        entries.append(
            {"token": piece, "logprob": logprob, "bytes": list(piece.encode()), "top_logprobs": alternatives[:top]}
        )
    return {"content": entries}


def _has_image_parts(request: dict[str, Any]) -> bool:
    messages = request.get("messages") or []
    return any(
        isinstance(message.get("content"), list) and any(part.get("type") == "image_url" for part in message["content"])
        for message in messages
    )


def _handler_for(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as real servers do: the client pools connections, and the throughput benchmark measures that.
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes; with Nagle on, the body waits for the client's delayed ACK
        # (40 ms on Linux), which would dwarf everything the throughput benchmark measures.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            body = json.loads(raw or b"{}")
            reply = server._next(body, {k.lower(): v for k, v in self.headers.items()})
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if server.images != "accept" and _has_image_parts(body):
                status, message = IMAGE_REJECTIONS[server.images]
                self._send(status, {"object": "error", "message": message, "type": "BadRequestError", "code": status})
                return
            if reply.status != 200:
                message = reply.error or {429: "rate limited (scripted)", 500: "server error (scripted)"}.get(
                    reply.status, "error"
                )
                self._send(reply.status, {"error": {"message": message, "type": "scripted", "code": reply.status}})
                return
            if reply.body is not None:
                self._send_raw(200, reply.body, reply.content_type)
                return
            self._send(200, _completion(reply, body, server.calls))

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") != "/v1/models":
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            with server._lock:
                server.model_requests += 1
            models = server.models
            if models is None:
                self._send(404, {"error": {"message": "no route /v1/models", "type": "not_found"}})
            elif isinstance(models, bytes):
                self._send_raw(200, models, "text/html")
            else:
                data = [{"id": name, "object": "model", "owned_by": "test"} for name in models]
                self._send(200, {"object": "list", "data": data})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            self._send_raw(status, json.dumps(payload).encode(), "application/json")

        def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
            pass  # quiet: tests read `server.requests` instead

    return Handler
