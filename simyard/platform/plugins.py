"""Plugin imports: modules or `.py` files that register worlds, agents and suites, imported in every process.

Registrations (`simyard.register_world` and friends) live in one process's memory. A spawned bench worker starts
with an empty registry, so the run records the plugins it needs (run.json's `imports`, the CLI's `--import`) and
every process imports them before it builds anything. Installed packages use entry points instead and need none of
this; plugins are for code that is not installed: a research script, a test's worlds, a notebook's agent.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path

from simyard.platform.errors import SimyardError, describe


class PluginImportError(SimyardError):
    """A plugin module named with `--import` that cannot be imported."""


def _is_path(item: str) -> bool:
    return item.endswith(".py") or "/" in item or os.sep in item


def normalise_imports(imports: Iterable[str]) -> list[str]:
    """Plugin names as run.json stores them: module names as given, files as absolute paths, no repeats."""
    result: list[str] = []
    for item in imports:
        item = item.strip()
        if not item:
            continue
        if _is_path(item):
            item = str(Path(item).expanduser().resolve())
        if item not in result:
            result.append(item)
    return result


def import_plugins(imports: Iterable[str]) -> None:
    """Import plugin modules (dotted names, or paths of `.py` files) so their `register_*` calls run here.

    A `.py` file is imported under its stem (or a unique name if another module has it); its own directory is not
    put on `sys.path`, so a plugin that imports siblings should be a package named by module instead.

    Raises:
        PluginImportError: The module or file cannot be imported; the message carries the underlying error.
    """
    hint = "name a module importable from here (mypkg.worlds) or the path of a .py file"
    for item in imports:
        try:
            if _is_path(item):
                _import_file(Path(item))
            else:
                importlib.import_module(item)
        except SimyardError:
            raise
        except Exception as exc:
            raise PluginImportError(f"cannot import plugin {item!r}: {describe(exc)}", hint=hint) from exc


def _import_file(path: Path) -> None:
    path = path.resolve()
    if not path.is_file():
        raise PluginImportError(f"plugin file {path} does not exist", hint="check the path given to --import")
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        if Path(getattr(existing, "__file__", None) or "").resolve() == path:
            return  # already imported (by a test, or the user's code): a second copy would make twin classes
        name = f"_simyard_plugin_{name}_{zlib.crc32(str(path).encode()):08x}"
        if name in sys.modules:
            return
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginImportError(f"{path} is not an importable Python file", hint="plugin files end in .py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise

