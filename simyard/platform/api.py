"""The contract every world and agent speaks: tasks, observations, actions, steps.

A world (`Env`) is reset with a `Task` and a seed, then stepped with actions until it terminates or the runner
truncates it. An agent (`Agent`) reads observations and returns actions. Everything that crosses this boundary is
plain data: JSON-serialisable except for images, which are HxWx3 uint8 numpy arrays.

Rules every world keeps (the conformance checker `simyard env check` tests them):

* `reset(task, seed)` is deterministic: the same task and seed give the same states and frames. A world owns its
  random generator (`numpy.random.Generator`) and never touches the global one.
* `step(action)` never raises for a malformed or impossible action. It costs a step and answers with
  `info["valid"] = False` and feedback text saying what was wrong and what is allowed.
* `oracle()` returns an action (or a plan) that makes progress towards the goal from the current state, so every
  task is provably solvable and the `oracle` agent needs no knowledge of the world.
* `close()` releases whatever the world holds (renderers, sandboxes, containers); it is always called.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What an agent may hand a world: a choice id (int) or name (str), a command string, a JSON object (dict) or a
#: vector (sequence of numbers / numpy array). The world parses and validates it.
Action = int | str | Mapping[str, Any] | Sequence[float] | np.ndarray

ActionKind = Literal["choice", "text", "json", "vector"]


class Task(BaseModel):
    """One episode's worth of work: which world, what the agent is told, and how success is judged.

    Plain, frozen, JSON-serialisable data with a stable `id`, so runs can be resumed and compared task by task.

    Attributes:
        id: Stable identifier, unique within its suite.
        world: Registry name of the world that runs it.
        instruction: What the agent is told to do.
        subset: Capability label used to split reports (`base`, `spatial`, `long_horizon`, ...).
        config: World parameters (scene seed, room size, repository, assets).
        goal: Machine-checkable success conditions, interpreted by the world.
        max_steps: Steps (executed actions, valid or not) before the runner truncates the episode.
        max_invalid: Invalid actions before the runner ends the episode; None for no cap.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    world: str = Field(min_length=1)
    instruction: str = ""
    subset: str = "base"
    config: dict[str, Any] = Field(default_factory=dict)
    goal: dict[str, Any] = Field(default_factory=dict)
    max_steps: int = Field(default=30, ge=1)
    max_invalid: int | None = Field(default=10, ge=1)

    @field_validator("id")
    @classmethod
    def _id_is_path_safe(cls, value: str) -> str:
        # Task ids name episode directories; keep them to characters every file system accepts.
        bad = set(value) & set('/\\:*?"<>|\0')
        if bad or value in {".", ".."}:
            raise ValueError(f"task id {value!r} contains characters not allowed in file names: {sorted(bad)}")
        return value


@dataclass(frozen=True, slots=True)
class Observation:
    """What the agent perceives after a reset or a step.

    Attributes:
        text: What a language agent reads: feedback on the last action and the state it may see.
        images: Named RGB views (`rgb`, `topdown`, ...) as HxWx3 uint8 arrays.
        data: JSON-serialisable extras: `valid_actions` now, inventory, file list, ...
    """

    text: str
    images: Mapping[str, np.ndarray] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """What a world accepts, so agents can prompt for it and validate before spending a step.

    Attributes:
        kind: `choice` (an id or name from `choices`), `text` (a free command string), `json` (an object matching
            `schema`) or `vector` (numbers between `low` and `high`, `size` of them).
        choices: Names of the skills, indexed by their ids (for `choice`).
        schema: JSON schema of an action (for `json`).
        low, high: Bounds of each vector component (for `vector`).
        size: Length of a vector action.
        integer: Whether vector components are integers (bins) rather than reals.
        help: Prose describing the actions, ready to put in a prompt.
        role: The opening of a planner's system prompt for this world (EmbodiedBench's "You are a robot operating
            in a home..."); empty for a generic one. Kept apart from `help` so prompts keep the benchmark's order.
        guidelines: Rules of thumb the benchmark gives its planners after the action list; empty for none.
    """

    kind: ActionKind
    choices: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None
    size: int | None = None
    integer: bool = False
    help: str = ""
    role: str = ""
    guidelines: str = ""

    def choice_id(self, action: Action) -> int | None:
        """The id of a choice action given by id or by (case-insensitive) name, or None if it names nothing."""
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            return int(action) if 0 <= action < len(self.choices) else None
        if isinstance(action, str):
            wanted = action.strip().lower()
            for index, name in enumerate(self.choices):
                if name.lower() == wanted:
                    return index
            if wanted.isdigit():
                return self.choice_id(int(wanted))
        return None


