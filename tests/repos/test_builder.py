"""The scenario builder on a generated repository: Caller and Callee, verified, resumable, parallel; bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import PurePosixPath

import pytest

from simyard.platform.errors import SimyardError
from simyard.repos.builder import BuildOptions, build_suite, imported_files, read_manifest
from simyard.repos.instances import belief_of, read_instances
from simyard.repos.testrun import make_runner, run_pytest
from simyard.repos.workspaces import WorkspaceRoot, Workspaces, git, pin_source

#: (setting, file stem, function, test file stem) of every instance a mini repository yields, whatever its seed.
EXPECTED = {
    ("callee", "ledger", "Ledger.add", "test_ledger"),
    ("callee", "ledger", "Ledger.total", "test_ledger"),
    ("callee", "shapes", "Rect.area", "test_api"),
    ("callee", "shapes", "Rect.area", "test_shapes"),
    ("callee", "shapes", "Rect.scale", "test_api"),
    ("callee", "shapes", "Rect.scale", "test_shapes"),
    ("callee", "shapes", "area", "test_api"),
    ("callee", "shapes", "area", "test_shapes"),
    ("callee", "shapes", "perimeter", "test_shapes"),
    ("callee", "text", "fetch_words", "test_text"),
    ("callee", "text", "slug", "test_api"),
    ("callee", "text", "slug", "test_text"),
    ("caller", "test_ledger", "make_ledger", "test_ledger"),
    ("caller", "test_shapes", "expected_area", "test_shapes"),
    ("caller", "test_shapes", "test_area", "test_shapes"),
    ("caller", "test_shapes", "test_perimeter", "test_shapes"),
    ("caller", "test_text", "test_fetch_words", "test_text"),
}


def _without_logs(instances) -> list[dict]:
    """Instances as dicts without the logs, whose durations differ from run to run."""
    return [i.model_dump(exclude={"initial_error_log"}) for i in instances]


def _shape(instance) -> tuple[str, str, str, str]:
    return (instance.setting, PurePosixPath(instance.file).stem, instance.function,
            PurePosixPath(instance.test_file).stem)


def test_the_builder_yields_the_expected_caller_and_callee_instances(built):
    report, out = built
    instances = read_instances(out)
    assert {_shape(i) for i in instances} == EXPECTED
    assert (report.kept, report.caller, report.callee) == (17, 5, 12)
    assert [i.instance_id for i in instances] == sorted(i.instance_id for i in instances)
    manifest = read_manifest(out)
    assert manifest["status"] == "complete" and manifest["counts"]["instances"] == 17


def test_callee_instances_come_through_each_way_of_importing_the_package(built, mini):
    instances = read_instances(built[1])
    by_test = {PurePosixPath(i.test_file).name for i in instances if i.setting == "callee"}
    assert by_test == {"test_shapes.py", "test_ledger.py", "test_text.py", "test_api.py"}
    imports = {name: (mini.path / "tests" / name).read_text().splitlines()[0] for name in sorted(by_test)}
    assert imports["test_shapes.py"] == f"from {mini.package}.shapes import Rect, area, perimeter"
    assert imports["test_ledger.py"] == f"import {mini.package}"
    assert imports["test_api.py"] == f"from {mini.package} import Ledger, Rect, slug"
    assert f"import {mini.package} as p" in (mini.path / "tests" / "test_text.py").read_text()


def test_instances_store_both_shas_the_code_and_per_test_lists(built, mini):
    for instance in read_instances(built[1]):
        assert instance.world_sha == mini.head and instance.belief_sha in mini.commits[:-1]
        assert instance.old_code != instance.gold_code
        assert instance.fail_to_pass and not set(instance.fail_to_pass) & set(instance.pass_to_pass)
        for test in instance.fail_to_pass:
            assert instance.gold_outcomes[test] == "passed" and instance.old_outcomes.get(test) != "passed"
        for test in instance.pass_to_pass:
            assert instance.gold_outcomes[test] == instance.old_outcomes[test] == "passed"
        assert "FAILED" in instance.initial_error_log or "ERROR" in instance.initial_error_log
        assert instance.gold_summary["passed"] == len(instance.fail_to_pass) + len(instance.pass_to_pass)


def test_the_async_function_is_an_instance(built):
    (fetch,) = [i for i in read_instances(built[1]) if i.function == "fetch_words"]
    assert fetch.is_async and fetch.old_code.startswith("async def")


def test_rejected_candidates_are_recorded_with_a_reason(built):
    verdicts = [json.loads(line) for line in (built[1] / "checked.jsonl").read_text().splitlines()]
    assert len(verdicts) == built[0].pairs
    rejected = {v["key"]: v["reason"] for v in verdicts if not v["kept"]}
    # title_case's rewrite and perimeter's refactor preserve behaviour: their old versions pass
    assert any("title_case" in key for key in rejected)
    assert set(rejected.values()) == {"test file passes with the old version"}


def test_fail_to_pass_holds_in_a_fresh_workspace(built, mini, workspace_base):
    """The world's path: a workspace at the belief fails the same tests; the gold function makes it pass."""
    instance = next(i for i in read_instances(built[1]) if i.function == "Ledger.add")
    with WorkspaceRoot(workspace_base, run_id="verify") as root:
        factory = Workspaces(root, pin_source(mini.path, root, instance.world_sha))
        with factory.create(belief_of(instance)) as ws, make_runner("local", ws.path) as sandbox:
            stale = run_pytest(sandbox, instance.test_file)
            assert stale.failed and sorted(t for t, o in stale.outcomes.items() if o != "passed") == \
                instance.fail_to_pass
            (ws.path / instance.file).write_text(instance.world_file)
            fixed = run_pytest(sandbox, instance.test_file)
            assert fixed.passed and fixed.outcomes == instance.gold_outcomes


