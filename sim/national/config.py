"""A national config (``configs/national/france.yaml``): the départements table, the demand
per 100,000 inhabitants, the rule that cuts départements into catchments, the coverage
models a post can work under, and the constants of the allocation rules.  It is
validated whole, data files included, before anything runs."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config.documents import read_mapping
from sim.config.errors import ConfigError, did_you_mean, format_validation_error
from sim.config.limits import MAX_NAME_LENGTH, MAX_REPLICATIONS, MAX_WINDOWS, WholeNumber
from sim.config.paths import apply_overrides, check_path
from sim.config.schema import Scenario, load_scenario

__all__ = [
    "CrossBorder",
    "Departement",
    "Historical",
    "NationalConfig",
    "NationalModel",
    "load_national",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_NAME_LENGTH)]
Positive = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]

REQUIRED_COLUMNS = (
    "code",
    "name",
    "population",
    "communes_20k_plus",
    "population_in_communes_20k_plus",
    "area_km2",
)


class Catchments(BaseModel):
    """How a département is cut into catchments (:mod:`sim.national.catchments`):
    police districts of at most ``police_population`` people, gendarmerie areas of at
    most ``gendarmerie_population`` people and ``gendarmerie_max_area_km2``, but never
    so many that one has fewer than ``gendarmerie_min_population``; a worker in a
    gendarmerie area travels ``travel_minutes_per_sqrt_km2 * sqrt(area)`` minutes each
    way a shift (the mean distance from the middle of a square of that area, at road speed)."""

    model_config = _FROZEN
    # A district of fewer than 1,000 people, or an area under 1 km2, is not a
    # catchment a post could serve (and would cut France into millions of them).
    police_population: Annotated[float, Field(ge=1_000, le=1e9, allow_inf_nan=False)]
    gendarmerie_population: Annotated[float, Field(ge=1_000, le=1e9, allow_inf_nan=False)]
    gendarmerie_max_area_km2: Annotated[float, Field(ge=1, le=1e9, allow_inf_nan=False)]
    gendarmerie_min_population: Annotated[float, Field(ge=1_000, le=1e9, allow_inf_nan=False)]
    travel_minutes_per_sqrt_km2: NonNegative


class CrossBorder(BaseModel):
    """Service across catchment borders (:mod:`sim.national.neighbours`): the persons
    of a catchment without a post reach the nearest post of their own or a neighbouring
    département with probability ``uptake_at_zero * 0.5 ** (minutes / half_uptake_minutes)``,
    ``minutes`` being the road time there (``minutes_per_km`` times the distance, km).
    Two départements are neighbours when their boundaries come within
    ``neighbour_gap_km`` of each other (the shipped boundaries are simplified).

    With ``pass_on_saturated`` a post also passes on the persons whose referral it let
    expire unreached (``callback_expired``: the post could not keep up) to the nearest
    post that lets fewer of its own persons expire, with the same uptake; one round,
    from a run without passing on (:mod:`sim.national.saturation`)."""

    model_config = _FROZEN
    enabled: bool = False
    uptake_at_zero: Annotated[float, Field(ge=0, le=1)] = 0.5
    half_uptake_minutes: Annotated[float, Field(gt=0, le=10_000)] = 30.0
    minutes_per_km: Annotated[float, Field(gt=0, le=100)] = 1.2
    neighbour_gap_km: Annotated[float, Field(ge=0, le=50)] = 2.0
    pass_on_saturated: bool = False

    def uptake(self, minutes: float) -> float:
        """The share of a catchment's persons who reach a post ``minutes`` away."""
        return self.uptake_at_zero * 0.5 ** (minutes / self.half_uptake_minutes)


class CoverageModel(BaseModel):
    """A coverage model of the national run: the scenario config each catchment with
    posts runs (its demand and staffing replaced by the catchment's).  ``k`` posts are
    dealt to the config's worker entries in turn (the first entry gets the first post,
    the second the second, ...); an entry left with none is dropped."""

    model_config = _FROZEN
    config: str
    # Readers see the station config's own title (one name per coverage model, read
    # by the station figures, the national ones and the page); a title here replaces
    # it for a national config whose posts differ from the station config's.
    title: str | None = None


