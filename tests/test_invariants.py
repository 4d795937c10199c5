"""Invariants of the engine that no single rule's test states: the shape of every record
table (``tests/invariants.py``) on every shipped config and on variants that switch on
the rules they leave off, and the behaviours a wrong rule broke while every other test
passed (found by mutation testing, ``docs/testing.md``).

Each test below fails on the mutant it is named after; the record check also fails when a
record is put out of shape by hand, so it is not a check that cannot fail.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from conftest import SHIPPED, scenario
from invariants import check_records

from sim.config.schema import load_scenario, scenario_from_dict
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.model.demand import draw_demand
from sim.model.records import Channel, EndState, FollowupStatus, WorkerActivity
from sim.model.roster import build_plan
from sim.model.station import StationModel, simulate

SHORT = {"simulation.warm_up_days": 7, "simulation.run_days": 56, "simulation.drain_days": 7}
OFFICE = {"days": "weekdays", "start": "09:00", "end": "17:00"}

# The rules the shipped configs leave off, one group at a time (as benchmarks/golden.py).
VARIANTS = {
    "belgium_newest_lost_all": (
        "belgium_24_7",
        {
            "callbacks.order": "newest_first",
            "callbacks.retry_after_hours": 0,
            "callbacks.left_before_seen": "lost",
            "on_call.eligible": "all",
            "on_call.max_callouts_per_window": 1,
            "on_call.responders": 2,
        },
    ),
    "rural_oldest_expiring": (
        "shared_rural",
        {"callbacks.order": "oldest_first", "callbacks.expire_after_days": 3},
    ),
    # Outreach from the police log; long reviews so that some run past a shift's end.
    "france_log_review": (
        "france_office_hours",
        {
            "outreach.log_access": "daily_review",
            "outreach.review_minutes": 120,
            "populations.victim.referral.log_probability": 0.9,
        },
    ),
    "visiting_log_review": (
        "visiting_twice_weekly",
        {"outreach.log_access": "daily_review", "outreach.review_minutes": 10},
    ),
    "rural_log_networked": ("shared_rural", {"outreach.log_access": "networked"}),
}


def _shipped(name: str, overrides: dict | None = None):
    return load_scenario(
        next(p for p in SHIPPED if p.stem == name), overrides={**SHORT, **(overrides or {})}
    )


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_config_leaves_records_of_the_right_shape(path):
    check_records(simulate(load_scenario(path, overrides=SHORT), 0))


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_rules_the_shipped_configs_leave_off_leave_records_of_the_right_shape(variant):
    name, overrides = VARIANTS[variant]
    check_records(simulate(_shipped(name, overrides), 1))


def _replace(run, table: str, **columns):
    part = getattr(run, table)
    return dataclasses.replace(run, **{table: dataclasses.replace(part, **columns)})


def test_the_record_check_fails_on_records_out_of_shape():
    run = simulate(_shipped("belgium_24_7"), 0)
    check_records(run)
    w = run.workers
    duties = np.flatnonzero(w.activity == WorkerActivity.DUTIES)
    assert len(duties)
    case_id = w.case_id.copy()
    case_id[duties[0]] = -2
    with pytest.raises(AssertionError, match="case id -1"):
        check_records(_replace(run, "workers", case_id=case_id))
    by_end = np.argsort(w.end, kind="stable")
    shuffled = {k: v[by_end] for k, v in w.columns().items()}
    with pytest.raises(AssertionError, match="sorted by start"):
        check_records(_replace(run, "workers", **shuffled))
    c = run.cases
    left = c.left_station.copy()
    left[np.flatnonzero(c.channel == Channel.ON_CALL)[0]] = True
    with pytest.raises(AssertionError, match="who left the station"):
        check_records(_replace(run, "cases", left_station=left))


# -- a series goes on after a cancellation ---------------------------------------------


def test_after_a_cancelled_appointment_the_series_goes_on():
    """Mutant: the booking of the next follow-up removed after a cancellation."""
    gap_days, horizon_days = 7, 42
    sc = scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.3},
                "interview": {"dist": "exponential", "mean": 45},
                "followups": {
                    "count": {"dist": "fixed", "value": 4},
                    "gap_days": {"dist": "fixed", "value": gap_days},
                    "duration": {"dist": "fixed", "value": 45},
                },
            }
        },
        staffing={
            "workers": [{"name": "w", "roster": [OFFICE], "absence": {"sickness_rate": 0.3}}]
        },
        diary={"max_rebookings": 1, "horizon_days": horizon_days},
        simulation={"warm_up_days": 14, "run_days": 168, "drain_days": 14, "seed": 3},
    )
    run = simulate(sc)
    check_records(run)
    a = run.appointments
    settled = run.end_time - (gap_days + horizon_days + 1) * MINUTES_PER_DAY
    cancelled = np.flatnonzero(
        (a.status == FollowupStatus.CANCELLED) & (a.number < 4) & (a.due < settled)
    )
    assert len(cancelled) > 5, "the scenario must cancel appointments early in the run"
    for r in cancelled:
        following = r + 1
        assert a.case_id[following] == a.case_id[r]
        # Booked, or given up for a stated reason: never left unbooked.
        assert not np.isnan(a.booked_at[following]) or a.status[following] in (
            FollowupStatus.DIARY_FULL,
            FollowupStatus.NO_WORKER,
        ), f"follow-up {a.number[following]} of case {a.case_id[r]} was never booked"


# -- each station's referrals follow its own coverage ---------------------------------


@pytest.mark.parametrize("staffed", ["a", "b"])
def test_each_station_s_referral_decision_follows_its_own_coverage(staffed):
    """Mutant: the single-station shortcut taken for several stations (every case judged
    by the last station's coverage)."""
    sc = scenario(
        stations=[{"name": "a"}, {"name": "b"}],
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.5},
                "interview": {"dist": "exponential", "mean": 20},
                "referral": {"probability": 1.0, "probability_when_no_worker": 0.0},
            }
        },
        staffing={
            "workers": [
                {
                    "name": "w",
                    "roster": [
                        {"days": "all", "start": "00:00", "end": "24:00", "station": staffed}
                    ],
                }
            ]
        },
    )
    c = simulate(sc).cases
    covered = c.station == [s.name for s in sc.stations].index(staffed)
    assert covered.sum() > 100 and (~covered).sum() > 100
    assert np.all(c.state[~covered] == EndState.NOT_REFERRED_NO_WORKER)
    not_referred = (EndState.NOT_REFERRED, EndState.NOT_REFERRED_NO_WORKER)
    assert not np.isin(c.state[covered], not_referred).any()


