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
from simyard.platform.errors import MissingExtraError, SimyardError, UnknownNameError

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
    """Fill the tables once per process: built-ins first, then entry points of installed distributions.

    A plugin never takes a name that is already taken (a built-in keeps its name); the collision is reported as one
    line on stderr naming both, never dropped silently.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import simyard._builtins as _builtins

    for kind, table in _builtins.REGISTRY.items():
        for name, target in table.items():
            _tables[kind].setdefault(name, _Entry(target, "builtin"))
    for kind, group in _GROUPS.items():
        for entry_point in metadata.entry_points(group=group):
            origin = entry_point.dist.name if entry_point.dist else "plugin"
            taken = _tables[kind].get(entry_point.name)
            if taken is None:
                _tables[kind][entry_point.name] = _Entry(entry_point.value, origin)
            elif taken.origin != origin or _target_text(taken.target) != entry_point.value:
                _warn_collision(kind, entry_point.name, entry_point.value, origin, taken)


def _target_text(target: Any) -> str:
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"


def _warn_collision(kind: str, name: str, value: str, origin: str, taken: _Entry) -> None:
    import sys

    owner = {"builtin": "the built-in", "user": "the user-registered"}.get(taken.origin, f"{taken.origin}'s")
    print(f"warning: {kind} {name!r} from distribution {origin!r} ({value}) is ignored: the name belongs to "
          f"{owner} {kind} ({_target_text(taken.target)}); rename the entry point in {origin}",
          file=sys.stderr, flush=True)


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
        import difflib

        known = ", ".join(sorted(_tables[kind])) or "none"
        close = difflib.get_close_matches(name, list(_tables[kind]), n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownNameError(f"no {kind} named {name!r}", hint=f"{guess}known {kind}s: {known}") from None


#: Extras of simyard and the top-level modules they install (read from simyard's metadata when available).
_EXTRA_MODULES = {"torch": "local", "transformers": "local", "ray": "ray", "docker": "docker", "ai2thor": "thor"}


def _extra_for(module: str) -> str | None:
    """The simyard extra that installs `module` (by its top-level name), or None."""
    import re

    top = module.split(".")[0]
    try:
        for requirement in metadata.requires("simyard") or []:
            match = re.match(r"^\s*([A-Za-z0-9_.-]+).*extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
            if match and match.group(2) != "dev" and match.group(1).lower().replace("-", "_") == top.lower():
                return match.group(2)
    except metadata.PackageNotFoundError:
        pass
    return _EXTRA_MODULES.get(top)


def _load(kind: str, name: str) -> Any:
    entry = _lookup(kind, name)
    own_module = entry.target.partition(":")[0] if isinstance(entry.target, str) else None
    try:
        return entry.load()
    except (ImportError, AttributeError) as exc:
        if isinstance(exc, SimyardError):
            raise
        missing = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
        if missing and own_module and not (own_module == missing or own_module.startswith(missing + ".")):
            # the entry's module exists but needs a dependency that is not installed
            extra = _extra_for(missing)
            if extra is not None:
                hint = f"install it with: pip install 'simyard[{extra}]'"
            elif entry.origin in ("builtin", "user"):
                hint = f"install it with: pip install {missing.split('.')[0]}"
            else:
                hint = f"install the dependencies of {entry.origin} (pip install {missing.split('.')[0]})"
            raise MissingExtraError(f"{kind} {name!r} needs the module {missing!r}, which is not installed",
                                    hint=hint) from exc
        raise UnknownNameError(
            f"{kind} {name!r} is registered as {entry.target!r} but could not be loaded: {exc}",
            hint=f"check the package that declares it ({entry.origin})",
        ) from exc


def agent_factory(name: str) -> Callable[..., Agent]:
    """The class or factory registered as agent `name` (for `simyard agents info`: its signature and docstring)."""
    return _load("agent", name)


def suite_target(name: str) -> Any:
    """What suite `name` is registered as: a function returning tasks, or a task file path."""
    entry = _lookup("suite", name)
    if isinstance(entry.target, str) and ":" not in entry.target:
        return entry.target  # a task file path registered as a string
    return _load("suite", name)


def world_class(name: str) -> type[Env]:
    """The class registered as world `name`."""
    return _load("world", name)


def make(name: str, resources: Any = None, **options: Any) -> Env:
    """Build a fresh world by name; `options` go to its constructor.

    `resources` (a `simyard.platform.resources.Resources` scope) is passed on only to a constructor that takes a
    `resources` keyword, so worlds that share nothing need not know about it. Options the constructor does not take
    are refused by name, with the accepted ones listed.
    """
    cls = world_class(name)
    check_world_options(name, options)
    if resources is not None and accepts_keyword(cls, "resources"):
        options = {**options, "resources": resources}
    return cls(**options)


def world_option_names(name: str) -> list[str] | None:
    """The constructor options a world takes, or None when it takes any (`**kwargs`)."""
    return _keyword_names(world_class(name))


def check_world_options(name: str, options: dict[str, Any]) -> None:
    """Refuse world options the world's constructor does not take, naming them and listing the accepted ones."""
    accepted = world_option_names(name)
    if accepted is None:
        return
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        listed = ", ".join(accepted) if accepted else "none"
        raise UnknownNameError(f"world {name!r} does not take the option(s) {', '.join(unknown)}",
                               hint=f"its options: {listed}")


