"""What `simyard bench run` exits with when episodes error, and how --world-opt reaches run_bench."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.platform.bench_worlds import MODULE, write_tiny_suite

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}


def simyard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=ENV,
                          timeout=300, cwd=REPO)


def test_every_episode_errored_exits_1_naming_the_most_common_error(tmp_path):
    suite = str(write_tiny_suite(tmp_path / "broken.jsonl", 4, fail_reset=True))
    done = simyard("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--out", str(tmp_path / "r"))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert "every episode ended in an error" in line
    assert "world refuses to start" in line and "(4 episodes)" in line
    assert "4 episodes run" in done.stdout  # the table and the summary still print


def test_one_errored_episode_passes_unless_strict(tmp_path):
    suite = str(write_tiny_suite(tmp_path / "tiny.jsonl", 4))
    args = ["bench", "run", suite, "--agent", "tiny-counter", "--agent-opt", "crash_on=t001", "--import", MODULE]
    lenient = simyard(*args, "--out", str(tmp_path / "a"))
    assert lenient.returncode == 0, lenient.stderr
    assert "error: " not in lenient.stderr
    strict = simyard(*args, "--strict", "--out", str(tmp_path / "b"))
    assert strict.returncode == 1, (strict.stdout, strict.stderr)
    (line,) = [line for line in strict.stderr.splitlines() if line.startswith("error: ")]
    assert "1 of 4 episodes ended in an error" in line and "agent bug on t001" in line


def test_world_opt_reaches_run_bench_and_unknown_options_are_a_user_error(tmp_path):
    done = simyard("bench", "run", "ragen", "--agent", "oracle", "--limit", "1", "--world-opt", "nope=1",
                   "--out", str(tmp_path / "r"))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "nope" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
