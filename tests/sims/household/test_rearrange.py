"""The `rearrange` world: every skill's effect, every precondition's feedback in EB-Habitat's words, limits,
progress, bad input, determinism and the conformance check."""

from __future__ import annotations

import numpy as np
import pytest

from simyard.agents.baselines import OracleAgent
from simyard.platform import registry
from simyard.platform.api import Task
from simyard.platform.episode import run_episode_with
from simyard.sims.household import habitat_home as home
from simyard.sims.household.rearrange import RearrangeEnv
from simyard.sims.household.rearrange_skills import SKILL_NAMES, SKILLS
from simyard.sims.household.state import House, Thing
from simyard.testing.conformance import all_passed, check_world

HOLDING = "Robot cannot pick any object when holding something. Please place the object before picking something."
NOT_NEAR = "Robot cannot pick any object that is not near the robot. Navigate to other place to find the object."
PLACE_FAR = "Robot cannot place any object that is not near the robot. Navigate to other place to find the object."
EMPTY = "Robot cannot place any object when not holding something. Please pick the object before place it."
OPEN_BAD = (
    "Last action is invalid. Check whether the receptacle is already open or the robot is not near the receptacle."
)
CLOSE_BAD = (
    "Last action is invalid. Check whether the receptacle is already closed or the robot is not near the receptacle."
)


def scene(**where: str) -> House:
    """Apartment 1 with only the given objects, each on or in the given receptacle."""
    house = home.generate(1)
    for thing_id in [thing.id for thing in house.things.values() if thing.pickable]:
        del house.things[thing_id]
    for slot, (thing_id, spot) in enumerate(where.items()):
        kind = home.KIND[thing_id]
        position = home.slot_position(house.things[spot], slot, kind.size_m[2])
        house.add(Thing(id=thing_id, type=thing_id, name=thing_id, parent=spot, pickable=True, pos=position))
    return house


def task(house: House, goals: list[str], subgoals: list[list[str]] | None = None, **extra) -> Task:
    config = {"instruction": "Do it.", "goals": goals, "scene": house.to_dict(), **extra}
    if subgoals is not None:
        config["subgoals"] = subgoals
    return Task(id="t", world="rearrange", instruction="Do it.", config=config)


@pytest.fixture
def world():
    env = RearrangeEnv(render="none")
    yield env
    env.close()


def start(world: RearrangeEnv, goals: list[str] | None = None, **where: str) -> RearrangeEnv:
    # by default a goal no skill reaches (the scene has no strawberry), so episodes end only by the limits
    world.reset(task(scene(**where), goals or ["on_top(strawberry, chair_1)"]), seed=0)
    return world


def feedback(world: RearrangeEnv, action) -> str:
    return world.step(action).info["env_feedback"]


def test_the_skill_list_has_ebhabitats_70_skills_at_the_ids_its_examples_use():
    assert len(SKILL_NAMES) == 70
    seen = {
        0: "navigate to the cabinet 7",
        4: "navigate to the refrigerator push point",
        5: "navigate to the chair 1",
        6: "navigate to the table 1",
        7: "navigate to the table 2",
        8: "navigate to the TV stand",
        9: "navigate to the sink in the kitchen",
        10: "navigate to the right counter in the kitchen",
        11: "navigate to the left counter in the kitchen",
        12: "navigate to the sofa",
        13: "navigate to the refrigerator",
        15: "navigate to the right drawer of the kitchen counter",
        16: "pick up the ball",
        17: "pick up the clamp",
        21: "pick up the scissors",
        24: "pick up the spatula",
        26: "pick up the spoon",
        28: "pick up the sponge",
        31: "pick up the pear",
        32: "pick up the peach",
        33: "pick up the apple",
        34: "pick up the lemon",
        35: "pick up the can",
        37: "pick up the banana",
        42: "pick up the bowl",
        47: "pick up the toy airplane",
        50: "place at the table 1",
        51: "place at the table 2",
        54: "place at the right counter in the kitchen",
        55: "place at the left counter in the kitchen",
        56: "place at the sofa",
        61: "close the refrigerator",
    }
    assert {index: SKILL_NAMES[index] for index in seen} == seen
    assert len(set(SKILL_NAMES)) == 70