class Historical(BaseModel):
    """The ``historical_2013`` rule (:mod:`sim.national.allocation`): the weight of a
    gendarmerie zone's population beside a police zone's (``rural_weight``), and the
    facts of the 2013 map that hold as constraints when ``posts`` posts are dealt to
    the whole table: ``fixed_posts`` (département code: its posts), the number of
    ``departements_without_post`` and the ``police_share`` of posts in police zones.
    With no facts the rule is the weights alone."""

    model_config = _FROZEN
    rural_weight: Annotated[float, Field(ge=0, le=1)] = 0.08
    posts: Annotated[WholeNumber, Field(ge=1, le=100_000)] | None = None
    fixed_posts: dict[str, Annotated[WholeNumber, Field(ge=0, le=100_000)]] = Field(
        default_factory=dict
    )
    departements_without_post: Annotated[WholeNumber, Field(ge=0, le=100_000)] | None = None
    police_share: Annotated[float, Field(ge=0, le=1)] | None = None

    @property
    def has_facts(self) -> bool:
        return (
            bool(self.fixed_posts)
            or self.departements_without_post is not None
            or (self.police_share is not None)
        )

    @model_validator(mode="after")
    def _facts_fit(self) -> Historical:
        if self.has_facts and self.posts is None:
            raise ValueError(
                "fixed_posts, departements_without_post and police_share are facts of a "
                "map of a given size: give posts (the number of posts they describe)"
            )
        if self.posts is not None and sum(self.fixed_posts.values()) > self.posts:
            raise ValueError(
                f"fixed_posts add up to {sum(self.fixed_posts.values())}, more than "
                f"posts = {self.posts}"
            )
        zeros = sum(1 for k in self.fixed_posts.values() if k == 0)
        if self.departements_without_post is not None and zeros > self.departements_without_post:
            raise ValueError(
                f"fixed_posts leave {zeros} départements at 0, more than "
                f"departements_without_post = {self.departements_without_post}"
            )
        return self


class Allocation(BaseModel):
    """Constants of the allocation rules."""

    model_config = _FROZEN
    historical_2013: Historical = Historical()
    posts_per_departement: Annotated[WholeNumber, Field(ge=1, le=10)] = 2
    training_replications: Annotated[WholeNumber, Field(ge=1, le=100)] = 2


class NationalConfig(BaseModel):
    """A national config: the territory (a table of départements, optionally only some
    of them, or a country of identical zones), the demand per 100,000 inhabitants of
    each population, the catchment rule, the coverage models and the allocation
    constants."""

    model_config = _FROZEN
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=MAX_NAME_LENGTH)]
    description: str = ""
    departements: str | None = None
    only_departements: tuple[str, ...] | None = Field(default=None, min_length=1)
    boundaries: str | None = None
    zones: Annotated[WholeNumber, Field(ge=1, le=10_000)] | None = None
    population: Positive | None = None
    area_km2: Positive | None = None
    demand_per_100k: dict[str, NonNegative] = Field(min_length=1)
    catchments: Catchments
    coverage: dict[Name, CoverageModel] = Field(min_length=1)
    allocation: Allocation = Allocation()
    cross_border: CrossBorder = CrossBorder()
    replications: Annotated[WholeNumber, Field(ge=1, le=MAX_REPLICATIONS)] = 2
    # The measurement windows of a replication of every catchment (``simulation.windows``
    # of the coverage models' configs, which it replaces); default: theirs.
    windows: Annotated[WholeNumber, Field(ge=1, le=MAX_WINDOWS)] | None = None
    seed: Annotated[WholeNumber, Field(ge=0, lt=2**63)]

    @model_validator(mode="after")
    def _territory(self) -> NationalConfig:
        table = self.departements is not None
        uniform = self.zones is not None or self.population is not None
        if table == uniform:
            raise ValueError(
                "give either departements (a table of départements) or zones and "
                "population (a country of identical zones), not both"
            )
        if uniform and (self.zones is None or self.population is None or self.area_km2 is None):
            raise ValueError("a country of identical zones needs zones, population and area_km2")
        if uniform and self.only_departements is not None:
            raise ValueError("only_departements needs a table of départements (departements)")
        if self.cross_border.pass_on_saturated and not self.cross_border.enabled:
            raise ValueError(
                "cross_border.pass_on_saturated needs cross_border.enabled: true (a post "
                "passes persons on to a neighbouring post)"
            )
        if self.cross_border.enabled and self.boundaries is None:
            raise ValueError(
                "cross_border.enabled needs boundaries (a GeoJSON of the départements): "
                "neighbours are found from them; set cross_border.enabled: false"
            )
        return self


@dataclass(frozen=True)
class Departement:
    """One row of the départements table."""

    code: str
    name: str
    population: int
    urban_population: int
    area_km2: float


