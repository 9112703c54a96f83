"""The core under heavy worlds: resources and their lifecycle, world options, calls off the event loop, time limits
that hold for blocking agents and worlds, the watchdog, and the outcome of every kind of failure."""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simyard.platform.api import Decision
from simyard.platform.bench import ResumeError, run_bench
from simyard.platform.episode import Limits, run_episode_with
from simyard.platform.errors import RunDirError, SimyardError, UnknownNameError
from simyard.platform.rundir import INDEX_FILE, RUN_FILE, TASKS_FILE, open_run
from simyard.platform.taskfiles import write_task_file
from tests.platform.bench_worlds import (
    MODULE,
    TinyCounterAgent,
    TinyWorld,
    counting_tasks,
    tiny_tasks,
    write_tiny_suite,
)

PLUGINS = [MODULE]


def _events(log: Path) -> collections.Counter:
    return collections.Counter(line.split()[0] for line in log.read_text().splitlines())


@pytest.mark.parametrize("workers", [1, 2])
def test_resources_are_built_once_per_worker_and_closed_after_everything_else(tmp_path, workers):
    log = tmp_path / "lifecycle.log"
    suite = tmp_path / "counting.jsonl"
    write_task_file(suite, counting_tasks(12))
    summary = run_bench(str(suite), "tiny-shared", {"log": str(log)}, out=tmp_path / "run", workers=workers,
                        concurrency=4, imports=PLUGINS, world_options={"log": str(log)})
    assert summary.status == "finished" and all(result.success for result in summary.results)
    events = _events(log)
    # The run scope lives on the driver: one setup, one close. Each worker process: one backend, one world resource.
    assert events["run-setup"] == events["run-close"] == 1
    assert events["backend-setup"] == events["backend-close"] == workers
    assert events["resource-setup"] == events["resource-close"] == workers
    assert events["agent-setup"] == events["agent-close"] == 4 * workers  # one agent per lane
    assert events["world-setup"] == events["world-close"] <= 4 * workers  # one world per lane, reused
    lines = [line.split() for line in log.read_text().splitlines()]
    for pid in {pid for _, pid in lines}:  # within a worker: shared resources close after every world and agent
        order = [event for event, owner in lines if owner == pid]
        if "backend-close" in order:
            last_user = max(i for i, event in enumerate(order) if event in ("world-close", "agent-close"))
            assert order.index("backend-close") > last_user and order.index("resource-close") > last_user
    assert json.loads((tmp_path / "run" / RUN_FILE).read_text())["config"]["world_options"] == {"log": str(log)}


def test_a_world_option_the_world_does_not_take_is_refused_before_anything_runs(tmp_path):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 2)
    with pytest.raises(UnknownNameError, match="does not take the option"):
        run_bench(str(suite), "tiny-counter", out=tmp_path / "run", imports=PLUGINS, world_options={"render": "egl"})
    assert not (tmp_path / "run").exists()


def test_world_scoped_options_reach_only_their_world():
    from simyard.platform.lanes import options_for

    options = {"resolution": 500, "sokoban.dim": 6, "tiny.log": "x"}
    assert options_for("tiny", options) == {"resolution": 500, "log": "x"}
    assert options_for("sokoban", options) == {"resolution": 500, "dim": 6}


def test_a_slow_world_does_not_stall_the_other_episodes_in_flight(tmp_path):
    log = tmp_path / "steps.log"
    suite = tmp_path / "slow.jsonl"
    write_task_file(suite, tiny_tasks(8, sleep_s=0.2, log=str(log)))
    summary = run_bench(str(suite), "tiny-counter", out=tmp_path / "run", concurrency=4, imports=PLUGINS)
    assert summary.status == "finished"
    spans = [(float(start), float(end)) for _, start, end, _ in (line.split() for line in log.read_text().splitlines())]
    # A sync agent and a world that sleeps: with calls on the loop, no two steps could ever overlap.
    most = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most >= 3


def test_a_blocking_sync_agent_past_its_limit_times_out_and_the_batch_goes_on(tmp_path):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 4)
    started = time.monotonic()
    summary = run_bench(str(suite), "tiny-blocking", {"block_on": "t001"}, out=tmp_path / "run", imports=PLUGINS,
                        limits=Limits(time_limit_s=1.0))
    assert time.monotonic() - started < 30
    statuses = {result.task_id: (result.status, result.reason) for result in summary.results}
    assert statuses["t001"] == ("timeout", "time_limit")
    assert all(statuses[task] == ("completed", "goal") for task in ("t000", "t002", "t003"))
    assert summary.status == "finished"


