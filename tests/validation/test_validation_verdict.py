"""The verdict rule does what docs/validation.md says: its false-alarm rate is its level,
and it fails values that are wrong."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.config.week import HOURS_PER_WEEK
from sim.validation.verdict import Statistic, judge

MEAN = Statistic("x", "x")


def _observations(values: np.ndarray, key: str = "x") -> list[dict[str, np.ndarray]]:
    return [{key: v} for v in values]


def _verdict(statistic: Statistic, exact, values, alpha: float = 0.01) -> bool:
    return judge(statistic, exact, _observations(values), alpha, group="g", case="c").passed


def test_a_correct_mean_fails_at_the_stated_rate():
    # 4000 independent tables of 10 normal replications at level 0.2: the share failing
    # must be 0.2, within a 99.9 % binomial band.
    rng = np.random.default_rng(11)
    fails = sum(not _verdict(MEAN, 3.0, rng.normal(3.0, 2.0, 10), alpha=0.2) for _ in range(4000))
    low, high = stats.binom.interval(0.999, 4000, 0.2)
    assert low <= fails <= high


def test_a_wrong_mean_fails():
    values = np.random.default_rng(3).normal(1.0, 0.1, 30)
    assert _verdict(MEAN, 1.0, values)
    assert not _verdict(MEAN, 1.2, values)


def test_the_row_reports_the_mean_its_confidence_interval_and_half_width():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    row = judge(MEAN, 2.0, _observations(values), 0.01, group="Erlang C", case="M/M/1")
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / 2
    assert row.mean == 2.5
    assert row.ci_low == pytest.approx(2.5 - half) and row.ci_high == pytest.approx(2.5 + half)
    assert row.half_width_pct == pytest.approx(100 * half / 2.0)
    assert (row.group, row.case, row.replications) == ("Erlang C", "M/M/1", 4)
    t = 0.5 / (values.std(ddof=1) / 2)
    assert row.check == f"|t| {t:.2f} <= {stats.t.ppf(1 - 0.01 / 2, 3):.2f}"


def test_hourly_rows_split_the_level_over_the_hours_and_show_the_worst():
    rng = np.random.default_rng(5)
    exact = np.linspace(1.0, 2.0, HOURS_PER_WEEK)
    values = exact + rng.normal(0, 0.05, (40, HOURS_PER_WEEK))
    hourly = Statistic("x", "queue", "hourly")
    row = judge(hourly, exact, _observations(values), 0.01, group="g", case="c")
    assert row.passed
    limit = stats.t.ppf(1 - 0.01 / (2 * HOURS_PER_WEEK), 39)
    assert row.check.endswith(f"<= {limit:.2f}")
    wrong = exact.copy()
    wrong[30] += 0.2  # Tuesday 06-07h
    row = judge(hourly, wrong, _observations(values), 0.01, group="g", case="c")
    assert not row.passed
    assert row.statistic == "queue, worst of 168 h: Tue 06-07h"


def test_hours_below_the_floor_are_not_compared():
    exact = np.full(HOURS_PER_WEEK, 0.5)
    exact[:10] = 1e-4
    values = np.tile(exact, (20, 1)) + np.random.default_rng(2).normal(0, 0.01, (20, 168))
    values[:, :10] = 0.0
    values[0, 3] = 1e-6  # a single short episode in a rare hour
    statistic = Statistic("x", "busy", "hourly", probability=True, floor=0.05)
    row = judge(statistic, exact, _observations(values), 0.01, group="g", case="c")
    assert row.passed and "worst of 158 h" in row.statistic
    unfloored = Statistic("x", "busy", "hourly", probability=True)
    assert not _verdict(unfloored, exact, values)


def test_a_share_seen_zero_in_every_replication_is_judged_by_its_chance():
    # With n replications at level alpha, zero everywhere is consistent with an exact
    # share up to ln(1/alpha)/n and no more.
    busy = Statistic("x", "busy", probability=True)
    zeros = np.zeros(50)
    bound = np.log(1 / 0.01) / 50
    assert _verdict(busy, 0.0, zeros)
    assert _verdict(busy, 0.99 * bound, zeros)
    assert not _verdict(busy, 1.01 * bound, zeros)
    assert not _verdict(MEAN, 0.01, zeros)  # not a share: zero proves nothing
    assert _verdict(MEAN, 2.0, np.full(5, 2.0))


def test_chi_square_rows_test_counts_against_their_expectations():
    rng = np.random.default_rng(8)
    expected = rng.uniform(5, 50, HOURS_PER_WEEK)
    expected[:6] = 0.0
    counts = rng.poisson(expected, (10, HOURS_PER_WEEK)).astype(float)
    statistic = Statistic("x", "counts", "chi-square")
    row = judge(statistic, expected, _observations(counts), 0.001, group="g", case="c")
    assert row.passed and row.exact == HOURS_PER_WEEK - 6
    assert not _verdict(statistic, np.roll(expected, 1) + (np.roll(expected, 1) == 0), counts)
    strays = counts.copy()
    strays[0, 0] = 1  # an arrival in an hour whose rate is zero
    row = judge(statistic, expected, _observations(strays), 0.001, group="g", case="c")
    assert not row.passed and "rate is zero" in row.check
    with pytest.raises(ValueError, match="below 5"):
        judge(statistic, expected / 100, _observations(counts), 0.001, group="g", case="c")


def test_exponential_rows_reject_other_laws():
    rng = np.random.default_rng(9)
    statistic = Statistic("x", "gaps", "exponential")
    assert _verdict(statistic, 2.0, rng.exponential(2.0, (5, 2000)))
    assert not _verdict(statistic, 2.0, rng.gamma(2.0, 1.0, (5, 2000)))  # same mean


def test_identity_rows_pass_only_when_every_replication_balances():
    statistic = Statistic("x", "balance", "identity", context="waiting")
    balanced = [{"x": 0.0, "waiting": 3.0}, {"x": 0.0, "waiting": 4.0}]
    row = judge(statistic, 0.0, balanced, 0.01, group="g", case="c")
    assert row.passed and row.check == "balanced; 7 waiting"
    unbalanced = [{"x": 0.0, "waiting": 3.0}, {"x": -2.0, "waiting": 4.0}]
    row = judge(statistic, 0.0, unbalanced, 0.01, group="g", case="c")
    assert not row.passed and row.mean == 2.0
