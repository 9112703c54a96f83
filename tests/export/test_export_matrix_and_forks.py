"""`bench export` of a matrix run (every arm, labelled), and ATIF of a forked episode and of one a person took over:
the parent and the human steps are kept, and the files still validate against ATIF-v1.6."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simyard.platform.export import ExportError, export_run
from simyard.platform.taskfiles import write_task_file
from tests.export.atif_schema import Trajectory
from tests.export.test_export import _fingerprint
from tests.fork.recordings import forked_run, sokoban_task, takeover_episode


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory) -> Path:
    """A matrix run of two arms (random, oracle) over two Sokoban tasks."""
    from simyard.platform.matrix import Arm, run_matrix
    from simyard.platform.registry import load_suite

    folder = tmp_path_factory.mktemp("matrix-export")
    tasks = [task for task in load_suite("ragen") if task.world == "sokoban"][:2]
    write_task_file(folder / "tasks.jsonl", tasks)
    arms = [Arm(name=agent, suite=str(folder / "tasks.jsonl"), agent=agent) for agent in ("random", "oracle")]
    run_matrix(arms, folder / "pair", shared={"seed": 5})
    return folder / "pair"


def test_a_matrix_exports_every_arm_into_one_table_labelled_by_arm(matrix_run, tmp_path):
    before = _fingerprint(matrix_run)
    report = export_run(matrix_run, "parquet", tmp_path / "pair.parquet")
    table = pq.read_table(tmp_path / "pair.parquet").to_pylist()
    assert report.written == len(table) == 4 and report.skipped == []
    assert sorted({(row["run"], row["agent"], row["success"]) for row in table}) == [
        ("pair/oracle", "oracle", True), ("pair/random", "random", False)]
    assert _fingerprint(matrix_run) == before


def test_a_matrix_exports_one_atif_folder_per_arm(matrix_run, tmp_path):
    report = export_run(matrix_run, "atif", tmp_path / "atif")
    files = sorted((tmp_path / "atif").glob("*/*/trajectory.json"))
    assert report.written == len(files) == 4
    assert sorted({file.parent.parent.name for file in files}) == ["oracle", "random"]
    for file in files:
        trajectory = Trajectory.model_validate_json(file.read_text(encoding="utf-8"))
        assert trajectory.session_id == f"pair/{file.parent.parent.name}/{file.parent.name}"


def test_a_matrix_export_refuses_its_own_recorded_files(matrix_run):
    for inside in (matrix_run / "matrix.json", matrix_run / "arms" / "table.csv"):
        with pytest.raises(ExportError, match="which the matrix run recorded"):
            export_run(matrix_run, "csv", inside)
    assert not (matrix_run / "arms" / "table.csv").exists()


def test_the_export_command_takes_a_matrix_run(matrix_run, tmp_path):
    done = subprocess.run([sys.executable, "-m", "simyard", "bench", "export", str(matrix_run), "--format", "csv",
                           "--out", str(tmp_path / "pair.csv")], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Wrote 4 rows to {tmp_path / 'pair.csv'}"


def test_atif_of_a_fork_names_its_parent_and_the_replayed_steps(tmp_path):
    from simyard.platform.bench import run_bench

    write_task_file(tmp_path / "tasks.jsonl", [sokoban_task()])
    run_bench(str(tmp_path / "tasks.jsonl"), "oracle", out=tmp_path / "run", seed=3)
    outcome = forked_run(tmp_path / "run", step=2)
    report = export_run(outcome.run_dir, "atif", tmp_path / "atif")
    assert report.written == 1
    document = json.loads(next((tmp_path / "atif").glob("*/trajectory.json")).read_text())
    Trajectory.model_validate(document)
    parent = sorted((tmp_path / "run" / "episodes").iterdir())[0]
    assert document["extra"]["parent"]["episode"] == str(parent.resolve())
    assert document["extra"]["parent"]["step"] == 2
    assert [step["extra"].get("by") for step in document["steps"][1:4]] == ["replay", "replay", None]


def test_atif_of_a_taken_over_episode_marks_the_steps_a_person_chose(tmp_path):
    takeover_episode(tmp_path / "took-over")
    export_run(tmp_path / "took-over", "atif", tmp_path / "atif")
    document = json.loads(next((tmp_path / "atif").glob("*/trajectory.json")).read_text())
    Trajectory.model_validate(document)
    assert "extra" not in document  # not a fork
    chosen = [step["extra"].get("by") for step in document["steps"][1:]]
    assert chosen[0] == "human" and set(chosen[1:]) == {None}
    assert document["steps"][1]["extra"]["info"]["agent"]["proposed"][0] == "Right"
