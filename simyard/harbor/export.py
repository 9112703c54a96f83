"""SyncMind instances written as Harbor task folders, so other harnesses (and simyard's own `harbor` world) run them.

One folder per instance, named by its id:

    instruction.md           SyncMind's task text: the repository is out of sync, the test file fails like this
                             (the belief run's log); the out-of-sync function is not named, as in SyncMind
    task.toml                timeouts, resources, no internet; [metadata] holds the ground truth (repo, shas, file,
                             function, setting), which Harbor reads on the host and the agent never sees
    environment/Dockerfile   FROM the base image (simyard's own by default, built without a registry), the
                             repository at the belief state copied to /app and committed there as one commit
    environment/repo/        the world's tree at `world_sha` with the old function spliced in
    tests/test.sh            runs the verification test file as the builder did and writes 1 to reward.txt when
                             every test ends as in the gold run (simyard's syncmind rule), else 0
    tests/check_outcomes.py  reads pytest's report (the same patterns as `simyard.repos.testrun`)
    tests/expected_outcomes.json, tests/world_test_file.py (Callee: the test file is restored before the run, so
                             the agent's task is the code, never the tests)
    solution/solve.sh        writes the gold file (the world's version of the file holding the function)

Differences from the `syncmind` world, on purpose: no budget, no collaborator and no git history beyond the belief
commit (Harbor has no notion of them); the agent ends with its harness's own signal, and only the final tree counts.
"""

from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simyard.platform.errors import SimyardError, TaskFileError
from simyard.repos import testrun
from simyard.repos.instances import Instance
from simyard.sandboxes.docker import BASE_IMAGE

__all__ = ["APP_DIR", "ExportReport", "export_instances", "write_task_folder"]

#: Where the repository lives in the exported image: Harbor's usual working directory.
APP_DIR = "/app"


@dataclass(frozen=True)
class ExportReport:
    """What `export_instances` wrote: `count` task folders under `out`, whose Dockerfiles start FROM `base_image`."""

    out: Path
    count: int
    base_image: str


