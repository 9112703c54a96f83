"""Control groups for the `bwrap` sandbox when simyard runs as root: a process-count and a total-memory limit.

Why: RLIMIT_NPROC does not hold for processes whose host uid is root, even inside a user namespace that maps them to
another uid (the kernel exempts the global root uid), so a fork bomb would not stop. A cgroup's `pids.max` holds for
everyone, and its memory limit covers the whole sandbox, the private /tmp (tmpfs pages are charged to the writer)
included. Both cgroup v1 (one directory in the `pids` and one in the `memory` hierarchy) and v2 (one directory) are
handled; when neither can be written (not root, a read-only /sys/fs/cgroup inside a container) `Cgroup.create`
returns None and the sandbox falls back to rlimits.

Cgroups are named `simyard-<pid>-<n>` under a `simyard` parent; `sweep()` (run once per process) kills and removes
those whose owning process is gone, so a crashed run leaves nothing behind for long.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()
_swept = False
_lock = threading.Lock()
_unavailable: str | None = None  # why cgroups cannot be used in this process, once known


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _layout() -> list[tuple[Path, str]]:
    """The parent directories to create cgroups under, with the hierarchy kind of each ('v2', 'pids', 'memory')."""
    if (ROOT / "cgroup.controllers").exists():
        controllers = (ROOT / "cgroup.controllers").read_text().split()
        if not {"pids", "memory"} <= set(controllers):
            raise OSError("cgroup v2 without the pids and memory controllers")
        parent = ROOT / "simyard"
        enabled = (ROOT / "cgroup.subtree_control").read_text().split()
        if not {"pids", "memory"} <= set(enabled):
            _write(ROOT / "cgroup.subtree_control", "+pids +memory")
        parent.mkdir(exist_ok=True)
        if not {"pids", "memory"} <= set((parent / "cgroup.subtree_control").read_text().split()):
            _write(parent / "cgroup.subtree_control", "+pids +memory")
        return [(parent, "v2")]
    layout = []
    for kind in ("pids", "memory"):
        hierarchy = ROOT / kind
        if not (hierarchy / "cgroup.procs").exists():
            raise OSError(f"no cgroup v1 {kind} hierarchy at {hierarchy}")
        parent = hierarchy / "simyard"
        parent.mkdir(exist_ok=True)
        layout.append((parent, kind))
    return layout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _procs(directory: Path) -> list[int]:
    try:
        return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _kill_all(directories: list[Path]) -> None:
    for directory in directories:
        kill_file = directory / "cgroup.kill"
        if kill_file.exists():
            with contextlib.suppress(OSError):
                _write(kill_file, "1")
    # v1 (and v2 before 5.14): signal each member; a bounded loop, since pids.max bounds what can be forked meanwhile
    for _ in range(50):
        pids = {pid for directory in directories for pid in _procs(directory)}
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)


def _remove(directories: list[Path]) -> None:
    for directory in directories:
        for attempt in range(100):
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:  # EBUSY: members still exiting
                time.sleep(0.001 * (attempt + 1))


def sweep() -> int:
    """Kill and remove simyard cgroups whose owning process has exited. Returns how many were removed."""
    removed = 0
    try:
        layout = _layout()
    except OSError:
        return 0
    stale: dict[str, list[Path]] = {}
    for parent, _ in layout:
        for child in parent.glob("simyard-*"):
            try:
                owner = int(child.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if owner != os.getpid() and not _alive(owner):
                stale.setdefault(child.name, []).append(child)
    for directories in stale.values():
        _kill_all(directories)
        _remove(directories)
        removed += 1
    return removed


class Cgroup:
    """One sandbox's cgroup: processes that join it are limited to `pids` tasks and `memory_bytes` in total."""

    def __init__(self, directories: list[Path]) -> None:
        self.directories = directories

    @classmethod
    def create(cls, pids: int, memory_bytes: int) -> Cgroup | None:
        """A fresh cgroup with the limits set, or None when cgroups cannot be used here (`unavailable_reason()`)."""
        global _swept, _unavailable
        if _unavailable is not None:
            return None
        if os.geteuid() != 0:
            _unavailable = "not root"
            return None
        with _lock:
            try:
                layout = _layout()
                if not _swept:
                    _swept = True
                    sweep()
            except OSError as exc:
                _unavailable = str(exc)
                return None
            name = f"simyard-{os.getpid()}-{next(_counter)}"
        directories = []
        try:
            for parent, kind in layout:
                directory = parent / name
                directory.mkdir()
                directories.append(directory)
                if kind in ("v2", "pids"):
                    _write(directory / "pids.max", str(pids))
                if kind == "v2":
                    _write(directory / "memory.max", str(memory_bytes))
                    if (directory / "memory.swap.max").exists():
                        _write(directory / "memory.swap.max", "0")
                elif kind == "memory":
                    _write(directory / "memory.limit_in_bytes", str(memory_bytes))
                    if (directory / "memory.memsw.limit_in_bytes").exists():
                        with contextlib.suppress(OSError):
                            _write(directory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        except OSError as exc:
            _remove(directories)
            _unavailable = f"cannot create a cgroup: {exc}"
            return None
        return cls(directories)

    @property
    def procs_files(self) -> list[str]:
        """The `cgroup.procs` files a process writes its pid to, to join (one per hierarchy)."""
        return [str(directory / "cgroup.procs") for directory in self.directories]

    def oom_killed(self) -> bool:
        """Whether the memory limit made the kernel kill a member (best effort; False when unknown)."""
        for directory in self.directories:
            events = directory / "memory.events"
            if events.exists():
                for line in events.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value or 0) > 0:
                        return True
            failcnt = directory / "memory.failcnt"
            if failcnt.exists() and int(failcnt.read_text().strip() or 0) > 0:
                return True
        return False

    def kill(self) -> None:
        """SIGKILL every member (the whole tree, whatever sessions or groups it made)."""
        _kill_all(self.directories)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup. Safe to call twice."""
        if self.directories:
            _kill_all(self.directories)
            _remove(self.directories)
            self.directories = []


def unavailable_reason() -> str | None:
    """Why cgroups are not used in this process (None while unknown or when they are)."""
    return _unavailable
