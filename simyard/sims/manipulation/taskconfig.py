"""What a manipulation task holds (`Task.config` of the `manipulation` world): the things on the table and the goal.

A task lists every thing by id, kind, colour and pose on the table (metres, yaw in degrees), names its family
(EB-Manipulation's `pick_cube`, `stack_cubes`, `place_into_shape_sorter`, `wipe_table`) and the goal's roles by id:

* `pick_cube`: `object` into `container`;
* `stack_cubes`: `top` on `bottom`;
* `place_into_shape_sorter`: `object` into the `sorter`;
* `wipe_table`: `area` wiped with the sponge.

`plan` may hold a reference plan of 7-integer actions (tests and docs); the suite leaves it empty, since the
oracle plans from the physics state.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simyard.sims.manipulation import shapes

FAMILIES = ("pick_cube", "stack_cubes", "place_into_shape_sorter", "wipe_table")
KINDS = (*shapes.OBJECT_KINDS, *shapes.FITTINGS, *shapes.AREA_KINDS)
#: The goal roles each family needs, and the kinds each role may be.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "pick_cube": {"object": shapes.OBJECT_KINDS, "container": ("container",)},
    "stack_cubes": {"bottom": shapes.OBJECT_KINDS, "top": shapes.OBJECT_KINDS},
    "place_into_shape_sorter": {"object": shapes.OBJECT_KINDS, "sorter": ("sorter",)},
    "wipe_table": {"area": shapes.AREA_KINDS, "sponge": ("sponge",)},
}


class ThingSpec(BaseModel):
    """One thing on the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="unique within the task, e.g. star_2")
    kind: Literal[KINDS]  # type: ignore[valid-type]
    color: str = Field(description="one of EB-Manipulation's 19 colour names")
    x: float = Field(ge=-0.3, le=0.7, description="metres, EB's world frame")
    y: float = Field(ge=-0.5, le=0.5, description="metres")
    yaw_deg: float = Field(default=0.0, ge=-360, le=360)

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        if value not in shapes.COLORS:
            raise ValueError(f"colour {value!r} is not one of {', '.join(shapes.COLORS)}")
        return value


class ManipulationConfig(BaseModel):
    """A manipulation task's settings; checked when a task file or suite is read."""

    model_config = ConfigDict(extra="forbid")

    family: Literal[FAMILIES]  # type: ignore[valid-type]
    variation: str = Field(default="", description="EB-Manipulation's variation, e.g. pick_cube_shape")
    instruction: str = Field(min_length=1)
    things: list[ThingSpec] = Field(min_length=1)
    goal: dict[str, str] = Field(description="the family's roles (object, container, top, bottom, area, ...) -> id")
    plan: list[list[int]] = Field(default_factory=list, description="a reference plan of 7-integer actions")
    max_steps: int = Field(default=15, ge=1, description="EB-Manipulation: 15")

    @model_validator(mode="after")
    def _consistent(self) -> ManipulationConfig:
        ids = [thing.id for thing in self.things]
        if len(set(ids)) != len(ids):
            raise ValueError("thing ids repeat")
        counts: dict[str, int] = {}
        for thing in self.things:
            counts[thing.kind] = counts.get(thing.kind, 0) + 1
        for kind, count in counts.items():
            room = shapes.SLOTS_PER_KIND if kind in shapes.OBJECT_KINDS else shapes.FITTINGS.get(
                kind, shapes.AREAS_PER_KIND)  # fmt: skip
            if count > room:
                raise ValueError(f"{count} things of kind {kind!r}; a scene holds at most {room}")
        kinds = {thing.id: thing.kind for thing in self.things}
        for role, allowed in ROLES[self.family].items():
            target = self.goal.get(role)
            if target is None:
                raise ValueError(f"a {self.family} goal names its {role!r}")
            if kinds.get(target) not in allowed:
                raise ValueError(f"goal {role}={target!r} is not a thing of kind {' or '.join(allowed)}")
        for action in self.plan:
            if len(action) != 7:
                raise ValueError(f"plan action {action} does not have 7 integers")
        return self
