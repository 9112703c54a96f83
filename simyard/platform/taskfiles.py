"""Task files (JSON lines, a JSON list, or YAML) and the checks every task passes when it is read.

A task is checked when its file or suite is read, not when its episode starts: the `Task` model itself, an id short
enough to name a directory, and its `config` against its world's `config_model`. A mistake is one `TaskFileError`
line naming the file (or suite), the task and the field, so a batch of a thousand episodes never starts with a task
that can only fail. Tasks of worlds that are not registered (a plugin not imported yet) are read as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simyard.platform.api import Env, Task
from simyard.platform.errors import SimyardError, TaskFileError

TASK_FILE_SUFFIXES = (".jsonl", ".json", ".yaml", ".yml")
#: Longest task id, in bytes of UTF-8. An episode's directory is `<id>__s<seed>` and file systems allow 255 bytes
#: per name; this leaves room for the suffix (a 64-bit seed is at most 20 digits).
MAX_TASK_ID_BYTES = 200
_TASK_HINT = "a task needs id and world; optional: instruction, subset, config, goal, max_steps, max_invalid"


def load_task_file(path: Path) -> list[Task]:
    """Tasks from a `.jsonl`, `.json` or `.yaml` file; a JSON/YAML file holds a list or `{"tasks": [...]}`.

    Raises:
        TaskFileError: The file is missing, not UTF-8, not parseable, or holds a task that is not valid (one line
            naming the file, the line or entry, the task and the field).
    """
    if path.suffix not in TASK_FILE_SUFFIXES:
        raise TaskFileError(f"{path} is not a task file", hint=f"task files end in {', '.join(TASK_FILE_SUFFIXES)}")
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist", hint="check the path, or name a suite instead")
    text = _text(path)
    if path.suffix == ".jsonl":
        entries = [(f"{path}:{line}", entry) for line, entry in _jsonl_entries(path, text)]
    else:
        entries = [(f"{path}: entry {n}", entry) for n, entry in enumerate(_document_entries(path, text), start=1)]
    if not entries:
        raise TaskFileError(f"{path} holds no tasks", hint="add one task object per line (JSONL) or a list")
    tasks = [_task(where, entry) for where, entry in entries]
    check_tasks(tasks, [where for where, _ in entries])
    return tasks


def check_tasks(tasks: Sequence[Task], places: Sequence[str] | str) -> None:
    """Check task ids and each config against its world's `config_model`.

    Args:
        tasks: The tasks, as read.
        places: Where each task came from (`file:line`, `file: entry 3`), or one name for all (`suite 'ragen'`).

    Raises:
        TaskFileError: The first task whose id is too long or whose config its world refuses.
    """
    models: dict[str, type[BaseModel] | None] = {}
    for index, task in enumerate(tasks):
        where = places if isinstance(places, str) else places[index]
        _check_id_length(where, task.id)
        if task.world not in models:
            models[task.world] = _config_model(task.world)
        model = models[task.world]
        if model is None:
            continue
        try:
            model.model_validate(task.config)
        except ValidationError as exc:
            raise TaskFileError(
                f"{where}: task {task.id!r}: {config_problem(model, exc)}",
                hint=f"see the {task.world} world's config model, {model.__module__}.{model.__qualname__}",
            ) from None


def config_problem(model: type[BaseModel], exc: ValidationError) -> str:
    """One line for a config's first error: the field, what was wrong, and what the field accepts."""
    first = exc.errors()[0]
    location = [str(part) for part in first["loc"]]
    field = ".".join(location) or "config"
    message = first["msg"].removeprefix("Value error, ")
    info = model.model_fields.get(location[0]) if location else None
    accepted = f" (accepted: {info.description})" if info is not None and info.description else ""
    return f"config field {field!r}: {message}{accepted}"


def write_task_file(path: Path, tasks: Iterable[Task]) -> None:
    """Write tasks as JSON lines (the format `load_task_file` reads fastest)."""
    with path.open("w", encoding="utf-8") as handle:
        for task in tasks:
            handle.write(task.model_dump_json() + "\n")


def _config_model(world: str) -> type[BaseModel] | None:
    """The world's config model; None when the world is unknown or cannot be loaded (reading goes on as before)."""
    from simyard.platform import registry

    try:
        cls: type[Env] = registry.world_class(world)
    except SimyardError:
        return None
    return getattr(cls, "config_model", None)


def _check_id_length(where: str, task_id: str) -> None:
    size = len(task_id.encode("utf-8"))
    if size > MAX_TASK_ID_BYTES:
        raise TaskFileError(
            f"{where}: task id {_shortened(task_id)} is {size} bytes of UTF-8, longer than {MAX_TASK_ID_BYTES}",
            hint=f"ids name episode directories (<id>__s<seed>); keep them to {MAX_TASK_ID_BYTES} bytes",
        )


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # a byte-order mark, which some editors write, is not an error
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TaskFileError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save the task file as UTF-8",
        ) from None


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
        raise TaskFileError(f"{path}: cannot be parsed ({str(exc).splitlines()[0]})", hint="fix the syntax") from None
    except Exception as exc:  # yaml.YAMLError has no common base we can name without importing yaml eagerly
        first_line = str(exc).splitlines()[0]
        raise TaskFileError(f"{path}: cannot be parsed ({first_line})", hint="fix the YAML syntax") from None
    if isinstance(document, dict) and "tasks" in document:
        document = document["tasks"]
    if not isinstance(document, list):
        raise TaskFileError(f"{path}: expected a list of tasks", hint='write a list, or an object {"tasks": [...]}')
    return document


def _task(where: str, entry: Any) -> Task:
    if not isinstance(entry, dict):
        raise TaskFileError(f"{where}: not an object", hint="each task is an object with id and world")
    try:
        return Task.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "task"
        task_id = entry.get("id")
        named = f"task {_shortened(task_id)}: " if isinstance(task_id, str) and field != "id" else ""
        message = first["msg"].removeprefix("Value error, ").splitlines()[0]
        raise TaskFileError(f"{where}: {named}field {field!r}: {message}", hint=_TASK_HINT) from None


def _shortened(task_id: str) -> str:
    return repr(task_id) if len(task_id) <= 60 else repr(task_id[:57] + "...")
