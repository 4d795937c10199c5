"""Reproduction: rerun every spec of ``experiments/`` (and the sensitivity studies of
``experiments/sensitivity/``), regenerate its tables and figures under ``results/``,
and check the tables against the committed reference tables.

The reference tables (``results/reference/NAME/*.csv``) are small on purpose: the
summary rows of the measures of the ``reference`` list (:mod:`sim.measures.catalogue`) for all
populations together, and the matching rows of the paired comparison.  The numbers
are deterministic (same spec and seed, same numbers), so the check allows only
floating-point noise: a relative difference of ``RELATIVE_TOLERANCE``.  A deliberate
change of the model changes the numbers; the reference is then rewritten with
``station-sim reproduce --update-reference`` and the change reviewed in the diff.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sim.config.errors import ConfigError
from sim.measures.catalogue import ALL, MeasureList
from sim.national.spec import NationalExperiment, is_national_spec, load_national_experiment
from sim.national.study import run_national_experiment
from sim.pipeline.execute import run_experiment
from sim.pipeline.plan import ExperimentPlan, load_plan
from sim.sensitivity.run import run_sensitivity
from sim.sensitivity.spec import SensitivityStudy, load_sensitivity_spec

__all__ = [
    "RELATIVE_TOLERANCE",
    "ReproductionCheck",
    "compare_with_reference",
    "reference_tables",
    "reproduce",
]

Study = ExperimentPlan | NationalExperiment | SensitivityStudy
"""Every kind of study ``reproduce`` reruns: experiment plans, national experiments and
sensitivity studies."""

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12  # for values that should be zero

# Columns holding numbers to compare; every other column identifies the row.
_VALUE_COLUMNS = frozenset(
    {
        "n",
        "mean",
        "sd",
        "half_width",
        "ci_low",
        "ci_high",
        "dof",
        "baseline_mean",
        "scenario_mean",
        "difference",
        "unpaired_half_width",
        "allocation_mean",
        "posts_per_100k",
        "cost_eur_per_inhabitant",
        "unmet_share",
        "unmet_share_half_width",
        "within_24h_share_of_need",
        # the sensitivity tables
        "mu",
        "mu_star",
        "mu_star_conf",
        "sigma",
        "S1",
        "S1_conf",
        "ST",
        "ST_conf",
        "holds_share",
        "holds_share_low_half",
        "holds_share_high_half",
        "value_min",
        "value_median",
        "value_max",
        # the optimiser's response curves
        "unmet",
        "not_within_24h",
    }
)


@dataclass
class ReproductionCheck:
    """The outcome of reproducing one experiment."""

    name: str
    runs: int
    seconds: float
    differences: list[str] = field(default_factory=list)
    updated: bool = False

    @property
    def passed(self) -> bool:
        return not self.differences


def reference_tables(tables_dir: Path) -> dict[str, pa.Table]:
    """The rows of an experiment's tables that the reference keeps (of a national
    experiment: its national, gains and sanity tables and the optimiser's response
    curves whole, the web page replaying the optimised allocation from those; of a
    sensitivity study: every table whole, they are small)."""
    if (tables_dir / "robustness.parquet").is_file():
        return {path.stem: pq.read_table(path) for path in sorted(tables_dir.glob("*.parquet"))}
    if (tables_dir / "national.parquet").is_file():
        return {
            name: pq.read_table(tables_dir / f"{name}.parquet")
            for name in ("national", "gains", "sanity", "response_curves")
            if (tables_dir / f"{name}.parquet").is_file()
        }
    measures = MeasureList.from_records(pq.read_table(tables_dir / "measures.parquet").to_pylist())
    kept = pa.array([m.name for m in measures.in_list("reference")])
    chosen: dict[str, pa.Table] = {}
    for name in ("summary", "comparison"):
        path = tables_dir / f"{name}.parquet"
        if not path.is_file():
            continue
        table = pq.read_table(path)
        mask = pc.and_(
            pc.equal(table["population"], ALL),
            pc.is_in(table["metric"], kept),
        )
        chosen[name] = table.filter(mask)
    return chosen


def compare_with_reference(tables_dir: Path, reference_dir: Path) -> list[str]:
    """Differences between regenerated tables and the reference, beyond float noise
    (empty when they agree)."""
    if not reference_dir.is_dir():
        return [
            f"no reference tables in {reference_dir}; create them with "
            "station-sim reproduce --update-reference and commit them"
        ]
    produced = reference_tables(tables_dir)
    differences: list[str] = []
    expected_names = sorted(p.stem for p in reference_dir.glob("*.csv"))
    for name in sorted(set(expected_names) | set(produced)):
        if name not in produced:
            differences.append(f"{name}: in the reference, not produced")
            continue
        if name not in expected_names:
            differences.append(f"{name}: produced, missing from the reference")
            continue
        reference = pacsv.read_csv(reference_dir / f"{name}.csv")
        differences += [f"{name}: {d}" for d in _compare_table(produced[name], reference)]
    return differences


def _compare_table(produced: pa.Table, reference: pa.Table) -> list[str]:
    keys = [c for c in reference.column_names if c not in _VALUE_COLUMNS]
    values = [c for c in reference.column_names if c in _VALUE_COLUMNS]
    if set(produced.column_names) != set(reference.column_names):
        return [f"columns {produced.column_names} instead of {reference.column_names}"]

    def rows(table: pa.Table) -> dict[tuple[Any, ...], dict[str, Any]]:
        out = {}
        for row in table.to_pylist():
            out[tuple(_key(row[k]) for k in keys)] = row
        return out

    ours, theirs = rows(produced), rows(reference)
    differences = [f"row {k} missing" for k in theirs if k not in ours]
    differences += [f"row {k} not in the reference" for k in ours if k not in theirs]
    for key, expected in theirs.items():
        got = ours.get(key)
        if got is None:
            continue
        for column in values:
            if not _close(got[column], expected[column]):
                differences.append(
                    f"{dict(zip(keys, key, strict=True))} {column}: "
                    f"{got[column]!r} instead of {expected[column]!r}"
                )
    return differences


def _key(value: Any) -> Any:
    # A CSV reads 2.0 back as 2: compare identifying numbers as floats; and it reads a
    # missing string back as an empty one.
    if value == "":
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _missing(value: Any) -> bool:
    # An undefined value is nan in Parquet and an empty cell, read back as None, in CSV.
    return value is None or (isinstance(value, float) and math.isnan(value))


def _close(a: Any, b: Any) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    x, y = float(a), float(b)
    return math.isclose(x, y, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def write_reference(results_dir: Path, reference_dir: Path) -> None:
    """Replace an experiment's reference tables (and figure images) with its results."""
    if reference_dir.exists():
        shutil.rmtree(reference_dir)
    reference_dir.mkdir(parents=True)
    for name, table in reference_tables(results_dir / "tables").items():
        pacsv.write_csv(table, reference_dir / f"{name}.csv")
    figures = reference_dir / "figures"
    figures.mkdir()
    for png in sorted((results_dir / "figures").glob("*.png")):
        _compact_copy(png, figures / png.name)


