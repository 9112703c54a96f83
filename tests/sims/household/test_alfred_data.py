"""EB-ALFRED's data folder read as `household` tasks: goals per ALFRED task type, scenes from floor plans and
trajectories, instructions and plans from the split files, one-line errors for bad folders, and every fixture task
solved on the embedded engine by its reference plan and by the oracle."""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from simyard.platform import registry
from simyard.platform.errors import TaskFileError
from simyard.sims.household import alfred_data
from simyard.sims.household.alfred_data import load_eb_alfred, oracle_share, plan_steps
from simyard.sims.household.state import House

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "eb_alfred"

#: ALFRED's env/tasks.py: conditions per task type (a sliced target adds one; two for pick_two_obj_and_place).
CONDITIONS = {
    "pick_and_place_simple": 1,
    "pick_two_obj_and_place": 2,
    "look_at_obj_in_light": 2,
    "pick_heat_then_place_in_recep": 3,
    "pick_cool_then_place_in_recep": 3,
    "pick_clean_then_place_in_recep": 3,
    "pick_and_place_with_movable_recep": 3,
}


@pytest.fixture(scope="module")
def tasks():
    return load_eb_alfred(DATA)


def by_folder(tasks, folder_start: str):
    """The task whose ALFRED folder starts with `folder_start` (`pick_heat_then_place_in_recep-BreadSliced`)."""
    return next(t for t in tasks if t.goal["alfred_task"].startswith(folder_start))


def house_of(task) -> House:
    return House.from_dict(task.config["scene"])


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture folder, to damage."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target, ignore=shutil.ignore_patterns("*.py"))
    return target


# --------------------------------------------------------------------------------------------------- loading


def test_every_split_entry_becomes_a_household_task_of_its_split_files_subset(tasks):
    assert len(tasks) == 24 and len({t.id for t in tasks}) == 24
    assert {t.world for t in tasks} == {"household"}
    counts = Counter(t.subset for t in tasks)
    assert set(counts) == set(alfred_data.SUBSETS)
    for subset in alfred_data.SUBSETS:
        entries = json.loads((DATA / "splits" / f"{subset}.json").read_text())
        assert counts[subset] == len(entries)


def test_fixtures_cover_every_task_type_three_times_and_sliced_variants(tasks):
    types = Counter(t.config["task_type"] for t in tasks)
    assert set(types) == set(alfred_data.TASK_TYPES) and min(types.values()) >= 3
    assert sum("Sliced-" in t.goal["alfred_task"] for t in tasks) == 3


def test_instruction_is_the_split_entrys_task_description(tasks):
    entries = json.loads((DATA / "splits" / "common_sense.json").read_text())
    loaded = [t for t in tasks if t.subset == "common_sense"]
    for entry, task in zip(entries, loaded, strict=True):
        assert task.instruction == entry["task description"] == task.config["instruction"]


def test_the_eb_alfred_suite_reads_a_data_folder_given_as_a_suite_option():
    loaded = registry.load_suite("eb-alfred", {"data": str(DATA)})
    assert [t.id for t in loaded] == [t.id for t in load_eb_alfred(DATA)]


def test_an_option_a_suite_does_not_take_is_refused_by_name():
    from simyard.platform.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="does not take the option"):
        registry.load_suite("ragen", {"data": str(DATA)})


def test_bench_run_reads_the_data_folder_and_records_it_for_resume(tmp_path):
    from simyard.platform.bench import ResumeError, run_bench
    from simyard.platform.rundir import open_run

    summary = run_bench("eb-alfred", "oracle", limit=3, out=tmp_path / "run", frames="none",
                        suite_options={"data": str(DATA)})
    assert len(summary.results) == 3 and all(r.success for r in summary.results)
    assert open_run(tmp_path / "run").manifest.config.suite_options == {"data": str(DATA)}
    with pytest.raises(ResumeError, match="suite_options"):
        run_bench(resume=tmp_path / "run", suite_options={"data": str(tmp_path)})


def test_subsets_can_be_chosen():
    loaded = load_eb_alfred(DATA, subsets=["long_horizon"])
    assert {t.subset for t in loaded} == {"long_horizon"} and len(loaded) == 4


# ------------------------------------------------------------------------------------------------------ goals