# -- a case handed to the rota stops its patience clock ----------------------------------


def _busy_rota(**on_call):
    return scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 1.5},
                "interview": {"dist": "exponential", "mean": 40},
                "patience": {"dist": "exponential", "mean": 90},
                "urgent_share": 1.0,
            }
        },
        staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
        on_call={
            "windows": [
                {"days": "weekdays", "start": "17:00", "end": "24:00"},
                {"days": "weekdays", "start": "00:00", "end": "09:00"},
                {"days": "weekend", "start": "00:00", "end": "24:00"},
            ],
            "staffed_by": "external",
            "travel_delay": {"dist": "fixed", "value": 60},
            "phone_share": 0.0,
            **on_call,
        },
        simulation={"warm_up_days": 7, "run_days": 56, "drain_days": 7, "seed": 5},
    )


def test_a_case_handed_to_a_busy_rota_stops_its_patience_clock():
    """Mutant: a case sent from the station queue to a busy rota kept its 'waiting'
    state, so its patience ran on and it both left and was contacted on call."""
    run = simulate(_busy_rota())
    check_records(run)
    c = run.cases
    # The rule was exercised: cases sent at 17:00 to the rota, which was already out.
    sent = (c.channel == Channel.ON_CALL) & (c.referral % MINUTES_PER_DAY < 17 * MINUTES_PER_HOUR)
    waited = sent & (c.first_contact - c.referral > 90 + 60)
    assert waited.sum() > 10
    assert not np.any(c.left_station & (c.channel == Channel.ON_CALL))


# -- rest lies within the shift it delays -------------------------------------------------


def _staff_rota(**on_call):
    """Two office-hours workers who take the nights and weekends on call in turns, with
    11 hours of rest after a night call-out."""
    return scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.6},
                "interview": {"dist": "exponential", "mean": 40},
                "urgent_share": 0.6,
            }
        },
        staffing={
            "workers": [
                {
                    "name": "w",
                    "count": 2,
                    "roster": [{"days": "weekdays", "start": "08:30", "end": "17:00"}],
                }
            ]
        },
        on_call={
            "windows": [
                {"days": "weekdays", "start": "00:00", "end": "08:30"},
                {"days": "weekdays", "start": "17:00", "end": "24:00"},
                {"days": "weekend", "start": "00:00", "end": "24:00"},
            ],
            "staffed_by": "staff",
            "rest_hours": 11.0,
            "travel_delay": {"dist": "fixed", "value": 30},
            "phone_share": 0.0,
            **on_call,
        },
        simulation={"warm_up_days": 7, "run_days": 84, "drain_days": 7, "seed": 6},
    )


