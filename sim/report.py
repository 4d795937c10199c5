"""The readable summary table printed by ``station-sim run``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sim.config import Scenario
from sim.summary import ALL, SummaryRow, threshold_metric
from sim.week import DAYS_PER_YEAR

__all__ = ["format_report"]


def format_report(scenario: Scenario, rows: Sequence[SummaryRow]) -> str:
    """Waits, within-threshold shares, unmet demand and system measures, each as the
    mean over replications with its 95 % confidence interval."""
    table = {(r.population, r.metric): r for r in rows}
    sim = scenario.simulation
    per_year = DAYS_PER_YEAR / sim.run_days
    populations = [*scenario.population_names, ALL]
    thresholds = scenario.measures.thresholds_hours

    def cell(population: str, metric: str, scale: float = 1.0, digits: int = 1) -> str:
        row = table.get((population, metric))
        if row is None or math.isnan(row.mean):
            return "-"
        text = f"{row.mean * scale:.{digits}f}"
        if not math.isnan(row.half_width):
            text += f" ±{row.half_width * scale:.{digits}f}"
        return text

    lines = [
        f"Scenario {scenario.name}: {sim.replications} replication(s) of {sim.run_days:g} days "
        f"after {sim.warm_up_days:g} days of warm-up, seed {sim.seed}",
        "Mean over replications ± half-width of the 95 % confidence interval (Student t).",
        "",
        "Time from referral to first contact, over the cases contacted (hours); "
        "share contacted within each threshold, over the cases referred (%)",
    ]
    header = ["population", "referred/yr", "mean", "median", "p90", "p95"]
    header += [f"<={h:g}h" for h in thresholds]
    body = [
        [
            population,
            cell(population, "referred", per_year, 0),
            cell(population, "wait_referral_mean_h"),
            cell(population, "wait_referral_median_h"),
            cell(population, "wait_referral_p90_h"),
            cell(population, "wait_referral_p95_h"),
            *[cell(population, threshold_metric(h), 100, 1) for h in thresholds],
        ]
        for population in populations
    ]
    lines += _columns(header, body)
    lines += [
        "",
        "Unmet demand: share of the cases that coverage could serve (%), and cases a year "
        "by reason",
    ]
    header = [
        "population",
        "unmet %",
        "left",
        "callback failed",
        "callback expired",
        "waiting at end",
        "not referred: no worker",
        "met late",
    ]
    body = [
        [
            population,
            cell(population, "unmet_share", 100, 1),
            cell(population, "left", per_year, 0),
            cell(population, "callback_failed", per_year, 0),
            cell(population, "callback_expired", per_year, 0),
            cell(population, "waiting_at_end", per_year, 0),
            cell(population, "not_referred_no_worker", per_year, 0),
            cell(population, "met_late", per_year, 0),
        ]
        for population in populations
    ]
    lines += _columns(header, body)
    lines += ["", "Workers and cost"]
    system = [
        ("worker utilisation on site (%)", cell(ALL, "utilisation", 100, 1)),
        ("overtime (hours a year)", cell(ALL, "overtime_hours_per_year", 1, 0)),
        ("on-call call-outs a week", cell(ALL, "callouts_per_week", 1, 2)),
        (
            "first contacts on site / on call / by callback (%)",
            " / ".join(cell(ALL, f"{c}_share", 100, 0) for c in ("on_site", "on_call", "callback")),
        ),
        ("cost (EUR a year)", cell(ALL, "cost_eur_per_year", 1, 0)),
        ("cost per case met (EUR)", cell(ALL, "cost_per_case_met_eur", 1, 0)),
    ]
    width = max(len(label) for label, _ in system)
    lines += [f"  {label:<{width}}  {value}" for label, value in system]
    return "\n".join(lines)


def _columns(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        first = f"  {row[0]:<{widths[0]}}"
        rest = "  ".join(f"{value:>{widths[i + 1]}}" for i, value in enumerate(row[1:]))
        return f"{first}  {rest}"

    return [line(header), *(line(row) for row in body)]
