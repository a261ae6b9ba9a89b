"""Statistics for pass rates and regressions: Wilson intervals, McNemar and two-proportion tests,
sample sizes.

Pure functions over counts, written with :mod:`math` alone so the plugin needs no numeric
library. A regression is judged by a test, not by a raw difference, because a suite of a few
dozen cases moves by several points between runs of a non-deterministic model.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_ragft.wording import percent, plural

Method = Literal["mcnemar", "two-proportion"]

# Rates come from divisions, so a drop of exactly ``max_drop`` may read a hair above it.
_EPSILON = 1e-9


def normal_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z; ``erfc`` keeps the far tails accurate."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """The z with P(Z <= z) = p, found by bisection on :func:`normal_cdf`.

    Bisection is slower than a rational approximation but plainly correct to the last bit, and
    it runs a handful of times per session.
    """
    return _quantile(normal_cdf, p, 40.0)


def _quantile(cdf: Callable[[float], float], p: float, bound: float) -> float:
    """The x in [-bound, bound] with cdf(x) = p, by bisection to the last bit (at most 2,000
    halvings: a float interval stops shrinking long before)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a probability strictly between 0 and 1 is needed, got {p!r}")
    lo, hi = -bound, bound
    for _ in range(2000):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (no continuity correction).

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not collapse to a point at
    0/n or n/n, which is where small eval suites often sit. ``(0.0, 1.0)`` when ``n`` is 0.
    """
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if n == 0:
        return (0.0, 1.0)
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    denominator = 1.0 + z2 / n
    low = 0.0 if successes == 0 else (centre - half) / denominator
    high = 1.0 if successes == n else (centre + half) / denominator
    return (max(0.0, low), min(1.0, high))


def mcnemar_exact_one_sided(b: int, c: int) -> float:
    """Exact one-sided McNemar p-value: P(X >= b) for X ~ Binomial(b + c, 1/2).

    ``b`` counts cases that passed in the baseline run and fail now, ``c`` the reverse; under no
    change each discordant case is equally likely to go either way. 1.0 without discordant cases.
    """
    if b < 0 or c < 0:
        raise ValueError(f"counts must be non-negative, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(b, n + 1))
    # Integer true division is correctly rounded however large 2**n gets.
    return min(1.0, tail / (1 << n))


def two_proportion_one_sided(x_base: int, n_base: int, x_cur: int, n_cur: int) -> float:
    """One-sided pooled two-proportion z-test of H1: the current rate is below the baseline's.

    With no cases on either side, or a pooled rate of 0 or 1 (both rates equal, no variance),
    there is no evidence of a drop and the p-value is 1.0.
    """
    for x, n in ((x_base, n_base), (x_cur, n_cur)):
        if n < 0 or not 0 <= x <= max(n, 0):
            raise ValueError(f"need 0 <= successes <= n, got {x}/{n}")
    if n_base == 0 or n_cur == 0:
        return 1.0
    pooled = (x_base + x_cur) / (n_base + n_cur)
    variance = pooled * (1.0 - pooled) * (1.0 / n_base + 1.0 / n_cur)
    if variance <= 0.0:
        return 1.0
    z = (x_cur / n_cur - x_base / n_base) / math.sqrt(variance)
    return min(1.0, max(0.0, normal_cdf(z)))


def cases_needed(p_base: float, drop: float, alpha: float, power: float = 0.8) -> int:
    """Cases per run for a one-sided two-proportion test to see a drop of ``drop`` below
    ``p_base`` with the given power, the current run and the baseline being the same size.

    The usual normal-approximation formula (Fleiss, *Statistical Methods for Rates and
    Proportions*, without continuity correction), with p1 = p_base, p2 = p_base - drop
    (at least 0), p̄ = (p1 + p2) / 2::

        n = ( z(1-alpha) * sqrt(2 p̄ (1 - p̄)) + z(power) * sqrt(p1 (1-p1) + p2 (1-p2)) )^2
            / (p1 - p2)^2

    rounded up. The paired McNemar test used when runs share cases is usually more powerful, so
    this errs on the side of asking for more cases.
    """
    if not 0.0 < p_base <= 1.0:
        raise ValueError(f"p_base must be in (0, 1], got {p_base!r}")
    if drop <= 0.0:
        raise ValueError(f"drop must be positive, got {drop!r}")
    p1 = p_base
    p2 = max(0.0, p_base - drop)
    p_bar = (p1 + p2) / 2.0
    z_alpha = normal_quantile(1.0 - alpha)
    z_power = normal_quantile(power)
    root = z_alpha * math.sqrt(2.0 * p_bar * (1.0 - p_bar)) + z_power * math.sqrt(
        p1 * (1.0 - p1) + p2 * (1.0 - p2)
    )
    ratio = root / (p1 - p2)
    n = ratio * ratio
    if not math.isfinite(n):  # a baseline rate within a rounding error of 0
        return sys.maxsize
    # The tiny slack keeps an exact integer result from being pushed up by rounding error.
    return max(1, math.ceil(n - _EPSILON))


def detectable(n: int, p_base: float, drop: float, alpha: float, power: float = 0.8) -> bool:
    """Whether ``n`` cases are enough for :func:`cases_needed`."""
    return n >= cases_needed(p_base, drop, alpha, power)


@dataclass(frozen=True)
class RegressionTest:
    """One category's comparison with its baseline, as the run summary reports it."""

    baseline_rate: float
    current_rate: float
    drop: float
    method: Method
    p_value: float
    significant: bool
    fires: bool
    detectable: bool
    cases_needed: int
    detail: str


