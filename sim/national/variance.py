"""The uncertainty of a national measure, estimated from its catchments.

A national sum is, replication by replication, a sum over the catchments of what each
contributes: the run of a catchment with a post (its own persons and those it receives
from others, counted where they live) or the draw of a catchment without one.  Each
contribution has random streams of its own (the catchment's seed), so the
contributions are independent, and the variance of a national measure's mean is the
sum of theirs.  Each is estimated from the catchment's replications: with R
replications and C catchments the estimate rests on up to C (R - 1) degrees of
freedom (Satterthwaite's, fewer where a few catchments dominate the variance), where
the national replications alone give R - 1 (one, for the shipped 2: a Student t of
12.7).

A measure that is not a sum (a share, a cost per person) is a smooth function of the
national sums; each catchment's contribution to it is its first-order effect, the
measure at the mean sums moved by that catchment's deviation from its own mean, minus
the measure at the mean sums (the delta method, computed by that finite difference: a
catchment moves the national sums by a few thousandths, its département's by a few per
cent).  The Gini index is continuous but has a kink wherever two départements' shares
tie: near equality (every catchment with a post, a Gini of a few hundredths) the finite
difference overstates its variance, and its interval is wider than it need be, not
narrower.  The worst département's
share and the 90th-percentile person's are not smooth (the worst département changes
from one replication to the next), and keep the interval over the national
replications (:data:`ACROSS_REPLICATIONS`).

A paired difference between two allocations takes the difference of each catchment's
two contributions, replication by replication: a catchment's streams are the same
under both (common random numbers), so its difference is paired, and catchments are
still independent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.measures.stats import (
    CONFIDENCE,
    Intervals,
    PairedDifference,
    intervals,
    paired_difference,
    t_quantile,
)

__all__ = [
    "ACROSS_REPLICATIONS",
    "CatchmentEffects",
    "Contributions",
    "catchment_difference",
    "catchment_intervals",
]

ACROSS_REPLICATIONS = frozenset({"departement_unmet_max", "departement_unmet_p90"})
"""The national measures that are not smooth in the national sums: their intervals are
over the national replications."""


@dataclass(frozen=True)
class Contributions:
    """What each catchment adds to the national sums, by replication: ``sums[name]``
    is (catchments x replications) and ``departements[name]`` (catchments x
    replications x départements); summed over the catchments they are the national
    sums."""

    catchments: tuple[str, ...]
    sums: Mapping[str, np.ndarray]
    departements: Mapping[str, np.ndarray]

    def totals(self) -> dict[str, np.ndarray]:
        """The national sums, one value (or one row of départements) a replication."""
        out: dict[str, np.ndarray] = {k: v.sum(axis=0) for k, v in self.sums.items()}
        for name, grid in self.departements.items():
            out[f"departement_{name}"] = grid.sum(axis=0)
        return out

    def effects(
        self, measure: Callable[[Mapping[str, object]], Mapping[str, float]], names: Sequence[str]
    ) -> CatchmentEffects:
        """Each catchment's first-order effect on each measure in ``names``, by
        replication (``measure`` computes every measure of one set of national sums)."""
        means = {k: v.sum(axis=0).mean(axis=0) for k, v in self.sums.items()}
        grids = {k: v.sum(axis=0).mean(axis=0) for k, v in self.departements.items()}
        own_means = {k: v.mean(axis=1) for k, v in self.sums.items()}
        own_grids = {k: v.mean(axis=1) for k, v in self.departements.items()}

        def at(c: int | None, r: int) -> Mapping[str, float]:
            sums: dict[str, object] = {}
            for k, mean in means.items():
                moved = 0.0 if c is None else self.sums[k][c, r] - own_means[k][c]
                sums[k] = float(mean + moved)
            for k, grid in grids.items():
                moved_grid = 0.0 if c is None else self.departements[k][c, r] - own_grids[k][c]
                sums[f"departement_{k}"] = grid + moved_grid
            return measure(sums)

        centre = at(None, 0)
        catchments, replications = next(iter(self.sums.values())).shape
        out = np.zeros((len(names), catchments, replications))
        for c in range(catchments):
            for r in range(replications):
                moved = at(c, r)
                out[:, c, r] = [moved[n] - centre[n] for n in names]
        return CatchmentEffects(tuple(names), out)


@dataclass(frozen=True)
class CatchmentEffects:
    """Each catchment's first-order effect on each measure, by replication:
    ``values[measure, catchment, replication]``."""

    names: tuple[str, ...]
    values: np.ndarray

    def of(self, name: str) -> np.ndarray:
        return self.values[self.names.index(name)]


def _variance_and_dof(effects: np.ndarray) -> tuple[float, float]:
    """The variance of the mean over replications of a sum of independent catchment
    contributions (catchments x replications), and its Satterthwaite degrees of
    freedom, ``(sum v)^2 / sum(v^2 / k)`` for the catchments' variances v estimated on
    k = R - 1 degrees of freedom each.

    Estimated from the catchments' own estimates, these degrees of freedom are on the
    low side (a variance estimated on one degree of freedom has a square three times
    its own on average), so the interval is conservative: in
    ``tests/test_national_variance.py``'s 2,000 countries of 2 replications, 97.2 %
    coverage from 40 catchments of unequal spread and 97.1 % for a difference three of
    them make. The correction for that bias would bring many catchments to 95 % but
    leave a difference that a few catchments make (two allocations that differ in a
    few) well below: not taken."""
    replications = effects.shape[1]
    if replications < 2:
        return math.nan, math.nan
    if np.isnan(effects).any():
        return math.nan, math.nan
    per_catchment = effects.var(axis=1, ddof=1) / replications
    variance = float(per_catchment.sum())
    squares = float((per_catchment**2).sum())
    dof = variance**2 * (replications - 1) / squares if squares > 0 else math.inf
    return variance, dof


def _half_width(effects: np.ndarray, confidence: float) -> tuple[float, float]:
    variance, dof = _variance_and_dof(effects)
    if math.isnan(variance):
        return math.nan, math.nan
    if variance == 0:
        return 0.0, dof
    return t_quantile(0.5 + confidence / 2, max(dof, 1.0)) * math.sqrt(variance), dof


def catchment_intervals(
    values: np.ndarray,
    effects: CatchmentEffects,
    names: Sequence[str],
    confidence: float = CONFIDENCE,
    *,
    lower: np.ndarray | float = -math.inf,
    upper: np.ndarray | float = math.inf,
) -> tuple[Intervals, np.ndarray]:
    """The mean of each column of ``values`` (replications x measures ``names``) and
    its interval from the catchments' effects, within ``[lower, upper]``; the measures
    of :data:`ACROSS_REPLICATIONS` (and any the effects do not hold) keep the
    Student-t interval over the replications. Also each interval's degrees of
    freedom."""
    across = intervals(values, confidence, lower=lower, upper=upper)
    half = np.array(across.half_width, dtype=float)
    sd = np.array(across.sd, dtype=float)
    dof = np.asarray(across.n, dtype=float) - 1
    replications = values.shape[0]
    for j, name in enumerate(names):
        if name in ACROSS_REPLICATIONS or name not in effects.names:
            continue
        if np.isnan(values[:, j]).any():
            continue
        h, d = _half_width(effects.of(name), confidence)
        if math.isnan(h):
            continue
        variance, _ = _variance_and_dof(effects.of(name))
        half[j], dof[j] = h, d
        sd[j] = math.sqrt(variance * replications)  # a replication's, as the t interval's
    return Intervals(across.n, across.mean, sd, half, lower, upper), dof


def catchment_difference(
    scenario: np.ndarray,
    baseline: np.ndarray,
    scenario_effects: np.ndarray,
    baseline_effects: np.ndarray,
    confidence: float = CONFIDENCE,
) -> tuple[PairedDifference, float]:
    """Scenario minus baseline of one measure given replication by replication, its
    interval from each catchment's paired difference of effects (catchments x
    replications each), and that interval's degrees of freedom; the unpaired
    half-width from the two sets of effects taken as independent."""
    x = np.asarray(scenario, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if np.isnan(x).any() or np.isnan(b).any():
        # A measure undefined in a replication (nobody in need): the replications
        # that define it, and their own paired interval.
        d = paired_difference(x, b, confidence)
        return d, float(d.n - 1)
    n = len(x)
    difference = float((x - b).mean())
    paired = scenario_effects - baseline_effects
    half, dof = _half_width(paired, confidence)
    if math.isnan(half):
        d = paired_difference(x, b, confidence)
        return d, float(d.n - 1)
    # Unpaired: the two sets of contributions as if independent.
    unpaired, _ = _half_width(np.concatenate([scenario_effects, baseline_effects]), confidence)
    variance, _ = _variance_and_dof(paired)
    return PairedDifference(
        n=n,
        baseline_mean=float(b.mean()),
        scenario_mean=float(x.mean()),
        difference=difference,
        sd=math.sqrt(variance * n) if not math.isnan(variance) else math.nan,
        half_width=half,
        ci_low=difference - half,
        ci_high=difference + half,
        unpaired_half_width=unpaired,
    ), dof
