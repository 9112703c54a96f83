"""Procedural homes from a seed: ALFRED's four room kinds furnished with its receptacles and objects.

ALFRED's scenes are single rooms (kitchens, living rooms, bedrooms, bathrooms); a generated home has one to four of
them side by side, so a seed may give a studio kitchen or a flat. Furniture stands along the walls (a margin keeps
each corner free, so units on neighbouring walls never meet) or in the middle of the room (a table, a bed), which
is why no two footprints overlap. Objects start in or on receptacles that accept them (ALFRED's table of what goes
where), some inside closed cabinets, drawers and fridges. Several instances of a type get different colours, so a
visual instruction can single one out.

Coordinates: metres, z up; `Thing.pos` is the centre of the thing's box and `yaw_deg` the direction its front faces
(into the room). Things carry ids `Type_01`, `Type_02`, ... and EB-ALFRED's names (`Type`, `Type_2`, ...).
"""

from __future__ import annotations

import math

import numpy as np

from simyard.sims.household import vocab
from simyard.sims.household.appearance import COLORS
from simyard.sims.household.state import AgentState, House, Room, Thing

ROOM_KINDS = ("kitchen", "living room", "bedroom", "bathroom")
#: Types that hang on a wall or sit on a fitting rather than stand on the floor (left out of overlap checks).
MOUNTED = frozenset({"Faucet"})
#: Free space kept at each end of a wall, so units on neighbouring walls never meet.
CORNER_M = 1.0
_GAP_M = 0.08

# Per room kind: units along the walls as (type, how many: min, max), the required first; a centre piece.
_WALL_UNITS: dict[str, list[tuple[str, int, int]]] = {
    "kitchen": [
        ("Fridge", 1, 1), ("SinkBasin", 1, 1), ("CounterTop", 1, 2), ("Microwave", 1, 1), ("StoveBurner", 2, 4),
        ("Cabinet", 2, 4), ("Drawer", 1, 3), ("GarbageCan", 1, 1), ("CoffeeMachine", 0, 1), ("Toaster", 0, 1),
        ("Shelf", 0, 1),
    ],
    "living room": [
        ("Sofa", 1, 1), ("FloorLamp", 1, 1), ("SideTable", 1, 2), ("ArmChair", 0, 1), ("TVStand", 0, 1),
        ("Drawer", 1, 2), ("Cabinet", 0, 2), ("Shelf", 0, 1), ("GarbageCan", 0, 1), ("Dresser", 0, 1),
        ("Ottoman", 0, 1),
    ],
    "bedroom": [
        ("Desk", 1, 1), ("SideTable", 1, 2), ("Dresser", 1, 1), ("Drawer", 1, 3), ("FloorLamp", 0, 1),
        ("Shelf", 0, 2), ("GarbageCan", 1, 1), ("Safe", 0, 1), ("LaundryHamper", 0, 1), ("ArmChair", 0, 1),
    ],
    "bathroom": [
        ("Toilet", 1, 1), ("SinkBasin", 1, 2), ("CounterTop", 1, 1), ("BathtubBasin", 1, 1), ("Cabinet", 1, 3),
        ("Drawer", 1, 2), ("ToiletPaperHanger", 1, 1), ("HandTowelHolder", 1, 1), ("TowelHolder", 0, 1),
        ("GarbageCan", 1, 1), ("Shelf", 0, 1), ("Cart", 0, 1),
    ],
}  # fmt: skip
_CENTRE = {"kitchen": "DiningTable", "living room": "CoffeeTable", "bedroom": "Bed", "bathroom": None}
#: Lamps that stand on furniture: which furniture, per room kind.
_DESK_LAMP_ON = {"living room": ("SideTable",), "bedroom": ("Desk", "SideTable", "Dresser")}

