"""The caseload rules stated in docs/model.md: follow-up appointments in a worker's diary
and their conflicts, other duties, onward-referral work, the on-call rota taken by the
staff with compensatory rest, and absences drawn per post."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CONFIGS, scenario

from sim.config.errors import ConfigError
from sim.config.schema import load_scenario
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR, MINUTES_PER_WEEK, covered
from sim.model.records import Channel, EndState, FollowupStatus, WorkerActivity
from sim.model.roster import build_plan
from sim.model.station import simulate

OFFICE = {"days": "weekdays", "start": "09:00", "end": "17:00"}


def _followups(count=3, gap=7, duration=45, no_show=0.0):
    return {
        "count": {"dist": "fixed", "value": count},
        "gap_days": {"dist": "fixed", "value": gap},
        "duration": {"dist": "fixed", "value": duration},
        "no_show": no_show,
    }


def _caseload(per_hour=0.3, workers=None, diary=None, **population):
    return scenario(
        populations={
            "victim": {
                "arrivals": {"per_hour": per_hour},
                "interview": {"dist": "exponential", "mean": 45},
                "followups": _followups(),
                **population,
            }
        },
        staffing={"workers": workers or [{"name": "w", "roster": [OFFICE]}]},
        diary=diary or {},
        simulation={"warm_up_days": 14, "run_days": 112, "drain_days": 14, "seed": 3},
    )


def _busy_intervals(run, worker):
    w = run.workers
    work = np.isin(
        w.activity,
        (
            WorkerActivity.INTERVIEW,
            WorkerActivity.FOLLOWUP,
            WorkerActivity.CALLBACK_ATTEMPT,
            WorkerActivity.ONWARD_WORK,
        ),
    )
    mine = work & (w.worker == worker)
    order = np.argsort(w.start[mine])
    return w.start[mine][order], w.end[mine][order]


def test_follow_ups_are_booked_in_the_first_workers_diary_after_the_gap():
    sc = _caseload(
        workers=[{"name": "a", "roster": [OFFICE]}, {"name": "b", "roster": [OFFICE]}],
        per_hour=0.5,
    )
    run = simulate(sc)
    plan = build_plan(sc, 0)
    rows, cases, w = run.appointments, run.cases, run.workers
    held = rows.status == FollowupStatus.HELD
    assert held.sum() > 200
    interviews = w.activity == WorkerActivity.INTERVIEW
    who = dict(zip(w.case_id[interviews], w.worker[interviews], strict=True))
    previous_end = dict(zip(cases.case_id, cases.service_end, strict=True))
    for row in np.flatnonzero(held)[:300]:
        case, number = int(rows.case_id[row]), int(rows.number[row])
        assert rows.worker[row] == who[case]  # the worker who met the person
        slots = plan.diary_slots[rows.worker[row]]
        inside = (slots[:, 0] <= rows.due[row]) & (rows.due[row] + 45 <= slots[:, 1] + 1e-9)
        assert inside.any()  # within the worker's planned case time
        if number == 1:
            assert rows.due[row] >= previous_end[case] + 7 * MINUTES_PER_DAY - 1e-9
        else:
            before = (rows.case_id == case) & (rows.number == number - 1)
            assert rows.due[row] >= rows.end[before][0] + 7 * MINUTES_PER_DAY - 1e-9
    for worker in (0, 1):  # a booked slot holds: a worker never does two things at once
        starts, ends = _busy_intervals(run, worker)
        assert np.all(starts[1:] >= ends[:-1] - 1e-9)


def test_an_appointment_waits_for_a_task_in_progress_and_is_never_interrupted():
    # A heavy walk-in load: appointments often fall due while the worker is with someone.
    run = simulate(_caseload(per_hour=1.5, urgent_share=0.5))
    rows = run.appointments
    held = rows.status == FollowupStatus.HELD
    late = held & (rows.start > rows.due + 1e-9)
    assert late.sum() > 20 and (held & ~late).sum() > 20
    starts, ends = _busy_intervals(run, 0)
    for row in np.flatnonzero(late)[:100]:
        # Started late only because the worker was busy when it fell due...
        busy = (starts <= rows.due[row]) & (ends > rows.due[row])
        assert busy.any()
        # ... and started as soon as that task ended (appointments come before walk-ins).
        assert np.isclose(ends[busy].max(), rows.start[row]) or rows.start[row] > ends[busy].max()
    # Held appointments take their full duration: none was cut short by an urgent case.
    np.testing.assert_allclose((rows.end - rows.start)[held], 45)


def test_appointments_the_worker_cannot_hold_are_rebooked_then_cancelled():
    sc = _caseload(
        workers=[{"name": "w", "roster": [OFFICE], "absence": {"sickness_rate": 0.3}}],
        diary={"max_rebookings": 1},
    )
    run = simulate(sc)
    plan = build_plan(sc, 0)
    rows = run.appointments
    sick = set(plan.sick_days[0].tolist())
    held = rows.status == FollowupStatus.HELD
    held_days = set((rows.start[held] // MINUTES_PER_DAY).astype(int).tolist())
    assert not (held_days & sick)  # nothing is held on a sick day
    assert (held & (rows.rebookings > 0)).sum() > 10  # rebooked, then held
    cancelled = rows.status == FollowupStatus.CANCELLED
    assert cancelled.sum() > 0 and np.all(rows.rebookings[cancelled] == 2)


def test_a_full_diary_leaves_that_follow_up_and_the_rest_of_the_series_unmet():
    run = simulate(_caseload(per_hour=1.0, diary={"bookable_share": 0.3, "horizon_days": 7}))
    rows = run.appointments
    full = rows.status == FollowupStatus.DIARY_FULL
    assert full.sum() > 50
    assert np.isnan(rows.due[full]).all()
    for case in np.unique(rows.case_id[full])[:100]:
        mine = np.flatnonzero(rows.case_id == case)
        statuses = rows.status[mine]
        first_full = np.argmax(statuses == FollowupStatus.DIARY_FULL)
        assert np.all(statuses[first_full:] == FollowupStatus.DIARY_FULL)


def test_the_diary_keeps_each_shift_s_bookable_share_free():
    sc = _caseload(per_hour=1.0, diary={"bookable_share": 0.5})
    run = simulate(sc)
    plan = build_plan(sc, 0)
    rows = run.appointments
    booked = ~np.isnan(rows.due)
    slots = plan.diary_slots[0]
    slot_of = np.searchsorted(slots[:, 0], rows.due[booked], side="right") - 1
    booked_minutes = np.bincount(slot_of, minlength=len(slots)) * 45.0
    assert np.all(booked_minutes <= 0.5 * (slots[:, 1] - slots[:, 0]) + 1e-6)


def test_booked_appointments_never_overlap_even_those_of_no_duration():
    # Follow-ups of 0 or 45 minutes, packed end to start: an appointment of no duration
    # at the instant another starts would sit inside it, and would unsort the diary.
    durations = {"dist": "empirical", "values": [0, 45, 45]}
    sc = _caseload(per_hour=1.0, followups={**_followups(count=4), "duration": durations})
    rows = simulate(sc).appointments
    booked = ~np.isnan(rows.due)
    assert booked.sum() > 200
    due, number, case = rows.due[booked], rows.number[booked], rows.case_id[booked]
    duration = np.asarray(sc.populations["victim"].followups.duration.values)
    assert set(duration.tolist()) == {0.0, 45.0}
    # Each booking's duration, from the demand drawn for its case and number.
    from sim.model.demand import draw_demand

    drawn = draw_demand(sc, 0).followup_duration[case, number - 1]
    assert (drawn == 0).sum() > 20 and (drawn > 0).sum() > 100
    order = np.lexsort((drawn, due))
    start, end = due[order], due[order] + drawn[order]
    # Sorted by start, each appointment starts at or after the previous one's end, and
    # no two start at the same instant unless the earlier one has no duration.
    assert np.all(start[1:] >= end[:-1] - 1e-9)
    assert np.all((start[1:] > start[:-1]) | (drawn[order][:-1] == 0))


def test_no_shows_are_unmet_and_the_series_goes_on():
    run = simulate(_caseload(followups=_followups(count=4, no_show=0.3)))
    rows = run.appointments
    no_show = rows.status == FollowupStatus.NO_SHOW
    held = rows.status == FollowupStatus.HELD
    share = no_show.sum() / (no_show.sum() + held.sum())
    n = no_show.sum() + held.sum()
    assert abs(share - 0.3) < 3.3 * np.sqrt(0.3 * 0.7 / n)
    # A no-show is followed by the next appointment of the series.
    after = [
        (rows.case_id == c) & (rows.number == k + 1)
        for c, k in zip(rows.case_id[no_show][:50], rows.number[no_show][:50], strict=True)
    ]
    assert sum(bool(np.any(m & (rows.status != FollowupStatus.PENDING))) for m in after) > 30


def test_every_follow_up_wanted_by_a_person_met_has_one_row():
    run = simulate(_caseload(per_hour=1.0, diary={"bookable_share": 0.6}))
    cases, rows = run.cases, run.appointments
    met = cases.state == EndState.CONTACTED
    counts = np.bincount(rows.case_id, minlength=len(cases))
    np.testing.assert_array_equal(counts[met], cases.followups_wanted[met])
    assert np.all(counts[~met] == 0) and np.all(cases.followups_wanted[~met] == 0)
    # Numbers run 1..wanted for each person.
    for case in np.flatnonzero(met & (cases.followups_wanted > 0))[:100]:
        assert sorted(rows.number[rows.case_id == case]) == list(range(1, 4))


def test_other_duties_take_the_end_of_each_shift_and_no_new_case_starts_then():
    sc = _caseload(
        per_hour=1.0,
        workers=[{"name": "w", "roster": [OFFICE], "other_duties_share": 0.25}],
    )
    plan = build_plan(sc, 0)
    for shift in plan.shifts:
        assert shift.case_end == pytest.approx(shift.end - 0.25 * (shift.end - shift.start))
    run = simulate(sc)
    w = run.workers
    duty = [(s.case_end, s.end) for s in plan.shifts]
    for activity in (WorkerActivity.INTERVIEW, WorkerActivity.CALLBACK_ATTEMPT):
        starts = w.start[w.activity == activity]
        assert not covered(np.asarray(duty), starts).any()
    duties = w.activity == WorkerActivity.DUTIES
    assert duties.sum() > 50
    # Duties begin once the case work in hand is done, and end with the shift.
    assert covered(np.asarray(duty), w.start[duties]).all()


def test_arranging_an_onward_referral_follows_the_first_interview():
    run = simulate(
        _caseload(
            onward_referral={
                "probability": 1.0,
                "work_minutes": {"dist": "fixed", "value": 20},
            }
        )
    )
    w = run.workers
    onward = w.activity == WorkerActivity.ONWARD_WORK
    interviews = w.activity == WorkerActivity.INTERVIEW
    ended = dict(zip(w.case_id[interviews], w.end[interviews], strict=True))
    assert onward.sum() > 100
    for case, start, end in zip(w.case_id[onward], w.start[onward], w.end[onward], strict=True):
        assert start == ended[case] and end - start == pytest.approx(20)


def _rota(rest_hours=11.0, absence=None, followups=None):
    victim = {
        "arrivals": {"per_hour": 0.6},
        "interview": {"dist": "exponential", "mean": 40},
        "urgent_share": 0.6,
    }
    if followups is not None:
        victim["followups"] = followups
    return scenario(
        populations={"victim": victim},
        staffing={
            "workers": [
                {
                    "name": "w",
                    "count": 2,
                    "roster": [{"days": "weekdays", "start": "08:30", "end": "17:00"}],
                    "absence": absence or {},
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
            "rest_hours": rest_hours,
            "travel_delay": {"dist": "fixed", "value": 30},
            "phone_share": 0.0,
        },
        simulation={"warm_up_days": 7, "run_days": 84, "drain_days": 7, "seed": 6},
    )


def test_the_staff_take_the_rota_in_weekly_turns_skipping_an_absent_member():
    sc = _rota(absence={"sickness_rate": 0.1})
    plan = build_plan(sc, 0)
    week = (plan.on_call_windows[:, 0] // MINUTES_PER_WEEK).astype(int)
    day = (plan.on_call_windows[:, 0] // MINUTES_PER_DAY).astype(int)
    member = plan.on_call_staff[:, 0]
    absent = [set(plan.sick_days[w].tolist()) for w in (0, 1)]
    for k, d, m in zip(week, day, member, strict=True):
        turn = k % 2
        if d in absent[turn]:
            assert m == (1 - turn if d not in absent[1 - turn] else -2)
        else:
            assert m == turn
    run = simulate(sc)
    w = run.workers
    callouts = w.activity == WorkerActivity.CALLOUT
    assert callouts.sum() > 20 and set(np.unique(w.worker[callouts])) <= {0, 1}
    assert run.worker_names == ("w_1", "w_2")  # no responder outside the staff


def test_a_night_call_out_gives_rest_that_delays_the_responder_s_next_shift():
    sc = _rota()
    run = simulate(sc)
    shift_ends = {s.end for s in build_plan(sc, 0).shifts}
    w = run.workers
    rest = w.activity == WorkerActivity.REST
    assert rest.sum() > 5
    for worker, start, end in zip(w.worker[rest], w.start[rest], w.end[rest], strict=True):
        # The rest runs to 11 hours after a night call-out of this worker (or to the end
        # of the shift it eats whole).
        mine = (w.activity == WorkerActivity.CALLOUT) & (w.worker == worker)
        night = (w.start[mine] % MINUTES_PER_DAY < 6 * MINUTES_PER_HOUR) | (
            w.start[mine] % MINUTES_PER_DAY >= 22 * MINUTES_PER_HOUR
        )
        rested_to = w.end[mine][night] + 11 * MINUTES_PER_HOUR
        assert np.isclose(rested_to, end).any() or end in shift_ends
        # Nothing is started for a case while the worker rests.
        starts, _ = _busy_intervals(run, worker)
        assert not np.any((starts >= start) & (starts < end - 1e-9))
    no_rest = simulate(_rota(rest_hours=0)).workers
    assert not (no_rest.activity == WorkerActivity.REST).any()


def test_a_call_out_to_a_worker_still_at_work_past_the_shift_waits_for_that_work():
    """Found by the property tests (tests/fuzz/): a call-out at 17:00 to the worker
    whose interview ran over started at once, so the worker did two things at once."""
    work = (
        WorkerActivity.INTERVIEW,
        WorkerActivity.FOLLOWUP,
        WorkerActivity.CALLBACK_ATTEMPT,
        WorkerActivity.ONWARD_WORK,
    )
    waited = 0
    for replication in range(4):
        w = simulate(_rota(), replication).workers
        callout = w.activity == WorkerActivity.CALLOUT
        for worker, start, end in zip(
            w.worker[callout], w.start[callout], w.end[callout], strict=True
        ):
            mine = np.isin(w.activity, work) & (w.worker == worker)
            assert not np.any((w.start[mine] < end - 1e-9) & (w.end[mine] > start + 1e-9))
            overran = w.end[mine] % MINUTES_PER_DAY > 17 * MINUTES_PER_HOUR
            waited += int(np.any(overran & (w.end[mine] == start)))
    assert waited > 0  # the rule was exercised: call-outs that began as an overrun ended


def test_a_staff_rota_must_not_overlap_its_members_shifts():
    with pytest.raises(ConfigError, match="on-call windows must lie outside the shifts"):
        scenario(
            staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
            on_call={"windows": [{"days": "all", "start": "16:00", "end": "20:00"}]},
        )
    # An outside rota may overlap, costs its own rates and has responders of its own.
    sc = scenario(
        staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
        on_call={
            "windows": [{"days": "all", "start": "16:00", "end": "20:00"}],
            "staffed_by": "external",
        },
    )
    run = simulate(sc)
    assert run.worker_names == ("w", "on_call_1")


@pytest.mark.parametrize(
    "stated", ["external_on_call_eur_per_hour", "external_callout_eur_per_hour"]
)
def test_an_outside_rota_without_its_rates_is_refused(stated):
    missing = ({"external_on_call_eur_per_hour", "external_callout_eur_per_hour"} - {stated}).pop()
    with pytest.raises(ConfigError, match=rf"costs\.{missing}: required with on_call\.staffed_by"):
        scenario(
            staffing={"workers": [{"name": "w", "roster": [OFFICE]}]},
            on_call={
                "windows": [{"days": "all", "start": "18:00", "end": "20:00"}],
                "staffed_by": "external",
            },
            costs={stated: 5.0},
        )


def test_leave_is_taken_in_whole_weeks_with_the_main_block_in_its_season():
    sc = scenario(
        staffing={
            "workers": [
                {
                    "name": "w",
                    "count": 3,
                    "roster": [OFFICE],
                    "absence": {"leave_weeks": [3, 1, 1], "main_leave_season": [27, 35]},
                }
            ]
        },
        simulation={"warm_up_days": 0, "run_days": 364, "drain_days": 0, "seed": 9},
    )
    plan = build_plan(sc, 0)
    for worker, days in enumerate(plan.leave_days):
        assert len(days) == 5 * 7
        weeks = np.unique(days // 7)
        np.testing.assert_array_equal(np.sort(days), (weeks[:, None] * 7 + np.arange(7)).ravel())
        runs = np.split(weeks, np.flatnonzero(np.diff(weeks) > 1) + 1)
        longest = max(runs, key=len)
        assert len(longest) >= 3 and 26 <= longest[0] <= 34  # ISO week 27-35, from 0
        worked = {int(s.paid_start // MINUTES_PER_DAY) for s in plan.shifts if s.worker == worker}
        assert not (set(days.tolist()) & worked)
    # Each post draws its own leave.
    assert len({tuple(days.tolist()) for days in plan.leave_days}) == 3


def test_absences_belong_to_the_post_so_scenarios_share_them():
    short = {"simulation.run_days": 112, "simulation.warm_up_days": 14}
    one = build_plan(load_scenario(CONFIGS / "france_office_hours.yaml", short), 2)
    belgian = build_plan(load_scenario(CONFIGS / "belgium_24_7.yaml", short), 2)
    np.testing.assert_array_equal(one.sick_days[0], belgian.sick_days[0])
    np.testing.assert_array_equal(one.leave_days[0], belgian.leave_days[0])


def test_a_replacement_covers_a_sickness_from_its_n_plus_first_rostered_day():
    worker = {"name": "w", "roster": [{"days": "all", "start": "09:00", "end": "17:00"}]}
    base = {"warm_up_days": 0, "run_days": 300, "drain_days": 0, "seed": 4}
    alone = build_plan(
        scenario(staffing={"workers": [{**worker, "absence": {"sickness_rate": 0.5}}]},
                 simulation=base), 0)  # fmt: skip
    replaced = build_plan(
        scenario(
            staffing={
                "workers": [
                    {**worker, "absence": {"sickness_rate": 0.5, "replacement_after_days": 2}}
                ]
            },
            simulation=base,
        ),
        0,
    )
    sick = set(alone.sick_days[0].tolist())
    covered_days = set(replaced.replaced_days[0].tolist())
    assert covered_days and covered_days <= sick
    for day in covered_days:  # the two rostered days before were sick too
        assert {day - 1, day - 2} <= sick
    assert set(replaced.sick_days[0].tolist()) == sick - covered_days


def test_on_call_first_contacts_book_their_follow_ups_with_a_worker_of_the_station():
    run = simulate(_rota(followups=_followups()))
    cases, rows = run.cases, run.appointments
    by_call = cases.case_id[cases.channel == Channel.ON_CALL]
    assert len(by_call) > 20
    booked = np.isin(rows.case_id, by_call) & ~np.isnan(rows.booked_at)
    assert booked.sum() > 20
    assert set(rows.worker[booked].tolist()) <= {0, 1}


def test_a_rota_shared_by_two_stations_takes_calls_from_both_with_either_worker():
    stations = [{"name": "a"}, {"name": "b"}]
    workers = [{"name": f"w{s}", "roster": [{**OFFICE, "station": s}]} for s in ("a", "b")]
    sc = scenario(
        stations=stations,
        populations={
            "victim": {
                "arrivals": {"per_hour": 0.8},
                "interview": {"dist": "exponential", "mean": 40},
                "urgent_share": 0.8,
            }
        },
        staffing={"workers": workers},
        on_call={
            "windows": [
                {"days": "weekdays", "start": "17:00", "end": "24:00"},
                {"days": "weekend", "start": "00:00", "end": "24:00"},
            ],
            "stations": ["a", "b"],
        },
        simulation={"warm_up_days": 7, "run_days": 84, "drain_days": 7, "seed": 2},
    )
    run = simulate(sc)
    w = run.workers
    callouts = w.activity == WorkerActivity.CALLOUT
    pairs = set(zip(w.worker[callouts].tolist(), w.station[callouts].tolist(), strict=True))
    # Each worker, in its week, answers the calls of both stations.
    assert pairs == {(0, 0), (0, 1), (1, 0), (1, 1)}
