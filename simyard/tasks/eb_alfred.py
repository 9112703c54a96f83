"""The `eb-alfred` suite: EB-ALFRED's six capability subsets, 50 tasks each, generated from seeds on procedural homes.

Each task is one of ALFRED's seven task types (some with a sliced object) in a home from `homes.generate`, with
goal predicates, the oracle's plan from the start state as reference (`plan`, like EB's `NL Steps`) and an
instruction written for its subset:

| subset              | how the instruction names things                                                     |
|---------------------|--------------------------------------------------------------------------------------|
| base                | plainly: "Put a chilled apple in the dining table."                                  |
| common_sense        | by use: "something to keep food cold", "a fruit that keeps the doctor away"           |
| complex_instruction | long, with true but irrelevant details about the home before the request             |
| spatial             | by relations that hold in the scene: "the drawer directly to the right of the sink"  |
| visual_appearance   | by colour or material, singling out one of several instances: "the yellow mug"       |
| long_horizon        | multi-stage (slice, then heat or cool, then place): the oracle needs 15 steps or more |

`eb_alfred_suite()` is the published suite (fixed seeds). `fresh_seed=N` draws a new suite from the same
generator, statistically identical but unseen, so a model tuned on the published tasks can be tested on others.
`data=PATH` reads EmbodiedBench's own EB-ALFRED data folder instead (`alfred_data.eb_alfred_data_suite`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from simyard.platform.api import Task
from simyard.platform.errors import SimyardError
from simyard.sims.household import goals, homes, vocab
from simyard.sims.household.alfred import Engine
from simyard.sims.household.planner import plan
from simyard.sims.household.state import House, Thing
from simyard.sims.household.taskconfig import HouseholdConfig
from simyard.tasks._options import fresh_seed_family

SUBSETS = ("base", "common_sense", "complex_instruction", "spatial", "visual_appearance", "long_horizon")
TASK_TYPES = (
    "pick_and_place_simple",
    "pick_two_obj_and_place",
    "look_at_obj_in_light",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_clean_then_place_in_recep",
    "pick_and_place_with_movable_recep",
)
PER_SUBSET = 50
MAX_STEPS, MAX_INVALID = 30, 10
#: Shortest oracle plan a long_horizon task may have.
LONG_MIN_STEPS = 15
_TRIES = 400

#: Fixed receptacles tasks place things in (ALFRED's parent targets that homes have).
_TARGETS = (
    "CounterTop", "DiningTable", "SideTable", "CoffeeTable", "Desk", "Dresser", "Shelf", "Cabinet", "Drawer",
    "Fridge", "Microwave", "SinkBasin", "GarbageCan", "Sofa", "ArmChair", "Bed", "Ottoman", "Toilet", "Cart", "Safe",
    "BathtubBasin", "StoveBurner", "CoffeeMachine", "ToiletPaperHanger", "HandTowelHolder", "LaundryHamper",
)  # fmt: skip
#: Things looked at under a lamp in ALFRED's look_at_obj_in_light tasks.
_LOOKED_AT = frozenset(
    "AlarmClock Book CD CellPhone CreditCard KeyChain Laptop Pen Pencil Pillow RemoteControl Statue Vase Watch Bowl "
    "Box Mug Cup Plate BasketBall BaseballBat TennisRacket TissueBox Newspaper Candle".split()
)

_WORDS = {
    "CounterTop": "counter", "DiningTable": "dining table", "SinkBasin": "sink", "GarbageCan": "trash can",
    "BathtubBasin": "bathtub", "StoveBurner": "stove burner", "CoffeeMachine": "coffee machine", "CD": "CD",
    "ToiletPaperHanger": "toilet paper hanger", "HandTowelHolder": "hand towel holder", "TVStand": "TV stand",
    "Glassbottle": "glass bottle", "KeyChain": "key chain", "CellPhone": "cell phone", "CreditCard": "credit card",
    "RemoteControl": "remote control", "DeskLamp": "desk lamp", "FloorLamp": "floor lamp",
    "ButterKnife": "butter knife",
}  # fmt: skip

#: common_sense names: what a thing is for (several per type; the generator picks one).
USES = {
    "Fridge": ("the appliance that keeps food cold", "the place where leftovers stay fresh"),
    "Microwave": ("the appliance that warms food in a minute", "the box that reheats leftovers"),
    "SinkBasin": ("the place where dishes are washed",),
    "GarbageCan": ("the container for rubbish", "where waste goes"),
    "CounterTop": ("the surface where food is prepared",),
    "DiningTable": ("the table where the family eats",),
    "CoffeeTable": ("the low table in front of the sofa",),
    "SideTable": ("the small table beside the seat",),
    "Desk": ("the table where one works or studies",),
    "Dresser": ("the furniture that stores clothes",),
    "Shelf": ("the place where things are displayed",),
    "Cabinet": ("a cupboard",),
    "Drawer": ("a pull-out storage compartment",),
    "Sofa": ("the long seat for several people",),
    "ArmChair": ("the comfortable seat for one",),
    "Bed": ("the place where people sleep",),
    "Toilet": ("the bathroom fixture one flushes",),
    "BathtubBasin": ("the place where one takes a bath",),
    "Safe": ("the locked box for valuables",),
    "Cart": ("the small trolley on wheels",),
    "StoveBurner": ("the place where pans are heated",),
    "CoffeeMachine": ("the machine that brews a morning drink",),
    "Ottoman": ("the padded footrest",),
    "Apple": ("a fruit that keeps the doctor away", "a crunchy round fruit"),
    "Tomato": ("a red fruit often mistaken for a vegetable", "the main ingredient of ketchup"),
    "Potato": ("a starchy tuber used for fries", "the vegetable mashed for dinner"),
    "Lettuce": ("the leafy green in a salad",),
    "Bread": ("something baked to make sandwiches",),
    "Egg": ("something a hen lays",),
    "Mug": ("something to drink hot coffee from",),
    "Cup": ("something to drink water from",),
    "Bowl": ("something to eat cereal from",),
    "Plate": ("something to serve a meal on",),
    "Pan": ("something to fry eggs in",),
    "Pot": ("something to boil soup in",),
    "Kettle": ("something to boil water for tea",),
    "Knife": ("something sharp for cutting",),
    "ButterKnife": ("something blunt for spreading butter",),
    "Fork": ("a utensil with prongs",),
    "Spoon": ("a utensil for stirring tea",),
    "Spatula": ("a tool for flipping pancakes",),
    "Ladle": ("a utensil for serving soup",),
    "DishSponge": ("something for scrubbing dishes",),
    "SoapBar": ("a bar for washing hands",),
    "SoapBottle": ("a bottle of liquid soap",),
    "SprayBottle": ("a bottle that sprays cleaner",),
    "Cloth": ("a piece of fabric for wiping",),
    "HandTowel": ("something to dry hands with",),
    "ToiletPaper": ("the roll used in the bathroom",),
    "TissueBox": ("a box of tissues for a runny nose",),
    "Plunger": ("the tool for unclogging a toilet",),
    "Candle": ("something that gives light when lit with a match",),
    "AlarmClock": ("something that wakes people up in the morning",),
    "Book": ("something to read",),
    "Newspaper": ("today's printed news",),
    "CellPhone": ("the device for calling friends",),
    "Laptop": ("a portable computer",),
    "RemoteControl": ("the device that changes TV channels",),
    "KeyChain": ("the ring that holds keys",),
    "CreditCard": ("a card for paying at shops",),
    "Watch": ("something worn on the wrist to tell the time",),
    "Pen": ("something to write with ink",),
    "Pencil": ("something to write with that can be erased",),
    "CD": ("a disc that holds music",),
    "Pillow": ("something soft to rest the head on",),
    "Vase": ("a container for flowers",),
    "Statue": ("a small decorative figure",),
    "Box": ("a cardboard container",),
    "WateringCan": ("something for watering plants",),
    "BasketBall": ("a ball bounced on a court",),
    "BaseballBat": ("a bat for hitting baseballs",),
    "TennisRacket": ("a racket for hitting tennis balls",),
    "WineBottle": ("a bottle of wine",),
    "Glassbottle": ("a glass bottle",),
    "SaltShaker": ("the shaker of salt",),
    "PepperShaker": ("the shaker of pepper",),
    "DeskLamp": ("the small lamp on the furniture",),
    "FloorLamp": ("the tall lamp standing on the floor",),
}


def words(type_: str) -> str:
    """A type's name as an instruction writes it (`DiningTable` -> `dining table`)."""
    if type_ in _WORDS:
        return _WORDS[type_]
    return " ".join(part.lower() for part in re.findall(r"[A-Z][a-z]*", type_)) or type_.lower()


