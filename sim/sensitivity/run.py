"""Running a sensitivity study: four stages, each an experiment of the one pipeline.

1. **Morris** screening of every factor (SALib's trajectories over ``levels`` levels of
   each factor's range);
2. **Sobol'** first-order and total indices, with bootstrap intervals, of the
   ``sobol.factors`` factors with the largest Morris mu* (each conclusion's mu* scaled
   by its largest, then the largest over the conclusions), the others at their config
   values;
3. **robustness**: a Latin hypercube over every factor, where each conclusion is tested;
4. **one-way** curves: each conclusion's most influential factor (largest Sobol' total
   index) moved alone over its range, with more replications, for a curve with its CI.

Stages 2 and 3 run once in each stratum of the spec's discrete choices (the shipped
choices first, then one changed choice at a time; ``sim.sensitivity.spec``), with the
same sample, so that a conclusion and its indices are reported per choice; stages 1
and 4 run with the shipped choices.  Each stage (of a stratum) is a results folder of
the pipeline (``OUT/morris/``, ``OUT/sobol/STRATUM/``, ...) run on the chosen backend
with common random numbers (the spec's seed at every point), so an interrupted study
resumes where it stopped.  A conclusion's value at a point is the mean over the
replications of its measure (population ``all``) or of the paired difference from its
baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats
from scipy.stats import qmc

from sim.config.errors import ConfigError
from sim.config.schema import load_scenario, override_document, scenario_from_dict
from sim.measures.catalogue import ALL, measures_for
from sim.measures.stats import intervals
from sim.pipeline.backends import Backend
from sim.pipeline.execute import run_experiment
from sim.pipeline.plan import DesignPoint, ExperimentPlan, ResolvedScenario
from sim.pipeline.provenance import MARKER, config_digest, environment_versions
from sim.pipeline.results import StoredResults
from sim.pipeline.spec import ExperimentSpec
from sim.pipeline.store import (
    ResultsFolder,
    atomic_folder,
    check_own_folder,
    write_json_atomic,
    write_table,
)
from sim.sensitivity.spec import SHIPPED, Conclusion, SensitivityStudy, Stratum

__all__ = ["STAGES", "SensitivityOutcome", "read_study", "reader_words", "run_sensitivity"]

STAGES = ("morris", "sobol", "robustness", "one_way")
MANIFEST = "sensitivity.json"
OWN_ENTRIES = frozenset({MANIFEST, "spec.yaml", "tables", "figures", *STAGES})
STRATIFIED = ("sobol", "robustness")
"""The stages run once in each stratum, each in ``OUT/STAGE/STRATUM/``."""


@dataclass
class SensitivityOutcome:
    """What a study produced: its tables (pyarrow), by name."""

    folder: Path
    tables: dict[str, pa.Table]


# -- the folder ---------------------------------------------------------------------


def check_study_folder(out: Path, resume: bool, fresh: bool) -> None:
    """Refuse a folder that holds anything a study does not write, or results of one
    unless ``resume`` or ``fresh``; before anything runs."""
    check_own_folder(out, resume, fresh, MANIFEST, OWN_ENTRIES, "a sensitivity study")


# -- samples ------------------------------------------------------------------------


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def morris_sample(study: SensitivityStudy) -> np.ndarray:
    from SALib.sample import morris

    spec = study.spec
    return morris.sample(
        _problem(study.factors), spec.morris.trajectories, num_levels=spec.morris.levels,
        seed=spec.seed,
    )  # fmt: skip


def sobol_sample(study: SensitivityStudy, names: Sequence[str]) -> np.ndarray:
    from SALib.sample import sobol

    spec = study.spec
    return sobol.sample(
        _problem(names), spec.sobol.samples, calc_second_order=False, seed=spec.seed
    )


def robustness_sample(study: SensitivityStudy) -> np.ndarray:
    engine = qmc.LatinHypercube(d=len(study.factors), seed=study.spec.seed)
    return engine.random(study.spec.robustness.points)


# -- plans --------------------------------------------------------------------------


def stage_plan(
    study: SensitivityStudy,
    stage: str,
    points: Sequence[Mapping[str, float]],
    replications: int,
) -> ExperimentPlan:
    """The experiment of one stage: every scenario at every point (factor shares in
    [0, 1]; a factor a point leaves out keeps its config value)."""
    spec = study.spec
    labels = study.scenarios
    experiment = ExperimentSpec.model_validate(
        {
            "name": f"{spec.name}-{stage.replace('_', '-')}",
            "description": f"{stage} stage of the sensitivity study {spec.name}",
            "scenarios": [{"config": str(study.config_paths[s]), "label": s} for s in labels],
            "replications": replications,
            "seed": spec.seed,
        }
    )
    resolved: list[ResolvedScenario] = []
    design: list[DesignPoint] = []
    for index, values in enumerate(points):
        shares = {name: float(u) for name, u in values.items()}
        design.append(DesignPoint(index, shares))
        for label in labels:
            document = study.assumptions.documents[label]
            overrides = {
                **spec.overrides,
                **study.assumptions.overrides(shares, label),
                "name": label,
                "simulation.seed": spec.seed,
                "simulation.replications": replications,
            }
            where = f"{study.path}: {stage} point {index}, scenario '{label}'"
            scenario = scenario_from_dict(override_document(document, overrides, where), where)
            resolved.append(ResolvedScenario(index, label, scenario, config_digest(scenario)))
    measures = measures_for(resolved[0].scenario)
    for r in resolved[1:]:
        measures = measures.union(measures_for(r.scenario))
    return ExperimentPlan(
        spec=experiment,
        spec_path=study.path,
        spec_text=study.path.read_text(encoding="utf-8"),
        labels=tuple(labels),
        config_paths={s: str(study.config_paths[s]) for s in labels},
        points=tuple(design),
        scenarios=tuple(resolved),
        population_names=tuple(resolved[0].scenario.population_names),
        measures=measures,
    )


# -- conclusions at the points ------------------------------------------------------


def conclusion_replicates(
    results: StoredResults, conclusion: Conclusion, points: int
) -> np.ndarray:
    """The conclusion's quantity at each point and replication: (points, replications)."""
    table = results.table("replications")
    table = table.filter(
        pc.and_(pc.equal(table["population"], ALL), pc.equal(table["metric"], conclusion.measure))
    )

    def values(scenario: str) -> np.ndarray:
        chosen = table.filter(pc.equal(table["scenario"], scenario))
        point = chosen["point"].to_numpy()
        replication = chosen["replication"].to_numpy()
        out = np.full((points, int(replication.max()) + 1), np.nan)
        out[point, replication] = chosen["value"].to_numpy(zero_copy_only=False)
        return out

    value = values(conclusion.scenario)
    if conclusion.baseline is not None:
        value = value - values(conclusion.baseline)
    return value


