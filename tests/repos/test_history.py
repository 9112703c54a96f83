"""Functions, methods and their history read with ast; splicing one version into a file."""

from __future__ import annotations

import git as gitpython

from simyard.repos.history import functions_in, remove_function, splice, strip_decorators, walk_history
from simyard.repos.workspaces import git
from tests.repos.conftest import commit_files

SOURCE = '''import functools


def top(x):
    return x + 1


class Outer:
    @functools.cache
    def method(self, y):
        """Doc
with a line at column 0."""
        return y

    class Inner:
        async def deep(self):
            return 1

    @property
    def value(self):
        return 1

    @value.setter
    def value(self, v):
        pass
'''


def test_functions_in_names_methods_by_class_and_marks_async():
    found = functions_in(SOURCE)
    assert set(found) == {"top", "Outer.method", "Outer.Inner.deep", "Outer.value", "Outer.value#2"}
    assert found["top"].kind == "function" and found["Outer.method"].kind == "method"
    assert found["Outer.Inner.deep"].is_async and not found["top"].is_async
    assert found["Outer.method"].code.startswith("@functools.cache\ndef method(self, y):")


def test_a_name_defined_twice_in_one_scope_gets_a_suffix():
    found = functions_in(SOURCE)
    assert "@value.setter" in found["Outer.value#2"].code
    assert "@property" in found["Outer.value"].code


def test_splice_reindents_a_method_and_keeps_its_decorators_when_the_code_has_none():
    new = splice(SOURCE, "Outer.method", "def method(self, y):\n    return y * 2\n")
    assert "    @functools.cache\n    def method(self, y):\n        return y * 2\n" in new
    assert functions_in(new)["Outer.method"].code == "@functools.cache\ndef method(self, y):\n    return y * 2\n"


def test_splice_replaces_decorators_when_the_code_has_them():
    new = splice(SOURCE, "Outer.method", "@staticmethod\ndef method(y):\n    return y\n")
    assert "functools.cache\n    def method" not in new
    assert "    @staticmethod\n    def method(y):" in new


def test_splice_round_trips_a_function_unchanged():
    for name, function in functions_in(SOURCE).items():
        assert splice(SOURCE, name, function.code) == SOURCE


def test_splice_by_bare_name_takes_the_first_definition_as_syncbench_does():
    new = splice(SOURCE, "value", "def value(self):\n    return 2\n")
    assert functions_in(new)["Outer.value"].code == "@property\ndef value(self):\n    return 2\n"


def test_remove_function_and_strip_decorators():
    assert "def top" not in remove_function(SOURCE, "top")
    assert strip_decorators(functions_in(SOURCE)["Outer.method"].code).startswith("def method")


def _history(tmp_path, versions: list[dict[str, str]]):
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shas = [commit_files(path, files, f"v{i}", 1_700_000_000 + i * 60) for i, files in enumerate(versions)]
    return gitpython.Repo(path), shas


def test_a_candidate_needs_the_context_around_the_function_to_change(tmp_path):
    repo, shas = _history(tmp_path, [
        {"m.py": "def f():\n    return 1\n\n\ndef g():\n    return 1\n"},
        {"m.py": "def f():\n    return 2\n\n\ndef g():\n    return 1\n"},  # only f changed
    ])
    assert list(walk_history(repo, shas[-1], ["m.py"])) == []
    loose = list(walk_history(repo, shas[-1], ["m.py"], require_context_change=False))
    assert [(c.function, c.belief_sha, c.old_code) for c in loose] == [("f", shas[0], "def f():\n    return 1\n")]


def test_walk_history_yields_old_versions_whose_file_changed_around_them(tmp_path):
    repo, shas = _history(tmp_path, [
        {"m.py": "def f():\n    return 1\n\n\ndef g():\n    return 1\n"},
        {"m.py": "def f():\n    return 2\n\n\ndef g():\n    return 2\n"},
    ])
    found = {(c.function, c.belief_sha) for c in walk_history(repo, shas[-1], ["m.py"])}
    assert found == {("f", shas[0]), ("g", shas[0])}


def test_async_functions_count_unless_excluded(tmp_path):
    repo, shas = _history(tmp_path, [
        {"m.py": "async def f():\n    return 1\n\n\nX = 1\n"},
        {"m.py": "async def f():\n    return 2\n\n\nX = 2\n"},
    ])
    assert [c.is_async for c in walk_history(repo, shas[-1], ["m.py"])] == [True]
    assert list(walk_history(repo, shas[-1], ["m.py"], include_async=False)) == []


def test_identical_old_versions_are_one_candidate_at_the_newest_commit(tmp_path):
    repo, shas = _history(tmp_path, [
        {"m.py": "def f():\n    return 1\n\n\nX = 1\n"},
        {"m.py": "def f():\n    return 1\n\n\nX = 2\n"},
        {"m.py": "def f():\n    return 3\n\n\nX = 3\n"},
    ])
    assert [c.belief_sha for c in walk_history(repo, shas[-1], ["m.py"])] == [shas[1]]


def test_a_gold_version_already_in_the_agents_past_is_skipped(tmp_path):
    repo, shas = _history(tmp_path, [
        {"m.py": "def f():\n    return 1\n\n\nX = 1\n"},
        {"m.py": "def f():\n    return 2\n\n\nX = 2\n"},
        {"m.py": "def f():\n    return 1\n\n\nX = 3\n"},  # back to the first version
    ])
    assert list(walk_history(repo, shas[-1], ["m.py"])) == []


def test_versions_that_do_not_parse_are_skipped(tmp_path):
    repo, shas = _history(tmp_path, [
        {"m.py": "def f(:\n"},
        {"m.py": "def f():\n    return 2\n\n\nX = 2\n"},
    ])
    assert list(walk_history(repo, shas[-1], ["m.py"])) == []


def test_splice_round_trips_a_method_with_an_indented_docstring():
    source = 'class A:\n    def f(self):\n        """One.\n\n        Two.\n        """\n        return 1\n'
    code = functions_in(source)["A.f"].code
    assert splice(source, "A.f", code) == source
    assert code.startswith('def f(self):\n    """One.\n')
