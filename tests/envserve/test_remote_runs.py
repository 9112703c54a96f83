"""`simyard bench run remote` as a newcomer types it against `simyard env serve`: a matrix of agents with several
episodes in flight, and more episodes in flight than the server has sessions for."""

from __future__ import annotations

import json
import threading
import time

from tests.cli.test_cli import simyard
from tests.envserve.conftest import served

REMOTE = ["--suite-opt", "suite=ragen", "--suite-opt", "world=sokoban"]


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]


def test_a_matrix_with_several_episodes_in_flight_plays_every_task_and_closes_every_session(tmp_path):
    with served("sokoban", max_sessions=4) as running:
        done = simyard("bench", "run", "remote", "--agent", "oracle", "--agent", "random", "--world-opt",
                       f"url={running.base_url}", *REMOTE, "--concurrency", "2", "--workers", "2", "--limit", "8",
                       "--out", str(tmp_path / "grid"))
        assert done.returncode == 0, done.stdout + done.stderr
        oracle, random = _rows(tmp_path / "grid" / "arms" / "oracle"), _rows(tmp_path / "grid" / "arms" / "random")
        assert len(oracle) == len(random) == 8
        assert all(row["status"] == "completed" and row["success"] for row in oracle)
        assert {row["task_id"] for row in oracle} == {row["task_id"] for row in random}  # the arms pair up
        assert "│ oracle │" in done.stdout and "│ random │" in done.stdout  # the report: a row per arm
        assert running.pool.open_worlds == 0 and not running.pool.sessions


def test_more_episodes_in_flight_than_server_sessions_wait_for_a_free_one_and_all_complete(tmp_path):
    run = tmp_path / "run"
    with served("sokoban", max_sessions=2) as running:
        done = simyard("bench", "run", "remote", "--agent", "oracle", "--world-opt", f"url={running.base_url}",
                       *REMOTE, "--concurrency", "4", "--limit", "12", "--out", str(run))
        assert done.returncode == 0, done.stdout + done.stderr
        rows = _rows(run)
        assert len(rows) == 12 and all(row["status"] == "completed" and row["success"] for row in rows)
        assert "status finished" in done.stdout and "infrastructure" not in done.stderr
        assert running.pool.open_worlds == 0


def test_a_server_without_free_sessions_past_the_wait_says_why_and_a_resume_finishes(tmp_path):
    from simyard.platform.api import Task
    from simyard.sims.remote import RemoteEnv

    run = tmp_path / "run"
    with served("sokoban", max_sessions=1) as running:
        holder = RemoteEnv(running.base_url)
        try:
            holder.reset(Task(id="remote-1", world="remote", config={"task_seed": 1}), seed=1)  # the only session
            done = simyard("bench", "run", "remote", "--agent", "oracle", "--world-opt", f"url={running.base_url}",
                           "--world-opt", "slot_wait_s=0", *REMOTE, "--concurrency", "2", "--limit", "2", "--out",
                           str(run))
        finally:
            holder.close()
        lost = [row for row in _rows(run) if row["status"] == "infra_error"]
        assert len(lost) == 2 and "server busy: 1 of 1 sessions in use" in lost[0]["error"]
        assert "failed on the infrastructure, not by the agent" in done.stderr
        assert f"simyard bench run --resume {run} --concurrency 2" in done.stderr  # with the run's own counts
        assert "Traceback" not in done.stderr
        again = simyard("bench", "run", "--resume", str(run), "--concurrency", "2")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "status finished" in again.stdout and "infrastructure" not in again.stderr
        assert running.pool.open_worlds == 0


def test_a_reset_waits_for_a_session_to_free_and_reports_the_refusals_as_throttling():
    from simyard.platform.adaptive import SIGNALS
    from simyard.platform.api import Task
    from simyard.sims.remote import RemoteEnv

    task = Task(id="remote-1", world="remote", config={"task_seed": 1})
    with served("sokoban", max_sessions=1) as running:
        first, second = RemoteEnv(running.base_url), RemoteEnv(running.base_url, slot_wait_s=20)
        try:
            first.reset(task, seed=1)  # holds the only session
            SIGNALS.take()
            timer = threading.Timer(0.6, first.close)
            timer.start()
            started = time.monotonic()
            observation = second.reset(task, seed=1)
            waited = time.monotonic() - started
            timer.join()
            assert 0.5 < waited < 10 and observation.text
            assert SIGNALS.take()[1] >= 1  # `--concurrency auto` heard the server was full
        finally:
            first.close()
            second.close()
