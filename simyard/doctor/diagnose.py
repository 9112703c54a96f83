"""One doctor run: the checks, then the goldens this machine can play, and the verdict (the exit code).

A golden whose needs are not `ok` is skipped with the check's reason and fix, never failed: a machine without
Docker is not broken. The run fails (exit code 1) when a golden differs, or when a needed check is `failed`
(present but broken); needed means every check when all worlds are asked for, and only the checks the selected
goldens need under `--world`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simyard.doctor.checks import Check, all_checks, available, run_check
from simyard.doctor.golden import NEED_FIXES, GoldenResult, load_goldens, play
from simyard.platform.errors import UnknownNameError


@dataclass
class Diagnosis:
    """What `simyard doctor` found: every check, every golden's result, and which checks the verdict counts."""

    checks: list[Check] = field(default_factory=list)
    goldens: list[GoldenResult] = field(default_factory=list)
    needed: set[str] = field(default_factory=set)

    @property
    def broken_checks(self) -> list[Check]:
        return [check for check in self.checks if check.status == "failed" and check.name in self.needed]

    @property
    def exit_code(self) -> int:
        failed = any(result.status == "failed" for result in self.goldens)
        return 1 if failed or self.broken_checks else 0


def select_goldens(goldens: list[dict[str, Any]], quick: bool, worlds: list[str] | None) -> list[dict[str, Any]]:
    """The goldens to play: those of `worlds` when given (all of theirs), else the quick ones with `quick`.

    Raises:
        UnknownNameError: a world no golden covers.
    """
    if worlds:
        known = sorted({golden["world"] for golden in goldens})
        unknown = sorted(set(worlds) - set(known))
        if unknown:
            raise UnknownNameError(f"no golden episode for world {', '.join(map(repr, unknown))}",
                                   hint=f"worlds with goldens: {', '.join(known)}")
        return [golden for golden in goldens if golden["world"] in worlds]
    return [golden for golden in goldens if golden["quick"]] if quick else goldens


def diagnose(
    quick: bool = False,
    worlds: list[str] | None = None,
    golden_folder: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Diagnosis:
    """Run every check, then play the selected goldens; `progress` is told what is being done now."""
    selected = select_goldens(load_goldens(golden_folder), quick, worlds)
    diagnosis = Diagnosis()
    say = progress or (lambda text: None)
    checks = all_checks(quick)
    for number, (name, check) in enumerate(checks, start=1):
        say(f"checking {name} ({number}/{len(checks)})")
        diagnosis.checks.extend(run_check(name, check))
    by_need = available(diagnosis.checks)
    needs = {need for golden in selected for need in golden["needs"]}
    diagnosis.needed = {check.name for check in diagnosis.checks} if not worlds else {
        check.name for need, check in by_need.items() if need in needs}
    stack = _stack(by_need)
    for number, golden in enumerate(selected, start=1):
        say(f"playing golden {golden['name']} ({number}/{len(selected)})")
        diagnosis.goldens.append(_skipped(golden, by_need) or play(golden, stack))
    return diagnosis


def _stack(by_need: dict[str, Check]) -> dict[str, Any] | None:
    render = by_need.get("render")
    if render is None or render.status != "ok":
        return None
    from simyard.doctor.stack import gl_stack

    return gl_stack("auto")


def _skipped(golden: dict[str, Any], by_need: dict[str, Check]) -> GoldenResult | None:
    for need in golden["needs"]:
        check = by_need.get(need)
        if check is None or check.status != "ok":
            detail = f"{check.name} {check.status}: {check.detail}" if check else f"nothing here provides {need!r}"
            fix = check.fix if check else NEED_FIXES.get(need, "")
            return GoldenResult(golden["name"], golden["world"], "skipped", reason=f"needs {need} ({detail})", fix=fix)
    return None