def test_rest_after_a_night_call_out_starts_with_the_shift_it_delays():
    """Mutant: the rest block logged from the call-out's end (00:17) instead of the
    shift's start (08:30)."""
    sc = _staff_rota()
    run = simulate(sc)
    check_records(run)
    w = run.workers
    rest = np.flatnonzero(w.activity == WorkerActivity.REST)
    assert len(rest) > 5
    shifts = np.flatnonzero(w.activity == WorkerActivity.SHIFT)
    callouts = np.flatnonzero(w.activity == WorkerActivity.CALLOUT)
    checked = 0
    for s in shifts:
        mine = rest[(w.worker[rest] == w.worker[s]) & (w.start[rest] >= w.start[s] - 1e-9)]
        mine = mine[w.end[mine] <= w.end[s] + 1e-9]
        if not len(mine):
            continue
        # The rest starts with the shift, or when a call-out that ran into it ends.
        ran_in = callouts[
            (w.worker[callouts] == w.worker[s])
            & (w.start[callouts] < w.start[s])
            & (w.end[callouts] > w.start[s])
        ]
        expected = max([w.start[s], *w.end[ran_in]])
        assert w.start[mine].min() == pytest.approx(expected)
        checked += 1
    assert checked > 5


@pytest.mark.parametrize(
    ("night_start", "night_end"), [("22:00", "06:00"), ("00:00", "06:00")], ids=str
)
def test_every_night_call_out_gives_its_responder_rest_in_the_next_shift(night_start, night_end):
    """Mutants: ``minute >= night_start`` made a call-out begun between 22:00 and
    midnight a day one, which gives no rest; ``start <= minute`` turned, a night within
    one day (00:00-06:00) had no call-out at night; a worker back from rest while a
    later night call-out had lengthened it joined its shift at once."""
    run = simulate(_staff_rota(night_start=night_start, night_end=night_end))
    low_night, high_night = (
        int(night_start[:2]) * MINUTES_PER_HOUR,
        int(night_end[:2]) * MINUTES_PER_HOUR,
    )
    w = run.workers
    rest = w.activity == WorkerActivity.REST
    shift = w.activity == WorkerActivity.SHIFT
    checked = 0
    for r in np.flatnonzero(w.activity == WorkerActivity.CALLOUT):
        minute = w.start[r] % MINUTES_PER_DAY
        night = (
            low_night <= minute < high_night
            if low_night <= high_night
            else minute >= low_night or minute < high_night
        )
        if not night:
            continue  # a day call-out: no rest
        rested_to = w.end[r] + 11 * MINUTES_PER_HOUR
        mine = shift & (w.worker == w.worker[r]) & (w.start > w.start[r])
        if not mine.any():
            continue
        s = np.flatnonzero(mine)[np.argmin(w.start[mine])]
        low, high = max(w.start[s], w.end[r]), min(rested_to, w.end[s])
        if high <= low:
            continue  # the rest is over before the next shift starts
        # Rested, or still out on a later call-out that ran into the shift.
        ours = (rest | (w.activity == WorkerActivity.CALLOUT)) & (w.worker == w.worker[r])
        covered = np.clip(np.minimum(w.end[ours], high) - np.maximum(w.start[ours], low), 0, None)
        assert covered.sum() == pytest.approx(high - low), (
            f"the night call-out at {w.start[r]:.0f} left {high - low - covered.sum():.0f} "
            "minutes of the next shift unrested"
        )
        checked += minute >= 22 * MINUTES_PER_HOUR or low_night <= high_night
    assert checked > 3  # call-outs begun before midnight were among them


def test_a_run_in_which_nobody_works_leaves_empty_worker_records():
    """A worker whose only day falls outside a short run: the worker table is empty, of
    the right columns (mutant: the empty table built with a wrong number of columns)."""
    sc = scenario(
        staffing={"workers": [{"name": "w", "roster": [{**OFFICE, "days": ["sat"]}]}]},
        simulation={"warm_up_days": 0, "run_days": 2, "drain_days": 0, "seed": 1},
    )
    run = simulate(sc)
    assert len(run.workers) == 0 and len(run.cases) > 0
    check_records(run)
    assert np.all(run.cases.channel == Channel.NONE)


# -- the on-call window's closing instant ----------------------------------------------


