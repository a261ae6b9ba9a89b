from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.stats import (
    cases_needed,
    detectable,
    mcnemar_exact_one_sided,
    normal_cdf,
    normal_quantile,
    regression,
    two_proportion_one_sided,
    wilson_interval,
)

# --- normal distribution ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "z"),
    [
        pytest.param(0.5, 0.0, id="median"),
        pytest.param(0.975, 1.959963984540054, id="two-sided-95"),
        pytest.param(0.95, 1.6448536269514722, id="one-sided-95"),
        pytest.param(0.8, 0.8416212335729143, id="power-80"),
        pytest.param(1e-10, -6.361340902404056, id="far-tail"),
    ],
)
def test_normal_quantile_matches_reference(p: float, z: float) -> None:
    assert normal_quantile(p) == pytest.approx(z, abs=1e-12)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_normal_quantile_rejects_impossible_probabilities(p: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        normal_quantile(p)


@given(st.floats(min_value=-8, max_value=8))
def test_normal_cdf_agrees_with_stdlib(z: float) -> None:
    assert normal_cdf(z) == pytest.approx(NormalDist().cdf(z), abs=1e-15)


# --- Wilson interval ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statist. Med. 17:857-872, table I, method 3 (score, no correction).
        pytest.param(81, 263, 0.2553, 0.3662, id="newcombe-81/263"),
        pytest.param(15, 148, 0.0624, 0.1605, id="newcombe-15/148"),
        pytest.param(0, 20, 0.0, 0.1611, id="newcombe-0/20"),
        pytest.param(1, 29, 0.0061, 0.1718, id="newcombe-1/29"),
        pytest.param(29, 29, 0.8830, 1.0, id="all-passed-mirrors-0/29"),
    ],
)
def test_wilson_interval_matches_published_values(
    successes: int, n: int, low: float, high: float
) -> None:
    got = wilson_interval(successes, n)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)


def test_wilson_interval_is_uninformative_without_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_widens_with_confidence() -> None:
    low95, high95 = wilson_interval(46, 50)
    low99, high99 = wilson_interval(46, 50, confidence=0.99)
    assert low99 < low95 and high99 > high95


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [
        pytest.param(5, 4, 0.95, id="more-successes-than-cases"),
        pytest.param(-1, 4, 0.95, id="negative-successes"),
        pytest.param(1, 4, 1.0, id="certain-confidence"),
    ],
)
def test_wilson_interval_rejects_bad_input(successes: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n, confidence)


@given(
    st.integers(min_value=1, max_value=5000).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_wilson_interval_holds_the_estimate_inside_unit_range(counts: tuple[int, int]) -> None:
    successes, n = counts
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


@given(
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=2, max_value=50),
)
def test_wilson_interval_narrows_as_cases_grow(k: int, extra: int, scale: int) -> None:
    # The same rate k / (k + extra) observed on `scale` times as many cases.
    n = k + extra
    low, high = wilson_interval(k, n)
    big_low, big_high = wilson_interval(k * scale, n * scale)
    assert big_high - big_low < high - low


