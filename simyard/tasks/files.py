"""Reading and writing task files: JSON lines, a JSON list, or YAML, each entry one `Task`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simyard.platform.api import Task
from simyard.platform.errors import TaskFileError

TASK_FILE_SUFFIXES = (".jsonl", ".json", ".yaml", ".yml")


def load_task_file(path: Path) -> list[Task]:
    """Tasks from a `.jsonl`, `.json` or `.yaml` file; a JSON/YAML file holds a list or `{"tasks": [...]}`."""
    if path.suffix not in TASK_FILE_SUFFIXES:
        raise TaskFileError(f"{path} is not a task file", hint=f"task files end in {', '.join(TASK_FILE_SUFFIXES)}")
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist", hint="check the path, or name a suite instead")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        entries = list(_jsonl_entries(path, text))
    else:
        entries = list(enumerate(_document_entries(path, text), start=1))
    if not entries:
        raise TaskFileError(f"{path} holds no tasks", hint="add one task object per line (JSONL) or a list")
    return [_task(path, where, entry) for where, entry in entries]


def _jsonl_entries(path: Path, text: str) -> Iterable[tuple[int, Any]]:
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFileError(
                f"{path}:{line_number}: not valid JSON ({exc.msg})", hint="a .jsonl file holds one JSON object per line"
            ) from None


def _document_entries(path: Path, text: str) -> list[Any]:
    try:
        if path.suffix == ".json":
            document = json.loads(text)
        else:
            import yaml

            document = yaml.safe_load(text)
    except (json.JSONDecodeError, ValueError) as exc:
        raise TaskFileError(f"{path}: cannot be parsed ({exc})", hint="fix the syntax") from None
    except Exception as exc:  # yaml.YAMLError has no common base we can name without importing yaml eagerly
        first_line = str(exc).splitlines()[0]
        raise TaskFileError(f"{path}: cannot be parsed ({first_line})", hint="fix the YAML syntax") from None
    if isinstance(document, dict) and "tasks" in document:
        document = document["tasks"]
    if not isinstance(document, list):
        raise TaskFileError(f"{path}: expected a list of tasks", hint='write a list, or an object {"tasks": [...]}')
    return document


def _task(path: Path, where: int, entry: Any) -> Task:
    if not isinstance(entry, dict):
        raise TaskFileError(f"{path}: entry {where} is not an object", hint="each task is an object with id and world")
    try:
        return Task.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "task"
        raise TaskFileError(
            f"{path}: entry {where}: field {field!r}: {first['msg']}",
            hint="a task needs id and world; optional: instruction, subset, config, goal, max_steps, max_invalid",
        ) from None


def write_task_file(path: Path, tasks: Iterable[Task]) -> None:
    """Write tasks as JSON lines (the format `load_task_file` reads fastest)."""
    with path.open("w", encoding="utf-8") as handle:
        for task in tasks:
            handle.write(task.model_dump_json() + "\n")
