"""The `rearrange` world's pictures: the egocentric view each step, the map, determinism of frames, and what the
camera shows matching the state (a thing in a closed cabinet is hidden, an open one shows it in its colour)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("simyard.sims.household.scene")

from simyard.platform.api import Task  # noqa: E402
from simyard.sims import mjrender  # noqa: E402
from simyard.sims.household import habitat_home as home  # noqa: E402
from simyard.sims.household.appearance import COLORS  # noqa: E402
from simyard.sims.household.rearrange import RearrangeEnv  # noqa: E402
from simyard.sims.household.state import Thing  # noqa: E402

SIZE = 160


def backend() -> str:
    """The process's GL backend if a test already fixed one, else OSMesa (CPU, everywhere): one per process."""
    return mjrender.active_backend() or "osmesa"


def env(**options) -> RearrangeEnv:
    return RearrangeEnv(render=backend(), **options)


def cabinet_task() -> Task:
    """Apartment 1 with one red ball alone in cabinet 5."""
    house = home.generate(1)
    for thing_id in [thing.id for thing in house.things.values() if thing.pickable]:
        del house.things[thing_id]
    cabinet = house.things["cabinet_5"]
    house.add(
        Thing(
            id="ball",
            type="ball",
            name="ball",
            parent="cabinet_5",
            pickable=True,
            color="red",
            shape="sphere",
            size_m=(0.12, 0.12, 0.12),
            pos=home.slot_position(cabinet, 0, 0.12),
        )
    )
    config = {"instruction": "Get the ball.", "goals": ["holding(ball)"], "scene": house.to_dict()}
    return Task(id="cabinet", world="rearrange", instruction="Get the ball.", config=config)


@pytest.fixture
def world():
    world = env(resolution=SIZE)
    yield world
    world.close()


def test_every_observation_carries_the_egocentric_view_at_the_chosen_size(world):
    observation = world.reset(RearrangeEnv.sample_task(0), seed=0)
    assert observation.images["rgb"].shape == (SIZE, SIZE, 3) and observation.images["rgb"].dtype == np.uint8
    result = world.step("navigate to the sofa")
    assert result.observation.images["rgb"].shape == (SIZE, SIZE, 3)
    assert "top" not in result.observation.images


def test_the_default_view_is_ebs_500_pixels():
    world = env()
    try:
        assert world.reset(RearrangeEnv.sample_task(1), seed=0).images["rgb"].shape == (500, 500, 3)
    finally:
        world.close()


def test_the_top_view_option_adds_a_map_to_every_observation():
    world = env(resolution=SIZE, top_view=True)
    try:
        observation = world.reset(RearrangeEnv.sample_task(0), seed=0)
        assert observation.images["top"].ndim == 3 and world.render("top") is not None
    finally:
        world.close()


def test_the_same_task_and_seed_give_the_same_frames_byte_for_byte():
    frames = []
    for _ in range(2):
        world = env(resolution=SIZE)
        task = RearrangeEnv.sample_task(2)
        world.reset(task, seed=0)
        frames.append([world.step(name).observation.images["rgb"].tobytes() for name in task.config["plan"]])
        world.close()
    assert frames[0] == frames[1]


def test_navigating_brings_the_receptacle_into_view(world):
    world.reset(RearrangeEnv.sample_task(0), seed=0)
    for target in ("sofa", "table_1", "refrigerator", "cabinet_4", "left_counter"):
        world.step(f"navigate to the {home.SKILL_WORDS[target]}")
        assert target in world._scene.visible(world._house), target


def test_a_ball_in_a_closed_cabinet_is_hidden_and_shows_in_its_colour_once_open(world):
    world.reset(cabinet_task(), seed=0)
    closed = world.step("navigate to the cabinet 5").observation.images["rgb"]
    assert "ball" not in world._scene.visible(world._house)
    opened = world.step("open the cabinet 5").observation.images["rgb"]
    assert "ball" in world._scene.visible(world._house)
    left, top, right, bottom = world._scene.detections()["ball"]
    red = np.array(COLORS["red"][:3]) * 255
    patch = opened[top : bottom + 1, left : right + 1].reshape(-1, 3).astype(float)
    assert (np.abs(patch - red).sum(axis=1) < 150).sum() >= 5
    assert not np.array_equal(closed, opened)


def test_boxes_draw_labelled_detections_on_the_view():
    plain, boxed = env(resolution=SIZE), env(resolution=SIZE, boxes=True)
    try:
        task = RearrangeEnv.sample_task(0)
        plain.reset(task, seed=0)
        boxed.reset(task, seed=0)
        one = plain.step("navigate to the sofa").observation.images["rgb"]
        two = boxed.step("navigate to the sofa").observation.images["rgb"]
        assert not np.array_equal(one, two)
    finally:
        plain.close()
        boxed.close()
