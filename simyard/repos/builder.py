"""The scenario builder: SyncBench's Caller and Callee instances from any Python repository with pytest tests.

`build_suite(SOURCE, OUT)` pins the world state (the source's HEAD, by sha), finds the test files, walks the history
of every function (`history.walk_history`), pairs each candidate with the test files that can see it, and keeps a
pair when the test file passes at the world state with at least one test and fails with the old function spliced
in. Pairs:

- **Caller**: the function lives in the test file itself (a test or a helper); the verifier is that file.
- **Callee**: the function lives in a module the test file imports, written in any of the ways Python allows
  (`import pkg`, `import pkg as p`, `from pkg import f`, `from pkg.mod import f`, relative imports), plus what a
  package's `__init__` imports in turn (its re-exports: `import pkg` reaches `pkg/core.py` through them).

Test files are pytest's defaults (`test_*.py`, `*_test.py`) that define at least one `test*` function or method.

Work is grouped by test file (its gold run is made once per worker) and spread over worker processes (`spawn`), each
with its own checkout and sandbox. Every verdict is appended to `OUT/checked.jsonl` and every kept instance to
`OUT/instances.jsonl` as it is decided, so an interrupted build resumes (`resume=True`) where it stopped; a finished
build rewrites `instances.jsonl` sorted by id, so the result does not depend on the number of workers (but
for the durations pytest prints in the logs).

Suite directory:

    suite.json        what was built from what: source, repo name, world sha, options, status, counts
    instances.jsonl   one `Instance` per line
    checked.jsonl     one verdict per pair: {"key", "kept", "reason"}
"""

from __future__ import annotations

import ast
import atexit
import json
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from simyard.platform.errors import SimyardError
from simyard.repos.history import Candidate, functions_in, splice, walk_history
from simyard.repos.instances import Instance, read_instances, write_instances
from simyard.repos.testrun import TestRun, default_python, error_log, make_runner, run_pytest
from simyard.repos.workspaces import (
    Upstream,
    WorkspaceRoot,
    Workspaces,
    git,
    open_source,
    pin_source,
    resolve_sha,
    sweep_stale,
)
from simyard.sandboxes.base import Limits

__all__ = ["BuildOptions", "BuildReport", "Pair", "build_suite", "find_test_files", "imported_files", "plan_pairs",
           "read_manifest"]

MANIFEST = "suite.json"
INSTANCES = "instances.jsonl"
CHECKED = "checked.jsonl"
_UNIT_SIZE = 4  # pairs per unit of work: small enough to balance and to lose little on a crash


@dataclass(frozen=True)
class BuildOptions:
    """How a suite is built (recorded in suite.json; a resume keeps the recorded ones).

    Attributes:
        timeout_s: Limit per pytest run (SyncBench: 600 s).
        sandbox: Where the tests run (`local`, `bwrap`, `docker`; see simyard.sandboxes).
        python: The interpreter that runs pytest (default: this one for `local`, `python3` in a sandbox).
        include_async: Also `async def` functions (SyncBench: no).
        require_context_change: The file around the function must have changed too.
        settings: Which of `caller`, `callee` to build.
        limit: Verify at most this many pairs (a quick look at a large repository).
        pytest_args: Extra pytest arguments (SyncBench's per-repository `additional_unittest_command`).
    """

    timeout_s: float = 120.0
    sandbox: str = "local"
    python: str | None = None
    include_async: bool = True
    require_context_change: bool = True
    settings: tuple[str, ...] = ("caller", "callee")
    limit: int | None = None
    pytest_args: tuple[str, ...] = ()


@dataclass
class BuildReport:
    """What a build did. `rejected` counts pairs by reason; `skipped` were done by an earlier run."""

    suite_dir: Path
    repo: str
    world_sha: str
    pairs: int = 0
    checked: int = 0
    skipped: int = 0
    kept: int = 0
    caller: int = 0
    callee: int = 0
    rejected: Counter = field(default_factory=Counter)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Pair:
    """A candidate and the test file that would verify it."""

    key: str
    setting: str
    test_file: str
    candidate: Candidate


# ------------------------------------------------------------------------------------------------ planning


def find_test_files(files: dict[str, str]) -> list[str]:
    """pytest's default file names that define at least one `test*` function or method (sorted)."""
    found = []
    for path, text in files.items():
        name = PurePosixPath(path).name
        if not (name.startswith("test_") or name.endswith("_test.py")):
            continue
        try:
            functions = functions_in(text)
        except SyntaxError:
            continue
        if any(f.name.startswith("test") for f in functions.values()):
            found.append(path)
    return sorted(found)


