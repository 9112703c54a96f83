"""EmbodiedBench's EB-ALFRED data folder read as simyard tasks for the `household` world, runnable without AI2-THOR.

A data folder holds `splits/<subset>.json` (EB-ALFRED's six subsets, 50 entries each), ALFRED trajectories
`json_2.1.0/<full_scene_name>/pp/ann_<repeat_idx>.json` and ALFRED's floor-plan layouts
`gen/layouts/FloorPlanN-{objects,openable}.json` (inside the folder or beside it, as EmbodiedBench ships them).
Each entry becomes a `Task` whose config is a `HouseholdConfig` with an explicit scene built from the trajectory
and its floor plan, goal predicates built from the trajectory's `pddl_params` the way ALFRED's `env/tasks.py`
counts conditions, the EB instruction, and EB's `NL Steps` as the reference plan.

The files leave some things implicit (where the furniture no trajectory mentions stands, which receptacle holds an
object the plan never touches); every such inference is listed in docs/eb-alfred-data.md. Anything malformed is a
`TaskFileError` naming the file and the key, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simyard.platform.api import Task
from simyard.platform.errors import TaskFileError
from simyard.sims.household import vocab
from simyard.sims.household.state import AgentState, House, Room, Thing
from simyard.sims.household.taskconfig import HouseholdConfig

#: EB-ALFRED's subsets, in the order its evaluator runs them.
SUBSETS: tuple[str, ...] = (
    "base", "common_sense", "complex_instruction", "spatial", "visual_appearance", "long_horizon",
)  # fmt: skip

#: The keys every entry of a split file must have.
SPLIT_KEYS: tuple[str, ...] = (
    "repeat_idx", "full_scene_name", "task type", "task id", "task description", "NL Steps",
)  # fmt: skip

#: ALFRED's seven task types.
TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "pick_two_obj_and_place",
    "look_at_obj_in_light",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_clean_then_place_in_recep",
    "pick_and_place_with_movable_recep",
)

#: Types THOR makes dirty with `SetStateOfAllObjects(CanBeDirty)` when a trajectory says `dirty_and_empty`.
DIRTYABLE: frozenset[str] = frozenset({"Bed", "Bowl", "Cloth", "Cup", "Mug", "Pan", "Plate", "Pot"})

#: Types a scene keeps from a floor plan's object list: what EB-ALFRED's skills can name, plus the receptacles.
#: THOR's scenery (Floor, Window, LightSwitch, StoveKnob, ...) is left out, and so are `Sink` and `Bathtub`, which
#: the skills mean as their basins (`find a Sink` goes to the SinkBasin, as in vocab.SKILL_ALIASES).
KEPT_TYPES: frozenset[str] = (
    frozenset(vocab.FIND_TYPES) | vocab.FIXED_RECEPTACLES | vocab.MOVABLE_RECEPTACLES | vocab.TOGGLEABLE
) - frozenset(vocab.SKILL_ALIASES)

#: ALFRED's PDDL coordinates are in grid cells of 0.25 m (`coordinateReceptacleObjectId: [Type, [x, x, z, z, y, y]]`).
_GRID_M = 0.25


def load_eb_alfred(path: str | Path, subsets: Sequence[str] | None = None) -> list[Task]:
    """EB-ALFRED's tasks from a data folder, as `household` tasks, subset by subset in EB's order.

    Args:
        path: The data folder (EmbodiedBench's `embodiedbench/envs/eb_alfred/data`, or any folder with `splits/`
            and `json_2.1.0/`); `gen/layouts` is looked for inside it, then beside it.
        subsets: Only these subsets; default every one of the six whose split file exists.

    Raises:
        TaskFileError: The folder is not a data folder, or a file is missing or lacks a key (named in the message).
    """
    folder = DataFolder.open(path)
    wanted = list(subsets) if subsets is not None else [s for s in SUBSETS if folder.split_file(s).is_file()]
    if not wanted:
        raise TaskFileError(
            f"{folder.splits}: none of EB-ALFRED's split files is there",
            hint=f"expected {', '.join(s + '.json' for s in SUBSETS)}",
        )
    tasks: list[Task] = []
    for subset in wanted:
        for index, entry in enumerate(folder.read_split(subset)):
            tasks.append(folder.task(subset, index, entry))
    return tasks


def eb_alfred_data_suite(data: str) -> list[Task]:
    """A suite function over a data folder (`simyard tasks list SUITE --data PATH` passes `data`)."""
    return load_eb_alfred(data)


# ----------------------------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class DataFolder:
    """Where a data folder's parts are, checked once so later errors can name the exact file."""

    root: Path
    splits: Path
    trajectories: Path
    layouts: Path

    @classmethod
    def open(cls, path: str | Path) -> DataFolder:
        root = Path(path).expanduser()
        hint = "point at EmbodiedBench's embodiedbench/envs/eb_alfred/data, which holds splits/ and json_2.1.0/"
        if not root.is_dir():
            raise TaskFileError(f"{root}: no such folder (an EB-ALFRED data folder was expected)", hint=hint)
        splits, trajectories = root / "splits", root / "json_2.1.0"
        for needed in (splits, trajectories):
            if not needed.is_dir():
                raise TaskFileError(f"{root}: not an EB-ALFRED data folder: it has no {needed.name}/", hint=hint)
        layouts = next((p for p in (root / "gen" / "layouts", root.parent / "gen" / "layouts") if p.is_dir()), None)
        if layouts is None:
            raise TaskFileError(
                f"{root}: ALFRED's floor-plan layouts are missing (no gen/layouts/ in it or beside it)",
                hint="copy ALFRED's gen/layouts (FloorPlanN-objects.json, FloorPlanN-openable.json) into the folder",
            )
        return cls(root, splits, trajectories, layouts)

    def split_file(self, subset: str) -> Path:
        return self.splits / f"{subset}.json"

    def read_split(self, subset: str) -> list[dict[str, Any]]:
        """A split file's entries, each checked for EB's keys."""
        path = self.split_file(subset)
        if not path.is_file():
            raise TaskFileError(f"{path}: no such split file", hint=f"EB-ALFRED's subsets: {', '.join(SUBSETS)}")
        entries = _read_json(path)
        if not isinstance(entries, list):
            raise TaskFileError(f"{path}: a split file is a JSON list of entries, not {type(entries).__name__}",
                                hint=f"each entry has the keys {', '.join(SPLIT_KEYS)}")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise TaskFileError(f"{path}: entry {index} is not a JSON object",
                                    hint=f"each entry has the keys {', '.join(SPLIT_KEYS)}")
            missing = [key for key in SPLIT_KEYS if key not in entry]
            if missing:
                raise TaskFileError(f"{path}: entry {index} has no key {missing[0]!r}",
                                    hint=f"each entry has the keys {', '.join(SPLIT_KEYS)}")
        return entries

    def trajectory_path(self, entry: dict[str, Any]) -> Path:
        return self.trajectories / str(entry["full_scene_name"]) / "pp" / f"ann_{entry['repeat_idx']}.json"

    def task(self, subset: str, index: int, entry: dict[str, Any]) -> Task:
        """One split entry as a `household` task."""
        where = f"{self.split_file(subset)}: entry {index}"
        traj_path = self.trajectory_path(entry)
        if not traj_path.is_file():
            raise TaskFileError(
                f"{traj_path}: no such trajectory file (named by {where}, keys 'full_scene_name' and 'repeat_idx')",
                hint="the data folder is incomplete: fetch EB-ALFRED's json_2.1.0 tree (Hugging Face "
                "EmbodiedBench/EB-ALFRED)",
            )
        traj = Trajectory(traj_path, _read_json(traj_path))
        instruction = str(entry["task description"]).strip()
        if not instruction:
            raise TaskFileError(f"{where}: key 'task description' is empty", hint="it is the instruction shown")
        config = HouseholdConfig(
            instruction=instruction,
            goals=goal_predicates(traj),
            scene=build_scene(traj, self.layouts).to_dict(),
            task_type=traj.task_type,
            plan=plan_steps(entry["NL Steps"], f"{where}, key 'NL Steps'"),
        )
        return Task(
            id=f"eb-alfred-data-{subset}-{index:03d}",
            world="household",
            instruction=instruction,
            subset=subset,
            config=config.model_dump(),
            goal={"predicates": list(config.goals), "alfred_task": f"{entry['full_scene_name']}#{entry['repeat_idx']}"},
            max_steps=config.max_steps,
            max_invalid=config.max_invalid,
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{path}: cannot be read: {exc}", hint="check the file and its permissions") from None
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})",
                            hint="the file is damaged; fetch it again") from None


