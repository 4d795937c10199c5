"""The calibration check: every published figure the model can produce, beside the
model's value on the config that matches its context, and whether it lies in the
tolerance band stated with it (``station-sim calibrate``).

The targets are declared once, in ``configs/calibration/targets.yaml``: each names the
published value and its source (an entry of ``docs/sources.md``), the measure and
population of the one list of measures (:mod:`sim.measures.catalogue`) that produces it, the
context it is checked in (a station config, or the national model at a number of
posts) and the band.  The configs run through the pipeline like any other run (common
random numbers, the configs' own seeds and replications), and the check passes when
every target's model mean lies in its band.

A target the model misses may be missed because of a setting that is not known (the
volume of demand, say).  The file's ``parameters`` name such settings, as a multiplier
of the config values it applies to; :func:`scan` runs every target at each multiplier
and :func:`format_scan` says where each target holds and, when no multiplier meets them
all, which targets conflict and by how much.  :func:`grid` moves two parameters
together (every pair of their multipliers) and :func:`format_grid` gives the joint fit:
how many targets hold at each pair, the pair that comes closest, and the targets that
hold somewhere but never together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config.documents import read_mapping, read_scenario_document
from sim.config.errors import ConfigError, format_validation_error
from sim.config.paths import ABSENT, lookup, parse_path
from sim.measures.catalogue import ALL

__all__ = [
    "CalibrationRow",
    "Grid",
    "NationalContext",
    "Parameter",
    "Scan",
    "Target",
    "Targets",
    "calibrate",
    "format_calibration",
    "format_grid",
    "format_scan",
    "grid",
    "load_targets",
    "scan",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class NationalContext(BaseModel):
    """The national model as a target's context: the national ``config`` (a name of
    the configs folder, ``national/france``) under ``coverage`` with ``posts`` posts
    dealt by ``allocation``, ``replications`` times (default: the config's)."""

    model_config = _FROZEN
    config: str
    coverage: str
    allocation: str
    posts: Annotated[int, Field(ge=1, le=100_000)]
    replications: Annotated[int, Field(ge=2, le=1000)] | None = None

    def describe(self) -> str:
        return f"{self.config}, {self.posts} posts ({self.allocation}, {self.coverage})"


class Target(BaseModel):
    """One published figure: ``published`` (from ``source``), the ``measure`` of
    ``population`` that the model gives for it on ``config`` (a name of the configs
    folder, ``calibration/fontenay_first_year`` say) or, for a national figure, from
    the ``national`` model (a measure of ``sim.national.measures``; ``per_post``
    divides it by the context's posts), the tolerance ``band`` [low, high] and ``why``
    that band (how well the contexts match).  ``fitted_by`` names the setting chosen
    to meet it, if one was: a scan of another parameter leaves such a target out of
    the conflicts, since that setting would be chosen again."""

    model_config = _FROZEN
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: str
    published: float
    source: str
    measure: str
    population: str = ALL
    config: str | None = None
    national: NationalContext | None = None
    per_post: bool = False
    band: tuple[float, float]
    why: str
    fitted_by: str | None = None

    @property
    def context(self) -> str:
        """Where the model's value comes from, in words."""
        return self.config if self.national is None else self.national.describe()

    @model_validator(mode="after")
    def _band_holds_the_figure(self) -> Target:
        if (self.config is None) == (self.national is None):
            raise ValueError("give exactly one of config (a station) and national")
        if self.per_post and self.national is None:
            raise ValueError("per_post divides a national measure by the posts: give national")
        low, high = self.band
        if not low < high:
            raise ValueError(f"band {list(self.band)}: the low end must be below the high end")
        if not low <= self.published <= high:
            raise ValueError(
                f"band {list(self.band)} does not hold the published value {self.published}"
            )
        return self


Multiplier = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]


