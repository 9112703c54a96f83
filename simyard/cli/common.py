"""Pieces every CLI command shares: the console, option parsing and checks, and the one place user errors print.

Text that comes from users, worlds or models is data: it is printed with `markup=False` or as `rich.text.Text`, never
interpolated into a markup string, so `[/red]` in an instruction or a model reply prints as typed.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console

from simyard.platform.errors import SimyardError

# Piped output (CI logs, files) gets wide tables rather than rich's 80-column default; COLUMNS still wins.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(highlight=False, width=_PIPED_WIDTH)
err_console = Console(stderr=True, highlight=False)

#: The exit codes of `episode run` and `bench run`, shown in their --help.
EXIT_CODES_HELP = (
    "Exit codes: 0 every episode completed; 1 an episode ended in an error (bench run: every episode, or any "
    "with --strict); 2 a user error (bad option, unknown name, bad file); 130 interrupted (Ctrl-C)."
)


def parse_options(pairs: list[str] | None, flag: str = "--agent-opt") -> dict[str, Any]:
    """Turn `key=value` strings into a dict; values that read as JSON (numbers, true, lists) become that type."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            example = _EXAMPLES.get(flag, "key=value")
            raise SimyardError(f"{flag} {pair!r} is not key=value", hint=f"write e.g. {flag} {example}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


_EXAMPLES = {"--agent-opt": "temperature=0.5", "--world-opt": "size=[8,8]"}


BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="Model endpoint for API agents "
                                                "(same as --agent-opt base_url=URL).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name for API agents (--agent-opt model=NAME).")]
ApiKeyEnvOpt = Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding the API key "
                                                  "(--agent-opt api_key_env=VAR; default OPENAI_API_KEY).")]
WorldOpt = Annotated[list[str] | None, typer.Option("--world-opt", help="World constructor option key=value "
                                                    "(repeatable; values parse as JSON when they can).")]


def with_model_flags(options: dict[str, Any] | None, base_url: str | None, model: str | None,
                     api_key_env: str | None) -> dict[str, Any] | None:
    """Fold the --base-url/--model/--api-key-env shortcuts into the agent options (the flags win)."""
    flags = {"base_url": base_url, "model": model, "api_key_env": api_key_env}
    given = {key: value for key, value in flags.items() if value is not None}
    return {**(options or {}), **given} if given or options else options


def report_user_error(error: SimyardError) -> int:
    """Print a user mistake as one line plus its hint (never as markup); returns the CLI's exit code for it."""
    line = f"error: {error.message}"
    if error.hint:
        line += f" — {error.hint}"
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 2


# ------------------------------------------------------------------------------------------- option checks


def positive(flag: str, hint: str, kind: type = int) -> Callable[[Any], Any]:
    """A typer callback that refuses zero and negative values of `flag` with a one-line error (exit code 2)."""
    noun = "a positive whole number" if kind is int else "a positive number of seconds"

    def check(value: Any) -> Any:
        if value is not None and not value > 0:
            raise SimyardError(f"{flag} must be {noun}, got {value:g}", hint=hint)
        return value

    return check


def bounded(flag: str, low: int, high: int) -> Callable[[Any], Any]:
    """A typer callback that refuses values of `flag` outside `low..high` with a one-line error."""

    def check(value: Any) -> Any:
        if value is not None and not low <= value <= high:
            raise SimyardError(f"{flag} must be between {low:,} and {high:,}, got {value:,}",
                               hint=f"pass a value in {low:,}..{high:,}")
        return value

    return check


def first_line(text: str | None) -> str:
    """The first non-empty line of a docstring or instruction ('' for none)."""
    stripped = (text or "").strip()
    return stripped.splitlines()[0] if stripped else ""


# ------------------------------------------------------------------------------ factory options from docs


@dataclass(frozen=True)
class OptionDoc:
    """One keyword option of an agent factory or world class: what `agents info` shows."""

    name: str
    type: str
    default: str
    description: str


def describe_options(factory: Any) -> list[OptionDoc]:
    """The keyword options of a class or function: names, types and defaults from its signature, descriptions from
    the Google-style `Args:` section of its docstring (the class's, then `__init__`'s)."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    docs = parse_args_section(inspect.getdoc(factory) or "")
    if inspect.isclass(factory):
        docs = {**parse_args_section(inspect.getdoc(target) or ""), **docs}
    options = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or parameter.name == "self":
            continue
        annotation = parameter.annotation
        if annotation is parameter.empty:
            kind = ""
        else:
            kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
        default = "(required)" if parameter.default is parameter.empty else repr(parameter.default)
        options.append(OptionDoc(parameter.name, str(kind), default, docs.get(parameter.name, "")))
    return options


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Keyword Args|Keyword Arguments):\s*$")
_OTHER_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}[A-Za-z_]\w*)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_args_section(doc: str) -> dict[str, str]:
    """`{name: description}` from a Google-style docstring's Args section (continuation lines joined)."""
    found: dict[str, str] = {}
    lines = doc.splitlines()
    inside, arg_indent, current = False, None, None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if _SECTION.match(stripped) and indent == 0:
            inside, arg_indent, current = True, None, None
            continue
        if not inside:
            continue
        if not stripped:
            continue
        if indent == 0 and _OTHER_SECTION.match(stripped):
            inside = False
            continue
        if arg_indent is None:
            arg_indent = indent
        match = _ARG_LINE.match(stripped)
        if indent == arg_indent and match:
            current = match.group(1).lstrip("*")
            found[current] = match.group(3).strip()
        elif indent > arg_indent and current is not None:
            found[current] = f"{found[current]} {stripped}".strip()
        elif indent < arg_indent:
            inside = False
    return found


def options_for_world(options: dict[str, Any], world: str) -> dict[str, Any]:
    """The --world-opt options of one world: `key` applies to every world, `WORLD.key` to that world only (as in
    `bench run`, which uses the same rule), so one command line works for both."""
    from simyard.platform.lanes import options_for

    return options_for(world, options)
