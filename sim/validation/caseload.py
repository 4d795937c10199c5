"""Validation cases of the caseload's rules, where a setup makes the answer exact: the
follow-up diary (every minute of work done, every follow-up held) and a daily review
of the police log (every logged case contacted at the next shift start)."""

from __future__ import annotations

from functools import partial

import numpy as np
import numpy.typing as npt

from sim.config.schema import Scenario
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.model.records import EndState, FollowupStatus, RunRecords, WorkerActivity
from sim.validation.case import (
    ALWAYS,
    INTERVIEW_MEAN,
    ExactValues,
    ValidationCase,
    case_seed,
)
from sim.validation.verdict import Observation, Statistic

__all__ = ["DIARY_FOLLOWUPS", "DIARY_FOLLOWUP_MINUTES", "diary_case", "outreach_case"]


# -- Follow-up diary ----------------------------------------------------------------------


DIARY_FOLLOWUPS = 3
"""Follow-ups every person of the diary case has, each of ``DIARY_FOLLOWUP_MINUTES``."""
DIARY_FOLLOWUP_MINUTES = 10.0


def diary_case(
    load: float, *, run_days: float, replications: int, quick: bool = False
) -> ValidationCase:
    """One worker always on site; every person met has exactly ``DIARY_FOLLOWUPS``
    follow-ups of fixed duration, a day apart, never missed, in a diary that always has
    room.  Every minute of work that arrives is done, so the worker's busy share is the
    offered load ``lambda (E[interview] + k d)`` exactly, and every follow-up wanted is
    held."""
    name = f"diary/load{load:.2f}"
    per_minute = load / (INTERVIEW_MEAN + DIARY_FOLLOWUPS * DIARY_FOLLOWUP_MINUTES)
    document = {
        "name": name.replace("/", "-").replace(".", "_"),
        "simulation": {
            "warm_up_days": 7,
            "run_days": run_days,
            # Long enough for the last persons of the window to have their follow-ups.
            "drain_days": 7,
            "replications": replications,
            "seed": case_seed(name),
        },
        "populations": {
            "person": {
                "arrivals": {"per_hour": per_minute * MINUTES_PER_HOUR},
                "interview": {"dist": "exponential", "mean": INTERVIEW_MEAN},
                "followups": {
                    "count": {"dist": "fixed", "value": DIARY_FOLLOWUPS},
                    "gap_days": {"dist": "fixed", "value": 1},
                    "duration": {"dist": "fixed", "value": DIARY_FOLLOWUP_MINUTES},
                },
            }
        },
        "staffing": {"workers": [{"name": "worker", "roster": [ALWAYS]}]},
        "diary": {"horizon_days": 365, "bookable_share": 1.0},
        "measures": {"followup_observation_days": 7},
    }
    return ValidationCase(
        name=name,
        group="Follow-up diary",
        title=f"{DIARY_FOLLOWUPS} follow-ups of {DIARY_FOLLOWUP_MINUTES:g} min, load {load:.2f}",
        document=document,
        statistics=(
            Statistic("busy", "worker busy share: lambda (E[interview] + k d)", probability=True),
            Statistic(
                "unheld",
                "follow-ups of persons met in the window not held",
                "identity",
                context="held",
            ),
        ),
        observe=_observe_diary,
        exact=partial(_diary_exact, load),
        quick=quick,
    )


def _observe_diary(run: RunRecords, scenario: Scenario) -> Observation:
    t0, t1 = run.window_start, run.window_end
    w = run.workers
    work = np.isin(w.activity, (WorkerActivity.INTERVIEW, WorkerActivity.FOLLOWUP))
    busy = float((np.clip(w.end[work], t0, t1) - np.clip(w.start[work], t0, t1)).sum())
    cases = run.cases
    met = cases.state == EndState.CONTACTED
    rows = run.appointments
    mine = np.isin(rows.case_id, cases.case_id[met])
    held = int(np.count_nonzero(mine & (rows.status == FollowupStatus.HELD)))
    wanted = int(cases.followups_wanted[met].sum())
    return {"busy": busy / (t1 - t0), "unheld": float(wanted - held), "held": float(held)}


def _diary_exact(load: float, _: Scenario) -> ExactValues:
    return {"busy": load, "unheld": 0.0}


# -- Outreach from the police log ---------------------------------------------------------


