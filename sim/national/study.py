"""A national study: allocations of N posts by named rules, under coverage models, every
catchment simulated, and the national tables.

A study is a list of *requests* (posts, rule, coverage model; or "the next posts from an
allocation").  Its folder holds:

- ``national.json``: the manifest (config, requests, seed, versions, status);
- ``training.parquet``: the optimiser's response-curve points, as they are simulated;
- ``runs/``: the one pipeline's results folder of every distinct (catchment, posts)
  pair under every coverage model (resumable, pool or Dask alike);
- ``tables/``: ``national`` (every national measure, mean and 95 % CI over the
  replications, per request), ``national_replications``, ``gains`` (each request minus
  the same posts and coverage under another rule, paired by replication),
  ``departements`` and ``catchments`` (means per request), ``allocations`` (posts per
  catchment per request) and ``next_posts``;
- ``figures/``: drawn from the tables alone (:mod:`sim.national.figures`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from sim.config.errors import ConfigError, did_you_mean
from sim.measures.stats import paired_difference
from sim.national.allocation import RULES, allocate, departements_without_post, minimum_posts
from sim.national.measures import NATIONAL_MEASURES, measure_nation
from sim.national.optimise import EQUITY_PREFIX, OBJECTIVES, ResponseCurves, greedy_allocation
from sim.national.run import CatchmentCounts, NationalStudy, national_plan, simulated_points
from sim.national.variance import (
    ACROSS_REPLICATIONS,
    CatchmentEffects,
    catchment_difference,
    catchment_intervals,
)
from sim.pipeline.backends import Backend
from sim.pipeline.execute import run_experiment
from sim.pipeline.plan import ExperimentPlan
from sim.pipeline.provenance import MARKER, environment_versions
from sim.pipeline.results import StoredResults
from sim.pipeline.store import (
    atomic_folder,
    check_own_folder,
    read_manifest,
    write_json_atomic,
    write_table,
)

__all__ = ["MANIFEST", "NationalOutcome", "Request", "run_national", "run_passed_on"]

MANIFEST = "national.json"
MAX_POSTS = 100_000
"""The most posts a national request may deal (France at the Belgian density has 2,640)."""
RESOLVED_CONFIG = "config_resolved.yaml"
"""The national config as the study ran it: every ``--set`` applied, every default
filled in (``config.yaml`` is the file as written)."""
PASSED_ON_RUNS = "runs_passed_on"
"""The runs of the posts that receive persons saturated posts pass on, one plan a
coverage model (``cross_border.pass_on_saturated``)."""
OWN_ENTRIES = frozenset(
    {
        MANIFEST,
        "config.yaml",
        RESOLVED_CONFIG,
        "training.parquet",
        "runs",
        PASSED_ON_RUNS,
        "tables",
        "figures",
        "sanity",
    }
)


@dataclass(frozen=True)
class Request:
    """One national allocation to evaluate: ``posts`` posts by ``rule`` under
    ``coverage``; with ``start_rule`` and ``start_posts``, the allocation is that rule's
    at ``start_posts`` plus ``posts - start_posts`` placed by the optimiser."""

    posts: int
    rule: str
    coverage: str
    start_rule: str | None = None
    start_posts: int | None = None
    equity_weight: float | None = None
    """For an optimised request: the share of its posts dealt to the worst-off
    département first (:func:`~sim.national.optimise.greedy_allocation`); None leaves
    it to the run's objective."""

    @property
    def key(self) -> str:
        if self.start_rule is not None:
            return f"{self.coverage}/{self.start_rule}_{self.start_posts}_next/{self.posts}"
        return f"{self.coverage}/{self.label}/{self.posts}"

    @property
    def key_tuple(self) -> tuple[str, str, int]:
        """(coverage, allocation label, posts): how the tables name this request."""
        return (self.coverage, self.label, self.posts)

    @property
    def label(self) -> str:
        """The allocation's name in the tables."""
        if self.start_rule is not None:
            return f"{self.start_rule}_{self.start_posts}+optimised"
        if self.equity_weight is not None:
            return f"{EQUITY_PREFIX}{self.equity_weight:g}"
        return self.rule


