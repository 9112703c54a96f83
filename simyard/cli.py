"""The `simyard` command: run one episode, benchmark many, inspect worlds and suites.

Every command catches `SimyardError` in `main` and prints one line plus a hint with exit code 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from simyard.cli_common import (
    ApiKeyEnvOpt,
    BaseUrlOpt,
    ModelOpt,
    console,
    parse_options,
    report_user_error,
    with_model_flags,
)
from simyard.platform.errors import SimyardError, UnknownNameError

app = typer.Typer(
    help="simyard: agents acting in sandboxed worlds through one step API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
episode_app = typer.Typer(help="Run one episode and watch it, or replay a recorded one.", no_args_is_help=True)
env_app = typer.Typer(help="The worlds: list them, describe one, check one against the contract.", no_args_is_help=True)
tasks_app = typer.Typer(help="Task suites: list their tasks and show one.", no_args_is_help=True)
app.add_typer(episode_app, name="episode")
app.add_typer(env_app, name="env")
app.add_typer(tasks_app, name="tasks")


def _add_bench() -> None:
    from simyard.cli_bench import bench_app

    app.add_typer(bench_app, name="bench")


_add_bench()

AgentOpt = Annotated[list[str] | None, typer.Option("--agent-opt", help="Agent option key=value (repeatable).")]


@episode_app.command("run")
def episode_run(
    world: Annotated[str, typer.Argument(help="World name (see `simyard env list`).")],
    agent: Annotated[str, typer.Option(help="human, random, oracle, openai, or a plugin's agent.")] = "human",
    task: Annotated[str | None, typer.Option(help="Task id (from --suite, or searched in every suite).")] = None,
    suite: Annotated[str | None, typer.Option(help="Suite name or task file to take the task from.")] = None,
    index: Annotated[int | None, typer.Option(help="Position among the suite's tasks of this world.")] = None,
    seed: Annotated[int, typer.Option(help="Episode seed (and the task generator's seed without --task/--suite).")] = 0,
    agent_opt: AgentOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    max_steps: Annotated[int | None, typer.Option(help="Override the task's step cap.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Wall-clock limit for the episode, seconds.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to record into (default runs/episode-...).")] = None,
) -> None:
    """Run one episode, printing each step as it happens, and record it.

    Example: simyard episode run sokoban --seed 3 --agent oracle
    """
    from simyard.cli_episode import run_interactive_episode

    options = with_model_flags(parse_options(agent_opt), base_url, model, api_key_env) or {}
    result = run_interactive_episode(world, agent, options, task, suite, index, seed, max_steps,
                                     time_limit, out)
    raise typer.Exit(0 if result.status == "completed" else 1)


@episode_app.command("replay")
def episode_replay(
    episode_dir: Annotated[Path, typer.Argument(help="An episode directory inside a run (runs/.../episodes/ID).")],
) -> None:
    """Print a recorded trajectory step by step.

    Example: simyard episode replay runs/episode-sokoban-20261125-101500/episodes/sokoban-seed3__s3
    """
    from simyard.cli_episode import replay_episode

    replay_episode(episode_dir)


@env_app.command("list")
def env_list() -> None:
    """List every world simyard knows, built-in or from installed plugins.

    Example: simyard env list
    """
    from rich.table import Table

    from simyard.platform import registry

    table = Table("world", "from", "description")
    for name in registry.names("world"):
        try:
            description = _first_line(registry.world_class(name).__doc__)
        except SimyardError as error:
            description = f"[red]cannot load: {error.message}[/red]"
        table.add_row(name, registry.origin("world", name), description)
    console.print(table)


@env_app.command("info")
def env_info(world: Annotated[str, typer.Argument(help="World name.")]) -> None:
    """Describe a world: what it is, its actions and views, and an example task.

    Example: simyard env info frozenlake
    """
    from simyard.platform import registry

    cls = registry.world_class(world)
    console.print(f"[bold]{world}[/bold] ({registry.origin('world', world)}): {(cls.__doc__ or '').strip()}")
    if cls.views:
        console.print(f"views: {', '.join(cls.views)}")
    env = cls()
    try:
        task = cls.sample_task(0)
        observation = env.reset(task, seed=0)
        spec = env.action_spec()
        console.print(f"actions: {spec.kind}" + (f" ({len(spec.choices)} choices)" if spec.choices else ""))
        if spec.help:
            console.print(f"action help: {spec.help}", markup=False)
        console.print(f"example task: {task.id}  subset={task.subset}  max_steps={task.max_steps}", markup=False)
        console.print(f"instruction: {task.instruction}", markup=False)
        console.print("first observation:", markup=False)
        console.print(observation.text, markup=False)
    except NotImplementedError:
        console.print("(this world generates no tasks itself; see the suites that use it)")
    finally:
        env.close()


@env_app.command("check")
def env_check(
    world: Annotated[str, typer.Argument(help="World name to check against the contract.")],
    suite: Annotated[str | None, typer.Option(help="Take the tasks to check from this suite.")] = None,
    sample: Annotated[int, typer.Option(help="How many tasks to check.")] = 5,
) -> None:
    """Check a world against simyard's contract: types, determinism, bad actions, oracle, close.

    Example: simyard env check sokoban --sample 3
    """
    from simyard.platform import registry
    from simyard.platform.conformance import check_world, format_report

    tasks = None
    if suite:
        tasks = [task for task in registry.load_suite(suite) if task.world == world][:sample]
        if not tasks:
            raise UnknownNameError(f"suite {suite!r} has no tasks for world {world!r}", hint="pick another suite")
    registry.world_class(world)  # an unknown name is a user error, reported before any check runs
    results = check_world(world, tasks=tasks, sample=sample)
    console.print(format_report(results))
    failed = [result for result in results if not result.passed]
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(1 if failed else 0)


@tasks_app.command("list")
def tasks_list(
    suite: Annotated[str, typer.Argument(help="Suite name (e.g. ragen) or a task file.")],
    world: Annotated[str | None, typer.Option(help="Only tasks of this world.")] = None,
    subset: Annotated[str | None, typer.Option(help="Only tasks of this subset.")] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = None,
) -> None:
    """List the tasks of a suite, with a count per world and subset.

    Example: simyard tasks list ragen --world sokoban --limit 5
    """
    from collections import Counter

    from rich.table import Table

    from simyard.platform import registry

    tasks = [t for t in registry.load_suite(suite) if (world in (None, t.world)) and (subset in (None, t.subset))]
    table = Table("id", "world", "subset", "max steps", "instruction")
    for task in tasks[:limit]:
        table.add_row(task.id, task.world, task.subset, str(task.max_steps), _first_line(task.instruction)[:60])
    console.print(table)
    counts = Counter((task.world, task.subset) for task in tasks)
    summary = ", ".join(f"{w}/{s}: {n}" for (w, s), n in sorted(counts.items()))
    console.print(f"{len(tasks)} tasks ({summary})", markup=False)


@tasks_app.command("show")
def tasks_show(
    suite: Annotated[str, typer.Argument(help="Suite name or task file.")],
    task_id: Annotated[str, typer.Argument(help="Task id (see `simyard tasks list SUITE`).")],
) -> None:
    """Show one task in full, as JSON.

    Example: simyard tasks show ragen sokoban-6x6-1b-000
    """
    from simyard.platform import registry

    task = registry.find_task(registry.load_suite(suite), task_id, suite)
    console.print_json(json.dumps(task.model_dump()))


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def main() -> None:
    """Entry point: run the app; user mistakes become one line and exit code 2."""
    try:
        app()
    except SimyardError as error:
        sys.exit(report_user_error(error))


if __name__ == "__main__":
    main()
