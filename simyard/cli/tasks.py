"""`simyard tasks list|show`: the tasks of a suite or task file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from simyard.cli import render
from simyard.cli.common import console, first_line, parse_options, positive

tasks_app = typer.Typer(help="Task suites: list their tasks and show one.", no_args_is_help=True)

#: `--data PATH`: the data folder a suite reads (EmbodiedBench's EB-ALFRED folder for `eb-alfred`).
DataOpt = Annotated[str | None, typer.Option("--data", help="Data folder the suite reads its tasks from "
                                             "(same as --suite-opt data=PATH).")]
SuiteOpt = Annotated[list[str] | None, typer.Option("--suite-opt", help="Suite option key=value (repeatable; "
                                                    "values parse as JSON when they can).")]


def suite_options(data: str | None, suite_opt: list[str] | None) -> dict[str, Any]:
    """The suite options of a command line: `--suite-opt` pairs, with `--data` folded in as `data`."""
    options = parse_options(suite_opt, "--suite-opt")
    if data is not None:
        options["data"] = str(Path(data).resolve())  # so run.json names the folder wherever a resume starts
    return options


@tasks_app.command("list")
def tasks_list(
    suite: Annotated[str, typer.Argument(help="Suite name (e.g. ragen, see `simyard suites list`) or a task file.")],
    world: Annotated[str | None, typer.Option(help="Only tasks of this world.")] = None,
    subset: Annotated[str | None, typer.Option(help="Only tasks of this subset.")] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most this many.", callback=positive(
        "--limit", "omit it to list every task"))] = None,
    data: DataOpt = None,
    suite_opt: SuiteOpt = None,
) -> None:
    """List the tasks of a suite, with a count per world and subset.

    Example: simyard tasks list ragen --world sokoban --limit 5

    Example: simyard tasks list eb-alfred --data ~/EmbodiedBench/embodiedbench/envs/eb_alfred/data
    """
    from simyard.platform import registry

    every = registry.load_suite(suite, suite_options(data, suite_opt))
    tasks = [t for t in every if (world in (None, t.world)) and (subset in (None, t.subset))]
    cells = [["id", "world", "subset", "max steps", "instruction"]]
    for task in tasks[:limit]:
        cells.append([task.id, task.world, task.subset, str(task.max_steps), first_line(task.instruction)[:60]])
    table = render.rich_table(cells, left=("id", "world", "subset", "instruction"))
    console.print(table)
    counts = Counter((task.world, task.subset) for task in tasks)
    summary = ", ".join(f"{w}/{s}: {n}" for (w, s), n in sorted(counts.items()))
    shown = f"{min(limit, len(tasks))} of " if limit is not None and limit < len(tasks) else ""
    console.print(Text(f"{shown}{len(tasks)} tasks ({summary})"))


@tasks_app.command("show")
def tasks_show(
    suite: Annotated[str, typer.Argument(help="Suite name or task file.")],
    task_id: Annotated[str, typer.Argument(help="Task id (see `simyard tasks list SUITE`).")],
    data: DataOpt = None,
    suite_opt: SuiteOpt = None,
) -> None:
    """Show one task in full, as JSON.

    Example: simyard tasks show ragen sokoban-6x6-1b-000
    """
    from simyard.platform import registry

    task = registry.find_task(registry.load_suite(suite, suite_options(data, suite_opt)), task_id, suite)
    typer.echo(json.dumps(task.model_dump(), indent=2, ensure_ascii=False))
