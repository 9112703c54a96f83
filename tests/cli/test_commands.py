"""The CLI's newer commands and its defects, in subprocesses the way a person types them.

`agents list|info`, `suites list|info`, `--world-opt`, option checks that refuse nonsense with one line, markup in
user and model text printed literally, the human agent's normal ends, and what `episode replay` says about an
interrupted episode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]


def simyard(*args: str, input_text: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True,
                          env=environment, input=input_text, timeout=300, cwd=REPO)


def one_line_error(done: subprocess.CompletedProcess, *expected: str) -> str:
    """Assert the command failed as a user error: exit 2, one `error: ...` line with every expected piece."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])
    return lines[0]


# --------------------------------------------------------------------------------------------- new commands


@pytest.mark.parametrize("command", [["agents"], ["agents", "list"], ["agents", "info"], ["suites"],
                                     ["suites", "list"], ["suites", "info"]], ids=" ".join)
def test_new_commands_have_help_with_an_example(command):
    done = simyard(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    if len(command) == 2:
        assert "Example" in done.stdout


def test_agents_list_shows_every_builtin_agent_with_its_description():
    from simyard.cli import app

    result = CliRunner().invoke(app, ["agents", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 3}
    for name in ("random", "oracle", "human", "openai"):
        assert "builtin" in rows[name]
    assert "OpenAI-compatible" in rows["openai"]


def test_agents_info_lists_options_with_type_default_and_description():
    done = simyard("agents", "info", "openai")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "│ temperature" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["temperature", "float | str", "0.0", "Sampling temperature."]
    row = next(line for line in done.stdout.splitlines() if "│ model " in line)
    assert "Model name as the server knows it" in row
    assert "--agent-opt" in done.stdout


def test_agents_info_of_the_local_agent_hides_the_worker_scope_the_registry_passes():
    done = simyard("agents", "info", "local")
    assert done.returncode == 0, done.stderr
    assert "│ model " in done.stdout and "resources" not in done.stdout  # not something --agent-opt can set


def test_agents_info_of_an_agent_without_options_says_so():
    done = simyard("agents", "info", "oracle")
    assert done.returncode == 0, done.stderr
    assert "options: none" in done.stdout and "world's own solver" in done.stdout


def test_agents_info_unknown_name_is_a_user_error():
    one_line_error(simyard("agents", "info", "oracel"), "no agent named 'oracel'", "did you mean 'oracle'")


def test_unknown_agent_option_points_to_the_real_agents_info_command():
    line = one_line_error(simyard("episode", "run", "sokoban", "--agent", "oracle", "--agent-opt", "temp=1"))
    assert "`simyard agents info oracle`" in line


def test_suites_list_and_info_count_tasks_worlds_and_subsets():
    from collections import Counter

    from simyard.platform import registry

    tasks = registry.load_suite("ragen")
    listing = simyard("suites", "list")
    assert listing.returncode == 0, listing.stderr
    row = [cell.strip() for cell in next(line for line in listing.stdout.splitlines() if "│ ragen" in line).split("│")]
    assert row[1:5] == ["ragen", "builtin", str(len(tasks)), ", ".join(sorted({task.world for task in tasks}))]
    info = simyard("suites", "info", "ragen")
    assert info.returncode == 0, info.stderr
    assert f"{len(tasks)} tasks" in info.stdout
    cells = {tuple(c.strip() for c in line.split("│")[1:-1]) for line in info.stdout.splitlines() if "│" in line}
    for world, count in Counter(task.world for task in tasks).items():
        assert (world, "(all)", str(count)) in cells
    for (world, subset), count in Counter((task.world, task.subset) for task in tasks).items():
        assert (world, subset, str(count)) in cells
    assert ("frozenlake", "slippery", "100") in cells


def test_suites_info_reads_a_task_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"t{i}", "world": "sokoban", "subset": "odd" if i % 2 else "even"})
                              for i in range(5)))
    done = simyard("suites", "info", str(path))
    assert done.returncode == 0, done.stderr
    assert "5 tasks" in done.stdout and "even" in done.stdout and "odd" in done.stdout


