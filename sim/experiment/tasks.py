"""The tasks of an experiment and what one task computes.

A task is one replication of one scenario at one design point.  :func:`run_task` is a
pure function of its task (the scenario carries its seed, the task its replication
index), so it gives the same numbers in this process, in a local process pool or on a
Dask worker on another machine.  It returns only compact tables, never the per-case
records, so that a sweep of thousands of runs ships and stores kilobytes per run:

- ``measures``: every measure of :func:`sim.summary.measure_run`;
- ``hour_of_week``: per hour of the week of arrival (all populations together), the
  counts of cases, of demand coverage could serve, of unmet cases, of referred and
  contacted cases and the sum of their waits, to be pooled over replications;
- ``wait_ecdf``: per population, the share of referred cases contacted within each
  time of a fixed logarithmic grid (``WAIT_GRID_HOURS``): the empirical distribution
  of the time to first contact, evaluated exactly at the grid's times.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import numpy as np

from sim.config import Scenario
from sim.experiment.spec import ExperimentPlan
from sim.records import UNMET_OUTCOMES, Outcome, RunRecords
from sim.runner import run_replication
from sim.summary import ALL
from sim.week import HOURS_PER_WEEK, MINUTES_PER_HOUR, hour_of_week

__all__ = ["WAIT_GRID_HOURS", "Task", "TaskOutput", "plan_tasks", "run_task"]

WAIT_GRID_HOURS: np.ndarray = np.unique(
    np.concatenate([np.round(np.logspace(-2, 3, 61), 10), [1.0, 24.0, 72.0]])
)
"""Times (hours) at which the distribution of the wait to first contact is stored:
12 a decade from 36 seconds to 1000 hours, and the 1 h, 24 h and 72 h thresholds."""


@dataclass(frozen=True)
class Task:
    """One run of an experiment: ``scenario`` (seed included) at design point ``point``,
    replication ``replication``."""

    task_id: str
    point: int
    label: str
    replication: int
    scenario: Scenario


@dataclass(frozen=True)
class TaskOutput:
    """The compact tables of one finished task (columns as numpy arrays), and where and
    how long it ran (kept in the manifest, never in the result tables)."""

    task_id: str
    measures: dict[str, np.ndarray]
    hour_of_week: dict[str, np.ndarray]
    wait_ecdf: dict[str, np.ndarray]
    seconds: float
    worker: str


def task_id(point: int, label: str, replication: int) -> str:
    """The name of a task in the results folder and the manifest."""
    return f"p{point:04d}-{label}-r{replication:04d}"


def plan_tasks(plan: ExperimentPlan) -> list[Task]:
    """Every task of the plan, in table order: point, scenario, replication."""
    return [
        Task(task_id(r.point, r.label, k), r.point, r.label, k, r.scenario)
        for r in plan.scenarios
        for k in range(plan.spec.replications)
    ]


def run_task(task: Task) -> TaskOutput:
    """Simulate one task and reduce its records to the compact tables."""
    started = time.perf_counter()
    result = run_replication(task.scenario, task.replication, keep_records=True)
    records = result.records
    assert records is not None  # asked for above
    measures = {
        "population": np.asarray([m.population for m in result.measures], dtype=object),
        "metric": np.asarray([m.metric for m in result.measures], dtype=object),
        "value": np.asarray([m.value for m in result.measures], dtype=float),
    }
    return TaskOutput(
        task_id=task.task_id,
        measures=measures,
        hour_of_week=hour_of_week_counts(records),
        wait_ecdf=wait_distribution(records),
        seconds=time.perf_counter() - started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def hour_of_week_counts(run: RunRecords) -> dict[str, np.ndarray]:
    """Counts and summed waits of the cases arriving in each hour of the week."""
    cases = run.cases
    hour = hour_of_week(cases.arrival)
    referred = ~np.isnan(cases.referral)
    contacted = referred & ~np.isnan(cases.first_contact)
    wait_h = np.where(contacted, cases.first_contact - cases.referral, 0.0) / MINUTES_PER_HOUR

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(hour[mask], minlength=HOURS_PER_WEEK).astype(np.int64)

    return {
        "hour_of_week": np.arange(HOURS_PER_WEEK, dtype=np.int64),
        "cases": count(np.ones(len(cases), dtype=bool)),
        "eligible": count(cases.outcome != Outcome.NOT_REFERRED),
        "unmet": count(np.isin(cases.outcome, UNMET_OUTCOMES)),
        "referred": count(referred),
        "contacted": count(contacted),
        "wait_sum_h": np.bincount(hour, weights=wait_h, minlength=HOURS_PER_WEEK),
    }


def wait_distribution(run: RunRecords) -> dict[str, np.ndarray]:
    """Share of referred cases contacted within each time of ``WAIT_GRID_HOURS``, per
    population and for all; a case never contacted counts as not within any time, so
    the curve levels off at the share contacted (``nan`` where nobody was referred)."""
    cases = run.cases
    referred = ~np.isnan(cases.referral)
    wait_h = (cases.first_contact - cases.referral) / MINUTES_PER_HOUR
    groups = [(name, cases.population == p) for p, name in enumerate(run.population_names)]
    groups.append((ALL, np.ones(len(cases), dtype=bool)))
    populations, hours, shares = [], [], []
    for name, mask in groups:
        chosen = mask & referred
        n = int(np.count_nonzero(chosen))
        waits = np.sort(wait_h[chosen & ~np.isnan(wait_h)])
        within = np.searchsorted(waits, WAIT_GRID_HOURS, side="right")
        populations.extend([name] * len(WAIT_GRID_HOURS))
        hours.append(WAIT_GRID_HOURS)
        shares.append(within / n if n else np.full(len(WAIT_GRID_HOURS), np.nan))
    return {
        "population": np.asarray(populations, dtype=object),
        "hours": np.concatenate(hours),
        "share": np.concatenate(shares),
    }
