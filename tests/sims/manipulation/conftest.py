"""A handmade tabletop per family for the `manipulation` world's tests, so each rule can be checked by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simyard.platform.api import Task
from simyard.sims.manipulation.world import ManipulationEnv

_FAMILIES: dict[str, tuple[list[dict], dict[str, str], str]] = {
    "pick_cube": (
        [
            {"id": "star_1", "kind": "star", "color": "red", "x": 0.1, "y": -0.15, "yaw_deg": 20.0},
            {"id": "cube_1", "kind": "cube", "color": "blue", "x": 0.2, "y": 0.05, "yaw_deg": 30.0},
            {"id": "container_1", "kind": "container", "color": "yellow", "x": 0.25, "y": -0.25, "yaw_deg": 10.0},
            {"id": "container_2", "kind": "container", "color": "purple", "x": 0.05, "y": 0.3, "yaw_deg": 0.0},
        ],
        {"object": "star_1", "container": "container_1"},
        "Pick up the star and place it into the yellow container.",
    ),
    "stack_cubes": (
        [
            {"id": "cube_1", "kind": "cube", "color": "red", "x": 0.1, "y": -0.15, "yaw_deg": 0.0},
            {"id": "cube_2", "kind": "cube", "color": "blue", "x": 0.2, "y": 0.1, "yaw_deg": 25.0},
        ],
        {"bottom": "cube_1", "top": "cube_2"},
        "Stack the red cube and the blue cube in sequence.",
    ),
    "place_into_shape_sorter": (
        [
            {"id": "sorter_1", "kind": "sorter", "color": "white", "x": 0.15, "y": -0.2, "yaw_deg": 0.0},
            {"id": "star_1", "kind": "star", "color": "green", "x": 0.15, "y": 0.15, "yaw_deg": 0.0},
        ],
        {"object": "star_1", "sorter": "sorter_1"},
        "Put the green star into the shape sorter.",
    ),
    "wipe_table": (
        [
            {"id": "sponge_1", "kind": "sponge", "color": "yellow", "x": 0.15, "y": 0.2, "yaw_deg": 0.0},
            {
                "id": "rectangle_area_1",
                "kind": "rectangle_area",
                "color": "blue",
                "x": 0.15,
                "y": -0.15,
                "yaw_deg": 90.0,
            },
        ],
        {"area": "rectangle_area_1", "sponge": "sponge_1"},
        "Wipe the horizontal area.",
    ),
}


def table_task(family: str) -> Task:
    things, goal, instruction = _FAMILIES[family]
    config = {"family": family, "instruction": instruction, "things": things, "goal": goal, "max_steps": 15}
    return Task(id=f"table-{family}", world="manipulation", instruction=instruction, config=config, goal=goal,
                max_steps=15, max_invalid=None)  # fmt: skip


@pytest.fixture
def world() -> Callable[..., ManipulationEnv]:
    """A text-only world reset on a family's handmade table; closed after the test."""
    made: list[ManipulationEnv] = []

    def make(family: str = "pick_cube", **options) -> ManipulationEnv:
        env = ManipulationEnv(**{"render": "none", **options})
        env.reset(table_task(family), seed=0)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()
