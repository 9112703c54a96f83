"""Fixtures for the repository worlds: a generated repository and its built suite, made once per test session."""

from __future__ import annotations

import pytest

from simyard.repos.builder import build_suite
from simyard.repos.minirepos import make_repo


@pytest.fixture(scope="session")
def workspace_base(tmp_path_factory):
    """A base for workspace roots of this session, away from the machine's default one."""
    return tmp_path_factory.mktemp("workspaces")


@pytest.fixture(scope="session")
def mini(tmp_path_factory):
    """A mini repository (seed 0) with real history."""
    return make_repo(tmp_path_factory.mktemp("mini") / "repo", seed=0)


@pytest.fixture(scope="session")
def built(mini, tmp_path_factory, workspace_base):
    """The suite built from `mini` with one worker: (report, suite directory)."""
    out = tmp_path_factory.mktemp("suite") / "mini0"
    report = build_suite(mini.path, out, name="mini0", workspace_base=workspace_base)
    return report, out


def commit_files(repo_path, files: dict[str, str], message: str, stamp: int) -> str:
    """Write `files` and commit them with a fixed date; returns the sha."""
    from simyard.repos.workspaces import git

    for name, text in files.items():
        target = repo_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(repo_path, "add", "-A")
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_AUTHOR_DATE": f"{stamp} +0000",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_DATE": f"{stamp} +0000"}
    git(repo_path, "commit", "-q", "-m", message, env=env)
    return git(repo_path, "rev-parse", "HEAD").strip()