@dataclass(frozen=True, slots=True)
class StepResult:
    """The outcome of one action.

    Attributes:
        observation: What the agent sees now.
        reward: The world's reward for this step.
        terminated: The episode ended inside the world (goal reached, failure state).
        truncated: The world cut the episode short (its own step limit).
        info: `valid` (bool), `feedback` (str), `success` (bool), `progress` (float in [0, 1]) and, where the world
            charges for actions, `cost`; worlds may add JSON-serialisable keys of their own.
    """

    observation: Observation
    reward: float
    terminated: bool
    truncated: bool
    info: Mapping[str, Any]


@dataclass(slots=True)
class ModelCall:
    """One call to a model, kept with the step that used it (for reports, and for RL on the sampled tokens).

    Attributes:
        text: The reply text.
        prompt_tokens, completion_tokens: Token counts as the backend reported them.
        latency_s: Wall-clock time of the call, retries included.
        cost_usd: Money spent, when the backend knows its price.
        token_ids: The exact sampled completion token ids (local models; needed by StarPO).
        logprobs: Their log-probabilities under the sampling policy.
        retries: How many failed attempts preceded the answer.
        finish_reason: Why generation stopped, as the server said (`stop`, `length` when cut by max_tokens, ...).
        reply_chars: The reply's full length when `text` was cut to the recorder's cap; None when stored whole.
    """

    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    cost_usd: float | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    retries: int = 0
    finish_reason: str | None = None
    reply_chars: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Decision:
    """An agent's full answer for one turn: a plan of actions plus how it was reached.

    Agents may return a bare action or a list instead; the runner wraps those. A reply the agent could not turn into
    actions carries `error`: the runner charges it as one invalid step whose feedback is that message, so a model
    that keeps failing to follow the format spends steps, never just tokens.
    """

    actions: list[Action] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    error: str | None = None
    #: Notes on how the agent reached this decision that a reader of the step should see (a prompt cut to fit the
    #: model's context, frames dropped for a text-only model). JSON-able; the runner puts them in the info of the
    #: turn's first step, under the key `agent`.
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Needs:
    """What a world's episode, or an agent, takes from a cluster node; a cluster executor asks for it per worker.

    A world says it with its `needs` class attribute, an agent with `needs` or `needs_for(options)`. A worker (a Ray
    actor) asks for the larger CPUs and GPUs of its worlds and its agent (they share them), and for the worlds'
    memory per lane plus the agent's once (its lanes share one model).

    Attributes:
        cpus: CPU cores (fractions allowed: a world that mostly waits on a server can ask for 0.25).
        gpus: GPUs (a renderer on EGL, a simulator on CUDA, a model); shared by the lanes of one worker, so an agent
            asking for 1 puts one model on each GPU.
        memory_mb: Memory in MiB: a world's per episode in flight, an agent's per worker; 0 asks for nothing.
        gpus_optional: Ask for `gpus` only where the cluster has any GPU (a model on `device=auto`); else run on CPUs.
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory_mb: int = 0
    gpus_optional: bool = False


class Env(abc.ABC):
    """A world: reset with a task, stepped with actions.

    Subclasses set `name` and implement `reset`, `step`, `action_spec` and `oracle`; `render`, `state` and
    `close` have defaults. Worlds are registered by name (`simyard.register_world`) and built by `simyard.make`.
    """

    #: Registry name; also the `world` field of the tasks this world runs.
    name: ClassVar[str] = ""
    #: Named image views this world can render (empty for text-only worlds). A world whose pictures are an option
    #: (`render="none"`) sets `self.views = ()` on the instance, so checks and agents read it from the instance.
    views: tuple[str, ...] = ()
    #: A pydantic model of `Task.config` for this world, so bad settings in a task file are refused when the file is
    #: read (naming the task and field) rather than when the episode starts. None accepts any config.
    config_model: ClassVar[type[BaseModel] | None] = None
    #: What one episode needs from a cluster node (`--executor ray` asks for it); one CPU unless a world says more.
    needs: ClassVar[Needs] = Needs()

    @abc.abstractmethod
    def reset(self, task: Task, seed: int | None = None) -> Observation:
        """Start an episode of `task`; `seed` fixes every random choice the world makes."""

    @abc.abstractmethod
    def step(self, action: Action) -> StepResult:
        """Apply one action. Never raises for a bad action: answers `info["valid"] = False` with feedback."""

    @abc.abstractmethod
    def action_spec(self) -> ActionSpec:
        """What the world accepts now (choice lists may change from one episode to the next)."""

    @abc.abstractmethod
    def oracle(self) -> Action | list[Action]:
        """The world's own solver: the next action, or a plan, that reaches the goal from the current state."""

    def render(self, view: str = "rgb") -> np.ndarray | None:
        """An HxWx3 uint8 picture of the current state from `view`, or None for text-only worlds."""
        return None

    def state(self) -> dict[str, Any]:
        """A JSON snapshot of the current state, for replays and determinism checks."""
        return {}

    def close(self) -> None:
        """Release whatever the world holds. Called once per world, also after errors."""

    def sample_action(self, rng: np.random.Generator) -> Action:
        """A random action of the kind this world accepts, for the `random` agent and for fuzzing.

        The default draws from the action spec (a choice id, or a vector inside its bounds); worlds whose actions
        are text or JSON override it with something plausible.
        """
        spec = self.action_spec()
        if spec.kind == "choice" and spec.choices:
            return int(rng.integers(len(spec.choices)))
        if spec.kind == "vector" and spec.low is not None and spec.high is not None:
            low, high = np.asarray(spec.low, dtype=float), np.asarray(spec.high, dtype=float)
            if spec.integer:
                return rng.integers(low.astype(int), high.astype(int) + 1).tolist()
            return rng.uniform(low, high).tolist()
        raise NotImplementedError(f"world {self.name!r} does not say how to sample a random {spec.kind} action")

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A task of this world generated from `seed`, for `simyard episode run WORLD --seed N`."""
        raise NotImplementedError(f"world {cls.name!r} has no task generator; pick a task from a suite")

    @classmethod
    def rescore(cls, task: Task, seed: int | None, steps: Sequence[Mapping[str, Any]]) -> tuple[bool, float] | None:
        """(success, progress) of a recorded episode, recomputed by this version of the world's code.

        For `simyard bench rescore`, which fixes a run's scores after a metric changed without running the agent
        again. `steps` are the episode's recorded `step` lines (`action`, `info`, `observation`, ...). A world whose
        success is a function of what was recorded overrides this (the RAGEN puzzles replay the recorded actions:
        `simyard.platform.rescore.replay_score`); the default, None, says the world cannot be rescored, and the
        rescore names it rather than skipping it silently.
        """
        return None

    def __enter__(self) -> Env:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Agent:
    """Something that acts: reads observations, returns actions.

    `act` may return one action, a list of actions (a plan: the runner executes it in order and stops at the first
    invalid one, then asks again, as EmbodiedBench does) or a `Decision`. It may be `async def`; the runner awaits
    it, which lets one worker keep many episodes in flight while they wait on a model server.
    """

    #: Registry name, shown in reports.
    name: ClassVar[str] = ""
    #: What a worker running this agent needs on top of its worlds (`--executor ray`): nothing by default, since an
    #: agent that calls a model server only waits. An agent whose needs follow its options overrides `needs_for`.
    needs: ClassVar[Needs] = Needs(cpus=0.0)

    @classmethod
    def needs_for(cls, options: Mapping[str, Any]) -> Needs:
        """What a worker needs for this agent built with `options` (the `--agent-opt` values, as given)."""
        return cls.needs

    def reset(self, task: Task, spec: ActionSpec) -> None:
        """Forget the last episode and prepare for `task`, whose world accepts `spec`."""

    def act(self, observation: Observation) -> Action | list[Action] | Decision:
        """The next action, plan or decision given what the agent sees."""
        raise NotImplementedError

    def observe(self, action: Action, result: StepResult) -> None:
        """Hear how one executed action turned out (optional; for agents that keep their own history)."""

    def close(self) -> None:
        """Release clients, models and other resources."""


class EpisodeQuit(Exception):
    """Raised by an agent to end its episode on purpose (a person typing `:q` or Ctrl-D): a normal end, not an error.

    The runner ends the episode with status `completed` and reason `quit`.
    """


class WorldAware(abc.ABC):
    """Mixin for agents that need the world object itself (the oracle); the runner calls `attach` after reset."""

    @abc.abstractmethod
    def attach(self, env: Env) -> None:
        """Receive the world of the episode about to run."""


def feedback(result: StepResult) -> str:
    """The feedback text of a step, whatever the world put in `info`."""
    return str(result.info.get("feedback", ""))
