"""`simyard doctor`: what this machine can run, and whether this install reproduces the golden episodes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from simyard.cli.common import console, err_console

if TYPE_CHECKING:
    from simyard.doctor.checks import Check
    from simyard.doctor.diagnose import Diagnosis
    from simyard.doctor.golden import GoldenResult

_STYLES = {"ok": "green", "passed": "green", "missing": "yellow", "skipped": "yellow", "failed": "bold red"}


def doctor(
    quick: Annotated[bool, typer.Option("--quick", help="Cheap checks (no container or cluster start-up) and, "
                                        "without --world, only the quick goldens (puzzles, a household episode, a "
                                        "navigation episode with frames).")] = False,
    world: Annotated[list[str] | None, typer.Option("--world", help="Play all of this world's goldens and no others "
                                                    "(repeatable); only the checks they need decide the exit "
                                                    "code.")] = None,
    goldens: Annotated[Path | None, typer.Option("--goldens", help="A folder of golden files to play instead of "
                                                 "the shipped ones (as written by python -m "
                                                 "simyard.doctor.make_golden --out DIR).")] = None,
) -> None:
    """Check what each world and backend needs on this machine (MuJoCo rendering through OSMesa or EGL,
    bubblewrap, Docker and simyard's base image, torch and CUDA, transformers, Ray, chromium), then replay the
    golden episodes shipped with simyard and compare every step's reward, flags, feedback and frames with the
    recording. Each problem is shown with its fix; worlds whose requirements are missing are skipped, not failed.
    Run it first after installing.

    Exit codes: 0 every golden that could run reproduced; 1 a golden differed or a needed check is broken; 2 bad input.

    Example:

        simyard doctor --quick

        simyard doctor --world navigation --world manipulation
    """
    from simyard.doctor.diagnose import diagnose

    with err_console.status("checking this machine...") as status:
        diagnosis = diagnose(
            quick=quick,
            worlds=world,
            golden_folder=goldens,
            progress=lambda text: status.update(Text(text)),
        )
    console.print(_checks_table(diagnosis.checks, diagnosis.needed))
    console.print(_goldens_table(diagnosis.goldens))
    console.print(_verdict(diagnosis))
    raise typer.Exit(diagnosis.exit_code)


def _status(word: str) -> Text:
    return Text(word, style=_STYLES.get(word, ""))


def _checks_table(checks: list[Check], needed: set[str]) -> Table:
    table = Table(title="What this machine has", title_justify="left")
    for column in ("check", "status", "found", "used by", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        name = Text(check.name + ("" if check.name in needed else " (not needed)"))
        table.add_row(name, _status(check.status), Text(check.detail), Text(check.used_by), Text(check.fix))
    return table


def _goldens_table(results: list[GoldenResult]) -> Table:
    table = Table(title="Golden episodes", title_justify="left")
    for column in ("golden", "world", "result", "steps", "compared", "what differed / why", "fix"):
        table.add_column(column, overflow="fold")
    for result in results:
        table.add_row(Text(result.name), Text(result.world), _status(result.status), str(result.steps),
                      Text(result.comparison), Text(result.reason), Text(result.fix))
    return table


def _verdict(diagnosis: Diagnosis) -> Text:
    counts = {word: sum(result.status == word for result in diagnosis.goldens)
              for word in ("passed", "failed", "skipped")}
    summary = f"{counts['passed']} golden(s) reproduced, {counts['failed']} failed, {counts['skipped']} skipped"
    broken = [check.name for check in diagnosis.broken_checks]
    if broken:
        summary += f"; broken: {', '.join(broken)}"
    return Text(("FAILED: " if diagnosis.exit_code else "OK: ") + summary,
                style="bold red" if diagnosis.exit_code else "bold green")
