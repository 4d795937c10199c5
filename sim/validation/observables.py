"""What the theory predicts, read off one run's records.

Each function here turns the records of one replication into a statistic that an exact
result of ``sim.validation.theory`` (or a law such as Little's) predicts: waits from referral to
first contact, time averages of the number of people waiting and of busy workers, hour
by hour of the week, the terms of Little's law, and the arrival process seen through the
cases recorded. Nothing here runs the model or knows the exact values: the cases of
``sim.validation.cases`` pair these statistics with their predictions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim.config.week import HOURS_PER_WEEK, MINUTES_PER_HOUR, MINUTES_PER_WEEK
from sim.model.records import EndState, RunRecords, WorkerActivity

__all__ = [
    "WAIT_TOLERANCE_MINUTES",
    "busy_intervals",
    "cumulative_intensity",
    "hourly_occupancy",
    "littles_law_terms",
    "waiting_exits",
]

FloatArray = npt.NDArray[np.float64]

WAIT_TOLERANCE_MINUTES = 1e-6
"""A wait shorter than this counts as no wait. A person seen at once has a first contact
equal to the referral up to the round-off of adding event delays to the clock (about
1e-10 minutes over a long run), so ``wait > 0`` must be read as ``wait > 1e-6``; the
probability that a true wait falls in between is of order 1e-7 and negligible."""


def hourly_occupancy(starts: FloatArray, ends: FloatArray, t0: float, t1: float) -> FloatArray:
    """Time-average number of intervals ``[start, end)`` in progress, by hour of the week.

    Over ``[t0, t1)``, which must span whole weeks starting on a week boundary, the
    function integrates ``N(t) = #{i: starts[i] <= t < ends[i]}`` over each hour, divides
    by 60 and averages the same hour of the week over the weeks. Returns 168 values,
    hour 0 = Monday 00:00-01:00.

    The integral is exact: the intervals' ends and the hour boundaries are swept in time
    order, so each piece of the step function ``N`` is integrated on its own (no large
    cumulative sums that would lose precision over a long run).
    """
    weeks = (t1 - t0) / MINUTES_PER_WEEK
    if t0 % MINUTES_PER_WEEK != 0 or weeks < 1 or not float(weeks).is_integer():
        raise ValueError(f"[{t0}, {t1}) must be whole weeks starting on a week boundary")
    a = np.clip(np.asarray(starts, dtype=float), t0, t1)
    b = np.clip(np.asarray(ends, dtype=float), t0, t1)
    inside = b > a
    a, b = a[inside], b[inside]
    n_hours = int(weeks) * HOURS_PER_WEEK
    grid = t0 + MINUTES_PER_HOUR * np.arange(n_hours + 1, dtype=float)
    times = np.concatenate((a, b, grid))
    steps = np.concatenate((np.ones(a.size), -np.ones(b.size), np.zeros(grid.size)))
    order = np.argsort(times, kind="stable")
    times = times[order]
    level = np.cumsum(steps[order])
    lengths = np.diff(times)
    # A piece starts at an event or at an hour boundary, so it lies within one hour.
    hour = ((times[:-1] - t0) // MINUTES_PER_HOUR).astype(np.int64)
    useful = lengths > 0
    area = np.bincount(
        hour[useful], weights=level[:-1][useful] * lengths[useful], minlength=n_hours
    )[:n_hours]
    return area.reshape(int(weeks), HOURS_PER_WEEK).mean(axis=0) / MINUTES_PER_HOUR


def busy_intervals(run: RunRecords, worker: int) -> tuple[FloatArray, FloatArray]:
    """Start and end of every interview of an on-site worker (overtime included)."""
    rows = (run.workers.activity == WorkerActivity.INTERVIEW) & (run.workers.worker == worker)
    return run.workers.start[rows], run.workers.end[rows]


def waiting_exits(run: RunRecords, expire_after_minutes: float) -> FloatArray:
    """When each recorded case stopped waiting for a first contact (NaN if never referred).

    A referred case waits from its referral until the first of: its first contact; the
    end of its last callback attempt, when every attempt failed; its expiry from the
    callback list (``referral + expire_after_minutes``); or the end of the run, when it is
    still waiting then. A person who left and was lost (end state ``left``) has no leaving
    time in the records, so a run with such cases is rejected.
    """
    cases = run.cases
    if np.any(cases.state == EndState.LEFT):
        raise ValueError("cases that left and were lost have no leaving time in the records")
    exits = np.full(len(cases), np.nan)
    contacted = ~np.isnan(cases.first_contact)
    exits[contacted] = cases.first_contact[contacted]
    failed = cases.state == EndState.CALLBACK_FAILED
    if failed.any():
        attempts = run.workers.activity == WorkerActivity.CALLBACK_ATTEMPT
        ids, ends = run.workers.case_id[attempts], run.workers.end[attempts]
        order = np.lexsort((ends, ids))
        ids, ends = ids[order], ends[order]
        last = np.flatnonzero(np.r_[ids[1:] != ids[:-1], True])  # last attempt of each case
        position = np.searchsorted(ids[last], cases.case_id[failed])
        exits[failed] = ends[last][position]
    expired = cases.state == EndState.CALLBACK_EXPIRED
    exits[expired] = cases.referral[expired] + expire_after_minutes
    waiting = cases.state == EndState.IN_SYSTEM
    exits[waiting] = run.end_time
    return exits


def littles_law_terms(
    referral: FloatArray, exits: FloatArray, t0: float, t1: float
) -> tuple[float, float, float]:
    """``(L, lambda, W)`` of the cases waiting for a first contact over ``[t0, t1)``.

    ``L`` is the time-average number waiting over the interval, counting everyone in the
    system then, whenever they were referred; ``lambda`` is the number of referrals in
    the interval over its length; ``W`` is the mean time from referral to exit of those
    referrals, followed past ``t1`` to their exit. The two sides of ``L = lambda W``
    differ only by the edge terms (the waiting carried in at ``t0`` and carried out at
    ``t1``), whose expectations cancel in a stationary or periodic system observed over
    whole periods.
    """
    referred = ~np.isnan(referral)
    r, e = referral[referred], exits[referred]
    if np.any(np.isnan(e)) or np.any(e < r - WAIT_TOLERANCE_MINUTES):
        raise ValueError("every referred case needs an exit time after its referral")
    length = t1 - t0
    occupancy = float((np.clip(e, t0, t1) - np.clip(r, t0, t1)).clip(min=0).sum()) / length
    arriving = (r >= t0) & (r < t1)
    rate = float(arriving.sum()) / length
    sojourn = float((e[arriving] - r[arriving]).mean())
    return occupancy, rate, sojourn


def cumulative_intensity(hourly_rates: FloatArray, times: FloatArray) -> FloatArray:
    """``Lambda(t) = integral_0^t lambda(s) ds`` of a weekly, hour-by-hour rate.

    ``hourly_rates`` holds 168 rates per minute (hour 0 = Monday 00:00); the clock starts
    on a Monday at 00:00. By the time-rescaling theorem, the gaps between successive
    values of ``Lambda`` at the points of a Poisson process with this rate are independent
    and exponential with mean 1.
    """
    rates = np.asarray(hourly_rates, dtype=float)
    per_hour = rates * MINUTES_PER_HOUR
    before_hour = np.concatenate(([0.0], np.cumsum(per_hour)))
    t = np.asarray(times, dtype=float)
    weeks, minute = np.divmod(t, MINUTES_PER_WEEK)
    hour = np.minimum((minute // MINUTES_PER_HOUR).astype(np.int64), HOURS_PER_WEEK - 1)
    within = minute - hour * MINUTES_PER_HOUR
    return weeks * before_hour[-1] + before_hour[hour] + rates[hour] * within
