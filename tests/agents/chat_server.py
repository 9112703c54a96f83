"""A real OpenAI-compatible chat server for tests and benchmarks: HTTP on 127.0.0.1, scripted replies.

The agent under test talks to it through the official `openai` client over a real socket, so retries, timeouts,
status codes and the request body are exercised exactly as they would be against vLLM or the OpenAI API. Nothing is
patched. Each test scripts what the next calls get (a reply, a status code, a delay) and reads back the requests the
server received.

    with ChatServer() as server:
        server.script(Reply(status=429), Reply(content="<answer>Up</answer>"))
        ...  # point the agent at server.base_url
        assert server.requests[1]["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import json
import threading
import time
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
        prompt_tokens, completion_tokens: The usage the server reports.
    """

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    prompt_tokens: int = 100
    completion_tokens: int = 20


class ChatServer:
    """`POST /v1/chat/completions` on a free port of 127.0.0.1, served from a background thread.

    Calls take scripted replies in order; once the script is used up they get `default`. The server never binds to
    another interface, so tests never open a port to the network.

    Args:
        default: The reply once the script is empty.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(content="(no scripted reply left)")
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


def _completion(reply: Reply, model: str, number: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-test-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


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
            if reply.status != 200:
                message = {429: "rate limited (scripted)", 500: "server error (scripted)"}.get(reply.status, "error")
                self._send(reply.status, {"error": {"message": message, "type": "scripted", "code": reply.status}})
                return
            self._send(200, _completion(reply, str(body.get("model", "")), server.calls))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
            pass  # quiet: tests read `server.requests` instead

    return Handler
