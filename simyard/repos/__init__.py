"""Git repositories as worlds: per-episode workspaces, function histories, and SyncBench-style scenarios.

What a world built on repositories (such as `syncmind`) calls, per run and per episode:

    from simyard import repos

    instances = repos.read_instances(suite_dir)                  # or repos.import_csv(path, source=git.Repo(...))
    root = repos.WorkspaceRoot(run_id=run_id)                    # per process; sweeps roots of dead processes
    upstream = repos.pin_source(source_repo, root, instance.world_sha)   # private bare `origin` at the world state
    factory = repos.Workspaces(root, upstream)
    workspace = factory.create(repos.belief_of(instance))       # history ends at the belief; world only upstream
    sandbox = make_sandbox(kind, workspace.path, limits)         # show workspace.upstream read-only at its path
    run = repos.run_pytest(sandbox, instance.test_file)         # per-test outcomes, SyncBench's counts
    success = run.outcomes == instance.gold_outcomes
    workspace.close(); root.close()

`minirepos.make_repo(path, seed)` makes small repositories with real history for offline suites and tests;
`build_suite` (and `simyard repos build`) turns any repository with pytest tests into verified instances.
"""

from simyard.repos.builder import BuildOptions, BuildReport, build_suite, read_manifest
from simyard.repos.history import Candidate, FunctionSource, functions_in, splice, walk_history
from simyard.repos.instances import Instance, belief_of, export_csv, import_csv, read_instances, write_instances
from simyard.repos.minirepos import MiniRepo, make_repo
from simyard.repos.testrun import TestRun, error_log, make_runner, run_pytest
from simyard.repos.workspaces import (
    BeliefState,
    Upstream,
    Workspace,
    WorkspaceRoot,
    Workspaces,
    pin_source,
    sweep_stale,
)

__all__ = [
    "BeliefState",
    "BuildOptions",
    "BuildReport",
    "Candidate",
    "FunctionSource",
    "Instance",
    "MiniRepo",
    "TestRun",
    "Upstream",
    "Workspace",
    "WorkspaceRoot",
    "Workspaces",
    "belief_of",
    "build_suite",
    "error_log",
    "export_csv",
    "functions_in",
    "import_csv",
    "make_repo",
    "make_runner",
    "pin_source",
    "read_instances",
    "read_manifest",
    "run_pytest",
    "splice",
    "sweep_stale",
    "walk_history",
    "write_instances",
]
