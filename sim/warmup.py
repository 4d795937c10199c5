"""Warm-up check: the weekly mean wait of runs started empty, across replications.

Welch's graphical method in table form: run the scenario with no warm-up, average each
week's mean wait from referral to first contact over the replications, and compare
early weeks with the steady level (the mean over the second half of the run).  The
warm-up must cover the weeks before the weekly means first reach the confidence band of
that level; ``station-sim warmup CONFIG`` prints the table and that first week.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import Scenario
from sim.model import simulate
from sim.pipeline.backends import Backend, LocalBackend, run_all
from sim.stats import intervals
from sim.week import MINUTES_PER_HOUR, MINUTES_PER_WEEK

__all__ = ["WarmupProfile", "warmup_profile"]


@dataclass(frozen=True)
class WarmupProfile:
    """Weekly mean waits (hours) of a run started empty, averaged over replications."""

    weekly_mean_h: np.ndarray
    weekly_half_width_h: np.ndarray
    steady_mean_h: float
    steady_half_width_h: float
    settled_week: int  # first of two consecutive weeks within the steady band

    def format(self) -> str:
        lines = ["week  mean wait (h)  95 % CI half-width"]
        for week, (mean, half) in enumerate(
            zip(self.weekly_mean_h, self.weekly_half_width_h, strict=True)
        ):
            lines.append(f"{week:4d}  {mean:13.1f}  {half:19.1f}")
        lines.append(
            f"steady level (second half of the run): {self.steady_mean_h:.1f} "
            f"± {self.steady_half_width_h:.1f} h"
        )
        if self.settled_week >= len(self.weekly_mean_h) - 1:
            lines.append(
                "the weekly means never settled into the steady band: run more --weeks "
                "(or more replications) before choosing a warm-up"
            )
        else:
            lines.append(
                f"weekly means reach the steady band at week {self.settled_week}: "
                f"a warm-up of at least {7 * self.settled_week} days"
            )
        return "\n".join(lines)


def weekly_mean_waits(scenario: Scenario, replication: int, weeks: int) -> np.ndarray:
    """Mean wait from referral to first contact (hours) of the cases arriving in each
    week of one replication (``nan`` for a week with nobody contacted)."""
    cases = simulate(scenario, replication).cases
    week = (cases.arrival // MINUTES_PER_WEEK).astype(int)
    wait = (cases.first_contact - cases.referral) / MINUTES_PER_HOUR
    means = np.full(weeks, np.nan)
    for k in range(weeks):
        waits = wait[(week == k) & ~np.isnan(wait)]
        if len(waits):
            means[k] = waits.mean()
    return means


def _replication_job(task: tuple[Scenario, int, int]) -> np.ndarray:
    return weekly_mean_waits(*task)


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
    table = np.vstack(run_all(backend or LocalBackend(1), tasks, _replication_job))
    weekly = intervals(table)
    steady = intervals(np.nanmean(table[:, weeks // 2 :], axis=1))
    mean, half = weekly.mean, weekly.half_width
    level, level_half = float(steady.mean[0]), float(steady.half_width[0])
    # The transient from an empty start is over at the first of two consecutive weeks
    # whose CIs overlap the steady band.  (Asking every later week to overlap would
    # flag chance excursions, one week in twenty at 95 %.)
    within = np.abs(mean - level) <= half + level_half
    settled = next((k for k in range(weeks - 1) if within[k] and within[k + 1]), weeks)
    return WarmupProfile(mean, half, level, level_half, settled)
