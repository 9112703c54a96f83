"""EB-ALFRED's skills on the embedded engine: each skill's effect, each precondition's feedback in EB's words, and
ALFRED's three state rules (cleaned in a sink with the faucet on, heated in a microwave turned on, cooled in a fridge
when it is closed)."""

from __future__ import annotations

import math

import pytest

from simyard.sims.household.alfred import INVALID, SUCCESS


def act(env, *skills: str) -> dict:
    """Run skills in order; each before the last must work. Returns the last step's info."""
    for skill in skills[:-1]:
        info = env.step(skill).info
        assert info["valid"], (skill, info["feedback"])
    return dict(env.step(skills[-1]).info)


def thing(env, thing_id: str):
    return env._engine.house.things[thing_id]


def hand(env):
    return env._engine.house.agent.holding


# --- find ---------------------------------------------------------------------------------------------------------


def test_find_goes_to_the_thing_and_faces_it(world):
    env = world()
    info = act(env, "find a DiningTable")
    assert info["valid"] and info["feedback"] == SUCCESS
    agent = env._engine.house.agent
    table = thing(env, "DiningTable_01")
    x, y, yaw = agent.pose
    assert agent.at == "DiningTable_01" and math.dist((x, y), table.pos[:2]) > 0.3
    heading = math.degrees(math.atan2(table.pos[1] - y, table.pos[0] - x))
    assert abs((heading - yaw + 180) % 360 - 180) < 1.0


def test_find_an_instance_name_goes_to_that_instance(world):
    env = world()
    act(env, "find a Cabinet_2")
    assert env._engine.house.agent.at == "Cabinet_02"


def test_find_a_type_goes_to_its_first_instance(world):
    env = world()
    act(env, "find a Cabinet")
    assert env._engine.house.agent.at == "Cabinet_01"


def test_find_a_sink_goes_to_the_sink_basin(world):
    env = world()
    act(env, "find a Sink")
    assert env._engine.house.agent.at == "SinkBasin_01"


def test_find_a_type_not_in_the_scene_is_invalid_with_eb_feedback(world):
    info = act(world(), "find a Bed")
    assert not info["valid"]
    assert info["feedback"] == (
        INVALID + "Cannot find Bed. This object may not exist in this scene. Try to explore other instances instead."
    )


def test_find_brings_what_is_on_the_thing_into_view(world):
    env = world()
    act(env, "find a CounterTop")
    assert {"Apple", "Knife", "Pan", "CounterTop"} <= set(
        env.step("find a CounterTop").info["object_states"]["visible_objs"]
    )


def test_things_in_a_closed_receptacle_are_not_in_view(world):
    env = world()
    info = act(env, "find a Fridge")
    assert "Apple" not in info["object_states"]["visible_objs"]
    info = act(env, "open the Fridge")
    assert "Apple" in info["object_states"]["visible_objs"]


# --- pick up ------------------------------------------------------------------------------------------------------


def test_pick_up_takes_the_thing_in_view(world):
    env = world()
    info = act(env, "find a Apple", "pick up the Apple")
    assert info["valid"] and hand(env) == "Apple_01" and thing(env, "Apple_01").parent is None


def test_pick_up_prefers_the_instance_in_view(world):
    env = world()
    act(env, "find a Fridge", "open the Fridge", "pick up the Apple")
    assert hand(env) == "Apple_02"


def test_pick_up_a_type_not_in_the_scene_says_find_it_first(world):
    info = act(world(), "pick up the Book")
    assert info["feedback"] == INVALID + "Cannot find Book to pick up. Find the object before picking up it"


def test_pick_up_out_of_view_says_where_the_thing_is(world):
    info = act(world(), "find a Fridge", "pick up the Mug")
    assert (
        info["feedback"]
        == INVALID + "Mug is not visible because it is in Cabinet. Go there to pick the object instead."
    )


def test_pick_up_inside_a_closed_receptacle_is_invalid_even_when_found(world):
    env = world()
    info = act(env, "find a Mug", "pick up the Mug")
    assert not info["valid"] and "not visible because it is in Cabinet" in info["feedback"]
    assert hand(env) is None


def test_pick_up_with_a_full_hand_says_what_is_held(world):
    info = act(world(), "find a Apple", "pick up the Apple", "pick up the Knife")
    assert info["feedback"] == INVALID + "Robot is currently holding Apple"


# --- put down and drop ----------------------------------------------------------------------------------------------


def test_put_down_puts_the_held_thing_on_the_last_found_receptacle(world):
    env = world()
    info = act(env, "find a Apple", "pick up the Apple", "find a DiningTable", "put down the object in hand")
    assert info["valid"] and hand(env) is None and thing(env, "Apple_01").parent == "DiningTable_01"


