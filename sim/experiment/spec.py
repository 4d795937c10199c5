"""Experiment specs: which scenarios, on which design points, with how many replications,
and which figures and tables come out.

An experiment spec is a YAML file (``experiments/*.yaml``).  It names one or more base
scenarios of ``configs/``, overrides applied to all of them or to one, an optional
design over *factors* (each factor sets one or more dotted paths of the scenario), the
replications and the root seed, the paired comparison and the figures.  Every scenario
of every design point runs with the experiment's seed and the same replication indices,
so all of them see the same random streams: differences between them are paired
(common random numbers).

The spec is checked whole before anything runs: the scenarios exist, every dotted path
exists in every base scenario it applies to, every resolved design point validates as
a :class:`~sim.config.Scenario`, and every figure names factors, metrics and points
that exist.  A mistake ends in one :class:`~sim.config.ConfigError` naming the field,
the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config import (
    ConfigError,
    Scenario,
    apply_overrides,
    format_validation_error,
    parse_path,
    read_scenario_document,
    scenario_from_dict,
)
from sim.experiment.design import design_points
from sim.records import CaseRecords, RunRecords, WorkerRecords
from sim.store import config_digest
from sim.summary import ALL, measure_run

__all__ = [
    "DEFAULT_COMPARISON_METRICS",
    "Comparison",
    "Design",
    "DesignPoint",
    "ExperimentPlan",
    "ExperimentSpec",
    "Factor",
    "FigureRequest",
    "ResolvedScenario",
    "ScenarioEntry",
    "load_plan",
    "matching_points",
    "same_factor_value",
    "select_point",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")]

# Columns of the tidy tables: a factor may not take one of these names.
RESERVED_COLUMNS = frozenset(
    {
        "point",
        "scenario",
        "baseline",
        "replication",
        "population",
        "metric",
        "value",
        "hours",
        "hour_of_week",
        "n",
        "mean",
        "sd",
        "half_width",
        "ci_low",
        "ci_high",
    }
)

DEFAULT_COMPARISON_METRICS: tuple[str, ...] = (
    "unmet_share",
    "met_late_share",
    "wait_referral_mean_h",
    "wait_referral_median_h",
    "wait_referral_p90_h",
    "within_1h_share",
    "within_24h_share",
    "within_72h_share",
    "utilisation",
    "cost_eur_per_year",
    "cost_per_case_met_eur",
)
"""Measures shown in the Markdown comparison table unless the spec chooses others."""


class ScenarioEntry(BaseModel):
    """One base scenario of an experiment: ``config`` is the name of a file of the configs
    folder (``belgium_24_7``) or a YAML path relative to the spec; ``label`` names it in
    tables and figures (default: the config's ``name``); ``overrides`` set dotted paths
    of this scenario only."""

    model_config = _FROZEN
    config: str
    label: Name | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, value: Any) -> Any:
        return {"config": value} if isinstance(value, str) else value


class Factor(BaseModel):
    """A design factor: the value of each design point is written to every path of
    ``paths``.  ``apply`` says how: ``set`` writes the value, ``scale`` multiplies the
    base scenario's value by it, and ``national_share`` treats the value as a number
    of posts nationally: the base scenario's arrivals are what one of ``reference``
    posts meets, and with ``value`` posts the scenario's catchment, whose posts are the
    sum of its workers' counts, gets ``base x reference x posts / value`` (demand per
    post, the national demand being fixed).  A grid lists
    ``values``; Latin hypercube and Sobol designs draw from ``range`` (rounded down to
    whole numbers when ``integer``).  ``title`` and ``unit`` label figure axes."""

    model_config = _FROZEN
    name: Name
    paths: tuple[str, ...] = Field(min_length=1)
    apply: Literal["set", "scale", "national_share"] = "set"
    reference: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    values: tuple[Any, ...] | None = None
    range: tuple[float, float] | None = None
    integer: bool = False
    title: str | None = None
    unit: str = ""

    @model_validator(mode="before")
    @classmethod
    def _single_path(cls, value: Any) -> Any:
        if isinstance(value, dict) and "path" in value:
            if "paths" in value:
                raise ValueError("give either path or paths, not both")
            value = dict(value)
            value["paths"] = [value.pop("path")]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Factor:
        if self.name in RESERVED_COLUMNS:
            raise ValueError(
                f"name '{self.name}' is a column of the result tables; "
                f"choose another (reserved: {sorted(RESERVED_COLUMNS)})"
            )
        for path in self.paths:
            parse_path(path)
        if (self.apply == "national_share") != (self.reference is not None):
            raise ValueError(
                "reference (the posts nationally that the base scenario's demand assumes) "
                "is needed with apply: national_share, and only there"
            )
        if self.values is not None and len(self.values) == 0:
            raise ValueError("values is empty: list at least one value")
        if self.values is not None and len(set(map(_canonical, self.values))) != len(self.values):
            raise ValueError(f"values {list(self.values)} list a value twice")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range {list(self.range)}: the low end must be below the high end")
        if (
            self.range is not None
            and self.integer
            and math.ceil(self.range[0]) > math.floor(self.range[1])
        ):
            raise ValueError(f"range {list(self.range)} holds no whole number (integer: true)")
        if self.apply != "set":
            numbers = self.values if self.values is not None else self.range or ()
            if not all(_is_number(v) and v != 0 for v in numbers):
                raise ValueError(f"apply: {self.apply} needs non-zero numbers as values")
        return self

    @property
    def axis_label(self) -> str:
        """The label of an axis that shows this factor, with its unit."""
        title = self.title or self.name.replace("_", " ")
        return f"{title} ({self.unit})" if self.unit else title


class Design(BaseModel):
    """Design points over the factors: ``grid`` (every combination of the listed values,
    the first factor varying slowest), ``latin_hypercube`` or ``sobol`` (``points``
    points over the factors' ranges, drawn with ``scipy.stats.qmc`` from ``seed``, by
    default the experiment's seed; Sobol needs a power of 2)."""

    model_config = _FROZEN
    kind: Literal["grid", "latin_hypercube", "sobol"] = "grid"
    factors: tuple[Factor, ...] = Field(min_length=1)
    points: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> Design:
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names):
            raise ValueError(f"factor names must be unique, got {names}")
        paths = [p for f in self.factors for p in f.paths]
        if len(set(paths)) != len(paths):
            raise ValueError(f"a path is set by two factors: {paths}")
        for f in self.factors:
            if self.kind == "grid" and f.values is None:
                raise ValueError(f"factor '{f.name}': a grid needs values: [...]")
            if self.kind == "grid" and f.range is not None:
                raise ValueError(f"factor '{f.name}': a grid takes values, not range")
            if self.kind != "grid" and (f.range is None or f.values is not None):
                raise ValueError(
                    f"factor '{f.name}': a {self.kind} design needs range: [low, high] "
                    "and no values"
                )
        if self.kind == "grid" and self.points is not None:
            raise ValueError("points applies to latin_hypercube and sobol designs, not grid")
        if self.kind != "grid" and self.points is None:
            raise ValueError(f"a {self.kind} design needs points: N")
        if self.kind == "sobol" and self.points is not None and self.points & (self.points - 1):
            low = 1 << (self.points.bit_length() - 1)
            raise ValueError(
                f"points = {self.points}: a Sobol design needs a power of 2 to keep its "
                f"balance; use {low} or {low * 2}"
            )
        return self


