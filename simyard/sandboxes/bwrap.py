"""The `bwrap` sandbox (the embedded default): each command in a fresh bubblewrap namespace set on the host's /usr.

What a command sees and may do:

- **Files**: `/workspace` (the episode's workspace, read-write, the working directory), a private `/tmp` (tmpfs,
  `tmp_mb` but at most half the memory limit, emptied after every command), and, read-only: `/usr` (so the host's
  python3, git, pytest and coreutils), `/bin`, `/lib*`, `/sbin` and an allow-list of `/etc` (loader, alternatives,
  python, ssl certificates, profile; never shadow, ssh, sudoers, apt or pip credentials; passwd, group and hosts are
  simyard's own). Nothing else of the host exists: no home directories, no /root, /var, /run, /opt, /srv, /mnt, no
  Docker socket. Everything else is read-only too (the root is remounted read-only after the binds).
- **Identity**: uid and gid 1000 (`agent`) in a new user namespace that cannot make further ones; no capabilities.
- **Network**: none (a new network namespace with only a loopback of its own; no resolv.conf, so DNS fails too).
- **Environment**: cleared, then `PATH`, `HOME=/tmp`, `LANG=C.UTF-8`, `TERM=dumb`, `USER`, `SHELL`, `TMPDIR`, plus
  what `run(env=...)` passes. The host's variables (API keys included) are never seen.
- **Limits** (`Limits`): CPU seconds per process (RLIMIT_CPU), processes and memory. Run as root with writable cgroups
  (v1 or v2), each command gets its own cgroup: `pids.max` and a memory limit on the sandbox's total (private /tmp
  included); the kernel's OOM killer ends a command that exceeds it. Otherwise RLIMIT_NPROC (counted inside the
  command's own user namespace, so the host user's other processes do not count) and RLIMIT_AS per process. Root
  without writable cgroups cannot limit the process count (the kernel exempts the root uid from RLIMIT_NPROC): a
  warning says so once.
- **Lifetime**: a command's processes never outlive it. Each command is pid 1's child in its own pid namespace, so
  when it exits, or is killed at the deadline (`--die-with-parent`, then the cgroup), every process it started dies
  too, `sleep` children, daemons and new sessions included.

Errors: `SandboxError` when bubblewrap is missing or cannot create namespaces (unprivileged user namespaces disabled,
as on some Ubuntu kernels), or for a path outside the workspace. Nothing here is an `InfraError`: a host without bwrap
is a setup problem, not a transient one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from simyard.platform.errors import SandboxError
from simyard.sandboxes import _cgroups
from simyard.sandboxes._capture import drive
from simyard.sandboxes.base import CommandResult, Limits, Sandbox

__all__ = ["BwrapSandbox", "WORKDIR", "bwrap_available"]

#: Where the workspace appears inside the sandbox (the same path as in the Docker sandbox).
WORKDIR = "/workspace"
#: /etc entries the host shares, read-only (what the loader, bash, python3, git and pytest read). Anything else under
#: /etc (shadow, ssh, sudoers, apt and pip configuration, docker, environment, resolv.conf) stays invisible.
ETC_ALLOW = (
    "alternatives", "bash.bashrc", "debian_version", "gitconfig", "inputrc", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "localtime", "mime.types", "nsswitch.conf", "os-release", "profile", "profile.d", "python3",
    "python3.11", "python3.12", "python3.13", "ssl", "terminfo", "timezone",
)  # fmt: skip
_ETC_OWN = {
    "passwd": "root:x:0:0:root:/root:/bin/bash\nagent:x:1000:1000:agent:/tmp:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    "hostname": "sandbox\n",
}
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "USER": "agent",
    "LOGNAME": "agent",
    "SHELL": "/bin/bash",
    "TMPDIR": "/tmp",
}

_static: list[str] | None = None
_static_lock = threading.Lock()
_warned_pids = False


def bwrap_available() -> str | None:
    """Why the bwrap sandbox cannot run here (None when it can): the binary is missing or namespaces are refused."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    try:
        probe = subprocess.run(
            ["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
             "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--", "/usr/bin/true"],
            capture_output=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not run: {exc}"
    if probe.returncode != 0:
        return "bwrap cannot create namespaces: " + probe.stderr.decode(errors="replace").strip()
    return None


def _copy_allowed(source: Path, target: Path) -> None:
    """Copy an allowed /etc entry: regular files and symlinks as they are, directories recursively; never a private
    key directory (ssl/private), nothing unreadable."""
    if source.name == "private":
        return
    try:
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_dir():
            target.mkdir()
            for child in source.iterdir():
                _copy_allowed(child, target / child.name)
        elif source.is_file():
            shutil.copy2(source, target)
            target.chmod(0o644)
    except OSError:
        pass


def _static_args() -> list[str]:
    """The bwrap arguments every command shares: the read-only system and simyard's /etc.

    /etc is a copy, made once per process, of the allowed entries (symlinks kept, ssl/private left out) plus simyard's
    own passwd, group, hosts and hostname, bound as one directory: one mount instead of thirty makes each command
    several milliseconds faster. It lives in the process's temp directory, which a run's scratch cleanup may remove
    (platform/cleanup.py): a copy that is gone is made again."""
    global _static
    with _static_lock:
        if _static is not None and Path(_static[_static.index("/etc") - 1]).is_dir():
            return _static
        own = Path(tempfile.mkdtemp(prefix="simyard-bwrap-etc-"))
        own.chmod(0o755)
        atexit.register(shutil.rmtree, own, True)
        etc = own / "etc"
        etc.mkdir(mode=0o755)
        for name in ETC_ALLOW:
            _copy_allowed(Path("/etc") / name, etc / name)
        for name, text in _ETC_OWN.items():
            (etc / name).write_text(text)
            (etc / name).chmod(0o644)
        args = ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{name}"]
        args += ["--ro-bind", str(etc), "/etc"]
        _static = args
        return args


class BwrapSandbox(Sandbox):
    """A workspace whose commands run under bubblewrap (see the module docstring for what is isolated and how).

    Args:
        workspace: The host directory bound read-write at `/workspace`.
        limits: Per-command limits.
        tmp_mb: Size of the private /tmp (a tmpfs, counted in the memory limit under cgroups; at most half of
            `limits.memory_mb`).
        ro_binds: More host paths to show read-only, host path -> path inside (a workspace's upstream repository).
        binds: More host directories to show read-write, host path -> path inside.

    Raises:
        SandboxError: bubblewrap is missing or cannot create namespaces (checked once per process), or the workspace
            is not a directory.
    """

    kind = "bwrap"
    isolated = True
    _checked: str | None | bool = False

    def __init__(
        self,
        workspace: Path,
        limits: Limits = Limits(),
        tmp_mb: int = 512,
        ro_binds: Mapping[str, str] | None = None,
        binds: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(workspace, limits)
        if not self.workspace.is_dir():
            raise SandboxError(f"workspace {self.workspace} is not a directory", hint="create it before the sandbox")
        if BwrapSandbox._checked is False:
            BwrapSandbox._checked = bwrap_available()
        if BwrapSandbox._checked:
            raise SandboxError(
                str(BwrapSandbox._checked), hint="install bubblewrap, or use --world-opt sandbox=docker (or local)"
            )
        self.tmp_mb = tmp_mb
        self.ro_binds = {str(Path(src).resolve()): dest for src, dest in (ro_binds or {}).items()}
        self.binds = {str(Path(src).resolve()): dest for src, dest in (binds or {}).items()}
        for src in [*self.ro_binds, *self.binds]:
            if not Path(src).exists():
                raise SandboxError(f"cannot show {src} in the sandbox: it does not exist", hint="check the path")
        # at most half the memory limit, so a full /tmp leaves room to run the command that empties it
        self.tmp_bytes = min(tmp_mb, max(1, limits.memory_mb // 2)) << 20
        self.workdir = WORKDIR
        self._lock = threading.Lock()
        self._closed = False

    def _argv(self, command: str | Sequence[str], env: Mapping[str, str] | None, cgroup: bool) -> list[str]:
        limits = self.limits
        argv = [
            "bwrap",
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ]
        argv += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox"]
        for key, value in {**BASE_ENV, **(env or {})}.items():
            argv += ["--setenv", key, str(value)]
        argv += _static_args()
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(self.tmp_bytes), "--tmpfs", "/tmp"]
        # bwrap builds the view on a tmpfs root: made read-only last, so nothing but /tmp and /workspace takes writes
        argv += ["--bind", str(self.workspace.resolve()), WORKDIR]
        for src, dest in self.binds.items():
            argv += ["--bind", src, dest]
        for src, dest in self.ro_binds.items():
            argv += ["--ro-bind", src, dest]
        argv += ["--remount-ro", "/", "--chdir", WORKDIR, "--"]
        if not cgroup:
            # RLIMIT_NPROC counts per user namespace, so it is set inside, by prlimit; under a cgroup (root) the
            # cgroup's wrapper sets CPU time itself and no extra process is needed here
            rlimits = [f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}", "--core=0", f"--nproc={limits.pids}"]
            argv += ["/usr/bin/prlimit", *rlimits, f"--as={limits.memory_mb << 20}", "--"]
        argv += ["/bin/bash", "-lc", command] if isinstance(command, str) else list(command)
        return argv

    def run(
        self,
        command: str | Sequence[str],
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `command` (a string goes to `bash -lc`) in `/workspace` under the limits.

        Returns when the command exits or `timeout_s` (default `limits.timeout_s`) passes; then every process it
        started is killed, `timed_out` is set and `exit_code` is None. A command the kernel killed (CPU time, memory)
        has exit code 128 + the signal (137 for SIGKILL, 152 for SIGXCPU). Output beyond `limits.output_bytes` per
        stream is dropped in the middle (a marker line says how much) and `truncated` is set.

        Raises:
            SandboxError: the sandbox is closed, or bwrap itself could not start.
        """
        global _warned_pids
        if self._closed:
            raise SandboxError("the sandbox is closed", hint="make a new one")
        if not self.workspace.is_dir():
            raise SandboxError(f"the workspace {self.workspace} is gone", hint="was it removed while in use?")
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            group = _cgroups.Cgroup.create(self.limits.pids, self.limits.memory_mb << 20)
            if group is None and os.geteuid() == 0 and not _warned_pids:
                _warned_pids = True
                warnings.warn(
                    "bwrap sandbox: running as root without writable cgroups "
                    f"({_cgroups.unavailable_reason()}), so the process count is not limited",
                    RuntimeWarning,
                    stacklevel=2,
                )
            argv = self._argv(command, env, cgroup=group is not None)
            if group is not None:  # join the cgroup before bwrap starts, so nothing it forks escapes the limits
                files = group.procs_files
                joins = " && ".join(f'echo $$ > "${i + 1}"' for i in range(len(files)))
                cpu = self.limits.cpu_s
                limit = f"ulimit -S -t {cpu} && ulimit -H -t {cpu + 1} && ulimit -c 0"
                script = f'{joins} && {limit} && shift {len(files)} && exec "$@"'
                argv = ["/bin/sh", "-c", script, "sh", *files, *argv]
            start = time.monotonic()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    env={"PATH": "/usr/bin:/bin"},
                    close_fds=True,
                )
            except OSError as exc:
                if group is not None:
                    group.remove()
                raise SandboxError(f"bwrap could not start: {exc}", hint="is bubblewrap installed?") from exc

            def kill() -> None:
                try:
                    os.killpg(proc.pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
                if group is not None:
                    group.kill()

            try:
                out, err, timed_out = drive(
                    proc, stdin.encode() if stdin is not None else None, start + timeout, self.limits.output_bytes, kill
                )
                if timed_out:
                    kill()
                code = proc.wait()
            finally:
                if proc.poll() is None:
                    kill()
                    proc.wait()
                if group is not None:
                    group.remove()
            duration = time.monotonic() - start
        if code < 0:  # bwrap itself killed by a signal
            code = 128 - code
        return CommandResult(
            exit_code=None if timed_out else code,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=duration,
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
        )

    def close(self) -> None:
        """Nothing runs between commands, so closing only refuses later calls. Safe to call twice."""
        self._closed = True
