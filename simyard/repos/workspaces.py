"""Per-episode git workspaces whose history ends at the agent's belief, with the world state only upstream.

The layout (all under one `WorkspaceRoot`, a directory this process owns and removes):

    <root>/upstreams/<world_sha>.git   a private bare repository, `main` = the world state with its history:
                                       what `origin` serves; the sandbox must show it read-only at the same path
    <root>/templates/<key>/            one belief workspace per scenario, built once
    <root>/ws-<n>/                     an episode's workspace: a plain copy of a template

A workspace (`Workspaces.create`) is a normal git repository on `main` whose last commit is the belief state: the
world's tree with the belief files (the agent's stale function spliced in) committed on top of `base_sha`, the
commit the agent last synced with. `origin` points at the upstream and `origin/main` still names `base_sha`, so
`git status` says "ahead of 'origin/main' by 1 commit" until the agent runs `git fetch`; then `origin/main` is the
world state and `git log origin/main`, `git diff HEAD origin/main` or a merge show the collaborator's change, as with
a real collaborator. Before a fetch nothing in the workspace reaches the world's commits: its object store holds the
history up to `base_sha` (fetched by sha over git's pack protocol, which sends only reachable objects), the files of
the belief tree (hashed from the work tree, so the world's version of a belief file never becomes an object), and
the belief commit. `git log --all`, `git fsck --lost-found` and a scan of every object find no future (tested).

Why copies rather than worktrees or `clone --shared`: a worktree shares the source's object store and refs, and
`--shared` points `objects/info/alternates` at it; both hand the agent the world's commits. A copy of a small
template costs about as much as `git worktree add` (see benchmarks/repos_build.py) and is self-contained, so a
sandbox needs to show only the workspace and the upstream.

Crash safety: the root holds a marker (`.simyard-workspaces.json`: pid, the process's start time, run id, host).
Every new root first sweeps its base directory and removes roots whose process is gone (a crash, a SIGKILL). A root
removes itself on `close()`, when garbage-collected, and at interpreter exit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simyard.platform.errors import SimyardError

__all__ = [
    "MARKER",
    "BeliefState",
    "Upstream",
    "Workspace",
    "WorkspaceRoot",
    "Workspaces",
    "default_base",
    "git",
    "pin_source",
    "sweep_stale",
]

#: The file that marks a workspace root and names the process that owns it.
MARKER = ".simyard-workspaces.json"

#: Who the belief commit says made it (the agent), and the identity the agent's own commits get.
AGENT_NAME, AGENT_EMAIL = "Agent", "agent@simyard.invalid"


def default_base() -> Path:
    """Where roots live unless told: `$SIMYARD_WORKSPACES`, else `<tmp>/simyard-workspaces`."""
    return Path(os.environ.get("SIMYARD_WORKSPACES") or Path(tempfile.gettempdir()) / "simyard-workspaces")


def git(cwd: Path | str | None, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
    """Run git for simyard's own bookkeeping, away from the user's and the system's config (hooks, signing,
    templates), so what is built depends on the repository alone. Raises `GitFailed` with git's message."""
    full_env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                **(env or {})}
    command = ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "gc.auto=0", *args]
    done = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, input=input)
    if done.returncode != 0:
        raise GitFailed(f"git {' '.join(args[:3])} failed: {done.stderr.decode(errors='replace').strip()[:500]}",
                        hint="see git's message")
    return done.stdout.decode(errors="replace")


class GitFailed(SimyardError):
    """A git command simyard ran for itself failed."""


