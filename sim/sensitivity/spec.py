"""A sensitivity spec: the conclusions to test, the assumptions to move, and the size of
each stage of the analysis (``experiments/sensitivity/headlines.yaml``).

A :class:`Conclusion` is a headline statement written so that a run can check it: a
measure of the one list (population ``all``), either of one scenario (``value``) or as
the paired difference of a scenario from a baseline (``difference``: scenario minus
baseline, replication by replication), that must lie ``below`` or ``above`` a
threshold.  :func:`load_sensitivity_spec` checks the whole spec, its assumptions file
and every conclusion against the configs before anything runs.

``strata`` names discrete model choices (assumption factors of ``options``, such as
the referral rule) that are not sampled with the others: each choice is a
:class:`Stratum` of its own, and the Sobol' and robustness stages run within each, so
that no conclusion is mixed over a prior on a choice the evidence does not weigh.  The
first stratum is the shipped configs' own choices; each further one changes one
choice to one of its other options, everything else as shipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config.assumptions import Assumptions, configured, load_assumptions, sets
from sim.config.documents import read_mapping
from sim.config.errors import ConfigError, format_validation_error
from sim.config.limits import MAX_DESIGN_POINTS, MAX_NAME_LENGTH, MAX_REPLICATIONS, WholeNumber
from sim.config.schema import load_scenario
from sim.measures.catalogue import measures_for

__all__ = [
    "SHIPPED",
    "Conclusion",
    "SensitivitySpec",
    "SensitivityStudy",
    "Stratum",
    "load_sensitivity_spec",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_NAME_LENGTH)]


class Conclusion(BaseModel):
    """A statement and the test that says whether it holds at a point."""

    model_config = _FROZEN
    name: Name
    statement: str = Field(min_length=1)
    measure: str
    scenario: str
    baseline: str | None = None
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Conclusion:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below and above (the threshold)")
        if self.baseline == self.scenario:
            raise ValueError("baseline: a difference needs another scenario")
        return self

    @property
    def threshold(self) -> float:
        return self.below if self.below is not None else self.above  # type: ignore[return-value]

    def holds(self, value: float) -> bool:
        """Whether the conclusion holds for ``value`` (a NaN never holds)."""
        if self.below is not None:
            return bool(value < self.below)
        return bool(value > self.above)  # type: ignore[operator]

    @property
    def quantity(self) -> str:
        """What is compared with the threshold, in words."""
        if self.baseline is None:
            return f"{self.measure} of {self.scenario}"
        return f"{self.measure} of {self.scenario} minus {self.baseline}"


class Morris(BaseModel):
    model_config = _FROZEN
    trajectories: Annotated[WholeNumber, Field(ge=2, le=1000)] = 10
    levels: Annotated[WholeNumber, Field(ge=2, le=20)] = 4

    @model_validator(mode="after")
    def _even(self) -> Morris:
        if self.levels % 2:
            raise ValueError(f"levels = {self.levels}: Morris needs an even number of levels")
        return self


class Sobol(BaseModel):
    model_config = _FROZEN
    factors: Annotated[WholeNumber, Field(ge=2, le=50)] = 6
    samples: Annotated[WholeNumber, Field(ge=4, le=65_536)] = 64
    bootstrap: Annotated[WholeNumber, Field(ge=10, le=10_000)] = 200

    @model_validator(mode="after")
    def _power_of_two(self) -> Sobol:
        if self.samples & (self.samples - 1):
            raise ValueError(
                f"samples = {self.samples}: Sobol' sequences need a power of 2 (e.g. 64)"
            )
        return self


class Robustness(BaseModel):
    model_config = _FROZEN
    points: Annotated[WholeNumber, Field(ge=8, le=MAX_DESIGN_POINTS)] = 128


class OneWay(BaseModel):
    model_config = _FROZEN
    levels: Annotated[WholeNumber, Field(ge=3, le=50)] = 5
    replications: Annotated[WholeNumber, Field(ge=2, le=MAX_REPLICATIONS)] = 10


class SensitivitySpec(BaseModel):
    """The spec file, validated."""

    model_config = _FROZEN
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=MAX_NAME_LENGTH)]
    description: str = ""
    assumptions: str
    configs: str = "../configs"
    factors: tuple[str, ...] | None = None
    strata: tuple[str, ...] = ()
    overrides: dict[str, object] = Field(default_factory=dict)
    replications: Annotated[WholeNumber, Field(ge=1, le=MAX_REPLICATIONS)] = 2
    seed: Annotated[WholeNumber, Field(ge=0, lt=2**63)]
    conclusions: tuple[Conclusion, ...] = Field(min_length=1)
    morris: Morris = Morris()
    sobol: Sobol = Sobol()
    robustness: Robustness = Robustness()
    one_way: OneWay = OneWay()


SHIPPED = "shipped"
"""The name of the stratum of the shipped configs' own choices."""