class Parameter(BaseModel):
    """A setting no source fixes, that the calibration can move: a multiplier of the
    ``station`` settings of every station config that sets them, of the ``national``
    settings of every national config, and of the ``coverage`` settings of the station
    config a national target's coverage model runs its catchments on (dotted paths),
    scanned at ``scales`` (1 is the shipped value)."""

    model_config = _FROZEN
    title: str
    station: tuple[str, ...] = ()
    national: tuple[str, ...] = ()
    coverage: tuple[str, ...] = ()
    scales: tuple[Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)], ...] = Field(
        min_length=3
    )
    declared: tuple[Multiplier, Multiplier] | None = None
    """The multipliers the settings' declared ranges allow (low, high): a fit outside
    them is reported as such."""

    @model_validator(mode="after")
    def _ordered(self) -> Parameter:
        if list(self.scales) != sorted(set(self.scales)) or 1.0 not in self.scales:
            raise ValueError(
                f"scales {list(self.scales)}: list increasing multipliers, 1 (as shipped) "
                "among them"
            )
        if self.declared is not None and not self.declared[0] <= 1.0 <= self.declared[1]:
            raise ValueError(
                f"declared {list(self.declared)}: the declared range must hold the shipped "
                "value: low <= 1 <= high"
            )
        if not self.station and not self.national and not self.coverage:
            raise ValueError(
                "name the station, national or coverage settings the parameter multiplies"
            )
        return self


class Targets(BaseModel):
    """The calibration targets file."""

    model_config = _FROZEN
    targets: tuple[Target, ...] = Field(min_length=1)
    parameters: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Parameter] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _unique(self) -> Targets:
        ids = [t.id for t in self.targets]
        if len(set(ids)) != len(ids):
            raise ValueError(f"target ids must be unique, got {ids}")
        # Two parameters moved together must not multiply the same setting twice.
        owner: dict[tuple[str, str], str] = {}
        for name, parameter in self.parameters.items():
            for kind in ("station", "national", "coverage"):
                for dotted in getattr(parameter, kind):
                    other = owner.setdefault((kind, dotted), name)
                    if other != name:
                        raise ValueError(
                            f"parameters {other} and {name} both multiply {kind} setting {dotted}"
                        )
        return self


@dataclass(frozen=True)
class CalibrationRow:
    """A target beside the model's value on its config."""

    target: Target
    mean: float
    half_width: float
    replications: int

    @property
    def passed(self) -> bool:
        low, high = self.target.band
        return low <= self.mean <= high


def load_targets(path: Path) -> Targets:
    """Read and validate a targets file."""
    document = read_mapping(path, "calibration targets file")
    try:
        return Targets.model_validate(document)
    except ValidationError as error:
        message = format_validation_error(error, document, str(path), Targets, "targets file")
        raise ConfigError(message) from None


Overrides = Mapping[str, Any]
RunStation = Callable[[Path, Overrides], Any]
"""Runs a station config with overrides; returns its :class:`sim.api.Result`."""
RunNational = Callable[[Path, NationalContext, Overrides, Overrides], Any]
"""Runs a national config in a context with overrides of the national config and of
its coverage model's station config; returns its national table (a pandas DataFrame
with ``metric``, ``mean``, ``half_width`` and ``n``)."""
Scaled = Sequence[tuple["Parameter", float]]
"""Parameters and their multipliers, applied together."""


def _config_of(target: Target) -> str:
    return target.config if target.national is None else target.national.config


def scaled_settings(
    path: Path, settings: Sequence[str], factor: float, what: str
) -> dict[str, Any]:
    """``settings`` of the config at ``path`` (those it sets, base files merged) times
    ``factor``."""
    document = read_scenario_document(path) if what == "station" else read_mapping(path)
    out: dict[str, Any] = {}
    for dotted in settings:
        value = lookup(document, parse_path(dotted))
        if value is ABSENT:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: {dotted} = {value!r}: a parameter multiplies numbers")
        out[dotted] = value * factor
    return out


def _coverage_config(path: Path, context: NationalContext) -> Path:
    """The station config the national config at ``path`` runs ``context``'s coverage
    model on."""
    coverage = read_mapping(path, "national config").get("coverage")
    entry = coverage.get(context.coverage) if isinstance(coverage, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), str):
        raise ConfigError(f"{path}: coverage.{context.coverage}.config: no such coverage model")
    return path.parent / entry["config"]