# --- McNemar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        pytest.param(0, 0, 1.0, id="no-discordant-cases"),
        pytest.param(0, 5, 1.0, id="only-improvements"),
        pytest.param(1, 0, 0.5, id="one-loss"),
        pytest.param(8, 0, 1 / 256, id="eight-losses"),
        pytest.param(7, 1, 9 / 256, id="seven-to-one"),
        pytest.param(5, 5, 638 / 1024, id="balanced-ten"),
        pytest.param(15, 5, 21700 / 2**20, id="fifteen-to-five"),
        pytest.param(10, 0, 2**-10, id="ten-losses"),
    ],
)
def test_mcnemar_is_the_binomial_upper_tail(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact_one_sided(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_handles_large_counts_without_overflow() -> None:
    p = mcnemar_exact_one_sided(700, 600)
    # Normal approximation of the same tail: z = (700 - 650 - 0.5) / sqrt(1300 / 4).
    assert p == pytest.approx(1 - NormalDist().cdf(49.5 / math.sqrt(325)), rel=0.02)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact_one_sided(-1, 3)


@given(st.integers(0, 300), st.integers(0, 300))
def test_mcnemar_p_value_is_a_probability(b: int, c: int) -> None:
    assert 0.0 <= mcnemar_exact_one_sided(b, c) <= 1.0


@given(st.integers(0, 200), st.integers(0, 200))
def test_mcnemar_p_value_falls_as_losses_grow(b: int, c: int) -> None:
    before, after = mcnemar_exact_one_sided(b, c), mcnemar_exact_one_sided(b + 1, c)
    # Near 1 (say 1 - 2**-54) neighbouring tails round to the same float.
    assert after <= before
    if before < 0.99:
        assert after < before


# --- two-proportion z-test ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_base", "n_base", "x_cur", "n_cur", "expected"),
    [
        # OpenStax Introductory Statistics, two population proportions (hives medication):
        # 20/200 vs 12/200, z = 1.47, two-tailed p = 0.1404, so one-tailed 0.0702.
        pytest.param(20, 200, 12, 200, 0.0702, id="openstax-hives"),
        # 90/100 vs 80/100: pooled 0.85, z = -0.1 / sqrt(0.85 * 0.15 * 0.02) = -1.980.
        pytest.param(90, 100, 80, 100, 0.0238, id="ninety-vs-eighty"),
        pytest.param(50, 100, 50, 100, 0.5, id="no-change"),
        pytest.param(80, 100, 90, 100, 0.9762, id="improvement"),
    ],
)
def test_two_proportion_matches_textbook_values(
    x_base: int, n_base: int, x_cur: int, n_cur: int, expected: float
) -> None:
    assert round(two_proportion_one_sided(x_base, n_base, x_cur, n_cur), 4) == expected


@pytest.mark.parametrize(
    ("x_base", "n_base", "x_cur", "n_cur"),
    [
        pytest.param(0, 0, 3, 10, id="no-baseline-cases"),
        pytest.param(3, 10, 0, 0, id="no-current-cases"),
        pytest.param(10, 10, 20, 20, id="all-passed-both"),
        pytest.param(0, 10, 0, 20, id="all-failed-both"),
    ],
)
def test_two_proportion_without_evidence_is_one(
    x_base: int, n_base: int, x_cur: int, n_cur: int
) -> None:
    assert two_proportion_one_sided(x_base, n_base, x_cur, n_cur) == 1.0


def test_two_proportion_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        two_proportion_one_sided(11, 10, 3, 10)


@given(
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_two_proportion_p_value_is_a_probability(
    base: tuple[int, int], cur: tuple[int, int]
) -> None:
    assert 0.0 <= two_proportion_one_sided(*base, *cur) <= 1.0


# --- sample size --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p_base", "drop", "alpha", "power", "expected"),
    [
        # 50% vs 40%, two-sided 5% (one-sided 2.5%), power 80%: the classic 388 per group
        # without continuity correction (Fleiss; Kelsey et al.).
        pytest.param(0.5, 0.1, 0.025, 0.8, 388, id="classic-50-vs-40"),
        pytest.param(0.5, 0.1, 0.05, 0.8, 305, id="one-sided-5pct"),
        pytest.param(0.9, 0.05, 0.05, 0.8, 540, id="ninety-five-point-drop"),
        pytest.param(1.0, 0.05, 0.05, 0.8, 120, id="perfect-baseline"),
    ],
)
def test_cases_needed_matches_formula(
    p_base: float, drop: float, alpha: float, power: float, expected: int
) -> None:
    assert cases_needed(p_base, drop, alpha, power) == expected


def test_cases_needed_clamps_a_drop_below_zero() -> None:
    assert cases_needed(0.03, 0.05, 0.05) == cases_needed(0.03, 0.03, 0.05) == 202


def test_cases_needed_agrees_with_an_independent_computation() -> None:
    p1, p2, alpha, power = 0.85, 0.75, 0.05, 0.9
    q = NormalDist().inv_cdf
    p_bar = (p1 + p2) / 2
    root = q(1 - alpha) * math.sqrt(2 * p_bar * (1 - p_bar)) + q(power) * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    assert cases_needed(p1, p1 - p2, alpha, power) == math.ceil(root**2 / (p1 - p2) ** 2)


@pytest.mark.parametrize(
    ("p_base", "drop"),
    [
        pytest.param(0.0, 0.05, id="zero-baseline"),
        pytest.param(0.9, 0.0, id="zero-drop"),
        pytest.param(1.2, 0.05, id="rate-above-one"),
    ],
)
def test_cases_needed_rejects_impossible_questions(p_base: float, drop: float) -> None:
    with pytest.raises(ValueError):
        cases_needed(p_base, drop, 0.05)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        pytest.param(539, False, id="one-short"),
        pytest.param(540, True, id="exactly-enough"),
    ],
)
def test_detectable_at_the_boundary(n: int, expected: bool) -> None:
    assert detectable(n, 0.9, 0.05, 0.05) is expected


