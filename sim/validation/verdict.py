"""How a simulated statistic is judged against its exact value: the verdict rule.

A statistic is observed once per replication (replications are independent: each has
its own random streams). Its row in the validation table gives the mean over the
replications, the Student-t 95 % confidence interval, and the half-width of that
interval relative to the exact value.

The verdict is stricter about false alarms than the 95 % interval, because the table has
many rows: the whole table is one family of tests whose chance of failing a correct
engine is at most ``FAMILY_ALPHA`` (1 %). By Bonferroni's inequality it is enough that
each of the table's ``n`` rows fails a correct engine with probability at most
``FAMILY_ALPHA / n``, whatever the dependence between rows; a row that makes ``m``
comparisons (168 hours of the week) splits its share again, ``FAMILY_ALPHA / (n m)`` per
comparison. A comparison passes when the exact value lies in the simulation's two-sided
Student-t interval at that level: ``|mean - exact| <= t_limit * se``.

Five kinds of statistic are judged:

* ``mean``: one number per replication (a mean wait, a share), compared as above.
* ``hourly``: 168 numbers per replication, one per hour of the week, each compared as
  above; the row shows the hour furthest from its exact value relative to its limit.
* ``chi-square``: counts per hour of the week, summed over replications and compared with
  their expected values by Pearson's chi-square test (pass: p-value >= the row's level).
* ``exponential``: a sample pooled over replications, compared with an exponential law of
  the exact mean by the Kolmogorov-Smirnov test (pass: p-value >= the row's level).
* ``identity``: an integer that must be exactly zero in every replication (a count that
  must balance); no statistics involved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from sim.config.week import DAY_NAMES

__all__ = [
    "FAMILY_ALPHA",
    "Observation",
    "Statistic",
    "ValidationRow",
    "hour_label",
    "judge",
]

FAMILY_ALPHA = 0.01
"""Chance that a correct engine fails at least one row of the table (Bonferroni bound)."""

CONFIDENCE = 0.95
"""Level of the confidence interval shown in the table (not the verdict's level)."""

Observation = Mapping[str, npt.NDArray[np.float64] | float]
"""What one replication of a case yields: named statistics, scalars or arrays."""

Test = Literal["mean", "hourly", "chi-square", "exponential", "identity"]


@dataclass(frozen=True)
class Statistic:
    """A statistic of a validation case, as it appears in one row of the table.

    ``key`` names the observation of each replication (and the exact value); ``label``
    is shown in the table; ``test`` says how it is judged (see the module docstring).
    ``probability`` marks statistics that are probabilities or time shares, for which a
    value observed to be zero in every replication is itself evidence (see :func:`judge`).
    ``context`` names an optional observation summed over replications and shown with the
    check of an ``identity`` row (e.g. how many cases were still waiting at the end).
    ``floor`` applies to ``hourly`` statistics: hours whose exact value is below it are not
    compared. There a replication's value is mostly zero, now and then a few minutes'
    worth, so the mean over replications is far from normal and a t-interval would be
    meaningless (a single short episode gives a tiny standard error); those hours still
    count in the statistic's week average.
    """

    key: str
    label: str
    test: Test = "mean"
    probability: bool = False
    context: str | None = None
    floor: float = 0.0


@dataclass(frozen=True)
class ValidationRow:
    """One row of the validation table: a statistic, its exact value, what the
    simulation gave, and the verdict.

    ``mean``, ``ci_low`` and ``ci_high`` are the simulated mean and its 95 % confidence
    interval (for a ``chi-square`` row, the statistic and its acceptance region; for an
    ``identity`` row, the largest imbalance found). ``half_width_pct`` is the 95 %
    half-width relative to the exact value, in percent (NaN where that means nothing).
    ``check`` says what the verdict compared.
    """

    group: str
    case: str
    statistic: str
    exact: float
    mean: float
    ci_low: float
    ci_high: float
    half_width_pct: float
    replications: int
    check: str
    passed: bool


def hour_label(hour: int) -> str:
    """``"Mon 09-10h"`` for hour 9 of the week."""
    day, clock = divmod(int(hour), 24)
    return f"{DAY_NAMES[day].capitalize()} {clock:02d}-{clock + 1:02d}h"


def _stack(observations: Sequence[Observation], key: str) -> npt.NDArray[np.float64]:
    return np.asarray([np.asarray(o[key], dtype=float) for o in observations])


def judge(
    statistic: Statistic,
    exact: float | npt.NDArray[np.float64],
    observations: Sequence[Observation],
    alpha: float,
    *,
    group: str,
    case: str,
) -> ValidationRow:
    """The row of one statistic: its comparison with ``exact`` at level ``alpha``.

    ``observations`` holds one observation per replication; ``alpha`` is the chance this
    row may fail a correct engine (the family's level over the number of rows).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not observations:
        raise ValueError("no replications to judge")
    if statistic.test in ("mean", "hourly"):
        row = _judge_means(statistic, np.asarray(exact, dtype=float), observations, alpha)
    elif statistic.test == "chi-square":
        row = _judge_counts(statistic, np.asarray(exact, dtype=float), observations, alpha)
    elif statistic.test == "exponential":
        row = _judge_exponential(statistic, float(exact), observations, alpha)
    elif statistic.test == "identity":
        row = _judge_identity(statistic, observations)
    else:
        raise ValueError(f"unknown test {statistic.test!r}")
    return replace(row, group=group, case=case)


def _judge_means(
    statistic: Statistic,
    exact: npt.NDArray[np.float64],
    observations: Sequence[Observation],
    alpha: float,
) -> ValidationRow:
    x = _stack(observations, statistic.key)
    if x.shape[1:] != exact.shape:
        raise ValueError(
            f"{statistic.key}: observed shape {x.shape[1:]} differs from exact {exact.shape}"
        )
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"{statistic.key}: a confidence interval needs two replications")
    compared = np.flatnonzero(np.atleast_1d(exact) >= statistic.floor)
    if statistic.test == "hourly" and not len(compared):
        raise ValueError(
            f"{statistic.key}: no hour has an exact value of at least {statistic.floor}, "
            "so nothing would be compared; lower the statistic's floor"
        )
    if statistic.test == "hourly":
        x, exact = x[:, compared], exact[compared]
    mean = x.mean(axis=0)
    se = x.std(axis=0, ddof=1) / math.sqrt(n)
    comparisons = exact.size
    limit = float(stats.t.ppf(1 - alpha / (2 * comparisons), n - 1))
    t95 = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
    # Distance from the exact value in units of the comparison's allowance; above 1 fails.
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.abs(mean - exact) / (limit * se)
    degenerate = se == 0
    if degenerate.any():
        excess = np.where(
            degenerate,
            _degenerate_excess(statistic, mean, exact, n, alpha / comparisons),
            excess,
        )
    worst = int(np.argmax(np.atleast_1d(excess)))
    m, e, s = (float(np.atleast_1d(a)[worst]) for a in (mean, exact, se))
    passed = bool(np.all(excess <= 1))
    label = statistic.label
    if statistic.test == "hourly":
        label = f"{label}, worst of {comparisons} h: {hour_label(compared[worst])}"
    if s > 0:
        check = f"|t| {abs(m - e) / s:.2f} <= {limit:.2f}"
    else:
        check = "no variation: " + ("zero is consistent" if passed else "exact value excluded")
    hw = t95 * s
    return ValidationRow(
        statistic=label,
        exact=e,
        mean=m,
        ci_low=m - hw,
        ci_high=m + hw,
        half_width_pct=100 * hw / abs(e) if e != 0 else math.nan,
        check=check,
        passed=passed,
        replications=len(observations),
        group="",
        case="",
    )


def _degenerate_excess(
    statistic: Statistic,
    mean: npt.NDArray[np.float64],
    exact: npt.NDArray[np.float64],
    replications: int,
    alpha: float,
) -> npt.NDArray[np.float64]:
    """The verdict's ``excess`` where every replication gave the same value.

    A t-interval is then empty, but an all-zero time share is still informative: the
    time share over an hour is at most the chance of being busy at some instant of the
    hour, so each independent replication shows zero with probability at most
    ``1 - exact`` and all of them with at most ``exp(-exact n)``. That is below ``alpha``
    exactly when ``exact > ln(1/alpha) / n``, the largest exact value zero is consistent
    with. Any other constant must equal the exact value (to round-off).
    """
    mean = np.broadcast_to(mean, exact.shape)
    if statistic.probability:
        largest = math.log(1 / alpha) / replications
        zero = np.where(mean == 0, exact / largest, np.inf)
    else:
        zero = np.full(exact.shape, np.inf)
    equal = np.isclose(mean, exact, rtol=1e-12, atol=1e-12)
    return np.where(equal, 0.0, zero)


def _judge_counts(
    statistic: Statistic,
    expected_per_replication: npt.NDArray[np.float64],
    observations: Sequence[Observation],
    alpha: float,
) -> ValidationRow:
    counts = _stack(observations, statistic.key).sum(axis=0)
    expected = expected_per_replication * len(observations)
    if counts.shape != expected.shape:
        raise ValueError(f"{statistic.key}: counts and expected counts differ in shape")
    open_bins = expected > 0
    if np.any(expected[open_bins] < 5):
        raise ValueError(f"{statistic.key}: expected counts below 5; run longer")
    stray = float(counts[~open_bins].sum())
    value = float(((counts[open_bins] - expected[open_bins]) ** 2 / expected[open_bins]).sum())
    df = int(open_bins.sum())
    p = float(stats.chi2.sf(value, df))
    passed = p >= alpha and stray == 0
    check = f"p {p:.3g} >= {alpha:.2g}" if p >= alpha else f"p {p:.3g} < {alpha:.2g}"
    if stray:
        check += f"; {stray:.0f} arrivals in hours whose rate is zero"
    return ValidationRow(
        statistic=f"{statistic.label}, chi-square {df} d.f.",
        exact=float(df),
        mean=value,
        ci_low=0.0,
        ci_high=float(stats.chi2.isf(alpha, df)),
        half_width_pct=math.nan,
        check=check,
        passed=passed,
        replications=len(observations),
        group="",
        case="",
    )


def _judge_exponential(
    statistic: Statistic,
    exact_mean: float,
    observations: Sequence[Observation],
    alpha: float,
) -> ValidationRow:
    sample = np.concatenate([np.asarray(o[statistic.key], dtype=float) for o in observations])
    if sample.size < 100:
        raise ValueError(f"{statistic.key}: {sample.size} values are too few for a KS test")
    result = stats.kstest(sample, "expon", args=(0.0, exact_mean))
    p = float(result.pvalue)
    mean = float(sample.mean())
    hw = (
        float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
        * float(sample.std(ddof=1))
        / math.sqrt(sample.size)
    )
    relation = ">=" if p >= alpha else "<"
    return ValidationRow(
        statistic=f"{statistic.label}, KS n={sample.size}",
        exact=exact_mean,
        mean=mean,
        ci_low=mean - hw,
        ci_high=mean + hw,
        half_width_pct=100 * hw / exact_mean,
        check=f"D {float(result.statistic):.4f}, p {p:.3g} {relation} {alpha:.2g}",
        passed=p >= alpha,
        replications=len(observations),
        group="",
        case="",
    )


def _judge_identity(
    statistic: Statistic,
    observations: Sequence[Observation],
) -> ValidationRow:
    imbalance = np.abs(_stack(observations, statistic.key))
    worst = float(imbalance.max())
    passed = worst == 0
    check = "balanced" if passed else "does not balance"
    if statistic.context is not None:
        total = float(_stack(observations, statistic.context).sum())
        check += f"; {total:.0f} {statistic.context.replace('_', ' ')}"
    return ValidationRow(
        statistic=statistic.label,
        exact=0.0,
        mean=worst,
        ci_low=math.nan,
        ci_high=math.nan,
        half_width_pct=math.nan,
        check=check,
        passed=passed,
        replications=len(observations),
        group="",
        case="",
    )