def _compact_copy(source: Path, target: Path) -> None:
    """A copy of a figure for the README, in a 256-colour palette: a third of the size
    in git, and the same to the eye for line plots and cell heatmaps."""
    from PIL import Image

    with Image.open(source) as image:
        palette = image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
        palette.save(target, optimize=True)


def find_specs(experiments_dir: Path, only: Sequence[str] = ()) -> list[Study]:
    """Every spec of the folder (experiment plans, and national experiments for the
    specs of ``kind: national``) and of its ``sensitivity/`` subfolder (sensitivity
    studies), checked whole before anything runs."""
    if not experiments_dir.is_dir():
        raise ConfigError(f"--experiments {experiments_dir}: no such folder")
    plans: list[Study] = [
        load_national_experiment(path) if is_national_spec(path) else load_plan(path)
        for path in sorted(experiments_dir.glob("*.yaml"))
    ]
    plans += [
        load_sensitivity_spec(path)
        for path in sorted((experiments_dir / "sensitivity").glob("*.yaml"))
    ]
    if not plans:
        raise ConfigError(f"--experiments {experiments_dir}: holds no experiment spec (*.yaml)")
    names = [_name(p) for p in plans]
    if len(set(names)) != len(names):
        raise ConfigError(f"{experiments_dir}: two specs share a name: {names}")
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise ConfigError(f"--only {unknown}: no such experiment; known: {names}")
    return [p for p in plans if not only or _name(p) in only]