def test_put_down_with_an_empty_hand_is_invalid(world):
    info = act(world(), "find a DiningTable", "put down the object in hand")
    assert info["feedback"] == INVALID + "Robot is not holding any object"


def test_put_down_in_a_closed_receptacle_fails_with_eb_feedback(world):
    env = world()
    info = act(env, "find a Apple", "pick up the Apple", "find a Fridge", "put down the object in hand")
    assert info["feedback"] == INVALID + (
        "Putting the object on Fridge failed. First check the receptacle is open or not. "
        "Also try other instances of the receptacle"
    )
    assert hand(env) == "Apple_01"


def test_put_down_on_a_receptacle_that_does_not_take_the_thing_fails(world):
    env = world()
    info = act(
        env, "find a Pan", "pick up the Pan", "find a Microwave", "open the Microwave", "put down the object in hand"
    )
    assert not info["valid"] and "Putting the object on Microwave failed" in info["feedback"]


def test_the_third_failed_put_on_one_receptacle_drops_the_object(world):
    env = world()
    act(env, "find a Apple", "pick up the Apple", "find a Fridge")
    first = act(env, "put down the object in hand")
    second = act(env, "put down the object in hand")
    assert hand(env) == "Apple_01" and not first["valid"] and not second["valid"]
    third = act(env, "put down the object in hand")
    assert not third["valid"] and third["feedback"].endswith(". The robot dropped the object instead.")
    assert hand(env) is None and thing(env, "Apple_01").parent is None


def test_put_down_before_any_find_drops_the_object(world):
    env = world()
    act(env, "find a Apple", "pick up the Apple")
    env._engine.found = None
    info = act(env, "put down the object in hand")
    assert info["valid"] and hand(env) is None and thing(env, "Apple_01").parent is None


def test_drop_puts_the_held_thing_on_the_floor(world):
    env = world()
    info = act(env, "find a Apple", "pick up the Apple", "drop the object in hand")
    assert info["valid"] and hand(env) is None and thing(env, "Apple_01").parent is None


def test_drop_with_an_empty_hand_is_invalid(world):
    info = act(world(), "drop the object in hand")
    assert info["feedback"] == INVALID + "Robot is not holding any object"


# --- open and close -------------------------------------------------------------------------------------------------


def test_open_opens_the_found_receptacle(world):
    env = world()
    info = act(env, "find a Cabinet_2", "open the Cabinet_2")
    assert info["valid"] and thing(env, "Cabinet_02").is_open and not thing(env, "Cabinet_01").is_open


def test_open_something_already_open_says_so(world):
    info = act(world(), "find a Fridge", "open the Fridge", "open the Fridge")
    assert info["feedback"] == INVALID + "Open action failed. The Fridge is already open"


def test_open_out_of_view_fails(world):
    info = act(world(), "find a DiningTable", "open the Fridge")
    assert info["feedback"] == INVALID + "Open action failed."


def test_open_a_type_not_in_the_scene_says_find_it_first(world):
    info = act(world(), "open the Safe")
    assert info["feedback"] == INVALID + "Cannot find Safe to open. Find the object before opening it"


def test_close_closes_an_open_receptacle(world):
    env = world()
    info = act(env, "find a Drawer", "open the Drawer", "close the Drawer")
    assert info["valid"] and not thing(env, "Drawer_01").is_open


def test_close_something_already_closed_says_so(world):
    info = act(world(), "find a Drawer", "close the Drawer")
    assert info["feedback"] == INVALID + "Close action failed. The Drawer is already closed"


def test_close_a_type_not_in_the_scene_is_invalid(world):
    info = act(world(), "close the Laptop")
    assert info["feedback"] == INVALID + "Cannot find Laptop to close"


# --- turn on and off ------------------------------------------------------------------------------------------------


def test_turn_on_and_off_switch_a_lamp_in_view(world):
    env = world()
    info = act(env, "find a DeskLamp", "turn on the DeskLamp")
    assert info["valid"] and thing(env, "DeskLamp_01").is_on
    info = act(env, "turn off the DeskLamp")
    assert info["valid"] and not thing(env, "DeskLamp_01").is_on


def test_turn_on_something_already_on_fails(world):
    info = act(world(), "find a DeskLamp", "turn on the DeskLamp", "turn on the DeskLamp")
    assert info["feedback"] == INVALID + "Turn on action failed"


def test_turn_off_something_already_off_fails(world):
    info = act(world(), "find a DeskLamp", "turn off the DeskLamp")
    assert info["feedback"] == INVALID + "Turn off action failed"


def test_turn_on_out_of_view_fails(world):
    info = act(world(), "find a Fridge", "turn on the DeskLamp")
    assert info["feedback"] == INVALID + "Turn on action failed"


