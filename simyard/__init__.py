"""simyard: language and vision-language agents acting in sandboxed worlds through one step API.

The names below are the SDK; everything else may change between versions.
"""

from __future__ import annotations

from typing import Any

from simyard._version import __version__
from simyard.platform.api import (
    Action,
    ActionSpec,
    Agent,
    Decision,
    Env,
    ModelCall,
    Needs,
    Observation,
    StepResult,
    Task,
)
from simyard.platform.episode import EpisodeResult, Limits
from simyard.platform.errors import SimyardError
from simyard.platform.registry import make, register_agent, register_suite, register_world

__all__ = [
    "__version__",
    "Action",
    "ActionSpec",
    "Agent",
    "Decision",
    "Env",
    "EpisodeResult",
    "Limits",
    "ModelCall",
    "Needs",
    "Observation",
    "SimyardError",
    "StepResult",
    "Task",
    "make",
    "register_agent",
    "register_suite",
    "register_world",
    "run_episode",
]


def run_episode(
    world: str | Env,
    agent: Agent | str,
    task: Task | None = None,
    seed: int | None = None,
    limits: Limits | None = None,
    world_options: dict[str, Any] | None = None,
    **agent_options: Any,
) -> EpisodeResult:
    """Run one episode and return its result.

    Args:
        world: A world name, or a world object you built (it is not closed for you then).
        agent: An agent object, or a registered agent name (built with `agent_options`).
        task: The task to run; without one the world generates a task from `seed`.
        seed: The episode seed (and the task generator's seed when no task is given).
        limits: Overrides of the task's step and invalid-action caps, and a wall-clock limit.
        world_options: Constructor options for a world given by name (`simyard.make(name, **world_options)`).
    """
    from simyard.platform import registry
    from simyard.platform.episode import run_episode_with

    owned = isinstance(world, str)
    env = registry.make(world, **(world_options or {})) if isinstance(world, str) else world
    if isinstance(agent, str):
        agent = registry.make_agent(agent, **agent_options)
    try:
        task = task or type(env).sample_task(seed or 0)
        return run_episode_with(env, agent, task, seed, limits or Limits())
    finally:
        if owned:
            try:
                env.close()
            except Exception as exc:  # the episode's result stands; a world that fails to close is reported, not raised
                import warnings

                warnings.warn(f"world {world!r} failed to close: {type(exc).__name__}: {exc}", stacklevel=2)
