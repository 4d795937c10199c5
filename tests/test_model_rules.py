"""Each modelling rule stated in docs/model.md, checked on the model's own code path."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import always_on_site, scenario

from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR, covered
from sim.model.records import Channel, EndState, WorkerActivity
from sim.model.roster import build_plan
from sim.model.station import simulate

OFFICE = {
    "workers": [{"name": "w", "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}]
}
VICTIMS = {
    "victim": {
        "arrivals": {"per_hour": 1.0},
        "interview": {"dist": "exponential", "mean": 30},
        "urgent_share": 0.3,
    }
}


def _on_site_intervals(sc, replication=0):
    plan = build_plan(sc, replication)
    return plan, plan.station_coverage


def test_an_interview_running_at_shift_end_is_finished_and_overtime_recorded():
    sc = scenario(
        staffing=OFFICE,
        populations={
            "victim": {"arrivals": {"per_hour": 2.0}, "interview": {"dist": "fixed", "value": 90}}
        },
    )
    run = simulate(sc)
    w = run.workers
    interviews = w.activity == WorkerActivity.INTERVIEW
    overtime = w.activity == WorkerActivity.OVERTIME
    assert overtime.any()
    # Every overtime block belongs to an interview that started before its shift ended
    # and ran to completion: 90 minutes, with the part past 17:00 as overtime.
    for case, end in zip(w.case_id[overtime], w.end[overtime], strict=True):
        row = interviews & (w.case_id == case)
        start = w.start[row][0]
        assert w.end[row][0] == pytest.approx(start + 90)
        assert end == pytest.approx(start + 90)
        assert (start % MINUTES_PER_DAY) < 17 * MINUTES_PER_HOUR
    shift_end = (w.start[overtime] // MINUTES_PER_DAY) * MINUTES_PER_DAY + 17 * MINUTES_PER_HOUR
    np.testing.assert_allclose(w.start[overtime], shift_end)


def test_work_running_into_the_next_shift_is_overtime_only_until_that_shift_starts():
    # Interviews of 90 minutes started up to 12:30 run into the 13:30 shift: the hour
    # between the shifts is overtime, the time after 13:30 is rostered and is not.
    sc = scenario(
        staffing={
            "workers": [
                {
                    "name": "w",
                    "roster": [
                        {"days": "weekdays", "start": "09:00", "end": "12:30"},
                        {"days": "weekdays", "start": "13:30", "end": "17:00"},
                    ],
                }
            ]
        },
        populations={
            "victim": {"arrivals": {"per_hour": 2.0}, "interview": {"dist": "fixed", "value": 90}}
        },
    )
    w = simulate(sc).workers
    overtime = w.activity == WorkerActivity.OVERTIME
    interviews = w.activity == WorkerActivity.INTERVIEW
    lunch = (w.start[overtime] % MINUTES_PER_DAY) < 13.5 * MINUTES_PER_HOUR
    assert lunch.sum() > 10
    np.testing.assert_allclose(w.start[overtime][lunch] % MINUTES_PER_DAY, 12.5 * MINUTES_PER_HOUR)
    # Each ends where its interview ends or at 13:30, whichever is first; some
    # interviews ran on, to their 90 minutes, past 13:30.
    ran_into_shift = 0
    for case, end in zip(w.case_id[overtime][lunch], w.end[overtime][lunch], strict=True):
        row = interviews & (w.case_id == case)
        assert w.end[row][0] - w.start[row][0] == pytest.approx(90)
        day = (end // MINUTES_PER_DAY) * MINUTES_PER_DAY
        assert end == pytest.approx(min(w.end[row][0], day + 13.5 * MINUTES_PER_HOUR))
        ran_into_shift += w.end[row][0] > day + 13.5 * MINUTES_PER_HOUR
    assert ran_into_shift > 5
    # No overtime lies within a shift.
    shifts = w.activity == WorkerActivity.SHIFT
    for start, end in zip(w.start[overtime], w.end[overtime], strict=True):
        assert not np.any((w.start[shifts] < end - 1e-9) & (w.end[shifts] > start + 1e-9))


@pytest.mark.parametrize(
    ("stations", "roster"),
    [
        # The next shift starts the minute the last ends, at another station.
        (
            [{"name": "a"}, {"name": "b"}],
            [
                {"days": "weekdays", "start": "09:00", "end": "12:30", "station": "a"},
                {"days": "weekdays", "start": "12:30", "end": "17:00", "station": "b"},
            ],
        ),
        # Travel at both ends of each shift: work runs into the next journey out.
        (
            [{"name": "a", "travel_minutes": 30}],
            [
                {"days": "weekdays", "start": "09:00", "end": "12:30"},
                {"days": "weekdays", "start": "13:30", "end": "17:00"},
            ],
        ),
    ],
    ids=["touching_at_two_stations", "with_travel"],
)
def test_overtime_ends_where_the_next_time_on_site_starts(stations, roster):
    from invariants import _check_overtime

    sc = scenario(
        stations=stations,
        staffing={"workers": [{"name": "w", "roster": roster}]},
        populations={
            "victim": {"arrivals": {"per_hour": 2.0}, "interview": {"dist": "fixed", "value": 150}}
        },
    )
    w = simulate(sc).workers
    midday = (w.activity == WorkerActivity.OVERTIME) & (
        (w.start % MINUTES_PER_DAY) < 16 * MINUTES_PER_HOUR
    )
    if roster[1]["start"] == "12:30":
        assert not midday.any()  # the afternoon is rostered: no overtime at midday
    else:
        assert midday.any()
        # Back on site at 14:00 (13:30 plus 30 minutes out): no overtime after it.
        assert np.all(w.end[midday] % MINUTES_PER_DAY <= 14 * MINUTES_PER_HOUR + 1e-6)
    _check_overtime(w)


def test_first_contacts_happen_only_while_a_worker_is_on_site_or_on_call():
    sc = scenario(
        staffing=OFFICE,
        populations=VICTIMS,
        on_call={
            "windows": [{"days": "weekend", "start": "10:00", "end": "18:00"}],
            "phone_delay": {"dist": "exponential", "mean": 20},
        },
        simulation={"warm_up_days": 0, "run_days": 56, "drain_days": 7, "seed": 3},
    )
    run = simulate(sc)
    cases = run.cases
    plan, coverage = _on_site_intervals(sc)
    on_site = np.isin(cases.channel, (Channel.ON_SITE, Channel.CALLBACK))
    assert on_site.sum() > 100
    assert covered(coverage[0], cases.first_contact[on_site]).all()

    # On call: each call-out starts inside an on-call window, or when the responder
    # finishes the previous call-out (a queued call-out is still answered).
    w = run.workers
    callouts = w.activity == WorkerActivity.CALLOUT
    assert callouts.sum() > 10
    starts, ends = w.start[callouts], w.end[callouts]
    in_window = covered(plan.on_call_windows, starts)
    follows = np.isin(starts, ends)
    assert np.all(in_window | follows)
    # and nobody non-urgent was passed to on call (eligible: urgent is the default)
    on_call = cases.channel == Channel.ON_CALL
    assert cases.urgent[on_call].all()


def test_call_outs_are_capped_per_window():
    sc = scenario(
        staffing=OFFICE,
        populations={
            "victim": {
                "arrivals": {"per_hour": 3.0},
                "interview": {"dist": "exponential", "mean": 20},
            }
        },
        on_call={
            "windows": [{"days": "all", "start": "20:00", "end": "24:00"}],
            "eligible": "all",
            "max_callouts_per_window": 2,
        },
    )
    run = simulate(sc)
    w = run.workers
    starts = w.start[w.activity == WorkerActivity.CALLOUT]
    window_of = np.searchsorted(run.on_call_windows[:, 0], starts, side="right") - 1
    assert np.bincount(window_of).max() == 2


def test_absent_days_have_no_shift_and_nobody_replaces_the_worker():
    sc = scenario(
        staffing={
            "workers": [
                {
                    "name": "w",
                    "roster": [{"days": "all", "start": "08:00", "end": "20:00"}],
                    "absence": {"sickness_rate": 0.3},
                }
            ]
        },
        simulation={"warm_up_days": 0, "run_days": 200, "drain_days": 0, "seed": 5},
    )
    plan = build_plan(sc, 0)
    absent = set(plan.sick_days[0].tolist())
    worked = {int(s.start // MINUTES_PER_DAY) for s in plan.shifts}
    assert absent and not (absent & worked)
    assert absent | worked == set(range(200))
    # Independent whole days at the configured rate (binomial 99.9 % band).
    assert abs(len(absent) - 60) < 3.3 * np.sqrt(200 * 0.3 * 0.7)
    run = simulate(sc)
    contact_days = set(
        (run.cases.first_contact[run.cases.channel > 0] // MINUTES_PER_DAY).astype(int)
    )
    assert not (contact_days & absent)


def test_a_shared_worker_is_on_site_only_at_its_rostered_station_after_travel():
    sc = scenario(
        stations=[
            {"name": "a", "travel_minutes": 30},
            {"name": "b", "travel_minutes": 60, "demand_share": 2},
        ],
        staffing={
            "workers": [
                {
                    "name": "shared",
                    "roster": [
                        {"days": ["mon", "wed"], "start": "09:00", "end": "17:00", "station": "a"},
                        {"days": ["tue", "thu"], "start": "09:00", "end": "17:00", "station": "b"},
                    ],
                }
            ]
        },
    )
    plan = build_plan(sc, 0)
    for shift in plan.shifts:
        travel = 30 if shift.station == 0 else 60
        assert shift.start == shift.paid_start + travel
        assert shift.end == shift.paid_end - travel
        day = int(shift.paid_start // MINUTES_PER_DAY) % 7
        assert day in ((0, 2) if shift.station == 0 else (1, 3))
    run = simulate(sc)
    cases = run.cases
    on_site = cases.channel == Channel.ON_SITE
    for s in (0, 1):
        here = on_site & (cases.station == s)
        assert here.any()
        assert covered(plan.station_coverage[s], cases.first_contact[here]).all()
    # About twice as many cases at b as at a (demand shares 1:2).
    counts = np.bincount(cases.station)
    assert 1.6 < counts[1] / counts[0] < 2.4
    w = run.workers
    travel = w.activity == WorkerActivity.TRAVEL
    assert np.isclose((w.end - w.start)[travel], np.where(w.station[travel] == 0, 30, 60)).all()


def test_people_who_leave_are_lost_or_called_back_as_configured():
    base = dict(
        staffing=always_on_site(),
        populations={
            "victim": {
                "arrivals": {"per_hour": 3.0},
                "interview": {"dist": "exponential", "mean": 30},
                "patience": {"dist": "exponential", "mean": 10},
            }
        },
    )
    lost = simulate(scenario(callbacks={"left_before_seen": "lost"}, **base)).cases
    assert (lost.state == EndState.LEFT).sum() > 100
    np.testing.assert_array_equal(lost.state == EndState.LEFT, lost.left_station)
    kept = simulate(scenario(callbacks={"left_before_seen": "callback"}, **base)).cases
    assert (kept.state == EndState.LEFT).sum() == 0
    called = kept.left_station & (kept.channel == Channel.CALLBACK)
    assert called.sum() > 50
    # A person who left and was reached later: first contact after their patience ran out.
    assert np.all(kept.first_contact[called] > kept.referral[called])


def test_callback_attempts_follow_the_retry_and_reach_rules():
    never = {"initial": 0.0, "floor": 0.0}
    sc = scenario(
        staffing=OFFICE,
        populations=VICTIMS,
        callbacks={
            "max_attempts": 3,
            "retry_after_hours": 6,
            "reach_probability": never,
            "attempt_minutes": 5,
        },
    )
    run = simulate(sc)
    cases, w = run.cases, run.workers
    on_list = cases.callback_attempts > 0
    assert on_list.sum() > 100
    # Never reachable: a case ends failed after exactly three attempts, unless the run
    # ended before its third attempt came.
    waiting = cases.state == EndState.IN_SYSTEM
    assert np.all(cases.state[on_list & ~waiting] == EndState.CALLBACK_FAILED)
    assert np.all(cases.callback_attempts[on_list & ~waiting] == 3)
    assert np.all(cases.callback_attempts[on_list & waiting] < 3)
    on_list &= ~waiting
    attempts = w.activity == WorkerActivity.CALLBACK_ATTEMPT
    for case in cases.case_id[on_list][:50]:
        starts = np.sort(w.start[attempts & (w.case_id == case)])
        assert len(starts) == 3
        assert np.all(np.diff(starts) >= 6 * MINUTES_PER_HOUR - 1e-9)

    always = scenario(
        staffing=OFFICE,
        populations=VICTIMS,
        callbacks={"reach_probability": {"initial": 1.0, "floor": 1.0}},
    )
    reached = simulate(always).cases
    cb = reached.channel == Channel.CALLBACK
    assert cb.sum() > 100 and np.all(reached.callback_attempts[cb] == 1)


def test_the_chance_of_reaching_a_person_falls_with_the_delay():
    initial, half_life, floor = 0.9, 24.0, 0.05
    sc = scenario(
        staffing={
            "workers": [
                {
                    "name": "w",
                    "roster": [{"days": ["mon", "thu"], "start": "09:00", "end": "17:00"}],
                }
            ]
        },
        populations={
            "victim": {"arrivals": {"per_hour": 0.3}, "interview": {"dist": "fixed", "value": 20}}
        },
        callbacks={
            "max_attempts": 1,
            "reach_probability": {"initial": initial, "half_life_hours": half_life, "floor": floor},
        },
        simulation={"warm_up_days": 7, "run_days": 300, "drain_days": 7, "seed": 2},
    )
    run = simulate(sc)
    cases, w = run.cases, run.workers
    tried = cases.callback_attempts == 1
    reached = tried & (cases.channel == Channel.CALLBACK)
    # When each attempt happened: the first contact if it reached the person, else the
    # start of the failed attempt in the worker records.
    failed_at = dict(
        zip(
            w.case_id[w.activity == WorkerActivity.CALLBACK_ATTEMPT],
            w.start[w.activity == WorkerActivity.CALLBACK_ATTEMPT],
            strict=True,
        )
    )
    attempt_time = np.where(
        reached, cases.first_contact, [failed_at.get(c, np.nan) for c in cases.case_id]
    )
    delay_h = (attempt_time - cases.referral)[tried] / MINUTES_PER_HOUR
    success = reached[tried]
    assert not np.isnan(delay_h).any()
    expected = floor + (initial - floor) * 0.5 ** (delay_h / half_life)
    # Binned by delay, the share reached matches the curve within binomial 99.9 % bands.
    edges = np.quantile(delay_h, [0, 0.25, 0.5, 0.75, 1.0])
    bins = np.clip(np.searchsorted(edges, delay_h, side="right") - 1, 0, 3)
    shares = []
    for b in range(4):
        in_bin = bins == b
        p = expected[in_bin].mean()
        band = 3.3 * np.sqrt(expected[in_bin] @ (1 - expected[in_bin])) / in_bin.sum()
        shares.append(success[in_bin].mean())
        assert abs(shares[-1] - p) < band
    assert shares[0] > shares[-1] + 0.2


def test_urgent_people_are_seen_before_others_who_waited_longer():
    sc = scenario(
        staffing=always_on_site(),
        populations={
            "victim": {
                "arrivals": {"per_hour": 1.8},
                "interview": {"dist": "exponential", "mean": 30},
                "urgent_share": 0.3,
            }
        },
        simulation={"warm_up_days": 7, "run_days": 120, "drain_days": 7, "seed": 4},
    )
    cases = simulate(sc).cases
    wait = cases.first_contact - cases.referral
    assert wait[cases.urgent].mean() < 0.5 * wait[~cases.urgent].mean()


def test_not_referred_cases_are_split_by_whether_a_worker_was_there():
    sc = scenario(
        staffing=OFFICE,
        populations={
            "victim": {
                "arrivals": {"per_hour": 1.0},
                "interview": {"dist": "exponential", "mean": 30},
                "referral": {"probability": 0.8, "probability_when_no_worker": 0.2},
            }
        },
        simulation={"warm_up_days": 0, "run_days": 140, "drain_days": 7, "seed": 8},
    )
    run = simulate(sc)
    cases = run.cases
    plan = build_plan(sc, 0)
    present = covered(plan.station_coverage[0], cases.arrival)
    no_worker = cases.state == EndState.NOT_REFERRED_NO_WORKER
    assert not no_worker[present].any()
    referred = ~np.isnan(cases.referral)
    # Referral shares within binomial 99.9 % bands of 0.8 and 0.2.
    for mask, p in ((present, 0.8), (~present, 0.2)):
        n = mask.sum()
        assert abs(referred[mask].mean() - p) < 3.3 * np.sqrt(p * (1 - p) / n)
    # Absent-hour cases not referred: 0.8 - 0.2 of them are attributed to the absence.
    share = no_worker[~present].mean()
    assert abs(share - 0.6) < 3.3 * np.sqrt(0.6 * 0.4 / (~present).sum())


def test_expired_callbacks_are_dropped_unreached():
    sc = scenario(
        staffing={
            "workers": [
                {"name": "w", "roster": [{"days": ["mon"], "start": "09:00", "end": "10:00"}]}
            ]
        },
        populations=VICTIMS,
        callbacks={"expire_after_days": 2},
    )
    cases = simulate(sc).cases
    expired = cases.state == EndState.CALLBACK_EXPIRED
    assert expired.sum() > 100
    contacted = ~np.isnan(cases.first_contact)
    wait = (cases.first_contact - cases.referral)[contacted & (cases.channel == Channel.CALLBACK)]
    assert wait.max() <= 2 * MINUTES_PER_DAY


def test_who_an_officer_sees_as_reachable_follows_the_referral_rule():
    populations = {
        "victim": {
            "arrivals": {"per_hour": 1.0},
            "interview": {"dist": "exponential", "mean": 30},
            "urgent_share": 0.3,
            "referral": {"probability": 1.0, "probability_when_no_worker": 0.0},
        }
    }
    night = {"windows": [{"days": "all", "start": "00:00", "end": "06:00"}]}
    for rule in ("can_take_now", "on_duty"):
        sc = scenario(staffing=OFFICE, populations=populations, on_call=night, referral_rule=rule)
        cases = simulate(sc).cases
        hour = (cases.arrival % MINUTES_PER_DAY) // MINUTES_PER_HOUR
        day = (cases.arrival // MINUTES_PER_DAY) % 7
        # Case time ends before the duties of the shift's end; none are set here.
        office = (day < 5) & (hour >= 9) & (hour < 17)
        at_night = hour < 6
        # can_take_now: the rota takes urgent cases only, so only they count as reachable
        # at night; on_duty: any open window counts, whatever the case.
        night_reachable = at_night & (cases.urgent if rule == "can_take_now" else True)
        reachable = office | night_reachable
        referred = ~np.isnan(cases.referral)
        np.testing.assert_array_equal(referred, reachable, err_msg=rule)
        no_worker = cases.state == EndState.NOT_REFERRED_NO_WORKER
        np.testing.assert_array_equal(no_worker, ~reachable, err_msg=rule)
        assert (at_night & ~cases.urgent & referred).any() == (rule == "on_duty")
