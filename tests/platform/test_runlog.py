"""The run directory: the fsynced results index, trajectories and frames, and what counts as a run directory."""

from __future__ import annotations

import json
import os
import time

import pytest

from simyard.platform.episode import EpisodeResult, run_episode_with
from simyard.platform.errors import RunDirError
from simyard.platform.manifest import RunConfig, RunManifest
from simyard.platform.results import ResultsIndex
from simyard.platform.rundir import INDEX_FILE, RunDir, open_run, single_episode_writer
from simyard.platform.trajectory import EpisodeWriter, read_episode_result, read_trajectory
from tests.platform.bench_worlds import TinyCounterAgent, TinyWorld, tiny_tasks


def _result(task_id: str, seed: int = 1, success: bool = True) -> EpisodeResult:
    return EpisodeResult(task_id=task_id, world="tiny", subset="base", seed=seed, success=success, steps=2)


def _new_run(path, tasks=None) -> RunDir:
    tasks = tasks or tiny_tasks(2)
    manifest = RunManifest(config=RunConfig(suite="tiny", agent="tiny-counter"), tasks_total=len(tasks),
                           started_at="2025-01-01T00:00:00+00:00")
    return RunDir.create(path, manifest, tasks)


def test_index_round_trips_rows_in_write_order(tmp_path):
    with ResultsIndex(tmp_path / INDEX_FILE) as index:
        index.append([_result("a"), _result("b", success=False)])
        index.append([_result("c")])
    rows = ResultsIndex(tmp_path / INDEX_FILE).read()
    assert [(row.task_id, row.success) for row in rows] == [("a", True), ("b", False), ("c", True)]


