"""The `eb-manipulation` suite: EB-Manipulation's five subsets (228 tasks) on the `manipulation` world's tabletop.

EB-Manipulation's episodes are CoppeliaSim scenes; what is public are its variation names, its in-context examples
and its object vocabulary, whose layouts and wording the generators follow:

* base (48): pick_cube_shape, stack_cubes_color, place_into_shape_sorter_color, wipe_table_direction, 12 tasks
  each; things named plainly ("Pick up the star and place it into the yellow container.");
* common_sense (48): the same variations; things named by what they look like in everyday life ("the object shaped
  like a die", "the container that has the colour of a banana");
* complex (48): the same variations; the plain request inside a longer text with distractions;
* spatial (48): pick_cube_relative, stack_cubes_relative, place_into_shape_sorter_relative, wipe_table_relative;
  things of one shape and colour named by position ("the star on the left", "the cube closest to you");
* visual (36): the first three variations; objects named by colour alone (shapes mixed) or by matching another
  object's colour.

Left and right are the front camera's (y grows to the right of the picture); "closest to you" is nearest the camera
(largest x). Positions are drawn where the Panda reaches every grasp from above, things kept apart by their
footprints; each task is fixed by its seeds, so the published suite is the same on every machine.
`eb_manipulation_suite(fresh_seed=N)` draws a new suite of the same shape (`--suite-opt fresh_seed=7`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

from simyard.platform.api import Task
from simyard.platform.errors import SimyardError
from simyard.sims.manipulation import shapes
from simyard.tasks._options import fresh_seed_family

SUBSETS = ("base", "common_sense", "complex", "spatial", "visual")
VARIATIONS = {
    "base": ("pick_cube_shape", "stack_cubes_color", "place_into_shape_sorter_color", "wipe_table_direction"),
    "spatial": ("pick_cube_relative", "stack_cubes_relative", "place_into_shape_sorter_relative",
                "wipe_table_relative"),
    "visual": ("pick_cube_shape", "stack_cubes_color", "place_into_shape_sorter_color"),
}  # fmt: skip
VARIATIONS["common_sense"] = VARIATIONS["complex"] = VARIATIONS["base"]
PER_VARIATION = 12
MAX_STEPS = 15
#: Where things are drawn (metres, EB's frame): within the Panda's comfortable reach from its base at x = -0.3.
X_RANGE, Y_RANGE, REACH_M = (-0.05, 0.33), (-0.33, 0.33), (0.3, 0.62)
#: The tall shape sorter stands where the arm reaches over its top (16 cm up) with room to spare.
SORTER_REACH_M = (0.38, 0.57)
_BASE_XY = (-0.3, 0.0)

_SHAPE_RIDDLES = {
    "cube": "the object shaped like a die",
    "star": "the object shaped like the symbol used for ratings",
    "cylinder": "the object shaped like a can of soda",
    "triangular": "the object shaped like the roof of a tent",
    "moon": "the object shaped like the night sky's light when only a sliver is showing",
}
_COLOR_RIDDLES = {
    "red": "the colour of a ripe tomato", "maroon": "the colour of dark red wine",
    "lime": "the colour of a fresh lime", "green": "the colour of grass", "blue": "the colour of a clear sky",
    "navy": "the colour of a sailor's dark uniform", "yellow": "the colour of a banana",
    "cyan": "the colour of a tropical lagoon", "magenta": "the colour of a fuchsia flower",
    "silver": "the colour of a spoon", "gray": "the colour of a rain cloud", "olive": "the colour of green olives",
    "purple": "the colour of an eggplant", "teal": "the colour of a peacock's feathers",
    "azure": "the colour of the Mediterranean sea", "violet": "the colour of lavender",
    "rose": "the colour of a pink rose", "black": "the colour of coal", "white": "the colour of fresh snow",
}  # fmt: skip


def eb_manipulation_suite(fresh_seed: int | None = None) -> list[Task]:
    """The suite's 228 tasks in a stable order (subset by subset, variation by variation).

    Args:
        fresh_seed: Draw a new, statistically identical suite from this seed instead of the published one.
    """
    return list(_suite(fresh_seed_family(fresh_seed)))


@cache
def _suite(fresh_seed: int) -> tuple[Task, ...]:
    return tuple(
        make_task(subset, number * PER_VARIATION + index, fresh_seed)
        for subset in SUBSETS
        for number in range(len(VARIATIONS[subset]))
        for index in range(PER_VARIATION)
    )


def sample_task(seed: int) -> Task:
    """One task for `simyard episode run manipulation --seed N`: the subset and variation cycle with the seed."""
    subset = SUBSETS[seed % len(SUBSETS)]
    count = len(VARIATIONS[subset]) * PER_VARIATION
    index = (seed // len(SUBSETS)) % count
    task = make_task(subset, index, fresh_seed=1_000_003 + seed // (len(SUBSETS) * count))
    return task.model_copy(update={"id": f"manipulation-{seed:04d}"})


def make_task(subset: str, index: int, fresh_seed: int = -1) -> Task:
    """Task `index` of `subset` (of the suite drawn from `fresh_seed`; -1: the published one)."""
    if subset not in SUBSETS:
        raise SimyardError(f"no subset {subset!r} in eb-manipulation", hint=f"subsets: {', '.join(SUBSETS)}")
    variation = VARIATIONS[subset][index // PER_VARIATION]
    family = 0 if fresh_seed < 0 else fresh_seed + 1
    rng = np.random.default_rng([family, SUBSETS.index(subset), index, 0xEB3A])
    for _ in range(100):
        drawn = _GENERATORS[variation](subset, rng)
        if drawn is not None:
            break
    else:  # pragma: no cover - the generators fit in a few draws; tests cover every task
        raise SimyardError(f"no layout fits {subset} task {index}", hint="this is a bug in the generator")
    family_name, instruction, things, goal = drawn
    tag = "" if fresh_seed < 0 else f"s{fresh_seed}-"
    config = {
        "family": family_name,
        "variation": variation,
        "instruction": instruction,
        "things": things,
        "goal": goal,
        "max_steps": MAX_STEPS,
    }
    return Task(
        id=f"eb-manipulation-{tag}{subset}-{index:02d}",
        world="manipulation",
        instruction=instruction,
        subset=subset,
        config=config,
        goal=goal,
        max_steps=MAX_STEPS,
        max_invalid=None,
    )


# -- layouts -----------------------------------------------------------------------------------------------------

Drawn = tuple[str, str, list[dict], dict[str, str]]


def _spots(rng: np.random.Generator, kinds: list[str], yaws: list[float | None] | None = None
           ) -> list[tuple[float, float, float]] | None:  # fmt: skip
    """Spots (x, y, yaw) for things of `kinds`: apart by their footprints, within reach; None when they do not fit."""
    out: list[tuple[float, float, float]] = []
    circles: list[tuple[float, float, float]] = []
    for number, kind in enumerate(kinds):
        radius = math.hypot(*shapes.HALF_EXTENT_M[kind])
        wanted = yaws[number] if yaws is not None else None
        yaw = float(rng.uniform(-180, 180)) if wanted is None else wanted
        # A wiping area is wiped from one end to the other, 10 cm either side of its middle: both ends in reach.
        along = 0.1 if kind in shapes.AREA_KINDS else 0.0
        ends = [(along * math.cos(math.radians(yaw)) * sign, along * math.sin(math.radians(yaw)) * sign)
                for sign in (-1, 1)]  # fmt: skip
        for _ in range(200):
            x, y = float(rng.uniform(*X_RANGE)), float(rng.uniform(*Y_RANGE))
            low, high = SORTER_REACH_M if kind == "sorter" else REACH_M
            reaches = [math.hypot(x + dx - _BASE_XY[0], y + dy - _BASE_XY[1]) for dx, dy in ends]
            if all(low <= reach <= high for reach in reaches) and all(
                math.hypot(x - cx, y - cy) >= radius + cr + 0.04 for cx, cy, cr in circles
            ):
                break
        else:
            return None
        circles.append((x, y, radius))
        out.append((round(x, 4), round(y, 4), round(yaw, 2)))
    return out


def _colors(rng: np.random.Generator, count: int, avoid: tuple[str, ...] = ()) -> list[str]:
    # Colours that read apart on the wooden table: the near-duplicates (white on a pale table) are still allowed,
    # as in EB, but never two of one name in a task.
    names = [name for name in shapes.COLORS if name not in avoid]
    return [str(name) for name in rng.choice(names, size=count, replace=False)]


def _things(kinds: list[str], colors: list[str], spots: list[tuple[float, float, float]]) -> list[dict]:
    counts: dict[str, int] = {}
    things = []
    for kind, color, (x, y, yaw) in zip(kinds, colors, spots, strict=True):
        counts[kind] = counts.get(kind, 0) + 1
        things.append({"id": f"{kind}_{counts[kind]}", "kind": kind, "color": color, "x": x, "y": y, "yaw_deg": yaw})
    return things


def _word(kind: str) -> str:
    return shapes.SHAPE_WORDS.get(kind, kind)


# -- pick ----------------------------------------------------------------------------------------------------------


def _pick(subset: str, rng: np.random.Generator) -> Drawn | None:
    target = str(rng.choice(shapes.OBJECT_KINDS))
    if subset == "visual":
        others = [str(k) for k in rng.choice(shapes.OBJECT_KINDS, size=3, replace=True)]
    else:
        others = [str(k) for k in rng.choice([k for k in shapes.OBJECT_KINDS if k != target], size=3, replace=False)]
    kinds = [target, *others, "container", "container"]
    colors = _colors(rng, len(kinds))
    spots = _spots(rng, kinds)
    if spots is None:
        return None
    things = _things(kinds, colors, spots)
    obj, goal_container, other_container = things[0], things[4], things[5]
    shape, color = _word(target), goal_container["color"]
    if subset == "base":
        text = f"Pick up the {shape} and place it into the {color} container."
    elif subset == "common_sense":
        text = (f"Pick up {_SHAPE_RIDDLES[target]} and place it into the container that has "
                f"{_COLOR_RIDDLES[color]}.")  # fmt: skip
    elif subset == "complex":
        text = (
            f"I have been tidying this table all morning and a few pieces are still lying around; the "
            f"{other_container['color']} container is already full, so please leave it alone. Could you pick "
            f"up the {shape} and place it into the {color} container? Everything else can stay where it is."
        )
    else:  # visual: by colour only; shapes may repeat
        text = f"Pick up the {obj['color']} object and place it into the {color} container."
    return "pick_cube", text, things, {"object": obj["id"], "container": goal_container["id"]}


def _pick_relative(subset: str, rng: np.random.Generator) -> Drawn | None:
    target = str(rng.choice(shapes.OBJECT_KINDS))
    other = str(rng.choice([k for k in shapes.OBJECT_KINDS if k != target]))
    kinds = [target, target, other, "container", "container"]
    same, box_color = _colors(rng, 2)
    colors = [same, same, _colors(rng, 1, (same, box_color))[0], box_color, box_color]
    spots = _spots(rng, kinds)
    if spots is None:
        return None
    things = _things(kinds, colors, spots)
    pair, boxes = things[:2], things[3:5]
    if abs(pair[0]["y"] - pair[1]["y"]) < 0.12 or abs(boxes[0]["y"] - boxes[1]["y"]) < 0.12:
        return None
    side = str(rng.choice(["left", "right"]))
    box_side = str(rng.choice(["left", "right"]))
    obj = min(pair, key=lambda t: t["y"]) if side == "left" else max(pair, key=lambda t: t["y"])
    box = min(boxes, key=lambda t: t["y"]) if box_side == "left" else max(boxes, key=lambda t: t["y"])
    text = f"Pick up the {_word(target)} on the {side} and place it into the container on the {box_side}."
    return "pick_cube", text, things, {"object": obj["id"], "container": box["id"]}


# -- stack ---------------------------------------------------------------------------------------------------------


def _stack(subset: str, rng: np.random.Generator) -> Drawn | None:
    if subset == "visual":  # mixed shapes, named by colour: a flat-topped one at the bottom
        bottom_kind = str(rng.choice(["cube", "cylinder"]))
        kinds = [bottom_kind, *[str(k) for k in rng.choice(["cube", "cylinder", "star", "triangular"], size=3)]]
    else:
        kind = str(rng.choice(["cube", "cylinder", "star", "triangular", "moon"]))
        kinds = [kind] * 4
    colors = _colors(rng, 4)
    spots = _spots(rng, kinds)
    if spots is None:
        return None
    things = _things(kinds, colors, spots)
    bottom, top = things[0], things[1]
    shape = _word(kinds[0])
    c1, c2 = bottom["color"], top["color"]
    if subset == "base":
        text = f"Stack the {c1} {shape} and the {c2} {shape} in sequence."
    elif subset == "common_sense":
        text = (f"Stack the {shape} that has {_COLOR_RIDDLES[c1]} and the {shape} that has {_COLOR_RIDDLES[c2]} "
                "in sequence.")  # fmt: skip
    elif subset == "complex":
        text = (f"We are building a small tower for the photo later, and the {things[2]['color']} {shape} is "
                f"reserved for something else. Please stack the {c1} {shape} and the {c2} {shape} in sequence, "
                f"with the {c1} one at the bottom.")  # fmt: skip
    else:
        text = f"Stack the {c1} object and the {c2} object in sequence."
    return "stack_cubes", text, things, {"bottom": bottom["id"], "top": top["id"]}


_EXTREMES: dict[str, tuple[str, Callable[[dict], float]]] = {
    "left": ("on the left", lambda t: -t["y"]),
    "right": ("on the right", lambda t: t["y"]),
    "front": ("closest to you", lambda t: t["x"]),
    "back": ("farthest from you", lambda t: -t["x"]),
}


def _extreme(things: list[dict], which: str) -> dict | None:
    """The thing that is most `which`, if it stands out by 5 cm from the next."""
    _, key = _EXTREMES[which]
    ranked = sorted(things, key=key, reverse=True)
    if len(ranked) > 1 and key(ranked[0]) - key(ranked[1]) < 0.05:
        return None
    return ranked[0]


def _stack_relative(subset: str, rng: np.random.Generator) -> Drawn | None:
    kind = str(rng.choice(["cube", "cylinder", "star", "triangular"]))
    color = _colors(rng, 1)[0]
    spots = _spots(rng, [kind] * 4)
    if spots is None:
        return None
    things = _things([kind] * 4, [color] * 4, spots)
    first, second = (str(w) for w in rng.choice(list(_EXTREMES), size=2, replace=False))
    bottom, top = _extreme(things, first), _extreme(things, second)
    if bottom is None or top is None or bottom is top:
        return None
    shape = _word(kind)
    text = f"Stack the {shape} {_EXTREMES[first][0]} and the {shape} {_EXTREMES[second][0]} in sequence."
    return "stack_cubes", text, things, {"bottom": bottom["id"], "top": top["id"]}


# -- shape sorter --------------------------------------------------------------------------------------------------


def _sorter(subset: str, rng: np.random.Generator) -> Drawn | None:
    kinds = ["sorter", "star", "star", "star"]
    colors = _colors(rng, 4)
    if subset == "visual":  # the target star is named by the colour of a cube (or cylinder) beside it
        kinds.append(str(rng.choice(["cube", "cylinder"])))
        colors.append(colors[1])
    spots = _spots(rng, kinds, [0.0, None, None, None] + ([None] if subset == "visual" else []))
    if spots is None:
        return None
    things = _things(kinds, colors, spots)
    star, color = things[1], colors[1]
    if subset == "base":
        text = f"Put the {color} star into the shape sorter."
    elif subset == "common_sense":
        text = f"Put the star that has {_COLOR_RIDDLES[color]} into the toy that teaches children to match shapes."
    elif subset == "complex":
        text = (
            f"My nephew left his toys all over the table, and the {colors[2]} star is his favourite, so do not "
            f"touch that one. Could you help me tidy up by putting the {color} star into the shape sorter?"
        )
    else:
        text = f"Put the star that has the same colour as the {_word(things[4]['kind'])} into the shape sorter."
    return "place_into_shape_sorter", text, things, {"object": star["id"], "sorter": things[0]["id"]}


def _sorter_relative(subset: str, rng: np.random.Generator) -> Drawn | None:
    kinds = ["sorter", "star", "star", "star"]
    color = _colors(rng, 1)[0]
    spots = _spots(rng, kinds, [0.0, None, None, None])
    if spots is None:
        return None
    things = _things(kinds, ["white", color, color, color], spots)
    which = str(rng.choice(list(_EXTREMES)))
    star = _extreme(things[1:], which)
    if star is None:
        return None
    text = f"Put the star {_EXTREMES[which][0]} into the shape sorter."
    return "place_into_shape_sorter", text, things, {"object": star["id"], "sorter": things[0]["id"]}


# -- wipe ----------------------------------------------------------------------------------------------------------


def _wipe(subset: str, rng: np.random.Generator) -> Drawn | None:
    area = str(rng.choice(["rectangle_area", "triangle_area"]))
    jitter = [float(rng.uniform(-12, 12)) for _ in range(2)]
    yaws = [None, 90.0 + jitter[0], jitter[1]]  # the first area lies along y (horizontal), the second along x
    kinds = ["sponge", area, area]
    colors = ["yellow", *_colors(rng, 2, ("yellow",))]
    spots = _spots(rng, kinds, yaws)
    if spots is None:
        return None
    things = _things(kinds, colors, spots)
    horizontal = bool(rng.integers(2))
    target = things[1] if horizontal else things[2]
    direction = "horizontal" if horizontal else "vertical"
    if subset == "base":
        text = f"Wipe the {direction} area."
    elif subset == "common_sense":
        way = "from your left to your right" if horizontal else "towards you and away from you"
        text = f"Use the sponge to clean the area that stretches {way}."
    else:
        text = (
            "Someone spilled juice here earlier and one of the marks is still sticky, while the other one "
            f"was already cleaned. Please grab the sponge and wipe the {direction} area."
        )
    return "wipe_table", text, things, {"area": target["id"], "sponge": things[0]["id"]}


def _wipe_relative(subset: str, rng: np.random.Generator) -> Drawn | None:
    area = str(rng.choice(["rectangle_area", "triangle_area", "round_area", "star_area"]))
    yaw = float(rng.choice([0.0, 90.0])) + float(rng.uniform(-12, 12))
    kinds = ["sponge", area, area]
    spots = _spots(rng, kinds, [None, yaw, yaw])
    if spots is None:
        return None
    color = _colors(rng, 1, ("yellow",))[0]
    things = _things(kinds, ["yellow", color, color], spots)
    if abs(things[1]["y"] - things[2]["y"]) < 0.15:
        return None
    side = str(rng.choice(["left", "right"]))
    target = min(things[1:], key=lambda t: t["y"]) if side == "left" else max(things[1:], key=lambda t: t["y"])
    text = f"Wipe the {shapes.AREA_WORDS[area]} on the {side}."
    return "wipe_table", text, things, {"area": target["id"], "sponge": things[0]["id"]}


_GENERATORS: dict[str, Callable[[str, np.random.Generator], Drawn | None]] = {
    "pick_cube_shape": _pick,
    "pick_cube_relative": _pick_relative,
    "stack_cubes_color": _stack,
    "stack_cubes_relative": _stack_relative,
    "place_into_shape_sorter_color": _sorter,
    "place_into_shape_sorter_relative": _sorter_relative,
    "wipe_table_direction": _wipe,
    "wipe_table_relative": _wipe_relative,
}
