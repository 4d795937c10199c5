"""The tasks of an experiment and what one task computes.

A task is one replication of one scenario at one design point.  :func:`run_task` is a
pure function of its task (the scenario carries its seed, the task its replication
index), so it gives the same numbers in this process, in a local process pool or on a
Dask worker on another machine.  It returns compact tables, so that a sweep of
thousands of runs ships and stores kilobytes per run:

- ``measures``: every measure of :func:`sim.measures.catalogue.measure_run` (each the
  mean over the replication's measurement windows);
- ``hour_of_week``: per hour of the week of arrival (all populations together, every
  window of the replication pooled), the
  counts of cases, of demand coverage could serve, of unmet cases, of referred and
  contacted cases and the sum of their waits, to be pooled over replications;
- ``wait_ecdf``: per population, the share of referred cases contacted within each
  time of a logarithmic grid (:func:`wait_grid_hours`, the scenario's thresholds
  included): the empirical distribution of the time to first contact, evaluated
  exactly at the grid's times; like a measure, the mean over the replication's windows
  (so that it meets ``within_24h_share`` and the other threshold shares at their
  times);

and, when the experiment keeps them (``records: true``; ``station-sim run`` does), the
run's per-case and per-worker records as tables with labels.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.config.schema import Scenario
from sim.config.week import HOURS_PER_WEEK, MINUTES_PER_HOUR, hour_of_week
from sim.measures.catalogue import (
    ALL,
    mean_over_windows,
    mean_where_defined,
    measure_window,
    measure_windows,
)
from sim.model.outcomes import UNMET_OUTCOMES, Outcome, classify, measured
from sim.model.records import Channel, EndState, FollowupStatus, RunRecords, WorkerActivity
from sim.model.station import simulate
from sim.model.windows import window_views
from sim.pipeline.plan import ExperimentPlan

__all__ = [
    "Replication",
    "Task",
    "TaskOutput",
    "appointment_columns",
    "case_columns",
    "plan_tasks",
    "run_replication",
    "run_task",
    "wait_grid_hours",
    "worker_columns",
]

Columns = dict[str, np.ndarray]


@lru_cache(maxsize=64)
def wait_grid_hours(thresholds_hours: tuple[float, ...]) -> np.ndarray:
    """Times (hours) at which the distribution of the wait to first contact is stored:
    12 a decade from 36 seconds to 1000 hours, and the thresholds of the measures."""
    grid = np.round(np.logspace(-2, 3, 61), 10)
    return np.unique(np.concatenate([grid, np.asarray(thresholds_hours, dtype=float)]))


@dataclass(frozen=True)
class Task:
    """One run of an experiment: ``scenario`` (seed included) at design point ``point``,
    replication ``replication``; ``records``: keep its per-case and worker records."""

    task_id: str
    point: int
    label: str
    replication: int
    scenario: Scenario
    records: bool = False


@dataclass(frozen=True)
class TaskOutput:
    """The tables of one finished task (columns as numpy arrays), and where and how long
    it ran (kept in the manifest, never in the result tables)."""

    task_id: str
    measures: Columns
    hour_of_week: Columns
    wait_ecdf: Columns
    seconds: float
    worker: str
    cases: Columns | None = None
    workers: Columns | None = None
    appointments: Columns | None = None

    def tables(self) -> dict[str, Columns]:
        """The tables to store, by name."""
        out = {"measures": self.measures, "hour_of_week": self.hour_of_week}
        out["wait_ecdf"] = self.wait_ecdf
        for name in ("cases", "workers", "appointments"):
            columns = getattr(self, name)
            if columns is not None:
                out[name] = columns
        return out


def task_id(point: int, label: str, replication: int) -> str:
    """The name of a task in the results folder and the manifest."""
    return f"p{point:04d}-{label}-r{replication:04d}"


def plan_tasks(plan: ExperimentPlan) -> list[Task]:
    """Every task of the plan, in table order: point, scenario, replication."""
    records = plan.spec.records
    return [
        Task(task_id(r.point, r.label, k), r.point, r.label, k, r.scenario, records)
        for r in plan.scenarios
        for k in range(plan.spec.replications)
    ]


@dataclass(frozen=True)
class Replication:
    """One replication simulated and measured: its raw records, the records of its
    measured span (every window), the outcome of each of those cases, its measures
    (each the mean over its windows) and the measures of each window."""

    records: RunRecords
    window: RunRecords
    outcome: np.ndarray
    measures: Columns
    per_window: tuple[Columns, ...]


def run_replication(scenario: Scenario, replication: int) -> Replication:
    """Simulate one replication of ``scenario`` and measure it."""
    records = simulate(scenario, replication)
    window = measured(records)
    outcome = classify(window.cases, scenario.measures.late_after_hours * MINUTES_PER_HOUR)
    if records.windows == 1:
        per_window: tuple[Columns, ...] = (measure_window(window, outcome, scenario),)
    else:
        per_window = tuple(measure_windows(records, scenario))
    return Replication(records, window, outcome, mean_over_windows(per_window), per_window)


def run_task(task: Task) -> TaskOutput:
    """Simulate one task and reduce its records to the tables."""
    started = time.perf_counter()
    scenario = task.scenario
    run = run_replication(scenario, task.replication)
    grid = wait_grid_hours(scenario.measures.thresholds_hours)
    return TaskOutput(
        task_id=task.task_id,
        measures=run.measures,
        hour_of_week=hour_of_week_counts(run.window, run.outcome),
        wait_ecdf=wait_distribution_over_windows(run.records, run.window, grid),
        seconds=time.perf_counter() - started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        cases=case_columns(run.records, scenario) if task.records else None,
        workers=worker_columns(run.records) if task.records else None,
        appointments=appointment_columns(run.records) if task.records else None,
    )


def hour_of_week_counts(run: RunRecords, outcome: np.ndarray) -> Columns:
    """Counts and summed waits of the measured cases arriving in each hour of the week."""
    cases = run.cases
    hour = hour_of_week(cases.arrival)
    referred = ~np.isnan(cases.referral) & ~cases.logged  # the log's cases were not
    contacted = referred & ~np.isnan(cases.first_contact)
    wait_h = np.where(contacted, cases.first_contact - cases.referral, 0.0) / MINUTES_PER_HOUR

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(hour[mask], minlength=HOURS_PER_WEEK).astype(np.int64)

    return {
        "hour_of_week": np.arange(HOURS_PER_WEEK, dtype=np.int64),
        "cases": count(np.ones(len(cases), dtype=bool)),
        "eligible": count(outcome != Outcome.NOT_REFERRED),
        "unmet": count(np.isin(outcome, UNMET_OUTCOMES)),
        "referred": count(referred),
        "contacted": count(contacted),
        "wait_sum_h": np.bincount(hour, weights=wait_h, minlength=HOURS_PER_WEEK),
    }


def wait_distribution(run: RunRecords, grid_hours: np.ndarray) -> Columns:
    """Share of the measured referred cases contacted within each time of the grid, per
    population and for all; a case never contacted counts as not within any time, so
    the curve levels off at the share contacted (``nan`` where nobody was referred)."""
    cases = run.cases
    referred = ~np.isnan(cases.referral) & ~cases.logged  # the log's cases were not
    wait_h = (cases.first_contact - cases.referral) / MINUTES_PER_HOUR
    groups = [(name, cases.population == p) for p, name in enumerate(run.population_names)]
    groups.append((ALL, np.ones(len(cases), dtype=bool)))
    populations: list[str] = []
    hours: list[np.ndarray] = []
    shares: list[np.ndarray] = []
    for name, mask in groups:
        chosen = mask & referred
        n = int(np.count_nonzero(chosen))
        waits = np.sort(wait_h[chosen & ~np.isnan(wait_h)])
        within = np.searchsorted(waits, grid_hours, side="right")
        populations.extend([name] * len(grid_hours))
        hours.append(grid_hours)
        shares.append(within / n if n else np.full(len(grid_hours), np.nan))
    return {
        "population": np.asarray(populations, dtype=object),
        "hours": np.concatenate(hours),
        "share": np.concatenate(shares),
    }


def wait_distribution_over_windows(
    records: RunRecords, window: RunRecords, grid_hours: np.ndarray
) -> Columns:
    """:func:`wait_distribution` of a replication: of its one window (``window``), or
    the mean over its windows of each window's (where it is defined)."""
    if records.windows == 1:
        return wait_distribution(window, grid_hours)
    parts = [wait_distribution(view, grid_hours) for view in window_views(records)]
    share = mean_where_defined(np.vstack([part["share"] for part in parts]))
    return {**parts[0], "share": share}


