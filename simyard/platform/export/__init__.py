"""Exports of a run for other tools: the results index as CSV or Parquet, trajectories as ATIF.

`export_run` is the one entry point (`simyard bench export`). It only reads the run: whatever it writes goes to the
`out` path the user named, written aside and moved into place, and a path inside the run's recorded files is
refused, so an export never touches what a run recorded. A run with torn files exports what can be read and says
what it skipped (`ExportReport.skipped`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from simyard.platform.errors import SimyardError

ExportFormat = Literal["parquet", "csv", "atif"]
FORMATS: tuple[str, ...] = ("parquet", "csv", "atif")


class ExportError(SimyardError):
    """An export that cannot be made: an unknown format, or an output path that cannot be written."""


@dataclass
class ExportReport:
    """What an export wrote and what it had to leave out.

    Attributes:
        out: The file (parquet, csv) or folder (atif) written.
        written: Rows (parquet, csv) or trajectories (atif) written.
        frames: Frame files placed beside ATIF trajectories.
        skipped: One line per thing left out, saying what and why (a damaged index line, a missing trajectory).
    """

    out: Path
    written: int = 0
    frames: int = 0
    skipped: list[str] = field(default_factory=list)


def export_run(run_dir: str | Path, fmt: str, out: str | Path,
               progress: Callable[[int, int], None] | None = None) -> ExportReport:
    """Export a run directory to `out` in `fmt` (`parquet`, `csv` or `atif`); a matrix run exports every arm.

    `progress(done, total)` follows an ATIF export episode by episode (a table is written in one go).

    Raises:
        ExportError: `fmt` is unknown, or `out` cannot be written (or lies among the run's recorded files).
        RunDirError: `run_dir` is not a run directory.
    """
    from simyard.platform.matrix import is_matrix
    from simyard.platform.rundir import open_run

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    out = Path(out)
    from simyard.platform.export.target import refuse_recorded_path, refuse_unfit_target

    if not is_matrix(run_dir):
        refuse_recorded_path(open_run(run_dir).path, out, holding=False)  # "which the run recorded" first
    refuse_unfit_target(out, folder=fmt == "atif")  # then a folder holding the run is "not empty", not "recorded"
    if is_matrix(run_dir):
        from simyard.platform.export.arms import export_matrix

        return export_matrix(Path(run_dir), fmt, out, progress)
    run = open_run(run_dir)
    refuse_recorded_path(run.path, out)
    if fmt == "atif":
        from simyard.platform.export.atif import export_atif

        return export_atif(run, out, progress)
    from simyard.platform.export.index_table import export_index

    return export_index(run, out, fmt)


__all__ = ["FORMATS", "ExportError", "ExportFormat", "ExportReport", "export_run"]
