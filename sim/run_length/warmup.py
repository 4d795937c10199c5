"""Warm-up check: how long a run started empty takes to forget its start.

Two statistics are followed week by week, averaged over the replications of a run
started empty: the mean wait from referral to first contact of the cases arriving that
week, and the open caseload (persons in follow-up, from their first contact to the end
of their series) at mid-week.  Two rules read them:

- **Welch's method** in table form: the first of two consecutive weeks whose 95 %
  intervals overlap the steady band (the mean over the second half of the run);
- **MSER-5** (White, 1997; Hoad, Robinson and Davies, 2010): the daily open caseload,
  averaged over the replications, in batches of 5 days; the truncation point that
  minimises the squared standard error of the mean of what remains.

``station-sim warmup CONFIG`` prints the table and both rules' warm-ups; the longest of
them is the one to use.  A run whose statistics never settle says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.schema import Scenario
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR, MINUTES_PER_WEEK
from sim.measures.stats import intervals
from sim.model.station import simulate
from sim.pipeline.backends import Backend, LocalBackend, run_all

__all__ = ["WarmupProfile", "mser", "warmup_profile"]

MSER_BATCH = 5
"""Days per batch of MSER-5."""


@dataclass(frozen=True)
class _Series:
    """One statistic week by week, averaged over replications, and where it settles."""

    title: str
    weekly_mean: np.ndarray
    weekly_half_width: np.ndarray
    steady_mean: float
    steady_half_width: float
    settled_week: int  # first of two consecutive weeks within the steady band

    @property
    def settled(self) -> bool:
        return self.settled_week < len(self.weekly_mean) - 1


@dataclass(frozen=True)
class WarmupProfile:
    """The weekly mean wait and open caseload of a run started empty, and the warm-ups
    Welch's method and MSER-5 give."""

    wait: _Series
    caseload: _Series
    mser_days: float | None  # None: MSER-5 put the truncation in the second half

    def format(self) -> str:
        lines = ["week  mean wait (h)  ± 95 % CI  open caseload  ± 95 % CI"]
        for week in range(len(self.wait.weekly_mean)):
            lines.append(
                f"{week:4d}  {self.wait.weekly_mean[week]:13.1f}  "
                f"{self.wait.weekly_half_width[week]:9.1f}  "
                f"{self.caseload.weekly_mean[week]:13.1f}  "
                f"{self.caseload.weekly_half_width[week]:9.1f}"
            )
        for series in (self.wait, self.caseload):
            lines.append(
                f"{series.title}: steady level (second half) {series.steady_mean:.1f} "
                f"± {series.steady_half_width:.1f}; "
                + (
                    f"Welch: settles at week {series.settled_week}, a warm-up of at least "
                    f"{7 * series.settled_week} days"
                    if series.settled
                    else "Welch: never settles; run more --weeks (or replications)"
                )
            )
        if self.mser_days is None:
            lines.append(
                "open caseload: MSER-5 truncates in the second half of the run: the run is "
                "too short to judge; run more --weeks"
            )
        else:
            lines.append(
                f"open caseload: MSER-5 (batches of {MSER_BATCH} days) truncates after "
                f"{self.mser_days:g} days"
            )
        return "\n".join(lines)


def mser(series: np.ndarray, batch: int = MSER_BATCH) -> int | None:
    """The MSER-``batch`` truncation point of an (averaged) output series, in
    observations: the ``d`` (a whole number of batches) minimising the squared standard
    error of the mean of the batch means after ``d``; ``None`` when that minimum lies in
    the second half, where the rule is not to be trusted."""
    n = len(series) // batch
    if n < 4:
        return None
    means = np.asarray(series[: n * batch], dtype=float).reshape(n, batch).mean(axis=1)
    scores = []
    for d in range(n // 2 + 1):
        rest = means[d:]
        scores.append(float(((rest - rest.mean()) ** 2).sum()) / (len(rest) ** 2))
    best = int(np.argmin(scores))
    return None if best >= n // 2 else best * batch


def weekly_statistics(
    scenario: Scenario, replication: int, weeks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of one replication started empty: the mean wait (hours) of the cases arriving
    each week (``nan`` with nobody contacted), the open caseload at mid-week, and the
    open caseload at each day's noon."""
    run = simulate(scenario, replication)
    cases = run.cases
    week = (cases.arrival // MINUTES_PER_WEEK).astype(int)
    wait = (cases.first_contact - cases.referral) / MINUTES_PER_HOUR
    waits = np.full(weeks, np.nan)
    for k in range(weeks):
        mine = wait[(week == k) & ~np.isnan(wait)]
        if len(mine):
            waits[k] = mine.mean()
    met = ~np.isnan(cases.first_contact)
    start = np.sort(cases.first_contact[met])
    end = np.where(np.isnan(cases.series_end[met]), run.end_time, cases.series_end[met])
    end = np.sort(end)

    def open_at(times: np.ndarray) -> np.ndarray:
        began = np.searchsorted(start, times, side="right")
        ended = np.searchsorted(end, times, side="right")
        return (began - ended).astype(float)

    days = np.arange(weeks * 7) * MINUTES_PER_DAY + MINUTES_PER_DAY / 2
    mid_week = np.arange(weeks) * MINUTES_PER_WEEK + MINUTES_PER_WEEK / 2
    return waits, open_at(mid_week), open_at(days)


def _replication_job(task: tuple[Scenario, int, int]) -> tuple[np.ndarray, ...]:
    return weekly_statistics(*task)


def _series(title: str, table: np.ndarray) -> _Series:
    weeks = table.shape[1]
    weekly = intervals(table)
    steady = intervals(np.nanmean(table[:, weeks // 2 :], axis=1))
    mean, half = weekly.mean, weekly.half_width
    level, level_half = float(steady.mean[0]), float(steady.half_width[0])
    # The transient from an empty start is over at the first of two consecutive weeks
    # whose CIs overlap the steady band.  (Asking every later week to overlap would
    # flag chance excursions, one week in twenty at 95 %.)
    within = np.abs(mean - level) <= np.nan_to_num(half) + level_half
    settled = next((k for k in range(weeks - 1) if within[k] and within[k + 1]), weeks)
    return _Series(title, mean, half, level, level_half, settled)


def warmup_profile(
    scenario: Scenario, weeks: int = 16, backend: Backend | None = None
) -> WarmupProfile:
    """Run ``scenario`` from empty for ``weeks`` weeks, replications as configured."""
    sc = scenario.model_copy(
        update={
            "simulation": scenario.simulation.model_copy(
                update={"warm_up_days": 0.0, "run_days": 7.0 * weeks}
            )
        }
    )
    tasks = [(sc, r, weeks) for r in range(sc.simulation.replications)]
    results = run_all(backend or LocalBackend(1), tasks, _replication_job)
    waits = np.vstack([r[0] for r in results])
    caseload = np.vstack([r[1] for r in results])
    daily = np.vstack([r[2] for r in results]).mean(axis=0)
    truncation = mser(daily)
    return WarmupProfile(
        wait=_series("mean wait", waits),
        caseload=_series("open caseload", caseload),
        mser_days=None if truncation is None else float(truncation),
    )