def _scaled(path: Path, scales: Scaled, kind: str) -> dict[str, Any]:
    what = "national" if kind == "national" else "station"
    out: dict[str, Any] = {}
    for parameter, factor in scales:
        out.update(scaled_settings(path, getattr(parameter, kind), factor, what))
    return out


def calibrate(
    targets: Targets,
    configs_dir: Path,
    run: RunStation,
    run_national: RunNational | None = None,
    only: Sequence[str] = (),
    scales: Scaled = (),
) -> list[CalibrationRow]:
    """The model's value of every target (those on the configs ``only`` names, when
    given), with the settings of ``scales`` (parameters and their multipliers)
    applied."""
    chosen = [t for t in targets.targets if not only or _config_of(t) in only]
    known = sorted({_config_of(t) for t in targets.targets})
    for name in only:
        if name not in known:
            raise ConfigError(f"calibrate: no target is checked on '{name}'; the configs: {known}")
    results: dict[Any, Any] = {}
    rows = []
    for target in chosen:
        path = configs_dir / f"{_config_of(target)}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"target '{target.id}': config '{_config_of(target)}': no such file {path}"
            )
        if target.national is None:
            key: Any = target.config
            if key not in results:
                results[key] = run(path, _scaled(path, scales, "station"))
            summary = results[key].summary
            match = summary[
                (summary.metric == target.measure) & (summary.population == target.population)
            ]
        else:
            if run_national is None:
                raise ConfigError(f"target '{target.id}': no national runner was given")
            key = target.national
            if key not in results:
                coverage = (
                    _scaled(_coverage_config(path, target.national), scales, "coverage")
                    if any(p.coverage for p, _ in scales)
                    else {}
                )
                national = _scaled(path, scales, "national")
                results[key] = run_national(path, target.national, national, coverage)
            table = results[key]
            match = table[table.metric == target.measure]
        if match.empty:
            raise ConfigError(
                f"target '{target.id}': no measure '{target.measure}' for population "
                f"'{target.population}' in the results of {target.context}"
            )
        row = match.iloc[0]
        # The posts are fixed, so the mean per post is the mean over the posts.
        per = target.national.posts if target.per_post and target.national else 1
        rows.append(
            CalibrationRow(
                target, float(row["mean"]) / per, float(row["half_width"]) / per, int(row["n"])
            )
        )
    return rows


@dataclass(frozen=True)
class Scan:
    """Every target's value at each multiplier of one parameter."""

    name: str
    parameter: Parameter
    rows: tuple[tuple[CalibrationRow, ...], ...]  # one tuple of rows per scale

    def values(self, k: int) -> np.ndarray:
        """Target ``k``'s model mean at each scale."""
        return np.array([rows[k].mean for rows in self.rows])

    def holds_for(self, k: int) -> tuple[float, float] | None:
        """The multipliers for which target ``k`` lies in its band, from the first
        scanned value in it to the last (each end interpolated linearly to where the
        model's value crosses the band), or None if no scanned value is in it."""
        scales = np.asarray(self.parameter.scales)
        values = self.values(k)
        low, high = self.rows[0][k].target.band
        inside = (values >= low) & (values <= high)
        if not inside.any():
            return None
        first, last = int(np.argmax(inside)), len(inside) - 1 - int(np.argmax(inside[::-1]))
        return (
            _crossing(scales, values, first - 1, first, low, high),
            _crossing(scales, values, last + 1, last, low, high),
        )


def _crossing(
    scales: np.ndarray, values: np.ndarray, out: int, inside: int, low: float, high: float
) -> float:
    """Where the line from the scanned point ``inside`` (in the band) to ``out`` (not,
    or beyond the scan) leaves the band."""
    if not 0 <= out < len(scales):
        return float(scales[inside])
    edge = low if values[out] < low else high
    t = (edge - values[inside]) / (values[out] - values[inside])
    return float(scales[inside] + t * (scales[out] - scales[inside]))