def test_a_world_call_that_never_returns_is_cut_off_and_its_worker_restarted(tmp_path):
    log = tmp_path / "steps.log"
    # Enough work after the hang (40 tasks of ~0.25 s) that the replacement worker, however slowly it spawns on a
    # loaded machine, still finds tasks left to log steps for.
    tasks = tiny_tasks(40, sleep_s=0.1, log=str(log))
    tasks[2] = tasks[2].model_copy(update={"config": {**tasks[2].config, "hang": True}})
    suite = tmp_path / "hang.jsonl"
    write_task_file(suite, tasks)
    summary = run_bench(str(suite), "tiny-counter", out=tmp_path / "run", workers=2, imports=PLUGINS,
                        limits=Limits(time_limit_s=2.0), watchdog_grace_s=0.5)
    by_id = {result.task_id: result for result in summary.results}
    assert (by_id["t002"].status, by_id["t002"].reason) == ("timeout", "time_limit")
    assert "world's step" in by_id["t002"].error
    others = [result for result in summary.results if result.task_id != "t002"]
    assert len(others) == 39 and all(result.success for result in others) and summary.status == "finished"
    assert len(open_run(tmp_path / "run").results()) == 40  # each task once: re-queued episodes were not lost
    pids = {line.split()[3] for line in log.read_text().splitlines()}
    assert len(pids) >= 3  # the wedged worker was replaced by a fresh process


def test_a_timed_out_sync_episode_returns_in_time_from_run_episode_with():
    task = tiny_tasks(1, hang=True)[0]
    started = time.monotonic()
    result = run_episode_with(TinyWorld(), TinyCounterAgent(), task, seed=0, limits=Limits(time_limit_s=0.5))
    assert (result.status, result.reason) == ("timeout", "time_limit") and time.monotonic() - started < 10


def test_a_non_finite_progress_is_a_world_error_not_a_number_in_the_index(tmp_path):
    result = run_episode_with(TinyWorld(), TinyCounterAgent(), tiny_tasks(1, nan_progress=True)[0], seed=0)
    assert result.status == "world_error" and "progress nan" in result.error


class _BadDecisionAgent(TinyCounterAgent):
    def act(self, observation):
        return Decision(actions=["inc"], calls=["not a ModelCall"])  # type: ignore[list-item]


def test_a_malformed_decision_is_the_agents_error():
    result = run_episode_with(TinyWorld(), _BadDecisionAgent(), tiny_tasks(1)[0], seed=0)
    assert result.status == "agent_error" and "ModelCall" in result.error


class _BadStepWorld(TinyWorld):
    def step(self, action):
        return {"observation": "not a StepResult"}


def test_a_malformed_step_result_is_the_worlds_error():
    result = run_episode_with(_BadStepWorld(), TinyCounterAgent(), tiny_tasks(1)[0], seed=0)
    assert result.status == "world_error" and "not a StepResult" in result.error


class _CloseFailsWorld(TinyWorld):
    def close(self):
        raise RuntimeError("renderer already gone")


def test_a_world_whose_close_raises_gets_one_warning_line_not_a_traceback(tmp_path, capfd):
    from simyard.platform import registry

    registry.register_world("tiny-close-fails", _CloseFailsWorld)
    tasks = [task.model_copy(update={"world": "tiny-close-fails"}) for task in tiny_tasks(2)]
    suite = tmp_path / "s.jsonl"
    write_task_file(suite, tasks)
    summary = run_bench(str(suite), "tiny-counter", out=tmp_path / "run")
    assert summary.status == "finished"
    err = capfd.readouterr().err
    assert "closing world 'tiny-close-fails' failed: RuntimeError: renderer already gone" in err
    assert "Traceback" not in err