@dataclass(frozen=True)
class NationalModel:
    """A national config checked whole: its départements, its coverage models' scenarios
    and where its files are."""

    config: NationalConfig
    path: Path
    departements: tuple[Departement, ...]
    scenarios: dict[str, Scenario]
    scenario_paths: dict[str, Path]
    boundaries: Path | None

    @property
    def population(self) -> int:
        return sum(d.population for d in self.departements)

    def coverage_title(self, name: str) -> str:
        """What readers see for coverage model ``name``: its title in the national
        config if it has one, else its station config's title."""
        return self.config.coverage[name].title or self.scenarios[name].plain_title


def load_national(
    path: str | Path,
    coverage: str | None = None,
    overrides: dict[str, Any] | None = None,
    coverage_overrides: dict[str, Any] | None = None,
) -> NationalModel:
    """Read and check a national config (and its data files), with ``overrides``
    (dotted paths, as ``--set``) applied first, and ``coverage_overrides`` set in the
    station config of coverage model ``coverage``."""
    path = Path(path)
    raw = read_mapping(path, "national config")
    if overrides:
        try:
            resolved = NationalConfig.model_validate(raw).model_dump(mode="json")
        except ValidationError:
            resolved = None
        for key in overrides:
            if resolved is not None:
                check_path(key, resolved, f"{path}: --set", str(raw.get("name", path)))
        raw = apply_overrides(raw, overrides, f"{path}: --set", defaults=resolved)
    try:
        config = NationalConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(error, raw, str(path), NationalConfig, "national config")
        ) from None
    if config.departements is not None:
        departements = _read_departements(path.parent / config.departements, path)
        if config.only_departements is not None:
            known = {d.code: d for d in departements}
            for code in config.only_departements:
                check_departement(known, code, f"{path}: only_departements")
            departements = tuple(known[c] for c in dict.fromkeys(config.only_departements))
    else:
        departements = _zones(config)
    _check_historical_facts(config, departements, path)
    if config.only_departements is not None and config.allocation.historical_2013.has_facts:
        # The 2013 facts describe the whole country: a part of it keeps the weights.
        weights_only = Historical(rural_weight=config.allocation.historical_2013.rural_weight)
        allocation = config.allocation.model_copy(update={"historical_2013": weights_only})
        config = config.model_copy(update={"allocation": allocation})
    boundaries = None
    if config.boundaries is not None:
        boundaries = path.parent / config.boundaries
        _check_boundaries(boundaries, departements, path)
    scenarios: dict[str, Scenario] = {}
    scenario_paths: dict[str, Path] = {}
    for name, model in config.coverage.items():
        scenario_path = (path.parent / model.config).resolve()
        try:
            overrides = dict(coverage_overrides or {}) if name == coverage else {}
            if config.windows is not None:  # a model's own override says otherwise
                overrides.setdefault("simulation.windows", config.windows)
            scenario = load_scenario(scenario_path, overrides or None)
        except ConfigError as error:
            # The station config's own message, said as what the national config points at.
            raise ConfigError(f"{path}: coverage.{name}.config ({model.config}): {error}") from None
        populations = set(scenario.populations)
        if populations != set(config.demand_per_100k):
            raise ConfigError(
                f"{path}: demand_per_100k gives {sorted(config.demand_per_100k)}, but "
                f"coverage '{name}' ({model.config}) has populations {sorted(populations)}"
            )
        if len(scenario.stations) != 1:
            raise ConfigError(
                f"{path}: coverage.{name}.config: a national catchment is one station; "
                f"{model.config} has {len(scenario.stations)}"
            )
        scenarios[name] = scenario
        scenario_paths[name] = scenario_path
    _check_coverage_models_agree(scenarios, path)
    if coverage_overrides and coverage is None:
        raise ValueError("coverage_overrides set the settings of one coverage model: name it")
    if coverage is not None and coverage not in scenarios:
        raise ConfigError(
            f"--coverage {coverage}: not a coverage model of {path}"
            f"{did_you_mean(coverage, scenarios)} (known: {', '.join(sorted(scenarios))})"
        )
    return NationalModel(config, path, departements, scenarios, scenario_paths, boundaries)


def _check_historical_facts(
    config: NationalConfig, departements: tuple[Departement, ...], path: Path
) -> None:
    """The 2013 facts must name départements of the table and be possible on it."""
    facts = config.allocation.historical_2013
    if not facts.has_facts or config.only_departements is not None:
        return
    where = f"{path}: allocation.historical_2013"
    known = {d.code: d for d in departements}
    for code in facts.fixed_posts:
        check_departement(known, code, f"{where}.fixed_posts")
    if facts.departements_without_post is None or facts.posts is None:
        return
    posted = len(departements) - facts.departements_without_post
    fixed_posted = sum(1 for k in facts.fixed_posts.values() if k > 0)
    needed = sum(facts.fixed_posts.values()) + posted - fixed_posted
    if posted < fixed_posted or needed > facts.posts:
        raise ConfigError(
            f"{where}: {facts.posts} posts cannot leave exactly "
            f"{facts.departements_without_post} of the {len(departements)} départements "
            f"without a post and give the fixed_posts too (they need {needed})"
        )


