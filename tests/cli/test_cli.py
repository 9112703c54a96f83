"""The CLI end to end, in subprocesses, the way a person types it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

COMMANDS = [
    [], ["episode"], ["episode", "run"], ["episode", "replay"], ["env"], ["env", "list"], ["env", "info"],
    ["env", "check"], ["tasks"], ["tasks", "list"], ["tasks", "show"], ["bench"], ["bench", "run"],
    ["bench", "report"], ["bench", "compare"],
]


def simyard(*args: str, input_text: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=env,
                          input=input_text, timeout=300, cwd=cwd)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "simyard")
def test_every_command_has_help(command):
    done = simyard(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    if len(command) == 2:
        assert "Example" in done.stdout  # every leaf command shows how to call it


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["episode", "run", "sokobn", "--agent", "oracle"], "no world named 'sokobn'"),
        (["episode", "run", "sokoban", "--agent", "genius"], "no agent named 'genius'"),
        (["tasks", "list", "nosuchsuite"], "no suite named 'nosuchsuite'"),
        (["tasks", "show", "ragen", "no-such-task"], "no task 'no-such-task'"),
        (["episode", "replay", "."], "not"),
        (["episode", "run", "sokoban", "--suite", "ragen", "--index", "100000", "--agent", "oracle"], "out of range"),
        (["episode", "run", "sokoban", "--agent", "random", "--agent-opt", "seed"], "not key=value"),
        (["env", "info", "nope"], "no world named 'nope'"),
        (["episode", "run", "sokoban", "--seed", "notanumber"], "Invalid value"),
    ],
)
def test_wrong_input_gives_one_clear_line_and_exit_code_2(args, expected):
    done = simyard(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_bad_task_file_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "world": "sokoban"}\n{oops}\n')
    done = simyard("tasks", "list", str(bad))
    assert done.returncode == 2 and "bad.jsonl:2" in done.stderr and "Traceback" not in done.stderr


def test_env_list_shows_the_builtin_worlds():
    done = simyard("env", "list")
    assert done.returncode == 0
    for world in ("sokoban", "frozenlake", "bandit", "countdown"):
        assert world in done.stdout


def test_env_info_shows_actions_and_a_first_observation():
    done = simyard("env", "info", "sokoban")
    assert done.returncode == 0, done.stderr
    assert "Up" in done.stdout and "#" in done.stdout


def test_tasks_list_counts_per_world_and_subset():
    done = simyard("tasks", "list", "ragen", "--world", "bandit", "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert "bandit" in done.stdout and "tasks (" in done.stdout


def test_tasks_show_prints_the_task_as_json():
    listing = simyard("tasks", "list", "ragen", "--world", "countdown", "--limit", "1")
    task_id = next(word for line in listing.stdout.splitlines() for word in line.split("│")
                   if word.strip().startswith("countdown")).strip()
    done = simyard("tasks", "show", "ragen", task_id)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == task_id


def test_oracle_episode_prints_steps_and_records_a_replayable_trajectory(tmp_path):
    done = simyard("episode", "run", "sokoban", "--seed", "3", "--agent", "oracle", "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "step 1" in done.stdout and "success" in done.stdout
    episode_dirs = list((tmp_path / "run" / "episodes").iterdir())
    assert len(episode_dirs) == 1
    replay = simyard("episode", "replay", str(episode_dirs[0]))
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.count("step ") == done.stdout.count("step ")


def test_human_types_numbers_and_names_and_typos_cost_no_step(tmp_path):
    # frozenlake's actions are Left, Down, Right, Up; a typo must be answered, not counted.
    done = simyard("episode", "run", "frozenlake", "--seed", "1", "--agent", "human", "--max-steps", "3",
                   "--out", str(tmp_path / "run"), input_text="jump\n1\nleft\n:q\n")
    assert "'jump' is not an action" in done.stdout
    assert "Left" in done.stdout and "Down" in done.stdout
    # The prompt "action> " shares a line with the next output, since the piped input is not echoed.
    assert len(re.findall(r"step \d+  action=", done.stdout)) == 2  # "1" and "left" were steps; "jump" was not
    assert "quit" in done.stdout + done.stderr


def test_human_sees_image_paths_in_worlds_with_images(tmp_path):
    from simyard.agents.human import HumanAgent
    from simyard.platform.episode import Limits, run_episode_with
    from tests.kind_worlds import ChoiceWorld

    shown: list[str] = []
    typed = iter(["nonsense", "0", "1"])
    agent = HumanAgent(frames_dir=tmp_path, input_fn=lambda prompt: next(typed), print_fn=shown.append)
    result = run_episode_with(ChoiceWorld(), agent, ChoiceWorld.sample_task(0), seed=0, limits=Limits(max_steps=2))
    assert result.steps == 2 and result.status == "completed"
    image_lines = [line for line in shown if line.startswith("[image rgb]")]
    assert image_lines and Path(image_lines[0].split("] ", 1)[1]).is_file()
    assert any("'nonsense' is not an action" in line for line in shown)


def test_openai_agent_from_the_cli_with_model_flags(tmp_path):
    """`--base-url`/`--model` reach the agent; a real local server answers through the official client."""
    from tests.agents.chat_server import ChatServer

    with ChatServer() as chat:
        chat.script("<think>the answer is the oracle's</think><answer>Up</answer>")
        env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO), "MY_KEY": "sk-local"}
        done = subprocess.run(
            [sys.executable, "-m", "simyard", "episode", "run", "frozenlake", "--seed", "2", "--agent", "openai",
             "--base-url", chat.base_url, "--model", "tiny", "--api-key-env", "MY_KEY", "--max-steps", "1",
             "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "action='Up'" in done.stdout
    assert chat.calls == 1


def test_env_check_passes_a_builtin_world_and_reports_counts():
    done = simyard("env", "check", "bandit", "--sample", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout
