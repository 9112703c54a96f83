"""EmbodiedBench's EB-Navigation task files read as simyard tasks for the `navigation` world, without AI2-THOR.

EB-Navigation keeps its tasks in `datasets/<subset>.json` (base, common_sense, complex_instruction,
visual_appearance, long_horizon), each `{"tasks": [...]}`. An entry has `targetObjectType` (`Bread`),
`targetObjectIds` (THOR's objectId, `Bread|+01.30|+00.98|-01.53`; a list of them is read too, its first the
target), `target_position {x, y, z}` (metres, y up), `agentPose {position {x, y, z}, rotation, horizon}` (the yaw
and the camera's pitch in degrees; a rotation written as THOR's `{x, y, z}` dict is read by its y), `scene`
(`FloorPlan11`), `object_to_hide` (objectIds) and `instruction`.

Each entry becomes a task whose scene is a kitchen built round the recorded target and start (`rebuild.py`).
Frames: THOR is y-up and left-handed; simyard is z-up and right-handed. A THOR point (x, y, z) is (x, z, y) here,
which keeps the top-down picture as it is (THOR's +x right and +z up on a map are our +x and +y). THOR's rotation is
clockwise from +z seen from above; our yaw is counter-clockwise from +x, so yaw = 90 - rotation. THOR's horizon, like
ours, is positive looking down. The agent's y (its height in THOR) is not used: our camera is at eye height.

The folder may be EmbodiedBench's `envs/eb_navigation` (holding `datasets/`) or `datasets/` itself. Anything malformed
is a `TaskFileError` that names the file, the task and the key, never a traceback. `oracle_share` reports which share
of a file's tasks the oracle solves on the rebuilt scenes.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simyard.platform.api import Task
from simyard.platform.errors import TaskFileError
from simyard.sims.navigation.rebuild import Record, build
from simyard.sims.navigation.taskconfig import NavigationConfig

SUBSETS: tuple[str, ...] = ("base", "common_sense", "complex_instruction", "visual_appearance", "long_horizon")
TASK_KEYS: tuple[str, ...] = (
    "targetObjectType", "targetObjectIds", "target_position", "agentPose", "scene", "object_to_hide", "instruction",
)  # fmt: skip
MAX_STEPS = 20
_HINT = "an EB-Navigation task has " + ", ".join(TASK_KEYS)


def load_eb_navigation(path: str | Path, subsets: Sequence[str] | None = None) -> list[Task]:
    """EB-Navigation's tasks from a folder, as `navigation` tasks, subset by subset in EB's order.

    Args:
        path: A folder holding `datasets/<subset>.json`, or the `datasets` folder itself.
        subsets: Only these subsets; default every one of the five whose file exists.

    Raises:
        TaskFileError: The folder holds no dataset file, or a file is not JSON or lacks a key (named in the message).
    """
    folder = datasets_folder(path)
    wanted = list(subsets) if subsets is not None else [s for s in SUBSETS if (folder / f"{s}.json").is_file()]
    if not wanted:
        raise TaskFileError(
            f"{folder}: none of EB-Navigation's dataset files is there",
            hint=f"expected {', '.join(s + '.json' for s in SUBSETS)}",
        )
    tasks: list[Task] = []
    for subset in wanted:
        if subset not in SUBSETS:
            raise TaskFileError(f"unknown EB-Navigation subset {subset!r}", hint=f"its subsets: {', '.join(SUBSETS)}")
        file = folder / f"{subset}.json"
        for index, entry in enumerate(read_file(file)):
            tasks.append(to_task(entry, subset, index, f"{file}: task {index}"))
    return tasks


def datasets_folder(path: str | Path) -> Path:
    """The folder with the `<subset>.json` files: `path/datasets`, or `path` when the files are in it."""
    root = Path(path).expanduser()
    hint = "point at EmbodiedBench's embodiedbench/envs/eb_navigation (which holds datasets/) or at datasets/"
    if not root.is_dir():
        raise TaskFileError(f"{root}: no such folder (an EB-Navigation data folder was expected)", hint=hint)
    if (root / "datasets").is_dir():
        return root / "datasets"
    if any((root / f"{subset}.json").is_file() for subset in SUBSETS):
        return root
    raise TaskFileError(f"{root}: not an EB-Navigation data folder: no datasets/ and no <subset>.json", hint=hint)


def read_file(file: Path) -> list[dict[str, Any]]:
    """A dataset file's task entries (`{"tasks": [...]}`), each a JSON object."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{file}: cannot be read: {exc}", hint="check the file and its permissions") from None
    except json.JSONDecodeError as exc:
        raise TaskFileError(
            f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})", hint="the file is damaged; fetch it again"
        ) from None
    if not isinstance(data, dict) or "tasks" not in data:
        raise TaskFileError(f"{file}: no key 'tasks'", hint='a dataset file is {"tasks": [...]}')
    entries = data["tasks"]
    if not isinstance(entries, list):
        raise TaskFileError(f"{file}: key 'tasks' is {type(entries).__name__}, not a list", hint=_HINT)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise TaskFileError(f"{file}: task {index} is not a JSON object", hint=_HINT)
    return entries