@dataclass
class NationalOutcome:
    """A finished national study: its folder, its tables, the allocation of every
    request and the catchment runs its plan holds (computed or reused)."""

    folder: Path
    tables: dict[str, pa.Table] = field(default_factory=dict)
    allocations: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: int = 0


def check_requests(study: NationalStudy, requests: Sequence[Request], source: str) -> None:
    """Every request possible, before anything runs."""
    keys = [r.key for r in requests]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ConfigError(f"{source}: the same allocation is asked for twice: {twice}")
    for r in requests:
        if r.coverage not in study.model.scenarios:
            raise ConfigError(
                f"{source}: coverage '{r.coverage}' is not a coverage model of "
                f"{study.model.path}{did_you_mean(r.coverage, study.model.scenarios)} "
                f"(known: {', '.join(sorted(study.model.scenarios))})"
            )
        if r.rule not in RULES:
            raise ConfigError(
                f"{source}: allocation '{r.rule}' is not a rule"
                f"{did_you_mean(r.rule, RULES)} (known: {', '.join(RULES)})"
            )
        if not 1 <= r.posts <= MAX_POSTS:
            raise ConfigError(f"{source}: posts = {r.posts}: allowed 1 to {MAX_POSTS:,}")
        if r.equity_weight is not None and (r.rule != "optimised" or not 0 <= r.equity_weight <= 1):
            raise ConfigError(
                f"{source}: equity weight {r.equity_weight:g} for '{r.rule}': an equity "
                "weight is for the optimised rule, from 0 to 1"
            )
        _check_minimum(study, r.rule, r.posts, f"{source}: posts = {r.posts}")
        if r.start_rule is None:
            continue
        fixed = [rule for rule in RULES if rule != "optimised"]
        if r.start_rule not in fixed:
            raise ConfigError(
                f"{source}: the next posts start from the allocation of a fixed rule; "
                f"'{r.start_rule}' is not one{did_you_mean(r.start_rule, fixed)} "
                f"(known: {', '.join(fixed)})"
            )
        if not 0 < (r.start_posts or 0) <= r.posts:
            raise ConfigError(
                f"{source}: the next posts start from {r.start_posts} posts, which must be "
                f"between 1 and {r.posts}"
            )
        _check_minimum(study, r.start_rule, r.start_posts or 0, f"{source}: the start")


