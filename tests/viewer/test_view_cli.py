"""`simyard view` from a shell: a bad folder is one line before serving; a good one serves until Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "simyard", "view", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    done = start(str(tmp_path), "--no-open")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "is not a run directory (it has no run.json)" in lines[0], err
    assert "Traceback" not in err + out


def test_serves_the_runs_until_interrupted(replying_run):
    process = start(str(replying_run), "--port", "0", "--no-open")
    try:
        url = None
        for line in process.stdout:
            if match := re.search(r"(http://127\.0\.0\.1:\d+/)", line):
                url = match[1]
                break
        assert url, "no URL printed"
        with urllib.request.urlopen(url + "api/runs", timeout=10) as response:
            runs = json.loads(response.read())["runs"]
        assert [run["recorded"] for run in runs] == [6]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"/static/viewer.js" in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "simyard view: stopped" in out


def test_help_shows_an_example():
    done = start("--help")
    out, _ = done.communicate(timeout=60)
    assert done.returncode == 0 and "Example" in out and "simyard view runs/oracle" in out


def test_a_matrix_run_is_listed_arm_by_arm(tmp_path):
    from simyard.platform.matrix import Arm, run_matrix
    from simyard.platform.taskfiles import write_task_file
    from tests.viewer.conftest import sokoban_tasks

    write_task_file(tmp_path / "tasks.jsonl", sokoban_tasks(2))
    arms = [Arm(name=agent, suite=str(tmp_path / "tasks.jsonl"), agent=agent) for agent in ("random", "oracle")]
    run_matrix(arms, tmp_path / "pair", shared={"seed": 7})
    process = start(str(tmp_path / "pair"), "--port", "0", "--no-open")
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.strip())
            if "simyard view: http" in line:
                break
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert lines[:2] == ["run 0: pair/random (2/2 episodes, finished)", "run 1: pair/oracle (2/2 episodes, finished)"]


def test_a_fork_from_the_page_may_hand_over_to_the_parent_runs_plugin_agent(replying_run, tmp_path):
    import shutil
    import time

    run = tmp_path / "replying"
    shutil.copytree(replying_run, run)
    process = start(str(run), "--port", "0", "--no-open")
    try:
        url = next(match[1] for line in process.stdout if (match := re.search(r"(http://127\.0\.0\.1:\d+/)", line)))
        name = sorted(path.name for path in (run / "episodes").iterdir())[0]
        request = urllib.request.Request(url + f"api/runs/0/episodes/{name}/fork", method="POST",
                                         data=json.dumps({"step": 1, "agent": "viewer-replying"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            job = json.loads(response.read())
        deadline = time.monotonic() + 30
        while job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            with urllib.request.urlopen(url + f"api/forks/{job['id']}", timeout=10) as response:
                job = json.loads(response.read())
        assert job["state"] == "done" and job["result"]["success"] and job["result"]["model_calls"] > 0, job
        with urllib.request.urlopen(url + "api/agents", timeout=10) as response:
            assert "viewer-replying" in json.loads(response.read())["agents"]  # imported from the run's run.json
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