#: Receptacles one puts things in rather than on.
_CONTAINERS = frozenset(
    "Fridge Microwave Cabinet Drawer SinkBasin GarbageCan Box Bowl Pot Pan Cup Mug Safe BathtubBasin "
    "LaundryHamper".split()
)


def into(type_: str) -> str:
    return "in" if type_ in _CONTAINERS else "on"


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


@dataclass
class _Spec:
    """A task before its instruction is written: the type, what is moved where, and how things are named."""

    task_type: str
    obj: Thing
    recep: str = ""  # a type, or an instance name when the subset singles one out
    mover: str = ""
    lamp: str = ""
    sliced: bool = False
    obj_goal: str = ""  # the object as the goals name it (a type, or an instance)
    obj_phrase: str = ""
    recep_phrase: str = ""
    mover_phrase: str = ""


def eb_alfred_suite(fresh_seed: int | None = None, data: str | None = None) -> list[Task]:
    """The suite's 300 tasks in a stable order (subset by subset).

    Args:
        fresh_seed: Draw a new, statistically identical suite from this seed instead of the published one.
        data: EmbodiedBench's EB-ALFRED data folder: its 300 tasks on the embedded engine instead.
    """
    if data is not None:
        if fresh_seed is not None:
            raise SimyardError("fresh_seed draws generated tasks; data reads EB-ALFRED's own", hint="give one")
        from simyard.sims.household.alfred_data import eb_alfred_data_suite

        return eb_alfred_data_suite(str(data))
    return list(_suite(fresh_seed_family(fresh_seed)))