def _name(plan: Study) -> str:
    # An experiment plan and a sensitivity study name themselves in their spec.
    if isinstance(plan, NationalExperiment):
        return plan.name
    return plan.spec.name


def reproduce(
    plans: Sequence[Study],
    results_dir: Path,
    backend: Any,
    update_reference: bool = False,
    show_progress: bool = True,
    command: Sequence[str] = (),
) -> list[ReproductionCheck]:
    """Rerun each plan from scratch into ``results_dir/NAME``, then check its tables
    against ``results_dir/reference/NAME`` (or rewrite that reference)."""
    checks = []
    for plan in plans:
        started = time.monotonic()
        out = results_dir / _name(plan)
        if isinstance(plan, SensitivityStudy):
            checks.append(
                _reproduce_study(
                    plan, out, results_dir, backend, update_reference, show_progress, command
                )
            )
            continue
        if isinstance(plan, NationalExperiment):
            check = ReproductionCheck(plan.name, 0, 0.0)
            try:
                outcome = run_national_experiment(
                    plan, out, backend, fresh=out.exists(), show_progress=show_progress,
                    command=command,
                )  # fmt: skip
            except RuntimeError as error:
                check.differences.append(f"the national runs failed: {error}")
            else:
                check.runs = outcome.runs
                _check_or_update(check, out, results_dir, update_reference)
            check.seconds = time.monotonic() - started
            checks.append(check)
            continue
        outcome = run_experiment(
            plan, out, backend, fresh=True, show_progress=show_progress, command=command
        )
        check = ReproductionCheck(plan.spec.name, plan.runs, time.monotonic() - started)
        if outcome.status != "complete":
            check.differences.append(
                f"{len(outcome.failed)} run(s) failed; see {out}/manifest.json"
            )
        else:
            _check_or_update(check, out, results_dir, update_reference)
        checks.append(check)
    return checks


def _reproduce_study(
    study: SensitivityStudy,
    out: Path,
    results_dir: Path,
    backend: Any,
    update_reference: bool,
    show_progress: bool,
    command: Sequence[str],
) -> ReproductionCheck:
    """Rerun a sensitivity study from scratch, then check or rewrite its reference."""
    started = time.monotonic()
    check = ReproductionCheck(study.spec.name, 0, 0.0)

    def count(_stage: str, runs: int) -> None:
        check.runs += runs

    try:
        run_sensitivity(
            study, out, backend, fresh=out.exists(), command=command, on_stage=count,
            show_progress=show_progress,
        )  # fmt: skip
    except RuntimeError as error:
        check.differences.append(f"the sensitivity runs failed: {error}")
    else:
        _check_or_update(check, out, results_dir, update_reference)
    check.seconds = time.monotonic() - started
    return check


def _check_or_update(
    check: ReproductionCheck, out: Path, results_dir: Path, update_reference: bool
) -> None:
    reference = results_dir / "reference" / check.name
    if update_reference:
        write_reference(out, reference)
        check.updated = True
    else:
        check.differences = compare_with_reference(out / "tables", reference)