# ------------------------------------------------------------------------------------------------ the root


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) from /proc, so a reused pid is not mistaken for the owner;
    None where there is no /proc (then only whether the pid is alive counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start_time: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start_time is None:
        return True
    current = _start_time(pid)
    return current is None or current == start_time


def sweep_stale(base: Path | str | None = None) -> list[Path]:
    """Remove the roots under `base` whose owning process is gone (on this host); returns what was removed.

    A directory without a marker is left alone: it is a root being created, or not ours.
    """
    base = Path(base) if base is not None else default_base()
    removed = []
    if not base.is_dir():
        return removed
    host = socket.gethostname()
    for child in base.iterdir():
        try:
            marker = json.loads((child / MARKER).read_text())
            pid, owner_host = int(marker["pid"]), marker.get("host", host)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if owner_host == host and not _alive(pid, marker.get("start_time")):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


class WorkspaceRoot:
    """A directory this process owns for one run: upstreams, templates and episode workspaces live in it.

    Creating one sweeps stale roots first (`sweep_stale`). It is removed by `close()` (also as a context manager),
    when garbage-collected, and at interpreter exit; a crash leaves it for the next sweep.
    """

    def __init__(self, base: Path | str | None = None, run_id: str = "run", sweep: bool = True) -> None:
        self.base = Path(base) if base is not None else default_base()
        self.base.mkdir(parents=True, exist_ok=True)
        if sweep:
            sweep_stale(self.base)
        safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)[:60] or "run"
        self.run_id = run_id
        self.path = self.base / f"{safe_run}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        self.path.mkdir()
        marker = {"pid": os.getpid(), "start_time": _start_time(os.getpid()), "run_id": run_id,
                  "host": socket.gethostname(), "created": time.time()}
        (self.path / MARKER).write_text(json.dumps(marker))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)
        self._counter = 0

    def new_dir(self, prefix: str) -> Path:
        """A fresh, empty directory in the root (`<prefix>-<n>`)."""
        self._counter += 1
        path = self.path / f"{prefix}-{self._counter}"
        path.mkdir()
        return path

    def close(self) -> None:
        """Remove the root and everything in it. Safe to call twice."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> WorkspaceRoot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------ upstream


@dataclass(frozen=True, slots=True)
class Upstream:
    """A private bare repository holding the world state: what a workspace's `origin` serves.

    Plain data (picklable), so a run can pin once and hand it to every worker.

    Attributes:
        path: The bare repository; a sandbox must show it read-only at this same path for `git fetch` to work.
        world_sha: The pinned world state (`main` there).
        source: Where it was fetched from (a path or URL, as given).
    """

    path: Path
    world_sha: str
    source: str


def open_source(source: Path | str):
    """A `git.Repo` for a local repository, or a one-line error naming what is wrong."""
    import git as gitpython

    path = Path(source).expanduser()
    if not path.exists():
        raise SimyardError(f"{source} does not exist", hint="give the path of a git repository (a clone)")
    try:
        repo = gitpython.Repo(path)
    except gitpython.InvalidGitRepositoryError:
        raise SimyardError(f"{source} is not a git repository",
                           hint="give a folder with a .git directory, or clone the project first") from None
    if not repo.head.is_valid():
        raise SimyardError(f"{source} has no commits", hint="the builder reads the history; commit first")
    return repo


def resolve_sha(repo, rev: str | None) -> str:
    """The full sha of `rev` (a sha, a branch, a tag; HEAD when None) in `repo`, or a one-line error."""
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{rev or 'HEAD'}^{{commit}}").strip()
    except Exception:  # GitCommandError, and a rev that git reads as an option, mean the same thing here
        raise SimyardError(f"no commit {rev!r} in {repo.working_dir or repo.git_dir}",
                           hint="give a sha, branch or tag that exists there") from None


def pin_source(source: Path | str, root: WorkspaceRoot, world_sha: str | None = None) -> Upstream:
    """Pin `source`'s world state (`world_sha`, default its HEAD) in a private bare upstream under `root`.

    The upstream holds `main` = the world state and the history behind it, and nothing else (no other branches or
    tags, so a fetch shows the collaborator's line only). Built once per world sha and root.
    """
    repo = open_source(source)
    sha = resolve_sha(repo, world_sha)
    target = root.path / "upstreams" / f"{sha}.git"
    if target.exists():
        return Upstream(path=target, world_sha=sha, source=str(source))
    target.parent.mkdir(exist_ok=True)
    building = target.with_name(f"{target.name}.{uuid.uuid4().hex[:6]}.tmp")
    git(None, "init", "-q", "--bare", "-b", "main", str(building))
    git(building, "fetch", "-q", "--no-tags", str(Path(source).expanduser().resolve()), f"{sha}:refs/heads/main")
    (building / "FETCH_HEAD").unlink(missing_ok=True)
    building.rename(target)
    return Upstream(path=target, world_sha=sha, source=str(source))


# ------------------------------------------------------------------------------------------------ workspaces


@dataclass(frozen=True)
class BeliefState:
    """What an agent's workspace holds: the world's tree, with `files` as the agent believes them, committed on top
    of `base_sha` (the commit the agent last synced with; it must be an ancestor of the world state).

    Attributes:
        world_sha: The world state (must equal the upstream's).
        base_sha: Where the agent's history ends, and what `origin/main` names until a fetch.
        files: Repository-relative path -> the belief text of each file that differs from the world.
        message: The belief commit's message (the agent's own last commit).
    """

    world_sha: str
    base_sha: str
    files: Mapping[str, str] = field(default_factory=dict)
    message: str = "Work in progress"

    def key(self) -> str:
        digest = hashlib.sha256()
        for part in (self.world_sha, self.base_sha, self.message, *sorted(f"{k}\0{v}" for k, v in self.files.items())):
            digest.update(part.encode())
            digest.update(b"\1")
        return digest.hexdigest()[:20]


@dataclass
class Workspace:
    """One episode's git workspace. Close it when the episode ends (also a context manager).

    Attributes:
        path: The working tree the agent edits: the sandbox's workspace.
        upstream: The bare repository on the host; the sandbox must show it read-only at `remote_url`.
        remote_url: What `origin` says (the upstream's host path unless `Workspaces(remote_url=...)` chose a path
            where the sandbox mounts it).
        head_sha: The belief commit (`main`, HEAD).
        base_sha: What `origin/main` names before a fetch.
        world_sha: What `origin/main` names after a fetch.
    """

    path: Path
    upstream: Path
    remote_url: str
    head_sha: str
    base_sha: str
    world_sha: str

    def close(self) -> None:
        """Remove the workspace. Safe to call twice."""
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Workspaces:
    """Makes workspaces for one upstream in one root: a template per belief state, built on first use, and a plain
    copy of it per episode (`create`). Not thread-safe; one per worker process (or lane).

    Args:
        root: Where templates and workspaces live.
        upstream: The pinned world state.
        remote_url: What the workspaces' `origin` names. Default: the upstream's host path, right where the sandbox
            shows that path as is (`local`; bwrap or docker with a read-only bind at the same path). A world that
            mounts the upstream elsewhere (say `/upstream.git`) passes that path.
    """

    def __init__(self, root: WorkspaceRoot, upstream: Upstream, remote_url: str | None = None) -> None:
        self.root = root
        self.upstream = upstream
        self.remote_url = remote_url or str(upstream.path)
        self._templates: dict[str, tuple[Path, str]] = {}

    def create(self, belief: BeliefState) -> Workspace:
        """A fresh workspace at `belief` (about a millisecond per small repository once its template exists)."""
        template, head = self.template(belief)
        path = self.root.path / f"ws-{uuid.uuid4().hex[:12]}"
        shutil.copytree(template, path, symlinks=True)
        return Workspace(path=path, upstream=self.upstream.path, remote_url=self.remote_url, head_sha=head,
                         base_sha=belief.base_sha, world_sha=self.upstream.world_sha)

    def template(self, belief: BeliefState) -> tuple[Path, str]:
        """The template for `belief` and its head sha, built once."""
        if belief.world_sha != self.upstream.world_sha:
            raise SimyardError(f"belief is against world {belief.world_sha[:12]}, upstream holds "
                               f"{self.upstream.world_sha[:12]}", hint="pin the instance's world sha first")
        key = f"{belief.key()}-{hashlib.sha256(self.remote_url.encode()).hexdigest()[:6]}"
        if key not in self._templates:
            target = self.root.path / "templates" / key
            if target.is_dir():  # built by another factory of this root
                self._templates[key] = target, git(target, "rev-parse", "HEAD").strip()
            else:
                self._templates[key] = self._build(belief, target)
        return self._templates[key]

    def _build(self, belief: BeliefState, target: Path) -> tuple[Path, str]:
        target.parent.mkdir(exist_ok=True)
        work = target.with_name(target.name + ".tmp")
        shutil.rmtree(work, ignore_errors=True)
        upstream = str(self.upstream.path)
        # No template files (hook samples): fewer files to copy per episode.
        git(None, "init", "-q", "--template=", "-b", "main", str(work))
        git(work, "remote", "add", "origin", upstream)
        # Only objects reachable from the base travel: the pack protocol, never a copy of the upstream's store; kept
        # as one pack (unpackLimit=1) so an episode's copy is a few files.
        git(work, "-c", "fetch.unpackLimit=1", "fetch", "-q", "--no-tags", upstream,
            f"{belief.base_sha}:refs/remotes/origin/main")
        git(work, "update-ref", "refs/heads/main", belief.base_sha)
        git(work, "read-tree", "refs/remotes/origin/main")
        # The world's files into the work tree through a throw-away index: nothing enters the workspace's objects.
        with tempfile.TemporaryDirectory(dir=self.root.path) as scratch:
            index_env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            git(None, f"--git-dir={upstream}", f"--work-tree={work}", "read-tree", belief.world_sha, env=index_env)
            git(None, f"--git-dir={upstream}", f"--work-tree={work}", "checkout-index", "-a", "-f", env=index_env)
        for name, text in belief.files.items():
            file = work / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
        git(work, "add", "-A")
        stamp = f"{int(git(work, 'log', '-1', '--format=%ct', belief.base_sha).strip()) + 60} +0000"
        identity = {"GIT_AUTHOR_NAME": AGENT_NAME, "GIT_AUTHOR_EMAIL": AGENT_EMAIL, "GIT_AUTHOR_DATE": stamp,
                    "GIT_COMMITTER_NAME": AGENT_NAME, "GIT_COMMITTER_EMAIL": AGENT_EMAIL,
                    "GIT_COMMITTER_DATE": stamp}
        git(work, "commit", "-q", "--allow-empty", "--no-verify", "-m", belief.message, env=identity)
        git(work, "branch", "-q", "--set-upstream-to=origin/main", "main")
        git(work, "config", "user.name", AGENT_NAME)
        git(work, "config", "user.email", AGENT_EMAIL)
        if self.remote_url != upstream:
            git(work, "remote", "set-url", "origin", self.remote_url)
        (work / ".git" / "FETCH_HEAD").unlink(missing_ok=True)
        git(work, "repack", "-a", "-d", "-q")  # one pack instead of loose objects: fewer files to copy per episode
        head = git(work, "rev-parse", "HEAD").strip()
        work.rename(target)
        return target, head

    def checkout(self, sha: str | None = None) -> Path:
        """A plain checkout of the world state (or `sha`) for simyard's own test runs. It shares the upstream's
        objects (`clone --shared`), so it is never an agent's workspace."""
        path = self.root.new_dir("checkout")
        git(None, "clone", "-q", "--shared", "--no-checkout", str(self.upstream.path), str(path))
        git(path, "checkout", "-q", "--detach", sha or self.upstream.world_sha)
        return path
