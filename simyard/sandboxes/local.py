"""The `local` sandbox: a plain subprocess in the workspace. UNSAFE: it isolates nothing; for debugging only.

A command run here sees the whole host as the user running simyard sees it: every file, the network, the host's
environment variables (API keys included) and its home directory. `rm -rf /` run here deletes what that user may
delete. Use it to debug a world on a machine without bubblewrap or Docker, never with an agent you do not trust.

What it still does like the others: the workspace is the working directory, `timeout_s` kills the command's process
group (a child that calls `setsid` escapes it: there is no namespace to end), output is capped per stream, the CPU
time and address space are limited by rlimits, and `read_file` / `write_file` refuse paths outside the workspace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from simyard.platform.errors import SandboxError
from simyard.sandboxes._capture import drive
from simyard.sandboxes.base import CommandResult, Limits, Sandbox

__all__ = ["LocalSandbox"]


class LocalSandbox(Sandbox):
    """UNSAFE: commands run as plain subprocesses of simyard, with the host's environment. For debugging only.

    Raises:
        SandboxError: the workspace is not a directory, or a path leaves it.
    """

    kind = "local"
    isolated = False

    def __init__(
        self,
        workspace: Path,
        limits: Limits = Limits(),
        ro_binds: Mapping[str, str] | None = None,
        binds: Mapping[str, str] | None = None,
        tmp_mb: int | None = None,
    ) -> None:
        """`ro_binds` and `binds` are accepted for a common call with the other kinds: every host path is visible
        here as it is, so a bind must keep its path (`SandboxError` otherwise). `tmp_mb` is ignored (the host's
        /tmp)."""
        super().__init__(workspace, limits)
        if not self.workspace.is_dir():
            raise SandboxError(f"workspace {self.workspace} is not a directory", hint="create it before the sandbox")
        for src, dest in {**(ro_binds or {}), **(binds or {})}.items():
            if str(Path(src).resolve()) != str(Path(dest).resolve()):
                raise SandboxError(f"the local sandbox cannot show {src} at {dest}", hint="bind it at its own path")
        self.workdir = str(self.workspace.resolve())

    def run(
        self,
        command: str | Sequence[str],
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `command` (a string goes to `bash -lc`) in the workspace with the host's environment plus `env`.

        At the deadline the command's process group is killed (`timed_out`, `exit_code` None). Output beyond
        `limits.output_bytes` per stream is dropped in the middle and `truncated` is set.
        """
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        argv = ["bash", "-lc", command] if isinstance(command, str) else list(command)
        limits = [f"--cpu={self.limits.cpu_s}:{self.limits.cpu_s + 1}", f"--as={self.limits.memory_mb << 20}"]
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                ["prlimit", *limits, "--", *argv],
                cwd=self.workspace,
                env={**os.environ, **(env or {})},
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start {argv[0]!r}: {exc}", hint="is it installed?") from exc

        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        try:
            out, err, timed_out = drive(
                proc,
                stdin.encode() if stdin is not None else None,
                start + timeout,
                self.limits.output_bytes,
                kill,
                after_exit=kill,
            )
            code = proc.wait()
        finally:
            if proc.poll() is None:
                kill()
                proc.wait()
        kill()  # background children left in the group
        return CommandResult(
            exit_code=None if timed_out else (128 - code if code < 0 else code),
            stdout=out.text(),
            stderr=err.text(),
            duration_s=time.monotonic() - start,
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
        )
