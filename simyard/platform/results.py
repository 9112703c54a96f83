"""`results.jsonl`, the results index: the one file a resume trusts (an episode is done when its row is here)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import RunDirError
from simyard.platform.jsonl import dumps


class ResultsIndex:
    """`results.jsonl`: an append-only, fsynced (group-committed) log of `EpisodeResult` rows, one JSON object per line.

    Exactly one process writes it (the bench parent); that is what makes plain appends safe. `read` ignores a torn
    final line (a crash mid-write) and keeps the first row of any (task_id, seed) pair; `append` repairs a torn tail
    before writing, so a torn fragment never glues itself to the next row.
    """

    #: Seconds between fsyncs at most. Every append is flushed to the OS at once (a killed process loses nothing);
    #: the fsync that guards against a power cut is shared by the rows of this interval (a group commit), because
    #: one per result costs a short run's driver more than a tenth of its time. close() always syncs.
    sync_interval_s = 0.1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None
        self._synced_at = 0.0
        self._unsynced = False

    def read(self) -> list[EpisodeResult]:
        """Every complete row, in write order, one per (task_id, seed); a damaged line before the last raises.

        The first row of a pair wins, except that an `infra_error` row (an infrastructure failure, retried on resume)
        gives way to a later row of the same pair. A resume must not trust an index it cannot read whole.
        """
        return self._read(salvage=False)[0]

    def read_salvaged(self) -> tuple[list[EpisodeResult], list[str]]:
        """What a reader that only looks (export, rescore, the viewer) takes from a damaged index: every row that
        reads, as `read` would keep them, and a `path:line: problem` for each damaged line before the last."""
        return self._read(salvage=True)

    def _read(self, salvage: bool) -> tuple[list[EpisodeResult], list[str]]:
        if not self.path.exists():
            return [], []
        lines = self.path.read_bytes().split(b"\n")
        results: list[EpisodeResult] = []
        skipped: list[str] = []
        seen: dict[tuple[str, int | None], int] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = _parse_row(line)
            problem = "not a results row" if row is None else _row_problem(row)
            result = None
            if problem is None:
                try:
                    result = EpisodeResult.from_dict(row)  # type: ignore[arg-type]  # checked by _row_problem
                except (TypeError, ValueError) as exc:
                    problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if result is None:
                if number == len(lines):  # no newline after it: a torn write, ignored by every reader
                    continue
                if not salvage:
                    raise RunDirError(f"{self.path}:{number} is not a results row"
                                      + ("" if problem == "not a results row" else f": {problem}"),
                                      hint="the index was edited by hand or by another program; restore that line "
                                           "or delete it")
                skipped.append(f"{self.path}:{number}: {problem}")
                continue
            key = (result.task_id, result.seed)
            if key not in seen:
                seen[key] = len(results)
                results.append(result)
            elif results[seen[key]].status == "infra_error":
                results[seen[key]] = result
        return results, skipped

    def keys(self) -> set[tuple[str, int | None]]:
        """The (task_id, seed) pairs already recorded."""
        return {(result.task_id, result.seed) for result in self.read()}

    def append(self, results: Iterable[EpisodeResult]) -> int:
        """Write rows and flush them to the OS; fsync when `sync_interval_s` has passed since the last one (a group
        commit). Returns how many rows were written."""
        text = "".join(dumps(result.to_dict()) + "\n" for result in results)
        if not text:
            return 0
        handle = self._open()
        handle.write(text.encode("utf-8"))
        handle.flush()
        self._unsynced = True
        if time.monotonic() - self._synced_at >= self.sync_interval_s:
            self.sync()
        return text.count("\n")

    def sync(self) -> None:
        """fsync what was appended since the last sync."""
        if self._handle is not None and self._unsynced:
            os.fsync(self._handle.fileno())
            self._unsynced = False
        self._synced_at = time.monotonic()

    def close(self) -> None:
        """fsync what is pending and close the file handle (appends reopen it)."""
        if self._handle is not None:
            try:
                self.sync()
            finally:
                self._handle.close()
                self._handle = None

    def _open(self) -> Any:
        if self._handle is None:
            self._repair_tail()
            self._handle = self.path.open("ab")
        return self._handle

    def _repair_tail(self) -> None:
        """End the file on a newline: keep a complete row that only lost its newline, drop a torn fragment."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            start = data.rfind(b"\n") + 1
            if _parse_row(data[start:]) is not None:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
            else:
                handle.truncate(start)
            handle.flush()
            os.fsync(handle.fileno())

    def __enter__(self) -> ResultsIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "task_id": (str,), "world": (str,), "subset": (str,), "status": (str,), "reason": (str,), "success": (bool,),
    "progress": (int, float), "steps": (int,), "invalid_actions": (int,), "reward": (int, float),
    "prompt_tokens": (int,), "completion_tokens": (int,), "model_calls": (int,), "cost_usd": (int, float),
    "duration_s": (int, float), "attempts": (int,), "cut_replies": (int,),
}
_REQUIRED = ("task_id", "world", "subset", "seed")


def _row_problem(row: dict[str, Any]) -> str | None:
    """What makes a parsed row unusable (a missing field, a wrong type), or None."""
    missing = [name for name in _REQUIRED if name not in row]
    if missing:
        return f"missing {', '.join(missing)}"
    for name, types in _ROW_TYPES.items():
        value = row.get(name)
        if value is None and name not in ("task_id", "world", "subset", "status", "reason"):
            continue
        if name in row and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
            return f"{name} is {value!r}"
    if row["seed"] is not None and (not isinstance(row["seed"], int) or isinstance(row["seed"], bool)):
        return f"seed is {row['seed']!r}"
    return None


def _parse_row(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(row, dict) or "task_id" not in row:
        return None
    return row


# ------------------------------------------------------------------------------------------------- run directory
