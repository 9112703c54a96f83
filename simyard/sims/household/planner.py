"""The `household` oracle: a plan in EB-ALFRED's skill words that meets a task's goal predicates from any state.

It reads the goals rather than a task type, so it serves generated tasks and EB-ALFRED's own (whatever house the
loader built): placements (`inside(X[states], R[, n])`, with a movable receptacle when `inside(X, M)` and
`inside(M, R)` both appear), `holding` with a lit lamp in view (look_at_obj_in_light), and lone state goals. Each
step is replayed on a copy of the engine as it is chosen, so the plan is known to work; when a choice goes wrong
(the skill picked up another instance than meant) the planner backs up and tries the next candidate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from simyard.sims.household import goals, vocab
from simyard.sims.household.alfred import Engine, episode_skills
from simyard.sims.household.goals import Pattern, Predicate
from simyard.sims.household.state import Thing
from simyard.sims.puzzles._common import OracleGaveUp

_FLAG = {"sliced": "is_sliced", "heated": "heated", "cooled": "cooled", "cleaned": "cleaned", "toggled": "is_on"}
_FLAG["open"] = "is_open"


class _Stuck(Exception):
    """A skill failed in the replay: the choice that led to it is abandoned."""


def plan(engine: Engine, predicates: Sequence[Predicate]) -> list[str]:
    """Skills that take `engine`'s state to one where every predicate holds ([] when they already do).

    Raises:
        OracleGaveUp: No candidate choice of instances reached the goal.
    """
    planner = _Planner(engine, predicates)
    planner.solve()
    return _cut_at_success(engine, predicates, planner.out)


def _cut_at_success(engine: Engine, predicates: Sequence[Predicate], steps: list[str]) -> list[str]:
    """The plan up to the first step after which every goal holds: the episode ends there."""
    replay = engine.copy()
    only = goals.subjects(predicates, replay.house)
    sees = any(pred.name == "visible" for pred in predicates)
    for index, skill in enumerate(steps):
        replay.execute(skill)
        held = [replay.house.agent.holding] if replay.house.agent.holding else []
        view = replay.view() if sees else ()
        met, total = goals.check(predicates, goals.facts_of(replay.house, view, only + held))
        if met == total:
            return steps[: index + 1]
    return steps


class _Planner:
    def __init__(self, engine: Engine, predicates: Sequence[Predicate]) -> None:
        self.sim = engine.copy()
        self.preds = list(predicates)
        self.skills = set(episode_skills(self.sim.house))
        self.out: list[str] = []

    # --- bookkeeping ---------------------------------------------------------------------------------------------
    def do(self, skill: str) -> None:
        if skill not in self.skills:
            raise _Stuck(f"{skill!r} is not a skill of this episode")
        ok, reason = self.sim.execute(skill)
        if not ok:
            raise _Stuck(f"{skill}: {reason}")
        self.out.append(skill)

    def attempt(self, action, *args) -> bool:
        """Run `action`; on failure put the replay back as it was and answer False."""
        saved, length = self.sim.copy(), len(self.out)
        try:
            action(*args)
            return True
        except _Stuck:
            self.sim, self.out[length:] = saved, []
            return False

    def holds(self, pred: Predicate) -> bool:
        house = self.sim.house
        only = goals.subjects([pred], house) + ([house.agent.holding] if house.agent.holding else [])
        return pred.holds(goals.facts_of(house, self.sim.view() if pred.name == "visible" else (), only))

    def all_hold(self) -> bool:
        return all(self.holds(pred) for pred in self.preds)

    # --- the goal ------------------------------------------------------------------------------------------------
    def solve(self) -> None:
        placements = [p for p in self.preds if p.name in ("inside", "on_top")]
        # the most demanding first: placing an Apple[heated] in R also places an Apple in R
        placements.sort(key=lambda p: (-len(p.args[0].states), -p.count))
        by_object = {p.args[0].word.lower(): p for p in placements}
        carried: set[int] = set()
        for index, pred in enumerate(placements):  # a movable receptacle: X in M and M in R
            outer = by_object.get(pred.args[1].word.lower())
            mover_type = self._type_of(pred.args[1].word)
            if outer is not None and outer is not pred and mover_type in vocab.MOVABLE_RECEPTACLES:
                carried.update({index, placements.index(outer)})
                if not (self.holds(pred) and self.holds(outer)):
                    self._require(lambda p=pred, o=outer: self.holds(p) and self.holds(o),
                                  self._movable_options(pred, outer))  # fmt: skip
        for index, pred in enumerate(placements):
            if index in carried:
                continue
            while not self.holds(pred):
                self._require(lambda p=pred, n=self._count_in(pred) + 1: self._count_in(p) >= n,
                              self._place_options(pred))  # fmt: skip
        for pred in self.preds:
            if pred.name in ("heated", "cooled", "cleaned", "sliced") and not self.holds(pred):
                self._require(lambda p=pred: self.holds(p), self._state_options(pred))
        looks = [p for p in self.preds if p.name in ("visible", "toggled")]
        for pred in self.preds:
            if pred.name == "holding" and not self.holds(pred):
                self._require(lambda p=pred: self.holds(p), self._hold_options(pred.args[0]))
        for pred in looks:
            if not self.holds(pred):
                self._require(lambda p=pred: self.holds(p), self._light_options(pred.args[0]))
        for pred in self.preds:
            if pred.name in ("open", "closed") and not self.holds(pred):
                verb = "open" if pred.name == "open" else "close"
                self._require(lambda p=pred: self.holds(p), self._switch_options(pred.args[0], verb))
            if pred.name == "not_holding" and self.sim.house.agent.holding is not None:
                self.do("drop the object in hand")
        if not self.all_hold():
            unmet = [str(p) for p in self.preds if not self.holds(p)]
            raise OracleGaveUp(f"the oracle found no plan for {', '.join(unmet)}", hint="check the task's goals")

    def _require(self, reached, options: Iterator) -> None:
        """Try each option (a callable adding skills) until `reached()` holds after it."""
        tried = 0
        for option in options:
            tried += 1
            if tried > 40:
                break
            saved, length = self.sim.copy(), len(self.out)
            try:
                option()
                if reached():
                    return
            except _Stuck:
                pass
            self.sim, self.out[length:] = saved, []
        raise OracleGaveUp("the oracle found no plan for the task's goals", hint="check the task's goals and scene")

    # --- options ---------------------------------------------------------------------------------------------
    def _place_options(self, pred: Predicate) -> Iterator:
        obj, dest = pred.args
        for thing in self._candidates(obj, exclude_in=dest):
            for target in self._receptacles(dest, thing):
                yield lambda t=thing, r=target: self._deliver(t, obj.states, r)

    def _movable_options(self, inner: Predicate, outer: Predicate) -> Iterator:
        obj, mover_pattern = inner.args
        dest = outer.args[1]
        movers = self._matching(mover_pattern)
        movers.sort(key=lambda m: (self._in(m, dest), m.id), reverse=False)
        for mover in movers:
            for thing in self._candidates(obj):
                for target in self._receptacles(dest, mover):
                    yield lambda t=thing, m=mover, r=target: self._carry_in(t, obj.states, m, r)

    def _state_options(self, pred: Predicate) -> Iterator:
        pattern = Pattern(pred.args[0].word, (*pred.args[0].states, pred.name))
        for thing in self._candidates(pattern):
            yield lambda t=thing: self._prepare(t, pattern.states)

    def _hold_options(self, pattern: Pattern) -> Iterator:
        for thing in self._candidates(pattern):
            yield lambda t=thing: self._prepare(t, pattern.states)

    def _light_options(self, pattern: Pattern) -> Iterator:
        for lamp in self._matching(Pattern(pattern.word)):
            yield lambda lamp=lamp: self._light(lamp)

    def _switch_options(self, pattern: Pattern, verb: str) -> Iterator:
        for thing in self._matching(Pattern(pattern.word)):
            yield lambda t=thing: (self._goto(t), self._reveal(t), self.do(f"{verb} the {self._word(t)}"))

    # --- procedures ------------------------------------------------------------------------------------------
    def _deliver(self, thing: Thing, states: Sequence[str], target: Thing) -> None:
        held = self._prepare(thing, states)
        self._put_in(target)
        if not self._matches_states(self.sim.house.things[held.id], states):
            raise _Stuck("the placed thing lost a state")

    def _carry_in(self, thing: Thing, states: Sequence[str], mover: Thing, target: Thing) -> None:
        self._prepare(thing, states)
        self._put_in(mover)
        self._fetch(mover)
        self._put_in(target)

    def _prepare(self, thing: Thing, states: Sequence[str]) -> Thing:
        """`thing` in hand with the states asked for (sliced first, then cleaned, heated, cooled)."""
        if "sliced" in states and not self.sim.house.things[thing.id].is_sliced:
            thing = self._slice(thing)
        held = self._fetch(thing)
        for state, procedure in (("cleaned", self._clean), ("heated", self._heat), ("cooled", self._cool)):
            if state in states and not getattr(self.sim.house.things[held.id], state):
                held = procedure(held)
        return held

    def _fetch(self, thing: Thing) -> Thing:
        """Pick up `thing` (or, when EB's pick chooses another instance, fail so another choice is tried)."""
        house = self.sim.house
        if house.agent.holding == thing.id:
            return thing
        if house.agent.holding is not None:
            self.do("drop the object in hand")
        if thing.id not in self.sim.view():
            self._goto(thing)
            self._reveal(thing)
        self.do(f"pick up the {vocab.skill_word(thing.type)}")
        if house.agent.holding != thing.id:
            raise _Stuck(f"picked up {house.agent.holding} instead of {thing.id}")
        return house.things[thing.id]

    def _goto(self, thing: Thing) -> None:
        self.do(f"find a {self._word(thing)}")

    def _reveal(self, thing: Thing) -> None:
        """Open the closed receptacles around `thing`, outermost first."""
        closed = [h for h in self.sim.house.ancestors(thing.id) if h.openable and not h.is_open]
        for holder in reversed(closed):
            self.do(f"open the {self._word(holder)}")

    def _put_in(self, target: Thing) -> None:
        if self.sim.found != target.id:
            self._goto(target)
        self._reveal(target)
        live = self.sim.house.things[target.id]
        if live.openable and not live.is_open:
            self.do(f"open the {self._word(live)}")
        self.do("put down the object in hand")

    def _slice(self, thing: Thing) -> Thing:
        house = self.sim.house
        knives = [t for t in house.things.values() if t.type in vocab.SLICING_TOOLS]
        knives.sort(key=lambda k: (k.type != "Knife", house.enclosed(k.id), k.id))
        for knife in knives:
            if self.attempt(self._cut, knife, thing):
                return self.sim.house.things[thing.id]
        raise _Stuck(f"could not slice {thing.id}")

    def _cut(self, knife: Thing, thing: Thing) -> None:
        self._fetch(knife)
        self._goto(thing)
        self._reveal(thing)
        self.do(f"slice the {vocab.skill_word(thing.type)}")
        if not self.sim.house.things[thing.id].is_sliced:
            raise _Stuck(f"sliced another {thing.type}")
        self.do("drop the object in hand")

    def _heat(self, held: Thing) -> Thing:
        for oven in self._matching(Pattern("Microwave")):
            if self.attempt(self._cycle, held, oven, "heat"):
                return self.sim.house.things[held.id]
        raise _Stuck("no microwave heats it")

    def _cool(self, held: Thing) -> Thing:
        for fridge in self._matching(Pattern("Fridge")):
            if self.attempt(self._cycle, held, fridge, "cool"):
                return self.sim.house.things[held.id]
        raise _Stuck("no fridge cools it")

    def _cycle(self, held: Thing, box: Thing, how: str) -> None:
        """Put `held` into a microwave or fridge, run it, and take it out again (ALFRED's expert steps)."""
        word = self._word(box)
        self._goto(box)
        if self.sim.house.things[box.id].is_on:
            self.do(f"turn off the {word}")
        if not self.sim.house.things[box.id].is_open:
            self.do(f"open the {word}")
        self.do("put down the object in hand")
        self.do(f"close the {word}")
        if how == "heat":
            self.do(f"turn on the {word}")
            self.do(f"turn off the {word}")
        self.do(f"open the {word}")
        self._take_back(held)
        self.do(f"close the {word}")

    def _clean(self, held: Thing) -> Thing:
        for basin in self._matching(Pattern("SinkBasin")):
            if self.attempt(self._rinse, held, basin, False) or self.attempt(self._rinse, held, basin, True):
                return self.sim.house.things[held.id]
        raise _Stuck("no sink cleans it")

    def _rinse(self, held: Thing, basin: Thing, walk_to_faucet: bool) -> None:
        self._put_in(basin)
        if walk_to_faucet:
            self.do("find a Faucet")
        self.do("turn on the Faucet")
        self.do("turn off the Faucet")
        if walk_to_faucet:
            self._goto(basin)
        self._take_back(held)
        if not self.sim.house.things[held.id].cleaned:
            raise _Stuck("the faucet cleaned another basin")

    def _take_back(self, held: Thing) -> None:
        self.do(f"pick up the {vocab.skill_word(held.type)}")
        if self.sim.house.agent.holding != held.id:
            raise _Stuck("took back another instance")

    def _light(self, lamp: Thing) -> None:
        self._goto(lamp)
        if not self.sim.house.things[lamp.id].is_on:
            self.do(f"turn on the {vocab.skill_word(lamp.type)}")

    # --- choosing things -------------------------------------------------------------------------------------
    def _matching(self, pattern: Pattern) -> list[Thing]:
        word = pattern.word.lower()
        found = [t for t in self.sim.house.things.values() if word in (t.type.lower(), t.name.lower())]
        if not found and word in (w.lower() for w in vocab.SKILL_ALIASES):
            alias = vocab.thing_word(pattern.word).lower()
            found = [t for t in self.sim.house.things.values() if t.type.lower() == alias]
        return sorted(found, key=lambda t: (t.name != t.type, t.id))

    def _candidates(self, pattern: Pattern, exclude_in: Pattern | None = None) -> list[Thing]:
        """Things that could become the pattern's thing: held first, then ones with its states, then the rest."""
        house = self.sim.house
        things = [t for t in self._matching(Pattern(pattern.word)) if t.pickable]
        if exclude_in is not None:  # a thing already counted towards the goal stays where it is
            things = [t for t in things if not (self._in(t, exclude_in) and self._pattern_fits(t, pattern))]
        return sorted(
            things,
            key=lambda t: (
                house.agent.holding != t.id,
                -sum(bool(getattr(t, _FLAG[s], False)) for s in pattern.states if s in _FLAG),
                house.enclosed(t.id),
                t.id,
            ),
        )

    def _receptacles(self, pattern: Pattern, thing: Thing) -> list[Thing]:
        accept = [
            r
            for r in self._matching(pattern)
            if r.receptacle and r.id != thing.id and vocab.properties(r.type).accepts(thing.type)
        ]
        accept.sort(key=lambda r: (self.sim.house.enclosed(r.id), r.name != r.type, r.id))
        return accept

    def _in(self, thing: Thing, pattern: Pattern) -> bool:
        word = pattern.word.lower()
        return any(word in (h.type.lower(), h.name.lower()) for h in self.sim.house.ancestors(thing.id))

    def _count_in(self, pred: Predicate) -> int:
        obj, dest = pred.args
        return sum(1 for t in self.sim.house.things.values() if self._pattern_fits(t, obj) and self._in(t, dest))

    def _pattern_fits(self, thing: Thing, pattern: Pattern) -> bool:
        word = pattern.word.lower()
        return word in (thing.type.lower(), thing.name.lower()) and self._matches_states(thing, pattern.states)

    def _matches_states(self, thing: Thing, states: Sequence[str]) -> bool:
        for state in states:
            if state == "held":
                if self.sim.house.agent.holding != thing.id:
                    return False
            elif not getattr(thing, _FLAG[state]):
                return False
        return True

    def _type_of(self, word: str) -> str:
        thing = self.sim.house.by_name(word)
        return thing.type if thing is not None else vocab.thing_word(word)

    def _word(self, thing: Thing) -> str:
        return vocab.skill_word(self.sim.house.things[thing.id].name)
