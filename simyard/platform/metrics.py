"""What a run's results say: per-world and per-subset tables, and paired comparisons of two runs.

`summarize` turns result rows into one `GroupStats` per group (everything, each world, each subset) with the
intervals a small benchmark needs. `compare` pairs two runs on the (task_id, seed) pairs they share and asks whether
the difference could be noise: McNemar's exact test for success, a paired bootstrap for progress.

Episodes that ended in an error count as failures with their progress so far: an agent that crashes must not score
better than one that tries and fails. Their number is reported beside the rates.

A world's own per-episode measures (`EpisodeResult.metrics`, from `info["metrics"]`) are generic: every number is
averaged per group over the episodes that reported it (`GroupStats.metrics`), and every string is a label that adds
rows per value (`setting: caller`, `mode: collaborative`), the way SyncMind splits its tables by Caller/Callee and by
mode. Episodes that ended before their world reported anything carry no labels and appear only in the other rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from simyard.platform.episode import EpisodeResult
from simyard.platform.rundir import RunDir
from simyard.platform.stats import mcnemar_exact, mean_interval, paired_bootstrap, wilson_interval

#: The significance level behind the comparison verdicts.
ALPHA = 0.05
REAL, NOISE = "real", "could be noise"


@dataclass(frozen=True, slots=True)
class GroupStats:
    """One row of a run report: the episodes of one group and what they add up to.

    Attributes:
        group: `all`, `world` or `subset`.
        name: The world or subset name (`all` for the overall row).
        n: Episodes in the group.
        successes: Episodes that reached the goal.
        success_rate, success_low, success_high: Success rate with its 95% Wilson interval.
        progress_mean, progress_low, progress_high: Mean progress with its 95% Student t interval (nan below n=2).
        steps: Executed steps in all, valid or not.
        invalid_actions: Steps the world rejected (or replies with no usable action).
        invalid_rate: invalid_actions / steps (nan when no steps).
        mean_steps: steps / n.
        prompt_tokens, completion_tokens: Token counts summed over model calls.
        cost_usd: Money spent where backends or worlds priced it; None when nothing was priced.
        errors: Episodes that ended in an agent or world error or a timeout (they count as failures).
        infra_failed: Episodes whose infrastructure failed on every try: left out of `n` and every rate, so a flaky
            machine cannot lower a score (a resume runs them again).
        model_calls: Model calls made.
        cut_replies: Model replies cut short by a token limit (`finish_reason == "length"`).
        cut_rate: cut_replies / model_calls (nan when no calls): a too-small max_tokens shows here.
        metrics: The world's numeric metrics (booleans as 0/1), each the mean over the group's episodes that reported
            it, in the order first seen; empty for worlds that report none.
    """

    group: str
    name: str
    n: int
    successes: int
    success_rate: float
    success_low: float
    success_high: float
    progress_mean: float
    progress_low: float
    progress_high: float
    steps: int
    invalid_actions: int
    invalid_rate: float
    mean_steps: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    errors: int
    infra_failed: int = 0
    model_calls: int = 0
    cut_replies: int = 0
    cut_rate: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_means(results: Sequence[EpisodeResult]) -> dict[str, float]:
    """Each numeric metric's mean over the results that reported it (booleans count as 0/1; labels are skipped)."""
    sums: dict[str, list[float]] = {}
    for result in results:
        for key, value in result.metrics.items():
            if isinstance(value, str):
                continue
            total = sums.setdefault(key, [0.0, 0.0])
            total[0] += float(value)
            total[1] += 1
    return {key: total / count for key, (total, count) in sums.items()}


