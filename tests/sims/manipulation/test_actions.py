"""What each action does to the Panda and the table under physics, and what is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simyard.sims.manipulation import discrete
from simyard.sims.manipulation.control import PhysicsDiverged


def _tip(env):
    return env._arm.tip_pose()


def _yaw(quat) -> float:
    w, x, y, z = quat
    return math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def test_a_move_puts_the_tip_at_the_bin_centre(world):
    env = world()
    result = env.step([50, 60, 40, 0, 60, 60, 1])
    assert result.info["valid"] and result.info["action_success"] == 1.0
    assert np.abs(_tip(env)[0] - discrete.index_to_position([50, 60, 40])).max() < 0.005


def test_the_yaw_index_turns_the_gripper(world):
    env = world()
    env.step([50, 50, 40, 0, 60, 60, 1])
    env.step([50, 50, 40, 0, 60, 75, 1])
    assert abs(_yaw(_tip(env)[1]) - 45.0) < 2.0


def test_the_gripper_closes_and_opens(world):
    env = world()
    env.step([50, 50, 40, 0, 60, 60, 0])
    assert not env._arm.gripper_open() and env._data.qpos[env._arm.finger_qpos].max() < 0.005
    env.step([50, 50, 40, 0, 60, 60, 1])
    assert env._arm.gripper_open() and env._data.qpos[env._arm.finger_qpos].min() > 0.035


def test_a_grasp_lifts_the_object_and_a_place_puts_it_down_elsewhere(world):
    env = world("pick_cube")
    x, y, z = discrete.position_to_index(env._pos("cube_1"))
    yaw = discrete.degrees_to_index(30.0)
    for action in ([x, y, z + 10, 0, 60, yaw, 1], [x, y, 17, 0, 60, yaw, 1], [x, y, 17, 0, 60, yaw, 0]):
        assert env.step(action).info["valid"]
    assert env.state()["held"] == "cube_1"
    env.step([x, y, 40, 0, 60, yaw, 0])
    assert env._pos("cube_1")[2] > 0.95  # carried up with the hand
    env.step([60, 60, 25, 0, 60, yaw, 0])
    env.step([60, 60, 25, 0, 60, yaw, 1])
    assert env.state()["held"] is None
    env._arm.run(200)  # let it land
    resting = env._pos("cube_1")
    assert abs(resting[2] - (0.752 + 0.0225)) < 0.005  # fell onto the table and stands there
    assert discrete.position_to_index(resting)[:2] == pytest.approx([60, 60], abs=1)


def test_closing_on_nothing_holds_nothing(world):
    env = world()
    env.step([50, 50, 30, 0, 60, 60, 0])
    assert env.state()["held"] is None


def test_a_target_below_the_table_is_outside_the_workspace(world):
    env = world()
    before = env.state()
    result = env.step([50, 50, 10, 0, 60, 60, 1])
    assert not result.info["valid"] and result.reward == -1.0
    assert "Last action is invalid. Target is outside of workspace" in result.info["feedback"]
    assert env.state()["tip"] == before["tip"]


def test_an_unreachable_pose_cannot_be_planned_and_nothing_moves(world):
    env = world()
    before = env.state()
    result = env.step([99, 99, 99, 0, 60, 60, 1])
    assert not result.info["valid"]
    assert "Could not create path" in result.info["feedback"]
    assert env.state()["tip"] == before["tip"]


@pytest.mark.parametrize("action", [[1, 2, 3], [0, 0, float("nan"), 0, 60, 0, 1], [0, 0, 0, 200, 60, 0, 1], "up", None])
def test_bad_input_costs_a_step_and_states_the_ranges(world, action):
    env = world()
    before = env.state()
    result = env.step(action)
    assert not result.info["valid"] and result.info["env_step"] == 1
    assert "X, Y and Z from 0 to 99" in result.info["feedback"]
    assert env.state()["things"] == before["things"]


def test_feedback_is_eb_manipulations_sentence(world):
    env = world()
    result = env.step([50, 60, 40, 0, 60, 60, 1])
    assert result.info["feedback"] == (
        "You are currently performing the task intended to pick up the star and place it into the yellow container. "
        "At this moment, you have completed executing 1 steps. Last action is valid. The current reward obtained is 0."
    )
    assert {"env_feedback", "instruction", "env_step", "action", "action_success", "task_success"} <= set(result.info)


def test_the_object_list_is_sorted_by_y_in_bins(world):
    env = world()
    coords = env.object_coords()
    ys = [value[1] for value in coords.values()]
    assert list(coords) == [f"object {n}" for n in range(1, 5)] and ys == sorted(ys)
    assert coords["object 1"] == discrete.position_to_index(env._pos("container_1") + [0, 0, 0.025])


def test_the_episode_ends_after_15_steps(world):
    env = world()
    for _ in range(14):
        assert not env.step([0, 0, 0, 0, 0, 0, 9]).truncated
    assert env.step([0, 0, 0, 0, 0, 0, 9]).truncated


def test_a_diverging_simulation_is_a_world_error_and_the_state_is_kept(world):
    env = world()
    before = env.state()
    env._model.opt.timestep = 5.0  # an integrator step no servo survives
    with pytest.raises(PhysicsDiverged, match="state before it"):
        env.step([50, 60, 40, 0, 60, 60, 1])
    state = env.state()
    assert state["things"] == before["things"] and all(math.isfinite(v) for v in state["tip"])
