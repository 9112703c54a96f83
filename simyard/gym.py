"""Every simyard world as a Gymnasium environment, so gymnasium-based RL code can train on it unchanged.

`simyard.gym.make("sokoban")` returns a `SimyardGymEnv`; `gymnasium.utils.env_checker.check_env` passes on it for
every world that keeps the simyard contract (`simyard env check` runs exactly that).

Spaces, chosen per `ActionSpec.kind`:

* `choice`: `Discrete(n)`, n the number of skills. Worlds whose skill list changes between episodes (household
  skills named after the objects in the room) get `Discrete(max_choices)` when you pass `max_choices`: ids past the
  episode's list are invalid actions, and `info["action_mask"]` marks the usable ids. Without `max_choices`, such a
  world gets a `Text` space of skill names instead (the world resolves names; `info["choices"]` lists them), which is
  what a language policy produces anyway. A world is "changing" when the first few probe resets disagree.
* `text`: `Text(max_action_length)` over printable ASCII.
* `json`: `Text` holding a JSON string; the wrapper parses it and hands the world the object (or the raw string
  when it does not parse, which the world answers as an invalid action). A dict is passed through too.
* `vector`: `MultiDiscrete` (with `start`) for integer bins, `Box(float64)` for reals, with the world's bounds.

Actions are not checked against the space: whatever the policy sends reaches the world, which judges it and answers
bad ones with `info["valid"] = False`, as the contract promises.

Observations are a `Dict`: `"text"` (a `Text` space) plus one `Box(0, 255, (H, W, 3), uint8)` per image view the
world shows: the observation's images, and a `render(view)` of each declared view they leave out (`images=False`
keeps text only). Images whose size differs from the first episode's are resized (nearest neighbour), so the space
stays fixed. Gymnasium's `Text` only contains strings over a fixed charset, so the text is mapped onto
`TEXT_CHARSET` (ASCII, Latin-1, Greek, punctuation, arrows, maths such as '√', box drawing, blocks, shapes,
symbols): any other character (emoji, CJK) becomes U+FFFD and text longer than `max_text_length` is cut with '…'.
Everything else the world says — `Observation.data`, the step info, the task — is in `info`.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from simyard.platform import registry
from simyard.platform.api import ActionSpec, Env, Observation, Task
from simyard.platform.errors import SimyardError

__all__ = ["TEXT_CHARSET", "SimyardGymEnv", "make"]

_RANGES = [
    (0x20, 0x7E),
    (0xA0, 0x17F),
    (0x370, 0x3FF),
    (0x2010, 0x205E),
    (0x20A0, 0x20BF),
    (0x2190, 0x23FF),
    (0x2460, 0x27BF),
    (0x2B00, 0x2BFF),
]
_SEPARATORS_AND_BIDI = range(0x2028, 0x2030)  # invisible controls that would only confuse a reader
#: Characters an observation text may hold; anything else is replaced by U+FFFD (itself in the set).
TEXT_CHARSET: frozenset[str] = frozenset(
    "\n\t\ufffd"
    + "".join(chr(code) for low, high in _RANGES for code in range(low, high + 1) if code not in _SEPARATORS_AND_BIDI)
)
_ACTION_CHARSET = string.printable.strip() + " "


def make(
    world: str | type[Env] | Env,
    task: Task | None = None,
    suite: str | Sequence[Task] | None = None,
    seed: int | None = None,
    **options: Any,
) -> SimyardGymEnv:
    """A Gymnasium view of `world`; see `SimyardGymEnv` for the options.

    Options that are not the wrapper's own (`render_mode`, `max_choices`, ...) are the world's constructor options,
    as in `simyard.make(name, **options)`; `world_options={...}` says the same explicitly.

    Example:
        >>> env = simyard.gym.make("sokoban", seed=0)
        >>> obs, info = env.reset()
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    """
    import inspect

    own = set(inspect.signature(SimyardGymEnv.__init__).parameters)
    world_options = {key: value for key, value in options.items() if key not in own}
    wrapper = {key: value for key, value in options.items() if key in own}
    if world_options:
        wrapper["world_options"] = {**world_options, **dict(wrapper.get("world_options") or {})}
    return SimyardGymEnv(world, task=task, suite=suite, seed=seed, **wrapper)


class SimyardGymEnv(gymnasium.Env):
    """One simyard world behind Gymnasium's `reset`/`step`/`render`/`close`.

    The task of each episode is, in order of preference: `options["task"]` (a `Task`) or `options["task_id"]` (from
    the suite) passed to `reset`; the fixed `task`; the suite's task `seed % len(suite)`; the world's own
    `sample_task(seed)`. An unseeded `reset()` draws the episode seed from the wrapper's generator, so a seeded reset
    followed by unseeded ones replays exactly. Episodes are truncated at the task's `max_steps` and after its
    `max_invalid` invalid actions, as the episode runner ends them; a one-step task's step always terminates it.

    Args:
        world: A registry name, a world class, or a built world (then `spec` is None and it cannot be re-made).
        task: Run this task in every episode.
        suite: A suite name or a list of tasks to cycle through by seed.
        seed: The seed of the first `reset()` that is given none (and of `action_space` sampling).
        render_mode: `"rgb_array"` (worlds with views) or `"ansi"` (the observation text).
        max_choices: Size of `Discrete` for worlds whose skill list changes per episode.
        max_text_length: Longest observation text kept.
        max_action_length: Longest text or JSON action the action space samples.
        probe: How many episodes to reset at construction to learn the spaces.
        images: Whether observations carry image views (False: text only, and no rendering per step).
        world_options: Keyword arguments for the world's constructor.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        world: str | type[Env] | Env,
        task: Task | None = None,
        suite: str | Sequence[Task] | None = None,
        seed: int | None = None,
        render_mode: str | None = None,
        max_choices: int | None = None,
        max_text_length: int = 16_384,
        max_action_length: int = 128,
        probe: int = 4,
        images: bool = True,
        world_options: Mapping[str, Any] | None = None,
    ) -> None:
        world_cls = type(world) if isinstance(world, Env) else _world_class(world)
        self.task, self.max_text_length, self._pending_seed = task, max_text_length, seed
        self.tasks = registry.load_suite(suite) if isinstance(suite, str) else list(suite or [])
        if task is None and not self.tasks and not _has_task_generator(world_cls):
            raise SimyardError(
                f"world {world_cls.name!r} has no task generator", hint="pass task= or suite= to simyard.gym.make"
            )
        self._with_images = images
        self.world = world if isinstance(world, Env) else world_cls(**(world_options or {}))
        views = self.world.views  # the instance's: a world built with render="none" declares none
        self.metadata = {"render_modes": ["ansi"] + (["rgb_array"] if views else []), "render_fps": 4}
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            if not isinstance(world, Env):
                self.world.close()  # built here, so closed here
            raise SimyardError(
                f"render_mode {render_mode!r} is not offered by this world",
                hint=f"use one of {self.metadata['render_modes']}",
            )
        self.render_mode = render_mode
        self._render_view = "rgb" if "rgb" in views else (views[0] if views else None)
        try:
            self._image_shapes, specs = self._probe(max(1, probe))
        except BaseException:
            self.world.close()  # the wrapper owns the world from here on, also when building it fails
            raise
        self._kind = specs[0].kind
        self._choice_ids = self._kind == "choice" and (
            max_choices is not None or len({len(spec.choices) for spec in specs}) == 1
        )
        self.action_space = _action_space(specs, max_choices, max_action_length, self._choice_ids)
        self.observation_space = spaces.Dict(
            {"text": _ObservationText(max_text_length, min_length=0, charset=TEXT_CHARSET)}
            | {view: spaces.Box(0, 255, shape, np.uint8) for view, shape in self._image_shapes.items()}
        )
        if seed is not None:
            self.action_space.seed(seed)
        if isinstance(world, (str, type)):
            name = world if isinstance(world, str) else world.name or "world"
            self.spec = EnvSpec(
                f"simyard/{name}-v0",
                entry_point=SimyardGymEnv,
                kwargs=dict(
                    world=world,
                    task=task,
                    suite=suite,
                    max_choices=max_choices,
                    max_text_length=max_text_length,
                    max_action_length=max_action_length,
                    probe=probe,
                    images=images,
                    world_options=dict(world_options or {}),
                ),
            )
        self._current: Task | None = None
        self._observation: Observation | None = None
        self._steps = self._invalid = 0
        self._closed = False

    # -- gymnasium API ------------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; returns the observation and an info with the task and the world's extras."""
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed
        self._pending_seed = None
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        self._current = self._pick_task(episode_seed, options or {})
        self._observation = self.world.reset(self._current, episode_seed)
        self._steps = self._invalid = 0
        spec = self.world.action_spec()
        if self._choice_ids and len(spec.choices) > self.action_space.n:
            raise SimyardError(
                f"this episode offers {len(spec.choices)} choices, more than the action space's {self.action_space.n}",
                hint="pass a larger max_choices to simyard.gym.make",
            )
        info = {
            "task_id": self._current.id,
            "instruction": self._current.instruction,
            "subset": self._current.subset,
            "action_help": spec.help,
        } | self._extras(spec, self._observation)
        return self._obs(self._observation), info

    def step(self, action: Any):
        """Hand one action to the world; returns (observation, reward, terminated, truncated, info)."""
        if self._current is None:
            raise SimyardError("step() was called before reset()", hint="call env.reset() first")
        result = self.world.step(self._to_world(action))
        self._observation = result.observation
        self._steps += 1
        self._invalid += not result.info.get("valid", True)
        task, terminated = self._current, bool(result.terminated)
        capped = self._steps >= task.max_steps or (task.max_invalid is not None and self._invalid >= task.max_invalid)
        # A one-step task (bandit, countdown) is a one-shot question: nothing can follow its step, so there is no
        # future to bootstrap from and it ends as terminated. Otherwise, as in the runner, an episode that ends
        # inside the world is terminated, and one the caps end is truncated, as gymnasium's TimeLimit does.
        terminated = terminated or (capped and task.max_steps == 1)
        truncated = bool(result.truncated) or (capped and not terminated)
        info = copy.deepcopy(dict(result.info)) | self._extras(self.world.action_spec(), result.observation)
        return self._obs(result.observation), float(result.reward), terminated, truncated, info

    def render(self) -> np.ndarray | str | None:
        """The current frame (`rgb_array`, from the world's `rgb` or first view) or text (`ansi`)."""
        if self.render_mode == "ansi":
            return self._observation.text if self._observation is not None else ""
        if self.render_mode == "rgb_array" and self._render_view is not None:
            frame = self.world.render(self._render_view)
            if frame is None and self._observation is not None:
                frame = self._observation.images.get(self._render_view)
            return None if frame is None else np.array(frame, dtype=np.uint8)
        return None

    def close(self) -> None:
        """Close the world (once; closing again does nothing)."""
        if not self._closed:
            self._closed = True
            self.world.close()

    # -- helpers --------------------------------------------------------------------------------------------------

    def _probe(self, count: int) -> tuple[dict[str, tuple[int, ...]], list[ActionSpec]]:
        # The spaces must be fixed before the first episode; the first few episodes show their shape and whether the
        # skill list changes between episodes.
        base = self._pending_seed or 0
        shapes: dict[str, tuple[int, ...]] = {}
        specs = []
        for index in range(count):
            observation = self.world.reset(self._pick_task(base + index, {}), base + index)
            specs.append(self.world.action_spec())
            if index == 0 and self._with_images:
                shapes = {view: np.shape(image) for view, image in self._images(observation).items()}
        return shapes, specs

    def _pick_task(self, seed: int, options: Mapping[str, Any]) -> Task:
        if isinstance(options.get("task"), Task):
            return options["task"]
        if "task_id" in options:
            return registry.find_task(self.tasks, str(options["task_id"]), "the suite given to simyard.gym.make")
        if self.task is not None:
            return self.task
        if self.tasks:
            return self.tasks[seed % len(self.tasks)]
        return type(self.world).sample_task(seed)

    def _to_world(self, action: Any) -> Any:
        if isinstance(action, np.ndarray):
            return action.item() if action.ndim == 0 else action.tolist()
        if isinstance(action, np.generic):
            return action.item()
        if self._kind == "json" and isinstance(action, str):
            try:
                return json.loads(action)
            except json.JSONDecodeError:
                return action  # the world explains what a JSON action looks like
        return action

    def _obs(self, observation: Observation) -> dict[str, Any]:
        text = "".join(char if char in TEXT_CHARSET else "\ufffd" for char in observation.text)
        if len(text) > self.max_text_length:
            text = text[: self.max_text_length - 1] + "…"
        out: dict[str, Any] = {"text": text}
        images = self._images(observation) if self._image_shapes else {}
        for view, shape in self._image_shapes.items():
            image = images.get(view)
            out[view] = np.zeros(shape, np.uint8) if image is None else _fit(np.asarray(image), shape)
        return out

    def _images(self, observation: Observation) -> dict[str, np.ndarray]:
        """The observation's images, plus a render of each declared view the observation leaves out."""
        images = dict(observation.images)
        for view in self.world.views:
            if view not in images and (frame := self.world.render(view)) is not None:
                images[view] = frame
        return images

    def _extras(self, spec: ActionSpec, observation: Observation) -> dict[str, Any]:
        extras: dict[str, Any] = {"data": copy.deepcopy(dict(observation.data))}
        if spec.kind == "choice":
            extras["choices"] = list(spec.choices)
        if self._choice_ids:
            mask = np.zeros(self.action_space.n, dtype=np.int8)
            mask[: len(spec.choices)] = 1
            extras["action_mask"] = mask
        return extras


