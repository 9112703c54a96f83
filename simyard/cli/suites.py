"""`simyard suites list|info`: the task suites simyard knows, and what one holds."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.text import Text

from simyard.cli import render
from simyard.cli.common import console, first_line
from simyard.platform.errors import SimyardError

suites_app = typer.Typer(help="Task suites: list them, or show what one holds.", no_args_is_help=True)


@suites_app.command("list")
def suites_list() -> None:
    """List every suite simyard knows (built-in or from installed plugins), with its size and worlds.

    Example: simyard suites list
    """
    from simyard.platform import registry

    cells: list[list] = [["suite", "from", "tasks", "worlds", "description"]]
    for name in registry.names("suite"):
        origin = registry.origin("suite", name)
        try:
            tasks = registry.load_suite(name)
        except SimyardError as error:
            from simyard.cli.env import load_error_text

            cells.append([name, origin, "-", "-", load_error_text(error)])
            continue
        worlds = ", ".join(sorted({task.world for task in tasks}))
        cells.append([name, origin, str(len(tasks)), worlds, _description(name)])
    console.print(render.rich_table(cells, left=("suite", "from", "worlds", "description")))


@suites_app.command("info")
def suites_info(
    name: Annotated[str, typer.Argument(help="Suite name (see `simyard suites list`) or a task file.")],
) -> None:
    """Describe a suite: how many tasks, which worlds, and the subsets of each world with their counts.

    Example: simyard suites info ragen
    """
    from simyard.platform import registry

    tasks = registry.load_suite(name)
    description = _description(name)
    console.print(Text(name, style="bold") + Text(f": {len(tasks)} tasks" + (f" — {description}"
                                                                              if description else "")))
    per_world = Counter(task.world for task in tasks)
    per_subset = Counter((task.world, task.subset) for task in tasks)
    cells = [["world", "subset", "tasks"]]
    for world in sorted(per_world):
        cells.append([world, "(all)", str(per_world[world])])
        for (w, subset), count in sorted(per_subset.items()):
            if w == world:
                cells.append([world, subset, str(count)])
    console.print(render.rich_table(cells, left=("world", "subset")))
    console.print(f"list them: simyard tasks list {name}", markup=False)


def _description(name: str) -> str:
    """The first line of a registered suite function's docstring ('' for task files)."""
    import inspect

    from simyard.platform import registry

    try:
        target = registry.suite_target(name)
    except SimyardError:
        return ""
    return first_line(inspect.getdoc(target)) if callable(target) else str(target)
