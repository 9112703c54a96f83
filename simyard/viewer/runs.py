"""Run directories as the viewer sees them: read once, re-read when `results.jsonl` changes, filtered server-side.

A run of 10,000 episodes must open in under 2 s, so the page never gets every row: `RunView.episodes` filters, counts
and cuts a page here. A run still being written is read again whenever its index grows (the page polls), and a damaged
index is read as far as it can be, with a note saying what was skipped, rather than refused.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import RunDirError
from simyard.platform.rundir import INDEX_FILE, TASKS_FILE, RunDir, episode_dir_name, open_run
from simyard.platform.trajectory import EPISODES_DIR, TRAJECTORY_FILE

#: Rows per page of the episode list, and the most a client may ask for.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

#: The filters the episode list takes, as query parameters, each matched exactly against a row's field.
FACETS = ("world", "subset", "status", "reason", "error_kind")

UNFINISHED = "unfinished"


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """One line of the episode list: an index row, or an episode directory the index does not have yet.

    Attributes:
        name: The episode directory's name (`<task_id>__s<seed>`), the episode's id in URLs.
        result: The recorded result; None for an episode still running (or abandoned by a crash).
        error_kind: The error's first word (an exception's class, `time_limit`, ...), `""` without an error.
    """

    name: str
    task_id: str
    seed: int | None
    result: EpisodeResult | None
    error_kind: str

    @property
    def world(self) -> str:
        return self.result.world if self.result else ""

    @property
    def subset(self) -> str:
        return self.result.subset if self.result else ""

    @property
    def status(self) -> str:
        return self.result.status if self.result else UNFINISHED

    @property
    def reason(self) -> str:
        return self.result.reason if self.result else UNFINISHED

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"name": self.name, "task_id": self.task_id, "seed": self.seed,
                               "error_kind": self.error_kind}
        if self.result is None:
            row.update(status=UNFINISHED, reason=UNFINISHED)
        else:
            row.update(self.result.to_dict())
        return row


@dataclass
class _Snapshot:
    """What one read of the run gave; replaced whole when the files change, so readers never see half of one."""

    stamp: tuple[int, int]
    results: list[EpisodeResult]
    rows: list[EpisodeRow]
    by_name: dict[str, EpisodeRow]
    notes: list[str]
    facets: dict[str, dict[str, int]]
    cache: dict[str, Any] = field(default_factory=dict)


class RunView:
    """One run directory opened by the viewer.

    Args:
        path: The run directory; `RunDirError` (one line) when it is not one.
        number: Its position on the command line: the run's id in URLs.
        label: What names it on the page (a matrix arm's `matrix/arm`); `<agent> · <folder>` when None.
    """

    def __init__(self, path: str | Path, number: int, label: str | None = None) -> None:
        self.run: RunDir = open_run(path)
        self.path = self.run.path.resolve()
        self.number = number
        self._label = label
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._search_text: dict[str, tuple[int, str]] = {}
        self._instructions: dict[str, str] | None = None

    # -------------------------------------------------------------------------------------------- reading

    def snapshot(self) -> _Snapshot:
        """The run as last read, read again first when `results.jsonl` changed size or time."""
        stamp = _stamp(self.run.path / INDEX_FILE)
        with self._lock:
            stale = self._snapshot is None or self._snapshot.stamp != stamp
            if not stale and self._running():  # episodes started since: shown as unfinished
                stale = _episodes_changed(self, self._snapshot)
            if stale:
                self._snapshot = self._read(stamp)
            return self._snapshot

    def _running(self) -> bool:
        try:
            return self.run.manifest.status == "running"
        except RunDirError:
            return False

    def _read(self, stamp: tuple[int, int]) -> _Snapshot:
        results, notes = read_results(self.run)
        rows: list[EpisodeRow] = []
        by_name: dict[str, EpisodeRow] = {}
        for result in results:
            name = episode_dir_name(result.task_id, result.seed)
            row = EpisodeRow(name, result.task_id, result.seed, result, error_kind(result.error))
            rows.append(row)
            by_name[name] = row
        if self._running():
            for name in sorted(_episode_names(self.run.path) - by_name.keys()):
                task_id, _, seed = name.rpartition("__s")
                row = EpisodeRow(name, task_id, _seed(seed), None, "")
                rows.append(row)
                by_name[name] = row
        facets = {facet: dict(sorted(Counter(getattr(row, facet) for row in rows).items())) for facet in FACETS}
        return _Snapshot(stamp, results, rows, by_name, notes, facets)

    # -------------------------------------------------------------------------------------------- pages

    def describe(self) -> dict[str, Any]:
        """The run's heading: its label, config, status and progress, and notes on anything skipped."""
        manifest = self.run.manifest
        snap = self.snapshot()
        config = manifest.config
        return {
            "id": self.number,
            "label": self.label,
            "path": str(self.path),
            "suite": config.suite,
            "agent": config.agent,
            "agent_options": config.agent_options,
            "kind": manifest.kind,
            "status": manifest.status,
            "started_at": manifest.started_at,
            "ended_at": manifest.ended_at,
            "tasks_total": manifest.tasks_total,
            "recorded": len(snap.results),
            "unfinished": sum(row.result is None for row in snap.rows),
            "simyard_version": manifest.simyard_version,
            "git_revision": manifest.git_revision,
            "notes": snap.notes,
        }

    @property
    def label(self) -> str:
        """`<agent> · <folder>`: what tells runs apart in a side-by-side view."""
        if self._label is not None:
            return self._label
        try:
            agent = self.run.manifest.config.agent
        except RunDirError:
            agent = "?"
        return f"{agent} · {self.path.name}"

    def summary_cells(self) -> list[list[str]]:
        """The report table (per world and subset, with 95% intervals), as `simyard bench report` shows it."""
        snap = self.snapshot()
        if "summary" not in snap.cache:
            from simyard.cli.render import stats_cells
            from simyard.platform.metrics import summarize

            snap.cache["summary"] = stats_cells(summarize(snap.results)) if snap.results else []
        return snap.cache["summary"]

    def episodes(self, filters: dict[str, str], offset: int = 0, limit: int = PAGE_SIZE) -> dict[str, Any]:
        """One page of the episode list under `filters` (`success`: yes/no, each of FACETS, `q`: a search in task
        ids, instructions, errors and model replies), with the total and each facet's counts."""
        snap = self.snapshot()
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        offset = max(0, offset)
        rows: Iterable[EpisodeRow] = snap.rows
        success = filters.get("success", "")
        if success in ("yes", "no"):
            wanted = success == "yes"
            rows = [row for row in rows if row.result is not None and row.result.success == wanted]
        for facet in FACETS:
            value = filters.get(facet)
            if value:
                rows = [row for row in rows if getattr(row, facet) == value]
        query = filters.get("q", "").strip().lower()
        if query:
            rows = [row for row in rows if query in self.search_text(row)]
        rows = list(rows)
        return {
            "total": len(rows),
            "offset": offset,
            "limit": limit,
            "rows": [row.to_json() for row in rows[offset:offset + limit]],
            "facets": snap.facets,
        }

    def row(self, name: str) -> EpisodeRow | None:
        """The list row of one episode (None when the episode is neither recorded nor being written)."""
        row = self.snapshot().by_name.get(name)
        if row is None and (self.episode_dir(name) / TRAJECTORY_FILE).is_file():
            task_id, _, seed = name.rpartition("__s")
            row = EpisodeRow(name, task_id, _seed(seed), None, "")
        return row

    def episode_dir(self, name: str) -> Path:
        """Where one episode's files are; refuses names that would leave the run's episodes folder."""
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise RunDirError(f"{name!r} is not an episode name", hint="episode names look like <task_id>__s<seed>")
        return self.run.path / EPISODES_DIR / name

    # -------------------------------------------------------------------------------------------- search

    def search_text(self, row: EpisodeRow) -> str:
        """Lower-cased text a search looks in: task id, instruction, error, and the model's replies (read from the
        trajectory once, again only when it changes)."""
        parts = [row.task_id, self.instructions().get(row.task_id, "")]
        if row.result is not None and row.result.error:
            parts.append(row.result.error)
        path = self.episode_dir(row.name) / TRAJECTORY_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return "\n".join(parts).lower()
        cached = self._search_text.get(row.name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, _replies_text(path))
            self._search_text[row.name] = cached
        parts.append(cached[1])
        return "\n".join(parts).lower()

    def instructions(self) -> dict[str, str]:
        """Task id -> instruction, from the run's task snapshot. Read as plain JSON: validating tasks would import
        every world's module, and a search needs only the text."""
        if self._instructions is None:
            found: dict[str, str] = {}
            try:
                with (self.run.path / TASKS_FILE).open("rb") as handle:
                    for line in handle:
                        try:
                            task = json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(task, dict) and isinstance(task.get("id"), str):
                            found[task["id"]] = str(task.get("instruction") or "")
            except OSError:
                pass
            self._instructions = found
        return self._instructions


# ------------------------------------------------------------------------------------------------ pairing runs


def paired(views: Sequence[RunView], only_differing: bool, offset: int = 0,
           limit: int = PAGE_SIZE) -> dict[str, Any]:
    """Runs side by side, one line per task they share (paired on (task_id, seed) as `bench compare` does; on
    task_id alone when no pair is shared, as runs with different seeds have), differing lines first optional."""
    rows_by_run = [view.snapshot().by_name for view in views]
    recorded = [{(row.task_id, row.seed): row for row in rows.values() if row.result is not None}
                for rows in rows_by_run]
    keys = set(recorded[0]).intersection(*recorded[1:]) if recorded else set()
    by_task = not keys
    if by_task:
        recorded = [{key[0]: row for key, row in run.items()} for run in recorded]
        keys = set(recorded[0]).intersection(*recorded[1:]) if recorded else set()
        by_task = bool(keys)
    lines = []
    for key in sorted(keys, key=str):
        cells = [run[key] for run in recorded]
        outcomes = {(cell.result.success, round(cell.result.progress, 6)) for cell in cells if cell.result}
        lines.append({"task_id": cells[0].task_id, "subset": cells[0].subset, "differs": len(outcomes) > 1,
                      "cells": [cell.to_json() for cell in cells]})
    differing = sum(line["differs"] for line in lines)
    if only_differing:
        lines = [line for line in lines if line["differs"]]
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    return {"runs": [view.number for view in views], "by_task": by_task, "total": len(lines), "shared": len(keys),
            "differing": differing, "offset": offset, "limit": limit, "rows": lines[offset:offset + limit]}


def comparison_cells(a: RunView, b: RunView) -> list[list[str]]:
    """`bench compare`'s table for two runs (McNemar on success, paired bootstrap on progress)."""
    from simyard.cli.render import compare_cells
    from simyard.platform.metrics import compare

    results_a, results_b = a.snapshot().results, b.snapshot().results
    try:
        return compare_cells(compare(results_a, results_b, label_a=a.label, label_b=b.label, resamples=2000))
    except (ValueError, ZeroDivisionError):
        return []


# ------------------------------------------------------------------------------------------------ helpers


def read_results(run: RunDir) -> tuple[list[EpisodeResult], list[str]]:
    """The results index through the platform's reader, plus notes on what it skipped.

    The reader ignores a half-written last line (a crash, or a run writing right now); that is said here. An index
    damaged further up makes the reader refuse the whole file; the viewer then keeps every line that reads and names
    the others, because a person looking at a damaged run wants to see what is left.
    """
    path = run.path / INDEX_FILE
    notes: list[str] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [f"{INDEX_FILE} cannot be read: {exc.strerror or exc}"]
    tail = data[data.rfind(b"\n") + 1:]
    if tail.strip() and _json_object(tail) is None:
        notes.append(f"{INDEX_FILE}: skipped a half-written last line ({len(tail)} bytes; a crash, or the run is "
                     f"writing it now)")
    try:
        results, skipped = run.index.read_salvaged()
    except OSError as exc:
        return [], [f"{INDEX_FILE} cannot be read: {exc.strerror or exc}"]
    prefix = len(str(run.index.path))  # `path:line: problem` -> `results.jsonl:line: skipped: problem`
    number_and_problem = (line[prefix + 1:].split(": ", 1) for line in skipped)
    return results, notes + [f"{INDEX_FILE}:{number}: skipped: {problem}" for number, problem in number_and_problem]


def error_kind(error: str | None) -> str:
    """An error's first word: `ValueError: bad move` -> `ValueError`, so errors of one kind filter together."""
    if not error:
        return ""
    head = error.strip().split(":", 1)[0].split()
    return head[0][:60] if head else ""


def _replies_text(path: Path) -> str:
    """Every model reply of a trajectory, one per line (damaged lines skipped: a search must not fail)."""
    replies: list[str] = []
    try:
        with path.open("rb") as handle:
            for line in handle:
                if b'"calls"' not in line:
                    continue
                entry = _json_object(line)
                for call in (entry or {}).get("calls") or []:
                    if isinstance(call, dict) and isinstance(call.get("text"), str):
                        replies.append(call["text"])
    except OSError:
        return ""
    return "\n".join(replies)


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def _episode_names(run_path: Path) -> set[str]:
    try:
        with os.scandir(run_path / EPISODES_DIR) as entries:
            return {entry.name for entry in entries if entry.is_dir()}
    except OSError:
        return set()


def _episodes_changed(view: RunView, snap: _Snapshot) -> bool:
    """Whether a running run started episodes the last read did not see."""
    return bool(_episode_names(view.run.path) - snap.by_name.keys())


def _seed(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
