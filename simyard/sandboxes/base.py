"""The sandbox interface: run commands and move files in a workspace, with limits, whatever isolates it.

Three implementations sit behind it (`bwrap`, `docker`, `local`), chosen by the world option `sandbox=`; a world
asks `make_sandbox` and never names one. What every implementation promises:

- `run` executes a shell command (`bash -lc`, or an argv list as given) with the workspace as the working
  directory, and returns when it exits or when `timeout_s` passes, in which case the command's whole process tree is
  killed and `timed_out` is set. Output is captured per stream up to `Limits.output_bytes`; anything beyond is
  dropped and `truncated` says so. It raises only for the sandbox itself failing (`SandboxError`; a lost container
  or dead daemon is `SandboxLost`, an `InfraError`, so the episode is retried rather than failed).
- `read_file` / `write_file` take paths relative to the workspace (absolute paths inside the sandbox's view are
  accepted where the implementation maps them); a path that leaves the workspace is a `SandboxError`.
- Isolation (`bwrap`, `docker`): no network; the workspace is the only writable place besides a private /tmp; the
  host's home, environment variables and secrets are invisible; CPU time, memory and process count are limited.
  `local` is a plain subprocess for debugging and isolates nothing (`isolated` is False).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from simyard.platform.errors import InfraError, SandboxError

__all__ = ["CommandResult", "Limits", "Sandbox", "SandboxError", "SandboxLost"]


class SandboxLost(InfraError):
    """The sandbox went away under the episode (a container removed, a daemon dead): infrastructure, retried."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one sandboxed command may use.

    Attributes:
        timeout_s: Wall-clock limit per command (the default when `run` is given none).
        cpu_s: CPU seconds per process of a command (RLIMIT_CPU: SIGXCPU, then SIGKILL a second later).
        memory_mb: Memory of the whole sandbox (a cgroup: bwrap as root, docker), or, where bwrap has no cgroup,
            address space per process (RLIMIT_AS). A private /tmp is memory and gets at most half of it.
        pids: Processes and threads at once (a fork bomb stops here; docker adds 4 for its own helpers).
        output_bytes: Bytes kept per stream (stdout, stderr); the rest is dropped and reported. The first and the
            last half are kept, and one marker line in between says how many bytes were dropped.
        cpus: CPUs the sandbox may use at once (`docker` only: its CPU quota; None: no quota). `bwrap` has no CPU
            share, only `cpu_s`.
    """

    timeout_s: float = 60.0
    cpu_s: int = 120
    memory_mb: int = 2048
    pids: int = 256
    output_bytes: int = 1 << 20
    cpus: float | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did. `exit_code` is None when it was killed at the deadline."""

    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Sandbox(abc.ABC):
    """A workspace and a way to run commands in it under limits. Close it when done (also a context manager)."""

    #: Registry name of the implementation (`bwrap`, `docker`, `local`).
    kind: str = ""
    #: Whether the sandbox isolates the command from the host (False only for `local`).
    isolated: bool = True

    def __init__(self, workspace: Path, limits: Limits) -> None:
        self.workspace = Path(workspace)
        self.limits = limits
        #: Where the workspace appears to the commands (`/workspace` for bwrap and docker, the host path for local).
        self.workdir = str(self.workspace)

    @abc.abstractmethod
    def run(
        self,
        command: str | Sequence[str],
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `command` in the workspace; see the module docstring for what is promised."""

    def host_path(self, path: str) -> Path:
        """Where `path` (relative to the workspace, or absolute under `workdir`, the workspace as commands see it)
        is on the host; `SandboxError` when it leaves the workspace (`..`, another absolute path, a symlink out).
        Every implementation binds the workspace from the host, so files are read and written there."""
        if path == self.workdir or path.startswith(self.workdir + "/"):
            path = path[len(self.workdir) :].lstrip("/") or "."
        return inside(self.workspace, path)

    def read_file(self, path: str) -> bytes:
        """A file's bytes; `SandboxError` when it is missing, unreadable or outside the workspace."""
        try:
            return self.host_path(path).read_bytes()
        except OSError as exc:
            raise SandboxError(f"cannot read {path!r}: {exc.strerror}", hint="check the path") from exc

    def write_file(self, path: str, data: bytes | str) -> None:
        """Create or replace a file (parents made); `SandboxError` outside the workspace or when unwritable."""
        target = self.host_path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.encode() if isinstance(data, str) else data)
        except OSError as exc:
            raise SandboxError(f"cannot write {path!r}: {exc.strerror}", hint="check the path") from exc

    def close(self) -> None:
        """Release what the sandbox holds (a container, a pool slot). Safe to call twice."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def inside(workspace: Path, path: str) -> Path:
    """`path` (relative to `workspace`, or an absolute host path in it) resolved, refused when it leaves the
    workspace (`..`, another absolute path, a symlink pointing out)."""
    root = workspace.resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if resolved != root and root not in resolved.parents:
        raise SandboxError(f"{path!r} is outside the workspace", hint="use a path relative to the workspace")
    return resolved