@cache
def _suite(fresh_seed: int) -> tuple[Task, ...]:
    tag = "" if fresh_seed < 0 else f"s{fresh_seed}-"
    family = 0 if fresh_seed < 0 else fresh_seed + 1
    return tuple(
        make_task(f"eb-alfred-{tag}{subset}-{index:02d}", subset, [family, SUBSETS.index(subset), index])
        for subset in SUBSETS
        for index in range(PER_SUBSET)
    )


def sample_task(seed: int) -> Task:
    """One task for `simyard episode run household --seed N`: a base or long task in a home from `seed`."""
    subset = SUBSETS[seed % len(SUBSETS)]
    return make_task(f"household-{seed:04d}", subset, [99, seed])


def make_task(task_id: str, subset: str, seeds: list[int]) -> Task:
    """A task of `subset` drawn from a generator seeded with `seeds`; homes are drawn until one fits."""
    rng = np.random.default_rng(seeds)
    for _ in range(_TRIES):
        scene_seed = int(rng.integers(0, 2**31 - 1))
        house = homes.generate(scene_seed)
        for _ in range(6):  # a home is dearer to make than a task to draw: try a few in each
            task = _attempt(task_id, subset, house, scene_seed, rng)
            if task is not None:
                return task
    raise SimyardError(f"no home fits a {subset} task for {task_id}", hint="this is a bug in the generator")


def _attempt(task_id: str, subset: str, house: House, scene_seed: int, rng: np.random.Generator) -> Task | None:
    """A task in `house`, or None when the draw does not fit it."""
    spec = _spec(subset, house, rng)
    if spec is None:
        return None
    goal_texts = _goals(spec)
    engine = Engine(house)
    predicates = goals.parse_all(goal_texts)
    met, total = goals.check(predicates, goals.facts_of(house, engine.view()))
    if met == total:
        return None
    try:
        steps = plan(engine, predicates)
    except SimyardError:
        return None
    if len(steps) > MAX_STEPS or (subset == "long_horizon" and len(steps) < LONG_MIN_STEPS):
        return None
    instruction = _INSTRUCTIONS[subset](spec, house, rng)
    if instruction is None:
        return None
    config = HouseholdConfig(
        instruction=instruction,
        goals=goal_texts,
        scene_seed=scene_seed,
        task_type=spec.task_type,
        plan=steps,
        max_steps=MAX_STEPS,
        max_invalid=MAX_INVALID,
    )
    return Task(
        id=task_id,
        world="household",
        instruction=instruction,
        subset=subset,
        config=config.model_dump(exclude_none=True),
        goal={"predicates": goal_texts},
        max_steps=MAX_STEPS,
        max_invalid=MAX_INVALID,
    )


# --- choosing what a task is about ------------------------------------------------------------------------------


