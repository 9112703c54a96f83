"""The core stays type-clean: mypy over simyard/platform (configured in pyproject.toml) finds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_finds_no_errors_in_the_platform_layer():
    pytest.importorskip("mypy")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--config-file", "pyproject.toml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_platform_layer_imports_nothing_above_it():
    import ast

    above = ("simyard.tasks", "simyard.agents", "simyard.gym", "simyard.cli", "simyard.sims", "simyard.testing")
    offenders = []
    for path in sorted((ROOT / "simyard" / "platform").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name == "simyard" or name.startswith(above):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
