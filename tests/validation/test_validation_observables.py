"""The statistics read off a run's records are computed right: checked against direct,
slower computations of the same quantities."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.schema import load_scenario
from sim.config.week import HOURS_PER_WEEK, MINUTES_PER_HOUR, MINUTES_PER_WEEK
from sim.model.outcomes import measured
from sim.model.records import EndState, WorkerActivity
from sim.model.station import simulate
from sim.validation.cases import SHIPPED_CONFIGS
from sim.validation.observables import (
    cumulative_intensity,
    hourly_occupancy,
    littles_law_terms,
    waiting_exits,
)


def _occupancy_by_overlap(starts: np.ndarray, ends: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The same time averages, from the overlap of every interval with every hour."""
    hours = t0 + MINUTES_PER_HOUR * np.arange(int((t1 - t0) / MINUTES_PER_HOUR) + 1)
    lo, hi = hours[:-1], hours[1:]
    overlap = np.clip(
        np.minimum(ends[:, None], hi[None, :]) - np.maximum(starts[:, None], lo[None, :]), 0, None
    ).sum(axis=0)
    return overlap.reshape(-1, HOURS_PER_WEEK).mean(axis=0) / MINUTES_PER_HOUR


def test_hourly_occupancy_equals_the_overlap_of_each_interval_with_each_hour():
    rng = np.random.default_rng(4)
    t0, t1 = MINUTES_PER_WEEK, 4 * MINUTES_PER_WEEK
    # Intervals of every kind: inside, crossing t0 or t1, longer than an hour, empty,
    # and starting or ending exactly on an hour boundary.
    starts = rng.uniform(0, 5 * MINUTES_PER_WEEK, 3000)
    ends = starts + rng.exponential(90, starts.size)
    starts[:50] = np.round(starts[:50] / 60) * 60
    ends[50:100] = starts[50:100]
    ends[100:150] = np.round(ends[100:150] / 60) * 60 + 60
    got = hourly_occupancy(starts, ends, t0, t1)
    np.testing.assert_allclose(got, _occupancy_by_overlap(starts, ends, t0, t1), atol=1e-9)
    assert got.shape == (HOURS_PER_WEEK,)


def test_hourly_occupancy_of_one_interval_is_its_share_of_each_hour():
    # Busy Monday 09:30 to 11:00 in the first of two weeks: half of 09-10, all of 10-11,
    # averaged over the two weeks.
    got = hourly_occupancy(np.array([570.0]), np.array([660.0]), 0, 2 * MINUTES_PER_WEEK)
    expected = np.zeros(HOURS_PER_WEEK)
    expected[9], expected[10] = 0.25, 0.5
    np.testing.assert_allclose(got, expected, atol=1e-15)


@pytest.mark.parametrize("window", [(0, 1000), (60, MINUTES_PER_WEEK + 60), (0, 0)])
def test_hourly_occupancy_needs_whole_weeks(window):
    with pytest.raises(ValueError, match="whole weeks"):
        hourly_occupancy(np.zeros(1), np.ones(1), *window)


def test_littles_law_terms_count_the_edges_as_stated():
    t0, t1 = 100.0, 200.0
    referral = np.array([50.0, 120.0, 150.0, 190.0, np.nan])
    exits = np.array([130.0, 140.0, 150.0, 260.0, np.nan])
    occupancy, rate, sojourn = littles_law_terms(referral, exits, t0, t1)
    # In the system within [100, 200): 30 + 20 + 0 + 10 minutes; referred within it: 3
    # cases, whose whole stays are 20, 0 and 70 minutes.
    assert occupancy == pytest.approx(60 / 100)
    assert rate == pytest.approx(3 / 100)
    assert sojourn == pytest.approx(30.0)


def test_littles_law_terms_need_an_exit_for_every_referral():
    with pytest.raises(ValueError, match="exit"):
        littles_law_terms(np.array([1.0]), np.array([np.nan]), 0.0, 10.0)


def test_cumulative_intensity_integrates_the_hourly_rates():
    rates = np.random.default_rng(1).uniform(0, 0.2, HOURS_PER_WEEK)
    rates[10:14] = 0.0
    t = np.sort(np.random.default_rng(2).uniform(0, 3 * MINUTES_PER_WEEK, 500))
    # Integrate minute by minute, then the part of the last minute (rates are constant
    # within each minute, so this is exact).
    per_minute = np.repeat(rates, MINUTES_PER_HOUR)
    whole = np.floor(t).astype(int)
    cumulative = np.concatenate(([0.0], np.cumsum(np.tile(per_minute, 4))))
    expected = cumulative[whole] + np.tile(per_minute, 4)[whole] * (t - whole)
    np.testing.assert_allclose(cumulative_intensity(rates, t), expected, rtol=1e-12)
    week = cumulative_intensity(rates, np.array([MINUTES_PER_WEEK]))[0]
    assert week == pytest.approx(rates.sum() * MINUTES_PER_HOUR, rel=1e-14)


def test_waiting_exits_follow_each_outcome():
    sc = load_scenario(
        SHIPPED_CONFIGS / "visiting_twice_weekly.yaml",
        {"simulation.run_days": 56, "simulation.drain_days": 0},
    )
    run = measured(simulate(sc, 0))
    cases = run.cases
    expiry = sc.callbacks.expire_after_days * 24 * 60
    exits = waiting_exits(run, expiry)
    outcome = cases.state
    referred = ~np.isnan(cases.referral)
    np.testing.assert_array_equal(np.isnan(exits), ~referred)
    met = outcome == EndState.CONTACTED
    np.testing.assert_array_equal(exits[met], cases.first_contact[met])
    expired = outcome == EndState.CALLBACK_EXPIRED
    np.testing.assert_allclose(exits[expired], cases.referral[expired] + expiry)
    waiting = outcome == EndState.IN_SYSTEM
    assert np.all(exits[waiting] == run.end_time)
    failed = np.flatnonzero(outcome == EndState.CALLBACK_FAILED)
    # Each outcome this test is about occurs in the run.
    assert met.any() and expired.any() and waiting.any() and failed.size
    attempts = run.workers.activity == WorkerActivity.CALLBACK_ATTEMPT
    for i in failed[:20]:
        last = run.workers.end[attempts & (run.workers.case_id == cases.case_id[i])].max()
        assert exits[i] == last
    assert np.all(exits[referred] >= cases.referral[referred])
