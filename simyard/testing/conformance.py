"""`simyard env check WORLD`: does a world keep the contract of `platform/api.py`? For world authors.

`check_world` plays a world the way the runner, the random agent, the oracle and Gymnasium will, and returns one
`CheckResult` per rule, with a detail that names the task, seed and step where a rule broke. It never raises for a
broken world: a world that crashes fails the check that made it crash.

The checks, in order: the tasks it runs on; the contract's types (observations, images against `views`, action spec,
step results, JSON-serialisable data and state); bad actions answered with feedback, not exceptions; determinism
for a seed (two fresh worlds, the global random generators disturbed in between, same states, texts and frames);
reset independence (a played world resets to the same start as a fresh one); the oracle solving every task;
`close()` safe to call twice and on a world never reset; no file descriptors, threads or child processes left
behind after reset+close cycles (Linux); Gymnasium's own `check_env` through `simyard.gym`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import random
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simyard.platform import registry
from simyard.platform.api import ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import describe

__all__ = ["CheckResult", "all_passed", "check_world", "format_report", "summary"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One rule's verdict: its `name`, whether it `passed`, and a `detail` a world author can act on."""

    name: str
    passed: bool
    detail: str = ""


class _Garbage:
    """An object no world can mean as an action (with a stable repr, so feedback texts compare)."""

    def __repr__(self) -> str:
        return "<garbage object>"


#: What the bad-action check feeds a world; every one must come back as `valid=False` with feedback.
BAD_ACTIONS: tuple[Any, ...] = (None, -1, 10**9, "definitely not an action", {}, [1e9] * 3, _Garbage(), float("nan"))


class _Failed(Exception):
    """A check's verdict that the world broke a rule; the message is the detail."""


@dataclass
class _Snapshot:
    """What determinism compares after a reset or a step."""

    text: str
    state: str
    frames: dict[str, str]
    outcome: tuple[Any, ...] = ()

    def difference(self, other: _Snapshot) -> str | None:
        for label, mine, theirs in (
            ("observation text", self.text, other.text),
            ("state()", self.state, other.state),
            ("frames", self.frames, other.frames),
            ("reward/terminated/truncated", self.outcome, other.outcome),
        ):
            if mine != theirs:
                return f"{label} differs: {_short(mine)} vs {_short(theirs)}"
        return None


@dataclass
class _Trace:
    """One play of a task and seed: the snapshots, the contract violations seen, and the error that stopped it."""

    snapshots: list[_Snapshot] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None


