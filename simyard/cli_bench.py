"""`simyard bench run|report|compare`: benchmark an agent on a suite, read a run, compare two runs.

The commands are thin: they parse options, call `platform.bench.run_bench` / `platform.metrics`, and render. User
mistakes are raised as `SimyardError`s, which simyard's CLI turns into one line plus a hint (exit code 2).
"""

from __future__ import annotations

import csv
import io
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from simyard.cli_common import (
    ApiKeyEnvOpt,
    BaseUrlOpt,
    ModelOpt,
    console,
    err_console,
    parse_options,
    with_model_flags,
)
from simyard.platform.bench import BenchProgress, default_run_dir, run_bench
from simyard.platform.episode import Limits
from simyard.platform.metrics import Comparison, GroupStats, compare, summarize
from simyard.platform.runlog import RunDir, open_run

bench_app = typer.Typer(
    help="Benchmark agents on task suites: run (and resume), report, compare.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    """How `report` and `compare` print: a rich table, or a format other programs read."""

    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"


# ------------------------------------------------------------------------------------------------------- run


@bench_app.command("run")
def run_command(
    suite: Annotated[str | None, typer.Argument(help="Suite name or task file (.jsonl/.json/.yaml); omit with "
                                                     "--resume.", show_default=False)] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Registered agent name.")] = None,
    agent_opt: Annotated[list[str] | None, typer.Option("--agent-opt", "-o", help="Agent option key=value "
                                                        "(repeatable; values parse as JSON when they can).")] = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes; 1 runs in this process.", min=1)] = 1,
    concurrency: Annotated[int, typer.Option(help="Episodes in flight per worker (async agents).", min=1)] = 1,
    limit: Annotated[int | None, typer.Option(help="Run only the first N tasks.", min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed; episode seeds derive from it and the task id.",
                                             show_default="0")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to create.",
                                             show_default="runs/<suite>-<agent>-<time>")] = None,
    resume: Annotated[Path | None, typer.Option(help="Finish an interrupted run in this directory.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Cap on steps per episode (overrides tasks).", min=1)] = None,
    max_invalid: Annotated[int | None, typer.Option(help="Cap on invalid actions per episode.", min=1)] = None,
    time_limit: Annotated[float | None, typer.Option(help="Wall-clock seconds per episode.", min=0)] = None,
    imports: Annotated[list[str] | None, typer.Option("--import", help="Plugin module or .py file that registers "
                                                      "worlds/agents/suites (repeatable).")] = None,
    frames: Annotated[bool | None, typer.Option("--frames/--no-frames", help="Save observation images as PNG.",
                                                show_default="when the world has images")] = None,
) -> None:
    """Run an agent on every task of a suite and record a resumable run directory.

    Example:

        simyard bench run ragen --agent oracle --workers 2 --limit 20

        simyard bench run --resume runs/ragen-oracle-20250101-120000
    """
    options = with_model_flags(parse_options(agent_opt) if agent_opt else None, base_url, model, api_key_env)
    limits = None
    if (max_steps, max_invalid, time_limit) != (None, None, None):
        limits = Limits(max_steps=max_steps, max_invalid=max_invalid, time_limit_s=time_limit)
    if resume is None and out is None and suite and agent:
        out = default_run_dir(suite, agent)  # chosen here, so an interrupted run can name its --resume path
    where = resume if resume is not None else out
    with _BenchProgressBar(err_console) as bar:
        try:
            summary = run_bench(suite, agent, options, workers=workers, concurrency=concurrency, limit=limit,
                                seed=seed, out=out, resume=resume, limits=limits, imports=imports or (),
                                save_frames=frames, progress=bar.update)
        except KeyboardInterrupt:
            bar.stop()
            done = len(RunDir(Path(str(where))).results()) if where is not None else 0
            typer.echo(f"interrupted with {done} episodes recorded; resume with: "
                       f"simyard bench run --resume {where}", err=True)
            raise typer.Exit(130) from None
    console.print(_stats_table(summarize(summary.results), title=f"{summary.run_dir}"))
    console.print(f"{summary.added} episodes run, {summary.skipped} already recorded; status {summary.status}. "
                  f"Report: simyard bench report {summary.run_dir}", markup=False)


class _BenchProgressBar:
    """A rich progress bar fed by `run_bench`'s progress callback: done/total, success so far, rate, ETA."""

    def __init__(self, console: Any) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("success {task.fields[success]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task_id: Any = None

    def __enter__(self) -> _BenchProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.progress.stop()

    def update(self, event: BenchProgress) -> None:
        success = f"{event.successes}/{event.done}" + (f" ({event.successes / event.done:.0%})" if event.done else "")
        rate = f"{event.added / event.elapsed_s:.1f} ep/s" if event.added and event.elapsed_s > 0 else "- ep/s"
        description = "stopping: finishing episodes in flight (Ctrl-C again to kill)" if event.stopping else "bench"
        if self.task_id is None:
            self.task_id = self.progress.add_task(description, total=event.total, completed=event.done,
                                                  success=success, rate=rate)
            return
        self.progress.update(self.task_id, completed=event.done, description=description, success=success, rate=rate)


# ---------------------------------------------------------------------------------------------------- report


@bench_app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `simyard bench run`.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Print a run's results per world and subset: success with 95% CI, progress, invalid actions, tokens.

    Example:

        simyard bench report runs/ragen-oracle-20250101-120000 --format markdown
    """
    run = open_run(run_dir)
    manifest = run.manifest
    results = run.results()
    rows = summarize(results)
    header = {
        "run": str(run.path),
        "suite": manifest.config.suite,
        "agent": manifest.config.agent,
        "agent_options": manifest.config.agent_options,
        "seed": manifest.config.seed,
        "status": manifest.status,
        "episodes": len(results),
        "total": manifest.tasks_total,
    }
    if format is OutputFormat.json:
        typer.echo(json.dumps({"run": header, "rows": [_jsonable(row.to_dict()) for row in rows]}, indent=2))
    elif format is OutputFormat.csv:
        typer.echo(_csv([row.to_dict() for row in rows]), nl=False)
    elif format is OutputFormat.markdown:
        typer.echo(f"**{header['agent']}** on **{header['suite']}**: {len(results)}/{manifest.tasks_total} episodes, "
                   f"{manifest.status}\n")
        typer.echo(_markdown(_stats_cells(rows)))
    else:
        title = (f"{header['agent']} on {header['suite']} — {len(results)}/{manifest.tasks_total} episodes, "
                 f"{manifest.status}")
        console.print(_stats_table(rows, title=title))


# --------------------------------------------------------------------------------------------------- compare


@bench_app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The baseline run directory (A).")],
    run_b: Annotated[Path, typer.Argument(help="The run compared against it (B); differences are B - A.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the progress test.", min=100)] = 10_000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Compare two runs task by task: McNemar's exact test on success, a paired bootstrap on progress.

    Example:

        simyard bench compare runs/ragen-random-20250101 runs/ragen-openai-20250102 --format markdown
    """
    comparison = compare(open_run(run_a), open_run(run_b), resamples=resamples, seed=seed)
    if format is OutputFormat.json:
        typer.echo(json.dumps(_jsonable(comparison.to_dict()), indent=2))
    elif format is OutputFormat.csv:
        typer.echo(_csv([row.to_dict() for row in comparison.rows], columns=_COMPARE_COLUMNS), nl=False)
    elif format is OutputFormat.markdown:
        typer.echo(f"A = {comparison.label_a}, B = {comparison.label_b}; {_pairing_line(comparison)}\n")
        typer.echo(_markdown(_compare_cells(comparison)))
        for note in comparison.notes:
            typer.echo(f"\n_{note}_")
    else:
        table = Table(title=Text(f"B = {comparison.label_b}  vs  A = {comparison.label_a}"))
        cells = _compare_cells(comparison)
        for column in cells[0] if cells else []:
            table.add_column(column, justify="left" if column in ("group", "verdict") else "right")
        for row in cells[1:]:
            table.add_row(*map(Text, row))
        console.print(table)
        console.print(_pairing_line(comparison), markup=False)
        for note in comparison.notes:
            console.print(Text(note, style="dim"))


def _pairing_line(comparison: Comparison) -> str:
    return (f"{comparison.shared} shared (task, seed) pairs; {comparison.only_in_a} only in A, "
            f"{comparison.only_in_b} only in B")


# ------------------------------------------------------------------------------------------------- rendering

_COMPARE_COLUMNS = ["group", "name", "n", "success_a", "success_b", "success_diff", "only_a", "only_b", "success_p",
                    "success_verdict", "progress_a", "progress_b", "progress_diff", "progress_low", "progress_high",
                    "progress_p", "progress_verdict"]


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def _interval(low: float, high: float, percent: bool) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low * 100:.1f}, {high * 100:.1f}]" if percent else f"[{low:.2f}, {high:.2f}]"


