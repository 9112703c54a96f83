"""The viewer on uvicorn: in the foreground for `simyard view`, or in a thread for tests and benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from simyard.serve.http import ThreadedServer, listen_on, url_host, uvicorn_server
from simyard.viewer.app import build_app
from simyard.viewer.open_runs import OpenRuns
from simyard.viewer.runs import RunView


def _warm(views: Sequence[RunView]) -> None:
    for view in views:
        try:
            view.summary_cells()
        except Exception:  # noqa: BLE001 -- reported when the page asks for it
            pass


class ViewerServer(ThreadedServer):
    """The viewer over `paths`, listening on `host:port` (port 0: a free one) from construction on.

    Binding happens here, before anything is served, so a port in use is a `SimyardError` at once.
    """

    def __init__(self, paths: Sequence[str | Path], host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        # Every run opened before serving, so a folder that is not a run is one error line, not a broken page.
        self.views = OpenRuns(paths)
        self.sock = listen_on(host, port)
        # Listening at once: a browser opened (or a URL followed) before uvicorn is up waits in the backlog
        # instead of being refused.
        self.sock.listen(128)
        self.server = uvicorn_server(build_app(self.views), log_level=log_level)
        super().__init__("simyard-view")
        # Read and summarise the indexes while the browser starts: a big run's first page then costs no more than
        # any later one. A failure here is left for the page's own request to report.
        threading.Thread(target=_warm, args=(self.views,), name="simyard-view-warm", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}/"

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (uvicorn finishes requests in flight first)."""
        try:
            self.server.run(sockets=[self.sock])
        except KeyboardInterrupt:
            pass
        finally:
            self.sock.close()
