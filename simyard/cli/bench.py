"""`simyard bench run|report|compare`: benchmark an agent on a suite, read a run, compare two runs.

The commands are thin: they parse options, call `platform.bench.run_bench` / `platform.metrics`, and render with
`simyard.cli.render`. User mistakes are raised as `SimyardError`s, which `simyard.cli.main` turns into one line plus
a hint (exit code 2).
"""

from __future__ import annotations

import json
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from simyard.cli import render
from simyard.cli.common import (
    EXIT_CODES_HELP,
    ApiKeyEnvOpt,
    BaseUrlOpt,
    ModelOpt,
    bounded,
    console,
    err_console,
    parse_options,
    positive,
    with_model_flags,
)
from simyard.cli.tasks import DataOpt, SuiteOpt, suite_options
from simyard.platform.errors import RunDirError, SimyardError

if TYPE_CHECKING:  # the bench machinery is imported when a bench command runs, not for every `simyard ...`
    from simyard.platform.bench import BenchProgress
    from simyard.platform.episode import EpisodeResult
    from simyard.platform.metrics import Comparison
    from simyard.platform.rundir import RunDir

bench_app = typer.Typer(
    help="Benchmark agents on task suites: run (and resume), report, compare.",
    no_args_is_help=True,
)

#: Bounds on `bench compare --resamples`: fewer makes p-values meaningless, more exhausts memory.
RESAMPLES_RANGE = (100, 1_000_000)


class ExecutorKind(StrEnum):
    """Where `bench run` runs episodes: this machine's processes, or actors on a Ray cluster."""

    local = "local"
    ray = "ray"


class OutputFormat(StrEnum):
    """How `report` and `compare` print: a rich table, or a format other programs read."""

    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"


def existing_run(path: Path, flag: str = "") -> RunDir:
    """`open_run`, with a clear word for the common slip of naming a file (run.json, results.jsonl) instead."""
    from simyard.platform.rundir import RUN_FILE, open_run

    if path.is_file():
        inside = path.parent if path.name == RUN_FILE or path.parent.joinpath(RUN_FILE).is_file() else None
        hint = (f"pass the directory that holds it: {inside}" if inside is not None
                else "pass the directory `simyard bench run` created (it holds run.json)")
        raise RunDirError(f"{flag + ' ' if flag else ''}{path} is a file, not a run directory", hint=hint)
    return open_run(path)


def errored(results: list[EpisodeResult]) -> list[EpisodeResult]:
    """Episodes that did not end normally (any status but `completed`)."""
    return [result for result in results if result.status != "completed"]


def most_common_error(results: list[EpisodeResult]) -> str:
    """The most frequent error of errored episodes, as `status: message (N episodes)`."""
    counts = Counter(f"{result.status}: {_one_line(result.error or 'no message')}" for result in results)
    text, count = counts.most_common(1)[0]
    return f"{text} ({count} episode{'s' * (count != 1)})"


def resume_command(where: Any, workers: str = "1", concurrency: str = "1", max_concurrency: int | None = None) -> str:
    """The command that resumes a run with the session's counts: a resume otherwise runs with the defaults (one
    worker), which on a Ray cluster would be one actor where the run had many."""
    flags = [f"--workers {workers}" if str(workers) != "1" else "",
             f"--concurrency {concurrency}" if str(concurrency) != "1" else "",
             f"--max-concurrency {max_concurrency}" if max_concurrency is not None else ""]
    return " ".join(["simyard bench run --resume", str(where), *filter(None, flags)])


def _say_resume_reruns(results: list[EpisodeResult], command: str) -> None:
    """Episodes lost to the infrastructure (a node, a busy world server) count for nobody: say why, and that a
    resume runs exactly them again, so `status failed` is never the only hint."""
    lost = [result for result in results if result.status == "infra_error"]
    if lost:
        err_console.print(f"{len(lost)} episode{'s' * (len(lost) != 1)} failed on the infrastructure, not by the "
                          f"agent; most common: {most_common_error(lost)}. Run them again with: {command}",
                          markup=False, highlight=False, soft_wrap=True)


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------------------- run


