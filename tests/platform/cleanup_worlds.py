"""A world that litters the temp directory, for the scratch-cleanup tests (imported by path in spawned workers).

World `litter`: each reset makes a temp directory holding a 64 KiB file and keeps it until the world closes, as a
world that keeps per-episode logs until `close` does. One `done` ends the episode with success. A task with config
`die_marker` kills its process at reset the first time (while the marker file does not exist yet): a worker that
dies without a chance to clean up.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import simyard
from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.tasks.files import write_task_file

MODULE = __name__
PREFIX = "litter-"


class LitterWorld(Env):
    """Leaves a 64 KiB temp directory per episode until it is closed."""

    name = "litter"

    def __init__(self) -> None:
        self.kept: list[str] = []

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        scratch = tempfile.mkdtemp(prefix=PREFIX)
        Path(scratch, "log.bin").write_bytes(b"\0" * 65536)
        self.kept.append(scratch)
        marker = task.config.get("die_marker")
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(9)
        return Observation("Say done.", {}, {"valid_actions": ["done"]})

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("done",), help="done")

    def oracle(self) -> Action:
        return "done"

    def step(self, action: Action) -> StepResult:
        return StepResult(Observation("Done."), 1.0, True, False, {"valid": True, "success": True, "progress": 1.0})

    def close(self) -> None:
        for path in self.kept:
            shutil.rmtree(path, ignore_errors=True)
        self.kept.clear()


def write_litter_suite(path: Path, count: int, **config: object) -> Path:
    tasks = [Task(id=f"l{index:04d}", world="litter", instruction="Say done.", config=dict(config), max_steps=2)
             for index in range(count)]
    write_task_file(path, tasks)
    return path


def litter_left(base: Path) -> int:
    """Litter directories anywhere under `base` (ones removed while counting are skipped)."""
    return sum(name.startswith(PREFIX) for _, dirs, _ in os.walk(base) for name in dirs)


simyard.register_world("litter", LitterWorld)
