"""A comparison request: what the one-station form holds, checked field by field and
turned into an experiment spec (each chosen model with its overrides by dotted path),
the configs it resolves to and the commands that reproduce its numbers.

Nothing here runs a simulation; a request that fails a check yields
:class:`InputProblem` messages that name the form's field, and no spec.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from sim.app.catalog import AssumptionControl, CoverageModel
from sim.app.rosters import (
    AS_CONFIGURED,
    CUSTOM,
    ON_CALL_PRESETS,
    ROSTER_PRESETS,
    RosterError,
    off_site_windows,
    parse_week,
)
from sim.config.errors import ConfigError
from sim.config.schema import Scenario, load_scenario
from sim.config.titles import changed_title, describe_changes
from sim.measures.catalogue import ALL

__all__ = [
    "DEMAND_RANGE",
    "FIGURES",
    "POSTS_RANGE",
    "REPLICATIONS_RANGE",
    "SPEC_NAME",
    "ComparisonRequest",
    "InputProblem",
    "ModelSettings",
    "OnCallSettings",
    "ResolvedRequest",
    "WorkerSettings",
    "resolve_request",
]

POSTS_RANGE = (1, 50)
REPLICATIONS_RANGE = (2, 200)
DEMAND_RANGE = (0.5, 2.0)
SEED_RANGE = (0, 2**63 - 1)
SPEC_NAME = "page_comparison"
FIGURES = ("wait_ecdf", "hour_of_week_heatmap", "cost_frontier")
POPULATIONS = (ALL, "victim", "perpetrator", "third_party")


@dataclass(frozen=True)
class InputProblem:
    """A form field and what is wrong with its value."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class WorkerSettings:
    """The form's settings of one worker entry of a model's staffing: the number of
    posts and the roster (a preset key, or ``custom`` with ``custom_roster`` text)."""

    posts: float
    roster: str = AS_CONFIGURED
    custom_roster: str = ""


@dataclass(frozen=True)
class OnCallSettings:
    """The form's settings of a model's on-call rota."""

    hours: str = AS_CONFIGURED
    custom_hours: str = ""
    eligible: str | None = None


@dataclass(frozen=True)
class ModelSettings:
    """One chosen coverage model and its settings; ``assumptions`` are the values of
    its own assumption controls (the on-call ones), by factor name."""

    config: str
    workers: tuple[WorkerSettings, ...] = ()
    on_call: OnCallSettings | None = None
    assumptions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ComparisonRequest:
    """The whole one-station form: the models (the first is the baseline unless
    ``baseline`` names another), demand level, follow-up option, the common
    assumption values by factor name, replications and seed."""

    models: tuple[ModelSettings, ...]
    baseline: str | None = None
    demand_level: float = 1.0
    followups: Any = None
    assumptions: Mapping[str, Any] = field(default_factory=dict)
    replications: float = 9  # the shipped configs' (of three windows each)
    seed: float = 20130613


