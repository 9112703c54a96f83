"""Countdown: the exact answer check, RAGEN's rewards, generated instances, the search oracle and random answers."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from simyard.platform.api import Task
from simyard.sims.puzzles._common import OracleGaveUp
from simyard.sims.puzzles.countdown import CountdownEnv, check, countdown_task, generate, solve


def ragen_reward(answer: str, nums: list[int], target: int) -> float:
    """RAGEN's `CountdownEnv.compute_reward` (ragen/env/countdown/env.py), restated as the reference."""
    try:
        written = sorted(int(n) for n in re.findall(r"\d+", answer))
    except ValueError:
        return 0.0
    if written != sorted(nums):
        return 0.0
    try:
        correct = abs(eval(answer, {"__builtins__": None}, {}) - target) < 1e-5  # RAGEN's own check, on our strings
    except Exception:
        correct = False
    return 1.0 if correct else 0.1


def plus_minus_reachable(nums: list[int], target: int) -> bool:
    """Brute force over every sign of every number, as RAGEN's `has_solution` does."""
    return any(
        sum(s * n for s, n in zip(signs, nums, strict=True)) == target
        for signs in itertools.product((1, -1), repeat=len(nums))
    )


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


def test_a_leading_sign_is_ragens_own_answer_form_and_scores_one(env):
    env.reset(given([34, 90, 6], 50))
    result = env.step("- 34 + 90 - 6")
    assert result.reward == 1.0 and result.info["valid"] and result.info["success"]


@pytest.mark.parametrize("answer", ["-(3 - 5) + 2", "3 * -5 + 2", "+3 + 5 - 2", "- - 3 + 5 - 2"])
def test_signs_anywhere_are_arithmetic_as_in_ragen(answer):
    nums, target = [3, 5, 2], 6
    assert check(answer, nums, target).reward == ragen_reward(answer, nums, target)
    assert check(answer, nums, target).valid


def test_division_by_zero_scores_as_a_wrong_value_as_in_ragen(env):
    env.reset(given([8, 3, 3], 8))
    result = env.step("8 / (3 - 3)")
    assert result.reward == pytest.approx(ragen_reward("8 / (3 - 3)", [8, 3, 3], 8)) == pytest.approx(0.1)
    assert not result.info["success"] and "zero" in result.info["feedback"]


@pytest.mark.parametrize(
    "answer",
    [
        "3 + 5 - 2" + " " * 5000,
        "(" * 150 + "3 + 5 - 2" + ")" * 150,
        "((((3)))) + " + "(" * 190 + "5" + ")" * 190 + " - 2",
        "-" * 900 + "3 + 5 - 2",
    ],
)
def test_a_long_but_correct_answer_scores_as_in_ragen(env, answer):
    env.reset(given([3, 5, 2], 6))
    result = env.step(answer)
    assert len(answer) > 300
    assert result.reward == ragen_reward(answer, [3, 5, 2], 6) == 1.0 and result.info["success"]
    assert len(result.observation.text) < 400  # the feedback quotes the answer, shortened


def test_an_answer_nested_too_deeply_for_python_scores_as_in_ragen(env):
    answer = "(" * 250 + "3 + 5 - 2" + ")" * 250  # Python's parser (and so RAGEN's eval) stops at 200 levels
    env.reset(given([3, 5, 2], 6))
    result = env.step(answer)
    assert result.reward == pytest.approx(ragen_reward(answer, [3, 5, 2], 6)) == pytest.approx(0.1)
    assert not result.info["success"]


@pytest.mark.parametrize(
    ("answer", "nums", "target"),
    [
        ("3 + 5 - 2", [3, 5, 2], 6),
        ("3 * 5 - 2", [3, 5, 2], 6),
        ("5 - 3", [3, 5, 2], 2),
        ("5 - 3 + 2 + 9", [3, 5, 2], 13),
        ("(8/3)*3", [8, 3, 3], 8),
        ("98 - (2 / 7)", [98, 2, 7], 98),
        ("", [3, 5, 2], 6),
        ("1" * 5000, [3, 5, 2], 6),
    ],
)
def test_rewards_match_ragens_reward_function(answer, nums, target):
    assert check(answer, nums, target).reward == pytest.approx(ragen_reward(answer, nums, target))


@pytest.mark.parametrize(
    "answer",
    [
        "2 ** 3",
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


def test_generated_instances_pass_ragens_filter_or_need_mul_div_as_asked():
    rng = np.random.default_rng(1)
    for _ in range(40):
        assert plus_minus_reachable(*generate(4, rng))
        nums, target = generate(4, rng, "needs_mul_div")
        assert not plus_minus_reachable(nums, target) and check(solve(nums, target), nums, target).reward == 1.0


@pytest.mark.timeout(60)
def test_the_solver_gives_up_on_twelve_numbers_with_a_clear_message(env):
    env.reset(given([97, 89, 83, 79, 73, 71, 67, 61, 59, 53, 47, 43], 10**12 + 39))  # far out of reach
    with pytest.raises(OracleGaveUp, match="gave up after .* 12 numbers"):
        env.oracle()


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