def _num(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _label(row: GroupStats | Any) -> str:
    return "all" if row.group == "all" else f"{row.group}: {row.name}"


def _stats_cells(rows: list[GroupStats]) -> list[list[str]]:
    """Report rows as display strings, header first (shared by the rich table and markdown).

    Token and cost columns appear only when some episode used a model or was priced, so model-free runs stay narrow.
    """
    tokens = any(row.prompt_tokens or row.completion_tokens for row in rows)
    cost = any(row.cost_usd is not None for row in rows)
    header = ["group", "n", "success [95% CI]", "progress [95% CI]", "invalid", "steps/ep"]
    header += ["tokens in/out"] * tokens + ["cost $"] * cost + ["errors"]
    cells = [header]
    for row in rows:
        line = [
            _label(row),
            str(row.n),
            f"{_pct(row.success_rate)} {_interval(row.success_low, row.success_high, percent=True)}",
            f"{_num(row.progress_mean)} {_interval(row.progress_low, row.progress_high, percent=False)}",
            _pct(row.invalid_rate),
            _num(row.mean_steps, 1),
        ]
        line += [f"{row.prompt_tokens}/{row.completion_tokens}"] * tokens
        line += ["-" if row.cost_usd is None else f"{row.cost_usd:.4f}"] * cost
        cells.append([*line, str(row.errors)])
    return cells


def _stats_table(rows: list[GroupStats], title: str) -> Table:
    table = Table(title=Text(title))
    cells = _stats_cells(rows)
    for column in cells[0]:
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in cells[1:]:
        table.add_row(*map(Text, row))
    return table


def _compare_cells(comparison: Comparison) -> list[list[str]]:
    cells = [["group", "n", "success A→B", "A/B only", "p", "verdict", "progress Δ [95% CI]", "p", "verdict"]]
    for row in comparison.rows:
        cells.append([
            _label(row),
            str(row.n),
            f"{_pct(row.success_a)}→{_pct(row.success_b)}",
            f"{row.only_a}/{row.only_b}",
            _p(row.success_p),
            row.success_verdict,
            f"{row.progress_diff:+.2f} {_interval(row.progress_low, row.progress_high, percent=False)}",
            _p(row.progress_p),
            row.progress_verdict,
        ])
    return cells


def _markdown(cells: list[list[str]]) -> str:
    def line(row: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"

    header, *body = cells
    return "\n".join([line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, body)])


def _csv(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or (list(rows[0]) if rows else list(GroupStats.__dataclass_fields__))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if _is_nan(row.get(key)) or row.get(key) is None else row.get(key)
                         for key in columns})
    return buffer.getvalue()


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _jsonable(value: Any) -> Any:
    """NaN becomes null: JSON has no NaN, and strict parsers reject Python's."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return None if _is_nan(value) else value