def accepts_keyword(target: Any, keyword: str) -> bool:
    """Whether `target` names `keyword` among its parameters (a `**kwargs` catch-all does not count)."""
    import inspect

    try:
        return keyword in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def _keyword_names(target: Any) -> list[str] | None:
    import inspect

    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        return None
    return [parameter.name for parameter in parameters if parameter.name != "resources"
            and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]


def make_agent(name: str, resources: Any = None, **options: Any) -> Agent:
    """Build an agent by name; `options` (from `--agent-opt key=value`) go to its factory.

    `resources` (the process's `Resources` scope) reaches only a factory that takes a `resources` keyword: that is
    how the agents of one worker share one backend.
    """
    factory = _load("agent", name)
    accepted = _keyword_names(factory)  # None: the factory takes any keyword
    unknown = sorted(set(options) - set(accepted)) if accepted is not None else []
    if unknown:
        # Name only the options that are wrong: listing every option given sent people hunting for valid ones.
        raise UnknownNameError(
            f"agent {name!r} does not accept the options {', '.join(map(repr, unknown))}",
            hint=f"its options are {', '.join(accepted or []) or 'none'}; see `simyard agents info {name}`",
        )
    import inspect

    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:  # e.g. a required option missing; a TypeError raised inside the factory is a bug
        raise UnknownNameError(
            f"agent {name!r} cannot be built with these options: {exc}",
            hint=f"see `simyard agents info {name}` for its options",
        ) from exc
    except ValueError:
        pass  # no signature to check (a builtin or C callable): let the factory judge
    if resources is not None and accepts_keyword(factory, "resources"):
        return factory(resources=resources, **options)
    return factory(**options)


def load_suite(name_or_path: str, options: dict[str, Any] | None = None) -> list[Task]:
    """The tasks of a registered suite, of a task file (`.jsonl`, `.json`, `.yaml`) given by path, or of a directory
    of Harbor task folders (or one such folder; world `harbor`, see `simyard.harbor.format`) that is not the name of
    a registered suite.

    `options` go to a suite function as keywords (`data=PATH` for a suite read from a data folder); a suite refuses
    options its function does not take, by name. Harbor task folders take `max_turns`.

    Every task is checked as it is read (`taskfiles.check_tasks`): its id fits a directory name and its config
    passes its world's `config_model`, so a bad task stops the suite here with one line naming it and the field.
    """
    from simyard.platform.taskfiles import TASK_FILE_SUFFIXES, check_tasks, load_task_file

    options = dict(options or {})
    path = Path(name_or_path)
    if path.is_file() or path.suffix in TASK_FILE_SUFFIXES:
        _refuse_suite_options(name_or_path, options, [])
        tasks = load_task_file(path)
        _check_unique(name_or_path, tasks)
        return tasks
    if path.is_dir() and name_or_path not in names("suite"):
        from simyard.harbor.format import load_task_folders

        _refuse_suite_options(name_or_path, options, ["max_turns"])
        tasks = load_task_folders(path, **options)
        check_tasks(tasks, f"task folders {name_or_path!r}")
        _check_unique(name_or_path, tasks)
        return tasks
    target = _load("suite", name_or_path)
    if isinstance(target, (str, Path)):
        _refuse_suite_options(name_or_path, options, [])
        tasks = load_task_file(Path(target))
    else:
        accepted = _keyword_names(target)  # None: the function takes any keyword
        if accepted is not None:
            _refuse_suite_options(name_or_path, options, accepted)
        tasks = list(target(**options))
        check_tasks(tasks, f"suite {name_or_path!r}")
    _check_unique(name_or_path, tasks)
    return tasks


def suite_option_names(name: str) -> list[str] | None:
    """The options a suite function takes (`[]` for a task file), or None when it takes any (`**kwargs`)."""
    target = suite_target(name)
    return [] if isinstance(target, (str, Path)) else _keyword_names(target)


def _refuse_suite_options(suite: str, options: dict[str, Any], accepted: list[str]) -> None:
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        listed = ", ".join(accepted) if accepted else "none"
        raise UnknownNameError(f"suite {suite!r} does not take the option(s) {', '.join(unknown)}",
                               hint=f"its options: {listed}")


def _check_unique(suite: str, tasks: list[Task]) -> None:
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise SimyardError(f"suite {suite!r} has two tasks with id {task.id!r}", hint="task ids must be unique")
        seen.add(task.id)


def find_task(tasks: list[Task], task_id: str, suite: str) -> Task:
    """The task with `task_id`, or an error naming close ids and where to list them all."""
    import difflib

    for task in tasks:
        if task.id == task_id:
            return task
    ids = [task.id for task in tasks]
    close = difflib.get_close_matches(task_id, ids, n=3)
    sample = ", ".join(close or ids[:5])
    lead = "did you mean" if close else "ids look like"
    raise UnknownNameError(f"suite {suite!r} has no task {task_id!r}",
                           hint=f"{lead}: {sample}; see `simyard tasks list {suite}`")
