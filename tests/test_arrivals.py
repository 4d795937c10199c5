"""The arrival process reproduces its hour-of-week profile exactly (in distribution)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.config.week import HOURS_PER_WEEK, MINUTES_PER_HOUR, MINUTES_PER_WEEK, hour_of_week
from sim.model.arrivals import poisson_arrivals

WEEKS = 400


def _profile() -> np.ndarray:
    """A strongly uneven weekly profile with closed hours (rate zero)."""
    day = np.r_[np.zeros(6), np.linspace(0.5, 3.0, 12), np.linspace(3.0, 1.0, 6)]
    weekly = np.tile(day, 7)
    weekly[5 * 24 :] *= 1.5  # weekends busier
    return weekly / MINUTES_PER_HOUR  # per minute: about 1.3 an hour on average


def _chi_square(times: np.ndarray, rates: np.ndarray, weeks: int) -> float:
    counts = np.bincount(hour_of_week(times), minlength=HOURS_PER_WEEK)
    expected = rates * MINUTES_PER_HOUR * weeks
    open_hours = expected > 0
    assert counts[~open_hours].sum() == 0, "arrivals in hours whose rate is zero"
    statistic = ((counts[open_hours] - expected[open_hours]) ** 2 / expected[open_hours]).sum()
    return float(stats.chi2.sf(statistic, open_hours.sum()))


def test_counts_per_hour_of_week_match_the_profile():
    rates = _profile()
    times = poisson_arrivals(rates, WEEKS * MINUTES_PER_WEEK, np.random.default_rng(7))
    assert _chi_square(times, rates, WEEKS) > 0.001


def test_the_goodness_of_fit_check_catches_a_profile_shifted_by_one_hour():
    # The same check must reject a process whose profile is off by one hour.
    rates = _profile()
    times = poisson_arrivals(np.roll(rates, 1), WEEKS * MINUTES_PER_WEEK, np.random.default_rng(7))
    with pytest.raises(AssertionError):
        assert _chi_square(times, rates, WEEKS) > 0.001


def test_gaps_within_a_constant_rate_hour_are_exponential():
    rates = np.full(HOURS_PER_WEEK, 2.0 / MINUTES_PER_HOUR)
    times = poisson_arrivals(rates, 200 * MINUTES_PER_WEEK, np.random.default_rng(3))
    gaps = np.diff(times)
    result = stats.kstest(gaps, "expon", args=(0, MINUTES_PER_HOUR / 2.0))
    assert result.pvalue > 0.001
    total = 2.0 * 200 * HOURS_PER_WEEK
    assert abs(len(times) - total) < 4 * np.sqrt(total)


def test_a_longer_horizon_extends_the_same_arrivals():
    # Common random numbers across run lengths: the first arrivals do not move.
    rates = _profile()
    short = poisson_arrivals(rates, 5 * MINUTES_PER_WEEK, np.random.default_rng(11))
    long = poisson_arrivals(rates, 50 * MINUTES_PER_WEEK, np.random.default_rng(11))
    np.testing.assert_array_equal(short, long[: len(short)])
    assert long[len(short)] >= 5 * MINUTES_PER_WEEK


def test_arrivals_are_sorted_and_inside_the_horizon():
    horizon = 3 * MINUTES_PER_WEEK + 17.5
    times = poisson_arrivals(_profile(), horizon, np.random.default_rng(5))
    assert np.all(np.diff(times) >= 0)
    assert times.min() >= 0 and times.max() < horizon


def test_bad_rates_are_rejected():
    with pytest.raises(ValueError, match="168"):
        poisson_arrivals(np.ones(24), 100.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-negative"):
        poisson_arrivals(-np.ones(HOURS_PER_WEEK), 100.0, np.random.default_rng(0))
