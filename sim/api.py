"""The Python API: run a scenario or an experiment, or read a stored one, from a notebook
or a script.

    >>> import sim
    >>> result = sim.run("configs/belgium_24_7.yaml", replications=5,
    ...                  set={"staffing.workers[0].count": 3})   # doctest: +SKIP
    >>> result.summary.head()                                    # doctest: +SKIP

:func:`run` and :func:`experiment` go through the same pipeline as the command line
(``station-sim run`` and ``station-sim experiment``): the plan is checked whole, the
runs go to the chosen backend, every finished run is stored, and the tables are built
from the store.  Given ``out``, the results folder stays there (and can be resumed, or
read again with :func:`load`); without it, the results are read into memory and the
temporary folder is removed.  Every table is a :class:`pandas.DataFrame`.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config.errors import ConfigError
from sim.measures.catalogue import MeasureList
from sim.pipeline.backends import make_backend
from sim.pipeline.execute import SUMMARY_TEXT, ExperimentOutcome, run_experiment
from sim.pipeline.layout import RECORDS, TABLES
from sim.pipeline.plan import ExperimentPlan, load_plan, plan_for_scenario
from sim.pipeline.results import StoredResults

__all__ = ["Result", "RunFailed", "experiment", "load", "run"]


class RunFailed(RuntimeError):
    """Some runs of a plan raised; the others are stored, and ``resume`` finishes it."""

    def __init__(self, outcome: ExperimentOutcome) -> None:
        first_id, first_error = next(iter(outcome.failed.items()))
        super().__init__(
            f"{len(outcome.failed)} of {outcome.tasks} runs failed (errors in "
            f"{outcome.folder}/manifest.json); the first, {first_id}:\n{first_error}"
        )
        self.outcome = outcome


class Result:
    """The results of a run or an experiment: its tables as DataFrames.

    ``summary`` (mean and 95 % CI of every measure by point, scenario and population),
    ``replications`` (every measure of every replication), ``comparison`` (paired
    differences from the baseline; ``None`` with one scenario), ``hour_of_week``,
    ``wait_ecdf``, ``design``, ``scenarios``, ``measures`` (the definitions of the
    measures), and ``cases`` and ``workers`` (the records, when they were kept).
    ``folder`` is where they are stored (``None`` once read into memory).
    """

    def __init__(self, stored: StoredResults, in_memory: bool = False) -> None:
        self.name: str = stored.manifest["name"]
        self.kind: str = stored.manifest["kind"]
        self.manifest: dict[str, Any] = stored.manifest
        self.labels: list[str] = stored.labels
        self.folder: Path | None = None if in_memory else stored.folder
        self._stored = stored
        self._frames: dict[str, pd.DataFrame | None] = {}
        self._report: str | None = None
        if in_memory:
            for name in (*TABLES, *RECORDS):
                self._frame(name)
            text = stored.folder / SUMMARY_TEXT
            self._report = text.read_text(encoding="utf-8") if text.is_file() else None
            self._stored = None  # type: ignore[assignment]

    def _frame(self, name: str) -> pd.DataFrame | None:
        if name not in self._frames:
            if self._stored is None:
                raise KeyError(name)
            if name in RECORDS:
                path = self._stored.folder / "records" / f"{name}.parquet"
                table = self._stored.records(name) if path.is_file() else None
            else:
                table = self._stored.optional_table(name)
            self._frames[name] = None if table is None else table.to_pandas()
        return self._frames[name]

    def table(self, name: str) -> pd.DataFrame:
        """A table by name (one of ``sim.pipeline.layout.TABLES``)."""
        if name not in TABLES:
            raise KeyError(f"no table '{name}'; the tables are {list(TABLES)}")
        frame = self._frame(name)
        if frame is None:
            raise KeyError(f"this result has no '{name}' table")
        return frame

    @property
    def summary(self) -> pd.DataFrame:
        return self.table("summary")

    @property
    def replications(self) -> pd.DataFrame:
        return self.table("replications")

    @property
    def comparison(self) -> pd.DataFrame | None:
        return self._frame("comparison")

    @property
    def hour_of_week(self) -> pd.DataFrame:
        return self.table("hour_of_week")

    @property
    def wait_ecdf(self) -> pd.DataFrame:
        return self.table("wait_ecdf")

    @property
    def design(self) -> pd.DataFrame:
        return self.table("design")

    @property
    def scenarios(self) -> pd.DataFrame:
        return self.table("scenarios")

    @property
    def measures(self) -> pd.DataFrame:
        return self.table("measures")

    def measure_list(self) -> MeasureList:
        """The measures of the tables as :class:`sim.measures.catalogue.Measure` objects."""
        return MeasureList.from_records(self.measures.to_dict("records"))

    def _records(self, name: str) -> pd.DataFrame:
        frame = self._frame(name)
        if frame is None:
            raise ConfigError(
                f"'{self.name}' kept no {name} records: run it with records kept "
                "(sim.run keeps them unless records=False; an experiment spec keeps them "
                "with records: true)"
            )
        return frame

    @property
    def cases(self) -> pd.DataFrame:
        """One row per case of every run (warm-up and drain included; ``in_window``
        marks the measured ones, ``outcome`` is what the measures count them as)."""
        return self._records("cases")

    @property
    def workers(self) -> pd.DataFrame:
        """One row per block of worker time of every run."""
        return self._records("workers")

    def report(self) -> str:
        """The table ``station-sim run`` prints (a result of one scenario at one point)."""
        if self._report is None and self._stored is not None:
            text = self._stored.folder / SUMMARY_TEXT
            if text.is_file():
                self._report = text.read_text(encoding="utf-8")
        if self._report is None:
            raise ValueError(f"'{self.name}' has several scenarios or points: read .summary")
        return self._report.rstrip("\n")

    def __repr__(self) -> str:
        where = f"in {self.folder}" if self.folder is not None else "in memory"
        return (
            f"<Result {self.kind} '{self.name}': {len(self.labels)} scenario(s), "
            f"{self.manifest['replications']} replication(s), {where}>"
        )


def load(folder: str | Path) -> Result:
    """Read a stored run or experiment without recomputing anything."""
    return Result(StoredResults(Path(folder)))


def run(
    config: str | Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    set: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    fresh: bool = False,
    records: bool = True,
    csv: bool = False,
    progress: bool = False,
) -> Result:
    """Run a scenario's replications: ``station-sim run`` from Python.

    ``set`` overrides settings by dotted path (``{"staffing.workers[0].count": 3}``);
    ``replications`` and ``seed`` default to the config's.  ``jobs`` processes (default:
    all cores) or a Dask ``scheduler`` address; the numbers do not depend on either.
    """
    plan = plan_for_scenario(config, _overrides(set, replications, seed), records=records)
    return _execute(plan, out, jobs, scheduler, resume, fresh, True, csv, progress)


def experiment(
    spec: str | Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    fresh: bool = False,
    figures: bool = True,
    progress: bool = False,
) -> Result:
    """Run an experiment spec: ``station-sim experiment`` from Python (figures are
    drawn only when the results are kept in ``out``)."""
    plan = load_plan(spec)
    return _execute(plan, out, jobs, scheduler, resume, fresh, figures, False, progress)


def _overrides(
    settings: Mapping[str, Any] | None, replications: int | None, seed: int | None
) -> dict[str, Any]:
    overrides = dict(settings or {})
    if replications is not None:
        overrides["simulation.replications"] = replications
    if seed is not None:
        overrides["simulation.seed"] = seed
    return overrides


def _execute(
    plan: ExperimentPlan,
    out: str | Path | None,
    jobs: int | None,
    scheduler: str | None,
    resume: bool,
    fresh: bool,
    figures: bool,
    csv: bool,
    progress: bool,
) -> Result:
    backend = make_backend(jobs, scheduler)
    try:
        if out is not None:
            outcome = run_experiment(
                plan, Path(out), backend, resume=resume, fresh=fresh, figures=figures,
                csv_records=csv, show_progress=progress, command=["python", *sys.argv],
            )  # fmt: skip
            if outcome.status != "complete":
                raise RunFailed(outcome)
            return load(out)
        with tempfile.TemporaryDirectory(prefix="station-sim-") as temporary:
            folder = Path(temporary) / plan.spec.name
            outcome = run_experiment(
                plan, folder, backend, figures=False, show_progress=progress,
                command=["python", *sys.argv],
            )  # fmt: skip
            if outcome.status != "complete":
                raise RunFailed(outcome)
            return Result(StoredResults(folder), in_memory=True)
    finally:
        backend.close()