def test_a_case_waiting_for_the_rota_when_its_window_closes_goes_on_the_callback_list():
    """Fixed durations put a call-out's end exactly at the window's close, where ``>=``
    and ``>`` part.  The night worker leaves at 08:00 and sends its queue to the rota
    (08:00-09:00): the first call-out takes exactly 60 minutes; at 09:00 the cases still
    waiting are no longer the rota's and go on the callback list, which the day worker
    arriving at 09:00 works; none is called out at 09:00."""
    night = [0.0] * 24
    night[6] = night[7] = 1.0
    sc = scenario(
        populations={
            "victim": {
                "arrivals": {
                    "per_hour": 0.5,
                    "profile": {"weekday": night, "saturday": [0.0] * 24},
                },
                "interview": {"dist": "fixed", "value": 60},
                "urgent_share": 1.0,
            }
        },
        staffing={
            "workers": [
                {"name": "night", "roster": [{**OFFICE, "start": "00:00", "end": "08:00"}]},
                {"name": "day", "roster": [OFFICE]},
            ]
        },
        on_call={
            "windows": [{"days": "weekdays", "start": "08:00", "end": "09:00"}],
            "staffed_by": "external",
            "phone_share": 1.0,
            "phone_delay": {"dist": "fixed", "value": 0},
        },
        callbacks={"reach_probability": {"initial": 1.0, "floor": 1.0}},
        simulation={"warm_up_days": 0, "run_days": 28, "drain_days": 7, "seed": 4},
    )
    c = simulate(sc).cases
    minute = c.first_contact % MINUTES_PER_DAY
    on_call = c.channel == Channel.ON_CALL
    # The rule was exercised: call-outs began at 08:00, when the queue was sent...
    assert np.sum(on_call & np.isclose(minute, 8 * MINUTES_PER_HOUR)) > 10
    # ... and the cases behind them were called back from 09:00.
    assert np.sum((c.channel == Channel.CALLBACK) & np.isclose(minute, 9 * MINUTES_PER_HOUR)) > 10
    # No call-out starts at the window's close.
    assert not np.any(on_call & (minute >= 9 * MINUTES_PER_HOUR - 1e-9))


# -- the callback order ------------------------------------------------------------------


@pytest.mark.parametrize("stations", [1, 2], ids=["one station", "two stations"])
@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_the_callback_list_is_worked_in_its_order(order, stations):
    """Mutants: ``order <= "oldest_first"`` made newest_first work oldest first; a worker
    serving two stations took the first station's list before the other's best case."""
    names = ["a", "b"][:stations]
    roster = [
        {"days": ["mon", "wed", "fri"], "start": "09:00", "end": "17:00", "station": names[0]},
        {"days": ["tue", "thu"], "start": "09:00", "end": "17:00", "station": names[-1]},
    ]
    sc = scenario(
        stations=[{"name": n} for n in names],
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.8},
                "interview": {"dist": "fixed", "value": 30},
            }
        },
        staffing={"workers": [{"name": "w", "roster": roster}]},
        callbacks={
            "order": order,
            "reach_probability": {"initial": 1.0, "floor": 1.0},
            "retry_after_hours": 0,
        },
        simulation={"warm_up_days": 7, "run_days": 28, "drain_days": 7, "seed": 8},
    )
    c = simulate(sc).cases
    called = np.flatnonzero(c.channel == Channel.CALLBACK)
    assert len(called) > 50
    if stations == 2:
        assert len(np.unique(c.station[called])) == 2
    # The callbacks on the list when the worker arrives are called in the list's order,
    # over every station the worker serves (cases added later, at a station nobody is at
    # that day, may come between them).
    day = (c.first_contact[called] // MINUTES_PER_DAY).astype(int)
    checked = 0
    for d in np.unique(day):
        mine = called[(day == d) & (c.referral[called] < d * MINUTES_PER_DAY + 9 * 60)]
        mine = mine[np.argsort(c.first_contact[mine])]
        if len(mine) < 3:
            continue
        steps = np.diff(c.referral[mine])
        assert np.all(steps > 0) if order == "oldest_first" else np.all(steps < 0), (
            f"day {d}: referrals {c.referral[mine]} called back out of {order} order"
        )
        checked += 1
    assert checked > 5


# -- follow-ups of a person met on call ------------------------------------------------


@pytest.mark.parametrize("staffed_by", ["staff", "external"])
def test_whoever_answers_on_call_the_follow_ups_are_booked_with_a_worker_of_the_station(
    staffed_by,
):
    """Mutant: an outside responder with a number of its own (the second of two) taken for
    a worker, in whose diary the follow-ups were then booked."""
    windows = [
        {"days": "weekdays", "start": "17:00", "end": "24:00"},
        {"days": "weekend", "start": "00:00", "end": "24:00"},
    ]
    sc = scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.6},
                "interview": {"dist": "exponential", "mean": 40},
                "urgent_share": 0.8,
                "followups": {
                    "count": {"dist": "fixed", "value": 2},
                    "gap_days": {"dist": "fixed", "value": 7},
                    "duration": {"dist": "fixed", "value": 45},
                },
            }
        },
        staffing={"workers": [{"name": "w", "count": 2, "roster": [OFFICE]}]},
        on_call={
            "windows": windows,
            "staffed_by": staffed_by,
            "responders": 2 if staffed_by == "external" else 1,
            "travel_delay": {"dist": "fixed", "value": 30},
            "phone_share": 0.0,
        },
        simulation={"warm_up_days": 7, "run_days": 84, "drain_days": 28, "seed": 6},
    )
    run = simulate(sc)
    check_records(run)
    c, a = run.cases, run.appointments
    by_call = c.case_id[c.channel == Channel.ON_CALL]
    booked = np.isin(a.case_id, by_call) & ~np.isnan(a.booked_at)
    assert booked.sum() > 20
    assert set(a.worker[booked].tolist()) <= {0, 1}
    if staffed_by == "external":
        callouts = run.workers.activity == WorkerActivity.CALLOUT
        assert set(run.workers.worker[callouts].tolist()) == {2, 3}  # both outside responders