def export_instances(
    instances: Iterable[Instance],
    source: Path | str,
    out: Path | str,
    *,
    base_image: str = BASE_IMAGE,
    pytest_args: Iterable[str] = (),
    agent_timeout_s: float = 600.0,
    verifier_timeout_s: float = 300.0,
    on_progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write every instance as a Harbor task folder under `out` (new, or empty).

    Args:
        instances: The instances (a suite's `instances.jsonl`).
        source: The git repository they were built from (its history holds every world sha).
        out: Where the folders go.
        base_image: The image each Dockerfile starts FROM; it needs bash, git, python3 and pytest.
        pytest_args: Extra pytest arguments the suite was built with (suite.json's options).
        agent_timeout_s, verifier_timeout_s: The task.toml timeouts.
        on_progress: Called with the number of folders written so far.

    Raises:
        SimyardError: `out` is not empty, `source` is not a repository or lacks a world sha, an instance was never
            pinned to a world sha.
    """
    from simyard.repos.workspaces import open_source

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SimyardError(f"{out} is not empty", hint="choose an empty or new --out directory")
    repo = open_source(source)
    root = Path(repo.working_dir or repo.git_dir)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.TemporaryDirectory(prefix="simyard-export-") as scratch:
        trees: dict[str, Path] = {}
        for instance in instances:
            if not instance.world_sha:
                raise TaskFileError(
                    f"instance {instance.instance_id} has no world sha",
                    hint="import it with --source REPO so the world state is pinned",
                )
            if instance.world_sha not in trees:
                trees[instance.world_sha] = _world_tree(root, instance.world_sha, Path(scratch) / instance.world_sha)
            write_task_folder(
                instance,
                trees[instance.world_sha],
                out / instance.instance_id,
                base_image=base_image,
                pytest_args=tuple(pytest_args),
                agent_timeout_s=agent_timeout_s,
                verifier_timeout_s=verifier_timeout_s,
            )
            count += 1
            if on_progress is not None:
                on_progress(count)
    return ExportReport(out=out, count=count, base_image=base_image)


def _world_tree(repo: Path, sha: str, target: Path) -> Path:
    """The files of `sha` (`git archive`: no .git, nothing of the history) extracted into `target`."""
    proc = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", sha], capture_output=True)
    if proc.returncode != 0:
        raise SimyardError(
            f"{repo} has no commit {sha[:12]}: {proc.stderr.decode(errors='replace').strip()[:200]}",
            hint="give --source the repository the suite was built from",
        )
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target


def write_task_folder(
    instance: Instance,
    world_tree: Path,
    folder: Path,
    *,
    base_image: str = BASE_IMAGE,
    pytest_args: tuple[str, ...] = (),
    agent_timeout_s: float = 600.0,
    verifier_timeout_s: float = 300.0,
) -> Path:
    """Write one instance's task folder; `world_tree` holds the repository's files at the instance's world sha."""
    environment, tests, solution = folder / "environment", folder / "tests", folder / "solution"
    shutil.copytree(world_tree, environment / "repo", symlinks=True)
    (environment / "repo" / instance.file).write_text(instance.belief_text(), encoding="utf-8")
    (environment / "Dockerfile").write_text(_dockerfile(base_image))
    command = _pytest_line(instance.test_file, pytest_args)
    (folder / "instruction.md").write_text(_instruction(instance, command), encoding="utf-8")
    (folder / "task.toml").write_text(
        _task_toml(instance, base_image, agent_timeout_s, verifier_timeout_s), encoding="utf-8"
    )
    tests.mkdir()
    (tests / "expected_outcomes.json").write_text(json.dumps(instance.gold_outcomes, indent=1, sort_keys=True))
    (tests / "check_outcomes.py").write_text(_CHECKER.replace("@PATTERNS@", _patterns()))
    restore = ""
    if instance.setting == "callee":
        (tests / "world_test_file.py").write_text(_world_test_text(world_tree, instance), encoding="utf-8")
        restore = (
            f"# the tests as the world has them: the agent's task is the code, never the tests\n"
            f"cp /tests/world_test_file.py {shlex.quote(instance.test_file)}\n"
        )
    (tests / "test.sh").write_text(
        _TEST_SH.format(
            id=instance.instance_id, test_file=instance.test_file, app=APP_DIR, restore=restore, command=command
        )
    )
    solution.mkdir()
    (solution / "solve.sh").write_text(_solve_sh(instance), encoding="utf-8")
    for script in (tests / "test.sh", solution / "solve.sh"):
        script.chmod(0o755)
    return folder


# ------------------------------------------------------------------------------------------------ the files


def _dockerfile(base_image: str) -> str:
    return (
        f"FROM {base_image}\n"
        "# The repository at the belief state: the agent's own last commit, the collaborator's work absent.\n"
        f"COPY repo/ {APP_DIR}/\n"
        f"WORKDIR {APP_DIR}\n"
        "RUN git init -q -b main && git add -A \\\n"
        " && git -c user.name=agent -c user.email=agent@localhost commit -q --no-verify -m 'My latest changes' \\\n"
        f" && git config --system --add safe.directory {APP_DIR} && chmod -R a+rwX {APP_DIR}\n"
    )


def _pytest_line(test_file: str, pytest_args: tuple[str, ...]) -> str:
    """The builder's own pytest run (`simyard.repos.testrun`), as one shell line run in the repository."""
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in testrun.pytest_env().items())
    return f"env {env} {shlex.join(testrun.pytest_command(test_file, 'python3', pytest_args))}"


def _instruction(instance: Instance, command: str) -> str:
    log = testrun.error_log(instance.initial_error_log).rstrip() or "(no log was recorded)"
    return (
        "# Your repository is out of sync\n\n"
        f"You are working on the Python repository in `{APP_DIR}`. Since you last synced, a collaborator changed "
        f"the code, and your latest version no longer fits it: the test file `{instance.test_file}` now fails. "
        "This is how it failed:\n\n"
        f"```text\n{log}\n```\n\n"
        f"Find the code that is out of sync and fix it, so that every test in `{instance.test_file}` passes. Fix "
        "the code, not what the tests expect, and do not install packages (there is no network). Run the tests "
        f"from `{APP_DIR}` with:\n\n    {command}\n"
    )


def _task_toml(instance: Instance, base_image: str, agent_timeout_s: float, verifier_timeout_s: float) -> str:
    metadata = {
        "category": f"syncmind-{instance.setting}",
        "benchmark": "syncmind",
        "exported_by": "simyard repos export",
        "instance_id": instance.instance_id,
        "repo": instance.repo,
        "repo_url": instance.repo_url,
        "setting": instance.setting,
        "task_type": instance.task_type,
        "world_sha": instance.world_sha,
        "belief_sha": instance.belief_sha,
        "file": instance.file,
        "function": instance.function,
        "test_file": instance.test_file,
        "base_image": base_image,
    }
    sections = {
        "metadata": metadata,
        "agent": {"timeout_sec": float(agent_timeout_s)},
        "verifier": {"timeout_sec": float(verifier_timeout_s)},
        "environment": {"build_timeout_sec": 600.0, "cpus": 1, "memory_mb": 2048, "allow_internet": False},
    }
    return 'version = "1.0"\n' + "".join(
        f"\n[{name}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items())
        for name, table in sections.items()
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a JSON string is a TOML basic string when it keeps non-ASCII as is (TOML refuses escaped surrogate pairs)
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _world_test_text(world_tree: Path, instance: Instance) -> str:
    path = world_tree / instance.test_file
    if not path.is_file():
        raise TaskFileError(
            f"instance {instance.instance_id}: {instance.test_file} is not in the world's tree",
            hint="the suite and --source disagree; give the repository the suite was built from",
        )
    return path.read_text(encoding="utf-8")


def _solve_sh(instance: Instance) -> str:
    marker = "SIMYARD_GOLD_EOF"
    while marker in instance.world_file.splitlines():
        marker += "_"
    text = instance.world_file if instance.world_file.endswith("\n") else instance.world_file + "\n"
    return (
        "#!/bin/bash\n"
        f"# The gold code: {instance.file} as the world state has it, with its current version of "
        f"{instance.function}.\n"
        "set -e\n"
        f"cat > {shlex.quote(APP_DIR + '/' + instance.file)} <<'{marker}'\n{text}{marker}\n"
    )


def _patterns() -> str:
    """The report patterns of `simyard.repos.testrun`, so the exported verifier judges a run as the builder did."""
    return "\n".join(
        [
            f"WORDS = {dict(testrun._WORDS)!r}",
            f"SUMMARY_LINE = re.compile({testrun._SUMMARY_LINE.pattern!r})",
            f"VERBOSE_LINE = re.compile({testrun._VERBOSE_LINE.pattern!r})",
            f"ANSI = re.compile({testrun._ANSI.pattern!r})",
        ]
    )


_TEST_SH = """#!/bin/bash
# simyard's export of SyncMind instance
#   {id}
# Runs {test_file} as the scenario builder did, and writes 1 to /logs/verifier/reward.txt when every test ends as
# in the gold run (the same outcomes, test by test), else 0.
mkdir -p /logs/verifier
cd {app} || {{ echo 0 > /logs/verifier/reward.txt; exit 0; }}
{restore}{command} > /logs/verifier/pytest.txt 2>&1
python3 /tests/check_outcomes.py /logs/verifier/pytest.txt /tests/expected_outcomes.json > /logs/verifier/reward.txt \\
  || echo 0 > /logs/verifier/reward.txt
cat /logs/verifier/pytest.txt
"""

_CHECKER = '''"""Prints 1 when a pytest run (-rA -v) gave every test the outcome of the gold run, else 0 (the
differences go to stderr). Written by simyard's Harbor export; the patterns are simyard.repos.testrun's."""

import json
import re
import sys

@PATTERNS@


def outcomes(text):
    text = ANSI.sub("", text)
    found, in_summary = {}, False
    for line in text.splitlines():
        if "short test summary info" in line:
            in_summary = True
            continue
        match = SUMMARY_LINE.match(line) if in_summary else None
        if match and found.get(match.group(2)) != "error":
            found[match.group(2)] = WORDS[match.group(1)]
    if not found:
        for line in text.splitlines():
            match = VERBOSE_LINE.match(line.strip())
            if match and found.get(match.group(1)) != "error":
                found[match.group(1)] = WORDS[match.group(2)]
    return found


def main():
    with open(sys.argv[1], errors="replace") as log, open(sys.argv[2]) as gold:
        got, expected = outcomes(log.read()), json.load(gold)
    for node in sorted(set(got) | set(expected)):
        if got.get(node) != expected.get(node):
            print(f"{node}: {got.get(node, 'missing')} (gold: {expected.get(node, 'missing')})", file=sys.stderr)
    print(1 if got == expected else 0)


main()
'''
