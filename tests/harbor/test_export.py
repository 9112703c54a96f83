"""`simyard repos export --format harbor`: SyncMind instances as Harbor task folders, and back through the `harbor`
world (the oracle scores 1, doing nothing 0, rewriting the tests does not help)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simyard.harbor.export import export_instances
from simyard.harbor.format import load_task_folders, read_task
from simyard.platform.bench import run_bench
from simyard.platform.episode import run_episode_with
from simyard.platform.errors import SimyardError
from simyard.repos import BuildOptions, build_suite, make_repo, read_instances
from simyard.sandboxes.docker import BASE_IMAGE
from tests.harbor.conftest import Script, do_nothing

REPO = Path(__file__).parents[2]


def simyard(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    """A small suite (the first candidates of a mini repository: Caller and Callee): (source, suite dir)."""
    root = tmp_path_factory.mktemp("harbor-export")
    mini = make_repo(root / "repo", seed=0)
    out = root / "suite"
    report = build_suite(mini.path, out, name="mini0", options=BuildOptions(limit=14),
                         workspace_base=root / "workspaces")
    assert report.caller >= 1 and report.callee >= 1
    return mini.path, out


@pytest.fixture(scope="session")
def exported(suite, tmp_path_factory):
    """One Caller and one Callee instance exported: (folder by setting, instance by setting)."""
    source, suite_dir = suite
    instances = read_instances(suite_dir)
    picked = {setting: next(i for i in instances if i.setting == setting) for setting in ("caller", "callee")}
    out = tmp_path_factory.mktemp("harbor-tasks")
    export_instances(picked.values(), source, out)
    return {s: out / i.instance_id for s, i in picked.items()}, picked


def test_every_instance_becomes_a_task_folder_that_reads_back(suite, tmp_path):
    source, suite_dir = suite
    instances = read_instances(suite_dir)
    report = export_instances(instances, source, tmp_path / "out")
    assert report.count == len(instances)
    for instance in instances:
        task = read_task(tmp_path / "out" / instance.instance_id)
        assert task.has_solution and not task.allow_internet
        assert task.metadata["function"] == instance.function and task.metadata["world_sha"] == instance.world_sha
        assert task.dockerfile.read_text().startswith(f"FROM {BASE_IMAGE}\n")
        assert instance.test_file in task.instruction
        belief = (task.path / "environment" / "repo" / instance.file).read_text()
        assert belief == instance.belief_text() != instance.world_file
        assert (task.path / "tests" / "world_test_file.py").exists() == (instance.setting == "callee")


def test_export_refuses_a_folder_that_is_not_empty(suite, tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(SimyardError, match="is not empty"):
        export_instances(read_instances(suite[1]), suite[0], tmp_path)


@pytest.mark.docker
def test_round_trip_oracle_scores_one_on_caller_and_callee(base_image, exported, tmp_path):
    folders, _ = exported
    summary = run_bench(str(next(iter(folders.values())).parent), "oracle", out=tmp_path / "run")
    assert summary.status == "finished" and len(summary.results) == 2
    assert all(r.success and r.reward == 1.0 for r in summary.results), [r.error for r in summary.results]


@pytest.mark.docker
def test_round_trip_do_nothing_scores_zero(world, exported):
    folders, _ = exported
    (task,) = load_task_folders(folders["callee"])
    result = run_episode_with(world, do_nothing(), task)
    assert (result.status, result.success, result.reward) == ("completed", False, 0.0)


@pytest.mark.docker
def test_rewriting_the_tests_does_not_pass_a_callee_task(world, exported):
    folders, instances = exported
    instance = instances["callee"]
    names = sorted({node.split("::")[-1] for node in instance.gold_outcomes})
    fake = "".join(f"def {name}():\n    pass\n\n" for name in names)
    (task,) = load_task_folders(folders["callee"])
    result = run_episode_with(world, Script(f"cat > {instance.test_file} <<'EOF'\n{fake}EOF"), task)
    assert (result.status, result.success) == ("completed", False)


def test_cli_exports_and_names_a_bad_format_in_one_line(suite, tmp_path):
    source, suite_dir = suite
    done = simyard("repos", "export", str(suite_dir), "--out", str(tmp_path / "out"), "--limit", "2")
    assert done.returncode == 0, done.stderr
    assert "2 Harbor task folders" in done.stdout and len(list((tmp_path / "out").iterdir())) == 2
    done = simyard("repos", "export", str(suite_dir), "--out", str(tmp_path / "other"), "--format", "csv")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "unknown --format 'csv'" in done.stderr and "export-csv" in done.stderr
    assert "Example: simyard repos export" in simyard("repos", "export", "--help").stdout
