"""Report statistics and paired comparisons, checked against known values and against scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from simyard.platform.episode import EpisodeResult
from simyard.platform.metrics import NOISE, REAL, compare, summarize
from simyard.platform.stats import (
    binomial_two_sided_p,
    mcnemar_exact,
    mean_interval,
    paired_bootstrap,
    t_quantile,
    wilson_interval,
)


def _row(task_id: str, success: bool, progress: float | None = None, *, seed: int = 0, subset: str = "base",
         world: str = "tiny", status: str = "completed", steps: int = 4, invalid: int = 0) -> EpisodeResult:
    return EpisodeResult(task_id=task_id, world=world, subset=subset, seed=seed, status=status,  # type: ignore[arg-type]
                         success=success, progress=float(success) if progress is None else progress, steps=steps,
                         invalid_actions=invalid)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (8, 10, 0.4902, 0.9433), (10, 10, 0.7225, 1.0),
     (37, 50, 0.6045, 0.8413)],
)
def test_wilson_interval_matches_known_values(successes, n, low, high):
    got_low, got_high = wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=1e-4) and got_high == pytest.approx(high, abs=1e-4)


@pytest.mark.parametrize(("successes", "n"), [(0, 1), (1, 3), (17, 40), (99, 100), (250, 1000)])
def test_wilson_interval_matches_scipy(successes, n):
    expected = scipy_stats.binomtest(successes, n).proportion_ci(method="wilson")
    assert wilson_interval(successes, n) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_interval_of_nothing_is_undefined():
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))


@pytest.mark.parametrize("df", [1, 2, 4, 9, 30, 500])
def test_t_quantile_matches_scipy(df):
    for p in (0.6, 0.9, 0.975, 0.995, 0.025):
        assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), abs=1e-8)


def test_mean_interval_is_the_student_t_interval():
    values = [0.0, 0.25, 0.5, 1.0, 1.0, 0.75]
    got = mean_interval(values)
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=sum(values) / 6, scale=scipy_stats.sem(values))
    assert (got.mean, got.low, got.high) == pytest.approx((sum(values) / 6, low, high), abs=1e-9)


@pytest.mark.parametrize(("only_a", "only_b"), [(0, 0), (0, 1), (1, 0), (3, 9), (10, 10), (0, 25), (47, 60), (2, 150)])
def test_mcnemar_exact_is_the_binomial_test_on_discordant_pairs(only_a, only_b):
    n = only_a + only_b
    expected = 1.0 if n == 0 else scipy_stats.binomtest(only_a, n, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_binomial_p_is_exact_for_large_n():
    assert binomial_two_sided_p(5000, 10_000) == 1.0
    assert binomial_two_sided_p(4800, 10_000) == pytest.approx(scipy_stats.binomtest(4800, 10_000).pvalue, rel=1e-9)


def test_bootstrap_of_identical_runs_says_zero_and_p_one():
    result = paired_bootstrap([0.0] * 30)
    assert (result.mean, result.low, result.high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_of_a_clearly_better_run_is_significant():
    differences = [0.4, 0.5, 0.3, 0.6, 0.2, 0.5, 0.4, 0.0, 0.3, 0.5] * 3
    result = paired_bootstrap(differences)
    assert result.p_value < 0.05 and result.low > 0 and result.low <= result.mean <= result.high


def test_bootstrap_of_noise_is_not_significant_and_is_repeatable():
    differences = [0.3, -0.2, 0.1, -0.4, 0.2, -0.1, 0.0, 0.25, -0.3, 0.1]
    first, second = paired_bootstrap(differences, seed=3), paired_bootstrap(differences, seed=3)
    assert first == second and first.p_value > 0.05 and first.low < 0 < first.high


def test_summarize_gives_overall_world_and_subset_rows():
    rows = [_row("a", True, subset="s1"), _row("b", False, 0.5, subset="s1", invalid=2),
            _row("c", True, subset="s2", world="other"), _row("d", False, 0.0, subset="s2",
                                                                         status="world_error", steps=0)]
    stats = summarize(rows)
    assert [(row.group, row.name) for row in stats] == [
        ("all", "all"), ("world", "other"), ("world", "tiny"),
        ("subset", "other/s2"), ("subset", "tiny/s1"), ("subset", "tiny/s2")]
    overall = stats[0]
    assert (overall.n, overall.successes, overall.errors) == (4, 2, 1)
    assert overall.success_rate == 0.5 and overall.progress_mean == pytest.approx(0.625)
    assert overall.invalid_rate == pytest.approx(2 / 12) and overall.mean_steps == 3.0
    assert overall.cost_usd is None and 0.0 <= overall.progress_low <= overall.progress_high <= 1.0


def test_summarize_leaves_out_breakdowns_with_one_member():
    assert [row.group for row in summarize([_row("a", True), _row("b", False)])] == ["all"]


def test_compare_pairs_shared_episodes_and_counts_the_rest():
    run_a = [_row("a", True), _row("b", False), _row("c", True), _row("only-a", True)]
    run_b = [_row("a", True), _row("b", True), _row("c", False), _row("only-b", False)]
    comparison = compare(run_a, run_b)
    assert (comparison.shared, comparison.only_in_a, comparison.only_in_b) == (3, 1, 1)
    (overall,) = comparison.rows
    assert (overall.n, overall.only_a, overall.only_b, overall.success_p) == (3, 1, 1, 1.0)
    assert overall.success_verdict == NOISE and any("only in A" in note for note in comparison.notes)


def test_compare_calls_a_clear_improvement_real():
    run_a = [_row(f"t{i}", i < 5, seed=1, subset=f"s{i % 2}") for i in range(30)]
    run_b = [_row(f"t{i}", i < 25, seed=1, subset=f"s{i % 2}") for i in range(30)]
    comparison = compare(run_a, run_b)
    overall = comparison.rows[0]
    assert overall.only_b == 20 and overall.only_a == 0
    assert overall.success_p == pytest.approx(scipy_stats.binomtest(0, 20).pvalue)
    assert overall.success_verdict == REAL and overall.progress_verdict == REAL
    assert overall.progress_diff == pytest.approx(20 / 30) and overall.progress_low > 0
    assert [row.name for row in comparison.rows] == ["all", "tiny/s0", "tiny/s1"]


def test_identical_runs_compare_as_noise():
    rows = [_row(f"t{i}", i % 3 == 0, i / 30) for i in range(30)]
    (overall,) = compare(rows, rows).rows
    assert (overall.success_p, overall.progress_p, overall.progress_diff) == (1.0, 1.0, 0.0)
    assert overall.success_verdict == overall.progress_verdict == NOISE


def test_runs_with_different_seeds_are_not_paired_and_say_why():
    comparison = compare([_row("a", True, seed=1)], [_row("a", True, seed=2)])
    assert comparison.shared == 0 and comparison.rows == [] and "--seed" in comparison.notes[0]
