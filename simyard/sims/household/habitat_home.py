"""A ReplicaCAD-like apartment for EB-Habitat's `rearrange` world: a kitchen and a living room with EB-Habitat's
receptacles and YCB-style objects, generated from a seed.

EB-Habitat plays one ReplicaCAD apartment with YCB objects spread over its receptacles; the agent's 70 skills name
those receptacles in fixed English ("navigate to the left counter in the kitchen", "place at the table 1"). This
module builds an apartment with the same receptacles, so the same skill list applies to every scene, and varies
what a seed may vary: furniture sizes and places (without overlap), colours and materials, and which objects lie
where (some inside the closed refrigerator or cabinets).

Naming, decided once for the `rearrange` world and its suite:

* `Thing.id` and `Thing.name` are the same word that fits the goal grammar: `table_1`, `left_counter`,
  `cabinet_5`, `refrigerator`, `toy_airplane`. Goals read `on_top(toy_airplane, table_1)`.
* `Thing.type` is the class: `table`, `counter`, `cabinet`, ... for receptacles (so `on_top(bowl, table)` means
  either table) and the object's own class for objects (`apple`). A scene holds at most one object of a class, as
  EB-Habitat's skills name objects by class only ("pick up the apple").
* `SKILL_WORDS[id]` is what a skill calls the thing ("table 1", "left counter in the kitchen"); `SHORT_NAMES[id]`
  what an instruction calls it ("the left counter").

Geometry follows the MuJoCo scene's conventions (`scene.py`): metres, z up; `pos` is the centre of a thing's box;
`yaw_deg` is the direction its front faces (0 = +x, 90 = +y), where the robot stands to use it; `size_m` is (width
across the front, depth, height). Furniture stands on the floor, its height being that of the surface objects lie
on; every piece faces along x or along y, so `footprint` gives the floor rectangle it covers.

Layout, seen from above with x to the east and y to the north: the kitchen is the west part. Its counter runs
along the north wall, west to east: left drawer, left counter, sink, right counter, right drawer, then the
refrigerator with its push point in front of it, so "left" and "right" are as seen by someone facing the counter.
Cabinets 4 to 7 stand along the kitchen's west wall. The living room holds the sofa and the TV stand facing each
other, two tables and a chair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simyard.sims.household.state import AgentState, House, Room, Thing

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary: EB-Habitat's receptacles and objects, in the order of its skill list.


@dataclass(frozen=True)
class Spot:
    """A receptacle (or the refrigerator's push point) and how skills and instructions name it."""

    id: str
    words: str  # in skills: "navigate to the <words>"
    short: str  # in instructions: "the <short>"
    type: str
    room: str
    openable: bool = False
    holds: bool = True  # objects may lie in or on it


SPOTS: tuple[Spot, ...] = (
    Spot("cabinet_7", "cabinet 7", "cabinet 7", "cabinet", "kitchen", openable=True),
    Spot("cabinet_6", "cabinet 6", "cabinet 6", "cabinet", "kitchen", openable=True),
    Spot("cabinet_5", "cabinet 5", "cabinet 5", "cabinet", "kitchen", openable=True),
    Spot("cabinet_4", "cabinet 4", "cabinet 4", "cabinet", "kitchen", openable=True),
    Spot(
        "fridge_push_point", "refrigerator push point", "refrigerator push point", "push_point", "kitchen", holds=False
    ),
    Spot("chair_1", "chair 1", "chair", "chair", "living room"),
    Spot("table_1", "table 1", "table 1", "table", "living room"),
    Spot("table_2", "table 2", "table 2", "table", "living room"),
    Spot("tv_stand", "TV stand", "TV stand", "tv_stand", "living room"),
    Spot("sink", "sink in the kitchen", "sink", "sink", "kitchen"),
    Spot("right_counter", "right counter in the kitchen", "right counter", "counter", "kitchen"),
    Spot("left_counter", "left counter in the kitchen", "left counter", "counter", "kitchen"),
    Spot("sofa", "sofa", "sofa", "sofa", "living room"),
    Spot("refrigerator", "refrigerator", "refrigerator", "refrigerator", "kitchen", openable=True),
    Spot("left_drawer", "left drawer of the kitchen counter", "left drawer", "drawer", "kitchen"),
    Spot("right_drawer", "right drawer of the kitchen counter", "right drawer", "drawer", "kitchen"),
)
SPOT = {spot.id: spot for spot in SPOTS}

#: EB-Habitat's navigation targets, in skill-list order (ids 0-15).
NAV_TARGETS: tuple[str, ...] = tuple(spot.id for spot in SPOTS)
#: EB-Habitat's place targets, in skill-list order (ids 49-59): no cabinet and no push point takes objects by skill.
PLACE_TARGETS: tuple[str, ...] = (
    "chair_1",
    "table_1",
    "table_2",
    "tv_stand",
    "sink",
    "right_counter",
    "left_counter",
    "sofa",
    "refrigerator",
    "left_drawer",
    "right_drawer",
)
CABINETS: tuple[str, ...] = ("cabinet_7", "cabinet_6", "cabinet_5", "cabinet_4")


@dataclass(frozen=True)
class Kind:
    """An object class: its size and look, the coarse category visual instructions use, and plausible colours."""

    type: str
    category: str
    shape: str
    size_m: tuple[float, float, float]
    material: str
    colors: tuple[str, ...]

    @property
    def words(self) -> str:
        return self.type.replace("_", " ")


#: EB-Habitat's (LLaRP's) YCB object classes, in skill-list order (ids 16-48).
KINDS: tuple[Kind, ...] = (
    Kind("ball", "toy", "sphere", (0.07, 0.07, 0.07), "plastic", ("red", "blue", "green", "yellow", "orange")),
    Kind("clamp", "tool", "box", (0.12, 0.05, 0.09), "metal", ("orange", "black", "red")),
    Kind("hammer", "tool", "capsule", (0.30, 0.04, 0.04), "metal", ("black", "red", "brown")),
    Kind("screwdriver", "tool", "capsule", (0.20, 0.03, 0.03), "plastic", ("red", "yellow", "blue", "black")),
    Kind("padlock", "tool", "box", (0.06, 0.03, 0.08), "metal", ("gray", "yellow")),
    Kind("scissors", "tool", "box", (0.20, 0.08, 0.02), "metal", ("red", "blue", "black", "orange")),
    Kind("block", "toy", "box", (0.08, 0.05, 0.05), "wood", ("red", "yellow", "green", "blue")),
    Kind("drill", "tool", "box", (0.18, 0.06, 0.18), "plastic", ("red", "yellow", "green", "black")),
    Kind("spatula", "kitchen item", "box", (0.30, 0.07, 0.02), "plastic", ("black", "red", "white")),
    Kind("knife", "kitchen item", "box", (0.22, 0.03, 0.02), "metal", ("black", "gray")),
    Kind("spoon", "kitchen item", "capsule", (0.18, 0.04, 0.02), "metal", ("gray", "white", "blue")),
    Kind("plate", "kitchen item", "cylinder", (0.24, 0.24, 0.02), "ceramic", ("white", "blue", "red", "beige")),
    Kind("sponge", "cleaning supply", "box", (0.11, 0.07, 0.04), "fabric", ("yellow", "green", "blue", "pink")),
    Kind("cleanser", "cleaning supply", "cylinder", (0.07, 0.07, 0.22), "plastic", ("blue", "white", "yellow")),
    Kind("plum", "fruit", "sphere", (0.05, 0.05, 0.05), "organic", ("purple", "red")),
    Kind("pear", "fruit", "ellipsoid", (0.07, 0.07, 0.10), "organic", ("green", "yellow", "brown")),
    Kind("peach", "fruit", "sphere", (0.07, 0.07, 0.07), "organic", ("orange", "pink", "yellow")),
    Kind("apple", "fruit", "sphere", (0.08, 0.08, 0.08), "organic", ("red", "green", "yellow")),
    Kind("lemon", "fruit", "ellipsoid", (0.07, 0.06, 0.06), "organic", ("yellow", "green")),
    Kind("can", "drink", "cylinder", (0.07, 0.07, 0.12), "metal", ("red", "blue", "green", "gray", "white")),
    Kind("box", "box", "box", (0.16, 0.06, 0.22), "plastic", ("red", "yellow", "blue", "white", "brown")),
    Kind("banana", "fruit", "capsule", (0.18, 0.04, 0.04), "organic", ("yellow", "green", "brown")),
    Kind("strawberry", "fruit", "sphere", (0.04, 0.04, 0.04), "organic", ("red",)),
    Kind("lego", "toy", "box", (0.06, 0.03, 0.03), "plastic", ("red", "blue", "yellow", "green", "white")),
    Kind("rubriks_cube", "toy", "box", (0.06, 0.06, 0.06), "plastic", ("white", "orange", "purple", "black")),
    Kind("book", "book", "box", (0.22, 0.15, 0.04), "fabric", ("blue", "red", "green", "black", "brown")),
    Kind("bowl", "kitchen item", "cylinder", (0.16, 0.16, 0.07), "ceramic", ("white", "blue", "red", "green")),
    Kind("cup", "kitchen item", "cylinder", (0.08, 0.08, 0.10), "plastic", ("red", "blue", "green", "purple")),
    Kind("mug", "kitchen item", "cylinder", (0.09, 0.09, 0.10), "ceramic", ("white", "black", "blue", "red")),
    Kind("orange", "fruit", "sphere", (0.08, 0.08, 0.08), "organic", ("orange",)),
    Kind("lid", "kitchen item", "cylinder", (0.20, 0.20, 0.03), "metal", ("gray", "black", "red")),
    Kind("toy_airplane", "toy", "box", (0.20, 0.16, 0.06), "plastic", ("red", "yellow", "blue", "green")),
    Kind("wrench", "tool", "box", (0.20, 0.04, 0.01), "metal", ("gray", "black", "red")),
)
KIND = {kind.type: kind for kind in KINDS}

#: What a skill calls each thing: receptacles by EB-Habitat's words, objects by their class in plain words.
SKILL_WORDS: dict[str, str] = {**{spot.id: spot.words for spot in SPOTS}, **{k.type: k.words for k in KINDS}}
#: What an instruction calls each thing.
SHORT_NAMES: dict[str, str] = {**{spot.id: spot.short for spot in SPOTS}, **{k.type: k.words for k in KINDS}}

#: Table colours; EB-Habitat's instructions tell its two tables apart as "the black table" and "the brown table".
TABLE_COLORS = ("black", "brown", "white", "gray")
_TABLE_MATERIAL = {"black": "wood", "brown": "wood", "white": "plastic", "gray": "metal"}

# Furniture sizes: (width across its front, depth, height of the surface objects lie on), the scene's convention.
_SIZE = {
    "sofa": (2.0, 0.9, 0.5),
    "tv_stand": (1.6, 0.45, 0.55),
    "table_1": (1.2, 0.8, 0.75),
    "table_2": (1.0, 0.7, 0.75),
    "chair_1": (0.5, 0.5, 0.45),
    "refrigerator": (0.8, 0.7, 1.8),
    "cabinet": (0.6, 0.6, 0.9),
}
_COUNTER_DEPTH = 0.6
_COUNTER_TOP = 0.9
_DRAWER_TOP = 0.55
_KITCHEN_WIDTH = 6.0
_LIVING_WIDTH = 6.0
_DEPTH = 6.0
#: Facing directions (yaw_deg, the way a thing's front faces).
_EAST, _NORTH, _SOUTH = 0.0, 90.0, 270.0
#: Free space kept around living-room furniture, so the robot could pass and nothing touches.
_CLEARANCE = 0.5
#: Objects in a scene: EB-Habitat's episodes spread about a dozen YCB objects over the receptacles.
OBJECTS_PER_SCENE = (10, 14)


def generate(seed: int) -> House:
    """The apartment for `seed`: the same house on every machine for the same seed."""
    rng = np.random.default_rng([int(seed) % (1 << 64), 0x4AB17A7])
    house = House(
        rooms=[
            Room("kitchen", "kitchen", 0.0, 0.0, _KITCHEN_WIDTH, _DEPTH),
            Room("living room", "living room", _KITCHEN_WIDTH, 0.0, _KITCHEN_WIDTH + _LIVING_WIDTH, _DEPTH),
        ]
    )
    _kitchen(house, rng)
    _living_room(house, rng)
    _objects(house, rng)
    house.agent = AgentState(pose=(_KITCHEN_WIDTH + _LIVING_WIDTH / 2, _DEPTH / 2, 180.0))
    return house


def _receptacle(
    spot_id: str,
    center: tuple[float, float],
    size: tuple[float, float, float],
    yaw_deg: float,
    color: str,
    material: str,
    shape: str = "box",
) -> Thing:
    """A piece of furniture standing on the floor: `pos` is the centre of its box, `size` (width, depth, height)."""
    spot = SPOT[spot_id]
    width, depth, height = (round(side, 3) for side in size)
    return Thing(
        id=spot.id,
        type=spot.type,
        name=spot.id,
        room=spot.room,
        pos=(round(center[0], 3), round(center[1], 3), round(height / 2, 3)),
        yaw_deg=yaw_deg,
        size_m=(width, depth, height),
        color=color,
        material=material,
        shape=shape,
        receptacle=spot.holds,
        openable=spot.openable,
    )


def _kitchen(house: House, rng: np.random.Generator) -> None:
    """The counter run along the north wall (with the refrigerator at its east end) and cabinets on the west wall."""
    counter_color = str(rng.choice(["white", "gray", "beige", "black"]))
    counter_material = str(rng.choice(["wood", "ceramic", "metal"]))
    y = _DEPTH - _COUNTER_DEPTH / 2
    x = 0.8 + float(rng.uniform(0.0, 0.3))  # clear of the west cabinets
    run = (
        ("left_drawer", 0.5, _DRAWER_TOP),
        ("left_counter", 0.8, _COUNTER_TOP),
        ("sink", 0.7, _COUNTER_TOP - 0.05),
        ("right_counter", 0.8, _COUNTER_TOP),
        ("right_drawer", 0.5, _DRAWER_TOP),
    )
    for spot_id, width, top in run:
        width += float(rng.uniform(-0.05, 0.1))
        color = "gray" if spot_id == "sink" else counter_color
        material = "metal" if spot_id == "sink" else counter_material
        house.add(_receptacle(spot_id, (x + width / 2, y), (width, _COUNTER_DEPTH, top), _SOUTH, color, material))
        x += width + 0.01  # a seam, so rounded footprints never touch
    fridge_w, fridge_d, fridge_h = _SIZE["refrigerator"]
    x += float(rng.uniform(0.05, 0.2))
    fridge_color = str(rng.choice(["white", "gray", "black"]))
    house.add(
        _receptacle(
            "refrigerator",
            (x + fridge_w / 2, _DEPTH - fridge_d / 2),
            _SIZE["refrigerator"],
            _SOUTH,
            fridge_color,
            "metal",
        )
    )
    push_point = (x + fridge_w / 2, _DEPTH - fridge_d - 0.45)
    house.add(_receptacle("fridge_push_point", push_point, (0.3, 0.3, 0.01), _SOUTH, "gray", "plastic", "cylinder"))
    cab_w, cab_d, cab_h = _SIZE["cabinet"]
    cabinet_color = str(rng.choice(["white", "brown", "gray", "beige"]))
    cy = _DEPTH - _COUNTER_DEPTH - 0.3 - cab_w / 2 - float(rng.uniform(0.0, 0.4))
    for cabinet in CABINETS:  # 7 to 4, north to south along the west wall
        house.add(_receptacle(cabinet, (cab_d / 2, cy), _SIZE["cabinet"], _EAST, cabinet_color, "wood"))
        cy -= cab_w + float(rng.uniform(0.02, 0.15))


def _living_room(house: House, rng: np.random.Generator) -> None:
    """Sofa and TV stand on facing walls, then tables and the chair wherever they fit without overlap."""
    x0, x1 = _KITCHEN_WIDTH, _KITCHEN_WIDTH + _LIVING_WIDTH
    sofa_w, sofa_d, _ = _SIZE["sofa"]
    tv_w, tv_d, _ = _SIZE["tv_stand"]
    sofa_south = bool(rng.integers(2))
    sx = float(rng.uniform(x0 + 0.3 + sofa_w / 2, x1 - 0.3 - sofa_w / 2))
    tx = sx + float(rng.uniform(-0.5, 0.5))
    sofa_y, tv_y = (sofa_d / 2, _DEPTH - tv_d / 2) if sofa_south else (_DEPTH - sofa_d / 2, tv_d / 2)
    sofa_color = str(rng.choice(["gray", "blue", "beige", "green", "red"]))
    facing = (_NORTH, _SOUTH) if sofa_south else (_SOUTH, _NORTH)
    house.add(_receptacle("sofa", (sx, sofa_y), _SIZE["sofa"], facing[0], sofa_color, "fabric"))
    tv_color = str(rng.choice(["black", "brown", "white"]))
    house.add(_receptacle("tv_stand", (tx, tv_y), _SIZE["tv_stand"], facing[1], tv_color, "wood"))
    placed = [_box(sx, sofa_y, sofa_w, sofa_d), _box(tx, tv_y, tv_w, tv_d)]
    colors = [str(color) for color in rng.permutation(TABLE_COLORS)[:2]]
    for spot_id, color in zip(("table_1", "table_2"), colors, strict=True):
        width, depth, _ = _SIZE[spot_id]  # facing north: width along x
        center = _free_spot(rng, placed, width, depth, (x0, 0.0, x1, _DEPTH))
        placed.append(_box(*center, width, depth))
        house.add(_receptacle(spot_id, center, _SIZE[spot_id], _NORTH, color, _TABLE_MATERIAL[color]))
    width, depth, _ = _SIZE["chair_1"]
    table = house.things[str(rng.choice(["table_1", "table_2"]))]
    tx0, ty0, tx1, ty1 = footprint(table)
    area = (max(x0, 2 * tx0 - tx1), max(0.0, 2 * ty0 - ty1), min(x1, 2 * tx1 - tx0), min(_DEPTH, 2 * ty1 - ty0))
    center = _free_spot(rng, placed, width, depth, area, fallback=(x0, 0.0, x1, _DEPTH), clearance=0.15)
    chair_color = str(rng.choice(["brown", "black", "white", "red"]))
    yaw = math.degrees(math.atan2(table.pos[1] - center[1], table.pos[0] - center[0])) % 360.0
    house.add(_receptacle("chair_1", center, _SIZE["chair_1"], round(yaw / 90) * 90 % 360, chair_color, "wood"))


def _box(cx: float, cy: float, x_extent: float, y_extent: float) -> tuple[float, float, float, float]:
    return (cx - x_extent / 2, cy - y_extent / 2, cx + x_extent / 2, cy + y_extent / 2)


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], gap: float) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _free_spot(
    rng: np.random.Generator,
    placed: list[tuple[float, float, float, float]],
    x_extent: float,
    y_extent: float,
    area: tuple[float, float, float, float],
    fallback: tuple[float, float, float, float] | None = None,
    clearance: float = _CLEARANCE,
) -> tuple[float, float]:
    """A centre inside `area` whose footprint keeps `clearance` from everything placed (rejection sampling)."""
    for region in (area, fallback) if fallback else (area,):
        lo_x, hi_x = region[0] + 0.2 + x_extent / 2, region[2] - 0.2 - x_extent / 2
        lo_y, hi_y = region[1] + 0.2 + y_extent / 2, region[3] - 0.2 - y_extent / 2
        if lo_x >= hi_x or lo_y >= hi_y:
            continue
        for _ in range(400):
            cx, cy = float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))
            if not any(_overlaps(_box(cx, cy, x_extent, y_extent), other, clearance) for other in placed):
                return round(cx, 3), round(cy, 3)
    raise AssertionError("the living room has no room left")  # cannot happen with these sizes; tests cover seeds