def test_goal_conditions_per_task_type_follow_alfreds_tasks_py(tasks):
    for task in tasks:
        sliced = "Sliced-" in task.goal["alfred_task"]
        extra = (2 if task.config["task_type"] == "pick_two_obj_and_place" else 1) if sliced else 0
        assert len(task.config["goals"]) == CONDITIONS[task.config["task_type"]] + extra, task.id


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("pick_and_place_simple-KeyChain-None-Sofa", ["inside(KeyChain, Sofa)"]),
        ("pick_two_obj_and_place-CellPhone", ["inside(CellPhone, Bed)", "inside(CellPhone, Bed, 2)"]),
        ("look_at_obj_in_light-AlarmClock", ["holding(AlarmClock)", "visible(DeskLamp[toggled])"]),
        (
            "pick_heat_then_place_in_recep-Egg",
            ["inside(Egg, DiningTable)", "heated(Egg)", "inside(Egg[heated], DiningTable)"],
        ),
        (
            "pick_cool_then_place_in_recep-Tomato",
            ["inside(Tomato, CounterTop)", "cooled(Tomato)", "inside(Tomato[cooled], CounterTop)"],
        ),
        (
            "pick_clean_then_place_in_recep-Ladle",
            ["inside(Ladle, DiningTable)", "cleaned(Ladle)", "inside(Ladle[cleaned], DiningTable)"],
        ),
        (
            "pick_and_place_with_movable_recep-Pencil-Mug-Desk",
            ["inside(Pencil, Mug)", "inside(Mug, Desk)", "inside(Pencil, Desk)"],
        ),
        (
            "pick_heat_then_place_in_recep-BreadSliced",
            [
                "sliced(Bread)",
                "inside(Bread[sliced], CounterTop)",
                "heated(Bread[sliced])",
                "inside(Bread[sliced,heated], CounterTop)",
            ],
        ),
        ("pick_and_place_simple-TomatoSliced", ["sliced(Tomato)", "inside(Tomato[sliced], CounterTop)"]),
    ],
)
def test_goal_predicates_of_each_task_type(tasks, folder, expected):
    task = by_folder(tasks, folder)
    assert task.config["goals"] == expected
    assert task.goal["predicates"] == expected


# ----------------------------------------------------------------------------------------------------- scenes


def test_object_poses_turn_from_thors_y_up_to_the_kernels_z_up(tasks):
    # AlarmClock_a68436a8 is posed at THOR (x=-1.35, y=1.24 up, z=-0.65)
    house = house_of(by_folder(tasks, "look_at_obj_in_light-AlarmClock"))
    clock = house.by_name("AlarmClock")
    assert clock is not None and clock.id == "AlarmClock|-01.35|+01.24|-00.65"
    assert clock.pos == pytest.approx((-1.35, -0.65, 1.24))


def test_fixed_things_come_from_openable_json_centred_and_facing_the_agents_spot(tasks):
    house = house_of(by_folder(tasks, "pick_and_place_simple-Apple-None-Fridge"))
    assert len(house.of_type("Cabinet")) == 3 and len(house.of_type("Drawer")) == 1
    fridge = house.things["Fridge|-02.10|+00.00|+00.50"]
    assert fridge.openable and not fridge.is_open
    assert fridge.pos[2] == pytest.approx(fridge.size_m[2] / 2)  # THOR's pivot is on the floor
    assert fridge.yaw_deg == pytest.approx(0.0)  # openable.json stands the agent at x=-1.25, east of it
    basin = house.things["Sink|+00.60|+00.92|-01.80|SinkBasin"]
    assert basin.type == "SinkBasin" and basin.name == "SinkBasin"


def test_a_plans_pickup_names_the_receptacle_an_object_starts_in_even_one_no_layout_lists(tasks):
    house = house_of(by_folder(tasks, "pick_and_place_simple-Apple-None-Fridge"))
    apple = house.by_name("Apple")
    assert apple is not None and apple.parent is not None
    can = house.things[apple.parent]
    assert can.type == "GarbageCan" and can.pos[:2] == pytest.approx((1.90, -1.20))


def test_untouched_objects_lie_in_the_nearest_receptacle_that_takes_them(tasks):
    house = house_of(by_folder(tasks, "pick_and_place_simple-Apple-None-Fridge"))
    parent_type = {t.type: house.things[t.parent].type for t in house.things.values() if t.parent}
    assert parent_type["Spoon"] == "Drawer"
    assert parent_type["Lettuce"] == "Fridge"
    assert parent_type["Potato"] == "CounterTop"
    assert parent_type["Plate"] == "DiningTable"


