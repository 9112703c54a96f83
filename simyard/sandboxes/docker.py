"""The `docker` sandbox: one container per sandbox (the Docker SDK for Python), commands run in it with `exec`.

What a command sees and may do:

- **Files**: `/workspace` (the episode's workspace, a bind mount, read-write, the working directory), a private `/tmp`
  (tmpfs, `tmp_mb`), and the image's own filesystem, read-only (`read_only=True`, the default; a world that needs the
  agent to install packages, as Harbor tasks may, passes False). Nothing of the host but the workspace and `binds`.
- **Identity**: the host user's uid and gid (so files written in the workspace belong to whoever runs simyard), every
  capability dropped, `no-new-privileges`.
- **Network**: none (`network_mode=none`) unless `network=True`.
- **Environment**: the image's, plus `HOME=/tmp`, `LANG=C.UTF-8`, `TERM=dumb`, plus `run(env=...)`. The host's
  variables are never passed.
- **Limits** (`Limits`): memory for the whole container (no swap), `pids` processes, `cpus` CPUs (when set), CPU
  seconds per process (`ulimit -t` in the command's wrapper).
- **Lifetime**: a command's processes never outlive it: its wrapper ends by killing every process in the container
  but pid 1 (Docker's init, which reaps orphans) and its `sleep infinity` child, and at the deadline a second `exec`
  does the same (or, when a fork bomb leaves no pid to start it, the container is restarted: the workspace stays,
  /tmp is emptied). A command that kills the keepalive itself stops the container; the next command starts it again.
- **Containers** are labelled `simyard.sandbox=1`, `simyard.run=<run_id>` and `simyard.owner=<host>:<pid>:<start>`,
  removed by `close()` (also at interpreter exit), and `sweep_containers()`, run once per process before the first
  container is made, removes those whose owning process is gone (a crashed run's leftovers).

Images: `image` names a local image (default `simyard/base:bookworm`, built without any registry by
`simyard.sandboxes.images`); nothing is ever pulled. Commands given as a string run with `bash -lc`, so the image needs
bash; an argv list runs as given.

Errors: `SandboxLost` (an `InfraError`: the episode is retried, never failed) when the daemon is unreachable or dies,
or the container disappears or stops; its hint says to start dockerd or use `--world-opt sandbox=bwrap`.
`SandboxError` for an image that does not exist locally or a path outside the workspace. `MissingExtraError` when the
Docker SDK is not installed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import socket
import struct
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from simyard.platform.errors import SandboxError, require
from simyard.platform.resources import Resources
from simyard.sandboxes._capture import DRAIN_GRACE_S, Capped
from simyard.sandboxes.base import CommandResult, Limits, Sandbox, SandboxLost

__all__ = [
    "BASE_IMAGE",
    "DAEMON_HINT",
    "LABEL_OWNER",
    "LABEL_RUN",
    "DockerSandbox",
    "docker_client",
    "owner_id",
    "sweep_containers",
]

BASE_IMAGE = "simyard/base:bookworm"
WORKDIR = "/workspace"
LABEL_SANDBOX = "simyard.sandbox"
LABEL_RUN = "simyard.run"
LABEL_OWNER = "simyard.owner"
DAEMON_HINT = "start the Docker daemon (dockerd; `bash scripts/setup.sh` as root does) or use --world-opt sandbox=bwrap"
#: Every container runs Docker's init (tini) as pid 1, which reaps orphans, with this as its only child. Neither ever
#: forks, so a fork bomb cannot starve them; if the child is killed anyway (an agent's `kill -9 -1`), the container
#: stops and the next command starts it again.
KEEPALIVE = ["sleep", "infinity"]
#: Kill every process in the container but pid 1, the keepalive (the oldest other process) and this shell, with shell
#: builtins only (dash's `kill` takes no -1; procps may be missing); rounds, for what forks meanwhile.
_KILL_REST = (
    'keep=; min=; for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = 1 ] && continue; '
    'read -r l < "$d/stat" 2>/dev/null || continue; set -- ${l##*) }; '
    'if [ -z "$min" ] || [ "${20}" -lt "$min" ]; then min=${20}; keep=$p; fi; done; '
    "i=0; while [ $i -lt 30 ]; do n=0; for d in /proc/[0-9]*; do p=${d#/proc/}; "
    '[ "$p" = 1 ] || [ "$p" = "$keep" ] || [ "$p" = $$ ] || { kill -9 "$p" 2>/dev/null && n=1; }; done; '
    "[ $n = 0 ] && break; i=$((i+1)); done"
)
#: Every command's wrapper: wait for simyard's go-ahead line on stdin (so no output can arrive before simyard reads
#: the stream), limit CPU time, run the command, then kill whatever it left running.
_WRAPPER = (
    'IFS= read -r _simyard_go; ulimit -t {cpu} 2>/dev/null; ulimit -c 0 2>/dev/null; "$@"; rc=$?; '
    + _KILL_REST.replace("{", "{{").replace("}", "}}")
    + "; exit $rc"
)
BASE_ENV = {"HOME": "/tmp", "LANG": "C.UTF-8", "TERM": "dumb", "TMPDIR": "/tmp"}

_clients: dict[str | None, Any] = {}
_clients_lock = threading.Lock()
_swept: set[str | None] = set()
_open: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()


def _lost(what: str, exc: BaseException | None = None) -> SandboxLost:
    detail = f": {exc}" if exc is not None else ""
    return SandboxLost(f"{what}{detail}".splitlines()[0][:300], hint=DAEMON_HINT)


@contextlib.contextmanager
def _daemon_errors(what: str) -> Iterator[None]:
    """Turn the SDK's and requests' failures into `SandboxLost` (the daemon or container went away)."""
    docker = require("docker", "docker")
    import requests

    try:
        yield
    except (SandboxLost, SandboxError):
        raise
    except docker.errors.ImageNotFound as exc:
        raise SandboxError(
            f"{what}: image not found locally ({exc.explanation})",
            hint="build it first (simyard.sandboxes.images.ensure_base_image / build_image); nothing is pulled",
        ) from exc
    except docker.errors.NotFound as exc:
        raise _lost(f"{what}: the container is gone", exc) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise _lost(f"{what}: the Docker daemon failed", exc) from exc


def docker_client(base_url: str | None = None, resources: Resources | None = None) -> Any:
    """A `docker.DockerClient` for `base_url` (default: `$DOCKER_HOST` or the local socket), checked with a ping.

    Shared per worker through `resources` when given, else per process.

    Raises:
        SandboxLost: the daemon is not reachable.
        MissingExtraError: the Docker SDK is not installed (`pip install 'simyard[docker]'`).
    """
    docker = require("docker", "docker")

    def make() -> Any:
        with _daemon_errors(
            f"cannot reach the Docker daemon at {base_url or os.environ.get('DOCKER_HOST', 'the local socket')}"
        ):
            client = (
                docker.DockerClient(base_url=base_url, version="auto", timeout=120)
                if base_url
                else docker.from_env(version="auto", timeout=120)
            )
            client.ping()
            return client

    if resources is not None:
        return resources.shared(("docker-client", base_url), make)
    with _clients_lock:
        client = _clients.get(base_url)
        if client is None:
            client = _clients[base_url] = make()
        return client


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_id(pid: int | None = None) -> str:
    """`host:pid:start-time` of a process: what labels a container with its owner, robust to pid reuse."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return True  # another machine's container on a shared daemon: not ours to judge
    pid, _, start = rest.partition(":")
    try:
        return _start_time(int(pid)) == start
    except ValueError:
        return False


