"""Listening sockets and uvicorn in a thread: what every simyard HTTP server shares (`serve`, `env serve`, `view`).

Binding comes first and apart from serving, so a port in use fails at once (before a model loads or a world is
built) and no client connects before the routes exist. `ThreadedServer` runs one app on uvicorn in a daemon thread
of this process: tests, benchmarks and the viewer's own tests use it with port 0 on loopback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) (port 0: a free one), not yet listening, with Nagle's algorithm off.

    proto must say TCP: asyncio turns Nagle off only for sockets whose proto is IPPROTO_TCP, and with it on every
    keep-alive reply waits ~40 ms for the client's delayed ACK. Raises OSError; callers word it for their users.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen_on(host: str, port: int) -> socket.socket:
    """`bind`, with a port in use or an address not on this machine as a one-line SimyardError for the CLI."""
    from simyard.platform.errors import SimyardError

    try:
        return bind(host, port)
    except OSError as exc:
        raise SimyardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                           hint="pick another --port (0 takes a free one), or stop what holds it") from None


def uvicorn_server(app: Any, *, log_level: str = "warning", access_log: bool = False, lifespan: str = "off",
                   **config: Any) -> Any:
    """A uvicorn.Server for `app` that finishes requests in flight for at most 5 s when told to stop."""
    import uvicorn

    settings: dict[str, Any] = {"timeout_graceful_shutdown": 5, "timeout_keep_alive": 30, **config}
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan=lifespan,
                                         **settings))


def url_host(host: str) -> str:
    """`host` as it stands in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


class ThreadedServer:
    """`server` (a uvicorn.Server) serving `sock` from a daemon thread; `start` returns once it accepts connections.

    Subclasses set `self.sock`, `self.server` and `self.host`/`self.port` before calling `__init__`'s body through
    `super().__init__(name)`.
    """

    sock: socket.socket
    server: Any

    def __init__(self, name: str) -> None:
        self.host, self.port = self.sock.getsockname()[:2]
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 30.0) -> Any:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if self._error is not None or not self.thread.is_alive():
                raise RuntimeError(f"the server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not start within {timeout_s:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout_s)
        self.sock.close()

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # noqa: BLE001 (reported by start)
            self._error = exc

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