def group_stats(group: str, name: str, results: Sequence[EpisodeResult]) -> GroupStats:
    """The statistics of one group of results (infrastructure failures counted apart, never as failures)."""
    infra_failed = sum(result.status == "infra_error" for result in results)
    results = [result for result in results if result.status != "infra_error"]
    n = len(results)
    successes = sum(result.success for result in results)
    success_low, success_high = wilson_interval(successes, n)
    progress = mean_interval([result.progress for result in results])
    steps = sum(result.steps for result in results)
    invalid = sum(result.invalid_actions for result in results)
    cost = sum(result.cost_usd for result in results)
    return GroupStats(
        group=group,
        name=name,
        n=n,
        successes=successes,
        success_rate=successes / n if n else math.nan,
        success_low=success_low,
        success_high=success_high,
        progress_mean=progress.mean,
        # progress lives in [0, 1], so its mean does too; the t interval does not know that
        progress_low=_clip01(progress.low),
        progress_high=_clip01(progress.high),
        steps=steps,
        invalid_actions=invalid,
        invalid_rate=invalid / steps if steps else math.nan,
        mean_steps=steps / n if n else math.nan,
        prompt_tokens=sum(result.prompt_tokens for result in results),
        completion_tokens=sum(result.completion_tokens for result in results),
        cost_usd=cost if cost > 0 else None,
        errors=sum(result.errored for result in results),
        infra_failed=infra_failed,
        model_calls=(calls := sum(result.model_calls for result in results)),
        cut_replies=(cut := sum(result.cut_replies for result in results)),
        cut_rate=cut / calls if calls else math.nan,
        metrics=metric_means(results),
    )


def summarize(results: Iterable[EpisodeResult]) -> list[GroupStats]:
    """The report rows of a run: overall first, then each world, then each subset, then each value of each label a
    world reported in its metrics (labels in the order first seen, values sorted).

    A world or subset breakdown with a single member repeats the overall row and is left out; so is a label with
    one value.
    """
    results = list(results)
    rows = [group_stats("all", "all", results)]
    for group, key in (("world", _world), ("subset", _subset)):
        groups = _group_by(results, key)
        if len(groups) > 1:
            rows.extend(group_stats(group, name, members) for name, members in sorted(groups.items()))
    for label in _labels(results):
        by_value: dict[str, list[EpisodeResult]] = {}
        for result in results:
            if isinstance(value := result.metrics.get(label), str):
                by_value.setdefault(value, []).append(result)
        if len(by_value) > 1:
            rows.extend(group_stats(label, name, members) for name, members in sorted(by_value.items()))
    return rows


def _labels(results: Sequence[EpisodeResult]) -> list[str]:
    seen: dict[str, None] = {}
    for result in results:
        for key, value in result.metrics.items():
            if isinstance(value, str):
                seen.setdefault(key)
    return list(seen)


