"""Workspaces: the belief commit on top of the agent's past, the world only upstream, cleanup and the sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import git as gitpython
import pytest

from simyard.platform.errors import SimyardError
from simyard.repos.history import splice, walk_history
from simyard.repos.workspaces import (
    MARKER,
    BeliefState,
    GitFailed,
    WorkspaceRoot,
    Workspaces,
    git,
    pin_source,
    sweep_stale,
)


@pytest.fixture
def root(workspace_base):
    with WorkspaceRoot(workspace_base, run_id="test") as root:
        yield root


@pytest.fixture
def scenario(mini, root):
    """(factory, belief, candidate) for `area` rolled back to the first commit."""
    upstream = pin_source(mini.path, root)
    candidate = next(c for c in walk_history(gitpython.Repo(upstream.path), upstream.world_sha,
                                             [f"{mini.package}/shapes.py"]) if c.function == "area")
    belief = BeliefState(upstream.world_sha, candidate.belief_sha,
                         {candidate.file: splice(candidate.world_file, candidate.function, candidate.old_code)})
    return Workspaces(root, upstream), belief, candidate


def test_workspace_head_is_the_belief_commit_on_top_of_the_base(scenario):
    factory, belief, candidate = scenario
    with factory.create(belief) as ws:
        assert git(ws.path, "rev-parse", "HEAD").strip() == ws.head_sha
        assert git(ws.path, "rev-parse", "HEAD~1").strip() == belief.base_sha
        assert git(ws.path, "rev-parse", "origin/main").strip() == belief.base_sha
        assert git(ws.path, "status", "--porcelain").strip() == ""  # committed, never an uncommitted diff
        assert candidate.old_code.strip() in (ws.path / candidate.file).read_text()


def test_future_commits_are_unreachable_before_a_fetch(scenario, mini):
    factory, belief, candidate = scenario
    with factory.create(belief) as ws:
        logged = git(ws.path, "log", "--all", "--format=%H").split()
        assert set(logged) == {ws.head_sha, belief.base_sha}
        assert not set(mini.commits[1:]) & set(logged)
        assert git(ws.path, "fsck", "--lost-found").strip() == ""
        assert not (ws.path / ".git" / "lost-found").exists()
        with pytest.raises(GitFailed):
            git(ws.path, "cat-file", "-e", mini.head)
        every_object = git(ws.path, "cat-file", "--batch-all-objects", "--batch")
        assert candidate.gold_code.strip() not in every_object
        assert "Dana Collaborator" not in every_object  # no collaborator commit either
        assert not (ws.path / ".git" / "objects" / "info" / "alternates").exists()


def test_a_fetch_shows_the_world_state_as_origin_main(scenario, mini):
    factory, belief, candidate = scenario
    with factory.create(belief) as ws:
        git(ws.path, "fetch", "-q")
        assert git(ws.path, "rev-parse", "origin/main").strip() == mini.head
        assert candidate.gold_code.splitlines()[0] in git(ws.path, "diff", "HEAD", "origin/main")
        git(ws.path, "merge", "-q", "origin/main")
        assert git(ws.path, "diff", "HEAD", mini.head).strip() == ""


def test_workspaces_are_independent(scenario):
    factory, belief, candidate = scenario
    with factory.create(belief) as first, factory.create(belief) as second:
        assert first.head_sha == second.head_sha and first.path != second.path
        (first.path / candidate.file).write_text("changed\n")
        assert (second.path / candidate.file).read_text() != "changed\n"


def test_the_belief_commit_is_deterministic(scenario, workspace_base, mini):
    factory, belief, _ = scenario
    with WorkspaceRoot(workspace_base, run_id="other") as other:
        again = Workspaces(other, pin_source(mini.path, other)).create(belief)
        assert again.head_sha == factory.create(belief).head_sha


def test_remote_url_names_where_the_sandbox_mounts_the_upstream(scenario):
    factory, belief, _ = scenario
    ws = Workspaces(factory.root, factory.upstream, remote_url="/upstream.git").create(belief)
    assert git(ws.path, "remote", "get-url", "origin").strip() == "/upstream.git"


def test_close_removes_the_workspace_and_the_root(scenario):
    factory, belief, _ = scenario
    ws = factory.create(belief)
    ws.close()
    assert not ws.path.exists()
    factory.root.close()
    assert not factory.root.path.exists() and factory.root.closed
    factory.root.close()  # twice is fine


def _spawn_root(base, how: str) -> str:
    """A child process that makes a root and exits `how` (`crash`: os._exit, no cleanup); returns the root path."""
    code = (f"import os, sys; from simyard.repos.workspaces import WorkspaceRoot; r = WorkspaceRoot({str(base)!r}, "
            f"run_id='child'); print(r.path, flush=True); " + ("os._exit(0)" if how == "crash" else "sys.exit(0)"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_root_removes_itself_when_its_process_exits(tmp_path):
    path = _spawn_root(tmp_path, "exit")
    assert not os.path.exists(path)


def test_the_sweep_removes_roots_of_processes_that_crashed(tmp_path):
    path = _spawn_root(tmp_path, "crash")
    assert os.path.exists(path)
    with WorkspaceRoot(tmp_path, run_id="alive") as live:
        assert not os.path.exists(path)  # swept on creation
        assert sweep_stale(tmp_path) == []  # a live root stays
        assert live.path.exists()


def test_the_sweep_leaves_unmarked_directories_and_roots_of_other_hosts(tmp_path):
    (tmp_path / "not-ours").mkdir()
    other = tmp_path / "other-host"
    other.mkdir()
    (other / MARKER).write_text(json.dumps({"pid": 1 << 22, "host": "elsewhere"}))
    assert sweep_stale(tmp_path) == []
    assert (tmp_path / "not-ours").exists() and other.exists()


def test_pin_source_refuses_what_is_not_a_repository(root, tmp_path):
    with pytest.raises(SimyardError, match="not a git repository"):
        pin_source(tmp_path, root)
    with pytest.raises(SimyardError, match="does not exist"):
        pin_source(tmp_path / "nowhere", root)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(SimyardError, match="no commits"):
        pin_source(empty, root)


def test_pin_source_takes_a_sha_and_refuses_an_unknown_one(mini, root):
    assert pin_source(mini.path, root, mini.commits[2][:8]).world_sha == mini.commits[2]
    with pytest.raises(SimyardError, match="no commit"):
        pin_source(mini.path, root, "0" * 40)
