"""Scratch space that cannot outgrow a run: a private temp directory per process, swept and bounded as the run goes.

What the worlds leave behind today: SyncMind removes each episode's workspace as it ends (in the background) and its
workspace root when the world closes; Harbor removes its logs after each episode; Docker sandboxes are labelled with
their owner and swept when it is gone. What still piles up is what lives until a world *closes* (a world reused for
thousands of episodes may keep per-episode files until then), and whatever a process that died took no chance to
remove (a worker restarted because a call never returned, a worker killed by the OOM killer: bwrap's private /etc,
workspace roots, temp files of subprocesses).

So every process that runs episodes gets a `ScratchRoot`: a directory of its own under the system temp directory,
made the process's `TMPDIR` (for `tempfile` and every subprocess), holding a marker with its owner. It is removed
when the process ends its work, and any root whose owner is gone is swept when a new one is made and when a run ends.
And a `Janitor` measures the root every few episodes: once it is past its budget (`SIMYARD_SCRATCH_BUDGET_MB`,
default 2048) or the disk is nearly full, each lane closes its worlds when its episode ends (a world's `close`
removes what it kept), and they are rebuilt for the next episode.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

MARKER = ".simyard-scratch.json"
PREFIX = "simyard-scratch-"

#: Megabytes a process's scratch may hold before its worlds are recycled.
DEFAULT_BUDGET_MB = 2048.0


def scratch_base() -> Path:
    """Where scratch roots are made: `SIMYARD_SCRATCH` or the system temp directory (as it was before any root)."""
    return Path(os.environ.get("SIMYARD_SCRATCH") or os.environ.get("SIMYARD_SYSTEM_TMPDIR") or tempfile.gettempdir())


def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def _owner_alive(pid: int, started: float | None) -> bool:
    now = _start_time(pid)
    return now is not None and (started is None or abs(now - started) < 1.0)


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` (a bind-mounted workspace must never be deleted through its mount)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path)
    return [point for line in lines if (point := line.split()[4]) == prefix or point.startswith(prefix + "/")]


def remove_tree(path: Path) -> bool:
    """Remove a scratch tree unless something is mounted in it; True when it is gone."""
    if _mounts_under(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def sweep_stale(base: Path | None = None) -> list[Path]:
    """Remove the scratch roots under `base` whose owning process is gone; returns what was removed."""
    base = base or scratch_base()
    removed: list[Path] = []
    try:
        children = list(base.glob(f"{PREFIX}*"))
    except OSError:
        return removed
    for child in children:
        try:
            marker = json.loads((child / MARKER).read_text())
            pid, started = int(marker["pid"]), marker.get("started")
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being made, or not ours
        if not _owner_alive(pid, started) and remove_tree(child):
            removed.append(child)
    return removed


def tree_bytes(path: Path) -> int:
    """Bytes of the files under `path` (files that vanish while counting are skipped)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class ScratchRoot:
    """This process's private temp directory, made its `TMPDIR` until `close()` (see the module docstring)."""

    def __init__(self, base: Path | None = None) -> None:
        self.base = base or scratch_base()
        self.base.mkdir(parents=True, exist_ok=True)
        sweep_stale(self.base)
        self.path = self.base / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path.mkdir()
        (self.path / MARKER).write_text(json.dumps({"pid": os.getpid(), "started": _start_time(os.getpid())}))
        self._previous = (tempfile.tempdir, os.environ.get("TMPDIR"), os.environ.get("SIMYARD_SYSTEM_TMPDIR"))
        os.environ.setdefault("SIMYARD_SYSTEM_TMPDIR", str(self.base))  # a nested root goes beside this one
        tempfile.tempdir = str(self.path)
        os.environ["TMPDIR"] = str(self.path)
        self._closed = False

    def close(self) -> None:
        """Give `TMPDIR` back and remove the root (left for the next sweep if something is still mounted in it)."""
        if self._closed:
            return
        self._closed = True
        tempdir, env, system = self._previous
        if tempfile.tempdir == str(self.path):
            tempfile.tempdir = tempdir
        for name, value in (("TMPDIR", env), ("SIMYARD_SYSTEM_TMPDIR", system)):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        remove_tree(self.path)


class Janitor:
    """Decides, every few episodes, whether a process's scratch has grown past its budget (or the disk is nearly
    full), so that lanes recycle their worlds as their episodes end."""

    def __init__(self, root: Path, budget_mb: float | None = None, every: int = 16, every_s: float = 2.0,
                 min_disk_free: float = 0.05) -> None:
        if budget_mb is None:
            budget_mb = float(os.environ.get("SIMYARD_SCRATCH_BUDGET_MB") or DEFAULT_BUDGET_MB)
        self.root = root
        self.budget_bytes = budget_mb * 2**20
        self.every, self.every_s, self.min_disk_free = every, every_s, min_disk_free
        self._episodes = 0
        self._checked = time.monotonic()
        self.recycles = 0
        self.peak_bytes = 0

    def episode_ended(self) -> bool:
        """Count an ended episode; True when the scratch is over budget and worlds should be recycled."""
        self._episodes += 1
        now = time.monotonic()
        if self._episodes < self.every and now - self._checked < self.every_s:
            return False
        self._episodes, self._checked = 0, now
        size = tree_bytes(self.root)
        self.peak_bytes = max(self.peak_bytes, size)
        try:
            usage = shutil.disk_usage(self.root)
            disk_short = usage.total > 0 and usage.free / usage.total < self.min_disk_free
        except OSError:
            disk_short = False
        return size > self.budget_bytes or disk_short
