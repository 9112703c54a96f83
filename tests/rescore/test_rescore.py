"""`simyard bench rescore`: recorded scores reproduced by unchanged metrics, changed by changed ones, the old index
never touched, and worlds or episodes that cannot be rescored named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simyard.cli import app
from simyard.platform.bench import run_bench
from simyard.platform.registry import load_suite
from simyard.platform.rescore import rescore_run
from simyard.platform.rundir import INDEX_FILE, open_run
from simyard.platform.taskfiles import write_task_file
from simyard.sims.puzzles.bandit import BanditEnv
from simyard.sims.puzzles.frozenlake import FrozenLakeEnv
from tests.platform.bench_worlds import MODULE as TINY_WORLDS
from tests.platform.bench_worlds import write_tiny_suite

PER_WORLD = 4


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def puzzle_runs(tmp_path_factory) -> dict[str, Path]:
    """Runs of every RAGEN puzzle (slippery FrozenLake included) by the oracle and by the random agent."""
    folder = tmp_path_factory.mktemp("rescore")
    tasks, seen = [], {}
    for task in load_suite("ragen"):
        key = (task.world, task.subset)
        if seen.get(key, 0) < PER_WORLD // 2:
            seen[key] = seen.get(key, 0) + 1
            tasks.append(task)
    write_task_file(folder / "tasks.jsonl", tasks)
    runs = {}
    for agent in ("oracle", "random"):
        run_bench(str(folder / "tasks.jsonl"), agent, out=folder / agent)
        runs[agent] = folder / agent
    return runs


def test_rescore_reproduces_the_recorded_scores_when_the_metric_is_unchanged(puzzle_runs):
    for path in puzzle_runs.values():
        index_before = _digest(path / INDEX_FILE)
        report = rescore_run(path)
        recorded = open_run(path).results()
        assert {result.world for result in recorded} == {"sokoban", "frozenlake", "bandit", "countdown"}
        assert report.rescored == len(recorded) and report.changes == [] and report.failed == []
        assert report.unsupported == {}
        rows = [json.loads(line) for line in report.index.read_text().splitlines()]
        assert rows == [result.to_dict() for result in recorded]
        assert report.index.name == "results.rescored.jsonl"
        assert _digest(path / INDEX_FILE) == index_before


def test_rescore_changes_scores_when_the_metric_is_monkeypatched(puzzle_runs, monkeypatch):
    path = puzzle_runs["oracle"]
    index_before = _digest(path / INDEX_FILE)
    monkeypatch.setattr(FrozenLakeEnv, "_progress", lambda self, cell: 0.25)  # a "fixed" progress measure
    monkeypatch.setattr(BanditEnv, "_succeeded", lambda self: False)  # a stricter success rule
    report = rescore_run(path)
    before = {result.task_id: result for result in open_run(path).results()}
    changed = {change.after.task_id: change.after for change in report.changes}
    for task_id, result in before.items():
        if result.world == "frozenlake":
            assert changed[task_id].progress == 0.25 and changed[task_id].success == result.success
        elif result.world == "bandit":
            assert result.success and not changed[task_id].success
        else:
            assert task_id not in changed
    written = {json.loads(line)["task_id"]: json.loads(line) for line in report.index.read_text().splitlines()}
    assert {task_id: row["progress"] for task_id, row in written.items() if task_id in changed} == {
        task_id: result.progress for task_id, result in changed.items()}
    assert _digest(path / INDEX_FILE) == index_before
    assert rescore_run(path).index != report.index  # a later rescore never overwrites an earlier one


def test_rescore_cli_shows_changed_episodes_and_the_summary_before_and_after(puzzle_runs, monkeypatch):
    monkeypatch.setattr(BanditEnv, "_succeeded", lambda self: False)
    result = CliRunner().invoke(app, ["bench", "rescore", str(puzzle_runs["oracle"])], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    recorded = open_run(puzzle_runs["oracle"]).results()
    bandits = [result for result in recorded if result.world == "bandit" and result.success]
    successes = sum(result.success for result in recorded)
    assert f"{len(bandits)} changed" in result.output
    assert "yes -> no" in result.output and bandits[0].task_id in result.output
    all_row = next(line for line in result.output.splitlines() if line.strip("│ ").startswith("all"))
    before, after = successes / len(recorded), (successes - len(bandits)) / len(recorded)
    assert [cell.strip() for cell in all_row.split("│")[3:5]] == [f"{before:.1%}", f"{after:.1%}"]


def test_worlds_without_a_rescore_hook_are_named_and_their_rows_kept(tmp_path):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 3)
    run_bench(str(suite), "tiny-counter", out=tmp_path / "run", imports=[TINY_WORLDS])
    report = rescore_run(tmp_path / "run")
    recorded = open_run(tmp_path / "run").results()
    assert report.rescored == 0 and report.unsupported == {recorded[0].world: 3}
    assert report.after == recorded
    result = CliRunner().invoke(app, ["bench", "rescore", str(tmp_path / "run")], env={"COLUMNS": "250"})
    assert f"not rescored: world {recorded[0].world!r} (3 episodes) has no rescore hook" in result.output


def test_an_episode_whose_replay_disagrees_with_its_record_is_named_and_kept(puzzle_runs, tmp_path):
    import shutil

    path = tmp_path / "run"
    shutil.copytree(puzzle_runs["random"], path)
    episode = next(folder for folder in sorted((path / "episodes").iterdir()) if folder.name.startswith("sokoban"))
    lines = episode.joinpath("trajectory.jsonl").read_text().splitlines()
    step = json.loads(lines[1])
    step["info"]["valid"] = not step["info"].get("valid", True)  # the record now says otherwise
    lines[1] = json.dumps(step)
    episode.joinpath("trajectory.jsonl").write_text("\n".join(lines) + "\n")
    broken = next(folder for folder in sorted((path / "episodes").iterdir()) if folder.name.startswith("bandit"))
    broken.joinpath("trajectory.jsonl").unlink()
    report = rescore_run(path)
    said = "\n".join(report.failed)
    assert f"{episode.name}: step 1:" in said and "when recorded" in said
    assert f"{broken.name}:" in said and "trajectory.jsonl" in said
    assert len(report.after) == len(report.before) and report.rescored == len(report.before) - 2


def test_household_and_navigation_worlds_are_rescored_by_replay(tmp_path):
    for suite in ("eb-alfred", "eb-habitat", "eb-navigation"):
        run_bench(suite, "oracle", out=tmp_path / suite, limit=1, world_options={"render": "none"})
        report = rescore_run(tmp_path / suite)
        assert report.rescored == 1 and report.changes == [] and report.failed == []
        assert all(result.success for result in report.after)
