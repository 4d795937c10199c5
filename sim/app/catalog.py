"""What the page offers: the coverage models of ``configs/`` with plain titles, and the
assumptions of ``configs/common/assumptions.yaml`` as controls (a slider over the
declared range, or a choice among the declared options), with the rationale as help."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sim.config.assumptions import Assumptions, Factor, configured, load_assumptions, sets
from sim.config.documents import read_scenario_document
from sim.config.schema import Scenario, scenario_from_dict

__all__ = [
    "CONFIGS",
    "PAGE_FACTORS",
    "AssumptionControl",
    "CoverageModel",
    "assumption_controls",
    "coverage_models",
    "load_page_assumptions",
]

REPOSITORY = Path(__file__).resolve().parents[2]
CONFIGS = REPOSITORY / "configs"
ASSUMPTIONS = CONFIGS / "common" / "assumptions.yaml"

# Plain titles of the assumption factors, with the setting the slider shows; the other
# settings of a factor move at the same share of their own ranges.
_FACTOR_TITLES = {
    "urgent_share": "Share of victims who cannot wait until the next opening",
    "couple_violence_share": "Share of victims' cases about couple violence",
    "referral_probability": "Chance officers refer a victim when a worker can take the case",
    "referral_when_no_worker": (
        "How often officers still refer when nobody can take the case, as a share of "
        "the usual (1: alike)"
    ),
    "referral_delay": "Time from the police contact to the referral (victims, mean minutes)",
    "patience": "How long a victim present waits for a busy worker (mean minutes)",
    "interview": "Length of a victim's first interview (mean minutes)",
    "onward_referral_probability": "Share of victims referred on to a partner",
    "onward_referral_work": "Worker time to arrange an onward referral (victims, mean minutes)",
    "followup_gap": "Days between two follow-up appointments (mean)",
    "followup_duration": "Length of a follow-up appointment (mean minutes)",
    "no_show": "Share of victims' booked follow-ups missed",
    "callback_attempt_minutes": "Worker minutes of an unanswered callback",
    "callback_max_attempts": "Callback attempts before a referral is given up",
    "callback_retry_hours": "Hours between two callback attempts",
    "callback_reach_initial": "Chance of reaching a person called back at once",
    "callback_reach_half_life": "Hours over which that chance halves",
    "callback_reach_floor": "Chance left after a long delay",
    "callback_expiry": "Days after which a referral is no longer called back",
    "diary_horizon": "Days past the wanted date a follow-up is still offered",
    "diary_bookable_share": "Share of case time appointments may fill",
    "diary_max_rebookings": "Times an appointment the worker cannot hold is rebooked",
    "sickness_rate": "Share of rostered days off sick",
    "other_duties": "Share of each shift on meetings, reports and training",
    "referral_rule": "What officers count as a reachable worker",
    "station_travel": "One-way travel of a visiting or shared worker (minutes)",
    "on_call_premium": "On-call premium (EUR an hour on call)",
    "overtime_rate": "Cost of an hour of overtime (EUR)",
    "outside_rota_rates": "What an outside on-call rota costs (EUR an hour on call)",
    "on_call_staffed_by": "Who takes the on-call rota",
    "on_call_rest": "Rest after a night call-out (hours)",
    "on_call_phone_share": "Share of call-outs settled by phone",
    "on_call_phone_delay": "Minutes to answer a call-out by phone (mean)",
    "on_call_travel_delay": "Minutes to come in on a call-out (mean)",
}

_OPTION_TITLES = {
    "can_take_now": "someone who can take this case now",
    "on_duty": "anyone on duty or on call, whatever the case",
    "staff": "the station's own workers, in weekly turns",
    "external": "an outside rota (its own costs)",
}

# Factors the page sets through its main settings (demand level, follow-up intensity),
# or that it shows with a model's on-call settings rather than among the assumptions.
PAGE_FACTORS = frozenset({"demand_volume", "followup_count"})
ON_CALL_PREFIX = "on_call."


@dataclass(frozen=True)
class CoverageModel:
    """A config of ``configs/``: its file, plain title, description and validated
    scenario (the settings the page starts from)."""

    name: str
    path: Path
    title: str
    description: str
    document: dict[str, Any]
    scenario: Scenario

    @property
    def single_station(self) -> bool:
        return len(self.scenario.stations) == 1


@dataclass(frozen=True)
class AssumptionControl:
    """One assumption factor as a page control.  A range factor shows ``path`` (its
    first setting that the chosen models have) between ``low`` and ``high``; an options
    factor offers ``options`` (titled by ``option_titles``).  ``default`` is the chosen
    models' value, and ``configs`` the models it applies to."""

    name: str
    title: str
    rationale: str
    factor: Factor
    path: str
    configs: tuple[str, ...]
    default: Any
    low: float = 0.0
    high: float = 1.0
    options: tuple[Any, ...] = ()
    option_titles: tuple[str, ...] = ()

    @property
    def whole(self) -> bool:
        return self.factor.whole

    @property
    def help(self) -> str:
        moved = [p for p in (*self.factor.paths, *self.factor.options) if p != self.path]
        together = ""
        if moved:
            together = (
                f" Moves with it, at the same share of their ranges: {len(moved)} more settings."
            )
        return f"Assumption: {self.rationale}.{together}"

    def share(self, value: float) -> float:
        """Where ``value`` lies in the range, 0 at the low end, 1 at the high end."""
        return min(max((float(value) - self.low) / (self.high - self.low), 0.0), 1.0)

    def overrides(self, value: Any, config: str, document: dict[str, Any]) -> dict[str, Any]:
        """The settings of ``config`` for ``value`` (none where the control is at its
        default or does not apply)."""
        if config not in self.configs or value == self.default:
            return {}
        if self.options:
            index = self.options.index(value)
            u = (index + 0.5) / len(self.options)
        else:
            u = self.share(value)
        return {p: _plain(v) for p, v in self.factor.overrides(u, document).items()}


