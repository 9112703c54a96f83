"""The symbolic state of a household: rooms, things (furniture, receptacles, objects) and the agent.

This is the one source of truth the skills change, the goal checker reads and the MuJoCo scene is built from, so it
holds facts only: where each thing is, what it is inside or on, and its ALFRED-style state flags. Coordinates are
metres in a right-handed frame with z up (MuJoCo's); loaders of AI2-THOR data (y up) convert on the way in.

A `House` is plain data: `to_dict()` and `House.from_dict()` round-trip through JSON, so a task can carry an
explicit scene and `Env.state()` can snapshot one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Room:
    """An axis-aligned rectangle of floor, named by its kind (`kitchen`, `living room`, `bedroom`, `bathroom`)."""

    name: str
    kind: str
    x0: float
    y0: float
    x1: float
    y1: float

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1


@dataclass
class Thing:
    """One piece of furniture, receptacle or object, with the state flags ALFRED's rules and goals read.

    `id` is unique and stable (AI2-THOR's objectId such as `Cabinet|+00.68|+00.50|-02.20`, or `Cabinet_1` in
    generated homes); `name` is what skills call it (`Cabinet`, then `Cabinet_2`, `Cabinet_3`, ... for further
    instances, as EB-ALFRED names them). `parent` is the id of the receptacle the thing is in or on (None on the
    floor or held). Appearance (`color`, `material`, `shape`, `size_m`) is what pictures show and what visual
    instructions name.
    """

    id: str
    type: str
    name: str
    room: str = ""
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_deg: float = 0.0
    size_m: tuple[float, float, float] = (0.1, 0.1, 0.1)
    color: str = "white"
    material: str = "plastic"
    shape: str = "box"
    parent: str | None = None
    pickable: bool = False
    receptacle: bool = False
    openable: bool = False
    is_open: bool = False
    toggleable: bool = False
    is_on: bool = False
    sliceable: bool = False
    is_sliced: bool = False
    is_dirty: bool = False
    cleaned: bool = False
    heated: bool = False
    cooled: bool = False


@dataclass
class AgentState:
    """Where the agent is and what it holds.

    `at` is the id of the thing the agent last went to (`find a X`, `navigate to the X`): EB-ALFRED puts objects
    down on the last found receptacle, and EB-Habitat's pick and place need the robot at the thing. `pose` is
    (x, y, yaw in degrees) for the egocentric camera; `horizon_deg` tilts it (positive looks down).
    """

    at: str | None = None
    holding: str | None = None
    pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    horizon_deg: float = 30.0


@dataclass
class House:
    """Rooms, things by id, and the agent: everything a household episode changes."""

    rooms: list[Room] = field(default_factory=list)
    things: dict[str, Thing] = field(default_factory=dict)
    agent: AgentState = field(default_factory=AgentState)

    def add(self, thing: Thing) -> Thing:
        if thing.id in self.things:
            raise ValueError(f"two things share the id {thing.id!r}")
        self.things[thing.id] = thing
        return thing

    def by_name(self, name: str) -> Thing | None:
        """The thing a skill names (`Cabinet_2`), case-insensitively; None when there is none."""
        wanted = name.lower()
        for thing in self.things.values():
            if thing.name.lower() == wanted:
                return thing
        return None

    def of_type(self, type_: str) -> list[Thing]:
        return [thing for thing in self.things.values() if thing.type == type_]

    def children(self, thing_id: str) -> list[Thing]:
        """Things directly in or on `thing_id`."""
        return [thing for thing in self.things.values() if thing.parent == thing_id]

    def ancestors(self, thing_id: str) -> Iterator[Thing]:
        """The receptacles holding `thing_id`, innermost first (a Mug in a Box on a Table: Box, then Table)."""
        seen = {thing_id}
        parent = self.things[thing_id].parent
        while parent is not None and parent not in seen:
            seen.add(parent)
            holder = self.things[parent]
            yield holder
            parent = holder.parent

    def enclosed(self, thing_id: str) -> bool:
        """Whether a closed receptacle hides `thing_id` (it cannot be seen or picked up)."""
        return any(holder.openable and not holder.is_open for holder in self.ancestors(thing_id))

    def held(self) -> Thing | None:
        return self.things[self.agent.holding] if self.agent.holding else None

    def name_instances(self) -> None:
        """Give names in EB-ALFRED's style: the first thing of a type by its type, the next ones `Type_2`, ...

        Order is by id so the names do not depend on the order things were added.
        """
        counts: dict[str, int] = {}
        for thing_id in sorted(self.things):
            thing = self.things[thing_id]
            counts[thing.type] = counts.get(thing.type, 0) + 1
            thing.name = thing.type if counts[thing.type] == 1 else f"{thing.type}_{counts[thing.type]}"

    def copy(self) -> House:
        """An independent copy. Shallow copies of each part suffice (and cost a tenth of `deepcopy`): every field
        of a Room, Thing and AgentState is immutable (numbers, strings, tuples)."""
        return House(
            rooms=[copy.copy(room) for room in self.rooms],
            things={key: copy.copy(thing) for key, thing in self.things.items()},
            agent=copy.copy(self.agent),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rooms": [asdict(room) for room in self.rooms],
            "things": [asdict(thing) for thing in self.things.values()],
            "agent": asdict(self.agent),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> House:
        house = cls(rooms=[Room(**room) for room in data.get("rooms", [])])
        for raw in data.get("things", []):
            values = dict(raw)
            for key in ("pos", "size_m"):
                if key in values:
                    values[key] = tuple(values[key])
            house.add(Thing(**values))
        agent = dict(data.get("agent", {}))
        if "pose" in agent:
            agent["pose"] = tuple(agent["pose"])
        house.agent = AgentState(**agent)
        return house
