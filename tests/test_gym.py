"""The Gymnasium view of simyard worlds: gymnasium's own checker, seeding, and what each kind of action becomes."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import simyard.gym
from simyard import _builtins
from simyard.platform.api import ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import SimyardError
from tests.kind_worlds import KIND_WORLDS, ChoiceWorld, JsonWorld, TextWorld, VectorWorld
from tests.needs import world_skip_reason

BUILTIN_WORLDS = sorted(_builtins.REGISTRY["world"].items())


def kind_task(world: type[Env], **fields) -> Task:
    return Task(id=f"{world.name}-task", world=world.name, **fields)


def make_kind(world: type[Env], **options) -> simyard.gym.SimyardGymEnv:
    return simyard.gym.make(world, task=kind_task(world), **options)


class GlyphWorld(Env):
    """Says things outside plain ASCII and shows a picture whose size the task picks."""

    name = "gym-glyphs"
    views = ("rgb",)

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.size, self.seed, self.done = int(task.config.get("size", 4)), seed, False
        return self._observe("ready")

    def _observe(self, text: str) -> Observation:
        image = np.full((self.size, self.size, 3), 200, np.uint8)
        return Observation(f"{text}: √2 ≈ 1.41 ┌─┐ 🙂 seed {self.seed}", {"rgb": image}, {"size": self.size})

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("wait", "finish"))

    def step(self, action) -> StepResult:
        self.done = self.action_spec().choice_id(action) == 1
        info = {"valid": True, "feedback": "ok", "success": self.done, "progress": float(self.done)}
        return StepResult(self._observe("ok"), float(self.done), self.done, False, info)

    def oracle(self):
        return "finish"


@pytest.mark.parametrize(("name", "target"), BUILTIN_WORLDS, ids=[name for name, _ in BUILTIN_WORLDS])
def test_gymnasium_checker_passes_for_builtin_world(name, target):
    if importlib.util.find_spec(target.partition(":")[0]) is None:
        pytest.skip(f"built-in world {name!r} is not written yet")
    if reason := world_skip_reason(name):
        pytest.skip(reason)
    env = simyard.gym.make(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium's advice (e.g. normalised Boxes) is not a failure
        check_env(env)
    env.close()


@pytest.mark.parametrize("world", KIND_WORLDS, ids=lambda world: world.name)
def test_gymnasium_checker_passes_for_each_action_kind(world):
    env = make_kind(world)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    env.close()
    assert not [str(w.message) for w in caught]


@pytest.mark.parametrize("world", KIND_WORLDS, ids=lambda world: world.name)
def test_random_rollout_ends_by_the_task_step_cap(world):
    env = simyard.gym.make(world, task=kind_task(world, max_steps=6, max_invalid=None), seed=0)
    env.reset()
    steps, ended = 0, False
    while not ended and steps < 100:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps, ended = steps + 1, terminated or truncated
    env.close()
    assert ended and steps <= 6


def test_same_seed_replays_the_same_episode():
    def play(seed):
        env = simyard.gym.make(ChoiceWorld, max_choices=9)
        env.action_space.seed(0)
        obs, _ = env.reset(seed=seed)
        trace = [obs["text"]]
        for _ in range(5):
            obs, reward, *_ = env.step(env.action_space.sample())
            trace += [obs["text"], reward, obs["rgb"].tobytes()]
        return trace

    assert play(7) == play(7)
    assert play(7)[0] != play(2)[0]  # another seed, another mug to move


def test_seed_given_to_make_is_the_first_reset_seed():
    first, _ = simyard.gym.make(ChoiceWorld, seed=4).reset()
    same, _ = simyard.gym.make(ChoiceWorld).reset(seed=4)
    assert first["text"] == same["text"]


def test_skill_list_changing_per_episode_gives_named_actions_by_default():
    env = simyard.gym.make(ChoiceWorld)
    assert isinstance(env.action_space, spaces.Text)
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(info["choices"][0])
    assert info["valid"] is True


def test_max_choices_gives_discrete_ids_with_a_mask_of_this_episodes_skills():
    env = simyard.gym.make(ChoiceWorld, max_choices=9)
    assert env.action_space == spaces.Discrete(9)
    _, info = env.reset(seed=6)  # an episode with two mugs: seven skills
    assert info["action_mask"].tolist() == [1] * 7 + [0] * 2
    _, _, _, _, info = env.step(8)
    assert info["valid"] is False and "not a skill" in info["feedback"]


def test_more_choices_than_max_choices_is_an_error_with_a_hint():
    env = simyard.gym.make(ChoiceWorld, max_choices=5)
    with pytest.raises(SimyardError, match="max_choices"):
        env.reset(seed=0)  # three mugs: nine skills


def test_json_actions_are_strings_parsed_for_the_world():
    env = make_kind(JsonWorld)
    env.reset(seed=0)
    _, _, _, _, info = env.step(json.dumps({"object": "sofa", "x": 1, "y": 2}))
    assert info["valid"] is True
    _, _, _, _, info = env.step("{not json")
    assert info["valid"] is False and "not JSON" in info["feedback"]


def test_text_actions_reach_the_world_verbatim():
    env = make_kind(TextWorld)
    env.reset(seed=0)
    obs, *_ = env.step("ls")
    env.close()
    assert obs["text"] == "secret.txt"


def test_integer_bin_vectors_are_multidiscrete_and_the_oracle_action_solves():
    env = make_kind(VectorWorld)
    assert isinstance(env.action_space, spaces.MultiDiscrete)
    env.reset(seed=0)
    action = np.asarray(env.unwrapped.world.oracle())
    assert action in env.action_space
    _, reward, terminated, _, info = env.step(action)
    assert (reward, terminated, info["success"]) == (1.0, True, True)


def test_text_keeps_common_symbols_and_replaces_the_rest():
    env = simyard.gym.make(GlyphWorld, task=Task(id="g", world="gym-glyphs"))
    obs, _ = env.reset(seed=0)
    assert "√2 ≈ 1.41 ┌─┐ \ufffd" in obs["text"]
    assert obs in env.observation_space


def test_long_text_is_cut_to_the_space():
    env = simyard.gym.make(GlyphWorld, task=Task(id="g", world="gym-glyphs"), max_text_length=10)
    obs, _ = env.reset(seed=0)
    assert obs["text"] == "ready: √2…" and obs in env.observation_space


def test_images_of_another_size_are_resized_to_the_space():
    tasks = [
        Task(id="small", world="gym-glyphs", config={"size": 4}),
        Task(id="big", world="gym-glyphs", config={"size": 9}),
    ]
    env = simyard.gym.make(GlyphWorld, suite=tasks)
    assert env.observation_space["rgb"].shape == (4, 4, 3)
    obs, info = env.reset(seed=1)
    assert info["task_id"] == "big" and info["data"] == {"size": 9}
    assert obs["rgb"].shape == (4, 4, 3) and (obs["rgb"] == 200).all()


def test_suite_tasks_cycle_by_seed_or_are_picked_by_id():
    tasks = [Task(id=f"t{i}", world="gym-glyphs") for i in range(3)]
    env = simyard.gym.make(GlyphWorld, suite=tasks)
    assert [env.reset(seed=seed)[1]["task_id"] for seed in (0, 1, 2, 3)] == ["t0", "t1", "t2", "t0"]
    assert env.reset(seed=0, options={"task_id": "t2"})[1]["task_id"] == "t2"


def test_episode_is_truncated_at_the_task_step_cap():
    env = simyard.gym.make(GlyphWorld, task=Task(id="g", world="gym-glyphs", max_steps=2))
    env.reset(seed=0)
    assert env.step(0)[3] is False
    assert env.step(0)[3] is True


def test_goal_reached_on_the_last_allowed_step_is_terminated_not_truncated():
    env = simyard.gym.make(GlyphWorld, task=Task(id="g", world="gym-glyphs", max_steps=1))
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step(1)
    assert (terminated, truncated) == (True, False)


def test_one_step_task_ends_as_terminated_whatever_the_answer():
    env = simyard.gym.make(GlyphWorld, task=Task(id="g", world="gym-glyphs", max_steps=1))
    env.reset(seed=0)
    _, reward, terminated, truncated, _ = env.step(0)  # "wait" does not end the world's episode
    assert (reward, terminated, truncated) == (0.0, True, False)


def test_rgb_array_render_shows_the_world_and_text_worlds_refuse_it():
    env = simyard.gym.make(ChoiceWorld, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (16, 16, 3) and frame.dtype == np.uint8
    with pytest.raises(SimyardError, match="render_mode"):
        simyard.gym.make(TextWorld, task=kind_task(TextWorld), render_mode="rgb_array")


def test_world_without_tasks_says_how_to_give_one():
    with pytest.raises(SimyardError, match="task= or suite="):
        simyard.gym.make(JsonWorld)


def test_close_closes_the_world_once():
    env = make_kind(TextWorld)
    env.reset(seed=0)
    workspace = env.unwrapped.world.workspace
    env.close()
    env.close()
    assert not workspace.exists()
