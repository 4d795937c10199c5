"""The shape every run's records must have, whatever the scenario: one check of the case,
worker and appointment tables, used by the invariant tests and the property suite
(``tests/fuzz/test_properties.py``).

Each rule is one the records promise (``sim.model.records``) or one the model's rules
imply for any scenario (``docs/model.md``); a run that breaks one is wrong however its
measures look.
"""

from __future__ import annotations

import numpy as np

from sim.config.week import MINUTES_PER_DAY
from sim.model.records import Channel, EndState, FollowupStatus, RunRecords, WorkerActivity

CASE_WORK = frozenset(
    {
        WorkerActivity.INTERVIEW,
        WorkerActivity.CALLBACK_ATTEMPT,
        WorkerActivity.OVERTIME,
        WorkerActivity.CALLOUT,
        WorkerActivity.FOLLOWUP,
        WorkerActivity.ONWARD_WORK,
    }
)
"""Activities spent on one case: their rows carry its id."""

NO_CASE = frozenset(WorkerActivity) - CASE_WORK
"""Activities of no case (shifts, travel, windows, absences, duties, rest, reading the
police log): case id -1.  Overtime carries the case of the work it extends, or -1 when
that work is a log review."""

NO_STATION = frozenset(
    {
        WorkerActivity.ABSENCE,
        WorkerActivity.LEAVE,
        WorkerActivity.REPLACED,
        WorkerActivity.ON_CALL_WINDOW,
    }
)
"""Activities at no station: their rows carry station -1."""

_EPS = 1e-9


def check_records(run: RunRecords) -> None:
    """Assert every rule of the records' shape; the message names the rule broken."""
    _check_cases(run)
    _check_workers(run)
    _check_appointments(run)


def _check_cases(run: RunRecords) -> None:
    c = run.cases
    n = len(c)
    for name, column in c.columns().items():
        assert len(column) == n, f"cases.{name} has {len(column)} rows, not {n}"
    assert np.array_equal(c.case_id, np.arange(n)), "case ids are not 0..n-1 in order"
    assert np.all(np.diff(c.arrival) >= 0), "cases are not in arrival order"
    assert set(np.unique(c.state).tolist()) <= {int(s) for s in EndState}
    assert set(np.unique(c.channel).tolist()) <= {int(k) for k in Channel}
    not_referred = np.isin(c.state, (EndState.NOT_REFERRED, EndState.NOT_REFERRED_NO_WORKER))
    logged = c.logged.astype(bool)
    assert np.all(np.isnan(c.referral) == (not_referred & ~logged)), (
        "referral time set iff referred or found in the police log"
    )
    has_referral = ~np.isnan(c.referral)
    assert np.all(c.referral[has_referral] >= c.arrival[has_referral] - _EPS)
    contacted = c.state == EndState.CONTACTED
    # Only a case lost for want of a worker is looked for in the log; reached, it is
    # contacted from the log and by no other channel.
    assert np.all(np.isin(c.state[logged], (EndState.NOT_REFERRED_NO_WORKER, EndState.CONTACTED)))
    assert np.all((c.channel == Channel.LOG) == (logged & contacted)), (
        "a case reached from the police log is not recorded as such"
    )
    assert np.all(~np.isnan(c.first_contact) == contacted), "first contact iff contacted"
    assert np.all((c.channel != Channel.NONE) == contacted), "a channel iff contacted"
    assert np.all(c.first_contact[contacted] >= c.referral[contacted] - _EPS)
    # Nothing is recorded as done after the run's end.
    for name in ("first_contact", "service_end", "series_end"):
        times = getattr(c, name)
        assert not np.any(times > run.end_time + _EPS), f"cases.{name} after the run's end"
    ended = contacted & ~np.isnan(c.service_end)
    assert np.all(c.service_end[ended] >= c.first_contact[ended] - _EPS)
    # A person who left the station was seen later only by a callback, never on site or
    # on call: leaving and being handed to the rota are exclusive.
    left = c.left_station.astype(bool)
    assert not np.any(left & np.isin(c.channel, (Channel.ON_SITE, Channel.ON_CALL))), (
        "a person who left the station is recorded as seen on site or on call"
    )
    assert np.all(c.callback_attempts >= 0)
    assert np.all(c.followups_wanted[~contacted] == 0), "follow-ups of a person never met"


