"""One national run: every catchment of the country, under an allocation of posts.

A catchment with ``k > 0`` posts runs the coverage model's scenario with the
catchment's demand (the national rate per 100,000 times its population), ``k`` posts
dealt to the scenario's worker entries in turn, and its travel time.  Its seed is
derived from the national seed and the catchment's id, so that the same catchment sees
the same persons whatever the number of posts, the rule or the coverage model (common
random numbers), and different catchments are independent.

A catchment without a post is not simulated: its persons still reach the station
(Poisson), and those an officer would have referred to a reachable worker (the
population's ``referral.probability``) are in need and unmet, with the reason
``no_post``; the others are not referred, as anywhere else.

The runs are the tasks of one experiment plan (points: the distinct (catchment, posts)
pairs; scenarios: the coverage models), run by the one pipeline, so that a national
study is resumable and gives the same numbers on a pool or a Dask cluster.  The national
figures are then sums over catchments, replication by replication.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.schema import Scenario, scenario_from_dict
from sim.config.week import DAYS_PER_YEAR
from sim.measures.catalogue import ALL, measures_for
from sim.model.outcomes import UNMET_OUTCOMES
from sim.model.streams import stream
from sim.national.catchments import Catchment, cut_catchments
from sim.national.config import NationalModel
from sim.pipeline.plan import DesignPoint, ExperimentPlan, ResolvedScenario
from sim.pipeline.provenance import config_digest
from sim.pipeline.spec import ExperimentSpec

__all__ = [
    "COUNTS",
    "CatchmentCounts",
    "NationalStudy",
    "catchment_scenario",
    "contacted_within",
    "national_plan",
]

UNMET_REASONS = (*(o.label for o in UNMET_OUTCOMES), "no_post")
"""The reasons a person in need is unmet nationally: the station's, and no post."""

COUNTS = (
    "cases",
    "servable",
    "referred",
    "met",
    "met_late",
    "unmet",
    "within_24h",
    *UNMET_REASONS,
    "posts",
    "cost_eur_per_year",
    "couple_violence_met",
)
"""What each catchment contributes to the national sums, per year (``within_24h``:
contacted within 24 h of referral; ``met`` includes ``met_late``)."""


@dataclass(frozen=True)
class NationalStudy:
    """A national model cut into its catchments, with the resolved document of each
    coverage model's scenario (what a catchment's scenario is made from)."""

    model: NationalModel
    catchments: tuple[Catchment, ...]
    documents: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, model: NationalModel) -> NationalStudy:
        catchments = cut_catchments(model.departements, model.config.catchments)
        documents = {
            name: scenario.model_dump(mode="json") for name, scenario in model.scenarios.items()
        }
        return cls(model, catchments, documents)

    @property
    def seed(self) -> int:
        return self.model.config.seed

    def catchment(self, catchment_id: str) -> Catchment:
        return self.by_id[catchment_id]

    @cached_property
    def by_id(self) -> dict[str, Catchment]:
        """The catchments by id."""
        return {c.catchment_id: c for c in self.catchments}

    def arrivals_per_year(self, catchment: Catchment) -> dict[str, float]:
        """Persons of each population reaching the catchment's stations a year."""
        rates = self.model.config.demand_per_100k
        return {p: rate * catchment.population / 100_000 for p, rate in rates.items()}


