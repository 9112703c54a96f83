"""`simyard bench run remote` as a newcomer types it against `simyard env serve`: a matrix of agents with several
episodes in flight, and more episodes in flight than the server has sessions for."""

from __future__ import annotations

import json

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


def test_more_episodes_in_flight_than_server_sessions_says_why_and_a_resume_finishes(tmp_path):
    run = tmp_path / "run"
    with served("sokoban", max_sessions=2) as running:
        done = simyard("bench", "run", "remote", "--agent", "oracle", "--world-opt", f"url={running.base_url}",
                       *REMOTE, "--concurrency", "4", "--limit", "12", "--out", str(run))
        lost = [row for row in _rows(run) if row["status"] == "infra_error"]
        assert lost and "server busy: 2 of 2 sessions in use" in lost[0]["error"]
        assert "failed on the infrastructure, not by the agent" in done.stderr
        assert f"simyard bench run --resume {run} --concurrency 4" in done.stderr  # with the run's own counts
        assert "server busy" in done.stderr and "Traceback" not in done.stderr
        again = simyard("bench", "run", "--resume", str(run), "--concurrency", "2")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "status finished" in again.stdout and "infrastructure" not in again.stderr
        assert running.pool.open_worlds == 0
