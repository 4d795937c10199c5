"""A new post's ramp-up (``ramp_up``): officers' referral propensity starts at a share
of its full value when the post opens and rises in a straight line to it (docs/model.md,
"A new post"). The statistical checks compare counts with their exact binomial
expectation, within 4.5 standard deviations (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scenario

from sim.config.errors import ConfigError
from sim.config.schema import RampUp
from sim.config.week import MINUTES_PER_DAY
from sim.model.records import EndState
from sim.model.station import simulate

OFFICE = {
    "workers": [{"name": "w", "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}]
}


def _post(ramp_up: dict | None, staffing: dict | None = None, **referral) -> object:
    """Few short interviews, so that nobody's referral depends on the queue; the run
    starts when the post opens (no warm-up) and lasts 200 days."""
    victim = {
        "arrivals": {"per_hour": 0.5},
        "interview": {"dist": "fixed", "value": 1},
        "referral": {"probability": 0.8, **referral},
    }
    parts = {
        "populations": {"victim": victim},
        "simulation": {"warm_up_days": 0, "run_days": 200, "drain_days": 2, "seed": 11},
    }
    if ramp_up is not None:
        parts["ramp_up"] = ramp_up
    if staffing is not None:
        parts["staffing"] = staffing
    return scenario(**parts)


def test_the_share_rises_in_a_straight_line_to_one_and_stays_there():
    ramp = RampUp(days=100, initial_share=0.25)
    minutes = np.array([0, 50, 100, 150]) * MINUTES_PER_DAY
    assert ramp.share(minutes).tolist() == [0.25, 0.625, 1.0, 1.0]


def test_a_ramp_starting_at_its_full_value_changes_nothing():
    plain = simulate(_post(None)).cases
    full = simulate(_post({"days": 100, "initial_share": 1.0})).cases
    for name, column in plain.columns().items():
        np.testing.assert_array_equal(column, getattr(full, name), err_msg=name)


def _check_binomial(count: int, p: np.ndarray) -> None:
    mean, sd = float(p.sum()), float(np.sqrt((p * (1 - p)).sum()))
    assert abs(count - mean) <= 4.5 * sd, (count, mean, sd)


def test_officers_refer_at_the_ramped_probability_of_each_arrival():
    sc = _post({"days": 100, "initial_share": 0.25})
    cases = simulate(sc).cases
    arrival = cases.arrival
    expected = 0.8 * sc.ramp_up.share(arrival)
    referred = np.isfinite(cases.referral)
    early, late = arrival < 20 * MINUTES_PER_DAY, arrival >= 100 * MINUTES_PER_DAY
    assert early.sum() > 150 and late.sum() > 500
    _check_binomial(int(referred[early].sum()), expected[early])
    _check_binomial(int(referred[late].sum()), expected[late])
    # The ramp is what lowers the early share: without it, the early arrivals are
    # referred at the full 0.8, far outside the band above.
    plain = simulate(_post(None)).cases
    assert plain.referral[early].size == early.sum()
    assert np.isfinite(plain.referral[early]).mean() > expected[early].mean() + 0.2


def test_the_ramp_scales_the_referrals_lost_for_want_of_a_worker_too():
    # Office hours only: outside them officers refer at 0.3 of the normal 0.8, both
    # scaled by the ramp; the cases between the two are lost for want of a worker.
    sc = _post({"days": 100, "initial_share": 0.25}, OFFICE, ratio_when_no_worker=0.3)
    cases = simulate(sc).cases
    lost = cases.state == EndState.NOT_REFERRED_NO_WORKER
    share = sc.ramp_up.share(cases.arrival)
    minute_of_week = cases.arrival % (7 * MINUTES_PER_DAY)
    day, minute = minute_of_week // MINUTES_PER_DAY, minute_of_week % MINUTES_PER_DAY
    on_site = (day < 5) & (minute >= 9 * 60) & (minute < 17 * 60)
    # Off site a case is lost for want of a worker with probability (0.8 - 0.24)
    # times the ramp's share; on site never.
    _check_binomial(int(lost[~on_site].sum()), (0.8 - 0.24) * share[~on_site])
    assert not lost[on_site].any()


@pytest.mark.parametrize(
    ("ramp_up", "message"),
    [
        ({"days": 0, "initial_share": 0.5}, "ramp_up.days"),
        ({"days": 100, "initial_share": 1.5}, "ramp_up.initial_share"),
        ({"days": 100}, "ramp_up.initial_share"),
    ],
)
def test_an_impossible_ramp_is_refused_naming_the_key(ramp_up, message):
    with pytest.raises(ConfigError, match=message):
        _post(ramp_up)
