"""EB-ALFRED's skills and goals on AI2-THOR, from the same ALFRED trajectory files the embedded engine reads.

Three pure parts, testable anywhere with THOR-format fixtures, and one live class:

* `reset_steps(traj)`: the controller calls that restore a trajectory's scene, as ALFRED's `ThorEnv.restore_scene`
  does for AI2-THOR 2.1 (`Initialize`, `SetObjectToggles`, `SetStateOfAllObjects`, `SetObjectPoses`, then the
  `TeleportFull` of `scene.init_action`), or with AI2-THOR 5's per-object actions where 2.1's were removed.
* `ThorSkills.calls(skill, metadata)`: one EB-ALFRED skill as controller calls, choosing objects the way
  EmbodiedBench's `ThorConnector` does (nearest of the type; closed receptacles' contents last; visible and sliced
  ones first where it prefers them) and `find` teleporting to the reachable position nearest the object.
* `facts_from_metadata(metadata, states)`: `event.metadata` as goal `Fact`s, so `goals.check` judges a THOR episode
  with the predicates the loader writes; heated, cooled and cleaned are the sets ALFRED's `ThorEnv` keeps
  (`AlfredStates`), not THOR's temperature flags.
* `ThorHousehold`: an `ai2thor` controller playing a trajectory (imported when built; extra `thor`).

AI2-THOR 2.1.0 is what ALFRED and EB-ALFRED run (`PutObject` takes the held object and `receptacleObjectId`;
`TeleportFull` takes x, y, z and a scalar rotation). AI2-THOR 5 takes the receptacle as `objectId`, a position and
a rotation dict plus `standing`, and dropped `SetStateOfAllObjects` (its `DirtyObject`/`EmptyLiquidFromObject`
act on one object) and `Initialize` (settings go to `reset`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from simyard.platform.errors import SimyardError, require
from simyard.sims.household import goals, vocab
from simyard.sims.household.goals import Fact

Api = Literal["2.1", "5"]
Call = dict[str, Any]

#: ALFRED's `gen/constants.py` settings for its scenes: 0.25 m grid, camera 0.75 m above the agent's base, 1.5 m
#: visibility. EB's ThorConnector stands the agent at 0.9 m.
GRID_SIZE_M = 0.25
CAMERA_HEIGHT_OFFSET_M = 0.75
VISIBILITY_DISTANCE_M = 1.5
AGENT_HEIGHT_M = 0.9

#: THOR's dirtyable and fillable types that `SetStateOfAllObjects(CanBeDirty / CanBeFilled)` reaches in 2.1.
DIRTYABLE = frozenset({"Bed", "Bowl", "Cloth", "Cup", "Mirror", "Mug", "Pan", "Plate", "Pot"})


# ------------------------------------------------------------------------------------------- scene resets


def _scene(traj: Mapping[str, Any]) -> Mapping[str, Any]:
    scene = traj.get("scene")
    if not isinstance(scene, Mapping) or not isinstance(scene.get("floor_plan"), str):
        raise SimyardError("a trajectory without scene.floor_plan cannot be reset in AI2-THOR",
                           hint="pass an ALFRED 2.1.0 trajectory (pp/ann_K.json)")
    return scene


def reset_args(traj: Mapping[str, Any], api: Api = "2.1") -> Call:
    """Keyword arguments for `controller.reset(...)`: the floor plan, and in AI2-THOR 5 ALFRED's settings."""
    scene = _scene(traj)["floor_plan"]
    if api == "2.1":
        return {"scene": scene}
    return {"scene": scene, "gridSize": GRID_SIZE_M, "visibilityDistance": VISIBILITY_DISTANCE_M,
            "renderDepthImage": False, "renderInstanceSegmentation": False}


