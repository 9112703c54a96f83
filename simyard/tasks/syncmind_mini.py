"""The `syncmind-mini` suite: SyncMind's Caller and Callee scenarios, in both modes, on repositories simyard makes.

Built at first use and cached, offline and deterministic: `repos.make_repo(path, seed)` writes a small package with
six commits by two authors (fixed dates, so the same shas), `repos.build_suite` keeps the functions whose old
version breaks a test file (17 instances per seed: 5 Caller, 12 Callee), and each instance becomes two tasks, one
per mode (`independent`, `collaborative`): 34 tasks, subsets `caller-independent`, `callee-collaborative`, ...

The cache lives in `<cache>/syncmind-mini/<key>-seed<N>/` (`repo/` and `suite/`; `<cache>` is the `cache_dir`
option, else `$XDG_CACHE_HOME/simyard` or `~/.cache/simyard`), where `<key>` hashes the generator and builder sources,
so a changed generator never reads a stale cache. A lock file makes concurrent first uses wait for one build, and the
build happens in a scratch directory renamed into place, so an interrupted build leaves nothing half-made. The
suite is verified with the `bwrap` sandbox when it runs here (the world's default: the logs an agent sees are from
the same interpreter), else with `local`.

Options (`--suite-opt key=value`): `fresh_seed=N` builds the repository of seed N instead of 0; `modes=independent`
(or `collaborative`) keeps one mode; `data=PATH` (`--data`) runs the instances of any suite directory made by
`simyard repos build` (its suite.json names the source repository; `source=PATH` overrides it); `cache_dir=PATH`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from simyard.platform.api import Task
from simyard.platform.errors import SimyardError, TaskFileError

__all__ = ["MAX_TURNS", "REPO_NAME", "syncmind_mini_suite", "syncmind_tasks"]

#: SyncMind's default turn limit.
MAX_TURNS = 30
#: The repository's short name in instance ids (`mini0__callee__...`).
REPO_NAME = "mini{seed}"
MODES = ("independent", "collaborative")


def _cache_root(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simyard"


def _source_key() -> str:
    """A hash of what decides the suite: the generator, the builder, the history walk, the test runner."""
    from simyard.repos import builder, history, minirepos, testrun

    digest = hashlib.sha256()
    for module in (minirepos, builder, history, testrun):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:12]


def _build_sandbox() -> str:
    from simyard.sandboxes.bwrap import bwrap_available

    return "bwrap" if bwrap_available() is None else "local"


def built_suite(seed: int = 0, cache_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(repository, suite directory) of the mini suite of `seed`, built on first use.

    Raises:
        SimyardError: the build kept no instance (pytest missing where the tests run, most likely).
    """
    from simyard.repos import BuildOptions, build_suite, make_repo

    base = _cache_root(cache_dir) / "syncmind-mini"
    target = base / f"{_source_key()}-seed{seed}"
    if (target / "suite" / "instances.jsonl").exists():
        return target / "repo", target / "suite"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process building the same suite: wait, then use it
        if not (target / "suite" / "instances.jsonl").exists():
            scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=base))
            try:
                make_repo(scratch / "repo", seed)
                sandbox = _build_sandbox()
                report = build_suite(scratch / "repo", scratch / "suite", name=REPO_NAME.format(seed=seed),
                                     options=BuildOptions(sandbox=sandbox))
                if report.kept == 0:
                    raise SimyardError(f"the syncmind-mini build (seed {seed}, sandbox {sandbox}) kept no instance",
                                       hint="is pytest installed for python3 (apt-get install python3-pytest)?")
                # the repository moves with the suite: its recorded source must name where it will live
                manifest = (scratch / "suite" / "suite.json")
                manifest.write_text(manifest.read_text().replace(str(scratch / "repo"), str(target / "repo")))
                scratch.rename(target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return target / "repo", target / "suite"


def syncmind_tasks(suite_dir: str | Path, source: str | Path | None = None, modes: tuple[str, ...] = MODES,
                   max_turns: int = MAX_TURNS) -> list[Task]:
    """Two tasks (one per mode) for every instance of a suite directory made by `simyard repos build`.

    Args:
        suite_dir: The suite directory (suite.json and instances.jsonl).
        source: The repository the instances were built from (default: the one suite.json names).
        modes: Which of `independent`, `collaborative`.
        max_turns: SyncMind's turn limit (`Task.max_steps`).

    Raises:
        TaskFileError: not a suite directory, or its source repository is missing.
    """
    from simyard.repos import read_instances, read_manifest
    from simyard.repos.syncmind import INSTRUCTION

    suite_dir = Path(suite_dir).expanduser()
    if not suite_dir.is_dir():
        raise TaskFileError(f"{suite_dir} is not a directory", hint="give a suite made by `simyard repos build`")
    try:
        manifest = read_manifest(suite_dir)
    except SimyardError as error:
        raise TaskFileError(str(error), hint=error.hint) from None
    repo = Path(source or manifest.get("source", "")).expanduser()
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        raise TaskFileError(f"the source repository {str(repo)!r} of {suite_dir} is not there",
                            hint="pass --suite-opt source=PATH naming the repository the suite was built from")
    bad = sorted(set(modes) - set(MODES))
    if bad or not modes:
        raise TaskFileError(f"unknown mode(s) {', '.join(bad) or '(none)'}", hint=f"use {' or '.join(MODES)}")
    tasks = []
    for instance in read_instances(suite_dir):
        for mode in modes:
            tasks.append(Task(
                id=f"{instance.instance_id}__{mode}", world="syncmind",
                instruction=INSTRUCTION.format(test_file=instance.test_file),
                subset=f"{instance.setting}-{mode}",
                config={"instance": instance.model_dump(), "source": str(repo.resolve()), "mode": mode},
                goal={"test_file": instance.test_file, "fail_to_pass": instance.fail_to_pass},
                max_steps=max_turns, max_invalid=None,
            ))
    return tasks


def syncmind_mini_suite(fresh_seed: int | None = None, modes: str = "independent,collaborative",
                        data: str | None = None, source: str | None = None,
                        cache_dir: str | None = None) -> list[Task]:
    """The `syncmind-mini` suite (see the module docstring for the options)."""
    wanted = tuple(mode.strip() for mode in str(modes).split(",") if mode.strip())
    if data is not None:
        return syncmind_tasks(data, source=source, modes=wanted)
    seed = 0 if fresh_seed is None else int(fresh_seed)
    repo, suite = built_suite(seed, cache_dir)
    return syncmind_tasks(suite, source=source or repo, modes=wanted)