def _labels(names: Sequence[str], codes: np.ndarray) -> np.ndarray:
    return np.asarray(list(names), dtype=object)[codes]


_STATE_LABELS = [""] * (max(EndState) + 1)
for _state in EndState:
    _STATE_LABELS[_state] = _state.label
_OUTCOME_LABELS = [o.label for o in Outcome]
_CHANNEL_LABELS = [c.label for c in Channel]
_ACTIVITY_LABELS = [a.label for a in WorkerActivity]
_FOLLOWUP_LABELS = [s.label for s in FollowupStatus]


def case_columns(run: RunRecords, scenario: Scenario) -> Columns:
    """The per-case records of a run, with labels, the measurement window and the
    outcome the measures give each case (times in minutes, waits in hours)."""
    c = run.cases
    n = len(c)
    in_window = (c.arrival >= run.window_start) & (c.arrival < run.window_end)
    outcome = classify(c, scenario.measures.late_after_hours * MINUTES_PER_HOUR)
    return {
        "replication": np.full(n, run.replication, dtype=np.int64),
        "case_id": c.case_id,
        "population": _labels(run.population_names, c.population),
        "station": _labels(run.station_names, c.station),
        "urgent": c.urgent,
        "arrival_min": c.arrival,
        "arrival_hour_of_week": hour_of_week(c.arrival),
        "referral_min": c.referral,
        "first_contact_min": c.first_contact,
        "service_end_min": c.service_end,
        "onward_referral_min": c.onward_referral,
        "wait_referral_h": (c.first_contact - c.referral) / MINUTES_PER_HOUR,
        "wait_arrival_h": (c.first_contact - c.arrival) / MINUTES_PER_HOUR,
        "channel": _labels(_CHANNEL_LABELS, c.channel),
        "end_state": _labels(_STATE_LABELS, c.state),
        "in_window": in_window,
        "outcome": _labels(_OUTCOME_LABELS, outcome),
        "left_station": c.left_station,
        "callback_attempts": c.callback_attempts,
        "couple_violence": c.couple_violence,
        "followups_wanted": c.followups_wanted,
        "series_end_min": c.series_end,
        "logged": c.logged,
    }


def worker_columns(run: RunRecords) -> Columns:
    """The worker-time records of a run, with labels (times in minutes)."""
    w = run.workers
    return {
        "replication": np.full(len(w), run.replication, dtype=np.int64),
        "worker": _labels(run.worker_names, w.worker),
        "activity": _labels(_ACTIVITY_LABELS, w.activity),
        "station": _labels([*run.station_names, ""], w.station),  # -1 (none) maps to ""
        "start_min": w.start,
        "end_min": w.end,
        "case_id": w.case_id,
    }


def appointment_columns(run: RunRecords) -> Columns:
    """The follow-up appointments of a run, with labels (times in minutes)."""
    a = run.appointments
    return {
        "replication": np.full(len(a), run.replication, dtype=np.int64),
        "case_id": a.case_id,
        "number": a.number,
        "worker": _labels([*run.worker_names, ""], a.worker),  # -1 (none) maps to ""
        "station": _labels(run.station_names, a.station),
        "booked_at_min": a.booked_at,
        "due_min": a.due,
        "start_min": a.start,
        "end_min": a.end,
        "status": _labels(_FOLLOWUP_LABELS, a.status),
        "rebookings": a.rebookings,
    }
