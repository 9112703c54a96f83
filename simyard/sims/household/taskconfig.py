"""What a household task holds (`Task.config` of the `household` and `rearrange` worlds).

A task names its scene either by a seed (a procedural home, rebuilt identically on every machine) or by an explicit
`House` in `scene` (from EB-ALFRED's data, say), its goal as predicate texts (`goals`), and the reference plan in the
world's skill words (`plan`, like EB-ALFRED's `NL Steps`), which tests and the docs use to show a task is solvable.
EB-Habitat tasks may add `subgoals`, the stages its `task_progress` counts (each counted once reached).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simyard.platform.errors import TaskFileError
from simyard.sims.household import goals


class HouseholdConfig(BaseModel):
    """A household task's settings; checked when a task file or suite is read."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1, description="what the agent is asked to do, as it is shown")
    goals: list[str] = Field(min_length=1, description="goal predicates, e.g. inside(Apple, Fridge)")
    scene_seed: int | None = Field(default=None, ge=0, description="a procedural home from this seed")
    scene: dict[str, Any] | None = Field(default=None, description="an explicit House.to_dict()")
    task_type: str = Field(default="", description="ALFRED's task type or the generator's, for reports")
    plan: list[str] = Field(default_factory=list, description="a reference plan in skill words")
    subgoals: list[list[str]] | None = Field(
        default=None,
        description="EB-Habitat's progress stages: lists of goal predicates, each reached once all hold together",
    )
    max_steps: int = Field(default=30, ge=1, description="EmbodiedBench: 30")
    max_invalid: int = Field(default=10, ge=1, description="EmbodiedBench ends an episode after 10 invalid actions")

    @field_validator("goals")
    @classmethod
    def _goals_parse(cls, value: list[str]) -> list[str]:
        try:
            goals.parse_all(value)
        except TaskFileError as exc:  # as a ValueError, so pydantic's error names the task and the field
            raise ValueError(f"{exc} ({exc.hint})") from None
        return value

    @field_validator("subgoals")
    @classmethod
    def _subgoals_parse(cls, value: list[list[str]] | None) -> list[list[str]] | None:
        for stage in value or []:
            if not stage:
                raise ValueError("a subgoal lists at least one predicate")
            cls._goals_parse(stage)
        return value

    @model_validator(mode="after")
    def _one_scene(self) -> HouseholdConfig:
        if (self.scene_seed is None) == (self.scene is None):
            raise ValueError("give exactly one of scene_seed (a generated home) and scene (an explicit House)")
        return self