# ------------------------------------------------------------------------------------------- option checks


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["episode", "run", "sokoban", "--agent", "oracle", "--max-steps", "0"], "--max-steps must be a positive"),
        (["episode", "run", "sokoban", "--agent", "oracle", "--max-steps", "-3"], "got -3"),
        (["episode", "run", "sokoban", "--agent", "oracle", "--max-invalid", "0"], "--max-invalid must be"),
        (["episode", "run", "sokoban", "--agent", "oracle", "--time-limit", "0"], "--time-limit must be"),
        (["bench", "run", "ragen", "--agent", "oracle", "--max-steps", "0"], "--max-steps must be"),
        (["bench", "run", "ragen", "--agent", "oracle", "--limit", "0"], "--limit must be"),
        (["bench", "run", "ragen", "--agent", "oracle", "--time-limit", "-1"], "--time-limit must be"),
        (["tasks", "list", "ragen", "--limit", "-1"], "--limit must be a positive whole number, got -1"),
        (["env", "check", "bandit", "--sample", "0"], "--sample must be"),
        (["bench", "compare", ".", ".", "--resamples", "100000000000"], "--resamples must be between 100 and"),
        (["bench", "compare", ".", ".", "--resamples", "5"], "--resamples must be between"),
        (["episode", "run", "sokoban", "--agent", "oracle", "--world-opt", "nokey"], "--world-opt 'nokey' is not"),
    ],
)
def test_bad_values_are_refused_with_one_line(args, expected):
    one_line_error(simyard(*args), expected)


@pytest.mark.parametrize("with_suite", [True, False], ids=["--suite", "any suite"])
def test_a_task_of_another_world_names_its_world(with_suite):
    from simyard.platform import registry

    bandit = next(task.id for task in registry.load_suite("ragen") if task.world == "bandit")
    suite = ["--suite", "ragen"] if with_suite else []
    line = one_line_error(simyard("episode", "run", "sokoban", *suite, "--task", bandit, "--agent", "oracle"),
                          f"task {bandit!r}", "belongs to world 'bandit', not 'sokoban'")
    assert f"simyard episode run bandit --suite ragen --task {bandit}" in line


def test_resume_given_a_file_says_it_is_a_file_and_names_the_directory(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    line = one_line_error(simyard("bench", "run", "--resume", str(run / "run.json")), "is a file, not a run directory")
    assert str(run) in line


def test_resume_with_out_is_refused(tmp_path):
    one_line_error(simyard("bench", "run", "--resume", str(tmp_path), "--out", str(tmp_path / "other")),
                   "--out", "cannot be used with --resume")


def test_report_of_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("")
    one_line_error(simyard("bench", "report", str(path)), "is a file, not a run directory")


def test_tasks_list_limit_shows_exactly_that_many():
    done = simyard("tasks", "list", "ragen", "--world", "bandit", "--limit", "2")
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("│ bandit-") for line in done.stdout.splitlines()) == 2
    assert "2 of 200 tasks" in done.stdout


@pytest.mark.parametrize("command", [["episode", "run"], ["bench", "run"]])
def test_exit_codes_are_documented_in_help(command):
    done = simyard(*command, "--help")
    assert "Exit codes" in done.stdout and "130" in done.stdout and "--strict" in simyard("bench", "run",
                                                                                            "--help").stdout


# ------------------------------------------------------------------------------------------------ markup


def write_tasks(path: Path, *tasks: dict) -> str:
    path.write_text("\n".join(json.dumps(task) for task in tasks) + "\n")
    return str(path)