FigureKind = Literal["wait_ecdf", "hour_of_week_heatmap", "staffing_response", "cost_frontier"]

# Options each figure kind takes (besides kind and name).
_FIGURE_OPTIONS: dict[str, frozenset[str]] = {
    "wait_ecdf": frozenset({"at", "title"}),
    "hour_of_week_heatmap": frozenset({"at", "title"}),
    "staffing_response": frozenset(
        {"x", "lines", "panels", "at", "metrics", "population", "title"}
    ),
    "cost_frontier": frozenset({"at", "label", "national_posts", "title"}),
}


class FigureRequest(BaseModel):
    """A figure to draw from the stored tables.

    - ``wait_ecdf``: share of referred cases contacted within t, by scenario and
      population, log time axis; ``at`` picks the design point (by factor values) when
      there are several.
    - ``hour_of_week_heatmap``: mean wait and unmet share by hour of the week of
      arrival, one row per scenario; ``at`` as above.
    - ``staffing_response``: ``metrics`` (default unmet share and p90 wait) against
      factor ``x``, one line per value of ``lines`` and one column of panels per value
      of ``panels`` (a factor or ``scenario``), with 95 % CI bands; ``at`` fixes the
      other factors of a grid.
    - ``cost_frontier``: cost a year against unmet share, one point per scenario and
      design point, the non-dominated ones joined; ``label`` annotates each point with a
      factor's value; ``national_posts`` names the factor that counts the posts
      nationally (see ``Factor``), and the cost shown is then the national one (the
      catchment's cost x national posts / the catchment's posts); ``at`` keeps only
      the design points with the given factor values.
    """

    model_config = _FROZEN
    kind: FigureKind
    name: Name | None = None
    title: str | None = None
    at: dict[str, Any] = Field(default_factory=dict)
    x: str | None = None
    lines: str | None = None
    panels: str | None = None
    metrics: tuple[str, ...] = ("unmet_share", "wait_referral_p90_h")
    population: str = ALL
    label: str | None = None
    national_posts: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and value.get("kind") in _FIGURE_OPTIONS:
            allowed = _FIGURE_OPTIONS[value["kind"]] | {"kind", "name"}
            extra = sorted(set(value) - allowed)
            if extra:
                raise ValueError(
                    f"{extra} do(es) not apply to a {value['kind']} figure; "
                    f"its options: {sorted(allowed - {'kind', 'name'})}"
                )
        return value

    @model_validator(mode="after")
    def _needs(self) -> FigureRequest:
        if self.kind == "staffing_response" and self.x is None:
            raise ValueError("a staffing_response figure needs x: FACTOR")
        if not self.metrics:
            raise ValueError("metrics is empty")
        return self

    @property
    def stem(self) -> str:
        """File name of the figure, without extension."""
        return self.name or self.kind


