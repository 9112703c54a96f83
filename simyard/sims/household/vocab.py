"""ALFRED's object vocabulary and EB-ALFRED's skill list: the words every household component agrees on.

The generators, the `household` world, the EB-ALFRED data loader and the scene all build `Thing`s from a type name
alone (`properties("Mug")`), so what an object can do (be picked up, hold others, open, toggle, be sliced, cleaned,
heated, cooled) is written once, here. Names and orders follow ALFRED's `gen/constants.py` and EmbodiedBench's
`envs/eb_alfred/utils.py` (facts only; the tables are our own): EB-ALFRED's global skill list has 162 entries in
the order below; `alfred.episode_skills` appends the instance skills (`find a Cabinet_2`) per episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

#: EB-ALFRED's `find a <X>` targets, in its order (80: 27 fixed things, then the 53 pickable types).
FIND_TYPES: tuple[str, ...] = (
    "Cart", "Potato", "Faucet", "Ottoman", "CoffeeMachine", "Candle", "CD", "Pan", "Watch", "HandTowel",
    "SprayBottle", "BaseballBat", "CellPhone", "Kettle", "Mug", "StoveBurner", "Bowl", "Toilet", "DiningTable",
    "Spoon", "TissueBox", "Shelf", "Apple", "TennisRacket", "SoapBar", "Cloth", "Plunger", "FloorLamp",
    "ToiletPaperHanger", "CoffeeTable", "Spatula", "Plate", "Bed", "Glassbottle", "Knife", "Tomato", "ButterKnife",
    "Dresser", "Microwave", "CounterTop", "GarbageCan", "WateringCan", "Vase", "ArmChair", "Safe", "KeyChain", "Pot",
    "Pen", "Cabinet", "Desk", "Newspaper", "Drawer", "Sofa", "Bread", "Book", "Lettuce", "CreditCard", "AlarmClock",
    "ToiletPaper", "SideTable", "Fork", "Box", "Egg", "DeskLamp", "Ladle", "WineBottle", "Pencil", "Laptop",
    "RemoteControl", "BasketBall", "DishSponge", "Cup", "SaltShaker", "PepperShaker", "Pillow", "Bathtub",
    "SoapBottle", "Statue", "Fridge", "Sink",
)  # fmt: skip

#: EB-ALFRED's `pick up the <X>` targets, in its order (53).
PICKUP_TYPES: tuple[str, ...] = (
    "KeyChain", "Potato", "Pot", "Pen", "Candle", "CD", "Pan", "Watch", "Newspaper", "HandTowel", "SprayBottle",
    "BaseballBat", "Bread", "CellPhone", "Book", "Lettuce", "CreditCard", "Mug", "AlarmClock", "Kettle",
    "ToiletPaper", "Bowl", "Fork", "Box", "Egg", "Spoon", "TissueBox", "Apple", "TennisRacket", "Ladle", "WineBottle",
    "Cloth", "Plunger", "SoapBar", "Pencil", "Laptop", "RemoteControl", "BasketBall", "DishSponge", "Cup", "Spatula",
    "SaltShaker", "Plate", "PepperShaker", "Pillow", "Glassbottle", "SoapBottle", "Knife", "Statue", "Tomato",
    "ButterKnife", "WateringCan", "Vase",
)  # fmt: skip

#: `open the X` / `close the X` targets, `turn on/off the X` targets and `slice the X` targets, in EB's order.
OPEN_TYPES: tuple[str, ...] = ("Safe", "Laptop", "Fridge", "Box", "Microwave", "Cabinet", "Drawer")
TOGGLE_TYPES: tuple[str, ...] = ("Microwave", "DeskLamp", "FloorLamp", "Faucet")
SLICE_TYPES: tuple[str, ...] = ("Potato", "Lettuce", "Tomato", "Apple", "Bread")

PUT_DOWN = "put down the object in hand"
DROP = "drop the object in hand"

#: Skill words that name a type by another word: EB-ALFRED says `Sink` and `Bathtub` where THOR has basins.
SKILL_ALIASES: dict[str, str] = {"Sink": "SinkBasin", "Bathtub": "BathtubBasin"}
#: The reverse: the word a skill uses for a type.
SKILL_WORD: dict[str, str] = {target: word for word, target in SKILL_ALIASES.items()}

#: ALFRED's movable receptacles (a pick_and_place_with_movable_recep task carries the object in one of them).
MOVABLE_RECEPTACLES: frozenset[str] = frozenset({"Bowl", "Box", "Cup", "Mug", "Plate", "Pan", "Pot"})

#: Fixed receptacles (ALFRED's receptacle types that are not carried).
FIXED_RECEPTACLES: frozenset[str] = frozenset(
    {
        "ArmChair", "BathtubBasin", "Bed", "Cabinet", "Cart", "CoffeeMachine", "CoffeeTable", "CounterTop", "Desk",
        "DiningTable", "Drawer", "Dresser", "Fridge", "GarbageCan", "HandTowelHolder", "LaundryHamper", "Microwave",
        "Ottoman", "Safe", "Shelf", "SideTable", "SinkBasin", "Sofa", "StoveBurner", "Toaster", "Toilet",
        "ToiletPaperHanger", "TowelHolder", "TVStand", "Chair", "Stool",
    }
)  # fmt: skip

OPENABLE: frozenset[str] = frozenset(OPEN_TYPES)
TOGGLEABLE: frozenset[str] = frozenset(TOGGLE_TYPES)
SLICEABLE: frozenset[str] = frozenset(SLICE_TYPES)
#: Objects a held Knife or ButterKnife can slice with (THOR's `canSlice` objects in ALFRED's build).
SLICING_TOOLS: frozenset[str] = frozenset({"Knife", "ButterKnife"})

#: ALFRED's Heatable, Coolable and Cleanable objects (`VAL_ACTION_OBJECTS`, whole objects; slices inherit).
HEATABLE: frozenset[str] = frozenset({"Apple", "Bread", "Cup", "Egg", "Mug", "Plate", "Potato", "Tomato"})
COOLABLE: frozenset[str] = frozenset(
    {"Apple", "Bowl", "Bread", "Cup", "Egg", "Lettuce", "Mug", "Pan", "Plate", "Pot", "Potato", "Tomato", "WineBottle"}
)
CLEANABLE: frozenset[str] = frozenset(
    {
        "Apple", "Bowl", "ButterKnife", "Cloth", "Cup", "DishSponge", "Egg", "Fork", "Kettle", "Knife", "Ladle",
        "Lettuce", "Mug", "Pan", "Plate", "Pot", "Potato", "SoapBar", "Spatula", "Spoon", "Tomato",
    }
)  # fmt: skip
#: Lamps: what look_at_obj_in_light turns on.
LAMPS: tuple[str, ...] = ("DeskLamp", "FloorLamp")

_TABLE_TOP = (
    "AlarmClock Apple BaseballBat BasketBall Book Bowl Box Bread ButterKnife Candle CD CellPhone Cloth CreditCard Cup "
    "DishSponge Glassbottle Egg Fork Kettle KeyChain Knife Ladle Laptop Lettuce Mug Newspaper Pan Pen Pencil "
    "PepperShaker Plate Pot Potato RemoteControl SaltShaker SoapBar SoapBottle Spatula Spoon SprayBottle Statue "
    "TennisRacket TissueBox ToiletPaper Tomato Vase Watch WateringCan WineBottle HandTowel"
)
_SEATING = "BasketBall Book Box CellPhone Cloth CreditCard KeyChain Laptop Newspaper Pillow RemoteControl"
_DESK = (
    "AlarmClock BasketBall Book Bowl Box Candle CD CellPhone Cloth CreditCard Cup Glassbottle KeyChain Laptop Mug "
    "Newspaper Pen Pencil Plate RemoteControl SoapBottle SprayBottle Statue TennisRacket TissueBox ToiletPaper Vase "
    "Watch WateringCan WineBottle"
)
_SMALL_FOOD_AND_TOOLS = "Apple ButterKnife DishSponge Egg Fork Knife Ladle Lettuce Potato Spatula Spoon Tomato"

#: What each receptacle type accepts (ALFRED's `VAL_RECEPTACLE_OBJECTS`); a type missing here accepts anything.
ACCEPTS: dict[str, frozenset[str]] = {
    recep: frozenset(words.split())
    for recep, words in {
        "Pot": _SMALL_FOOD_AND_TOOLS,
        "Pan": _SMALL_FOOD_AND_TOOLS,
        "Bowl": _SMALL_FOOD_AND_TOOLS
        + " Candle CD CellPhone Cloth CreditCard KeyChain Mug Pen Pencil RemoteControl Watch",
        "Plate": _SMALL_FOOD_AND_TOOLS
        + " Mug AlarmClock Book Candle CD CellPhone Cloth CreditCard Glassbottle KeyChain Pen Pencil TissueBox Watch",
        "Cup": "ButterKnife Fork Spoon",
        "Mug": "ButterKnife Fork Knife Pen Pencil Spoon KeyChain Watch",
        "CoffeeMachine": "Mug",
        "Microwave": "Apple Bowl Bread Cup Egg Glassbottle Mug Plate Potato Tomato",
        "StoveBurner": "Kettle Pan Pot",
        "Fridge": "Apple Bowl Bread Cup Egg Glassbottle Lettuce Mug Pan Plate Pot Potato Tomato Knife ButterKnife "
        "WineBottle",
        "Sofa": _SEATING,
        "ArmChair": _SEATING,
        "Ottoman": _SEATING,
        "Box": "AlarmClock Book Candle CD CellPhone Cloth CreditCard DishSponge Glassbottle KeyChain Mug Pen Pencil "
        "RemoteControl Statue TissueBox Vase Watch",
        "Dresser": _DESK,
        "Desk": _DESK,
        "LaundryHamper": "Cloth",
        "Bed": "BaseballBat BasketBall Book CellPhone Laptop Newspaper Pillow TennisRacket",
        "Toilet": "Candle Cloth DishSponge Newspaper SoapBar SoapBottle SprayBottle TissueBox ToiletPaper HandTowel",
        "ToiletPaperHanger": "ToiletPaper",
        "TowelHolder": "Towel",
        "HandTowelHolder": "HandTowel",
        "Cart": "Candle Cloth DishSponge Mug Plunger SoapBar SoapBottle SprayBottle Statue TissueBox ToiletPaper Vase "
        "HandTowel",
        "BathtubBasin": "Cloth DishSponge SoapBar HandTowel",
        "SinkBasin": "Apple Bowl ButterKnife Cloth Cup DishSponge Egg Glassbottle Fork Kettle Knife Ladle Lettuce Mug "
        "Pan Plate Pot Potato SoapBar Spatula Spoon Tomato HandTowel",
        "Cabinet": "Book Bowl Box Candle CD Cloth Cup DishSponge Glassbottle Kettle Ladle Mug Newspaper Pan "
        "PepperShaker Plate Plunger Pot SaltShaker SoapBar SoapBottle SprayBottle TissueBox ToiletPaper Vase "
        "WateringCan WineBottle HandTowel",
        "DiningTable": _TABLE_TOP,
        "CoffeeTable": _TABLE_TOP,
        "SideTable": _TABLE_TOP,
        "CounterTop": _TABLE_TOP,
        "Shelf": "AlarmClock Book Bowl Box Candle CD CellPhone Cloth CreditCard Cup DishSponge Glassbottle Kettle "
        "KeyChain Mug Newspaper Pen Pencil PepperShaker Plate Pot RemoteControl SaltShaker SoapBar SoapBottle "
        "SprayBottle Statue TissueBox ToiletPaper Vase Watch WateringCan WineBottle HandTowel",
        "Drawer": "Book ButterKnife Candle CD CellPhone Cloth CreditCard DishSponge Fork KeyChain Knife Ladle "
        "Newspaper Pen Pencil PepperShaker RemoteControl SaltShaker SoapBar SoapBottle Spatula Spoon SprayBottle "
        "TissueBox ToiletPaper Watch WateringCan HandTowel",
        "GarbageCan": "Apple Bread CD Cloth DishSponge Egg Lettuce Newspaper Pen Pencil Potato SoapBar SoapBottle "
        "SprayBottle TissueBox ToiletPaper Tomato WineBottle HandTowel",
        "Safe": "CD CellPhone CreditCard KeyChain Statue Vase Watch",
        "TVStand": "TissueBox",
        "Toaster": "Bread",
    }.items()
}


@dataclass(frozen=True)
class TypeInfo:
    """What a type of thing can do and how it usually looks; `thing_flags()` gives the `Thing` fields.

    `size_m` is (width, depth, height); `colors` and `materials` are the appearance names (appearance.py) a
    generator may draw from, first the most usual.
    """

    type: str
    pickable: bool = False
    receptacle: bool = False
    movable_receptacle: bool = False
    openable: bool = False
    toggleable: bool = False
    sliceable: bool = False
    cleanable: bool = False
    heatable: bool = False
    coolable: bool = False
    furniture: bool = False
    size_m: tuple[float, float, float] = (0.1, 0.1, 0.1)
    shape: str = "box"
    colors: tuple[str, ...] = ("white",)
    materials: tuple[str, ...] = ("plastic",)

    def thing_flags(self) -> dict[str, Any]:
        """Keyword arguments for `Thing(...)` that follow from the type alone."""
        return {
            "pickable": self.pickable,
            "receptacle": self.receptacle,
            "openable": self.openable,
            "toggleable": self.toggleable,
            "sliceable": self.sliceable,
            "shape": self.shape,
            "size_m": self.size_m,
            "color": self.colors[0],
            "material": self.materials[0],
        }

    def accepts(self, obj_type: str) -> bool:
        """Whether an object of `obj_type` may be put in or on this type (THOR's receptacle restrictions)."""
        if not self.receptacle:
            return False
        allowed = ACCEPTS.get(self.type)
        return allowed is None or obj_type in allowed


# type: size (w, d, h in m), shape, colours, materials. Colour names are from appearance.COLORS.
_LOOKS: dict[str, tuple[tuple[float, float, float], str, str, str]] = {
    # fixed furniture and appliances
    "Cabinet": ((0.6, 0.5, 0.7), "box", "brown white beige gray", "wood"),
    "Drawer": ((0.5, 0.45, 0.2), "box", "brown white beige gray", "wood"),
    "CounterTop": ((1.6, 0.6, 0.9), "box", "white gray beige black", "ceramic wood"),
    "DiningTable": ((1.4, 0.9, 0.75), "box", "brown white black beige", "wood"),
    "CoffeeTable": ((1.0, 0.6, 0.45), "box", "brown black white", "wood glass"),
    "SideTable": ((0.5, 0.5, 0.6), "box", "brown white black", "wood"),
    "Desk": ((1.2, 0.6, 0.75), "box", "brown white black", "wood"),
    "Dresser": ((1.0, 0.5, 0.9), "box", "brown white beige", "wood"),
    "Shelf": ((0.8, 0.35, 1.2), "box", "brown white black", "wood"),
    "Fridge": ((0.8, 0.7, 1.8), "box", "white gray black", "metal"),
    "Microwave": ((0.5, 0.4, 0.3), "box", "black white gray", "metal"),
    "StoveBurner": ((0.3, 0.3, 0.05), "cylinder", "black gray", "metal"),
    "CoffeeMachine": ((0.3, 0.3, 0.4), "box", "black gray red", "metal plastic"),
    "Toaster": ((0.3, 0.2, 0.2), "box", "gray red white", "metal"),
    "SinkBasin": ((0.6, 0.45, 0.15), "box", "white gray", "metal ceramic"),
    "Faucet": ((0.06, 0.2, 0.3), "capsule", "gray", "metal"),
    "GarbageCan": ((0.35, 0.35, 0.5), "cylinder", "gray black blue green", "plastic metal"),
    "Sofa": ((2.0, 0.9, 0.85), "box", "gray blue beige green red", "fabric"),
    "ArmChair": ((0.9, 0.85, 0.9), "box", "gray blue beige brown", "fabric"),
    "Ottoman": ((0.6, 0.6, 0.45), "box", "beige gray brown", "fabric"),
    "Bed": ((1.6, 2.0, 0.55), "box", "white blue beige gray", "fabric"),
    "DeskLamp": ((0.2, 0.2, 0.45), "cylinder", "green white black yellow", "metal plastic"),
    "FloorLamp": ((0.35, 0.35, 1.6), "cylinder", "black white gray beige", "metal"),
    "Safe": ((0.45, 0.45, 0.5), "box", "gray black", "metal"),
    "Toilet": ((0.45, 0.7, 0.75), "box", "white", "ceramic"),
    "ToiletPaperHanger": ((0.15, 0.1, 0.1), "cylinder", "gray", "metal"),
    "BathtubBasin": ((1.6, 0.75, 0.55), "box", "white", "ceramic"),
    "TowelHolder": ((0.6, 0.1, 0.1), "capsule", "gray", "metal"),
    "HandTowelHolder": ((0.3, 0.1, 0.1), "capsule", "gray", "metal"),
    "Cart": ((0.6, 0.45, 0.9), "box", "gray white", "metal"),
    "LaundryHamper": ((0.45, 0.45, 0.6), "cylinder", "white beige brown", "fabric"),
    "TVStand": ((1.4, 0.45, 0.5), "box", "black brown", "wood"),
    "Television": ((1.1, 0.1, 0.65), "box", "black", "plastic"),
    "Chair": ((0.45, 0.45, 0.9), "box", "brown black white", "wood"),
    "Stool": ((0.4, 0.4, 0.65), "cylinder", "brown black", "wood"),
    # movable receptacles
    "Bowl": ((0.16, 0.16, 0.07), "cylinder", "white blue red green yellow", "ceramic glass plastic"),
    "Plate": ((0.24, 0.24, 0.025), "cylinder", "white blue yellow green", "ceramic"),
    "Pan": ((0.28, 0.28, 0.06), "cylinder", "black gray", "metal"),
    "Pot": ((0.24, 0.24, 0.16), "cylinder", "gray black red", "metal"),
    "Cup": ((0.08, 0.08, 0.11), "cylinder", "white blue green red", "glass ceramic plastic"),
    "Mug": ((0.09, 0.09, 0.1), "cylinder", "white red blue yellow black green", "ceramic"),
    "Box": ((0.35, 0.28, 0.22), "box", "brown beige white", "fabric"),
    # objects
    "Apple": ((0.08, 0.08, 0.08), "sphere", "red green yellow", "organic"),
    "Tomato": ((0.08, 0.08, 0.07), "sphere", "red orange", "organic"),
    "Potato": ((0.1, 0.07, 0.06), "ellipsoid", "brown beige", "organic"),
    "Lettuce": ((0.16, 0.16, 0.14), "sphere", "green", "organic"),
    "Bread": ((0.25, 0.12, 0.11), "box", "brown beige", "organic"),
    "Egg": ((0.045, 0.045, 0.06), "ellipsoid", "white beige brown", "organic"),
    "Knife": ((0.3, 0.03, 0.02), "box", "gray black", "metal"),
    "ButterKnife": ((0.2, 0.02, 0.01), "box", "gray", "metal"),
    "Fork": ((0.19, 0.025, 0.01), "box", "gray", "metal"),
    "Spoon": ((0.18, 0.035, 0.01), "box", "gray", "metal"),
    "Spatula": ((0.3, 0.07, 0.02), "box", "black gray", "plastic metal"),
    "Ladle": ((0.3, 0.08, 0.05), "capsule", "gray black", "metal"),
    "Kettle": ((0.2, 0.2, 0.22), "cylinder", "gray black red white", "metal"),
    "SaltShaker": ((0.04, 0.04, 0.09), "cylinder", "white gray", "glass"),
    "PepperShaker": ((0.04, 0.04, 0.09), "cylinder", "black gray", "glass"),
    "DishSponge": ((0.1, 0.07, 0.03), "box", "yellow green blue pink", "fabric"),
    "SoapBar": ((0.09, 0.06, 0.03), "box", "white pink green yellow", "organic"),
    "SoapBottle": ((0.07, 0.07, 0.2), "cylinder", "blue green pink yellow white", "plastic"),
    "SprayBottle": ((0.08, 0.08, 0.25), "cylinder", "blue green white yellow", "plastic"),
    "Glassbottle": ((0.07, 0.07, 0.25), "cylinder", "green blue white", "glass"),
    "WineBottle": ((0.08, 0.08, 0.3), "cylinder", "green red black", "glass"),
    "WateringCan": ((0.3, 0.15, 0.25), "cylinder", "green red yellow blue", "plastic metal"),
    "Vase": ((0.12, 0.12, 0.28), "cylinder", "blue white red yellow green", "ceramic glass"),
    "Statue": ((0.12, 0.12, 0.25), "capsule", "white gray black yellow", "ceramic metal"),
    "Candle": ((0.07, 0.07, 0.12), "cylinder", "white red yellow purple", "organic"),
    "Book": ((0.22, 0.16, 0.04), "box", "red blue green yellow black", "fabric"),
    "Newspaper": ((0.3, 0.22, 0.02), "box", "gray white", "fabric"),
    "CD": ((0.12, 0.12, 0.005), "cylinder", "gray white blue", "plastic"),
    "CellPhone": ((0.075, 0.15, 0.01), "box", "black white blue", "plastic glass"),
    "CreditCard": ((0.085, 0.055, 0.003), "box", "blue yellow green black red", "plastic"),
    "KeyChain": ((0.07, 0.03, 0.02), "box", "gray yellow", "metal"),
    "Watch": ((0.05, 0.05, 0.015), "cylinder", "black gray yellow", "metal"),
    "AlarmClock": ((0.14, 0.08, 0.12), "box", "black white red blue", "plastic"),
    "RemoteControl": ((0.05, 0.18, 0.02), "box", "black gray", "plastic"),
    "Laptop": ((0.35, 0.25, 0.03), "box", "gray black white", "metal"),
    "Pen": ((0.14, 0.01, 0.01), "capsule", "blue black red", "plastic"),
    "Pencil": ((0.18, 0.01, 0.01), "capsule", "yellow red green", "wood"),
    "Pillow": ((0.5, 0.35, 0.15), "box", "white blue beige red gray", "fabric"),
    "Cloth": ((0.3, 0.3, 0.02), "box", "blue white red yellow", "fabric"),
    "HandTowel": ((0.3, 0.05, 0.45), "box", "white blue beige", "fabric"),
    "Towel": ((0.6, 0.05, 0.8), "box", "white blue beige", "fabric"),
    "TissueBox": ((0.24, 0.12, 0.1), "box", "white blue green", "fabric"),
    "ToiletPaper": ((0.11, 0.11, 0.1), "cylinder", "white", "fabric"),
    "Plunger": ((0.12, 0.12, 0.45), "capsule", "red black", "plastic"),
    "BaseballBat": ((0.8, 0.07, 0.07), "capsule", "brown black gray", "wood metal"),
    "BasketBall": ((0.24, 0.24, 0.24), "sphere", "orange", "organic"),
    "TennisRacket": ((0.68, 0.26, 0.03), "ellipsoid", "black red blue", "plastic"),
}


@cache
def properties(type_: str) -> TypeInfo:
    """What a thing of `type_` can do and how it looks; an unknown type is a static, inert box."""
    size, shape, colors, materials = _LOOKS.get(type_, ((0.3, 0.3, 0.3), "box", "gray", "plastic"))
    receptacle = type_ in FIXED_RECEPTACLES or type_ in MOVABLE_RECEPTACLES
    pickable = type_ in PICKUP_TYPES
    return TypeInfo(
        type=type_,
        pickable=pickable,
        receptacle=receptacle,
        movable_receptacle=type_ in MOVABLE_RECEPTACLES,
        openable=type_ in OPENABLE,
        toggleable=type_ in TOGGLEABLE,
        sliceable=type_ in SLICEABLE,
        cleanable=type_ in CLEANABLE,
        heatable=type_ in HEATABLE,
        coolable=type_ in COOLABLE,
        furniture=not pickable,
        size_m=size,
        shape=shape,
        colors=tuple(colors.split()),
        materials=tuple(materials.split()),
    )


def skill_word(type_or_name: str) -> str:
    """The word skills use for a type or instance name (`SinkBasin_2` -> `Sink_2`)."""
    base, sep, index = type_or_name.partition("_")
    return SKILL_WORD.get(base, base) + sep + index


def thing_word(skill_word_: str) -> str:
    """The type or instance name a skill word means (`Sink_2` -> `SinkBasin_2`)."""
    base, sep, index = skill_word_.partition("_")
    return SKILL_ALIASES.get(base, base) + sep + index


def global_skills() -> tuple[str, ...]:
    """EB-ALFRED's 162 global skills, in its order."""
    return _GLOBAL_SKILLS


def _build_global() -> tuple[str, ...]:
    skills = [f"find a {t}" for t in FIND_TYPES] + [f"pick up the {t}" for t in PICKUP_TYPES] + [PUT_DOWN, DROP]
    for t in OPEN_TYPES:
        skills += [f"open the {t}", f"close the {t}"]
    for t in TOGGLE_TYPES:
        skills += [f"turn on the {t}", f"turn off the {t}"]
    skills += [f"slice the {t}" for t in SLICE_TYPES]
    return tuple(skills)


_GLOBAL_SKILLS = _build_global()
assert len(FIND_TYPES) == 80 and len(PICKUP_TYPES) == 53 and len(_GLOBAL_SKILLS) == 162