def _y(results: StoredResults, conclusion: Conclusion, points: int, stage: str) -> np.ndarray:
    y = conclusion_replicates(results, conclusion, points).mean(axis=1)
    if not np.isfinite(y).all():
        bad = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ConfigError(
            f"conclusion '{conclusion.name}': {conclusion.quantity} is undefined at "
            f"{stage} point {bad} (a measure over no cases); choose a measure that every "
            "point defines"
        )
    return y


# -- the study ----------------------------------------------------------------------


def run_sensitivity(
    study: SensitivityStudy,
    out: Path,
    backend: Backend,
    resume: bool = False,
    fresh: bool = False,
    command: Sequence[str] = (),
    on_stage: Callable[[str, int], None] | None = None,
    show_progress: bool = True,
) -> SensitivityOutcome:
    """Run (or finish) every stage into ``out``, then write the tables and figures."""
    from SALib.analyze import morris as morris_analysis
    from SALib.analyze import sobol as sobol_analysis

    check_study_folder(out, resume, fresh)
    out.mkdir(parents=True, exist_ok=True)
    spec = study.spec
    (out / "spec.yaml").write_text(study.path.read_text(encoding="utf-8"), encoding="utf-8")
    manifest = {
        "format": MARKER,
        "kind": "sensitivity",
        "name": spec.name,
        "spec_path": str(study.path),
        "spec": spec.model_dump(mode="json"),
        "assumptions": str(study.assumptions.path),
        "factors": list(study.factors),
        "strata": [{"stratum": s.name, "title": s.title, "shares": s.shares} for s in study.strata],
        "seed": spec.seed,
        "versions": environment_versions(),
        "command": list(command),
        "status": "running",
    }
    write_json_atomic(out / MANIFEST, manifest)
    conclusions = spec.conclusions

    def stage(
        name: str,
        points: Sequence[Mapping[str, float]],
        replications: int,
        stratum: Stratum = study.strata[0],
    ) -> Any:
        points = [{**stratum.shares, **values} for values in points]
        folder, plan_name = out / name, name
        if name in STRATIFIED:
            folder, plan_name = folder / stratum.name, f"{name}_{stratum.name}"
            name = f"{name} ({stratum.title})"
        plan = stage_plan(study, plan_name, points, replications)
        if on_stage is not None:
            on_stage(name, plan.runs)
        folder.parent.mkdir(exist_ok=True)
        stored = folder.exists() and any(folder.iterdir())
        ResultsFolder(folder, plan).check_target(resume=resume and stored, fresh=fresh and stored)
        # The study reads a stage's replications only: no pairing, hour-of-week or wait
        # tables, and no CSV copies (the sobol stages' would be hundreds of MB).
        outcome = run_experiment(
            plan, folder, backend, resume=resume and stored, fresh=fresh and stored,
            show_progress=show_progress, figures=False, command=command,
            measures_only=True, csv_tables=False,
        )  # fmt: skip
        if outcome.status != "complete":
            first = next(iter(outcome.failed.items()))
            raise RuntimeError(f"{name} stage: {len(outcome.failed)} runs failed; {first}")
        return StoredResults(folder)

    # 1. Morris
    x = morris_sample(study)
    points = [dict(zip(study.factors, row, strict=True)) for row in x]
    results = stage("morris", points, spec.replications)
    morris_rows = []
    scaled_mu: dict[str, np.ndarray] = {}
    for c in conclusions:
        y = _y(results, c, len(points), "morris")
        analysis = morris_analysis.analyze(
            _problem(study.factors), x, y, num_levels=spec.morris.levels,
            num_resamples=spec.sobol.bootstrap, seed=spec.seed,
        )  # fmt: skip
        mu_star = np.asarray(analysis["mu_star"], dtype=float)
        scaled_mu[c.name] = mu_star / mu_star.max() if mu_star.max() > 0 else mu_star
        for k, name in enumerate(study.factors):
            morris_rows.append(
                {
                    "conclusion": c.name,
                    "factor": name,
                    "mu": float(analysis["mu"][k]),
                    "mu_star": float(mu_star[k]),
                    "mu_star_conf": float(analysis["mu_star_conf"][k]),
                    "sigma": float(analysis["sigma"][k]),
                }
            )
    influence = np.max(np.vstack(list(scaled_mu.values())), axis=0)
    order = np.argsort(-influence, kind="stable")
    top = [study.factors[i] for i in order[: min(spec.sobol.factors, len(study.factors))]]

    # 2. Sobol', and 3. robustness, in each stratum
    sobol_x = sobol_sample(study, top)
    robustness_x = robustness_sample(study)
    sobol_rows = []
    robustness_rows = []
    top_factor: dict[str, str] = {}
    for stratum in study.strata:
        points = [dict(zip(top, row, strict=True)) for row in sobol_x]
        results = stage("sobol", points, spec.replications, stratum)
        for c in conclusions:
            y = _y(results, c, len(points), f"sobol ({stratum.title})")
            indices = sobol_analysis.analyze(
                _problem(top), y, calc_second_order=False, num_resamples=spec.sobol.bootstrap,
                seed=spec.seed,
            )  # fmt: skip
            total = np.asarray(indices["ST"], dtype=float)
            if stratum.name == SHIPPED:
                top_factor[c.name] = top[int(np.nanargmax(total))]
            for k, name in enumerate(top):
                sobol_rows.append(
                    {
                        "stratum": stratum.name,
                        "conclusion": c.name,
                        "factor": name,
                        "S1": float(indices["S1"][k]),
                        "S1_conf": float(indices["S1_conf"][k]),
                        "ST": float(indices["ST"][k]),
                        "ST_conf": float(indices["ST_conf"][k]),
                    }
                )
    for stratum in study.strata:
        points = [dict(zip(study.factors, row, strict=True)) for row in robustness_x]
        results = stage("robustness", points, spec.replications, stratum)
        for c in conclusions:
            y = _y(results, c, len(points), f"robustness ({stratum.title})")
            robustness_rows.append(
                {"stratum": stratum.name, **_robustness(c, y, robustness_x, study.factors)}
            )

    # 4. one-way curves
    levels = np.linspace(0.0, 1.0, spec.one_way.levels)
    wanted = list(dict.fromkeys(top_factor.values()))
    points = [{name: float(u)} for name in wanted for u in levels]
    results = stage("one_way", points, spec.one_way.replications)
    one_way_rows = []
    for c in conclusions:
        replicates = conclusion_replicates(results, c, len(points))
        name = top_factor[c.name]
        first = wanted.index(name) * len(levels)
        lower, upper = _support(c, study)
        for j, u in enumerate(levels):
            at = intervals(replicates[first + j], lower=lower, upper=upper)
            mean, low, high = float(at.mean[0]), float(at.ci_low[0]), float(at.ci_high[0])
            factor = study.assumptions.factors[name]
            one_way_rows.append(
                {
                    "conclusion": c.name,
                    "factor": name,
                    "share_of_range": float(u),
                    "setting": json.dumps(_settings(factor, float(u)), sort_keys=True),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "holds": c.holds(mean),
                }
            )

    tables = {
        "conclusions": pa.Table.from_pylist(
            [
                {
                    "conclusion": c.name,
                    "statement": c.statement,
                    "quantity": c.quantity,
                    "below": c.below,
                    "above": c.above,
                }
                for c in conclusions
            ]
        ),
        "factors": pa.Table.from_pylist(_factor_rows(study)),
        "strata": pa.Table.from_pylist(
            [
                {
                    "stratum": s.name,
                    "title": s.title,
                    "settings": json.dumps(
                        {
                            path: value
                            for name, u in s.shares.items()
                            for path, value in _settings(study.assumptions.factors[name], u).items()
                        }
                    ),
                }
                for s in study.strata
            ]
        ),
        "morris": pa.Table.from_pylist(morris_rows),
        "sobol": pa.Table.from_pylist(sobol_rows),
        "robustness": pa.Table.from_pylist(robustness_rows),
        "one_way": pa.Table.from_pylist(one_way_rows),
    }
    with atomic_folder(out / "tables") as staging:
        for name, table in tables.items():
            write_table(table, staging, name)
    from sim.sensitivity.figures import draw_sensitivity_figures

    draw_sensitivity_figures(tables, out / "figures", *reader_words(study))
    manifest["status"] = "complete"
    write_json_atomic(out / MANIFEST, manifest)
    return SensitivityOutcome(out, tables)