def test_the_skill_list_is_the_same_in_every_episode(world):
    start(world, apple="table_1")
    first = world.action_spec().choices
    world.reset(task(home.generate(99), ["holding(apple)"]), seed=0)
    assert world.action_spec().choices == first == SKILL_NAMES


def test_navigate_always_succeeds_with_the_plain_feedback(world):
    start(world, apple="table_1")
    for index, skill in enumerate(SKILLS):
        if skill.verb == "nav":
            result = world.step(index)
            assert result.info["valid"] and result.info["env_feedback"] == "Last action executed successfully."


def test_navigate_puts_the_robot_in_front_of_the_receptacle_facing_it(world):
    start(world, apple="table_1")
    world.step("navigate to the table 1")
    x, y, yaw = world.state()["house"]["agent"]["pose"]
    table = world.state()["house"]["things"]
    table = next(thing for thing in table if thing["id"] == "table_1")
    assert 0.3 < np.hypot(x - table["pos"][0], y - table["pos"][1]) < 1.6
    assert world.state()["house"]["agent"]["at"] == "table_1"


def test_pick_up_takes_the_object_and_says_what_is_held(world):
    start(world, toy_airplane="sofa")
    world.step("navigate to the sofa")
    result = world.step("pick up the toy airplane")
    assert result.info["valid"]
    assert result.info["env_feedback"] == "Last action executed successfully and you are holding toy airplane."
    assert world.state()["house"]["agent"]["holding"] == "toy_airplane"


def test_pick_up_while_holding_something_is_invalid(world):
    start(world, apple="sofa", pear="sofa")
    world.step("navigate to the sofa")
    world.step("pick up the apple")
    result = world.step("pick up the pear")
    assert not result.info["valid"] and result.info["last_action_success"] == 0.0
    assert result.info["env_feedback"] == f"Last action is invalid. {HOLDING}"


def test_pick_up_away_from_the_object_is_invalid(world):
    start(world, apple="sofa")
    world.step("navigate to the table 1")
    assert feedback(world, "pick up the apple") == f"Last action is invalid. {NOT_NEAR}"


def test_pick_up_of_an_object_not_in_the_scene_is_invalid(world):
    start(world, apple="sofa")
    world.step("navigate to the sofa")
    assert feedback(world, "pick up the wrench") == f"Last action is invalid. {NOT_NEAR}"


def test_pick_up_inside_a_closed_cabinet_needs_it_opened_first(world):
    start(world, can="cabinet_5")
    world.step("navigate to the cabinet 5")
    assert feedback(world, "pick up the can") == f"Last action is invalid. {NOT_NEAR}"
    assert feedback(world, "open the cabinet 5") == "Last action executed successfully and now cabinet 5 is open."
    assert world.step("pick up the can").info["valid"]


def test_pick_up_from_the_push_point_is_too_far_from_the_refrigerator(world):
    start(world, apple="refrigerator")
    world.step("navigate to the refrigerator push point")
    world.step("open the refrigerator")
    assert feedback(world, "pick up the apple") == f"Last action is invalid. {NOT_NEAR}"
    world.step("navigate to the refrigerator")
    assert world.step("pick up the apple").info["valid"]


def test_place_puts_the_held_object_on_the_receptacle(world):
    start(world, apple="sofa")
    world.step("navigate to the sofa")
    world.step("pick up the apple")
    world.step("navigate to the table 2")
    result = world.step("place at the table 2")
    assert result.info["env_feedback"] == "Last action executed successfully and you are holding nothing."
    apple = next(thing for thing in world.state()["house"]["things"] if thing["id"] == "apple")
    assert apple["parent"] == "table_2" and world.state()["house"]["agent"]["holding"] is None


def test_place_with_an_empty_hand_is_invalid(world):
    start(world, apple="sofa")
    world.step("navigate to the sofa")
    assert feedback(world, "place at the sofa") == f"Last action is invalid. {EMPTY}"