def _check_workers(run: RunRecords) -> None:
    w = run.workers
    n = len(w)
    for name, column in w.columns().items():
        assert len(column) == n, f"workers.{name} has {len(column)} rows, not {n}"
    assert np.all(np.diff(w.start) >= 0), "worker records are not sorted by start"
    assert np.all(w.end >= w.start - _EPS), "a block of worker time ends before it starts"
    assert set(np.unique(w.activity).tolist()) <= {int(a) for a in WorkerActivity}
    assert np.all((w.worker >= 0) & (w.worker < len(run.worker_names)))
    # Absences, leave and on-call windows are at no station (-1); the rest at one.
    nowhere = np.isin(w.activity, list(NO_STATION))
    assert np.all(w.station[nowhere] == -1), "an absence, leave or window names a station"
    assert np.all((w.station[~nowhere] >= 0) & (w.station[~nowhere] < len(run.station_names))), (
        "a block of work or a shift at no station"
    )
    case_work = np.isin(w.activity, list(CASE_WORK))
    assert np.all(w.case_id[~case_work] == -1), "a block of no case does not carry case id -1"
    # Overtime past a log review is of no case (its match is checked in _check_overtime).
    named = case_work & ~((w.activity == WorkerActivity.OVERTIME) & (w.case_id == -1))
    assert np.all((w.case_id[named] >= 0) & (w.case_id[named] < len(run.cases))), (
        "a block of case work does not name its case"
    )
    # Work at a station is done by a worker whose latest shift begun is at that station
    # (a task may run on past the shift's end, never start at another station's).
    on_site = np.isin(
        w.activity,
        (
            WorkerActivity.INTERVIEW,
            WorkerActivity.FOLLOWUP,
            WorkerActivity.CALLBACK_ATTEMPT,
            WorkerActivity.LOG_REVIEW,
        ),
    )
    for worker in np.unique(w.worker[on_site]):
        shifts = np.flatnonzero((w.activity == WorkerActivity.SHIFT) & (w.worker == worker))
        rows = np.flatnonzero(on_site & (w.worker == worker))
        latest = np.searchsorted(w.start[shifts], w.start[rows] + _EPS, side="right") - 1
        assert np.all(latest >= 0), f"worker {worker} works before its first shift"
        wrong = w.station[shifts][latest] != w.station[rows]
        assert not wrong.any(), (
            f"worker {worker} works for station {w.station[rows][wrong][0]} at "
            f"{w.start[rows][wrong][0]:.1f}, during a shift at another station"
        )
    # Protected duties follow the shift's end, or the work that ran past it: some
    # record of the same worker ends exactly where they begin.
    for r in np.flatnonzero(w.activity == WorkerActivity.PROTECTED_DUTIES):
        mine = w.worker == w.worker[r]
        shifts = mine & (w.activity == WorkerActivity.SHIFT) & (w.start < w.start[r])
        assert shifts.any(), f"protected duties of worker {w.worker[r]} before its first shift"
        assert np.any(mine & (np.abs(w.end - w.start[r]) < _EPS) & (np.arange(len(w)) != r)), (
            f"protected duties of worker {w.worker[r]} at {w.start[r]:.1f} follow nothing"
        )
    _check_overtime(w)
    # A call-out is made by a responder on call: it starts within one of its windows.
    callouts = np.flatnonzero(w.activity == WorkerActivity.CALLOUT)
    windows = w.activity == WorkerActivity.ON_CALL_WINDOW
    for r in callouts:
        mine = windows & (w.worker == w.worker[r])
        within = (w.start[mine] <= w.start[r] + _EPS) & (w.start[r] < w.end[mine] + _EPS)
        assert within.any(), (
            f"a call-out of responder {w.worker[r]} at {w.start[r]:.1f} is in none of its "
            "on-call windows"
        )
    # Rest and other duties take time of a shift: each lies within a shift of its worker.
    shift = w.activity == WorkerActivity.SHIFT
    for activity in (WorkerActivity.REST, WorkerActivity.DUTIES):
        rows = np.flatnonzero(w.activity == activity)
        for r in rows:
            mine = shift & (w.worker == w.worker[r])
            inside = (w.start[mine] <= w.start[r] + _EPS) & (w.end[mine] >= w.end[r] - _EPS)
            assert inside.any(), (
                f"{WorkerActivity(activity).label} of worker {w.worker[r]} at "
                f"{w.start[r]:.1f}-{w.end[r]:.1f} lies outside its shifts"
            )


