"""A warm pool of sandboxes per worker, so an episode does not wait for a cold start.

    pool = sandbox_pool(resources, "docker", Limits(), size=2, image=tag)   # one per worker (a Resources entry)
    with pool.acquire(workspace) as sandbox:                                # close() hands it back
        sandbox.run("python -m pytest -q")

What "warm" means per kind:

- `bwrap` and `local`: nothing to warm. Each command starts its own namespace (a few milliseconds), so `acquire`
  makes a sandbox on the workspace at once and `size` is ignored.
- `docker`, run as root: `size` containers are started ahead, each with an empty slot directory bound at
  `/workspace` with `rslave` propagation, under a pool directory made a shared mount. `acquire(workspace)` takes a
  ready container and bind-mounts the episode's workspace over its slot on the host; the mount propagates into the
  container, so the workspace is "re-bound" without a restart (about 1 ms instead of a cold start). The pool refills
  in a background thread. `release` unmounts the workspace (the container's /workspace is empty again), checks that the
  container still runs and keeps it, or removes it when it died or has served `max_uses` episodes. Processes never
  outlive a command (see docker.py), so nothing of one episode runs into the next; files the episode left in the
  container's /tmp are cleared by a command at release.
- `docker`, not root (mounting needs CAP_SYS_ADMIN): each `acquire` starts a cold container on the workspace.

The pool directory and any mounts a crashed process left are removed by the next pool made on the machine (by owner
pid). Errors: as the sandboxes' (`SandboxLost` when the daemon is gone, `SandboxError` otherwise); `SandboxError` for
a pool used after `close()`.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simyard.platform.errors import SandboxError
from simyard.platform.resources import Resources
from simyard.sandboxes.base import CommandResult, Limits, Sandbox
from simyard.sandboxes.factory import make_sandbox

__all__ = ["PooledSandbox", "SandboxPool", "sandbox_pool"]

_MS_BIND, _MS_REC, _MS_SHARED, _MNT_DETACH = 4096, 16384, 1 << 20, 2
_counter = itertools.count()
_libc: Any = None


def _mount(source: str | None, target: str, flags: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    src = source.encode() if source is not None else None
    if _libc.mount(src, target.encode(), None, ctypes.c_ulong(flags), None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _umount(target: str) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.umount2(target.encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (from /proc/self/mountinfo)."""
    prefix = str(path)
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(set(found), key=len, reverse=True)


def _pools_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simyard" / "pools"


def _remove_pool_dir(directory: Path) -> None:
    """Unmount everything under a pool directory, then remove its (now empty) directories. Never `rmtree`: a workspace
    still mounted on a slot would be deleted with it."""
    for point in _mounts_under(directory):
        with contextlib.suppress(OSError):
            _umount(point)
    if _mounts_under(directory):
        return
    for slot in directory.glob("slot-*"):
        with contextlib.suppress(OSError):
            slot.rmdir()
    with contextlib.suppress(OSError):
        directory.rmdir()


def _sweep_pool_dirs() -> None:
    root = _pools_dir()
    if not root.is_dir():
        return
    for directory in root.iterdir():
        try:
            owner = int(directory.name.split("-")[0])
        except ValueError:
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            _remove_pool_dir(directory)


