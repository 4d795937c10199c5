"""Paired comparison of scenarios run with common random numbers.

Every scenario of an experiment runs replication ``r`` with the same seed, hence the
same arrivals and the same needs of every case.  The difference of a measure between a
scenario and the baseline is therefore taken replication by replication,
``d_r = x_r - b_r``, and its 95 % confidence interval is the paired Student-t interval
``mean(d) ± t(0.975, n-1) · sd(d) / sqrt(n)``.  Because the two runs of a pair share
their demand, ``sd(d)`` is usually far below what independent runs would give; the
table also reports the half-width an unpaired (Welch) comparison of the same runs would
have, to show what the pairing buys.  A replication where either value is undefined
(``nan``) drops out of the pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.experiment.presentation import display

__all__ = ["PairedDifference", "comparison_markdown", "paired_difference"]

CONFIDENCE = 0.95


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


def paired_difference(scenario: np.ndarray, baseline: np.ndarray) -> PairedDifference:
    """The paired difference of two measures given replication by replication (the
    arrays are aligned: element ``r`` of each comes from replication ``r``)."""
    x = np.asarray(scenario, dtype=float)
    b = np.asarray(baseline, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(b)
    x, b = x[both], b[both]
    n = len(x)
    if n == 0:
        nan = math.nan
        return PairedDifference(0, nan, nan, nan, nan, nan, nan, nan, nan)
    d = x - b
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    half = math.nan
    if n > 1:
        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n))
    return PairedDifference(
        n=n,
        baseline_mean=float(b.mean()),
        scenario_mean=float(x.mean()),
        difference=mean,
        sd=sd,
        half_width=half,
        ci_low=mean - half,
        ci_high=mean + half,
        unpaired_half_width=_welch_half_width(x, b),
    )


def _welch_half_width(x: np.ndarray, b: np.ndarray) -> float:
    n = len(x)
    if n < 2:
        return math.nan
    vx, vb = x.var(ddof=1) / n, b.var(ddof=1) / n
    total = vx + vb
    if total == 0:
        return 0.0
    dof = total**2 / (vx**2 / (n - 1) + vb**2 / (n - 1))
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * math.sqrt(total))


def comparison_markdown(
    rows: Sequence[dict[str, object]],
    labels: Sequence[str],
    baseline: str,
    metrics: Sequence[str],
    populations: Sequence[str],
    title: str,
    notes: Sequence[str] = (),
) -> str:
    """The comparison as Markdown: one table per measure, a row per scenario with its
    mean, its paired difference from the baseline and the 95 % CI of that difference.

    ``rows`` are rows of the stored comparison table (one design point).
    """
    index = {(r["scenario"], r["population"], r["metric"]): r for r in rows}
    lines = [f"# {title}", ""]
    lines += [*notes, ""] if notes else []
    for population in populations:
        for metric in metrics:
            shown = display(metric)
            heading = f"## {shown.label}"
            lines += [heading + ("" if population == "all" else f", {population}"), ""]
            lines += [
                f"| scenario | mean | difference from {baseline} | 95 % CI (paired) "
                "| unpaired CI half-width | n |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            present = [
                index[(s, population, metric)] for s in labels if (s, population, metric) in index
            ]
            first = present[0] if present else None
            if first is not None:
                mean = _fmt(first["baseline_mean"], shown.scale, shown.digits)
                lines.append(f"| {baseline} (baseline) | {mean} | | | | |")
            for label in labels:
                row = index.get((label, population, metric))
                if row is None:
                    continue
                s, d = shown.scale, shown.digits
                ci = f"[{_fmt(row['ci_low'], s, d, True)}, {_fmt(row['ci_high'], s, d, True)}]"
                lines.append(
                    f"| {label} | {_fmt(row['scenario_mean'], s, d)} "
                    f"| {_fmt(row['difference'], s, d, True)} | {ci} "
                    f"| ±{_fmt(row['unpaired_half_width'], s, d)} | {row['n']} |"
                )
            lines.append("")
    return "\n".join(lines)


def _fmt(value: object, scale: float, digits: int, signed: bool = False) -> str:
    x = float(value)  # type: ignore[arg-type]
    if math.isnan(x):
        return "-"
    return f"{x * scale:+,.{digits}f}" if signed else f"{x * scale:,.{digits}f}"
