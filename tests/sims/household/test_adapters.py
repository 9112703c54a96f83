"""The simulator adapters' pure parts on fixture files in the simulators' own formats: AI2-THOR scene resets from
ALFRED trajectories, EB-ALFRED skills as controller calls, THOR metadata judged by the shared goal checker, and
EB-Habitat skills as Habitat high-level actions; live runs only where the simulator imports and starts."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from simyard.platform.errors import SimyardError
from simyard.sims.household.adapters import habitat, thor
from simyard.sims.household.alfred_data import load_eb_alfred

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
THOR = FIXTURES / "thor"
ALFRED = FIXTURES / "eb_alfred"


def metadata(name: str) -> dict:
    return json.loads((THOR / f"{name}.json").read_text())


def trajectory(folder_start: str) -> dict:
    path = next(p for p in (ALFRED / "json_2.1.0").glob("*/*/pp/ann_*.json") if p.parts[-4].startswith(folder_start))
    return json.loads(path.read_text())


def goals_of(folder_start: str) -> list[str]:
    task = next(t for t in load_eb_alfred(ALFRED) if t.goal["alfred_task"].startswith(folder_start))
    return task.config["goals"]


# ------------------------------------------------------------------------------------------- THOR: resets


def test_a_clean_task_resets_as_alfreds_restore_scene_does_in_thor_2_1():
    traj = trajectory("pick_clean_then_place_in_recep-Ladle")
    steps = thor.reset_steps(traj, "2.1")
    assert thor.reset_args(traj, "2.1") == {"scene": "FloorPlan24"}
    assert [s["action"] for s in steps] == ["Initialize", "SetStateOfAllObjects", "SetStateOfAllObjects",
                                            "SetObjectPoses", "TeleportFull"]
    assert steps[0]["gridSize"] == 0.25 and steps[0]["visibility_distance"] == 1.5
    assert steps[1] == {"action": "SetStateOfAllObjects", "StateChange": "CanBeDirty", "forceAction": True}
    assert steps[2] == {"action": "SetStateOfAllObjects", "StateChange": "CanBeFilled", "forceAction": False}
    assert steps[3]["objectPoses"] == traj["scene"]["object_poses"]
    assert steps[4] == traj["scene"]["init_action"]


def test_a_lamp_task_sets_its_toggles_in_thor_2_1():
    traj = trajectory("look_at_obj_in_light-AlarmClock")
    steps = thor.reset_steps(traj, "2.1")
    assert steps[1] == {"action": "SetObjectToggles", "objectToggles": [{"isOn": False, "objectType": "DeskLamp"}]}
    assert "SetStateOfAllObjects" not in [s["action"] for s in steps]


def test_thor_5_resets_object_by_object_and_teleports_with_a_position_and_rotation():
    traj = trajectory("pick_clean_then_place_in_recep-Ladle")
    objects = metadata("kitchen24_start")["objects"]
    args = thor.reset_args(traj, "5")
    assert args["scene"] == "FloorPlan24" and args["gridSize"] == 0.25 and args["visibilityDistance"] == 1.5
    steps = thor.reset_steps(traj, "5", objects)
    actions = [s["action"] for s in steps]
    assert actions[0] == "SetObjectPoses" and "Initialize" not in actions and "SetStateOfAllObjects" not in actions
    assert {"action": "DirtyObject", "objectId": "Pot|-00.80|+00.35|+01.90", "forceAction": True} in steps
    assert {"action": "EmptyLiquidFromObject", "objectId": "Mug|+00.70|+00.82|+00.55", "forceAction": True} in steps
    assert not any(s.get("objectId", "").startswith("Mug") and s["action"] == "DirtyObject" for s in steps)
    init = traj["scene"]["init_action"]
    assert steps[-1] == {"action": "TeleportFull", "position": {"x": init["x"], "y": init["y"], "z": init["z"]},
                         "rotation": {"x": 0, "y": init["rotation"], "z": 0}, "horizon": init["horizon"],
                         "standing": True}


def test_thor_5_turns_toggles_on_one_object_at_a_time():
    traj = {"scene": {"floor_plan": "FloorPlan24", "object_toggles": [{"objectType": "Microwave", "isOn": True}]}}
    steps = thor.state_steps(traj, metadata("kitchen24_start")["objects"], "5")
    assert steps == [{"action": "ToggleObjectOn", "objectId": "Microwave|-01.85|+01.25|+00.60", "forceAction": True}]


def test_a_trajectory_without_a_scene_is_refused_in_one_line():
    with pytest.raises(SimyardError, match="scene.floor_plan"):
        thor.reset_steps({"task_type": "pick_and_place_simple"})


# ------------------------------------------------------------------------------------------- THOR: skills


def reachable_skills(api: thor.Api = "2.1") -> thor.ThorSkills:
    skills = thor.ThorSkills(api=api)
    skills.set_reachable(metadata("kitchen24_reachable_positions")["actionReturn"])
    return skills


def test_find_teleports_to_the_reachable_spot_nearest_the_object_facing_it():
    skills = reachable_skills()
    mapped = skills.calls("find a DiningTable", metadata("kitchen24_start"))
    assert mapped.error == "" and mapped.target == "DiningTable|+00.80|00.00|+00.80"
    (step,) = mapped.steps
    assert step["action"] == "TeleportFull" and (step["x"], step["z"]) == (0.75, 0.75)
    assert step["y"] == thor.AGENT_HEIGHT_M
    rotation, horizon = thor.facing(0.75, 0.75, 0.80, 0.0, 0.80)
    assert (step["rotation"], step["horizon"]) == (rotation, horizon) and horizon > 0  # looks down at the table


def test_find_does_not_move_when_the_object_is_visible_and_near():
    mapped = reachable_skills().calls("find a Egg", metadata("kitchen24_start"))
    assert mapped.steps == () and mapped.error == "" and mapped.target == "Egg|-01.75|+00.98|-00.20"


def test_find_in_thor_5_uses_position_and_rotation_dicts():
    (step,) = reachable_skills("5").calls("find a Fridge", metadata("kitchen24_start")).steps
    assert set(step) == {"action", "position", "rotation", "horizon", "standing"}
    assert step["rotation"]["x"] == 0 and step["standing"] is True


def test_facing_measures_rotation_clockwise_from_plus_z():
    assert thor.facing(0.0, 0.0, 0.0, 1.65, 1.0)[0] == 0.0
    assert thor.facing(0.0, 0.0, 1.0, 1.65, 0.0)[0] == 90.0
    assert thor.facing(0.0, 0.0, 0.0, 1.65, -1.0)[0] == 180.0
    assert thor.facing(0.0, 0.0, 0.0, 1.65, 1.0)[1] == 0.0  # at eye height: level


def test_pick_up_picks_the_nearest_visible_object_of_the_type():
    mapped = thor.ThorSkills().calls("pick up the Egg", metadata("kitchen24_start"))
    assert mapped.steps == ({"action": "PickupObject", "objectId": "Egg|-01.75|+00.98|-00.20",
                             "forceAction": False},)


def test_objects_in_closed_receptacles_come_last():
    meta = metadata("kitchen24_start")
    pot = next(o for o in meta["objects"] if o["objectId"].startswith("Pot"))
    meta["objects"].append(dict(pot, objectId="Pot|+01.90|+00.80|-01.40", distance=5.0,
                                parentReceptacles=["CounterTop|-01.80|+00.95|00.00"]))
    mapped = thor.ThorSkills().calls("pick up the Pot", meta)
    assert mapped.target == "Pot|+01.90|+00.80|-01.40"  # farther, but the other pot is in a closed cabinet


def test_put_down_puts_into_the_last_found_receptacle_in_each_versions_form():
    meta = metadata("kitchen24_start")
    meta["inventoryObjects"] = [{"objectId": "Egg|-01.75|+00.98|-00.20", "objectType": "Egg"}]
    old = reachable_skills("2.1")
    old.calls("find a Microwave", meta)
    assert old.calls("put down the object in hand", meta).steps == (
        {"action": "PutObject", "objectId": "Egg|-01.75|+00.98|-00.20",
         "receptacleObjectId": "Microwave|-01.85|+01.25|+00.60", "forceAction": True},)
    new = reachable_skills("5")
    new.calls("find a Microwave", meta)
    new.calls("open the Microwave", meta)  # open keeps the receptacle, as in EB's connector
    assert new.calls("put down the object in hand", meta).steps == (
        {"action": "PutObject", "objectId": "Microwave|-01.85|+01.25|+00.60", "forceAction": True},)


def test_put_down_after_another_skill_drops_the_object_as_eb_does():
    meta = metadata("kitchen24_start")
    meta["inventoryObjects"] = [{"objectId": "Egg|-01.75|+00.98|-00.20", "objectType": "Egg"}]
    skills = reachable_skills()
    skills.calls("find a Microwave", meta)
    skills.calls("turn on the Microwave", meta)
    assert skills.calls("put down the object in hand", meta).steps == (
        {"action": "DropHandObject", "forceAction": True},)


def test_put_down_with_an_empty_hand_is_ebs_message():
    skills = reachable_skills()
    skills.calls("find a CounterTop", metadata("kitchen24_start"))
    assert skills.calls("put down the object in hand", metadata("kitchen24_start")).error == (
        "Robot is not holding any object")


@pytest.mark.parametrize(
    ("skill", "action", "object_id"),
    [
        ("open the Microwave", "OpenObject", "Microwave|-01.85|+01.25|+00.60"),
        ("close the Fridge", "CloseObject", "Fridge|+02.00|00.00|-01.50"),
        ("turn on the Faucet", "ToggleObjectOn", "Faucet|-02.05|+01.05|-00.80"),
        ("turn off the Microwave", "ToggleObjectOff", "Microwave|-01.85|+01.25|+00.60"),
        ("slice the Apple", "SliceObject", "Apple|+01.00|+00.84|+00.95"),
        ("open the Cabinet_2", "OpenObject", "Cabinet|-01.20|+00.40|+01.95"),
        ("find a Sink", None, "Sink|-01.85|+00.90|-00.80|SinkBasin"),
    ],
)
def test_each_skill_maps_to_its_controller_action(skill, action, object_id):
    mapped = reachable_skills().calls(skill, metadata("kitchen24_start"))
    assert mapped.error == "" and mapped.target == object_id
    if action is not None:
        assert mapped.steps == ({"action": action, "objectId": object_id},)


def test_drop_and_unknown_things_and_skills():
    skills = reachable_skills()
    meta = metadata("kitchen24_start")
    assert skills.calls("drop the object in hand", meta).steps == ({"action": "DropHandObject", "forceAction": True},)
    assert skills.calls("pick up the Laptop", meta).error == "Cannot find Laptop to pick up"
    assert skills.calls("find a Laptop", meta).error == "Cannot find Laptop"
    assert skills.calls("juggle the Apple", meta).error == "instruction not supported"


def test_instances_are_named_by_objectid_as_the_embedded_engine_names_them():
    names = thor.instance_names(metadata("kitchen24_start")["objects"])
    assert names["Cabinet|-00.80|+00.40|+01.90"] == "Cabinet"
    assert names["Cabinet|-01.20|+00.40|+01.95"] == "Cabinet_2"


def test_after_slicing_pick_up_prefers_the_slices():
    skills = thor.ThorSkills()
    meta = metadata("kitchen24_apple_sliced")
    meta["inventoryObjects"] = []
    skills.sliced = True
    assert skills.calls("pick up the Apple", meta).target == "Apple|+01.00|+00.84|+00.95|AppleSliced_1"


# -------------------------------------------------------------------------------------- THOR: goal facts


def test_heating_is_tracked_as_alfreds_thorenv_tracks_it_and_the_loaders_goals_hold():
    heat_goals = goals_of("pick_heat_then_place_in_recep-Egg")
    states = thor.AlfredStates()
    assert thor.progress(heat_goals, metadata("kitchen24_start"), states) == (0, 3)
    in_microwave = metadata("kitchen24_egg_in_microwave_on")
    states.update({"action": "ToggleObjectOn", "objectId": "Microwave|-01.85|+01.25|+00.60"}, in_microwave)
    assert states.heated == {"Egg|-01.75|+00.98|-00.20"}
    assert thor.progress(heat_goals, in_microwave, states) == (1, 3)  # heated, not yet on the table
    assert thor.progress(heat_goals, metadata("kitchen24_egg_on_table"), states) == (3, 3)


def test_a_failed_step_changes_no_state():
    states = thor.AlfredStates()
    failed = dict(metadata("kitchen24_egg_in_microwave_on"), lastActionSuccess=False)
    states.update({"action": "ToggleObjectOn", "objectId": "Microwave|-01.85|+01.25|+00.60"}, failed)
    assert states.heated == set()


def test_cooling_and_cleaning_follow_the_fridge_and_the_faucet():
    meta = metadata("kitchen24_start")
    fridge = next(o for o in meta["objects"] if o["objectType"] == "Fridge")
    basin = next(o for o in meta["objects"] if o["objectType"] == "SinkBasin")
    fridge["receptacleObjectIds"], basin["receptacleObjectIds"] = ["Apple|+01.00|+00.84|+00.95"], [
        "Mug|+00.70|+00.82|+00.55"]
    states = thor.AlfredStates()
    states.update({"action": "CloseObject", "objectId": fridge["objectId"]}, meta)
    states.update({"action": "ToggleObjectOn", "objectId": "Faucet|-02.05|+01.05|-00.80"}, meta)
    assert states.cooled == {"Apple|+01.00|+00.84|+00.95"} and states.cleaned == {"Mug|+00.70|+00.82|+00.55"}


def test_without_alfreds_sets_thors_own_temperature_counts():
    facts = {f.id: f for f in thor.facts_from_metadata(metadata("kitchen24_egg_on_table"))}
    assert facts["Egg|-01.75|+00.98|-00.20"].heated
    assert not facts["Mug|+00.70|+00.82|+00.55"].cleaned  # dirty


def test_look_at_obj_in_light_holds_on_thor_metadata():
    look_goals = goals_of("look_at_obj_in_light-AlarmClock")
    meta = metadata("bedroom318_clock_under_lamp")
    assert thor.progress(look_goals, meta) == (2, 2)
    lamp = next(o for o in meta["objects"] if o["objectType"] == "DeskLamp")
    lamp["visible"] = False
    assert thor.progress(look_goals, meta) == (1, 2)  # ALFRED: the lamp must be on and in view


def test_slices_stand_for_the_whole_object_once_sliced():
    facts = thor.facts_from_metadata(metadata("kitchen24_apple_sliced"))
    apples = [f for f in facts if f.type == "Apple"]
    assert len(apples) == 3 and all(f.sliced for f in apples)
    assert all("DiningTable" in f.parent_types for f in apples)
    assert thor.progress(["sliced(Apple)", "inside(Apple[sliced], DiningTable)"],
                         metadata("kitchen24_apple_sliced")) == (2, 2)


def test_receptacles_count_at_any_depth():
    meta = metadata("kitchen24_start")
    mug = next(o for o in meta["objects"] if o["objectType"] == "Mug")
    knife = next(o for o in meta["objects"] if o["objectType"] == "Knife")
    counter = next(o for o in meta["objects"] if o["objectType"] == "CounterTop")
    counter["receptacleObjectIds"].remove(knife["objectId"])
    mug["receptacleObjectIds"] = [knife["objectId"]]
    knife["parentReceptacles"] = [mug["objectId"]]
    facts = {f.id: f for f in thor.facts_from_metadata(meta)}
    assert facts[knife["objectId"]].parent_types[:2] == ("Mug", "DiningTable")
    assert thor.progress(["inside(Knife, Mug)", "inside(Mug, DiningTable)", "inside(Knife, DiningTable)"],
                         meta) == (3, 3)


# ---------------------------------------------------------------------------------------------- Habitat


def test_habitat_skills_map_to_their_ids_and_pddl_actions():
    assert habitat.hl_action("navigate to the table 1") == habitat.HlAction(6, "nav", ("table_1",))
    assert habitat.hl_action(12).name == "nav" and habitat.hl_action(12).args == ("sofa",)
    assert habitat.hl_action("pick up the apple") == habitat.HlAction(33, "pick", ("apple",))
    assert habitat.hl_action("place at the table 1") == habitat.HlAction(50, "place", ("table_1",))
    assert habitat.hl_action("close the refrigerator") == habitat.HlAction(61, "close_fridge", ("refrigerator",))
    assert habitat.hl_action("open the cabinet 5").name == "open_cab_by_name"
    assert habitat.hl_action(33).step == {"action": "pddl_hl_action", "action_args": {"pddl_action": 33}}


def test_an_unknown_habitat_skill_is_one_line():
    with pytest.raises(SimyardError, match="is not one of EB-Habitat's 70 skills"):
        habitat.hl_action("dance")
    with pytest.raises(SimyardError):
        habitat.hl_action(70)


def test_habitat_predicates_become_facts_for_the_rearrange_goals():
    state = ["on_top(apple_0, table_1)", "in(banana_:0000, refrigerator)", "opened_fridge(refrigerator)",
             "robot_at(table_1)"]
    goal = ["on_top(apple, table_1)", "not_holding()", "inside(banana, refrigerator)", "open(refrigerator)"]
    assert habitat.progress(goal, state) == (4, 4)
    assert habitat.progress(["holding(apple)"], ["holding(apple_0)"]) == (1, 1)
    assert habitat.progress(["on_top(apple, table)"], state) == (1, 1)  # table_1 is a table


def test_habitat_entity_names_can_be_mapped():
    state = ["on_top(TARGET_any_targets|0, receptacle_aabb_Tbl2_Top1_frl_apartment_table_02)"]
    names = {"TARGET_any_targets|0": "apple", "receptacle_aabb_Tbl2_Top1_frl_apartment_table_02": "table_2"}
    assert habitat.progress(["on_top(apple, table_2)"], state, names) == (1, 1)


def test_a_malformed_habitat_predicate_is_refused():
    with pytest.raises(SimyardError, match="not a PDDL predicate"):
        habitat.facts_from_predicates(["on_top apple table"])


# ----------------------------------------------------------------------------------------------------- live

HAS_AI2THOR = importlib.util.find_spec("ai2thor") is not None
LIVE_THOR = HAS_AI2THOR and os.environ.get("SIMYARD_THOR_LIVE") == "1"


@pytest.mark.skipif(not LIVE_THOR, reason="needs ai2thor installed (pip install 'simyard[thor]') and "
                    "SIMYARD_THOR_LIVE=1 on a machine where its Unity build starts (X server or CloudRendering)")
def test_live_thor_plays_a_fixture_task_to_its_goal():
    traj = trajectory("pick_and_place_simple-KeyChain")
    task = next(t for t in load_eb_alfred(ALFRED) if t.goal["alfred_task"].startswith("pick_and_place_simple-Key"))
    live = thor.ThorHousehold(api="5", platform=os.environ.get("SIMYARD_THOR_PLATFORM") or None)
    try:
        live.reset(traj)
        for skill in task.config["plan"]:
            live.execute(skill)
        met, total = live.progress(task.config["goals"])
        assert total == 1  # the fixture floor plans are not THOR's, so only the mapping is exercised end to end
    finally:
        live.close()


@pytest.mark.skipif(importlib.util.find_spec("habitat") is None,
                    reason="needs habitat-lab and habitat-sim (conda install habitat-sim -c aihabitat; not on PyPI "
                    "for this Python)")
def test_live_habitat_wrapper_steps_with_the_skill_id():
    stepped = []

    class FakeEnv:
        def step(self, action):
            stepped.append(action)
            return action

    habitat.HabitatRearrange(FakeEnv()).execute("pick up the apple")
    assert stepped == [{"action": "pddl_hl_action", "action_args": {"pddl_action": 33}}]


def test_building_a_live_habitat_adapter_without_habitat_names_what_to_install():
    if importlib.util.find_spec("habitat") is not None:
        pytest.skip("habitat is installed here")
    from simyard.platform.errors import MissingExtraError

    with pytest.raises(MissingExtraError, match="habitat-lab is not installed"):
        habitat.HabitatRearrange(object())
