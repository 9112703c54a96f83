"""What a navigation task holds (`Task.config` of the `navigation` world).

A task names its room by a seed (a procedural kitchen, rebuilt identically everywhere) or carries one (`scene`, an
explicit `House.to_dict()`, as the EB-Navigation data loader builds), the target thing, where success is measured
from (`target_xy`, the target's recorded position, as EB-Navigation measures from its stored `target_position`),
the start pose, and the things to leave out (`hidden`: EB-Navigation's `object_to_hide`, the target type's other
instances, so "the Bread" means one thing). Coordinates are metres in simyard's frame (z up); yaw is
counter-clockwise from +x.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class NavigationConfig(BaseModel):
    """A navigation task's settings; checked when a task file or suite is read."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1, description="what the agent is asked to do, as it is shown")
    target_id: str = Field(min_length=1, description="id of the target thing in the scene")
    target_type: str = Field(min_length=1, description="the target's type (Bread, Mug, ...)")
    target_xy: tuple[float, float] = Field(description="where success is measured from, metres")
    start: tuple[float, float, float] = Field(description="start pose: x, y (metres), yaw (degrees from +x)")
    horizon_deg: float = Field(default=0.0, ge=-30.0, le=60.0, description="camera pitch, positive looks down")
    scene_seed: int | None = Field(default=None, ge=0, description="a procedural kitchen from this seed")
    scene: dict[str, Any] | None = Field(default=None, description="an explicit House.to_dict()")
    hidden: list[str] = Field(
        default_factory=list, description="ids removed at reset (EB's object_to_hide: other instances of the target)"
    )
    success_m: float = Field(default=1.0, gt=0.0, description="EB-Navigation: within 1.0 m of the target")
    max_steps: int = Field(default=20, ge=1, description="EB-Navigation: 20")

    @model_validator(mode="after")
    def _one_scene(self) -> NavigationConfig:
        if (self.scene_seed is None) == (self.scene is None):
            raise ValueError("give exactly one of scene_seed (a generated kitchen) and scene (an explicit House)")
        return self