def scan(
    targets: Targets,
    name: str,
    configs_dir: Path,
    run: RunStation,
    run_national: RunNational | None = None,
    only: Sequence[str] = (),
    on_scale: Callable[[float], None] | None = None,
) -> Scan:
    """Every target at each multiplier of parameter ``name``."""
    if name not in targets.parameters:
        raise ConfigError(
            f"--scan {name}: not a parameter of the targets file; known: "
            f"{sorted(targets.parameters)}"
        )
    parameter = targets.parameters[name]
    rows = []
    for factor in parameter.scales:
        if on_scale is not None:
            on_scale(factor)
        found = calibrate(targets, configs_dir, run, run_national, only, [(parameter, factor)])
        rows.append(tuple(found))
    return Scan(name, parameter, tuple(rows))


def _fitted_line(targets: Sequence[Target]) -> list[str]:
    """The line naming the targets left out of a scan's conflicts, if any."""
    fitted = [t for t in targets if t.fitted_by is not None]
    if not fitted:
        return []
    named = ", ".join(f"{t.id} ({t.fitted_by})" for t in fitted)
    return [f"Left out of the conflicts, fitted by another setting: {named}."]


def format_scan(result: Scan) -> str:
    """The scan as a table (a target a row, a multiplier a column), where each target
    holds, the targets the shipped settings miss whose published value no multiplier
    reaches, and whether one
    multiplier meets every target; if none does, the two targets that pull furthest
    apart and by how much (targets fitted by another setting left out)."""
    scales = result.parameter.scales
    targets = [row.target for row in result.rows[0]]
    width = max(len(t.id) for t in targets)
    head = "  ".join(f"x{f:<7g}" for f in scales)
    lines = [
        f"Scan of {result.parameter.title} ({result.name}): each target's model value at "
        "each multiplier, every other setting as shipped",
        "",
        f"{'target':<{width}}  {'band':<15} {head}  holds for",
    ]
    spans = []
    for k, t in enumerate(targets):
        digits = 2 if abs(t.published) < 10 else 0
        values = "  ".join(f"{v:<8.{digits}f}" for v in result.values(k))
        span = result.holds_for(k)
        spans.append(span)
        where = "no scanned value" if span is None else f"x{span[0]:.2f} to x{span[1]:.2f}"
        band = f"{t.band[0]:g}-{t.band[1]:g}"
        lines.append(f"{t.id:<{width}}  {band:<15} {values}  {where}")
    lines.append("")
    shipped = list(scales).index(1.0)
    for k, t in enumerate(targets):
        values = result.values(k)
        # Only for a target the shipped settings miss: the others are in their band.
        held = t.band[0] <= values[shipped] <= t.band[1]
        if held or values.min() <= t.published <= values.max():
            continue
        digits = 2 if abs(t.published) < 10 else 0
        side, at = (
            ("at most", int(np.argmax(values)))
            if values.max() < t.published
            else ("at least", int(np.argmin(values)))
        )
        lines.append(
            f"{t.id} never reaches its published {t.published:.{digits}f} in the scan "
            f"({side} {values[at]:.{digits}f}, at x{scales[at]:g})."
        )
    lines += _fitted_line(targets)
    free = [(t, span) for t, span in zip(targets, spans, strict=True) if t.fitted_by is None]
    never = [t.id for t, span in free if span is None]
    held = [(t, span) for t, span in free if span is not None]
    if never:
        lines.append(
            f"No multiplier in x{scales[0]:g} to x{scales[-1]:g} puts "
            f"{', '.join(never)} in its band: this parameter alone cannot reconcile it."
        )
    if held:
        low_t, low_span = max(held, key=lambda h: h[1][0])
        high_t, high_span = min(held, key=lambda h: h[1][1])
        if low_span[0] <= high_span[1]:
            if not never:
                against = _against_declared(result.parameter, low_span[0], high_span[1])
                lines.append(
                    f"Every target holds for {result.name} x{low_span[0]:.2f} to "
                    f"x{high_span[1]:.2f}{against}."
                )
        else:
            lines.append(
                f"No multiplier meets every target: {low_t.id} needs at least "
                f"x{low_span[0]:.2f}, {high_t.id} at most x{high_span[1]:.2f} (they "
                f"conflict by a factor {low_span[0] / high_span[1]:.2f})."
            )
    return "\n".join(lines)


