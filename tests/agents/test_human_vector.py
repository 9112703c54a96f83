"""A person plays a vector world (EB-Manipulation's seven integers) by typing numbers, with or without brackets."""

from __future__ import annotations

from simyard.agents.human import HumanAgent
from simyard.platform.api import ActionSpec, Observation, Task

SPEC = ActionSpec(kind="vector", size=7, integer=True, low=(0,) * 7, high=(99, 99, 99, 119, 119, 119, 1))


def _agent(lines: list[str], shown: list[str], tmp_path) -> HumanAgent:
    feed = iter(lines)
    agent = HumanAgent(frames_dir=tmp_path, input_fn=lambda prompt: next(feed), print_fn=shown.append)
    agent.reset(Task(id="t", world="manipulation", instruction="pick the cube"), SPEC)
    return agent


def test_seven_integers_typed_in_brackets_with_commas_are_one_action(tmp_path):
    agent = _agent(["[45, 13, 18, 60, 60, 60, 1]"], [], tmp_path)
    assert agent.act(Observation(text="objects")) == [45, 13, 18, 60, 60, 60, 1]


def test_a_typo_shows_an_example_inside_the_bounds_and_asks_again(tmp_path):
    shown: list[str] = []
    agent = _agent(["45 13 x", "45 13 18 60 60 60 0"], shown, tmp_path)
    assert agent.act(Observation(text="objects")) == [45, 13, 18, 60, 60, 60, 0]
    assert any("e.g. 0 0 0 0 0 0 0" in line for line in shown)


def test_a_wrong_count_of_numbers_is_asked_again_without_spending_a_step(tmp_path):
    shown: list[str] = []
    agent = _agent(["1 2", "1 2 3 4 5 6 1"], shown, tmp_path)
    assert agent.act(Observation(text="objects")) == [1, 2, 3, 4, 5, 6, 1]
    assert any("that is 2 numbers; type 7" in line for line in shown)
