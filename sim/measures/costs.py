"""The cost model: what a scenario's coverage costs a year, in euros.

- **Salaries**: each on-site worker's FTE times ``costs.fte_eur_per_year`` (39,000 EUR,
  the source's 6.8 M EUR for 175 posts).  A worker's FTE follows from its rostered
  hours, over ``costs.hours_per_fte_week`` (a post on site 42.5 h a week is 42.5/35 of
  an FTE), unless the config states a contracted ``fte`` with its reason; absence days
  are paid.
- **On-call premium**: every hour of the on-call windows, for each responder, at
  ``costs.on_call_eur_per_hour`` when the scenario's own workers take the rota, at
  ``costs.external_on_call_eur_per_hour`` for an outside rota (assumptions each config
  states; an outside rota without its rates is refused).
- **Overtime and call-outs**: the hours worked past a shift's end and the hours of the
  workers' call-outs, at ``costs.overtime_eur_per_hour``; an outside rota's call-out
  hours at ``costs.external_callout_eur_per_hour`` (assumptions).
- **Replacements**: each day a replacement covers a sick worker, at an FTE's pay for a
  day (``fte_eur_per_year`` over ``working_days_per_fte_year``).

The first two are fixed by the scenario; the others depend on the run.
"""

from __future__ import annotations

from sim.config.schema import Scenario
from sim.config.week import DAYS_PER_YEAR, MINUTES_PER_HOUR

__all__ = ["WEEKS_PER_YEAR", "fixed_cost_eur_per_year", "fte", "variable_cost_eur_per_year"]

WEEKS_PER_YEAR = DAYS_PER_YEAR / 7


def _stated(rate: float | None) -> float:
    """A rate the scenario's validation requires (an outside rota's)."""
    if rate is None:
        raise ValueError("an outside on-call rota without its rates (refused by validation)")
    return rate


def fte(scenario: Scenario) -> float:
    """Full-time equivalents paid for the on-site workers."""
    hours_per_fte_week = scenario.costs.hours_per_fte_week
    total = 0.0
    for _name, worker, _copy in scenario.expanded_workers():
        if worker.fte is not None:
            total += worker.fte
        else:
            weekly_hours = sum(s.minutes_per_week for s in worker.roster) / MINUTES_PER_HOUR
            total += weekly_hours / hours_per_fte_week
    return total


def fixed_cost_eur_per_year(scenario: Scenario) -> float:
    """Salaries and on-call premiums, in EUR a year."""
    costs = scenario.costs
    on_call = 0.0
    if scenario.on_call is not None:
        weekly_hours = sum(w.minutes_per_week for w in scenario.on_call.windows) / MINUTES_PER_HOUR
        rate = (
            costs.on_call_eur_per_hour
            if scenario.on_call.staffed_by == "staff"
            else _stated(costs.external_on_call_eur_per_hour)
        )
        on_call = weekly_hours * WEEKS_PER_YEAR * scenario.on_call.responders * rate
    return fte(scenario) * costs.fte_eur_per_year + on_call


def variable_cost_eur_per_year(
    scenario: Scenario,
    overtime_hours_per_year: float,
    callout_hours_per_year: float,
    replaced_days_per_year: float = 0.0,
) -> float:
    """Overtime, call-out hours and replacement days, in EUR a year."""
    costs = scenario.costs
    external = scenario.on_call is not None and scenario.on_call.staffed_by == "external"
    callout_rate = (
        _stated(costs.external_callout_eur_per_hour) if external else costs.overtime_eur_per_hour
    )
    day = costs.fte_eur_per_year / costs.working_days_per_fte_year
    return (
        overtime_hours_per_year * costs.overtime_eur_per_hour
        + callout_hours_per_year * callout_rate
        + replaced_days_per_year * day
    )