def _check_coverage_models_agree(scenarios: dict[str, Scenario], path: Path) -> None:
    """The coverage models must count the same persons in need: the catchments without
    a post are drawn once for all of them, with the first model's referral
    probabilities and window, and the national within-24 h measure needs its threshold."""
    first_name, first = next(iter(scenarios.items()))
    for name, scenario in scenarios.items():
        if 24.0 not in scenario.measures.thresholds_hours:
            raise ConfigError(
                f"{path}: coverage.{name}: its config's measures.thresholds_hours "
                f"{list(scenario.measures.thresholds_hours)} must include 24 (the national "
                "measure of contact within 24 h)"
            )
        if scenario.simulation.run_days != first.simulation.run_days:
            raise ConfigError(
                f"{path}: coverage.{name}: simulation.run_days = "
                f"{scenario.simulation.run_days:g}, but {first_name} has "
                f"{first.simulation.run_days:g}; every coverage model must measure the same window"
            )
        if scenario.simulation.windows != first.simulation.windows:
            raise ConfigError(
                f"{path}: coverage.{name}: simulation.windows = {scenario.simulation.windows}, "
                f"but {first_name} has {first.simulation.windows}; every coverage model must "
                "measure the same windows"
            )
        for population, settings in scenario.populations.items():
            probability = settings.referral.probability
            expected = first.populations[population].referral.probability
            if probability != expected:
                raise ConfigError(
                    f"{path}: coverage.{name}: populations.{population}.referral.probability "
                    f"= {probability:g}, but {first_name} has {expected:g}; every coverage "
                    "model must count the same persons in need"
                )


def _read_departements(csv_path: Path, source: Path) -> tuple[Departement, ...]:
    where = f"{source}: departements = '{csv_path.name}'"
    if not csv_path.is_file():
        raise ConfigError(f"{where}: no such file ({csv_path})")
    try:
        with csv_path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ConfigError(f"{where}: not a UTF-8 CSV table ({error})") from None
    if not rows:
        raise ConfigError(f"{where}: the table is empty")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise ConfigError(f"{where}: missing columns {missing}; expected {list(REQUIRED_COLUMNS)}")
    out, seen = [], set()
    for line, row in enumerate(rows, start=2):
        try:
            population = int(row["population"])
            urban = int(row["population_in_communes_20k_plus"])
            area = float(row["area_km2"])
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where}, line {line} ({row.get('code')}): population, "
                "population_in_communes_20k_plus and area_km2 must be numbers"
            ) from None
        code = (row["code"] or "").strip()
        if not code or code in seen:
            raise ConfigError(f"{where}, line {line}: code {code!r} is empty or given twice")
        if population <= 0 or not 0 <= urban <= population or not area > 0:
            raise ConfigError(
                f"{where}, line {line} ({code}): need population > 0, 0 <= urban "
                f"population <= population and area_km2 > 0; got {population}, {urban}, {area}"
            )
        seen.add(code)
        out.append(Departement(code, row["name"], population, urban, area))
    return tuple(out)


def _zones(config: NationalConfig) -> tuple[Departement, ...]:
    """A country of identical zones, each a 'département' of police catchments (whole
    people: the remainder goes to the first zones, so the zones sum to the country)."""
    zones = config.zones or 1
    total = round(config.population or 0)
    area = (config.area_km2 or 0) / zones
    out = []
    for k in range(zones):
        population = total // zones + (1 if k < total % zones else 0)
        out.append(Departement(f"Z{k + 1:03d}", f"zone {k + 1}", population, population, area))
    return tuple(out)


def _check_boundaries(path: Path, departements: tuple[Departement, ...], source: Path) -> None:
    where = f"{source}: boundaries = '{path.name}'"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file ({path})")
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        codes = {f["properties"]["code"] for f in features}
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{where}: not a GeoJSON feature collection with codes ({error})"
        ) from None
    missing = sorted({d.code for d in departements} - codes)
    if missing:
        raise ConfigError(f"{where}: no boundary for départements {missing[:5]}")


def check_departement(known: dict[str, Departement], code: str, where: str) -> None:
    """Refuse a code that is not in the départements table."""
    if code not in known:
        close = [k for k in known if k.lstrip("0") == code.lstrip("0")] or list(known)[:5]
        raise ConfigError(
            f"{where}: '{code}' is not a département code of the table; codes are as "
            f"INSEE writes them, e.g. {close}"
        )