# ------------------------------------------------------------------------------------------- trajectories


class Trajectory:
    """An ALFRED trajectory (`pp/ann_K.json`): typed access to the keys the loader reads, naming any that lack."""

    def __init__(self, path: Path, data: Any) -> None:
        if not isinstance(data, dict):
            raise TaskFileError(f"{path}: a trajectory is a JSON object", hint="the file is damaged; fetch it again")
        self.path = path
        self.data = data

    def get(self, *keys: str, kind: type | tuple[type, ...] = object, optional: bool = False) -> Any:
        """The value at `keys` (`get("scene", "floor_plan")`); a missing or mistyped one names its key path."""
        value: Any = self.data
        for depth, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                if optional:
                    return None
                dotted = ".".join(keys[: depth + 1])
                raise TaskFileError(f"{self.path}: no key {dotted!r}", hint="an ALFRED 2.1.0 trajectory has it")
            value = value[key]
        if not isinstance(value, kind) and not (optional and value is None):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise TaskFileError(f"{self.path}: key {'.'.join(keys)!r} should be {names}, not {value!r:.60}",
                                hint="an ALFRED 2.1.0 trajectory has it in that form")
        return value

    @property
    def task_type(self) -> str:
        task_type = self.get("task_type", kind=str)
        if task_type not in TASK_TYPES:
            raise TaskFileError(f"{self.path}: key 'task_type' is {task_type!r}, not one of ALFRED's task types",
                                hint=f"ALFRED's task types: {', '.join(TASK_TYPES)}")
        return task_type

    def target(self, key: str, required: bool = True) -> str | None:
        """A `pddl_params` target type (`object_target`, ...); '' and None read as absent."""
        value = self.get("pddl_params", key, kind=str, optional=not required)
        if required and not value:
            raise TaskFileError(f"{self.path}: key 'pddl_params.{key}' is empty",
                                hint=f"a {self.task_type} task names it")
        return value or None

    @property
    def sliced(self) -> bool:
        return bool(self.get("pddl_params", "object_sliced", optional=True))

    def high_pddl(self) -> list[dict[str, Any]]:
        steps = self.get("plan", "high_pddl", kind=list)
        return [step for step in steps if isinstance(step, dict)]


