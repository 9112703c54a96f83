"""Procedural kitchens from a seed, sized like iTHOR's (3.5-7 m a side), furnished with ALFRED's types.

EB-Navigation runs in iTHOR's kitchen floor plans: one room, units along the walls (fridge, counters with a sink,
a stove and small appliances, cabinets, a bin), sometimes a dining table with chairs in the middle, and kitchen
objects on the counters and the table, a few in the fridge. A generated kitchen has the same parts (appearance and
sizes from `household.vocab`), drawn by `household.scene` and blocked by `navigation.space`.

Units stand along the walls facing into the room, with a corner margin so units on neighbouring walls never meet,
and a table keeps at least a metre of floor round it, so the free floor is connected. Objects on a surface get a
spot on its top (the scene moves a spot that would overlap another); several instances of one type get different
colours, so a visual instruction can single one out. Coordinates: metres, z up, the room from (0, 0).
"""

from __future__ import annotations

import math

import numpy as np

from simyard.sims.household import vocab
from simyard.sims.household.appearance import COLORS
from simyard.sims.household.state import AgentState, House, Room, Thing

SIZE_RANGE_M = (3.5, 7.0)
#: Free wall length kept at each corner: deeper than any unit, so units on neighbouring walls never meet.
CORNER_M = 0.85
_GAP_M = 0.05

#: Wall units: (type, fewest, most), the required first.
WALL_UNITS: tuple[tuple[str, int, int], ...] = (
    ("Fridge", 1, 1), ("CounterTop", 2, 3), ("Cabinet", 1, 3), ("GarbageCan", 1, 1), ("Shelf", 0, 1),
)  # fmt: skip
#: Appliances that stand on a counter: (type, fewest, most).
ON_COUNTERS: tuple[tuple[str, int, int], ...] = (
    ("SinkBasin", 1, 1), ("StoveBurner", 2, 4), ("Microwave", 1, 1), ("CoffeeMachine", 0, 1), ("Toaster", 0, 1),
)  # fmt: skip
#: Objects always there, and a pool of extras.
CORE = ("Apple", "Tomato", "Potato", "Lettuce", "Bread", "Egg", "Mug", "Cup", "Bowl", "Plate", "Pan", "Pot", "Kettle")
EXTRA = (
    "Apple", "Tomato", "Mug", "Bowl", "Plate", "Cup", "Knife", "ButterKnife", "Spatula", "Ladle", "SaltShaker",
    "PepperShaker", "DishSponge", "SoapBottle", "WineBottle", "Glassbottle", "Vase", "Fork", "Spoon", "Book",
)  # fmt: skip
#: Food that may start in the fridge instead of on a surface.
CHILLED = frozenset({"Apple", "Tomato", "Lettuce", "Egg", "Potato", "Bread", "WineBottle"})


def generate(seed: int) -> House:
    """The kitchen for `seed`: the same seed gives the same `to_dict()` on every machine."""
    rng = np.random.default_rng([int(seed) % (1 << 63), 0x4E4156])
    width = round(float(rng.uniform(*SIZE_RANGE_M)), 2)
    depth = round(float(rng.uniform(*SIZE_RANGE_M)), 2)
    house = House(rooms=[Room("kitchen", "kitchen", 0.0, 0.0, width, depth)])
    maker = _Maker(house, rng)
    maker.wall_units()
    maker.centre()
    maker.objects()
    house.name_instances()
    house.agent = AgentState(pose=(width / 2, depth / 2, 90.0), horizon_deg=0.0)
    return house


