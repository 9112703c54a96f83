"""The registry: names, clear errors, task files, and plugins that declare entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from simyard.platform import registry
from simyard.platform.errors import TaskFileError, UnknownNameError


def test_unknown_world_names_the_known_ones():
    with pytest.raises(UnknownNameError) as caught:
        registry.make("sokobn")
    assert "sokobn" in caught.value.message and "sokoban" in caught.value.hint


def test_unknown_agent_options_are_a_user_error():
    with pytest.raises(UnknownNameError, match="does not accept"):
        registry.make_agent("oracle", temperature=0.3)


def test_registered_world_is_built_by_name():
    from tests.kind_worlds import JsonWorld

    registry.register_world("test-layout", JsonWorld)
    assert isinstance(registry.make("test-layout"), JsonWorld)
    assert "test-layout" in registry.names("world")


def test_task_file_in_jsonl_is_a_suite(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "a", "world": "test-shell"}) + "\n\n" + json.dumps({"id": "b", "world": "x"}))
    assert [task.id for task in registry.load_suite(str(path))] == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": "a", "world": "w"}\n{"id": "b" "world": "w"}\n', ":2: not valid JSON"),
        ('{"id": "a"}\n', "field 'world'"),
        ('{"id": "a", "world": "w", "max_steps": 0}\n', "field 'max_steps'"),
        ('{"id": "a/b", "world": "w"}\n', "not allowed in file names"),
        ('{"id": "a", "world": "w", "colour": 3}\n', "field 'colour'"),
        ("\n", "holds no tasks"),
    ],
)
def test_malformed_task_files_say_what_and_where(tmp_path, content, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(TaskFileError, match=expected.replace("(", r"\(")):
        registry.load_suite(str(path))


def test_yaml_task_file_with_tasks_key(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text("tasks:\n  - id: one\n    world: test-reach\n    subset: spatial\n")
    (task,) = registry.load_suite(str(path))
    assert (task.id, task.subset) == ("one", "spatial")


def test_duplicate_task_ids_are_rejected(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "world": "w"}\n{"id": "a", "world": "w"}\n')
    with pytest.raises(Exception, match="two tasks with id 'a'"):
        registry.load_suite(str(path))


def test_plugin_world_from_entry_point_shows_in_env_list(tmp_path):
    """A package that declares `simyard.worlds` appears in `simyard env list` without editing simyard."""
    (tmp_path / "toyworlds.py").write_text(textwrap.dedent('''
        """A third-party world package."""
        from tests.kind_worlds import VectorWorld

        class ToyReach(VectorWorld):
            """Toy reaching world shipped by a plugin."""
            name = "toy-reach"
    '''))
    dist = tmp_path / "toyworlds-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyworlds\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[simyard.worlds]\ntoy-reach = toyworlds:ToyReach\n")
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), repo_root]), "COLUMNS": "200"}
    listing = subprocess.run([sys.executable, "-m", "simyard", "env", "list"], capture_output=True, text=True,
                             env=env, timeout=120)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if "toy-reach" in line)
    assert "toyworlds" in row and "Toy reaching world" in row


def test_a_missing_optional_dependency_names_the_extra_not_unknown_name(tmp_path, monkeypatch):
    """A registered world whose module imports an uninstalled extra says which extra to install."""
    from simyard.platform.errors import MissingExtraError

    (tmp_path / "needs_torch_world.py").write_text("import torch  # noqa: F401\nclass World: ...\n")
    (tmp_path / "needs_odd_world.py").write_text("import simyard_no_such_dependency  # noqa: F401\nclass World: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    registry.register_world("test-needs-torch", "needs_torch_world:World")
    registry.register_world("test-needs-odd", "needs_odd_world:World")
    registry.register_world("test-no-module", "no_such_module_at_all:World")
    try:
        with pytest.raises(MissingExtraError) as caught:
            registry.world_class("test-needs-torch")
        assert "needs the module 'torch'" in caught.value.message
        assert caught.value.hint == "install it with: pip install 'simyard[local]'"
        with pytest.raises(MissingExtraError, match="simyard_no_such_dependency") as caught:
            registry.world_class("test-needs-odd")
        assert "pip install simyard_no_such_dependency" in caught.value.hint
        # the registered module itself missing is a broken registration, not a missing extra
        with pytest.raises(UnknownNameError, match="could not be loaded"):
            registry.world_class("test-no-module")
    finally:
        for name in ("test-needs-torch", "test-needs-odd", "test-no-module"):
            registry._tables["world"].pop(name, None)


def test_unknown_names_suggest_the_closest_one():
    with pytest.raises(UnknownNameError) as caught:
        registry.make_agent("oracel")
    assert caught.value.hint.startswith("did you mean 'oracle'?")


def test_find_task_suggests_close_ids_and_the_listing_command():
    tasks = registry.load_suite("ragen")
    wanted = tasks[0].id
    with pytest.raises(UnknownNameError) as caught:
        registry.find_task(tasks, wanted + "x", "ragen")
    assert wanted in caught.value.hint and "simyard tasks list ragen" in caught.value.hint
