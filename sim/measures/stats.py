"""Statistics across replications: means, Student-t intervals and paired differences.

Replications are independent (each has its own random streams), so a measure's mean
over them has the Student-t interval ``mean ± t(1 - alpha/2, n - 1) · sd / sqrt(n)``.
Two scenarios run with common random numbers share replication ``r``'s demand, so their
difference is taken replication by replication and gets the paired interval, usually
far narrower than the unpaired (Welch) one, which is reported beside it to show what
the pairing buys.  A value that is undefined in a replication (``nan``: a median with
nobody contacted) is left out, and the interval is over the replications that define
it; an interval needs two of them.

A measure has a support (a count, a time or a cost is never below 0, a share of people
never above 1), and its interval never leaves it: the reported ends are the Student-t
interval intersected with the support.  The true mean lies in the support, so the
intersection covers it whenever the t interval does: its coverage is at least the t
interval's, and it still holds the mean of the replications.  An end at the bound reads
"the replications cannot rule out 0 (or 100 %)"; ``half_width`` stays the t interval's,
the precision of the mean.  Paired differences have no such bound and are not cut.

Every Student-t interval of the project is at ``CONFIDENCE`` and comes from here (the
sensitivity study's shares of the assumption space have Wilson intervals of their own;
the national measures take their variance from their independent catchments,
``sim.national.variance``, with this module's t quantile and supports).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "Intervals",
    "PairedDifference",
    "intervals",
    "paired_difference",
    "t_quantile",
    "welch_half_width",
]

CONFIDENCE = 0.95
"""The level of every confidence interval the project reports."""


@lru_cache(maxsize=1024)
def t_quantile(probability: float, dof: float) -> float:
    """The Student-t quantile (cached: scipy's costs about 50 µs a call, and a table of
    thousands of measures asks for the same few)."""
    return float(stats.t.ppf(probability, dof))


@dataclass(frozen=True)
class Intervals:
    """Per column of a (replications x columns) array: the number of replications
    defining it, mean, standard deviation, the half-width of its Student-t interval
    and the ends of that interval within the column's support ``[lower, upper]``."""

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    half_width: np.ndarray
    lower: np.ndarray | float = -math.inf
    upper: np.ndarray | float = math.inf

    @property
    def ci_low(self) -> np.ndarray:
        return np.maximum(self.mean - self.half_width, self.lower)

    @property
    def ci_high(self) -> np.ndarray:
        return np.minimum(self.mean + self.half_width, self.upper)


def intervals(
    values: np.ndarray,
    confidence: float = CONFIDENCE,
    *,
    lower: np.ndarray | float = -math.inf,
    upper: np.ndarray | float = math.inf,
) -> Intervals:
    """The mean and Student-t interval of each column of ``values`` (replications in
    rows), each over the replications where it is defined, its ends kept within the
    support ``[lower, upper]`` (a bound per column, or one for all)."""
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    defined = ~np.isnan(x)
    n = defined.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(defined, x, 0.0).sum(axis=0) / n, math.nan)
        squares = np.where(defined, (x - mean) ** 2, 0.0).sum(axis=0)
        sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), math.nan)
        t = np.asarray([t_quantile(0.5 + confidence / 2, max(k - 1, 1)) for k in n.tolist()])
        half = np.where(n > 1, t.reshape(n.shape) * sd / np.sqrt(np.maximum(n, 1)), math.nan)
    return Intervals(n.astype(np.int64), mean, sd, half, lower, upper)


@dataclass(frozen=True)
class PairedDifference:
    """Scenario minus baseline for one measure, over the replications both define."""

    n: int
    baseline_mean: float
    scenario_mean: float
    difference: float
    sd: float
    half_width: float
    ci_low: float
    ci_high: float
    unpaired_half_width: float


def paired_difference(
    scenario: np.ndarray, baseline: np.ndarray, confidence: float = CONFIDENCE
) -> PairedDifference:
    """The paired difference of a measure given replication by replication (element
    ``r`` of each array comes from replication ``r``)."""
    x = np.asarray(scenario, dtype=float)
    b = np.asarray(baseline, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(b)
    x, b = x[both], b[both]
    n = len(x)
    if n == 0:
        nan = math.nan
        return PairedDifference(0, nan, nan, nan, nan, nan, nan, nan, nan)
    d = intervals(x - b, confidence)
    mean, half = float(d.mean[0]), float(d.half_width[0])
    return PairedDifference(
        n=n,
        baseline_mean=float(b.mean()),
        scenario_mean=float(x.mean()),
        difference=mean,
        sd=float(d.sd[0]),
        half_width=half,
        ci_low=mean - half,
        ci_high=mean + half,
        unpaired_half_width=welch_half_width(x, b, confidence),
    )


def welch_half_width(x: np.ndarray, b: np.ndarray, confidence: float = CONFIDENCE) -> float:
    """Half-width of the Welch interval of ``mean(x) - mean(b)`` for independent
    samples: what a comparison without common random numbers would give."""
    n, m = len(x), len(b)
    if n < 2 or m < 2:
        return math.nan
    vx, vb = x.var(ddof=1) / n, b.var(ddof=1) / m
    total = vx + vb
    if total == 0:
        return 0.0
    dof = total**2 / (vx**2 / (n - 1) + vb**2 / (m - 1))
    return float(t_quantile(0.5 + confidence / 2, dof) * math.sqrt(total))