def check_world(
    name_or_class: str | type[Env],
    tasks: Sequence[Task] | None = None,
    seeds: Sequence[int] = (0, 1),
    sample: int = 5,
    *,
    steps: int = 12,
    gym: bool = True,
    world_options: Mapping[str, Any] | None = None,
) -> list[CheckResult]:
    """Check that a world keeps the simyard contract.

    Args:
        name_or_class: A registered world name or a world class (built with no arguments).
        tasks: Tasks to check on; by default `sample_task(seed)` for seeds `0..sample-1`, else the first tasks of a
            registered suite that runs this world.
        seeds: Episode seeds to try each task with.
        sample: How many tasks to generate or take from a suite.
        steps: Random actions played per episode in the type, determinism and reset checks.
        gym: Whether to run Gymnasium's `check_env` through `simyard.gym` too.
        world_options: Keyword options every world the checker builds is constructed with (`--world-opt`).

    Returns:
        One `CheckResult` per rule, in the order they ran.

    Raises:
        UnknownNameError: No world is registered under the name.
        SimyardError: The world's constructor refuses `world_options` (a broken world never raises: it fails checks).
    """
    world_cls = registry.world_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    name = name_or_class if isinstance(name_or_class, str) else world_cls.name
    if world_options:
        world_cls = _with_options(world_cls, name, world_options)
        name_or_class = world_cls
    try:
        task_list, source = _find_tasks(world_cls, name, tasks, sample)
    except Exception as exc:
        return [CheckResult("tasks", False, f"could not get tasks: {describe(exc)}")]
    if not task_list:
        return [CheckResult("tasks", False, f"no tasks to check: {source}")]
    unique: dict[str, Task] = {}
    for task in task_list:
        unique.setdefault(task.id, task)  # one play per task id: the plays are keyed by it
    task_list = list(unique.values())
    wrong = [task.id for task in task_list if name and task.world != name]
    results = [
        CheckResult(
            "tasks",
            not wrong,
            f"{len(task_list)} {source}"
            if not wrong
            else f"tasks {wrong[:3]} name another world than {name!r} in their `world` field",
        )
    ]
    seeds = list(seeds) or [0]

    def play(task: Task, seed: int, global_seed: int) -> _Trace:
        return _play(world_cls, task, seed, steps, global_seed)

    first = {(task.id, seed): play(task, seed, 1) for task in task_list for seed in seeds}
    checks: list[tuple[str, Callable[[], str]]] = [
        ("contract types", lambda: _types(first)),
        ("bad actions", lambda: _bad_actions(world_cls, task_list[0], seeds[0])),
        ("determinism", lambda: _determinism(task_list, seeds, first, play)),
        ("reset independence", lambda: _reset_independence(world_cls, task_list, seeds, first, steps)),
        ("oracle solves", lambda: _oracle(world_cls, task_list, seeds)),
        ("close", lambda: _close(world_cls, task_list[0], seeds[0])),
        ("resources", lambda: _resources(world_cls, task_list[0], seeds[0], steps)),
    ]
    if gym:
        checks.append(("gymnasium check_env", lambda: _gymnasium(name_or_class, task_list)))
    for check_name, check in checks:
        try:
            results.append(CheckResult(check_name, True, check()))
        except _Failed as failure:
            results.append(CheckResult(check_name, False, str(failure)))
        except Exception as exc:  # a crash inside a check is that check's failure, never the caller's
            results.append(CheckResult(check_name, False, f"raised {describe(exc)}"))
    return results


def all_passed(results: Iterable[CheckResult]) -> bool:
    """Whether every check passed (the CLI's exit status)."""
    return all(result.passed for result in results)


def summary(results: Sequence[CheckResult]) -> str:
    """One line: how many checks passed, and which failed."""
    failed = [result.name for result in results if not result.passed]
    head = f"{len(results) - len(failed)}/{len(results)} checks passed"
    return f"{head}; failed: {', '.join(failed)}" if failed else head