def _plain(value: Any) -> Any:
    # Round what a share of a range gives, so that the command that reproduces the
    # page's numbers carries the very same values, written short.
    if isinstance(value, float):
        return round(value, 6)
    return value


@cache
def coverage_models(configs: Path = CONFIGS) -> dict[str, CoverageModel]:
    """Every scenario file of ``configs`` (not its sub-folders), by name."""
    models = {}
    for path in sorted(configs.glob("*.yaml")):
        document = read_scenario_document(path)
        scenario = scenario_from_dict(document, source=str(path))
        description = " ".join(scenario.description.split())
        models[path.stem] = CoverageModel(
            path.stem, path, scenario.plain_title, description, document, scenario
        )
    return models


@cache
def load_page_assumptions(path: Path = ASSUMPTIONS) -> Assumptions:
    """The assumptions file, checked against the configs it names."""
    return load_assumptions(path)


def assumption_controls(
    assumptions: Assumptions, chosen: tuple[str, ...], on_call: bool = False
) -> list[AssumptionControl]:
    """The varied factors that apply to any of the ``chosen`` models: those of the
    on-call rota when ``on_call``, the others otherwise (less the main settings)."""
    controls = []
    for name, factor in assumptions.varied.items():
        if name in PAGE_FACTORS:
            continue
        paths = (*factor.paths, *factor.options)
        if all(p.startswith(ON_CALL_PREFIX) for p in paths) != on_call:
            continue
        applies = tuple(
            c
            for c in chosen
            if c in assumptions.documents
            and (factor.configs is None or c in factor.configs)
            and any(sets(assumptions.documents[c], p) for p in paths)
        )
        if not applies:
            continue
        path = next(p for p in paths if sets(assumptions.documents[applies[0]], p))
        default = configured(assumptions.documents[applies[0]], path)
        title = _FACTOR_TITLES.get(name, name.replace("_", " ").capitalize())
        common = {
            "name": name,
            "title": title,
            "rationale": " ".join(factor.rationale.split()),
            "factor": factor,
            "path": path,
            "configs": applies,
            "default": default,
        }
        if path in factor.options:
            options = factor.options[path]
            controls.append(
                AssumptionControl(
                    **common,
                    options=options,
                    option_titles=tuple(_OPTION_TITLES.get(str(o), str(o)) for o in options),
                )
            )
        else:
            low, high = factor.paths[path]
            controls.append(AssumptionControl(**common, low=low, high=high))
    return controls
