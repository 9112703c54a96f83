"""The viewer's JSON API over real runs: what a page gets, with damaged and still-running runs, over loopback HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from simyard.platform.errors import RunDirError
from simyard.viewer.server import ViewerServer


def get(server, path: str):
    with urllib.request.urlopen(server.url + path.lstrip("/"), timeout=10) as response:
        return json.loads(response.read())


def status_of(server, path: str) -> int:
    try:
        with urllib.request.urlopen(server.url + path.lstrip("/"), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def episode_names(run: Path) -> list[str]:
    return sorted(path.name for path in (run / "episodes").iterdir())


def test_a_folder_that_is_not_a_run_is_refused_before_serving(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RunDirError, match="no run.json"):
        ViewerServer([tmp_path])
    with pytest.raises(RunDirError, match="no such directory"):
        ViewerServer([tmp_path / "missing"])


def test_run_table_and_episode_list(viewer, replying_run):
    server = viewer(replying_run)
    run = get(server, "/api/runs/0")
    assert run["recorded"] == 6 and run["status"] == "finished" and run["notes"] == []
    header, overall = run["table"][0], run["table"][1]
    assert header[:3] == ["group", "n", "success [95% CI]"]
    assert overall[:3] == ["all", "6", "100.0% [61.0, 100.0]"]  # the Wilson interval `bench report` prints
    page = get(server, "/api/runs/0/episodes?limit=4")
    assert page["total"] == 6 and len(page["rows"]) == 4
    assert get(server, "/api/runs/0/episodes?offset=4&limit=4")["rows"][-1]["name"] == episode_names(replying_run)[-1]


def test_filters_and_search_narrow_the_list(viewer, replying_run, random_run):
    server = viewer(replying_run, random_run)
    assert get(server, "/api/runs/0/episodes?success=no")["total"] == 0
    assert get(server, "/api/runs/0/episodes?reason=goal")["total"] == 6
    random_rows = get(server, "/api/runs/1/episodes")["rows"]
    failed = sum(not row["success"] for row in random_rows)
    assert get(server, "/api/runs/1/episodes?success=no")["total"] == failed
    # a search looks in the model's replies: only episodes of at least 6 turns have said "turn 6"
    long_ones = {row["name"] for row in get(server, "/api/runs/0/episodes")["rows"] if row["steps"] >= 6}
    found = get(server, "/api/runs/0/episodes?q=TURN%206:")
    assert {row["name"] for row in found["rows"]} == long_ones and long_ones


def test_episode_replay_has_frames_replies_and_the_fork_command(viewer, replying_run):
    server = viewer(replying_run)
    name = episode_names(replying_run)[0]
    episode = get(server, f"/api/runs/0/episodes/{name}")
    steps = episode["steps"]
    assert steps[0]["action"] is None and steps[0]["frames"][0]["file"] == "frames/step_0000_rgb.png"
    assert steps[2]["calls"][0]["reasoning"] == "turn 2: <b>push</b> [red]on[/red]"
    assert steps[2]["calls"][0]["prompt_tokens"] == 102
    assert episode["fork"]["prefix"] == f"simyard episode run --from {(replying_run / 'episodes' / name).resolve()}"
    frame = urllib.request.urlopen(server.url + f"api/runs/0/frames/{name}/frames/step_0002_rgb.png").read()
    assert frame == (replying_run / "episodes" / name / "frames" / "step_0002_rgb.png").read_bytes()


def test_final_frame_policy_shows_the_last_frame(viewer, runs_root):
    from tests.viewer.conftest import record_run, sokoban_tasks

    run = record_run(runs_root, "final-frames", "oracle", sokoban_tasks(1), frames="final")
    name = episode_names(run)[0]
    steps = get(viewer(run), f"/api/runs/0/episodes/{name}")["steps"]
    assert [step["frames"] for step in steps[:-1]] == [[]] * (len(steps) - 1)
    assert steps[-1]["frames"] == [{"file": f"frames/step_{len(steps) - 1:04d}_rgb.png", "view": "rgb",
                                    "problem": None}]


def test_frames_outside_the_episode_are_not_served(viewer, replying_run):
    server = viewer(replying_run)
    name = episode_names(replying_run)[0]
    assert status_of(server, f"/api/runs/0/frames/{name}/frames/..%2F..%2F..%2Frun.json") == 404
    assert status_of(server, f"/api/runs/0/frames/{name}/trajectory.jsonl") == 404
    assert status_of(server, "/api/runs/0/episodes/..") == 404


def test_torn_results_line_is_skipped_and_said(viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    with (run / "results.jsonl").open("ab") as handle:
        handle.write(b'{"task_id": "sokoban-6x6-1b-00')
    described = get(viewer(run), "/api/runs/0")
    assert described["recorded"] == 6
    assert any("half-written last line" in note for note in described["notes"])


def test_a_damaged_line_inside_the_index_loses_only_that_line(viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    lines = (run / "results.jsonl").read_text().splitlines(keepends=True)
    lines[2] = "this is not json\n"
    (run / "results.jsonl").write_text("".join(lines))
    described = get(viewer(run), "/api/runs/0")
    assert described["recorded"] == 5
    assert described["notes"] == ["results.jsonl:3: skipped: not a results row"]


def test_torn_trajectory_shows_the_steps_it_has(viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    name = episode_names(run)[0]
    path = run / "episodes" / name / "trajectory.jsonl"
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:40])  # reset, steps 1-2, then half of step 3
    episode = get(viewer(run), f"/api/runs/0/episodes/{name}")
    assert [step["index"] for step in episode["steps"]] == [0, 1, 2]
    assert any("half-written last line" in note for note in episode["notes"])


def test_a_run_being_written_shows_what_is_there_and_refreshes(viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    manifest = json.loads((run / "run.json").read_text())
    manifest["status"] = "running"
    (run / "run.json").write_text(json.dumps(manifest))
    index = (run / "results.jsonl").read_text().splitlines(keepends=True)
    (run / "results.jsonl").write_text("".join(index[:4]))
    server = viewer(run)
    first = get(server, "/api/runs/0")
    assert (first["recorded"], first["unfinished"]) == (4, 2)
    unfinished = get(server, "/api/runs/0/episodes?status=unfinished")["rows"]
    assert len(unfinished) == 2 and all(row["reason"] == "unfinished" for row in unfinished)
    with (run / "results.jsonl").open("a") as handle:
        handle.write(index[4])
    second = get(server, "/api/runs/0")
    assert (second["recorded"], second["unfinished"]) == (5, 1)


def test_runs_pair_per_task(viewer, replying_run, random_run):
    server = viewer(replying_run, random_run)
    page = get(server, "/api/pair?runs=0,1")
    random_rows = {row["task_id"]: row for row in get(server, "/api/runs/1/episodes")["rows"]}
    assert page["shared"] == 6 and not page["by_task"]
    assert page["differing"] == sum(not row["success"] or row["progress"] != 1.0 for row in random_rows.values())
    for line in page["rows"]:
        assert line["cells"][1]["steps"] == random_rows[line["task_id"]]["steps"]
    assert page["table"][0][2] == "success A→B"
    assert status_of(server, "/api/pair?runs=0") == 400
    assert status_of(server, "/api/pair?runs=0,7") == 400
