"""`simyard env list|info|check`: the worlds simyard knows, one world described, one world checked."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from simyard.cli import render
from simyard.cli.common import (
    WorldOpt,
    console,
    describe_options,
    first_line,
    options_for_world,
    parse_options,
    positive,
)
from simyard.platform.errors import SimyardError, UnknownNameError

env_app = typer.Typer(help="The worlds: list them, describe one, check one against the contract.", no_args_is_help=True)


def load_error_text(error: SimyardError) -> Text:
    """What a listing shows for an entry that cannot be loaded (in red, never as markup)."""
    return Text(f"cannot load: {error.message}" + (f" — {error.hint}" if error.hint else ""), style="red")


@env_app.command("list")
def env_list() -> None:
    """List every world simyard knows, built-in or from installed plugins.

    Example: simyard env list
    """
    from simyard.platform import registry

    cells: list[list] = [["world", "from", "description"]]
    for name in registry.names("world"):
        try:
            description: str | Text = first_line(registry.world_class(name).__doc__)
        except SimyardError as error:
            description = load_error_text(error)
        cells.append([name, registry.origin("world", name), description])
    console.print(render.rich_table(cells))


@env_app.command("info")
def env_info(
    world: Annotated[str, typer.Argument(help="World name (see `simyard env list`).")],
    world_opt: WorldOpt = None,
) -> None:
    """Describe a world: what it is, its options, actions and views, and an example task.

    Example: simyard env info frozenlake
    """
    from simyard.platform import registry

    cls = registry.world_class(world)
    console.print(Text(world, style="bold") + Text(f" ({registry.origin('world', world)}): "
                                                   f"{(cls.__doc__ or '').strip()}"))
    if cls.views:
        console.print(f"views: {', '.join(cls.views)}", markup=False)
    options = describe_options(cls)
    if options:
        console.print("options (--world-opt key=value):", markup=False)
        for option in options:
            console.print(f"  {option.name}: {option.type or 'any'} = {option.default}  {option.description}",
                          markup=False)
    env = registry.make(world, **options_for_world(parse_options(world_opt, "--world-opt"), world))
    try:
        task = cls.sample_task(0)
        observation = env.reset(task, seed=0)
        spec = env.action_spec()
        console.print(f"actions: {spec.kind}" + (f" ({len(spec.choices)} choices)" if spec.choices else ""),
                      markup=False)
        if spec.help:
            console.print(f"action help: {spec.help}", markup=False)
        console.print(f"example task: {task.id}  subset={task.subset}  max_steps={task.max_steps}", markup=False)
        console.print(f"instruction: {task.instruction}", markup=False)
        console.print("first observation:", markup=False)
        console.print(observation.text, markup=False)
    except NotImplementedError:
        console.print("(this world generates no tasks itself; see the suites that use it)", markup=False)
    finally:
        env.close()


@env_app.command("check")
def env_check(
    world: Annotated[str, typer.Argument(help="World name to check against the contract.")],
    suite: Annotated[str | None, typer.Option(help="Take the tasks to check from this suite.")] = None,
    sample: Annotated[int, typer.Option(help="How many tasks to check (at least 1).", callback=positive(
        "--sample", "check at least one task, e.g. --sample 3"))] = 5,
    world_opt: WorldOpt = None,
) -> None:
    """Check a world against simyard's contract: types, determinism, bad actions, oracle, close.

    Every world the checker builds gets the --world-opt options. Exit code 1 when a check failed.

    Example: simyard env check sokoban --sample 3

    Example: simyard env check frozenlake --world-opt tile_px=32
    """
    from simyard.platform import registry
    from simyard.testing.conformance import check_world, format_report

    world_options = options_for_world(parse_options(world_opt, "--world-opt"), world)
    registry.world_class(world)  # an unknown name is a user error, reported before any check runs
    tasks = None
    if suite:
        every = registry.load_suite(suite)
        tasks = [task for task in every if task.world == world][:sample]
        if not tasks:
            worlds = ", ".join(sorted({task.world for task in every}))
            raise UnknownNameError(f"suite {suite!r} has no tasks for world {world!r}",
                                   hint=f"its worlds are: {worlds}")
    results = check_world(world, tasks=tasks, sample=sample, world_options=world_options)
    console.print(format_report(results))
    failed = [result for result in results if not result.passed]
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed", markup=False)
    raise typer.Exit(1 if failed else 0)
