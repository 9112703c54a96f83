"""A kitchen built around one recorded EB-Navigation task: the target where THOR had it, the agent where it started.

EB-Navigation's task files record the target's position and the agent's start pose in an iTHOR floor plan, not the
floor plan itself. So the scene is rebuilt around them, keeping what the record implies: the start distance and
heading are exact (the same numbers), and what was in view stays in view, because nothing is put on the floor
between the start and the target. The rest is made plausible:

* the target stands at its recorded position and height: on a counter (about 0.8-1.1 m up, its back to a wall),
  a table (0.5-0.8 m), a shelf (higher), or the floor; an appliance or a fridge stands on the floor or a counter;
  the furniture under it faces the start, as the side a person walks up to;
* the room is one kitchen round both, at least 3.5 m a side (iTHOR's kitchens are 3-7 m), with a metre of floor
  round the start and the target;
* a fridge, counters with appliances and objects, a cabinet and a bin go along the walls, and a table in the middle
  when it fits, all kept off the start, off the floor between the start and the target, and off the target's
  furniture; the target's type appears once (EB hides its other instances, `object_to_hide`);
* the result is checked with the oracle: furniture that would leave the target out of reach in 20 steps is taken
  out again, newest first.

The draws come from a seed made of the record itself, so a record always gives the same kitchen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simyard.sims.household import vocab
from simyard.sims.household.scene import placements
from simyard.sims.household.state import AgentState, House, Room, Thing
from simyard.sims.navigation import kitchens, planner, starts
from simyard.sims.navigation.space import FreeSpace

MIN_SIDE_M = 3.5
#: Floor kept free round the start and round the target's furniture (besides its back).
MARGIN_M = 1.0
#: The floor between the start and the target kept free, as a corridor this wide each side of the line.
CORRIDOR_M = 0.45
#: Counter appliances: they stand on a counter when recorded above the floor.
COUNTER_APPLIANCES = frozenset({"Microwave", "Toaster", "CoffeeMachine", "StoveBurner", "SinkBasin"})
_WALL_GAP_M = 0.06


@dataclass(frozen=True)
class Record:
    """What a recorded task fixes, in simyard's frame (metres, z up, yaw counter-clockwise from +x)."""

    target_type: str
    target_id: str
    target: tuple[float, float, float]
    start: tuple[float, float, float]
    horizon_deg: float
    seed: int


def build(record: Record, max_steps: int = 20) -> House:
    """The kitchen for `record` (see the module doc); the agent stands at the start."""
    rng = np.random.default_rng([record.seed, 0x4E4156, 2])
    maker = _Maker(record, rng)
    maker.target_and_holder()
    maker.room()
    maker.furnish()
    maker.keep_reachable(max_steps)
    house = maker.house
    house.name_instances()
    house.agent = AgentState(pose=record.start, horizon_deg=record.horizon_deg)
    return house


