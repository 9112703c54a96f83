"""`simyard bench export|rescore`: a run's data for other tools, and its scores recomputed without re-running.

Both commands only read the run: an export writes where `--out` says, a rescore writes a new index beside the old
one. The work lives in `simyard.platform.export` and `simyard.platform.rescore`; this module parses and prints.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from simyard.cli.bench import bench_app, existing_run
from simyard.cli.common import console, err_console

if TYPE_CHECKING:
    from simyard.platform.rescore import RescoreReport

#: Changed episodes listed one per row; the rest are counted.
SHOWN_CHANGES = 50


class ExportFormat(StrEnum):
    """What `bench export` writes."""

    parquet = "parquet"
    csv = "csv"
    atif = "atif"


@bench_app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `simyard bench run` (a matrix run "
                                            "exports every arm).")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="parquet or csv (the results index, one "
                                                 "row per episode), or atif (one trajectory.json per episode).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write (parquet, csv), or a new or empty "
                                      "folder (atif).")],
) -> None:
    """Export a run for other tools: the results index as Parquet or CSV (pandas, polars), trajectories as ATIF.

    Parquet and CSV keep types (numbers, booleans, nulls; the world's metrics as a JSON string). ATIF is the
    Agent Trajectory Interchange Format of Harbor (ATIF-v1.6): steps with their source, messages, tool calls and
    observations, token ids and log-probabilities, final metrics, and frames copied beside each file and referenced
    by relative path. A damaged run exports what can be read and names what it skipped. A matrix run exports
    every arm: one table whose `run` column says `<matrix>/<arm>`, or one ATIF folder per arm.

    Example:

        simyard bench export runs/ragen-oracle-20250101-120000 --format parquet --out ragen.parquet

        simyard bench export runs/pair --format atif --out pair-atif      # a matrix: pair-atif/<arm>/...
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from simyard.platform.export import export_run
    from simyard.platform.matrix import is_matrix

    if not is_matrix(run_dir):
        existing_run(run_dir)
    with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("export", total=None)
        report = export_run(run_dir, format.value, out,
                            progress=lambda done, total: bar.update(task, completed=done, total=total))
    unit = "trajectories" if format is ExportFormat.atif else "rows"
    line = Text(f"Wrote {report.written} {unit} to {report.out}")
    if report.frames:
        line.append(f" with {report.frames} frame files")
    console.print(line)
    _say_skipped(report.skipped)


@bench_app.command("rescore")
def rescore_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `simyard bench run` (a matrix run "
                                            "rescores every arm).")],
) -> None:
    """Recompute each episode's success and progress with the current metric code, without running the agent.

    Worlds whose success is a function of what was recorded (the RAGEN puzzles and the household worlds replay the
    recorded actions) are rescored; the others are named and their rows copied unchanged. The new index goes beside
    the old one (results.rescored.jsonl, then -2, -3, ...); results.jsonl is never touched. Prints the episodes whose
    score changed and the summary before and after. A matrix run is rescored arm by arm, each arm's new index in
    its own directory.

    Example:

        simyard bench rescore runs/ragen-oracle-20250101-120000

        simyard bench rescore runs/pair          # a matrix: each arm in turn
    """
    from simyard.platform.matrix import arm_dir, is_matrix, read_plan
    from simyard.platform.rundir import RUN_FILE

    if not is_matrix(run_dir):
        existing_run(run_dir)
        _rescore_one(run_dir)
        return
    arms = read_plan(run_dir).arms
    for arm in arms:
        where = arm_dir(run_dir, arm.name)
        console.rule(Text(f"arm {arm.name} ({where})"))
        if not (where / RUN_FILE).is_file():
            err_console.print(Text(f"not rescored: arm {arm.name} has not started yet (no {RUN_FILE})"))
            continue
        _rescore_one(where)


def _rescore_one(run_dir: Path) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from simyard.platform.rescore import rescore_run

    with Progress(TextColumn("rescoring"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("rescore", total=None)
        report = rescore_run(run_dir, progress=lambda done, total: bar.update(task, completed=done, total=total))
    _print_rescore(report)


def _print_rescore(report: RescoreReport) -> None:
    console.print(Text(f"Rescored {report.rescored} of {len(report.before)} episodes; "
                       f"{len(report.changes)} changed. New index: {report.index}"))
    if report.changes:
        table = Table(title="Changed episodes")
        for column in ("task", "seed", "world", "success", "progress"):
            table.add_column(column, justify="right" if column in ("seed", "progress") else "left")
        for change in report.changes[:SHOWN_CHANGES]:
            before, after = change.before, change.after
            table.add_row(Text(before.task_id), str(before.seed), Text(before.world),
                          f"{_yes(before.success)} -> {_yes(after.success)}",
                          f"{float(before.progress or 0.0):.3f} -> {after.progress:.3f}")
        console.print(table)
        if len(report.changes) > SHOWN_CHANGES:
            console.print(f"... and {len(report.changes) - SHOWN_CHANGES} more (compare the two index files)")
    console.print(_summary_table(report))
    for world, count in sorted(report.unsupported.items()):
        err_console.print(Text(f"not rescored: world {world!r} ({count} episode{'s' * (count != 1)}) has no "
                               "rescore hook (Env.rescore); its rows are copied unchanged"))
    for line in report.failed:
        err_console.print(Text(f"not rescored: {line}; its row is copied unchanged"))
    _say_skipped(report.skipped)


def _summary_table(report: RescoreReport) -> Table:
    """Success and progress per group, before and after, from the same metric code that `bench report` uses."""
    from simyard.platform.metrics import summarize

    table = Table(title="Before and after")
    for column in ("group", "n", "success before", "success after", "progress before", "progress after"):
        table.add_column(column, justify="left" if column == "group" else "right")
    after_rows = {(row.group, row.name): row for row in summarize(report.after)}
    for before in summarize(report.before):
        after = after_rows.get((before.group, before.name))
        if after is None:
            continue
        name = before.name if before.group == "all" else f"{before.group}: {before.name}"
        table.add_row(Text(name), str(before.n), f"{before.success_rate:.1%}", f"{after.success_rate:.1%}",
                      f"{before.progress_mean:.3f}", f"{after.progress_mean:.3f}")
    return table


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _say_skipped(skipped: list[str]) -> None:
    for line in skipped:
        err_console.print(Text(f"skipped: {line}"))
