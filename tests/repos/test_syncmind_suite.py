"""The `syncmind-mini` suite: its shape and cache, a bench run of all of it with the oracle (2 workers, bwrap), the
report's splits by Caller/Callee and by mode, a resume, and suite options that are wrong."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from simyard.platform.bench import run_bench
from simyard.platform.errors import TaskFileError
from simyard.platform.metrics import summarize
from simyard.platform.rundir import INDEX_FILE, open_run
from simyard.repos.syncmind import SyncMindConfig
from simyard.sandboxes.bwrap import bwrap_available
from simyard.tasks.syncmind_mini import syncmind_mini_suite

pytestmark = pytest.mark.skipif(bwrap_available() is not None, reason=f"bwrap cannot run: {bwrap_available()}")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> str:
    """The suite's cache for this session (shared with the world tests: built once)."""
    return str(tmp_path_factory.getbasetemp() / "syncmind-cache")


@pytest.fixture(scope="session")
def tasks(cache):
    return syncmind_mini_suite(cache_dir=cache)


@pytest.fixture(scope="session")
def oracle_run(cache, tmp_path_factory):
    """The whole suite under the oracle agent with 2 workers (bwrap, the oracle collaborator)."""
    out = tmp_path_factory.mktemp("runs") / "oracle"
    summary = run_bench("syncmind-mini", "oracle", workers=2, out=out, suite_options={"cache_dir": cache})
    return out, summary


def test_suite_has_caller_and_callee_in_both_modes(tasks):
    assert len(tasks) == 34 and len({task.id for task in tasks}) == 34
    assert Counter(task.subset for task in tasks) == {"caller-independent": 5, "caller-collaborative": 5,
                                                      "callee-independent": 12, "callee-collaborative": 12}
    for task in tasks:
        config = SyncMindConfig.model_validate(task.config)
        assert task.world == "syncmind" and task.max_steps == 30 and task.max_invalid is None
        assert config.instance.test_file in task.instruction and Path(config.source, ".git").is_dir()
        assert (config.budget, config.proposal_cost, config.question_cost) == (1000, 100, 100)


def test_suite_is_cached_and_deterministic(tasks, cache, mini):
    started = time.perf_counter()
    again = syncmind_mini_suite(cache_dir=cache)
    assert time.perf_counter() - started < 2.0
    assert [task.model_dump() for task in again] == [task.model_dump() for task in tasks]
    # the world state is the same commit as an independently generated repository of seed 0
    ids = {task.config["instance"]["instance_id"] for task in tasks}
    world_shas = {task.config["instance"]["world_sha"] for task in tasks}
    assert world_shas == {mini.head} and len(ids) == 17


def test_suite_options_choose_modes_and_read_a_built_suite(cache, tasks):
    only = syncmind_mini_suite(cache_dir=cache, modes="collaborative")
    assert len(only) == 17 and {task.config["mode"] for task in only} == {"collaborative"}
    suite_dir = Path(tasks[0].config["source"]).parent / "suite"
    from_data = syncmind_mini_suite(data=str(suite_dir))
    assert [task.id for task in from_data] == [task.id for task in tasks]


def test_bad_suite_options_are_one_line_errors(cache, tmp_path):
    with pytest.raises(TaskFileError, match="not a directory"):
        syncmind_mini_suite(data=str(tmp_path / "missing"))
    with pytest.raises(TaskFileError, match="no readable suite.json"):
        syncmind_mini_suite(data=str(tmp_path))
    with pytest.raises(TaskFileError, match="unknown mode"):
        syncmind_mini_suite(cache_dir=cache, modes="solo")
    suite_dir = Path(syncmind_mini_suite(cache_dir=cache)[0].config["source"]).parent / "suite"
    with pytest.raises(TaskFileError, match="source repository"):
        syncmind_mini_suite(data=str(suite_dir), source=str(tmp_path))


# ---------------------------------------------------------------------------------------- the bench run


def test_oracle_solves_the_whole_suite_with_two_workers(oracle_run):
    _, summary = oracle_run
    assert summary.status == "finished" and len(summary.results) == 34
    assert all(row.status == "completed" and row.success and row.reason == "goal" for row in summary.results)
    by_mode = {row.metrics["mode"]: row.metrics["balance"] for row in summary.results}
    assert by_mode == {"independent": 900, "collaborative": 800}


def test_report_splits_by_setting_and_mode_with_the_world_metrics(oracle_run):
    out, _ = oracle_run
    rows = {(row.group, row.name): row for row in summarize(open_run(out).results())}
    assert {key: row.n for key, row in rows.items() if key[0] in ("setting", "mode")} == {
        ("setting", "callee"): 24, ("setting", "caller"): 10, ("mode", "collaborative"): 17,
        ("mode", "independent"): 17}
    assert rows[("subset", "syncmind/caller-collaborative")].n == 5
    collaborative = rows[("mode", "collaborative")].metrics
    assert collaborative["asr"] == pytest.approx(1 / 3) and collaborative["question_turns"] == 1
    assert rows[("mode", "independent")].metrics["asr"] == 0
    overall = rows[("all", "all")].metrics
    assert overall["la_file"] == overall["la_func"] == 1.0 and overall["turns_to_success"] == 2.5


def test_bench_report_prints_the_metrics_and_the_split_rows(oracle_run):
    out, _ = oracle_run
    env = {**os.environ, "COLUMNS": "400", "PYTHONPATH": str(REPO)}

    def report(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "simyard", "bench", "report", str(out), *args],
                              capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
        assert done.returncode == 0, done.stderr
        return done.stdout

    table = report("--format", "markdown")
    assert "| setting: caller | 10 |" in table and "| mode: collaborative | 17 |" in table
    assert "la_func" in table and "asr" in table and "turns_to_success" in table
    rows = list(csv.DictReader(io.StringIO(report("--format", "csv"))))
    by_name = {row["name"]: row for row in rows}
    assert float(by_name["collaborative"]["metric_balance"]) == 800
    assert "metrics" not in rows[0]
    data = json.loads(report("--format", "json"))
    assert data["rows"][0]["metrics"]["la_file"] == 1.0


def test_resume_runs_only_the_missing_episodes(oracle_run, tmp_path):
    out, _ = oracle_run
    copy = tmp_path / "run"
    subprocess.run(["cp", "-a", str(out), str(copy)], check=True)
    index = copy / INDEX_FILE
    kept = "".join(index.read_text().splitlines(keepends=True)[:30])
    index.write_text(kept + '{"task_id": "mini0')  # 30 rows survived the "crash", plus a torn one
    summary = run_bench(resume=copy, workers=1)
    assert (summary.added, summary.skipped, summary.status) == (4, 30, "finished")
    rows = open_run(copy).results()
    assert len(rows) == 34 and all(row.success for row in rows)
    assert index.read_text().startswith(kept)


def test_a_dead_docker_daemon_in_a_bench_run_is_an_infra_error_not_a_failure(cache, tmp_path):
    pytest.importorskip("docker")
    dead = {"sandbox": "docker", "docker_url": f"unix://{tmp_path}/no-daemon.sock"}
    summary = run_bench("syncmind-mini", "oracle", out=tmp_path / "run", limit=1, world_options=dead,
                        suite_options={"cache_dir": cache})
    (row,) = summary.results
    assert summary.status == "failed" and row.status == "infra_error" and row.attempts == 3
    assert "sandbox=bwrap" in (row.error or "") or "dockerd" in (row.error or "")
    assert summarize(summary.results)[0].infra_failed == 1
