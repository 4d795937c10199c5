"""The calibration check: every published figure the model can produce, beside the
model's value on the config that matches its context, and whether it lies in the
tolerance band stated with it (``station-sim calibrate``).

The targets are declared once, in ``configs/calibration/targets.yaml``: each names the
published value and its source (an entry of ``docs/sources.md``), the measure and
population of the one list of measures (:mod:`sim.measures.catalogue`) that produces it, the
config it is checked on and the band.  The configs run through the pipeline like any
other run (common random numbers, the configs' own seeds and replications), and the
check passes when every target's model mean lies in its band.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config.documents import read_mapping
from sim.config.errors import ConfigError, format_validation_error
from sim.measures.catalogue import ALL

__all__ = ["CalibrationRow", "Target", "Targets", "calibrate", "format_calibration", "load_targets"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Target(BaseModel):
    """One published figure: ``published`` (from ``source``), the ``measure`` of
    ``population`` that the model gives for it on ``config`` (a name of the configs
    folder, ``calibration/fontenay_first_year`` say), the tolerance ``band`` [low,
    high] and ``why`` that band (how well the contexts match)."""

    model_config = _FROZEN
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: str
    published: float
    source: str
    measure: str
    population: str = ALL
    config: str
    band: tuple[float, float]
    why: str

    @model_validator(mode="after")
    def _band_holds_the_figure(self) -> Target:
        low, high = self.band
        if not low < high:
            raise ValueError(f"band {list(self.band)}: the low end must be below the high end")
        if not low <= self.published <= high:
            raise ValueError(
                f"band {list(self.band)} does not hold the published value {self.published}"
            )
        return self


class Targets(BaseModel):
    """The calibration targets file."""

    model_config = _FROZEN
    targets: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Targets:
        ids = [t.id for t in self.targets]
        if len(set(ids)) != len(ids):
            raise ValueError(f"target ids must be unique, got {ids}")
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


def calibrate(
    targets: Targets,
    configs_dir: Path,
    run: Callable[[Path], Any],
    only: Sequence[str] = (),
) -> list[CalibrationRow]:
    """The model's value of every target (those on the configs ``only`` names, when
    given); ``run`` runs a config file and returns its :class:`sim.api.Result`."""
    chosen = [t for t in targets.targets if not only or t.config in only]
    known = sorted({t.config for t in targets.targets})
    for name in only:
        if name not in known:
            raise ConfigError(f"calibrate: no target is checked on '{name}'; the configs: {known}")
    results: dict[str, Any] = {}
    rows = []
    for target in chosen:
        path = configs_dir / f"{target.config}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"target '{target.id}': config '{target.config}': no such file {path}"
            )
        if target.config not in results:
            results[target.config] = run(path)
        summary = results[target.config].summary
        match = summary[
            (summary.metric == target.measure) & (summary.population == target.population)
        ]
        if match.empty:
            raise ConfigError(
                f"target '{target.id}': no measure '{target.measure}' for population "
                f"'{target.population}' in the results of {target.config}"
            )
        row = match.iloc[0]
        rows.append(
            CalibrationRow(target, float(row["mean"]), float(row["half_width"]), int(row["n"]))
        )
    return rows


def format_calibration(rows: Sequence[CalibrationRow]) -> str:
    """The check as a table, one block per target, and the verdict."""
    lines = []
    for row in rows:
        t = row.target
        low, high = t.band
        digits = 2 if abs(t.published) < 10 else 0
        verdict = "pass" if row.passed else "FAIL"
        lines += [
            f"{t.title} [{t.id}]",
            f"  published  {t.published:.{digits}f}   {t.source}",
            f"  model      {row.mean:.{digits}f} ± {row.half_width:.{digits}f} (95 % CI, "
            f"{row.replications} replications) on {t.config}",
            f"  band       {low:.{digits}f} to {high:.{digits}f}: {t.why}",
            f"  check      {verdict}",
            "",
        ]
    passed = sum(row.passed for row in rows)
    lines.append(f"{passed} of {len(rows)} targets in their band.")
    return "\n".join(lines)
