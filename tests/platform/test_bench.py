"""Batch runs: in process and across spawned workers, errors that stay in their episode, resume, plugins."""

from __future__ import annotations

import json
import zlib

import pytest

from simyard.platform.bench import ResumeError, episode_seed, run_bench
from simyard.platform.episode import Limits
from simyard.platform.errors import RunDirError, UnknownNameError
from simyard.platform.plugins import PluginImportError
from simyard.platform.rundir import INDEX_FILE, open_run
from simyard.platform.trajectory import read_trajectory
from tests.platform.bench_worlds import MODULE, TinyAsyncAgent, write_tiny_suite

PLUGINS = [MODULE]


def _key(result):
    return (result.task_id, result.seed, result.status, result.success, result.steps, round(result.reward, 12),
            result.progress, result.error)


@pytest.fixture
def suite(tmp_path):
    return str(write_tiny_suite(tmp_path / "tiny.jsonl", 12))


def test_every_task_is_run_and_recorded_once(suite, tmp_path):
    summary = run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS)
    assert summary.status == "finished" and summary.added == 12 and summary.skipped == 0
    run = open_run(tmp_path / "run")
    assert sorted(row.task_id for row in run.results()) == [f"t{i:03d}" for i in range(12)]
    assert len((tmp_path / "run" / INDEX_FILE).read_text().splitlines()) == 12
    assert all(row.success for row in run.results())
    first = run.results()[0]
    assert len(read_trajectory(run.episode_dir(first.task_id, first.seed))) == first.steps + 1
    assert run.manifest.status == "finished" and run.manifest.sessions[0].episodes == 12


def test_episode_seeds_depend_only_on_the_base_seed_and_task_id():
    assert episode_seed(0, "t000") == zlib.crc32(b"0\x1ft000")
    assert episode_seed(1, "t000") != episode_seed(0, "t000")


def test_two_workers_give_the_same_results_as_one(suite, tmp_path):
    one = run_bench(suite, "tiny-counter", {"wrong_on": "t005"}, out=tmp_path / "one", imports=PLUGINS)
    two = run_bench(suite, "tiny-counter", {"wrong_on": "t005"}, out=tmp_path / "two", workers=2, imports=PLUGINS)
    assert two.status == "finished"
    assert [_key(result) for result in one.results] == [_key(result) for result in two.results]
    assert len((tmp_path / "two" / INDEX_FILE).read_text().splitlines()) == 12


@pytest.mark.parametrize("workers", [1, 2])
def test_an_agent_error_in_one_episode_does_not_stop_the_batch(suite, tmp_path, workers):
    summary = run_bench(suite, "tiny-counter", {"crash_on": "t004"}, out=tmp_path / "run", workers=workers,
                        imports=PLUGINS)
    assert summary.status == "finished" and len(summary.results) == 12
    failed = [result for result in summary.results if result.errored]
    assert [(r.task_id, r.status) for r in failed] == [("t004", "agent_error")]
    assert "agent bug on t004" in failed[0].error


def test_a_world_that_cannot_start_is_an_error_row(tmp_path):
    suite = str(write_tiny_suite(tmp_path / "bad.jsonl", 3, fail_reset=True))
    summary = run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS)
    assert [result.reason for result in summary.results] == ["world_error"] * 3
    assert summary.status == "finished"


def test_a_worker_that_always_dies_costs_only_its_episode_as_an_infra_error(suite, tmp_path):
    summary = run_bench(suite, "tiny-counter", {"die_on": "t006"}, out=tmp_path / "run", workers=2, imports=PLUGINS)
    assert len(summary.results) == 12
    dead = [result for result in summary.results if result.errored]
    assert [(r.task_id, r.status, r.attempts) for r in dead] == [("t006", "infra_error", 3)]
    assert "worker process died" in dead[0].error
    assert sum(result.success for result in summary.results) == 11
    assert summary.status == "failed"  # an infra failure is not a result: the run is not finished, resume retries it


def test_a_worker_killed_mid_episode_is_retried_and_the_task_ends_with_one_completed_row(suite, tmp_path):
    marker = tmp_path / "died-once"
    summary = run_bench(suite, "tiny-counter", {"die_on": "t006", "die_once_marker": str(marker)},
                        out=tmp_path / "run", workers=2, imports=PLUGINS)
    assert marker.exists() and summary.status == "finished"
    rows = [json.loads(line) for line in (tmp_path / "run" / INDEX_FILE).read_text().splitlines()]
    t006 = [row for row in rows if row["task_id"] == "t006"]
    assert len(t006) == 1 and t006[0]["status"] == "completed" and t006[0]["attempts"] == 2
    assert all(not result.errored and result.success for result in summary.results)


def test_resume_reruns_infra_failures_and_reports_do_not_count_them_as_failures(suite, tmp_path):
    from simyard.platform.metrics import summarize

    repaired = tmp_path / "repaired"
    options = {"die_on": "t006", "alive_marker": str(repaired)}
    first = run_bench(suite, "tiny-counter", options, out=tmp_path / "run", workers=2, imports=PLUGINS)
    assert first.status == "failed"
    overall = summarize(open_run(tmp_path / "run").results())[0]
    assert (overall.infra_failed, overall.n, overall.success_rate) == (1, 11, 1.0)
    repaired.touch()  # the machine is fixed; the resume runs the infra failure again
    second = run_bench(resume=tmp_path / "run", workers=2)
    assert second.status == "finished" and second.added == 1
    rows = open_run(tmp_path / "run").results()
    assert len(rows) == 12 and all(row.status == "completed" and row.success for row in rows)