# Objects per room kind: always there, then a pool to draw extras from.
_CORE: dict[str, tuple[str, ...]] = {
    "kitchen": (
        "Apple", "Tomato", "Potato", "Lettuce", "Bread", "Egg", "Knife", "Mug", "Cup", "Bowl", "Plate", "Pan", "Pot",
        "Fork", "Spoon",
    ),
    "living room": ("RemoteControl", "Book", "KeyChain", "CreditCard", "Pillow", "Box", "Vase", "Statue", "Laptop"),
    "bedroom": ("AlarmClock", "CellPhone", "Book", "Pen", "Pencil", "CD", "Pillow", "Laptop", "Mug", "KeyChain"),
    "bathroom": ("SoapBar", "SoapBottle", "ToiletPaper", "HandTowel", "Cloth", "SprayBottle", "Candle"),
}  # fmt: skip
_EXTRA: dict[str, tuple[str, ...]] = {
    "kitchen": (
        "Apple", "Tomato", "Potato", "Mug", "Bowl", "Plate", "Cup", "ButterKnife", "Spatula", "Ladle", "Kettle",
        "SaltShaker", "PepperShaker", "DishSponge", "SoapBottle", "Glassbottle", "WineBottle", "Knife", "Egg",
        "Bread", "Lettuce", "Vase",
    ),
    "living room": (
        "Newspaper", "Watch", "CellPhone", "Candle", "TissueBox", "WateringCan", "Bowl", "Plate", "Book", "Vase",
        "Statue", "KeyChain", "CreditCard", "RemoteControl", "Box",
    ),
    "bedroom": (
        "BaseballBat", "BasketBall", "TennisRacket", "CreditCard", "Watch", "Bowl", "Box", "Book", "CellPhone",
        "AlarmClock", "Pen", "Pencil", "Vase", "Statue", "TissueBox",
    ),
    "bathroom": (
        "DishSponge", "Plunger", "TissueBox", "SoapBar", "Cloth", "Candle", "ToiletPaper", "SoapBottle",
        "SprayBottle",
    ),
}  # fmt: skip


def generate(seed: int) -> House:
    """The home for `seed`: the same seed gives the same home (and the same `to_dict()`) on every machine."""
    rng = _Draws(np.random.default_rng([int(seed) % (1 << 63), 0x40E5]))
    builder = _Builder(rng)
    kinds = _room_kinds(rng)
    x = 0.0
    for index, kind in enumerate(kinds):
        width, depth = rng.uniform(4.6, 6.4), rng.uniform(4.6, 6.0)
        room = Room(name=f"{kind} {index + 1}" if kinds.count(kind) > 1 else kind, kind=kind, x0=x, y0=0.0,
                    x1=round(x + width, 3), y1=round(depth, 3))  # fmt: skip
        builder.house.rooms.append(room)
        builder.furnish(room)
        x = room.x1
    for room in builder.house.rooms:
        builder.fill(room)
    house = builder.house
    house.name_instances()
    first = house.rooms[0]
    house.agent = AgentState(pose=(round((first.x0 + first.x1) / 2, 3), round((first.y0 + first.y1) / 2, 3), 90.0))
    return house


def _room_kinds(rng: _Draws) -> list[str]:
    """One room (as ALFRED's scenes) half of the time, else two to four different kinds; a kitchen is common."""
    count = 1 + rng.weighted([0.35, 0.3, 0.2, 0.15])
    return rng.permutation(ROOM_KINDS)[:count]


def footprint(thing: Thing) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a thing's box on the floor, its yaw turning width and depth."""
    width, depth, _ = thing.size_m
    if round(thing.yaw_deg) % 180 == 0:  # facing along x: depth runs along x
        width, depth = depth, width
    x, y, _ = thing.pos
    return (x - width / 2, y - depth / 2, x + width / 2, y + depth / 2)


