"""Rescoring a run without running its agent again: success and progress recomputed by the current metric code.

`rescore_run` reads every recorded episode, asks its world's `Env.rescore` hook for (success, progress) from the
recorded task, seed and steps, and writes a new index beside the old one (`results.rescored.jsonl`, then
`results.rescored-2.jsonl`, ...), never touching the recorded `results.jsonl`. Rows whose score could not be
recomputed (a world without the hook, a trajectory that cannot be read, a replay that disagrees with the record)
are copied unchanged and named in the report, never dropped.

`replay_score` is the hook's usual body for deterministic worlds that record no final state (the RAGEN puzzles): the
world is built fresh, reset with the recorded task and seed, and stepped with the recorded actions, exactly as the
episode runner did; success and progress are what the world's current code says at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simyard.platform.api import Env, Task
from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import SimyardError, describe
from simyard.platform.jsonl import dumps
from simyard.platform.rundir import INDEX_FILE, RunDir, episode_dir_name, open_run

#: The rescored index's name; later rescores of one run add `-2`, `-3`, ... before the suffix.
RESCORED_STEM = "results.rescored"
#: Scores closer than this are equal (float noise in progress must not list an episode as changed).
TOLERANCE = 1e-9


class ReplayMismatch(SimyardError):
    """Replaying an episode's recorded actions did not reproduce the record (a world that is not deterministic, or a
    change beyond its metric), so the recomputed score cannot be trusted."""


@dataclass(frozen=True, slots=True)
class Change:
    """One episode whose score moved: its row before and after."""

    before: EpisodeResult
    after: EpisodeResult


@dataclass
class RescoreReport:
    """What a rescore did.

    Attributes:
        index: The new index written beside the old one.
        before, after: Every row of the old index and of the new one, in the same order.
        rescored: Episodes whose score was recomputed (changed or not).
        changes: Episodes whose success or progress differs.
        unsupported: World -> episodes of worlds that cannot be rescored (no `Env.rescore`), copied unchanged.
        failed: One line per episode whose world can be rescored but whose rescore failed, copied unchanged.
        skipped: Index lines that could not be read (a damaged index); they are not in the new index either.
    """

    index: Path
    before: list[EpisodeResult]
    after: list[EpisodeResult]
    rescored: int = 0
    changes: list[Change] = field(default_factory=list)
    unsupported: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def replay_score(env: Env, task: Task, seed: int | None, steps: Sequence[Mapping[str, Any]]) -> tuple[bool, float]:
    """(success, progress) after replaying the recorded actions on `env` (closed afterwards), as the runner scores.

    A step without an action (a reply with no usable action) did not touch the world and is skipped; the replay
    stops where the world now ends the episode. Raises ReplayMismatch when a replayed action's validity differs from
    the record: the world did not retrace the episode.
    """
    success, progress = False, 0.0
    try:
        env.reset(task, seed)
        for line in steps:
            action = line.get("action")
            if action is None:
                continue
            step = env.step(action)
            recorded = (line.get("info") or {}).get("valid", True)
            if bool(step.info.get("valid", True)) != bool(recorded):
                raise ReplayMismatch(f"step {line.get('index')}: the action {action!r} was "
                                     f"{'valid' if recorded else 'invalid'} when recorded and is not now",
                                     hint="the world is not deterministic or changed beyond its metric")
            success = bool(step.info.get("success", success))
            progress = float(step.info.get("progress", 1.0 if success else progress))
            if step.terminated or step.truncated:
                break
    finally:
        env.close()
    return success, progress


def rescore_run(run_dir: str | Path, progress: Callable[[int, int], None] | None = None) -> RescoreReport:
    """Recompute every episode's success and progress and write the result as a new index beside the old one.

    `progress(done, total)` is called after each episode. Raises RunDirError when `run_dir` is not a run, and a
    SimyardError when the new index cannot be written.
    """
    from simyard.platform import registry
    from simyard.platform.export.readable import readable_results
    from simyard.platform.plugins import import_plugins

    run = open_run(run_dir)
    import_plugins(run.manifest.config.imports)
    before, skipped = readable_results(run)
    report = RescoreReport(index=_free_index_path(run), before=before, after=[], skipped=skipped)
    hooks: dict[str, Callable[..., Any] | None] = {}
    for number, result in enumerate(before, start=1):
        after = result
        if result.status != "infra_error":  # not a result: nothing to score, a resume runs it again
            hook = hooks.get(result.world, ...)
            if hook is ...:
                hook = hooks[result.world] = _hook(registry, result.world)
            if hook is None:
                report.unsupported[result.world] = report.unsupported.get(result.world, 0) + 1
            else:
                after = _rescore_one(run, result, hook, report)
        report.after.append(after)
        if progress is not None:
            progress(number, len(before))
    _write_index(report.index, report.after)
    return report


def _hook(registry: Any, world: str) -> Callable[..., Any] | None:
    """The world's rescore hook, or None when it keeps the default (or is not registered here)."""
    try:
        cls = registry.world_class(world)
    except SimyardError:
        return None
    owner = next(klass for klass in cls.__mro__ if "rescore" in vars(klass))
    return None if owner is Env else cls.rescore


def _rescore_one(run: RunDir, result: EpisodeResult, hook: Callable[..., Any],
                 report: RescoreReport) -> EpisodeResult:
    from simyard.platform.export.readable import readable_trajectory

    name = episode_dir_name(result.task_id, result.seed)
    lines, problem = readable_trajectory(run.episode_dir(result.task_id, result.seed))
    if lines is None:
        report.failed.append(f"{name}: {problem}")
        return result
    reset = next((line for line in lines if line.get("type") == "reset"), None)
    steps = [line for line in lines if line.get("type") == "step"]
    try:
        task = Task.model_validate((reset or {}).get("task"))
    except ValueError:
        report.failed.append(f"{name}: its reset line holds no complete task")
        return result
    if len(steps) != result.steps:
        report.failed.append(f"{name}: the trajectory holds {len(steps)} of the {result.steps} recorded steps")
        return result
    try:
        score = hook(task, (reset or {}).get("seed", result.seed), steps)
    except ReplayMismatch as exc:
        report.failed.append(f"{name}: {exc.message}")
        return result
    except Exception as exc:  # a world that fails on its own record must not stop the other episodes' rescore
        report.failed.append(f"{name}: {describe(exc)}")
        return result
    if score is None:
        report.failed.append(f"{name}: the world could not rescore this episode")
        return result
    success, progress = bool(score[0]), float(score[1])
    report.rescored += 1
    after = replace(result, success=success, progress=progress)
    if success != result.success or abs(progress - float(result.progress or 0.0)) > TOLERANCE:
        report.changes.append(Change(result, after))
    return after


def _free_index_path(run: RunDir) -> Path:
    path, n = run.path / f"{RESCORED_STEM}.jsonl", 1
    while path.exists():
        n += 1
        path = run.path / f"{RESCORED_STEM}-{n}.jsonl"
    return path


def _write_index(path: Path, results: list[EpisodeResult]) -> None:
    """Write the new index aside and move it into place; it never replaces an existing file (the name is free)."""
    import os

    scratch = path.with_name(f".{path.name}.partial")
    try:
        with scratch.open("w", encoding="utf-8") as handle:
            handle.write("".join(dumps(result.to_dict()) + "\n" for result in results))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, path)
    except OSError as exc:
        scratch.unlink(missing_ok=True)
        raise SimyardError(f"cannot write {path}: {exc.strerror or type(exc).__name__}",
                           hint=f"the run's folder must be writable; {INDEX_FILE} was not touched") from None