def test_resume_verifies_only_the_pairs_not_done(built, mini, tmp_path, workspace_base):
    report, out = built
    copy = tmp_path / "suite"
    shutil.copytree(out, copy)
    checked = (copy / "checked.jsonl").read_text().splitlines()
    kept_keys = [json.loads(line)["key"] for line in checked[:-3] if json.loads(line)["kept"]]
    instances = [line for line in (copy / "instances.jsonl").read_text().splitlines()
                 if json.loads(line)["instance_id"] in kept_keys]
    # a crash: the last three verdicts never written, the one before cut in half
    (copy / "checked.jsonl").write_text("\n".join(checked[:-3]) + "\n" + checked[-3][:20])
    (copy / "instances.jsonl").write_text("\n".join(instances) + "\n")
    again = build_suite(mini.path, copy, resume=True, workspace_base=workspace_base)
    assert again.skipped == report.pairs - 3 and again.checked == 3
    assert _without_logs(read_instances(copy)) == _without_logs(read_instances(out))


def test_a_parallel_build_finds_the_same_instances(built, mini, tmp_path, workspace_base):
    options = BuildOptions(settings=("caller",))
    report = build_suite(mini.path, tmp_path / "par", workers=2, options=options, name="mini0",
                         workspace_base=workspace_base)
    caller = [i for i in read_instances(built[1]) if i.setting == "caller"]
    assert _without_logs(read_instances(tmp_path / "par")) == _without_logs(caller) and report.kept == 5


@pytest.mark.slow
def test_two_workers_build_the_whole_suite_identically(built, mini, tmp_path, workspace_base):
    build_suite(mini.path, tmp_path / "two", workers=2, name="mini0", workspace_base=workspace_base)
    assert _without_logs(read_instances(tmp_path / "two")) == _without_logs(read_instances(built[1]))


def test_imports_resolve_every_way_including_relative_and_src_layouts():
    files = {
        "src/pkg/__init__.py": "from .core import f\nfrom . import util\n",
        "src/pkg/core.py": "def f():\n    return 1\n",
        "src/pkg/util.py": "def u():\n    return 1\n",
        "src/pkg/other.py": "def o():\n    return 1\n",
        "tests/test_a.py": "import pkg\n",
        "tests/test_b.py": "import pkg.other as o\n",
        "tests/test_c.py": "from pkg.other import o\n",
        "tests/test_d.py": "from pkg import other\n",
        "tests/helpers.py": "def h():\n    return 1\n",
        "tests/test_e.py": "from . import helpers\n",
    }
    assert imported_files("tests/test_a.py", files) == {"src/pkg/__init__.py", "src/pkg/core.py", "src/pkg/util.py"}
    assert imported_files("tests/test_b.py", files) == {"src/pkg/other.py"}
    assert imported_files("tests/test_c.py", files) == {"src/pkg/other.py"}
    assert "src/pkg/other.py" in imported_files("tests/test_d.py", files)
    assert imported_files("tests/test_e.py", files) == {"tests/helpers.py"}


def test_a_path_that_is_not_a_git_repository_is_one_line(tmp_path):
    with pytest.raises(SimyardError, match="is not a git repository") as error:
        build_suite(tmp_path, tmp_path / "out")
    assert "clone" in error.value.hint


def test_a_repository_without_tests_is_one_line(tmp_path, workspace_base):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "m.py").write_text("def f():\n    return 1\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    with pytest.raises(SimyardError, match="has no pytest test files") as error:
        build_suite(repo, tmp_path / "out", workspace_base=workspace_base)
    assert "test_*.py" in error.value.hint


def test_an_existing_suite_needs_resume_and_resume_needs_a_suite(built, mini, tmp_path):
    with pytest.raises(SimyardError, match="not empty") as error:
        build_suite(mini.path, built[1])
    assert "--resume" in error.value.hint
    with pytest.raises(SimyardError, match="nothing to resume"):
        build_suite(mini.path, tmp_path / "new", resume=True)
