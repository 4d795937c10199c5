"""How measures are shown in tables and figures: a title, a unit and a scale factor (a
share stored as 0.25 is shown as 25 %)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MeasureDisplay", "display"]


@dataclass(frozen=True)
class MeasureDisplay:
    """The title, unit and scale factor of a measure as shown to readers."""

    title: str
    unit: str
    scale: float = 1.0
    digits: int = 1

    @property
    def label(self) -> str:
        return f"{self.title} ({self.unit})" if self.unit else self.title


_KNOWN: dict[str, MeasureDisplay] = {
    "unmet_share": MeasureDisplay("Unmet demand", "% of servable cases", 100.0),
    "met_late_share": MeasureDisplay("Met late", "% of servable cases", 100.0),
    "utilisation": MeasureDisplay("Worker utilisation on site", "%", 100.0),
    "cost_eur_per_year": MeasureDisplay("Cost", "EUR a year", 1.0, 0),
    "cost_per_case_met_eur": MeasureDisplay("Cost per case met", "EUR", 1.0, 0),
    "on_site_share": MeasureDisplay("First contacts on site", "%", 100.0),
    "on_call_share": MeasureDisplay("First contacts on call", "%", 100.0),
    "callback_share": MeasureDisplay("First contacts by callback", "%", 100.0),
    "callouts_per_week": MeasureDisplay("On-call call-outs", "per week", 1.0, 2),
    "overtime_hours_per_year": MeasureDisplay("Overtime", "hours a year", 1.0, 0),
    "cases_per_year": MeasureDisplay("Cases", "a year", 1.0, 0),
    "unmet": MeasureDisplay("Unmet cases", "in the run", 1.0, 0),
}

_WAIT = re.compile(r"^wait_(referral|arrival)_(mean|median|p90|p95)_h$")
_WITHIN = re.compile(r"^within_([0-9.]+)h_share$")


def display(metric: str) -> MeasureDisplay:
    """How to show ``metric``; measures without a known title show their own name."""
    if metric in _KNOWN:
        return _KNOWN[metric]
    wait = _WAIT.match(metric)
    if wait:
        origin = "referral" if wait.group(1) == "referral" else "first police contact"
        statistic = {
            "mean": "Mean",
            "median": "Median",
            "p90": "90th percentile",
            "p95": "95th percentile",
        }[wait.group(2)]
        return MeasureDisplay(f"{statistic} wait from {origin}", "h")
    within = _WITHIN.match(metric)
    if within:
        return MeasureDisplay(f"Contacted within {within.group(1)} h", "% of referred", 100.0)
    return MeasureDisplay(metric.replace("_", " "), "")
