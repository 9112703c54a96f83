"""`results.jsonl`, the results index: the one file a resume trusts (an episode is done when its row is here)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import RunDirError
from simyard.platform.jsonl import dumps


class ResultsIndex:
    """`results.jsonl`: an append-only, fsynced log of `EpisodeResult` rows, one JSON object per line.

    Exactly one process writes it (the bench parent); that is what makes plain appends safe. `read` ignores a torn
    final line (a crash mid-write) and keeps the first row of any (task_id, seed) pair; `append` repairs a torn tail
    before writing, so a torn fragment never glues itself to the next row.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def read(self) -> list[EpisodeResult]:
        """Every complete row, in write order, first row per (task_id, seed)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        results: list[EpisodeResult] = []
        seen: set[tuple[str, int | None]] = set()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            last = number == len(lines)  # no newline after it: the write may have been torn
            row = _parse_row(line)
            if row is None:
                if last:
                    continue
                raise RunDirError(
                    f"{self.path}:{number} is not a results row",
                    hint="the index was edited by hand or by another program; restore that line or delete it",
                )
            result = EpisodeResult.from_dict(row)
            key = (result.task_id, result.seed)
            if key not in seen:
                seen.add(key)
                results.append(result)
        return results

    def keys(self) -> set[tuple[str, int | None]]:
        """The (task_id, seed) pairs already recorded."""
        return {(result.task_id, result.seed) for result in self.read()}

    def append(self, results: Iterable[EpisodeResult]) -> int:
        """Write rows and make them durable with one flush + fsync (a group commit); returns how many were written."""
        text = "".join(dumps(result.to_dict()) + "\n" for result in results)
        if not text:
            return 0
        handle = self._open()
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
        return text.count("\n")

    def close(self) -> None:
        """Close the file handle (appends reopen it)."""
        if self._handle is not None:
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


def _parse_row(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(row, dict) or "task_id" not in row:
        return None
    return row


# ------------------------------------------------------------------------------------------------- run directory