#: Where objects start, with weights: EB-Habitat spreads objects over all receptacles, a few hidden in containers.
_START_WEIGHTS = {
    "table_1": 3,
    "table_2": 3,
    "tv_stand": 2,
    "sofa": 2,
    "chair_1": 1,
    "left_counter": 3,
    "right_counter": 3,
    "sink": 2,
    "left_drawer": 1,
    "right_drawer": 1,
    "refrigerator": 2,
    "cabinet_4": 1,
    "cabinet_5": 1,
    "cabinet_6": 1,
    "cabinet_7": 1,
}


def _objects(house: House, rng: np.random.Generator) -> None:
    count = int(rng.integers(OBJECTS_PER_SCENE[0], OBJECTS_PER_SCENE[1] + 1))
    kinds = [KINDS[int(index)] for index in rng.choice(len(KINDS), size=count, replace=False)]
    spots = list(_START_WEIGHTS)
    weights = np.array([_START_WEIGHTS[spot] for spot in spots], dtype=float)
    used: dict[str, int] = {}
    for kind in kinds:
        while True:
            spot_id = spots[int(rng.choice(len(spots), p=weights / weights.sum()))]
            holder = house.things[spot_id]
            if used.get(spot_id, 0) < capacity(holder):
                break
        slot = used.get(spot_id, 0)
        used[spot_id] = slot + 1
        house.add(
            Thing(
                id=kind.type,
                type=kind.type,
                name=kind.type,
                room=holder.room,
                pos=slot_position(holder, slot, kind.size_m[2]),
                yaw_deg=float(rng.integers(0, 360)),
                size_m=kind.size_m,
                color=str(rng.choice(kind.colors)),
                material=kind.material,
                shape=kind.shape,
                parent=spot_id,
                pickable=True,
            )
        )