def restore_steps(traj: Mapping[str, Any], api: Api = "2.1") -> list[Call]:
    """The steps after `reset` that put objects where the trajectory has them (ALFRED's `restore_scene`)."""
    scene = _scene(traj)
    steps: list[Call] = []
    if api == "2.1":
        steps.append({"action": "Initialize", "gridSize": GRID_SIZE_M, "cameraY": CAMERA_HEIGHT_OFFSET_M,
                      "renderImage": True, "renderDepthImage": False, "renderClassImage": False,
                      "renderObjectImage": False, "visibility_distance": VISIBILITY_DISTANCE_M,
                      "makeAgentsVisible": False})
        if scene.get("object_toggles"):
            steps.append({"action": "SetObjectToggles", "objectToggles": list(scene["object_toggles"])})
        if scene.get("dirty_and_empty"):
            steps.append({"action": "SetStateOfAllObjects", "StateChange": "CanBeDirty", "forceAction": True})
            steps.append({"action": "SetStateOfAllObjects", "StateChange": "CanBeFilled", "forceAction": False})
    steps.append({"action": "SetObjectPoses", "objectPoses": list(scene.get("object_poses") or [])})
    return steps


def state_steps(traj: Mapping[str, Any], objects: Sequence[Mapping[str, Any]], api: Api = "2.1") -> list[Call]:
    """AI2-THOR 5's per-object replacements for 2.1's toggles and dirt (none for 2.1), from the objects after
    `SetObjectPoses` (`event.metadata["objects"]`)."""
    if api == "2.1":
        return []
    scene = _scene(traj)
    steps: list[Call] = []
    wanted = {t.get("objectType"): bool(t.get("isOn")) for t in scene.get("object_toggles") or []}
    for obj in sorted(objects, key=lambda o: o["objectId"]):
        on = wanted.get(obj.get("objectType"))
        if on is not None and obj.get("toggleable") and bool(obj.get("isToggled")) != on:
            steps.append({"action": "ToggleObjectOn" if on else "ToggleObjectOff", "objectId": obj["objectId"],
                          "forceAction": True})
    if scene.get("dirty_and_empty"):
        for obj in sorted(objects, key=lambda o: o["objectId"]):
            if obj.get("dirtyable") and not obj.get("isDirty"):
                steps.append({"action": "DirtyObject", "objectId": obj["objectId"], "forceAction": True})
            if obj.get("canFillWithLiquid") and obj.get("isFilledWithLiquid"):
                steps.append({"action": "EmptyLiquidFromObject", "objectId": obj["objectId"], "forceAction": True})
    return steps


def teleport_step(traj: Mapping[str, Any], api: Api = "2.1") -> Call | None:
    """The agent's start (`scene.init_action`), in the chosen version's form; None when the file has none."""
    init = _scene(traj).get("init_action")
    if not isinstance(init, Mapping):
        return None
    if api == "2.1":
        return {**init, "action": "TeleportFull"}
    rotation = init.get("rotation", 0)
    yaw = rotation.get("y", 0) if isinstance(rotation, Mapping) else rotation
    return {"action": "TeleportFull", "position": {k: init.get(k, 0.0) for k in ("x", "y", "z")},
            "rotation": {"x": 0, "y": yaw, "z": 0}, "horizon": init.get("horizon", 30), "standing": True}


def reset_steps(traj: Mapping[str, Any], api: Api = "2.1",
                objects: Sequence[Mapping[str, Any]] | None = None) -> list[Call]:
    """Every step after `reset` for a trajectory: restore, states (AI2-THOR 5, when `objects` are given), teleport."""
    steps = restore_steps(traj, api) + state_steps(traj, objects or [], api)
    teleport = teleport_step(traj, api)
    return steps + ([teleport] if teleport is not None else [])


# -------------------------------------------------------------------------------------------------- naming


def _base_type(object_type: str) -> str:
    return object_type[: -len("Sliced")] if object_type.endswith("Sliced") else object_type


def _gone(obj: Mapping[str, Any]) -> bool:
    """A whole object THOR has sliced: its slices stand for it from then on."""
    return bool(obj.get("isSliced")) and not str(obj.get("objectType", "")).endswith("Sliced")


