"""Taking over a model's episode, driven through a pseudo-terminal as a person at a keyboard would.

`slowpoke` (tests/fork/plugin_worlds.py) stands in for a model: it thinks 0.4 s and proposes the first valid move
(`Up` in Sokoban seed 3), so Ctrl-C lands before its next action. Everything else is the real CLI in a real pty,
with readline editing the prefilled proposal.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")  # in the dev extra

REPO = Path(__file__).resolve().parents[2]
PLUGIN = str(Path(__file__).with_name("plugin_worlds.py"))
CLEAR_LINE = "\x15"  # readline's Ctrl-U: drop the prefilled proposal


def start(out: Path, max_steps: int = 6):
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "PYTHONPATH": str(REPO)}
    return pexpect.spawn(sys.executable, ["-m", "simyard", "episode", "run", "sokoban", "--seed", "3", "--agent",
                                          "slowpoke", "--import", PLUGIN, "--max-steps", str(max_steps),
                                          "--out", str(out)],
                         encoding="utf-8", timeout=60, env=env, cwd=str(out.parent), dimensions=(50, 200))


def trajectory(out: Path) -> list[dict]:
    (episode,) = (out / "episodes").iterdir()
    return [json.loads(line) for line in (episode / "trajectory.jsonl").read_text().splitlines() if line.strip()]


def test_ctrl_c_pauses_the_model_and_the_person_plays_edits_and_hands_back(tmp_path):
    out = tmp_path / "run"
    child = start(out)
    child.expect("step 1 ")
    child.sendintr()
    child.expect("pausing before the next action")
    child.expect("model proposes: Up")
    child.expect("action> ")
    child.send(CLEAR_LINE + "Down\r")  # the person's own move instead of the model's
    child.expect("step 2  action='Down'")
    child.expect("action> ")
    child.send("\r")  # the proposal as shown: the model's own step
    child.expect("step 3  action='Up'")
    child.expect("action> ")
    child.send(":c\r")  # typed after the prefilled proposal: still the command
    child.expect("control handed back")
    child.expect("steps you chose: 1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    steps = [line for line in trajectory(out) if line["type"] == "step"]
    assert [step["action"] for step in steps] == ["Up", "Down", "Up", "Up", "Up", "Up"]
    assert [step.get("by") for step in steps] == [None, "human", None, None, None, None]
    assert steps[1]["info"]["agent"]["proposed"] == ["Up"]
    assert trajectory(out)[-1]["result"]["reason"] == "max_steps"
    from typer.testing import CliRunner

    from simyard.cli import app

    replayed = CliRunner().invoke(app, ["episode", "replay", str(out)], env={"COLUMNS": "200"}).output
    marks = [line.endswith("by human") for line in replayed.splitlines() if line.startswith("step ")]
    assert marks == [False, True, False, False, False, False]


def test_enter_while_the_model_plays_pauses_it_too(tmp_path):
    out = tmp_path / "run"
    child = start(out)
    child.expect("step 1 ")
    child.send("\r")
    child.expect("model proposes: Up")
    child.expect("action> ")
    child.send(CLEAR_LINE + "Left\r")
    child.expect("action='Left'")
    child.expect("action> ")
    child.send(CLEAR_LINE + ":q\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    lines = trajectory(out)
    assert lines[-1]["result"]["reason"] == "quit"
    assert [line.get("by") for line in lines if line["type"] == "step"][-1] == "human"


def test_a_second_ctrl_c_quits_and_the_episode_is_recorded_to_its_end(tmp_path):
    out = tmp_path / "run"
    child = start(out, max_steps=10)
    child.expect("step 2 ")
    child.sendintr()
    child.expect("action> ")
    # CPython's readline loop checks signals only when its select() is interrupted, so a Ctrl-C that lands between
    # the prompt being drawn and that select() waits for the next key; a person would press it again, and so do we.
    for _ in range(10):
        child.sendintr()
        if child.expect(["recorded in", pexpect.TIMEOUT], timeout=2) == 0:
            break
    else:
        pytest.fail("Ctrl-C at the prompt did not end the episode")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    lines = trajectory(out)
    end = lines[-1]
    assert end["type"] == "end" and end["result"]["reason"] == "quit" and end["result"]["status"] == "completed"
    assert end["result"]["steps"] == len([line for line in lines if line["type"] == "step"]) >= 2
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished"


def test_taking_over_the_openai_agent_keeps_its_model_call_with_the_human_step(tmp_path):
    """The async path: the model is the openai agent talking over HTTP to a local server that answers in 0.4 s."""
    from tests.agents.chat_server import ChatServer, Reply

    out = tmp_path / "run"
    with ChatServer(default=Reply(content="<answer>Up</answer>", delay_s=0.4, completion_tokens=7)) as server:
        env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "PYTHONPATH": str(REPO), "OPENAI_API_KEY": "test"}
        child = pexpect.spawn(sys.executable, ["-m", "simyard", "episode", "run", "sokoban", "--seed", "3",
                                               "--agent", "openai", "--base-url", server.base_url, "--model", "m",
                                               "--max-steps", "3", "--out", str(out)],
                              encoding="utf-8", timeout=60, env=env, cwd=str(tmp_path), dimensions=(50, 200))
        child.expect("step 1 ")
        child.sendintr()
        child.expect("model proposes: Up")
        child.expect("action> ")
        child.send(CLEAR_LINE + "Down\r")
        child.expect("action='Down'")
        child.expect("action> ")
        child.send(CLEAR_LINE + ":c\r")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    steps = [line for line in trajectory(out) if line["type"] == "step"]
    assert [(step["action"], step.get("by")) for step in steps] == [("Up", None), ("Down", "human"), ("Up", None)]
    assert steps[1]["calls"][0]["completion_tokens"] == 7, "the model's call is still accounted to its turn"
