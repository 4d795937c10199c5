"""Turning a finished run's state into its records: one row per case, per block of
worker time and per follow-up wanted, as numpy columns (:mod:`sim.model.records`).

Called once, after the event loop: the per-case Python lists the handlers kept become
columns here, and the run's objects are released as they do, so that a long run peaks
at about its records.  States the run left open at the end are closed as the records
define them (a call-out not yet begun is still on call, a callback past its expiry has
expired, an appointment not ended is pending).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.config.week import MINUTES_PER_DAY
from sim.model.records import (
    AppointmentRecords,
    CaseRecords,
    Channel,
    EndState,
    RunRecords,
    WorkerActivity,
    WorkerRecords,
)
from sim.model.roster import EXTERNAL, NOBODY, SHIFT_CASE_END
from sim.model.state import (
    A_BOOKED_AT,
    A_CASE,
    A_DUE,
    A_DURATION,
    A_END,
    A_NUMBER,
    A_REBOOKINGS,
    A_START,
    A_STATION,
    A_STATUS,
    A_WORKER,
    BOOKED,
    CALLBACK,
    CHANNEL_OF_STATE,
    END_STATE_OF,
    EXPIRED,
    HELD,
    LOG_WIDTH,
    ON_CALL,
    RETRY,
    WorkLog,
)

if TYPE_CHECKING:
    from sim.model.station import StationModel

__all__ = ["appointment_records", "responder_names", "run_records", "worker_records"]

_NAN = float("nan")


def run_records(model: StationModel) -> RunRecords:
    """The records of a finished run (once: building them releases the run's state)."""
    # The run's Python lists are dropped as soon as they have become columns, so
    # that a long run peaks at about its records, not its records plus the objects
    # they came from.
    first_contact = np.asarray(model.first_contact, dtype=float)
    model.first_contact = []
    service_end = np.asarray(model.service_end, dtype=float)
    model.service_end = []
    workers = worker_records(model, first_contact, service_end)
    model.worker_log = WorkLog()
    model.interviewed = model.interviewer = model.interview_station = model.held = []
    model.referral_order = model.referral_time = model.patience = model.interview = []
    model.station_of = model.rank = []
    scenario = model.scenario
    demand = model.demand
    end_time = model.env.now
    window_start, window_end = scenario.simulation.window_minutes
    # An on-call first contact is set when the call-out starts; one still in the
    # future at the end did not happen within the run.
    unfinished = first_contact > end_time
    first_contact[unfinished] = np.nan
    service_end[service_end > end_time] = np.nan
    state = np.asarray(model.state, dtype=np.int64)
    model.state = []
    state[unfinished] = ON_CALL
    # Cases left on the list past their expiry were dropped then, not at the end.
    on_list = (state == CALLBACK) | (state == RETRY)
    state[on_list & (end_time - model.referral > model.expiry_minutes)] = EXPIRED
    logged = model.logged
    referral = np.where(model.referred | logged, model.referral, np.nan)
    contacted = ~np.isnan(first_contact)
    end_state = END_STATE_OF[state]
    end_state[~model.referred] = EndState.NOT_REFERRED
    # A case found in the police log and reached counts as contacted; one never reached
    # stays lost for want of a worker: outreach rescues the case, the referral was lost.
    end_state[model.not_referred_no_worker & ~contacted] = EndState.NOT_REFERRED_NO_WORKER
    end_state[logged & contacted] = EndState.CONTACTED
    channel = CHANNEL_OF_STATE[state]
    channel[logged & contacted] = Channel.LOG

    onward = np.where(
        contacted & demand.onward & ~np.isnan(service_end),
        service_end + demand.onward_delay,
        np.nan,
    )
    left_station = np.zeros(len(demand), dtype=bool)
    left_station[model.left_station] = True
    attempts = np.zeros(len(demand), dtype=np.int64)
    attempts[list(model.attempts)] = list(model.attempts.values())
    series_end = np.asarray(model.series_end, dtype=float)
    series_end[series_end > end_time] = np.nan
    # A series starts when a call-out ends, the way back included; one still on its way
    # back at the end has met a person who wanted no follow-up all the same.
    done = contacted & (demand.followups == 0) & ~np.isnan(service_end) & np.isnan(series_end)
    series_end[done] = service_end[done]
    cases = CaseRecords(
        case_id=np.arange(len(demand), dtype=np.int64),
        population=demand.population,
        station=demand.station,
        urgent=demand.urgent,
        arrival=demand.arrival,
        referral=referral,
        first_contact=first_contact,
        service_end=service_end,
        onward_referral=onward,
        channel=channel,
        state=end_state,
        left_station=left_station,
        callback_attempts=attempts,
        couple_violence=demand.couple_violence,
        followups_wanted=np.where(contacted, demand.followups, 0),
        series_end=series_end,
        logged=logged,
    )
    return RunRecords(
        scenario=scenario.name,
        replication=model.replication,
        seed=scenario.simulation.seed,
        window_start=window_start,
        window_end=window_end,
        end_time=end_time,
        population_names=scenario.population_names,
        station_names=tuple(s.name for s in scenario.stations),
        worker_names=model.plan.worker_names + responder_names(model),
        cases=cases,
        workers=workers,
        appointments=appointment_records(model, contacted),
        on_call_windows=model.plan.on_call_windows,
        windows=scenario.simulation.windows,
    )


def appointment_records(model: StationModel, contacted: np.ndarray) -> AppointmentRecords:
    """One row per follow-up wanted by a person met: those booked or given up, and
    those the run ended before (pending)."""
    # The follow-ups still to book: numbers after the last booked, to the number wanted.
    pending = np.flatnonzero(contacted & (model.demand.followups > 0))
    booked = model.booked_numbers
    first = np.fromiter((booked.get(c, 0) + 1 for c in pending.tolist()), np.int64, len(pending))
    wanted = model.demand.followups[pending]
    count = np.maximum(wanted - first + 1, 0)
    case = np.repeat(pending, count)
    number = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    number += np.repeat(first, count)
    worker = np.fromiter((model.followup_worker.get(c, -1) for c in pending.tolist()), np.int64)
    rows = np.full((len(case), A_DURATION + 1), _NAN)
    rows[:, A_CASE], rows[:, A_NUMBER] = case, number
    rows[:, A_WORKER] = np.repeat(worker, count)
    rows[:, A_STATION] = model.demand.station[case]
    rows[:, A_STATUS], rows[:, A_REBOOKINGS], rows[:, A_DURATION] = BOOKED, 0, 0.0
    if model.appointments:
        rows = np.concatenate((np.asarray(model.appointments, dtype=float), rows))
    ints = {
        k: rows[:, k].astype(np.int64)
        for k in (A_CASE, A_NUMBER, A_WORKER, A_STATION, A_STATUS, A_REBOOKINGS)
    }
    times = {k: rows[:, k].copy() for k in (A_BOOKED_AT, A_DUE, A_START, A_END)}
    model.appointments = []
    end_time = model.env.now
    for k in (A_START, A_END):
        times[k][times[k] > end_time] = np.nan
    # Booked but due after the end, or begun and not ended: still pending.
    status = ints[A_STATUS]
    status[np.isnan(times[A_END]) & (status == HELD)] = BOOKED
    order = np.lexsort((ints[A_NUMBER], ints[A_CASE]))
    return AppointmentRecords(
        case_id=ints[A_CASE][order],
        number=ints[A_NUMBER][order],
        worker=ints[A_WORKER][order],
        station=ints[A_STATION][order],
        booked_at=times[A_BOOKED_AT][order],
        due=times[A_DUE][order],
        start=times[A_START][order],
        end=times[A_END][order],
        status=status[order],
        rebookings=ints[A_REBOOKINGS][order],
    )


def responder_names(model: StationModel) -> tuple[str, ...]:
    """The names of the outside on-call responders, who are in no roster."""
    on_call = model.scenario.on_call
    if on_call is None or on_call.staffed_by != "external":
        return ()
    return tuple(f"on_call_{r + 1}" for r in range(on_call.responders))


def worker_records(
    model: StationModel, first_contact: np.ndarray, service_end: np.ndarray
) -> WorkerRecords:
    """Every block of worker time: the run's log, first interviews and follow-ups
    held, then shifts, absences, on-call windows (``first_contact`` and
    ``service_end``: the run's columns, minutes, before the end of the run clips
    them)."""
    # Rows in a fixed order before the stable sort: the run's log, the interviews,
    # the follow-ups held (each in the order they ended, as if logged then: rows of
    # different activities never tie, so their blocks need not interleave), then
    # each shift (paid shift, then its travel at both ends), absences, on-call
    # windows.
    parts = [
        model.worker_log.rows(),
        _interview_rows(model, first_contact, service_end),
        _followup_rows(model.held),
    ]
    shifts = model.plan.shift_table[:, :SHIFT_CASE_END]
    worker, station, paid_start, paid_end, start, end = shifts.T
    blocks = np.empty((len(shifts), 3, LOG_WIDTH))
    blocks[:, :, 0] = worker[:, None]
    blocks[:, :, 2] = station[:, None]
    blocks[:, :, 5] = -1
    blocks[:, 0, 1] = WorkerActivity.SHIFT
    blocks[:, 0, 3:5] = shifts[:, 2:4]
    blocks[:, 1:, 1] = WorkerActivity.TRAVEL
    blocks[:, 1, 3], blocks[:, 1, 4] = paid_start, start
    blocks[:, 2, 3], blocks[:, 2, 4] = end, paid_end
    travels = start > paid_start
    parts.append(blocks[np.column_stack((np.ones_like(travels), travels, travels))])
    plan = model.plan
    for activity, per_worker in (
        (WorkerActivity.ABSENCE, plan.sick_days),
        (WorkerActivity.LEAVE, plan.leave_days),
        (WorkerActivity.REPLACED, plan.replaced_days),
    ):
        for w, days in enumerate(per_worker):
            day_start = days.astype(float) * MINUTES_PER_DAY
            parts.append(_rows(w, activity, day_start, day_start + MINUTES_PER_DAY))
    windows = plan.on_call_windows
    for slot in range(plan.on_call_staff.shape[1] if plan.on_call_staff.ndim == 2 else 0):
        members = plan.on_call_staff[:, slot]
        for member in np.unique(members[members != NOBODY]).tolist():
            index = model.n_workers + slot if member == EXTERNAL else member
            mine = members == member
            parts.append(
                _rows(index, WorkerActivity.ON_CALL_WINDOW, windows[mine, 0], windows[mine, 1])
            )
    rows = np.concatenate(parts)
    if not len(rows):
        empty = np.empty(0)
        return WorkerRecords(*(empty.astype(np.int64),) * 3, empty, empty, empty.astype(np.int64))
    rows = rows[_by_start_worker_activity(rows)]
    return WorkerRecords(
        worker=rows[:, 0].astype(np.int64),
        activity=rows[:, 1].astype(np.int64),
        station=rows[:, 2].astype(np.int64),
        start=rows[:, 3].copy(),
        end=rows[:, 4].copy(),
        case_id=rows[:, 5].astype(np.int64),
    )


def _by_start_worker_activity(rows: np.ndarray) -> np.ndarray:
    """The stable order of log rows by start, then worker, then activity: what
    ``np.lexsort`` of the three gives, from one sort by start and a lexsort of the few
    rows that share a start."""
    start = rows[:, 3]
    order = np.argsort(start, kind="stable")
    ordered = start[order]
    tie = ordered[1:] == ordered[:-1]
    if tie.any():
        shared = np.zeros(len(order), dtype=bool)
        shared[:-1] |= tie
        shared[1:] |= tie
        # The rows that share a start lie together, in start order and, within a start,
        # in their original order: a stable lexsort of them alone leaves every start's
        # rows in its place.
        subset = order[shared]
        order[shared] = subset[np.lexsort((rows[subset, 1], rows[subset, 0], start[subset]))]
    return order


def _interview_rows(
    model: StationModel, first_contact: np.ndarray, service_end: np.ndarray
) -> np.ndarray:
    """Worker-log rows of the first interviews held, in the order they ended."""
    cases = np.asarray(model.interviewed, dtype=np.int64)
    rows = np.empty((len(cases), LOG_WIDTH))
    rows[:, 0] = np.asarray(model.interviewer, dtype=np.int64)[cases]
    rows[:, 1] = WorkerActivity.INTERVIEW
    rows[:, 2] = np.asarray(model.interview_station, dtype=np.int64)[cases]
    rows[:, 3] = first_contact[cases]
    rows[:, 4] = service_end[cases]
    rows[:, 5] = cases
    return rows


def _followup_rows(held: list[list[Any]]) -> np.ndarray:
    """Worker-log rows of the follow-up appointments held, in the order they ended."""
    if not held:
        return np.empty((0, LOG_WIDTH))
    rows = np.asarray(held, dtype=float)[:, [A_WORKER, A_WORKER, A_STATION, A_START, A_END, A_CASE]]
    rows[:, 1] = WorkerActivity.FOLLOWUP
    return rows


def _rows(worker: int, activity: int, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Worker-log rows of one worker's blocks of one activity, at no station, no case."""
    rows = np.empty((len(start), LOG_WIDTH))
    rows[:, 0], rows[:, 1], rows[:, 2] = worker, activity, -1
    rows[:, 3], rows[:, 4], rows[:, 5] = start, end, -1
    return rows