class _Maker:
    def __init__(self, record: Record, rng: np.random.Generator) -> None:
        self.record = record
        self.rng = rng
        self.house = House()
        self.counts: dict[str, int] = {}
        self.added: list[list[str]] = []  # ids of each piece of furniture added round the target, with its contents
        tx, ty, _ = record.target
        sx, sy, _ = record.start
        #: The target's furniture faces the start: the axis-aligned direction nearest to it.
        self.facing = starts.facing_yaw((tx, ty), (sx, sy))
        self.back_wall: tuple[str, float] | None = None  # ("x" or "y", line) of the wall behind the target
        self.keep_out: list[tuple[float, float, float, float]] = []  # boxes no new furniture may overlap

    # -- things

    def new(self, type_: str, pos: tuple[float, float, float], yaw: float, parent: str | None = None,
            size: tuple[float, float, float] | None = None, thing_id: str | None = None) -> Thing:  # fmt: skip
        info = vocab.properties(type_)
        self.counts[type_] = self.counts.get(type_, 0) + 1
        flags = info.thing_flags()
        if size is not None:
            flags["size_m"] = tuple(round(float(side), 3) for side in size)
        colors = info.colors if info.pickable else info.colors[:1]
        flags["color"] = colors[int(self.rng.integers(len(colors)))]
        thing = Thing(id=thing_id or f"{type_}_{self.counts[type_]:02d}", type=type_, name=type_, room="kitchen",
                      pos=tuple(round(float(v), 4) for v in pos), yaw_deg=float(yaw), parent=parent,
                      **flags)  # fmt: skip
        return self.house.add(thing)

    def target_and_holder(self) -> None:
        """The target at its recorded place, on the furniture its height implies."""
        record = self.record
        tx, ty, tz = record.target
        type_ = record.target_type
        info = vocab.properties(type_)
        height = info.size_m[2]
        base = tz - height / 2  # where the target's bottom is
        fx, fy = math.cos(math.radians(self.facing)), math.sin(math.radians(self.facing))
        holder_type = None
        if info.pickable or type_ in COUNTER_APPLIANCES:
            if base >= 1.15:
                holder_type = "Shelf"
            elif base >= 0.78:
                holder_type = "CounterTop"
            elif base >= 0.3:
                holder_type = "DiningTable"
        if holder_type is None:  # on the floor: a fridge or bin with its back to a wall, an object where it lies
            yaw = self.facing if not info.pickable else 0.0
            self.new(type_, (tx, ty, height / 2), yaw, thing_id=record.target_id)
            if type_ in ("Fridge", "GarbageCan", "Cabinet", "Shelf") or type_ in COUNTER_APPLIANCES:
                self._wall_behind(tx, ty, info.size_m[1] / 2)
            self.keep_out.append(_box((tx, ty), info.size_m, self.facing, 0.3))
            return
        width, depth, _ = vocab.properties(holder_type).size_m
        surface = max(0.3, round(base, 3))
        if holder_type == "DiningTable":  # centred under the target, out in the room
            hx, hy = tx, ty
        else:  # the target a little behind the front edge, the back to a wall
            inset = min(0.2, depth / 2)
            hx, hy = tx - fx * (depth / 2 - inset), ty - fy * (depth / 2 - inset)
            self._wall_behind(hx, hy, depth / 2)
        holder = self.new(holder_type, (hx, hy, surface / 2), self.facing, size=(width, depth, surface))
        self.new(type_, (tx, ty, tz), self.facing, parent=holder.id, thing_id=record.target_id)
        self.keep_out.append(_box((hx, hy), holder.size_m, self.facing, 0.3))
        if holder_type == "CounterTop":  # a counter holds more than the target, though nothing that hides it
            for extra in ("Mug", "Kettle", "SaltShaker"):
                if extra != type_ and self.rng.random() < 0.6:
                    self._on(extra, holder)
            for thing_id in starts.hidden_behind(self.house, record.target_id, record.start[:2]):
                del self.house.things[thing_id]

    def _wall_behind(self, x: float, y: float, half_depth: float) -> None:
        fx, fy = math.cos(math.radians(self.facing)), math.sin(math.radians(self.facing))
        if abs(fx) > abs(fy):
            self.back_wall = ("x", x - fx * (half_depth + _WALL_GAP_M))
        else:
            self.back_wall = ("y", y - fy * (half_depth + _WALL_GAP_M))

    def _on(self, type_: str, host: Thing) -> Thing:
        width, depth, _ = host.size_m
        along, across = self.rng.uniform(-0.4, 0.4) * width, self.rng.uniform(-0.3, 0.3) * depth
        yaw = math.radians(host.yaw_deg)
        x = host.pos[0] + math.cos(yaw) * across - math.sin(yaw) * along
        y = host.pos[1] + math.sin(yaw) * across + math.cos(yaw) * along
        return self.new(type_, (x, y, host.pos[2] + host.size_m[2] / 2), host.yaw_deg, parent=host.id)

    # -- the room

    def room(self) -> None:
        """The smallest room of at least `MIN_SIDE_M` a side holding the start and the target with their margins,
        grown away from the target's back wall."""
        sx, sy, _ = self.record.start
        where = placements(self.house)
        xs, ys = [sx - MARGIN_M, sx + MARGIN_M], [sy - MARGIN_M, sy + MARGIN_M]
        for thing in self.house.things.values():
            if thing.parent is None:
                box = _box(where[thing.id].center[:2], thing.size_m, thing.yaw_deg, MARGIN_M)
                xs += [box[0], box[2]]
                ys += [box[1], box[3]]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        axis, line = self.back_wall if self.back_wall else ("", 0.0)
        if axis == "x":
            x0, x1 = (line, max(x1, line + MIN_SIDE_M)) if line <= sx else (min(x0, line - MIN_SIDE_M), line)
        elif axis == "y":
            y0, y1 = (line, max(y1, line + MIN_SIDE_M)) if line <= sy else (min(y0, line - MIN_SIDE_M), line)
        if x1 - x0 < MIN_SIDE_M and axis != "x":
            grow = (MIN_SIDE_M - (x1 - x0)) / 2
            x0, x1 = x0 - grow, x1 + grow
        if y1 - y0 < MIN_SIDE_M and axis != "y":
            grow = (MIN_SIDE_M - (y1 - y0)) / 2
            y0, y1 = y0 - grow, y1 + grow
        self.house.rooms = [Room("kitchen", "kitchen", round(x0, 3), round(y0, 3), round(x1, 3), round(y1, 3))]
        sx, sy, _ = self.record.start
        tx, ty, _ = self.record.target
        self.keep_out.append((sx - 0.7, sy - 0.7, sx + 0.7, sy + 0.7))
        self.corridor = ((sx, sy), (tx, ty))

    # -- the rest of the kitchen

    def furnish(self) -> None:
        """Units along the walls, then maybe a table, each where it leaves the start, the corridor and the target's
        furniture free; objects on the counters and the table."""
        target_type = self.record.target_type
        units = [("Fridge", 1), ("CounterTop", 2), ("Cabinet", 2), ("GarbageCan", 1)]
        for type_, count in units:
            for _ in range(count):
                if type_ == target_type:
                    continue
                self._wall_unit(type_)
        self._table()
        counters = [t for t in self.house.things.values() if t.type == "CounterTop" and t.id != self._holder_id()]
        tables = [t for t in self.house.things.values() if t.type == "DiningTable" and t.id != self._holder_id()]
        for type_ in ("Microwave", "Toaster", "CoffeeMachine"):
            if counters and type_ != target_type and self.rng.random() < 0.7:
                host = counters[int(self.rng.integers(len(counters)))]
                self._attach(host, self._on(type_, host))
        surfaces = counters + tables
        if surfaces:
            pool = [t for t in kitchens.CORE + kitchens.EXTRA if t != target_type and vocab.properties(t).pickable]
            for _ in range(int(self.rng.integers(5, 11))):
                host = surfaces[int(self.rng.integers(len(surfaces)))]
                self._attach(host, self._on(pool[int(self.rng.integers(len(pool)))], host))

    def _holder_id(self) -> str | None:
        return self.house.things[self.record.target_id].parent

    def _attach(self, host: Thing, thing: Thing) -> None:
        for group in self.added:
            if host.id in group:
                group.append(thing.id)

    def _wall_unit(self, type_: str) -> None:
        room = self.house.rooms[0]
        width, depth, height = vocab.properties(type_).size_m
        walls = (  # (yaw facing in, fixed coordinate, along-axis low, along-axis high)
            (90.0, room.y0, room.x0, room.x1), (270.0, room.y1, room.x0, room.x1),
            (0.0, room.x0, room.y0, room.y1), (180.0, room.x1, room.y0, room.y1),
        )  # fmt: skip
        for _ in range(30):
            yaw, line, low, high = walls[int(self.rng.integers(4))]
            if high - low < width + 2 * 0.3:
                continue
            along = float(self.rng.uniform(low + 0.3 + width / 2, high - 0.3 - width / 2))
            inward = depth / 2 + _WALL_GAP_M
            if yaw in (90.0, 270.0):
                xy = (along, line + (inward if yaw == 90.0 else -inward))
            else:
                xy = (line + (inward if yaw == 0.0 else -inward), along)
            box = _box(xy, (width, depth, height), yaw, 0.05)
            if self._fits(box):
                thing = self.new(type_, (xy[0], xy[1], height / 2), yaw)
                self.keep_out.append(_box(xy, (width, depth, height), yaw, 0.0))
                self.added.append([thing.id])
                return

    def _table(self) -> None:
        room = self.house.rooms[0]
        width, depth, height = vocab.properties("DiningTable").size_m
        for _ in range(20):
            xy = (float(self.rng.uniform(room.x0 + 1.6, room.x1 - 1.6)), float(self.rng.uniform(room.y0 + 1.6,
                  room.y1 - 1.6)))  # fmt: skip
            if room.x1 - room.x0 < 3.3 or room.y1 - room.y0 < 3.3:
                return
            yaw = 90.0 if self.rng.random() < 0.5 else 0.0
            if self._fits(_box(xy, (width, depth, height), yaw, 1.0)):
                thing = self.new("DiningTable", (xy[0], xy[1], height / 2), yaw)
                self.keep_out.append(_box(xy, (width, depth, height), yaw, 0.0))
                self.added.append([thing.id])
                return

    def _fits(self, box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        room = self.house.rooms[0]
        if x0 < room.x0 - 1e-6 or y0 < room.y0 - 1e-6 or x1 > room.x1 + 1e-6 or y1 > room.y1 + 1e-6:
            # a wall unit's box reaches into the wall by its gap: allow that, nothing more
            if x0 < room.x0 - 0.06 or y0 < room.y0 - 0.06 or x1 > room.x1 + 0.06 or y1 > room.y1 + 0.06:
                return False
        for other in self.keep_out:
            if x0 < other[2] and other[0] < x1 and y0 < other[3] and other[1] < y1:
                return False
        (sx, sy), (tx, ty) = self.corridor
        for t in np.linspace(0.0, 1.0, 40):
            px, py = sx + (tx - sx) * t, sy + (ty - sy) * t
            gap = math.hypot(max(x0 - px, 0.0, px - x1), max(y0 - py, 0.0, py - y1))
            if gap < CORRIDOR_M:
                return False
        return True

    def keep_reachable(self, max_steps: int) -> None:
        """Take furniture out again, newest first, while the oracle cannot reach the target in `max_steps`."""
        record = self.record
        target_xy = (record.target[0], record.target[1])
        while True:
            space = FreeSpace(self.house)
            path, end = planner.shortest_path(space, record.start, target_xy, 1.0)
            if (len(path) <= max_steps and math.dist(end[:2], target_xy) <= 1.0) or not self.added:
                return
            for thing_id in self.added.pop():
                self.house.things.pop(thing_id, None)


def _box(xy, size_m, yaw_deg: float, margin: float) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of an axis-aligned footprint (width across the facing, depth along it), grown by
    `margin`."""
    width, depth = float(size_m[0]), float(size_m[1])
    if round(yaw_deg) % 180 == 0:  # facing along x: depth runs along x
        half_x, half_y = depth / 2, width / 2
    else:
        half_x, half_y = width / 2, depth / 2
    x, y = float(xy[0]), float(xy[1])
    return (x - half_x - margin, y - half_y - margin, x + half_x + margin, y + half_y + margin)
