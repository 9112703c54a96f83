"""Worlds, agents and task suites by name, including those that third-party packages declare.

Built-ins are registered as `"module:attribute"` strings so that naming a world never imports another world's heavy
dependencies. A package adds its own through entry points in the groups `simyard.worlds`, `simyard.agents` and
`simyard.suites` (the entry point's name is the registry name); they show up in `simyard env list` without any
change to simyard.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from simyard.platform.api import Agent, Env, Task
from simyard.platform.errors import SimyardError, UnknownNameError

_GROUPS = {"world": "simyard.worlds", "agent": "simyard.agents", "suite": "simyard.suites"}


@dataclass
class _Entry:
    target: Any  # the object, or a "module:attribute" string resolved on first use
    origin: str  # "builtin", "user" or the distribution that declared it

    def load(self) -> Any:
        if isinstance(self.target, str):
            module_name, _, attribute = self.target.partition(":")
            self.target = getattr(importlib.import_module(module_name), attribute)
        return self.target


_tables: dict[str, dict[str, _Entry]] = {kind: {} for kind in _GROUPS}
_plugins_loaded = False


def _register(kind: str, name: str, target: Any, origin: str) -> None:
    _tables[kind][name] = _Entry(target, origin)


def register_world(name: str, world: type[Env] | str) -> None:
    """Make a world class (or a lazy `"module:Class"` path) available as `name`."""
    _register("world", name, world, "user")


def register_agent(name: str, factory: Callable[..., Agent] | str) -> None:
    """Make an agent class or factory (called with the agent options as keywords) available as `name`."""
    _register("agent", name, factory, "user")


def register_suite(name: str, suite: Callable[[], list[Task]] | str | Path) -> None:
    """Make a task suite available as `name`: a function returning tasks, or a task file path."""
    _register("suite", name, suite, "user")


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from simyard import _builtins

    for kind, table in _builtins.REGISTRY.items():
        for name, target in table.items():
            _tables[kind].setdefault(name, _Entry(target, "builtin"))
    for kind, group in _GROUPS.items():
        for entry_point in metadata.entry_points(group=group):
            origin = entry_point.dist.name if entry_point.dist else "plugin"
            _tables[kind].setdefault(entry_point.name, _Entry(entry_point.value, origin))


def names(kind: str) -> list[str]:
    """Sorted registry names of one kind: `world`, `agent` or `suite`."""
    _load_plugins()
    return sorted(_tables[kind])


def origin(kind: str, name: str) -> str:
    """Where a registered name came from: `builtin`, `user`, or the declaring distribution."""
    _load_plugins()
    return _lookup(kind, name).origin


def _lookup(kind: str, name: str) -> _Entry:
    _load_plugins()
    try:
        return _tables[kind][name]
    except KeyError:
        known = ", ".join(sorted(_tables[kind])) or "none"
        raise UnknownNameError(f"no {kind} named {name!r}", hint=f"known {kind}s: {known}") from None


def _load(kind: str, name: str) -> Any:
    entry = _lookup(kind, name)
    try:
        return entry.load()
    except (ImportError, AttributeError) as exc:
        if isinstance(exc, SimyardError):
            raise
        raise UnknownNameError(
            f"{kind} {name!r} is registered as {entry.target!r} but could not be loaded: {exc}",
            hint=f"check the package that declares it ({entry.origin})",
        ) from exc


def world_class(name: str) -> type[Env]:
    """The class registered as world `name`."""
    return _load("world", name)


def make(name: str, **options: Any) -> Env:
    """Build a fresh world by name; `options` go to its constructor."""
    return world_class(name)(**options)


def make_agent(name: str, **options: Any) -> Agent:
    """Build an agent by name; `options` (from `--agent-opt key=value`) go to its factory."""
    factory = _load("agent", name)
    try:
        return factory(**options)
    except TypeError as exc:
        raise UnknownNameError(
            f"agent {name!r} does not accept the options {sorted(options)}: {exc}",
            hint=f"see `simyard agent info {name}` or the agent's docstring for its options",
        ) from exc


def load_suite(name_or_path: str) -> list[Task]:
    """The tasks of a registered suite, or of a task file (`.jsonl`, `.json`, `.yaml`) given by path."""
    from simyard.tasks.files import TASK_FILE_SUFFIXES, load_task_file

    path = Path(name_or_path)
    if path.is_file() or path.suffix in TASK_FILE_SUFFIXES:
        tasks = load_task_file(path)
        _check_unique(name_or_path, tasks)
        return tasks
    target = _load("suite", name_or_path)
    tasks = load_task_file(Path(target)) if isinstance(target, (str, Path)) else list(target())
    _check_unique(name_or_path, tasks)
    return tasks


def _check_unique(suite: str, tasks: list[Task]) -> None:
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise SimyardError(f"suite {suite!r} has two tasks with id {task.id!r}", hint="task ids must be unique")
        seen.add(task.id)


def find_task(tasks: list[Task], task_id: str, suite: str) -> Task:
    """The task with `task_id`, or an error listing some ids that exist."""
    for task in tasks:
        if task.id == task_id:
            return task
    sample = ", ".join(task.id for task in tasks[:5])
    raise UnknownNameError(f"suite {suite!r} has no task {task_id!r}", hint=f"ids look like: {sample}, ...")