def _spec(subset: str, house: House, rng: np.random.Generator) -> _Spec | None:
    if subset == "long_horizon":
        task_type = str(rng.choice(["pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep",
                                    "pick_clean_then_place_in_recep"]))  # fmt: skip
        spec = _draw(task_type, house, rng, sliced=True)
    else:
        task_type = str(rng.choice(TASK_TYPES))
        spec = _draw(task_type, house, rng, sliced=bool(rng.random() < 0.2))
    if spec is None:
        return None
    spec.obj_goal = spec.obj.type
    if subset == "visual_appearance":
        return _visual(spec, house, rng)
    if subset == "spatial":
        return _spatial(spec, house, rng)
    return spec


def _draw(task_type: str, house: House, rng: np.random.Generator, sliced: bool) -> _Spec | None:
    things = list(house.things.values())
    types = {t.type for t in things}
    counts: dict[str, int] = {}
    for thing in things:
        counts[thing.type] = counts.get(thing.type, 0) + 1
    objects = [t for t in things if t.pickable]
    if sliced:
        if not types & vocab.SLICING_TOOLS:
            return None
        objects = [t for t in objects if t.sliceable]
    need = {
        "pick_heat_then_place_in_recep": ("Microwave", vocab.HEATABLE),
        "pick_cool_then_place_in_recep": ("Fridge", vocab.COOLABLE),
        "pick_clean_then_place_in_recep": ("SinkBasin", vocab.CLEANABLE),
    }.get(task_type)
    if need is not None:
        if need[0] not in types or (need[0] == "SinkBasin" and "Faucet" not in types):
            return None
        objects = [t for t in objects if t.type in need[1]]
    if task_type == "pick_two_obj_and_place":
        objects = [t for t in objects if counts[t.type] >= 2 and not t.receptacle]
    if task_type == "look_at_obj_in_light":
        lamps = sorted(types & set(vocab.LAMPS))
        objects = [t for t in objects if t.type in _LOOKED_AT]
        if not lamps or not objects or sliced:
            return None
        obj = objects[int(rng.integers(len(objects)))]
        return _Spec(task_type, obj, lamp=str(rng.choice(lamps)))
    if task_type == "pick_and_place_with_movable_recep":
        objects = [t for t in objects if not t.receptacle]
    if not objects:
        return None
    obj = objects[int(rng.integers(len(objects)))]
    spec = _Spec(task_type, obj, sliced=sliced)
    if task_type == "pick_and_place_with_movable_recep":
        movers = sorted({t.type for t in things if t.type in vocab.MOVABLE_RECEPTACLES and t.id != obj.id})
        movers = [m for m in movers if vocab.properties(m).accepts(obj.type)]
        if not movers:
            return None
        spec.mover = str(rng.choice(movers))
        carried = spec.mover
    else:
        carried = obj.type
    targets = sorted(
        {
            t.type
            for t in things
            if t.type in _TARGETS and vocab.properties(t.type).accepts(carried) and t.type != (need or ("",))[0]
        }
    )
    if task_type == "pick_and_place_simple":  # not where one already is
        targets = [r for r in targets if not any(_in_type(house, t, r) for t in house.of_type(obj.type))]
    if not targets:
        return None
    spec.recep = str(rng.choice(targets))
    return spec


def _in_type(house: House, thing: Thing, type_: str) -> bool:
    return any(holder.type == type_ for holder in house.ancestors(thing.id))


def _visual(spec: _Spec, house: House, rng: np.random.Generator) -> _Spec | None:
    """Name the object by a colour or material no other instance of its type shares (and put that in the goal)."""
    if spec.task_type == "pick_two_obj_and_place":
        return None
    others = [t for t in house.of_type(spec.obj.type) if t.id != spec.obj.id]
    if not others or spec.obj.name == spec.obj.type:  # the first instance's name is its type: not one of a kind
        return None
    options = []
    if all(t.color != spec.obj.color for t in others):
        options.append(f"{spec.obj.color} {words(spec.obj.type)}")
    if all(t.material != spec.obj.material for t in others):
        options.append(f"{spec.obj.material} {words(spec.obj.type)}")
    if not options:
        return None
    spec.obj_phrase = "the " + str(rng.choice(options))
    spec.obj_goal = spec.obj.name
    return spec


