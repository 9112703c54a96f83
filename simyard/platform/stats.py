"""The statistics behind reports and comparisons, in plain Python and numpy (no scipy at run time).

Benchmarks here are small (tens to hundreds of tasks), so every number comes with an interval that is honest at
small n: Wilson for success rates, Student t for mean progress, McNemar's exact test for paired successes and a
paired bootstrap for paired progress.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The normal quantile for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95% by default).

    Unlike the normal (Wald) interval it stays inside [0, 1] and keeps its coverage at 0/n and n/n, which small
    benchmarks hit all the time. Returns (nan, nan) for n = 0.
    """
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def _betacf(a: float, b: float, x: float) -> float:
    # Lentz's continued fraction for the incomplete beta function (Numerical Recipes, 6.4).
    tiny, eps = 1e-300, 1e-15

    def guard(value: float) -> float:
        return value if abs(value) > tiny else tiny

    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 / guard(1.0 - qab * x / qap)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 / guard(1.0 + aa * d)
        c = guard(1.0 + aa / c)
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 / guard(1.0 + aa * d)
        c = guard(1.0 + aa / c)
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function (the CDF of a Beta(a, b) variable at x)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """The CDF of Student's t distribution with `df` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The `p` quantile of Student's t (bisection on `t_cdf`; exact to ~1e-10, plenty for intervals)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    if p == 0.5:
        return 0.0
    low, high = -1.0, 1.0
    while t_cdf(low, df) > p:
        low *= 2.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


@dataclass(frozen=True, slots=True)
class MeanCI:
    """A mean with its two-sided confidence interval (nan bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """The mean of `values` with a Student t interval (exact for normal data, good for bounded means at n >= 10)."""
    n = len(values)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if n < 2:
        return MeanCI(mean, math.nan, math.nan, n)
    sem = float(array.std(ddof=1)) / math.sqrt(n)
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * sem
    return MeanCI(mean, mean - half, mean + half, n)


def binomial_two_sided_p(k: int, n: int) -> float:
    """The exact two-sided p-value of `k` successes in `n` fair coin flips (as scipy's `binomtest(k, n, 0.5)`).

    Sums the probabilities of every outcome no more likely than the one observed. With p = 1/2 the distribution is
    symmetric and unimodal, so those are the two tails beyond min(k, n - k); integers throughout, so it is exact for
    any n.
    """
    if n == 0:
        return 1.0
    low = min(k, n - k)
    if 2 * low == n:
        return 1.0
    tail, term = 0, 1  # term walks C(n, 0), C(n, 1), ... exactly
    for i in range(low + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    return min(1.0, 2 * tail / 2**n)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """McNemar's exact test on paired successes: a two-sided binomial test on the discordant pairs.

    Args:
        only_a: Pairs where run A succeeded and run B failed.
        only_b: Pairs where run B succeeded and run A failed.

    Returns:
        The p-value; 1.0 when there are no discordant pairs (nothing distinguishes the runs).
    """
    return binomial_two_sided_p(only_a, only_a + only_b)


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """A paired bootstrap of a mean difference: the observed mean, its percentile interval and a two-sided p."""

    mean: float
    low: float
    high: float
    p_value: float
    resamples: int


def paired_bootstrap(
    differences: Sequence[float], resamples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> BootstrapResult:
    """Bootstrap the mean of paired differences (B minus A per task), vectorised and seeded.

    The p-value is the two-sided bootstrap p: twice the smaller share of resampled means on either side of zero,
    with the +1 correction so a Monte Carlo p is never reported as exactly 0. All-equal differences give p = 1 when
    they are zero and the smallest reportable p otherwise.
    """
    diffs = np.asarray(differences, dtype=float)
    n = len(diffs)
    if n == 0:
        return BootstrapResult(math.nan, math.nan, math.nan, 1.0, resamples)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    block = max(1, 2_000_000 // n)  # keep each index matrix to ~16 MB whatever the number of tasks
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        means[start:stop] = diffs[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    at_or_below = int(np.count_nonzero(means <= 0.0))
    at_or_above = int(np.count_nonzero(means >= 0.0))
    p_value = min(1.0, 2.0 * (min(at_or_below, at_or_above) + 1) / (resamples + 1))
    return BootstrapResult(float(diffs.mean()), float(low), float(high), p_value, resamples)