def test_turn_on_a_type_not_in_the_scene_is_invalid(world):
    info = act(world(), "turn on the FloorLamp")
    assert info["feedback"] == INVALID + "Cannot find FloorLamp to turn on"


def test_turn_off_a_type_not_in_the_scene_is_invalid(world):
    info = act(world(), "turn off the FloorLamp")
    assert info["feedback"] == INVALID + "Cannot find FloorLamp to turn off"


def test_an_open_microwave_does_not_turn_on(world):
    info = act(world(), "find a Microwave", "open the Microwave", "turn on the Microwave")
    assert info["feedback"] == INVALID + "Turn on action failed"


def test_a_running_microwave_does_not_open(world):
    info = act(world(), "find a Microwave", "turn on the Microwave", "open the Microwave")
    assert info["feedback"] == INVALID + "Open action failed."


# --- slice ----------------------------------------------------------------------------------------------------------


def test_slice_with_a_knife_in_hand_slices_the_thing(world):
    env = world()
    info = act(env, "find a Knife", "pick up the Knife", "find a Apple", "slice the Apple")
    assert info["valid"] and thing(env, "Apple_01").is_sliced


def test_slice_without_a_knife_fails(world):
    info = act(world(), "find a Apple", "slice the Apple")
    assert info["feedback"] == INVALID + "Slice action failed"


def test_slice_a_type_not_in_the_scene_is_invalid(world):
    info = act(world(), "slice the Bread")
    assert info["feedback"] == INVALID + "Cannot find Bread to slice"


def test_pick_up_after_slicing_prefers_the_sliced_piece(world):
    env = world()
    act(env, "find a Knife", "pick up the Knife", "find a Fridge", "open the Fridge", "slice the Apple")
    act(env, "drop the object in hand", "find a CounterTop", "pick up the Apple")
    assert hand(env) == "Apple_01" or thing(env, hand(env)).is_sliced


# --- ALFRED's state rules -------------------------------------------------------------------------------------------


def test_turning_the_faucet_on_cleans_what_is_in_the_sink(world):
    env = world(["cleaned(Pan)"])
    act(env, "find a Pan", "pick up the Pan", "find a Sink", "put down the object in hand")
    assert not thing(env, "Pan_01").cleaned
    info = act(env, "turn on the Faucet")
    assert thing(env, "Pan_01").cleaned and info["success"]
    assert info["object_states"]["cleaned_objects"] == ["Pan"]


def test_the_faucet_does_not_clean_what_is_elsewhere(world):
    env = world()
    act(env, "find a Sink", "turn on the Faucet")
    assert not any(t.cleaned for t in env._engine.house.things.values())


def test_turning_the_microwave_on_heats_what_is_inside(world):
    env = world(["heated(Apple)"])
    act(env, "find a Apple", "pick up the Apple", "find a Microwave", "open the Microwave")
    act(env, "put down the object in hand", "close the Microwave")
    assert not thing(env, "Apple_01").heated
    info = act(env, "turn on the Microwave")
    assert thing(env, "Apple_01").heated and info["success"]


def test_closing_the_fridge_cools_what_is_inside(world):
    env = world(["cooled(Apple)"])
    act(env, "find a Apple", "pick up the Apple", "find a Fridge", "open the Fridge", "put down the object in hand")
    assert not thing(env, "Apple_01").cooled
    info = act(env, "close the Fridge")
    assert thing(env, "Apple_01").cooled and thing(env, "Apple_02").cooled and info["success"]


def test_a_thing_carried_in_a_bowl_moves_with_the_bowl(world):
    env = world(["inside(Apple, Bowl)", "inside(Bowl, CounterTop)", "inside(Apple, CounterTop)"])
    act(env, "find a Apple", "pick up the Apple", "find a Bowl", "put down the object in hand")
    info = act(env, "pick up the Bowl", "find a CounterTop", "put down the object in hand")
    assert info["success"] and thing(env, "Apple_01").parent == "Bowl_01"


@pytest.mark.parametrize(
    "goals, plan, progress",
    [
        (["holding(AlarmClock)", "visible(DeskLamp[toggled])"], ["find a AlarmClock", "pick up the AlarmClock"], 0.5),
        (["inside(Apple, DiningTable)", "inside(Apple, DiningTable, 2)"],
         ["find a Apple", "pick up the Apple", "find a DiningTable", "put down the object in hand"], 0.5),
    ],
)  # fmt: skip
def test_progress_is_the_share_of_goal_conditions_met(world, goals, plan, progress):
    info = act(world(goals), *plan)
    assert info["progress"] == progress == info["task_progress"] and not info["success"]