def check_objective(objective: str, equity_weight: float | None) -> None:
    """An objective the optimiser knows, with an equity weight exactly when it is a mix."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"--objective {objective}: not an objective; known: {list(OBJECTIVES)}")
    weight = equity_weight if equity_weight is not None else 0.5
    if (objective == "mix") != (equity_weight is not None) or not 0 < weight < 1:
        raise ConfigError(
            f"--equity-weight {equity_weight}: the mix objective, and only it, takes an "
            "equity weight, above 0 and below 1 (0 is --objective unmet, 1 is equity)"
        )


def _check_minimum(study: NationalStudy, rule: str, posts: int, where: str) -> None:
    constants = study.model.config.allocation
    least = minimum_posts(rule, study.catchments, constants)
    if posts < least:
        reason = (
            f": {constants.posts_per_departement} for each of the "
            f"{len(study.model.departements)} départements"
            if rule == "two_per_departement_first"
            else ""
        )
        raise ConfigError(f"{where}: {rule} needs at least {least} posts{reason}")


def run_national(
    study: NationalStudy,
    requests: Sequence[Request],
    out: Path,
    backend: Backend,
    replications: int,
    objective: str = "unmet",
    equity_weight: float | None = None,
    resume: bool = False,
    fresh: bool = False,
    command: Sequence[str] = (),
    note: Callable[[str], None] | None = None,
    show_progress: bool = True,
    maps: Sequence[tuple[str, str, tuple[int, ...]]] | None = None,
    on_run: Callable[[int, int], None] | None = None,
) -> NationalOutcome:
    """Allocate, simulate every catchment, and write the national tables into ``out``;
    ``maps`` (coverage, allocation label, posts) are the maps to draw (default: one
    for each request); ``on_run(done, total)`` is called as each catchment run is
    stored (a progress bar's feed)."""
    say = note or (lambda _: None)
    check_objective(objective, equity_weight)
    quantity = "unmet" if objective in ("equity", "mix") else objective
    weight_of_run = {"equity": 1.0, "mix": equity_weight}.get(objective, 0.0)
    check_requests(study, requests, "national study")
    check_own_folder(out, resume, fresh, MANIFEST, OWN_ENTRIES, "a national study")
    _check_passed_on_runs(out / PASSED_ON_RUNS, study)
    if fresh:
        for own in ("runs", PASSED_ON_RUNS, "tables", "figures", "sanity"):
            _remove_own(out / own)
        (out / "training.parquet").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    model = study.model
    (out / "config.yaml").write_text(model.path.read_text(encoding="utf-8"), encoding="utf-8")
    resolved = yaml.safe_dump(
        model.config.model_dump(mode="json"), sort_keys=False, allow_unicode=True
    )
    heading = f"# {model.path} as this study ran it: every --set applied, defaults filled in\n"
    (out / RESOLVED_CONFIG).write_text(heading + resolved, encoding="utf-8")
    manifest: dict[str, Any] = {
        "format": MARKER,
        "kind": "national",
        "name": model.config.name,
        "config_path": str(model.path),
        "requests": [asdict(r) for r in requests],
        "replications": replications,
        "objective": objective,
        "equity_weight": equity_weight,
        "seed": model.config.seed,
        "versions": environment_versions(),
        "command": list(command),
        "status": "running",
    }
    write_json_atomic(out / MANIFEST, manifest)

    constants = model.config.allocation
    allocations: dict[str, dict[str, int]] = {}
    curves: dict[str, ResponseCurves] = {}
    for r in requests:
        if r.rule != "optimised":
            allocations[r.key] = allocate(r.rule, r.posts, study.catchments, constants)
            continue
        if r.coverage not in curves:
            curves[r.coverage] = ResponseCurves.load(
                study, r.coverage, constants.training_replications, out / "training.parquet"
            )
        start = None
        if r.start_rule is not None:
            start = allocate(r.start_rule, r.start_posts or 0, study.catchments, constants)
        weight = r.equity_weight if r.equity_weight is not None else weight_of_run
        say(
            f"optimising {r.posts} posts under {r.coverage} "
            f"(objective: {quantity}, equity weight {weight:g})"
        )
        allocations[r.key] = greedy_allocation(
            curves[r.coverage],
            r.posts,
            backend,
            objective=quantity,  # type: ignore[arg-type]
            equity_weight=weight or 0.0,
            start=start,
            guess=allocate("proportional", r.posts, study.catchments, constants),
            on_round=lambda k, n: say(f"  training round {k}: {n} curve points simulated"),
        )

    coverages = list(dict.fromkeys(r.coverage for r in requests))
    points = set().union(*(simulated_points(study, a) for a in allocations.values()))
    what = "(catchment, posts, inflow)" if study.cross_border else "(catchment, posts)"
    say(f"{len(points)} {what} points x {len(coverages)} coverage models")
    plan = national_plan(study, points, coverages, replications, f"{model.config.name}-catchments")
    runs = out / "runs"
    total = len(plan.scenarios) * plan.spec.replications
    done = 0

    def one_more(_: Any) -> None:
        nonlocal done
        done += 1
        if on_run is not None:
            # The runs of posts receiving persons passed on are known only once the
            # others are done: the total grows with them.
            on_run(done, max(total, done))

    stored = _run_catchments(plan, runs, backend, resume, show_progress, command, one_more)
    counts = CatchmentCounts(study, plan, stored)
    if study.model.config.cross_border.pass_on_saturated:
        by_coverage: dict[str, list[Mapping[str, int]]] = {}
        for r in requests:
            by_coverage.setdefault(r.coverage, []).append(allocations[r.key])
        run_passed_on(
            counts,
            by_coverage,
            out / PASSED_ON_RUNS,
            backend,
            resume=resume,
            show_progress=show_progress,
            command=command,
            note=say,
            on_task_done=one_more,
        )
    say("summing the catchments")
    tables = national_tables(study, requests, allocations, counts, curves)
    with atomic_folder(out / "tables") as staging:
        for name, table in tables.items():
            write_table(table, staging, name)
    from sim.national.figures import draw_national_figures

    if maps is None:
        maps = [(r.coverage, r.label, (r.posts,)) for r in requests]
    say("drawing the figures")
    draw_national_figures(out, study, maps)
    manifest["status"] = "complete"
    write_json_atomic(out / MANIFEST, manifest)
    return NationalOutcome(out, tables, allocations, plan.runs)


def run_passed_on(
    counts: CatchmentCounts,
    allocations: Mapping[str, Sequence[Mapping[str, int]]],
    folder: Path,
    backend: Backend,
    resume: bool = False,
    show_progress: bool = False,
    command: Sequence[str] = (),
    note: Callable[[str], None] | None = None,
    on_task_done: Callable[[Any], None] | None = None,
) -> int:
    """Simulate, under each coverage model's allocations, the posts that receive
    persons saturated posts pass on (``cross_border.pass_on_saturated``), from the
    runs without passing on that ``counts`` holds, one experiment a coverage model in
    ``folder/<coverage>``; join them to ``counts`` and return how many runs it took."""
    say = note or (lambda _: None)
    study = counts.study
    added = 0
    for coverage, chosen in allocations.items():
        wanted = set().union(*(counts.points(coverage, a) for a in chosen))
        missing = {p for p in wanted if not counts.has(coverage, p)}
        if not missing:
            continue
        say(f"{len(missing)} posts receive persons saturated posts pass on, under {coverage}")
        name = f"{study.model.config.name}-passed-on-{coverage}"
        plan = national_plan(study, missing, [coverage], counts.replications, name)
        runs = folder / coverage
        stored = _run_catchments(plan, runs, backend, resume, show_progress, command, on_task_done)
        counts.add(plan, stored)
        added += len(plan.scenarios) * plan.spec.replications
    return added


def _run_catchments(
    plan: ExperimentPlan,
    runs: Path,
    backend: Backend,
    resume: bool,
    show_progress: bool,
    command: Sequence[str],
    on_task_done: Callable[[Any], None] | None,
) -> pa.Table:
    """Run (or, with ``resume``, finish) a plan of catchment runs in ``runs`` and
    return its stored replications; a failed run stops the study."""
    stored = runs.exists() and any(runs.iterdir())
    outcome = run_experiment(
        plan,
        runs,
        backend,
        resume=resume and stored,
        fresh=False,
        show_progress=show_progress,
        figures=False,
        command=command,
        measures_only=True,
        # The study's own tables are its readable ones: CSV copies of the catchment
        # runs' would be some 700 MB for the national experiment, and seconds to write.
        csv_tables=False,
        on_task_done=on_task_done,
    )
    if outcome.status != "complete":
        first = next(iter(outcome.failed.items()))
        raise RuntimeError(f"{len(outcome.failed)} catchment runs failed; the first: {first}")
    return StoredResults(runs).table("replications")


def _check_passed_on_runs(folder: Path, study: NationalStudy) -> None:
    """Refuse a ``runs_passed_on`` folder holding anything but station-sim's experiment
    folders, one a coverage model, before anything is written or removed there."""
    if not folder.exists():
        return
    where = f"{folder.parent}: {PASSED_ON_RUNS}/"
    if not folder.is_dir():
        raise ConfigError(f"{where} is not a folder; nothing was changed. Choose another --out")
    for entry in sorted(folder.iterdir()):
        if entry.name not in study.model.scenarios or not entry.is_dir():
            raise ConfigError(
                f"{where} holds '{entry.name}', which a national study does not write; "
                "nothing was changed there. Choose another --out"
            )
        read_manifest(entry)  # a folder without station-sim's manifest is refused


def _remove_own(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)


def national_tables(
    study: NationalStudy,
    requests: Sequence[Request],
    allocations: dict[str, dict[str, int]],
    counts: CatchmentCounts,
    curves: dict[str, ResponseCurves],
) -> dict[str, pa.Table]:
    """The national tables of every request."""
    national, per_replication, departements, catchments, allocation_rows = [], [], [], [], []
    by_request: dict[str, dict[str, np.ndarray]] = {}
    effects_of: dict[str, CatchmentEffects] = {}
    catchment_of = {c.catchment_id: c for c in study.catchments}
    names = NATIONAL_MEASURES.names
    lower, upper = NATIONAL_MEASURES.supports(names)  # every request's
    for r in requests:
        allocation = allocations[r.key]
        totals, per_catchment, contributions = counts.national(r.coverage, allocation)
        flows = counts.flows(r.coverage, allocation)
        inflow = flows.inflow if flows is not None else {}
        passed = flows.passed_inflow if flows is not None else {}
        values = [
            measure_nation({k: v[i] for k, v in totals.items()}) for i in range(counts.replications)
        ]
        matrix = np.array([[v[m.name] for m in NATIONAL_MEASURES] for v in values])
        by_request[r.key] = {m.name: matrix[:, j] for j, m in enumerate(NATIONAL_MEASURES)}
        effects_of[r.key] = contributions.effects(measure_nation, names)
        summary, dof = catchment_intervals(
            matrix, effects_of[r.key], names, lower=lower, upper=upper
        )
        keys = _request_keys(r)
        for j, m in enumerate(NATIONAL_MEASURES):
            national.append(
                {
                    **keys,
                    "metric": m.name,
                    "n": int(summary.n[j]),
                    "mean": float(summary.mean[j]),
                    "half_width": float(summary.half_width[j]),
                    "ci_low": float(summary.ci_low[j]),
                    "ci_high": float(summary.ci_high[j]),
                    "dof": float(dof[j]),
                }
            )
            for i in range(counts.replications):
                per_replication.append(
                    {**keys, "replication": i, "metric": m.name, "value": float(matrix[i, j])}
                )
        by_departement: dict[str, dict[str, float]] = {}
        for cid, c_counts in per_catchment.items():
            c = catchment_of[cid]
            mean = {k: float(np.mean(v)) for k, v in c_counts.items()}
            catchments.append(
                {
                    **keys,
                    "catchment": cid,
                    "departement": c.departement,
                    "kind": c.kind,
                    "population": c.population,
                    "area_km2": c.area_km2,
                    "travel_minutes": c.travel_minutes,
                    "posts_in_catchment": allocation[cid],
                    "persons_in_need": mean["servable"],
                    "unmet": mean["unmet"],
                    "unmet_share": _share(mean["unmet"], mean["servable"]),
                    "within_24h_share_of_need": _share(mean["within_24h"], mean["servable"]),
                    "cost_eur_per_year": mean["cost_eur_per_year"],
                    "sent_share": flows.uptake.get(cid, 0.0) if flows is not None else 0.0,
                    "in_need_across_border": mean["across_border"],
                    "contacted_across_border": mean["met_across_border"],
                    "passed_on": mean["passed_on"],
                    "passed_on_contacted": mean["met_passed_on"],
                    "received_population": inflow.get(cid, 0.0),
                    "passed_population": passed.get(cid, 0.0),
                }
            )
            allocation_rows.append(
                {**keys, "catchment": cid, "posts_in_catchment": allocation[cid]}
            )
            d = by_departement.setdefault(c.departement, {})
            for name in (
                "servable",
                "unmet",
                "within_24h",
                "cost_eur_per_year",
                "met_across_border",
                "passed_on",
                "met_passed_on",
            ):
                d[name] = d.get(name, 0.0) + mean[name]
            d["posts"] = d.get("posts", 0.0) + allocation[cid]
        for dep in study.model.departements:
            d = by_departement[dep.code]
            departements.append(
                {
                    **keys,
                    "departement": dep.code,
                    "name": dep.name,
                    "population": dep.population,
                    "posts_in_departement": int(d["posts"]),
                    "posts_per_100k": d["posts"] / dep.population * 100_000,
                    "persons_in_need": d["servable"],
                    "unmet": d["unmet"],
                    "unmet_share": _share(d["unmet"], d["servable"]),
                    "within_24h_share_of_need": _share(d["within_24h"], d["servable"]),
                    "cost_eur_per_year": d["cost_eur_per_year"],
                    "contacted_across_border": d["met_across_border"],
                    "passed_on": d["passed_on"],
                    "passed_on_contacted": d["met_passed_on"],
                }
            )
        national.append(
            {
                **keys,
                "metric": "departements_without_post",
                "n": counts.replications,
                "mean": float(len(departements_without_post(allocation, study.catchments))),
                "half_width": 0.0,
                "ci_low": math.nan,
                "ci_high": math.nan,
                "dof": math.nan,
            }
        )
    tables = {
        "national": pa.Table.from_pylist(national),
        "national_replications": pa.Table.from_pylist(per_replication),
        "gains": pa.Table.from_pylist(_gains(requests, by_request, effects_of)),
        "departements": pa.Table.from_pylist(departements),
        "catchments": pa.Table.from_pylist(catchments),
        "allocations": pa.Table.from_pylist(allocation_rows),
        "measures": pa.Table.from_pylist(NATIONAL_MEASURES.records()),
    }
    next_rows = _next_posts(study, requests, allocations)
    if next_rows:
        tables["next_posts"] = pa.Table.from_pylist(next_rows)
    curve_rows = [
        {"coverage": cov, "catchment": c, "posts": k, "unmet": u, "not_within_24h": w}
        for cov, curve in curves.items()
        for (c, k), (u, w) in sorted(curve.points.items())
    ]
    if curve_rows:
        tables["response_curves"] = pa.Table.from_pylist(curve_rows)
    return tables


def _request_keys(r: Request) -> dict[str, Any]:
    return {"coverage": r.coverage, "allocation": r.label, "posts": r.posts}


def _share(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


_GAIN_METRICS = (
    "national_unmet_share",
    "national_unmet",
    "national_within_24h_share",
    "departement_unmet_max",
)


def _gains(
    requests: Sequence[Request],
    by_request: dict[str, dict[str, np.ndarray]],
    effects_of: dict[str, CatchmentEffects],
) -> list[dict[str, Any]]:
    """Paired by catchment and replication (common random numbers; the interval from
    the catchments' paired effects, ``sim.national.variance``, but the worst
    département's over the replications): each optimised request minus
    every other request of the same posts and coverage; each rule minus
    ``proportional``; each request minus the same rule and coverage at the next fewer
    posts (``baseline_posts``: what the scale-up buys); and the next posts minus the
    allocation they start from."""
    rows = []
    for r in requests:
        fewer = [
            o.posts
            for o in requests
            if (o.coverage, o.label) == (r.coverage, r.label) and o.posts < r.posts
        ]
        for other in requests:
            start = r.start_rule is not None and other.key_tuple == (
                r.coverage,
                r.start_rule,
                r.start_posts,
            )
            scale_up = other.key_tuple == (r.coverage, r.label, max(fewer, default=-1))
            same_cell = other is not r and (other.posts, other.coverage) == (r.posts, r.coverage)
            against_rule = other.rule == "proportional" and r.rule != "proportional"
            if not (start or scale_up or (same_cell and (r.rule == "optimised" or against_rule))):
                continue
            for metric in _GAIN_METRICS:
                mine, theirs = by_request[r.key][metric], by_request[other.key][metric]
                if metric in ACROSS_REPLICATIONS:
                    d = paired_difference(mine, theirs)
                    dof = float(d.n - 1)
                else:
                    d, dof = catchment_difference(
                        mine,
                        theirs,
                        effects_of[r.key].of(metric),
                        effects_of[other.key].of(metric),
                    )
                rows.append(
                    {
                        "coverage": r.coverage,
                        "posts": r.posts,
                        "allocation": r.label,
                        "baseline": other.label,
                        "baseline_posts": other.posts,
                        "metric": metric,
                        "n": d.n,
                        "allocation_mean": d.scenario_mean,
                        "baseline_mean": d.baseline_mean,
                        "difference": d.difference,
                        "half_width": d.half_width,
                        "ci_low": d.ci_low,
                        "ci_high": d.ci_high,
                        "dof": dof,
                    }
                )
    return rows


def _next_posts(
    study: NationalStudy, requests: Sequence[Request], allocations: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    """Where the posts added by each "next posts" request go, by catchment."""
    constants = study.model.config.allocation
    rows = []
    for r in requests:
        if r.start_rule is None:
            continue
        start = allocate(r.start_rule, r.start_posts or 0, study.catchments, constants)
        for c in study.catchments:
            added = allocations[r.key][c.catchment_id] - start[c.catchment_id]
            if added:
                rows.append(
                    {
                        "coverage": r.coverage,
                        "from": f"{r.start_rule}_{r.start_posts}",
                        "catchment": c.catchment_id,
                        "departement": c.departement,
                        "kind": c.kind,
                        "population": c.population,
                        "posts_before": start[c.catchment_id],
                        "posts_added": added,
                    }
                )
    return rows


def run_national_experiment(
    experiment: Any,
    out: Path,
    backend: Backend,
    resume: bool = False,
    fresh: bool = False,
    command: Sequence[str] = (),
    note: Callable[[str], None] | None = None,
    show_progress: bool = True,
) -> NationalOutcome:
    """A national experiment spec (:mod:`sim.national.spec`): the grid, then the sanity
    country in ``out/sanity`` and the ``sanity`` table beside the grid's tables."""
    spec = experiment.spec
    maps = [(m.coverage, m.allocation, m.posts) for m in spec.maps]
    outcome = run_national(
        experiment.study,
        experiment.requests,
        out,
        backend,
        spec.replications,
        objective=spec.objective,
        resume=resume,
        fresh=fresh,
        command=command,
        note=note,
        show_progress=show_progress,
        maps=maps,
    )
    if experiment.sanity is None:
        return outcome
    other, request = experiment.sanity
    (note or (lambda _: None))(f"sanity: {other.model.config.name}, {request.posts} posts")
    sanity = run_national(
        other,
        [request],
        out / "sanity",
        backend,
        spec.replications,
        resume=resume and (out / "sanity").exists(),
        fresh=False,
        command=command,
        note=note,
        show_progress=show_progress,
        maps=[],
    )
    rows = _sanity_rows(other, [request.key_tuple], sanity.tables["national"])
    rows += _sanity_rows(
        experiment.study,
        [(request.coverage, "proportional", p) for p in spec.sanity.compare_posts],
        outcome.tables["national"],
    )
    table = pa.Table.from_pylist(rows)
    write_table(table, out / "tables", "sanity")
    outcome.tables["sanity"] = table
    outcome.runs += sanity.runs
    return outcome


def _sanity_rows(
    study: NationalStudy, wanted: Sequence[tuple[str, str, int]], national: pa.Table
) -> list[dict[str, Any]]:
    """A country's row of the sanity table for each (coverage, allocation, posts)."""
    rows = []
    values = national.to_pylist()
    for cov, allocation, n in wanted:
        chosen = {
            r["metric"]: r
            for r in values
            if (r["coverage"], r["allocation"], r["posts"]) == (cov, allocation, n)
        }
        if not chosen:
            continue
        population = study.model.population
        cost = chosen["national_cost_eur_per_year"]["mean"]
        rows.append(
            {
                "country": study.model.config.name,
                "coverage": cov,
                "allocation": allocation,
                "posts": n,
                "population": population,
                "posts_per_100k": n / population * 100_000,
                "cost_eur_per_inhabitant": cost / population,
                "unmet_share": chosen["national_unmet_share"]["mean"],
                "unmet_share_half_width": chosen["national_unmet_share"]["half_width"],
                "within_24h_share_of_need": chosen["national_within_24h_share"]["mean"],
            }
        )
    return rows
