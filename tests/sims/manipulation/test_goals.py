"""Each family's success rule, read from the physics state (things put in place by hand, then settled)."""

from __future__ import annotations

import numpy as np

from simyard.sims.manipulation import goals


def _put(env, thing_id: str, xyz) -> None:
    """Teleport a free thing to `xyz` upright and let physics settle it."""
    import mujoco

    body = env._body[thing_id]
    address = env._model.jnt_qposadr[env._model.body_jntadr[body]]
    env._data.qpos[address : address + 3] = xyz
    env._data.qpos[address + 3 : address + 7] = (1, 0, 0, 0)
    env._data.qvel[:] = 0
    mujoco.mj_forward(env._model, env._data)
    env._arm.run(300)


def test_pick_succeeds_when_the_object_rests_inside_the_container(world):
    env = world("pick_cube")
    assert not env._goal_met()
    container = env._pos("container_1")
    _put(env, "star_1", (container[0], container[1], 0.8))
    assert env._goal_met()


def test_pick_fails_in_the_other_container(world):
    env = world("pick_cube")
    container = env._pos("container_2")
    _put(env, "star_1", (container[0], container[1], 0.8))
    assert not env._goal_met()


def test_stack_succeeds_when_the_top_rests_on_the_bottom_with_the_gripper_open(world):
    env = world("stack_cubes")
    bottom = env._pos("cube_1")
    _put(env, "cube_2", (bottom[0], bottom[1], bottom[2] + 0.047))
    assert env._goal_met()


def test_stack_in_the_wrong_order_fails(world):
    env = world("stack_cubes")
    top = env._pos("cube_2")
    _put(env, "cube_1", (top[0], top[1], top[2] + 0.047))
    assert not env._goal_met()


def test_stack_does_not_count_after_an_action_with_the_gripper_closed(world):
    env = world("stack_cubes")
    bottom = env._pos("cube_1")
    _put(env, "cube_2", (bottom[0], bottom[1], bottom[2] + 0.047))
    assert not env._check([50, 50, 40, 0, 60, 60, 0])  # EB: a closed gripper never counts for stacking
    assert env._check([50, 50, 40, 0, 60, 60, 1])


def test_sorter_succeeds_when_the_star_is_inside_it(world):
    env = world("place_into_shape_sorter")
    sorter = env._pos("sorter_1")
    _put(env, "star_1", (sorter[0], sorter[1], 0.8))
    assert env._goal_met()


def test_sorter_fails_with_the_star_on_its_top_plate(world):
    env = world("place_into_shape_sorter")
    sorter = env._pos("sorter_1")
    _put(env, "star_1", (sorter[0] + 0.07, sorter[1], 0.94))  # on the plate, beside the hole
    assert env._pos("star_1")[2] > 0.9 and not env._goal_met()


def test_wipe_counts_points_under_a_flat_sponge_on_the_table():
    points = goals.area_points("rectangle_area", (0.1, 0.0), 90.0)
    flat = np.eye(3).ravel()
    on_table = goals.under_sponge(points, np.array([0.1, 0.0, 0.752 + 0.015]), flat)
    assert on_table.any() and not on_table.all()
    lifted = goals.under_sponge(points, np.array([0.1, 0.0, 0.752 + 0.06]), flat)
    assert not lifted.any()


def test_wipe_succeeds_once_the_sponge_has_swept_the_area(world):
    env = world("wipe_table")
    assert not env._goal_met()
    sponge = env._body["sponge_1"]
    for y in np.linspace(-0.25, -0.05, 30):  # drag a flat sponge along the area's long axis (y)
        env._data.xpos[sponge] = (0.15, y, 0.752 + 0.015)
        env._data.xmat[sponge] = np.eye(3).ravel()
        env._tick()
    assert env._goal_met() and env._progress(False) == 0.99
