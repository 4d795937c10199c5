"""The results folder of a run or an experiment, written so that it can be interrupted at
any moment and resumed, and never replaces anything it did not write.

Layout of ``OUT/`` (the same for ``station-sim run`` and ``station-sim experiment``):

- ``manifest.json``: the format marker, the spec, the plan digest, seeds, versions,
  start and end of each session, the backend, and the status of every task;
- ``spec.yaml``: the spec as given (for a run: the spec of its one scenario);
  ``configs/``: the resolved scenario of every (design point, scenario) pair (on a
  local pool, each written by the process that runs its first replication; every one
  is there once the tasks are done);
- ``tasks/TASK_ID/``: the tables of each finished task (Arrow IPC files) and its
  ``task.json``.  Each task folder is written under a hidden name and renamed when
  complete, so a folder that exists is whole: a killed process leaves at most a hidden
  folder, removed at the next open;
- ``tables/``: the final tidy tables (Parquet, and CSV unless the caller sums the runs
  into readable tables of its own), written whole once every task
  is done (:mod:`sim.pipeline.tables`); ``records/``: the per-case and per-worker
  records when the experiment keeps them (Parquet, CSV on request); ``figures/``: the
  figures drawn from the tables; ``summary.txt``: the table ``station-sim run`` prints.

A command uses an existing folder only when it can tell that station-sim wrote it: its
manifest carries :data:`sim.pipeline.provenance.MARKER` and it holds nothing but the entries
above.  ``resume`` reuses the tasks of a folder made from the same plan (same digest)
with the same library versions and computes only the missing ones; ``fresh`` replaces
such a folder; anything else is refused with a message naming the folder.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import yaml

from sim.config.errors import ConfigError
from sim.config.schema import Scenario
from sim.pipeline import tasks as task_module
from sim.pipeline.layout import RECORDS, TABLES
from sim.pipeline.plan import ExperimentPlan
from sim.pipeline.provenance import MARKER, NUMERIC_VERSIONS, environment_versions
from sim.pipeline.tasks import Task, TaskOutput

__all__ = [
    "CONFIGS",
    "MANIFEST",
    "OWN_ENTRIES",
    "ResultsFolder",
    "atomic_folder",
    "config_key",
    "config_name",
    "read_manifest",
    "run_and_store",
    "write_json_atomic",
    "write_table",
    "write_task_folder",
]

MANIFEST = "manifest.json"
CONFIGS = "configs"
"""The subfolder of the resolved configs, one a (design point, scenario) pair."""
OWN_ENTRIES = frozenset(
    {MANIFEST, "spec.yaml", CONFIGS, "tasks", "tables", "records", "figures", "summary.txt"}
)
"""What a results folder may hold (besides hidden staging folders of its own)."""
_STAGING_PREFIXES = tuple(f".{name}." for name in OWN_ENTRIES)

# libyaml's emitter, where PyYAML has it, writes the same text several times faster: a
# sweep of many design points writes one resolved config per point and scenario.
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def current_umask() -> int:
    """This process's umask: the permission bits new files and folders go without."""
    # The umask can only be read by setting it; set it straight back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, content: Any) -> None:
    """Write a JSON file under a temporary name and rename it: readers see the old file
    or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it private
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(content, stream, indent=2, default=str)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a fresh hidden folder beside ``target`` that replaces it when the block
    succeeds, and is removed when it fails or is interrupted.  ``target`` must be a
    folder this process may replace (its own tables or figures)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    # mkdtemp makes the folder private (0700); the output is for the team to read, so
    # give it the mode a plain mkdir would have under the user's umask.
    staging.chmod(0o777 & ~current_umask())
    try:
        yield staging
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        if target.exists():
            target.rename(previous)
        staging.rename(target)
        if previous.exists():
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def check_own_folder(
    out: Path, resume: bool, fresh: bool, manifest: str, own: frozenset[str], what: str
) -> None:
    """Refuse ``out`` when it holds anything but the entries ``own`` of ``what`` (a
    study whose manifest ``manifest`` carries :data:`MARKER`), or results of one unless
    ``resume`` or ``fresh``: nothing is ever written over files station-sim did not
    write.  Called before anything runs."""
    if resume and fresh:
        raise ConfigError("--resume and --fresh contradict each other; choose one")
    if out.name in ("", ".", "..") or out.resolve() == Path(out.anchor):
        raise ConfigError(f"--out {out}: name a folder for the results, e.g. results/mine")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in own)
    foreign = [name for name in foreign if not name.startswith((".tables.", ".figures."))]
    try:
        content = json.loads((out / manifest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        content = None
    if foreign or not isinstance(content, dict) or content.get("format") != MARKER:
        problem = f"holds files {what} does not write ({', '.join(foreign[:5])})"
        if not foreign:
            problem = f"is not the folder of {what} (no {manifest} of its own)"
        raise ConfigError(
            f"--out {out}: {problem}; nothing was changed there. Choose another --out"
        )
    if not resume and not fresh:
        raise ConfigError(
            f"--out {out}: already holds {what}; pass --resume to finish or reuse it, or "
            "--fresh to replace it, or choose another --out"
        )


def write_table(table: pa.Table, folder: Path, stem: str, csv: bool = True) -> None:
    """A table as ``STEM.parquet`` and, unless told otherwise, ``STEM.csv``."""
    pq.write_table(table, folder / f"{stem}.parquet")
    if csv:
        pacsv.write_csv(table, folder / f"{stem}.csv")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a results folder written by station-sim."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder}: not a station-sim results folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MARKER:
        raise ConfigError(
            f"{folder}: its {MANIFEST} was not written by this version of station-sim "
            f"(no format marker '{MARKER}')"
        )
    return manifest


def _own_files(manifest: dict[str, Any] | None) -> dict[str, set[str]]:
    """The file names each subfolder of a results folder may hold."""
    figures = []
    for figure in (manifest or {}).get("spec", {}).get("figures", ()):
        figure = {"kind": figure} if isinstance(figure, str) else figure
        figures.append(figure.get("name") or figure.get("kind"))
    return {
        "tables": {f"{t}.{suffix}" for t in TABLES for suffix in ("parquet", "csv")},
        "records": {f"{r}.{suffix}" for r in RECORDS for suffix in ("parquet", "csv")},
        "figures": {f"{stem}.{suffix}" for stem in figures for suffix in ("png", "pdf", "csv")}
        | {"comparison.md", "comparison.csv"},
    }


def foreign_entries(folder: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """Paths in ``folder`` (relative to it) that station-sim never writes there: a
    command that would replace the folder, or a part of it, refuses while any exists.
    ``manifest`` (the folder's) names the figures its spec draws."""
    own = _own_files(manifest)
    foreign = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith("."):
            if not name.startswith(_STAGING_PREFIXES):
                foreign.append(name)
            continue
        if name not in OWN_ENTRIES:
            foreign.append(name)
        elif name in (CONFIGS, "tasks", *own):
            if not entry.is_dir():
                foreign.append(name)
                continue
            for inner in entry.iterdir():
                foreign += [f"{name}/{p}" for p in _foreign_inside(name, inner, own)]
        elif entry.is_dir():
            foreign.append(name)
    return sorted(foreign)


def _foreign_inside(part: str, entry: Path, own: dict[str, set[str]]) -> list[str]:
    if entry.name.startswith("."):
        return []  # a write of ours that was interrupted: removed at the next open
    if part == "tasks":
        if not entry.is_dir():
            return [entry.name]
        return [
            f"{entry.name}/{f.name}"
            for f in entry.iterdir()
            if not (f.is_file() and (f.suffix == ".arrow" or f.name == "task.json"))
        ]
    if part == CONFIGS:
        return [] if entry.is_file() and entry.match("p*.yaml") else [entry.name]
    return [] if entry.is_file() and entry.name in own[part] else [entry.name]


class ResultsFolder:
    """The results folder of one plan; see the module docstring."""

    def __init__(self, path: Path, plan: ExperimentPlan) -> None:
        self.path = Path(path)
        self.plan = plan
        self.tasks_dir = self.path / "tasks"
        self.tables_dir = self.path / "tables"
        self.records_dir = self.path / "records"
        self.manifest: dict[str, Any] = {}

    # -- opening ------------------------------------------------------------------------

    def check_target(self, resume: bool, fresh: bool) -> bool:
        """Whether the folder already holds results to reuse (``resume``) or replace
        (``fresh``); refuse anything else, before any simulation runs."""
        path = self.path
        if resume and fresh:
            raise ConfigError("--resume and --fresh contradict each other; choose one")
        if path.name in ("", ".", "..") or path.resolve() == Path(path.anchor):
            raise ConfigError(
                f"--out {path}: name a folder for the results (e.g. results/mine), not "
                "the current, parent or root folder"
            )
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path}: exists and is not a folder")
        if not path.exists() or not any(path.iterdir()):
            return False  # nothing there: --resume starts from nothing
        try:
            manifest = read_manifest(path)
        except ConfigError:
            manifest = None
        foreign = foreign_entries(path, manifest)
        if manifest is None or foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            what = (
                f"holds files station-sim did not write ({shown})"
                if foreign
                else ("is not a station-sim results folder (no manifest of its own)")
            )
            raise ConfigError(
                f"--out {path}: {what}; nothing was changed there. Choose another --out"
            )
        if not resume and not fresh:
            raise ConfigError(
                f"--out {path}: already holds results; pass --resume to finish or reuse "
                "them (only missing runs are computed) or --fresh to replace them, or "
                "choose another --out"
            )
        if resume:
            self._check_resumable(manifest)
        return True

    def open(
        self,
        resume: bool,
        fresh: bool,
        backend: str,
        command: Sequence[str],
        configs_by_tasks: bool = False,
    ) -> None:
        """Create the folder, or reopen it to resume; see :meth:`check_target`.
        ``configs_by_tasks``: leave each resolved config to the first replication of its
        (point, scenario), which :func:`run_and_store` runs where it stores (a local
        pool's processes), and :meth:`write_missing_configs` to the end."""
        exists = self.check_target(resume, fresh)
        if exists and fresh:
            # Proven ours by check_target: a manifest with the marker, nothing foreign.
            shutil.rmtree(self.path)
            exists = False
        self.path.mkdir(parents=True, exist_ok=True)
        self.tasks_dir.mkdir(exist_ok=True)
        self._remove_staging()
        if exists:
            self.manifest = read_manifest(self.path)
        else:
            self._write_inputs(configs=not configs_by_tasks)
            self.manifest = self._new_manifest()
        session = {"started": now(), "finished": None, "backend": backend, "command": list(command)}
        self.manifest["sessions"].append(session)
        self.manifest["status"] = "running"
        self.manifest["finished"] = None
        self.save_manifest()

    def _remove_staging(self) -> None:
        # Hidden folders of a write that was interrupted (a killed process has no chance
        # to remove them): incomplete by construction, and ours.
        for parent in (self.path, self.tasks_dir):
            for leftover in parent.glob(".*"):
                if leftover.is_dir() and (
                    parent == self.tasks_dir or leftover.name.startswith(_STAGING_PREFIXES)
                ):
                    shutil.rmtree(leftover, ignore_errors=True)
        for leftover in (self.path / CONFIGS).glob(".p*.yaml.*"):
            if leftover.is_file():  # a config a killed process was writing
                leftover.unlink()

    def _check_resumable(self, manifest: dict[str, Any]) -> None:
        if manifest.get("plan_sha256") != self.plan.digest():
            raise ConfigError(
                f"--resume: {self.path} holds results of another plan ('{manifest.get('name')}'"
                f"; {self._what_changed(manifest)}); use --fresh to start again or another "
                "--out"
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
                f"({', '.join(changed)}); its runs could differ from new ones. Use --fresh"
            )

    def _write_inputs(self, configs: bool) -> None:
        plan = self.plan
        (self.path / "spec.yaml").write_text(plan.spec_text, encoding="utf-8")
        (self.path / CONFIGS).mkdir(exist_ok=True)
        if configs:
            for resolved in plan.scenarios:
                write_config(self.path / CONFIGS, resolved.point, resolved.label, resolved.scenario)

    def write_missing_configs(self) -> None:
        """Write the resolved config of every (point, scenario) whose file is missing:
        after the tasks, those whose first replication was stored before configs were
        left to the tasks, or whose config write failed in its process."""
        configs = self.path / CONFIGS
        configs.mkdir(exist_ok=True)
        present = {p.name for p in configs.iterdir()}
        for resolved in self.plan.scenarios:
            if config_name(resolved.point, resolved.label) not in present:
                write_config(configs, resolved.point, resolved.label, resolved.scenario)

    def _what_changed(self, manifest: dict[str, Any]) -> str:
        """What differs between the stored plan and this one, in words."""
        plan = self.plan
        changes = []
        if manifest.get("replications") != plan.spec.replications:
            changes.append(
                f"replications {manifest.get('replications')} -> {plan.spec.replications}"
            )
        stored = {p["point"]: p["values"] for p in manifest.get("design_points", [])}
        ours = {p.index: json.loads(json.dumps(p.values, default=str)) for p in plan.points}
        if stored != ours:
            changes.append(f"design points: {len(stored)} -> {len(ours)}, or their values")
        theirs = {k: v.get("sha256") for k, v in manifest.get("resolved_configs", {}).items()}
        mine = {config_key(r.point, r.label): r.digest for r in plan.scenarios}
        differ = sorted(k for k in theirs.keys() | mine.keys() if theirs.get(k) != mine.get(k))
        if differ and stored == ours:
            more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
            shown = ", ".join(differ[:3]) + more
            changes.append(f"the resolved config of {shown} (a scenario or an override)")
        return "changed since: " + "; ".join(changes) if changes else "the plan changed since"

    def _new_manifest(self) -> dict[str, Any]:
        plan = self.plan
        spec = plan.spec
        return {
            "format": MARKER,
            "kind": "run" if plan.spec_path is None else "experiment",
            "name": spec.name,
            "description": spec.description,
            "spec_path": None if plan.spec_path is None else str(plan.spec_path),
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
                config_key(r.point, r.label): {
                    "file": f"{CONFIGS}/{config_name(r.point, r.label)}",
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
    folder may call it: the local pool's processes store their own tasks."""
    # A hidden name unique to this writer; mkdir (unlike mkdtemp) keeps the umask's
    # permissions, so that a group sharing the results folder can read it.
    staging = tasks_dir / f".{task.task_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name, columns in output.tables().items():
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
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return {"status": "done", "seconds": record["seconds"], "worker": output.worker}


def run_and_store(tasks_dir: Path, task: Task) -> dict[str, Any]:
    """Run a task and store it where it ran, returning its manifest entry: the job of a
    local pool's process, so that the parent process only keeps the books.  The first
    replication of a (point, scenario) also writes its resolved config, if missing: a
    sweep's thousands of configs are then written by the pool, not one after the other
    before it starts."""
    if task.replication == 0:
        configs = tasks_dir.parent / CONFIGS
        if not (configs / config_name(task.point, task.label)).is_file():
            write_config(configs, task.point, task.label, task.scenario)
    return write_task_folder(tasks_dir, task, task_module.run_task(task))


def config_key(point: int, label: str) -> str:
    """How the manifest names the resolved config of scenario ``label`` at design point
    ``point`` (its file's name without the suffix)."""
    return f"p{point:04d}-{label}"


def config_name(point: int, label: str) -> str:
    """The file of the resolved config of scenario ``label`` at design point ``point``."""
    return f"{config_key(point, label)}.yaml"


def write_config(configs: Path, point: int, label: str, scenario: Scenario) -> None:
    """Write one resolved config as YAML, under a hidden name renamed into place, so
    that a file there is whole (two processes may write the same one: same text)."""
    dump = scenario.model_dump(mode="json")
    text = yaml.dump(dump, Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True)
    target = configs / config_name(point, label)
    staging = configs / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def _arrow(values: np.ndarray) -> pa.Array:
    if values.dtype == object:
        return pa.array(values.tolist(), type=pa.string())
    return pa.array(values)