def test_a_task_snapshot_cut_short_is_noticed_on_resume(tmp_path):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 10)
    run_bench(str(suite), "tiny-counter", out=tmp_path / "run", imports=PLUGINS, limit=10)
    index = tmp_path / "run" / INDEX_FILE
    index.write_text("".join(index.read_text().splitlines(keepends=True)[:3]))
    snapshot = tmp_path / "run" / TASKS_FILE
    snapshot.write_text("".join(snapshot.read_text().splitlines(keepends=True)[:5]))
    with pytest.raises(ResumeError, match="holds 5 tasks but run.json says 10"):
        run_bench(resume=tmp_path / "run")


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_out_directory_that_cannot_be_made_is_one_clear_error(tmp_path, where):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 2)
    if where == "under-a-file":
        (tmp_path / "plain").write_text("x")
        out = tmp_path / "plain" / "run"
    else:
        out = Path("/proc/simyard-run")
    with pytest.raises(RunDirError, match="cannot make the run directory"):
        run_bench(str(suite), "tiny-counter", out=out, imports=PLUGINS)


def test_agent_options_of_the_wrong_type_are_a_user_error_and_keep_the_users_empty_folder(tmp_path):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 2)
    mine = tmp_path / "mine"
    mine.mkdir()
    with pytest.raises(SimyardError, match="could not be built"):
        run_bench(str(suite), "random", {"seed": "x"}, out=mine, imports=PLUGINS)
    assert mine.is_dir() and not any(mine.iterdir())
    with pytest.raises(SimyardError, match="could not be built"):
        run_bench(str(suite), "random", {"seed": "x"}, out=tmp_path / "new", imports=PLUGINS)
    assert not (tmp_path / "new").exists()


def test_resume_with_out_is_refused(tmp_path):
    suite = write_tiny_suite(tmp_path / "tiny.jsonl", 2)
    run_bench(str(suite), "tiny-counter", out=tmp_path / "run", imports=PLUGINS)
    with pytest.raises(SimyardError, match="--out cannot be combined with --resume"):
        run_bench(resume=tmp_path / "run", out=tmp_path / "elsewhere")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_like_ctrl_c_and_the_run_says_interrupted(tmp_path, workers):
    suite = write_tiny_suite(tmp_path / "slow.jsonl", 30, sleep_s=0.3)
    script = ("import sys; from simyard.platform.bench import run_bench\n"
              f"run_bench({str(suite)!r}, 'tiny-counter', out={str(tmp_path / 'run')!r}, workers={workers}, "
              f"concurrency=2, imports=[{MODULE!r}])\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    index = tmp_path / "run" / INDEX_FILE
    while time.monotonic() < deadline and not (index.exists() and index.read_text().count("\n") >= 2):
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode != 0
    manifest = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    assert manifest["status"] == "interrupted"
    rows = open_run(tmp_path / "run").results()
    assert 2 <= len(rows) < 30 and all(row.status == "completed" for row in rows)  # in-flight ones finished, not lost


def test_run_episode_keeps_its_result_when_the_world_fails_to_close():
    import simyard
    from simyard.platform import registry

    registry.register_world("tiny-close-fails", _CloseFailsWorld)
    with pytest.warns(UserWarning, match="failed to close"):
        result = simyard.run_episode("tiny-close-fails", TinyCounterAgent(), task=tiny_tasks(1)[0], seed=0)
    assert result.status == "completed" and result.success


@pytest.mark.parametrize("line, problem", [
    ('{"task_id": "a", "world": "w", "subset": "s"}', "missing seed"),
    ('{"task_id": "a", "world": "w", "subset": "s", "seed": 1, "steps": "many"}', "steps is 'many'"),
    ('{"task_id": "a", "world": "w", "subset": "s", "seed": "x"}', "seed is 'x'"),
])
def test_a_results_row_with_missing_fields_or_wrong_types_is_one_clear_error(tmp_path, line, problem):
    from simyard.platform.results import ResultsIndex

    path = tmp_path / "results.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(RunDirError, match=problem):
        ResultsIndex(path).read()


def test_invalid_utf8_in_a_trajectory_is_one_clear_error(tmp_path):
    from simyard.platform.trajectory import read_trajectory

    episode = tmp_path / "ep"
    episode.mkdir()
    damaged = b'{"type": "reset"}\n{"type": "step", "x": "\xff\xfe"}\n{"type":"end"}\n'
    (episode / "trajectory.jsonl").write_bytes(damaged)
    with pytest.raises(RunDirError, match="trajectory.jsonl:2 is not a JSON object in UTF-8"):
        read_trajectory(episode)
