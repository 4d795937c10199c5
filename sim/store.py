"""The output folder of a run: per-case and worker records, measures, summary, and the
provenance (resolved config, seed, package versions) that made them.

The folder is written whole or not at all: everything goes into a hidden sibling
folder first, which replaces the target only once complete.  An interrupted run leaves
the previous output (if any) untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

import sim
from sim.config import Scenario
from sim.records import Channel, Outcome, RunRecords, WorkerActivity
from sim.summary import MeasureRow, SummaryRow
from sim.week import MINUTES_PER_HOUR, hour_of_week

__all__ = [
    "RecordsStream",
    "atomic_folder",
    "case_table",
    "config_digest",
    "current_umask",
    "environment_versions",
    "measures_table",
    "summary_table",
    "worker_table",
    "write_csv",
    "write_run_folder",
]


def config_digest(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario: equal digests, equal inputs."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def environment_versions() -> dict[str, str]:
    """Versions of the package, Python and the libraries that shape the numbers."""
    versions = {"station-sim": sim.__version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "simpy", "pydantic"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def case_table(runs: Sequence[RunRecords]) -> pa.Table:
    """The per-case records of several runs as one table, categories as labels."""
    outcome_labels = np.asarray([o.label for o in Outcome])
    channel_labels = np.asarray([c.label for c in Channel])
    columns: dict[str, list[np.ndarray]] = {}
    for run in runs:
        c = run.cases
        part = {
            "scenario": np.full(len(c), run.scenario),
            "replication": np.full(len(c), run.replication, dtype=np.int64),
            "case_id": c.case_id,
            "population": np.asarray(run.population_names)[c.population],
            "station": np.asarray(run.station_names)[c.station],
            "urgent": c.urgent,
            "arrival_min": c.arrival,
            "arrival_hour_of_week": hour_of_week(c.arrival),
            "referral_min": c.referral,
            "first_contact_min": c.first_contact,
            "service_end_min": c.service_end,
            "onward_referral_min": c.onward_referral,
            "wait_referral_h": (c.first_contact - c.referral) / MINUTES_PER_HOUR,
            "wait_arrival_h": (c.first_contact - c.arrival) / MINUTES_PER_HOUR,
            "channel": channel_labels[c.channel],
            "outcome": outcome_labels[c.outcome],
            "left_station": c.left_station,
            "callback_attempts": c.callback_attempts,
        }
        for key, value in part.items():
            columns.setdefault(key, []).append(value)
    return pa.table({k: np.concatenate(v) for k, v in columns.items()})


def worker_table(runs: Sequence[RunRecords]) -> pa.Table:
    """The worker-time records of several runs as one table."""
    activity_labels = np.asarray([a.label for a in WorkerActivity])
    columns: dict[str, list[np.ndarray]] = {}
    for run in runs:
        w = run.workers
        stations = np.asarray([*run.station_names, ""])
        part = {
            "scenario": np.full(len(w), run.scenario),
            "replication": np.full(len(w), run.replication, dtype=np.int64),
            "worker": np.asarray(run.worker_names)[w.worker],
            "activity": activity_labels[w.activity],
            "station": stations[w.station],  # -1 (no station) maps to ""
            "start_min": w.start,
            "end_min": w.end,
            "case_id": w.case_id,
        }
        for key, value in part.items():
            columns.setdefault(key, []).append(value)
    return pa.table({k: np.concatenate(v) for k, v in columns.items()})


def measures_table(rows: Sequence[MeasureRow]) -> pa.Table:
    return pa.table(
        {
            "replication": [r.replication for r in rows],
            "population": [r.population for r in rows],
            "metric": [r.metric for r in rows],
            "value": [r.value for r in rows],
        }
    )


def summary_table(rows: Sequence[SummaryRow]) -> pa.Table:
    fields = ("population", "metric", "n", "mean", "sd", "half_width", "ci_low", "ci_high")
    return pa.table({f: [getattr(r, f) for r in rows] for f in fields})


def write_csv(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(table, path)


class RecordsStream:
    """Per-case and worker records appended to ``cases.csv`` and ``workers.csv`` in a
    folder, one run at a time: the same files as :func:`write_run_folder` writes, for
    sweeps too long to hold their records in memory.  Pass it as ``records_sink`` to
    :func:`sim.runner.run_replications`; close it (or use it in a ``with`` block)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, tuple[pacsv.CSVWriter, pa.Schema]] = {}
        self.runs = 0

    def __call__(self, run: RunRecords) -> None:
        self._append("cases.csv", case_table([run]))
        self._append("workers.csv", worker_table([run]))
        self.runs += 1

    def _append(self, name: str, table: pa.Table) -> None:
        if name not in self._writers:
            self._writers[name] = (pacsv.CSVWriter(self.folder / name, table.schema), table.schema)
        writer, schema = self._writers[name]
        writer.write_table(table.cast(schema))

    def close(self) -> None:
        for writer, _ in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> RecordsStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def atomic_folder(target: Path):
    """Yield a fresh temporary folder that replaces ``target`` when the block succeeds
    and is removed when it fails or is interrupted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    # mkdtemp makes the folder private (0700); the output is for the team to read, so
    # give it the mode a plain mkdir would have under the user's umask.
    staging.chmod(0o777 & ~current_umask())
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    if previous.exists():
        shutil.rmtree(previous, ignore_errors=True)


def current_umask() -> int:
    """This process's umask: the permission bits new files and folders go without."""
    # The umask can only be read by setting it; set it straight back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_run_folder(
    target: Path,
    scenario: Scenario,
    config_path: str,
    overrides: dict[str, Any],
    runs: Sequence[RunRecords],
    measures: Sequence[MeasureRow],
    summary: Sequence[SummaryRow],
    started: datetime,
    command: Sequence[str],
    report: str,
    complete: bool = True,
) -> None:
    """Write the whole output folder of a ``station-sim run``; ``complete`` is false for
    the replications saved from an interrupted run."""
    with atomic_folder(target) as folder:
        if runs:
            write_csv(case_table(runs), folder / "cases.csv")
            write_csv(worker_table(runs), folder / "workers.csv")
        write_csv(measures_table(measures), folder / "replications.csv")
        write_csv(summary_table(summary), folder / "summary.csv")
        (folder / "summary.txt").write_text(report + "\n", encoding="utf-8")
        resolved = scenario.model_dump(mode="json")
        (folder / "config.yaml").write_text(
            yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        manifest = {
            "scenario": scenario.name,
            "config_path": config_path,
            "config_sha256": config_digest(scenario),
            "overrides": overrides,
            "seed": scenario.simulation.seed,
            "replications": scenario.simulation.replications,
            "replications_done": sorted({row.replication for row in measures}),
            "complete": complete,
            "versions": environment_versions(),
            "platform": platform.platform(),
            "command": list(command),
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [*sorted(p.name for p in folder.iterdir()), "manifest.json"],
        }
        (folder / "manifest.json").write_text(
            json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8"
        )
