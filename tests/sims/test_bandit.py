"""Bandit: RAGEN's name pairs and payouts, seeded arm order, success by expected reward, bad answers."""

from __future__ import annotations

import pytest

from simyard.platform.api import Task
from simyard.sims.puzzles.bandit import ARM_PAIRS, BanditEnv, bandit_task


def pair_task(low: str = "Teacher", high: str = "Trader", **config) -> Task:
    return Task(id="pair", world="bandit", config={"pair": [low, high], "seed": 3, **config}, max_steps=1)


@pytest.fixture
def env():
    world = BanditEnv()
    yield world
    world.close()


def test_arm_order_is_random_per_seed_and_repeatable(env):
    orders = {seed: tuple(env.reset(pair_task(), seed).data["valid_actions"]) for seed in range(20)}
    assert set(orders.values()) == {("Teacher", "Trader"), ("Trader", "Teacher")}
    assert all(tuple(env.reset(pair_task(), seed).data["valid_actions"]) == orders[seed] for seed in orders)


def test_the_low_risk_arm_pays_the_papers_constant(env):
    env.reset(pair_task())
    result = env.step("teacher")
    assert result.reward == 0.15 and result.terminated
    assert result.observation.text.startswith("Teacher: 0.15 points")


def test_the_high_risk_arm_pays_one_a_quarter_of_the_time(env):
    rewards = []
    for seed in range(400):
        env.reset(pair_task(), seed)
        rewards.append(env.step("Trader").reward)
    assert set(rewards) == {0.0, 1.0}
    assert 0.19 < sum(rewards) / len(rewards) < 0.31


def test_success_means_the_arm_with_the_higher_expected_reward_whatever_it_paid(env):
    for seed in range(20):
        env.reset(pair_task(), seed)
        high = env.step("Trader")
        assert high.info["success"] and high.info["progress"] == 1.0
        env.reset(pair_task(), seed)
        low = env.step("Teacher")
        assert not low.info["success"] and low.info["progress"] == 0.0


def test_a_richer_low_arm_flips_success_and_the_oracle(env):
    env.reset(pair_task(low_reward=0.3))
    assert env.oracle() == "Teacher"
    assert env.step(env.oracle()).info["success"]


def test_the_oracle_pulls_the_high_risk_arm_with_ragens_numbers(env):
    for low, high in ARM_PAIRS["test"]:
        env.reset(pair_task(low, high))
        assert env.oracle() == high


@pytest.mark.parametrize("action", ["Dragon", None, 2, 0.5, {}, "Teacher Trader"])
def test_an_answer_naming_no_arm_is_invalid_ends_the_episode_and_lists_the_arms(env, action):
    env.reset(pair_task())
    result = env.step(action)
    assert result.info["valid"] is False and result.reward == 0.0 and result.terminated
    assert "Teacher" in result.info["feedback"] and "Trader" in result.info["feedback"]
    assert env.state()["pulled"] is None


def test_arms_are_chosen_by_id_in_the_order_shown(env):
    shown = env.reset(pair_task(), 1).data["valid_actions"]
    assert env.step(1).observation.text.startswith(f"{shown[1]}:")


def test_a_second_pull_is_refused(env):
    env.reset(pair_task())
    env.step("Trader")
    again = env.step("Teacher")
    assert again.info["valid"] is False and again.info["success"]


def test_instruction_names_the_arms_alphabetically_so_it_reveals_nothing():
    assert "named Teacher and Trader" in bandit_task("t", ("Teacher", "Trader"), 0).instruction
    assert "named Explorer and Receptionist" in bandit_task("t", ("Receptionist", "Explorer"), 0).instruction


def test_held_out_names_are_disjoint_from_training_names():
    train = {name for pair in ARM_PAIRS["train"] for name in pair}
    test = {name for pair in ARM_PAIRS["test"] for name in pair}
    assert not train & test and len(ARM_PAIRS["train"]) == 12 and len(ARM_PAIRS["test"]) == 8


def test_a_task_without_a_pair_draws_one_from_its_split(env):
    names = env.reset(Task(id="t", world="bandit", config={"split": "test", "seed": 4}, max_steps=1)).data
    assert tuple(sorted(names["valid_actions"])) in {tuple(sorted(pair)) for pair in ARM_PAIRS["test"]}
