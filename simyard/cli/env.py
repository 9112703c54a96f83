"""`simyard env list|info|check|serve`: the worlds simyard knows, one described, one checked, one served."""

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

env_app = typer.Typer(help="The worlds: list them, describe one, check one against the contract, serve one.",
                      no_args_is_help=True)


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


@env_app.command("serve")
def env_serve(
    world: Annotated[str, typer.Argument(help="World to serve (see `simyard env list`; plugins with --import).")],
    world_opt: WorldOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to the network (no auth!).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one, printed at start).")] = 8000,
    max_sessions: Annotated[int, typer.Option(help="Sessions (one world each) at once; one more is answered busy "
                                              "(HTTP 503, a WebSocket CAPACITY_REACHED error).", callback=positive(
        "--max-sessions", "allow at least one session, e.g. --max-sessions 32"))] = 16,
    idle_timeout: Annotated[float, typer.Option("--idle-timeout", help="Seconds a session may sit unused before "
                                                "it and its world are closed (0: never).", min=0)] = 300.0,
    inline: Annotated[bool | None, typer.Option("--inline/--threads", help="Run world calls on the server's event "
                                                "loop, or on a thread per session; default: inline when the "
                                                "world's reset and step take under 1 ms at start-up.",
                                                show_default="auto")] = None,
    imports: Annotated[list[str] | None, typer.Option("--import", help="Plugin module or .py file that registers "
                                                      "worlds (repeatable).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: warning, info, debug.")] = "warning",
) -> None:
    """Serve a world over Meta OpenEnv's HTTP and WebSocket protocol, so any OpenEnv client (openenv-core's
    EnvClient, TRL, SkyRL, verl, ART) or simyard's `remote` world can play it: POST /reset, POST /step, GET /state,
    /schema, /health, /metadata, and /ws for persistent sessions, one world each. Images travel as PNG data URLs.
    Stop it with Ctrl-C.

    Example:

        simyard env serve sokoban --port 8100 --max-sessions 32

        simyard episode run remote --agent oracle --world-opt url=http://127.0.0.1:8100 --seed 3

        simyard env serve navigation --world-opt resolution=128 --idle-timeout 60
    """
    from simyard.cli.serve import _run_until_signal
    from simyard.envserve.app import EnvServer, uvicorn_server
    from simyard.platform.plugins import import_plugins
    from simyard.serve.http import listen_on, url_host

    if not 0 <= port <= 65535:
        raise SimyardError(f"--port {port} is not a port number", hint="use 1-65535, or 0 for a free one")
    import_plugins(imports or ())
    options = options_for_world(parse_options(world_opt, "--world-opt"), world)
    server = EnvServer(world, options, max_sessions=max_sessions, idle_timeout_s=idle_timeout or None,
                       inline=inline)
    sock = listen_on(host, port)
    sock.listen(2048)  # clients that read the banner and connect at once wait in the backlog, not refused
    try:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = url_host(bound_host)
        console.print(f"simyard env serve: {world!r} ({server.spec.kind} actions"
                      f"{', images' if server.views else ''}) at http://{shown}:{bound_port} "
                      f"(WebSocket ws://{shown}:{bound_port}/ws), up to {max_sessions} sessions, "
                      f"{server.threading}", markup=False)
        if host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"simyard env serve: listening on {host}: anyone who reaches it can use it (no auth)",
                          markup=False, style="yellow")
        import sys

        sys.stdout.flush()
        _run_until_signal(uvicorn_server(server, log_level=log_level), sock)
        console.print("simyard env serve: stopped", markup=False)
    finally:
        sock.close()