def to_task(entry: dict[str, Any], subset: str, index: int, where: str) -> Task:
    """One entry as a `navigation` task on a kitchen rebuilt round it."""
    get = _Getter(entry, where)
    target_type = get.text("targetObjectType")
    ids = get.value("targetObjectIds")
    if isinstance(ids, list) and ids and all(isinstance(i, str) and i for i in ids):
        target_id = ids[0]
    elif isinstance(ids, str) and ids:
        target_id = ids
    else:
        raise TaskFileError(f"{where}: key 'targetObjectIds' should be an objectId or a list of them, not {ids!r:.60}",
                            hint=_HINT)  # fmt: skip
    tx, ty, tz = (get.number("target_position", axis) for axis in "xyz")
    sx, _, sz = (get.number("agentPose", "position", axis) for axis in "xyz")
    rotation = get.value("agentPose", "rotation")
    if isinstance(rotation, dict):
        rotation = get.number("agentPose", "rotation", "y")
    else:
        rotation = get.number("agentPose", "rotation")
    horizon = get.number("agentPose", "horizon")
    if not -30.0 <= horizon <= 60.0:
        raise TaskFileError(f"{where}: key 'agentPose.horizon' is {horizon}, outside AI2-THOR's -30 to 60",
                            hint="the camera pitch in degrees, positive looks down")  # fmt: skip
    scene_name = get.text("scene")
    hidden = get.value("object_to_hide")
    if not isinstance(hidden, list) or not all(isinstance(item, str) for item in hidden):
        raise TaskFileError(f"{where}: key 'object_to_hide' should be a list of objectIds, not {hidden!r:.60}",
                            hint=_HINT)  # fmt: skip
    instruction = get.text("instruction")
    record = Record(
        target_type=target_type,
        target_id=target_id,
        target=(tx, tz, ty),
        start=(sx, sz, round((90.0 - rotation) % 360.0, 6)),
        horizon_deg=horizon,
        # the same target and start give the same kitchen in every subset file, as one floor plan does in EB
        seed=zlib.crc32(json.dumps([scene_name, target_id, tx, ty, tz, sx, sz], default=str).encode()),
    )
    house = build(record, MAX_STEPS)
    config = NavigationConfig(
        instruction=instruction,
        target_id=target_id,
        target_type=target_type,
        target_xy=(tx, tz),
        start=record.start,
        horizon_deg=horizon,
        scene=house.to_dict(),
        max_steps=MAX_STEPS,
    )
    return Task(
        id=f"eb-navigation-data-{subset}-{index:03d}",
        world="navigation",
        instruction=instruction,
        subset=subset,
        config=config.model_dump(),
        goal={"target": target_id, "within_m": config.success_m, "eb_scene": scene_name, "object_to_hide": hidden},
        max_steps=MAX_STEPS,
        max_invalid=None,
    )


def oracle_share(tasks: Sequence[Task]) -> float:
    """The share of `tasks` the oracle solves within their step limits, played text-only (0.0 for no tasks)."""
    from simyard.sims.navigation.world import NavigationEnv

    solved = 0
    with NavigationEnv(render="none") as env:
        for task in tasks:
            env.reset(task)
            steps, done, success = 0, False, False
            while not done:
                for action in env.oracle():
                    result = env.step(action)
                    steps += 1
                    success = bool(result.info["success"])
                    done = result.terminated or result.truncated or steps >= task.max_steps
                    if done or not result.info["valid"]:
                        break
            solved += success
    return solved / len(tasks) if tasks else 0.0


def report(path: str | Path) -> dict[str, float]:
    """Per dataset file (subset) in a folder, the share of its tasks the oracle solves."""
    tasks = load_eb_navigation(path)
    return {subset: oracle_share([t for t in tasks if t.subset == subset]) for subset in SUBSETS
            if any(t.subset == subset for t in tasks)}  # fmt: skip


class _Getter:
    """Typed access to an entry's keys; a missing or mistyped one is a TaskFileError naming file, task and key."""

    def __init__(self, entry: dict[str, Any], where: str) -> None:
        self.entry = entry
        self.where = where

    def value(self, *keys: str) -> Any:
        node: Any = self.entry
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                dotted = ".".join(keys[: depth + 1])
                raise TaskFileError(f"{self.where}: no key {dotted!r}", hint=_HINT)
            node = node[key]
        return node

    def number(self, *keys: str) -> float:
        value = self.value(*keys)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TaskFileError(f"{self.where}: key {'.'.join(keys)!r} should be a number, not {value!r:.60}",
                                hint=_HINT)  # fmt: skip
        return float(value)

    def text(self, *keys: str) -> str:
        value = self.value(*keys)
        if not isinstance(value, str) or not value.strip():
            raise TaskFileError(f"{self.where}: key {'.'.join(keys)!r} should be a non-empty string, not "
                                f"{value!r:.60}", hint=_HINT)  # fmt: skip
        return value.strip()
