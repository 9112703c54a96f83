"""`household`: EB-ALFRED's world on the embedded engine: its skills, ALFRED's state rules, and the `Env`.

The skills act on a `House` through an `Engine` (a house plus what EB-ALFRED remembers between skills), which the
oracle replays on a copy. Preconditions and messages follow EmbodiedBench's `ThorConnector` (v0) and `EBAlfEnv`:

* `find a X` goes to X (the first instance for a type word, the named one for `X_2`), always succeeds when X
  exists, and remembers X as the receptacle for the next `put down`;
* `pick up the X` takes the nearest X, preferring one in view (and, after a slice, a sliced one); one hidden in a
  closed receptacle or elsewhere is not in view;
* `put down the object in hand` puts it in or on the last found thing; the third put there that fails drops it;
* `open`, `close`, `turn on`, `turn off`, `slice` need the thing in view; slicing needs a knife in hand.

ALFRED's state rules (`ThorEnv`): turning a Faucet on cleans what is in its sink basin, turning a Microwave on heats
what is inside it, closing a Fridge cools what is inside it. A Microwave must be closed to turn on and off to open,
as in AI2-THOR.

The world (`HouseholdEnv`): a task (`HouseholdConfig`) names a generated home (`scene_seed`) or carries one
(`scene`, from EB-ALFRED's data), and its goals as predicates. The choice list is EB's 162 global skills plus this
home's instance skills; a step takes an id or a skill's text. Feedback is EB's ("Last action executed
successfully." / "Last action is invalid. <reason>"); an unknown skill or id is invalid too, never an exception.
`info` carries `success`, `progress` (goal conditions met / total) and EB's `task_success`, `task_progress`,
`env_feedback`, `last_action_success`, `env_step`, `object_states`. An episode ends on success, after 30 steps or
after 10 invalid actions (the task's `max_steps`, `max_invalid`). The text observation says where the agent is, what
is in view and in hand; pictures (MuJoCo, `scene.py`) are on unless `render="none"`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.sims.household import goals, homes, prompts, vocab
from simyard.sims.household.state import House, Thing
from simyard.sims.household.taskconfig import HouseholdConfig
from simyard.sims.mjrender import picture_options
from simyard.sims.puzzles._common import Choices, read_config

SUCCESS = "Last action executed successfully."
INVALID = "Last action is invalid. "
#: How far in front of a thing `find` puts the agent (metres beyond the thing's front).
STAND_OFF_M = 0.6
_EYE_M = 1.5
#: How near a switchable fitting (a faucet) must be to the thing the agent is at to be in view.
_BESIDE_M = 0.6

_PREFIXES = (
    ("find a ", "find"),
    ("find an ", "find"),
    ("pick up the ", "pick"),
    ("open the ", "open"),
    ("close the ", "close"),
    ("turn on the ", "on"),
    ("turn off the ", "off"),
    ("slice the ", "slice"),
)


@dataclass
class Engine:
    """A house plus what EB-ALFRED remembers between skills: the last found thing and the puts tried on it."""

    house: House
    found: str | None = None
    put_counts: dict[str, int] = field(default_factory=dict)
    sliced_any: bool = False
    #: Where the agent stands: the outermost holder of what it last found (picking that up does not move it).
    spot: str | None = None

    def copy(self) -> Engine:
        """An independent copy; things hold only immutable values, so copying each one shallowly is enough."""
        house = self.house
        twin = House(
            rooms=list(house.rooms),
            things={key: _twin(thing) for key, thing in house.things.items()},
            agent=copy.copy(house.agent),
        )
        return Engine(twin, self.found, dict(self.put_counts), self.sliced_any, self.spot)

    # --- what the agent sees -------------------------------------------------------------------------------------
    def view(self) -> set[str]:
        """Ids in view: where the agent stands (the outermost holder of what it last found) with what is on or in
        it through open or lidless receptacles, a switchable fitting beside it, and what the agent holds."""
        house = self.house
        children: dict[str, list[str]] = {}
        for thing in house.things.values():
            if thing.parent is not None:
                children.setdefault(thing.parent, []).append(thing.id)
        seen: set[str] = set()
        roots = []
        spot = self.spot if self.spot is not None else house.agent.at
        if spot is not None and spot in house.things:
            for holder in house.ancestors(spot):
                spot = holder.id
            roots.append(spot)
        if house.agent.holding is not None:
            roots.append(house.agent.holding)
        if roots and spot is not None:
            # a fitting beside the thing the agent stands at (the faucet of a sink) is in reach, as in THOR's 1.5 m
            rx, ry, _ = house.things[roots[0]].pos
            for thing in house.things.values():
                if thing.toggleable and not thing.pickable and thing.parent is None:
                    if abs(thing.pos[0] - rx) <= _BESIDE_M and abs(thing.pos[1] - ry) <= _BESIDE_M:
                        roots.append(thing.id)
        stack = roots
        while stack:
            thing_id = stack.pop()
            if thing_id in seen:
                continue
            seen.add(thing_id)
            thing = house.things[thing_id]
            if thing.openable and not thing.is_open and thing.receptacle:
                continue
            stack.extend(children.get(thing_id, ()))
        return seen

    # --- naming --------------------------------------------------------------------------------------------------
    def named(self, word: str) -> Thing | None:
        """The thing a skill word names: an instance (`Cabinet_2`), or a type's first instance (`Cabinet`)."""
        house = self.house
        return house.by_name(vocab.thing_word(word)) or house.by_name(word)

    def nearest(self, word: str, *, pickable: bool = False, toggleable: bool = False, prefer_view: bool = False):
        """EB's choice among things of a type: the nearest, closed receptacles' contents last (and with
        `prefer_view`, things out of view after those in view)."""
        if any(char.isdigit() for char in word):
            return self.named(word)
        wanted = vocab.thing_word(word).lower()
        house = self.house
        view = self.view() if prefer_view else set()
        x, y, _ = house.agent.pose
        best, best_score = None, math.inf
        for thing in house.things.values():
            if thing.type.lower() != wanted and thing.type.lower() != word.lower():
                continue
            if (pickable and not thing.pickable) or (toggleable and not thing.toggleable):
                continue
            score = math.hypot(thing.pos[0] - x, thing.pos[1] - y)
            if house.enclosed(thing.id):
                score += 100000
            if prefer_view and thing.id not in view:
                score += 1000
            if self.sliced_any and pickable and thing.is_sliced:
                score -= 100
            if score < best_score:
                best, best_score = thing, score
        return best

    # --- the skills ----------------------------------------------------------------------------------------------
    def execute(self, skill: str) -> tuple[bool, str]:
        """Run one skill; (success, EB's reason when it failed, '' when it worked)."""
        text = skill.strip()
        if text.endswith("."):
            text = text[:-1]
        if text.startswith("put down"):
            return self._put_down()
        if text.startswith("drop"):
            return self._drop()
        for prefix, verb in _PREFIXES:
            if text.startswith(prefix):
                word = text[len(prefix) :].strip()
                return getattr(self, f"_{verb}")(word)
        return False, "instruction not supported"

    def _find(self, word: str) -> tuple[bool, str]:
        thing = self.named(word)
        if thing is None:
            return False, (
                f"Cannot find {word}. This object may not exist in this scene. Try to explore other instances instead."
            )
        self.found = thing.id
        self.house.agent.at = thing.id
        self.spot = thing.id
        for holder in self.house.ancestors(thing.id):
            self.spot = holder.id
        self.house.agent.pose, self.house.agent.horizon_deg = self._pose_facing(thing)
        return True, ""

    def _pick(self, word: str) -> tuple[bool, str]:
        thing = self.nearest(word, pickable=True, prefer_view=True)
        if thing is None:
            return False, f"Cannot find {word} to pick up. Find the object before picking up it"
        house = self.house
        if thing.id not in self.view() or house.agent.holding == thing.id:
            if thing.parent is not None:
                holder = house.things[thing.parent]
                return False, (
                    f"{word} is not visible because it is in {vocab.skill_word(holder.name)}. "
                    "Go there to pick the object instead."
                )
            if house.agent.holding is None:
                return False, "Robot is not holding any object"
        if house.agent.holding is not None:
            return False, f"Robot is currently holding {house.things[house.agent.holding].type}"
        thing.parent = None
        house.agent.holding = thing.id
        return True, ""

    def _put_down(self) -> tuple[bool, str]:
        if self.found is None or self.found not in self.house.things:
            return self._drop()
        self.put_counts[self.found] = self.put_counts.get(self.found, 0) + 1
        ok, message = self._put(self.house.things[self.found])
        if not ok and self.put_counts[self.found] >= 3:
            # EB-ALFRED drops the object after 3 failed puts on one receptacle; keep that rule so scores compare
            self._drop()
            message += ". The robot dropped the object instead."
        return ok, message

    def _put(self, target: Thing) -> tuple[bool, str]:
        house = self.house
        held = house.held()
        if held is None:
            return False, "Robot is not holding any object"
        failed = (
            f"Putting the object on {vocab.skill_word(target.type)} failed. "
            "First check the receptacle is open or not. Also try other instances of the receptacle"
        )
        if (
            not target.receptacle
            or (target.openable and not target.is_open)
            or house.enclosed(target.id)
            or target.id == held.id
            or any(holder.id == held.id for holder in house.ancestors(target.id))
            or not vocab.properties(target.type).accepts(held.type)
        ):
            return False, failed
        held.parent = target.id
        held.pos = self._spot_on(target, held)
        house.agent.holding = None
        return True, ""

    def _drop(self) -> tuple[bool, str]:
        house = self.house
        held = house.held()
        if held is None:
            return False, "Robot is not holding any object"
        x, y, yaw = house.agent.pose
        held.parent = None
        held.pos = (
            round(x + 0.4 * math.cos(math.radians(yaw)), 3),
            round(y + 0.4 * math.sin(math.radians(yaw)), 3),
            round(held.size_m[2] / 2, 3),
        )
        house.agent.holding = None
        return True, ""

    def _open(self, word: str) -> tuple[bool, str]:
        thing = self.named(word)
        if thing is None:
            return False, f"Cannot find {word} to open. Find the object before opening it"
        if thing.openable and thing.is_open:
            return False, f"Open action failed. The {thing.type} is already open"
        if not thing.openable or thing.id not in self.view() or thing.is_on:
            return False, "Open action failed."
        thing.is_open = True
        return True, ""

    def _close(self, word: str) -> tuple[bool, str]:
        thing = self.named(word)
        if thing is None:
            return False, f"Cannot find {word} to close"
        if thing.openable and not thing.is_open:
            return False, f"Close action failed. The {thing.type} is already closed"
        if not thing.openable or thing.id not in self.view():
            return False, "Close action failed"
        thing.is_open = False
        if thing.type == "Fridge":  # ALFRED: closing a fridge cools what is in it
            for inner in self._inside(thing.id):
                inner.cooled = True
        return True, ""

    def _on(self, word: str) -> tuple[bool, str]:
        thing = self.nearest(word, toggleable=True)
        if thing is None:
            return False, f"Cannot find {word} to turn on"
        if thing.is_on or thing.id not in self.view() or (thing.openable and thing.is_open):
            return False, "Turn on action failed"
        thing.is_on = True
        if thing.type == "Microwave":  # ALFRED: turning a microwave on heats what is in it
            for inner in self._inside(thing.id):
                inner.heated = True
        elif thing.type == "Faucet":  # ALFRED: turning a faucet on cleans what is in the nearest sink basin
            basin = self._basin_of(thing)
            for inner in self._inside(basin.id) if basin else ():
                inner.cleaned = True
                inner.is_dirty = False
        return True, ""

    def _off(self, word: str) -> tuple[bool, str]:
        thing = self.nearest(word, toggleable=True)
        if thing is None:
            return False, f"Cannot find {word} to turn off"
        if not thing.is_on or thing.id not in self.view():
            return False, "Turn off action failed"
        thing.is_on = False
        return True, ""

    def _slice(self, word: str) -> tuple[bool, str]:
        thing = self.nearest(word)
        if thing is None:
            return False, f"Cannot find {word} to slice"
        held = self.house.held()
        if (
            not thing.sliceable
            or thing.is_sliced
            or held is None
            or held.type not in vocab.SLICING_TOOLS
            or thing.id == held.id
            or thing.id not in self.view()
        ):
            return False, "Slice action failed"
        thing.is_sliced = True
        self.sliced_any = True
        return True, ""

    # --- helpers -------------------------------------------------------------------------------------------------
    def _inside(self, thing_id: str) -> list[Thing]:
        """Everything in or on `thing_id`, at any depth."""
        return [t for t in self.house.things.values() if any(h.id == thing_id for h in self.house.ancestors(t.id))]

    def _basin_of(self, faucet: Thing) -> Thing | None:
        basins = self.house.of_type("SinkBasin")
        fx, fy, _ = faucet.pos
        return min(basins, key=lambda b: (math.hypot(b.pos[0] - fx, b.pos[1] - fy), b.id), default=None)

    def _pose_facing(self, thing: Thing) -> tuple[tuple[float, float, float], float]:
        """Where `find` puts the agent: in front of the thing's outermost holder, looking at the thing."""
        anchor = thing
        for holder in self.house.ancestors(thing.id):
            anchor = holder
        ax, ay, _ = anchor.pos
        tx, ty, tz = thing.pos
        if anchor.pickable and anchor.parent is None:  # on the floor: stand off towards the room's middle
            room = next((r for r in self.house.rooms if r.name == anchor.room), None)
            cx, cy = ((room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2) if room else (ax + 1.0, ay)
            norm = math.hypot(cx - ax, cy - ay) or 1.0
            fx, fy = (cx - ax) / norm, (cy - ay) / norm
            reach = 0.7
            x, y = ax + fx * reach, ay + fy * reach
        else:  # in front of the holder's face, straight before the thing, so it is the nearest of its kind
            fx, fy = math.cos(math.radians(anchor.yaw_deg)), math.sin(math.radians(anchor.yaw_deg))
            front = (ax - tx) * fx + (ay - ty) * fy + anchor.size_m[1] / 2
            x, y = tx + fx * (front + STAND_OFF_M), ty + fy * (front + STAND_OFF_M)
        yaw = math.degrees(math.atan2(ty - y, tx - x))
        horizon = math.degrees(math.atan2(_EYE_M - tz, max(math.hypot(tx - x, ty - y), 0.1)))
        return (round(x, 3), round(y, 3), round(yaw, 2)), round(horizon, 2)

    def _spot_on(self, target: Thing, thing: Thing) -> tuple[float, float, float]:
        """A place in or on `target` for `thing`, stepping round its middle as more things arrive."""
        index = sum(1 for t in self.house.things.values() if t.parent == target.id and t.id != thing.id)
        angle = index * 2.4
        radius = 0.0 if index == 0 else min(target.size_m[0], target.size_m[1]) * 0.3
        x, y, z = target.pos
        inside = target.openable or target.type in ("SinkBasin", "BathtubBasin", "GarbageCan", "LaundryHamper")
        base = z - target.size_m[2] / 2 + 0.05 if inside else z + target.size_m[2] / 2
        return (
            round(x + radius * math.cos(angle), 3),
            round(y + radius * math.sin(angle), 3),
            round(base + thing.size_m[2] / 2, 3),
        )


# --- the world ---------------------------------------------------------------------------------------------------


def episode_skills(house: House) -> tuple[str, ...]:
    """EB-ALFRED's global skills plus its instance skills for this house (`generate_additional_action_space`).

    For each type with several instances, the further ones (`Cabinet_2`, ...) get `find a`, and openable
    receptacles `open the`/`close the`; pickable objects that are not receptacles get `find a` only (EB picks up by
    type: the one in view).
    """
    counts: dict[str, int] = {}
    for thing in house.things.values():
        counts[thing.type] = counts.get(thing.type, 0) + 1
    receptacles, objects = set(), set()
    for thing in house.things.values():
        if counts[thing.type] < 2 or thing.name == thing.type:
            continue
        if thing.receptacle:
            receptacles.add(vocab.skill_word(thing.name))
        elif thing.pickable:
            objects.add(vocab.skill_word(thing.name))
    extra = [f"find a {word}" for word in sorted(receptacles)]
    for word in sorted(receptacles):
        if vocab.thing_word(word).split("_")[0] in vocab.OPENABLE:
            extra += [f"open the {word}", f"close the {word}"]
    extra += [f"find a {word}" for word in sorted(objects)]
    return vocab.global_skills() + tuple(extra)


_CHOICES_CACHE: dict[tuple[str, ...], Choices] = {}


def _choices(skills: tuple[str, ...]) -> Choices:
    found = _CHOICES_CACHE.get(skills)
    if found is None:
        if len(_CHOICES_CACHE) > 256:
            _CHOICES_CACHE.clear()
        found = _CHOICES_CACHE[skills] = Choices(
            skills, help=prompts.ALFRED_HELP, role=prompts.ALFRED_ROLE, guidelines=prompts.GUIDELINES
        )
    return found


class HouseholdEnv(Env):
    """EB-ALFRED on the embedded household engine: 30 steps, 10 invalid actions, EB's skills and feedback.

    Args:
        resolution: Side of the egocentric picture in pixels (EmbodiedBench: 500).
        render: The GL backend for pictures: `auto` (EGL where it initialises, else OSMesa), `egl`, `osmesa`, or
            `none` (text only: observations carry no image).
        top_view: Also render a top-down map (`top`).
        boxes: Draw labelled detection boxes on the picture, as EmbodiedBench can.
        resources: The worker's shared resources (the renderer is made once per worker).
    """

    name = "household"
    views = ("rgb", "top")
    config_model = HouseholdConfig

    @classmethod
    def rescore(cls, task: Task, seed: int | None, steps: Sequence[Mapping[str, Any]]) -> tuple[bool, float]:
        """`simyard bench rescore`: the world is deterministic given task and seed, so the recorded actions are
        replayed on a fresh world with the current rules, without pictures (they never change the state)."""
        from simyard.platform.rescore import replay_score

        return replay_score(cls(render="none"), task, seed, steps)

    def __init__(
        self,
        resolution: int = 500,
        render: str = "auto",
        top_view: bool = False,
        boxes: bool = False,
        resources: Any = None,
    ) -> None:
        self.render_mode, self.resolution = picture_options(render, resolution)
        if render == "none":
            self.views = ()  # text-only: nothing is declared that no observation shows
        self.top_view = bool(top_view)
        self.boxes = bool(boxes)
        self.resources = resources
        self._scene: Any = None
        self._engine: Engine | None = None

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A task of the `eb-alfred` suite's kind (any of ALFRED's seven types) in a home made from `seed`."""
        from simyard.tasks.eb_alfred import sample_task

        return sample_task(seed)

    def action_spec(self) -> ActionSpec:
        return self._choices.spec if self._engine is not None else _choices(vocab.global_skills()).spec

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = read_config(HouseholdConfig, task)
        house = homes.generate(config.scene_seed) if config.scene_seed is not None else House.from_dict(config.scene)
        self._engine = Engine(house)
        self._goals = goals.parse_all(config.goals)
        self._subjects = goals.subjects(self._goals, house)
        self._needs_hand = any(goal.name == "not_holding" for goal in self._goals)
        self._choices = _choices(episode_skills(house))
        self._valid_actions = list(self._choices.names)
        self._instruction = config.instruction
        self._max_steps, self._max_invalid = config.max_steps, config.max_invalid
        self._steps = self._invalid_count = 0
        self._done = False
        self._progress = self._measure()[1]
        self._open_scene()
        return self._observation(f"Instruction: {self._instruction}")

    def step(self, action: Action) -> StepResult:
        if self._engine is None:
            raise RuntimeError("reset the household world before stepping it")
        skill_id = self._choices.parse(action)
        self._steps += 1
        if self._done:
            ok, reason = False, "The episode is over; reset for a new one."
        elif skill_id is None:
            shown = repr(action) if len(repr(action)) <= 60 else repr(action)[:57] + "..."
            ok, reason = (
                False,
                (
                    f"instruction not supported: {shown} is not one of this episode's "
                    f"{len(self._valid_actions)} skills; "
                    f"send an id from 0 to {len(self._valid_actions) - 1} or a skill's exact text"
                ),
            )
        else:
            ok, reason = self._engine.execute(self._choices.names[skill_id])
            if ok and self._scene is not None and self._choices.names[skill_id].startswith("find a "):
                self._look_at_what_was_found()
        if not ok:
            self._invalid_count += 1
        success, progress, view = self._measure()
        reward = progress - self._progress
        self._progress = progress
        feedback = SUCCESS if ok else INVALID + reason
        terminated = success
        truncated = not success and (self._steps >= self._max_steps or self._invalid_count >= self._max_invalid)
        self._done = self._done or terminated or truncated
        info = {
            "valid": ok,
            "feedback": feedback,
            "success": success,
            "progress": progress,
            "task_success": float(success),
            "task_progress": progress,
            "env_feedback": feedback,
            "last_action_success": float(ok),
            "env_step": self._steps,
            "action_id": skill_id,
            "action_description": self._choices.names[skill_id] if skill_id is not None else str(action)[:60],
            "object_states": self._object_states(view),
        }
        return StepResult(self._observation(feedback, view), float(reward), terminated, truncated, info)

    def _look_at_what_was_found(self) -> None:
        """With pictures on, make sure `find` shows the thing: when a neighbour hides it from the standing pose,
        try the scene's other clear spots (segmentation renders, ~3 ms each) until one sees it. Only the camera
        pose changes, so text-only and rendered episodes reach the same states."""
        from simyard.sims.household.scene import pose_facing

        assert self._engine is not None and self._engine.found is not None
        house, found = self._engine.house, self._engine.found
        if house.enclosed(found):
            return  # inside a closed receptacle no spot shows it; do not spend a dozen renders proving that
        self._scene.sync(house)
        if found not in self._scene.visible(house):
            house.agent.pose = pose_facing(house, found, scene=self._scene)

    def oracle(self) -> list[Action]:
        """The rest of a plan that meets every goal from the current state (planner.plan)."""
        from simyard.sims.household.planner import plan

        assert self._engine is not None, "reset before asking the oracle"
        return list(plan(self._engine, self._goals))

    def render(self, view: str = "rgb") -> np.ndarray | None:
        if self._scene is None or self._engine is None or view not in self.views:
            return None
        self._scene.sync(self._engine.house)
        return self._scene.render(view, boxes=self.boxes and view == "rgb")

    def state(self) -> dict[str, Any]:
        if self._engine is None:
            return {}
        snapshot = self._engine.house.to_dict()
        snapshot.update(
            found=self._engine.found,
            spot=self._engine.spot,
            put_counts=dict(self._engine.put_counts),
            steps=self._steps,
            invalid=self._invalid_count,
            done=self._done,
        )
        return snapshot

    def close(self) -> None:
        scene, self._scene = self._scene, None
        if scene is not None and hasattr(scene, "close"):
            scene.close()

    # --- internals -------------------------------------------------------------------------------------------------
    def _measure(self) -> tuple[bool, float, set[str]]:
        engine = self._engine
        assert engine is not None
        view = engine.view()
        only = self._subjects
        if self._needs_hand and engine.house.agent.holding is not None:
            only = [*only, engine.house.agent.holding]
        met, total = goals.check(self._goals, goals.facts_of(engine.house, view, only))
        return met == total, met / total, view

    def _object_states(self, view: set[str]) -> dict[str, list[str]]:
        things = self._engine.house.things.values()  # type: ignore[union-attr]
        return {
            "cooled_objects": [t.name for t in things if t.cooled],
            "heated_objects": [t.name for t in things if t.heated],
            "cleaned_objects": [t.name for t in things if t.cleaned],
            "visible_objs": sorted({self._engine.house.things[i].type for i in view}),  # type: ignore[union-attr]
        }

    def _observation(self, first_line: str, view: set[str] | None = None) -> Observation:
        engine = self._engine
        assert engine is not None
        house = engine.house
        view = engine.view() if view is None else view
        at = house.things.get(house.agent.at) if house.agent.at else None
        held = house.held()
        seen = sorted(vocab.skill_word(house.things[i].name) for i in view if i != house.agent.holding)
        lines = [
            first_line,
            f"You are at the {vocab.skill_word(at.name)}{_state_words(at)}." if at else "You are in the home.",
            f"In view: {', '.join(seen) if seen else 'nothing'}.",
            f"In hand: {vocab.skill_word(held.name) + _state_words(held) if held else 'nothing'}.",
        ]
        images = {}
        if self._scene is not None:
            self._scene.sync(house)
            images["rgb"] = self._scene.render("rgb", boxes=self.boxes)
            if self.top_view:
                images["top"] = self._scene.render("top")
        data = {"valid_actions": self._valid_actions, "instruction": self._instruction}
        return Observation("\n".join(lines), images, data)

    def _open_scene(self) -> None:
        """The MuJoCo scene for pictures: built once per world, brought to each new house by `sync`."""
        if self.render_mode == "none":
            return
        house = self._engine.house  # type: ignore[union-attr]
        if self._scene is not None:
            self._scene.sync(house)
            return
        from simyard.sims import mjrender
        from simyard.sims.household import scene as scene_module

        size = self.resolution
        renderer = None
        if self.resources is not None:  # the worker's shared renderer; otherwise the scene makes its own
            renderer = mjrender.renderer_for(self.resources, self.render_mode, size, size)
        self._scene = scene_module.Scene(
            house, renderer, backend=self.render_mode, width_px=size, height_px=size, top_px=size
        )


def _twin(thing: Thing) -> Thing:
    """A shallow copy of a thing, faster than `copy.copy` (the oracle copies houses often)."""
    twin = object.__new__(Thing)
    twin.__dict__.update(thing.__dict__)
    return twin


def _state_words(thing: Thing) -> str:
    words = []
    if thing.openable:
        words.append("open" if thing.is_open else "closed")
    if thing.toggleable:
        words.append("on" if thing.is_on else "off")
    words += [w for w, flag in (("sliced", thing.is_sliced), ("heated", thing.heated), ("cooled", thing.cooled),
                                ("cleaned", thing.cleaned)) if flag]  # fmt: skip
    return f" ({', '.join(words)})" if words else ""
