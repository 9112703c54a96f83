"""The `eb-manipulation` suite: its shape, its seeds, and the oracle solving it under physics."""

from __future__ import annotations

from collections import Counter

import pytest

from simyard.agents.baselines import OracleAgent
from simyard.platform import registry
from simyard.platform.episode import run_episode_with
from simyard.sims.manipulation.taskconfig import ManipulationConfig
from simyard.sims.manipulation.world import ManipulationEnv
from simyard.tasks.eb_manipulation import PER_VARIATION, eb_manipulation_suite, sample_task
from simyard.testing.conformance import all_passed, check_world


def _solved(tasks) -> int:
    env = ManipulationEnv(render="none")
    try:
        return sum(run_episode_with(env, OracleAgent(), task, 0).success for task in tasks)
    finally:
        env.close()


def test_the_suite_has_ebs_subsets_and_sizes():
    tasks = registry.load_suite("eb-manipulation")
    assert len(tasks) == 228 and len({task.id for task in tasks}) == 228
    assert Counter(task.subset for task in tasks) == {
        "base": 48, "common_sense": 48, "complex": 48, "spatial": 48, "visual": 36,
    }  # fmt: skip
    assert all(task.max_steps == 15 and task.max_invalid is None for task in tasks)
    families = Counter((task.subset, task.config["family"]) for task in tasks)
    assert all(count == PER_VARIATION for count in families.values())


def test_every_task_config_is_valid():
    for task in eb_manipulation_suite():
        ManipulationConfig.model_validate(task.config)


def test_the_suite_is_the_same_every_time_and_fresh_seeds_draw_new_ones():
    assert eb_manipulation_suite() == eb_manipulation_suite()
    fresh = eb_manipulation_suite(fresh_seed=5)
    assert fresh[0].id == "eb-manipulation-s5-base-00" and fresh[0].config != eb_manipulation_suite()[0].config
    assert fresh == eb_manipulation_suite(fresh_seed=5)


def test_spatial_instructions_name_positions_and_visual_ones_name_colours():
    tasks = eb_manipulation_suite()
    spatial = [t.instruction for t in tasks if t.subset == "spatial"]
    assert all(any(word in text for word in ("left", "right", "closest", "farthest")) for text in spatial)
    visual = [t for t in tasks if t.subset == "visual" and t.config["family"] == "pick_cube"]
    assert all("object" in t.instruction for t in visual)


def test_sample_task_gives_a_manipulation_task_per_seed():
    assert sample_task(3).world == "manipulation" and sample_task(3) == sample_task(3)
    assert sample_task(3).id != sample_task(4).id


def test_the_oracle_solves_a_sample_of_every_variation():
    tasks = eb_manipulation_suite()
    sample = [task for number, task in enumerate(tasks) if number % PER_VARIATION in (0, 7)]
    assert len(sample) == 38
    assert _solved(sample) >= len(sample) - 1  # physics may fail one grasp; the full run below counts them all


@pytest.mark.slow
def test_the_oracle_solves_at_least_95_percent_of_the_suite():
    tasks = eb_manipulation_suite()
    assert _solved(tasks) >= 0.95 * len(tasks)


def test_the_world_passes_the_conformance_checks_without_pictures():
    results = check_world("manipulation", sample=2, seeds=(0,), steps=6, world_options={"render": "none"})
    assert all_passed(results), [r for r in results if not r.passed]