# ------------------------------------------------------------------------------------------------- goals


def goal_predicates(traj: Trajectory) -> list[str]:
    """The goal as predicates, one per condition ALFRED's `env/tasks.py` counts for the task type.

    `progress` = predicates met / total then equals ALFRED's (and EB-ALFRED's) `task_progress`. A sliced target adds
    ALFRED's slice condition (two for pick_two_obj_and_place, which counts each slice) and makes every other
    condition about slices of the object.
    """
    task_type = traj.task_type
    word = traj.target("object_target")
    obj = f"{word}[sliced]" if traj.sliced else word
    sliced = [f"sliced({word})"] * (2 if task_type == "pick_two_obj_and_place" else 1) if traj.sliced else []
    if task_type == "look_at_obj_in_light":
        lamp = traj.target("toggle_target")
        # ALFRED: the object is in hand, and some lamp of the type is on and visible
        return [*sliced, f"holding({obj})", f"visible({lamp}[toggled])"]
    parent = traj.target("parent_target")
    if task_type == "pick_and_place_simple":
        return [*sliced, f"inside({obj}, {parent})"]
    if task_type == "pick_two_obj_and_place":
        # ALFRED counts min(objects placed, 2) as two conditions
        return [*sliced, f"inside({obj}, {parent})", f"inside({obj}, {parent}, 2)"]
    if task_type == "pick_and_place_with_movable_recep":
        mrecep = traj.target("mrecep_target")
        # the third condition (object and movable receptacle stacked in the parent) reads "the object is in the
        # parent at any depth"; together with the first two it asks for the stack, as ALFRED does
        return [*sliced, f"inside({obj}, {mrecep})", f"inside({mrecep}, {parent})", f"inside({obj}, {parent})"]
    state = {"pick_heat_then_place_in_recep": "heated", "pick_cool_then_place_in_recep": "cooled",
             "pick_clean_then_place_in_recep": "cleaned"}[task_type]
    changed = f"{word}[sliced,{state}]" if traj.sliced else f"{word}[{state}]"
    return [*sliced, f"inside({obj}, {parent})", f"{state}({obj})", f"inside({changed}, {parent})"]


