"""The front camera's picture: EB's axes and numbered boxes where things project, and frames byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from simyard.sims import mjrender
from simyard.sims.manipulation import picture, shapes
from simyard.sims.manipulation.world import ManipulationEnv
from tests.sims.manipulation.conftest import table_task


def _backend() -> str:
    """The process's GL backend, asked at test time: an earlier test may have chosen EGL (one per process)."""
    return mjrender.active_backend() or "osmesa"


@pytest.fixture(scope="module")
def pictured():
    env = ManipulationEnv(render=_backend(), resolution=300)
    observation = env.reset(table_task("pick_cube"), seed=0)
    yield env, observation
    env.close()


def test_each_numbered_box_holds_its_object_in_its_colour(pictured):
    env, observation = pictured
    plain = ManipulationEnv(render=_backend(), resolution=300, boxes=False)
    try:
        image = plain.reset(table_task("pick_cube"), seed=0).images["rgb"]
    finally:
        plain.close()
    view = picture.front_view(300)
    boxes = env.boxes_now()
    assert len(boxes) == len(observation.data["object_coords"]) == 4
    for thing_id, box in zip(env._listed, boxes, strict=True):
        left, top, right, bottom = box
        column, row = view.project(env._pos(thing_id))
        assert left <= column <= right and top <= row <= bottom
        patch = image[max(top, 0) : bottom, max(left, 0) : right].reshape(-1, 3).astype(int)
        colour = np.array(shapes.COLORS[env._config.things[env._ids.index(thing_id)].color]) * 255
        assert (np.abs(patch - colour).sum(axis=1) < 150).sum() > 10  # the object's own colour is inside its box


def test_boxes_are_drawn_in_red_on_the_picture(pictured):
    env, observation = pictured
    image = observation.images["rgb"]
    left, top, right, bottom = env.boxes_now()[0]
    edge = image[(top + bottom) // 2, left]
    assert edge[0] > 180 and edge[1] < 80 and edge[2] < 80


def test_the_axes_start_at_the_table_corner_and_point_the_way_coordinates_grow(pictured):
    env, observation = pictured
    view = picture.front_view(300)
    where = picture.axes_pixels(view)
    column, row = (int(round(v)) for v in where["origin"])
    dot = observation.images["rgb"][row, column]
    assert dot[0] > 180 and dot[1] < 80  # the red dot
    assert where["y"][0] > where["origin"][0]  # y grows to the right of the picture
    assert where["z"][1] < where["origin"][1]  # z grows upwards
    assert where["x"][1] > where["origin"][1]  # x grows towards the camera (down the picture)


def test_frames_are_the_same_byte_for_byte_for_a_seed():
    frames = []
    for _ in range(2):
        env = ManipulationEnv(render=_backend(), resolution=200)
        try:
            env.reset(table_task("pick_cube"), seed=3)
            frames.append(env.step([45, 40, 30, 0, 60, 50, 1]).observation.images["rgb"].tobytes())
        finally:
            env.close()
    assert frames[0] == frames[1]


def test_render_none_declares_no_views():
    env = ManipulationEnv(render="none")
    try:
        observation = env.reset(table_task("pick_cube"), seed=0)
        assert env.views == () and observation.images == {} and env.render() is None
    finally:
        env.close()