def _spatial(spec: _Spec, house: House, rng: np.random.Generator) -> _Spec | None:
    """Name the target receptacle (or else the object) by where it is: true in the scene, and one of a kind."""
    if spec.recep:
        for unit in rng.permutation(house.of_type(spec.recep)).tolist():
            relation = _beside(house, unit) if unit.name != unit.type else None
            if relation is not None and len(house.of_type(spec.recep)) >= 2:
                side, landmark = relation
                spec.recep = unit.name
                spec.recep_phrase = f"the {words(unit.type)} directly to the {side} of the {words(landmark.type)}"
                return spec
    holder = house.things.get(spec.obj.parent or "")
    same = house.of_type(spec.obj.type)
    if spec.task_type == "pick_two_obj_and_place":
        return None
    if spec.obj.name == spec.obj.type:
        return None
    if holder is not None and len(same) >= 2 and sum(t.parent == holder.id for t in same) == 1:
        if sum(t.type == holder.type for t in house.things.values()) == 1:
            where = "in" if holder.openable else "on"
            spec.obj_phrase = f"the {words(spec.obj.type)} that is {where} the {words(holder.type)}"
            spec.obj_goal = spec.obj.name
            return spec
    return None


def _beside(house: House, unit: Thing) -> tuple[str, Thing] | None:
    """A neighbour on the same wall, unique of its type in the room, and which side of it `unit` stands on.

    Seen by someone facing the wall: `unit` is directly to the right of the landmark when it is the next unit
    that way. Each neighbour's relation is exact (adjacent), so the phrase singles out `unit`.
    """
    along = _along(unit.yaw_deg)
    wall = [
        t
        for t in house.things.values()
        if t.room == unit.room and t.parent is None and not t.pickable and t.yaw_deg == unit.yaw_deg
        and t.type not in homes.MOUNTED and _perpendicular(t, unit) < 0.6
    ]  # fmt: skip
    wall.sort(key=lambda t: t.pos[0] * along[0] + t.pos[1] * along[1])
    index = wall.index(unit)
    in_room = {}
    for thing in house.things.values():
        if thing.room == unit.room:
            in_room[thing.type] = in_room.get(thing.type, 0) + 1
    for offset, side in ((-1, "right"), (1, "left")):
        if 0 <= index + offset < len(wall):
            landmark = wall[index + offset]
            if landmark.type != unit.type and in_room.get(landmark.type) == 1:
                return side, landmark
    return None


def _along(yaw_deg: float) -> tuple[float, float]:
    """The viewer's right-hand direction when facing a unit whose front faces `yaw_deg`."""
    import math

    radians = math.radians(yaw_deg)
    return (-math.sin(radians), math.cos(radians))


def _perpendicular(a: Thing, b: Thing) -> float:
    import math

    radians = math.radians(b.yaw_deg)
    fx, fy = math.cos(radians), math.sin(radians)
    return abs((a.pos[0] - b.pos[0]) * fx + (a.pos[1] - b.pos[1]) * fy)


# --- goals ------------------------------------------------------------------------------------------------------


def _goals(spec: _Spec) -> list[str]:
    """ALFRED's conditions for the task type as predicates (one more for a sliced object)."""
    obj, recep = spec.obj_goal, spec.recep
    sliced = ["sliced(" + obj + ")"] if spec.sliced else []
    flag = ["sliced"] if spec.sliced else []

    def tagged(*states: str) -> str:
        marks = [*flag, *states]
        return f"{obj}[{','.join(marks)}]" if marks else obj

    kind = spec.task_type
    if kind == "pick_and_place_simple":
        return [*sliced, f"inside({tagged()}, {recep})"]
    if kind == "pick_two_obj_and_place":
        return [*sliced, f"inside({tagged()}, {recep})", f"inside({tagged()}, {recep}, 2)"]
    if kind == "look_at_obj_in_light":
        return [f"holding({obj})", f"visible({spec.lamp}[toggled])"]
    if kind == "pick_and_place_with_movable_recep":
        return [*sliced, f"inside({tagged()}, {spec.mover})", f"inside({spec.mover}, {recep})",
                f"inside({tagged()}, {recep})"]  # fmt: skip
    state = {"pick_heat_then_place_in_recep": "heated", "pick_cool_then_place_in_recep": "cooled"}.get(kind, "cleaned")
    return [*sliced, f"inside({tagged()}, {recep})", f"{state}({obj})", f"inside({tagged(state)}, {recep})"]


# --- instructions -----------------------------------------------------------------------------------------------


def _names(spec: _Spec, house: House) -> tuple[str, str, str]:
    """(object, receptacle, movable receptacle) phrases, as the subset chose them or plainly."""
    obj = spec.obj_phrase or article(words(spec.obj.type))
    recep_type = house.by_name(spec.recep).type if spec.recep and house.by_name(spec.recep) else spec.recep
    recep = spec.recep_phrase or (f"the {words(recep_type)}" if recep_type else "")
    mover = spec.mover_phrase or (article(words(spec.mover)) if spec.mover else "")
    return obj, recep, mover


