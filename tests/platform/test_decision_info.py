"""An agent's notes on how it decided (a prompt cut to the context, frames dropped) reach the step a reader sees."""

from __future__ import annotations

from simyard.platform.api import Agent, Decision
from simyard.platform.episode import run_episode_with
from simyard.platform.trajectory import EpisodeWriter, read_trajectory
from tests.platform.bench_worlds import TinyWorld, tiny_tasks


class _NotingAgent(Agent):
    """Plans `inc, inc` with a note each turn; the first turn's reply is unusable."""

    def __init__(self) -> None:
        self.turn = 0

    def act(self, observation):
        self.turn += 1
        note = {"prompt_truncated": {"history_steps_dropped": self.turn}}
        if self.turn == 1:
            return Decision(error="no JSON in the reply", info=note)
        return Decision(actions=["inc", "inc"], info=note)


def test_a_decisions_notes_go_on_the_first_step_of_its_turn_under_agent(tmp_path):
    task = tiny_tasks(1)[0].model_copy(update={"config": {"target": 3}})
    with EpisodeWriter(tmp_path / "episode", frames="none") as recorder:
        result = run_episode_with(TinyWorld(), _NotingAgent(), task, recorder=recorder)
    steps = [line for line in read_trajectory(tmp_path / "episode") if line["type"] == "step"]
    notes = [step["info"].get("agent") for step in steps]
    # turn 1: an invalid reply (its own step); turn 2: a plan of two steps, the note on the first only
    assert notes[:3] == [{"prompt_truncated": {"history_steps_dropped": 1}},
                         {"prompt_truncated": {"history_steps_dropped": 2}}, None]
    assert result.status == "completed"


def test_a_decision_whose_info_is_not_a_dict_is_the_agents_error():
    class Bad(Agent):
        def act(self, observation):
            return Decision(actions=["inc"], info=["not", "a", "dict"])  # type: ignore[arg-type]

    result = run_episode_with(TinyWorld(), Bad(), tiny_tasks(1)[0])
    assert result.status == "agent_error" and "info is a list" in result.error
