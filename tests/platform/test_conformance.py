"""The world conformance checker: good worlds pass, and each way of breaking the contract fails with a clear detail."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from rich.console import Console

from simyard import _builtins
from simyard.platform import registry
from simyard.platform.api import ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.registry import register_world
from simyard.testing.conformance import CheckResult, all_passed, check_world, format_report, summary
from tests.kind_worlds import KIND_WORLDS, ChoiceWorld
from tests.needs import world_skip_reason

BUILTIN_WORLDS = sorted(_builtins.REGISTRY["world"].items())


class LineWorld(Env):
    """Walk right to the end of a line whose length the seed picks: a small, correct world to break on purpose."""

    name = "conformance-line"
    views = ("rgb",)

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.length = int(np.random.default_rng(seed).integers(3, 6))
        self.position = 0
        return self._observe("start")

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="choice", choices=("left", "right"), help="left or right")

    def step(self, action) -> StepResult:
        index = self.action_spec().choice_id(action)
        if index is None:
            message = f"{action!r} is not an action; say left or right"
            return self._result(message, valid=False)
        self.position = max(0, min(self.length, self.position + (1 if index else -1)))
        return self._result("moved", valid=True)

    def _result(self, message: str, valid: bool) -> StepResult:
        done = self.position == self.length
        info = {"valid": valid, "feedback": message, "success": done, "progress": self.position / self.length}
        return StepResult(self._observe(message), float(done), done, False, info)

    def _image(self) -> np.ndarray:
        image = np.zeros((4, 8, 3), np.uint8)
        image[:, self.position] = 255
        return image

    def _observe(self, text: str) -> Observation:
        return Observation(
            f"{text}: at {self.position} of {self.length}", {"rgb": self._image()}, {"valid_actions": ["left", "right"]}
        )

    def oracle(self):
        return "right"

    def state(self) -> dict:
        return {"position": self.position, "length": self.length}

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        return Task(id=f"line-{seed}", world=cls.name, instruction="Reach the end.", max_steps=20)


class RaisesOnBadAction(LineWorld):
    def step(self, action) -> StepResult:
        if self.action_spec().choice_id(action) is None:
            raise ValueError(f"cannot parse {action!r}")
        return super().step(action)


class UsesGlobalRandom(LineWorld):
    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.wind = float(np.random.random())  # the bug: the global generator, not one seeded from `seed`
        return super().reset(task, seed)

    def state(self) -> dict:
        return super().state() | {"wind": self.wind}


class OracleGoesTheWrongWay(LineWorld):
    def oracle(self):
        return "left"


class FloatImages(LineWorld):
    def _image(self) -> np.ndarray:
        return super()._image().astype(np.float32) / 255


class RemembersLastEpisode(LineWorld):
    def reset(self, task: Task, seed: int | None = None) -> Observation:
        kept = getattr(self, "position", 0)
        observation = super().reset(task, seed)
        self.position = min(kept, self.length)  # the bug: the walker stays where the last episode left it
        return self._observe("start") if kept else observation


class LeaksFileDescriptors(LineWorld):
    leaked: list[int] = []

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self.log = os.open(os.devnull, os.O_RDONLY)  # opened per episode, never closed by close()
        LeaksFileDescriptors.leaked.append(self.log)
        return super().reset(task, seed)


class CrashesOnReset(LineWorld):
    def reset(self, task: Task, seed: int | None = None) -> Observation:
        raise RuntimeError("scene assets missing")


class NoTasks(LineWorld):
    name = "conformance-no-tasks"

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        raise NotImplementedError


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results}


def failed(results: list[CheckResult]) -> list[str]:
    return [result.name for result in results if not result.passed]


def test_a_correct_world_passes_every_check():
    results = check_world(LineWorld)
    assert all_passed(results), summary(results)
    assert [r.name for r in results] == [
        "tasks",
        "contract types",
        "bad actions",
        "determinism",
        "reset independence",
        "oracle solves",
        "close",
        "resources",
        "gymnasium check_env",
    ]


@pytest.mark.parametrize("world", KIND_WORLDS, ids=lambda world: world.name)
def test_each_action_kind_world_passes(world):
    tasks = None if world is ChoiceWorld else [Task(id=f"{world.name}-{i}", world=world.name) for i in range(2)]
    results = check_world(world, tasks=tasks)
    assert all_passed(results), summary(results) + "\n" + "\n".join(r.detail for r in results if not r.passed)


@pytest.mark.parametrize(("name", "target"), BUILTIN_WORLDS, ids=[name for name, _ in BUILTIN_WORLDS])
def test_builtin_world_passes_by_name(name, target):
    if importlib.util.find_spec(target.partition(":")[0]) is None:
        pytest.skip(f"built-in world {name!r} is not written yet")
    if reason := world_skip_reason(name):
        pytest.skip(reason)
    results = check_world(name, sample=3)
    assert all_passed(results), summary(results) + "\n" + "\n".join(r.detail for r in results if not r.passed)


def test_registered_world_is_checked_by_name():
    register_world("conformance-line", LineWorld)
    try:
        results = check_world("conformance-line", sample=2, seeds=(0,))
    finally:
        registry._tables["world"].pop("conformance-line", None)  # leave `simyard env list` as other tests expect
    assert all_passed(results) and by_name(results)["tasks"].detail == "2 tasks from sample_task(0..1)"


def test_world_raising_on_a_bad_action_fails_with_the_action_and_the_exception():
    detail = by_name(check_world(RaisesOnBadAction, gym=False))["bad actions"]
    assert not detail.passed
    assert "step(None) raised ValueError: cannot parse None" in detail.detail


def test_world_using_the_global_generator_fails_determinism():
    results = check_world(UsesGlobalRandom, gym=False)
    assert "determinism" in failed(results)
    assert "task line-0 seed 0, after reset: state() differs" in by_name(results)["determinism"].detail


def test_oracle_that_does_not_solve_fails_naming_the_task():
    results = check_world(OracleGoesTheWrongWay, sample=2, seeds=(0,), gym=False)
    assert failed(results) == ["oracle solves"]
    detail = by_name(results)["oracle solves"].detail
    assert "task line-0 seed 0: not solved (ended by max_steps after 20 steps" in detail


def test_float_images_fail_the_contract_types():
    results = check_world(FloatImages, gym=False)
    assert failed(results) == ["contract types"]
    assert "reset: image 'rgb' has dtype float32, not uint8" in by_name(results)["contract types"].detail


def test_state_left_over_from_the_last_episode_fails_reset_independence():
    results = check_world(RemembersLastEpisode, gym=False)
    assert failed(results) == ["reset independence"]
    assert "after playing task" in by_name(results)["reset independence"].detail


def test_world_leaking_file_descriptors_fails_resources():
    try:
        results = check_world(LeaksFileDescriptors, sample=1, seeds=(0,), gym=False)
    finally:
        for fd in LeaksFileDescriptors.leaked:
            os.close(fd)
        LeaksFileDescriptors.leaked.clear()
    assert failed(results) == ["resources"]
    assert "open file descriptors grew from" in by_name(results)["resources"].detail


def test_world_with_no_tasks_asks_for_them():
    results = check_world(NoTasks)
    assert results == [CheckResult("tasks", False, results[0].detail)]
    assert "pass tasks" in results[0].detail


def test_report_shows_each_check_with_its_verdict_and_detail():
    results = check_world(OracleGoesTheWrongWay, sample=1, seeds=(0,), gym=False)
    console = Console(record=True, width=200)
    console.print(format_report(results, title="line"))
    text = console.export_text()
    assert "oracle solves" in text and "FAIL" in text and "not solved" in text and "PASS" in text
    assert summary(results) == "7/8 checks passed; failed: oracle solves"


def test_world_crashing_on_reset_fails_checks_instead_of_crashing_the_checker():
    results = by_name(check_world(CrashesOnReset, sample=1, seeds=(0,), gym=False))
    assert not results["contract types"].passed
    assert "task line-0 seed 0: RuntimeError: scene assets missing" in results["contract types"].detail
    assert not results["oracle solves"].passed


def test_report_prints_details_with_brackets_verbatim():
    console = Console(record=True, width=200)
    console.print(format_report([CheckResult("bad actions", False, "step([1e9, 1e9]) raised [bold]")]))
    assert "step([1e9, 1e9]) raised [bold]" in console.export_text()