@given(
    st.floats(min_value=0.05, max_value=1.0),
    st.floats(min_value=0.01, max_value=0.5),
    st.floats(min_value=0.001, max_value=0.3),
)
def test_cases_needed_falls_as_the_drop_grows(p_base: float, drop: float, more: float) -> None:
    assert cases_needed(p_base, drop + more, 0.05) <= cases_needed(p_base, drop, 0.05)


# --- the composite regression test --------------------------------------------------------


def paired(losses: int, gains: int, same: int) -> list[tuple[bool, bool]]:
    """Pairs (passed in the latest baseline run, passed now)."""
    return [(True, False)] * losses + [(False, True)] * gains + [(True, True)] * same


def test_regression_uses_mcnemar_on_enough_shared_cases() -> None:
    pairs = paired(6, 0, 10)
    got = regression(
        "behavior",
        baseline_rate=0.9,
        passed=10,
        total=16,
        pairs=pairs,
        baseline_passed=90,
        baseline_total=100,
        max_drop=0.05,
        alpha=0.05,
    )
    assert got.method == "mcnemar"
    assert got.p_value == pytest.approx(1 / 64)
    assert got.current_rate == 0.625
    assert got.drop == pytest.approx(0.275)
    assert got.significant and got.fires
    assert got.detail.startswith(
        "behavior 62.5% vs baseline 90.0% (-27.5 points), McNemar exact p = 0.0156 on 16 shared"
        " cases"
    )


def test_regression_falls_back_to_two_proportions_on_few_shared_cases() -> None:
    got = regression(
        "knowledge",
        baseline_rate=0.9,
        passed=80,
        total=100,
        pairs=[(True, False)] * 9,
        baseline_passed=90,
        baseline_total=100,
        max_drop=0.05,
        alpha=0.05,
    )
    assert got.method == "two-proportion"
    assert got.p_value == pytest.approx(two_proportion_one_sided(90, 100, 80, 100))
    assert got.fires
    assert "9 shared cases, 10 needed for McNemar" in got.detail


@pytest.mark.parametrize(
    ("baseline_rate", "passed", "pairs", "fires", "significant"),
    [
        # A drop of exactly max_drop (0.90 - 0.85 reads 0.05000000000000004 in floats) is not
        # "more than" it.
        pytest.param(0.9, 17, paired(2, 0, 18), False, True, id="drop-exactly-max-drop"),
        pytest.param(0.9, 16, paired(2, 0, 18), True, True, id="drop-over-max-significant"),
        pytest.param(0.9, 16, paired(2, 1, 17), False, False, id="drop-over-max-not-significant"),
        pytest.param(0.92, 18, paired(2, 0, 18), False, True, id="significant-small-drop"),
        pytest.param(0.5, 18, paired(0, 0, 20), False, False, id="improvement"),
    ],
)
def test_regression_fires_only_on_a_large_significant_drop(
    baseline_rate: float,
    passed: int,
    pairs: list[tuple[bool, bool]],
    fires: bool,
    significant: bool,
) -> None:
    # With alpha 0.3, two losses (p = 0.25) are significant and one loss and one gain are not.
    got = regression(
        "behavior",
        baseline_rate=baseline_rate,
        passed=passed,
        total=20,
        pairs=pairs,
        baseline_passed=18,
        baseline_total=20,
        max_drop=0.05,
        alpha=0.3,
    )
    assert (got.fires, got.significant) == (fires, significant)


