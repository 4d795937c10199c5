"""The measurement windows of a run: the run seen from each window in turn.

A replication may measure several consecutive windows after one warm-up
(``simulation.windows``).  Each window is measured as a run of one window would be:

- its cases are those that arrived in it;
- the worker records stay whole (the measures clip them to the window);
- its follow-ups are seen as they stood at its *observation end*, the window's end plus
  the drain (``end_time - window_end`` of the whole run).  For every window but the
  last that moment falls in the next window, so the next window is the drain of this
  one, and only the last needs a drain of its own.  An appointment held, missed or
  given up after that moment is pending, as it would be in a run that ended there.

A case's first-contact outcome is read at the end of the run: a case reaches it within
its patience, the callback list's expiry or the on-call queue, days after its referral,
long before a drain of weeks ends (``tests/test_windows.py`` checks that no case of the
shipped configs is contacted after its window's observation end).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np

from sim.model.records import AppointmentRecords, CaseRecords, FollowupStatus, RunRecords

__all__ = ["observation_end", "window_bounds", "window_views"]

_PENDING = int(FollowupStatus.PENDING)
_HELD = int(FollowupStatus.HELD)
_SEEN_AT_DUE = (int(FollowupStatus.NO_SHOW), int(FollowupStatus.CANCELLED))
_SEEN_AT_SERIES_END = (int(FollowupStatus.DIARY_FULL), int(FollowupStatus.NO_WORKER))


def window_bounds(run: RunRecords) -> list[tuple[float, float]]:
    """``(start, end)`` of each measurement window of ``run``, in minutes: its measured
    span cut into ``run.windows`` equal windows."""
    if run.windows == 1:
        return [(run.window_start, run.window_end)]
    # linspace gives both ends exactly: the windows tile the span to the bit.
    edges = np.linspace(run.window_start, run.window_end, run.windows + 1)
    return [(float(a), float(b)) for a, b in pairwise(edges)]


def observation_end(window_end: float, drain: float, run_end: float) -> float:
    """When a window's follow-ups are read: a drain's length after its end (minutes)."""
    return min(window_end + drain, run_end)


def window_views(run: RunRecords) -> list[RunRecords]:
    """``run`` as each of its windows sees it (see the module docstring), in order; a
    run of one window is its own view."""
    if run.windows == 1:
        return [run]
    drain = run.end_time - run.window_end
    cases = run.cases
    views = []
    for start, end in window_bounds(run):
        keep = (cases.arrival >= start) & (cases.arrival < end)
        mine = CaseRecords(**{name: column[keep] for name, column in cases.columns().items()})
        observed = observation_end(end, drain, run.end_time)
        views.append(
            replace(
                run,
                window_start=start,
                window_end=end,
                end_time=observed,
                windows=1,
                cases=_series_as_of(mine, observed),
                appointments=_appointments_as_of(run.appointments, mine, observed),
            )
        )
    return views


def _series_as_of(cases: CaseRecords, moment: float) -> CaseRecords:
    """The cases with every series that ended after ``moment`` still open then."""
    ended_later = cases.series_end > moment
    if not ended_later.any():
        return cases
    return replace(cases, series_end=np.where(ended_later, np.nan, cases.series_end))


def _appointments_as_of(
    rows: AppointmentRecords, cases: CaseRecords, moment: float
) -> AppointmentRecords:
    """The follow-ups of ``cases`` as they stood at ``moment``: one settled later (held,
    missed or cancelled at its due time, given up when its series ended) is pending,
    and times after ``moment`` have not happened yet."""
    position = np.searchsorted(cases.case_id, rows.case_id)
    inside = position < len(cases)
    inside[inside] = cases.case_id[position[inside]] == rows.case_id[inside]
    columns = {name: column[inside] for name, column in rows.columns().items()}
    status = columns["status"].copy()
    with np.errstate(invalid="ignore"):
        # The series end of each row's case, as the model recorded it (not censored).
        series_end = cases.series_end[position[inside]]
        later = (
            ((status == _HELD) & ~(columns["end"] <= moment))
            | (np.isin(status, _SEEN_AT_DUE) & ~(columns["due"] <= moment))
            | (np.isin(status, _SEEN_AT_SERIES_END) & ~(series_end <= moment))
        )
        status[later] = _PENDING
        columns["status"] = status
        for name in ("booked_at", "due", "start", "end"):
            times = columns[name]
            columns[name] = np.where(times > moment, np.nan, times)
    return AppointmentRecords(**columns)