def _module_index(paths: Iterable[str]) -> dict[str, str]:
    """Dotted module name -> file, for the repository root and a `src/` layout."""
    index: dict[str, str] = {}
    for path in paths:
        parts = PurePosixPath(path).with_suffix("").parts
        for root in (parts[1:] if parts[:1] == ("src",) else None, parts):
            if not root:
                continue
            name = ".".join(root[:-1] if root[-1] == "__init__" else root)
            if name:
                index.setdefault(name, path)
    return index


def _imports(path: str, text: str, index: dict[str, str]) -> set[str]:
    """Modules (by dotted name, present in `index`) that `text` names in its import statements."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    parts = PurePosixPath(path).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    if parts[:1] == ("src",):
        package = package[1:]
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else ()
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                module = node.module or ""
            if module:
                named.add(module)
            named.update(f"{module}.{alias.name}" if module else alias.name for alias in node.names)
    return {name for name in named if name in index}


def imported_files(test_file: str, files: dict[str, str]) -> set[str]:
    """The non-test repository files `test_file` can reach by name: what it imports, and what an imported package's
    `__init__` imports, recursively (re-exports)."""
    index = _module_index(p for p in files if p.endswith(".py"))
    reached: set[str] = set()
    queue = [index[name] for name in _imports(test_file, files[test_file], index)]
    while queue:
        path = queue.pop()
        if path in reached:
            continue
        reached.add(path)
        if PurePosixPath(path).name == "__init__.py":
            queue.extend(index[name] for name in _imports(path, files[path], index))
    return {p for p in reached if not _is_test_module(p) and p != test_file}


def _is_test_module(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.startswith("test") or name.endswith("_test.py") or name == "conftest.py"


def _slug(path: str) -> str:
    return str(PurePosixPath(path).with_suffix("")).replace("/", ".")


def instance_id(repo: str, setting: str, candidate: Candidate, test_file: str) -> str:
    ident = f"{repo}__{setting}__{_slug(candidate.file)}__{candidate.function}__{candidate.belief_sha[:10]}"
    return ident + (f"__{_slug(test_file)}" if setting == "callee" else "")


def plan_pairs(repo, world_sha: str, name: str, options: BuildOptions) -> tuple[list[str], list[Pair]]:
    """The test files and every (candidate, test file) pair to verify, in a stable order.

    Raises:
        SimyardError: the repository has no test files.
    """
    world = repo.commit(world_sha)
    files: dict[str, str] = {}
    for blob in world.tree.traverse():
        if blob.type == "blob" and blob.path.endswith(".py"):
            try:
                files[blob.path] = blob.data_stream.read().decode("utf-8")
            except UnicodeDecodeError:
                continue
    tests = find_test_files(files)
    if not tests:
        raise SimyardError(f"{name} has no pytest test files at {world_sha[:12]}",
                           hint="the builder needs test_*.py or *_test.py files with test functions")
    reach = {test: imported_files(test, files) for test in tests}
    wanted = set(tests) | set().union(*reach.values())
    candidates = list(walk_history(repo, world_sha, sorted(wanted), include_async=options.include_async,
                                   require_context_change=options.require_context_change))
    pairs = []
    for test in tests:
        for candidate in candidates:
            if "caller" in options.settings and candidate.file == test:
                pairs.append(Pair(instance_id(name, "caller", candidate, test), "caller", test, candidate))
            elif "callee" in options.settings and candidate.file in reach[test]:
                pairs.append(Pair(instance_id(name, "callee", candidate, test), "callee", test, candidate))
    return tests, pairs


# ------------------------------------------------------------------------------------------------ verifying


class _Verifier:
    """One worker's state: a checkout of the world state, a sandbox on it, and the gold run of each test file."""

    def __init__(self, upstream: Upstream, base: str | None, options: BuildOptions, repo: str, repo_url: str):
        self.options = options
        self.repo, self.repo_url = repo, repo_url
        self.root = WorkspaceRoot(base, run_id="build")
        self.checkout = Workspaces(self.root, upstream).checkout()
        self.world_sha = upstream.world_sha
        self.runner = make_runner(options.sandbox, self.checkout, Limits(timeout_s=options.timeout_s))
        self.gold: dict[str, TestRun] = {}

    def close(self) -> None:
        try:
            self.runner.close()
        finally:
            self.root.close()

    def _pytest(self, test_file: str) -> TestRun:
        return run_pytest(self.runner, test_file, timeout_s=self.options.timeout_s,
                          python=self.options.python or default_python(self.options.sandbox),
                          extra_args=self.options.pytest_args)

    def verify(self, pair: Pair) -> tuple[str, Instance | None, str]:
        """(key, the instance or None, the reason it was rejected)."""
        test = pair.test_file
        if test not in self.gold:
            self.gold[test] = self._pytest(test)
        gold = self.gold[test]
        if gold.timed_out:
            return pair.key, None, "gold run timed out"
        if not gold.passed:
            return pair.key, None, "test file does not pass at the world state"
        candidate = pair.candidate
        target = self.checkout / candidate.file
        try:
            target.write_text(splice(candidate.world_file, candidate.function, candidate.old_code))
            old = self._pytest(test)
        finally:
            target.write_text(candidate.world_file)
            git(self.checkout, "clean", "-fdq")  # whatever the tests left behind
        if old.timed_out:
            return pair.key, None, "old version times out"
        if not old.failed:
            return pair.key, None, "test file passes with the old version"
        passing = gold.passing()
        fail_to_pass = [t for t in passing if old.outcomes.get(t) != "passed"]
        if not fail_to_pass:
            return pair.key, None, "no test that passes at the world state fails with the old version"
        instance = Instance(
            instance_id=pair.key, repo=self.repo, repo_url=self.repo_url, setting=pair.setting,
            world_sha=self.world_sha, belief_sha=candidate.belief_sha, file=candidate.file,
            function=candidate.function, kind=candidate.kind, is_async=candidate.is_async,
            old_code=candidate.old_code, gold_code=candidate.gold_code, belief_file=candidate.belief_file,
            world_file=candidate.world_file, test_file=test,
            initial_error_log=error_log(old.log.replace(str(self.checkout), ".")),
            fail_to_pass=fail_to_pass, pass_to_pass=[t for t in passing if old.outcomes.get(t) == "passed"],
            gold_outcomes=gold.outcomes, old_outcomes=old.outcomes, gold_summary=gold.summary,
            old_summary=old.summary)
        return pair.key, instance, ""