def regression(
    category: str,
    *,
    baseline_rate: float,
    passed: int,
    total: int,
    pairs: Sequence[tuple[bool, bool]],
    baseline_passed: int,
    baseline_total: int,
    max_drop: float,
    alpha: float,
    min_pairs: int = 10,
    power: float = 0.8,
) -> RegressionTest:
    """Judge whether ``category`` regressed: its rate is more than ``max_drop`` below
    ``baseline_rate`` and the drop is significant at ``alpha``.

    ``baseline_rate`` is the mean of the recent baseline runs; ``pairs`` holds (passed in the
    latest baseline run, passed now) for the cases both runs share; ``baseline_passed`` /
    ``baseline_total`` pool the recent baseline runs. With at least ``min_pairs`` shared cases the
    exact McNemar test is used, since pairing removes the case-to-case spread; otherwise the
    pooled two-proportion test. ``detectable`` says whether ``total`` cases could show a drop of
    ``max_drop`` with the given power at all, and ``cases_needed`` how many would.
    """
    current_rate = passed / total if total else 0.0
    drop = baseline_rate - current_rate if total else 0.0
    method, p_value, how = _significance(
        pairs, passed, total, baseline_passed, baseline_total, min_pairs
    )
    significant = p_value < alpha
    if baseline_rate > 0.0 and max_drop > 0.0:
        needed = cases_needed(baseline_rate, max_drop, alpha, power)
    else:
        # Nothing can fall below a rate of 0 (or by 0 points): no sample size is too small.
        needed = 0
    detail = _detail(category, current_rate, baseline_rate, drop, how, total)
    if total < needed:
        detail += (
            f"; {plural(total, 'case')} cannot reliably detect a {max_drop * 100:g}-point drop "
            f"({needed} needed)"
        )
    return RegressionTest(
        baseline_rate=baseline_rate,
        current_rate=current_rate,
        drop=drop,
        method=method,
        p_value=p_value,
        significant=significant,
        fires=drop > max_drop + _EPSILON and significant,
        detectable=total >= needed,
        cases_needed=needed,
        detail=detail,
    )


def _detail(
    category: str, current_rate: float, baseline_rate: float, drop: float, how: str, total: int
) -> str:
    if not total:
        return (
            f"{category}: no scored cases in this run to compare with baseline "
            f"{percent(baseline_rate)}"
        )
    return (
        f"{category} {percent(current_rate)} vs baseline {percent(baseline_rate)} "
        f"({_change(-drop)} points), {how}"
    )


def _significance(
    pairs: Sequence[tuple[bool, bool]],
    passed: int,
    total: int,
    baseline_passed: int,
    baseline_total: int,
    min_pairs: int,
) -> tuple[Method, float, str]:
    """The test used, its one-sided p-value, and how it reads: exact McNemar on enough shared
    cases, else the pooled two-proportion test."""
    if len(pairs) >= min_pairs:
        b = sum(1 for before, now in pairs if before and not now)
        c = sum(1 for before, now in pairs if now and not before)
        p_value = mcnemar_exact_one_sided(b, c)
        shared = plural(len(pairs), "shared case")
        return "mcnemar", p_value, f"McNemar exact {_p(p_value)} on {shared}"
    p_value = two_proportion_one_sided(baseline_passed, baseline_total, passed, total)
    shared = plural(len(pairs), "shared case") if pairs else "no shared cases"
    how = (
        f"one-sided two-proportion test {_p(p_value)} on {plural(total, 'case')} vs "
        f"{plural(baseline_total, 'baseline result')} ({shared}, {min_pairs} needed for McNemar)"
    )
    return "two-proportion", p_value, how


