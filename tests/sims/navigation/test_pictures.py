"""The `navigation` world's pictures: EB's 500x500 egocentric view with a 100 degree field, the top-down map, frames
identical for a task, what the first frame shows on the suite's subsets, and the conformance check with pictures."""

from __future__ import annotations

import numpy as np
import pytest

from simyard.sims import mjrender
from simyard.sims.navigation.world import NavigationEnv
from simyard.tasks.eb_navigation import eb_navigation_suite
from simyard.testing.conformance import all_passed, check_world

from .conftest import kitchen_task


@pytest.fixture(scope="module")
def backend() -> str:
    return mjrender.active_backend() or "osmesa"  # one GL backend per process: take the one already chosen


def test_the_default_view_is_500_pixels_square(backend):
    with NavigationEnv(render=backend) as env:
        image = env.reset(kitchen_task()).images["rgb"]
    assert image.shape == (500, 500, 3) and image.dtype == np.uint8 and image.std() > 10


def test_the_same_task_gives_the_same_frames_byte_for_byte(backend):
    frames = []
    for _ in range(2):
        with NavigationEnv(render=backend, resolution=128, top_view=True) as env:
            shots = [env.reset(kitchen_task()).images]
            shots += [env.step(action).observation.images for action in (0, 4, 3, 7)]
        frames.append([(shot["rgb"].tobytes(), shot["top"].tobytes()) for shot in shots])
    assert frames[0] == frames[1]


def test_a_move_changes_the_picture_and_a_blocked_one_does_not(backend):
    with NavigationEnv(render=backend, resolution=96) as env:
        env.reset(kitchen_task(start=(2.5, 4.7, 90.0)))
        before = env.render("rgb")
        blocked = env.step(0)
        moved = env.step(1)
    assert not blocked.info["valid"] and np.array_equal(blocked.observation.images["rgb"], before)
    assert not np.array_equal(moved.observation.images["rgb"], before)


def test_the_field_of_view_option_sets_the_cameras_lens(backend):
    with (
        NavigationEnv(render=backend, resolution=96, fov=100) as wide,
        NavigationEnv(render=backend, resolution=96, fov=60) as narrow,
    ):
        assert not np.array_equal(wide.reset(kitchen_task()).images["rgb"], narrow.reset(kitchen_task()).images["rgb"])
        assert narrow._scene.view("rgb").fovy_deg == 60 and wide._scene.view("rgb").fovy_deg == 100


def test_the_top_view_shows_the_agent_as_a_red_arrow(backend):
    with NavigationEnv(render=backend, resolution=128, top_view=True) as env:
        top = env.reset(kitchen_task()).images["top"]
    red = (top[..., 0] > 200) & (top[..., 1] < 60) & (top[..., 2] < 60)
    assert red.sum() > 20


def test_the_target_is_out_of_view_at_every_long_horizon_start_and_in_view_at_every_base_start(backend):
    # "in view": at least one pixel of the target in EB's 500x500 frame (a plate 3 m away is a sliver)
    suite = eb_navigation_suite()
    seen = {"base": 0, "long_horizon": 0}
    with NavigationEnv(render=backend) as env:
        for subset in seen:
            for task in [t for t in suite if t.subset == subset]:
                env.reset(task)
                seen[subset] += task.config["target_id"] in env._scene.visible(min_pixels=1)
    assert seen == {"base": 60, "long_horizon": 0}


def test_the_world_with_pictures_passes_simyards_conformance_check(backend):
    results = check_world("navigation", sample=2, seeds=(0,), world_options={"render": backend, "resolution": 64})
    assert all_passed(results), [r for r in results if not r.passed]


def test_a_rebuilt_eb_task_shows_the_target_at_the_start_unless_long_horizon(backend):
    from pathlib import Path

    from simyard.sims.navigation.eb_data import load_eb_navigation

    tasks = load_eb_navigation(Path(__file__).parents[2] / "fixtures" / "eb_navigation", ["base", "long_horizon"])
    with NavigationEnv(render=backend) as env:
        for task in tasks:
            env.reset(task)
            seen = task.config["target_id"] in env._scene.visible(min_pixels=1)
            assert seen == (task.subset == "base"), task.id


def test_the_step_frame_equals_a_frame_drawn_after_a_full_sync(backend):
    # the world skips the scene's full sync when only the agent moved; the picture must not change for it
    with NavigationEnv(render=backend, resolution=128) as env:
        env.reset(kitchen_task())
        for action in (0, 4, 3, 7, 5, 1, 6):
            shown = env.step(action).observation.images["rgb"]
            assert np.array_equal(shown, env.render("rgb"))
