"""The results folder of an experiment run, written so that a run can be interrupted at
any moment and resumed.

Layout of ``OUT/``:

- ``manifest.json``: the spec, the plan digest, seeds, versions, start and end of each
  session, the backend, and the status of every task;
- ``spec.yaml``: the spec file as it was given; ``configs/``: the resolved scenario of
  every (design point, scenario) pair; ``design.csv``: the design points;
- ``tasks/TASK_ID/``: the compact tables of each finished task (Arrow IPC files) and its
  ``task.json``.  Each task folder is written under a temporary name and renamed when
  complete, so a folder that exists is whole: a killed process leaves at most a
  temporary folder, removed on resume;
- ``tables/``: the final tidy tables (Parquet and CSV), written whole once every task
  is done (:mod:`sim.experiment.tables`); ``figures/``: the figures drawn from them.

``--resume`` reuses the task folders of a run made from the same plan (same digest) and
the same library versions, and computes only the missing tasks.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import yaml

from sim.config import ConfigError
from sim.experiment import tasks as task_module
from sim.experiment.spec import ExperimentPlan
from sim.experiment.tasks import Task, TaskOutput
from sim.store import current_umask, environment_versions

__all__ = [
    "MANIFEST",
    "NUMERIC_VERSIONS",
    "ResultsFolder",
    "read_manifest",
    "run_and_store",
    "write_json_atomic",
    "write_table",
    "write_task_folder",
]

MANIFEST = "manifest.json"
# libyaml's emitter, where PyYAML has it, writes the same text several times faster: a
# sweep of many design points writes one resolved config per point and scenario.
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
TASK_TABLES = ("measures", "hour_of_week", "wait_ecdf")
NUMERIC_VERSIONS = ("station-sim", "numpy", "scipy", "simpy", "pydantic")
"""Versions whose change could move the numbers: a resumed run must not mix them, and
the workers of a cluster must match the client in them."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, content: Any) -> None:
    """Write a JSON file under a temporary name and rename it: readers see the old file
    or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it private; not so here
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(content, stream, indent=2, default=str)
        stream.write("\n")
    os.replace(temporary, path)


def write_table(table: pa.Table, folder: Path, stem: str) -> None:
    """A final table as ``STEM.parquet`` and ``STEM.csv``."""
    import pyarrow.parquet as pq

    pq.write_table(table, folder / f"{stem}.parquet")
    pacsv.write_csv(table, folder / f"{stem}.csv")


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder}: not an experiment results folder (no {MANIFEST})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None


class ResultsFolder:
    """The results folder of one experiment plan; see the module docstring."""

    def __init__(self, path: Path, plan: ExperimentPlan) -> None:
        self.path = Path(path)
        self.plan = plan
        self.tasks_dir = self.path / "tasks"
        self.tables_dir = self.path / "tables"
        self.figures_dir = self.path / "figures"
        self.manifest: dict[str, Any] = {}

    # -- opening ------------------------------------------------------------------------

    def open(self, resume: bool, fresh: bool, backend: str, command: Sequence[str]) -> None:
        """Create the folder, or reopen it to resume; refuse to mix two plans.

        Without ``resume`` or ``fresh`` an existing experiment folder is an error, so
        that hours of finished tasks are never thrown away by accident.
        """
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"--out {self.path}: exists and is not a folder")
        exists = self.path.exists() and any(self.path.iterdir())
        if exists and fresh:
            self._check_is_experiment_folder()
            shutil.rmtree(self.path)
            exists = False
        if exists and not resume:
            raise ConfigError(
                f"--out {self.path}: already holds results; pass --resume to finish that run "
                "(only missing tasks are computed) or --fresh to discard it, or choose "
                "another --out"
            )
        if exists:
            self._check_resumable()
        self.path.mkdir(parents=True, exist_ok=True)
        self.tasks_dir.mkdir(exist_ok=True)
        for leftover in self.tasks_dir.glob(".*"):
            # A task folder whose writing was interrupted: incomplete by construction.
            shutil.rmtree(leftover, ignore_errors=True)
        if not exists:
            self._write_inputs()
            self.manifest = self._new_manifest()
        session = {"started": now(), "finished": None, "backend": backend, "command": list(command)}
        self.manifest["sessions"].append(session)
        self.manifest["status"] = "running"
        self.manifest["finished"] = None
        self.save_manifest()

    def _check_is_experiment_folder(self) -> None:
        if not (self.path / MANIFEST).is_file():
            raise ConfigError(
                f"--out {self.path}: exists and is not an experiment results folder; "
                "--fresh only replaces experiment results, choose another --out"
            )

    def _check_resumable(self) -> None:
        self._check_is_experiment_folder()
        manifest = read_manifest(self.path)
        if manifest.get("plan_sha256") != self.plan.digest():
            raise ConfigError(
                f"--resume: {self.path} holds a run of another plan (experiment "
                f"'{manifest.get('experiment')}'; the spec or a scenario changed since); "
                "use --fresh to start again or another --out"
            )
        theirs = manifest.get("versions", {})
        ours = environment_versions()
        changed = [
            f"{k} {theirs.get(k)} -> {ours.get(k)}"
            for k in NUMERIC_VERSIONS
            if theirs.get(k) != ours.get(k)
        ]
        if changed:
            raise ConfigError(
                f"--resume: {self.path} was computed with other library versions "
                f"({', '.join(changed)}); its tasks could differ from new ones. Use --fresh"
            )
        self.manifest = manifest

    def _write_inputs(self) -> None:
        plan = self.plan
        (self.path / "spec.yaml").write_text(plan.spec_text, encoding="utf-8")
        configs = self.path / "configs"
        configs.mkdir(exist_ok=True)
        for resolved in plan.scenarios:
            dump = resolved.scenario.model_dump(mode="json")
            text = yaml.dump(dump, Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True)
            (configs / f"p{resolved.point:04d}-{resolved.label}.yaml").write_text(
                text, encoding="utf-8"
            )

    def _new_manifest(self) -> dict[str, Any]:
        plan = self.plan
        spec = plan.spec
        return {
            "experiment": spec.name,
            "description": spec.description,
            "spec_path": str(plan.spec_path),
            "spec": spec.model_dump(mode="json", exclude_unset=True),
            "plan_sha256": plan.digest(),
            "seed": spec.seed,
            "replications": spec.replications,
            "replication_indices": list(range(spec.replications)),
            "common_random_numbers": (
                "every scenario at every design point runs with the seed above and the same "
                "replication indices, so it sees the same random streams"
            ),
            "scenarios": {label: {"config": plan.config_paths[label]} for label in plan.labels},
            "design_points": [{"point": p.index, "values": p.values} for p in plan.points],
            "resolved_configs": {
                f"p{r.point:04d}-{r.label}": {
                    "file": f"configs/p{r.point:04d}-{r.label}.yaml",
                    "sha256": r.digest,
                }
                for r in plan.scenarios
            },
            "versions": environment_versions(),
            "platform": platform.platform(),
            "created": now(),
            "finished": None,
            "status": "running",
            "sessions": [],
            "tasks": {},
        }

    # -- tasks --------------------------------------------------------------------------

    def finished_task_ids(self) -> set[str]:
        """Tasks whose folder is complete (a task folder exists only once whole)."""
        if not self.tasks_dir.is_dir():
            return set()
        return {p.name for p in self.tasks_dir.iterdir() if (p / "task.json").is_file()}

    def write_task(self, task: Task, output: TaskOutput) -> None:
        """Store one finished task (see :func:`write_task_folder`) and mark it done."""
        self.record_done(task, write_task_folder(self.tasks_dir, task, output))

    def record_done(self, task: Task, entry: dict[str, Any]) -> None:
        """Mark a task stored: ``entry`` is what :func:`write_task_folder` returned."""
        self.manifest["tasks"][task.task_id] = entry

    def mark_failed(self, task: Task, error: str) -> None:
        self.manifest["tasks"][task.task_id] = {"status": "failed", "error": error}

    def read_task_table(self, task_id: str, name: str) -> pa.Table:
        return feather.read_table(self.tasks_dir / task_id / f"{name}.arrow", memory_map=False)

    # -- manifest -----------------------------------------------------------------------

    def close_session(self, status: str, tasks: Sequence[Task]) -> None:
        """Record the session's end and every task's status, and save the manifest."""
        finished = self.finished_task_ids()
        for task in tasks:
            entry = self.manifest["tasks"].get(task.task_id)
            if task.task_id in finished and (entry is None or entry.get("status") != "done"):
                # Done in an earlier session whose manifest was not saved (killed).
                self.manifest["tasks"][task.task_id] = {"status": "done"}
            elif task.task_id not in finished and (entry is None or entry["status"] == "done"):
                self.manifest["tasks"][task.task_id] = {"status": "pending"}
        self.manifest["tasks"] = {t.task_id: self.manifest["tasks"][t.task_id] for t in tasks}
        self.manifest["status"] = status
        self.manifest["sessions"][-1]["finished"] = now()
        if status == "complete":
            self.manifest["finished"] = now()
        self.save_manifest()

    def save_manifest(self) -> None:
        write_json_atomic(self.path / MANIFEST, self.manifest)


def write_task_folder(tasks_dir: Path, task: Task, output: TaskOutput) -> dict[str, Any]:
    """Store one finished task atomically in ``tasks_dir`` (written aside, then renamed
    into place) and return its manifest entry.  Any process that sees the results
    folder may call it: the local pool's workers store their own tasks."""
    # A hidden name unique to this writer; mkdir (unlike mkdtemp) keeps the umask's
    # permissions, so that a group sharing the results folder can read it.
    staging = tasks_dir / f".{task.task_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name in TASK_TABLES:
            columns = getattr(output, name)
            feather.write_feather(
                pa.table({k: _arrow(v) for k, v in columns.items()}),
                staging / f"{name}.arrow",
                compression="zstd",
            )
        record = {
            "task": task.task_id,
            "point": task.point,
            "scenario": task.label,
            "replication": task.replication,
            "seed": task.scenario.simulation.seed,
            "seconds": round(output.seconds, 4),
            "worker": output.worker,
            "finished": now(),
        }
        (staging / "task.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        target = tasks_dir / task.task_id
        if target.exists():  # computed twice (e.g. a retried Dask task): same numbers
            shutil.rmtree(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"status": "done", "seconds": record["seconds"], "worker": output.worker}


def run_and_store(tasks_dir: Path, task: Task) -> dict[str, Any]:
    """Run a task and store it where it ran, returning its manifest entry: the job of a
    local pool's worker, so that the parent process only keeps the books."""
    return write_task_folder(tasks_dir, task, task_module.run_task(task))


def _arrow(values: np.ndarray) -> pa.Array:
    if values.dtype == object:
        return pa.array(values.tolist(), type=pa.string())
    return pa.array(values)
