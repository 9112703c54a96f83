"""The `household` world's contract: EB-ALFRED's action list, info keys, limits, bad input, state snapshots, the
conformance check, and the human agent through a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simyard.platform import registry
from simyard.sims.household import vocab
from simyard.sims.household.alfred import INVALID, SUCCESS, HouseholdEnv, episode_skills
from simyard.sims.household.homes import generate
from simyard.testing.conformance import all_passed, check_world

from .conftest import kitchen, kitchen_task

EB_INFO_KEYS = {"task_success", "task_progress", "env_feedback", "last_action_success", "env_step", "object_states"}


def test_the_registry_builds_the_world():
    assert registry.make("household", render="none").name == "household"


def test_the_action_list_starts_with_eb_alfreds_162_global_skills(world):
    choices = world().action_spec().choices
    assert choices[:162] == vocab.global_skills()
    assert choices[0] == "find a Cart" and choices[80] == "pick up the KeyChain" and choices[161] == "slice the Bread"


def test_instance_skills_follow_the_global_list_as_eb_adds_them(world):
    # EB: finds for further receptacle instances, then their open/close, then finds for further objects
    assert world().action_spec().choices[162:] == (
        "find a Cabinet_2", "open the Cabinet_2", "close the Cabinet_2", "find a Apple_2",
    )  # fmt: skip


def test_the_action_list_changes_with_the_home():
    lists = {episode_skills(generate(seed))[162:] for seed in range(8)}
    assert len(lists) > 1


def test_a_step_takes_an_id_or_the_skill_text(world):
    env = world()
    by_id = env.step(env.action_spec().choices.index("find a Fridge")).info
    by_text = env.step("find a Fridge").info
    assert by_id["valid"] and by_text["valid"] and by_id["feedback"] == SUCCESS


def test_info_carries_simyards_and_eb_alfreds_keys(world):
    info = world().step("find a Fridge").info
    assert {"valid", "feedback", "success", "progress"} | EB_INFO_KEYS <= set(info)
    assert info["env_feedback"] == info["feedback"] and info["env_step"] == 1 and info["last_action_success"] == 1.0
    assert set(info["object_states"]) == {"cooled_objects", "heated_objects", "cleaned_objects", "visible_objs"}
    json.dumps(info)


@pytest.mark.parametrize("action", ["fly to the moon", "find a Cabinet_9", 10**6, -1, None, 3.5, {"skill": 1}])
def test_bad_input_is_an_invalid_action_with_eb_feedback(world, action):
    result = world().step(action)
    assert not result.info["valid"] and result.info["feedback"].startswith(INVALID + "instruction not supported")


def test_a_skill_of_another_episode_is_not_a_skill_here(world):
    result = world().step("find a Drawer_2")
    assert not result.info["valid"] and "not one of this episode's" in result.info["feedback"]


def test_reaching_the_goal_ends_the_episode_with_success(world):
    env = world(["inside(Apple, DiningTable)"])
    for skill in ("find a Apple", "pick up the Apple", "find a DiningTable"):
        assert not env.step(skill).terminated
    result = env.step("put down the object in hand")
    assert result.terminated and result.info["success"] and result.reward == pytest.approx(1.0)


def test_thirty_steps_end_the_episode(world):
    env = world(["inside(Apple, DiningTable)"])
    results = [env.step("find a Fridge") for _ in range(30)]
    assert not any(r.truncated for r in results[:-1]) and results[-1].truncated


def test_ten_invalid_actions_end_the_episode(world):
    env = world()
    results = [env.step("drop the object in hand") for _ in range(10)]
    assert not any(r.truncated for r in results[:-1]) and results[-1].truncated


def test_state_is_the_house_plus_the_counters(world):
    env = world()
    env.step("find a Fridge")
    state = env.state()
    assert state["agent"]["at"] == "Fridge_01" and state["steps"] == 1 and state["invalid"] == 0
    assert {thing["id"] for thing in state["things"]} == set(kitchen().things)
    json.dumps(state)


def test_a_task_with_an_explicit_scene_runs_that_scene():
    env = HouseholdEnv(render="none")
    observation = env.reset(kitchen_task(["inside(Apple, Fridge)"]))
    assert observation.text.startswith("Instruction: do the thing") and observation.images == {}
    assert env.state()["things"] == kitchen().to_dict()["things"]


def test_the_oracle_plan_solves_a_task_from_mid_episode(world):
    env = world(["inside(Apple, Fridge)", "cooled(Apple)", "inside(Apple[cooled], Fridge)"])
    env.step("find a DeskLamp")
    env.step("turn on the DeskLamp")
    for skill in env.oracle():
        result = env.step(skill)
        assert result.info["valid"], (skill, result.info["feedback"])
        if result.terminated:
            break
    assert result.info["success"]


@pytest.mark.parametrize("world", ["household", "rearrange"])
def test_the_text_only_world_passes_simyards_conformance_check(world):
    results = check_world(world, sample=3, world_options={"render": "none"})
    assert all_passed(results), [(r.name, r.detail) for r in results if not r.passed]


@pytest.mark.slow
def test_the_world_with_pictures_passes_simyards_conformance_check():
    results = check_world("household", sample=2, seeds=(0,), world_options={"resolution": 96})
    assert all_passed(results), [(r.name, r.detail) for r in results if not r.passed]


def test_steps_run_fast_without_pictures(world):
    env = world()
    skills = env.action_spec().choices
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for index in rng.integers(len(skills), size=2000):
        env.step(int(index))
        if env._done:
            env.reset(kitchen_task(["inside(Apple, DiningTable)"]))
    assert 2000 / (time.perf_counter() - started) > 2000


def test_the_human_agent_plays_through_a_terminal(tmp_path: Path):
    """Type a skill's number at the prompt and read EB's feedback and the saved frame's path back."""
    main, child = pty.openpty()
    command = [sys.executable, "-m", "simyard", "episode", "run", "household", "--seed", "1", "--out", str(tmp_path)]
    process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, cwd=tmp_path, close_fds=True)
    os.close(child)
    try:
        seen = _read_until(main, b"action>")
        assert b"[image rgb]" in seen
        os.write(main, f"{vocab.global_skills().index('find a Sink')}\n".encode())
        seen = _read_until(main, b"action>")
        assert b"Last action executed successfully." in seen and b"You are at the Sink" in seen
        assert b"turn002_rgb.png" in seen
        os.write(main, b":q\n")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)


def _read_until(fd: int, marker: bytes, timeout_s: float = 60.0) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout_s
    while marker not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} in time; saw {seen[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen
