"""Task files are checked when read: task fields, id length, UTF-8, and each config against its world's model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simyard.platform import registry
from simyard.platform.api import Task
from simyard.platform.errors import TaskFileError
from simyard.platform.taskfiles import MAX_TASK_ID_BYTES, load_task_file, write_task_file
from simyard.tasks.ragen import ragen_suite


def jsonl(tmp_path, *tasks: dict, name: str = "tasks.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks), encoding="utf-8")
    return path


def refusal(path) -> str:
    with pytest.raises(TaskFileError) as caught:
        registry.load_suite(str(path))
    text = str(caught.value)
    assert "\n" not in text
    return caught.value.message


GOOD = {"id": "fine", "world": "countdown", "config": {"nums": [3, 5, 2], "target": 6}}


@pytest.mark.parametrize(
    ("world", "config", "field", "accepted"),
    [
        ("sokoban", {"size": "6x6"}, "size", "[rows, cols]"),
        ("sokoban", {"size": [2, 9]}, "size", "each 4 to 40"),
        ("sokoban", {"boxes": 0}, "boxes", "from 1 to 10"),
        ("sokoban", {"grid": ["#####", "#P_X#", "#####"]}, "grid", "walled all round"),
        ("sokoban", {"room_seed": "seven"}, "room_seed", "an integer"),
        ("frozenlake", {"size": 0}, "size", "from 2 to 32"),
        ("frozenlake", {"slip": 2}, "slip", "from 0 to 1"),
        ("frozenlake", {"p_frozen": 0}, "p_frozen", "above 0"),
        ("frozenlake", {"map": ["SH", "HG"]}, "map", "joined by a path"),
        ("bandit", {"pair": ["Teacher", "Teacher"]}, "pair", "two different"),
        ("bandit", {"split": "validation"}, "split", "'train' or 'test'"),
        ("bandit", {"high_prob": 1.5}, "high_prob", "from 0 to 1"),
        ("countdown", {"nums": [], "target": 3}, "nums", "whole numbers"),
        ("countdown", {"nums": [3, 5]}, "config", "give both"),
        ("countdown", {"count": 40}, "count", "2 to 6"),
        ("countdown", {"numz": [3, 5, 2]}, "numz", "Extra inputs"),
    ],
)
def test_a_bad_config_is_refused_when_the_file_is_read_naming_line_task_and_field(
    tmp_path, world, config, field, accepted
):
    path = jsonl(tmp_path, GOOD, {"id": "bad-one", "world": world, "config": config})
    message = refusal(path)
    assert message.startswith(f"{path}:2: task 'bad-one': config field {field!r}")
    assert accepted in message


def test_a_yaml_task_file_names_the_entry(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(
        "tasks:\n  - id: ok\n    world: bandit\n  - id: lake\n    world: frozenlake\n    config: {size: 0}\n"
    )
    assert refusal(path).startswith(f"{path}: entry 2: task 'lake': config field 'size'")


def test_a_bad_config_is_refused_before_any_episode_runs(tmp_path):
    # The run directory is never made: the suite is read, and refused, first.
    path = jsonl(tmp_path, {"id": "lake", "world": "frozenlake", "config": {"size": 0}})
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "simyard", "bench", "run", str(path), "--agent", "oracle", "--out", str(runs / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "task 'lake': config field 'size'" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not (runs / "r").exists()


def test_good_configs_and_unknown_worlds_are_read_as_before(tmp_path):
    path = jsonl(
        tmp_path,
        GOOD,
        {"id": "room", "world": "sokoban", "config": {"size": [8, 8], "boxes": 2, "room_seed": 4}},
        {"id": "elsewhere", "world": "not-a-registered-world", "config": {"anything": [1, "two"]}},
    )
    tasks = registry.load_suite(str(path))
    assert [task.id for task in tasks] == ["fine", "room", "elsewhere"]
    assert tasks[2].config == {"anything": [1, "two"]}


def test_the_ragen_suite_round_trips_through_a_task_file(tmp_path):
    path = tmp_path / "ragen.jsonl"
    write_task_file(path, ragen_suite())
    assert load_task_file(path) == ragen_suite()


def test_a_suite_with_a_bad_config_is_refused_naming_the_suite():
    registry.register_suite("test-bad-lake", lambda: [Task(id="lake-0", world="frozenlake", config={"slip": -1})])
    with pytest.raises(TaskFileError, match=r"^suite 'test-bad-lake': task 'lake-0': config field 'slip'"):
        registry.load_suite("test-bad-lake")


@pytest.mark.parametrize("character", ["a", "é", "水"])
def test_a_task_id_too_long_for_a_directory_name_is_refused(tmp_path, character):
    longest = character * (MAX_TASK_ID_BYTES // len(character.encode()))
    path = jsonl(tmp_path, {"id": longest, "world": "bandit"})
    assert [task.id for task in load_task_file(path)] == [longest]
    path = jsonl(tmp_path, {"id": longest + character, "world": "bandit"}, name="long.jsonl")
    message = refusal(path)
    assert message.startswith(f"{path}:1: task id") and f"longer than {MAX_TASK_ID_BYTES}" in message


def test_invalid_utf8_is_one_line_naming_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "a", "world": "bandit"}\n{"id": "caf\xe9", "world": "bandit"}\n')
    message = refusal(path)
    assert message.startswith(f"{path}:2: not UTF-8") and "0xe9" in message


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([GOOD]).encode())
    assert [task.id for task in load_task_file(path)] == ["fine"]


def test_old_imports_still_work_and_the_platform_does_not_import_tasks(tmp_path):
    from simyard.tasks import files

    assert files.load_task_file is load_task_file and files.write_task_file is write_task_file
    path = jsonl(tmp_path, GOOD, {"id": "room", "world": "sokoban"})
    code = (
        "import sys; from pathlib import Path; from simyard.platform import registry; "
        f"registry.load_suite({str(path)!r}); print('simyard.tasks' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
