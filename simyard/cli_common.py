"""Pieces every CLI command shares: the console, option parsing, and the one place user errors are printed."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from simyard.platform.errors import SimyardError

# Piped output (CI logs, files) gets wide tables rather than rich's 80-column default; COLUMNS still wins.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(highlight=False, width=_PIPED_WIDTH)
err_console = Console(stderr=True, highlight=False)


def parse_options(pairs: list[str] | None, flag: str = "--agent-opt") -> dict[str, Any]:
    """Turn `key=value` strings into a dict; values that read as JSON (numbers, true, lists) become that type."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SimyardError(f"{flag} {pair!r} is not key=value", hint=f"write e.g. {flag} temperature=0.5")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="Model endpoint for API agents "
                                                "(same as --agent-opt base_url=URL).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name for API agents (--agent-opt model=NAME).")]
ApiKeyEnvOpt = Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding the API key "
                                                  "(--agent-opt api_key_env=VAR; default OPENAI_API_KEY).")]


def with_model_flags(options: dict[str, Any] | None, base_url: str | None, model: str | None,
                     api_key_env: str | None) -> dict[str, Any] | None:
    """Fold the --base-url/--model/--api-key-env shortcuts into the agent options (the flags win)."""
    flags = {"base_url": base_url, "model": model, "api_key_env": api_key_env}
    given = {key: value for key, value in flags.items() if value is not None}
    return {**(options or {}), **given} if given or options else options


def report_user_error(error: SimyardError) -> int:
    """Print a user mistake as one line plus its hint; returns the CLI's exit code for it."""
    line = f"error: {error.message}"
    if error.hint:
        line += f" — {error.hint}"
    err_console.print(line, markup=False, soft_wrap=True)
    return 2
