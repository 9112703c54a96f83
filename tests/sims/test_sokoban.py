"""Sokoban: generated rooms, gym-sokoban's push rules and rewards, bad actions, and the solver behind the oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simyard.agents.baselines import RandomAgent
from simyard.platform.api import Task
from simyard.platform.episode import run_episode_with
from simyard.sims.puzzles.sokoban import ACTIONS, SokobanEnv, sokoban_task
from simyard.sims.puzzles.sokoban_rooms import generate_room
from simyard.sims.puzzles.sokoban_solver import Solver


def grid_task(*rows: str, max_steps: int = 10) -> Task:
    return Task(id="handmade", world="sokoban", config={"grid": list(rows)}, max_steps=max_steps)


def play(env: SokobanEnv, actions: list[str]) -> list:
    return [env.step(action) for action in actions]


@pytest.fixture
def env():
    world = SokobanEnv()
    yield world
    world.close()


@pytest.mark.parametrize(("size", "boxes", "depth"), [((6, 6), 1, 7), ((8, 8), 2, 17), ((10, 10), 3, 27)])
def test_generated_rooms_start_unsolved_and_solvable_within_their_bound(size, boxes, depth):
    for seed in range(30):
        room = generate_room(*size, boxes, depth, np.random.default_rng(seed))
        assert len(room.boxes) == len(room.targets) == boxes
        assert not set(room.boxes) & set(room.targets), "every box starts off the targets, as in gym-sokoban"
        moves = Solver(room.width, room.floor, room.targets).solve(room.player, room.boxes)
        assert moves is not None and len(moves) <= room.solution_bound <= depth + 3


def test_reset_shows_a_feedback_line_and_the_grid(env):
    observation = env.reset(grid_task("######", "#P_XO#", "######"))
    assert observation.text.splitlines()[1:] == ["######", "#P_XO#", "######"]
    assert observation.data["valid_actions"] == list(ACTIONS)
    assert observation.images == {}


def test_pushing_the_last_box_home_pays_ten_and_ends_the_episode(env):
    env.reset(grid_task("######", "#P_XO#", "######"))
    walk, push = play(env, ["Right", "Right"])
    assert walk.reward == pytest.approx(-0.1) and not walk.terminated
    assert push.reward == pytest.approx(-0.1 + 1 + 10)
    assert push.terminated and push.info["success"] and push.info["progress"] == 1.0
    assert push.observation.text.splitlines()[-2] == "#__P√#"


def test_box_on_and_off_targets_are_rewarded_by_count(env):
    env.reset(grid_task("########", "#P√__O_#", "#_____X#", "########"))
    off, along, on = play(env, ["Right", "Right", "Right"])
    assert off.reward == pytest.approx(-0.1 - 1)
    assert along.reward == pytest.approx(-0.1)
    assert on.reward == pytest.approx(-0.1 + 1)
    assert not on.terminated and on.info["progress"] == 0.5


def test_a_box_against_a_wall_does_not_move(env):
    env.reset(grid_task("#####", "#PX##", "#O__#", "#####"))
    before = env.state()
    result = env.step("Right")
    assert result.info["valid"] and not result.info["action_is_effective"]
    assert result.reward == pytest.approx(-0.1)
    assert "wall is behind it" in result.info["feedback"]
    assert {k: v for k, v in env.state().items() if k != "steps"} == {k: v for k, v in before.items() if k != "steps"}


def test_a_box_against_another_box_does_not_move(env):
    env.reset(grid_task("#######", "#PXX_O#", "#____O#", "#######"))
    result = env.step("Right")
    assert not result.info["action_is_effective"] and "another box" in result.info["feedback"]


def test_walking_into_a_wall_is_valid_but_ineffective(env):
    env.reset(grid_task("######", "#P_XO#", "######"))
    result = env.step("Up")
    assert result.info["valid"] and not result.info["action_is_effective"]
    assert env.state()["player"] == [1, 1]


@pytest.mark.parametrize("action", ["right", " RIGHT ", 3, np.int64(3), "3"])
def test_actions_are_accepted_by_id_or_case_insensitive_name(env, action):
    env.reset(grid_task("######", "#P_XO#", "######"))
    assert env.step(action).info["action_is_effective"]


@pytest.mark.parametrize("action", ["Jump", None, 4, -1, 1.0, True, {}, [0], "Up Up"])
def test_a_bad_action_costs_a_step_and_says_what_is_allowed(env, action):
    env.reset(grid_task("######", "#P_XO#", "######"))
    result = env.step(action)
    assert result.info["valid"] is False and not result.terminated
    assert "choose one of Up, Down, Left, Right" in result.info["feedback"]
    assert result.info["feedback"] in result.observation.text
    assert env.state()["steps"] == 1 and env.state()["player"] == [1, 1]


def test_state_is_a_json_snapshot(env):
    env.reset(sokoban_task("t", (8, 8), 2, 5, 20))
    state = json.loads(json.dumps(env.state()))
    assert len(state["boxes"]) == len(state["targets"]) == 2
    assert len(state["grid"]) == 8


def test_render_config_adds_an_rgb_picture(env):
    task = sokoban_task("t", (6, 6), 1, 1, 10).model_copy(update={"config": {"size": [6, 6], "render": True}})
    picture = env.reset(task).images["rgb"]
    assert picture.shape == (96, 96, 3) and picture.dtype == np.uint8
    assert np.array_equal(picture, env.render("rgb"))


def test_oracle_solves_from_a_state_the_agent_walked_to(env):
    env.reset(grid_task("#######", "#_____#", "#_P_X_#", "#O____#", "#######", max_steps=30))
    play(env, ["Left", "Up"])
    plan = env.oracle()
    results = play(env, plan)
    assert results[-1].info["success"] and all(result.info["valid"] for result in results)


def test_oracle_plan_is_reused_while_it_is_followed(env, monkeypatch):
    env.reset(sokoban_task("t", (8, 8), 2, 3, 20))
    plan = env.oracle()
    calls = []
    monkeypatch.setattr(Solver, "solve", lambda *args: calls.append(args))
    env.step(plan[0])
    assert env.oracle() == plan[1:]
    assert not calls


def test_oracle_still_answers_with_a_move_when_a_box_is_cornered(env):
    env.reset(grid_task("######", "#X__P#", "#___O#", "######"))
    assert env.oracle() in ACTIONS


def test_random_agent_rarely_solves_a_room():
    env = SokobanEnv()
    solved = sum(
        run_episode_with(env, RandomAgent(seed=1), SokobanEnv.sample_task(seed), seed=0).success for seed in range(50)
    )
    assert solved < 15, f"random play solved {solved} of 50 rooms"


@pytest.mark.parametrize("config", [{"size": [2, 9]}, {"size": "big"}, {"boxes": 0}, {"grid": ["#P_XO#"]}])
def test_a_bad_task_config_is_reported_at_reset(env, config):
    from simyard.platform.errors import TaskFileError

    with pytest.raises(TaskFileError):
        env.reset(Task(id="bad", world="sokoban", config=config))


def open_room(side: int, boxes: list[tuple[int, int]], targets: list[tuple[int, int]], player: tuple[int, int]):
    """A `side` x `side` room, walls only round the edge, as rows of RAGEN's symbols."""
    marks = {**{cell: "X" for cell in boxes}, **{cell: "O" for cell in targets}, player: "P"}
    return [
        "".join(
            "#" if row in (0, side - 1) or col in (0, side - 1) else marks.get((row, col), "_") for col in range(side)
        )
        for row in range(side)
    ]


@pytest.mark.timeout(60)
def test_oracle_on_a_200x200_room_from_a_task_file_gives_up_with_a_clear_message(env):
    from simyard.sims.puzzles._common import OracleGaveUp

    rows = open_room(200, [(50, 50), (100, 100), (150, 150)], [(60, 170), (120, 30), (170, 100)], (10, 10))
    env.reset(Task(id="huge", world="sokoban", config={"grid": rows}, max_steps=100_000))
    with pytest.raises(OracleGaveUp, match="sokoban solver gave up after visiting"):
        env.oracle()


@pytest.mark.timeout(60)
def test_oracle_still_solves_an_easy_200x200_room(env):
    rows = open_room(200, [(100, 100)], [(100, 150)], (10, 10))
    env.reset(Task(id="huge", world="sokoban", config={"grid": rows}, max_steps=100_000))
    results = play(env, env.oracle())
    assert results[-1].info["success"]