def test_plan_objects_without_a_layout_entry_stand_where_the_plan_names_them(tasks):
    house = house_of(by_folder(tasks, "look_at_obj_in_light-AlarmClock"))
    lamp = house.by_name("DeskLamp")
    assert lamp is not None and lamp.id == "DeskLamp|+02.50|+00.78|-01.35" and lamp.toggleable


def test_floor_plan_types_are_placed_but_unposed_pickables_and_scenery_are_not(tasks):
    house = house_of(by_folder(tasks, "pick_two_obj_and_place-CellPhone"))
    types = {t.type for t in house.things.values()}
    assert "GarbageCan" in types  # listed in FloorPlan318-objects.json, placed on a free spot
    assert "Pen" not in types  # pickable, but no pose: THOR's SetObjectPoses removes it
    assert not types & {"Window", "Floor", "Mirror", "Blinds"}
    room = house.rooms[0]
    assert room.kind == "bedroom"
    assert all(room.contains(t.pos[0], t.pos[1]) for t in house.things.values())


def test_several_things_of_a_type_are_named_as_eb_alfred_names_instances(tasks):
    house = house_of(by_folder(tasks, "pick_two_obj_and_place-CellPhone"))
    assert sorted(t.name for t in house.of_type("CellPhone")) == ["CellPhone", "CellPhone_2"]


def test_toggles_and_dirty_and_empty_set_the_starting_states(tasks):
    lamp_task = house_of(by_folder(tasks, "look_at_obj_in_light-AlarmClock"))
    assert lamp_task.by_name("DeskLamp").is_on is False  # type: ignore[union-attr]
    clean = house_of(by_folder(tasks, "pick_clean_then_place_in_recep-Plate"))
    assert clean.by_name("Bowl").is_dirty and clean.by_name("Mug").is_dirty  # type: ignore[union-attr]
    assert not clean.by_name("Apple").is_dirty  # type: ignore[union-attr]
    other = house_of(by_folder(tasks, "pick_and_place_simple-Apple-None-Fridge"))
    assert not any(t.is_dirty for t in other.things.values())


def test_the_agent_starts_at_init_actions_teleport(tasks):
    house = house_of(by_folder(tasks, "look_at_obj_in_light-AlarmClock"))
    # FloorPlan318's fixtures start at x=-0.75, z=-1.25 facing THOR rotation 0 (+z), i.e. +y here
    assert house.agent.pose == pytest.approx((-0.75, -1.25, 90.0))
    assert house.agent.horizon_deg == 30.0 and house.agent.holding is None


# ------------------------------------------------------------------------------------------------------ plans


def test_nl_steps_become_the_worlds_skill_words(tasks):
    task = by_folder(tasks, "pick_clean_then_place_in_recep-Ladle")
    assert task.config["plan"][:4] == [
        "find a Ladle",
        "pick up the Ladle",
        "find a Sink",
        "put down the object in hand",
    ]
    assert "turn on the Faucet" in task.config["plan"]


def test_nl_steps_may_be_one_numbered_string():
    assert plan_steps("1. find a desk lamp, 2. turn on the desk lamp\n3) Drop the mug", "here") == [
        "find a DeskLamp",
        "turn on the DeskLamp",
        "drop the object in hand",
    ]


def test_a_step_in_no_skill_form_is_kept_as_written():
    assert plan_steps(["wave at the cat", "find a Cabinet_2"], "here") == ["wave at the cat", "find a Cabinet_2"]


# ----------------------------------------------------------------------------------------------- bad input


def expect_error(path: Path, *fragments: str) -> TaskFileError:
    with pytest.raises(TaskFileError) as caught:
        load_eb_alfred(path)
    message = str(caught.value)
    assert "\n" not in message and caught.value.hint
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


def test_a_missing_folder_is_one_line(tmp_path):
    expect_error(tmp_path / "nowhere", "nowhere", "no such folder")


def test_a_folder_without_splits_is_not_a_data_folder(tmp_path):
    (tmp_path / "json_2.1.0").mkdir()
    expect_error(tmp_path, "not an EB-ALFRED data folder", "splits/")