def instance_names(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """EB-ALFRED's names by objectId: the first of a type by the type, then `Type_2`, ... in objectId order (the
    order the embedded engine names the same ids in, so a skill means the same thing in both)."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for obj in sorted(objects, key=lambda o: o["objectId"]):
        if _gone(obj):
            continue
        kind = str(obj["objectType"])
        counts[kind] = counts.get(kind, 0) + 1
        names[obj["objectId"]] = kind if counts[kind] == 1 else f"{kind}_{counts[kind]}"
    return names


# -------------------------------------------------------------------------------------------------- skills


@dataclass(frozen=True)
class SkillCalls:
    """What one skill becomes: controller steps in order, or EB's reason when it cannot be mapped (`error`)."""

    steps: tuple[Call, ...] = ()
    error: str = ""
    target: str | None = None  # the objectId the skill acts on


@dataclass
class ThorSkills:
    """EB-ALFRED's skill words to AI2-THOR controller calls, with what EB's connector remembers between skills.

    `calls` reads the current `event.metadata` (and, for `find`, the reachable positions THOR's
    `GetReachablePositions` returned after the reset) and updates the remembered receptacle, as `ThorConnector`
    does: `find` sets it, `put down` and `open` keep it, any other skill forgets it.
    """

    api: Api = "2.1"
    last_found: str | None = None
    sliced: bool = False
    reachable: list[tuple[float, float, float]] = field(default_factory=list)

    def set_reachable(self, positions: Iterable[Mapping[str, float]]) -> None:
        self.reachable = [(float(p["x"]), float(p["y"]), float(p["z"])) for p in positions]

    def calls(self, skill: str, metadata: Mapping[str, Any]) -> SkillCalls:
        text = " ".join(skill.strip().rstrip(".").split())
        if not (text.startswith("put down") or text.startswith("open ")):
            keep, self.last_found = self.last_found, None
        else:
            keep = self.last_found
        objects = [o for o in metadata.get("objects", []) if not _gone(o)]
        if text.startswith("find "):
            word = _after(text, ("find a ", "find an ", "find the ", "find "))
            self.last_found = word
            return self._find(word, objects)
        if text.startswith("pick up "):
            word = _after(text, ("pick up the ", "pick up a ", "pick up "))
            obj = self.resolve(word, objects, pickable=True, prefer_visible=True)
            if obj is None:
                return SkillCalls(error=f"Cannot find {word} to pick up")
            return _one("PickupObject", obj, forceAction=False)
        if text.startswith("put down"):
            return self._put(keep, metadata, objects)
        if text.startswith("drop"):
            return SkillCalls(({"action": "DropHandObject", "forceAction": True},))
        for prefix, action, kwargs in _SIMPLE:
            if text.startswith(prefix):
                word = text[len(prefix):].strip()
                obj = self.resolve(word, objects, toggleable=action.startswith("Toggle"))
                if obj is None:
                    verb = prefix.split(" the ")[0]
                    return SkillCalls(error=f"Cannot find {word} to {verb}")
                if action == "SliceObject":
                    self.sliced = True
                return _one(action, obj, **kwargs)
        return SkillCalls(error="instruction not supported")

    def resolve(self, word: str, objects: Sequence[Mapping[str, Any]], *, pickable: bool = False,
                toggleable: bool = False, prefer_visible: bool = False) -> Mapping[str, Any] | None:
        """The object a skill word means: an instance name (`Cabinet_2`), or EB's choice among a type's objects."""
        thing_word = vocab.thing_word(word.replace(" ", ""))
        if any(char.isdigit() for char in thing_word):
            names = instance_names(objects)
            return next((o for o in objects if names.get(o["objectId"], "").lower() == thing_word.lower()), None)
        wanted = thing_word.lower()
        by_id = {o["objectId"]: o for o in objects}
        best, best_score = None, math.inf
        for obj in objects:
            kind = str(obj["objectType"])
            if wanted not in (kind.lower(), _base_type(kind).lower() if self.sliced else kind.lower()):
                continue
            if (pickable and not obj.get("pickupable")) or (toggleable and not obj.get("toggleable")):
                continue
            score = float(obj.get("distance", 0.0))
            for parent_id in obj.get("parentReceptacles") or []:
                parent = by_id.get(parent_id)
                if parent is not None and parent.get("openable") and not parent.get("isOpen"):
                    score += 100000  # EB: what a closed receptacle hides comes last
                    break
            if prefer_visible and not obj.get("visible"):
                score += 1000
            if self.sliced and kind.endswith("Sliced"):
                score -= 100  # EB: after slicing, the slices come first
            if score < best_score:
                best, best_score = obj, score
        return best

    def _find(self, word: str, objects: Sequence[Mapping[str, Any]]) -> SkillCalls:
        obj = self.resolve(word, objects, prefer_visible=True)
        if obj is None:
            return SkillCalls(error=f"Cannot find {word}")
        if obj.get("visible") and float(obj.get("distance", math.inf)) < 1.0:
            return SkillCalls((), target=obj["objectId"])  # EB: already in view and near, no move
        if not self.reachable:
            return SkillCalls(error=f"Cannot move to {word}", target=obj["objectId"])
        p = obj["position"]
        ox, oy, oz = float(p["x"]), float(p["y"]), float(p["z"])
        x, _, z = min(self.reachable, key=lambda r: (r[0] - ox) ** 2 + (r[1] - oy) ** 2 + (r[2] - oz) ** 2)
        rotation, horizon = facing(x, z, ox, oy, oz)
        return SkillCalls((self._teleport(x, z, rotation, horizon),), target=obj["objectId"])

    def _teleport(self, x: float, z: float, rotation: float, horizon: float) -> Call:
        if self.api == "2.1":
            return {"action": "TeleportFull", "x": x, "y": AGENT_HEIGHT_M, "z": z, "rotation": rotation,
                    "horizon": horizon}
        return {"action": "TeleportFull", "position": {"x": x, "y": AGENT_HEIGHT_M, "z": z},
                "rotation": {"x": 0, "y": rotation, "z": 0}, "horizon": horizon, "standing": True}

    def _put(self, receptacle_word: str | None, metadata: Mapping[str, Any],
             objects: Sequence[Mapping[str, Any]]) -> SkillCalls:
        inventory = metadata.get("inventoryObjects") or []
        if not inventory:
            return SkillCalls(error="Robot is not holding any object")
        if receptacle_word is None:  # EB: nothing found since, so the object is dropped
            return SkillCalls(({"action": "DropHandObject", "forceAction": True},))
        recep = self.resolve(receptacle_word, objects)
        if recep is None:
            return SkillCalls(error=f"Cannot find {receptacle_word}")
        held = inventory[0]["objectId"]
        if self.api == "2.1":
            step = {"action": "PutObject", "objectId": held, "receptacleObjectId": recep["objectId"],
                    "forceAction": True}
        else:
            step = {"action": "PutObject", "objectId": recep["objectId"], "forceAction": True}
        return SkillCalls((step,), target=recep["objectId"])


_SIMPLE: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("open the ", "OpenObject", {}),
    ("close the ", "CloseObject", {}),
    ("turn on the ", "ToggleObjectOn", {}),
    ("turn off the ", "ToggleObjectOff", {}),
    ("slice the ", "SliceObject", {}),
)