def _settings(factor: Any, u: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, (low, high) in factor.paths.items():
        out[path] = low + u * (high - low)
    for path, values in factor.options.items():
        out[path] = values[min(int(u * len(values)), len(values) - 1)]
    return out


def _support(c: Conclusion, study: SensitivityStudy) -> tuple[float, float]:
    """The values a conclusion's quantity can take: its measure's support, or no bound
    for a difference of two scenarios (paired differences are not cut)."""
    if c.baseline is not None:
        return -math.inf, math.inf
    scenario = load_scenario(study.config_paths[c.scenario])
    return measures_for(scenario).named(c.measure).support


def _robustness(
    c: Conclusion, y: np.ndarray, x: np.ndarray, factors: Sequence[str]
) -> dict[str, Any]:
    """The share of the assumption space where ``c`` holds (Wilson 95 % interval), and
    the factor whose lower and upper halves of range differ most in that share."""
    holds = np.array([c.holds(v) for v in y])
    count, n = int(holds.sum()), len(holds)
    interval = stats.binomtest(count, n).proportion_ci(confidence_level=0.95, method="wilson")
    best, low_share, high_share = None, math.nan, math.nan
    for k, name in enumerate(factors):
        lower, upper = holds[x[:, k] < 0.5], holds[x[:, k] >= 0.5]
        if not len(lower) or not len(upper):
            continue
        a, b = float(lower.mean()), float(upper.mean())
        if a != b and (best is None or abs(a - b) > abs(low_share - high_share)):
            best, low_share, high_share = name, a, b
    return {
        "conclusion": c.name,
        "statement": c.statement,
        "points": n,
        "holds_share": count / n,
        "ci_low": float(interval.low),
        "ci_high": float(interval.high),
        "value_min": float(y.min()),
        "value_median": float(np.median(y)),
        "value_max": float(y.max()),
        "most_decisive_factor": best,
        "holds_share_low_half": low_share,
        "holds_share_high_half": high_share,
    }


def _factor_rows(study: SensitivityStudy) -> list[dict[str, Any]]:
    rows = []
    for name in study.factors:
        factor = study.assumptions.factors[name]
        rows.append(
            {
                "factor": name,
                "rationale": factor.rationale,
                "settings": json.dumps(
                    {p: list(r) for p, r in factor.paths.items()}
                    | {p: list(v) for p, v in factor.options.items()}
                ),
            }
        )
    return rows


def read_study(out: Path) -> dict[str, pa.Table]:
    """The tables of a finished study folder."""
    import pyarrow.parquet as pq

    return {path.stem: pq.read_table(path) for path in sorted((out / "tables").glob("*.parquet"))}


def reader_words(study: SensitivityStudy) -> tuple[dict[str, str], dict[str, str]]:
    """What the figures call the study's scenarios (their titles) and the unit of each
    measure (``% of servable cases``), from the study's configs."""
    scenarios = {name: load_scenario(path) for name, path in study.config_paths.items()}
    titles = {name: scenario.plain_title for name, scenario in scenarios.items()}
    units = {m.name: m.unit for scenario in scenarios.values() for m in measures_for(scenario)}
    return titles, units
