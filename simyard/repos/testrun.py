"""Running one pytest file in a workspace through a sandbox, and reading per-test outcomes from its output.

Shared by the scenario builder (gold and belief runs) and the `syncmind` world (a proposal's verification), so both
judge a run the same way. Outcomes come from pytest's own report lines (`-rA` short summary, `-v` lines as a
fallback), parsed from stdout: that works the same in every sandbox and needs no file written anywhere. The counts
are SyncBench's `gold_summary` / `original_summary` dict (`total, passed, xpassed, failed, xfailed, deselected,
skipped, warning, error`, with its `total` = passed + xfailed + failed + skipped + warning + error), kept so exported
instances compare with SyncBench's own.

The runner is anything with the `Sandbox.run(command, timeout_s=, env=)` method of `simyard.sandboxes.base`;
`make_runner` makes one through `simyard.sandboxes.factory.make_sandbox`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simyard.sandboxes.base import CommandResult, Limits

__all__ = [
    "SUMMARY_KEYS",
    "TestRun",
    "default_python",
    "error_log",
    "make_runner",
    "parse_outcomes",
    "parse_summary",
    "pytest_command",
    "pytest_env",
    "run_pytest",
]

#: SyncBench's summary keys, in its order.
SUMMARY_KEYS = ("total", "passed", "xpassed", "failed", "xfailed", "deselected", "skipped", "warning", "error")

#: Outcome words as pytest prints them -> ours.
_WORDS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped", "XFAIL": "xfailed",
          "XPASS": "xpassed"}
_SUMMARY_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+?::\S.*?)(?: - .*)?$")
_VERBOSE_LINE = re.compile(r"^(\S+?::\S.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)(?: \(.*\))?(?: +\[ *\d+%\])?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: SyncMind trims the log shown to the agent to about 12.8k characters.
LOG_CHARS = 12_800


@dataclass(frozen=True, slots=True)
class TestRun:
    """One pytest run of one file.

    Attributes:
        exit_code: pytest's exit code; None when killed at the deadline.
        outcomes: Node id -> `passed`, `failed`, `error`, `skipped`, `xfailed` or `xpassed`.
        summary: SyncBench's counts (see module docstring).
        log: stdout then stderr, as captured (truncated by the sandbox's output limit).
        timed_out: Killed at the deadline.
        duration_s: Wall time of the command.
    """

    __test__ = False  # not a pytest test class, whatever the name says

    exit_code: int | None
    outcomes: dict[str, str] = field(default_factory=dict)
    summary: dict[str, int] = field(default_factory=dict)
    log: str = ""
    timed_out: bool = False
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """Exit 0 with at least one test passed (SyncBench's condition on the gold run)."""
        return self.exit_code == 0 and not self.timed_out and any(v == "passed" for v in self.outcomes.values())

    @property
    def failed(self) -> bool:
        """A non-zero exit or a timeout (SyncBench's fail-to-pass condition on the belief run)."""
        return self.exit_code != 0 or self.timed_out

    def passing(self) -> list[str]:
        return sorted(node for node, outcome in self.outcomes.items() if outcome == "passed")


def pytest_command(test_file: str, python: str | None = None, extra_args: Sequence[str] = ()) -> list[str]:
    """The argv that runs one test file: verbose lines and a full short summary (`-rA`), no cache directory
    written into the workspace, no colour."""
    return [python or sys.executable, "-m", "pytest", "-rA", "-v", "-p", "no:cacheprovider", "--color=no",
            "-o", "console_output_style=classic", *extra_args, test_file]


def pytest_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a test run: the repository root and `src/` importable without installing, no bytecode
    written into the workspace, a fixed hash seed."""
    return {"PYTHONPATH": ".:src", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", **(extra or {})}


def run_pytest(runner, test_file: str, *, timeout_s: float = 120.0, python: str | None = None,
               extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> TestRun:
    """Run `test_file` (relative to the runner's workspace) and parse what happened."""
    result: CommandResult = runner.run(pytest_command(test_file, python, extra_args), timeout_s=timeout_s,
                                       env=pytest_env(env))
    log = result.stdout + (("\n" + result.stderr) if result.stderr.strip() else "")
    return TestRun(exit_code=None if result.timed_out else result.exit_code, outcomes=parse_outcomes(result.stdout),
                   summary=parse_summary(result.stdout), log=log, timed_out=result.timed_out,
                   duration_s=result.duration_s)


def parse_outcomes(stdout: str) -> dict[str, str]:
    """Node id -> outcome from pytest's `-rA` short summary (or its `-v` lines when there is no summary).

    A test whose call passed but whose teardown errored appears twice; the worse outcome (error) wins.
    """
    text = _ANSI.sub("", stdout)
    outcomes: dict[str, str] = {}
    in_summary = False
    for line in text.splitlines():
        if "short test summary info" in line:
            in_summary = True
            continue
        if in_summary:
            match = _SUMMARY_LINE.match(line)
            if match:
                _record(outcomes, match.group(2), _WORDS[match.group(1)])
    if not outcomes:
        for line in text.splitlines():
            match = _VERBOSE_LINE.match(line.strip())
            if match:
                _record(outcomes, match.group(1), _WORDS[match.group(2)])
    return outcomes


def _record(outcomes: dict[str, str], node: str, outcome: str) -> None:
    if outcomes.get(node) != "error":
        outcomes[node] = outcome


def parse_summary(stdout: str) -> dict[str, int]:
    """SyncBench's counts from pytest's last `=== ... in 0.12s ===` line (zeros when there is none)."""
    counts = dict.fromkeys(SUMMARY_KEYS, 0)
    text = _ANSI.sub("", stdout)
    final = next((line for line in reversed(text.splitlines()) if re.search(r" in [\d.]+s", line)
                  and line.startswith("=")), "")
    for number, word in re.findall(r"(\d+) (passed|xpassed|failed|xfailed|deselected|skipped|warnings?|errors?)",
                                   final):
        key = word.rstrip("s") if word.startswith(("warning", "error")) else word
        counts[key] = int(number)
    counts["total"] = sum(counts[k] for k in ("passed", "xfailed", "failed", "skipped", "warning", "error"))
    return counts


def error_log(log: str, limit: int = LOG_CHARS) -> str:
    """The part of a pytest log shown to an agent, as SyncMind trims it: from the session start (or the short
    summary when even that is too long), at most `limit` characters, the end kept."""
    text = _ANSI.sub("", log)
    for marker in ("test session starts", "short test summary info"):
        at = text.find(marker)
        if at >= 0:
            start = text.rfind("\n", 0, at) + 1
            if len(text) - start <= limit or marker == "short test summary info":
                text = text[start:]
                break
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


# ------------------------------------------------------------------------------------------------- runners


def make_runner(kind: str, workspace: Path, limits: Limits | None = None):
    """A sandbox of `kind` (`local`, `bwrap`, `docker`) on `workspace`, through `make_sandbox`. Close it when done."""
    from simyard.sandboxes.factory import make_sandbox

    return make_sandbox(kind, workspace, limits or Limits())


def default_python(kind: str) -> str:
    """The interpreter that runs pytest: this one for `local` (same packages), the sandbox's `python3` elsewhere
    (this interpreter's path does not exist inside bwrap or a container)."""
    return sys.executable if kind == "local" else "python3"