_WORKER: _Verifier | None = None


def _init_worker(*args) -> None:
    global _WORKER
    _WORKER = _Verifier(*args)
    # A pool worker ends through a normal interpreter exit (spawn), so atexit closes its sandbox and checkout.
    atexit.register(_WORKER.close)


def _verify_unit(pairs: list[Pair]) -> list[tuple[str, str | None, str]]:
    assert _WORKER is not None
    results = []
    for pair in pairs:
        key, instance, reason = _WORKER.verify(pair)
        results.append((key, instance.model_dump_json() if instance else None, reason))
    return results


# ------------------------------------------------------------------------------------------------ the build


def read_manifest(suite_dir: Path | str) -> dict:
    """suite.json of a built (or building) suite."""
    path = Path(suite_dir) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise SimyardError(f"{suite_dir} is not a suite directory (no readable {MANIFEST})",
                           hint="build one with `simyard repos build SOURCE --out DIR`") from None


def _done_keys(out: Path) -> set[str]:
    done = set()
    path = out / CHECKED
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                done.add(json.loads(line)["key"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash: that pair is verified again
    return done


def _start(out: Path, resume: bool, source: str, name: str, world_sha: str | None,
           options: BuildOptions) -> tuple[dict, BuildOptions]:
    """Check the suite directory against `resume` and return its manifest (new or recorded)."""
    manifest_path = out / MANIFEST
    if resume:
        if not manifest_path.exists():
            raise SimyardError(f"nothing to resume in {out}", hint="drop --resume to start a new build there")
        manifest = read_manifest(out)
        recorded = BuildOptions(**{**manifest["options"], "settings": tuple(manifest["options"]["settings"]),
                                   "pytest_args": tuple(manifest["options"]["pytest_args"])})
        return manifest, recorded
    if out.exists() and any(out.iterdir()):
        hint = ("pass --resume to continue it, or choose another --out" if manifest_path.exists()
                else "choose an empty or new --out directory")
        raise SimyardError(f"{out} is not empty", hint=hint)
    manifest = {"format": "simyard-repos-suite", "version": 1, "source": source, "repo": name,
                "world_sha": world_sha, "options": asdict(options), "status": "building", "counts": {}}
    return manifest, options


def build_suite(source: Path | str, out: Path | str, *, workers: int = 1, resume: bool = False,
                options: BuildOptions | None = None, name: str | None = None, world_sha: str | None = None,
                workspace_base: Path | str | None = None,
                on_progress: Callable[[int, int, int], None] | None = None) -> BuildReport:
    """Build (or resume) a suite of verified instances from the git repository `source` into `out`.

    Args:
        source: A local git repository (a clone with history).
        out: The suite directory (created).
        workers: Processes verifying in parallel (1: in this process).
        resume: Continue the build recorded in `out` (its world sha and options; `options` is ignored).
        options: How to build (see `BuildOptions`).
        name: Short repository name used in instance ids (default: the folder name).
        world_sha: The world state to pin (default: the source's HEAD).
        workspace_base: Where checkouts live (default `workspaces.default_base()`).
        on_progress: Called as `(done, total, kept)` after each verdict (the CLI's progress bar).

    Raises:
        SimyardError: not a git repository, no commits, no test files, a suite directory in the wrong state.
    """
    started = time.perf_counter()
    out = Path(out)
    repo = open_source(source)
    name = name or Path(source).expanduser().resolve().name
    manifest, options = _start(out, resume, str(source), name, world_sha, options or BuildOptions())
    if resume:
        name, world_sha = manifest["repo"], manifest["world_sha"]
    sha = resolve_sha(repo, world_sha)
    manifest["world_sha"] = sha
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    report = BuildReport(suite_dir=out, repo=name, world_sha=sha)
    with WorkspaceRoot(workspace_base, run_id="build") as root:
        upstream = pin_source(source, root, sha)
        import git as gitpython

        _, pairs = plan_pairs(gitpython.Repo(upstream.path), sha, name, options)
        if options.limit is not None:
            pairs = pairs[: options.limit]
        done = _done_keys(out) if resume else set()
        todo = [p for p in pairs if p.key not in done]
        report.pairs, report.skipped = len(pairs), len(pairs) - len(todo)
        args = (upstream, str(workspace_base) if workspace_base else None, options, name, str(source))
        with (out / INSTANCES).open("a", encoding="utf-8") as kept_file, \
                (out / CHECKED).open("a", encoding="utf-8") as checked_file:
            def record(key: str, instance_json: str | None, reason: str) -> None:
                if instance_json is not None:
                    kept_file.write(instance_json + "\n")
                    kept_file.flush()
                checked_file.write(json.dumps({"key": key, "kept": instance_json is not None, "reason": reason})
                                   + "\n")
                checked_file.flush()
                report.checked += 1
                if instance_json is None:
                    report.rejected[reason] += 1
                if on_progress:
                    kept = report.checked - sum(report.rejected.values())
                    on_progress(report.skipped + report.checked, report.pairs, kept)

            _run(todo, workers, args, record)
    sweep_stale(workspace_base)  # the roots of workers that died, if any
    instances = {i.instance_id: i for i in read_instances(out / INSTANCES)} if (out / INSTANCES).exists() else {}
    ordered = [instances[k] for k in sorted(instances)]
    write_instances(ordered, out / INSTANCES)
    report.kept = len(ordered)
    report.caller = sum(i.setting == "caller" for i in ordered)
    report.callee = report.kept - report.caller
    report.duration_s = time.perf_counter() - started
    manifest.update(status="complete", counts={"pairs": report.pairs, "instances": report.kept,
                                                "caller": report.caller, "callee": report.callee})
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return report


def _units(pairs: list[Pair]) -> list[list[Pair]]:
    """Pairs grouped by test file (one gold run per worker and file), cut into small units."""
    by_test: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_test.setdefault(pair.test_file, []).append(pair)
    return [group[i:i + _UNIT_SIZE] for group in by_test.values() for i in range(0, len(group), _UNIT_SIZE)]


def _run(todo: list[Pair], workers: int, args: tuple, record: Callable[[str, str | None, str], None]) -> None:
    if not todo:
        return
    if workers <= 1:
        verifier = _Verifier(*args)
        try:
            for pair in todo:
                key, instance, reason = verifier.verify(pair)
                record(key, instance.model_dump_json() if instance else None, reason)
        finally:
            verifier.close()
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=args) as pool:
        futures = [pool.submit(_verify_unit, unit) for unit in _units(todo)]
        try:
            for future in as_completed(futures):
                for key, instance_json, reason in future.result():
                    record(key, instance_json, reason)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
