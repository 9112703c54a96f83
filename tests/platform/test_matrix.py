"""Matrix runs: several agents or models in one run directory, one report, compare between arms, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from simyard.platform.errors import UnknownNameError
from simyard.platform.matrix import ARMS_DIR, MatrixError, cli_arms, read_matrix_file
from simyard.platform.rundir import open_run
from tests.cli.test_bench_cli import ENV, REPO, index_rows, simyard, start
from tests.platform.bench_worlds import MODULE, write_tiny_suite
from tests.platform.busy_server import BusyChatServer


def _write(path, text):
    path.write_text(text)
    return path


def test_matrix_report_has_a_row_per_agent_and_a_column_per_subset(tmp_path):
    suite = write_tiny_suite(tmp_path / "tasks.jsonl", 6, target=2)
    run_file = _write(tmp_path / "run.yaml", f"""
suites: [{suite}]
agents:
  - tiny-counter
  - {{agent: tiny-counter, name: slips, options: {{wrong_on: t001}}}}
""")
    done = simyard("bench", "run", "--matrix", str(run_file), "--import", MODULE, "--out", str(tmp_path / "m"),
                   "--max-steps", "3")
    assert done.returncode == 0, done.stderr
    assert "tiny-counter" in done.stdout and "slips" in done.stdout
    report = json.loads(simyard("bench", "report", str(tmp_path / "m"), "--format", "json").stdout)
    assert report["columns"] == ["tiny/even", "tiny/odd"]
    rows = {arm["arm"]: arm for arm in report["arms"]}
    assert set(rows) == {"tiny-counter", "slips"}
    assert rows["tiny-counter"]["all"]["successes"] == 6
    # t001 is odd: the slipping arm fails it (it says `dec` there), so only its odd column drops, with a wide CI
    assert rows["slips"]["columns"]["tiny/even"]["successes"] == 3
    odd = rows["slips"]["columns"]["tiny/odd"]
    assert (odd["n"], odd["successes"]) == (3, 2) and odd["success_low"] < 0.5 < odd["success_high"]
    table = simyard("bench", "report", str(tmp_path / "m"), "--format", "markdown").stdout
    assert "| slips | tiny-counter | finished | 83.3% [43.6, 97.0] n=6 | 100.0%" in table


def test_a_model_list_makes_one_arm_per_model_and_two_arms_compare(tmp_path):
    suite = write_tiny_suite(tmp_path / "tasks.jsonl", 8, target=1)
    with BusyChatServer(capacity=100, base_s=0.001) as server:
        done = subprocess.run([sys.executable, "-m", "simyard", "bench", "run", str(suite), "--agent", "openai",
                               "--model", "small,large", "--base-url", server.base_url, "--agent-opt", "format=ragen",
                               "--import", MODULE, "--out", str(tmp_path / "m"), "--concurrency", "auto",
                               "--max-concurrency", "4", "-v"], capture_output=True, text=True, cwd=REPO,
                              env={**ENV, "OPENAI_API_KEY": "test-key"}, timeout=300)
    assert done.returncode == 0, done.stderr
    arms = sorted(path.name for path in (tmp_path / "m" / ARMS_DIR).iterdir())
    assert arms == ["openai-large", "openai-small"]
    assert open_run(tmp_path / "m" / ARMS_DIR / "openai-large").manifest.config.agent_options["model"] == "large"
    assert "concurrency -> " in done.stderr  # -v shows the decisions as they are made
    compared = simyard("bench", "compare", str(tmp_path / "m"), "--arms", "openai-small", "openai-large",
                       "--format", "json")
    assert compared.returncode == 0, compared.stderr
    comparison = json.loads(compared.stdout)
    assert comparison["shared"] == 8 and comparison["b"].endswith("openai-large")
    wrong = simyard("bench", "compare", str(tmp_path / "m"), "--arms", "openai-small", "openai-huge")
    assert wrong.returncode == 2 and "no arm named 'openai-huge'" in wrong.stderr and "openai-large" in wrong.stderr
    # The matrix directory where a single run is wanted: one line naming its arms and the way to pick one.
    whole = simyard("bench", "compare", str(tmp_path / "m"), str(tmp_path / "m" / ARMS_DIR / "openai-large"))
    assert whole.returncode == 2 and "Traceback" not in whole.stderr
    assert "is a matrix run (arms: openai-large, openai-small)" in whole.stderr and "--arms" in whole.stderr


def test_an_interrupted_matrix_resumes_each_arm_with_nothing_run_twice(tmp_path):
    suite = write_tiny_suite(tmp_path / "tasks.jsonl", 12, target=1, sleep_s=0.15)
    out = tmp_path / "m"
    process = start("bench", "run", str(suite), "--agent", "tiny-counter", "--agent", "oracle", "--import", MODULE,
                    "--out", str(out))
    second = out / ARMS_DIR / "oracle"
    deadline = time.monotonic() + 60
    while len(index_rows(second)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"simyard bench run --resume {out}" in err
    first_rows = index_rows(out / ARMS_DIR / "tiny-counter")
    assert len(first_rows) == 12 and 2 <= len(index_rows(second)) < 12

    done = simyard("bench", "run", "--resume", str(out))
    assert done.returncode == 0, done.stderr
    assert index_rows(out / ARMS_DIR / "tiny-counter") == first_rows  # the finished arm was left alone
    rows = index_rows(second)
    assert len(rows) == len({row["task_id"] for row in rows}) == 12
    assert open_run(second).manifest.status == "finished"
    again = simyard("bench", "run", "--resume", str(out), "--limit", "3")
    assert again.returncode == 2 and "cannot change a matrix run's options" in again.stderr


def test_a_matrix_file_with_an_unknown_agent_names_it_and_starts_nothing(tmp_path):
    run_file = _write(tmp_path / "run.yaml", "suites: [ragen]\nagents: [random, {agent: gpt-wizard}]\n")
    done = simyard("bench", "run", "--matrix", str(run_file), "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert done.stderr.count("\n") <= 2 and "no agent named 'gpt-wizard'" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "m").exists()


def test_a_malformed_matrix_file_names_the_field(tmp_path):
    run_file = _write(tmp_path / "run.yaml", "suites: [ragen]\nagents: [{agent: random, opts: {}}]\n")
    with pytest.raises(MatrixError, match=r"agents\.0.*opts"):
        read_matrix_file(run_file)
    with pytest.raises(UnknownNameError, match="'nobody'"):
        cli_arms("ragen", ["random", "nobody"], None)


def test_only_the_model_option_splits_on_commas_and_an_escaped_comma_stays():
    arms, _ = cli_arms("ragen", ["openai"], {"model": "a,b", "stop": "x,y"})
    assert [(arm.name, arm.agent_options) for arm in arms] == [
        ("openai-a", {"model": "a", "stop": "x,y"}), ("openai-b", {"model": "b", "stop": "x,y"})]
    arms, options = cli_arms("ragen", ["openai"], {"model": "org/m\\,v2", "stop": "x,y"})
    assert arms is None and options == {"model": "org/m,v2", "stop": "x,y"}
    arms, _ = cli_arms("ragen", ["openai"], {"model": ["org/a", "org/b"]})
    assert [arm.name for arm in arms] == ["openai-org_a", "openai-org_b"]


def test_the_matrix_help_has_an_example():
    done = subprocess.run(["simyard", "bench", "run", "--help"], capture_output=True, text=True)
    assert "--matrix run.yaml" in done.stdout and "--model qwen-0.5b,qwen-7b" in done.stdout
