"""The `eb-alfred` suite: six subsets of 50, deterministic from seeds, fresh draws, each subset's promise kept in the
scene, and the oracle at 100% with the random agent far below."""

from __future__ import annotations

import math
import re
import time
from collections import Counter

import pytest

from simyard.agents.baselines import OracleAgent, RandomAgent
from simyard.platform import registry
from simyard.platform.episode import run_episode_with
from simyard.platform.errors import SimyardError
from simyard.sims.household import homes
from simyard.sims.household.alfred import HouseholdEnv
from simyard.sims.household.taskconfig import HouseholdConfig
from simyard.tasks.eb_alfred import PER_SUBSET, SUBSETS, TASK_TYPES, USES, eb_alfred_suite, words

SUITE = eb_alfred_suite()


def of(subset: str) -> list:
    return [task for task in SUITE if task.subset == subset]


def test_the_suite_has_six_subsets_of_fifty():
    assert Counter(task.subset for task in SUITE) == {subset: PER_SUBSET for subset in SUBSETS}
    assert all(task.world == "household" for task in SUITE)


def test_a_fresh_suite_builds_in_under_two_seconds():
    started = time.process_time()  # CPU time: a busy test machine must not fail it
    eb_alfred_suite(fresh_seed=4242)
    assert time.process_time() - started < 2.0


def test_task_ids_are_unique_and_stable():
    ids = [task.id for task in SUITE]
    assert len(set(ids)) == len(ids) and ids[0] == "eb-alfred-base-00" and ids[-1] == "eb-alfred-long_horizon-49"


def test_the_suite_is_the_same_every_time():
    assert [task.model_dump() for task in eb_alfred_suite()] == [task.model_dump() for task in SUITE]


def test_a_fresh_seed_draws_another_suite_of_the_same_make():
    fresh = eb_alfred_suite(fresh_seed=1)
    assert [task.model_dump() for task in fresh] == [task.model_dump() for task in eb_alfred_suite(fresh_seed=1)]
    assert not {task.config["scene_seed"] for task in fresh} & {task.config["scene_seed"] for task in SUITE}
    assert Counter(task.subset for task in fresh) == Counter(task.subset for task in SUITE)
    assert {task.config["task_type"] for task in fresh} == {task.config["task_type"] for task in SUITE}


def test_the_registry_passes_fresh_seed_to_the_suite():
    tasks = registry.load_suite("eb-alfred", {"fresh_seed": 2})
    assert tasks[0].id.startswith("eb-alfred-s2-")


@pytest.mark.parametrize("options", [{"fresh_seed": -1}, {"fresh_seed": "x"}, {"fresh_seed": 1, "data": "/nowhere"}])
def test_bad_suite_options_are_refused_with_a_hint(options):
    with pytest.raises(SimyardError):
        eb_alfred_suite(**options)


def test_every_alfred_task_type_appears():
    assert {task.config["task_type"] for task in SUITE} == set(TASK_TYPES)
    assert any(any("[sliced" in goal for goal in task.config["goals"]) for task in SUITE if task.subset == "base")


def test_every_task_config_is_a_household_config_with_a_plan_within_the_step_budget():
    for task in SUITE:
        config = HouseholdConfig.model_validate(task.config)
        assert 1 <= len(config.plan) <= config.max_steps == 30 and config.max_invalid == 10


def test_long_horizon_tasks_need_fifteen_steps_or_more():
    assert min(len(task.config["plan"]) for task in of("long_horizon")) >= 15
    assert max(len(task.config["plan"]) for task in of("base")) < 30


def test_the_reference_plans_solve_their_tasks():
    for task in SUITE:
        env = HouseholdEnv(render="none")
        env.reset(task)
        for skill in task.config["plan"]:
            result = env.step(skill)
            assert result.info["valid"], (task.id, skill, result.info["feedback"])
        assert result.info["success"], task.id


def test_the_oracle_solves_every_task():
    failed = []
    for task in SUITE:
        result = run_episode_with(HouseholdEnv(render="none"), OracleAgent(), task, 0)
        if not result.success:
            failed.append(task.id)
    assert not failed


def test_the_random_agent_does_far_worse():
    sample = SUITE[::6]
    solved = sum(run_episode_with(HouseholdEnv(render="none"), RandomAgent(seed=3), t, 0).success for t in sample)
    assert solved / len(sample) < 0.1


def test_common_sense_instructions_name_things_by_their_use():
    phrases = [phrase for uses in USES.values() for phrase in uses]
    for task in of("common_sense"):
        assert any(phrase in task.instruction for phrase in phrases), task.instruction


def test_complex_instructions_are_longer_and_their_details_hold_in_the_scene():
    assert sum(map(len, (t.instruction for t in of("complex_instruction")))) > 1.5 * sum(
        map(len, (t.instruction for t in of("base")))
    )
    for task in of("complex_instruction"):
        house = homes.generate(task.config["scene_seed"])
        for obj, holder in re.findall(
            r"there is an? ([a-z ]+?) (?:in|on) the ([a-z ]+?)(?: and|;|,)", task.instruction
        ):
            assert any(
                words(t.type) == obj and t.parent and words(house.things[t.parent].type) == holder
                for t in house.things.values()
            ), (task.id, obj, holder)


def test_spatial_relations_hold_in_the_scene_and_single_out_the_goal_thing():
    checked = 0
    for task in of("spatial"):
        match = re.search(
            r"the ([a-z ]+?) directly to the (left|right) of the ([a-z ]+?)(?: and|\.|,)", task.instruction
        )
        if not match:
            continue
        house = homes.generate(task.config["scene_seed"])
        named = [house.by_name(w) for g in task.config["goals"] for w in re.findall(r"\b([A-Za-z]+_\d+)\b", g)]
        unit = next(t for t in named if t is not None and words(t.type) == match.group(1))
        landmark = next(t for t in house.things.values() if t.room == unit.room and words(t.type) == match.group(3))
        facing = math.radians(unit.yaw_deg)
        right = (-math.sin(facing), math.cos(facing))  # the viewer's right, facing the wall
        offset = (unit.pos[0] - landmark.pos[0]) * right[0] + (unit.pos[1] - landmark.pos[1]) * right[1]
        assert landmark.yaw_deg == unit.yaw_deg and (offset > 0) == (match.group(2) == "right"), task.id
        between = [
            t for t in house.things.values()
            if t.parent is None and t.yaw_deg == unit.yaw_deg and t.room == unit.room
            and t.id not in (unit.id, landmark.id)
            and min(unit.pos[0], landmark.pos[0]) - 1e-6 <= t.pos[0] <= max(unit.pos[0], landmark.pos[0]) + 1e-6
            and min(unit.pos[1], landmark.pos[1]) - 1e-6 <= t.pos[1] <= max(unit.pos[1], landmark.pos[1]) + 1e-6
            and not t.toggleable
        ]  # fmt: skip
        assert not between, (task.id, [t.id for t in between])
        checked += 1
    assert checked >= 10


def test_visual_appearance_names_one_instance_by_how_it_looks():
    for task in of("visual_appearance"):
        house = homes.generate(task.config["scene_seed"])
        target = next(house.by_name(w) for w in re.findall(r"\b([A-Za-z]+_\d+)\b", task.config["goals"][0]))
        look = re.search(r"the (\w+) " + re.escape(words(target.type)), task.instruction).group(1)
        same = [t for t in house.of_type(target.type) if look in (t.color, t.material)]
        assert same == [target], task.id