def test_place_away_from_the_receptacle_is_invalid(world):
    start(world, apple="sofa")
    world.step("navigate to the sofa")
    world.step("pick up the apple")
    assert feedback(world, "place at the TV stand") == f"Last action is invalid. {PLACE_FAR}"


def test_place_in_the_closed_refrigerator_is_invalid_until_it_is_opened(world):
    start(world, apple="sofa")
    world.step("navigate to the sofa")
    world.step("pick up the apple")
    world.step("navigate to the refrigerator")
    assert feedback(world, "place at the refrigerator") == f"Last action is invalid. {PLACE_FAR}"
    world.step("open the refrigerator")
    assert world.step("place at the refrigerator").info["valid"]


def test_the_refrigerator_opens_and_closes_from_it_or_its_push_point(world):
    start(world, apple="sofa")
    world.step("navigate to the refrigerator push point")
    assert feedback(world, "open the refrigerator") == "Last action executed successfully and now refrigerator is open."
    world.step("navigate to the refrigerator")
    assert feedback(world, "close the refrigerator") == (
        "Last action executed successfully and now refrigerator is closed."
    )


def test_opening_an_open_refrigerator_and_closing_a_closed_one_are_invalid(world):
    start(world, apple="sofa")
    world.step("navigate to the refrigerator")
    assert feedback(world, "close the refrigerator") == CLOSE_BAD
    world.step("open the refrigerator")
    assert feedback(world, "open the refrigerator") == OPEN_BAD


def test_opening_or_closing_away_from_the_thing_is_invalid(world):
    start(world, apple="sofa")
    world.step("navigate to the cabinet 4")
    assert feedback(world, "open the cabinet 6") == OPEN_BAD
    assert feedback(world, "open the refrigerator") == OPEN_BAD
    world.step("open the cabinet 4")
    world.step("navigate to the sofa")
    assert feedback(world, "close the cabinet 4") == CLOSE_BAD


def test_a_cabinet_closes_with_its_number_in_the_feedback(world):
    start(world, apple="sofa")
    world.step("navigate to the cabinet 7")
    world.step("open the cabinet 7")
    assert feedback(world, "close the cabinet 7") == "Last action executed successfully and now cabinet 7 is closed."


@pytest.mark.parametrize("action", [-1, 70, 10**9, "fly to the moon", "", None, 3.5, {"id": 1}, [1, 2], True])
def test_bad_input_is_an_invalid_action_not_an_exception(world, action):
    start(world, apple="sofa")
    result = world.step(action)
    assert not result.info["valid"] and result.info["env_feedback"].startswith("Last action is invalid.")
    assert "0 to 69" in result.info["env_feedback"] and result.info["action_id"] == -1


def test_skills_are_taken_by_id_by_name_and_by_id_as_text(world):
    start(world, apple="sofa")
    assert world.step(12).info["action_description"] == "navigate to the sofa"
    assert world.step("  PICK UP THE APPLE ").info["valid"]
    assert world.step("6").info["action_description"] == "navigate to the table 1"


def test_info_carries_ebhabitats_keys_beside_simyards(world):
    start(world, apple="sofa")
    info = world.step(12).info
    for key in (
        "valid",
        "feedback",
        "success",
        "progress",
        "task_success",
        "task_progress",
        "env_feedback",
        "last_action_success",
        "env_step",
    ):
        assert key in info
    assert info["env_step"] == 1 and info["feedback"] == info["env_feedback"]


def test_success_ends_the_episode_with_reward_and_full_progress(world):
    start(world, ["on_top(apple, table_1)"], apple="sofa")
    for action in ("navigate to the sofa", "pick up the apple", "navigate to the table 1"):
        assert not world.step(action).terminated
    result = world.step("place at the table 1")
    assert result.terminated and result.reward == 1.0
    assert result.info["success"] and result.info["task_success"] == 1.0 and result.info["progress"] == 1.0