def catchment_seed(seed: int, catchment_id: str) -> int:
    """The seed of a catchment: the same for every number of posts, rule and coverage."""
    digest = hashlib.sha256(f"{seed}:{catchment_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def deal_posts(workers: Sequence[dict[str, Any]], posts: int) -> list[dict[str, Any]]:
    """``posts`` posts dealt to the worker entries in turn (an entry left without one
    is dropped)."""
    entries = len(workers)
    out = []
    for i, worker in enumerate(workers):
        count = posts // entries + (1 if i < posts % entries else 0)
        if count:
            out.append({**worker, "count": count})
    return out


def catchment_scenario(
    study: NationalStudy, coverage: str, catchment: Catchment, posts: int, replications: int
) -> Scenario:
    """The scenario of one catchment with ``posts`` posts under ``coverage``."""
    document = {**study.documents[coverage]}
    populations = {}
    for name, rate in study.arrivals_per_year(catchment).items():
        population = document["populations"][name]
        populations[name] = {**population, "arrivals": {**population["arrivals"], "per_year": rate}}
    document["populations"] = populations
    station = {**document["stations"][0], "travel_minutes": catchment.travel_minutes}
    document["stations"] = [station]
    staffing = {**document["staffing"]}
    staffing["workers"] = deal_posts(staffing["workers"], posts)
    document["staffing"] = staffing
    simulation = {**document["simulation"]}
    simulation["seed"] = catchment_seed(study.seed, catchment.catchment_id)
    simulation["replications"] = replications
    document["simulation"] = simulation
    where = f"{study.model.path}: coverage '{coverage}', catchment {catchment.catchment_id}"
    return scenario_from_dict(document, where)


def national_plan(
    study: NationalStudy,
    pairs: Iterable[tuple[str, int]],
    coverages: Sequence[str],
    replications: int,
    name: str,
) -> ExperimentPlan:
    """The experiment of every (catchment, posts) pair under every coverage model."""
    pairs = sorted(set(pairs), key=lambda p: (study.catchments.index(study.catchment(p[0])), p[1]))
    model = study.model
    spec = ExperimentSpec.model_validate(
        {
            "name": name,
            "description": f"catchment runs of the national study {model.config.name}",
            "scenarios": [{"config": str(model.scenario_paths[c]), "label": c} for c in coverages],
            "replications": replications,
            "seed": study.seed,
        }
    )
    by_id = study.by_id
    points, resolved = [], []
    for index, (catchment_id, posts) in enumerate(pairs):
        points.append(DesignPoint(index, {"catchment": catchment_id, "posts": posts}))
        for coverage in coverages:
            scenario = catchment_scenario(study, coverage, by_id[catchment_id], posts, replications)
            resolved.append(ResolvedScenario(index, coverage, scenario, config_digest(scenario)))
    measures = measures_for(resolved[0].scenario)
    return ExperimentPlan(
        spec=spec,
        spec_path=model.path,
        spec_text=model.path.read_text(encoding="utf-8"),
        labels=tuple(coverages),
        config_paths={c: str(model.scenario_paths[c]) for c in coverages},
        points=tuple(points),
        scenarios=tuple(resolved),
        population_names=tuple(resolved[0].scenario.population_names),
        measures=measures,
    )


# -- the counts of the catchments ---------------------------------------------------


class CatchmentCounts:
    """Per-year counts (:data:`COUNTS`) of each simulated (catchment, posts) pair, by
    coverage model and replication, read from a national plan's stored replications;
    and those of catchments without a post, drawn here."""

    def __init__(
        self, study: NationalStudy, plan: ExperimentPlan, replications_table: pa.Table
    ) -> None:
        self.study = study
        self.replications = plan.spec.replications
        self._point = {
            (p.values["catchment"], int(p.values["posts"])): p.index for p in plan.points
        }
        table = replications_table.filter(pc.equal(replications_table["population"], ALL))
        self._values: dict[str, dict[str, np.ndarray]] = {}
        metric = table["metric"].to_numpy(zero_copy_only=False)
        for coverage in plan.labels:
            mine = table["scenario"].to_numpy(zero_copy_only=False) == coverage
            out: dict[str, np.ndarray] = {}
            for name in _NEEDED:
                chosen = mine & (metric == name)
                grid = np.full((len(plan.points), self.replications), np.nan)
                point = table["point"].to_numpy()[chosen]
                replication = table["replication"].to_numpy()[chosen]
                grid[point, replication] = table["value"].to_numpy()[chosen]
                out[name] = grid
            self._values[coverage] = out
        self._no_post: dict[str, dict[str, np.ndarray]] = {}

    def of(self, coverage: str, catchment_id: str, posts: int) -> dict[str, np.ndarray]:
        """The counts of one catchment, one value per replication."""
        if posts == 0:
            return self.no_post(catchment_id)
        point = self._point[(catchment_id, posts)]
        v = {name: grid[point] for name, grid in self._values[coverage].items()}
        counts = {
            "cases": v["cases"],
            "servable": v["servable"],
            "referred": v["referred"],
            "met": v["met"] + v["met_late"],
            "met_late": v["met_late"],
            "unmet": v["unmet"],
            "within_24h": contacted_within(v["within_24h_share"], v["referred"]),
            **{o.label: v[o.label] for o in UNMET_OUTCOMES},
            "no_post": np.zeros(self.replications),
            "posts": np.full(self.replications, float(posts)),
            "cost_eur_per_year": v["cost_eur_per_year"],
            "couple_violence_met": v["couple_violence_per_post_year"] * posts,
        }
        return counts

    def no_post(self, catchment_id: str) -> dict[str, np.ndarray]:
        """The counts of a catchment without a post (drawn once, then kept)."""
        if catchment_id not in self._no_post:
            self._no_post[catchment_id] = no_post_counts(
                self.study, catchment_id, self.replications
            )
        return self._no_post[catchment_id]

    def national(
        self, coverage: str, allocation: Mapping[str, int]
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """National sums (one value per replication; ``departement_servable`` and
        ``departement_unmet`` one row of départements per replication) and each
        catchment's counts."""
        per_catchment = {
            c.catchment_id: self.of(coverage, c.catchment_id, allocation[c.catchment_id])
            for c in self.study.catchments
        }
        totals = {
            name: np.sum([counts[name] for counts in per_catchment.values()], axis=0)
            for name in COUNTS
        }
        # Each département's persons in need and unmet (replications x départements),
        # for the measures of equity between them.
        codes = list(dict.fromkeys(c.departement for c in self.study.catchments))
        column = {code: k for k, code in enumerate(codes)}
        for name in ("servable", "unmet"):
            grid = np.zeros((self.replications, len(codes)))
            for c in self.study.catchments:
                grid[:, column[c.departement]] += per_catchment[c.catchment_id][name]
            totals[f"departement_{name}"] = grid
        return totals, per_catchment


def contacted_within(share: np.ndarray, referred: np.ndarray) -> np.ndarray:
    """Persons contacted within the threshold, from the share of the referred (a
    catchment that referred nobody in a replication has no share, and no one)."""
    return np.where(referred > 0, np.nan_to_num(share) * referred, 0.0)


def no_post_counts(
    study: NationalStudy, catchment_id: str, replications: int
) -> dict[str, np.ndarray]:
    """The counts (:data:`COUNTS`) of a catchment without a post, one value per
    replication: its persons reaching a station (Poisson, over the measurement window
    of the coverage models' scenarios) and, among them, those an officer would have
    referred to a reachable worker (binomial; the first coverage model's referral
    probabilities, so that every coverage model counts the same persons): in need, and
    unmet for want of a post."""
    catchment = study.catchment(catchment_id)
    scenario = next(iter(study.model.scenarios.values()))
    years = scenario.simulation.run_days / DAYS_PER_YEAR
    seed = catchment_seed(study.seed, catchment_id)
    cases = np.zeros(replications)
    servable = np.zeros(replications)
    for r in range(replications):
        rng = stream(seed, r, "no_post_demand")
        for name, per_year in study.arrivals_per_year(catchment).items():
            arrived = rng.poisson(per_year * years)
            cases[r] += arrived
            servable[r] += rng.binomial(arrived, scenario.populations[name].referral.probability)
    counts = {name: np.zeros(replications) for name in COUNTS}
    counts["cases"] = cases / years
    for name in ("servable", "unmet", "no_post"):
        counts[name] = servable / years
    return counts


_NEEDED = (
    "cases",
    "servable",
    "referred",
    "met",
    "met_late",
    "unmet",
    "within_24h_share",
    *(o.label for o in UNMET_OUTCOMES),
    "cost_eur_per_year",
    "couple_violence_per_post_year",
)
