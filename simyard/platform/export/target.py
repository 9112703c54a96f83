"""Where an export may write: never over a run's recorded files, always aside first and then moved into place."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from simyard.platform.export import ExportError
from simyard.platform.rundir import INDEX_FILE, LOCK_FILE, RUN_FILE, TASKS_FILE
from simyard.platform.trajectory import EPISODES_DIR

_RECORDED = (RUN_FILE, TASKS_FILE, INDEX_FILE, LOCK_FILE, EPISODES_DIR)
_WRITABLE_HINT = "pick an --out in a folder you can write to, outside the run's recorded files"


def refuse_unfit_target(out: Path, folder: bool) -> None:
    """Refuse an `out` of the wrong kind before anything else is said about it: a directory where a file (Parquet,
    CSV) goes, or a file or a folder with files in it where an ATIF folder goes."""
    if not folder and out.is_dir():
        raise ExportError(f"{out} is a directory", hint="give --out a file name, e.g. results.parquet")
    if folder and out.is_file():
        raise ExportError(f"{out} is a file", hint="ATIF exports are folders (one trajectory.json per episode); "
                                                   "give --out a new or empty folder")
    if folder and out.is_dir() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty", hint="give --out a new or empty folder, so no file is overwritten")


def refuse_recorded_path(run_path: Path, out: Path, holding: bool = True) -> None:
    """Refuse an `out` that is, lies inside or (with `holding`, or being the run directory itself) holds one of the
    run's recorded files (run.json, episodes/, ...)."""
    run_path, target = run_path.resolve(), out.resolve()
    for name in _RECORDED:
        recorded = run_path / name
        if target.is_relative_to(recorded) or ((holding or target == run_path) and recorded.is_relative_to(target)):
            raise ExportError(f"{out} would overwrite {recorded}, which the run recorded", hint=_WRITABLE_HINT)


def reason(exc: OSError) -> str:
    """An OSError as a few words (`Permission denied`, `Not a directory`)."""
    if exc.strerror:
        return exc.strerror
    lines = str(exc).strip().splitlines()  # pyarrow's IO errors carry no strerror, only a message
    return lines[0] if lines else type(exc).__name__


def write_aside(out: Path, write: Callable[[BinaryIO], None]) -> None:
    """Run `write(handle)` on a scratch file beside `out`, then move it over `out`: a failed export leaves no
    half-written file, and an `out` that cannot be written becomes one ExportError line."""
    if out.is_dir():
        raise ExportError(f"{out} is a directory", hint="give --out a file name, e.g. results.parquet")
    above = next((parent for parent in out.parents if parent.exists()), None)
    if above is not None and not above.is_dir():
        raise ExportError(f"cannot write {out}: {above} is a file, not a folder", hint=_WRITABLE_HINT)
    scratch = out.with_name(f".{out.name}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with scratch.open("wb") as handle:
            write(handle)
        os.replace(scratch, out)
    except OSError as exc:
        if scratch.parent.is_dir():
            scratch.unlink(missing_ok=True)
        raise ExportError(f"cannot write {out}: {reason(exc)}", hint=_WRITABLE_HINT) from None