def _against_declared(parameter: Parameter, low: float, high: float) -> str:
    """Where the multipliers ``low`` to ``high`` lie against the parameter's declared
    range, said after a fit (empty when it has none or they lie inside it)."""
    if parameter.declared is None:
        return ""
    d_low, d_high = parameter.declared
    if d_low <= low and high <= d_high:
        return ""
    if high < d_low or low > d_high:
        return (
            f", outside the declared range x{d_low:g} to x{d_high:g}: no setting inside "
            "it meets every target"
        )
    return (
        f", of which only x{max(low, d_low):.2f} to x{min(high, d_high):.2f} inside the "
        f"declared range x{d_low:g} to x{d_high:g}"
    )


@dataclass(frozen=True)
class Grid:
    """Every target's value at each pair of multipliers of two parameters."""

    names: tuple[str, str]
    parameters: tuple[Parameter, Parameter]
    rows: tuple[tuple[tuple[CalibrationRow, ...], ...], ...]  # [i][j]: first x, second x

    @property
    def targets(self) -> list[Target]:
        return [row.target for row in self.rows[0][0]]

    def free(self) -> list[int]:
        """The targets no other setting is fitted to (the fit's targets)."""
        return [k for k, t in enumerate(self.targets) if t.fitted_by is None]

    def held(self) -> np.ndarray:
        """Booleans [i, j, k]: target k in its band at the i-th and j-th multipliers."""
        return np.array([[[row.passed for row in cell] for cell in line] for line in self.rows])

    def miss(self, i: int, j: int) -> float:
        """How far the free targets at pair (i, j) are from their bands: the sum of
        each one's distance to its band over its published value (0 in the band)."""
        total = 0.0
        for k in self.free():
            row = self.rows[i][j][k]
            low, high = row.target.band
            gap = max(low - row.mean, row.mean - high, 0.0)
            total += gap / abs(row.target.published)
        return total

    def closest(self) -> tuple[int, int]:
        """The pair where most free targets hold; among those, the smallest miss, then
        the nearest to the shipped settings (x1, x1) on a log scale."""
        held = self.held()[:, :, self.free()].sum(axis=2)
        first, second = (np.log(np.asarray(p.scales)) for p in self.parameters)
        cells = [(i, j) for i in range(len(first)) for j in range(len(second))]
        return min(
            cells,
            key=lambda c: (-held[c], self.miss(*c), first[c[0]] ** 2 + second[c[1]] ** 2),
        )


def grid(
    targets: Targets,
    names: tuple[str, str],
    configs_dir: Path,
    run: RunStation,
    run_national: RunNational | None = None,
    only: Sequence[str] = (),
    on_pair: Callable[[float, float], None] | None = None,
) -> Grid:
    """Every target at each pair of multipliers of the two parameters ``names``."""
    for name in names:
        if name not in targets.parameters:
            raise ConfigError(
                f"--scan {name}: not a parameter of the targets file; known: "
                f"{sorted(targets.parameters)}"
            )
    if names[0] == names[1]:
        raise ConfigError(f"--scan {names[0]} twice: a joint scan moves two parameters")
    first, second = (targets.parameters[n] for n in names)
    lines = []
    for a in first.scales:
        line = []
        for b in second.scales:
            if on_pair is not None:
                on_pair(a, b)
            found = calibrate(
                targets, configs_dir, run, run_national, only, [(first, a), (second, b)]
            )
            line.append(tuple(found))
        lines.append(tuple(line))
    return Grid(names, (first, second), tuple(lines))