def test_index_rows_are_readable_at_once_and_fsyncs_are_shared_within_the_interval(tmp_path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    index = ResultsIndex(tmp_path / INDEX_FILE)
    index.sync_interval_s = 60.0
    for number in range(50):
        index.append([_result(f"t{number}")])
        # flushed to the OS with each append: another reader (a resume after a kill) sees the row at once
        assert len(ResultsIndex(tmp_path / INDEX_FILE).read()) == number + 1
    assert len(synced) == 1  # the first append syncs; the next 49 share the interval's commit
    index.close()
    assert len(synced) == 2  # what was pending is synced when the index closes


def test_index_ignores_a_torn_final_line(tmp_path):
    path = tmp_path / INDEX_FILE
    with ResultsIndex(path) as index:
        index.append([_result("a"), _result("b")])
    with path.open("ab") as handle:
        handle.write(b'{"task_id": "c", "world": "ti')  # the process died in the middle of this write
    assert [row.task_id for row in ResultsIndex(path).read()] == ["a", "b"]


def test_appending_after_a_torn_line_drops_the_fragment_and_keeps_every_row(tmp_path):
    path = tmp_path / INDEX_FILE
    with ResultsIndex(path) as index:
        index.append([_result("a")])
    before = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"task_id": "b", "wor')
    with ResultsIndex(path) as index:
        index.append([_result("c")])
    assert path.read_bytes().startswith(before)
    assert [row.task_id for row in ResultsIndex(path).read()] == ["a", "c"]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_complete_row_that_only_lost_its_newline_is_kept(tmp_path):
    path = tmp_path / INDEX_FILE
    path.write_text(json.dumps(_result("a").to_dict()))  # no trailing newline
    with ResultsIndex(path) as index:
        index.append([_result("b")])
    assert [row.task_id for row in ResultsIndex(path).read()] == ["a", "b"]


def test_index_keeps_the_first_row_of_a_repeated_task_and_seed(tmp_path):
    with ResultsIndex(tmp_path / INDEX_FILE) as index:
        index.append([_result("a", success=True), _result("a", success=False), _result("a", seed=2, success=False)])
    rows = ResultsIndex(tmp_path / INDEX_FILE).read()
    assert [(row.task_id, row.seed, row.success) for row in rows] == [("a", 1, True), ("a", 2, False)]


def test_a_damaged_middle_line_is_reported_not_skipped(tmp_path):
    path = tmp_path / INDEX_FILE
    path.write_text(json.dumps(_result("a").to_dict()) + "\nnot json\n" + json.dumps(_result("b").to_dict()) + "\n")
    with pytest.raises(RunDirError, match=":2 is not a results row"):
        ResultsIndex(path).read()


def test_episode_writer_records_reset_steps_and_result(tmp_path):
    task = tiny_tasks(4)[3]  # target 4
    writer = EpisodeWriter(tmp_path / "ep")
    result = run_episode_with(TinyWorld(), TinyCounterAgent(), task, seed=5, recorder=writer)
    lines = read_trajectory(tmp_path / "ep")
    assert lines[0]["type"] == "reset" and lines[0]["task"]["id"] == task.id and lines[0]["seed"] == 5
    assert lines[0]["observation"]["text"] == "Start."
    steps = lines[1:]
    assert [step["index"] for step in steps] == [1, 2, 3, 4]
    assert steps[-1]["terminated"] and steps[-1]["info"]["success"] and steps[0]["action"] == "inc"
    assert {"calls", "act_latency_s", "reward", "truncated"} <= set(steps[0])
    assert read_episode_result(tmp_path / "ep") == result
    assert not (tmp_path / "ep" / "frames").exists()  # the world showed no images


def test_a_slow_episode_s_steps_reach_the_file_before_it_ends(tmp_path):
    """A viewer of a run being written reads trajectories of episodes in flight: a step line must not wait in the
    writer's buffer until the episode ends once `flush_interval_s` has passed."""
    task = tiny_tasks(4)[3]
    seen_on_disk: list[int] = []

    class PeekingAgent(TinyCounterAgent):
        def act(self, observation):
            on_disk = (tmp_path / "ep" / "trajectory.jsonl").read_text().splitlines()
            seen_on_disk.append(sum('"type":"step"' in line.replace(" ", "") for line in on_disk))
            time.sleep(0.06)
            return super().act(observation)

    writer = EpisodeWriter(tmp_path / "ep")
    writer.flush_interval_s = 0.05
    run_episode_with(TinyWorld(), PeekingAgent(), task, seed=5, recorder=writer)
    assert seen_on_disk == [0, 1, 2, 3]  # each step was readable while the next was being chosen


def test_frames_are_saved_as_png_when_the_world_has_images(tmp_path):
    from PIL import Image

    task = tiny_tasks(2, images=True)[1]  # target 2
    run_episode_with(TinyWorld(), TinyCounterAgent(), task, seed=0, recorder=EpisodeWriter(tmp_path / "ep"))
    lines = read_trajectory(tmp_path / "ep")
    assert lines[0]["observation"]["frames"] == ["frames/step_0000_rgb.png"]
    assert lines[2]["observation"]["frames"] == ["frames/step_0002_rgb.png"]
    with Image.open(tmp_path / "ep" / "frames" / "step_0002_rgb.png") as image:
        assert image.size == (8, 8) and image.mode == "RGB"


def test_frames_can_be_switched_off(tmp_path):
    task = tiny_tasks(2, images=True)[1]
    run_episode_with(TinyWorld(), TinyCounterAgent(), task, seed=0,
                     recorder=EpisodeWriter(tmp_path / "ep", save_frames=False))
    assert not (tmp_path / "ep" / "frames").exists()
    assert "frames" not in read_trajectory(tmp_path / "ep")[1]["observation"]


def test_a_world_that_fails_to_reset_still_leaves_a_readable_episode(tmp_path):
    task = tiny_tasks(1, fail_reset=True)[0]
    result = run_episode_with(TinyWorld(), TinyCounterAgent(), task, seed=0, recorder=EpisodeWriter(tmp_path / "ep"))
    lines = read_trajectory(tmp_path / "ep")
    assert len(lines) == 1 and "refuses to start" in lines[0]["observation"]["text"]
    assert read_episode_result(tmp_path / "ep") == result and result.status == "world_error"


def test_read_trajectory_ignores_a_torn_final_line(tmp_path):
    run_episode_with(TinyWorld(), TinyCounterAgent(), tiny_tasks(3)[2], seed=0, recorder=EpisodeWriter(tmp_path))
    with (tmp_path / "trajectory.jsonl").open("a") as handle:
        handle.write('{"type": "step", "ind')
    assert len(read_trajectory(tmp_path)) == 4


def test_read_trajectory_of_a_directory_without_one_says_what_it_wants(tmp_path):
    with pytest.raises(RunDirError, match="not an episode directory"):
        read_trajectory(tmp_path)


def test_open_run_rejects_a_directory_without_run_json(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory") as caught:
        open_run(tmp_path)
    assert "run.json" in caught.value.hint and "\n" not in str(caught.value)


def test_open_run_rejects_a_missing_path(tmp_path):
    with pytest.raises(RunDirError, match="no such directory"):
        open_run(tmp_path / "nope")


def test_creating_a_run_where_one_exists_is_refused(tmp_path):
    _new_run(tmp_path / "run")
    with pytest.raises(RunDirError, match="already holds a run"):
        _new_run(tmp_path / "run")


def test_a_new_run_snapshots_its_tasks_and_reads_back(tmp_path):
    tasks = tiny_tasks(3)
    run = _new_run(tmp_path / "run", tasks)
    again = open_run(tmp_path / "run")
    assert again.tasks() == tasks and again.results() == [] and again.manifest.config.agent == "tiny-counter"
    assert run.episode_dir("t001", 9).name == "t001__s9"


def test_only_one_process_may_write_a_run(tmp_path):
    run = _new_run(tmp_path / "run")
    held = run.lock()
    try:
        with pytest.raises(RunDirError, match="another process"):
            open_run(tmp_path / "run").lock()
    finally:
        held.close()
    open_run(tmp_path / "run").lock().close()  # released with its holder


def test_single_episode_writer_makes_a_run_that_reports_like_a_bench_run(tmp_path):
    task = tiny_tasks(2)[1]
    with single_episode_writer(tmp_path / "run", task, "tiny-counter", {}, seed=3) as writer:
        run_episode_with(TinyWorld(), TinyCounterAgent(), task, seed=3, recorder=writer)
    run = open_run(tmp_path / "run")
    assert run.manifest.kind == "episode" and run.manifest.status == "finished"
    assert [(row.task_id, row.seed, row.success) for row in run.results()] == [(task.id, 3, True)]
    assert writer.episode_dir == run.episode_dir(task.id, 3)


def _time_episodes(recorder_factory, tasks, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        world, agent = TinyWorld(), TinyCounterAgent()
        started = time.perf_counter()
        for index, task in enumerate(tasks):
            run_episode_with(world, agent, task, seed=index, recorder=recorder_factory(index))
        best = min(best, time.perf_counter() - started)
    return best


def test_recording_costs_at_most_50_microseconds_a_step(tmp_path):
    tasks = [task.model_copy(update={"config": {"target": 400}, "max_steps": 400}) for task in tiny_tasks(5)]
    steps = 400 * len(tasks)
    bare = _time_episodes(lambda index: None, tasks)
    recorded = _time_episodes(lambda index: EpisodeWriter(tmp_path / f"ep{index}"), tasks)
    per_step_us = (recorded - bare) / steps * 1e6
    assert per_step_us <= 50, f"the recorder costs {per_step_us:.1f} µs per step"


def test_sampled_tokens_and_logprobs_stay_with_the_step_that_used_them(tmp_path):
    """StarPO trains on exactly the sampled tokens: they must be recoverable per step from the trajectory."""
    from simyard.platform.api import Decision, ModelCall, Task
    from simyard.testing.scripted import ScriptedAgent, ScriptedWorld

    call = ModelCall(text="noop || win", prompt_tokens=12, completion_tokens=3, token_ids=[5, 17, 9],
                     logprobs=[-0.1, -2.5, -0.01])
    agent = ScriptedAgent([Decision(actions=["noop", "win"], calls=[call])])
    writer = EpisodeWriter(tmp_path / "episode")
    run_episode_with(ScriptedWorld(), agent, Task(id="t", world="scripted"), seed=0, recorder=writer)
    reset, first, second = read_trajectory(tmp_path / "episode")
    assert [c["token_ids"] for c in first["calls"]] == [[5, 17, 9]]
    assert first["calls"][0]["logprobs"] == [-0.1, -2.5, -0.01]
    assert second["calls"] == []  # the call belongs to the first step of its plan only
    assert read_episode_result(tmp_path / "episode").completion_tokens == 3