@dataclass(frozen=True)
class ResolvedRequest:
    """A request that passed every check: each model's overrides and validated
    scenario, the baseline, replications and seed."""

    overrides: dict[str, dict[str, Any]]
    scenarios: dict[str, Scenario]
    baseline: str
    replications: int
    seed: int

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.overrides)

    def spec(self, configs: str, figures: bool = True) -> dict[str, Any]:
        """The experiment spec of this request, its configs looked up in ``configs``
        (a folder, relative to the spec file or absolute)."""
        spec: dict[str, Any] = {
            "name": SPEC_NAME,
            "description": "Coverage models compared on the station-sim page.",
            "configs": configs,
            "scenarios": [
                {"config": label, "overrides": overrides} if overrides else label
                for label, overrides in self.overrides.items()
            ],
            "replications": self.replications,
            "seed": self.seed,
            "comparison": {"baseline": self.baseline, "populations": list(POPULATIONS)},
        }
        if figures:
            spec["figures"] = list(FIGURES)
        return spec

    def spec_text(self, configs: str = "../configs", figures: bool = True) -> str:
        """The spec as YAML, to save in ``experiments/`` and run with ``station-sim
        experiment``."""
        header = (
            "# Made by the station-sim page. Save it as experiments/page_comparison.yaml and\n"
            "# run: station-sim experiment experiments/page_comparison.yaml\n"
        )
        return header + _dump(self.spec(configs, figures))

    def key(self) -> str:
        """A digest of everything that sets the numbers and the comparison."""
        text = json.dumps(self.spec("configs", figures=False), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    def run_command(self, label: str) -> str:
        """The ``station-sim run`` command that reproduces model ``label``'s numbers."""
        words = ["station-sim", "run", f"configs/{label}.yaml"]
        for path, value in self.overrides[label].items():
            if path != "title":  # station-sim run titles a changed model itself
                words += ["--set", f"{path}={_yaml_value(value)}"]
        words += ["--replications", str(self.replications), "--seed", str(self.seed)]
        return shlex.join(words)

    def resolved_config(self, label: str) -> str:
        """Model ``label`` as run, every setting written out: ``station-sim run`` on
        this file alone gives the same numbers."""
        header = (
            f"# {label} as the station-sim page ran it, every setting resolved.\n"
            f"# Check it: station-sim validate {label}.yaml\n"
            f"# Reproduce it: station-sim run {label}.yaml\n"
        )
        document = self.scenarios[label].model_dump(mode="json")
        return header + _dump(document)


def _yaml_value(value: Any) -> str:
    # JSON is YAML, and it quotes the clock times that plain YAML would not.
    return json.dumps(value)


class _PlainDumper(yaml.SafeDumper):
    """Writes a value shared by several settings out in full, not as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)


def resolve_request(
    request: ComparisonRequest,
    models: Mapping[str, CoverageModel],
    common: Sequence[AssumptionControl],
    on_call: Sequence[AssumptionControl],
    followup_options: Sequence[Any],
) -> tuple[ResolvedRequest | None, list[InputProblem]]:
    """Check every field and build the overrides of every model; with any problem,
    no request (and the problems, each naming its field)."""
    problems: list[InputProblem] = []
    chosen = [m.config for m in request.models]
    if len(chosen) < 2:
        problems.append(InputProblem("Coverage models to compare", "choose at least two models"))
    if len(set(chosen)) != len(chosen):
        problems.append(InputProblem("Coverage models to compare", "a model is chosen twice"))
    for name in chosen:
        if name not in models:
            problems.append(
                InputProblem("Coverage models to compare", f"'{name}' is not a model of configs/")
            )
    replications = _whole_in_range(
        request.replications, REPLICATIONS_RANGE, "Replications", problems
    )
    seed = _whole_in_range(request.seed, SEED_RANGE, "Random seed", problems)
    demand = _number_in_range(request.demand_level, DEMAND_RANGE, "Demand level", problems)
    baseline = request.baseline if request.baseline is not None else (chosen or [None])[0]
    if baseline is not None and baseline not in chosen:
        problems.append(
            InputProblem("Compare with", "the baseline must be one of the chosen models")
        )
    if request.followups is not None and request.followups not in followup_options:
        problems.append(InputProblem("Follow-ups wanted", "not one of the offered options"))

    # Every model is checked even when a common field is wrong, so that the page names
    # every problem at once.
    overrides: dict[str, dict[str, Any]] = {}
    scenarios: dict[str, Scenario] = {}
    for settings in request.models:
        if settings.config not in models:
            continue
        model = models[settings.config]
        found: list[InputProblem] = []
        wanted = _model_overrides(settings, model, found)
        wanted |= _demand_overrides(model, demand)
        if request.followups is not None and request.followups in followup_options:
            path = "populations.victim.followups.count"
            if request.followups != _get(model.scenario.model_dump(mode="json"), path):
                wanted[path] = request.followups
        for control in common:
            value = request.assumptions.get(control.name, control.default)
            wanted |= control.overrides(value, model.name, model.document)
        for control in on_call:
            value = settings.assumptions.get(control.name, control.default)
            wanted |= control.overrides(value, model.name, model.document)
        if found:
            problems += found
            continue
        try:
            scenarios[model.name] = load_scenario(model.path, wanted)
        except ConfigError as error:
            problems.append(_explain(error, model, wanted))
            continue
        if wanted:
            # The page's common settings (demand, assumptions) leave the title as it
            # is; said here, so that an experiment spec's retitling leaves it too.
            wanted.setdefault("title", model.title)
        overrides[model.name] = wanted
    if problems:
        return None, problems
    assert baseline is not None and replications is not None and seed is not None
    # The experiment sets each scenario's seed and replications: the resolved configs
    # must say the same, so that station-sim run on one of them gives its numbers.
    scenarios = {
        label: load_scenario(
            models[label].path,
            {**overrides[label], "simulation.seed": seed, "simulation.replications": replications},
        )
        for label in overrides
    }
    return ResolvedRequest(overrides, scenarios, baseline, replications, seed), []


def _model_overrides(
    settings: ModelSettings, model: CoverageModel, problems: list[InputProblem]
) -> dict[str, Any]:
    scenario = model.scenario
    out: dict[str, Any] = {}
    rosters: list[list[dict[str, Any]]] = []
    for index, worker in enumerate(scenario.staffing.workers):
        chosen = settings.workers[index] if index < len(settings.workers) else None
        where = f"{model.title}, {worker.plain_title}"
        roster = [s.model_dump(mode="json", exclude_none=True) for s in worker.roster]
        if chosen is not None:
            posts = _whole_in_range(chosen.posts, POSTS_RANGE, f"{where}: posts", problems)
            if posts is not None and posts != worker.count:
                out[f"staffing.workers[{index}].count"] = posts
            shifts = _roster(chosen, model, f"{where}: roster", problems)
            if shifts is not None:
                roster = shifts
                out[f"staffing.workers[{index}].roster"] = shifts
                # A roster changed from the page is paid for the hours it rosters.
                if worker.fte is not None:
                    out[f"staffing.workers[{index}].fte"] = None
        rosters.append(roster)
    if scenario.on_call is not None and settings.on_call is not None:
        where = f"{model.title}: on-call hours"
        members = [
            shift
            for worker, roster in zip(scenario.staffing.workers, rosters, strict=True)
            if scenario.on_call.rota is None or worker.name in scenario.on_call.rota
            for shift in roster
        ]
        windows = _on_call_windows(settings.on_call, members, where, problems)
        if windows is not None:
            out["on_call.windows"] = windows
        eligible = settings.on_call.eligible
        if eligible is not None and eligible != scenario.on_call.eligible:
            if eligible not in ("urgent", "all"):
                problems.append(InputProblem(f"{model.title}: passed to on call", "urgent or all"))
            else:
                out["on_call.eligible"] = eligible
    changed = describe_changes(out, scenario)
    if changed:
        # A model changed on the page is not the config it started from: its headings
        # and legends say so (the title is what figures and tables show).
        out["title"] = changed_title(model.title, changed, "on this page")
    return out


def _roster(
    chosen: WorkerSettings, model: CoverageModel, where: str, problems: list[InputProblem]
) -> list[dict[str, Any]] | None:
    if chosen.roster == AS_CONFIGURED:
        return None
    if not model.single_station:
        problems.append(
            InputProblem(
                where, "this model's worker rotates over several stations; keep its roster"
            )
        )
        return None
    if chosen.roster == CUSTOM:
        try:
            return parse_week(chosen.custom_roster)
        except RosterError as error:
            problems.append(InputProblem(where, str(error)))
            return None
    preset = {p.key: p for p in ROSTER_PRESETS}.get(chosen.roster)
    if preset is None:
        problems.append(InputProblem(where, f"'{chosen.roster}' is not a roster preset"))
        return None
    return [dict(s) for s in preset.shifts]


def _on_call_windows(
    chosen: OnCallSettings,
    on_site: list[dict[str, Any]],
    where: str,
    problems: list[InputProblem],
) -> list[dict[str, Any]] | None:
    if chosen.hours == AS_CONFIGURED:
        return None
    if chosen.hours == CUSTOM:
        try:
            return parse_week(chosen.custom_hours)
        except RosterError as error:
            problems.append(InputProblem(where, str(error)))
            return None
    preset = {p.key: p for p in ON_CALL_PRESETS}.get(chosen.hours)
    if preset is None:
        problems.append(InputProblem(where, f"'{chosen.hours}' is not an on-call preset"))
        return None
    windows = off_site_windows(preset.shifts, on_site)
    if not windows:
        problems.append(InputProblem(where, "the workers are on site in every one of these hours"))
        return None
    return windows


def _demand_overrides(model: CoverageModel, level: float | None) -> dict[str, Any]:
    if level is None or level == 1.0:
        return {}
    out = {}
    for name, population in model.scenario.populations.items():
        if population.arrivals.per_year is not None:
            out[f"populations.{name}.arrivals.per_year"] = round(
                population.arrivals.per_year * level, 3
            )
        elif population.arrivals.per_hour is not None:
            out[f"populations.{name}.arrivals.per_hour"] = round(
                population.arrivals.per_hour * level, 6
            )
    return out


# Where a message of the scenario checks points, the form field that sets it.
_FIELDS = (
    ("on_call.windows", "on-call hours"),
    ("on-call windows", "on-call hours"),
    ("on_call", "on-call settings"),
    (".roster", "roster"),
    ("roster shifts", "roster"),
    (".count", "posts"),
    ("arrivals", "demand level"),
    ("followups", "follow-ups"),
)


def _explain(error: ConfigError, model: CoverageModel, wanted: Mapping[str, Any]) -> InputProblem:
    message = str(error)
    # The file name heads the message; the analyst knows the model by its title.
    message = message.replace(f"{model.path}: ", "").replace(str(model.path), model.name)
    message = " ".join(message.replace("invalid configuration", "").split())
    name = next((label for key, label in _FIELDS if key in message), "settings")
    if name == "on-call hours" and any(".roster" in p for p in wanted):
        name = "roster and on-call hours"
    return InputProblem(f"{model.title}: {name}", message)


def _whole_in_range(
    value: Any, bounds: tuple[int, int], name: str, problems: list[InputProblem]
) -> int | None:
    number = _number(value)
    low, high = bounds
    if number is None or not number.is_integer():
        problems.append(InputProblem(name, f"give a whole number from {low:,} to {high:,}"))
        return None
    if not low <= number <= high:
        problems.append(
            InputProblem(name, f"{number:,.0f} is outside the allowed range {low:,}-{high:,}")
        )
        return None
    return int(number)


def _number_in_range(
    value: Any, bounds: tuple[float, float], name: str, problems: list[InputProblem]
) -> float | None:
    number = _number(value)
    low, high = bounds
    if number is None:
        problems.append(InputProblem(name, f"give a number from {low:g} to {high:g}"))
        return None
    if not low <= number <= high:
        problems.append(
            InputProblem(name, f"{number:g} is outside the allowed range {low:g}-{high:g}")
        )
        return None
    return round(number, 4)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _get(document: Any, dotted: str) -> Any:
    from sim.config.paths import parse_path

    node = document
    for part in parse_path(dotted):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node
