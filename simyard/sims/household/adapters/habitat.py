"""EB-Habitat's skills and goals on Habitat (habitat-sim + habitat-lab), as far as the public sources fix them.

EB-Habitat hands Habitat one integer per step: the index of a grounded high-level PDDL action
(`pddl_hl_action`, restricted to nav, pick, place, open_fridge, close_fridge, open_cab_by_name,
close_cab_by_name), the same index its skill list shows the model, 0-69. So a skill maps to Habitat by its id in
`rearrange_skills.SKILL_NAMES`, and to the PDDL action it grounds by its verb and arguments (`hl_action`).

Habitat reports state as PDDL predicates over its entities (`on_top(apple_0, table_1)`, `in(apple_0, fridge)`,
`holding(apple_0)`, `opened_fridge(fridge)`, `closed_cab(cabinet_5)`, `robot_at(table_1)`); `facts_from_predicates`
turns the true ones into goal `Fact`s, so the `rearrange` world's goals (`on_top(apple, table_1)`) are checked by
the same checker. Entity names differ between Habitat's ReplicaCAD datasets and ours; `entity_names` maps them
(default: strip Habitat's instance suffixes `_0`, `|0`, `_:0000`). What EB-Habitat does around the simulator
(its dataset pickles, episode iteration, observation keys) is outside this module; see docs/eb-alfred-data.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from simyard.platform.errors import MissingExtraError, SimyardError
from simyard.sims.household import goals
from simyard.sims.household.goals import Fact
from simyard.sims.household.rearrange_skills import SKILL_NAMES, SKILLS

#: Habitat's PDDL action for each skill verb (the refrigerator and the cabinets have actions of their own).
PDDL_ACTIONS = {"nav": "nav", "pick": "pick", "place": "place"}


@dataclass(frozen=True)
class HlAction:
    """One skill as Habitat sees it: the discrete id EB-Habitat steps with, and the PDDL action it grounds."""

    index: int
    name: str
    args: tuple[str, ...]

    @property
    def step(self) -> dict[str, Any]:
        """The gym-style action EB-Habitat sends (`env.step(...)` on its wrapped environment)."""
        return {"action": "pddl_hl_action", "action_args": {"pddl_action": self.index}}


def hl_action(skill: int | str) -> HlAction:
    """A skill (its id or its exact text) as Habitat's high-level action; an unknown skill is a SimyardError."""
    if isinstance(skill, str):
        text = " ".join(skill.strip().rstrip(".").split())
        index = next((i for i, name in enumerate(SKILL_NAMES) if name.lower() == text.lower()), None)
    else:
        index = int(skill) if 0 <= int(skill) < len(SKILLS) else None
    if index is None:
        raise SimyardError(f"{skill!r} is not one of EB-Habitat's {len(SKILLS)} skills",
                           hint="see simyard.sims.household.rearrange_skills.SKILL_NAMES")
    verb, target = SKILLS[index].verb, SKILLS[index].target
    if verb in PDDL_ACTIONS:
        # pick names the object, place the receptacle (Habitat grounds the held object itself), nav either
        return HlAction(index, PDDL_ACTIONS[verb], (target,))
    thing = "fridge" if target == "refrigerator" else "cab_by_name"
    return HlAction(index, f"{verb}_{thing}", (target,))


_PREDICATE = re.compile(r"^\s*([a-z_]+)\s*\(([^)]*)\)\s*$")
_SUFFIX = re.compile(r"(?:_:\d+|\|\d+|_\d+)$")


def entity_word(name: str, entity_names: Mapping[str, str] | None = None) -> str:
    """Our id for a Habitat entity: from `entity_names`, else the name without its instance suffix."""
    word = name.strip()
    if entity_names and word in entity_names:
        return entity_names[word]
    return word if word in _KNOWN else _SUFFIX.sub("", word)


#: Ids the `rearrange` world uses that end like an instance suffix but are names (`table_1`, `cabinet_5`).
_KNOWN = frozenset({"table_1", "table_2", "chair_1", "cabinet_4", "cabinet_5", "cabinet_6", "cabinet_7"})


def facts_from_predicates(true_predicates: Iterable[str], entity_names: Mapping[str, str] | None = None,
                          types: Mapping[str, str] | None = None) -> list[Fact]:
    """The true predicates of a Habitat state as goal facts.

    `on_top(X, R)` and `in(X, R)`/`inside(X, R)` make R hold X; `holding(X)` marks X held; `opened_fridge(F)`,
    `opened_cab(C)` open and `closed_*` shut a receptacle; `robot_at(R)` is kept as R in view. `types` gives each
    id's class (`table_1` -> `table`) for goals that name a class; by default an id's class is the id without a
    trailing number.
    """
    parent: dict[str, str] = {}
    held: set[str] = set()
    opened: set[str] = set()
    seen: set[str] = set()
    at: set[str] = set()
    for text in true_predicates:
        match = _PREDICATE.match(text)
        if not match:
            raise SimyardError(f"{text!r} is not a PDDL predicate", hint="e.g. on_top(apple_0, table_1)")
        name = match.group(1)
        args = [entity_word(a, entity_names) for a in match.group(2).split(",") if a.strip()]
        seen.update(args)
        if name in ("on_top", "in", "inside") and len(args) == 2:
            parent[args[0]] = args[1]
        elif name == "holding" and args:
            held.add(args[0])
        elif name.startswith("opened") and args:
            opened.add(args[0])
        elif name == "robot_at" and args:
            at.add(args[0])
    facts = []
    for thing in sorted(seen):
        chain: list[str] = []
        holder = parent.get(thing)
        while holder is not None and holder not in chain and holder != thing:
            chain.append(holder)
            holder = parent.get(holder)
        facts.append(Fact(
            id=thing,
            type=_type_of(thing, types),
            name=thing,
            parents=tuple(chain),
            parent_names=tuple(chain),
            parent_types=tuple(_type_of(c, types) for c in chain),
            is_open=thing in opened,
            held=thing in held,
            visible=thing in at,
        ))
    return facts


def _type_of(thing: str, types: Mapping[str, str] | None) -> str:
    if types and thing in types:
        return types[thing]
    return re.sub(r"_\d+$", "", thing)


def progress(goal_texts: Iterable[str], true_predicates: Iterable[str],
             entity_names: Mapping[str, str] | None = None, types: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(conditions met, total) of the `rearrange` world's goal predicates on a Habitat state."""
    return goals.check(goals.parse_all(goal_texts), facts_from_predicates(true_predicates, entity_names, types))


class HabitatRearrange:
    """A habitat-lab environment stepped with EB-Habitat's skills (ids or texts).

    `env` is a habitat-lab `Env`/`RLEnv` built from EB-Habitat's config (`config/task/*.yaml`, dataset
    `LangRearrangeDataset-v0`); its action space is the discrete `pddl_hl_action`. Habitat is not on PyPI for our
    Python: install habitat-sim from conda (`aihabitat` channel) and habitat-lab as EmbodiedBench pins it.
    """

    def __init__(self, env: Any) -> None:
        try:
            import habitat  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError(
                "habitat-lab is not installed",
                hint="install habitat-sim from conda (conda install habitat-sim -c aihabitat) and habitat-lab",
            ) from exc
        self.env = env

    def execute(self, skill: int | str) -> Any:
        """Step the environment with one skill; returns whatever the environment's step returns."""
        return self.env.step(hl_action(skill).step)