# ------------------------------------------------------------------------------------------------- comparison


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One row of a comparison: run A against run B on the pairs both ran, in one group.

    Attributes:
        group, name: As in `GroupStats` (`all`/`all`, or `subset`/<name>).
        n: Shared (task_id, seed) pairs in the group.
        success_a, success_b: Success rates of each run on those pairs.
        success_diff: success_b - success_a.
        only_a, only_b: Discordant pairs: A succeeded and B failed, and the other way round.
        success_p: McNemar's exact two-sided p-value.
        success_verdict: `real` when success_p < 0.05, else `could be noise`.
        progress_a, progress_b: Mean progress of each run.
        progress_diff, progress_low, progress_high: Mean of B - A per pair with its 95% paired bootstrap interval.
        progress_p: The paired bootstrap's two-sided p-value.
        progress_verdict: `real` when progress_p < 0.05, else `could be noise`.
    """

    group: str
    name: str
    n: int
    success_a: float
    success_b: float
    success_diff: float
    only_a: int
    only_b: int
    success_p: float
    success_verdict: str
    progress_a: float
    progress_b: float
    progress_diff: float
    progress_low: float
    progress_high: float
    progress_p: float
    progress_verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    """Two runs compared: the rows, and how much of each run could be paired at all.

    Attributes:
        label_a, label_b: What the runs are called in output (their paths, or names given).
        shared: (task_id, seed) pairs both runs recorded.
        only_in_a, only_in_b: Pairs only one run recorded (left out of every test).
        rows: Overall first, then one row per world and per world/subset when there is more than one.
        notes: Caveats worth printing under the table.
    """

    label_a: str
    label_b: str
    shared: int
    only_in_a: int
    only_in_b: int
    rows: list[ComparisonRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.label_a,
            "b": self.label_b,
            "shared": self.shared,
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
            "rows": [row.to_dict() for row in self.rows],
            "notes": list(self.notes),
        }


def compare(
    run_a: RunDir | Sequence[EpisodeResult],
    run_b: RunDir | Sequence[EpisodeResult],
    *,
    label_a: str | None = None,
    label_b: str | None = None,
    resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Compare two runs on the (task_id, seed) pairs they share; B - A is the direction of every difference.

    Args:
        run_a, run_b: Run directories, or their result rows.
        label_a, label_b: Names for the output (default: the run paths, or `A` and `B`).
        resamples: Bootstrap resamples for the progress test.
        seed: Bootstrap seed, so a comparison prints the same numbers every time.
    """
    rows_a, default_a = _rows_and_label(run_a, "A")
    rows_b, default_b = _rows_and_label(run_b, "B")
    # Infrastructure failures are not results; pairing them would compare a broken machine with a model.
    by_key_a = {(row.task_id, row.seed): row for row in rows_a if row.status != "infra_error"}
    by_key_b = {(row.task_id, row.seed): row for row in rows_b if row.status != "infra_error"}
    shared_keys = [key for key in by_key_a if key in by_key_b]
    comparison = Comparison(
        label_a=label_a or default_a,
        label_b=label_b or default_b,
        shared=len(shared_keys),
        only_in_a=len(by_key_a) - len(shared_keys),
        only_in_b=len(by_key_b) - len(shared_keys),
    )
    pairs = [(by_key_a[key], by_key_b[key]) for key in shared_keys]
    if not pairs:
        tasks_a = {row.task_id for row in rows_a}
        if tasks_a & {row.task_id for row in rows_b}:
            comparison.notes.append("the runs share tasks but not seeds; run both with the same --seed to pair them")
        else:
            comparison.notes.append("the runs share no tasks; nothing to compare")
        return comparison
    comparison.rows.append(_compare_group("all", "all", pairs, resamples, seed))
    for group, key in (("world", _world), ("subset", _subset)):
        def of_first(pair: tuple[EpisodeResult, EpisodeResult], key: Callable[[EpisodeResult], str] = key) -> str:
            return key(pair[0])

        members_by_name = _group_by(pairs, of_first)
        if len(members_by_name) > 1:
            for name, members in sorted(members_by_name.items()):
                comparison.rows.append(_compare_group(group, name, members, resamples, seed))
    if len(comparison.rows) > 2:
        comparison.notes.append("with several groups some p < 0.05 happen by chance; read the overall row first")
    if comparison.only_in_a or comparison.only_in_b:
        comparison.notes.append(
            f"{comparison.only_in_a} episodes only in A and {comparison.only_in_b} only in B are left out"
        )
    return comparison


def _compare_group(group: str, name: str, pairs: Sequence[tuple[EpisodeResult, EpisodeResult]], resamples: int,
                   seed: int) -> ComparisonRow:
    n = len(pairs)
    only_a = sum(a.success and not b.success for a, b in pairs)
    only_b = sum(b.success and not a.success for a, b in pairs)
    success_a = sum(a.success for a, _ in pairs) / n
    success_b = sum(b.success for _, b in pairs) / n
    success_p = mcnemar_exact(only_a, only_b)
    boot = paired_bootstrap([b.progress - a.progress for a, b in pairs], resamples=resamples, seed=seed)
    return ComparisonRow(
        group=group,
        name=name,
        n=n,
        success_a=success_a,
        success_b=success_b,
        success_diff=success_b - success_a,
        only_a=only_a,
        only_b=only_b,
        success_p=success_p,
        success_verdict=verdict(success_p),
        progress_a=sum(a.progress for a, _ in pairs) / n,
        progress_b=sum(b.progress for _, b in pairs) / n,
        progress_diff=boot.mean,
        progress_low=boot.low,
        progress_high=boot.high,
        progress_p=boot.p_value,
        progress_verdict=verdict(boot.p_value),
    )


def verdict(p_value: float) -> str:
    """`real` when p < 0.05, else `could be noise`."""
    return REAL if p_value < ALPHA else NOISE


def _rows_and_label(run: RunDir | Sequence[EpisodeResult], fallback: str) -> tuple[list[EpisodeResult], str]:
    if isinstance(run, RunDir):
        return run.results(), str(run.path)
    return list(run), fallback


def _world(result: EpisodeResult) -> str:
    return result.world


def _subset(result: EpisodeResult) -> str:
    # Subset labels are per world (sokoban's `base` is not frozenlake's), so they are reported as world/subset.
    return f"{result.world}/{result.subset}"


def _group_by(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def _clip01(value: float) -> float:
    return value if math.isnan(value) else min(1.0, max(0.0, value))