def _after(text: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    return text


def _one(action: str, obj: Mapping[str, Any], **kwargs: Any) -> SkillCalls:
    return SkillCalls(({"action": action, "objectId": obj["objectId"], **kwargs},), target=obj["objectId"])


def facing(x: float, z: float, ox: float, oy: float, oz: float) -> tuple[float, float]:
    """(rotation, horizon) in degrees for an agent at (x, z) to look at (ox, oy, oz), as EB's `nav_obj` computes
    them: rotation clockwise from +z; horizon positive looking down, 0.9 of the exact angle."""
    angle = math.atan2(-(ox - x), oz - z)
    if angle > 0:
        angle -= 2 * math.pi
    rotation = -math.degrees(angle)
    camera = AGENT_HEIGHT_M + CAMERA_HEIGHT_OFFSET_M
    horizon = -math.degrees(math.atan2(oy - camera, math.hypot(ox - x, oz - z))) * 0.9
    return round(rotation % 360.0, 3), round(horizon, 3)


# ----------------------------------------------------------------------------------------- states and facts


@dataclass
class AlfredStates:
    """The objects ALFRED's `ThorEnv` counts as cleaned, heated and cooled, updated after each successful step:
    a Faucet turned on cleans what is in the SinkBasin nearest it, a Microwave turned on heats what is in it, a
    Fridge closed cools what is in it."""

    cleaned: set[str] = field(default_factory=set)
    heated: set[str] = field(default_factory=set)
    cooled: set[str] = field(default_factory=set)

    def update(self, step: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
        if not metadata.get("lastActionSuccess", True):
            return
        action, object_id = step.get("action"), str(step.get("objectId", ""))
        objects = metadata.get("objects", [])
        if action == "ToggleObjectOn" and object_id.startswith("Faucet"):
            faucet = next((o for o in objects if o["objectId"] == object_id), None)
            basins = [o for o in objects if o["objectType"] == "SinkBasin"]
            if faucet is not None and basins:
                basin = min(basins, key=lambda b: _distance(b["position"], faucet["position"]))
                self.cleaned |= set(basin.get("receptacleObjectIds") or [])
        elif action == "ToggleObjectOn" and object_id.startswith("Microwave"):
            for microwave in (o for o in objects if o["objectType"] == "Microwave"):
                self.heated |= set(microwave.get("receptacleObjectIds") or [])
        elif action == "CloseObject" and object_id.startswith("Fridge"):
            for fridge in (o for o in objects if o["objectType"] == "Fridge"):
                self.cooled |= set(fridge.get("receptacleObjectIds") or [])


def _distance(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    return math.dist((a["x"], a["y"], a["z"]), (b["x"], b["y"], b["z"]))


def facts_from_metadata(metadata: Mapping[str, Any], states: AlfredStates | None = None) -> list[Fact]:
    """`event.metadata` as goal facts: THOR's objects with their receptacles (at any depth), toggles, openness,
    slices, what is held and visible, and the ALFRED state sets (THOR's own `temperature`/`isDirty` when `states`
    is None: Hot, Cold, and clean for a dirtyable object no longer dirty)."""
    objects = [o for o in metadata.get("objects", []) if not _gone(o)]
    by_id = {o["objectId"]: o for o in objects}
    names = instance_names(objects)
    direct: dict[str, list[str]] = {o["objectId"]: list(o.get("parentReceptacles") or []) for o in objects}
    for recep in objects:  # receptacleObjectIds says the same from the other side; trust either
        for inner in recep.get("receptacleObjectIds") or []:
            if inner in direct and recep["objectId"] not in direct[inner]:
                direct[inner].append(recep["objectId"])
    held_ids = {o["objectId"] for o in metadata.get("inventoryObjects") or []}
    facts = []
    for obj in objects:
        object_id = obj["objectId"]
        parents = [p for p in _closure(object_id, direct) if p in by_id]
        kind = str(obj["objectType"])
        if states is not None:
            heated, cooled, cleaned = (object_id in states.heated, object_id in states.cooled,
                                       object_id in states.cleaned)
        else:
            heated, cooled = obj.get("temperature") == "Hot", obj.get("temperature") == "Cold"
            cleaned = bool(obj.get("dirtyable")) and not obj.get("isDirty")
        facts.append(Fact(
            id=object_id,
            type=_base_type(kind),
            name=names[object_id],
            parents=tuple(parents),
            parent_names=tuple(names[p] for p in parents),
            parent_types=tuple(_base_type(str(by_id[p]["objectType"])) for p in parents),
            is_on=bool(obj.get("isToggled")),
            is_open=bool(obj.get("isOpen")),
            sliced=kind.endswith("Sliced"),
            heated=heated,
            cooled=cooled,
            cleaned=cleaned,
            held=bool(obj.get("isPickedUp")) or object_id in held_ids,
            visible=bool(obj.get("visible")),
        ))
    return facts


def _closure(object_id: str, direct: Mapping[str, list[str]]) -> list[str]:
    """Every receptacle holding `object_id`, nearest first (THOR lists direct parents; their parents follow)."""
    found: list[str] = []
    frontier = list(direct.get(object_id, []))
    while frontier:
        parent = frontier.pop(0)
        if parent in found or parent == object_id:
            continue
        found.append(parent)
        frontier.extend(direct.get(parent, []))
    return found


def progress(goal_texts: Sequence[str], metadata: Mapping[str, Any], states: AlfredStates | None = None
             ) -> tuple[int, int]:
    """(conditions met, total) of goal predicates on a THOR state: the same check the embedded engine makes."""
    return goals.check(goals.parse_all(goal_texts), facts_from_metadata(metadata, states))


# ------------------------------------------------------------------------------------------------------- live


class ThorHousehold:
    """An AI2-THOR controller playing an ALFRED trajectory with EB-ALFRED's skills and the loader's goals.

    Needs `pip install 'simyard[thor]'` and what AI2-THOR needs to start (an X server or a CloudRendering build,
    a GPU in practice; it downloads its Unity build on first use). `api` picks the call forms (`2.1` for ALFRED's
    build, `5` for current ai2thor releases); extra `controller` keywords go to `ai2thor.controller.Controller`.
    """

    def __init__(self, api: Api = "5", **controller: Any) -> None:
        ai2thor_controller = require("ai2thor.controller", "thor")
        self.api: Api = api
        self.controller = ai2thor_controller.Controller(**controller)
        self.skills = ThorSkills(api=api)
        self.states = AlfredStates()
        self.put_failures: dict[str, int] = {}

    def reset(self, traj: Mapping[str, Any]) -> Mapping[str, Any]:
        """Restore the trajectory's scene and start pose; returns the metadata."""
        self.controller.reset(**reset_args(traj, self.api))
        for step in restore_steps(traj, self.api):
            self.controller.step(**step)
        for step in state_steps(traj, self.controller.last_event.metadata["objects"], self.api):
            self.controller.step(**step)
        reachable = self.controller.step(action="GetReachablePositions").metadata["actionReturn"] or []
        teleport = teleport_step(traj, self.api)
        if teleport is not None:
            self.controller.step(**teleport)
        self.skills = ThorSkills(api=self.api)
        self.skills.set_reachable(reachable)
        self.states = AlfredStates()
        self.put_failures = {}
        return self.controller.last_event.metadata

    def execute(self, skill: str) -> tuple[bool, str]:
        """One skill; (success, EB's reason when it failed). Three failed puts on one receptacle drop the object."""
        receptacle = self.skills.last_found
        mapped = self.skills.calls(skill, self.controller.last_event.metadata)
        if mapped.error:
            return False, mapped.error
        for step in mapped.steps:
            event = self.controller.step(**step)
            self.states.update(step, event.metadata)
            if not event.metadata.get("lastActionSuccess", True):
                if skill.startswith("put down") and receptacle is not None:
                    self.put_failures[receptacle] = self.put_failures.get(receptacle, 0) + 1
                    if self.put_failures[receptacle] >= 3:
                        self.controller.step(action="DropHandObject", forceAction=True)
                    return False, (f"Putting the object on {receptacle} failed. First check whether the receptacle "
                                   "is open or not. Also try other instances of the receptacle")
                return False, event.metadata.get("errorMessage") or f"{step['action']} failed"
        return True, ""

    def progress(self, goal_texts: Sequence[str]) -> tuple[int, int]:
        return progress(goal_texts, self.controller.last_event.metadata, self.states)

    def close(self) -> None:
        self.controller.stop()
