"""EB-Manipulation's discretisation: bins and metres, rotation steps, and what an action may be."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simyard.sims.manipulation import discrete


def test_every_bin_round_trips_through_its_centre():
    for axis in range(3):
        for index in range(discrete.VOXELS):
            bins = [0, 0, 0]
            bins[axis] = index
            assert discrete.position_to_index(discrete.index_to_position(bins))[axis] == index


def test_bin_centre_is_lower_plus_res_times_index_plus_half_res():
    assert np.allclose(discrete.index_to_position([0, 0, 0]), [-0.295, -0.495, 0.605])
    assert np.allclose(discrete.index_to_position([45, 13, 18]), [-0.3 + 0.455, -0.5 + 0.135, 0.6 + 0.185])


def test_points_past_the_upper_bound_fall_in_the_last_bin():
    assert discrete.position_to_index([0.7, 0.5, 1.6]) == [99, 99, 99]


def test_rotation_index_is_three_degrees_from_minus_180():
    assert list(discrete.index_to_degrees([0, 60, 119])) == [-180.0, 0.0, 177.0]
    assert discrete.degrees_to_index(-180.0) == 0 and discrete.degrees_to_index(177.0) == 119


def test_euler_angles_match_scipys_extrinsic_xyz():
    rotation = pytest.importorskip("scipy.spatial.transform").Rotation
    rng = np.random.default_rng(0)
    for _ in range(20):
        angles = rng.uniform(-180, 180, 3)
        x, y, z, w = rotation.from_euler("xyz", angles, degrees=True).as_quat()
        ours = np.array(discrete.euler_xyz_to_quat(angles))
        theirs = np.array([w, x, y, z])
        assert min(np.abs(ours - theirs).max(), np.abs(ours + theirs).max()) < 1e-9


def test_a_valid_action_becomes_a_pose():
    pose = discrete.parse_action([45, 13, 18, 0, 60, 60, 1])
    assert isinstance(pose, discrete.Pose)
    assert pose.gripper_open and pose.indices == (45, 13, 18, 0, 60, 60, 1)
    # roll -180, pitch 0, yaw 0: the gripper points straight down
    assert np.allclose(np.abs(pose.quat_wxyz), [0, 1, 0, 0], atol=1e-9)


def test_numpy_integers_and_whole_floats_are_accepted():
    assert isinstance(discrete.parse_action(np.array([1, 2, 3, 4, 5, 6, 0])), discrete.Pose)
    assert isinstance(discrete.parse_action([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0]), discrete.Pose)


@pytest.mark.parametrize(
    "action, words",
    [
        ([0, 0, 100, 0, 60, 0, 1], "Z is 100, outside 0..99"),
        ([-1, 0, 0, 0, 60, 0, 1], "X is -1, outside 0..99"),
        ([0, 0, 0, 120, 60, 0, 1], "Roll is 120, outside 0..119"),
        ([0, 0, 0, 0, 60, 0, 2], "Gripper is 2, outside 0..1"),
        ([0, 0, 0, 0, 60, 0], "has 6 numbers, not 7"),
        ([0, 0, 0, 0, 60, 0, 1, 1], "has 8 numbers, not 7"),
        ([0, 0, float("nan"), 0, 60, 0, 1], "Z is nan"),
        ([0, 0, 1.5, 0, 60, 0, 1], "not a whole number"),
        ([0, 0, "1", 0, 60, 0, 1], "not a number"),
        ([True, 0, 1, 0, 60, 0, 1], "not a number"),
        ("move up", "not a list of numbers"),
        (None, "not a list of numbers"),
        (np.zeros((7, 1)), "has shape"),
    ],
)
def test_bad_actions_are_refused_with_the_accepted_ranges(action, words):
    problem = discrete.parse_action(action)
    assert isinstance(problem, str) and words in problem
    assert "X, Y and Z from 0 to 99" in problem and "Roll, Pitch and Yaw from 0 to 119" in problem


def test_infinity_is_refused():
    assert isinstance(discrete.parse_action([math.inf, 0, 0, 0, 60, 0, 1]), str)
