"""The viewer on uvicorn: in the foreground for `simyard view`, or in a thread for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from simyard.platform.errors import SimyardError
from simyard.serve.app import bind, uvicorn_server
from simyard.viewer.app import build_app
from simyard.viewer.runs import RunView


def open_runs(paths: Sequence[str | Path]) -> list[RunView]:
    """Open every run before serving, so a folder that is not a run is one error line, not a broken page."""
    if not paths:
        raise SimyardError("no run directory given", hint="simyard view RUN_DIR [RUN_DIR ...]")
    return [RunView(path, number) for number, path in enumerate(paths)]


def _warm(views: Sequence[RunView]) -> None:
    for view in views:
        try:
            view.summary_cells()
        except Exception:  # noqa: BLE001 -- reported when the page asks for it
            pass


class ViewerServer:
    """The viewer over `paths`, listening on `host:port` (port 0: a free one) from construction on.

    Binding happens here, before anything is served, so a port in use is a `SimyardError` at once.
    """

    def __init__(self, paths: Sequence[str | Path], host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.views = open_runs(paths)
        try:
            self.sock = bind(host, port)
            # Listening at once: a browser opened (or a URL followed) before uvicorn is up waits in the backlog
            # instead of being refused.
            self.sock.listen(128)
        except OSError as exc:
            raise SimyardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                               hint="pick another --port (0 takes a free one), or stop what holds it") from None
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = uvicorn_server(build_app(self.views), log_level=log_level)
        # Read and summarise the indexes while the browser starts: a big run's first page then costs no more than
        # any later one. A failure here is left for the page's own request to report.
        threading.Thread(target=_warm, args=(self.views,), name="simyard-view-warm", daemon=True).start()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (uvicorn finishes requests in flight first)."""
        try:
            self.server.run(sockets=[self.sock])
        except KeyboardInterrupt:
            pass
        finally:
            self.sock.close()

    def start(self, timeout_s: float = 30.0) -> ViewerServer:
        """Serve from a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self._run, name="simyard-view", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the viewer did not start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the viewer did not start within {timeout_s:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout_s)
        self.sock.close()

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # noqa: BLE001 (reported by start)
            self._error = exc

    def __enter__(self) -> ViewerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