class Comparison(BaseModel):
    """The paired comparison of the scenarios: each one minus ``baseline`` (default: the
    first scenario), replication by replication; the Markdown table shows ``metrics``
    for ``populations``, the tidy table every measure."""

    model_config = _FROZEN
    baseline: Name | None = None
    metrics: tuple[str, ...] = DEFAULT_COMPARISON_METRICS
    populations: tuple[str, ...] = (ALL,)


class ExperimentSpec(BaseModel):
    """A whole experiment spec, validated field by field (the cross-checks against the
    scenarios are made by :func:`load_plan`)."""

    model_config = _FROZEN
    name: Name
    description: str = ""
    configs: str = "../configs"
    scenarios: tuple[ScenarioEntry, ...] = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    design: Design | None = None
    replications: Annotated[int, Field(ge=1)]
    seed: Annotated[int, Field(ge=0)]
    comparison: Comparison | None = None
    figures: tuple[FigureRequest, ...] = ()

    @model_validator(mode="after")
    def _unique_figures(self) -> ExperimentSpec:
        stems = [f.stem for f in self.figures]
        if len(set(stems)) != len(stems):
            raise ValueError(f"two figures would share a file name: {stems}; give each a name")
        return self


# ---------------------------------------------------------------------------------------
# The resolved plan


@dataclass(frozen=True)
class DesignPoint:
    """One point of the design: its index and the value of each factor there."""

    index: int
    values: dict[str, Any]

    @property
    def description(self) -> str:
        if not self.values:
            return "the only point"
        return ", ".join(f"{k}={_short(v)}" for k, v in self.values.items())


@dataclass(frozen=True)
class ResolvedScenario:
    """A base scenario at a design point, validated: what the tasks of that pair run."""

    point: int
    label: str
    scenario: Scenario
    digest: str


