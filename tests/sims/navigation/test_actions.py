"""EB-Navigation's eight actions on the handmade kitchen: each one's effect, blocked moves and their feedback, the
camera's limits, and bad input answered with feedback."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simyard.sims.navigation import actions

from .conftest import pose


def test_the_action_list_is_eb_navigations_eight_skills_in_its_order(world):
    assert world().action_spec().choices == (
        "Move forward by 0.25", "Move backward by 0.25", "Move rightward by 0.25", "Move leftward by 0.25",
        "Rotate to the right by 90 degrees.", "Rotate to the left by 90 degrees.",
        "Tilt the camera upward by 30 degrees.", "Tilt the camera downward by 30 degrees.",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (0, (2.5, 3.15, 270.0)),  # facing -y: forward is -y
        (1, (2.5, 3.65, 270.0)),
        (2, (2.25, 3.4, 270.0)),  # the agent's right, facing -y, is -x
        (3, (2.75, 3.4, 270.0)),
        (4, (2.5, 3.4, 180.0)),  # rotating right turns clockwise seen from above
        (5, (2.5, 3.4, 0.0)),
    ],
    ids=["forward", "backward", "rightward", "leftward", "rotate-right", "rotate-left"],
)
def test_each_move_and_turn_changes_the_pose_as_eb_navigation_does(world, action, expected):
    env = world()
    result = env.step(action)
    assert result.info["valid"] and pose(env) == expected


@pytest.mark.parametrize(("action", "horizon"), [(6, 0.0), (7, 60.0)], ids=["look-up", "look-down"])
def test_tilting_changes_the_camera_pitch_by_thirty_degrees(world, action, horizon):
    env = world()
    assert env.step(action).info["valid"] and env.state()["horizon_deg"] == horizon


def test_the_camera_cannot_tilt_past_thors_limits(world):
    env = world()
    env.step(7)  # 30 -> 60 degrees down, the limit
    result = env.step(7)
    assert not result.info["valid"] and env.state()["horizon_deg"] == 60.0
    assert (
        result.info["feedback"]
        == "Last action LookDown is invalid. The camera cannot tilt further than 60 degrees down."
    )
    env.step(6), env.step(6), env.step(6)  # up to 30 degrees up
    assert not env.step(6).info["valid"] and env.state()["horizon_deg"] == -30.0


def test_a_successful_action_gets_eb_navigations_feedback_with_thors_name(world):
    assert world().step(0).info["feedback"] == "Last action MoveAhead executed successfully."


def test_a_move_into_a_wall_is_invalid_and_leaves_the_agent_where_it_was(world):
    env = world(start=(2.5, 4.7, 90.0))  # 0.25 m from the wall's face at y = 4.95
    result = env.step(0)
    assert not result.info["valid"] and pose(env) == (2.5, 4.7, 90.0)
    assert result.info["feedback"] == (
        "Last action MoveAhead is invalid. a wall is blocking the agent from moving ahead by 0.25 m."
    )


def test_a_move_into_furniture_names_the_furniture_that_blocks_it(world):
    env = world(start=(1.2, 2.5, 180.0))  # facing the fridge, 0.44 m from its front
    result = env.step(0)
    assert not result.info["valid"] and pose(env) == (1.2, 2.5, 180.0)
    assert (
        result.info["feedback"]
        == "Last action MoveAhead is invalid. Fridge is blocking the agent from moving ahead by 0.25 m."
    )


def test_a_sideways_move_is_blocked_too(world):
    env = world(start=(1.2, 2.5, 270.0))  # facing -y: the fridge is on the agent's right
    result = env.step(2)
    assert not result.info["valid"] and "Fridge is blocking the agent from moving right" in result.info["feedback"]


def test_the_body_cannot_clip_a_corner_between_two_positions(world):
    # heading 315 degrees past the fridge's corner (0.76, 2.9): both ends of the step are 0.21 m from it, its middle
    # 0.17 m, less than the agent's 0.2 m radius
    env = world(start=(0.792, 3.109, 315.0))
    end = np.array([[0.792 + 0.25 * math.cos(math.radians(315)), 3.109 + 0.25 * math.sin(math.radians(315))]])
    assert env._space.clearance(end)[0][0] > 0.2
    assert not env.step(0).info["valid"]


def test_a_step_accepts_an_id_the_skill_text_without_its_period_or_thors_name(world):
    env = world()
    for action in (0, "Move forward by 0.25", "move forward by 0.25.", "MoveAhead", "0"):
        assert env.step(action).info["valid"], action
    assert pose(env)[1] == pytest.approx(3.4 - 5 * 0.25)


@pytest.mark.parametrize("bad", [8, -1, 10**9, "jump", "", None, 1.5, True, [0, 1], {"id": 0}])
def test_bad_input_is_an_invalid_action_with_the_accepted_actions_listed(world, bad):
    env = world()
    result = env.step(bad)
    assert not result.info["valid"] and pose(env) == (2.5, 3.4, 270.0)
    assert result.info["feedback"].startswith("Last action ") and " is invalid. " in result.info["feedback"]
    assert "send an id from 0 to 7" in result.info["feedback"]
    assert all(name in result.info["feedback"] for name in actions.NAMES)
    assert result.info["env_step"] == 1 and not result.terminated


def test_parse_reads_ids_texts_and_thor_names_and_refuses_the_rest():
    assert [actions.parse(a) for a in (7, "LookDown", "Rotate to the left by 90 degrees", "rotateleft")] == [7, 7, 5, 5]
    assert [actions.parse(a) for a in (8, -1, 2.0, None, "look down")] == [None] * 5