# -- the diary's horizon -------------------------------------------------------------------


def test_no_follow_up_is_booked_beyond_the_diary_s_horizon():
    """Mutant: the horizon's bound ``t <= limit`` loosened to ``t != limit``."""
    gap_days, horizon_days = 2, 5
    sc = scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 1.0},
                "interview": {"dist": "exponential", "mean": 30},
                "followups": {
                    "count": {"dist": "fixed", "value": 3},
                    "gap_days": {"dist": "fixed", "value": gap_days},
                    "duration": {"dist": "fixed", "value": 60},
                },
            }
        },
        staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
        diary={"bookable_share": 0.4, "horizon_days": horizon_days},
        simulation={"warm_up_days": 7, "run_days": 56, "drain_days": 14, "seed": 2},
    )
    a = simulate(sc).appointments
    first = ~np.isnan(a.due) & (a.rebookings == 0)
    assert (a.status == FollowupStatus.DIARY_FULL).sum() > 20  # the horizon binds
    lead = (a.due[first] - a.booked_at[first]) / MINUTES_PER_DAY
    assert lead.max() <= gap_days + horizon_days + 1e-9
    assert lead.max() > gap_days + horizon_days - 1  # booked up to the horizon's end


# -- a call-out's length ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["phone", "travel"])
def test_a_call_out_is_the_delay_the_interview_and_for_a_journey_the_way_back(mode):
    """Mutant: the way back given to calls by phone and not to journeys."""
    run = simulate(
        _busy_rota(
            phone_share=1.0 if mode == "phone" else 0.0,
            phone_delay={"dist": "fixed", "value": 10},
            travel_delay={"dist": "fixed", "value": 45},
        )
    )
    c, w = run.cases, run.workers
    callouts = np.flatnonzero(w.activity == WorkerActivity.CALLOUT)
    done = callouts[~np.isnan(c.service_end[w.case_id[callouts]])]
    assert len(done) > 20
    case = w.case_id[done]
    delay = 10 if mode == "phone" else 45
    np.testing.assert_allclose(c.first_contact[case] - w.start[done], delay)
    back = w.end[done] - c.service_end[case]
    np.testing.assert_allclose(back, 0 if mode == "phone" else delay, atol=1e-9)


# -- callbacks retried at once ------------------------------------------------------------


def test_with_immediate_retries_an_unreached_case_is_tried_until_its_attempts_run_out():
    """Mutant: the retry due at once never put back on the list."""
    sc = scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.5},
                "interview": {"dist": "exponential", "mean": 20},
            }
        },
        staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
        callbacks={
            "retry_after_hours": 0,
            "max_attempts": 3,
            "reach_probability": {"initial": 0.3, "floor": 0.3},
        },
    )
    c = simulate(sc).cases
    failed = c.state == EndState.CALLBACK_FAILED
    assert failed.sum() > 20
    assert np.all(c.callback_attempts[failed] == 3)
    by_callback = c.channel == Channel.CALLBACK
    assert set(np.unique(c.callback_attempts[by_callback]).tolist()) == {1, 2, 3}


# -- the diary books the first free time -------------------------------------------------


