"""Reading a run that may be damaged: every row and trajectory that can be read, and a line for each that cannot.

`ResultsIndex.read` refuses an index with a damaged line before the last (a resume must not trust it); an export or
a rescore only reads, so it takes the rows it can and names the lines it left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import RunDirError
from simyard.platform.rundir import RunDir
from simyard.platform.trajectory import TRAJECTORY_FILE, _trajectory_lines


def readable_results(run: RunDir) -> tuple[list[EpisodeResult], list[str]]:
    """The index's rows (first row per (task_id, seed), an `infra_error` row giving way to a later one), and one line
    per damaged row left out. A torn last line (a crash mid-write) is not a loss and is not reported."""
    path = run.index.path
    if not path.exists():
        return [], [f"{path}: missing (no episode was recorded)"]
    return run.index.read_salvaged()


def readable_trajectory(episode_dir: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    """An episode's trajectory lines (reset, steps, end), or None and the reason it cannot be read."""
    try:
        return _trajectory_lines(episode_dir), None
    except RunDirError as exc:
        return None, exc.message
    except OSError as exc:
        return None, f"{episode_dir / TRAJECTORY_FILE}: {exc.strerror or type(exc).__name__}"
