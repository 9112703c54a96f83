"""Pieces every CLI command shares: the console, option parsing, and the one place user errors are printed."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from simyard.platform.errors import SimyardError

console = Console(highlight=False)
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


def report_user_error(error: SimyardError) -> int:
    """Print a user mistake as one line plus its hint; returns the CLI's exit code for it."""
    line = f"error: {error.message}"
    if error.hint:
        line += f" — {error.hint}"
    err_console.print(line, markup=False, soft_wrap=True)
    return 2
