"""The `navigation` world's contract: the success rule, the 20-step limit, EB-Navigation's info keys and text
observation, the oracle, determinism, world options, the conformance check and `episode run`."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from simyard.platform import registry
from simyard.platform.errors import SimyardError
from simyard.sims.navigation import actions
from simyard.sims.navigation.world import NavigationEnv
from simyard.testing.conformance import all_passed, check_world

from .conftest import BREAD_XY, kitchen_task

EB_INFO_KEYS = {"task_success", "env_feedback", "last_action_success", "env_step", "distance"}


def test_the_registry_builds_the_world():
    assert registry.make("navigation", render="none").name == "navigation"


def test_info_carries_simyards_and_eb_navigations_keys(world):
    info = world().step(0).info
    assert {"valid", "feedback", "success", "progress"} | EB_INFO_KEYS <= set(info)
    assert info["env_feedback"] == info["feedback"] and info["last_action_success"] == 1.0 and info["env_step"] == 1
    assert info["distance"] == pytest.approx(2.75)  # 3.0 m at the start, 0.25 m nearer


def test_progress_is_the_share_of_the_start_distance_covered(world):
    env = world()
    assert env.step(0).info["progress"] == pytest.approx(1 - 2.75 / 3.0)
    assert env.step(1).info["progress"] == pytest.approx(0.0)
    assert env.step(1).info["progress"] == 0.0  # further away than at the start: clipped


def test_reaching_within_one_metre_succeeds_and_ends_the_episode(world):
    env = world(start=(2.5, 1.6, 270.0))  # 1.2 m from the bread
    result = env.step(0)  # 0.95 m
    assert result.info["success"] and result.terminated and not result.truncated
    assert result.reward == 1.0 and result.info["task_success"] == 1.0 and result.info["progress"] == 1.0


def test_a_step_ending_just_beyond_one_metre_is_no_success(world):
    env = world(start=(2.5, 1.7, 270.0))
    result = env.step(0)  # 1.05 m
    assert not result.info["success"] and not result.terminated and result.reward == 0.0


def test_distance_is_measured_on_the_floor_plane_only(world):
    # the camera's height and pitch do not count: tilting never changes the distance
    env = world(start=(2.5, 1.45, 270.0))
    assert env.step(7).info["distance"] == pytest.approx(1.05)


def test_success_is_checked_after_every_step_including_invalid_ones(world):
    env = world(start=(2.5, 1.3, 270.0))  # already within 0.9 m: EB checks after the first action, whatever it is
    result = env.step("jump")
    assert not result.info["valid"] and result.info["success"] and result.terminated


def test_a_sideways_move_that_comes_within_reach_succeeds(world):
    env = world(start=(3.2, 1.3, 180.0))  # 1.14 m; facing -x, the left is -y
    result = env.step(3)
    assert result.info["distance"] == pytest.approx(math.hypot(0.7, 0.65)) and result.info["success"]


def test_twenty_steps_truncate_the_episode(world):
    env = world()
    results = [env.step(4) for _ in range(20)]
    assert not any(r.truncated or r.terminated for r in results[:19])
    assert results[19].truncated and not results[19].terminated and results[19].info["env_step"] == 20


def test_invalid_actions_never_end_the_episode_as_eb_has_no_cap(world):
    env = world()
    results = [env.step(99) for _ in range(15)]
    assert not any(r.terminated or r.truncated for r in results)


def test_a_step_after_the_end_is_invalid(world):
    env = world(start=(2.5, 1.3, 270.0))
    env.step(4)
    result = env.step(0)
    assert not result.info["valid"] and "episode is over" in result.info["feedback"]


def test_the_text_observation_is_the_instruction_and_the_action_list(world):
    env = world()
    text = env.reset(kitchen_task()).text
    assert text.startswith("Instruction: navigate to the Bread in the room and be as close as possible to it")
    assert "The available action id (0 ~ 7) and action names are: action id 0: Move forward by 0.25," in text
    after = env.step(0).observation.text
    assert after.splitlines()[0] == "Last action MoveAhead executed successfully." and "action id 7" in after


def test_the_oracle_plan_reaches_the_target_and_turns_to_face_it(world):
    env = world(start=(1.0, 3.0, 0.0))  # facing +x, the bread to the right and behind
    plan = env.oracle()
    moves = [a for a in plan if a in (actions.FORWARD, actions.BACKWARD, actions.RIGHTWARD, actions.LEFTWARD)]
    assert plan[: len(moves)] == moves and plan[len(moves) :] == [actions.ROTATE_RIGHT]
    for action in moves:
        result = env.step(action)
    assert result.info["success"] and result.terminated


def test_the_oracle_detours_round_furniture_in_the_way(world):
    env = world(start=(0.5, 4.3, 270.0))  # behind the fridge: straight down along the wall is blocked
    steps = 0
    for action in env.oracle():
        result = env.step(action)
        steps += 1
        assert result.info["valid"], result.info["feedback"]
        if result.terminated:
            break
    assert result.info["success"] and steps <= 20


def test_the_oracle_answers_mid_episode_from_where_the_agent_is(world):
    env = world()
    env.step(4), env.step(3)  # turned and moved aside: the lattice and heading changed
    for action in env.oracle():
        result = env.step(action)
        if result.terminated:
            break
    assert result.info["success"]


def test_the_same_task_gives_the_same_states_and_texts(world):
    first, second = world(), world()
    for action in (0, 3, 4, 99, 0, 7, 2):
        a, b = first.step(action), second.step(action)
        assert (a.observation.text, a.info, first.state()) == (b.observation.text, b.info, second.state())


def test_the_hidden_instances_are_left_out_of_the_scene(world):
    env = world(start=(1.2, 2.5, 180.0), hidden=["Fridge_01"])  # the fridge gone, the agent walks where it stood
    assert env.step(0).info["valid"]


def test_a_target_missing_from_the_scene_is_a_task_error():
    with NavigationEnv(render="none") as env, pytest.raises(SimyardError, match="not in its scene"):
        env.reset(kitchen_task(target_id="Bread_99"))


@pytest.mark.parametrize(
    "options", [{"render": "vulkan"}, {"resolution": 0}, {"fov": 0}, {"fov": 200}], ids=lambda o: str(o)
)
def test_bad_world_options_are_refused_with_a_hint(options):
    with pytest.raises(SimyardError):
        NavigationEnv(**options)


def test_a_text_only_world_declares_no_views_and_a_top_view_adds_one():
    assert NavigationEnv(render="none").views == ()
    assert NavigationEnv(render="none", top_view=True).views == ()
    assert NavigationEnv(render="osmesa").views == ("rgb",)
    assert NavigationEnv(render="osmesa", top_view=True).views == ("rgb", "top")


def test_the_text_only_world_passes_simyards_conformance_check():
    results = check_world("navigation", sample=3, world_options={"render": "none"})
    assert all_passed(results), [r for r in results if not r.passed]


def test_episode_run_with_the_oracle_succeeds(tmp_path):
    command = [sys.executable, "-m", "simyard", "episode", "run", "navigation", "--agent", "oracle", "--seed", "2",
               "--world-opt", "render=none", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert rows[0]["success"] and rows[0]["steps"] <= 20


def test_the_target_position_is_where_success_is_measured_from(world):
    env = world()
    assert env.state()["distance"] == pytest.approx(math.dist((2.5, 3.4), BREAD_XY))


def test_the_gymnasium_view_has_eight_discrete_actions():
    import simyard.gym

    env = simyard.gym.make("navigation", render="none")
    env.reset(seed=1)
    _, reward, terminated, truncated, info = env.step(0)
    assert env.action_space.n == 8 and info["feedback"].startswith("Last action MoveAhead")
    env.close()


def test_bench_run_with_the_oracle_solves_the_first_tasks_of_the_suite(tmp_path):
    from simyard.platform.bench import run_bench

    summary = run_bench("eb-navigation", "oracle", workers=1, limit=5, out=tmp_path / "run",
                        world_options={"render": "none"})  # fmt: skip
    assert summary.status == "finished" and [r.success for r in summary.results] == [True] * 5