# -------------------------------------------------------------------------------------------------- plans

_STEP_FORMS = (
    (re.compile(r"^find (?:a |an |the )?(.+)$"), "find a {}"),
    (re.compile(r"^pick up (?:a |an |the )?(.+)$"), "pick up the {}"),
    (re.compile(r"^open (?:a |an |the )?(.+)$"), "open the {}"),
    (re.compile(r"^close (?:a |an |the )?(.+)$"), "close the {}"),
    (re.compile(r"^turn on (?:a |an |the )?(.+)$"), "turn on the {}"),
    (re.compile(r"^turn off (?:a |an |the )?(.+)$"), "turn off the {}"),
    (re.compile(r"^slice (?:a |an |the )?(.+)$"), "slice the {}"),
)

#: Skill words by their lower-case spelling without spaces (`desklamp`, `sinkbasin`), for matching NL Steps.
_WORDS: dict[str, str] = {
    **{t.lower(): t for t in (*vocab.FIND_TYPES, *vocab.PICKUP_TYPES, *vocab.FIXED_RECEPTACLES, *vocab.TOGGLE_TYPES)},
    **{target.lower(): word for word, target in vocab.SKILL_ALIASES.items()},
}


def plan_steps(raw: Any, where: str) -> list[str]:
    """EB's `NL Steps` in the `household` world's skill words (`find a sinkbasin` -> `find a Sink`).

    `NL Steps` is a list of step strings or one string of steps separated by commas, semicolons or new lines,
    optionally numbered. A step that matches no skill form is kept as written: the reference plan documents the
    task, and the world answers an unknown skill as an invalid action.
    """
    if isinstance(raw, str):
        parts = [p for p in re.split(r"[,;\n]+", raw)]
    elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        parts = list(raw)
    else:
        raise TaskFileError(f"{where}: should be a list of step strings or one string, not {raw!r:.60}",
                            hint='e.g. ["find a Apple", "pick up the Apple", ...]')
    steps = []
    for part in parts:
        text = re.sub(r"^\s*(?:step\s*)?\d+\s*[.):]\s*", "", part, flags=re.IGNORECASE).strip().rstrip(".")
        if text:
            steps.append(_skill_words(text))
    return steps


def _skill_words(step: str) -> str:
    lowered = " ".join(step.lower().split())
    if lowered.startswith("put down"):
        return vocab.PUT_DOWN
    if lowered.startswith("drop"):
        return vocab.DROP
    for pattern, template in _STEP_FORMS:
        match = pattern.match(lowered)
        if match:
            name = match.group(1).strip()
            base, sep, number = name.replace(" ", "").partition("_")
            word = _WORDS.get(base)
            if word is not None and (not sep or number.isdigit()):
                return template.format(word + sep + number)
    return step


# -------------------------------------------------------------------------------------------------- scenes


def build_scene(traj: Trajectory, layouts: Path) -> House:
    """The trajectory's starting state as a `House` (z up; THOR's y-up positions are converted on the way in)."""
    plan_name = traj.get("scene", "floor_plan", kind=str)
    scene_num = traj.get("scene", "scene_num", kind=int, optional=True)
    objects_path, openable_path = layouts / f"{plan_name}-objects.json", layouts / f"{plan_name}-openable.json"
    for needed in (objects_path, openable_path):
        if not needed.is_file():
            raise TaskFileError(f"{needed}: no such layout file (for {traj.path}, key 'scene.floor_plan')",
                                hint="copy ALFRED's gen/layouts for every floor plan the trajectories use")
    present = _read_json(objects_path)
    openable = _read_json(openable_path)
    if not isinstance(present, list) or not isinstance(openable, dict):
        raise TaskFileError(f"{objects_path.parent}: {plan_name}'s layout files should be a list of types and "
                            "a dict of objectId to pose", hint="ALFRED's gen/layouts files have those shapes")

    builder = _SceneBuilder()
    for object_id in sorted(openable):
        builder.add_fixed(object_id, openable[object_id])
    plan_ids = _plan_object_ids(traj)
    for object_id in plan_ids:
        if not vocab.properties(_thor_type(object_id)).pickable:
            builder.add_fixed(object_id)
    builder.add_objects(_poses(traj))
    starts = _plan_starts(traj)
    for recep_type, where in starts.values():
        builder.ensure_receptacle(recep_type, where)
    builder.place_missing(t for t in present if isinstance(t, str))
    builder.assign_parents(starts)
    builder.set_states(traj)
    house = builder.house(_room_kind(plan_name, scene_num), _agent(traj))
    house.name_instances()
    return house