def sweep_containers(client: Any = None, run_id: str | None = None) -> int:
    """Remove simyard's sandbox containers whose owning process is gone (or, with `run_id`, every one of that run).

    Returns how many were removed. Raises `SandboxLost` when the daemon is unreachable.
    """
    client = client or docker_client()
    docker = require("docker", "docker")
    removed = 0
    with _daemon_errors("sweeping leftover sandbox containers"):
        for container in client.containers.list(all=True, filters={"label": LABEL_SANDBOX}):
            labels = container.labels or {}
            stale = (run_id is not None and labels.get(LABEL_RUN) == run_id) or not _owner_alive(
                labels.get(LABEL_OWNER, "")
            )
            if stale:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True, v=True)
                    removed += 1
    return removed


@atexit.register
def _remove_open() -> None:
    for sandbox in list(_open):
        with contextlib.suppress(Exception):
            sandbox.close()


class DockerSandbox(Sandbox):
    """A workspace bound into a fresh container; see the module docstring for what is isolated and how.

    Args:
        workspace: The host directory bound read-write at `/workspace`.
        limits: Limits per command (memory, pids and cpus hold for the whole container).
        image: A local image (never pulled).
        run_id: The `simyard.run` label (default `pid-<pid>`); `sweep_containers(run_id=...)` removes a run's.
        base_url: The daemon (default `$DOCKER_HOST` or the local socket).
        resources: The worker's scope: the client is shared there.
        read_only: Whether the image's filesystem is read-only (the workspace, /tmp and `binds` stay writable).
        network: Whether the container has a network (default: none).
        tmp_mb: Size of the private /tmp (at most half of `limits.memory_mb`: a full /tmp, which is memory and
            stays between commands, must leave room to run the command that empties it).
        binds: More host directories to bind read-write, host path -> container path (Harbor's /logs, say).
        ro_binds: More host paths to bind read-only, host path -> container path (a workspace's upstream).
        propagation: Mount propagation of the workspace bind (`rslave` lets a warm pool re-bind it; see pool.py).
        workdir: Where the workspace is bound and commands start (default `/workspace`); a world whose image keeps
            its own files at /workspace (a Harbor task's, say) binds the workspace elsewhere so it hides nothing.

    Raises:
        SandboxLost: the daemon is unreachable or fails to start the container.
        SandboxError: the image does not exist locally, or the workspace is not a directory.
    """

    kind = "docker"
    isolated = True

    def __init__(
        self,
        workspace: Path,
        limits: Limits = Limits(),
        image: str = BASE_IMAGE,
        run_id: str | None = None,
        base_url: str | None = None,
        resources: Resources | None = None,
        read_only: bool = True,
        network: bool = False,
        tmp_mb: int = 512,
        binds: Mapping[str, str] | None = None,
        ro_binds: Mapping[str, str] | None = None,
        propagation: str | None = None,
        workdir: str = WORKDIR,
    ) -> None:
        super().__init__(workspace, limits)
        if not self.workspace.is_dir():
            raise SandboxError(f"workspace {self.workspace} is not a directory", hint="create it before the sandbox")
        docker = require("docker", "docker")
        self.client = docker_client(base_url, resources)
        if base_url not in _swept:
            _swept.add(base_url)
            sweep_containers(self.client)
        self.image = image
        self.workdir = workdir
        self.run_id = run_id or f"pid-{os.getpid()}"
        self.user = f"{os.getuid()}:{os.getgid()}"
        self._lock = threading.Lock()
        self.container: Any = None
        mounts = [
            docker.types.Mount(workdir, str(self.workspace.resolve()), type="bind", propagation=propagation),
            *(docker.types.Mount(dest, str(Path(src).resolve()), type="bind") for src, dest in (binds or {}).items()),
            *(
                docker.types.Mount(dest, str(Path(src).resolve()), type="bind", read_only=True)
                for src, dest in (ro_binds or {}).items()
            ),
        ]
        with _daemon_errors(f"cannot start a container from {image!r}"):
            # create + start, not run: `run` pulls an image it cannot find, and nothing is ever pulled here
            container = self.client.containers.create(
                image,
                KEEPALIVE,
                labels={LABEL_SANDBOX: "1", LABEL_RUN: self.run_id, LABEL_OWNER: owner_id()},
                network_mode=None if network else "none",
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",
                pids_limit=limits.pids + 4,  # pid 1, its sleep, a command's wrapper and a kill exec
                nano_cpus=int(limits.cpus * 1e9) if limits.cpus else None,
                read_only=read_only,
                tmpfs={"/tmp": f"size={min(tmp_mb, max(1, limits.memory_mb // 2))}m,mode=1777"},
                mounts=mounts,
                working_dir=workdir,
                user=self.user,
                init=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                environment=BASE_ENV,
                hostname="sandbox",
            )
            self.container = container
            _open.add(self)
            try:
                container.start()
            except BaseException:
                self.close()
                raise

    # --- commands ----------------------------------------------------------------------------------------------------

    def _exec(self, argv: list[str], env: Mapping[str, str] | None) -> tuple[str, socket.socket]:
        api = self.client.api
        exec_id = api.exec_create(
            self.container.id, argv, stdin=True, stdout=True, stderr=True, tty=False, user=self.user,
            environment={**BASE_ENV, **(env or {})}, workdir=self.workdir,
        )["Id"]  # fmt: skip
        sock = api.exec_start(exec_id, socket=True)
        return exec_id, getattr(sock, "_sock", sock)

    def _kill_all(self) -> None:
        """Kill every process a command started (at its deadline). When no process can be started in the container to
        do it (a fork bomb holds every pid), the container is restarted: the workspace stays, /tmp is emptied."""
        docker = require("docker", "docker")
        with _daemon_errors("killing a command at its deadline"):
            try:
                result = self.container.exec_run(["/bin/sh", "-c", _KILL_REST], user=self.user)
                if result.exit_code == 0:
                    return
            except docker.errors.APIError:
                pass
            self.container.restart(timeout=0)

    def _revive(self) -> bool:
        """Start the container again once it has stopped (its keepalive was killed); False when it keeps running."""
        import requests

        with _daemon_errors("restarting the container"):
            try:
                self.container.wait(timeout=3)
            except requests.exceptions.RequestException:
                return False  # still running after 3 s: not a stopping container
            self.container.start()
            return True

    def _start_exec(self, argv: list[str], env: Mapping[str, str] | None) -> tuple[str, socket.socket]:
        """Start `argv`; a stopped container (its keepalive killed by a command) is started again first."""
        docker = require("docker", "docker")
        with _daemon_errors("running a command in the container"):
            try:
                return self._exec(argv, env)
            except docker.errors.NotFound:
                raise
            except docker.errors.APIError:  # 409 or 500 "is not running": a stopped or stopping container
                if not self._revive():
                    raise
            return self._exec(argv, env)

    def run(
        self,
        command: str | Sequence[str],
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `command` (a string goes to `bash -lc`) in `/workspace` in the container, under the limits.

        Returns when the command exits or `timeout_s` (default `limits.timeout_s`) passes; then every process in the
        container but pid 1 is killed, `timed_out` is set and `exit_code` is None. Output beyond
        `limits.output_bytes` per stream is dropped in the middle (a marker line says how much), `truncated` set.

        Raises:
            SandboxLost: the daemon or the container went away.
            SandboxError: the sandbox is closed.
        """
        if self.container is None:
            raise SandboxError("the sandbox is closed", hint="make a new one")
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        argv = ["bash", "-lc", command] if isinstance(command, str) else list(command)
        wrapper = ["/bin/sh", "-c", _WRAPPER.format(cpu=self.limits.cpu_s), "sh", *argv]
        with self._lock:
            for attempt in (0, 1):
                out, err = Capped(self.limits.output_bytes), Capped(self.limits.output_bytes)
                start = time.monotonic()
                exec_id, sock = self._start_exec(wrapper, env)
                timed_out = self._pump(sock, b"\n" + (stdin or "").encode(), start + timeout, out, err)
                with _daemon_errors("reading a command's exit code"):
                    info = self.client.api.exec_inspect(exec_id)
                duration = time.monotonic() - start
                if not timed_out and info.get("Running"):
                    raise _lost("the command's stream ended while it still ran (the daemon restarted?)")
                code = info.get("ExitCode")
                # the container was stopping as the command started (the previous command killed its keepalive):
                # runc reports that as exit 126; start the container again and run the command once more
                # ("cannot exec in a stopped state", or "... deleted state" when runc catches it later)
                stopped = any(m in out.head for m in (b"OCI runtime exec failed", b"cannot exec in a "))
                if attempt == 0 and code == 126 and stopped and self._revive():
                    continue
                break
        return CommandResult(
            exit_code=None if timed_out else code,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=duration,
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
        )

    def _pump(self, sock: socket.socket, data: bytes, deadline: float, out: Capped, err: Capped) -> bool:
        """Send `data` as stdin, demultiplex Docker's framed stream into `out`/`err` until it closes; kill everything at
        `deadline`. Returns whether the deadline passed."""
        sock.setblocking(False)
        pending = memoryview(data)
        buffer = bytearray()
        timed_out = False
        give_up = float("inf")
        try:
            while True:
                now = time.monotonic()
                if not timed_out and now >= deadline:
                    timed_out = True
                    self._kill_all()
                    give_up = time.monotonic() + DRAIN_GRACE_S
                if now >= give_up:
                    break
                wait = max(0.0, min((give_up if timed_out else deadline) - now, 1.0))
                readable, writable, _ = select.select([sock], [sock] if pending else [], [], wait)
                if writable:
                    try:
                        pending = pending[sock.send(pending[: 1 << 16]) :]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        pending = pending[len(pending) :]
                    if not pending:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_WR)
                if not readable:
                    continue
                try:
                    chunk = sock.recv(1 << 20)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    raise _lost("the command's stream broke", exc) from exc
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 8:
                    kind, size = buffer[0], struct.unpack(">I", buffer[4:8])[0]
                    if len(buffer) < 8 + size:
                        break
                    (err if kind == 2 else out).feed(bytes(buffer[8 : 8 + size]))
                    del buffer[: 8 + size]
        finally:
            sock.close()
        return timed_out

    # --- lifetime ----------------------------------------------------------------------------------------------------

    def alive(self) -> bool:
        """Whether the container still runs (a pool checks this before handing a sandbox out again)."""
        if self.container is None:
            return False
        try:
            self.container.reload()
        except Exception:
            return False
        return self.container.status == "running"

    def close(self) -> None:
        """Remove the container (forcibly, with its anonymous volumes). Safe to call twice; never raises."""
        container, self.container = self.container, None
        _open.discard(self)
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
