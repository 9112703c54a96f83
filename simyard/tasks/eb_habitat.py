"""The `eb-habitat` suite: EB-Habitat's six capability subsets of 50 tasks, generated from seeds on the `rearrange`
world's apartments.

EB-Habitat's own episodes sit in Git-LFS pickles; what is public are its in-context examples and LLaRP's instruction
templates, whose styles the generators follow:

* `base`: plain pick-and-place, pairs, swaps ("I need you to switch the places of lemon and pear in left counter
  and sofa.");
* `common_sense`: objects and receptacles named by their use ("Put something to cut paper with where the dishes
  are washed.");
* `complex_instruction`: the same goals inside longer text with distractors ("There's an apple on the sofa, but on
  the TV stand I need you to put a bowl.");
* `spatial_relationship`: receptacles and objects named by relations that hold in the scene ("Move the fruit on
  the counter to the left of the sink to the table closest to the sofa.");
* `visual_appearance`: objects and tables named by a colour that singles them out ("Put both the red fruit and a
  bowl onto the black table.");
* `long_horizon`: several objects and closed containers, a reference plan of 15 steps or more ("Put the apple, the
  pear and the can in the refrigerator, then close it.").

Every task carries its goal as predicates (`on_top(apple, table_1)`, `closed(refrigerator)`), EB-Habitat-style
subgoals for `task_progress` (per object: holding it, then having it in place; a last stage with every goal when a
goal is about a container), the scene seed, and the reference plan in skill words, found by the same planner the
oracle uses and replayed when the task is made, so every task is solvable within its 30 steps.

EB-Habitat's "Move the spoon off the right counter" has no goal in this predicate grammar (it has no negation), so
such instructions always name where the object goes.

`eb_habitat_suite()` is the published suite; `eb_habitat_suite(fresh_seed=N)` draws a new one from N with the same
generators and subset sizes (`simyard tasks list eb-habitat --suite-opt fresh_seed=7`; `eb-alfred` takes the same
option), so a model tuned on the published instances can be tried on unseen ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simyard.platform.api import Task
from simyard.sims.household import goals as goal_checker
from simyard.sims.household import habitat_home as home
from simyard.sims.household.rearrange_skills import SKILL_NAMES, SKILLS, NoPlan, apply, plan
from simyard.sims.household.state import House, Thing

SUBSETS = ("base", "common_sense", "complex_instruction", "spatial_relationship", "visual_appearance", "long_horizon")
#: Tasks per subset, as in EB-Habitat.
PER_SUBSET = 50
#: Steps and invalid actions per episode, as in EB-Habitat.
MAX_STEPS, MAX_INVALID = 30, 10
#: Longest reference plan a task may have, so an agent has room for a few mistakes within its 30 steps.
MAX_PLAN = 26
#: Shortest reference plan of a long-horizon task.
LONG_PLAN = 15


def eb_habitat_suite(fresh_seed: int | None = None) -> list[Task]:
    """Every task of the suite, subset by subset.

    Args:
        fresh_seed: Draw a new, statistically identical suite from this seed instead of the published one.
    """
    return [make_task(subset, index, fresh_seed) for subset in SUBSETS for index in range(PER_SUBSET)]


def sample_task(seed: int) -> Task:
    """One task for `simyard episode run rearrange --seed N`: the subset cycles with the seed."""
    return make_task(SUBSETS[seed % len(SUBSETS)], seed // len(SUBSETS), fresh_seed=1_000_003)


@dataclass
class Draft:
    """A task as a generator proposes it, before the planner checks it."""

    instruction: str
    placements: list[tuple[str, str]]  # (object id, receptacle id)
    extra: list[str] = field(default_factory=list)  # goals about containers: closed(refrigerator), ...
    kind: str = ""

    def goals(self) -> list[str]:
        return [_placed(thing, where) for thing, where in self.placements] + self.extra

    def subgoals(self) -> list[list[str]]:
        stages = []
        for thing, where in self.placements:
            stages += [[f"holding({thing})"], [_placed(thing, where)]]
        if self.extra:
            stages.append(self.goals())
        return stages


def make_task(subset: str, index: int, fresh_seed: int | None = None) -> Task:
    """Task `index` of `subset` (of the suite drawn from `fresh_seed`), the same on every machine."""
    number = SUBSETS.index(subset)
    family = 0 if fresh_seed is None else int(fresh_seed) % (1 << 62) + 1
    rng = np.random.default_rng([family, number, index, 0xEB4AB])
    for _ in range(200):
        scene_seed = int(rng.integers(1 << 31))
        house = home.generate(scene_seed)
        draft = _GENERATORS[subset](_Scene(house), rng)
        if draft is None:
            continue
        steps = _checked_plan(house, draft)
        if steps is None or len(steps) > MAX_PLAN or (subset == "long_horizon") != (len(steps) >= LONG_PLAN):
            continue
        tag = "" if fresh_seed is None else f"s{fresh_seed}-"
        config = {
            "instruction": draft.instruction,
            "goals": draft.goals(),
            "scene_seed": scene_seed,
            "task_type": draft.kind,
            "plan": [SKILL_NAMES[step] for step in steps],
            "subgoals": draft.subgoals(),
            "max_steps": MAX_STEPS,
            "max_invalid": MAX_INVALID,
        }
        return Task(
            id=f"eb-habitat-{tag}{subset}-{index:02d}",
            world="rearrange",
            instruction=draft.instruction,
            subset=subset,
            config=config,
            goal={"all": draft.goals()},
            max_steps=MAX_STEPS,
            max_invalid=MAX_INVALID,
        )
    raise AssertionError(f"no {subset} task {index} of fresh_seed {fresh_seed} in 200 scenes")  # tests cover seeds


def _checked_plan(house: House, draft: Draft) -> list[int] | None:
    """The reference plan, replayed on a copy; None when it fails or a subgoal already holds at the start."""
    goals = goal_checker.parse_all(draft.goals())
    try:
        steps = plan(house, goals)
    except NoPlan:
        return None
    facts = goal_checker.facts_of(house)
    if any(all(goal.holds(facts) for goal in goal_checker.parse_all(stage)) for stage in draft.subgoals()):
        return None
    replay = house.copy()
    for step in steps:
        if not apply(replay, SKILLS[step])[0]:
            return None
    met, total = goal_checker.check(goals, goal_checker.facts_of(replay))
    return steps if met == total else None


# ---------------------------------------------------------------------------------------------------------------
# What the generators need to know about a scene.


_SURFACES = frozenset(home.PLACE_TARGETS) - {"refrigerator"}


class _Scene:
    """A generated apartment, seen the way instructions talk about it."""

    def __init__(self, house: House) -> None:
        self.house = house
        self.objects = sorted((t for t in house.things.values() if t.pickable), key=lambda t: t.id)

    def holder(self, thing: Thing) -> str:
        holder = home.top_holder(self.house, thing.id)
        assert holder is not None
        return holder.id

    def on_surfaces(self) -> list[Thing]:
        """Objects lying in the open (not in a cabinet or the refrigerator), where an instruction can point at them."""
        return [thing for thing in self.objects if self.holder(thing) in _SURFACES]

    def destinations(self, thing: Thing, fridge: bool = False) -> list[str]:
        """Receptacles `thing` could be moved to (not where it is)."""
        return [
            spot for spot in home.PLACE_TARGETS if spot != self.holder(thing) and (fridge or spot != "refrigerator")
        ]


#: Receptacles things go in rather than on (goals say `inside`, instructions "in the sink").
_CONTAINERS = frozenset({"refrigerator", "sink", "left_drawer", "right_drawer", *home.CABINETS})


def _placed(thing: str, where: str) -> str:
    return f"inside({thing}, {where})" if where in _CONTAINERS else f"on_top({thing}, {where})"


def _on(spot: str, words: str | None = None) -> str:
    """`on the sofa`, `in the sink`: the preposition a receptacle takes, before its (given or usual) words."""
    return f"{'in' if spot in _CONTAINERS else 'on'} the {words or _words(spot)}"


def _pick(rng: np.random.Generator, items: list):  # noqa: ANN202 - any list
    return items[int(rng.integers(len(items)))]


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _it(thing_id: str) -> str:
    return "them" if thing_id == "scissors" else "it"


def _words(thing_id: str) -> str:
    return home.SHORT_NAMES[thing_id]


# ---------------------------------------------------------------------------------------------------------------
# base: LLaRP's plain templates.


def _single(scene: _Scene, rng: np.random.Generator, name: Callable[[str], str] = _words) -> Draft | None:
    objects = scene.on_surfaces() or scene.objects
    thing = _pick(rng, objects)
    dest = _pick(rng, scene.destinations(thing))
    source = scene.holder(thing)
    obj, to, src = _words(thing.id), name(dest), name(source)
    templates = [
        f"Move the {obj} to the {to}.",
        f"Find {_a(obj)} and put {_it(thing.id)} {_on(dest, to)}.",
        f"Relocate {_a(obj)} to the {to}.",
        f"Bring the {obj} to the {to}.",
    ]
    if source in home.PLACE_TARGETS:
        templates.append(f"Collect {_a(obj)} from the {src} and place it {_on(dest, to)}.")
        templates.append(f"Take the {obj} from the {src} to the {to}.")
    return Draft(_pick(rng, templates), [(thing.id, dest)], kind="pick_place")


def _pair(scene: _Scene, rng: np.random.Generator, name: Callable[[str], str] = _words) -> Draft | None:
    dest = _pick(rng, [spot for spot in home.PLACE_TARGETS if spot != "refrigerator"])
    movable = [thing for thing in scene.objects if scene.holder(thing) != dest]
    if len(movable) < 2:
        return None
    first, second = (movable[int(i)] for i in rng.choice(len(movable), size=2, replace=False))
    a, b, to = _words(first.id), _words(second.id), name(dest)
    template = _pick(
        rng,
        [
            f"Arrange {_a(a)} and {_a(b)} {_on(dest, to)}.",
            f"Lay {_a(a)} and {_a(b)} {_on(dest, to)}.",
            f"Put both {_a(a)} and {_a(b)} {_on(dest, to)}.",
        ],
    )
    return Draft(template, [(first.id, dest), (second.id, dest)], kind="pick_two_place")


def _swap(scene: _Scene, rng: np.random.Generator, name: Callable[[str], str] = _words) -> Draft | None:
    surfaces = scene.on_surfaces()
    pairs = [(a, b) for a in surfaces for b in surfaces if a.id < b.id and scene.holder(a) != scene.holder(b)]
    if not pairs:
        return None
    first, second = _pick(rng, pairs)
    ra, rb = scene.holder(first), scene.holder(second)
    a, b = _words(first.id), _words(second.id)
    template = _pick(
        rng,
        [
            f"I need you to switch the places of {a} and {b} in {name(ra)} and {name(rb)}.",
            f"In {name(ra)} and {name(rb)}, could you swap the locations of {a} and {b}?",
            f"Swap the {a} on the {name(ra)} with the {b} on the {name(rb)}.",
        ],
    )
    return Draft(template, [(first.id, rb), (second.id, ra)], kind="swap")


def _from_container(scene: _Scene, rng: np.random.Generator, name: Callable[[str], str] = _words) -> Draft | None:
    hidden = [thing for thing in scene.objects if scene.holder(thing) in ("refrigerator", *home.CABINETS)]
    if not hidden:
        return None
    thing = _pick(rng, hidden)
    dest = _pick(rng, scene.destinations(thing))
    where = "the refrigerator" if scene.holder(thing) == "refrigerator" else _words(scene.holder(thing))
    template = f"Take the {_words(thing.id)} out of {where} and put {_it(thing.id)} {_on(dest, name(dest))}."
    return Draft(template, [(thing.id, dest)], kind="from_container")


def _base(scene: _Scene, rng: np.random.Generator) -> Draft | None:
    return _pick(rng, [_single, _single, _pair, _swap, _from_container])(scene, rng)


# ---------------------------------------------------------------------------------------------------------------
# common_sense: things named by their use.

USES = {
    "ball": "something to play catch with",
    "clamp": "something to hold two boards together while the glue dries",
    "hammer": "something to drive a nail into the wall",
    "screwdriver": "something to tighten a loose screw",
    "padlock": "something to lock the garden gate",
    "scissors": "something to cut paper with",
    "block": "a wooden toy for stacking",
    "drill": "a power tool for boring holes",
    "spatula": "something to flip pancakes with",
    "knife": "something to slice bread with",
    "spoon": "something to eat soup with",
    "plate": "something to serve dinner on",
    "sponge": "something to scrub the dishes with",
    "cleanser": "a bottle of cleaning liquid",
    "plum": "a small purple stone fruit",
    "pear": "a fruit with a narrow top and a round bottom",
    "peach": "a fuzzy stone fruit",
    "apple": "the fruit that keeps the doctor away",
    "lemon": "a sour fruit for making lemonade",
    "can": "something to drink",
    "box": "something to pack things in",
    "banana": "a fruit you peel that monkeys love",
    "strawberry": "a small berry with seeds on its outside",
    "lego": "a plastic building brick",
    "rubriks_cube": "a puzzle toy with coloured faces to twist",
    "book": "something to read",
    "bowl": "something to pour cereal into",
    "cup": "something to drink water from",
    "mug": "something to drink hot coffee from",
    "orange": "a citrus fruit to squeeze for juice",
    "lid": "something to cover a pot with",
    "toy_airplane": "a toy that looks like it could fly",
    "wrench": "something to turn a bolt",
}
PLACES = {
    "refrigerator": "where food is kept cold",
    "sink": "where the dishes are washed",
    "sofa": "where people sit to watch TV",
    "tv_stand": "on the furniture the television stands on",
    "chair_1": "on the seat by the table",
}


def _common_sense(scene: _Scene, rng: np.random.Generator) -> Draft | None:
    thing = _pick(rng, scene.on_surfaces() or scene.objects)
    use = USES[thing.id]
    dest = _pick(rng, scene.destinations(thing, fridge=thing.type in _FOOD))
    if dest in PLACES and rng.random() < 0.6:
        where = PLACES[dest]
        template = _pick(rng, [f"Put {use} {where}.", f"Could you bring {use} {where}?"])
    else:
        to = _words(dest)
        template = _pick(
            rng,
            [
                f"I need {use}; please put it {_on(dest)}.",
                f"Find {use} and move it to the {to}.",
                f"Bring {use} to the {to}.",
            ],
        )
    return Draft(template, [(thing.id, dest)], kind="common_sense")


_FOOD = {"plum", "pear", "peach", "apple", "lemon", "can", "banana", "strawberry", "orange"}


# ---------------------------------------------------------------------------------------------------------------
# complex_instruction: the same goals in long text with distractors.

PREAMBLES = (
    "My parents are visiting tonight and the apartment is a mess after the weekend.",
    "I just got back from a long day at work and I would love a tidy place to relax in.",
    "We are hosting a small dinner later, so a few things have to be where they belong.",
    "The kids played all afternoon and left things everywhere.",
    "I am on a video call in a minute and the room behind me should look neat.",
)


def _complex(scene: _Scene, rng: np.random.Generator) -> Draft | None:
    core = _pick(rng, [_single, _single, _pair])(scene, rng)
    if core is None:
        return None
    moved = {thing for thing, _ in core.placements}
    goal_spots = {where for _, where in core.placements}
    others = [thing for thing in scene.on_surfaces() if thing.id not in moved and scene.holder(thing) not in goal_spots]
    if not others:
        return None
    other = _pick(rng, others)
    thing, dest = core.placements[0]
    obj = _words(thing)
    if len(core.placements) == 1:
        tail = _pick(
            rng,
            [
                f"There's {_a(_words(other.id))} {_on(scene.holder(other))}, but {_on(dest)} I need you to put "
                f"{_a(obj)}.",
                f"Although the {_words(other.id)} {_on(scene.holder(other))} catches your eye, leave it where it is; "
                f"what I really need is for the {obj} to end up {_on(dest)}.",
                f"Don't worry about the {_words(other.id)} {_on(scene.holder(other))}. Just make sure the {obj} is "
                f"{_on(dest)} when you are done.",
            ],
        )
    else:
        second = _words(core.placements[1][0])
        tail = (
            f"Ignore the {_words(other.id)} {_on(scene.holder(other))} for now. What matters is that both the {obj} "
            f"and the {second} end up together {_on(dest)}."
        )
    core.instruction = f"{_pick(rng, list(PREAMBLES))} {tail}"
    core.kind = f"complex_{core.kind}"
    return core


# ---------------------------------------------------------------------------------------------------------------
# spatial_relationship: receptacles and objects named by relations that hold in the scene.


def _relations(house: House) -> dict[str, str]:
    """Descriptions by relation for the receptacles that have one that singles them out in this apartment."""
    described = {
        "left_counter": "counter to the left of the sink",
        "right_counter": "counter to the right of the sink",
        "left_drawer": "drawer at the far left of the kitchen counter",
        "right_drawer": "drawer next to the refrigerator",
    }
    for anchor in ("sofa", "tv_stand"):
        near, far = sorted(("table_1", "table_2"), key=lambda table: _distance(house, table, anchor))
        if _distance(house, far, anchor) > 1.3 * _distance(house, near, anchor):
            described.setdefault(near, f"table closest to the {_words(anchor)}")
            described.setdefault(far, f"table farthest from the {_words(anchor)}")
    nearest = min(("table_1", "table_2"), key=lambda table: _distance(house, table, "chair_1"))
    described["chair_1"] = f"chair beside {_words(nearest)}"
    return described


def _distance(house: House, a: str, b: str) -> float:
    pa, pb = house.things[a].pos, house.things[b].pos
    return float(np.hypot(pa[0] - pb[0], pa[1] - pb[1]))


def _spatial(scene: _Scene, rng: np.random.Generator) -> Draft | None:
    relations = _relations(scene.house)
    sources = [thing for thing in scene.on_surfaces() if scene.holder(thing) in relations]
    if not sources:
        return None
    thing = _pick(rng, sources)
    source = scene.holder(thing)
    dests = [spot for spot in scene.destinations(thing) if spot in relations]
    if not dests:
        return None
    dest = _pick(rng, dests)
    category = home.KIND[thing.type].category
    neighbours = [other for other in scene.objects if scene.holder(other) == source]
    same = [other for other in neighbours if home.KIND[other.type].category == category]
    if len(same) == 1 and rng.random() < 0.6:
        what = f"the {category} {_on(source, relations[source])}"
    else:
        what = f"the {_words(thing.id)} from the {relations[source]}"
    template = _pick(
        rng,
        [
            f"Move {what} to the {relations[dest]}.",
            f"Take {what} and place it {_on(dest, relations[dest])}.",
            f"Could you put {what} {_on(dest, relations[dest])}?",
        ],
    )
    return Draft(template, [(thing.id, dest)], kind="spatial")


# ---------------------------------------------------------------------------------------------------------------
# visual_appearance: things named by a colour that singles them out.


def _by_color(scene: _Scene, thing: Thing) -> str | None:
    """`red fruit` when `thing` is the only object of its category with its colour in the scene, else None."""
    category = home.KIND[thing.type].category
    alike = [
        other for other in scene.objects if home.KIND[other.type].category == category and other.color == thing.color
    ]
    return f"{thing.color} {category}" if len(alike) == 1 else None


def _visual_name(spot: str, house: House) -> str:
    thing = house.things[spot]
    if thing.type == "table":
        return f"{thing.color} table"
    return _words(spot)


def _visual(scene: _Scene, rng: np.random.Generator) -> Draft | None:
    named = [(thing, _by_color(scene, thing)) for thing in scene.on_surfaces()]
    named = [(thing, words) for thing, words in named if words]
    if not named:
        return None
    table = _pick(rng, ["table_1", "table_2"])
    to = _visual_name(table, scene.house)
    thing, words = _pick(rng, named)
    if scene.holder(thing) == table:
        return None
    if rng.random() < 0.4:
        others = [other for other in scene.objects if other.id != thing.id and scene.holder(other) != table]
        if not others:
            return None
        other = _pick(rng, others)
        template = f"Put both the {words} and {_a(_words(other.id))} onto the {to}."
        return Draft(template, [(thing.id, table), (other.id, table)], kind="visual_pair")
    template = _pick(
        rng,
        [
            f"Move the {words} to the {to}.",
            f"Relocate the {words} to its assigned {to}.",
            f"Find the {words} and put it on the {to}.",
        ],
    )
    return Draft(template, [(thing.id, table)], kind="visual")


# ---------------------------------------------------------------------------------------------------------------
# long_horizon: several objects and closed containers.


def _listing(words: list[str]) -> str:
    return ", ".join(f"the {word}" for word in words[:-1]) + f" and the {words[-1]}"


def _long(scene: _Scene, rng: np.random.Generator) -> Draft | None:
    kind = int(rng.integers(3))
    if kind == 0:  # stock the refrigerator and close it
        food = [thing for thing in scene.objects if scene.holder(thing) != "refrigerator"]
        if len(food) < 4:
            return None
        chosen = [food[int(i)] for i in rng.choice(len(food), size=int(rng.integers(3, 5)), replace=False)]
        names = [_words(thing.id) for thing in chosen]
        template = f"Put {_listing(names)} in the refrigerator, then close it."
        return Draft(
            template, [(thing.id, "refrigerator") for thing in chosen], ["closed(refrigerator)"], "stock_fridge"
        )
    if kind == 1:  # empty the containers onto one table and close them
        hidden = [thing for thing in scene.objects if scene.house.enclosed(thing.id)]
        if len(hidden) < 2:
            return None
        chosen = [hidden[int(i)] for i in rng.choice(len(hidden), size=min(len(hidden), 3), replace=False)]
        dest = _pick(rng, ["table_1", "table_2", "left_counter", "right_counter", "sofa", "tv_stand"])
        containers = sorted({scene.holder(thing) for thing in chosen}, key=home.NAV_TARGETS.index)
        names = [_words(thing.id) for thing in chosen]
        shut = (
            _listing([_words(spot) for spot in containers]) if len(containers) > 1 else f"the {_words(containers[0])}"
        )
        template = (
            f"Take {_listing(names)} out of where they are stored, put them all {_on(dest)}, and close "
            f"{shut} again afterwards."
        )
        return Draft(
            template,
            [(thing.id, dest) for thing in chosen],
            [f"closed({spot})" for spot in containers],
            "unpack_and_close",
        )
    # gather four objects from around the apartment on one receptacle
    dest = _pick(rng, ["table_1", "table_2", "sofa", "left_counter", "right_counter"])
    movable = [thing for thing in scene.objects if scene.holder(thing) != dest]
    if len(movable) < 4:
        return None
    chosen = [movable[int(i)] for i in rng.choice(len(movable), size=4, replace=False)]
    names = [_words(thing.id) for thing in chosen]
    template = f"Tidy up: gather {_listing(names)} and put them all {_on(dest)}."
    return Draft(template, [(thing.id, dest) for thing in chosen], kind="gather_four")


_GENERATORS: dict[str, Callable[[_Scene, np.random.Generator], Draft | None]] = {
    "base": _base,
    "common_sense": _common_sense,
    "complex_instruction": _complex,
    "spatial_relationship": _spatial,
    "visual_appearance": _visual,
    "long_horizon": _long,
}