def format_grid(result: Grid) -> str:
    """The joint scan: the number of free targets in their band at each pair (a row per
    multiplier of the first parameter, a column per multiplier of the second), the
    pair that comes closest and what still misses there, and the targets that each hold
    somewhere in the grid but never at the same pair (the conflicts)."""
    (name_a, name_b), (first, second) = result.names, result.parameters
    targets, free = result.targets, result.free()
    held = result.held()
    count = held[:, :, free].sum(axis=2)
    lines = [
        f"Joint scan of {first.title} ({name_a}, rows) and {second.title} ({name_b}, "
        f"columns): targets in their band at each pair, of the {len(free)} not fitted by "
        "another setting; every other setting as shipped",
        "",
        f"{name_a:<16}" + "".join(f"{f'x{b:g}':>8}" for b in second.scales),
    ]
    for i, a in enumerate(first.scales):
        cells = "".join(
            f"{'all' if count[i, j] == len(free) else str(count[i, j]):>8}"
            for j in range(len(second.scales))
        )
        lines.append(f"{f'x{a:g}':<16}{cells}")
    lines.append("")
    lines += _fitted_line(targets)
    everywhere = count == len(free)
    if everywhere.any():
        pairs = []
        for i, j in zip(*np.nonzero(everywhere), strict=True):
            a, b = first.scales[i], second.scales[j]
            outside = [
                f"{name} x{x:g} outside its declared x{p.declared[0]:g} to x{p.declared[1]:g}"
                for name, p, x in ((name_a, first, a), (name_b, second, b))
                if p.declared is not None and not p.declared[0] <= x <= p.declared[1]
            ]
            note = f" ({'; '.join(outside)})" if outside else ""
            pairs.append(f"{name_a} x{a:g} with {name_b} x{b:g}{note}")
        lines.append("Every target holds at " + "; ".join(pairs) + ".")
    i, j = result.closest()
    at = f"{name_a} x{first.scales[i]:g}, {name_b} x{second.scales[j]:g}"
    lines.append(f"Closest pair: {at}, {count[i, j]} of {len(free)} targets in their band.")
    for k in free:
        row = result.rows[i][j][k]
        if row.passed:
            continue
        t = row.target
        digits = 2 if abs(t.published) < 10 else 0
        low, high = t.band
        side = "below" if row.mean < low else "above"
        lines.append(
            f"  {t.id}: {row.mean:.{digits}f}, {side} its band {low:g}-{high:g} "
            f"({100 * (row.mean - t.published) / t.published:+.0f} % from the published "
            f"{t.published:g})"
        )
    somewhere = [k for k in free if held[:, :, k].any()]
    never = [targets[k].id for k in free if not held[:, :, k].any()]
    if never:
        lines.append(f"Never in its band anywhere in the grid: {', '.join(never)}.")
    apart = [
        (targets[k].id, targets[m].id)
        for n, k in enumerate(somewhere)
        for m in somewhere[n + 1 :]
        if not (held[:, :, k] & held[:, :, m]).any()
    ]
    if apart:
        lines.append(
            "Each holds somewhere, never together: "
            + "; ".join(f"{a} and {b}" for a, b in apart)
            + "."
        )
    return "\n".join(lines)


def format_calibration(rows: Sequence[CalibrationRow]) -> str:
    """The check as a table, one block per target, and the verdict."""
    lines = []
    for row in rows:
        t = row.target
        low, high = t.band
        digits = 2 if abs(t.published) < 10 else 0
        verdict = "pass" if row.passed else "FAIL"
        if not row.passed:
            edge = low if row.mean < low else high
            gap = row.mean - edge
            verdict += (
                f": {abs(gap):.{digits}f} {'below' if gap < 0 else 'above'} its band, "
                f"{100 * (row.mean - t.published) / t.published:+.0f} % from the published value"
            )
        # A half-width that the figure's digits would round to 0 gets one digit more:
        # "± 0" would read as no uncertainty at all.
        spread = digits + 1 if 0 < row.half_width < 0.5 * 10**-digits else digits
        lines += [
            f"{t.title} [{t.id}]",
            f"  published  {t.published:.{digits}f}   {t.source}",
            f"  model      {row.mean:.{digits}f} ± {row.half_width:.{spread}f} (95 % CI, "
            f"{row.replications} replications) on {t.context}",
            f"  band       {low:.{digits}f} to {high:.{digits}f}: {t.why}",
            f"  check      {verdict}",
            "",
        ]
    passed = sum(row.passed for row in rows)
    lines.append(f"{passed} of {len(rows)} targets in their band.")
    return "\n".join(lines)