@dataclass(frozen=True)
class ExperimentPlan:
    """An experiment checked whole: the spec, its design points and every scenario at
    every point, ready to be cut into tasks."""

    spec: ExperimentSpec
    spec_path: Path
    spec_text: str
    labels: tuple[str, ...]
    config_paths: dict[str, str]
    points: tuple[DesignPoint, ...]
    scenarios: tuple[ResolvedScenario, ...]
    population_names: tuple[str, ...]
    metric_names: tuple[str, ...]

    @property
    def factors(self) -> tuple[Factor, ...]:
        return self.spec.design.factors if self.spec.design is not None else ()

    @property
    def baseline(self) -> str:
        """Label of the scenario every other one is compared with."""
        chosen = self.spec.comparison.baseline if self.spec.comparison else None
        return chosen or self.labels[0]

    def digest(self) -> str:
        """SHA-256 of everything that determines the numbers: the resolved scenario of
        every (point, scenario) pair and the replications.  Equal digests, equal
        results; a spec edited only in its comments or figures keeps its digest."""
        content = {
            "replications": self.spec.replications,
            "points": [_jsonable(p.values) for p in self.points],
            "scenarios": [(s.point, s.label, s.digest) for s in self.scenarios],
        }
        text = json.dumps(content, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def scenario_at(self, point: int, label: str) -> Scenario:
        for resolved in self.scenarios:
            if resolved.point == point and resolved.label == label:
                return resolved.scenario
        raise KeyError((point, label))


def load_plan(path: str | Path) -> ExperimentPlan:
    """Read a spec file and check it whole, against every scenario and design point."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment spec")
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    _reject_empty_design(document, path)
    try:
        spec = ExperimentSpec.model_validate(document)
    except ValidationError as error:
        message = format_validation_error(error, document, f"{path}").replace(
            "invalid configuration", "invalid experiment spec"
        )
        raise ConfigError(message) from None
    return _resolve(spec, path, text)


def _reject_empty_design(document: dict[str, Any], path: Path) -> None:
    # An empty design is a spec mistake, not "a single point": say so before pydantic
    # reports it as a missing or too-short field.
    if "design" not in document:
        return
    design = document["design"]
    if design is None or design == {} or (isinstance(design, dict) and not design.get("factors")):
        raise ConfigError(
            f"{path}: design = {design!r}: the design has no factors; list at least one "
            "factor under design.factors, or leave out design to run the scenarios once"
        )


def _resolve(spec: ExperimentSpec, path: Path, text: str) -> ExperimentPlan:
    source = str(path)
    configs_dir = (path.parent / spec.configs).resolve()
    bases: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for i, entry in enumerate(spec.scenarios):
        config_path = _config_path(entry.config, path, configs_dir, f"scenarios[{i}].config")
        raw = read_scenario_document(config_path)
        resolved_base = scenario_from_dict(raw, source=str(config_path)).model_dump(mode="json")
        label = entry.label or resolved_base["name"]
        overrides = {**spec.overrides, **entry.overrides}
        for key in overrides:
            where = "overrides" if key in spec.overrides else f"scenarios[{i}].overrides"
            _check_path(key, resolved_base, source, where, label)
        document = apply_overrides(raw, overrides, source=f"{source}: scenario '{label}'")
        bases.append((label, str(config_path), document, resolved_base))
    labels = [b[0] for b in bases]
    if len(set(labels)) != len(labels):
        raise ConfigError(
            f"{source}: scenarios: two scenarios share a label ({labels}); give each a label"
        )

    factors = spec.design.factors if spec.design is not None else ()
    points = [
        DesignPoint(index, values)
        for index, values in enumerate(design_points(spec.design, spec.seed))
    ]
    resolved: list[ResolvedScenario] = []
    for label, _, document, _ in bases:
        try:
            base = scenario_from_dict(document, source=f"{source}: scenario '{label}'")
        except ConfigError as error:
            raise ConfigError(f"{error}\n  (the overrides of {source} made it invalid)") from None
        base_values = base.model_dump(mode="json")
        for f, factor in enumerate(factors):
            for k, factor_path in enumerate(factor.paths):
                where = f"design.factors[{f}].paths[{k}]"
                _check_path(factor_path, base_values, source, where, label)
                if factor.apply != "set":
                    current = _lookup(base_values, parse_path(factor_path))
                    if not _is_number(current):
                        raise ConfigError(
                            f"{source}: {where} = '{factor_path}': apply: {factor.apply} needs "
                            f"a number there, but scenario '{label}' has {current!r}"
                        )
        for point in points:
            where = (
                f"{source}: scenario '{label}' at design point {point.index} ({point.description})"
            )
            overrides = {
                factor_path: _factor_value(factor, point.values[factor.name], base_values, fp)
                for factor in factors
                if factor.apply != "national_share"
                for fp, factor_path in ((parse_path(p), p) for p in factor.paths)
            }
            if any(factor.apply == "national_share" for factor in factors):
                # Demand per post counts the posts of this point, whatever other factors
                # set its staffing to.
                staffed = apply_overrides(base_values, overrides, where)
                overrides |= {
                    factor_path: _factor_value(factor, point.values[factor.name], staffed, fp)
                    for factor in factors
                    if factor.apply == "national_share"
                    for fp, factor_path in ((parse_path(p), p) for p in factor.paths)
                }
            overrides |= {
                "name": label,
                "simulation.seed": spec.seed,
                "simulation.replications": spec.replications,
            }
            scenario = scenario_from_dict(apply_overrides(document, overrides, where), where)
            resolved.append(ResolvedScenario(point.index, label, scenario, config_digest(scenario)))
    # Order: point, then scenario in the spec's order (the task and table order).
    resolved.sort(key=lambda r: (r.point, labels.index(r.label)))

    population_names = _population_names(resolved, source)
    metric_names = _metric_names(resolved)
    plan = ExperimentPlan(
        spec=spec,
        spec_path=path,
        spec_text=text,
        labels=tuple(labels),
        config_paths={label: config_path for label, config_path, _, _ in bases},
        points=tuple(points),
        scenarios=tuple(resolved),
        population_names=population_names,
        metric_names=metric_names,
    )
    _check_outputs(plan, source)
    return plan


def _config_path(name: str, spec_path: Path, configs_dir: Path, where: str) -> Path:
    if name.endswith((".yaml", ".yml")):
        candidate = (spec_path.parent / name).resolve()
        if not candidate.is_file():
            raise ConfigError(f"{spec_path}: {where} = '{name}': no such file ({candidate})")
        return candidate
    candidate = configs_dir / f"{name}.yaml"
    if not candidate.is_file():
        known = sorted(p.stem for p in configs_dir.glob("*.yaml")) if configs_dir.is_dir() else []
        raise ConfigError(
            f"{spec_path}: {where} = '{name}': not a scenario of {configs_dir}; known: {known}"
        )
    return candidate


_ABSENT = object()


def _lookup(node: Any, parts: list[str | int]) -> Any:
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _ABSENT
        elif not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _check_path(path: str, resolved: dict[str, Any], source: str, where: str, label: str) -> None:
    """Reject a dotted path that does not lead to a setting of the resolved scenario."""
    parts = parse_path(path)
    node: Any = resolved
    for depth, part in enumerate(parts):
        so_far = _dotted(parts[:depth]) or "the top level"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(
                    f"{source}: {where} = '{path}': {so_far} is not a list in scenario '{label}'"
                )
            if part >= len(node):
                raise ConfigError(
                    f"{source}: {where} = '{path}': {so_far} has {len(node)} item(s) in "
                    f"scenario '{label}', so [{part}] does not exist"
                )
        else:
            if node is None:
                raise ConfigError(
                    f"{source}: {where} = '{path}': {so_far} is not set in scenario "
                    f"'{label}', so '{part}' does not exist there; set {so_far} itself, or "
                    "apply the override to the scenarios that have it"
                )
            if not isinstance(node, dict):
                raise ConfigError(
                    f"{source}: {where} = '{path}': {so_far} is a value, not a section, "
                    f"in scenario '{label}'"
                )
            if part not in node:
                raise ConfigError(
                    f"{source}: {where} = '{path}': no setting '{part}' in {so_far} of "
                    f"scenario '{label}'; known: {sorted(node)}"
                )
        node = node[part]


def _dotted(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _factor_value(factor: Factor, value: Any, base: dict[str, Any], parts: list[str | int]) -> Any:
    """The value a factor writes at ``parts``; ``base`` is the resolved scenario it
    scales (for ``national_share``, with the point's other factors applied)."""
    if factor.apply == "set":
        return value
    current = _lookup(base, parts)
    if factor.apply == "scale":
        return current * value
    assert factor.reference is not None  # checked by the model
    return current * factor.reference * posts(base) / value


def posts(scenario: dict[str, Any]) -> int:
    """The on-site posts of a scenario (as a resolved mapping): its workers' counts."""
    return sum(int(worker["count"]) for worker in scenario["staffing"]["workers"])


def _population_names(resolved: list[ResolvedScenario], source: str) -> tuple[str, ...]:
    names = resolved[0].scenario.population_names
    for r in resolved:
        if r.scenario.population_names != names:
            raise ConfigError(
                f"{source}: scenario '{r.label}' has populations "
                f"{list(r.scenario.population_names)}, others {list(names)}: the scenarios "
                "of one experiment must share their populations to be compared"
            )
    return names


def _metric_names(resolved: list[ResolvedScenario]) -> tuple[str, ...]:
    """Names of the measures every run of the experiment will have."""
    names: list[str] = []
    for r in resolved:
        for metric in _measure_names(r.scenario):
            if metric not in names:
                names.append(metric)
    return tuple(names)


def _measure_names(scenario: Scenario) -> list[str]:
    # The measures of an empty run of the scenario: the same names a real run gives,
    # taken from sim.summary itself rather than copied here, at no simulation cost.
    start, end = scenario.simulation.window_minutes
    empty = np.empty(0, dtype=np.int64)
    cases = CaseRecords(*[empty] * len(CaseRecords.__dataclass_fields__))
    workers = WorkerRecords(*[empty] * len(WorkerRecords.__dataclass_fields__))
    run = RunRecords(
        scenario.name,
        0,
        scenario.simulation.seed,
        start,
        end,
        end,
        scenario.population_names,
        tuple(s.name for s in scenario.stations),
        (),
        cases,
        workers,
    )
    seen: list[str] = []
    for row in measure_run(run, scenario):
        if row.metric not in seen:
            seen.append(row.metric)
    return seen


def _check_outputs(plan: ExperimentPlan, source: str) -> None:
    spec = plan.spec
    factor_names = [f.name for f in plan.factors]
    populations = [*plan.population_names, ALL]

    def known_metric(metric: str, where: str) -> None:
        if metric not in plan.metric_names:
            raise ConfigError(
                f"{source}: {where} = '{metric}': not a measure; known: {list(plan.metric_names)}"
            )

    if spec.comparison is not None:
        if len(plan.labels) < 2:
            raise ConfigError(
                f"{source}: comparison: needs at least two scenarios, the spec has "
                f"{list(plan.labels)}"
            )
        if spec.comparison.baseline is not None and spec.comparison.baseline not in plan.labels:
            raise ConfigError(
                f"{source}: comparison.baseline = '{spec.comparison.baseline}': not a scenario "
                f"of this experiment; known: {list(plan.labels)}"
            )
        for k, metric in enumerate(spec.comparison.metrics):
            known_metric(metric, f"comparison.metrics[{k}]")
        for k, population in enumerate(spec.comparison.populations):
            if population not in populations:
                raise ConfigError(
                    f"{source}: comparison.populations[{k}] = '{population}': not a "
                    f"population; known: {populations}"
                )

    for i, figure in enumerate(spec.figures):
        where = f"figures[{i}] ({figure.kind})"
        if figure.kind in ("wait_ecdf", "hour_of_week_heatmap"):
            select_point(plan, figure.at, f"{source}: {where}")
        if figure.kind == "cost_frontier":
            _check_at(plan, figure.at, f"{source}: {where}")
        for option in ("x", "lines", "panels", "label", "national_posts"):
            value = getattr(figure, option)
            allowed = (
                [*factor_names, "scenario"]
                if option in ("x", "lines", "panels")
                else (factor_names)
            )
            if value is not None and value not in allowed:
                raise ConfigError(
                    f"{source}: {where}.{option} = '{value}': not a factor of the design; "
                    f"known: {allowed}"
                )
        if figure.national_posts is not None:
            factor = plan.factors[factor_names.index(figure.national_posts)]
            if factor.apply != "national_share":
                raise ConfigError(
                    f"{source}: {where}.national_posts = '{figure.national_posts}': the "
                    "factor must count posts nationally (apply: national_share)"
                )
        if figure.kind == "staffing_response":
            chosen = [v for v in (figure.x, figure.lines, figure.panels) if v is not None]
            if len(set(chosen)) != len(chosen):
                raise ConfigError(f"{source}: {where}: x, lines and panels must differ")
            _check_fixed(plan, figure, chosen, f"{source}: {where}")
            for k, metric in enumerate(figure.metrics):
                known_metric(metric, f"{where}.metrics[{k}]")
            if figure.population not in populations:
                raise ConfigError(
                    f"{source}: {where}.population = '{figure.population}': not a "
                    f"population; known: {populations}"
                )


def _check_fixed(
    plan: ExperimentPlan, figure: FigureRequest, chosen: list[str], where: str
) -> None:
    """A grid factor that is neither drawn nor fixed by ``at`` would mix design points
    in one line: refuse it."""
    unknown = sorted(set(figure.at) - {f.name for f in plan.factors})
    if unknown:
        raise ConfigError(f"{where}: at names {unknown}, not factors")
    if plan.spec.design is None or plan.spec.design.kind != "grid":
        return
    for factor in plan.factors:
        values = factor.values or ()
        if factor.name in chosen:
            continue
        if factor.name not in figure.at and len(values) > 1:
            raise ConfigError(
                f"{where}: factor '{factor.name}' takes {len(values)} values but is not drawn "
                f"(x, lines, panels); fix it with at: {{{factor.name}: VALUE}}"
            )
        if factor.name in figure.at and not any(
            _canonical(v) == _canonical(figure.at[factor.name]) for v in values
        ):
            raise ConfigError(
                f"{where}: at.{factor.name} = {figure.at[factor.name]!r}: not one of the "
                f"factor's values {list(values)}"
            )
    if len(plan.labels) > 1 and "scenario" not in chosen and len(chosen) == 3:
        raise ConfigError(
            f"{where}: x, lines and panels are all factors, which leaves no place for the "
            f"scenarios {list(plan.labels)}; make one of them 'scenario'"
        )


def _check_at(plan: ExperimentPlan, at: dict[str, Any], where: str) -> None:
    """``at`` must name factors and select at least one design point."""
    if not matching_points(plan, at, where):
        raise ConfigError(f"{where}: at = {at}: no design point has these values")


def matching_points(plan: ExperimentPlan, at: dict[str, Any], where: str) -> list[DesignPoint]:
    """The design points whose factor values are those ``at`` gives (by factor name)."""
    factor_names = [f.name for f in plan.factors]
    unknown = sorted(set(at) - set(factor_names))
    if unknown:
        raise ConfigError(f"{where}: at names {unknown}, not factors; known: {factor_names}")
    return [
        p
        for p in plan.points
        if all(same_factor_value(p.values[name], value) for name, value in at.items())
    ]


def same_factor_value(a: Any, b: Any) -> bool:
    """Whether two factor values are the same (1 and 1.0 are)."""
    return _canonical(a) == _canonical(b)


def select_point(plan: ExperimentPlan, at: dict[str, Any], where: str) -> DesignPoint:
    """The one design point whose factor values match ``at`` (the only point when the
    experiment has one)."""
    factor_names = [f.name for f in plan.factors]
    matches = matching_points(plan, at, where)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(
            f"{where}: at = {at}: no design point has these values; points: "
            f"{[p.description for p in plan.points][:10]}"
        )
    if not at:
        raise ConfigError(
            f"{where}: the experiment has {len(matches)} design points; choose one with "
            f"at: {{{', '.join(f'{name}: VALUE' for name in factor_names)}}}"
        )
    raise ConfigError(
        f"{where}: at = {at} matches {len(matches)} design points; give a value for each of "
        f"{factor_names}"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _canonical(value: Any) -> str:
    """A text that equal values share (1 and 1.0 included), to compare factor values."""
    if _is_number(value):
        return repr(float(value))
    return json.dumps(value, sort_keys=True, default=str)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(value: Any, limit: int = 40) -> str:
    text = f"{value:g}" if _is_number(value) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