def test_markup_in_an_instruction_prints_literally(tmp_path):
    suite = write_tasks(tmp_path / "t.jsonl", {"id": "m1", "world": "countdown", "instruction": "say [/red] and [b]",
                                               "config": {"nums": [1, 2], "target": 3}})
    listing = simyard("tasks", "list", suite)
    assert listing.returncode == 0, listing.stderr
    assert "say [/red] and [b]" in listing.stdout
    done = simyard("episode", "run", "countdown", "--suite", suite, "--agent", "oracle", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    assert "say [/red] and [b]" in done.stdout


def test_errors_with_brackets_print_whole(tmp_path):
    suite = write_tasks(tmp_path / "t.jsonl", {"id": "s1", "world": "sokoban", "config": {"size": "6x6"}})
    done = simyard("episode", "run", "sokoban", "--suite", suite, "--agent", "random", "--out", str(tmp_path / "r"))
    assert "Traceback" not in done.stderr
    shown = done.stdout + done.stderr
    # refused when the task is read (a user error, 2) or when the world resets (an errored episode, 1)
    assert done.returncode in (1, 2), shown
    assert "'6x6'" in shown and "[rows, cols]" in shown and "[6, 6]" in shown


def test_the_human_agent_takes_bracket_text_and_quits_with_ctrl_d(tmp_path):
    # countdown takes free text: `[/b]` is an (invalid) answer, never rich markup; end of input is a normal end
    done = simyard("episode", "run", "countdown", "--seed", "1", "--agent", "human", "--out", str(tmp_path / "r"),
                   input_text="[/b]\n")
    assert "MarkupError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "action='[/b]'" in done.stdout
    assert done.returncode == 0, (done.stdout, done.stderr)
    result = json.loads((tmp_path / "r" / "results.jsonl").read_text().splitlines()[0])
    assert result["status"] == "completed" and result["reason"] in ("quit", "terminated", "goal")


def test_the_human_agent_quits_with_colon_q_and_exits_0(tmp_path):
    done = simyard("episode", "run", "frozenlake", "--seed", "1", "--agent", "human", "--out", str(tmp_path / "r"),
                   input_text="1\n:q\n")
    assert done.returncode == 0, (done.stdout, done.stderr)
    result = json.loads((tmp_path / "r" / "results.jsonl").read_text().splitlines()[0])
    assert (result["status"], result["reason"], result["steps"]) == ("completed", "quit", 1)


def test_ctrl_d_raises_episode_quit_in_the_agent():
    from simyard.agents.human import HumanAgent
    from simyard.platform.api import ActionSpec, EpisodeQuit, Observation, Task

    def closed(prompt: str) -> str:
        raise EOFError

    agent = HumanAgent(input_fn=closed, print_fn=lambda text: None)
    agent.reset(Task(id="t", world="w"), ActionSpec(kind="text"))
    with pytest.raises(EpisodeQuit):
        agent.act(Observation("hello [/b]"))


def test_model_replies_with_markup_print_literally_live_and_in_replay(tmp_path):
    from tests.agents.chat_server import ChatServer

    with ChatServer() as chat:
        chat.script("<think>[/think] hmm [bold]</think><answer>Up</answer>")
        done = simyard("episode", "run", "frozenlake", "--seed", "2", "--agent", "openai", "--base-url", chat.base_url,
                       "--model", "tiny", "--api-key-env", "MY_KEY", "--max-steps", "1", "--out", str(tmp_path / "r"),
                       env={"MY_KEY": "sk-local"})
    assert done.returncode == 0, done.stderr
    assert "[/think] hmm [bold]" in done.stdout
    (episode,) = (tmp_path / "r" / "episodes").iterdir()
    replay = simyard("episode", "replay", str(episode))
    assert replay.returncode == 0, replay.stderr
    assert "[/think] hmm [bold]" in replay.stdout and "action='Up'" in replay.stdout


# ------------------------------------------------------------------------------------------------ replay


def test_replay_of_an_episode_killed_before_any_line_says_so(tmp_path):
    done = simyard("episode", "run", "sokoban", "--seed", "3", "--agent", "oracle", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    (episode,) = (tmp_path / "r" / "episodes").iterdir()
    (episode / "trajectory.jsonl").write_text("")  # what a SIGKILL before the first write leaves
    one_line_error(simyard("episode", "replay", str(episode)), "no recorded steps (it was interrupted)")


def test_replay_accepts_the_run_directory_of_one_episode(tmp_path):
    done = simyard("episode", "run", "sokoban", "--seed", "3", "--agent", "oracle", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    replay = simyard("episode", "replay", str(tmp_path / "r"))
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.count("step ") == done.stdout.count("step ")


# --------------------------------------------------------------------------------------------- world options


def test_world_opt_reaches_the_world_in_episode_run(tmp_path):
    done = simyard("episode", "run", "frozenlake", "--seed", "1", "--agent", "oracle", "--world-opt", "nope=1",
                   "--out", str(tmp_path / "r"))
    line = one_line_error(done, "nope")
    assert "frozenlake" in line


def test_world_opt_reaches_every_world_env_check_builds(tmp_path):
    one_line_error(simyard("env", "check", "bandit", "--sample", "1", "--world-opt", "nope=1"), "nope")


def test_check_world_builds_every_world_with_the_options():
    from simyard.testing.conformance import check_world
    from tests.kind_worlds import ChoiceWorld

    built: list[dict] = []

    class Recording(ChoiceWorld):
        def __init__(self, **options):
            built.append(options)
            super().__init__()

    results = check_world(Recording, sample=1, seeds=(0,), gym=False, world_options={"colour": "red"})
    assert built and all(options == {"colour": "red"} for options in built)
    assert len(built) > 5, "the checker builds several worlds; every one must get the options"
    assert [result.name for result in results][0] == "tasks"


def test_world_opt_prefixed_with_the_world_applies_to_it_only(tmp_path):
    done = simyard("episode", "run", "frozenlake", "--seed", "1", "--agent", "oracle", "--world-opt",
                   "frozenlake.tile_px=32", "--world-opt", "sokoban.nope=1", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    one_line_error(simyard("episode", "run", "frozenlake", "--agent", "oracle", "--world-opt", "frozenlake.nope=1",
                           "--out", str(tmp_path / "s")), "nope")
