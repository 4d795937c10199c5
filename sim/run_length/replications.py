"""How many replications a scenario needs: the replications algorithm of Hoad, Robinson
and Davies (2010, *Journal of the Operational Research Society* 61, 1632-1644).

For each measure, replications are added until the 95 % confidence half-width relative
to the mean, ``t(0.975, n - 1) s_n / (sqrt(n) |mean_n|)``, is at most the target, and
stays so over a look-ahead of ``k`` further replications (``k`` grows to
``look_ahead * n / 100`` beyond 100 replications, as the authors advise); the answer is
the first ``n`` from which it held.  A measure whose mean is zero has no relative
precision and is reported as such.  Replications run in batches on the chosen backend,
so the answer does not depend on how many processes computed it.

Not taken from ``sim-tools``, which implements the same algorithm: it would bring
plotly, rich and scikit-learn into the project for about sixty lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from scipy import stats

from sim.config.schema import Scenario
from sim.measures.catalogue import ALL, measures_for
from sim.pipeline.backends import Backend, run_all
from sim.pipeline.tasks import run_replication

__all__ = ["ReplicationsAnswer", "format_replications", "replications_needed"]


@dataclass(frozen=True)
class ReplicationsAnswer:
    """The algorithm's answer for one measure."""

    measure: str
    needed: int | None  # None: not reached within the budget, or undefined
    mean: float
    relative_half_width: float  # at the answer (or at the budget)
    run: int  # replications run in all
    note: str = ""
    # Correlation of consecutive windows of a replication (nan: one window a replication).
    window_lag1: float = math.nan


def relative_half_width(values: np.ndarray) -> float:
    """The 95 % Student-t half-width of the mean of ``values``, over the mean."""
    n = len(values)
    mean = float(values.mean())
    if n < 2 or mean == 0:
        return math.inf
    half = float(stats.t.ppf(0.975, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return half / abs(mean)


def _look_ahead(n: int, look_ahead: int) -> int:
    return look_ahead if n <= 100 else math.floor(look_ahead * n / 100)


def _measure_job(
    scenario: Scenario, metrics: Sequence[str], replication: int
) -> tuple[list[float], list[list[float]]]:
    """A replication's value of each of ``metrics``, and each window's values."""
    run = run_replication(scenario, replication)
    return _values(run.measures, metrics), [_values(w, metrics) for w in run.per_window]


def _values(columns: dict[str, np.ndarray], metrics: Sequence[str]) -> list[float]:
    found = {
        m: float(v)
        for p, m, v in zip(columns["population"], columns["metric"], columns["value"], strict=True)
        if p == ALL
    }
    return [found[m] for m in metrics]


def window_lag1(per_window: np.ndarray) -> float:
    """The lag-1 autocorrelation of consecutive windows of a replication, pooled over
    replications (``per_window``: replications x windows): the correlation of the pairs
    (window k, window k + 1), each centred on the mean of all windows, which the
    independent replications estimate without the bias of a mean within each.  Near 0,
    K windows buy about the precision of K replications; the replications stay
    independent of each other whatever it is."""
    values = per_window[np.isfinite(per_window).all(axis=1)]
    if values.shape[1] < 2 or len(values) < 2:
        return math.nan
    centred = values - values.mean()
    variance = float((centred**2).mean())
    if variance == 0:
        return math.nan
    return float((centred[:, :-1] * centred[:, 1:]).mean()) / variance


def replications_needed(
    scenario: Scenario,
    metrics: Sequence[str],
    backend: Backend,
    target: float = 0.05,
    initial: int = 3,
    look_ahead: int = 5,
    budget: int = 200,
    on_batch: Callable[[int], None] | None = None,
) -> list[ReplicationsAnswer]:
    """The replications each measure of ``metrics`` (population ``all``) needs for a
    relative 95 % half-width of at most ``target``."""
    known = measures_for(scenario)
    for m in metrics:
        known.named(m)  # KeyError for an unknown one: the caller checks first
    values: list[list[float]] = []
    windows: list[list[list[float]]] = []
    batch = max(initial, look_ahead)
    answers: dict[str, ReplicationsAnswer] = {}
    while len(answers) < len(metrics) and len(values) < budget:
        start = len(values)
        count = min(batch, budget - start)
        job = partial(_measure_job, scenario, list(metrics))
        for replication, per_window in run_all(backend, list(range(start, start + count)), job):
            values.append(replication)
            windows.append(per_window)
        if on_batch is not None:
            on_batch(len(values))
        table = np.asarray(values)
        for k, metric in enumerate(metrics):
            if metric in answers:
                continue
            answer = _solve(metric, table[:, k], target, initial, look_ahead)
            if answer is not None:
                answers[metric] = answer
    table = np.asarray(values)
    by_window = np.asarray(windows)  # replications x windows x metrics
    out = []
    for k, metric in enumerate(metrics):
        lag1 = window_lag1(by_window[:, :, k])
        if metric in answers:
            out.append(replace(answers[metric], window_lag1=lag1))
            continue
        column = table[:, k]
        finite = column[np.isfinite(column)]
        mean = float(finite.mean()) if len(finite) else math.nan
        note = (
            "a mean of zero has no relative precision"
            if mean == 0
            else f"not reached within {budget} replications"
        )
        hw = relative_half_width(finite)
        out.append(ReplicationsAnswer(metric, None, mean, hw, len(column), note, lag1))
    return out


def _solve(
    metric: str, column: np.ndarray, target: float, initial: int, look_ahead: int
) -> ReplicationsAnswer | None:
    """The first n from which the precision holds over its look-ahead, if the
    replications so far show it."""
    total = len(column)
    for n in range(max(initial, 2), total + 1):
        if relative_half_width(column[:n]) > target:
            continue
        k = _look_ahead(n, look_ahead)
        if n + k > total:
            return None  # not enough replications yet to look ahead
        if all(relative_half_width(column[: n + j]) <= target for j in range(1, k + 1)):
            return ReplicationsAnswer(
                metric, n, float(column[:n].mean()), relative_half_width(column[:n]), total
            )
    return None


def format_replications(answers: Sequence[ReplicationsAnswer], target: float) -> str:
    """The answers as a table (with the windows' lag-1 autocorrelation where a
    replication measures several windows)."""
    windowed = any(math.isfinite(a.window_lag1) for a in answers)
    lines = [
        f"Replications for a 95 % CI half-width within {100 * target:g} % of the mean "
        "(Hoad, Robinson and Davies 2010, look-ahead included):",
        f"  {'measure':28} {'needed':>7} {'mean':>12} {'half-width %':>13}"
        + (f" {'windows lag-1':>14}" if windowed else ""),
    ]
    for a in answers:
        needed = str(a.needed) if a.needed is not None else "-"
        hw = 100 * a.relative_half_width
        shown_hw = f"{hw:.1f}" if math.isfinite(hw) else "-"
        lag1 = f" {a.window_lag1:>14.2f}" if windowed and math.isfinite(a.window_lag1) else ""
        if windowed and not lag1:
            lag1 = f" {'-':>14}"
        lines.append(f"  {a.measure:28} {needed:>7} {a.mean:>12.4g} {shown_hw:>13}{lag1}  {a.note}")
    found = [a.needed for a in answers if a.needed is not None]
    if found:
        lines.append(f"The measures that reached the target need {max(found)} replications.")
    if windowed:
        lines += [
            "A replication measures several windows; its value is their mean.",
            "'windows lag-1': the correlation of consecutive windows (near 0: K windows",
            "buy about the precision of K replications). Replications stay independent.",
        ]
    return "\n".join(lines)