def _check_appointments(run: RunRecords) -> None:
    a = run.appointments
    n = len(a)
    for name, column in a.columns().items():
        assert len(column) == n, f"appointments.{name} has {len(column)} rows, not {n}"
    order = np.lexsort((a.number, a.case_id))
    assert np.array_equal(order, np.arange(n)), "appointments are not sorted by case, number"
    assert set(np.unique(a.status).tolist()) <= {int(s) for s in FollowupStatus}
    # Each person met has rows 1..k, k the follow-ups they wanted.
    wanted = run.cases.followups_wanted
    counts = np.bincount(a.case_id, minlength=len(run.cases)) if n else np.zeros(len(wanted))
    assert np.array_equal(counts, wanted), "a person's follow-ups are not one row each"
    if n:
        first = np.r_[True, a.case_id[1:] != a.case_id[:-1]]
        expected = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) + 1
        assert np.array_equal(a.number, expected), "a series is not numbered 1, 2, ..."
    held = a.status == FollowupStatus.HELD
    assert not np.isnan(a.start[held]).any() and not np.isnan(a.end[held]).any()
    assert np.all(a.start[held] >= a.due[held] - _EPS), "an appointment held before it was due"
    booked = ~np.isnan(a.due)
    assert np.all(a.due[booked] >= a.booked_at[booked] - _EPS), "an appointment due before booked"
    # A rebooked appointment is due from the day after it was rebooked.
    again = booked & (a.rebookings > 0)
    next_day = (np.floor(a.booked_at[again] / MINUTES_PER_DAY) + 1) * MINUTES_PER_DAY
    assert np.all(a.due[again] >= next_day - _EPS), "a rebooked appointment due the same day"
    # "No worker" means nobody is rostered at the person's station to book it with.
    rostered = set(run.workers.station[run.workers.activity == WorkerActivity.SHIFT].tolist())
    no_worker = set(a.station[a.status == FollowupStatus.NO_WORKER].tolist())
    assert not no_worker & rostered, (
        f"follow-ups unmet for want of a worker at stations {sorted(no_worker & rostered)}, "
        "where a worker is rostered"
    )
    _check_series_ends(run)
    # A series is given up as a whole: once a follow-up is unmet for want of a slot or
    # of a worker, every later one of the person is unmet for the same reason.
    for status in (FollowupStatus.DIARY_FULL, FollowupStatus.NO_WORKER):
        for r in np.flatnonzero(a.status == status):
            later = (a.case_id == a.case_id[r]) & (a.number > a.number[r])
            assert np.all(a.status[later] == status), (
                f"the series of case {a.case_id[r]} goes on after a follow-up was "
                f"{FollowupStatus(status).label}"
            )


def _check_series_ends(run: RunRecords) -> None:
    """A person's series ends with their last follow-up settled, or with the first
    contact when they wanted none; it is open (nan) while one is pending."""
    c, a = run.cases, run.appointments
    met = (c.state == EndState.CONTACTED) & ~np.isnan(c.service_end)
    none_wanted = met & (c.followups_wanted == 0)
    assert np.allclose(c.series_end[none_wanted], c.service_end[none_wanted]), (
        "the series of a person who wanted no follow-up does not end with the first contact"
    )
    pending = np.zeros(len(c), dtype=bool)
    pending[a.case_id[a.status == FollowupStatus.PENDING]] = True
    assert np.all(np.isnan(c.series_end[pending])), "a series with a pending follow-up ended"
    settled = met & (c.followups_wanted > 0) & ~pending
    assert not np.isnan(c.series_end[settled]).any(), "a settled series has no end"
    held = a.status == FollowupStatus.HELD
    last = np.full(len(c), -np.inf)
    np.maximum.at(last, a.case_id[held], a.end[held])
    assert np.all(c.series_end[settled] >= last[settled] - _EPS), (
        "a series ends before its last follow-up was held"
    )


def _check_overtime(w) -> None:
    """Work past the end of the worker's time on site is overtime: each block of on-site
    case work that ends after it has one overtime row, from that end (or the block's
    start) to the block's end, or to the worker's next time on site if the block runs
    into it, and there is no other overtime."""
    work = np.isin(
        w.activity,
        (
            WorkerActivity.INTERVIEW,
            WorkerActivity.FOLLOWUP,
            WorkerActivity.CALLBACK_ATTEMPT,
            WorkerActivity.ONWARD_WORK,
            WorkerActivity.LOG_REVIEW,
        ),
    )
    overtime = w.activity == WorkerActivity.OVERTIME
    for worker in np.unique(w.worker[work | overtime]):
        shifts = np.flatnonzero((w.activity == WorkerActivity.SHIFT) & (w.worker == worker))
        travel = np.flatnonzero((w.activity == WorkerActivity.TRAVEL) & (w.worker == worker))
        # On site from the end of the journey out (a travel row starting with the shift)
        # until the journey home starts (a travel row ending with it).
        on_site_start = w.start[shifts].copy()
        on_site_end = w.end[shifts].copy()
        for k, s in enumerate(shifts):
            home = travel[np.isclose(w.end[travel], w.end[s]) & (w.start[travel] > w.start[s])]
            if len(home):
                on_site_end[k] = w.start[home[0]]
            out = travel[np.isclose(w.start[travel], w.start[s]) & (w.end[travel] < w.end[s])]
            if len(out):
                on_site_start[k] = w.end[out[0]]
        rows = np.flatnonzero(work & (w.worker == worker))
        latest = np.searchsorted(on_site_start, w.start[rows] + _EPS, side="right") - 1
        end = on_site_end[latest]
        starts = np.r_[on_site_start, np.inf]
        next_start = starts[latest + 1]
        stop = np.minimum(w.end[rows], next_start)
        begin = np.maximum(w.start[rows], end)
        late = stop > begin + _EPS
        expected = sorted(
            (int(w.case_id[r]), round(b, 6), round(e, 6))
            for r, b, e in zip(rows[late], begin[late], stop[late], strict=True)
        )
        mine = np.flatnonzero(overtime & (w.worker == worker))
        found = sorted((int(w.case_id[r]), round(w.start[r], 6), round(w.end[r], 6)) for r in mine)
        assert found == expected, (
            f"worker {worker}: overtime rows {found[:3]}... do not match the work past the "
            f"end of its time on site {expected[:3]}..."
        )
