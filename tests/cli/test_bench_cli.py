"""`simyard bench run|report|compare` end to end, in real subprocesses, including a SIGKILL and a resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simyard.platform.rundir import INDEX_FILE, open_run
from tests.platform.bench_worlds import MODULE, write_tiny_suite

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}


def simyard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=ENV,
                          timeout=300, cwd=REPO)


def start(*args: str) -> subprocess.Popen:
    # A session of its own, so the test can kill the parent and its spawned workers together.
    return subprocess.Popen([sys.executable, "-m", "simyard", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO, start_new_session=True)


def index_rows(run: Path) -> list[dict]:
    path = run / INDEX_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_for_rows(run: Path, at_least: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(index_rows(run)) < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run recorded too little in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """Two small finished runs of the tiny world: a perfect agent (B) and one that fails three tasks (A)."""
    root = tmp_path_factory.mktemp("runs")
    suite = str(write_tiny_suite(root / "tiny.jsonl", 10))
    worse = simyard("bench", "run", suite, "--agent", "tiny-counter", "--agent-opt", "wrong_on=t002",
                    "--import", MODULE, "--out", str(root / "a"))
    better = simyard("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--workers", "2",
                     "--out", str(root / "b"))
    assert worse.returncode == 0, worse.stderr
    assert better.returncode == 0, better.stderr
    return root / "a", root / "b", worse


def test_run_prints_the_results_table(finished_runs):
    _, _, done = finished_runs
    assert "success [95% CI]" in done.stdout and "subset: " in done.stdout and "/even" in done.stdout
    assert "9 episodes run" not in done.stdout and "10 episodes run" in done.stdout


def test_report_formats_parse(finished_runs):
    run_a, _, _ = finished_runs
    as_json = json.loads(simyard("bench", "report", str(run_a), "--format", "json").stdout)
    assert as_json["run"]["agent"] == "tiny-counter" and as_json["rows"][0]["n"] == 10
    assert as_json["rows"][0]["successes"] == 9
    rows = list(csv.DictReader(io.StringIO(simyard("bench", "report", str(run_a), "--format", "csv").stdout)))
    assert rows[0]["group"] == "all" and rows[0]["success_rate"] == "0.9" and "progress_low" in rows[0]
    markdown = simyard("bench", "report", str(run_a), "--format", "markdown").stdout
    assert "| group |" in markdown and "|---|" in markdown
    table = simyard("bench", "report", str(run_a))
    assert table.returncode == 0 and "90.0%" in table.stdout


def test_compare_formats_parse(finished_runs):
    run_a, run_b, _ = finished_runs
    as_json = json.loads(simyard("bench", "compare", str(run_a), str(run_b), "--format", "json").stdout)
    assert as_json["shared"] == 10 and as_json["rows"][0]["only_b"] == 1
    assert as_json["rows"][0]["success_verdict"] == "could be noise"
    rows = list(csv.DictReader(io.StringIO(simyard("bench", "compare", str(run_a), str(run_b), "-f", "csv").stdout)))
    assert rows[0]["success_p"] == "1.0" and rows[0]["name"] == "all"
    table = simyard("bench", "compare", str(run_a), str(run_b))
    assert table.returncode == 0 and "could be noise" in table.stdout and "10 shared" in table.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bench", "run", "nosuchsuite", "--agent", "random"], "no suite named 'nosuchsuite'"),
        (["bench", "run", "ragen", "--agent", "genius"], "no agent named 'genius'"),
        (["bench", "run", "ragen", "--agent", "random", "--agent-opt", "seed"], "not key=value"),
        (["bench", "run", "ragen"], "no agent given"),
        (["bench", "run", "--agent", "random"], "no suite given"),
        (["bench", "report", "."], "not a run directory"),
        (["bench", "compare", ".", "."], "not a run directory"),
        (["bench", "run", "ragen", "--agent", "random", "--import", "no_such_plugin"], "cannot import plugin"),
    ],
)
def test_wrong_input_is_one_line_and_exit_code_2(args, expected):
    done = simyard(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1


def test_resuming_a_finished_run_is_a_clear_error(finished_runs):
    run_a, _, _ = finished_runs
    done = simyard("bench", "run", "--resume", str(run_a))
    assert done.returncode == 2 and "already complete" in done.stderr and "Traceback" not in done.stderr


def test_resuming_with_a_different_agent_is_a_clear_error(finished_runs):
    run_a, _, _ = finished_runs
    done = simyard("bench", "run", "--resume", str(run_a), "--agent", "oracle")
    assert done.returncode == 2 and "agent is 'oracle' here" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_run_killed_with_sigkill_resumes_with_nothing_lost_or_counted_twice(tmp_path, workers):
    suite = str(write_tiny_suite(tmp_path / "slow.jsonl", 24, sleep_s=0.03))
    run = tmp_path / "run"
    process = start("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--workers", workers,
                    "--out", str(run))
    wait_for_rows(run, 4, process)
    os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers, with no chance to clean up
    process.wait()
    before = (run / INDEX_FILE).read_bytes()
    before = before[: before.rfind(b"\n") + 1]  # a torn last line is not a recorded result
    assert 4 <= len(index_rows(run)) < 24, "the kill came too late to test anything"

    done = simyard("bench", "run", "--resume", str(run), "--workers", workers)
    assert done.returncode == 0, done.stderr
    after = (run / INDEX_FILE).read_bytes()
    assert after.startswith(before)  # every row recorded before the kill is still there, byte for byte
    ids = [row["task_id"] for row in index_rows(run)]
    assert sorted(ids) == [f"t{i:03d}" for i in range(24)]  # each task exactly once
    manifest = open_run(run).manifest
    assert manifest.status == "finished" and manifest.sessions[0].status == "running"  # the killed one never ended


def test_ctrl_c_leaves_a_resumable_run(tmp_path):
    suite = str(write_tiny_suite(tmp_path / "slow.jsonl", 24, sleep_s=0.03))
    run = tmp_path / "run"
    process = start("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--workers", "2",
                    "--out", str(run))
    wait_for_rows(run, 3, process)
    os.killpg(process.pid, signal.SIGINT)  # what the terminal sends every process of the group on Ctrl-C
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert open_run(run).manifest.status == "interrupted"
    recorded = len(index_rows(run))
    done = simyard("bench", "run", "--resume", str(run))
    assert done.returncode == 0, done.stderr
    assert f"{24 - recorded} episodes run, {recorded} already recorded" in done.stdout
    assert sorted(row["task_id"] for row in index_rows(run)) == [f"t{i:03d}" for i in range(24)]


def test_the_oracle_solves_the_first_ragen_tasks_with_two_workers(tmp_path):
    pytest.importorskip("simyard.tasks.ragen")
    done = simyard("bench", "run", "ragen", "--agent", "oracle", "--limit", "6", "--workers", "2",
                   "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    results = open_run(tmp_path / "run").results()
    assert len(results) == 6 and all(result.success for result in results)
    report = json.loads(simyard("bench", "report", str(tmp_path / "run"), "-f", "json").stdout)
    assert report["rows"][0]["success_rate"] == 1.0 and report["run"]["suite"] == "ragen"
