"""The statistics of retrieval: Student's t (against printed tables), the interval of a mean
of [0, 1] measures, and the exact sign test of paired measures."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft import stats


@pytest.mark.parametrize(
    ("df", "t975", "t95"),
    [
        pytest.param(1, 12.7062, 6.3138, id="df-1"),
        pytest.param(2, 4.3027, 2.9200, id="df-2"),
        pytest.param(5, 2.5706, 2.0150, id="df-5"),
        pytest.param(9, 2.2622, 1.8331, id="df-9"),
        pytest.param(30, 2.0423, 1.6973, id="df-30"),
        pytest.param(120, 1.9799, 1.6577, id="df-120"),
    ],
)
def test_t_quantiles_match_the_table(df: int, t975: float, t95: float) -> None:
    assert stats.t_quantile(0.975, df) == pytest.approx(t975, abs=5e-5)
    assert stats.t_quantile(0.95, df) == pytest.approx(t95, abs=5e-5)
    assert stats.t_quantile(0.025, df) == pytest.approx(-t975, abs=5e-5)


def test_t_cdf_closed_forms() -> None:
    # df 1 is Cauchy: 1/2 + atan(t)/pi; df 2: 1/2 + t / (2 sqrt(2 + t^2))
    for t in (-3.0, -0.5, 0.0, 0.7, 4.0):
        assert stats.student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi)
        assert stats.student_t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)))


@given(st.integers(0, 60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_share_interval_is_wilson_at_whole_counts(counts: tuple[int, int]) -> None:
    successes, n = counts
    share = successes / n if n else 0.0
    got = stats.share_interval(share, n)
    assert got == pytest.approx(stats.wilson_interval(successes, n), abs=1e-12)


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
def test_mean_interval_holds_the_mean_inside_zero_one(values: list[float]) -> None:
    low, high = stats.mean_interval(values)
    mean = sum(values) / len(values)
    assert 0.0 <= low <= mean + 1e-12 and mean - 1e-12 <= high <= 1.0
    assert high - low > 0.0  # never a point, however equal the scores


def test_mean_interval_by_hand() -> None:
    # 0.5, 0.6, 0.7: mean 0.6, s = 0.1, t(0.975, 2) = 4.302653
    half = 4.302653 * 0.1 / math.sqrt(3)
    assert stats.mean_interval([0.5, 0.6, 0.7]) == pytest.approx((0.6 - half, 0.6 + half))


@pytest.mark.parametrize(
    ("pairs", "down", "up", "ties", "p"),
    [
        pytest.param([(1.0, 0.0)] * 5, 5, 0, 0, 1 / 32, id="five-falls"),
        pytest.param([(1.0, 0.5)] * 4 + [(0.5, 1.0)], 4, 1, 0, 6 / 32, id="four-down-one-up"),
        pytest.param([(1.0, 1.0)] * 9 + [(1.0, 0.0)], 1, 0, 9, 0.5, id="ties-left-out"),
        pytest.param([(0.5, 0.5)] * 3, 0, 0, 3, 1.0, id="nothing-moved"),
        pytest.param([(0.0, 1.0)] * 3, 0, 3, 0, 1.0, id="all-rose"),
    ],
)
def test_sign_test(
    pairs: list[tuple[float, float]], down: int, up: int, ties: int, p: float
) -> None:
    test = stats.sign_test_drop(pairs)
    assert (test.down, test.up, test.ties) == (down, up, ties)
    assert test.p_value == pytest.approx(p)
