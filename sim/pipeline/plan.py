"""An experiment resolved into its runs: every scenario at every design point, validated.

:func:`load_plan` reads a spec file; :func:`plan_for_scenario` makes the plan of a
single scenario (``station-sim run``: an experiment of one scenario at one point).
Either way the plan is checked whole before anything runs: the scenarios exist, every
dotted path exists in every scenario it applies to (:func:`sim.config.paths.check_path`),
every resolved design point validates as a :class:`~sim.config.schema.Scenario`, and the
outputs name factors, measures and points that exist (:mod:`sim.pipeline.checks`).

Every scenario of every design point runs with the experiment's seed and the same
replication indices, so all of them see the same random streams: differences between
them are paired (common random numbers).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.config.documents import read_mapping, read_scenario_document
from sim.config.errors import ConfigError, format_validation_error, short_repr
from sim.config.paths import apply_overrides, check_path, lookup, parse_path
from sim.config.schema import Scenario, load_scenario, scenario_from_dict
from sim.config.titles import changed_title, describe_changes
from sim.measures.catalogue import MeasureList, measures_for
from sim.pipeline.checks import check_outputs
from sim.pipeline.design import design_points
from sim.pipeline.provenance import config_digest
from sim.pipeline.spec import ExperimentSpec, Factor, ScenarioEntry, is_number

__all__ = [
    "DesignPoint",
    "ExperimentPlan",
    "ResolvedScenario",
    "load_plan",
    "plan_for_scenario",
]


@dataclass(frozen=True)
class DesignPoint:
    """One point of the design: its index and the value of each factor there."""

    index: int
    values: dict[str, Any]

    @property
    def description(self) -> str:
        if not self.values:
            return "the only point"
        return ", ".join(f"{k}={short_repr(v, 40)}" for k, v in self.values.items())


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
    every point, ready to be cut into tasks.  ``spec_path`` is the spec file (``None``
    for the plan of one scenario); ``measures`` are those of every scenario."""

    spec: ExperimentSpec
    spec_path: Path | None
    spec_text: str
    labels: tuple[str, ...]
    config_paths: dict[str, str]
    points: tuple[DesignPoint, ...]
    scenarios: tuple[ResolvedScenario, ...]
    population_names: tuple[str, ...]
    measures: MeasureList

    @property
    def factors(self) -> tuple[Factor, ...]:
        return self.spec.design.factors if self.spec.design is not None else ()

    @property
    def baseline(self) -> str:
        """Label of the scenario every other one is compared with."""
        chosen = self.spec.comparison.baseline if self.spec.comparison else None
        return chosen or self.labels[0]

    @property
    def runs(self) -> int:
        """Design points x scenarios x replications."""
        return len(self.scenarios) * self.spec.replications

    def digest(self) -> str:
        """SHA-256 of everything that determines the numbers: the resolved scenario of
        every (point, scenario) pair and the replications.  Equal digests, equal
        results; a spec edited only in its comments or figures keeps its digest."""
        content = {
            "replications": self.spec.replications,
            "points": [json.loads(json.dumps(p.values, default=str)) for p in self.points],
            "scenarios": [(s.point, s.label, s.digest) for s in self.scenarios],
        }
        if self.spec.records:
            content["records"] = True
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
    document = read_mapping(path, "experiment spec")
    if "scenarios" not in document and ("populations" in document or "base" in document):
        raise ConfigError(
            f"{path}: this is a scenario config, not an experiment spec; run it with "
            "station-sim run"
        )
    _reject_empty_design(document, path)
    try:
        spec = ExperimentSpec.model_validate(document)
    except ValidationError as error:
        message = format_validation_error(
            error, document, str(path), ExperimentSpec, what="experiment spec"
        )
        raise ConfigError(message) from None
    text = path.read_text(encoding="utf-8")
    return _resolve(spec, path.parent, str(path), path, text, retitle=True)


def plan_for_scenario(
    config: str | Path, overrides: dict[str, Any], records: bool = True
) -> ExperimentPlan:
    """The plan of one scenario file with ``overrides``, at one point: what
    ``station-sim run`` runs.  Its replications and seed are the scenario's own."""
    config = Path(config)
    scenario = load_scenario(config, overrides)
    changes = describe_changes(overrides, scenario)
    if changes and "title" not in overrides:
        # Figures and tables of two posts must not read "one worker": the title says
        # what was set (and the resolved config keeps it).
        title = changed_title(scenario.plain_title, changes, "for this run")
        overrides = {**overrides, "title": title}  # checked with the rest by _resolve
    spec = ExperimentSpec(
        name=scenario.name,
        description=f"station-sim run {config}",
        scenarios=(ScenarioEntry(config=str(config.resolve()), overrides=overrides),),
        replications=scenario.simulation.replications,
        seed=scenario.simulation.seed,
        records=records,
    )
    dumped = spec.model_dump(mode="json", exclude_defaults=True)
    text = yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True)
    return _resolve(spec, Path.cwd(), str(config), None, text)


def _reject_empty_design(document: dict[str, Any], path: Path) -> None:
    # An empty design is a spec mistake, not "a single point": say so before pydantic
    # reports it as a missing or too-short field.
    if "design" not in document:
        return
    design = document["design"]
    if design is None or design == {} or (isinstance(design, dict) and not design.get("factors")):
        raise ConfigError(
            f"{path}: design = {short_repr(design)}: the design has no factors; list at "
            "least one factor under design.factors, or leave out design to run the "
            "scenarios once"
        )