@bench_app.command("run", epilog=EXIT_CODES_HELP)
def run_command(
    suite: Annotated[str | None, typer.Argument(help="Suite name or task file (.jsonl/.json/.yaml); omit with "
                                                     "--resume.", show_default=False)] = None,
    agent: Annotated[list[str] | None, typer.Option("--agent", "-a", help="Registered agent name (see `simyard "
                                                    "agents list`); repeat it for a matrix run, one arm per "
                                                    "agent.")] = None,
    agent_opt: Annotated[list[str] | None, typer.Option("--agent-opt", "-o", help="Agent option key=value "
                                                        "(repeatable; values parse as JSON when they can).")] = None,
    world_opt: Annotated[list[str] | None, typer.Option("--world-opt", help="World constructor option key=value for "
                                                        "every world of the run, or WORLD.key=value for one "
                                                        "(repeatable; values parse as JSON when they can).")] = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    workers: Annotated[str, typer.Option(help="Worker processes; 1 runs in this process; auto: the machine's "
                                         "cores (fewer when memory is short), or with --executor ray as many "
                                         "actors as the cluster's nodes hold.")] = "1",
    concurrency: Annotated[str, typer.Option(help="Episodes in flight per worker, one lane each (slow worlds and "
                                             "blocking agents run on their lane's thread); auto: start from the "
                                             "cores, then grow and shrink with measured headroom, model latency "
                                             "and 429s (logged in concurrency.jsonl).")] = "1",
    max_concurrency: Annotated[int | None, typer.Option("--max-concurrency", help="Ceiling on episodes in flight "
                                                        "over all workers (for auto counts).", show_default="32",
                                                        callback=positive("--max-concurrency",
                                                                          "omit it for the default 32"))] = None,
    matrix: Annotated[Path | None, typer.Option("--matrix", help="YAML run file listing agents x suites x options: "
                                                "one arm each, in one run directory.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show each concurrency decision as it is "
                                          "made.")] = False,
    limit: Annotated[int | None, typer.Option(help="Run only the first N tasks.", callback=positive(
        "--limit", "omit it to run every task"))] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed; episode seeds derive from it and the task id.",
                                             show_default="0")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to create.",
                                             show_default="runs/<suite>-<agent>-<time>")] = None,
    resume: Annotated[Path | None, typer.Option(help="Finish an interrupted run in this directory.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Cap on steps per episode (overrides tasks).",
                                                  callback=positive("--max-steps", "omit it to use each "
                                                                    "task's own cap"))] = None,
    max_invalid: Annotated[int | None, typer.Option(help="Cap on invalid actions per episode.", callback=positive(
        "--max-invalid", "omit it to use each task's own cap"))] = None,
    time_limit: Annotated[float | None, typer.Option(help="Wall-clock seconds per episode.", callback=positive(
        "--time-limit", "omit it for no time limit", kind=float))] = None,
    imports: Annotated[list[str] | None, typer.Option("--import", help="Plugin module or .py file that registers "
                                                      "worlds/agents/suites (repeatable).")] = None,
    frames: Annotated[str | None, typer.Option("--frames", help="Which observation images to save as PNG: all, "
                                               "every:N, final or none.",
                                               show_default="all, when the world has images")] = None,
    no_frames: Annotated[bool, typer.Option("--no-frames", help="Same as --frames none.")] = False,
    video: Annotated[bool, typer.Option("--video", help="Also write one video per episode and view "
                                        "(MP4, or an animated GIF where no encoder is present).")] = False,
    reply_cap: Annotated[int | None, typer.Option("--reply-cap", help="Characters of each model reply kept in "
                                                  "trajectories (the full length is recorded).",
                                                  show_default="65536")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any episode ended in an error (by default "
                                         "only when every episode did).")] = False,
    data: DataOpt = None,
    suite_opt: SuiteOpt = None,
    executor: Annotated[ExecutorKind | None, typer.Option(
        "--executor", help="Where episodes run: local (this machine's processes) or ray (--workers actors on a Ray "
        "cluster; needs the ray extra); --resume reuses the run's own.", show_default="local")] = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="The Ray cluster's HOST:PORT (its GCS port, 6379 by default); it must answer within 15 s. "
        "Without it a local Ray is started; --resume reuses the run's own.")] = None,
) -> None:
    """Run an agent on every task of a suite and record a resumable run directory.

    Example:

        simyard bench run ragen --agent oracle --workers 2 --limit 20

        simyard bench run ragen --agent random --world-opt tile_px=32 --strict

        simyard bench run my-tasks.jsonl --agent openai --concurrency 8 --frames every:5 --video

        simyard bench run --resume runs/ragen-oracle-20250101-120000

        simyard bench run ragen --agent oracle --executor ray --address 127.0.0.1:6379 --workers 8

        simyard bench run ragen --agent openai --model qwen-0.5b,qwen-7b --limit 50   # a matrix: one arm per model

        simyard bench run --matrix run.yaml --concurrency auto --max-concurrency 64 -v
    """
    from simyard.platform.matrix import cli_arms, is_matrix

    agents = agent or []
    if verbose:
        _show_decisions()
    options = with_model_flags(parse_options(agent_opt) if agent_opt else None, base_url, model, api_key_env)
    world_options = parse_options(world_opt, "--world-opt") if world_opt else None
    given_suite_options = suite_options(data, suite_opt)
    arms, shared = None, {}
    if imports and resume is None and (matrix is not None or len(agents) > 1 or "," in str(options or "")):
        from simyard.platform.plugins import import_plugins, normalise_imports

        import_plugins(normalise_imports(imports))  # plugin agents must be known before the arms are checked
    if matrix is not None:
        from simyard.platform.matrix import read_matrix_file

        if agents or resume is not None:
            raise SimyardError("--matrix lists the agents itself and cannot be combined with --agent or --resume",
                               hint="drop --agent (list agents in the file), or resume with --resume RUN alone")
        arms, shared = read_matrix_file(matrix, suite)
    elif resume is None:
        arms, options = cli_arms(suite, agents, options)
    if arms is not None or (resume is not None and is_matrix(resume)):
        _run_matrix(arms, shared, suite, out, resume, options if matrix is not None else None, strict,
                    {"workers": workers, "concurrency": concurrency, "max_concurrency": max_concurrency,
                     "executor": executor.value if executor is not None else None, "address": address},
                    limit=limit, seed=seed, limits=_limits(max_steps, max_invalid, time_limit), imports=imports,
                    frames="none" if no_frames else frames, video=video or None, reply_cap=reply_cap,
                    world_options=world_options, suite_options=given_suite_options)
        return
    agent_name = agents[0] if agents else None
    if resume is not None:
        if out is not None:
            raise SimyardError(f"--out {out} cannot be used with --resume: a resumed run stays in its own directory",
                               hint=f"drop --out to continue {resume}, or drop --resume to start a new run in {out}")
        existing_run(resume, "--resume")

    from simyard.platform.bench import default_run_dir, run_bench
    from simyard.platform.metrics import summarize
    from simyard.platform.rundir import RunDir

    limits = _limits(max_steps, max_invalid, time_limit)
    if resume is None and out is None and suite and agent_name:
        out = default_run_dir(suite, agent_name)  # chosen here, so an interrupted run can name its --resume path
    where = resume if resume is not None else out
    with _BenchProgressBar(err_console) as bar:
        try:
            summary = run_bench(suite, agent_name, options, workers=workers, concurrency=concurrency,
                                max_concurrency=max_concurrency, limit=limit,
                                seed=seed, out=out, resume=resume, limits=limits, imports=imports or (),
                                frames="none" if no_frames else frames, video=video or None,
                                reply_cap=reply_cap, progress=bar.update, world_options=world_options,
                                suite_options=given_suite_options,
                                executor=executor.value if executor is not None else None, address=address)
        except KeyboardInterrupt:
            bar.stop()
            done = len(RunDir(Path(str(where))).results()) if where is not None else 0
            typer.echo(f"interrupted with {done} episodes recorded; resume with: "
                       f"{resume_command(where, workers, concurrency, max_concurrency)}", err=True)
            raise typer.Exit(130) from None
    console.print(render.stats_table(summarize(summary.results), title=f"{summary.run_dir}"))
    console.print(f"{summary.added} episodes run, {summary.skipped} already recorded; status {summary.status}. "
                  f"Report: simyard bench report {summary.run_dir}", markup=False)
    _say_resume_reruns(summary.results, resume_command(summary.run_dir, workers, concurrency, max_concurrency))
    failed = errored(summary.results)
    if failed and (strict or len(failed) == len(summary.results)):
        how_many = "every episode" if len(failed) == len(summary.results) else f"{len(failed)} of " \
                                                                                 f"{len(summary.results)} episodes"
        err_console.print(f"error: {how_many} ended in an error; most common: {most_common_error(failed)}",
                          markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _limits(max_steps: int | None, max_invalid: int | None, time_limit: float | None) -> Any:
    if (max_steps, max_invalid, time_limit) == (None, None, None):
        return None
    from simyard.platform.episode import Limits

    return Limits(max_steps=max_steps, max_invalid=max_invalid, time_limit_s=time_limit)


def _show_decisions() -> None:
    """`-v`: concurrency decisions on stderr as they are made (they are always written to concurrency.jsonl)."""
    import logging

    from rich.logging import RichHandler

    logger = logging.getLogger("simyard.adaptive")
    logger.setLevel(logging.INFO)
    logger.addHandler(RichHandler(console=err_console, show_path=False, markup=False))


def _run_matrix(arms: Any, shared: dict[str, Any], suite: str | None, out: Path | None, resume: Path | None,
                file_options: dict[str, Any] | None, strict: bool, session: dict[str, Any], **options: Any) -> None:
    """`bench run` with several agents or models, or --matrix: each arm in turn, then the matrix report.

    `session` holds what may change between sessions (workers, concurrency, executor); `options` are recorded for
    every arm in matrix.json, so a resume cannot change them."""
    from dataclasses import asdict, replace

    from simyard.platform import rundir
    from simyard.platform.matrix import run_matrix

    if resume is not None:
        given = [name for name, value in options.items() if value not in (None, [], (), {})]
        if given or suite:
            raise SimyardError(f"cannot change a matrix run's options on resume ({', '.join(given) or 'suite'})",
                               hint=f"resume with `simyard bench run --resume {resume}` alone")
    else:
        if file_options:  # --agent-opt with --matrix: under every arm's own options
            arms = [replace(arm, agent_options={**file_options, **arm.agent_options}) for arm in arms]
        limits = options.pop("limits")
        shared = {**shared, **{key: value for key, value in options.items() if value is not None}}
        if limits is not None:
            shared["limits"] = asdict(limits)
        if shared.get("imports"):
            shared["imports"] = list(shared["imports"])
        out = out or rundir.default_run_dir(f"{Path(suite).stem if suite else 'run'}-matrix")
    where = resume if resume is not None else out
    counts = {name: session[name] for name in ("workers", "concurrency", "max_concurrency")}
    bars: list[_BenchProgressBar] = []

    def on_arm(arm: Any, number: int, count: int) -> Any:
        if bars:
            bars[-1].stop()
        bars.append(_BenchProgressBar(err_console, label=f"{arm.name} ({number}/{count})"))
        return bars[-1].update

    try:
        outcomes = run_matrix(arms, out, resume=resume, shared=shared, on_arm=on_arm, **session)
    except KeyboardInterrupt:
        for bar in bars:
            bar.stop()
        typer.echo(f"interrupted; resume the matrix with: {resume_command(where, **counts)}", err=True)
        raise typer.Exit(130) from None
    finally:
        for bar in bars:
            bar.stop()
    _print_matrix(Path(str(where)), OutputFormat.table)
    ran = sum(outcome.summary.added for outcome in outcomes if outcome.summary is not None)
    console.print(f"{len(outcomes)} arms, {ran} episodes run. Report: simyard bench report {where}", markup=False)
    _say_resume_reruns([row for outcome in outcomes if outcome.summary is not None
                        for row in outcome.summary.results], resume_command(where, **counts))
    failed = [row for outcome in outcomes if outcome.summary is not None for row in errored(outcome.summary.results)]
    if failed and strict:
        err_console.print(f"error: {len(failed)} episodes ended in an error; most common: "
                          f"{most_common_error(failed)}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _print_matrix(path: Path, format: OutputFormat) -> None:
    """The matrix report: a row per arm, a column per world/subset (success with its 95% interval)."""
    from simyard.platform.matrix import matrix_report, success_cell

    columns, rows = matrix_report(path)
    if format is OutputFormat.json:
        typer.echo(json.dumps({"run": str(path), "columns": columns, "arms": [
            {"arm": row.arm.name, "agent": row.arm.agent, "agent_options": row.arm.agent_options,
             "suite": row.arm.suite, "status": row.status, "all": render.jsonable(row.overall.to_dict()),
             "columns": {name: render.jsonable(stats.to_dict()) for name, stats in row.columns.items()}}
            for row in rows]}, indent=2))
        return
    if format is OutputFormat.csv:
        records = [{"arm": row.arm.name, "agent": row.arm.agent, "column": name,
                    **{key: value for key, value in stats.to_dict().items() if key != "metrics"}}
                   for row in rows for name, stats in [("all", row.overall), *sorted(row.columns.items())]]
        typer.echo(render.csv_text(records), nl=False)
        return
    cells = [["arm", "agent", "status", "all", *columns]]
    cells += [[row.arm.name, row.arm.agent, row.status, success_cell(row.overall),
               *(success_cell(row.columns.get(name)) for name in columns)] for row in rows]
    if format is OutputFormat.markdown:
        typer.echo(f"**matrix** {path}: success, 95% Wilson interval, episodes\n")
        typer.echo(render.markdown(cells))
    else:
        console.print(render.rich_table(cells, title=f"{path} — success [95% CI] n", left=("arm", "agent", "status")))


class _BenchProgressBar:
    """A rich progress bar fed by `run_bench`'s progress callback: done/total, success so far, rate, ETA."""

    def __init__(self, console: Any, label: str = "bench") -> None:
        self.label = label
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
        # Started at the first event, not here: until then this process has one thread, so the run's first workers
        # can be forked (ready in milliseconds) rather than spawned (see PoolExecutor.start).
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def update(self, event: BenchProgress) -> None:
        if not self.progress.live.is_started:
            self.progress.start()
        success = f"{event.successes}/{event.done}" + (f" ({event.successes / event.done:.0%})" if event.done else "")
        rate = f"{event.added / event.elapsed_s:.1f} ep/s" if event.added and event.elapsed_s > 0 else "- ep/s"
        description = ("stopping: finishing episodes in flight (Ctrl-C again to kill)" if event.stopping
                       else self.label)
        if self.task_id is None:
            self.task_id = self.progress.add_task(description, total=event.total, completed=event.done,
                                                  success=success, rate=rate)
            return
        self.progress.update(self.task_id, completed=event.done, description=description, success=success, rate=rate)


# ---------------------------------------------------------------------------------------------------- report


@bench_app.command("report")
def report_command(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories made by `simyard bench run` (each "
                                                        "reported in turn; with --plot, one bar group each).")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw success per subset with 95% Wilson "
                                              "intervals, one bar group per run (or matrix arm), into this "
                                              ".png, .svg or .pdf.", show_default=False)] = None,
) -> None:
    """Print a run's results per world and subset: success with 95% CI, progress, invalid actions, tokens.

    Worlds that report their own metrics (syncmind: localisation, turns by kind, balance) get one column each, and
    rows per label they give (syncmind: setting caller/callee, mode independent/collaborative).

    Example:

        simyard bench report runs/ragen-oracle-20250101-120000 --format markdown

        simyard bench report runs/ragen-matrix-20250101-120000    # a matrix: a row per arm, a column per subset

        simyard bench report runs/ragen-random-20250101 runs/ragen-oracle-20250101 --plot success.png
    """
    if plot is not None:
        from simyard.cli.plots import plot_runs

        drawn = plot_runs(run_dirs, plot)
        err_console.print(f"plot: {len(drawn.groups)} bar groups x {len(drawn.subsets)} subsets in {drawn.path}",
                          markup=False, highlight=False)
    for run_dir in run_dirs:
        _report_one(run_dir, format)


