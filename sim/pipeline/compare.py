"""The paired comparison of scenarios as Markdown, from the stored comparison table.

Every scenario of an experiment runs replication ``r`` with the same seed, hence the
same arrivals and the same needs of every case, so the difference of a measure between
a scenario and the baseline is taken replication by replication, with the paired
Student-t interval (:func:`sim.measures.stats.paired_difference`, which also gives the
half-width an unpaired comparison of the same runs would have).  This module writes
that table for readers: one section per measure, a row per scenario.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sim.measures.catalogue import ALL, Measure

__all__ = ["comparison_markdown"]


def comparison_markdown(
    rows: Sequence[dict[str, object]],
    labels: Sequence[str],
    baseline: str,
    metrics: Sequence[Measure],
    populations: Sequence[str],
    title: str,
    notes: Sequence[str] = (),
    scenario_title: Callable[[str], str] = lambda label: label,
) -> str:
    """The comparison as Markdown: one table per measure, a row per scenario with its
    mean, its paired difference from the baseline and the 95 % CI of that difference.

    ``rows`` are rows of the stored comparison table (one design point);
    ``scenario_title`` gives what a reader sees for a scenario label (each row shows
    that title and, in code type, the label a person types on the command line).
    """

    def named(label: str) -> str:
        shown = scenario_title(label)
        return f"{shown} (`{label}`)" if shown != label else f"`{label}`"

    index = {(r["scenario"], r["population"], r["metric"]): r for r in rows}
    lines = [f"# {title}", ""]
    lines += [*notes, ""] if notes else []
    for population in populations:
        for shown in metrics:
            if shown.scope == "system" and population != ALL:
                continue  # a system measure exists for all populations together only
            metric = shown.name
            heading = f"## {shown.label}"
            lines += [heading + ("" if population == ALL else f", {population}"), ""]
            lines += [
                "| scenario | mean | difference from the baseline | 95 % CI (paired) "
                "| unpaired CI half-width | n |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            present = [
                index[(s, population, metric)] for s in labels if (s, population, metric) in index
            ]
            first = present[0] if present else None
            if first is not None:
                mean = _fmt(first["baseline_mean"], shown.scale, shown.digits)
                lines.append(f"| {named(baseline)}: baseline | {mean} | | | | |")
            for label in labels:
                row = index.get((label, population, metric))
                if row is None:
                    continue
                s, d = shown.scale, shown.digits
                ci = f"[{_fmt(row['ci_low'], s, d, True)}, {_fmt(row['ci_high'], s, d, True)}]"
                lines.append(
                    f"| {named(label)} | {_fmt(row['scenario_mean'], s, d)} "
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