def _resolve(
    spec: ExperimentSpec,
    base_dir: Path,
    source: str,
    spec_path: Path | None,
    text: str,
    retitle: bool = False,
) -> ExperimentPlan:
    """The plan of ``spec``, checked whole; with ``retitle``, a scenario entry whose own
    overrides change its model (and set no ``title``) is titled with its changes, as
    ``station-sim run --set`` titles a run."""
    configs_dir = (base_dir / spec.configs).resolve()
    bases: list[tuple[str, str, dict[str, Any]]] = []
    # The spec's common overrides are the experiment's setting, said in its
    # description; an entry's own overrides make that scenario another model, retitled.
    own_changes: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(spec.scenarios):
        config_path = _config_path(entry.config, base_dir, configs_dir, source, i)
        raw = read_scenario_document(config_path)
        resolved_base = scenario_from_dict(raw, source=str(config_path)).model_dump(mode="json")
        label = entry.label or resolved_base["name"]
        overrides = {**spec.overrides, **entry.overrides}
        for key in overrides:
            where = "overrides" if key in spec.overrides else f"scenarios[{i}].overrides"
            check_path(key, resolved_base, f"{source}: {where}", label)
        document = apply_overrides(
            raw, overrides, f"{source}: scenario '{label}'", defaults=resolved_base
        )
        if retitle and entry.overrides and "title" not in overrides:
            own_changes[label] = dict(entry.overrides)
        bases.append((label, str(config_path), document))
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
    for label, _, document in bases:
        try:
            base = scenario_from_dict(document, source=f"{source}: scenario '{label}'")
        except ConfigError as error:
            raise ConfigError(f"{error}\n  (the overrides of {source} made it invalid)") from None
        changes = describe_changes(own_changes.get(label, {}), base)
        if changes:
            document = {
                **document,
                "title": changed_title(base.plain_title, changes, "in this experiment"),
            }
            base = scenario_from_dict(document, source=f"{source}: scenario '{label}'")
        base_values = base.model_dump(mode="json")
        _check_factor_paths(factors, base_values, source, label)
        for point in points:
            where = (
                f"{source}: scenario '{label}' at design point {point.index} ({point.description})"
            )
            overrides = _point_overrides(factors, point, base_values, where)
            overrides |= {
                "name": label,
                "simulation.seed": spec.seed,
                "simulation.replications": spec.replications,
            }
            scenario = scenario_from_dict(
                apply_overrides(document, overrides, where, defaults=base_values), where
            )
            resolved.append(ResolvedScenario(point.index, label, scenario, config_digest(scenario)))
    # Order: point, then scenario in the spec's order (the task and table order).
    resolved.sort(key=lambda r: (r.point, labels.index(r.label)))

    measures = measures_for(resolved[0].scenario)
    for r in resolved[1:]:
        measures = measures.union(measures_for(r.scenario))
    plan = ExperimentPlan(
        spec=spec,
        spec_path=spec_path,
        spec_text=text,
        labels=tuple(labels),
        config_paths={label: config_path for label, config_path, _ in bases},
        points=tuple(points),
        scenarios=tuple(resolved),
        population_names=_population_names(resolved, source),
        measures=measures,
    )
    check_outputs(plan, source)
    return plan


def _config_path(name: str, base_dir: Path, configs_dir: Path, source: str, i: int) -> Path:
    where = f"scenarios[{i}].config"
    if name.endswith((".yaml", ".yml")):
        candidate = (base_dir / name).resolve()
        if not candidate.is_file():
            raise ConfigError(f"{source}: {where} = '{name}': no such file ({candidate})")
        return candidate
    candidate = configs_dir / f"{name}.yaml"
    if not candidate.is_file():
        known = sorted(p.stem for p in configs_dir.glob("*.yaml")) if configs_dir.is_dir() else []
        raise ConfigError(
            f"{source}: {where} = '{name}': not a scenario of {configs_dir}; known: {known}"
        )
    return candidate


def _check_factor_paths(
    factors: tuple[Factor, ...], base_values: dict[str, Any], source: str, label: str
) -> None:
    for f, factor in enumerate(factors):
        for k, factor_path in enumerate(factor.paths):
            where = f"design.factors[{f}].paths[{k}]"
            parts = check_path(factor_path, base_values, f"{source}: {where}", label)
            current = lookup(base_values, parts)
            if factor.apply != "set" and not is_number(current):
                raise ConfigError(
                    f"{source}: {where} = '{factor_path}': apply: {factor.apply} needs a "
                    f"number there, but scenario '{label}' has {short_repr(current)}"
                )


def _point_overrides(
    factors: tuple[Factor, ...], point: DesignPoint, base: dict[str, Any], where: str
) -> dict[str, Any]:
    """The dotted paths a design point sets, with their values."""

    def value(factor: Factor, path: str, scenario: dict[str, Any]) -> Any:
        given = point.values[factor.name]
        if factor.apply == "set":
            return given
        current = lookup(scenario, parse_path(path))
        if factor.apply == "scale":
            return current * given
        assert factor.reference is not None  # checked by the schema
        posts = scenario_from_dict(scenario, where).posts
        return current * factor.reference * posts / given

    overrides = {
        path: value(factor, path, base)
        for factor in factors
        if factor.apply != "national_share"
        for path in factor.paths
    }
    if any(factor.apply == "national_share" for factor in factors):
        # Demand per post counts the posts of this point, whatever other factors set its
        # staffing to.
        staffed = apply_overrides(base, overrides, where)
        overrides |= {
            path: value(factor, path, staffed)
            for factor in factors
            if factor.apply == "national_share"
            for path in factor.paths
        }
    return overrides


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
