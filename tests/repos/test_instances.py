"""The instance model: JSONL, SyncBench's CSV both ways, and turning an instance into a workspace's contents."""

from __future__ import annotations

import csv
from pathlib import Path

import git as gitpython
import pytest

from simyard.platform.errors import TaskFileError
from simyard.repos.history import functions_in
from simyard.repos.instances import SYNCBENCH_COLUMNS, belief_of, export_csv, import_csv, read_instances

FIXTURE = Path(__file__).parents[1] / "fixtures" / "syncbench" / "syncbench_sample.csv"


def test_a_csv_round_trip_loses_nothing(built, tmp_path):
    instances = read_instances(built[1])
    assert export_csv(instances, tmp_path / "suite.csv") == len(instances)
    assert import_csv(tmp_path / "suite.csv") == instances


def test_the_csv_starts_with_syncbenchs_columns_in_its_order(built, tmp_path):
    export_csv(read_instances(built[1]), tmp_path / "suite.csv")
    with (tmp_path / "suite.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames[:19]) == SYNCBENCH_COLUMNS
        row = next(reader)
    assert row["pyfile_path"].startswith("./test_repo/") and row["unittest_path"].startswith("./test_repo/tests/")
    assert row["original_summary"].startswith("{'total': ")
    assert row["fm_name"] == row["simyard_function"].rsplit(".", 1)[-1]


def test_a_published_syncbench_row_imports():
    (instance,) = import_csv(FIXTURE)
    assert instance.setting == "callee" and instance.kind == "method" and instance.function == "merge"
    assert instance.file == "src/requests/sessions.py" and instance.test_file == "tests/test_sessions.py"
    assert instance.repo == "requests" and instance.world_sha == ""
    assert instance.old_summary["failed"] == 1 and instance.gold_summary["passed"] == 3
    # SyncBench's code has no decorators and no final newline; splicing still finds the method by its bare name
    spliced = instance.belief_text()
    assert functions_in(spliced)["Session.merge"].code == "def merge(self, other):\n    self.headers.update(other)\n"
    with pytest.raises(TaskFileError, match="no world sha"):
        belief_of(instance)


def test_import_pins_the_world_state_with_the_source(built, mini, tmp_path):
    export_csv(read_instances(built[1]), tmp_path / "suite.csv")
    with (tmp_path / "suite.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    plain = tmp_path / "plain.csv"
    with plain.open("w", newline="") as handle:  # SyncBench's columns only, as published
        writer = csv.DictWriter(handle, fieldnames=SYNCBENCH_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    instances = import_csv(plain, source=gitpython.Repo(mini.path))
    assert {i.world_sha for i in instances} == {mini.head}
    assert all(i.fail_to_pass == [] for i in instances)  # SyncBench keeps counts only


def test_a_csv_without_syncbench_columns_is_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(TaskFileError, match="lacks SyncBench column"):
        import_csv(tmp_path / "bad.csv")


def test_a_bad_jsonl_line_names_the_line(built, tmp_path):
    lines = (built[1] / "instances.jsonl").read_text().splitlines()
    (tmp_path / "instances.jsonl").write_text(lines[0] + "\n" + '{"instance_id": "x"}\n')
    with pytest.raises(TaskFileError, match=r"instances.jsonl:2"):
        read_instances(tmp_path)


def test_belief_of_splices_the_old_function_into_the_world_file(built):
    instance = read_instances(built[1])[0]
    belief = belief_of(instance)
    assert belief.world_sha == instance.world_sha and belief.base_sha == instance.belief_sha
    text = belief.files[instance.file]
    assert functions_in(text)[instance.function].code == instance.old_code
    assert text != instance.world_file