def test_resume_runs_only_what_is_missing_and_keeps_what_was_recorded(suite, tmp_path):
    run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS)
    index = tmp_path / "run" / INDEX_FILE
    kept = "".join(index.read_text().splitlines(keepends=True)[:5])
    index.write_text(kept + '{"task_id": "t0')  # five rows survived the "crash", plus a torn sixth
    summary = run_bench(resume=tmp_path / "run", workers=2)
    assert summary.added == 7 and summary.skipped == 5 and summary.status == "finished"
    text = index.read_text()
    assert text.startswith(kept)
    ids = [line.split('"task_id":"')[1].split('"')[0] for line in text.splitlines()]
    assert sorted(ids) == [f"t{i:03d}" for i in range(12)]  # each exactly once
    manifest = open_run(tmp_path / "run").manifest
    assert [session.episodes for session in manifest.sessions] == [12, 7] and manifest.status == "finished"


def test_resuming_a_finished_run_is_refused(suite, tmp_path):
    run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS)
    with pytest.raises(ResumeError, match="already complete"):
        run_bench(resume=tmp_path / "run")


def test_resume_with_options_that_contradict_the_run_is_refused(suite, tmp_path):
    run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS, limit=3)
    with pytest.raises(ResumeError, match="agent is 'random' here but 'tiny-counter'"):
        run_bench(agent="random", resume=tmp_path / "run")
    with pytest.raises(ResumeError, match="seed"):
        run_bench(seed=7, resume=tmp_path / "run")


def test_resume_of_something_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory"):
        run_bench(resume=tmp_path)


def test_names_are_checked_before_a_run_directory_is_made(suite, tmp_path):
    with pytest.raises(UnknownNameError, match="no agent named 'nobody'"):
        run_bench(suite, "nobody", out=tmp_path / "run", imports=PLUGINS)
    with pytest.raises(UnknownNameError, match="no suite named 'nosuite'"):
        run_bench("nosuite", "random", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_agent_options_the_agent_rejects_fail_the_run_and_leave_no_directory(suite, tmp_path, workers):
    with pytest.raises(UnknownNameError, match="does not accept the options"):
        run_bench(suite, "tiny-counter", {"temperature": 0.5}, out=tmp_path / "run", workers=workers,
                  imports=PLUGINS)
    assert not (tmp_path / "run").exists()


def test_limit_and_limits_are_applied(suite, tmp_path):
    summary = run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS, limit=4,
                        limits=Limits(max_steps=1))
    assert [result.task_id for result in summary.results] == ["t000", "t001", "t002", "t003"]
    assert all(result.steps <= 1 for result in summary.results)
    assert [result.reason for result in summary.results] == ["goal", "max_steps", "max_steps", "max_steps"]


def test_progress_hears_the_start_and_every_result(suite, tmp_path):
    events = []
    run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=PLUGINS, progress=events.append)
    assert events[0].done == 0 and events[0].total == 12
    assert [event.done for event in events[1:]] == list(range(1, 13))
    assert events[-1].successes == 12 and events[-1].added == 12


def test_an_async_agent_keeps_concurrency_episodes_in_flight(suite, tmp_path):
    TinyAsyncAgent.peak = 0
    summary = run_bench(suite, "tiny-async", {"delay_s": 0.02}, out=tmp_path / "run", concurrency=4,
                        imports=PLUGINS)
    assert summary.status == "finished" and all(result.success for result in summary.results)
    assert TinyAsyncAgent.peak == 4


def test_async_agents_in_workers_match_the_sync_agent(suite, tmp_path):
    sync = run_bench(suite, "tiny-counter", out=tmp_path / "sync", imports=PLUGINS)
    async_ = run_bench(suite, "tiny-async", {"delay_s": 0.001}, out=tmp_path / "async", workers=2, concurrency=3,
                       imports=PLUGINS)
    assert [_key(result) for result in sync.results] == [_key(result) for result in async_.results]


def test_a_plugin_file_registers_its_world_in_spawned_workers(tmp_path):
    plugin = tmp_path / "my_plugin.py"
    plugin.write_text(
        "import simyard\n"
        "from tests.platform.bench_worlds import TinyWorld\n"
        "class Other(TinyWorld):\n"
        "    name = 'tiny-other'\n"
        "simyard.register_world('tiny-other', Other)\n"
        "simyard.register_agent('tiny-oracle', 'simyard.agents.baselines:OracleAgent')\n"
    )
    tasks = tmp_path / "other.jsonl"
    tasks.write_text("".join(f'{{"id": "o{i}", "world": "tiny-other", "config": {{"target": 2}}}}\n'
                             for i in range(4)))
    summary = run_bench(str(tasks), "tiny-oracle", out=tmp_path / "run", workers=2, imports=[str(plugin)])
    assert summary.status == "finished" and all(result.success for result in summary.results)
    assert open_run(tmp_path / "run").manifest.config.imports == [str(plugin.resolve())]


def test_a_plugin_that_cannot_be_imported_is_a_clear_error(suite, tmp_path):
    with pytest.raises(PluginImportError, match="no_such_plugin_module"):
        run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=["no_such_plugin_module"])
    with pytest.raises(PluginImportError, match="does not exist"):
        run_bench(suite, "tiny-counter", out=tmp_path / "run", imports=[str(tmp_path / "missing.py")])