def capacity(holder: Thing) -> int:
    """How many objects fit in or on `holder`, in a grid of 0.25 m slots."""
    x0, y0, x1, y1 = footprint(holder)
    return max(1, int((x1 - x0) // 0.25)) * max(1, int((y1 - y0) // 0.25))


def slot_position(holder: Thing, slot: int, height_m: float) -> tuple[float, float, float]:
    """Where the `slot`-th object on `holder` stands (its centre): slots fill a grid over the surface, row by row.

    Slots beyond the grid wrap around (a crowded receptacle stacks things in the same places; the scene spreads
    such things out when it draws them); the symbolic state is what skills and goals read.
    """
    x0, y0, x1, y1 = footprint(holder)
    columns = max(1, int((x1 - x0) // 0.25))
    rows = max(1, int((y1 - y0) // 0.25))
    column, row = slot % columns, (slot // columns) % rows
    x = (x0 + x1) / 2 + ((column + 0.5) / columns - 0.5) * (x1 - x0) * 0.8
    y = (y0 + y1) / 2 + ((row + 0.5) / rows - 0.5) * (y1 - y0) * 0.8
    return round(x, 3), round(y, 3), round(holder.size_m[2] + height_m / 2, 3)


def top_holder(house: House, thing_id: str) -> Thing | None:
    """The outermost receptacle holding `thing_id` (what the robot must navigate to); None when held or loose."""
    outer = None
    for holder in house.ancestors(thing_id):
        outer = holder
    return outer


def footprint(thing: Thing) -> tuple[float, float, float, float]:
    """The floor rectangle (x0, y0, x1, y1) a piece of furniture covers (its front faces along x or along y)."""
    width, depth = thing.size_m[0], thing.size_m[1]
    faces_x = round(thing.yaw_deg / 90) % 2 == 0
    return _box(thing.pos[0], thing.pos[1], depth if faces_x else width, width if faces_x else depth)
