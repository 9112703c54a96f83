"""EB-Navigation's own task files (`datasets/<subset>.json`) on the embedded engine: the fixtures load, the rebuilt
kitchens keep the recorded geometry, the oracle solves them, and malformed files fail with one line naming the file
and the key."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simyard.platform import registry
from simyard.platform.errors import TaskFileError
from simyard.sims.household.state import House
from simyard.sims.navigation import eb_data, starts
from simyard.sims.navigation.space import FreeSpace

FIXTURES = Path(__file__).parents[2] / "fixtures" / "eb_navigation"


@pytest.fixture(scope="module")
def tasks():
    return eb_data.load_eb_navigation(FIXTURES)


@pytest.fixture
def copy(tmp_path) -> Path:
    """A writable copy of the fixture folder."""
    shutil.copytree(FIXTURES / "datasets", tmp_path / "datasets")
    return tmp_path


def _entries(subset: str = "base") -> list[dict]:
    return json.loads((FIXTURES / "datasets" / f"{subset}.json").read_text())["tasks"]


def test_the_fixture_folder_loads_every_subset_in_eb_order(tasks):
    assert len(tasks) == 30
    assert [t.subset for t in tasks[::6]] == list(eb_data.SUBSETS)
    assert tasks[0].id == "eb-navigation-data-base-000" and tasks[0].world == "navigation"
    assert {(t.max_steps, t.max_invalid) for t in tasks} == {(20, None)}


def test_the_datasets_folder_itself_can_be_given(tasks):
    assert eb_data.load_eb_navigation(FIXTURES / "datasets") == tasks


def test_the_suite_option_data_reads_the_folder(tasks):
    assert registry.load_suite("eb-navigation", {"data": str(FIXTURES)}) == tasks


def test_positions_convert_from_thors_y_up_frame(tasks):
    entry = _entries()[0]
    task = tasks[0]
    assert tuple(task.config["target_xy"]) == (entry["target_position"]["x"], entry["target_position"]["z"])
    x, y, _ = task.config["start"]
    assert (x, y) == (entry["agentPose"]["position"]["x"], entry["agentPose"]["position"]["z"])


@pytest.mark.parametrize(("thor", "ours"), [(0.0, 90.0), (90.0, 0.0), (180.0, 270.0), (270.0, 180.0)])
def test_thors_clockwise_rotation_becomes_our_counter_clockwise_yaw(copy, thor, ours):
    file = copy / "datasets" / "base.json"
    data = json.loads(file.read_text())
    data["tasks"][0]["agentPose"]["rotation"] = thor
    file.write_text(json.dumps(data))
    task = eb_data.load_eb_navigation(copy, subsets=["base"])[0]
    assert task.config["start"][2] == ours


def test_the_start_distance_and_heading_are_the_recorded_ones(tasks):
    for task, entry in zip(tasks, [e for s in eb_data.SUBSETS for e in _entries(s)], strict=True):
        target = (entry["target_position"]["x"], entry["target_position"]["z"])
        start = (entry["agentPose"]["position"]["x"], entry["agentPose"]["position"]["z"])
        assert math.dist(task.config["start"][:2], task.config["target_xy"]) == pytest.approx(math.dist(start, target))


def test_the_target_is_in_the_field_at_the_start_unless_long_horizon(tasks):
    for task in tasks:
        in_field = starts.in_field(tuple(task.config["start"]), tuple(task.config["target_xy"]), 100.0)
        assert in_field == (task.subset != "long_horizon"), task.id


def test_the_rebuilt_kitchen_keeps_the_floor_between_start_and_target_free(tasks):
    for task in tasks:
        house = House.from_dict(task.config["scene"])
        space = FreeSpace(house)
        start, target = tuple(task.config["start"][:2]), tuple(task.config["target_xy"])
        assert starts.free_start(space, start) and starts.clear_line(space, start, target), task.id


def test_the_rebuilt_kitchen_is_one_room_of_ithors_size(tasks):
    for task in tasks:
        (room,) = task.config["scene"]["rooms"]
        sides = (room["x1"] - room["x0"], room["y1"] - room["y0"])
        assert all(3.5 - 1e-6 <= side <= 7.0 for side in sides), (task.id, sides)


def test_the_target_stands_at_its_recorded_height_on_furniture_that_fits(tasks):
    from simyard.sims.household.scene import placements

    for task in tasks[:6]:
        entry = next(e for e in _entries() if e["targetObjectIds"] == task.config["target_id"])
        house = House.from_dict(task.config["scene"])
        z = placements(house)[task.config["target_id"]].center[2]
        if entry["target_position"]["y"] > 0.3:
            assert z == pytest.approx(entry["target_position"]["y"], abs=0.01), task.id


def test_the_same_record_gives_the_same_kitchen_in_every_subset(tasks):
    base, common = tasks[0], tasks[6]
    assert base.config["scene"] == common.config["scene"]


def test_the_oracle_solves_every_fixture_task():
    assert eb_data.report(FIXTURES) == {subset: 1.0 for subset in eb_data.SUBSETS}


def test_oracle_share_counts_a_task_out_of_reach_as_unsolved(tasks):
    far = tasks[0].model_copy(update={"max_steps": 2})
    assert eb_data.oracle_share([tasks[0], far]) == 0.5


def test_a_list_of_object_ids_and_a_rotation_dict_are_read(copy):
    file = copy / "datasets" / "base.json"
    data = json.loads(file.read_text())
    entry = data["tasks"][0]
    entry["targetObjectIds"] = [entry["targetObjectIds"]]
    entry["agentPose"]["rotation"] = {"x": 0, "y": 90.0, "z": 0}
    file.write_text(json.dumps(data))
    task = eb_data.load_eb_navigation(copy, subsets=["base"])[0]
    assert task.config["target_id"] == entry["targetObjectIds"][0] and task.config["start"][2] == 0.0


# ----------------------------------------------------------------------------------------------- bad input


def _broken(copy: Path, change) -> str:
    file = copy / "datasets" / "base.json"
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))
    with pytest.raises(TaskFileError) as caught:
        eb_data.load_eb_navigation(copy)
    return str(caught.value)


def test_a_path_that_is_not_a_folder_is_refused(tmp_path):
    with pytest.raises(TaskFileError, match="no such folder"):
        eb_data.load_eb_navigation(tmp_path / "nowhere")


def test_a_folder_without_dataset_files_is_refused(tmp_path):
    with pytest.raises(TaskFileError, match="not an EB-Navigation data folder"):
        eb_data.load_eb_navigation(tmp_path)


def test_a_file_that_is_not_json_names_the_file_and_line(copy):
    (copy / "datasets" / "common_sense.json").write_text('{"tasks": [\n  {"scene": }\n]}')
    with pytest.raises(TaskFileError, match=r"common_sense\.json: not valid JSON \(line 2"):
        eb_data.load_eb_navigation(copy)


def test_a_file_without_tasks_is_refused(copy):
    assert "base.json: no key 'tasks'" in _broken(copy, lambda data: data.pop("tasks"))


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (("targetObjectType",), "'targetObjectType'"),
        (("target_position", "y"), "'target_position.y'"),
        (("agentPose", "position", "z"), "'agentPose.position.z'"),
        (("agentPose", "horizon"), "'agentPose.horizon'"),
        (("object_to_hide",), "'object_to_hide'"),
        (("instruction",), "'instruction'"),
    ],
)
def test_a_missing_key_names_the_file_the_task_and_the_key(copy, key, shown):
    def drop(data):
        node = data["tasks"][2]
        for part in key[:-1]:
            node = node[part]
        del node[key[-1]]

    message = _broken(copy, drop)
    assert "base.json: task 2: no key " + shown in message


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("targetObjectIds", 7, "should be an objectId or a list"),
        ("targetObjectType", "", "should be a non-empty string"),
        ("object_to_hide", "Bread|1|2|3", "should be a list of objectIds"),
    ],
)
def test_a_mistyped_key_says_what_it_should_be(copy, key, value, said):
    message = _broken(copy, lambda data: data["tasks"][1].update({key: value}))
    assert f"task 1: key '{key}' {said}" in message


def test_a_non_number_position_is_refused(copy):
    message = _broken(copy, lambda data: data["tasks"][0]["target_position"].update({"x": "1.3"}))
    assert "key 'target_position.x' should be a number" in message


def test_a_horizon_outside_thors_range_is_refused(copy):
    message = _broken(copy, lambda data: data["tasks"][0]["agentPose"].update({"horizon": 90}))
    assert "outside AI2-THOR's -30 to 60" in message


def test_the_cli_prints_one_line_for_a_broken_file(copy):
    (copy / "datasets" / "base.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "simyard", "tasks", "list", "eb-navigation", "--data", str(copy)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "base.json: no key 'tasks'" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
