"""The schema of an experiment spec: which scenarios, on which design points, with how
many replications, and which figures and tables come out.

An experiment spec is a YAML file (``experiments/*.yaml``).  It names one or more base
scenarios of ``configs/``, overrides applied to all of them or to one, an optional
design over *factors* (each factor sets one or more dotted paths of the scenario), the
replications and the root seed, the paired comparison and the figures.  Every scenario
of every design point runs with the experiment's seed and the same replication indices,
so all of them see the same random streams: differences between them are paired
(common random numbers).

This module validates a spec field by field.  :mod:`sim.pipeline.plan` then checks
it whole, against the scenarios (the configs exist, every dotted path exists in every
scenario it applies to, every design point validates), and
:mod:`sim.pipeline.checks` against its outputs (every figure and comparison names
factors, measures and points that exist).  A mistake ends in one
:class:`~sim.config.errors.ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.config.limits import MAX_DESIGN_POINTS, MAX_NAME_LENGTH, MAX_REPLICATIONS, WholeNumber
from sim.config.paths import parse_path
from sim.measures.catalogue import ALL

__all__ = [
    "RESERVED_COLUMNS",
    "Comparison",
    "Design",
    "ExperimentSpec",
    "Factor",
    "FigureRequest",
    "ScenarioEntry",
    "canonical",
    "is_number",
    "same_factor_value",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=MAX_NAME_LENGTH)]

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
        if self.values is not None and len(set(map(canonical, self.values))) != len(self.values):
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
            if not all(is_number(v) and v != 0 for v in numbers):
                raise ValueError(f"apply: {self.apply} needs non-zero numbers as values")
        return self

    @property
    def axis_label(self) -> str:
        """The label of an axis that shows this factor, with its unit."""
        title = self.title or self.name.replace("_", " ")
        if not self.unit:
            return title
        if self.unit in title.split():
            # "posts nationally (posts)" says the unit twice: a count of what it names.
            return f"number of {title}"
        return f"{title} ({self.unit})"


class Design(BaseModel):
    """Design points over the factors: ``grid`` (every combination of the listed values,
    the first factor varying slowest), ``latin_hypercube`` or ``sobol`` (``points``
    points over the factors' ranges, drawn with ``scipy.stats.qmc`` from ``seed``, by
    default the experiment's seed; Sobol needs a power of 2)."""

    model_config = _FROZEN
    kind: Literal["grid", "latin_hypercube", "sobol"] = "grid"
    factors: tuple[Factor, ...] = Field(min_length=1)
    points: Annotated[WholeNumber, Field(ge=1, le=MAX_DESIGN_POINTS)] | None = None
    seed: Annotated[WholeNumber, Field(ge=0)] | None = None

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
        if self.kind == "grid":
            size = math.prod(len(f.values or ()) for f in self.factors)
            if size > MAX_DESIGN_POINTS:
                raise ValueError(
                    f"the grid has {size:,} points (the product of its factors' values); "
                    f"a design may have at most {MAX_DESIGN_POINTS:,}"
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
    (default: the measures of the ``comparison`` list of :mod:`sim.measures.catalogue`) for
    ``populations``; the tidy table holds every measure."""

    model_config = _FROZEN
    baseline: Name | None = None
    metrics: tuple[str, ...] | None = Field(None, min_length=1)
    populations: tuple[str, ...] = Field((ALL,), min_length=1)


class ExperimentSpec(BaseModel):
    """A whole experiment spec, validated field by field (the cross-checks against the
    scenarios are made by :func:`sim.pipeline.plan.load_plan`).  ``records`` keeps
    every run's per-case and per-worker records (``station-sim run`` does; a sweep
    usually needs only its tables)."""

    model_config = _FROZEN
    name: Name
    description: str = ""
    configs: str = "../configs"
    scenarios: tuple[ScenarioEntry, ...] = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    design: Design | None = None
    replications: Annotated[WholeNumber, Field(ge=1, le=MAX_REPLICATIONS)]
    seed: Annotated[WholeNumber, Field(ge=0, lt=2**63)]
    comparison: Comparison | None = None
    figures: tuple[FigureRequest, ...] = ()
    records: bool = False

    @model_validator(mode="after")
    def _unique_figures(self) -> ExperimentSpec:
        stems = [f.stem for f in self.figures]
        if len(set(stems)) != len(stems):
            raise ValueError(f"two figures would share a file name: {stems}; give each a name")
        return self


# ---------------------------------------------------------------------------------------
# Factor values


def same_factor_value(a: Any, b: Any) -> bool:
    """Whether two factor values are the same (1 and 1.0 are)."""
    return canonical(a) == canonical(b)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def canonical(value: Any) -> str:
    """A text that equal values share (1 and 1.0 included), to compare factor values."""
    if is_number(value):
        return repr(float(value))
    return json.dumps(value, sort_keys=True, default=str)
