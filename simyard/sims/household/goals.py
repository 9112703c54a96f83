"""Goals as explicit predicates, and the one checker that the embedded engine and the simulator adapters share.

ALFRED leaves a task's goal implicit in its task type and PDDL parameters, checked by per-type Python classes; here
a goal is a list of predicates written as text (`inside(Apple, Fridge)`, `heated(Apple)`), checked on `Fact`s. The
embedded engine turns its `House` into facts (`facts_of`), and an adapter turns a simulator's metadata into the
same facts, so a goal means the same wherever it runs.

Grammar: `name(arg, ...)`. An argument names things by type (`Apple`) or instance (`Cabinet_2`), optionally with
required states in brackets (`Apple[sliced,heated]`: some Apple that is both sliced and heated). `inside` and
`on_top` take an optional count (`inside(Apple, Fridge, 2)`: two different Apples). Predicates:

| predicate                  | holds when                                                           |
|----------------------------|----------------------------------------------------------------------|
| `inside(X, R[, n])`        | n different things matching X are in or on a thing matching R (at any depth) |
| `on_top(X, R[, n])`        | the same as `inside` (ALFRED does not tell in from on); kept for readable goals |
| `holding(X)`               | the agent holds a thing matching X                                   |
| `not_holding()`            | the agent's hand is empty                                            |
| `heated(X)`, `cooled(X)`, `cleaned(X)`, `sliced(X)` | some thing matching X has that state          |
| `toggled(X)`               | some thing matching X is turned on                                   |
| `open(X)`, `closed(X)`     | some thing matching X is open / closed                               |
| `visible(X)`               | some thing matching X is in the agent's view                         |
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simyard.platform.errors import TaskFileError
from simyard.sims.household.state import House

#: Object states an argument may require in brackets, and the `Fact` field each reads.
STATES = {
    "sliced": "sliced",
    "heated": "heated",
    "cooled": "cooled",
    "cleaned": "cleaned",
    "toggled": "is_on",
    "open": "is_open",
    "held": "held",
}

_ARITY = {
    "inside": (2, 3),
    "on_top": (2, 3),
    "holding": (1, 1),
    "not_holding": (0, 0),
    "heated": (1, 1),
    "cooled": (1, 1),
    "cleaned": (1, 1),
    "sliced": (1, 1),
    "toggled": (1, 1),
    "open": (1, 1),
    "closed": (1, 1),
    "visible": (1, 1),
}

_PREDICATE = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")
_ARGUMENT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\[\s*([a-z_,\s]*)\])?\s*$")


@dataclass(frozen=True)
class Fact:
    """What the checker needs to know about one thing, from whichever engine runs the world.

    `parents` lists the ids of every receptacle holding the thing, innermost first; `parent_names` and
    `parent_types` the same receptacles' names and types, so arguments can match either.
    """

    id: str
    type: str
    name: str
    parents: tuple[str, ...] = ()
    parent_names: tuple[str, ...] = ()
    parent_types: tuple[str, ...] = ()
    is_on: bool = False
    is_open: bool = False
    sliced: bool = False
    heated: bool = False
    cooled: bool = False
    cleaned: bool = False
    held: bool = False
    visible: bool = False


@dataclass(frozen=True)
class Pattern:
    """An argument: a type or instance name, plus the states the thing must have."""

    word: str
    states: tuple[str, ...] = ()

    def matches(self, fact: Fact) -> bool:
        word = self.word.lower()
        if word != fact.type.lower() and word != fact.name.lower():
            return False
        return all(getattr(fact, STATES[state]) for state in self.states)

    def holds_within(self, fact: Fact) -> bool:
        """Whether `fact` is in or on a thing this pattern names (states are not checked on receptacles)."""
        word = self.word.lower()
        return any(
            word in (name.lower(), type_.lower())
            for name, type_ in zip(fact.parent_names, fact.parent_types, strict=False)
        )

    def __str__(self) -> str:
        return f"{self.word}[{','.join(self.states)}]" if self.states else self.word


@dataclass(frozen=True)
class Predicate:
    """One goal condition, parsed from its text form."""

    name: str
    args: tuple[Pattern, ...] = ()
    count: int = 1

    def holds(self, facts: Sequence[Fact]) -> bool:
        name, args = self.name, self.args
        if name in ("inside", "on_top"):
            found = {fact.id for fact in facts if args[0].matches(fact) and args[1].holds_within(fact)}
            return len(found) >= self.count
        if name == "not_holding":
            return not any(fact.held for fact in facts)
        field = {
            "holding": "held",
            "heated": "heated",
            "cooled": "cooled",
            "cleaned": "cleaned",
            "sliced": "sliced",
            "toggled": "is_on",
            "open": "is_open",
            "visible": "visible",
        }.get(name)
        if field is not None:
            return any(args[0].matches(fact) and getattr(fact, field) for fact in facts)
        if name == "closed":
            return any(args[0].matches(fact) and not fact.is_open for fact in facts)
        raise AssertionError(f"unchecked predicate {name}")  # parse() admits only the names above

    def __str__(self) -> str:
        parts = [str(arg) for arg in self.args]
        if self.count != 1:
            parts.append(str(self.count))
        return f"{self.name}({', '.join(parts)})"


def parse(text: str) -> Predicate:
    """A predicate from its text form; a TaskFileError says what is wrong and what is accepted."""
    match = _PREDICATE.match(text)
    if not match or match.group(1) not in _ARITY:
        raise TaskFileError(
            f"goal {text!r} is not a predicate",
            hint=f"write name(arg, ...) with a name among {', '.join(sorted(_ARITY))}",
        )
    name, inner = match.group(1), match.group(2).strip()
    raw = [part.strip() for part in _split_args(inner)] if inner else []
    count = 1
    if name in ("inside", "on_top") and len(raw) == 3:
        if not raw[2].isdigit() or int(raw[2]) < 1:
            raise TaskFileError(
                f"goal {text!r}: the count must be a whole number of at least 1", hint="e.g. inside(Apple, Fridge, 2)"
            )
        count = int(raw.pop())
    low, high = _ARITY[name]
    if not low <= len(raw) <= high or (name in ("inside", "on_top") and len(raw) != 2):
        want = "no arguments" if high == 0 else f"{low} argument{'s' if low > 1 else ''}"
        raise TaskFileError(f"goal {text!r}: {name} takes {want}", hint="see simyard.sims.household.goals")
    return Predicate(name, tuple(_pattern(arg, text) for arg in raw), count)


def parse_all(texts: Iterable[str]) -> tuple[Predicate, ...]:
    return tuple(parse(text) for text in texts)


def check(goals: Sequence[Predicate], facts: Sequence[Fact]) -> tuple[int, int]:
    """(conditions met, total): success is met == total, progress is met / total (EB-ALFRED's task_progress)."""
    return sum(goal.holds(facts) for goal in goals), len(goals)


def facts_of(house: House, visible: Iterable[str] = (), only: Iterable[str] | None = None) -> list[Fact]:
    """The embedded engine's state as facts; `visible` holds the ids of things in the agent's view.

    `only` limits the facts to those ids (a world checking the same goals every step needs only the things the
    goals' first arguments name; see `subjects`).
    """
    in_view = set(visible)
    facts = []
    things = house.things.values() if only is None else [house.things[i] for i in only if i in house.things]
    for thing in things:
        holders = list(house.ancestors(thing.id))
        facts.append(
            Fact(
                id=thing.id,
                type=thing.type,
                name=thing.name,
                parents=tuple(h.id for h in holders),
                parent_names=tuple(h.name for h in holders),
                parent_types=tuple(h.type for h in holders),
                is_on=thing.is_on,
                is_open=thing.is_open,
                sliced=thing.is_sliced,
                heated=thing.heated,
                cooled=thing.cooled,
                cleaned=thing.cleaned,
                held=house.agent.holding == thing.id,
                visible=thing.id in in_view,
            )
        )
    return facts


def subjects(goals: Sequence[Predicate], house: House) -> list[str]:
    """Ids of the things whose facts decide `goals` (those their first arguments name), for `facts_of(only=...)`.

    Types and names do not change in an episode, so a world computes this once; `not_holding()` names no thing, so
    a caller with that goal adds the held thing's id.
    """
    words = {goal.args[0].word.lower() for goal in goals if goal.args}
    return [t.id for t in house.things.values() if t.type.lower() in words or t.name.lower() in words]


def _split_args(inner: str) -> list[str]:
    """Split on commas outside brackets (`Apple[sliced,heated], Fridge`)."""
    parts, depth, current = [], 0, ""
    for char in inner:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _pattern(raw: str, text: str) -> Pattern:
    match = _ARGUMENT.match(raw)
    if not match:
        raise TaskFileError(
            f"goal {text!r}: {raw!r} is not a thing's type or name", hint="e.g. Apple, Cabinet_2 or Apple[sliced]"
        )
    states = tuple(part.strip() for part in (match.group(2) or "").split(",") if part.strip())
    unknown = [state for state in states if state not in STATES]
    if unknown:
        raise TaskFileError(f"goal {text!r}: unknown state {unknown[0]!r}", hint=f"states: {', '.join(STATES)}")
    return Pattern(match.group(1), states)
