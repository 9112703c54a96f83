"""The out-of-sync instance: what the builder stores, what a world runs, and SyncBench's CSV form of it.

An instance is one function rolled back to an old version in a repository whose world state moved on. It names
both commits (SyncBench keeps only the old one, and its images clone whatever HEAD was current), the per-test
outcomes of the gold and the belief runs (SyncBench keeps only counts), and the files needed to run it without the
builder's caches. Instances are stored one per line in `instances.jsonl`.

SyncBench's CSV (`syncbench/constructor/syncbench.py::dataset_to_benchset`) has 19 columns; `export_csv` writes them
in its order, followed by `simyard_*` columns that carry what SyncBench has no column for (so a CSV round trip
loses nothing), and `import_csv` reads either. Mapping:

    instance_id      instance_id             commit          belief_sha
    instance_type    setting (caller/callee) fm_type/fm_name kind / bare name (qualified name in simyard_function)
    task_type        task_type               pyfile_name     basename of file
    repo_url         repo_url                pyfile_path     ./test_repo/<file>
    unittest_path    ./test_repo/<test_file> original_code   old_code without decorators (with: simyard_old_code)
    gold_code        gold_code without decorators (with: simyard_gold_code)
    old_complete_context / new_complete_context      belief_file / world_file
    old_filtered_context / new_filtered_context      the same files without the function
    initial_error_log                                initial_error_log
    original_summary / gold_summary                  old_summary / gold_summary (Python dict reprs, as pandas wrote)

A published SyncBench row has no world sha: `import_csv(..., source=REPO)` pins it by finding the newest commit
whose version of the file equals `new_complete_context`; unpinned instances keep `world_sha` empty and a world must
pin them before use.
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simyard.platform.errors import TaskFileError
from simyard.repos.history import remove_function, splice, strip_decorators
from simyard.repos.workspaces import BeliefState

__all__ = [
    "SYNCBENCH_COLUMNS",
    "Instance",
    "belief_of",
    "export_csv",
    "import_csv",
    "read_instances",
    "write_instances",
]

SYNCBENCH_COLUMNS = (
    "instance_id", "instance_type", "task_type", "repo_url", "commit", "fm_type", "fm_name", "pyfile_name",
    "original_code", "gold_code", "old_filtered_context", "old_complete_context", "new_filtered_context",
    "new_complete_context", "initial_error_log", "original_summary", "gold_summary", "pyfile_path", "unittest_path",
)
_EXTRA_COLUMNS = ("simyard_repo", "simyard_world_sha", "simyard_function", "simyard_is_async", "simyard_old_code",
                  "simyard_gold_code", "simyard_fail_to_pass", "simyard_pass_to_pass", "simyard_gold_outcomes",
                  "simyard_old_outcomes")
_REPO_PREFIX = "./test_repo/"


class Instance(BaseModel):
    """One out-of-sync scenario (JSON-serialisable, frozen).

    Attributes:
        instance_id: `{repo}__{setting}__{file}__{function}__{belief_sha[:10]}`, plus `__{test file}` for Callee;
            path-safe (it names episode directories).
        repo: A short name for the repository.
        repo_url: Where the repository came from (URL or path).
        setting: `caller` (the function is in the test file) or `callee` (in a module the test file imports).
        task_type: `fail-to-pass` (all the builder keeps) or `pass-to-pass` (SyncBench's other mode, on import).
        world_sha: The world state S (HEAD when built); empty for an imported row not yet pinned.
        belief_sha: The commit whose version of the function the agent believes (SyncBench's `commit`).
        file: Repository-relative path of the file holding the function.
        function: Qualified name (`Class.method`); `name` is the bare one.
        kind: `function` or `method`.
        is_async: Whether the world's version is an `async def`.
        old_code / gold_code: The belief and world versions of the function (decorators included).
        belief_file / world_file: The whole file at `belief_sha` and at the world state.
        test_file: The verification test file (repository-relative), run whole.
        initial_error_log: The belief run's pytest output, trimmed as SyncMind shows it.
        fail_to_pass: Tests passing at the world state and not with the old function (sorted node ids).
        pass_to_pass: Tests passing in both.
        gold_outcomes / old_outcomes: Every test's outcome in the two runs.
        gold_summary / old_summary: SyncBench's counts of the two runs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    instance_id: str
    repo: str
    repo_url: str = ""
    setting: Literal["caller", "callee"]
    task_type: Literal["fail-to-pass", "pass-to-pass"] = "fail-to-pass"
    world_sha: str = ""
    belief_sha: str
    file: str
    function: str
    kind: Literal["function", "method"] = "function"
    is_async: bool = False
    old_code: str
    gold_code: str
    belief_file: str = ""
    world_file: str
    test_file: str
    initial_error_log: str = ""
    fail_to_pass: list[str] = Field(default_factory=list)
    pass_to_pass: list[str] = Field(default_factory=list)
    gold_outcomes: dict[str, str] = Field(default_factory=dict)
    old_outcomes: dict[str, str] = Field(default_factory=dict)
    gold_summary: dict[str, int] = Field(default_factory=dict)
    old_summary: dict[str, int] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """The bare function name (SyncBench's `fm_name`)."""
        return self.function.rsplit(".", 1)[-1].split("#", 1)[0]

    def belief_text(self) -> str:
        """The target file as the agent believes it: the world's file with the old function spliced in."""
        return splice(self.world_file, self.function, self.old_code)


def belief_of(instance: Instance, message: str | None = None) -> BeliefState:
    """The workspace contents for `instance`: the world's tree with the old function, on top of the belief commit."""
    if not instance.world_sha:
        raise TaskFileError(f"instance {instance.instance_id} has no world sha",
                            hint="import it with --source REPO so the world state is pinned")
    return BeliefState(world_sha=instance.world_sha, base_sha=instance.belief_sha,
                       files={instance.file: instance.belief_text()},
                       message=message or f"Update {instance.file.rsplit('/', 1)[-1]}")


# --------------------------------------------------------------------------------------------------- JSONL


def read_instances(path: Path | str) -> list[Instance]:
    """Every instance in a JSONL file (or a suite directory's `instances.jsonl`); a bad line is a one-line error."""
    path = Path(path)
    if path.is_dir():
        path = path / "instances.jsonl"
    if not path.exists():
        raise TaskFileError(f"no instances at {path}", hint="build a suite with `simyard repos build` first")
    return list(_iter_jsonl(path))


def _iter_jsonl(path: Path) -> Iterator[Instance]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield Instance.model_validate_json(line)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise TaskFileError(f"{path}:{number}: {where}: {first['msg']}",
                                    hint="the file must hold one instance per line") from None


def write_instances(instances: Iterable[Instance], path: Path | str) -> None:
    """Write instances to a JSONL file atomically (a temp file renamed over it)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for instance in instances:
            handle.write(instance.model_dump_json() + "\n")
    tmp.replace(path)


# ----------------------------------------------------------------------------------------------------- CSV


def _csv_field_limit() -> None:
    # SyncBench rows carry whole files and logs; csv's default cap is 128 KiB per field.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def to_syncbench_row(instance: Instance) -> dict[str, str]:
    """One CSV row: SyncBench's 19 columns, then the `simyard_*` ones."""
    def filtered(text: str) -> str:
        try:
            return remove_function(text, instance.function) if text else ""
        except (KeyError, SyntaxError):
            return text

    row = {
        "instance_id": instance.instance_id, "instance_type": instance.setting, "task_type": instance.task_type,
        "repo_url": instance.repo_url, "commit": instance.belief_sha, "fm_type": instance.kind,
        "fm_name": instance.name, "pyfile_name": instance.file.rsplit("/", 1)[-1],
        "original_code": strip_decorators(instance.old_code), "gold_code": strip_decorators(instance.gold_code),
        "old_filtered_context": filtered(instance.belief_file), "old_complete_context": instance.belief_file,
        "new_filtered_context": filtered(instance.world_file), "new_complete_context": instance.world_file,
        "initial_error_log": instance.initial_error_log, "original_summary": repr(instance.old_summary),
        "gold_summary": repr(instance.gold_summary), "pyfile_path": _REPO_PREFIX + instance.file,
        "unittest_path": _REPO_PREFIX + instance.test_file,
        "simyard_repo": instance.repo, "simyard_world_sha": instance.world_sha, "simyard_function": instance.function,
        "simyard_is_async": json.dumps(instance.is_async), "simyard_old_code": instance.old_code,
        "simyard_gold_code": instance.gold_code, "simyard_fail_to_pass": json.dumps(instance.fail_to_pass),
        "simyard_pass_to_pass": json.dumps(instance.pass_to_pass),
        "simyard_gold_outcomes": json.dumps(instance.gold_outcomes),
        "simyard_old_outcomes": json.dumps(instance.old_outcomes),
    }
    return row


def export_csv(instances: Iterable[Instance], path: Path | str) -> int:
    """Write SyncBench's CSV (plus `simyard_*` columns); returns the number of rows."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*SYNCBENCH_COLUMNS, *_EXTRA_COLUMNS])
        writer.writeheader()
        for instance in instances:
            writer.writerow(to_syncbench_row(instance))
            count += 1
    return count


def import_csv(path: Path | str, source=None) -> list[Instance]:
    """Instances from a SyncBench CSV (published or exported by simyard).

    Args:
        path: The CSV file.
        source: Optional `git.Repo` of the repository the rows come from: pins each row's world sha (see module
            docstring). Rows of other repositories stay unpinned.

    Raises:
        TaskFileError: a missing column or an unreadable row, naming the line.
    """
    _csv_field_limit()
    path = Path(path)
    if not path.exists():
        raise TaskFileError(f"no CSV at {path}", hint="give the path of a SyncBench CSV file")
    instances = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("instance_id", "instance_type", "commit", "fm_name", "original_code", "gold_code",
                               "new_complete_context", "pyfile_path", "unittest_path")
                   if c not in (reader.fieldnames or [])]
        if missing:
            raise TaskFileError(f"{path} lacks SyncBench column(s) {', '.join(missing)}",
                                hint="the header must have SyncBench's columns (instance_id, commit, fm_name, ...)")
        for row in reader:
            try:
                instances.append(_from_row(row, source))
            except (ValueError, SyntaxError, ValidationError) as error:
                raise TaskFileError(f"{path}:{reader.line_num}: {str(error).splitlines()[0]}",
                                    hint="the row does not read as a SyncBench instance") from None
    return instances


def _from_row(row: dict[str, str], source) -> Instance:
    def column(name: str, default: str = "") -> str:
        value = row.get(name)
        return default if value is None else value

    def repo_path(value: str) -> str:
        for prefix in ("./test_repo/", "test_repo/", "/workspace/test_repo/"):
            if value.startswith(prefix):
                return value[len(prefix):]
        return value.removeprefix("./")

    def counts(text: str) -> dict[str, int]:
        value = ast.literal_eval(text) if text.strip().startswith("{") else {}
        return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def loads(name: str, default):
        text = column(name)
        return json.loads(text) if text else default

    file = repo_path(column("pyfile_path"))
    world_file = column("new_complete_context")
    world_sha = column("simyard_world_sha") or (_pin(source, file, world_file) if source is not None else "")
    instance_id = column("instance_id")
    return Instance(
        instance_id=instance_id.translate(str.maketrans({c: "_" for c in '/\\:*?"<>|'})),
        repo=column("simyard_repo") or _repo_name(instance_id, column("repo_url")),
        repo_url=column("repo_url"), setting=column("instance_type").strip().lower(),
        task_type=column("task_type", "fail-to-pass") or "fail-to-pass", world_sha=world_sha,
        belief_sha=column("commit"), file=file, function=column("simyard_function") or column("fm_name"),
        kind=column("fm_type", "function") or "function", is_async=loads("simyard_is_async", False),
        old_code=column("simyard_old_code") or column("original_code"),
        gold_code=column("simyard_gold_code") or column("gold_code"),
        belief_file=column("old_complete_context"), world_file=world_file,
        test_file=repo_path(column("unittest_path")), initial_error_log=column("initial_error_log"),
        fail_to_pass=loads("simyard_fail_to_pass", []), pass_to_pass=loads("simyard_pass_to_pass", []),
        gold_outcomes=loads("simyard_gold_outcomes", {}), old_outcomes=loads("simyard_old_outcomes", {}),
        gold_summary=counts(column("gold_summary")), old_summary=counts(column("original_summary")),
    )


def _repo_name(instance_id: str, repo_url: str) -> str:
    if repo_url:
        return repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return instance_id.split("__", 1)[0]


def _pin(repo, file: str, world_file: str) -> str:
    """HEAD when its `file` equals `world_file`, else the newest commit that set the file to that text: the
    closest pin of the world state SyncBench's image held (its other files may have moved on later)."""
    commits = [repo.head.commit]
    commits += [c for c in repo.iter_commits("HEAD", paths=file) if c.hexsha != commits[0].hexsha]
    for commit in commits:
        try:
            if (commit.tree / file).data_stream.read().decode("utf-8") == world_file:
                return commit.hexsha
        except (KeyError, UnicodeDecodeError):
            continue
    return ""