def test_a_follow_up_is_booked_at_the_first_free_time_of_the_diary_after_its_gap():
    """Mutant: the search skipping a slot of case time when the one before was full.

    With one worker in office hours, no absence, no no-show and appointments that keep
    their first booking, the diary at each booking is the appointments booked before it:
    the one booked must start at the first time from its earliest date where it fits in
    a shift and overlaps none of them."""
    gap, duration = 2 * MINUTES_PER_DAY, 90.0
    sc = scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.25},
                "interview": {"dist": "exponential", "mean": 30},
                "followups": {
                    "count": {"dist": "fixed", "value": 3},
                    "gap_days": {"dist": "fixed", "value": 2},
                    "duration": {"dist": "fixed", "value": duration},
                },
            }
        },
        staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
        simulation={"warm_up_days": 7, "run_days": 56, "drain_days": 28, "seed": 9},
    )
    run = simulate(sc)
    a, w = run.appointments, run.workers
    shift = w.activity == WorkerActivity.SHIFT
    slots = np.column_stack((w.start[shift], w.end[shift]))
    booked = np.flatnonzero(~np.isnan(a.due))
    assert len(booked) > 100 and np.all(a.rebookings[booked] == 0)
    order = booked[np.lexsort((a.number[booked], a.case_id[booked], a.booked_at[booked]))]
    diary: list[tuple[float, float]] = []
    moved = 0
    for r in order:
        earliest = a.booked_at[r] + gap
        candidates = sorted(
            {earliest, *slots[:, 0][slots[:, 0] > earliest], *(e for _, e in diary if e > earliest)}
        )
        first = next(
            t
            for t in candidates
            if np.any((slots[:, 0] <= t) & (t + duration <= slots[:, 1]))
            and not any(s < t + duration and t < e for s, e in diary)
        )
        assert a.due[r] == pytest.approx(first), f"follow-up of case {a.case_id[r]}"
        moved += first > earliest + 1e-9
        diary.append((a.due[r], a.due[r] + duration))
    assert moved > 50  # the diary was full at the earliest date often enough to matter


# -- survivors of the sample of seed 2028 (docs/testing.md) --------------------------------


def test_only_persons_referred_onward_get_an_onward_referral_time():
    """Mutants: the onward referral dated for every person met, or for none."""
    sc = _shipped("france_office_hours")
    run = simulate(sc, 0)
    demand = draw_demand(sc, 0)
    c = run.cases
    ended = (c.state == EndState.CONTACTED) & ~np.isnan(c.service_end)
    expected = ended & demand.onward
    assert expected.sum() > 20 and (ended & ~demand.onward).sum() > 20
    np.testing.assert_array_equal(~np.isnan(c.onward_referral), expected)
    np.testing.assert_allclose(
        c.onward_referral[expected], c.service_end[expected] + demand.onward_delay[expected]
    )


def test_a_worker_back_from_rest_takes_the_callback_list_at_once():
    """Mutant: a worker joining its shift after a compensatory rest waits for the next
    referral before taking the callbacks the night left."""
    sc = _staff_rota()
    alone = {"workers": [{**sc.staffing.workers[0].model_dump(), "count": 1}]}
    document = {**sc.model_dump(mode="json"), "staffing": alone}
    run = simulate(scenario_from_dict(document))
    w = run.workers
    work = np.isin(
        w.activity,
        (WorkerActivity.INTERVIEW, WorkerActivity.CALLBACK_ATTEMPT, WorkerActivity.FOLLOWUP),
    )
    shifts = np.flatnonzero(w.activity == WorkerActivity.SHIFT)
    checked = 0
    for r in np.flatnonzero(w.activity == WorkerActivity.REST):
        within = shifts[(w.start[shifts] <= w.start[r]) & (w.end[shifts] > w.end[r] + 60)]
        if not len(within):
            continue  # rested to the end of the shift
        later = work & (w.start >= w.end[r] - 1e-9)
        assert later.any()
        # The night's callbacks are waiting: the first task starts when the rest ends.
        assert w.start[later].min() == pytest.approx(w.end[r]), f"rest ending {w.end[r]:.0f}"
        checked += 1
    assert checked > 5


def _diary_filled(duration: float) -> Any:
    """One worker 09:00-17:00, every follow-up earliest at night (half a day after an
    interview in office hours), a diary the appointments may fill whole."""
    return scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": 1.0},
                "interview": {"dist": "exponential", "mean": 20},
                "followups": {
                    "count": {"dist": "fixed", "value": 2},
                    "gap_days": {"dist": "fixed", "value": 0.5},
                    "duration": {"dist": "fixed", "value": duration},
                },
            }
        },
        staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
        diary={"bookable_share": 1.0, "horizon_days": 14},
        simulation={"warm_up_days": 7, "run_days": 28, "drain_days": 14, "seed": 3},
    )


def test_an_appointment_may_end_exactly_when_the_case_time_ends():
    """Mutant: an appointment refused the slot that ends with the shift's case time."""
    a = simulate(_diary_filled(60.0)).appointments
    due = a.due[~np.isnan(a.due)]
    assert len(due) > 100
    ends = (due + 60.0) % MINUTES_PER_DAY
    assert np.any(np.isclose(ends, 17 * MINUTES_PER_HOUR)), "no appointment ends at 17:00"
    assert np.all(ends <= 17 * MINUTES_PER_HOUR + 1e-9)