def _room_kind(floor_plan: str, scene_num: int | None) -> str:
    """ALFRED's floor plans by hundreds: 1-30 kitchens, 201-230 living rooms, 301-330 bedrooms, 401-430 bathrooms."""
    number = scene_num if scene_num is not None else int(re.sub(r"\D", "", floor_plan) or 0)
    return {0: "kitchen", 2: "living room", 3: "bedroom", 4: "bathroom"}.get(number // 100, "kitchen")


def _agent(traj: Trajectory) -> AgentState:
    init = traj.get("scene", "init_action", kind=dict, optional=True) or {}
    x, z = float(init.get("x", 0.0)), float(init.get("z", 0.0))
    rotation = init.get("rotation", 0.0)
    rotation = float(rotation.get("y", 0.0) if isinstance(rotation, dict) else rotation)
    return AgentState(pose=(x, z, _yaw(rotation)), horizon_deg=float(init.get("horizon", 30.0)))


def _yaw(thor_rotation_deg: float) -> float:
    """THOR's rotation about its up axis (clockwise from +z, seen from above) as a yaw from +x, counter-clockwise."""
    return (90.0 - thor_rotation_deg) % 360.0


def _to_z_up(x: float, y: float, z: float) -> tuple[float, float, float]:
    """THOR (Unity: left-handed, y up) to the kernel's right-handed z-up frame: swapping y and z flips the hand."""
    return (x, z, y)


def _thor_type(object_id: str) -> str:
    """The type in a THOR objectId: `Cabinet|+00.68|+00.50|-02.20` -> Cabinet; `Sink|...|SinkBasin` -> SinkBasin."""
    parts = object_id.split("|")
    return parts[4] if len(parts) >= 5 and parts[4] else parts[0]


def _id_position(object_id: str) -> tuple[float, float, float] | None:
    """The THOR position written in an objectId, in the kernel's frame, or None when it has none."""
    parts = object_id.split("|")
    try:
        x, y, z = (float(p) for p in parts[1:4])
    except ValueError:
        return None
    return _to_z_up(x, y, z)


def _thor_id(type_: str, x: float, y: float, z: float) -> str:
    """An objectId the way THOR writes one (two decimals, signed, zero unsigned)."""

    def fmt(value: float) -> str:
        return "00.00" if abs(value) < 0.005 else f"{value:+06.2f}"

    return f"{type_}|{fmt(x)}|{fmt(y)}|{fmt(z)}"


def _poses(traj: Trajectory) -> list[tuple[str, tuple[float, float, float], float]]:
    """(type, kernel position, yaw) of each pose in `scene.object_poses`."""
    poses = traj.get("scene", "object_poses", kind=list)
    found = []
    for index, pose in enumerate(poses):
        try:
            name = pose["objectName"]
            p = pose["position"]
            position = (float(p["x"]), float(p["y"]), float(p["z"]))
            rotation = pose.get("rotation") or {}
        except (KeyError, TypeError, ValueError):
            raise TaskFileError(f"{traj.path}: scene.object_poses[{index}] lacks objectName or position x, y, z",
                                hint='each pose is {"objectName", "position": {x, y, z}, "rotation": {x, y, z}}'
                                ) from None
        type_ = str(name).split("_")[0]
        found.append((type_, position, _yaw(float(rotation.get("y", 0.0)))))
    return found


def _plan_object_ids(traj: Trajectory) -> list[str]:
    """Every THOR objectId the expert plan names, in plan order."""
    ids: list[str] = []
    for step in traj.high_pddl():
        action = step.get("planner_action") or {}
        for key in ("objectId", "receptacleObjectId"):
            value = action.get(key)
            if isinstance(value, str) and "|" in value and value not in ids:
                ids.append(value)
    return ids


def _plan_starts(traj: Trajectory) -> dict[str, tuple[str, tuple[float, float, float]]]:
    """For each object the plan picks up, the receptacle it first lies on: objectId -> (type, kernel position).

    ALFRED's PickupObject steps name it as `coordinateReceptacleObjectId: [Type, [x, x, z, z, y, y]]` in grid cells
    of 0.25 m. Only an object's first pickup counts: later ones find it where the plan put it.
    """
    starts: dict[str, tuple[str, tuple[float, float, float]]] = {}
    for step in traj.high_pddl():
        action = step.get("planner_action") or {}
        object_id, recep = action.get("objectId"), action.get("coordinateReceptacleObjectId")
        if action.get("action") != "PickupObject" or not isinstance(object_id, str) or object_id in starts:
            continue
        try:
            recep_type, coords = str(recep[0]), [float(c) for c in recep[1]]
            where = _to_z_up(coords[0] * _GRID_M, coords[4] * _GRID_M, coords[2] * _GRID_M)
        except (TypeError, IndexError, ValueError):
            continue  # a pickup without its receptacle's coordinates: the object's receptacle is inferred instead
        starts[object_id] = (vocab.thing_word(recep_type), where)
    return starts


#: Fixed types whose THOR pivot is their top surface (a counter's slab), not their middle.
_TOP_PIVOT = frozenset({"CounterTop"})


def _fixed_center(type_: str, pivot: tuple[float, float, float]) -> tuple[float, float, float]:
    """The middle of a fixed thing from THOR's pivot: a pivot below 0.1 m stands on the floor (tables, beds, the
    fridge), a counter's pivot is its top, anything else's its middle; heights are the type's vocab size."""
    x, y, z = pivot
    height = vocab.properties(type_).size_m[2]
    if z < 0.1:
        return (x, y, round(height / 2, 3))
    if type_ in _TOP_PIVOT:
        return (x, y, round(z - height / 2, 3))
    return pivot


class _SceneBuilder:
    """Collects things from the floor plan, the poses and the plan, then infers what the files leave out."""

    def __init__(self) -> None:
        self.things: dict[str, Thing] = {}
        self.placed: list[Thing] = []  # things whose position the files give
        self.unfaced: list[Thing] = []  # fixed things no file says which way they face

    def _new(self, object_id: str, type_: str, pos: tuple[float, float, float], yaw: float = 0.0) -> Thing:
        info = vocab.properties(type_)
        unique, n = object_id, 1
        while unique in self.things:  # two poses at one rounded position: keep both, THOR-like ids stay unique
            n += 1
            unique = f"{object_id}|{n}"
        thing = Thing(id=unique, type=type_, name=type_, pos=pos, yaw_deg=yaw, **info.thing_flags())
        self.things[unique] = thing
        return thing

    def add_fixed(self, object_id: str, agent_pose: Any = None) -> None:
        """A fixed thing at its objectId's position, facing the spot openable.json says the agent uses it from."""
        type_ = _thor_type(object_id)
        pos = _id_position(object_id)
        if object_id in self.things or pos is None or type_ not in KEPT_TYPES:
            return
        thing = self._new(object_id, type_, _fixed_center(type_, pos))
        self.placed.append(thing)
        try:
            ax, az = float(agent_pose[0]), float(agent_pose[1])
        except (TypeError, IndexError, ValueError):
            self.unfaced.append(thing)
            return
        thing.yaw_deg = round(math.degrees(math.atan2(az - pos[1], ax - pos[0])) % 360.0, 2)

    def add_objects(self, poses: Iterable[tuple[str, tuple[float, float, float], float]]) -> None:
        for type_, (x, y, z), yaw in poses:
            if type_ in KEPT_TYPES:
                self.placed.append(self._new(_thor_id(type_, x, y, z), type_, _to_z_up(x, y, z), yaw))

    def ensure_receptacle(self, type_: str, where: tuple[float, float, float]) -> None:
        """A receptacle the plan picks from but no layout lists (a StoveBurner, a GarbageCan): add it there."""
        if type_ not in KEPT_TYPES or any(_close(t, type_, where, 0.3) for t in self.things.values()):
            return
        x, y, z = where
        thing = self._new(_thor_id(type_, x, z, y), type_, _fixed_center(type_, where))
        self.placed.append(thing)
        self.unfaced.append(thing)

    def place_missing(self, present_types: Iterable[str]) -> None:
        """One thing of each fixed type the floor plan lists but no file places, on free spots along the room's edge."""
        have = {thing.type for thing in self.things.values()}
        missing = sorted({vocab.thing_word(t) for t in present_types} - have)
        # a pickable type no pose places is not in the scene: THOR's SetObjectPoses removes what it is not given
        missing = [t for t in missing if t in KEPT_TYPES and not vocab.properties(t).pickable]
        x0, y0, x1, y1 = self.bounds()
        spots = _edge_spots(x0, y0, x1, y1)
        for type_ in missing:
            info = vocab.properties(type_)
            basin = self._first("SinkBasin") or self._first("BathtubBasin")
            if type_ == "Faucet" and basin is not None:
                bx, by, bz = basin.pos
                pos = (bx, by + 0.25, bz + 0.2)  # a faucet stands behind its basin
            else:
                spot = next((s for s in spots if self._free(s)), (x0, y0))
                pos = (spot[0], spot[1], info.size_m[2] / 2)
            thing = self._new(_thor_id(type_, pos[0], pos[2], pos[1]), type_, pos)
            self.placed.append(thing)
            self.unfaced.append(thing)

    def _first(self, *types: str) -> Thing | None:
        return next((t for t in sorted(self.things.values(), key=lambda t: t.id) if t.type in types), None)

    def _free(self, spot: tuple[float, float]) -> bool:
        return all(math.hypot(t.pos[0] - spot[0], t.pos[1] - spot[1]) > 0.6 for t in self.things.values())

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [t.pos[0] for t in self.placed] or [0.0]
        ys = [t.pos[1] for t in self.placed] or [0.0]
        return min(xs) - 0.75, min(ys) - 0.75, max(xs) + 0.75, max(ys) + 0.75

    def assign_parents(self, starts: dict[str, tuple[str, tuple[float, float, float]]]) -> None:
        """Put every pickable thing in or on a receptacle: the plan's when it names one, else the nearest fitting."""
        receptacles = [t for t in self.things.values() if t.receptacle]
        for thing in sorted(self.things.values(), key=lambda t: t.id):
            if not thing.pickable:
                continue
            start = _start_for(thing, starts)
            if start is not None:
                recep_type, where = start
                named = [r for r in receptacles if r.type == recep_type and r.id != thing.id]
                if named:
                    thing.parent = min(named, key=lambda r: _distance(r.pos, where)).id
                    continue
            thing.parent = _nearest_receptacle(thing, receptacles)

    def set_states(self, traj: Trajectory) -> None:
        """Toggles from `scene.object_toggles`; every dirtyable thing dirty when `scene.dirty_and_empty` holds."""
        for index, toggle in enumerate(traj.get("scene", "object_toggles", kind=list, optional=True) or []):
            if not isinstance(toggle, dict) or "objectType" not in toggle:
                raise TaskFileError(f"{traj.path}: scene.object_toggles[{index}] has no objectType",
                                    hint='each toggle is {"objectType": T, "isOn": true|false}')
            for thing in self.things.values():
                if thing.type == toggle["objectType"] and thing.toggleable:
                    thing.is_on = bool(toggle.get("isOn", False))
        if traj.get("scene", "dirty_and_empty", optional=True):
            for thing in self.things.values():
                thing.is_dirty = thing.type in DIRTYABLE

    def house(self, kind: str, agent: AgentState) -> House:
        x0, y0, x1, y1 = self.bounds()
        ax, ay = agent.pose[0], agent.pose[1]
        room = Room(name=kind, kind=kind, x0=min(x0, ax - 0.5), y0=min(y0, ay - 0.5), x1=max(x1, ax + 0.5),
                    y1=max(y1, ay + 0.5))
        cx, cy = (room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2
        for thing in self.unfaced:  # furniture with no known front faces the middle of the room
            thing.yaw_deg = round(math.degrees(math.atan2(cy - thing.pos[1], cx - thing.pos[0])) % 360.0, 2)
        house = House(rooms=[room], agent=agent)
        for thing in sorted(self.things.values(), key=lambda t: t.id):
            thing.room = room.name
            house.add(thing)
        return house


def _start_for(thing: Thing, starts: dict[str, tuple[str, tuple[float, float, float]]]) -> Any:
    """The plan's start receptacle for `thing`: the pickup whose objectId is of its type and nearest to it."""
    best, best_d = None, 0.3  # an objectId rounds the position to 1 cm; the pose may sit a little apart
    for object_id, start in starts.items():
        where = _id_position(object_id)
        if _thor_type(object_id) == thing.type and where is not None:
            d = _distance(where, thing.pos)
            if d < best_d:
                best, best_d = start, d
    return best


#: How far (by `_nearest_receptacle`'s score) a thing may be from a receptacle that holds it.
_REACH_M = 0.75

#: Receptacles that hold things inside their own height (besides the openable ones).
_CONTAINERS = frozenset({"GarbageCan", "SinkBasin", "BathtubBasin", "LaundryHamper", "Cart"})


def _nearest_receptacle(thing: Thing, receptacles: Sequence[Thing]) -> str | None:
    """The receptacle that most plausibly holds `thing`, among those that accept its type (any when none does).

    Fixed receptacles are boxes of their vocab size around their middle (`_fixed_center`). The score is the
    horizontal gap to a disc of half the longer side, plus the height to the top surface (to the box's height span
    for openable receptacles and containers such as a GarbageCan, whose contents sit inside). A movable receptacle
    counts only when the thing sits right on it. A thing scoring more than `_REACH_M` from every receptacle lies on
    the floor.
    """
    fitting = [r for r in receptacles if r.id != thing.id and vocab.properties(r.type).accepts(thing.type)]
    candidates = fitting or [r for r in receptacles if r.id != thing.id]
    best, best_score = None, math.inf
    height = thing.pos[2]
    for recep in candidates:
        horizontal = math.hypot(recep.pos[0] - thing.pos[0], recep.pos[1] - thing.pos[1])
        if recep.pickable and (horizontal > 0.12 or height < recep.pos[2] - 0.02 or recep.parent == thing.id):
            continue
        w, d, h = recep.size_m
        bottom, top = recep.pos[2] - h / 2, recep.pos[2] + h / 2
        if recep.openable or recep.type in _CONTAINERS:
            vertical = max(0.0, bottom - height, height - top)
        else:
            vertical = abs(height - top)
        score = max(0.0, horizontal - max(w, d) / 2) + vertical
        if score < best_score:
            best, best_score = recep.id, score
    # nothing within reach: the thing lies on the floor (THOR has balls and boots there)
    return best if best_score <= _REACH_M else None


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.dist(a, b)


def _close(thing: Thing, type_: str, where: tuple[float, float, float], within_m: float) -> bool:
    return thing.type == type_ and _distance(thing.pos, where) < within_m


def _edge_spots(x0: float, y0: float, x1: float, y1: float, step: float = 0.8) -> list[tuple[float, float]]:
    """Spots 0.4 m inside the room's edge, every `step` metres, going round from the lower-left corner."""
    x0, y0, x1, y1 = x0 + 0.4, y0 + 0.4, x1 - 0.4, y1 - 0.4
    spots: list[tuple[float, float]] = []
    nx, ny = max(1, int((x1 - x0) / step)), max(1, int((y1 - y0) / step))
    spots += [(x0 + i * (x1 - x0) / nx, y0) for i in range(nx)]
    spots += [(x1, y0 + i * (y1 - y0) / ny) for i in range(ny)]
    spots += [(x1 - i * (x1 - x0) / nx, y1) for i in range(nx)]
    spots += [(x0, y1 - i * (y1 - y0) / ny) for i in range(ny)]
    return [(round(x, 3), round(y, 3)) for x, y in spots]


# ------------------------------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class OracleShare:
    """How many tasks the `household` world's oracle solves, and which it does not."""

    solved: int
    total: int
    unsolved: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.solved / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"oracle solves {self.solved}/{self.total} ({self.share:.0%})"


def oracle_share(tasks: Iterable[Task], **world_options: Any) -> OracleShare:
    """Run the oracle agent on each task in the embedded `household` world (no pictures unless asked for).

    For a whole data folder: `oracle_share(load_eb_alfred(PATH))`, or `simyard bench run eb-alfred --data PATH
    --agent oracle`, which records the episodes too.
    """
    from simyard.agents.baselines import OracleAgent
    from simyard.platform.episode import run_episode_with
    from simyard.sims.household.alfred import HouseholdEnv

    env = HouseholdEnv(**{"render": "none", **world_options})
    solved, unsolved, total = 0, [], 0
    try:
        for task in tasks:
            total += 1
            result = run_episode_with(env, OracleAgent(), task, seed=0)
            if result.success:
                solved += 1
            else:
                unsolved.append(task.id)
    finally:
        env.close()
    return OracleShare(solved, total, tuple(unsolved))