class _ObservationText(spaces.Text):
    """Gymnasium's `Text` over `TEXT_CHARSET`, whose repr names the charset instead of printing 2,000 characters."""

    def __repr__(self) -> str:
        return f"Text({self.min_length}, {self.max_length}, charset=simyard.gym.TEXT_CHARSET)"


def _world_class(world: str | type[Env]) -> type[Env]:
    return registry.world_class(world) if isinstance(world, str) else world


def _has_task_generator(world: type[Env]) -> bool:
    return getattr(world.sample_task, "__func__", None) is not getattr(Env.sample_task, "__func__", None)


def _action_space(specs: list[ActionSpec], max_choices: int | None, max_length: int, ids: bool) -> spaces.Space:
    spec = specs[0]
    if spec.kind == "choice":
        if not ids:
            return spaces.Text(max_length, charset=_ACTION_CHARSET)
        count = max_choices or len(spec.choices)
        if count < 1:
            raise SimyardError(f"world offers no choices ({spec})", hint="a choice world lists at least one skill")
        return spaces.Discrete(count)
    if spec.kind in ("text", "json"):
        return spaces.Text(max_length, charset=_ACTION_CHARSET)
    size = spec.size or len(spec.low or spec.high or ())
    if not size:
        raise SimyardError("a vector ActionSpec gives neither size nor bounds", hint="set size, low and high")
    low = np.broadcast_to(np.asarray(spec.low if spec.low is not None else -np.inf, float), (size,))
    high = np.broadcast_to(np.asarray(spec.high if spec.high is not None else np.inf, float), (size,))
    if spec.integer and np.isfinite(low).all() and np.isfinite(high).all():
        return spaces.MultiDiscrete((high - low + 1).astype(np.int64), start=low.astype(np.int64))
    return spaces.Box(low, high, (size,), np.float64)


def _fit(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A fresh uint8 copy of `image` with the space's shape (resized when the episode's view is another size)."""
    if image.shape != shape:
        from PIL import Image

        image = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize((shape[1], shape[0]), Image.NEAREST))
    return np.array(image, dtype=np.uint8, copy=True)