def test_the_no_show_of_the_k_th_follow_up_is_its_own_draw():
    """Mutant: the k-th follow-up's no-show read from the (k+1)-th draw."""
    sc = _diary_filled(30.0)
    sc = sc.model_copy(
        update={
            "populations": {
                "victim": sc.populations["victim"].model_copy(
                    update={
                        "followups": sc.populations["victim"].followups.model_copy(
                            update={"no_show": 0.5}
                        )
                    }
                )
            }
        }
    )
    demand = draw_demand(sc, 0)
    draws = np.empty_like(demand.followup_no_show)
    draws[:, 0], draws[:, 1] = 0.9, 0.1  # the first comes, the second does not
    demand = dataclasses.replace(demand, followup_no_show=draws)
    a = StationModel(sc, demand, build_plan(sc, 0)).run().appointments
    settled = np.isin(a.status, (FollowupStatus.HELD, FollowupStatus.NO_SHOW))
    first, second = settled & (a.number == 1), settled & (a.number == 2)
    assert first.sum() > 50 and second.sum() > 50
    assert np.all(a.status[first] == FollowupStatus.HELD)
    assert np.all(a.status[second] == FollowupStatus.NO_SHOW)


# -- boundaries that random times never hit, pinned by a case placed on them --------------


def _one_case(sc, *arrivals: float) -> Any:
    """The run of ``sc`` with one case at each of ``arrivals`` (minutes, in order), each
    referred at once whoever is reachable."""
    demand = draw_demand(sc, 0)
    n = len(arrivals)
    assert len(demand) >= n
    one = {name: getattr(demand, name)[:n].copy() for name in demand.__dataclass_fields__}
    one.update(arrival=np.array(arrivals), referral_delay=np.zeros(n))
    one.update(referral_uniform=np.zeros(n), patience=np.full(n, np.inf))
    demand = dataclasses.replace(demand, **one)
    return StationModel(sc, demand, build_plan(sc, 0)).run()


def _lone_case_scenario(**parts: Any) -> Any:
    base = {
        "populations": {
            "victim": {
                "arrivals": {"per_hour": 0.1},
                "interview": {"dist": "fixed", "value": 60},
                "urgent_share": 1.0,
            }
        },
        "staffing": {"workers": [{"name": "w", "roster": [OFFICE]}]},
        "simulation": {"warm_up_days": 0, "run_days": 14, "drain_days": 7, "seed": 2},
    }
    return scenario(**{**base, **parts})


@pytest.mark.parametrize("age_days", [2.0, 2.0 + 1 / MINUTES_PER_DAY])
def test_a_callback_exactly_as_old_as_the_expiry_is_still_tried(age_days):
    """Mutant: ``referral >= oldest`` turned ``>``.  Referred on Saturday 09:00 with
    nobody there, the case is two days old when the worker arrives on Monday 09:00:
    tried at exactly the expiry age, expired a minute after it."""
    sc = _lone_case_scenario(callbacks={"expire_after_days": 2.0})
    monday = 7 * MINUTES_PER_DAY + 9 * MINUTES_PER_HOUR
    run = _one_case(sc, monday - age_days * MINUTES_PER_DAY)
    check_records(run)
    state = run.cases.state[0]
    assert state == (EndState.CONTACTED if age_days == 2.0 else EndState.CALLBACK_EXPIRED)


def _night_rota(**on_call: Any) -> Any:
    return _lone_case_scenario(
        staffing={"workers": [{"name": "w", "roster": [{**OFFICE, "start": "08:30"}]}]},
        on_call={
            "windows": [
                {"days": "weekdays", "start": "00:00", "end": "08:30"},
                {"days": "weekdays", "start": "17:00", "end": "24:00"},
            ],
            "staffed_by": "staff",
            "rest_hours": 11.0,
            "phone_share": 0.0,
            "travel_delay": {"dist": "fixed", "value": 30},
            **on_call,
        },
    )


@pytest.mark.parametrize(("start", "rested"), [("05:59", True), ("06:00", False)])
def test_a_call_out_begun_at_the_night_s_end_is_a_day_call_out(start, rested):
    """Mutant: the night window 22:00-06:00 closed at ``<=``: a call-out begun at 06:00
    exactly earned rest."""
    hours, minutes = map(int, start.split(":"))
    tuesday = MINUTES_PER_DAY + hours * MINUTES_PER_HOUR + minutes
    run = _one_case(_night_rota(), tuesday)
    check_records(run)
    assert run.cases.channel[0] == Channel.ON_CALL
    assert (run.workers.activity == WorkerActivity.REST).any() == rested


