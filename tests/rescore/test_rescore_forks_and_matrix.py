"""`bench rescore` with forks (beside a run, and a fork's own run) and on a matrix run (arm by arm)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simyard.platform.bench import run_bench
from simyard.platform.rescore import rescore_run
from simyard.platform.rundir import INDEX_FILE
from simyard.platform.taskfiles import write_task_file
from tests.export.test_export import _fingerprint
from tests.fork.recordings import forked_run, sokoban_task


def oracle_run(root: Path) -> Path:
    write_task_file(root / "tasks.jsonl", [sokoban_task(render=False)])
    run_bench(str(root / "tasks.jsonl"), "oracle", out=root / "run", seed=3)
    return root / "run"


def test_a_run_with_forks_beside_it_rescores_as_before_and_leaves_the_forks_alone(tmp_path):
    run = oracle_run(tmp_path)
    before = rescore_run(run)
    outcome = forked_run(run, step=2, agent="random")
    forks = _fingerprint(run / "forks")
    after = rescore_run(run)
    assert (after.rescored, len(after.changes), after.failed) == (before.rescored, 0, []) == (1, 0, [])
    assert _fingerprint(run / "forks") == forks
    assert outcome.run_dir.parent == run / "forks"


def test_a_forks_own_run_rescores_by_replaying_parent_and_new_steps(tmp_path):
    run = oracle_run(tmp_path)
    outcome = forked_run(run, step=2, agent="oracle")
    report = rescore_run(outcome.run_dir)
    assert (report.rescored, report.changes, report.failed) == (1, [], [])
    assert report.after[0].success and report.after[0].steps == outcome.result.steps


def test_rescore_of_a_matrix_run_rescores_each_arm(tmp_path):
    from simyard.platform.matrix import Arm, run_matrix

    write_task_file(tmp_path / "tasks.jsonl", [sokoban_task(render=False)])
    arms = [Arm(name=agent, suite=str(tmp_path / "tasks.jsonl"), agent=agent) for agent in ("random", "oracle")]
    run_matrix(arms, tmp_path / "pair", shared={"seed": 5})
    indexes = {arm: (tmp_path / "pair" / "arms" / arm / INDEX_FILE).read_bytes() for arm in ("random", "oracle")}
    done = subprocess.run([sys.executable, "-m", "simyard", "bench", "rescore", str(tmp_path / "pair")],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Rescored 1 of 1 episodes; 0 changed.") == 2
    assert "arm random" in done.stdout and "arm oracle" in done.stdout
    for arm, index in indexes.items():
        assert (tmp_path / "pair" / "arms" / arm / "results.rescored.jsonl").is_file()
        assert (tmp_path / "pair" / "arms" / arm / INDEX_FILE).read_bytes() == index
