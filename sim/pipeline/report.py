"""The readable summary table of one scenario (what ``station-sim run`` prints), from a
results folder's stored summary: each measure as its mean over the replications ± the
half-width of its confidence interval, with the titles, units and digits of
:mod:`sim.measures.catalogue`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import yaml

from sim.config.schema import scenario_from_dict
from sim.measures.catalogue import ALL, Measure
from sim.measures.stats import CONFIDENCE

if TYPE_CHECKING:
    from sim.pipeline.results import StoredResults

__all__ = ["format_report"]

_WAIT_COLUMNS = (
    ("wait_referral_mean_h", "mean"),
    ("wait_referral_median_h", "median"),
    ("wait_referral_p90_h", "p90"),
    ("wait_referral_p95_h", "p95"),
)
_UNMET_COLUMNS = (
    "left",
    "callback_failed",
    "callback_expired",
    "waiting_at_end",
    "not_referred_no_worker",
    "met_late",
)
_SYSTEM_ROWS = (
    ("worker utilisation on site (%)", "utilisation"),
    ("overtime (hours a year)", "overtime_hours_per_year"),
    ("on-call call-outs a week", "callouts_per_week"),
    ("cost (EUR a year)", "cost_eur_per_year"),
    ("cost per case met (EUR)", "cost_per_case_met_eur"),
)
_CHANNELS = ("on_site_share", "on_call_share", "callback_share")
_CASELOAD_ROWS = (
    ("persons met per post a year", "persons_met_per_post_year"),
    ("couple-violence persons met per post a year", "couple_violence_per_post_year"),
    ("appointments per person met", "appointments_per_person"),
    ("follow-up duration (days)", "followup_days"),
    ("unmet follow-ups (%)", "followups_unmet_share"),
    ("open cases per post", "caseload_open"),
)
_TIME_COLUMNS = (
    ("first contacts", "interview_hours_per_year"),
    ("follow-ups", "followup_hours_per_year"),
    ("callbacks", "callback_attempt_hours_per_year"),
    ("onward referrals", "onward_work_hours_per_year"),
    ("other duties", "duties_hours_per_year"),
    ("duties after shift", "protected_duties_hours_per_year"),
    ("rest", "rest_hours_per_year"),
    ("free", "idle_hours_per_year"),
    ("travel", "travel_hours_per_year"),
    ("overtime", "overtime_hours_per_year"),
)


def format_report(results: StoredResults, label: str, point: int = 0) -> str:
    """The summary of scenario ``label`` at design point ``point`` of a results folder."""
    entry = results.manifest["resolved_configs"][f"p{point:04d}-{label}"]
    scenario = scenario_from_dict(
        yaml.safe_load((results.folder / entry["file"]).read_text(encoding="utf-8")),
        source=str(results.folder / entry["file"]),
    )
    summary = results.table("summary")
    table = {
        (r["population"], r["metric"]): r
        for r in summary.to_pylist()
        if r["point"] == point and r["scenario"] == label
    }
    measures = results.measures
    settings = scenario.simulation
    populations = [*scenario.population_names, ALL]

    def cell(population: str, name: str, digits: int | None = None) -> str:
        measure = measures.named(name)
        row = table.get((population, name))
        if row is None or row["mean"] is None or math.isnan(row["mean"]):
            return "-"
        scale = measure.scale
        shown = measure.digits if digits is None else digits
        text = f"{row['mean'] * scale:.{shown}f}"
        if row["half_width"] is not None and not math.isnan(row["half_width"]):
            text += f" ±{row['half_width'] * scale:.{shown}f}"
        return text

    level = f"{CONFIDENCE:.0%}".replace("%", " %")
    measured = (
        f"{settings.run_days:g} days"
        if settings.windows == 1
        else f"{settings.windows} windows of {settings.run_days:g} days (each value the "
        "mean over its windows)"
    )
    lines = [
        f"Scenario {label}: {scenario.plain_title}",
        f"{settings.replications} replication(s) of {measured} after "
        f"{settings.warm_up_days:g} days of warm-up, seed {settings.seed}",
        (
            f"Mean over replications ± half-width of the {level} confidence interval (Student t)."
            if settings.replications > 1
            else "One replication: no confidence interval (it needs at least two)."
        ),
        "",
        "Time from referral to first contact, over the cases contacted (hours); "
        "share contacted within each threshold, over the cases referred (%)",
    ]
    within = [m for m in measures if m.threshold_hours is not None]
    header = ["population", "referred/yr", *(h for _, h in _WAIT_COLUMNS)]
    header += [f"<={m.threshold_hours:g}h" for m in within]
    body = [
        [
            population,
            cell(population, "referred"),
            *(cell(population, name) for name, _ in _WAIT_COLUMNS),
            *(cell(population, m.name) for m in within),
        ]
        for population in populations
    ]
    lines += _columns(header, body)
    lines += [
        "",
        "Unmet demand: share of the cases that coverage could serve (%), and cases a year "
        "by reason",
    ]
    reasons: list[Measure] = [measures.named(name) for name in _UNMET_COLUMNS]
    # The two parts of the unmet share: what rests on how officers refer when nobody can
    # take the case, and what capacity and coverage leave unreached.
    parts = ("unmet_share", "unmet_not_referred_share", "unmet_capacity_share")
    header = ["population", "unmet %", "not referred %", "not reached %"]
    header += [m.short for m in reasons]
    body = [
        [
            population,
            *(cell(population, name) for name in parts),
            *(cell(population, m.name) for m in reasons),
        ]
        for population in populations
    ]
    lines += _columns(header, body)
    lines += ["", "Workers and cost"]
    system: list[tuple[str, str]] = [(title, cell(ALL, name)) for title, name in _SYSTEM_ROWS]
    system.insert(
        3,
        (
            "first contacts on site / on call / by callback (%)",
            " / ".join(cell(ALL, name, digits=0) for name in _CHANNELS),
        ),
    )
    caseload = [(title, cell(ALL, name)) for title, name in _CASELOAD_ROWS]
    unmet = [
        f"{name.removeprefix('followups_').replace('_', ' ')} {cell(ALL, name)}"
        for name in ("followups_no_show", "followups_diary_full", "followups_cancelled")
    ]
    caseload.append(("unmet follow-ups by reason (in the cohort)", " / ".join(unmet)))
    width = max(len(title) for title, _ in (*system, *caseload))
    lines += [f"  {title:<{width}}  {value}" for title, value in system]
    observed = scenario.measures.followup_observation_days
    lines += [
        "",
        f"Caseload (follow-ups: persons first contacted at least {observed:g} days before "
        "the run ended)",
    ]
    lines += [f"  {title:<{width}}  {value}" for title, value in caseload]
    lines += ["", "Worker time, hours a year (all posts)"]
    lines += _columns(
        [title for title, _ in _TIME_COLUMNS],
        [[cell(ALL, name) for _, name in _TIME_COLUMNS]],
        label_column=False,
    )
    return "\n".join(lines)


def _columns(header: list[str], body: list[list[Any]], label_column: bool = True) -> list[str]:
    """A table: the first column left-aligned (the row labels), the others right-aligned;
    with ``label_column`` false, every column right-aligned."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        if not label_column:
            return "  " + "  ".join(f"{v:>{w}}" for v, w in zip(row, widths, strict=True))
        first = f"  {row[0]:<{widths[0]}}"
        rest = "  ".join(f"{value:>{widths[i + 1]}}" for i, value in enumerate(row[1:]))
        return f"{first}  {rest}"

    return [line(header), *(line(row) for row in body)]
