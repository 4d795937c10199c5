"""The final tidy tables of an experiment, built from the stored task files alone.

Every table starts with the design point, the value of each factor there and the
scenario, so that it can be filtered without the design.  Rows are in plan order
(point, scenario, replication), whatever order the tasks finished in, so a resumed run
and an uninterrupted one write identical tables:

- ``design``: one row per design point;
- ``scenarios``: one row per design point x scenario: its posts (on-site workers),
  fixed cost and the digest of its resolved config (``configs/`` holds the config);
- ``replications``: one row per design point x scenario x replication x measure;
- ``summary``: mean and Student-t 95 % CI of each measure over the replications
  (:func:`sim.measures.stats.intervals`; ``station-sim run`` prints it);
- ``comparison``: each scenario minus the baseline, paired by replication
  (:mod:`sim.pipeline.compare`), when the experiment has two scenarios or more;
- ``hour_of_week``: counts by hour of the week of arrival pooled over the
  replications and their measurement windows (``replications`` x ``windows`` windows of
  ``run_days``), with the mean wait (pooled waits over pooled contacted cases) and the
  unmet share (pooled unmet over pooled servable cases);
- ``wait_ecdf``: mean and 95 % CI over the replications of the share of referred cases
  contacted within each time of the grid, by population;
- ``measures``: the definition of every measure of the tables (title, unit, scale,
  digits, lists: :mod:`sim.measures.catalogue`), so that figures and reports read them from the
  folder.

When the experiment keeps records, ``records/cases.parquet`` and
``records/workers.parquet`` hold every run's records (with the point, factors and
scenario), in plan order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.config.week import DAY_NAMES
from sim.measures.catalogue import MeasureList
from sim.measures.costs import fixed_cost_eur_per_year
from sim.measures.stats import PairedDifference, intervals, paired_difference
from sim.pipeline.layout import RECORDS, TABLES
from sim.pipeline.plan import ExperimentPlan
from sim.pipeline.store import ResultsFolder, atomic_folder, write_table
from sim.pipeline.tasks import Task

__all__ = ["RECORDS", "TABLES", "build_tables", "factor_columns"]

_SUMMARY_FIELDS = ("n", "mean", "sd", "half_width", "ci_low", "ci_high")


def factor_columns(plan: ExperimentPlan) -> dict[str, pa.Array]:
    """The value of each factor at each design point, as a column: whole numbers as
    int64, other numbers as float64, anything else (e.g. a roster) as JSON text."""
    columns: dict[str, pa.Array] = {}
    for factor in plan.factors:
        values = [p.values[factor.name] for p in plan.points]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numbers and all(isinstance(v, int) for v in values):
            columns[factor.name] = pa.array(values, type=pa.int64())
        elif numbers:
            columns[factor.name] = pa.array([float(v) for v in values], type=pa.float64())
        else:
            columns[factor.name] = pa.array(
                [json.dumps(v, sort_keys=True) for v in values], type=pa.string()
            )
    return columns


def build_tables(
    folder: ResultsFolder,
    tasks: Sequence[Task],
    csv_records: bool = False,
    on_step: Callable[[str], None] | None = None,
    measures_only: bool = False,
    csv_tables: bool = True,
) -> None:
    """Read every task file and write the final tables into ``tables/`` (and the
    records into ``records/``), each folder whole; ``on_step`` is told of each step.
    ``measures_only``: the design, scenarios, replications, summary and measures
    tables only; ``csv_tables``: a CSV copy of each table beside its Parquet file."""
    plan = folder.plan
    step = on_step or (lambda _: None)
    factors = factor_columns(plan)
    groups = _group_tasks(tasks)

    step("reading the runs' measures")
    measures = {t.task_id: folder.read_task_table(t.task_id, "measures") for t in tasks}
    step("summarising over the replications")
    tables = {
        "design": pa.table({"point": pa.array([p.index for p in plan.points]), **factors}),
        "scenarios": _scenarios(plan, factors),
        "replications": _replications(tasks, measures, factors),
        "summary": _summary(groups, measures, factors, plan.measures),
    }
    if len(plan.labels) > 1 and not measures_only:
        step("pairing the scenarios")
        tables["comparison"] = _comparison(plan, groups, measures, factors)
    if not measures_only:
        step("pooling the hour-of-week counts and wait distributions")
        tables["hour_of_week"] = _hour_of_week(folder, groups, factors)
        tables["wait_ecdf"] = _wait_ecdf(folder, groups, factors)
    tables["measures"] = pa.Table.from_pylist(plan.measures.records())
    step("writing the tables")
    with atomic_folder(folder.tables_dir) as staging:
        for name, table in tables.items():
            write_table(table, staging, name, csv=csv_tables)
    if plan.spec.records:
        step("writing the records" + (" (Parquet and CSV)" if csv_records else ""))
        _write_records(folder, tasks, factors, csv_records)


def _group_tasks(tasks: Sequence[Task]) -> dict[tuple[int, str], list[Task]]:
    groups: dict[tuple[int, str], list[Task]] = {}
    for task in tasks:
        groups.setdefault((task.point, task.label), []).append(task)
    return groups


def _keys(point: int, label: str, n: int, **extra: Any) -> dict[str, pa.Array]:
    """The leading columns of ``n`` rows of one (point, scenario) pair, before the
    factor columns (:func:`_with_factors` adds them to the whole table at once)."""
    columns: dict[str, pa.Array] = {"point": pa.array(np.full(n, point, dtype=np.int64))}
    columns["scenario"] = pa.array([label] * n, type=pa.string())
    for name, value in extra.items():
        columns[name] = pa.array(np.full(n, value))
    return columns


def _with_factors(parts: Sequence[pa.Table], factors: dict[str, pa.Array]) -> pa.Table:
    """The parts concatenated, with the value of each factor at each row's point after
    the ``point`` column.  Taken once for the whole table: a study of many factors and
    thousands of tasks would spend minutes repeating them part by part."""
    table = pa.concat_tables(parts)
    for position, (name, values) in enumerate(factors.items(), start=1):
        table = table.add_column(position, name, values.take(table["point"]))
    return table


def _scenarios(plan: ExperimentPlan, factors: dict[str, pa.Array]) -> pa.Table:
    parts = []
    for resolved in plan.scenarios:
        body = {
            "posts": [resolved.scenario.posts],
            "fixed_cost_eur_per_year": [fixed_cost_eur_per_year(resolved.scenario)],
            "config_sha256": [resolved.digest],
        }
        parts.append(pa.table({**_keys(resolved.point, resolved.label, 1), **body}))
    return _with_factors(parts, factors)


def _replications(
    tasks: Sequence[Task], measures: dict[str, pa.Table], factors: dict[str, pa.Array]
) -> pa.Table:
    parts = []
    for task in tasks:
        table = measures[task.task_id]
        keys = _keys(task.point, task.label, len(table), replication=task.replication)
        parts.append(pa.table({**keys, **{n: table[n] for n in table.column_names}}))
    return _with_factors(parts, factors)


def _summary(
    groups: dict[tuple[int, str], list[Task]],
    measures: dict[str, pa.Table],
    factors: dict[str, pa.Array],
    catalogue: MeasureList,
) -> pa.Table:
    parts = []
    for (point, label), tasks in groups.items():
        # Every run of one scenario has the same measures in the same order: one row of
        # values per replication.
        first = measures[tasks[0].task_id]
        values = np.vstack([measures[t.task_id]["value"].to_numpy() for t in tasks])
        lower, upper = catalogue.supports(first["metric"].to_pylist())
        summary = intervals(values, lower=lower, upper=upper)
        body: dict[str, Any] = {
            "population": first["population"],
            "metric": first["metric"],
        }
        for name in _SUMMARY_FIELDS:
            body[name] = getattr(summary, name)
        parts.append(pa.table({**_keys(point, label, len(first)), **body}))
    return _with_factors(parts, factors)


def _comparison(
    plan: ExperimentPlan,
    groups: dict[tuple[int, str], list[Task]],
    measures: dict[str, pa.Table],
    factors: dict[str, pa.Array],
) -> pa.Table:
    baseline = plan.baseline

    def by_measure(tasks: list[Task]) -> dict[tuple[str, str], np.ndarray]:
        # Values of each measure, indexed by replication (the tasks are in that order;
        # every run of one scenario has the same measures in the same order).
        first = measures[tasks[0].task_id]
        keys = zip(first["population"].to_pylist(), first["metric"].to_pylist(), strict=True)
        values = np.vstack([measures[t.task_id]["value"].to_numpy() for t in tasks])
        return {key: values[:, i] for i, key in enumerate(keys)}

    parts = []
    for point in plan.points:
        reference = by_measure(groups[(point.index, baseline)])
        for label in plan.labels:
            if label == baseline:
                continue
            values = by_measure(groups[(point.index, label)])
            keys = [k for k in values if k in reference]
            diffs = [paired_difference(values[k], reference[k]) for k in keys]
            body: dict[str, Any] = {
                "baseline": pa.array([baseline] * len(keys), type=pa.string()),
                "population": pa.array([k[0] for k in keys], type=pa.string()),
                "metric": pa.array([k[1] for k in keys], type=pa.string()),
            }
            for field in fields(PairedDifference):
                body[field.name] = [getattr(d, field.name) for d in diffs]
            parts.append(pa.table({**_keys(point.index, label, len(keys)), **body}))
    return _with_factors(parts, factors)


def _hour_of_week(
    folder: ResultsFolder,
    groups: dict[tuple[int, str], list[Task]],
    factors: dict[str, pa.Array],
) -> pa.Table:
    counts = ("cases", "eligible", "unmet", "referred", "contacted")
    parts = []
    for (point, label), tasks in groups.items():
        tables = [folder.read_task_table(t.task_id, "hour_of_week") for t in tasks]
        hours = tables[0]["hour_of_week"].to_numpy()
        total = {
            name: np.sum([t[name].to_numpy() for t in tables], axis=0)
            for name in (*counts, "wait_sum_h")
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            wait_mean = total["wait_sum_h"] / total["contacted"]
            unmet_share = total["unmet"] / total["eligible"]
        n = len(hours)
        body = {
            "hour_of_week": hours,
            "day": pa.array([DAY_NAMES[h // 24] for h in hours], type=pa.string()),
            "hour": hours % 24,
            "replications": np.full(n, len(tasks), dtype=np.int64),
            "windows": np.full(n, tasks[0].scenario.simulation.windows, dtype=np.int64),
            **{name: total[name] for name in counts},
            "wait_sum_h": total["wait_sum_h"],
            "wait_mean_h": wait_mean,
            "unmet_share": unmet_share,
        }
        parts.append(pa.table({**_keys(point, label, n), **body}))
    return _with_factors(parts, factors)


def _wait_ecdf(
    folder: ResultsFolder,
    groups: dict[tuple[int, str], list[Task]],
    factors: dict[str, pa.Array],
) -> pa.Table:
    parts = []
    for (point, label), tasks in groups.items():
        tables = [folder.read_task_table(t.task_id, "wait_ecdf") for t in tasks]
        shares = np.vstack([t["share"].to_numpy() for t in tables])  # replications x rows
        summary = intervals(shares, lower=0.0, upper=1.0)  # a share of the referred
        rows = len(tables[0])
        body: dict[str, Any] = {
            "population": tables[0]["population"],
            "hours": tables[0]["hours"],
        }
        for name in _SUMMARY_FIELDS:
            body[name] = getattr(summary, name)
        parts.append(pa.table({**_keys(point, label, rows), **body}))
    return _with_factors(parts, factors)


def _write_records(
    folder: ResultsFolder, tasks: Sequence[Task], factors: dict[str, pa.Array], csv: bool
) -> None:
    """Every run's records, one task after another (so that memory holds one run's),
    each row led by the point, its factors and the scenario."""
    import pyarrow.csv as pacsv

    with atomic_folder(folder.records_dir) as staging:
        for name in RECORDS:
            parquet: pq.ParquetWriter | None = None
            text: pacsv.CSVWriter | None = None
            schema: pa.Schema | None = None
            try:
                for task in tasks:
                    part = folder.read_task_table(task.task_id, name)
                    keys = _keys(task.point, task.label, len(part))
                    table = pa.table({**keys, **{c: part[c] for c in part.column_names}})
                    for position, (factor, values) in enumerate(factors.items(), start=1):
                        value = pa.repeat(values[task.point], len(part))
                        table = table.add_column(position, factor, value)
                    if parquet is None:
                        schema = table.schema
                        parquet = pq.ParquetWriter(staging / f"{name}.parquet", schema)
                        if csv:
                            text = pacsv.CSVWriter(staging / f"{name}.csv", table.schema)
                    table = table.cast(schema)
                    parquet.write_table(table)
                    if text is not None:
                        text.write_table(table)
            finally:
                if parquet is not None:
                    parquet.close()
                if text is not None:
                    text.close()
