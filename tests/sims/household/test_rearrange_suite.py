"""The `eb-habitat` suite: shape, determinism, fresh suites by seed, what each subset's instructions promise, and
the oracle (all solved) against the random agent (far below)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from simyard.agents.baselines import OracleAgent, RandomAgent
from simyard.platform import registry
from simyard.platform.episode import run_episode_with
from simyard.sims.household import goals as goal_checker
from simyard.sims.household import habitat_home as home
from simyard.sims.household.rearrange import RearrangeEnv
from simyard.sims.household.taskconfig import HouseholdConfig
from simyard.tasks.eb_habitat import SUBSETS, _relations, eb_habitat_suite, make_task

SUITE = eb_habitat_suite()


def of(subset: str):
    return [task for task in SUITE if task.subset == subset]


def run(agent_factory, tasks):
    env = RearrangeEnv(render="none")
    try:
        return [run_episode_with(env, agent_factory(), task, seed=0) for task in tasks]
    finally:
        env.close()


def test_the_suite_has_ebhabitats_six_subsets_of_fifty():
    assert Counter(task.subset for task in SUITE) == {subset: 50 for subset in SUBSETS}
    assert "spatial_relationship" in SUBSETS


def test_task_ids_are_unique_and_name_their_subset():
    ids = [task.id for task in SUITE]
    assert len(set(ids)) == 300
    assert all(task.id.startswith(f"eb-habitat-{task.subset}-") for task in SUITE)


def test_the_suite_is_the_same_every_time():
    assert [task.model_dump() for task in eb_habitat_suite()] == [task.model_dump() for task in SUITE]


def test_a_fresh_seed_draws_a_new_suite_of_the_same_shape():
    fresh = eb_habitat_suite(fresh_seed=7)
    assert Counter(task.subset for task in fresh) == Counter(task.subset for task in SUITE)
    assert not {task.config["scene_seed"] for task in fresh} & {task.config["scene_seed"] for task in SUITE}
    assert all(task.id.startswith("eb-habitat-s7-") for task in fresh)


def test_fresh_seed_zero_is_not_the_published_suite():
    assert eb_habitat_suite(fresh_seed=0)[0].config["scene_seed"] != SUITE[0].config["scene_seed"]


def test_the_registry_passes_the_fresh_seed_option_to_the_suite():
    assert [t.id for t in registry.load_suite("eb-habitat", {"fresh_seed": 3})] == [
        t.id for t in eb_habitat_suite(fresh_seed=3)
    ]
    assert len(registry.load_suite("eb-habitat")) == 300


def test_every_task_is_a_household_task_with_ebs_limits():
    for task in SUITE:
        config = HouseholdConfig.model_validate(task.config)
        assert task.world == "rearrange" and task.max_steps == 30 and task.max_invalid == 10
        assert config.instruction == task.instruction and config.scene_seed is not None and config.subgoals


def test_reference_plans_use_the_skill_words_and_solve_their_tasks():
    env = RearrangeEnv(render="none")
    for task in SUITE[::7]:
        env.reset(task, seed=0)
        for name in task.config["plan"]:
            result = env.step(name)
            assert result.info["valid"], (task.id, name, result.info["feedback"])
        assert result.info["success"], task.id
    env.close()


def test_long_horizon_plans_take_at_least_fifteen_steps_and_the_others_fewer():
    assert all(len(task.config["plan"]) >= 15 for task in of("long_horizon"))
    assert all(len(task.config["plan"]) < 15 for task in SUITE if task.subset != "long_horizon")
    assert max(len(task.config["plan"]) for task in SUITE) <= 26


def test_no_subgoal_holds_when_the_episode_starts():
    env = RearrangeEnv(render="none")
    for task in SUITE:
        env.reset(task, seed=0)
        assert env.step("navigate to the sofa").info["task_progress"] == 0.0, task.id
    env.close()


def test_tasks_that_name_where_an_object_is_are_true_to_the_scene():
    for task in of("base"):
        match = re.match(r"Collect an? (.+) from the (.+) and place it", task.instruction)
        if match:
            house = home.generate(task.config["scene_seed"])
            thing = match.group(1).replace(" ", "_")
            holder = home.top_holder(house, thing)
            assert holder is not None and home.SHORT_NAMES[holder.id] == match.group(2)


def test_visual_tasks_name_tables_and_objects_by_colours_that_single_them_out():
    for task in of("visual_appearance"):
        house = home.generate(task.config["scene_seed"])
        table = re.search(r"(\w+) table\b", task.instruction).group(1)
        goal_tables = {goal.split(", ")[1].rstrip(")") for goal in task.config["goals"]}
        assert [spot for spot in ("table_1", "table_2") if house.things[spot].color == table] == list(goal_tables)
        categories = "|".join(sorted({kind.category for kind in home.KINDS}))
        color, category = re.search(rf"the (\w+) ({categories})\b", task.instruction).groups()
        alike = [
            t
            for t in house.things.values()
            if t.pickable and t.color == color and home.KIND[t.type].category == category
        ]
        assert len(alike) == 1 and alike[0].id in task.config["goals"][0], task.id


def test_spatial_tasks_rest_on_relations_that_hold():
    for task in of("spatial_relationship"):
        house = home.generate(task.config["scene_seed"])
        relations = _relations(house)
        (thing, dest), *_ = [re.match(r"\w+\((\w+), (\w+)\)", goal).groups() for goal in task.config["goals"]]
        source = home.top_holder(house, thing).id
        assert relations[dest] in task.instruction and relations[source] in task.instruction, task.id
        assert house.things["left_counter"].pos[0] < house.things["sink"].pos[0] < house.things["right_counter"].pos[0]
        for anchor in ("sofa", "tv_stand"):
            phrase = f"table closest to the {home.SHORT_NAMES[anchor]}"
            named = [spot for spot in ("table_1", "table_2") if relations.get(spot) == phrase]
            if named:
                other = "table_2" if named[0] == "table_1" else "table_1"
                assert _distance(house, named[0], anchor) < _distance(house, other, anchor)


def _distance(house, a, b):
    pa, pb = house.things[a].pos, house.things[b].pos
    return ((pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2) ** 0.5


def test_common_sense_tasks_never_name_the_object():
    for task in of("common_sense"):
        goals = goal_checker.parse_all(task.config["goals"])
        assert not re.search(rf"\b{goals[0].args[0].word.replace('_', ' ')}\b", task.instruction.lower())


def test_complex_instructions_are_long_and_mention_a_distractor():
    for task in of("complex_instruction"):
        assert len(task.instruction.split()) >= 20
        base_words = sum(word.replace("_", " ") in task.instruction for word in home.KIND)
        assert base_words >= len(task.config["goals"]) + 1


@pytest.mark.parametrize("subset", SUBSETS)
def test_the_oracle_solves_every_task(subset):
    results = run(OracleAgent, of(subset))
    assert [(r.task_id, r.reason, r.error) for r in results if not r.success] == []


def test_the_random_agent_is_far_below_the_oracle():
    results = run(RandomAgent, SUITE[::3])
    assert sum(result.success for result in results) / len(results) < 0.05


def test_sample_task_cycles_through_the_subsets():
    assert [RearrangeEnv.sample_task(seed).subset for seed in range(6)] == list(SUBSETS)
    assert (
        RearrangeEnv.sample_task(8).model_dump()
        == make_task("complex_instruction", 1, fresh_seed=1_000_003).model_dump()
    )
