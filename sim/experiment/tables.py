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
  (:func:`sim.summary.summarise`, as ``station-sim run`` prints them);
- ``comparison``: each scenario minus the baseline, paired by replication
  (:mod:`sim.experiment.compare`), when the experiment has two scenarios or more;
- ``hour_of_week``: counts by hour of the week of arrival pooled over the
  replications, with the mean wait (pooled waits over pooled contacted cases) and the
  unmet share (pooled unmet over pooled servable cases);
- ``wait_ecdf``: mean and 95 % CI over the replications of the share of referred cases
  contacted within each time of the grid, by population.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from sim.experiment.compare import CONFIDENCE, paired_difference
from sim.experiment.spec import ExperimentPlan, posts
from sim.experiment.store import ResultsFolder, write_table
from sim.experiment.tasks import Task
from sim.store import atomic_folder
from sim.summary import MeasureRow, annual_fixed_cost, summarise
from sim.week import DAY_NAMES

__all__ = ["TABLES", "build_tables", "factor_columns"]

TABLES = (
    "design",
    "scenarios",
    "replications",
    "summary",
    "comparison",
    "hour_of_week",
    "wait_ecdf",
)


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


def build_tables(folder: ResultsFolder, tasks: Sequence[Task]) -> None:
    """Read every task file and write the final tables into ``tables/``, whole."""
    plan = folder.plan
    factors = factor_columns(plan)
    groups = _group_tasks(tasks)

    measures = {t.task_id: folder.read_task_table(t.task_id, "measures") for t in tasks}
    tables = {
        "design": pa.table({"point": pa.array([p.index for p in plan.points]), **factors}),
        "scenarios": _scenarios(plan, factors),
        "replications": _replications(tasks, measures, factors),
        "summary": _summary(groups, measures, factors),
        "hour_of_week": _hour_of_week(folder, groups, factors),
        "wait_ecdf": _wait_ecdf(folder, groups, factors),
    }
    if len(plan.labels) > 1:
        tables["comparison"] = _comparison(plan, groups, measures, factors)
    with atomic_folder(folder.tables_dir) as staging:
        for name, table in tables.items():
            write_table(table, staging, name)


def _group_tasks(tasks: Sequence[Task]) -> dict[tuple[int, str], list[Task]]:
    groups: dict[tuple[int, str], list[Task]] = {}
    for task in tasks:
        groups.setdefault((task.point, task.label), []).append(task)
    return groups


def _keys(
    factors: dict[str, pa.Array], point: int, label: str, n: int, **extra: Any
) -> dict[str, pa.Array]:
    """The leading columns of ``n`` rows of one (point, scenario) pair."""
    columns: dict[str, pa.Array] = {"point": pa.array(np.full(n, point, dtype=np.int64))}
    for name, values in factors.items():
        columns[name] = pa.repeat(values[point], n) if n else values.slice(0, 0)
    columns["scenario"] = pa.array([label] * n, type=pa.string())
    for name, value in extra.items():
        columns[name] = pa.array(np.full(n, value))
    return columns


def _scenarios(plan: ExperimentPlan, factors: dict[str, pa.Array]) -> pa.Table:
    parts = []
    for resolved in plan.scenarios:
        body = {
            "posts": [posts(resolved.scenario.model_dump(mode="json"))],
            "fixed_cost_eur_per_year": [annual_fixed_cost(resolved.scenario)],
            "config_sha256": [resolved.digest],
        }
        parts.append(pa.table({**_keys(factors, resolved.point, resolved.label, 1), **body}))
    return pa.concat_tables(parts)


def _replications(
    tasks: Sequence[Task], measures: dict[str, pa.Table], factors: dict[str, pa.Array]
) -> pa.Table:
    parts = []
    for task in tasks:
        table = measures[task.task_id]
        keys = _keys(factors, task.point, task.label, len(table), replication=task.replication)
        parts.append(pa.table({**keys, **{n: table[n] for n in table.column_names}}))
    return pa.concat_tables(parts)


def _summary(
    groups: dict[tuple[int, str], list[Task]],
    measures: dict[str, pa.Table],
    factors: dict[str, pa.Array],
) -> pa.Table:
    parts = []
    for (point, label), tasks in groups.items():
        rows = []
        for task in tasks:
            table = measures[task.task_id].to_pydict()
            columns = (table["population"], table["metric"], table["value"])
            rows += [
                MeasureRow(task.replication, p, m, v) for p, m, v in zip(*columns, strict=True)
            ]
        summary = summarise(rows)
        fields = ("population", "metric", "n", "mean", "sd", "half_width", "ci_low", "ci_high")
        body = {f: [getattr(r, f) for r in summary] for f in fields}
        parts.append(pa.table({**_keys(factors, point, label, len(summary)), **body}))
    return pa.concat_tables(parts)


def _comparison(
    plan: ExperimentPlan,
    groups: dict[tuple[int, str], list[Task]],
    measures: dict[str, pa.Table],
    factors: dict[str, pa.Array],
) -> pa.Table:
    baseline = plan.baseline

    def by_measure(tasks: list[Task]) -> dict[tuple[str, str], np.ndarray]:
        # Values of each measure, indexed by replication (the tasks are in that order).
        out: dict[tuple[str, str], list[float]] = {}
        for task in tasks:
            table = measures[task.task_id].to_pydict()
            for p, m, v in zip(table["population"], table["metric"], table["value"], strict=True):
                out.setdefault((p, m), []).append(v)
        return {key: np.asarray(values, dtype=float) for key, values in out.items()}

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
            for field in diffs[0].__dataclass_fields__ if diffs else ():
                body[field] = [getattr(d, field) for d in diffs]
            parts.append(pa.table({**_keys(factors, point.index, label, len(keys)), **body}))
    return pa.concat_tables(parts)


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
            **{name: total[name] for name in counts},
            "wait_sum_h": total["wait_sum_h"],
            "wait_mean_h": wait_mean,
            "unmet_share": unmet_share,
        }
        parts.append(pa.table({**_keys(factors, point, label, n), **body}))
    return pa.concat_tables(parts)


def _wait_ecdf(
    folder: ResultsFolder,
    groups: dict[tuple[int, str], list[Task]],
    factors: dict[str, pa.Array],
) -> pa.Table:
    parts = []
    for (point, label), tasks in groups.items():
        tables = [folder.read_task_table(t.task_id, "wait_ecdf") for t in tasks]
        shares = np.vstack([t["share"].to_numpy() for t in tables])  # replications x rows
        n, mean, sd, half = _mean_and_interval(shares)
        rows = len(tables[0])
        body = {
            "population": tables[0]["population"],
            "hours": tables[0]["hours"],
            "n": n,
            "mean": mean,
            "sd": sd,
            "half_width": half,
            "ci_low": mean - half,
            "ci_high": mean + half,
        }
        parts.append(pa.table({**_keys(factors, point, label, rows), **body}))
    return pa.concat_tables(parts)


def _mean_and_interval(
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: count of defined values, mean, sd and Student-t CI half-width, each
    column over its defined (non-nan) values, as :func:`sim.summary.summarise` does."""
    defined = ~np.isnan(values)
    n = defined.sum(axis=0)
    filled = np.where(defined, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, filled.sum(axis=0) / n, math.nan)
        squares = np.where(defined, (values - mean) ** 2, 0.0).sum(axis=0)
        sd = np.where(n > 1, np.sqrt(squares / (n - 1)), math.nan)
        t = stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * sd / np.sqrt(n), math.nan)
    return n.astype(np.int64), mean, sd, half
