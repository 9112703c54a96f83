"""`simyard bench export`: the index to Parquet and CSV with its types, trajectories to ATIF-v1.6, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from simyard.platform.api import Task
from simyard.platform.bench import run_bench
from simyard.platform.export import ExportError, export_run
from simyard.platform.rundir import INDEX_FILE, open_run
from simyard.platform.taskfiles import write_task_file
from simyard.platform.trajectory import read_trajectory
from tests.export.atif_schema import Trajectory

AGENT_PLUGIN = "tests.export.replying_agent"
EPISODES = 4


@pytest.fixture(scope="module")
def run_path(tmp_path_factory) -> Path:
    """A real run: FrozenLake with pictures, played by an agent that reports model calls with token ids."""
    folder = tmp_path_factory.mktemp("export")
    tasks = [Task(id=f"lake-{n}", world="frozenlake", instruction="Reach the goal <G> & stay dry.",
                  subset="base" if n % 2 else "pictures",
                  config={"size": 4, "p_frozen": 0.8, "map_seed": n, "render": True}, max_steps=12)
             for n in range(EPISODES)]
    write_task_file(folder / "tasks.jsonl", tasks)
    summary = run_bench(str(folder / "tasks.jsonl"), "replying-oracle", out=folder / "run", imports=[AGENT_PLUGIN])
    assert summary.status == "finished"
    return folder / "run"


def _fingerprint(path: Path) -> dict[str, str]:
    """Every file of a run and a hash of its bytes: what "nothing recorded touched" is checked against."""
    return {str(file.relative_to(path)): hashlib.sha256(file.read_bytes()).hexdigest()
            for file in sorted(path.rglob("*")) if file.is_file()}


def test_parquet_read_back_equals_the_index(run_path, tmp_path):
    report = export_run(run_path, "parquet", tmp_path / "results.parquet")
    table = pq.read_table(tmp_path / "results.parquet")
    index = [result.to_dict() for result in open_run(run_path).results()]
    assert report.written == table.num_rows == EPISODES
    rows = table.to_pylist()
    for row, recorded in zip(rows, index, strict=True):
        metrics = row.pop("metrics")
        assert (json.loads(metrics) if metrics is not None else {}) == recorded.pop("metrics")
        assert {key: row[key] for key in recorded} == recorded
        assert (row["agent"], row["run"]) == ("replying-oracle", run_path.name)
    types = {field.name: str(field.type) for field in table.schema}
    assert (types["seed"], types["success"], types["progress"], types["steps"]) == ("int64", "bool", "double",
                                                                                   "int64")
    assert table.column("error").null_count == EPISODES  # no error: a null, not the text "None"
    assert sum(row["prompt_tokens"] for row in rows) > 0


def test_csv_keeps_numbers_booleans_and_nulls(run_path, tmp_path):
    export_run(run_path, "csv", tmp_path / "results.csv")
    table = pacsv.read_csv(tmp_path / "results.csv")
    assert table.num_rows == EPISODES
    assert str(table.schema.field("success").type) == "bool"
    assert str(table.schema.field("seed").type) == "int64"
    assert table.column("error").null_count == EPISODES
    index = open_run(run_path).results()
    assert table.column("task_id").to_pylist() == [result.task_id for result in index]
    assert table.column("prompt_tokens").to_pylist() == [result.prompt_tokens for result in index]


def test_every_atif_trajectory_validates_against_the_published_schema(run_path, tmp_path):
    report = export_run(run_path, "atif", tmp_path / "atif")
    files = sorted((tmp_path / "atif").glob("*/trajectory.json"))
    assert report.written == len(files) == EPISODES and report.skipped == []
    for file in files:
        trajectory = Trajectory.model_validate_json(file.read_text(encoding="utf-8"))
        recorded = read_trajectory(run_path / "episodes" / file.parent.name)
        steps = [line for line in recorded if line["type"] == "step"]
        assert [step.source for step in trajectory.steps] == ["user"] + ["agent"] * len(steps)
        assert "Reach the goal <G> & stay dry." in trajectory.steps[0].message[0].text  # text kept as data
        for exported, line in zip(trajectory.steps[1:], steps, strict=True):
            call = line["calls"][0]
            assert exported.message == call["text"]
            assert exported.reasoning_content == f"turn {exported.step_id - 1} & <b>tags</b>"  # data, not markup
            assert exported.metrics.completion_token_ids == call["token_ids"]
            assert exported.metrics.logprobs == call["logprobs"]
            assert exported.metrics.prompt_tokens == call["prompt_tokens"]
            if line["action"] is None:  # the reply held no usable action: nothing was called
                assert exported.tool_calls is None and exported.observation.results[0].source_call_id is None
                continue
            assert exported.tool_calls[0].arguments == {"action": line["action"]}
            assert exported.observation.results[0].source_call_id == exported.tool_calls[0].tool_call_id
        assert steps[0]["action"] is None and steps[1]["action"] is not None
        assert trajectory.final_metrics.total_steps == len(trajectory.steps)
        assert trajectory.final_metrics.total_prompt_tokens == sum(line["calls"][0]["prompt_tokens"]
                                                                   for line in steps)
        assert trajectory.final_metrics.extra["result"]["success"] is True


def test_atif_frames_are_referenced_relative_to_the_export_and_travel_with_it(run_path, tmp_path):
    report = export_run(run_path, "atif", tmp_path / "atif")
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "atif", moved)  # the export stands alone: its paths resolve wherever it lies
    images = 0
    for file in moved.glob("*/trajectory.json"):
        trajectory = Trajectory.model_validate_json(file.read_text(encoding="utf-8"))
        recorded = run_path / "episodes" / file.parent.name
        for step in trajectory.steps:
            contents = [step.message] + [result.content for result in
                                         (step.observation.results if step.observation else [])]
            for content in contents:
                for part in content if isinstance(content, list) else []:
                    if part.type == "image":
                        assert not Path(part.source.path).is_absolute()
                        assert (file.parent / part.source.path).read_bytes() == (recorded / part.source.path
                                                                                ).read_bytes()
                        images += 1
    assert images == report.frames > EPISODES  # the first frame and one per step of every episode


def test_unwritable_export_path_is_one_line_and_touches_nothing(run_path, tmp_path):
    before = _fingerprint(run_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**os.environ, "COLUMNS": "200"}
    for fmt, out in (("parquet", blocker / "results.parquet"), ("atif", blocker), ("csv", run_path / INDEX_FILE)):
        done = subprocess.run([sys.executable, "-m", "simyard", "bench", "export", str(run_path), "--format", fmt,
                               "--out", str(out)], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert _fingerprint(run_path) == before
    assert blocker.read_text() == "not a folder"


def test_export_refuses_paths_among_the_runs_recorded_files(run_path):
    for out in (run_path / INDEX_FILE, run_path / "episodes", run_path / "episodes" / "x.parquet", run_path):
        with pytest.raises(ExportError, match="which the run recorded"):
            export_run(run_path, "atif" if out.suffix != ".parquet" else "parquet", out)


def test_torn_run_exports_what_can_be_read_and_names_what_was_skipped(run_path, tmp_path):
    torn = tmp_path / "torn"
    shutil.copytree(run_path, torn)
    index = torn / INDEX_FILE
    lines = index.read_bytes().split(b"\n")
    lines.insert(1, b'{"task_id": "lake-x", "world": ')  # a damaged row in the middle
    index.write_bytes(b"\n".join(lines) + b'{"task_id": "lake-9"')  # and a torn tail, which is no loss
    episodes = sorted((torn / "episodes").iterdir())
    (episodes[0] / "trajectory.jsonl").unlink()
    frame = sorted((episodes[1] / "frames").glob("*.png"))[-1]
    frame.unlink()
    before = _fingerprint(torn)

    table_report = export_run(torn, "parquet", tmp_path / "torn.parquet")
    assert pq.read_table(tmp_path / "torn.parquet").num_rows == EPISODES
    assert len(table_report.skipped) == 1 and f"{INDEX_FILE}:2" in table_report.skipped[0]

    atif_report = export_run(torn, "atif", tmp_path / "atif")
    assert atif_report.written == EPISODES - 1
    said = "\n".join(atif_report.skipped)
    assert episodes[0].name in said and "trajectory.jsonl" in said
    assert frame.name in said and episodes[1].name in said
    for file in (tmp_path / "atif").glob("*/trajectory.json"):
        Trajectory.model_validate_json(file.read_text(encoding="utf-8"))
    assert _fingerprint(torn) == before


def test_export_cli_prints_what_it_wrote_and_what_it_skipped(run_path, tmp_path):
    from typer.testing import CliRunner

    from simyard.cli import app

    torn = tmp_path / "torn"
    shutil.copytree(run_path, torn)
    first = sorted((torn / "episodes").iterdir())[0]
    (first / "trajectory.jsonl").write_bytes(b"garbage\n{}\n")
    result = CliRunner().invoke(app, ["bench", "export", str(torn), "-f", "atif", "-o", str(tmp_path / "out")],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert f"Wrote {EPISODES - 1} trajectories" in result.output
    assert f"skipped: {first.name}" in result.output


def test_an_out_of_the_wrong_kind_is_named_before_the_runs_own_files(run_path, tmp_path):
    # the folder holding the run: "is a directory" / "is not empty" says what is wrong, not "would overwrite"
    with pytest.raises(ExportError, match=r"is a directory \(give --out a file name"):
        export_run(run_path, "parquet", run_path.parent)
    with pytest.raises(ExportError, match=r"is not empty \(give --out a new or empty folder"):
        export_run(run_path, "atif", run_path.parent)
    (tmp_path / "table.csv").write_text("a,b\n")
    with pytest.raises(ExportError, match=r"table.csv is a file \(ATIF exports are folders"):
        export_run(run_path, "atif", tmp_path / "table.csv")