def _plain(spec: _Spec, house: House, rng: np.random.Generator) -> str:
    obj, recep, mover = _names(spec, house)
    return _sentence(spec, obj, recep, mover, rng)


def _sentence(spec: _Spec, obj: str, recep: str, mover: str, rng: np.random.Generator) -> str:
    piece = "a slice" if spec.sliced else obj
    kind = spec.task_type
    at = into(spec.recep.split("_")[0])
    if kind == "pick_and_place_simple":
        text = str(rng.choice([f"put {piece} {at} {recep}", f"place {piece} {at} {recep}", f"move {piece} to {recep}"]))
    elif kind == "pick_two_obj_and_place":
        text = f"put two {'slices' if spec.sliced else _plural(words(spec.obj.type))} {at} {recep}"
    elif kind == "look_at_obj_in_light":
        lamp = article(words(spec.lamp))
        text = str(rng.choice([f"examine {obj} under {lamp}", f"look at {obj} in the light of {lamp}"]))
    elif kind == "pick_and_place_with_movable_recep":
        text = f"put {piece} in {mover} and place it {at} {recep}"
    elif kind == "pick_heat_then_place_in_recep":
        text = str(rng.choice([f"heat {piece} and put it {at} {recep}", f"warm up {piece} and place it {at} {recep}"]))
    elif kind == "pick_cool_then_place_in_recep":
        text = str(rng.choice([f"chill {piece} and put it {at} {recep}", f"cool {piece} and place it {at} {recep}"]))
    else:
        text = str(rng.choice([f"rinse off {piece} and put it {at} {recep}", f"clean {piece} and move it to {recep}"]))
    if spec.sliced:
        text = f"slice {obj}, then {text}"
    return text[0].upper() + text[1:] + "."


def _plural(word: str) -> str:
    if word.endswith(("s", "sh", "ch")):
        return word + "es"
    if word.endswith("fe"):
        return word[:-2] + "ves"
    return word + "s"


def _common_sense(spec: _Spec, house: House, rng: np.random.Generator) -> str | None:
    """The object named by its use, else (or as well, now and then) the receptacle; None when neither has one."""
    obj, recep, mover = _names(spec, house)
    obj_by_use = spec.obj.type in USES and spec.task_type != "pick_two_obj_and_place"
    recep_by_use = spec.recep in USES
    if obj_by_use and recep_by_use:
        obj_by_use, recep_by_use = (True, rng.random() < 0.3) if rng.random() < 0.7 else (False, True)
    if not (obj_by_use or recep_by_use):
        return None
    if obj_by_use:
        obj = str(rng.choice(USES[spec.obj.type]))
        obj = obj if obj.startswith(("a ", "an ", "the ", "something")) else article(obj)
    if recep_by_use:
        recep = str(rng.choice(USES[spec.recep]))
        recep = recep if recep.startswith(("the ", "a ", "an ", "where")) else "the " + recep
    return _sentence(spec, obj, recep, mover, rng)


def _complex(spec: _Spec, house: House, rng: np.random.Generator) -> str:
    base = _plain(spec, house, rng)
    placed = [t for t in house.things.values() if t.pickable and t.parent and t.type != spec.obj.type]
    details = []
    for thing in rng.permutation(placed).tolist()[:2] if placed else []:
        holder = house.things[thing.parent]
        where = "in" if holder.openable else "on"
        details.append(f"there is {article(words(thing.type))} {where} the {words(holder.type)}")
    lead = {
        0: "Although {d}, ",
        1: "The home is a bit untidy today, and {d}; still, ",
        2: "While you are there, remember that {d}, but first ",
    }[int(rng.integers(3))]
    detail = " and ".join(details) if details else "the house is quiet"
    body = base[0].lower() + base[1:]
    tail = str(rng.choice(["", " Take your time and do not disturb anything else.", " Thanks a lot!"]))
    return lead.format(d=detail) + body + tail


_INSTRUCTIONS: dict[str, Callable[[_Spec, House, np.random.Generator], str | None]] = {
    "base": _plain,
    "common_sense": _common_sense,
    "complex_instruction": _complex,
    "spatial": _plain,
    "visual_appearance": _plain,
    "long_horizon": _plain,
}
