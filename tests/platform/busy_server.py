"""A chat server with a capacity, for adaptive-concurrency tests and benchmarks: real HTTP on 127.0.0.1.

It answers `POST /v1/chat/completions` as an OpenAI-compatible server does, but the way an overloaded model server
behaves: a reply takes `base_s` times the requests it is serving over `knee` (a GPU shared by more requests answers
each more slowly; with `knee` = `capacity`, a batch server whose replies take `base_s` until it is full), and a
request beyond `capacity` in flight is refused at once with HTTP 429. It counts the most requests
it ever had in flight, so a test can check the client never pushed past its ceiling.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class BusyChatServer:
    """A model server that slows down under load and answers 429 past `capacity` requests in flight."""

    def __init__(self, capacity: int = 3, base_s: float = 0.03, reply: str = "<answer>inc</answer>",
                 knee: int = 1) -> None:
        self.capacity, self.base_s, self.reply, self.knee = capacity, base_s, reply, knee
        self.in_flight = 0
        self.peak = 0
        self.served = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def enter(self) -> tuple[bool, int]:
        """Count a request in; (refused?, requests in flight)."""
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            over = self.in_flight > self.capacity
            self.refused += over
            self.served += not over
            return over, self.in_flight

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def __enter__(self) -> BusyChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: BusyChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._send(404, {"error": {"message": "no model list here"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            over, load = server.enter()
            try:
                if over:
                    self._send(429, {"error": {"message": "server busy", "type": "rate_limit"}})
                    return
                time.sleep(server.base_s * max(1.0, load / server.knee))
                self._send(200, {
                    "id": "chatcmpl-busy", "object": "chat.completion", "created": int(time.time()),
                    "model": request.get("model", ""),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": server.reply},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 5},
                })
            finally:
                server.leave()

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