def test_a_folder_without_layouts_says_where_it_looked(data_copy):
    shutil.rmtree(data_copy / "gen")
    expect_error(data_copy, "gen/layouts")


def test_a_split_entry_without_a_key_names_the_file_entry_and_key(data_copy):
    path = data_copy / "splits" / "spatial.json"
    entries = json.loads(path.read_text())
    del entries[2]["task description"]
    path.write_text(json.dumps(entries))
    expect_error(data_copy, "spatial.json", "entry 2", "'task description'")


def test_a_split_file_that_is_not_a_list_is_refused(data_copy):
    (data_copy / "splits" / "base.json").write_text('{"task": 1}')
    expect_error(data_copy, "base.json", "JSON list")


def test_a_split_file_that_is_not_json_names_the_line(data_copy):
    (data_copy / "splits" / "base.json").write_text('[\n{"repeat_idx": 0,\n')
    expect_error(data_copy, "base.json", "not valid JSON", "line")


def test_a_missing_trajectory_names_its_path_and_the_entry(data_copy):
    entry = json.loads((data_copy / "splits" / "base.json").read_text())[0]
    folder = data_copy / "json_2.1.0" / entry["full_scene_name"]
    shutil.rmtree(folder)
    expect_error(
        data_copy,
        f"ann_{entry['repeat_idx']}.json",
        "no such trajectory file",
        "base.json: entry 0",
        "'full_scene_name'",
    )


def test_a_trajectory_without_a_pddl_param_names_the_key(data_copy):
    entry = json.loads((data_copy / "splits" / "base.json").read_text())[0]
    path = data_copy / "json_2.1.0" / entry["full_scene_name"] / "pp" / f"ann_{entry['repeat_idx']}.json"
    traj = json.loads(path.read_text())
    del traj["pddl_params"]["object_target"]
    path.write_text(json.dumps(traj))
    expect_error(data_copy, str(path.name), "'pddl_params.object_target'")


def test_a_trajectory_of_an_unknown_task_type_lists_alfreds(data_copy):
    entry = json.loads((data_copy / "splits" / "base.json").read_text())[0]
    path = data_copy / "json_2.1.0" / entry["full_scene_name"] / "pp" / f"ann_{entry['repeat_idx']}.json"
    traj = json.loads(path.read_text())
    traj["task_type"] = "juggle"
    path.write_text(json.dumps(traj))
    error = expect_error(data_copy, "'task_type'", "juggle")
    assert "pick_and_place_simple" in error.hint


def test_a_missing_layout_file_names_it_and_the_trajectory(data_copy):
    (data_copy / "gen" / "layouts" / "FloorPlan212-openable.json").unlink()
    expect_error(data_copy, "FloorPlan212-openable.json", "scene.floor_plan")


def test_the_cli_prints_one_line_for_a_bad_data_folder(tmp_path, capsys, monkeypatch):
    from simyard.cli import main

    monkeypatch.setattr(sys, "argv", ["simyard", "tasks", "list", "eb-alfred", "--data", str(tmp_path)])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not an EB-ALFRED data folder" in err and "Traceback" not in err


def test_the_cli_lists_a_data_folders_tasks_as_the_eb_alfred_suite(capsys, monkeypatch):
    from simyard.cli import main

    monkeypatch.setattr(sys, "argv", ["simyard", "tasks", "list", "eb-alfred", "--data", str(DATA)])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code in (0, None)
    out = capsys.readouterr().out
    assert "24 tasks" in out and "household/long_horizon: 4" in out


# ---------------------------------------------------------------------------------------- on the engine


def test_every_fixture_tasks_reference_plan_succeeds_on_the_embedded_engine(tasks):
    from simyard.sims.household.alfred import HouseholdEnv

    env = HouseholdEnv(render="none")
    try:
        for task in tasks:
            env.reset(task, seed=0)
            succeeded = False
            for step in task.config["plan"]:
                result = env.step(step)
                assert result.info["valid"] or result.terminated, (task.id, step, result.info["feedback"])
                if result.info["success"]:
                    succeeded = True
                    break
            assert succeeded, task.id
    finally:
        env.close()


def test_the_oracle_solves_every_fixture_task(tasks):
    share = oracle_share(tasks)
    assert share.total == 24
    assert share.solved == 24, f"{share}; unsolved: {', '.join(share.unsolved)}"