class PooledSandbox(Sandbox):
    """A sandbox lent by a pool: it runs commands through the pooled one; `close()` gives it back."""

    def __init__(self, pool: SandboxPool, inner: Sandbox, workspace: Path, slot: Path | None) -> None:
        super().__init__(workspace, inner.limits)
        self.kind, self.isolated, self.workdir = inner.kind, inner.isolated, inner.workdir
        self.inner, self.slot = inner, slot
        self._pool: SandboxPool | None = pool

    def run(
        self,
        command: str | Sequence[str],
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """As the pooled sandbox's `run`. Raises `SandboxError` after `close()`."""
        if self._pool is None:
            raise SandboxError("the sandbox was given back to its pool", hint="acquire another")
        return self.inner.run(command, timeout_s=timeout_s, env=env, stdin=stdin)

    def read_file(self, path: str) -> bytes:
        return self.inner.read_file(path)

    def write_file(self, path: str, data: bytes | str) -> None:
        self.inner.write_file(path, data)

    def close(self) -> None:
        """Give the sandbox back (reset for the next episode, or discarded). Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.release(self)


class SandboxPool:
    """Sandboxes of one kind kept ready for one worker (see the module docstring for what is warm per kind).

    Args:
        kind: `bwrap`, `docker` or `local`.
        limits: Limits of every sandbox.
        size: Docker containers kept ready (root only; ignored otherwise).
        resources: The worker's scope (the Docker client is shared there).
        max_uses: Episodes a container serves before it is replaced.
        options: Passed to the sandboxes (`image`, `run_id`, ...).

    Raises:
        SandboxLost: the Docker daemon is unreachable (when the first containers start).
    """

    def __init__(
        self,
        kind: str = "bwrap",
        limits: Limits | None = None,
        size: int = 2,
        resources: Resources | None = None,
        max_uses: int = 50,
        **options: Any,
    ) -> None:
        self.kind, self.limits, self.size = kind, limits or Limits(), max(0, size)
        self.resources, self.max_uses, self.options = resources, max_uses, options
        self._ready: list[tuple[Sandbox, Path]] = []
        self._uses: dict[int, int] = {}
        self._lock = threading.Condition()
        self._closed = False
        self._filling: threading.Thread | None = None
        self.error: BaseException | None = None  # the last refill failure (raised by the next acquire)
        self.warm = kind == "docker" and os.geteuid() == 0 and self.size > 0
        self.directory: Path | None = None
        if self.warm:
            _sweep_pool_dirs()
            self.directory = _pools_dir() / f"{os.getpid()}-{next(_counter)}"
            self.directory.mkdir(parents=True)
            try:  # a shared mount of our own directory, so mounts on its slots propagate into containers
                _mount(str(self.directory), str(self.directory), _MS_BIND)
                _mount(None, str(self.directory), _MS_SHARED)
            except OSError:
                _remove_pool_dir(self.directory)
                self.warm, self.directory = False, None
        if self.warm:
            self._refill()

    # --- the warm containers -----------------------------------------------------------------------------------------

    def _new_slot(self) -> tuple[Sandbox, Path]:
        assert self.directory is not None
        slot = self.directory / f"slot-{next(_counter)}"
        slot.mkdir()
        try:
            sandbox = make_sandbox(
                self.kind, slot, self.limits, resources=self.resources, propagation="rslave", **self.options
            )
        except BaseException:
            slot.rmdir()
            raise
        return sandbox, slot

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._ready) >= self.size:
                        return
                item = self._new_slot()
                with self._lock:
                    if self._closed:
                        self._discard(*item)
                        return
                    self._ready.append(item)
                    self._lock.notify_all()
        except BaseException as exc:  # kept for the next acquire, which raises it
            self.error = exc
        finally:
            with self._lock:
                self._filling = None
                self._lock.notify_all()

    def _refill(self) -> None:
        with self._lock:
            if self._filling is None and not self._closed and len(self._ready) < self.size:
                self._filling = threading.Thread(target=self._fill, name="simyard-sandbox-pool", daemon=True)
                self._filling.start()

    def _discard(self, sandbox: Sandbox, slot: Path | None) -> None:
        sandbox.close()
        self._uses.pop(id(sandbox), None)
        if slot is not None:
            with contextlib.suppress(OSError):
                _umount(str(slot))
            with contextlib.suppress(OSError):
                slot.rmdir()

    # --- lending -----------------------------------------------------------------------------------------------------

    def acquire(self, workspace: Path, timeout_s: float = 60.0) -> PooledSandbox:
        """A sandbox on `workspace` (an existing directory); close it (or `release` it) when the episode ends.

        Raises:
            SandboxError: the pool is closed, or the workspace is not a directory.
            SandboxLost: the Docker daemon went away (also when a background refill found it gone).
        """
        workspace = Path(workspace)
        if self._closed:
            raise SandboxError("the sandbox pool is closed", hint="acquire from the worker's current pool")
        if not workspace.is_dir():
            raise SandboxError(f"workspace {workspace} is not a directory", hint="create it before acquiring")
        if not self.warm:
            sandbox = make_sandbox(self.kind, workspace, self.limits, resources=self.resources, **self.options)
            return PooledSandbox(self, sandbox, workspace, None)
        with self._lock:
            if not self._ready and self._filling is None:
                error, self.error = self.error, None
                if error is not None:
                    raise error
        item = None
        with self._lock:
            if self._ready:
                item = self._ready.pop()  # the most recently given back: its pages are still warm
        if item is None:  # none ready (a burst, or size 0): a cold one now, rather than waiting for the refill
            item = self._new_slot()
        sandbox, slot = item
        try:
            _mount(str(workspace.resolve()), str(slot), _MS_BIND | _MS_REC)
        except OSError as exc:
            self._discard(sandbox, slot)
            raise SandboxError(
                f"cannot bind the workspace into a warm container: {exc}", hint="check the path"
            ) from exc
        sandbox.workspace = workspace
        self._refill()
        return PooledSandbox(self, sandbox, workspace, slot)

    def release(self, lent: PooledSandbox) -> None:
        """Take a sandbox back: reset it for the next episode, or discard it (dead, used up, pool closed)."""
        sandbox, slot = lent.inner, lent.slot
        lent._pool = None
        if slot is None:
            sandbox.close()
            return
        keep = not self._closed
        try:
            _umount(str(slot))
        except OSError:
            keep = False
        sandbox.workspace = slot
        uses = self._uses.get(id(sandbox), 0) + 1
        self._uses[id(sandbox)] = uses
        if keep and uses < self.max_uses:
            try:
                keep = sandbox.run("rm -rf /tmp/* /tmp/.[!.]* 2>/dev/null; true", timeout_s=10).ok
            except Exception:
                keep = False
        else:
            keep = False
        surplus = []
        with self._lock:
            if keep and not self._closed:
                self._ready.append((sandbox, slot))
                while len(self._ready) > max(1, self.size):  # the refill may have topped up meanwhile
                    surplus.append(self._ready.pop(0))
        if not keep or self._closed:
            surplus.append((sandbox, slot))
        for item in surplus:
            self._discard(*item)
        self._refill()

    def close(self) -> None:
        """Remove every ready container and the pool directory. Sandboxes still lent are removed when given back."""
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, []
            filling = self._filling
        if filling is not None:
            filling.join(timeout=30)
        for sandbox, slot in ready:
            self._discard(sandbox, slot)
        if self.directory is not None:
            _remove_pool_dir(self.directory)


def sandbox_pool(
    resources: Resources, kind: str = "bwrap", limits: Limits | None = None, size: int = 2, **options: Any
) -> SandboxPool:
    """The worker's pool for these settings: made on first request, closed with the worker's scope."""
    key = ("sandbox-pool", kind, limits or Limits(), size, tuple(sorted((k, str(v)) for k, v in options.items())))
    return resources.shared(key, lambda: SandboxPool(kind, limits, size, resources=resources, **options))