def format_report(results: Sequence[CheckResult], title: str | None = None):
    """A rich `Table` of the results (check, PASS/FAIL, detail), for `simyard env check`."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    table.add_column("check", style="bold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in results:
        verdict = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
        table.add_row(result.name, verdict, Text(result.detail))  # details quote actions like [1e9, 1e9]
    return table


def _with_options(world_cls: type[Env], name: str, options: Mapping[str, Any]) -> type[Env]:
    """A subclass of `world_cls` whose no-argument constructor passes `options`, so every check builds it alike."""
    from simyard.platform.errors import SimyardError

    options = dict(options)
    if name in registry.names("world") and hasattr(registry, "check_world_options"):
        registry.check_world_options(name, options)  # unknown options named, the accepted ones listed
    try:
        _quiet_close(world_cls(**options))
    except TypeError as exc:
        raise SimyardError(f"world {name!r} does not accept the options {sorted(options)}: {exc}",
                           hint=f"see `simyard env info {name}` for the options it takes") from None

    class Configured(world_cls):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__(**options)

    Configured.__name__, Configured.__qualname__ = world_cls.__name__, world_cls.__qualname__
    Configured.__module__ = world_cls.__module__
    return Configured


# -- tasks ------------------------------------------------------------------------------------------------------


def _find_tasks(world_cls: type[Env], name: str, tasks: Sequence[Task] | None, sample: int) -> tuple[list[Task], str]:
    if tasks is not None:
        return list(tasks), "given tasks"
    try:
        generated = [world_cls.sample_task(seed) for seed in range(sample)]
        if not all(isinstance(task, Task) for task in generated):
            raise _Failed("sample_task(seed) must return a simyard Task")
        return generated, f"tasks from sample_task(0..{sample - 1})"
    except NotImplementedError:
        pass
    for suite in registry.names("suite"):
        try:
            found = [task for task in registry.load_suite(suite) if task.world == name][:sample]
        except Exception:
            continue  # a suite that cannot load is that suite's problem, reported by `simyard tasks`
        if found:
            return found, f"tasks from suite {suite!r}"
    return [], "the world has no sample_task and no registered suite runs it; pass tasks"


# -- playing ----------------------------------------------------------------------------------------------------


def _play(world_cls: type[Env], task: Task, seed: int, steps: int, global_seed: int) -> _Trace:
    """Play `steps` seeded random actions in a fresh world, with the global generators set to `global_seed`.

    Disturbing the global generators between two plays is what exposes a world that draws from them.
    """
    trace = _Trace()
    saved = np.random.get_state(), random.getstate()
    np.random.seed(global_seed)
    random.seed(global_seed)
    world = None
    try:
        world = world_cls()
        observation = world.reset(task, seed)
        trace.problems += _observation_problems(observation, world.views, "reset")
        trace.problems += _spec_problems(world.action_spec())
        trace.snapshots.append(_snapshot(world, observation, trace.problems, "reset"))
        unseen = [
            view
            for view in world.views
            if view not in _images(observation) and f"render:{view}" not in trace.snapshots[0].frames
        ]
        if unseen:
            trace.problems.append(f"views {unseen} are declared but neither observations nor render() show them")
        rng = np.random.default_rng(seed)
        for index in range(1, steps + 1):
            action = _random_action(world, observation, rng)
            result = world.step(action)
            where = f"step {index} ({_short(action)})"
            trace.problems += _step_problems(result, world.views, where)
            observation = result.observation
            outcome = (result.reward, result.terminated, result.truncated)
            trace.snapshots.append(_snapshot(world, observation, trace.problems, where, outcome))
            if result.terminated or result.truncated:
                break
    except _Failed as failure:
        trace.error = str(failure)
    except Exception as exc:
        trace.error = describe(exc)
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
        if world is not None:
            _quiet_close(world)
    return trace


def _random_action(world: Env, observation: Observation, rng: np.random.Generator) -> Any:
    try:
        return world.sample_action(rng)
    except NotImplementedError:
        valid = observation.data.get("valid_actions") if isinstance(observation.data, Mapping) else None
        if valid:
            return valid[int(rng.integers(len(valid)))]
        raise _Failed(
            "sample_action() is not implemented and observations list no `valid_actions`, so the random "
            "agent cannot play this world; override Env.sample_action"
        ) from None


def _snapshot(
    world: Env, observation: Observation, problems: list[str], where: str, outcome: tuple[Any, ...] = ()
) -> _Snapshot:
    state = world.state()
    if not isinstance(state, dict):
        problems.append(f"{where}: state() returned {type(state).__name__}, not a dict")
    state_text = _json_or_problem(state, f"{where}: state()", problems)
    frames = {view: _digest(image) for view, image in sorted(_images(observation).items())}
    for view in world.views:
        frame = world.render(view)
        if frame is not None:
            problems += _image_problems(frame, f"{where}: render({view!r})")
            frames[f"render:{view}"] = _digest(frame)
    return _Snapshot(
        observation.text if isinstance(observation, Observation) else repr(observation), state_text, frames, outcome
    )


# -- type rules -------------------------------------------------------------------------------------------------


def _observation_problems(observation: Any, views: tuple[str, ...], where: str) -> list[str]:
    if not isinstance(observation, Observation):
        return [f"{where}: returned {type(observation).__name__}, not an Observation"]
    problems = []
    if not isinstance(observation.text, str):
        problems.append(f"{where}: observation text is {type(observation.text).__name__}, not str")
    for view, image in _images(observation).items():
        if view not in views:
            problems.append(f"{where}: image {view!r} is not one of the world's views {views}")
        problems += _image_problems(image, f"{where}: image {view!r}")
    problems += _json_problems(observation.data, f"{where}: observation data")
    return problems


def _image_problems(image: Any, what: str) -> list[str]:
    if not isinstance(image, np.ndarray):
        return [f"{what} is {type(image).__name__}, not a numpy array"]
    if image.ndim != 3 or image.shape[2] != 3:
        return [f"{what} has shape {image.shape}, not HxWx3"]
    if image.dtype != np.uint8:
        return [f"{what} has dtype {image.dtype}, not uint8"]
    return []


def _spec_problems(spec: Any) -> list[str]:
    if not isinstance(spec, ActionSpec):
        return [f"action_spec() returned {type(spec).__name__}, not an ActionSpec"]
    if spec.kind not in ("choice", "text", "json", "vector"):
        return [f"action_spec() kind {spec.kind!r} is not choice, text, json or vector"]
    if spec.kind == "choice" and (not spec.choices or not all(isinstance(c, str) for c in spec.choices)):
        return ["a choice ActionSpec lists its skills as a non-empty tuple of strings in `choices`"]
    if spec.kind == "json" and not isinstance(spec.schema, Mapping):
        return ["a json ActionSpec gives the JSON schema of an action in `schema`"]
    if spec.kind == "vector":
        size = spec.size or len(spec.low or spec.high or ())
        bounds = [bound for bound in (spec.low, spec.high) if bound is not None]
        if not size or any(len(bound) != size for bound in bounds):
            return [
                f"a vector ActionSpec needs `size` and bounds of that length (size={spec.size}, low={spec.low}, "
                f"high={spec.high})"
            ]
        if len(bounds) == 2 and any(low > high for low, high in zip(spec.low, spec.high, strict=True)):
            return [f"vector bounds have low > high: low={spec.low}, high={spec.high}"]
        if spec.integer and not all(float(v).is_integer() for bound in bounds for v in bound):
            return [f"an integer vector ActionSpec has non-integer bounds: low={spec.low}, high={spec.high}"]
    return []


def _step_problems(result: Any, views: tuple[str, ...], where: str) -> list[str]:
    if not isinstance(result, StepResult):
        raise _Failed(f"{where}: step() returned {type(result).__name__}, not a StepResult")
    problems = _observation_problems(result.observation, views, where)
    if not _is_real(result.reward) or not math.isfinite(result.reward):
        problems.append(f"{where}: reward {result.reward!r} is not a finite float")
    for flag in ("terminated", "truncated"):
        if type(getattr(result, flag)) is not bool:
            problems.append(f"{where}: {flag} is {type(getattr(result, flag)).__name__}, not bool")
    info = result.info
    if not isinstance(info, Mapping):
        return problems + [f"{where}: info is {type(info).__name__}, not a mapping"]
    for key, kind in (("valid", bool), ("success", bool), ("feedback", str)):
        if type(info.get(key)) is not kind:
            problems.append(f"{where}: info[{key!r}] is {info.get(key)!r}, not a {kind.__name__}")
    progress = info.get("progress")
    if not _is_real(progress) or not 0.0 <= progress <= 1.0:
        problems.append(f"{where}: info['progress'] is {progress!r}, not a number in [0, 1]")
    return problems + _json_problems(dict(info), f"{where}: info")


def _types(traces: Mapping[tuple[str, int], _Trace]) -> str:
    problems, steps = [], 0
    for (task_id, seed), trace in traces.items():
        if trace.error is not None:
            raise _Failed(f"task {task_id} seed {seed}: {trace.error}")
        problems += [f"task {task_id} seed {seed}: {problem}" for problem in trace.problems]
        steps += len(trace.snapshots) - 1
    if problems:
        raise _Failed(_join(problems))
    return f"{len(traces)} episodes, {steps} steps: observations, images, spec, steps and state keep the contract"


def _bad_actions(world_cls: type[Env], task: Task, seed: int) -> str:
    problems = []
    world = world_cls()
    try:
        for action in BAD_ACTIONS:
            world.reset(task, seed)
            try:
                result = world.step(action)
            except Exception as exc:
                problems.append(f"step({action!r}) raised {describe(exc)}; answer info['valid']=False instead")
                continue
            info = result.info if isinstance(result, StepResult) and isinstance(result.info, Mapping) else {}
            if info.get("valid", True) is not False:
                problems.append(f"step({action!r}) was answered as a valid action")
            elif not isinstance(info.get("feedback"), str) or not info["feedback"].strip():
                problems.append(f"step({action!r}) was refused without feedback saying what is allowed")
    finally:
        _quiet_close(world)
    if problems:
        raise _Failed(_join(problems))
    return f"{len(BAD_ACTIONS)} malformed actions each answered valid=False with feedback"


def _determinism(
    tasks: list[Task],
    seeds: list[int],
    first: Mapping[tuple[str, int], _Trace],
    play: Callable[[Task, int, int], _Trace],
) -> str:
    for task in tasks:
        for seed in seeds:
            one, two = first[(task.id, seed)], play(task, seed, 2)
            if one.error or two.error:
                raise _Failed(f"task {task.id} seed {seed}: could not play: {one.error or two.error}")
            for index, (a, b) in enumerate(zip(one.snapshots, two.snapshots, strict=False)):
                if (difference := a.difference(b)) is not None:
                    where = "after reset" if index == 0 else f"after step {index}"
                    raise _Failed(
                        f"task {task.id} seed {seed}, {where}: {difference} (a world owns a "
                        "numpy.random.Generator seeded from `seed` and never uses the global one)"
                    )
            if len(one.snapshots) != len(two.snapshots):
                raise _Failed(
                    f"task {task.id} seed {seed}: one play ended after {len(one.snapshots) - 1} steps, "
                    f"the other after {len(two.snapshots) - 1}"
                )
    return f"{len(tasks) * len(seeds)} task/seed pairs replayed identically (states, texts, frames)"


def _reset_independence(
    world_cls: type[Env], tasks: list[Task], seeds: list[int], first: Mapping[tuple[str, int], _Trace], steps: int
) -> str:
    world = world_cls()
    try:
        for index, task in enumerate(tasks):
            for seed in seeds:
                other = tasks[(index + 1) % len(tasks)]
                observation = world.reset(other, seed + 1)
                rng = np.random.default_rng(seed + 1)
                for _ in range(steps):
                    result = world.step(_random_action(world, observation, rng))
                    observation = result.observation
                    if result.terminated or result.truncated:
                        break
                again = _snapshot(world, world.reset(task, seed), [], "reset")
                fresh = first[(task.id, seed)].snapshots[:1]
                if not fresh:
                    raise _Failed(f"task {task.id} seed {seed}: could not play: {first[(task.id, seed)].error}")
                if (difference := fresh[0].difference(again)) is not None:
                    raise _Failed(
                        f"reset(task {task.id}, seed {seed}) after playing task {other.id} differs from a "
                        f"fresh world's: {difference} (reset must clear all episode state)"
                    )
    finally:
        _quiet_close(world)
    return "a played world resets to the same start as a fresh one"


def _oracle(world_cls: type[Env], tasks: list[Task], seeds: list[int]) -> str:
    from simyard.agents.baselines import OracleAgent
    from simyard.platform.episode import run_episode_with

    failures = []
    for task in tasks:
        for seed in seeds:
            world = world_cls()
            try:
                result = run_episode_with(world, OracleAgent(), task, seed)
            finally:
                _quiet_close(world)
            if not result.success:
                why = result.error or f"ended by {result.reason} after {result.steps} steps, progress {result.progress}"
                failures.append(f"task {task.id} seed {seed}: not solved ({why})")
    if failures:
        raise _Failed(_join(failures))
    return f"solved {len(tasks) * len(seeds)} of {len(tasks) * len(seeds)} episodes"


def _close(world_cls: type[Env], task: Task, seed: int) -> str:
    fresh = world_cls()
    fresh.close()  # the runner closes worlds whose reset failed too
    world = world_cls()
    world.reset(task, seed)
    world.close()
    world.close()
    return "close() works on a world never reset, and twice in a row"


def _resources(world_cls: type[Env], task: Task, seed: int, steps: int, cycles: int = 3) -> str:
    if not os.path.isdir("/proc/self/fd"):
        return "not measured (needs Linux /proc)"

    def cycle() -> Env:
        world = world_cls()
        observation = world.reset(task, seed)
        rng = np.random.default_rng(seed)
        for _ in range(min(steps, 3)):
            observation = world.step(_random_action(world, observation, rng)).observation
        world.close()
        return world

    cycle()  # the first episode may warm caches (fonts, thread pools) that live for the process
    gc.collect()
    before = _resource_counts()
    kept = [cycle() for _ in range(cycles)]  # kept alive: close() must release, not the garbage collector
    gc.collect()
    after = _resource_counts()
    del kept
    grown = [f"{what} grew from {before[what]} to {after[what]}" for what in before if after[what] > before[what]]
    if grown:
        raise _Failed(f"after {cycles} reset+close cycles: {', '.join(grown)}; close() must release them")
    return f"{cycles} reset+close cycles left no file descriptors, threads or child processes behind"


def _resource_counts() -> dict[str, int]:
    children = 0
    pid = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    # the command name may hold spaces; the parent pid is the second field after its ')'
                    if stat.read().rpartition(")")[2].split()[1] == pid:
                        children += 1
            except (OSError, IndexError):
                continue
    return {
        "open file descriptors": len(os.listdir("/proc/self/fd")),
        "threads": len(os.listdir("/proc/self/task")),
        "child processes": children,
    }


def _gymnasium(name_or_class: str | type[Env], tasks: list[Task]) -> str:
    from gymnasium.utils.env_checker import check_env

    from simyard.gym import SimyardGymEnv

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = SimyardGymEnv(name_or_class, suite=tasks)
        try:
            check_env(env)
        except AssertionError as exc:
            raise _Failed(f"gymnasium check_env: {exc}") from None
        finally:
            env.close()
    notes = sorted({str(warning.message).strip().splitlines()[0] for warning in caught})
    space = env.action_space
    shown = f"Text(max {space.max_length})" if hasattr(space, "max_length") else _short(space, 40)
    return f"passed with warnings: {_join(notes)}" if notes else f"passed (action space {shown})"


# -- small helpers ----------------------------------------------------------------------------------------------


def _images(observation: Any) -> Mapping[str, Any]:
    images = getattr(observation, "images", None)
    return images if isinstance(images, Mapping) else {}


def _digest(image: Any) -> str:
    array = np.ascontiguousarray(image)
    return f"{array.shape}/{array.dtype}/{hashlib.sha1(array.tobytes()).hexdigest()[:12]}"


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_problems(value: Any, what: str) -> list[str]:
    problems: list[str] = []
    _json_or_problem(value, what, problems)
    return problems


def _json_or_problem(value: Any, what: str, problems: list[str]) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        problems.append(f"{what} is not JSON-serialisable ({exc})")
        return repr(value)


def _quiet_close(world: Env) -> None:
    try:
        world.close()
    except Exception:
        pass  # the close check reports close() failures; elsewhere they must not hide the real finding



def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(items: list[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(items))
    more = f" (and {len(unique) - limit} more)" if len(unique) > limit else ""
    return "; ".join(unique[:limit]) + more
