"""Reading Harbor task folders: what task.toml says, and one line for every mistake (no Docker needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simyard.harbor.format import REQUIRED_FILES, find_task_dirs, parse_memory_mb, read_task
from simyard.platform import registry
from simyard.platform.errors import TaskFileError, UnknownNameError
from tests.harbor.conftest import write_task

REPO = Path(__file__).parents[2]
FULL_TOML = """version = "1.0"

[metadata]
author_name = "Someone"
category = "files"
tags = ["trivial"]
created = 2025-01-02

[agent]
timeout_sec = 90.0

[verifier]
timeout_sec = 45

[environment]
build_timeout_sec = 300.0
cpus = 2
memory_mb = 3072
storage_mb = 10240
allow_internet = false
docker_image = "ignored/by:simyard"
"""


def simyard(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd)


def test_folder_reads_timeouts_resources_and_metadata(tmp_path):
    task = read_task(write_task(tmp_path, "t1", toml=FULL_TOML))
    assert (task.agent_timeout_s, task.verifier_timeout_s, task.build_timeout_s) == (90.0, 45.0, 300.0)
    assert (task.cpus, task.memory_mb, task.allow_internet, task.has_solution) == (2.0, 3072, False, True)
    assert task.metadata == {"author_name": "Someone", "category": "files", "tags": ["trivial"],
                             "created": "2025-01-02"}
    assert task.instruction == "Write the word hello to /app/hello.txt.\n" and task.name == "t1"


def test_defaults_when_task_toml_is_empty(tmp_path):
    task = read_task(write_task(tmp_path, "t1", toml="", solve_sh=None))
    assert (task.agent_timeout_s, task.verifier_timeout_s, task.cpus, task.memory_mb) == (600.0, 600.0, 1.0, 2048)
    assert task.allow_internet and not task.has_solution


@pytest.mark.parametrize(("text", "megabytes"), [("2G", 2048), ("512M", 512), ("4Gi", 4096), ("1.5GB", 1536),
                                                 ("1T", 1048576)])
def test_memory_size_is_read_in_megabytes(text, megabytes):
    assert parse_memory_mb(text) == megabytes


def test_memory_string_in_task_toml(tmp_path):
    assert read_task(write_task(tmp_path, "t", toml='[environment]\nmemory = "2G"\n')).memory_mb == 2048


@pytest.mark.parametrize("missing", REQUIRED_FILES)
def test_missing_required_file_is_one_line_naming_it(tmp_path, missing):
    folder = write_task(tmp_path, "broken")
    (folder / missing).unlink()
    with pytest.raises(TaskFileError) as caught:
        registry.load_suite(str(tmp_path))
    assert f"Harbor task broken: missing {missing}" in caught.value.message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("toml", "named"), [
    ("[agent]\ntimeout_sec = \"soon\"\n", "[agent] timeout_sec"),
    ("[verifier]\ntimeout_sec = -5\n", "[verifier] timeout_sec"),
    ("[environment]\ncpus = \"two\"\n", "[environment] cpus"),
    ("[environment]\nallow_internet = \"yes\"\n", "[environment] allow_internet"),
    ("[environment]\nmemory = \"lots\"\n", "[environment] memory"),
    ("agent = 3\n", "[agent]"),
    ("metadata = \"x\"\n", "[metadata]"),
])
def test_malformed_task_toml_names_the_key(tmp_path, toml, named):
    folder = write_task(tmp_path, "t", toml=toml)
    with pytest.raises(TaskFileError) as caught:
        read_task(folder)
    assert caught.value.message.startswith(f"{folder / 'task.toml'}: {named}:")
    assert "\n" not in str(caught.value)


def test_task_toml_syntax_error_gives_line_and_column(tmp_path):
    with pytest.raises(TaskFileError, match=r"not valid TOML: .*line 2, column"):
        read_task(write_task(tmp_path, "t", toml="[agent]\ntimeout_sec = = 3\n"))


def test_folder_name_that_cannot_name_an_episode_is_one_line(tmp_path):
    write_task(tmp_path, "a:b")
    with pytest.raises(TaskFileError, match=r"Harbor task folder .*a:b: task id 'a:b' contains characters"):
        registry.load_suite(str(tmp_path))


def test_directory_without_task_folders_is_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(TaskFileError, match="holds no Harbor task folders"):
        find_task_dirs(tmp_path)


def test_directory_of_folders_is_a_harbor_suite(tmp_path):
    write_task(tmp_path, "b-task", toml=FULL_TOML)
    write_task(tmp_path, "a-task")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "README.md").write_text("not a task")
    tasks = registry.load_suite(str(tmp_path))
    assert [t.id for t in tasks] == ["a-task", "b-task"]
    assert {t.world for t in tasks} == {"harbor"} and [t.subset for t in tasks] == ["base", "files"]
    assert tasks[0].config["path"] == str((tmp_path / "a-task").resolve())
    assert (tasks[0].max_steps, tasks[0].max_invalid, tasks[0].config["max_turns"]) == (100, None, 50)


def test_one_task_folder_is_a_suite_of_one(tmp_path):
    tasks = registry.load_suite(str(write_task(tmp_path, "only")))
    assert [t.id for t in tasks] == ["only"]


def test_max_turns_suite_option_sets_both_caps(tmp_path):
    write_task(tmp_path, "t")
    (task,) = registry.load_suite(str(tmp_path), {"max_turns": 7})
    assert (task.config["max_turns"], task.max_steps) == (7, 14)
    with pytest.raises(TaskFileError, match="max_turns must be a whole number"):
        registry.load_suite(str(tmp_path), {"max_turns": 0})
    with pytest.raises(UnknownNameError, match="does not take the option"):
        registry.load_suite(str(tmp_path), {"data": "x"})


def test_cli_lists_task_folders_and_reports_a_missing_file_in_one_line(tmp_path):
    write_task(tmp_path, "good")
    done = simyard("tasks", "list", str(tmp_path))
    assert done.returncode == 0 and "good" in done.stdout and "harbor/base: 1" in done.stdout
    (write_task(tmp_path, "bad") / "tests" / "test.sh").unlink()
    done = simyard("bench", "run", str(tmp_path), "--agent", "oracle", "--out", str(tmp_path.parent / "run"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Harbor task bad: missing tests/test.sh" in lines[0]
