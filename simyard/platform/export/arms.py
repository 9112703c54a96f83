"""A matrix run exported whole: every arm's rows in one table (Parquet or CSV), or one ATIF folder per arm.

Rows are told apart by their `run` column, `<matrix>/<arm>` (and `agent`), the label the report, the plot and the
viewer give an arm; ATIF trajectories go to `<out>/<arm>/<episode>/trajectory.json`. An arm that has not started
(no run.json yet) is named in the report's skipped lines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from simyard.platform.export import ExportError, ExportReport
from simyard.platform.export.target import refuse_recorded_path


def export_matrix(matrix_dir: Path, fmt: str, out: Path,
                  progress: Callable[[int, int], None] | None = None) -> ExportReport:
    """Export every started arm of the matrix run `matrix_dir` to `out` (see the module's docstring)."""
    from simyard.platform.matrix import ARMS_DIR, MATRIX_FILE, arm_dir, read_plan
    from simyard.platform.rundir import RUN_FILE, open_run

    target = out.resolve()
    for recorded in (matrix_dir / MATRIX_FILE, matrix_dir / ARMS_DIR):
        recorded = recorded.resolve()
        if target == recorded or recorded.is_relative_to(target) or target.is_relative_to(recorded):
            raise ExportError(f"{out} would overwrite {recorded}, which the matrix run recorded",
                              hint="pick an --out in a folder you can write to, outside the run's recorded files")
    arms, skipped = [], []
    for arm in read_plan(matrix_dir).arms:
        where = arm_dir(matrix_dir, arm.name)
        if not (where / RUN_FILE).is_file():
            skipped.append(f"arm {arm.name}: not started yet (no {RUN_FILE} in {where})")
            continue
        run = open_run(where)
        refuse_recorded_path(run.path, out)
        arms.append((arm.name, run))
    if not arms:
        raise ExportError(f"{matrix_dir} is a matrix run whose arms have not started yet",
                          hint=f"resume it with `simyard bench run --resume {matrix_dir}`, then export it")
    label = matrix_dir.resolve().name
    if fmt == "atif":
        return _atif(arms, label, out, skipped, progress)
    return _index(arms, label, out, fmt, skipped)


def _index(arms: list[tuple[str, Any]], label: str, out: Path, fmt: str, skipped: list[str]) -> ExportReport:
    import pyarrow as pa

    from simyard.platform.export.index_table import results_table, write_index_table
    from simyard.platform.export.readable import readable_results

    tables = []
    for name, run in arms:
        results, problems = readable_results(run)
        skipped.extend(f"arm {name}: {problem}" for problem in problems)
        tables.append(results_table(results, agent=run.manifest.config.agent, run=f"{label}/{name}"))
    return write_index_table(pa.concat_tables(tables), out, fmt, skipped)


def _atif(arms: list[tuple[str, Any]], label: str, out: Path, skipped: list[str],
          progress: Callable[[int, int], None] | None) -> ExportReport:
    from simyard.platform.export.atif import _prepare_folder, export_atif

    _prepare_folder(out)
    report = ExportReport(out=out, skipped=skipped)
    for name, run in arms:
        part = export_atif(run, out / name, progress, label=f"{label}/{name}")
        report.written += part.written
        report.frames += part.frames
        report.skipped.extend(f"arm {name}: {line}" for line in part.skipped)
    return report