class _Builder:
    """Places furniture and objects into one House, drawing from one generator in a fixed order."""

    def __init__(self, rng: _Draws) -> None:
        self.rng = rng
        self.house = House()
        self.counts: dict[str, int] = {}
        self.colors_used: dict[str, list[str]] = {}

    def new(self, type_: str, room: Room, pos: tuple[float, float, float], yaw: float = 0.0, **extra) -> Thing:
        info = vocab.properties(type_)
        self.counts[type_] = self.counts.get(type_, 0) + 1
        flags = info.thing_flags()
        scale = self.rng.uniform(0.85, 1.15) if info.pickable else 1.0
        flags["size_m"] = tuple(round(side * scale, 3) for side in info.size_m)
        flags["color"] = self._color(info)
        flags["material"] = self.rng.choice(info.materials)
        flags.update(extra)
        thing = Thing(
            id=f"{type_}_{self.counts[type_]:02d}",
            type=type_,
            name=type_,
            room=room.name,
            pos=tuple(round(v, 3) for v in pos),
            yaw_deg=float(yaw),
            **flags,
        )
        return self.house.add(thing)

    def _color(self, info: vocab.TypeInfo) -> str:
        """A colour this type comes in, different from earlier instances while the type's colours last."""
        if not info.pickable:  # furniture of a kind matches, as in a real home
            return self.rng.choice(info.colors)
        used = self.colors_used.setdefault(info.type, [])
        fresh = [c for c in info.colors if c not in used] or [c for c in COLORS if c not in used] or list(COLORS)
        color = fresh[0] if not used else self.rng.choice(fresh)
        used.append(color)
        return color

    def furnish(self, room: Room) -> None:
        """Wall units in order (required first), then a centre piece; units that do not fit are left out."""
        walls = _Walls(room)
        for type_, low, high in _WALL_UNITS[room.kind]:
            for _ in range(self.rng.integers(low, high + 1)):
                size = vocab.properties(type_).size_m
                spot = walls.take(size[0] + _GAP_M, self.rng)
                if spot is None:
                    break
                x, y, yaw = spot
                depth, height = size[1], size[2]
                lift = 0.9 if type_ in ("Microwave", "CoffeeMachine", "Toaster") else 0.0
                lift = 0.8 if type_ in ("StoveBurner", "SinkBasin") else lift
                if type_ in ("ToiletPaperHanger", "HandTowelHolder", "TowelHolder"):
                    lift = 0.7
                fx, fy = _inward(yaw)
                pos = (x + fx * depth / 2, y + fy * depth / 2, lift + height / 2)
                thing = self.new(type_, room, pos, yaw, is_open=False)
                if type_ == "SinkBasin":
                    self._faucet(room, thing)
        centre = _CENTRE[room.kind]
        if centre:
            cx, cy = (room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2
            height = vocab.properties(centre).size_m[2]
            self.new(centre, room, (cx, cy, height / 2), 90.0)
        self._desk_lamps(room)

    def _faucet(self, room: Room, sink: Thing) -> None:
        fx, fy = _inward(sink.yaw_deg)
        x, y, z = sink.pos
        back = sink.size_m[1] / 2 - vocab.properties("Faucet").size_m[1] / 2
        self.new("Faucet", room, (x - fx * back, y - fy * back, z + 0.2), sink.yaw_deg, is_on=False)

    def _desk_lamps(self, room: Room) -> None:
        hosts = [
            t for t in self.house.things.values() if t.room == room.name and t.type in _DESK_LAMP_ON.get(room.kind, ())
        ]
        if not hosts:
            return
        wanted = 1 if room.kind == "bedroom" else self.rng.integers(0, 2)
        for host in hosts[:wanted] if wanted else []:
            self._on(room, "DeskLamp", host, is_on=False)

    def _on(self, room: Room, type_: str, host: Thing, **extra) -> Thing:
        """A new thing in or on `host`, at a free-ish spot of its top (or its inside, for closed furniture)."""
        info = vocab.properties(type_)
        hx, hy, hz = host.pos
        w, d, h = host.size_m
        ox, oy = self.rng.uniform(-0.3, 0.3) * max(w - 0.1, 0.0), self.rng.uniform(-0.3, 0.3) * max(d - 0.1, 0.0)
        if round(host.yaw_deg) % 180 == 0:
            ox, oy = oy, ox
        inside = host.openable or host.type in ("SinkBasin", "BathtubBasin", "GarbageCan", "LaundryHamper")
        base = hz - h / 2 + 0.05 if inside else hz + h / 2
        thing = self.new(
            type_, room, (hx + ox, hy + oy, base + info.size_m[2] / 2), host.yaw_deg, parent=host.id, **extra
        )
        return thing

    def fill(self, room: Room) -> None:
        """The room's core objects and some extras, each in or on a receptacle of the room that accepts it."""
        kinds = list(_CORE[room.kind])
        extra = _EXTRA[room.kind]
        kinds += [self.rng.choice(extra) for _ in range(self.rng.integers(3, 8))]
        receptacles = [t for t in self.house.things.values() if t.room == room.name and t.receptacle and not t.pickable]
        placed_movable: list[Thing] = []
        load: dict[str, int] = {}
        for type_ in kinds:
            hosts = [r for r in receptacles if vocab.properties(r.type).accepts(type_)]
            hosts += [m for m in placed_movable if vocab.properties(m.type).accepts(type_) and m.parent is not None]
            hosts = [h for h in hosts if load.get(h.id, 0) < _capacity(h)]
            if not hosts:
                continue
            host = hosts[self.rng.weighted([_preference(h, type_) for h in hosts])]
            load[host.id] = load.get(host.id, 0) + 1
            extra_flags = {}
            if type_ == "Laptop" or type_ == "Box":
                extra_flags["is_open"] = self.rng.random() < 0.5
            if type_ in vocab.CLEANABLE:  # ALFRED's scenes start some dishes dirty (`dirty_and_empty`)
                extra_flags["is_dirty"] = self.rng.random() < 0.4
            thing = self._on(room, type_, host, **extra_flags)
            if thing.receptacle:
                placed_movable.append(thing)


def _capacity(host: Thing) -> int:
    width, depth, _ = host.size_m
    return max(1, min(6, int(width * depth / 0.05)))


def _preference(host: Thing, type_: str) -> float:
    """Tables and counters hold most things; closed furniture some; a movable receptacle now and then."""
    if host.pickable:
        return 0.3
    if host.type in ("CounterTop", "DiningTable", "CoffeeTable", "SideTable", "Desk", "Dresser", "Shelf"):
        return 3.0
    if host.type == "Fridge" and type_ in ("Apple", "Tomato", "Lettuce", "Egg", "Potato", "Bread", "WineBottle"):
        return 2.0
    return 1.0


def _inward(yaw_deg: float) -> tuple[float, float]:
    radians = math.radians(yaw_deg)
    return round(math.cos(radians), 6), round(math.sin(radians), 6)


class _Walls:
    """Free stretches of a room's four walls, filled from one end; each unit faces into the room."""

    def __init__(self, room: Room) -> None:
        # (start x, start y, direction along the wall, length, yaw facing in); used length so far
        self.walls = [
            ((room.x0, room.y0), (1.0, 0.0), room.x1 - room.x0, 90.0),
            ((room.x1, room.y0), (0.0, 1.0), room.y1 - room.y0, 180.0),
            ((room.x1, room.y1), (-1.0, 0.0), room.x1 - room.x0, 270.0),
            ((room.x0, room.y1), (0.0, -1.0), room.y1 - room.y0, 0.0),
        ]
        self.used = [CORNER_M] * 4

    def take(self, length: float, rng: _Draws) -> tuple[float, float, float] | None:
        """A spot (x, y on the wall, yaw) for a unit `length` long, on a wall with room for it; None when full."""
        order = rng.permutation(range(4))
        for index in order:
            (sx, sy), (dx, dy), wall_length, yaw = self.walls[index]
            start = self.used[index]
            if start + length <= wall_length - CORNER_M:
                self.used[index] = start + length
                middle = start + length / 2
                return sx + dx * middle, sy + dy * middle, yaw
        return None


class _Draws:
    """Uniform numbers from a numpy generator, drawn in blocks: a home needs a few thousand, one at a time."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._block: list[float] = []

    def random(self) -> float:
        if not self._block:
            self._block = self._rng.random(1024).tolist()[::-1]
        return self._block.pop()

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def integers(self, low: int, high: int) -> int:
        """A whole number from `low` up to, not including, `high`."""
        return low + min(int(self.random() * (high - low)), high - low - 1)

    def choice(self, items):
        return items[self.integers(0, len(items))]

    def weighted(self, weights: list[float]) -> int:
        """An index drawn in proportion to `weights`."""
        mark, total = self.random() * sum(weights), 0.0
        for index, weight in enumerate(weights):
            total += weight
            if mark < total:
                return index
        return len(weights) - 1

    def permutation(self, items) -> list:
        shuffled = list(items)
        for index in range(len(shuffled) - 1, 0, -1):
            other = self.integers(0, index + 1)
            shuffled[index], shuffled[other] = shuffled[other], shuffled[index]
        return shuffled
