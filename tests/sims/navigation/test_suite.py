"""The `eb-navigation` suite: its shape, the start geometry each subset promises, instructions that say what their
subset says, determinism and fresh draws, the oracle on all 300 tasks and a random agent far below."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from simyard.platform import registry
from simyard.platform.errors import SimyardError
from simyard.sims.navigation import kitchens, starts
from simyard.sims.navigation.space import FreeSpace
from simyard.sims.navigation.world import NavigationEnv
from simyard.tasks.eb_navigation import PER_SUBSET, SUBSETS, USES, eb_navigation_suite, make_task, word


@pytest.fixture(scope="module")
def suite():
    return eb_navigation_suite()


def _scene(task):
    house = kitchens.generate(task.config["scene_seed"])
    for thing_id in task.config["hidden"]:
        del house.things[thing_id]
    return house


def test_the_suite_has_five_subsets_of_sixty_with_eb_navigations_limits(suite):
    assert len(suite) == 300 and len({task.id for task in suite}) == 300
    assert [task.subset for task in suite] == [s for s in SUBSETS for _ in range(PER_SUBSET)]
    assert {(task.world, task.max_steps, task.max_invalid) for task in suite} == {("navigation", 20, None)}


def test_the_registry_loads_the_suite():
    assert len(registry.load_suite("eb-navigation")) == 300


def test_every_start_is_two_and_a_half_to_three_metres_from_the_target(suite):
    distances = [math.dist(task.config["start"][:2], task.config["target_xy"]) for task in suite]
    assert 2.5 <= min(distances) and max(distances) <= 3.0


def test_every_start_is_on_free_floor(suite):
    for task in suite[::7]:
        assert starts.free_start(FreeSpace(_scene(task)), tuple(task.config["start"][:2])), task.id


def test_long_horizon_starts_turned_away_so_the_target_is_out_of_the_field_of_view(suite):
    for task in suite:
        start, target = tuple(task.config["start"]), tuple(task.config["target_xy"])
        off = starts.off_axis_deg(start, target)
        if task.subset == "long_horizon":
            assert off > 50.0 + 45.0, task.id  # out of the 100 degree view by more than half of it
        else:
            assert off <= 45.0, task.id


def test_long_horizon_is_a_base_start_turned_by_180_degrees(suite):
    for task in (t for t in suite if t.subset == "long_horizon"):
        x, y, yaw = task.config["start"]
        assert starts.facing_yaw((x, y), task.config["target_xy"]) == (yaw + 180.0) % 360.0


def test_the_target_is_the_only_thing_of_its_type_in_the_scene(suite):
    for task in suite[::5]:
        house = _scene(task)
        assert [t.id for t in house.of_type(task.config["target_type"])] == [task.config["target_id"]]


def test_base_and_long_horizon_use_eb_navigations_wording(suite):
    for task in (t for t in suite if t.subset in ("base", "long_horizon")):
        assert task.instruction == (
            f"navigate to the {task.config['target_type']} in the room and be as close as possible to it"
        )


def test_common_sense_names_the_target_by_its_use_never_by_its_name(suite):
    for task in (t for t in suite if t.subset == "common_sense"):
        type_ = task.config["target_type"]
        assert any(use in task.instruction for use in USES[type_]), task.id
        for name in {type_.lower(), word(type_)}:
            assert not re.search(rf"\b{name}s?\b", task.instruction.lower()), task.id


def test_visual_appearance_names_colour_and_shape_only_and_they_single_the_target_out(suite):
    from simyard.tasks.eb_navigation import _visible_things

    for task in (t for t in suite if t.subset == "visual_appearance"):
        house = kitchens.generate(task.config["scene_seed"])
        target = house.things[task.config["target_id"]]
        assert target.color in task.instruction and not re.search(rf"\b{word(target.type)}\b", task.instruction)
        looks = [(t.color, t.shape) for t in _visible_things(house)]
        assert looks.count((target.color, target.shape)) == 1, task.id


def test_complex_instructions_are_long_and_name_the_target(suite):
    for task in (t for t in suite if t.subset == "complex_instruction"):
        assert len(task.instruction.split()) >= 30 and task.instruction.count(".") >= 3, task.id


def test_the_suite_is_the_same_on_every_call_and_fresh_seeds_draw_new_ones(suite):
    again = [make_task(t.id, t.subset, [0, SUBSETS.index(t.subset), int(t.id[-2:])]) for t in suite[::50]]
    assert again == suite[::50]
    fresh = eb_navigation_suite(fresh_seed=1)
    assert len(fresh) == 300 and fresh[0].id == "eb-navigation-s1-base-00"
    assert {t.config["scene_seed"] for t in fresh}.isdisjoint({t.config["scene_seed"] for t in suite[:20]})


@pytest.mark.parametrize("bad", [-1, True, "3", 1.5])
def test_a_bad_fresh_seed_is_refused(bad):
    with pytest.raises(SimyardError, match="fresh_seed"):
        eb_navigation_suite(fresh_seed=bad)


def test_fresh_seed_and_data_together_are_refused():
    with pytest.raises(SimyardError, match="give one"):
        eb_navigation_suite(fresh_seed=1, data="somewhere")


def _play(env, task, choose) -> bool:
    env.reset(task)
    steps = 0
    while steps < task.max_steps:
        for action in choose(env):
            result = env.step(action)
            steps += 1
            if result.terminated or result.truncated or not result.info["valid"]:
                break
        if result.terminated or result.truncated:
            break
    return bool(result.info["success"])


def test_the_oracle_solves_every_task_of_the_suite(suite):
    with NavigationEnv(render="none") as env:
        failed = [task.id for task in suite if not _play(env, task, lambda world: world.oracle())]
    assert failed == []


def test_a_random_agent_scores_far_below_the_oracle(suite):
    rng = np.random.default_rng(0)
    with NavigationEnv(render="none") as env:
        wins = sum(_play(env, task, lambda world: [int(rng.integers(8))]) for task in suite)
    assert wins <= 0.1 * len(suite)