class _Maker:
    """Adds things to one kitchen, drawing from one generator in a fixed order."""

    def __init__(self, house: House, rng: np.random.Generator) -> None:
        self.house = house
        self.rng = rng
        self.room = house.rooms[0]
        self.counts: dict[str, int] = {}
        self.colors: dict[str, list[str]] = {}
        self.used = [CORNER_M] * 4

    def new(self, type_: str, pos: tuple[float, float, float], yaw: float, parent: str | None = None,
            size: tuple[float, float, float] | None = None) -> Thing:  # fmt: skip
        info = vocab.properties(type_)
        self.counts[type_] = self.counts.get(type_, 0) + 1
        flags = info.thing_flags()
        if size is not None:
            flags["size_m"] = size
        elif info.pickable:
            scale = float(self.rng.uniform(0.9, 1.1))
            flags["size_m"] = tuple(round(side * scale, 3) for side in info.size_m)
        flags["color"] = self._color(info)
        flags["material"] = info.materials[int(self.rng.integers(len(info.materials)))]
        place = tuple(round(float(v), 3) for v in pos)
        thing = Thing(id=f"{type_}_{self.counts[type_]:02d}", type=type_, name=type_, room=self.room.name,
                      pos=place, yaw_deg=float(yaw), parent=parent, **flags)  # fmt: skip
        return self.house.add(thing)

    def _color(self, info: vocab.TypeInfo) -> str:
        """Furniture of a kind matches; objects of a type take colours not used yet while there are some."""
        used = self.colors.setdefault(info.type, [])
        if not info.pickable and used:
            return used[0]
        fresh = [c for c in info.colors if c not in used] or [c for c in COLORS if c not in used] or list(COLORS)
        color = fresh[0] if not used else fresh[int(self.rng.integers(len(fresh)))]
        used.append(color)
        return color

    # -- furniture

    def _wall_spot(self, length: float) -> tuple[float, float, float] | None:
        """(x, y on the wall, yaw facing into the room) for a unit `length` long, on a wall with room for it."""
        room = self.room
        walls = (
            ((room.x0, room.y0), (1.0, 0.0), room.x1 - room.x0, 90.0),
            ((room.x1, room.y0), (0.0, 1.0), room.y1 - room.y0, 180.0),
            ((room.x1, room.y1), (-1.0, 0.0), room.x1 - room.x0, 270.0),
            ((room.x0, room.y1), (0.0, -1.0), room.y1 - room.y0, 0.0),
        )
        for index in self.rng.permutation(4):
            (sx, sy), (dx, dy), wall_length, yaw = walls[index]
            start = self.used[index]
            if start + length <= wall_length - CORNER_M:
                self.used[index] = start + length
                middle = start + length / 2
                return sx + dx * middle, sy + dy * middle, yaw
        return None

    def wall_units(self) -> None:
        for type_, low, high in WALL_UNITS:
            for _ in range(int(self.rng.integers(low, high + 1))):
                width, depth, height = vocab.properties(type_).size_m
                if type_ == "CounterTop":
                    width = round(float(self.rng.uniform(1.2, 2.2)), 2)
                spot = self._wall_spot(width + _GAP_M)
                if spot is None:
                    break
                x, y, yaw = spot
                inward = (math.cos(math.radians(yaw)), math.sin(math.radians(yaw)))
                pos = (x + inward[0] * (depth / 2 + 0.06), y + inward[1] * (depth / 2 + 0.06), height / 2)
                self.new(type_, pos, yaw, size=(width, depth, height))
        counters = self.house.of_type("CounterTop")
        load = {counter.id: 0.0 for counter in counters}
        for type_, low, high in ON_COUNTERS:
            for _ in range(int(self.rng.integers(low, high + 1))):
                # the counter with the most top left free, so appliances spread along the kitchen
                host = min(counters, key=lambda c: (load[c.id] / c.size_m[0], c.id))
                load[host.id] += vocab.properties(type_).size_m[0]
                self.on(type_, host)

    def centre(self) -> None:
        """A dining table with chairs when the room leaves a metre round it, more often in bigger rooms."""
        room = self.room
        width, depth = room.x1 - room.x0, room.y1 - room.y0
        table_w, table_d, table_h = vocab.properties("DiningTable").size_m
        free_w, free_d = width - 2 * (CORNER_M + 1.0), depth - 2 * (CORNER_M + 1.0)
        if min(free_w, free_d) < table_d or self.rng.random() > 0.75:
            return
        yaw = 0.0 if free_w >= free_d else 90.0  # the long side along the room's long side
        along_x = yaw == 0.0
        cx, cy = (room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2
        if (table_w if along_x else table_d) > free_w or (table_d if along_x else table_w) > free_d:
            return
        self.new("DiningTable", (cx, cy, table_h / 2), yaw + 90.0)
        for side in self.rng.permutation([-1, 1])[: int(self.rng.integers(0, 3))]:
            offset = table_d / 2 + 0.3
            x, y = (cx, cy + side * offset) if along_x else (cx + side * offset, cy)
            x, y = float(x), float(y)
            chair_yaw = math.degrees(math.atan2(cy - y, cx - x))
            self.new("Chair", (x, y, 0.45), chair_yaw)

    # -- objects

    def on(self, type_: str, host: Thing) -> Thing:
        """A new thing on `host`'s top (inside it for a fridge or cabinet), at a random spot of the surface."""
        width, depth, _ = host.size_m
        along, across = self.rng.uniform(-0.4, 0.4) * width, self.rng.uniform(-0.3, 0.3) * depth
        yaw = math.radians(host.yaw_deg)
        # host frame: +x along its facing (depth), +y across its width
        x = host.pos[0] + math.cos(yaw) * across - math.sin(yaw) * along
        y = host.pos[1] + math.sin(yaw) * across + math.cos(yaw) * along
        return self.new(type_, (x, y, host.pos[2] + host.size_m[2] / 2), host.yaw_deg, parent=host.id)

    def objects(self) -> None:
        surfaces = self.house.of_type("CounterTop") + self.house.of_type("DiningTable")
        weights = np.array([t.size_m[0] * t.size_m[1] for t in surfaces])
        fridge = self.house.of_type("Fridge")
        shelves = self.house.of_type("Shelf")
        kinds = list(CORE) + [EXTRA[int(i)] for i in self.rng.integers(len(EXTRA), size=int(self.rng.integers(4, 9)))]
        for type_ in kinds:
            if fridge and type_ in CHILLED and self.rng.random() < 0.2:
                self.on(type_, fridge[0])
            elif shelves and type_ in ("Vase", "Book", "Bowl", "Plate") and self.rng.random() < 0.5:
                self.on(type_, shelves[0])
            else:
                host = surfaces[int(self.rng.choice(len(surfaces), p=weights / weights.sum()))]
                self.on(type_, host)
