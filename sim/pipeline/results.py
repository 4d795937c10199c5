"""A results folder read back: its manifest, spec, measures and stored tables.

Figures, reports, the reproduction check and the Python API (``sim.load``) read results
through :class:`StoredResults`, never by running the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from sim.config.errors import ConfigError
from sim.measures.catalogue import MeasureList
from sim.pipeline.spec import ExperimentSpec, Factor, same_factor_value
from sim.pipeline.store import CONFIGS, read_manifest

__all__ = ["StoredResults", "factor_title", "same_stored", "show_number"]


class StoredResults:
    """The stored tables, spec and measures of one results folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        manifest = read_manifest(self.folder)
        try:
            self.spec = ExperimentSpec.model_validate(manifest.get("spec"))
        except ValidationError as error:
            raise ConfigError(
                f"{self.folder}/manifest.json: its spec is not a valid experiment spec for "
                f"this version of station-sim ({error.error_count()} error(s), first at "
                f"{'.'.join(map(str, error.errors()[0]['loc'])) or 'the top level'}: "
                f"{error.errors()[0]['msg']}); rerun the experiment"
            ) from None
        self.manifest = manifest
        self.labels: list[str] = list(manifest["scenarios"])  # in the spec's order
        tables = self.folder / "tables"
        if not (tables / "summary.parquet").is_file():
            raise ConfigError(
                f"{self.folder}: has no tables yet (tables/summary.parquet); the experiment "
                "has not finished: run it again with --resume"
            )
        self._tables_dir = tables
        self._cache: dict[str, pa.Table | None] = {}
        self._titles: dict[str, str] = {}
        self.factors: dict[str, Factor] = (
            {f.name: f for f in self.spec.design.factors} if self.spec.design else {}
        )
        self.design = self.table("design").to_pylist()
        self.measures = MeasureList.from_records(self.table("measures").to_pylist())

    def table(self, name: str) -> pa.Table:
        """A stored table (read once)."""
        found = self.optional_table(name)
        if found is None:
            raise ConfigError(f"{self.folder}: tables/{name}.parquet is missing")
        return found

    def optional_table(self, name: str) -> pa.Table | None:
        """A stored table, or None for one the experiment has not (``comparison``)."""
        if name not in self._cache:
            path = self._tables_dir / f"{name}.parquet"
            self._cache[name] = pq.read_table(path) if path.is_file() else None
        return self._cache[name]

    def records(self, name: str) -> pa.Table:
        """The stored per-case (``cases``) or per-worker (``workers``) records."""
        path = self.folder / "records" / f"{name}.parquet"
        if not path.is_file():
            raise ConfigError(
                f"{self.folder}: holds no {name} records (records/{name}.parquet); "
                "run with records kept (station-sim run keeps them unless --no-records; "
                "an experiment spec keeps them with records: true)"
            )
        return pq.read_table(path)

    def point_at(self, at: dict[str, Any], what: str) -> dict[str, Any]:
        """The row of the design table that ``at`` selects."""
        matches = [
            row
            for row in self.design
            if all(same_stored(row[name], value) for name, value in at.items())
        ]
        if len(matches) != 1:
            raise ConfigError(f"{self.folder}: {what}: at = {at} selects {len(matches)} points")
        return matches[0]

    def title(self, label: str) -> str:
        """What readers see for a scenario: the ``title`` of its stored resolved config,
        or its label with spaces (a config without a title, or a folder written before
        configs had titles)."""
        if label not in self._titles:
            found = sorted(
                path
                for path in (self.folder / CONFIGS).glob("p*.yaml")
                if path.name.partition("-")[2] == f"{label}.yaml"
            )
            title = ""
            if found:
                document = yaml.safe_load(found[0].read_text(encoding="utf-8"))
                if isinstance(document, dict):
                    title = str(document.get("title") or "")
            self._titles[label] = title or label.replace("_", " ")
        return self._titles[label]

    def describe(self, row: dict[str, Any]) -> str:
        """A design point in words, each factor with its value and unit
        (``demand = 2 × the calibrated demand, workers on site = 1 (posts)``)."""
        return ", ".join(self.factor_value(k, v) for k, v in row.items() if k != "point")

    def factor_value(self, name: str, value: Any) -> str:
        """Factor ``name`` at ``value`` in words, with its unit."""
        unit = self.factors[name].unit
        after = "" if not unit else f" {unit}" if unit.startswith("×") else f" ({unit})"
        return f"{factor_title(self.factors[name])} = {show_number(value)}{after}"


def same_stored(stored: Any, wanted: Any) -> bool:
    """Whether a factor value read from a stored table (a number, or JSON text for any
    other value: ``sim.pipeline.tables.factor_columns``) is the one a spec gives."""
    if isinstance(stored, str):
        stored = json.loads(stored)
    return same_factor_value(stored, wanted)


def factor_title(factor: Factor) -> str:
    return factor.title or factor.name.replace("_", " ")


def show_number(value: Any) -> str:
    """A factor value as a reader reads it: a number to 4 significant digits, text
    without the JSON quotes it is stored with and with spaces for underscores
    (``"daily_review"`` reads ``daily review``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value.replace("_", " ")
        if isinstance(value, str):
            return value.replace("_", " ")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
