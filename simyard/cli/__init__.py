"""The `simyard` command: run one episode, benchmark many, inspect worlds, agents, suites and tasks.

One module per command group (`episode`, `bench`, `env`, `tasks`, `agents`, `suites`); `common` holds option parsing
and the error line, `render` the tables. Every command's `SimyardError` is caught in `main` and printed as one line
plus a hint with exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from simyard.cli.common import report_user_error
from simyard.platform.errors import SimyardError

app = typer.Typer(
    help="simyard: agents acting in sandboxed worlds through one step API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _add_groups() -> None:
    from simyard.cli import bench_data  # noqa: F401 -- adds `bench export` and `bench rescore` to bench_app
    from simyard.cli.agents import agents_app
    from simyard.cli.bench import bench_app
    from simyard.cli.doctor import doctor
    from simyard.cli.env import env_app
    from simyard.cli.episode import episode_app
    from simyard.cli.model import model_app
    from simyard.cli.repos import repos_app
    from simyard.cli.serve import serve
    from simyard.cli.suites import suites_app
    from simyard.cli.tasks import tasks_app
    from simyard.cli.view import view

    app.add_typer(episode_app, name="episode")
    app.add_typer(env_app, name="env")
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(agents_app, name="agents")
    app.add_typer(suites_app, name="suites")
    app.add_typer(bench_app, name="bench")
    app.add_typer(repos_app, name="repos")
    app.add_typer(model_app, name="model")
    app.command("serve")(serve)
    app.command("doctor")(doctor)
    app.command("view")(view)


_add_groups()


def main() -> None:
    """Entry point: run the app; user mistakes become one line and exit code 2."""
    try:
        app()
    except SimyardError as error:
        sys.exit(report_user_error(error))


__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