def _report_one(run_dir: Path, format: OutputFormat) -> None:
    from simyard.platform.matrix import is_matrix
    from simyard.platform.metrics import summarize

    if is_matrix(run_dir):
        _print_matrix(run_dir, format)
        return
    run = existing_run(run_dir)
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
        typer.echo(json.dumps({"run": header, "rows": [render.jsonable(row.to_dict()) for row in rows]}, indent=2))
    elif format is OutputFormat.csv:
        typer.echo(render.csv_text(*render.stats_records(rows)), nl=False)
    elif format is OutputFormat.markdown:
        typer.echo(f"**{header['agent']}** on **{header['suite']}**: {len(results)}/{manifest.tasks_total} episodes, "
                   f"{manifest.status}\n")
        typer.echo(render.markdown(render.stats_cells(rows)))
    else:
        title = (f"{header['agent']} on {header['suite']} — {len(results)}/{manifest.tasks_total} episodes, "
                 f"{manifest.status}")
        console.print(render.stats_table(rows, title=title))


# --------------------------------------------------------------------------------------------------- compare


@bench_app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The baseline run directory (A), or a matrix run with --arms.")],
    run_b: Annotated[Path | None, typer.Argument(help="The run compared against it (B); differences are B - A.",
                                                 show_default=False)] = None,
    arms: Annotated[tuple[str, str] | None, typer.Option("--arms", help="With a matrix run: the two arms to "
                                                         "compare, A then B.", show_default=False)] = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    resamples: Annotated[int, typer.Option(help=f"Bootstrap resamples for the progress test "
                                                f"({RESAMPLES_RANGE[0]:,}..{RESAMPLES_RANGE[1]:,}).",
                                           callback=bounded("--resamples", *RESAMPLES_RANGE))] = 10_000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Compare two runs task by task: McNemar's exact test on success, a paired bootstrap on progress.

    Example:

        simyard bench compare runs/ragen-random-20250101 runs/ragen-openai-20250102 --format markdown

        simyard bench compare runs/ragen-matrix-20250101 --arms openai-qwen-0.5b openai-qwen-7b
    """
    from simyard.platform.matrix import find_arm, is_matrix
    from simyard.platform.metrics import compare

    if arms is not None:
        if run_b is not None or not is_matrix(run_a):
            raise SimyardError(f"--arms needs one matrix run directory{'' if run_b is None else ', not two runs'}",
                               hint="e.g. simyard bench compare runs/my-matrix --arms random oracle")
        run_a, run_b = find_arm(run_a, arms[0]), find_arm(run_a, arms[1])
    elif run_b is None:
        raise SimyardError("compare needs two runs, or one matrix run with --arms A B",
                           hint="e.g. simyard bench compare runs/a runs/b, or runs/my-matrix --arms a b")
    comparison = compare(existing_run(run_a), existing_run(run_b), resamples=resamples, seed=seed)
    if format is OutputFormat.json:
        typer.echo(json.dumps(render.jsonable(comparison.to_dict()), indent=2))
    elif format is OutputFormat.csv:
        typer.echo(render.csv_text([row.to_dict() for row in comparison.rows], columns=render.COMPARE_COLUMNS),
                   nl=False)
    elif format is OutputFormat.markdown:
        typer.echo(f"A = {comparison.label_a}, B = {comparison.label_b}; {_pairing_line(comparison)}\n")
        typer.echo(render.markdown(render.compare_cells(comparison)))
        for note in comparison.notes:
            typer.echo(f"\n_{note}_")
    else:
        title = f"B = {comparison.label_b}  vs  A = {comparison.label_a}"
        console.print(render.rich_table(render.compare_cells(comparison), title=title, left=("group", "verdict")))
        console.print(_pairing_line(comparison), markup=False)
        for note in comparison.notes:
            console.print(Text(note, style="dim"))


def _pairing_line(comparison: Comparison) -> str:
    return (f"{comparison.shared} shared (task, seed) pairs; {comparison.only_in_a} only in A, "
            f"{comparison.only_in_b} only in B")
