"""Measures of one run, and their means and confidence intervals across replications.

Per replication, each population (and ``all``) gets: counts by outcome, unmet demand
(count and share), waits from referral and from first police contact to first contact
(mean, median, 90th and 95th percentile, in hours, over the cases contacted), the share
contacted within each threshold of referral (over the cases referred, so a case never
contacted counts as not within), and the channels of first contact.  The scenario as a
whole gets worker utilisation, overtime, on-call call-outs, and costs.

Across replications each measure gets its mean and a Student-t 95 % confidence interval
(replications are independent; the interval is undefined for a single replication).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from sim.config import Scenario
from sim.records import UNMET_OUTCOMES, Channel, Outcome, RunRecords, WorkerActivity
from sim.roster import expanded_worker_names
from sim.week import DAYS_PER_YEAR, MINUTES_PER_DAY, MINUTES_PER_HOUR, MINUTES_PER_WEEK

__all__ = [
    "ALL",
    "MeasureRow",
    "SummaryRow",
    "annual_fixed_cost",
    "measure_run",
    "summarise",
    "threshold_metric",
]

ALL = "all"
"""The population label of measures over every population together."""

WEEKS_PER_YEAR = DAYS_PER_YEAR / 7

# Labels and codes read once: enum members are slow to look up in a loop that runs for
# every population of every replication.
_OUTCOME_LABELS = tuple((o.label, int(o)) for o in Outcome)
_CHANNEL_SHARES = tuple(
    (f"{c.label}_share", int(c)) for c in (Channel.ON_SITE, Channel.ON_CALL, Channel.CALLBACK)
)


@dataclass(frozen=True)
class MeasureRow:
    """One measure of one replication."""

    replication: int
    population: str
    metric: str
    value: float


@dataclass(frozen=True)
class SummaryRow:
    """One measure across replications: mean, standard deviation and 95 % CI."""

    population: str
    metric: str
    n: int
    mean: float
    sd: float
    half_width: float
    ci_low: float
    ci_high: float


def threshold_metric(hours: float) -> str:
    """Name of the 'share contacted within ``hours`` of referral' measure."""
    return f"within_{hours:g}h_share"


def measure_run(run: RunRecords, scenario: Scenario) -> list[MeasureRow]:
    """Every measure of one run."""
    cases = run.cases
    rows: list[MeasureRow] = []
    groups = [(name, cases.population == p) for p, name in enumerate(run.population_names)]
    groups.append((ALL, np.ones(len(cases), dtype=bool)))
    for name, mask in groups:
        for metric, value in _case_measures(run, scenario, mask):
            rows.append(MeasureRow(run.replication, name, metric, value))
    for metric, value in _system_measures(run, scenario):
        rows.append(MeasureRow(run.replication, ALL, metric, value))
    return rows


def _case_measures(
    run: RunRecords, scenario: Scenario, mask: np.ndarray
) -> Iterable[tuple[str, float]]:
    cases = run.cases
    outcome = cases.outcome[mask]
    n = len(outcome)
    counts = np.bincount(outcome, minlength=len(Outcome))
    eligible = n - counts[Outcome.NOT_REFERRED]  # demand that coverage could serve
    unmet = int(sum(counts[o] for o in UNMET_OUTCOMES))
    years = (run.window_end - run.window_start) / (DAYS_PER_YEAR * MINUTES_PER_DAY)
    referred = int(np.count_nonzero(~np.isnan(cases.referral[mask])))
    yield "cases", float(n)
    yield "cases_per_year", n / years
    yield "referred", float(referred)
    for label, code in _OUTCOME_LABELS:
        yield label, float(counts[code])
    yield "unmet", float(unmet)
    yield "unmet_share", _share(unmet, eligible)
    yield "met_late_share", _share(counts[Outcome.MET_LATE], eligible)
    yield "left_station", float(np.count_nonzero(cases.left_station[mask]))

    contact = cases.first_contact[mask]
    contacted = ~np.isnan(contact)
    from_referral = (contact - cases.referral[mask])[contacted] / MINUTES_PER_HOUR
    from_arrival = (contact - cases.arrival[mask])[contacted] / MINUTES_PER_HOUR
    for label, waits in (("wait_referral", from_referral), ("wait_arrival", from_arrival)):
        median, p90, p95 = _quantiles(waits, (0.5, 0.9, 0.95))
        yield f"{label}_mean_h", _mean(waits)
        yield f"{label}_median_h", median
        yield f"{label}_p90_h", p90
        yield f"{label}_p95_h", p95
    for hours in scenario.measures.thresholds_hours:
        yield threshold_metric(hours), _share(np.count_nonzero(from_referral <= hours), referred)
    channel = cases.channel[mask][contacted]
    for label, code in _CHANNEL_SHARES:
        yield label, _share(np.count_nonzero(channel == code), len(channel))


def _system_measures(run: RunRecords, scenario: Scenario) -> Iterable[tuple[str, float]]:
    records = run.workers
    start, end = run.window_start, run.window_end
    years = (end - start) / (DAYS_PER_YEAR * MINUTES_PER_DAY)
    weeks = (end - start) / MINUTES_PER_WEEK
    clipped = np.clip(records.end, start, end) - np.clip(records.start, start, end)
    on_site_worker = records.worker < len(run.worker_names) - _responders(scenario)

    def total(activity: WorkerActivity, workers: np.ndarray = on_site_worker) -> float:
        return float(clipped[(records.activity == activity) & workers].sum())

    on_site = total(WorkerActivity.SHIFT) - total(WorkerActivity.TRAVEL)
    overtime = total(WorkerActivity.OVERTIME)
    busy = total(WorkerActivity.INTERVIEW) + total(WorkerActivity.CALLBACK_ATTEMPT) - overtime
    callout_rows = (
        (records.activity == WorkerActivity.CALLOUT)
        & (records.start >= start)
        & (records.start < end)
    )
    callout_minutes = float(clipped[callout_rows].sum())
    yield "utilisation", _share(busy, on_site)
    yield "on_site_hours_per_year", on_site / MINUTES_PER_HOUR / years
    yield "travel_hours_per_year", total(WorkerActivity.TRAVEL) / MINUTES_PER_HOUR / years
    yield "overtime_hours_per_year", overtime / MINUTES_PER_HOUR / years
    yield "callouts_per_week", np.count_nonzero(callout_rows) / weeks
    yield "callout_hours_per_year", callout_minutes / MINUTES_PER_HOUR / years

    costs = scenario.costs
    fixed = annual_fixed_cost(scenario)
    variable = (overtime + callout_minutes) / MINUTES_PER_HOUR / years * costs.overtime_eur_per_hour
    met = np.isin(run.cases.outcome, (Outcome.MET, Outcome.MET_LATE))
    met_per_year = np.count_nonzero(met) / years
    yield "cost_eur_per_year", fixed + variable
    yield "cost_per_case_met_eur", (fixed + variable) / met_per_year if met_per_year else np.nan


def annual_fixed_cost(scenario: Scenario) -> float:
    """Salaries (FTE x FTE cost) and on-call premiums of a scenario, in EUR a year.

    A worker's FTE is its ``fte`` or, by default, its rostered hours over a full-time
    week; absence days are paid, so they do not lower the cost.
    """
    costs = scenario.costs
    fte = 0.0
    for _name, index, _copy in expanded_worker_names(scenario):
        worker = scenario.staffing.workers[index]
        if worker.fte is not None:
            fte += worker.fte
        else:
            weekly_hours = sum(s.minutes_per_week for s in worker.roster) / MINUTES_PER_HOUR
            fte += weekly_hours / costs.hours_per_fte_week
    on_call = 0.0
    if scenario.on_call is not None:
        weekly_hours = sum(w.minutes_per_week for w in scenario.on_call.windows) / MINUTES_PER_HOUR
        on_call = (
            weekly_hours * WEEKS_PER_YEAR * scenario.on_call.responders * costs.on_call_eur_per_hour
        )
    return fte * costs.fte_eur_per_year + on_call


def _responders(scenario: Scenario) -> int:
    return 0 if scenario.on_call is None else scenario.on_call.responders


def summarise(rows: Sequence[MeasureRow], confidence: float = 0.95) -> list[SummaryRow]:
    """Mean and Student-t confidence interval of each measure across replications.

    A measure that is undefined in some replication (``nan``, e.g. a median with no
    case contacted) is summarised over the replications where it is defined.
    """
    grouped: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        grouped.setdefault((row.population, row.metric), []).append(row.value)
    out = []
    for (population, metric), values in grouped.items():
        x = np.asarray(values, dtype=float)
        x = x[~np.isnan(x)]
        n = len(x)
        mean = float(x.mean()) if n else np.nan
        sd = float(x.std(ddof=1)) if n > 1 else np.nan
        t = _t_quantile(0.5 + confidence / 2, n - 1) if n > 1 else np.nan
        half = float(t * sd / np.sqrt(n)) if n > 1 else np.nan
        out.append(SummaryRow(population, metric, n, mean, sd, half, mean - half, mean + half))
    return out


@lru_cache(maxsize=256)
def _t_quantile(q: float, dof: int) -> float:
    # scipy's ppf costs about 50 µs a call; an experiment summarises thousands of
    # measures over the same few replication counts.
    return float(stats.t.ppf(q, dof))


def _share(part: float, whole: float) -> float:
    return float(part) / whole if whole else np.nan


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else np.nan


def _quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    # One call for all: numpy partitions once, and each value is the one it gives alone.
    return np.quantile(x, qs).tolist() if len(x) else [np.nan] * len(qs)
