"""FrozenLake: generated maps, holes and the goal, seeded slipping, bad actions, the oracle, and step speed."""

from __future__ import annotations

import numpy as np
import pytest

from simyard.platform.api import Task
from simyard.platform.errors import TaskFileError
from simyard.sims.puzzles.frozenlake import ACTIONS, FrozenLakeEnv, frozenlake_task

#: S at the top left, a hole to its right, the goal beyond it.
SMALL_MAP = ["SHG", "FFF", "FFF"]


def map_task(rows: list[str], slip: float = 0.0, max_steps: int = 10) -> Task:
    return Task(id="handmade", world="frozenlake", config={"map": rows, "slip": slip}, max_steps=max_steps)


@pytest.fixture
def env():
    world = FrozenLakeEnv()
    yield world
    world.close()


def positions(env: FrozenLakeEnv, task: Task, seed: int, actions: list[str]) -> list[list[int]]:
    env.reset(task, seed)
    seen = []
    for action in actions:
        result = env.step(action)
        seen.append(env.state()["player"])
        if result.terminated:
            env.reset(task, seed)
    return seen


def test_generated_maps_have_a_path_within_the_budget(env):
    for seed in range(50):
        env.reset(frozenlake_task("t", 4, 0.8, 0.0, seed, 10))
        plan_length = 0
        while not env.state()["done"]:
            env.step(env.oracle())
            plan_length += 1
        assert env.state()["player"] == env.state()["goal"] and plan_length <= 10


def test_reset_shows_ragen_symbols(env):
    observation = env.reset(map_task(SMALL_MAP))
    assert observation.text.splitlines()[1:] == ["POG", "___", "___"]
    assert observation.data["valid_actions"] == list(ACTIONS)


def test_falling_into_a_hole_ends_the_episode_with_nothing(env):
    env.reset(map_task(SMALL_MAP))
    result = env.step("Right")
    assert result.terminated and result.reward == 0.0
    assert not result.info["success"] and result.info["progress"] == 0.0
    assert "hole" in result.info["feedback"] and "X" in result.observation.text


def test_reaching_the_goal_pays_one(env):
    env.reset(map_task(SMALL_MAP))
    results = [env.step(action) for action in ["Down", "Right", "Right", "Up"]]
    assert [result.reward for result in results] == [0.0, 0.0, 0.0, 1.0]
    assert results[-1].terminated and results[-1].info["success"] and results[-1].info["progress"] == 1.0
    assert results[-1].observation.text.splitlines()[1] == "_O√"


def test_moving_off_the_edge_stays_in_place(env):
    env.reset(map_task(SMALL_MAP))
    result = env.step("Up")
    assert result.info["valid"] and not result.info["action_is_effective"]
    assert "edge" in result.info["feedback"] and env.state()["player"] == [0, 0]


@pytest.mark.parametrize("action", ["Jump", None, 4, 2.0, {}, "left right"])
def test_a_bad_action_costs_a_step_and_says_what_is_allowed(env, action):
    env.reset(map_task(SMALL_MAP))
    result = env.step(action)
    assert result.info["valid"] is False and not result.terminated
    assert "choose one of Left, Down, Right, Up" in result.info["feedback"]
    assert env.state()["steps"] == 1 and env.state()["player"] == [0, 0]


def test_slipping_is_the_same_for_the_same_seed():
    task = map_task(["SFFFF", "FFFFF", "FFFFF", "FFFFF", "FFFFG"], slip=0.5, max_steps=60)
    moves = ["Right", "Down"] * 30
    first = positions(FrozenLakeEnv(), task, 7, moves)
    assert first == positions(FrozenLakeEnv(), task, 7, moves)
    assert first != positions(FrozenLakeEnv(), task, 8, moves)


def test_slipping_happens_at_the_configured_rate(env):
    task = map_task(["SFFFF", "FFFFF", "FFFFF", "FFFFF", "FFFFG"], slip=0.2)
    slips = 0
    for seed in range(400):
        env.reset(task, seed)
        slips += "slipped" in env.step("Right").info["feedback"]
    assert 0.14 < slips / 400 < 0.26


def test_without_slip_moves_always_go_where_chosen(env):
    env.reset(frozenlake_task("t", 6, 1.0, 0.0, 3, 20), seed=5)
    rng = np.random.default_rng(0)
    for _ in range(30):
        assert "slipped" not in env.step(ACTIONS[int(rng.integers(4))]).info["feedback"]
        if env.state()["done"]:
            break


def test_oracle_goes_around_holes(env):
    env.reset(map_task(SMALL_MAP))
    moves = []
    while not env.state()["done"]:
        moves.append(env.oracle())
        env.step(moves[-1])
    assert moves == ["Down", "Right", "Right", "Up"]


def test_slippery_oracle_trades_speed_for_safety(env):
    # Right is the shortest way but may slide Down into a hole; Up can only slip sideways along the edge: slower,
    # never fatal. Deterministic, the oracle takes the short way.
    rows = ["SFFG", "HHFF", "FFFF", "FFFF"]
    env.reset(map_task(rows, slip=0.5, max_steps=20))
    assert env.oracle() == "Up"
    env.reset(map_task(rows, slip=0.0, max_steps=20))
    assert env.oracle() == "Right"


@pytest.mark.parametrize("config", [{"map": ["SF", "FH", "FG"]}, {"map": ["SH", "HG"]}, {"slip": 2}, {"size": 1}])
def test_a_bad_task_config_is_reported_at_reset(env, config):
    with pytest.raises(TaskFileError):
        env.reset(Task(id="bad", world="frozenlake", config=config))