def _change(delta: float) -> str:
    """A rate change in signed percentage points: -27.5, +3.0, 0.0."""
    points = delta * 100
    return "0.0" if abs(points) < 0.05 else f"{points:+.1f}"


def _p(p_value: float) -> str:
    return "p < 0.0001" if p_value < 0.0001 else f"p = {p_value:.4f}"


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, by its continued fraction
    (Lentz's method, as in Numerical Recipes' ``betai``), using the symmetry
    I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _regularized_beta(1.0 - x, b, a)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * fraction


def student_t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df!r}")
    tail = 0.5 * _regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p for Student's t with ``df`` degrees of freedom, by bisection
    on :func:`student_t_cdf` (as :func:`normal_quantile` does)."""
    return _quantile(lambda t: student_t_cdf(t, df), p, 1e6)


def share_interval(share: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a share ``share`` of ``n`` (not necessarily a whole
    number of successes); ``(0.0, 1.0)`` when ``n`` is 0."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a share between 0 and 1 is needed, got {share!r}")
    if n == 0:
        return (0.0, 1.0)
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    z2 = z * z
    centre = share + z2 / (2 * n)
    half = z * math.sqrt(share * (1.0 - share) / n + z2 / (4 * n * n))
    denominator = 1.0 + z2 / n
    low = 0.0 if share == 0.0 else (centre - half) / denominator
    high = 1.0 if share == 1.0 else (centre + half) / denominator
    return (max(0.0, low), min(1.0, high))


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A ``confidence`` interval of the mean of per-case measures that lie in [0, 1] (recall,
    MRR, nDCG, fact recall).

    Student's t-interval (df = n - 1), clipped to [0, 1]. Chosen over a percentile bootstrap:
    it is deterministic without a seed, linear in the cases, and the bootstrap's percentile
    interval is known to be too narrow at the few dozen cases a category holds. Where it cannot
    speak - one case, or every case scoring the same (all 1.0 is common), where it collapses to
    a point - the Wilson interval of the mean as a share of n stands in: a measure in [0, 1]
    with mean m has variance at most m (1 - m), the variance of 0/1 values, so that interval
    is a conservative one and never claims certainty from a handful of equal scores.
    """
    n = len(values)
    if n == 0:
        return (0.0, 1.0)
    mean = sum(values) / n
    share = min(1.0, max(0.0, mean))
    if n < 2:
        return share_interval(share, n, confidence)
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    if variance <= _EPSILON * _EPSILON:
        return share_interval(share, n, confidence)
    half = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1) * math.sqrt(variance / n)
    return (max(0.0, mean - half), min(1.0, mean + half))


@dataclass(frozen=True)
class SignTest:
    """An exact one-sided sign test of paired measures: did they fall?"""

    down: int  # pairs whose measure fell
    up: int  # pairs whose measure rose
    ties: int  # pairs that did not move: left out, as the sign test does
    p_value: float


def sign_test_drop(pairs: Sequence[tuple[float, float]]) -> SignTest:
    """The exact sign test of H1 "the measure fell" on (before, now) pairs: under no change
    each pair that moved is as likely to fall as to rise, so the p-value is
    P(X >= falls), X ~ Binomial(moved, 1/2) - McNemar's exact test when the measures are 0/1.

    The sign test rather than Wilcoxon's signed-rank test: per-case retrieval measures take a
    few values (recall 0, 0.5, 1), so differences tie often, and the exact signed-rank
    distribution with ties needs enumeration; the sign test stays exact with no assumption
    about the differences' shape."""
    down = sum(1 for before, now in pairs if now < before - _EPSILON)
    up = sum(1 for before, now in pairs if now > before + _EPSILON)
    ties = len(pairs) - down - up
    return SignTest(down, up, ties, mcnemar_exact_one_sided(down, up))
