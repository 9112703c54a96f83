"""Forks started from the viewer, through its JSON API over loopback: played in the viewer process, recorded under
the parent run's forks/ folder, opened with a link back to the parent; plus matrix runs and human steps."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from simyard.platform.bench import run_bench
from simyard.platform.errors import RunDirError
from simyard.platform.taskfiles import write_task_file
from simyard.viewer.server import ViewerServer
from tests.export.test_export import _fingerprint
from tests.fork.recordings import takeover_episode
from tests.viewer.test_api import episode_names, get


def post(server, path: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(server.url + path.lstrip("/"), data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_job(server, job: dict, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while job["state"] == "running":
        assert time.monotonic() < deadline, f"fork {job['id']} still running: {job}"
        time.sleep(0.05)
        job = get(server, f"/api/forks/{job['id']}")
    return job


def record_drift_run(root: Path) -> Path:
    """A run of `coin-drift`, a world whose observations stop being reproducible at its third step."""
    from tests.fork.plugin_worlds import CoinDrift

    write_task_file(root / "drift-tasks.jsonl", [CoinDrift.sample_task(1)])
    run_bench(str(root / "drift-tasks.jsonl"), "oracle", out=root / "drift", imports=["tests.fork.plugin_worlds"])
    return root / "drift"


def test_a_fork_from_the_page_replays_plays_and_opens_with_a_link_to_its_parent(viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    before = _fingerprint(run)
    server = viewer(run)
    name = episode_names(run)[0]
    status, job = post(server, f"/api/runs/0/episodes/{name}/fork", {"step": 2, "agent": "oracle"})
    assert status == 200 and job["state"] == "running"
    job = wait_job(server, job)
    assert job["state"] == "done" and job["replayed"] == 2 and job["played"] >= 1 and job["diverged"] is None
    assert Path(job["path"]).parent.parent.parent == run / "forks"
    assert job["result"]["success"]  # the solver finishes from the recorded state
    fork = get(server, f"/api/runs/{job['run']}/episodes/{job['name']}")
    assert fork["parent"] == {"episode": str((run / "episodes" / name).resolve()), "step": 2, "run": 0, "name": name}
    assert [step["by"] for step in fork["steps"][1:3]] == ["replay", "replay"] and fork["steps"][3]["by"] is None
    assert [step["parent_step"] for step in fork["steps"][1:3]] == [1, 2]
    parent = get(server, f"/api/runs/0/episodes/{name}")
    assert [(child["run"], child["step"], child["agent"]) for child in parent["forks"]] == [(job["run"], 2, "oracle")]
    assert [row["label"] for row in get(server, "/api/runs")["runs"]] == [f"viewer-replying · {run.name}"]
    after = _fingerprint(run)
    assert {key: value for key, value in after.items() if not key.startswith("forks/")} == before


def test_a_replay_that_does_not_retrace_the_record_is_reported_by_the_job(viewer, tmp_path):
    run = record_drift_run(tmp_path)
    server = viewer(run)
    name = episode_names(run)[0]
    status, job = post(server, f"/api/runs/0/episodes/{name}/fork", {"step": 4, "agent": "random"})
    assert status == 200
    job = wait_job(server, job)
    assert job["state"] == "done" and job["diverged"].startswith("replay differs from the record at step 3: "
                                                                  "observation text was 'count 3 drift")
    fork = get(server, f"/api/runs/{job['run']}/episodes/{job['name']}")
    assert fork["result"]["status"] == "world_error" and "replay differs from the record at step 3" in \
        fork["result"]["error"]


@pytest.mark.parametrize(("body", "message"), [
    ({"step": 99, "agent": "oracle"}, "--step 99 is outside the episode"),
    ({"step": "2", "agent": "oracle"}, "step must be a whole number"),
    ({"step": 1, "agent": "human"}, "agent 'human' plays at a terminal"),
    ({"step": 1, "agent": "nobody"}, "no agent named 'nobody'"),
    ({"step": 1, "agent": "random", "options": "seed"}, "option 'seed' is not key=value"),
    ([1, 2], "send a JSON object"),
    ({"step": 1, "agent": "oracle", "max_steps": 0}, "max_steps must be a positive whole number"),
    ({"step": 6, "agent": "oracle"}, "--step 6 is outside the episode"),
])
def test_a_fork_that_cannot_start_is_one_clear_line(viewer, replying_run, body, message):
    server = viewer(replying_run)
    name = episode_names(replying_run)[0]
    status, answer = post(server, f"/api/runs/0/episodes/{name}/fork", body)
    assert status == 400 and answer["error"].startswith(message) and "\n" not in answer["error"]
    assert not (replying_run / "forks").exists()


def test_agent_options_that_the_agent_refuses_fail_the_job_with_its_reason(viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    server = viewer(run)
    status, job = post(server, f"/api/runs/0/episodes/{episode_names(run)[0]}/fork",
                       {"step": 1, "agent": "random", "options": "temperature=0.5"})
    job = wait_job(server, job)
    assert job["state"] == "failed" and "agent 'random' does not accept the options 'temperature'" in job["error"]


def test_a_matrix_run_is_viewed_as_one_run_per_arm(viewer, tmp_path):
    from simyard.platform.matrix import Arm, run_matrix
    from tests.viewer.conftest import sokoban_tasks

    write_task_file(tmp_path / "tasks.jsonl", sokoban_tasks(2))
    arms = [Arm(name=agent, suite=str(tmp_path / "tasks.jsonl"), agent=agent) for agent in ("random", "oracle")]
    run_matrix(arms, tmp_path / "m", shared={"seed": 7})
    server = viewer(tmp_path / "m")
    runs = get(server, "/api/runs")["runs"]
    assert [(run["label"], run["agent"], run["recorded"]) for run in runs] == [("m/random", "random", 2),
                                                                                ("m/oracle", "oracle", 2)]
    pair = get(server, "/api/pair?runs=0,1")
    assert pair["shared"] == 2 and pair["labels"] == ["m/random", "m/oracle"]


def test_a_matrix_run_none_of_whose_arms_started_is_one_line(tmp_path):
    from simyard.platform.matrix import MATRIX_FILE, Arm, MatrixPlan

    (tmp_path / "m").mkdir()
    plan = MatrixPlan(arms=[Arm(name="random", suite="ragen", agent="random")])
    (tmp_path / "m" / MATRIX_FILE).write_text(plan.to_json())
    with pytest.raises(RunDirError, match="arms have not started yet"):
        ViewerServer([tmp_path / "m"])


def test_steps_a_person_chose_are_marked_with_the_models_proposal(viewer, tmp_path):
    episode = takeover_episode(tmp_path / "took-over")
    server = viewer(tmp_path / "took-over")
    page = get(server, f"/api/runs/0/episodes/{episode.name}")
    assert page["human_steps"] == [1]
    first = page["steps"][1]
    assert first["by"] == "human" and first["proposed"].startswith('["Right"')
    assert all(step["by"] is None for step in page["steps"][2:])


def test_a_fork_request_that_is_not_json_is_refused_so_other_sites_cannot_start_one(viewer, replying_run):
    server = viewer(replying_run)
    name = episode_names(replying_run)[0]
    request = urllib.request.Request(server.url + f"api/runs/0/episodes/{name}/fork", method="POST",
                                     data=b'{"step": 1, "agent": "oracle"}', headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 415
    assert not (replying_run / "forks").exists()


def test_a_fork_at_the_step_cap_asks_for_a_higher_one_and_plays_with_it(viewer, random_run, copy_run):
    run = copy_run(random_run)
    server = viewer(run)
    row = next(row for row in get(server, "/api/runs/0/episodes")["rows"] if row["reason"] == "max_steps")
    status, answer = post(server, f"/api/runs/0/episodes/{row['name']}/fork", {"step": row["steps"], "agent": "oracle"})
    assert status == 400 and answer["error"].startswith(f"the step cap is {row['steps']}, so a fork at step")
    status, job = post(server, f"/api/runs/0/episodes/{row['name']}/fork",
                       {"step": row["steps"], "agent": "oracle", "max_steps": row["steps"] + 40})
    job = wait_job(server, job)
    assert job["state"] == "done" and job["replayed"] == row["steps"] and job["result"]["steps"] > row["steps"]