@dataclass(frozen=True)
class Stratum:
    """One setting of the spec's discrete model choices: ``shares`` is the share of
    range that selects each changed choice's option (empty for the shipped choices),
    ``title`` says it in words (``referral_rule = on_duty``)."""

    name: str
    title: str
    shares: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SensitivityStudy:
    """A spec checked whole: its assumptions, the factors it moves (the strata's
    choices left out), the strata, and the scenarios (with their config files) the
    conclusions need."""

    spec: SensitivitySpec
    path: Path
    assumptions: Assumptions
    factors: tuple[str, ...]
    scenarios: tuple[str, ...]
    config_paths: dict[str, Path]
    strata: tuple[Stratum, ...] = (Stratum(SHIPPED, "the shipped choices"),)

    @property
    def morris_points(self) -> int:
        return self.spec.morris.trajectories * (len(self.factors) + 1)

    @property
    def sobol_points(self) -> int:
        k = min(self.spec.sobol.factors, len(self.factors))
        return self.spec.sobol.samples * (k + 2)

    def cost(self) -> str:
        """The number of replications each stage runs, for the header (the one-way
        stage's at most: it runs one curve per distinct most influential factor, which
        the Sobol' stage names)."""
        per_point = len(self.scenarios) * self.spec.replications
        one_way = len(self.spec.conclusions) * self.spec.one_way.levels
        strata = len(self.strata)
        stages = {
            "Morris": self.morris_points * per_point,
            "Sobol'": strata * self.sobol_points * per_point,
            "robustness": strata * self.spec.robustness.points * per_point,
            "one-way up to": one_way * len(self.scenarios) * self.spec.one_way.replications,
        }
        total = sum(stages.values())
        parts = ", ".join(f"{k} {v:,}" for k, v in stages.items())
        return f"up to {total:,} replications ({parts})"


def load_sensitivity_spec(path: str | Path) -> SensitivityStudy:
    """Read a sensitivity spec and check it against its assumptions and configs."""
    path = Path(path)
    raw = read_mapping(path, "sensitivity spec")
    try:
        spec = SensitivitySpec.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(error, raw, str(path), SensitivitySpec, "sensitivity spec")
        ) from None
    assumptions = load_assumptions((path.parent / spec.assumptions).resolve())
    varied = assumptions.varied
    for k, name in enumerate(spec.strata):
        if name not in varied or not varied[name].options:
            choices = sorted(n for n, f in varied.items() if f.options)
            raise ConfigError(
                f"{path}: strata[{k}] = '{name}': not a varied assumption of options "
                f"(a choice) in {assumptions.path}; known choices: {choices}"
            )
        if name in spec.strata[:k]:
            raise ConfigError(f"{path}: strata[{k}] = '{name}': given twice")
    if spec.factors is None:
        factors = tuple(name for name in varied if name not in spec.strata)
    else:
        for name in spec.factors:
            if name not in varied:
                raise ConfigError(
                    f"{path}: factors: '{name}' is not a varied assumption of "
                    f"{assumptions.path}; known: {sorted(varied)}"
                )
            if name in spec.strata:
                raise ConfigError(
                    f"{path}: factors: '{name}' is one of the strata: a choice is either "
                    "sampled with the others or run as its own stratum, not both"
                )
        factors = tuple(spec.factors)
    if len(factors) < 2:
        raise ConfigError(f"{path}: factors: the analysis needs at least two factors")
    configs = (path.parent / spec.configs).resolve()
    names: list[str] = []
    for c in spec.conclusions:
        names += [c.scenario] + ([c.baseline] if c.baseline else [])
    scenarios = tuple(dict.fromkeys(names))
    config_paths: dict[str, Path] = {}
    for name in scenarios:
        config = configs / f"{name}.yaml"
        if not config.is_file():
            known = sorted(p.stem for p in configs.glob("*.yaml"))
            raise ConfigError(
                f"{path}: conclusions: '{name}' is not a scenario of {configs}; known: {known}"
            )
        if name not in assumptions.documents:
            raise ConfigError(
                f"{path}: conclusions: scenario '{name}' is not among the configs the "
                f"assumptions file {assumptions.path} was checked on"
            )
        config_paths[name] = config
    scenario_measures = {
        name: measures_for(load_scenario(config, dict(spec.overrides)))
        for name, config in config_paths.items()
    }
    names_seen = set()
    for k, c in enumerate(spec.conclusions):
        if c.name in names_seen:
            raise ConfigError(f"{path}: conclusions[{k}].name = '{c.name}': given twice")
        names_seen.add(c.name)
        for scenario in (c.scenario, c.baseline):
            if scenario is not None and c.measure not in scenario_measures[scenario]:
                raise ConfigError(
                    f"{path}: conclusions[{k}].measure = '{c.measure}': not a measure of "
                    f"scenario '{scenario}'; see docs/config.md or tables/measures"
                )
    strata = _strata(spec, path, assumptions, scenarios)
    return SensitivityStudy(spec, path, assumptions, factors, scenarios, config_paths, strata)


def _strata(
    spec: SensitivitySpec, path: Path, assumptions: Assumptions, scenarios: tuple[str, ...]
) -> tuple[Stratum, ...]:
    """The shipped choices, then one stratum for each option of each choice that is
    not what every scenario it applies to already has."""
    strata = [Stratum(SHIPPED, "the shipped choices")]
    for name in spec.strata:
        factor = assumptions.factors[name]
        ((setting, options),) = factor.options.items()
        documents = [
            assumptions.documents[s]
            for s in scenarios
            if (factor.configs is None or s in factor.configs)
            and sets(assumptions.documents[s], setting)
        ]
        if not documents:
            raise ConfigError(
                f"{path}: strata: '{name}' sets {setting}, which none of the "
                f"conclusions' scenarios {list(scenarios)} sets"
            )
        shipped = [configured(d, setting) for d in documents]
        for index, option in enumerate(options):
            if not isinstance(option, str | int | float | bool):
                raise ConfigError(
                    f"{path}: strata: '{name}' has an option that is not a single value "
                    f"({option!r}); a stratum is a named choice such as a rule"
                )
            if all(value == option for value in shipped):
                continue
            slug = re.sub(r"[^a-z0-9_]+", "_", str(option).lower()).strip("_")
            strata.append(
                Stratum(
                    f"{name}-{slug}",
                    f"{setting} = {_word(option)}",
                    {name: (index + 0.5) / len(options)},
                )
            )
    return tuple(strata)


def _word(option: Any) -> str:
    return f"{option:g}" if isinstance(option, float) else str(option)
