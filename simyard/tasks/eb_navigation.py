"""The `eb-navigation` suite: EB-Navigation's five capability subsets, 60 tasks each, generated from seeds.

Each task is a kitchen from `navigation.kitchens`, a target (a kitchen object on a counter, the table or a shelf, or
an appliance) with its other instances left out (EB's `object_to_hide`), and a start 2.5-3.0 m from it on free
floor, axis-aligned as AI2-THOR's grid agent stands, with the camera 30 degrees down. Every task is checked when it
is made: the oracle reaches the target within 18 of the 20 steps, and the target is in the camera's field with no
furniture between (out of it, for long_horizon). The instruction is written for its subset:

| subset              | instruction                                                                          |
|---------------------|--------------------------------------------------------------------------------------|
| base                | EB's wording: "navigate to the Bread in the room and be as close as possible to it"  |
| common_sense        | the target by its use: "something baked to make sandwiches", never its name          |
| complex_instruction | the request among true but irrelevant remarks about the kitchen                       |
| visual_appearance   | the target by colour, shape and surface only; no other visible thing looks the same   |
| long_horizon        | base's instruction, the agent turned 180 degrees so the target starts out of view    |

`eb_navigation_suite()` is the published suite (fixed seeds). `fresh_seed=N` draws a new one from the same
generator; `data=PATH` reads EmbodiedBench's own EB-Navigation task files (`navigation.eb_data`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from simyard.platform.api import Task
from simyard.platform.errors import SimyardError
from simyard.sims.household.scene import placements
from simyard.sims.household.state import House, Thing
from simyard.sims.navigation import kitchens, planner, starts
from simyard.sims.navigation.space import FreeSpace
from simyard.sims.navigation.taskconfig import NavigationConfig
from simyard.sims.navigation.world import FOV_DEG
from simyard.tasks._options import fresh_seed_family

SUBSETS = ("base", "common_sense", "complex_instruction", "visual_appearance", "long_horizon")
PER_SUBSET = 60
MAX_STEPS = 20
#: The most moves the oracle may need from the start, so every task is solvable with steps to spare.
MAX_PLAN_MOVES = 18
START_HORIZON_DEG = 30.0
_TRIES = 300

#: Target types and what they are for (common_sense names a target only this way).
USES: dict[str, tuple[str, ...]] = {
    "Apple": ("a crunchy fruit that keeps the doctor away", "the fruit a teacher might get as a gift"),
    "Tomato": ("the red fruit that goes into ketchup", "something red and juicy for a salad"),
    "Potato": ("a starchy tuber that becomes fries", "the vegetable that gets mashed for dinner"),
    "Lettuce": ("the leafy green at the heart of a salad", "the crisp leaves that go into a burger"),
    "Bread": ("a baked loaf that can be sliced for sandwiches or toast", "what you would toast for breakfast"),
    "Egg": ("something a hen lays", "what you crack into a pan for an omelette"),
    "Mug": ("the cup with a handle for hot coffee", "something to drink a hot tea from"),
    "Cup": ("something to drink a glass of water from", "a small drinking vessel without a handle"),
    "Bowl": ("something to eat cereal or soup from", "a deep round dish for a salad"),
    "Plate": ("the flat dish a meal is served on", "something to put a slice of cake on"),
    "Pan": ("something to fry eggs in", "the flat cookware for pancakes"),
    "Pot": ("something to boil pasta or soup in", "the deep cookware for a stew"),
    "Kettle": ("the thing that boils water for tea", "what whistles when the water is hot"),
    "Microwave": ("the appliance that reheats leftovers in a minute", "the box that warms food with waves"),
    "Toaster": ("the appliance that browns slices of bread", "what makes breakfast toast"),
    "CoffeeMachine": ("the machine that brews the morning coffee", "the appliance that makes espresso"),
    "Fridge": ("the appliance that keeps food cold", "where the milk and leftovers stay fresh"),
    "GarbageCan": ("the bin where rubbish goes", "the container for kitchen waste"),
    "WineBottle": ("the bottle a red for dinner comes in", "a bottle one would uncork for a toast"),
    "Vase": ("the container that holds cut flowers", "something to put a bouquet in"),
}
#: How instructions write a type (base keeps EB's type names, as its data does).
WORDS = {
    "CoffeeMachine": "coffee machine", "GarbageCan": "garbage can", "WineBottle": "wine bottle",
    "CounterTop": "counter", "DiningTable": "dining table", "SaltShaker": "salt shaker",
    "PepperShaker": "pepper shaker", "DishSponge": "dish sponge", "SoapBottle": "soap bottle",
    "ButterKnife": "butter knife", "Glassbottle": "glass bottle",
}  # fmt: skip
SHAPE_WORDS = {"sphere": "round", "box": "rectangular", "cylinder": "cylindrical", "ellipsoid": "oval",
               "capsule": "long rounded"}  # fmt: skip
SURFACE_WORDS = {"organic": "a natural, slightly rough", "ceramic": "a glazed", "metal": "a shiny metallic",
                 "glass": "a glassy, see-through", "plastic": "a smooth plastic", "wood": "a wooden",
                 "fabric": "a soft"}  # fmt: skip
_SURFACES = frozenset({"CounterTop", "DiningTable", "Shelf"})
_APPLIANCES = frozenset({"Microwave", "Toaster", "CoffeeMachine", "Fridge", "GarbageCan"})


def eb_navigation_suite(fresh_seed: int | None = None, data: str | None = None) -> list[Task]:
    """The suite's 300 tasks in a stable order (subset by subset).

    Args:
        fresh_seed: Draw a new, statistically identical suite from this seed instead of the published one.
        data: EmbodiedBench's EB-Navigation data (a folder with `datasets/<subset>.json`): its tasks instead.
    """
    if data is not None:
        if fresh_seed is not None:
            raise SimyardError("fresh_seed draws generated tasks; data reads EB-Navigation's own", hint="give one")
        from simyard.sims.navigation.eb_data import load_eb_navigation

        return load_eb_navigation(str(data))
    return list(_suite(fresh_seed_family(fresh_seed)))


@cache
def _suite(fresh_seed: int) -> tuple[Task, ...]:
    tag = "" if fresh_seed < 0 else f"s{fresh_seed}-"
    family = 0 if fresh_seed < 0 else fresh_seed + 1
    return tuple(
        make_task(f"eb-navigation-{tag}{subset}-{index:02d}", subset, [family, SUBSETS.index(subset), index])
        for subset in SUBSETS
        for index in range(PER_SUBSET)
    )


def sample_task(seed: int) -> Task:
    """One task of any subset (by `seed`), for `simyard episode run navigation --seed N`."""
    subset = SUBSETS[int(seed) % len(SUBSETS)]
    return make_task(f"navigation-{subset}-seed{seed}", subset, [0xC0FFEE, int(seed)])


def make_task(task_id: str, subset: str, seeds: list[int]) -> Task:
    """A task of `subset` drawn from `seeds`; the same seeds give the same task on every machine.

    Raises:
        SimyardError: No kitchen drawn from the seeds gave a task of this subset (not seen in practice).
    """
    if subset not in SUBSETS:
        raise SimyardError(f"unknown subset {subset!r}", hint=f"EB-Navigation's subsets: {', '.join(SUBSETS)}")
    rng = np.random.default_rng([int(s) % (1 << 63) for s in seeds])
    for _ in range(_TRIES):
        scene_seed = int(rng.integers(1 << 31))
        task = _attempt(task_id, subset, scene_seed, rng)
        if task is not None:
            return task
    raise SimyardError(f"no {subset} task could be drawn for {task_id}", hint="try other seeds")


# ------------------------------------------------------------------------------------------------- drawing


@dataclass
class _Draft:
    house: House
    target: Thing
    hidden: list[str]
    target_xy: tuple[float, float]
    start: tuple[float, float, float]
    moves: int


def _attempt(task_id: str, subset: str, scene_seed: int, rng: np.random.Generator) -> Task | None:
    house = kitchens.generate(scene_seed)
    candidates = _targets(house, subset)
    if not candidates:
        return None
    target = candidates[int(rng.integers(len(candidates)))]
    draft = _draft(house, target, subset, rng)
    if draft is None:
        return None
    instruction = _instruction(subset, draft, rng)
    if instruction is None:
        return None
    config = NavigationConfig(
        instruction=instruction,
        target_id=target.id,
        target_type=target.type,
        target_xy=draft.target_xy,
        start=draft.start,
        horizon_deg=START_HORIZON_DEG,
        scene_seed=scene_seed,
        hidden=draft.hidden,
        max_steps=MAX_STEPS,
    )
    return Task(
        id=task_id,
        world="navigation",
        instruction=instruction,
        subset=subset,
        config=config.model_dump(),
        goal={"target": target.id, "within_m": config.success_m, "oracle_moves": draft.moves},
        max_steps=MAX_STEPS,
        max_invalid=None,
    )


def _visible_things(house: House) -> list[Thing]:
    """Things a camera can see: on a surface (not inside the fridge), appliances, floor units."""
    return [
        thing for thing in house.things.values()
        if (thing.parent is not None and house.things[thing.parent].type in _SURFACES)
        or (thing.parent is None and thing.type in _APPLIANCES)
    ]  # fmt: skip


def _targets(house: House, subset: str) -> list[Thing]:
    """Things a task of `subset` may send the agent to."""
    seen = _visible_things(house)
    found = [thing for thing in seen if thing.type in USES]
    if subset == "visual_appearance":  # named by looks alone: no other visible thing may share them
        looks = [(t.color, t.shape) for t in seen]
        found = [t for t in found if looks.count((t.color, t.shape)) == 1]
    return sorted(found, key=lambda thing: thing.id)


def _draft(house: House, target: Thing, subset: str, rng: np.random.Generator) -> _Draft | None:
    hidden = sorted(t.id for t in house.of_type(target.type) if t.id != target.id)
    scene = house.copy()
    for thing_id in hidden:
        del scene.things[thing_id]
    center = placements(scene)[target.id].center
    target_xy = (round(center[0], 4), round(center[1], 4))
    space = FreeSpace(scene)
    for _ in range(40):
        distance = float(rng.uniform(*starts.START_RANGE_M))
        angle = float(rng.uniform(0.0, 2 * math.pi))
        xy = (round(target_xy[0] + distance * math.cos(angle), 2), round(target_xy[1] + distance * math.sin(angle), 2))
        if not starts.START_RANGE_M[0] <= math.dist(xy, target_xy) <= starts.START_RANGE_M[1]:
            continue
        if not starts.free_start(space, xy) or not starts.clear_line(space, xy, target_xy):
            continue
        if starts.hidden_behind(scene, target.id, xy):
            continue
        yaw = starts.facing_yaw(xy, target_xy)
        if subset == "long_horizon":
            yaw = (yaw + 180.0) % 360.0
        pose = (xy[0], xy[1], yaw)
        in_view = starts.in_field(pose, target_xy, FOV_DEG)
        if in_view == (subset == "long_horizon"):
            continue
        path, end = planner.shortest_path(space, pose, target_xy, 1.0)
        if len(path) > MAX_PLAN_MOVES or math.dist(end[:2], target_xy) > 1.0:
            continue
        return _Draft(scene, target, hidden, target_xy, pose, len(path))
    return None


# --------------------------------------------------------------------------------------------- instructions


def word(type_: str) -> str:
    return WORDS.get(type_, type_.lower())


def base_instruction(type_: str) -> str:
    """EB-Navigation's base wording, with THOR's type name as its data has it."""
    return f"navigate to the {type_} in the room and be as close as possible to it"


def _instruction(subset: str, draft: _Draft, rng: np.random.Generator) -> str | None:
    target = draft.target
    if subset in ("base", "long_horizon"):
        return base_instruction(target.type)
    if subset == "common_sense":
        use = _pick(USES[target.type], rng)
        template = _pick(
            (
                "I'm after {use}. Could you go over to it and stay close?",
                "Find {use} and stand as close to it as you can.",
                "Somewhere in this kitchen is {use}. Please walk up to it and stay near it.",
                "Head to {use} and get as close as possible.",
            ),
            rng,
        )
        return template.format(use=use)
    if subset == "visual_appearance":
        shape = SHAPE_WORDS.get(target.shape, "")
        surface = SURFACE_WORDS.get(target.material, "a plain")
        template = _pick(
            (
                "Find the {shape} {color} object with {surface} surface and stay close to it.",
                "Go to the {color}, {shape} thing with {surface} surface, as close as you can.",
                "Navigate to the {shape} object that is {color} and has {surface} surface.",
            ),
            rng,
        )
        return " ".join(template.format(shape=shape, color=target.color, surface=surface).split())
    return _complex(draft, rng)


def _complex(draft: _Draft, rng: np.random.Generator) -> str:
    """The request among true remarks about other things in the kitchen (none of the target's type)."""
    house, target = draft.house, draft.target
    others = [t for t in _visible_things(house) if t.type != target.type and t.pickable]
    rng.shuffle(others)
    remarks = []
    openers = (
        "The kitchen is quiet this morning and the light comes in softly.",
        "It has been a long day, and the kitchen still smells of dinner.",
        "I have been meaning to tidy this kitchen for a while.",
    )
    remarks.append(_pick(openers, rng))
    asides = (
        "There is a {color} {thing} on the {host}, but leave it where it is.",
        "Someone left a {color} {thing} on the {host}; never mind that.",
        "You may notice a {color} {thing} on the {host} as well.",
    )
    for other in others[:2]:
        host = house.things[other.parent].type if other.parent else "floor"
        aside = _pick(asides, rng)
        remarks.append(aside.format(color=other.color, thing=word(other.type), host=word(host)))
    request = _pick(
        (
            "What I really need is for you to move towards the {word} and stay as close to it as you can.",
            "Please go over to the {word} and get as close to it as possible.",
        ),
        rng,
    ).format(word=word(target.type))
    closer = _pick(("Thank you, that would help a lot.", "Take your time, there is no rush."), rng)
    return " ".join([*remarks, request, closer])


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]
