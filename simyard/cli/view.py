"""`simyard view RUN_DIR...`: run directories in a local web page (see `simyard.viewer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simyard.cli.common import console
from simyard.platform.errors import SimyardError

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def view(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories made by `simyard bench run` or "
                                                   "`simyard episode run`; several are shown side by side; a "
                                                   "matrix run shows each arm as a run.")],
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback shows your runs to the "
                                      "network (no auth!).")] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in a browser.")] = True,
) -> None:
    """Look at runs in a web browser: the table per world and subset with 95% intervals, the episodes with filters
    and search, each episode replayed step by step (frames, actions, feedback, rewards, the model's replies; keys
    ←/→ or j/k), and several runs side by side, paired per task. A run still being written refreshes itself.
    From any step an episode can be forked: the page plays the agent you name (`human` gets the command to paste
    in a terminal) and records the new episode under RUN_DIR/forks/. Stop it with Ctrl-C.

    Example:

        simyard view runs/oracle

        simyard view runs/random runs/mine --port 0 --no-open

        simyard view runs/pair          # a matrix run: one run per arm, labelled pair/<arm>
    """
    from simyard.viewer.server import ViewerServer

    if not 0 <= port <= 65535:
        raise SimyardError(f"--port {port} is not a port number", hint="use 1-65535, or 0 for a free one")
    server = ViewerServer(run_dirs, host=host, port=port)
    for run in server.views:
        described = run.describe()
        console.print(f"run {run.number}: {run.label} ({described['recorded']}/{described['tasks_total']} "
                      f"episodes, {described['status']})", markup=False)
        for note in described["notes"]:
            console.print(f"  skipped: {note}", markup=False, style="yellow")
    console.print(f"simyard view: {server.url}  (Ctrl-C stops it)", markup=False)
    if host not in _LOOPBACK:
        console.print(f"simyard view: listening on {host}: anyone who reaches it can read these runs",
                      markup=False, style="yellow")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.serve_forever()
    console.print("simyard view: stopped", markup=False)
