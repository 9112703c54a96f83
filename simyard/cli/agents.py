"""`simyard agents list|info`: the agents simyard knows and the options each one takes."""

from __future__ import annotations

import inspect
from typing import Annotated

import typer
from rich.text import Text

from simyard.cli import render
from simyard.cli.common import console, describe_options, first_line
from simyard.platform.errors import SimyardError

agents_app = typer.Typer(help="The agents: list them, or show one's options.", no_args_is_help=True)


@agents_app.command("list")
def agents_list() -> None:
    """List every agent simyard knows, built-in or from installed plugins.

    Example: simyard agents list
    """
    from simyard.cli.env import load_error_text
    from simyard.platform import registry

    cells: list[list] = [["agent", "from", "description"]]
    for name in registry.names("agent"):
        try:
            description: str | Text = first_line(inspect.getdoc(registry.agent_factory(name)))
        except SimyardError as error:
            description = load_error_text(error)
        cells.append([name, registry.origin("agent", name), description])
    console.print(render.rich_table(cells))


@agents_app.command("info")
def agents_info(name: Annotated[str, typer.Argument(help="Agent name (see `simyard agents list`).")]) -> None:
    """Describe an agent and its options (name, type, default, description), as `--agent-opt key=value` takes them.

    Example: simyard agents info openai
    """
    from simyard.platform import registry

    factory = registry.agent_factory(name)
    doc = inspect.getdoc(factory) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    console.print(Text(name, style="bold") + Text(f" ({registry.origin('agent', name)})" +
                                                  (f": {summary}" if summary else "")))
    # `resources` is the worker's shared scope, handed over by the registry, never a user's --agent-opt
    options = [option for option in describe_options(factory) if option.name != "resources"]
    if not options:
        console.print("options: none", markup=False)
    else:
        cells = [["option", "type", "default", "description"]]
        cells += [[option.name, option.type, option.default, option.description] for option in options]
        console.print(render.rich_table(cells, title="options (--agent-opt key=value)"))
    example = f" --agent-opt {options[0].name}=VALUE" if options else ""
    console.print(f"example: simyard episode run sokoban --agent {name}{example}", markup=False)
