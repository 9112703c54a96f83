"""EB-Habitat's 70 skills on the household state: their names, Habitat's PDDL preconditions, EB-Habitat's feedback,
and a planner that reaches a goal with them.

Kept apart from the world (`rearrange.py`) because the suite generator plans with the same rules: a task's
reference plan is what this planner finds, and the oracle replans with it from whatever state an episode is in.

The skill list has EB-Habitat's order, read from its in-context examples and logs: navigation 0-15 (cabinets 7 to
4, the refrigerator push point, chair, tables, TV stand, sink, right and left counters, sofa, refrigerator, left and
right drawers), picking 16-48 (LLaRP's 33 YCB classes), placing 49-59, the refrigerator 60-61, cabinets 62-69. The
ids EB-Habitat's examples show (0-15, 16, 17, 21, 24, 26, 28, 31-35, 37, 42, 47, 50, 51, 54-56, 61) agree with this
list; the order of the cabinets' open and close skills (all opens, then all closes, cabinets 7 to 4 as in
navigation) is inferred from Habitat's grounding order, not read.

Preconditions (Habitat's `pddl_domain_replica_cad.yaml`, kinematic mode): navigating always works; picking needs an
empty hand, the robot at the receptacle holding the object, and the object not inside a closed refrigerator or
cabinet; placing needs an object in hand and the robot at the receptacle (an open one, for the refrigerator);
opening and closing need the robot at the thing (the refrigerator also from its push point) and the thing in the
other state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simyard.sims.household import habitat_home as home
from simyard.sims.household.goals import Fact, Pattern, Predicate, facts_of
from simyard.sims.household.state import House, Thing


@dataclass(frozen=True)
class Skill:
    """One of the 70 skills: a verb (`nav`, `pick`, `place`, `open`, `close`), the id of its thing, and its words."""

    verb: str
    target: str
    text: str


def _skills() -> tuple[Skill, ...]:
    skills = [Skill("nav", spot, f"navigate to the {home.SKILL_WORDS[spot]}") for spot in home.NAV_TARGETS]
    skills += [Skill("pick", kind.type, f"pick up the {kind.words}") for kind in home.KINDS]
    skills += [Skill("place", spot, f"place at the {home.SKILL_WORDS[spot]}") for spot in home.PLACE_TARGETS]
    skills += [
        Skill("open", "refrigerator", "open the refrigerator"),
        Skill("close", "refrigerator", "close the refrigerator"),
    ]
    skills += [Skill("open", cab, f"open the {home.SKILL_WORDS[cab]}") for cab in home.CABINETS]
    skills += [Skill("close", cab, f"close the {home.SKILL_WORDS[cab]}") for cab in home.CABINETS]
    return tuple(skills)


SKILLS: tuple[Skill, ...] = _skills()
SKILL_NAMES: tuple[str, ...] = tuple(skill.text for skill in SKILLS)
_INDEX = {(skill.verb, skill.target): index for index, skill in enumerate(SKILLS)}

# EB-Habitat's feedback, verbose (its default `feedback_verbosity = 1`), word for word.
SUCCESS = "Last action executed successfully."
INVALID = "Last action is invalid."
PICK_WHILE_HOLDING = (
    f"{INVALID} Robot cannot pick any object when holding something. Please place the object before picking something."
)
PICK_NOT_NEAR = (
    f"{INVALID} Robot cannot pick any object that is not near the robot. Navigate to other place to find the object."
)
PLACE_NOT_NEAR = (
    f"{INVALID} Robot cannot place any object that is not near the robot. Navigate to other place to find the object."
)
PLACE_EMPTY_HAND = (
    f"{INVALID} Robot cannot place any object when not holding something. Please pick the object before place it."
)
OPEN_INVALID = f"{INVALID} Check whether the receptacle is already open or the robot is not near the receptacle."
CLOSE_INVALID = f"{INVALID} Check whether the receptacle is already closed or the robot is not near the receptacle."


def index_of(verb: str, target: str) -> int:
    """The skill id of `verb` on thing `target` (a KeyError when EB-Habitat has no such skill)."""
    return _INDEX[(verb, target)]


def _opened_name(target: str) -> str:
    return "refrigerator" if target == "refrigerator" else home.SKILL_WORDS[target]


def apply(house: House, skill: Skill) -> tuple[bool, str]:
    """Run `skill` on `house` (changing it only when valid); returns (valid, EB-Habitat's feedback).

    Navigation only records where the robot is (`agent.at`); the world moves the camera.
    """
    agent = house.agent
    if skill.verb == "nav":
        agent.at = skill.target
        return True, SUCCESS
    if skill.verb == "pick":
        if agent.holding is not None:
            return False, PICK_WHILE_HOLDING
        thing = house.things.get(skill.target)
        if thing is None or not thing.pickable or not _reachable(house, thing):
            return False, PICK_NOT_NEAR
        thing.parent = None
        agent.holding = thing.id
        return True, f"Last action executed successfully and you are holding {home.SKILL_WORDS[thing.id]}."
    if skill.verb == "place":
        held = house.held()
        if held is None:
            return False, PLACE_EMPTY_HAND
        holder = house.things.get(skill.target)
        if holder is None or agent.at != holder.id or (holder.openable and not holder.is_open):
            return False, PLACE_NOT_NEAR
        held.parent = holder.id
        held.room = holder.room
        held.pos = home.slot_position(holder, len(house.children(holder.id)) - 1, held.size_m[2])
        agent.holding = None
        return True, "Last action executed successfully and you are holding nothing."
    opening = skill.verb == "open"
    thing = house.things.get(skill.target)
    near = thing is not None and (
        agent.at == thing.id or (thing.id == "refrigerator" and agent.at == "fridge_push_point")
    )
    if not near or thing is None or thing.is_open == opening:
        return False, OPEN_INVALID if opening else CLOSE_INVALID
    thing.is_open = opening
    return (
        True,
        f"Last action executed successfully and now {_opened_name(thing.id)} is {'open' if opening else 'closed'}.",
    )


def _reachable(house: House, thing: Thing) -> bool:
    """Whether the robot stands at the receptacle holding `thing` and no closed container hides it."""
    holder = home.top_holder(house, thing.id)
    return holder is not None and holder.id == house.agent.at and not house.enclosed(thing.id)


class NoPlan(Exception):
    """The planner cannot reach the goal (a predicate it does not plan for, or a thing the scene lacks)."""


def plan(house: House, goals: Sequence[Predicate]) -> list[int]:
    """Skill ids that reach `goals` from `house` (which is left unchanged), found greedily goal by goal.

    Order: placements (`inside`, `on_top`), then `open`/`closed`, then `holding`, then `not_holding`, so a
    container opened to take something out or put something in is closed afterwards when a goal asks for it. An
    object already where a placement goal wants it is left there and not used for another placement goal.
    """
    return _Planner(house.copy()).run(goals)


class _Planner:
    def __init__(self, house: House) -> None:
        self.house = house
        self.steps: list[int] = []
        self.settled: set[str] = set()

    def run(self, goals: Sequence[Predicate]) -> list[int]:
        order = {"inside": 0, "on_top": 0, "open": 1, "closed": 1, "holding": 2, "not_holding": 3}
        for goal in sorted(goals, key=lambda goal: order.get(goal.name, 9)):
            if goal.name in ("inside", "on_top"):
                self.placement(goal)
            elif goal.name in ("open", "closed"):
                self.open_or_close(goal)
            elif goal.name == "holding":
                self.hold(goal.args[0])
            elif goal.name == "not_holding":
                self.free_hand()
            else:
                raise NoPlan(f"the rearrange planner does not plan for {goal}")
        return self.steps

    def do(self, verb: str, target: str) -> None:
        index = index_of(verb, target)
        valid, feedback = apply(self.house, SKILLS[index])
        if not valid:
            raise NoPlan(f"{SKILLS[index].text}: {feedback}")
        self.steps.append(index)

    def go(self, target: str) -> None:
        if self.house.agent.at != target:
            self.do("nav", target)

    def matching(self, pattern: Pattern, pickable: bool) -> list[Thing]:
        word = pattern.word.lower()
        return [
            thing
            for thing in self.house.things.values()
            if thing.pickable == pickable and word in (thing.type.lower(), thing.name.lower())
        ]

    def placement(self, goal: Predicate) -> None:
        receptacles = [thing for thing in self.matching(goal.args[1], pickable=False) if thing.id in home.PLACE_TARGETS]
        if not receptacles:
            raise NoPlan(f"no receptacle takes objects for {goal}")
        objects = self.matching(goal.args[0], pickable=True)
        inside = [thing for thing in objects if goal.args[1].holds_within(_fact(self.house, thing))]
        self.settled.update(thing.id for thing in inside[: goal.count])
        missing = goal.count - len(inside)
        held = self.house.agent.holding
        spare = sorted(
            (thing for thing in objects if thing not in inside and thing.id not in self.settled),
            key=lambda thing: (thing.id != held, home.NAV_TARGETS.index(self.origin(thing))),
        )
        if missing > len(spare):
            raise NoPlan(f"the scene has too few objects for {goal}")
        target = receptacles[0]
        for thing in spare[: max(0, missing)]:
            self.fetch(thing)
            self.go(target.id)
            if target.openable and not target.is_open:
                self.do("open", target.id)
            self.do("place", target.id)
            self.settled.add(thing.id)

    def origin(self, thing: Thing) -> str:
        holder = home.top_holder(self.house, thing.id)
        return holder.id if holder is not None else self.house.agent.at or home.NAV_TARGETS[0]

    def fetch(self, thing: Thing) -> None:
        """Get `thing` into the hand, putting down whatever else is held first."""
        if self.house.agent.holding == thing.id:
            return
        self.free_hand()
        holder = home.top_holder(self.house, thing.id)
        if holder is None:
            raise NoPlan(f"{thing.id} lies nowhere the robot can reach")
        self.go(holder.id)
        if holder.openable and not holder.is_open:
            self.do("open", holder.id)
        self.do("pick", thing.id)

    def hold(self, pattern: Pattern) -> None:
        if any(pattern.matches(_fact(self.house, thing)) for thing in self.held_things()):
            return
        candidates = self.matching(pattern, pickable=True)
        if not candidates:
            raise NoPlan(f"no {pattern} in the scene")
        self.fetch(candidates[0])

    def held_things(self) -> list[Thing]:
        held = self.house.held()
        return [held] if held is not None else []

    def free_hand(self) -> None:
        """Put the held object down: where the robot is when it can, else on the first free surface."""
        if self.house.agent.holding is None:
            return
        here = self.house.agent.at
        spot = self.house.things.get(here) if here else None
        if spot is None or spot.id not in home.PLACE_TARGETS or (spot.openable and not spot.is_open):
            spot = self.house.things["table_1"]
            self.go(spot.id)
        self.do("place", spot.id)

    def open_or_close(self, goal: Predicate) -> None:
        opening = goal.name == "open"
        things = [thing for thing in self.matching(goal.args[0], pickable=False) if thing.openable]
        if not things:
            raise NoPlan(f"nothing openable matches {goal}")
        if any(thing.is_open == opening for thing in things):
            return
        thing = things[0]
        self.go(thing.id)
        self.do("open" if opening else "close", thing.id)


def _fact(house: House, thing: Thing) -> Fact:
    return next(fact for fact in facts_of(house) if fact.id == thing.id)