def test_a_rest_ending_exactly_with_the_case_time_keeps_the_worker_away():
    """Mutant: ``back < case_end`` turned ``<=``: a worker whose rest ends just as its
    case time ends joined the shift then, and stayed on site all night.  A call-out at
    04:00 (30 min each way, a 60-min interview) ends at 06:00; 11 h of rest end at
    17:00, with the shift; a case at 20:00 is then for the rota, not seen on site."""
    tuesday = MINUTES_PER_DAY
    run = _one_case(_night_rota(), tuesday + 4 * MINUTES_PER_HOUR, tuesday + 20 * MINUTES_PER_HOUR)
    check_records(run)
    w = run.workers
    rest = np.flatnonzero(w.activity == WorkerActivity.REST)
    assert len(rest) == 1 and w.end[rest[0]] == tuesday + 17 * MINUTES_PER_HOUR
    assert run.cases.channel.tolist() == [Channel.ON_CALL, Channel.ON_CALL]
    # Nor is a block of duties of no length logged when the rest ends with the shift
    # (mutant: ``back < end`` turned ``<=``).
    assert not (w.activity == WorkerActivity.DUTIES).any()


def _records_equal(a: Any, b: Any) -> bool:
    for table in ("cases", "workers", "appointments"):
        left, right = getattr(a, table), getattr(b, table)
        for field in dataclasses.fields(left):
            x, y = getattr(left, field.name), getattr(right, field.name)
            if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
    return True


@pytest.mark.parametrize("waiting", [False, True])
def test_a_run_without_follow_ups_ends_its_interviews_as_the_general_path_does(waiting):
    """The short path of a run nobody wants a follow-up in (``_on_first_contact_end``)
    leaves the records the general interview end leaves: every column of the case,
    worker and appointment records, on a quiet post and on an overloaded one (a queue,
    people leaving it, overtime past the shift's end)."""
    per_hour = 3.0 if waiting else 0.6
    config = {
        "name": "first_contact_only",
        "simulation": {"warm_up_days": 0, "run_days": 28, "drain_days": 2, "seed": 5},
        "populations": {
            "victim": {
                "arrivals": {"per_hour": per_hour},
                "interview": {"dist": "exponential", "mean": 50},
                "patience": {"dist": "exponential", "mean": 90},
            }
        },
        "staffing": {
            "workers": [
                {
                    "name": "w",
                    "count": 2,
                    "roster": [OFFICE],
                }
            ]
        },
    }
    one = scenario_from_dict(config)
    demand, plan = draw_demand(one, 0), build_plan(one, 0)
    short = StationModel(one, demand, plan, 0)
    assert short._interview_end_handlers == [short._on_first_contact_end]
    general = StationModel(one, demand, plan, 0)
    general._interview_end_handlers[0] = general._on_interview_end
    # The general path reads each case's onward work, which the short path never builds.
    general.onward_work = np.where(demand.onward, demand.onward_work, 0.0).tolist()
    a, b = short.run(), general.run()
    if waiting:  # the queue's paths were taken
        assert (a.workers.activity == WorkerActivity.OVERTIME).any()
        assert a.cases.left_station.any() and (a.cases.first_contact > a.cases.referral).any()
    assert _records_equal(a, b)


def test_worker_records_are_ordered_as_a_lexsort_by_start_worker_and_activity():
    """The records' order (one sort by start, ties sorted again) is ``np.lexsort``'s,
    starts shared by many rows included."""
    from sim.model.recording import _by_start_worker_activity

    rng = np.random.default_rng(3)
    for k in range(200):
        n = int(rng.integers(0, 50))
        rows = np.zeros((n, 6))
        rows[:, 0] = rng.integers(0, 3, n)
        rows[:, 1] = rng.integers(0, 4, n)
        rows[:, 3] = rng.integers(0, 6, n) if k % 2 else rng.random(n)
        expected = np.lexsort((rows[:, 1], rows[:, 0], rows[:, 3]))
        assert np.array_equal(_by_start_worker_activity(rows), expected)


_CASE_WORK = (
    WorkerActivity.INTERVIEW,
    WorkerActivity.CALLBACK_ATTEMPT,
    WorkerActivity.FOLLOWUP,
    WorkerActivity.ONWARD_WORK,
    WorkerActivity.LOG_REVIEW,
    WorkerActivity.PROTECTED_DUTIES,
)


def test_a_follow_up_held_after_its_due_time_waited_for_a_busy_worker():
    """A follow-up starts when it comes due, or later only because its worker is busy
    then (the person waits for the task in hand)."""
    run = simulate(_shipped("belgium_24_7", {"simulation.run_days": 120}), 0)
    a, w = run.appointments, run.workers
    held = np.flatnonzero((a.status == FollowupStatus.HELD) & (a.start > a.due + 1e-9))
    work = np.isin(w.activity, _CASE_WORK)
    idle = [
        k
        for k in held.tolist()
        if not (work & (w.worker == a.worker[k]) & (w.start <= a.due[k]) & (w.end > a.due[k])).any()
    ]
    assert not idle, f"{len(idle)} follow-ups held late by a worker idle at their due time"
