"""`simyard repos ...` as a person types it (subprocesses), and the mini repositories' determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simyard.repos.minirepos import make_repo

REPO = Path(__file__).parents[2]


def simyard(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("command", ["build", "import-csv", "export-csv", "mini"])
def test_every_repos_command_has_help_with_an_example(command):
    done = simyard("repos", command, "--help")
    assert done.returncode == 0 and "Example: simyard repos" in done.stdout


def test_build_on_a_folder_that_is_not_a_repository_is_one_line(tmp_path):
    done = simyard("repos", "build", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path} is not a git repository — give a folder with a .git directory, or clone the project first"]


def test_export_then_import_through_the_cli(built, tmp_path):
    done = simyard("repos", "export-csv", str(built[1]), "--out", str(tmp_path / "s.csv"))
    assert done.returncode == 0 and "17 rows" in done.stdout
    done = simyard("repos", "import-csv", str(tmp_path / "s.csv"), "--out", str(tmp_path / "suite"))
    assert done.returncode == 0 and "17 instances (17 pinned" in done.stdout
    assert (tmp_path / "suite" / "instances.jsonl").read_text() == (built[1] / "instances.jsonl").read_text()


def test_mini_makes_a_repository(tmp_path):
    done = simyard("repos", "mini", str(tmp_path / "m"), "--seed", "2")
    assert done.returncode == 0 and "6 commits" in done.stdout
    assert simyard("repos", "mini", str(tmp_path / "m")).returncode == 2  # not empty any more


def test_the_same_seed_gives_the_same_shas(tmp_path):
    first, second, other = (make_repo(tmp_path / name, seed) for name, seed in (("a", 5), ("b", 5), ("c", 6)))
    assert first.commits == second.commits and len(first.commits) == 6
    assert other.package != first.package and other.head != first.head


def test_a_mini_repository_passes_its_own_tests(tmp_path):
    repo = make_repo(tmp_path / "r", 1)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo.path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "14 passed" in done.stdout
