"""Countdown: the exact answer check, RAGEN's rewards, generated instances, the search oracle and random answers."""

from __future__ import annotations

import numpy as np
import pytest

from simyard.platform.api import Task
from simyard.sims.puzzles.countdown import CountdownEnv, check, countdown_task, generate, solve


def given(nums: list[int], target: int) -> Task:
    return Task(id="given", world="countdown", config={"nums": nums, "target": target}, max_steps=1)


@pytest.fixture
def env():
    world = CountdownEnv()
    yield world
    world.close()


def test_observation_shows_target_and_numbers_as_ragen_does(env):
    assert env.reset(given([3, 5, 2], 4)).text.splitlines()[-1] == "Target: 4, nums: [3, 5, 2]"


def test_a_correct_answer_pays_one_and_ends_the_episode(env):
    env.reset(given([3, 5, 2], 4))
    result = env.step("2 + 5 - 3")
    assert result.reward == 1.0 and result.terminated and result.info["success"] and result.info["progress"] == 1.0


def test_fractions_are_exact():
    assert check("(8/3)*3", [8, 3, 3], 8).reward == 1.0
    assert check("8 / (3 - 8 / 3)", [3, 3, 8, 8], 24).reward == 1.0  # 0.333... in floats, exactly 1/3 here


def test_using_exactly_the_numbers_but_missing_the_target_pays_a_tenth(env):
    env.reset(given([3, 5, 2], 4))
    result = env.step("3 * 5 * 2")
    assert result.reward == pytest.approx(0.1) and result.info["valid"] and not result.info["success"]
    assert "30, not 4" in result.info["feedback"]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("5 - 3 + 3", "uses 3 twice but it is given once"),
        ("5 - 3", "does not use 2"),
        ("5 - 3 + 2 + 9", "uses 9, which is not in the list"),
    ],
)
def test_wrong_numbers_are_invalid_and_pay_nothing(env, answer, says):
    env.reset(given([3, 5, 2], 4))
    result = env.step(answer)
    assert result.info["valid"] is False and result.reward == 0.0 and says in result.info["feedback"]


def test_division_by_zero_is_invalid():
    verdict = check("8 / (3 - 3)", [8, 3, 3], 8)
    assert not verdict.valid and verdict.reward == 0.0 and "zero" in verdict.feedback


@pytest.mark.parametrize(
    "answer",
    [
        "2 ** 3",
        "-3 + 5 + 2",
        "3.0 + 5 - 2 * 2",
        "0x3 + 5 - 2",
        "__import__('os').system('true')",
        "abs(3) + 5 - 2",
        "3 + 5 - 2 = 6",
        "3 + 5 -",
        "",
        "(" * 200 + "3" + ")" * 200,
        "3 // 5 + 2",
        "1e3 + 5 + 2",
    ],
)
def test_anything_but_plain_arithmetic_is_refused_without_running_it(answer):
    verdict = check(answer, [3, 5, 2], 6)
    assert not verdict.valid and verdict.reward == 0.0 and verdict.feedback


@pytest.mark.parametrize("action", [None, 6, {"answer": "3 + 5 - 2"}, ["3", "+"]])
def test_a_non_text_action_is_invalid_with_feedback(env, action):
    env.reset(given([3, 5, 2], 6))
    result = env.step(action)
    assert result.info["valid"] is False and "text" in result.info["feedback"] and result.terminated


def test_generated_instances_are_in_range_and_solvable():
    rng = np.random.default_rng(0)
    for count in (3, 4):
        for _ in range(40):
            nums, target = generate(count, rng)
            assert len(nums) == count and all(1 <= n <= 99 for n in nums) and 1 <= target <= 100
            assert check(solve(nums, target), nums, target).reward == 1.0


def test_the_oracle_solves_an_instance_given_outright(env):
    env.reset(given([4, 4, 10, 10], 24))
    assert env.step(env.oracle()).info["success"]


def test_the_oracle_answers_even_without_a_solution_and_the_episode_fails(env):
    env.reset(given([1, 1], 100))
    assert solve([1, 1], 100) is None
    assert not env.step(env.oracle()).info["success"]


def test_random_answers_use_every_number_once_and_rarely_hit(env):
    hits = 0
    rng = np.random.default_rng(0)
    for seed in range(100):
        env.reset(countdown_task("t", 4, seed))
        result = env.step(env.sample_action(rng))
        assert result.info["valid"] or "zero" in result.info["feedback"]
        hits += result.info["success"]
    assert hits < 15


def test_the_same_seed_gives_the_same_instance(env):
    first = env.reset(countdown_task("t", 4, 11)).text
    assert env.reset(countdown_task("t", 4, 11)).text == first
    assert env.reset(countdown_task("t", 4, 12)).text != first