def test_regression_reports_too_few_cases_to_detect_the_drop() -> None:
    got = regression(
        "behavior",
        baseline_rate=0.9,
        passed=18,
        total=20,
        pairs=paired(0, 0, 20),
        baseline_passed=90,
        baseline_total=100,
        max_drop=0.05,
        alpha=0.05,
    )
    assert not got.detectable
    assert got.cases_needed == 540
    assert got.detail.endswith("; 20 cases cannot reliably detect a 5-point drop (540 needed)")


def test_regression_with_enough_cases_says_nothing_about_power() -> None:
    got = regression(
        "knowledge",
        baseline_rate=0.5,
        passed=200,
        total=400,
        pairs=[],
        baseline_passed=200,
        baseline_total=400,
        max_drop=0.1,
        alpha=0.05,
    )
    assert got.detectable and got.cases_needed == 305
    assert got.detail == (
        "knowledge 50.0% vs baseline 50.0% (0.0 points), one-sided two-proportion test"
        " p = 0.5000 on 400 cases vs 400 baseline results (no shared cases, 10 needed for McNemar)"
    )


def test_regression_with_a_zero_baseline_needs_no_cases() -> None:
    got = regression(
        "knowledge",
        baseline_rate=0.0,
        passed=0,
        total=5,
        pairs=[],
        baseline_passed=0,
        baseline_total=5,
        max_drop=0.05,
        alpha=0.05,
    )
    assert (got.fires, got.detectable, got.cases_needed) == (False, True, 0)


def test_regression_without_current_cases_does_not_fire() -> None:
    got = regression(
        "behavior",
        baseline_rate=0.9,
        passed=0,
        total=0,
        pairs=[],
        baseline_passed=9,
        baseline_total=10,
        max_drop=0.05,
        alpha=0.05,
    )
    assert not got.fires and got.p_value == 1.0
    assert got.detail.startswith("behavior: no scored cases in this run")


@given(
    st.floats(min_value=0.0, max_value=1.0),
    st.lists(st.tuples(st.booleans(), st.booleans()), max_size=40),
    st.integers(1, 60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_regression_fires_implies_large_and_significant(
    baseline_rate: float, pairs: list[tuple[bool, bool]], current: tuple[int, int]
) -> None:
    passed, total = current
    got = regression(
        "behavior",
        baseline_rate=baseline_rate,
        passed=passed,
        total=total,
        pairs=pairs,
        baseline_passed=round(baseline_rate * 50),
        baseline_total=50,
        max_drop=0.05,
        alpha=0.05,
    )
    assert 0.0 <= got.p_value <= 1.0
    assert got.fires == (got.drop > 0.05 + 1e-9 and got.p_value < 0.05)


def test_regression_words_one_case_and_one_shared_case_in_the_singular() -> None:
    got = regression(
        "behavior",
        baseline_rate=1.0,
        passed=0,
        total=1,
        pairs=paired(1, 0, 0),
        baseline_passed=1,
        baseline_total=1,
        max_drop=0.05,
        alpha=0.05,
    )
    assert got.detail == (
        "behavior 0.0% vs baseline 100.0% (-100.0 points), one-sided two-proportion test"
        " p = 0.0786 on 1 case vs 1 baseline result (1 shared case, 10 needed for McNemar);"
        " 1 case cannot reliably detect a 5-point drop (120 needed)"
    )