OUTREACH_LOG_PROBABILITY = 0.6
"""Share of the cases not referred for want of a worker that officers write in the log."""

OUTREACH_OFF_SITE_HOURS = (16.0, 16.0, 16.0, 16.0, 64.0)
"""The gaps between the outreach case's shifts (weekdays 09:00-17:00), in hours: Monday
to Thursday nights, then Friday 17:00 to Monday 09:00. Written out, not read from the
roster, so that a bug in the roster code cannot hide."""


def outreach_case(*, run_days: float, replications: int, quick: bool = False) -> ValidationCase:
    """A daily review of the police log whose answer is known: one worker on site on
    weekdays 09:00-17:00, officers who never refer when she is not there and log a share
    ``OUTREACH_LOG_PROBABILITY`` of those cases, a review that takes no time, callbacks
    that always reach the person, and interviews of zero length.  Every logged case is
    then contacted exactly at the start of the next shift, and, arrivals being Poisson
    at a flat rate, the mean time from entry to contact is the mean residual of the
    off-site gaps, ``sum(L^2 / 2) / sum(L)`` (20 h)."""
    name = "outreach/daily_review"
    document = {
        "name": "outreach-daily_review",
        "simulation": {
            "warm_up_days": 7,
            "run_days": run_days,
            # The Friday-evening entries of the window's last week are read on Monday.
            "drain_days": 4,
            "replications": replications,
            "seed": case_seed(name),
        },
        "populations": {
            "person": {
                "arrivals": {"per_hour": 0.5},
                "interview": {"dist": "fixed", "value": 0},
                "referral": {
                    "probability": 1.0,
                    "probability_when_no_worker": 0.0,
                    "log_probability": OUTREACH_LOG_PROBABILITY,
                },
            }
        },
        "staffing": {
            "workers": [
                {
                    "name": "worker",
                    "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}],
                }
            ]
        },
        "outreach": {"log_access": "daily_review", "review_minutes": 0},
        "callbacks": {
            "reach_probability": {"initial": 1.0, "floor": 1.0},
            "max_attempts": 1,
            "order": "oldest_first",
        },
    }
    return ValidationCase(
        name=name,
        group="Outreach",
        title="daily review of the police log",
        document=document,
        statistics=(
            Statistic(
                "logged",
                "share logged of the cases not referred for want of a worker",
                probability=True,
            ),
            Statistic("hours", "hours from log entry to contact"),
            Statistic(
                "off_shift",
                "logged cases not contacted at the next shift start",
                "identity",
                context="logged_n",
            ),
        ),
        observe=_observe_outreach,
        exact=_outreach_exact,
        quick=quick,
    )


def _next_shift_start(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The first 09:00 of a weekday at or after each time (minutes from Monday 00:00)."""
    day = np.floor(times / MINUTES_PER_DAY)
    start = day * MINUTES_PER_DAY + 9 * MINUTES_PER_HOUR
    later = times > start
    day = np.where(later, day + 1, day)
    weekday = day % 7
    day = np.where(weekday >= 5, day + (7 - weekday), day)
    return day * MINUTES_PER_DAY + 9 * MINUTES_PER_HOUR


def _observe_outreach(run: RunRecords, scenario: Scenario) -> Observation:
    cases = run.cases
    window = (cases.arrival >= run.window_start) & (cases.arrival < run.window_end)
    logged = window & cases.logged
    missed = window & (cases.state == EndState.NOT_REFERRED_NO_WORKER)
    entry = cases.referral[logged]
    contact = cases.first_contact[logged]
    # nan (never contacted) compares unequal, so it counts as a failure too.
    on_time = np.abs(contact - _next_shift_start(entry)) <= 1e-6
    n = int(np.count_nonzero(logged))
    return {
        "logged": n / (n + int(np.count_nonzero(missed))),
        "hours": float(np.mean(contact - entry)) / MINUTES_PER_HOUR,
        "off_shift": float(n - int(np.count_nonzero(on_time))),
        "logged_n": float(n),
    }


def _outreach_exact(_: Scenario) -> ExactValues:
    gaps = np.asarray(OUTREACH_OFF_SITE_HOURS)
    return {
        "logged": OUTREACH_LOG_PROBABILITY,
        "hours": float((gaps**2 / 2).sum() / gaps.sum()),
        "off_shift": 0.0,
    }