def test_progress_counts_each_subgoal_once_reached(world):
    goals = ["on_top(apple, table_1)", "on_top(pear, table_1)"]
    stages = [["holding(apple)"], ["on_top(apple, table_1)"], ["holding(pear)"], ["on_top(pear, table_1)"]]
    world.reset(task(scene(apple="sofa", pear="sofa"), goals, stages), seed=0)
    world.step("navigate to the sofa")
    assert world.step("pick up the apple").info["task_progress"] == 0.25
    assert world.step("place at the sofa").info["task_progress"] == 0.25  # no longer held, still counted
    world.step("pick up the apple")
    world.step("navigate to the table 1")
    assert world.step("place at the table 1").info["progress"] == 0.5


def test_without_subgoals_each_goal_is_a_subgoal(world):
    goals = ["on_top(apple, table_1)", "on_top(pear, table_2)"]
    world.reset(task(scene(apple="sofa", pear="sofa"), goals), seed=0)
    for action in ("navigate to the sofa", "pick up the apple", "navigate to the table 1"):
        world.step(action)
    assert world.step("place at the table 1").info["progress"] == 0.5


def test_ten_invalid_actions_end_the_episode(world):
    start(world, apple="sofa")
    results = [world.step("place at the sofa") for _ in range(10)]
    assert not any(result.truncated for result in results[:9]) and results[9].truncated


def test_thirty_steps_end_the_episode(world):
    start(world, apple="sofa")
    results = [world.step("navigate to the sofa") for _ in range(30)]
    assert not any(result.truncated for result in results[:29]) and results[29].truncated


def test_steps_after_the_end_are_invalid(world):
    start(world, apple="sofa")
    for _ in range(30):
        world.step("navigate to the sofa")
    result = world.step("navigate to the sofa")
    assert not result.info["valid"] and "episode is over" in result.info["env_feedback"]


def test_a_task_from_a_seed_builds_the_generated_apartment(world):
    world.reset(
        Task(id="s", world="rearrange", config={"instruction": "x", "goals": ["holding(apple)"], "scene_seed": 4}),
        seed=0,
    )
    assert world.state()["house"] == home.generate(4).to_dict()


def test_the_same_task_and_seed_replay_the_same_states():
    sample = RearrangeEnv.sample_task(3)
    traces = []
    for _ in range(2):
        env = RearrangeEnv(render="none")
        env.reset(sample, seed=5)
        rng = np.random.default_rng(0)
        traces.append([env.step(env.sample_action(rng)).info["env_feedback"] for _ in range(20)] + [env.state()])
        env.close()
    assert traces[0] == traces[1]


def test_the_oracle_replans_from_a_disturbed_state(world):
    sample = RearrangeEnv.sample_task(5)
    world.reset(sample, seed=0)
    rng = np.random.default_rng(1)
    for _ in range(4):
        world.step(world.sample_action(rng))
    result = run_episode_with(world, OracleAgent(), sample, seed=0)
    assert result.success


def test_the_oracle_puts_down_what_it_holds_before_fetching_another_object(world):
    start(world, ["on_top(pear, table_2)"], apple="sofa", pear="tv_stand")
    world.step("navigate to the sofa")
    world.step("pick up the apple")
    for _ in range(10):
        result = world.step(world.oracle())
        assert result.info["valid"]
        if result.terminated:
            break
    assert result.info["success"]


def test_a_text_only_world_shows_no_pictures(world):
    observation = world.reset(RearrangeEnv.sample_task(0), seed=0)
    assert observation.images == {} and world.render("rgb") is None
    assert observation.text == world._instruction


def test_the_registry_builds_the_world_with_its_options():
    env = registry.make("rearrange", resolution=64, render="none", top_view=True, boxes=True)
    assert env.resolution == 64 and env.top_view and env.boxes
    env.close()


def test_the_world_keeps_the_simyard_contract():
    from simyard.sims import mjrender

    backend = mjrender.active_backend() or "osmesa"  # one GL backend per process: take the one already chosen
    results = check_world("rearrange", sample=2, gym=False, world_options={"render": backend})
    assert all_passed(results), [(result.name, result.detail) for result in results if not result.passed]
