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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.errors import ConfigError
from sim.config.schema import Scenario, scenario_from_dict
from sim.config.week import DAYS_PER_YEAR
from sim.measures.catalogue import ALL, measures_for
from sim.model.outcomes import UNMET_OUTCOMES, Outcome
from sim.model.streams import stream
from sim.national.catchments import Catchment, cut_catchments
from sim.national.config import NationalModel
from sim.national.neighbours import Flows, Neighbourhood, cross_border_flows, read_neighbourhood
from sim.national.saturation import passed_on_flows
from sim.national.variance import Contributions
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
    "neighbour_population",
    "simulated_points",
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
    "across_border",
    "met_across_border",
    "passed_on",
    "met_passed_on",
    "posts",
    "cost_eur_per_year",
    "couple_violence_met",
)
"""What each catchment contributes to the national sums, per year (``within_24h``:
contacted within 24 h of referral; ``met`` includes ``met_late``; ``across_border``:
its persons in need who reached a post of another catchment, ``met_across_border``
those of them contacted, ``passed_on`` those of them a saturated post of their own
catchment passed on, ``met_passed_on`` those of these contacted)."""


@dataclass(frozen=True)
class NationalStudy:
    """A national model cut into its catchments, with the resolved document of each
    coverage model's scenario (what a catchment's scenario is made from)."""

    model: NationalModel
    catchments: tuple[Catchment, ...]
    documents: dict[str, dict[str, Any]]
    neighbourhood: Neighbourhood | None = None
    """Which départements touch, when service crosses catchment borders."""

    @classmethod
    def of(cls, model: NationalModel) -> NationalStudy:
        try:
            catchments = cut_catchments(model.departements, model.config.catchments)
        except ConfigError as error:
            raise ConfigError(f"{model.path}: {error}") from None
        documents = {
            name: scenario.model_dump(mode="json") for name, scenario in model.scenarios.items()
        }
        neighbourhood = None
        rule = model.config.cross_border
        if rule.enabled and model.boundaries is not None:
            where = f"{model.path}: boundaries = '{model.boundaries.name}'"
            neighbourhood = read_neighbourhood(
                model.boundaries, model.departements, rule.neighbour_gap_km, where
            )
        return cls(model, catchments, documents, neighbourhood)

    @property
    def cross_border(self) -> bool:
        """Whether persons of a catchment without a post can reach a neighbouring post."""
        return self.neighbourhood is not None

    def flows(self, allocation: Mapping[str, int]) -> Flows | None:
        """Where the persons of the catchments without a post go (None: nowhere)."""
        if self.neighbourhood is None:
            return None
        return cross_border_flows(
            self.catchments, allocation, self.neighbourhood, self.model.config.cross_border
        )

    def inflow(self, allocation: Mapping[str, int]) -> dict[str, int]:
        """Each catchment's population whose persons it receives from catchments
        without a post, in whole persons (0 without cross-border service)."""
        flows = self.flows(allocation)
        return {} if flows is None else flows.whole_inflow()

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


NEIGHBOUR_SUFFIX = "_from_neighbour"
"""A catchment with posts under cross-border service runs each population twice: its
own persons, and (``<population>_from_neighbour``) those of the catchments without a
post who reach it, alike in every rule but their number and their random streams."""


def neighbour_population(name: str) -> str:
    """The name of the population of ``name``'s persons from neighbouring catchments."""
    return f"{name}{NEIGHBOUR_SUFFIX}"


PASSED_ON_SUFFIX = "_passed_on"
"""A post that saturated posts pass persons on to (``cross_border.pass_on_saturated``)
runs each population a third time: ``<population>_passed_on``, persons already
referred once, so every one of them is in need and referred, whoever is there (a
slip passed on is never dropped for want of a worker: the rest of its rules are the
population's)."""


def passed_on_population(name: str) -> str:
    """The name of the population of ``name``'s persons passed on by saturated posts."""
    return f"{name}{PASSED_ON_SUFFIX}"


def catchment_scenario(
    study: NationalStudy,
    coverage: str,
    catchment: Catchment,
    posts: int,
    replications: int,
    inflow: float = 0.0,
    passed_on: float = 0.0,
) -> Scenario:
    """The scenario of one catchment with ``posts`` posts under ``coverage``; under
    cross-border service it also receives the persons of a population of ``inflow``
    people from catchments without a post, and those of ``passed_on`` people that
    saturated posts pass on (their own populations, so that the catchment's own
    persons are drawn alike whatever it receives)."""
    document = {**study.documents[coverage]}
    populations = {}
    for name, rate in study.arrivals_per_year(catchment).items():
        population = document["populations"][name]
        populations[name] = {**population, "arrivals": {**population["arrivals"], "per_year": rate}}
    if study.cross_border:
        rates = study.model.config.demand_per_100k
        for name, rate in rates.items():
            population = document["populations"][name]
            per_year = rate * inflow / 100_000
            populations[neighbour_population(name)] = {
                **population,
                "arrivals": {**population["arrivals"], "per_year": per_year},
            }
        if passed_on:
            for name, rate in rates.items():
                population = document["populations"][name]
                referral = {
                    **population["referral"],
                    "probability": 1.0,
                    "probability_when_no_worker": None,
                    "ratio_when_no_worker": None,
                }
                populations[passed_on_population(name)] = {
                    **population,
                    "arrivals": {
                        **population["arrivals"],
                        "per_year": rate * passed_on / 100_000,
                    },
                    "referral": referral,
                }
    elif inflow or passed_on:
        raise ValueError("inflow needs cross-border service (cross_border.enabled)")
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


Point = tuple[str, int, int] | tuple[str, int, int, int]
"""A simulated catchment: (catchment id, posts, population it receives from catchments
without a post[, population whose persons saturated posts pass it, 0 if omitted])."""


def _full(point: Point) -> tuple[str, int, int, int]:
    return (*point, 0) if len(point) == 3 else point  # type: ignore[return-value]


def national_plan(
    study: NationalStudy,
    points: Iterable[Point],
    coverages: Sequence[str],
    replications: int,
    name: str,
) -> ExperimentPlan:
    """The experiment of every simulated catchment under every coverage model."""
    order = {c.catchment_id: k for k, c in enumerate(study.catchments)}
    points = sorted({_full(p) for p in points}, key=lambda p: (order[p[0]], *p[1:]))
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
    design, resolved = [], []
    for index, (catchment_id, posts, inflow, passed) in enumerate(points):
        values: dict[str, Any] = {"catchment": catchment_id, "posts": posts}
        if study.cross_border:
            values["inflow_population"] = inflow
        if passed:
            values["passed_on_population"] = passed
        design.append(DesignPoint(index, values))
        for coverage in coverages:
            scenario = catchment_scenario(
                study, coverage, by_id[catchment_id], posts, replications, inflow, passed
            )
            resolved.append(ResolvedScenario(index, coverage, scenario, config_digest(scenario)))
    measures = measures_for(resolved[0].scenario)
    return ExperimentPlan(
        spec=spec,
        spec_path=model.path,
        spec_text=model.path.read_text(encoding="utf-8"),
        labels=tuple(coverages),
        config_paths={c: str(model.scenario_paths[c]) for c in coverages},
        points=tuple(design),
        scenarios=tuple(resolved),
        # Every point's populations: only some posts are passed persons on.
        population_names=tuple(
            dict.fromkeys(n for r in resolved for n in r.scenario.population_names)
        ),
        measures=measures,
    )


def simulated_points(study: NationalStudy, allocation: Mapping[str, int]) -> set[Point]:
    """The catchments an allocation simulates: those with posts, with what they receive."""
    inflow = study.inflow(allocation)
    return {(c, k, inflow.get(c, 0)) for c, k in allocation.items() if k > 0}


# -- the counts of the catchments ---------------------------------------------------


class CatchmentCounts:
    """Per-year counts (:data:`COUNTS`) of each simulated catchment, by coverage model
    and replication, read from the stored replications of national plans (the first,
    and those :meth:`add` joins: the runs of the posts that receive persons saturated
    posts pass on); and those of catchments without a post, drawn here.

    Under cross-border service a catchment with posts also serves persons of other
    catchments (its ``*_from_neighbour`` populations).  They are counted where they
    live: their outcomes are shared among the catchments they came from in proportion
    to the population each sent.  Their origins are independent marks of one Poisson
    stream, so the shares are exact in expectation; the load they add to the posts is
    simulated, not added afterwards.  A person a saturated post passed on is already
    one of its catchment's persons in need: only the outcome moves, from expired
    unreached to what the other post made of it (:func:`_attributed`)."""

    def __init__(
        self, study: NationalStudy, plan: ExperimentPlan, replications_table: pa.Table
    ) -> None:
        self.study = study
        self.replications = plan.spec.replications
        self._neighbours = (
            tuple(neighbour_population(n) for n in study.model.config.demand_per_100k)
            if study.cross_border
            else ()
        )
        self._passed_groups = (
            tuple(passed_on_population(n) for n in study.model.config.demand_per_100k)
            if study.model.config.cross_border.pass_on_saturated and study.cross_border
            else ()
        )
        self._point: dict[tuple[str, str, int, int, int], tuple[int, int]] = {}
        self._sources: list[dict[tuple[str, str], dict[str, np.ndarray]]] = []
        self._no_post: dict[tuple[str, float], dict[str, np.ndarray]] = {}
        self._flows: dict[tuple[str, tuple[tuple[str, int], ...]], Flows | None] = {}
        self.add(plan, replications_table)

    def add(self, plan: ExperimentPlan, replications_table: pa.Table) -> None:
        """Join the stored replications of another plan of catchment runs."""
        if plan.spec.replications != self.replications:
            raise ValueError(
                f"a plan of {plan.spec.replications} replications cannot join counts of "
                f"{self.replications}"
            )
        source = len(self._sources)
        for p in plan.points:
            key = (
                p.values["catchment"],
                int(p.values["posts"]),
                int(p.values.get("inflow_population", 0)),
                int(p.values.get("passed_on_population", 0)),
            )
            for coverage in plan.labels:
                self._point[(coverage, *key)] = (source, p.index)
        # Distinct, as index_in maps a repeated name to its first place only.
        wanted = tuple(dict.fromkeys((ALL, *self._neighbours, *self._passed_groups)))
        # One grid (coverage, group, measure, point, replication) filled in one pass: a
        # national table has millions of rows, and a mask per grid cost seconds.
        codes = [
            _codes(replications_table[column], keys)
            for column, keys in (
                ("scenario", plan.labels),
                ("population", wanted),
                ("metric", _NEEDED),
            )
        ]
        kept = (codes[0] >= 0) & (codes[1] >= 0) & (codes[2] >= 0)
        grids = np.full(
            (len(plan.labels), len(wanted), len(_NEEDED), len(plan.points), self.replications),
            np.nan,
        )
        grids[
            codes[0][kept],
            codes[1][kept],
            codes[2][kept],
            replications_table["point"].to_numpy()[kept],
            replications_table["replication"].to_numpy()[kept],
        ] = replications_table["value"].to_numpy()[kept]
        values: dict[tuple[str, str], dict[str, np.ndarray]] = {
            (coverage, group): {name: grids[c, g, m] for m, name in enumerate(_NEEDED)}
            for c, coverage in enumerate(plan.labels)
            for g, group in enumerate(wanted)
        }
        self._sources.append(values)
        self._flows.clear()

    def _persons(
        self, coverage: str, point: int, group: str, source: int = 0
    ) -> dict[str, np.ndarray]:
        """The counts of one population (or every one) of a simulated catchment that
        belong to persons, not to posts."""
        grids = self._sources[source][(coverage, group)]
        v = {name: grid[point] for name, grid in grids.items()}
        referred = np.nan_to_num(v["referred"])
        return {
            "cases": v["cases"],
            "servable": v["servable"],
            "referred": v["referred"],
            "met": v["met"] + v["met_late"],
            "met_late": v["met_late"],
            "unmet": v["unmet"],
            "within_24h": contacted_within(v["within_24h_share"], referred),
            **{o.label: v[o.label] for o in UNMET_OUTCOMES},
            "couple_violence_met": v["couple_violence_met_per_year"],
        }

    def has(self, coverage: str, point: Point) -> bool:
        """Whether a catchment run is stored."""
        return (coverage, *_full(point)) in self._point

    def of(
        self, coverage: str, catchment_id: str, posts: int, inflow: int = 0, passed: int = 0
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """The counts of one catchment (one value per replication) for its own persons,
        and those of the persons it received from catchments without a post (None if it
        received none); those saturated posts passed it are :meth:`passed_of`'s."""
        if posts == 0:
            return self.no_post(catchment_id), None
        source, point = self._point[(coverage, catchment_id, posts, inflow, passed)]
        counts = self._persons(coverage, point, ALL, source)
        received = None
        if inflow and self._neighbours:
            received = self._groups(coverage, point, source, self._neighbours)
            counts = {name: counts[name] - received[name] for name in counts}
        if passed:
            others = self._groups(coverage, point, source, self._passed_groups)
            counts = {name: counts[name] - others[name] for name in counts}
        system = self._sources[source][(coverage, ALL)]
        if received is None and not passed:
            # The post-level measure times the posts: what the model without
            # cross-border service summed, to the last bit.
            counts["couple_violence_met"] = system["couple_violence_per_post_year"][point] * posts
        counts.update(
            {
                "no_post": np.zeros(self.replications),
                "across_border": np.zeros(self.replications),
                "met_across_border": np.zeros(self.replications),
                "passed_on": np.zeros(self.replications),
                "met_passed_on": np.zeros(self.replications),
                "posts": np.full(self.replications, float(posts)),
                "cost_eur_per_year": system["cost_eur_per_year"][point],
            }
        )
        return counts, received

    def passed_of(
        self, coverage: str, catchment_id: str, posts: int, inflow: int, passed: int
    ) -> dict[str, np.ndarray]:
        """The counts of the persons saturated posts passed on to a catchment's posts."""
        source, point = self._point[(coverage, catchment_id, posts, inflow, passed)]
        return self._groups(coverage, point, source, self._passed_groups)

    def _groups(
        self, coverage: str, point: int, source: int, groups: Sequence[str]
    ) -> dict[str, np.ndarray]:
        parts = [self._persons(coverage, point, group, source) for group in groups]
        return {name: np.sum([p[name] for p in parts], axis=0) for name in parts[0]}

    def no_post(self, catchment_id: str, uptake: float = 0.0) -> dict[str, np.ndarray]:
        """The counts of a catchment without a post whose persons reach a post elsewhere
        with probability ``uptake`` (drawn once, then kept)."""
        key = (catchment_id, uptake)
        if key not in self._no_post:
            self._no_post[key] = no_post_counts(self.study, catchment_id, self.replications, uptake)
        return self._no_post[key]

    def flows(self, coverage: str, allocation: Mapping[str, int]) -> Flows | None:
        """Where persons go under an allocation: those of the catchments without a post
        and, under ``pass_on_saturated``, those saturated posts pass on, from the runs
        without passing on (which must be stored)."""
        key = (coverage, tuple(sorted(allocation.items())))
        if key not in self._flows:
            self._flows[key] = self._flows_of(coverage, allocation)
        return self._flows[key]

    def _flows_of(self, coverage: str, allocation: Mapping[str, int]) -> Flows | None:
        study = self.study
        flows = study.flows(allocation)
        if flows is None or not study.model.config.cross_border.pass_on_saturated:
            return flows
        inflow = flows.whole_inflow()
        expired: dict[str, float] = {}
        in_need: dict[str, float] = {}
        for cid, posts in allocation.items():
            if posts > 0:
                own, _ = self.of(coverage, cid, posts, inflow.get(cid, 0))
                expired[cid] = float(np.mean(own[Outcome.CALLBACK_EXPIRED.label]))
                in_need[cid] = float(np.mean(own["servable"]))
        # Persons passed on are all in need and referred (PASSED_ON_SUFFIX).
        need = sum(study.model.config.demand_per_100k.values()) / 100_000
        passed = passed_on_flows(
            study.catchments,
            allocation,
            study.neighbourhood,
            study.model.config.cross_border,
            expired,
            in_need,
            need,
        )
        return flows.with_passed_on(passed)

    def points(self, coverage: str, allocation: Mapping[str, int]) -> set[Point]:
        """The catchment runs an allocation needs under ``coverage``: those of
        :func:`simulated_points`, or, with persons passed on, what each post receives
        in all."""
        flows = self.flows(coverage, allocation)
        inflow = flows.whole_inflow() if flows is not None else {}
        passed = flows.whole_passed_inflow() if flows is not None else {}
        return {(c, k, inflow.get(c, 0), passed.get(c, 0)) for c, k in allocation.items() if k > 0}

    def national(
        self, coverage: str, allocation: Mapping[str, int]
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], Contributions]:
        """National sums (one value per replication; ``departement_servable`` and
        ``departement_unmet`` one row of départements per replication), each
        catchment's counts, persons counted where they live, and what each catchment's
        own random streams contribute to the sums (its run, the persons it received
        included, or its draw without a post: ``sim.national.variance``)."""
        flows = self.flows(coverage, allocation)
        inflow = flows.whole_inflow() if flows is not None else {}
        passed = flows.whole_passed_inflow() if flows is not None else {}
        per_catchment: dict[str, dict[str, np.ndarray]] = {}
        received: dict[str, dict[str, np.ndarray]] = {}
        handed: dict[str, dict[str, np.ndarray]] = {}
        for c in self.study.catchments:
            cid = c.catchment_id
            if allocation[cid] > 0:
                where = (cid, allocation[cid], inflow.get(cid, 0), passed.get(cid, 0))
                own, got = self.of(coverage, *where)
                per_catchment[cid] = own
                if got is not None:
                    received[cid] = got
                if where[3]:
                    handed[cid] = self.passed_of(coverage, *where)
            else:
                uptake = flows.uptake.get(cid, 0.0) if flows is not None else 0.0
                per_catchment[cid] = dict(self.no_post(cid, uptake))
        # Before the received persons are added where they live (new arrays are
        # added, never in place, so a shallow copy keeps these).
        own_counts = {cid: dict(counts) for cid, counts in per_catchment.items()}
        for _, origin, added in _attributions(flows, received, handed):
            counts = per_catchment[origin]
            for name, values in added.items():
                counts[name] = counts[name] + values
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
        contributions = self._contributions(flows, own_counts, received, handed, column)
        return totals, per_catchment, contributions

    def _contributions(
        self,
        flows: Flows | None,
        own_counts: Mapping[str, Mapping[str, np.ndarray]],
        received: Mapping[str, Mapping[str, np.ndarray]],
        handed: Mapping[str, Mapping[str, np.ndarray]],
        column: Mapping[str, int],
    ) -> Contributions:
        """What each catchment's streams add to the national sums: its own persons'
        counts and, for a post that received persons, theirs, in the départements they
        came from."""
        catchments = self.study.catchments
        index = {c.catchment_id: k for k, c in enumerate(catchments)}
        shape = (len(catchments), self.replications)
        sums = {name: np.zeros(shape) for name in COUNTS}
        grids = {name: np.zeros((*shape, len(column))) for name in ("servable", "unmet")}
        for k, c in enumerate(catchments):
            own = own_counts[c.catchment_id]
            for name in COUNTS:
                sums[name][k] += own[name]
            for name in grids:
                grids[name][k, :, column[c.departement]] += own[name]
        for destination, origin, added in _attributions(flows, received, handed):
            k = index[destination]
            for name, values in added.items():
                sums[name][k] += values
            where = column[catchments[index[origin]].departement]
            for name in grids:
                if name in added:
                    grids[name][k, :, where] += added[name]
        return Contributions(tuple(index), sums, grids)


def _attributions(
    flows: Flows | None,
    received: Mapping[str, Mapping[str, np.ndarray]],
    handed: Mapping[str, Mapping[str, np.ndarray]],
) -> Iterator[tuple[str, str, dict[str, np.ndarray]]]:
    """(post, origin, what the origin's share of the post's received persons adds to
    the origin's counts), for the persons of catchments without a post, then for those
    saturated posts passed on."""
    if flows is None:
        return
    for destination, got in received.items():
        for origin, share in flows.origins(destination).items():
            yield destination, origin, _attributed(got, share, passed_on=False)
    for destination, got in handed.items():
        for origin, share in flows.passers(destination).items():
            yield destination, origin, _attributed(got, share, passed_on=True)


_PASSED_ON_OUTCOMES = ("met", "unmet", *(o.label for o in UNMET_OUTCOMES), "couple_violence_met")


def _attributed(
    got: Mapping[str, np.ndarray], share: float, passed_on: bool
) -> dict[str, np.ndarray]:
    """What a post's received persons add to the counts of an origin that sent a
    ``share`` of them: everything, for a catchment without a post (its draw left them
    out); for a saturated post that passed them on, only their outcomes, in place of
    the expired referrals they were (in need and referred they already are; contacted
    they are, but late, days after their first referral, and never within 24 h of it).
    A replication's passed-on persons are drawn at the post that receives them, so an
    origin's expired may fall below zero in one replication; it is exact in
    expectation, and every person is counted once in every replication."""
    if not passed_on:
        added = {name: share * values for name, values in got.items()}
        added["across_border"] = share * got["servable"]
        added["met_across_border"] = share * got["met"]
        return added
    moved = share * got["servable"]
    added = {name: share * got[name] for name in _PASSED_ON_OUTCOMES}
    added["met_late"] = added["met"]
    added["unmet"] = added["unmet"] - moved
    expired = Outcome.CALLBACK_EXPIRED.label
    added[expired] = added[expired] - moved
    added["across_border"] = moved
    added["met_across_border"] = added["met"]
    added["passed_on"] = moved
    added["met_passed_on"] = added["met"]
    return added


def contacted_within(share: np.ndarray, referred: np.ndarray) -> np.ndarray:
    """Persons contacted within the threshold, from the share of the referred (a
    catchment that referred nobody in a replication has no share, and no one)."""
    return np.where(referred > 0, np.nan_to_num(share) * referred, 0.0)


def no_post_counts(
    study: NationalStudy, catchment_id: str, replications: int, uptake: float = 0.0
) -> dict[str, np.ndarray]:
    """The counts (:data:`COUNTS`) of a catchment without a post, one value per
    replication: its persons reaching a station (Poisson, over the measurement windows
    of the coverage models' scenarios) and, among them, those an officer would have
    referred to a reachable worker (binomial; the first coverage model's referral
    probabilities, so that every coverage model counts the same persons): in need, and
    unmet for want of a post.  Under cross-border service a share ``uptake`` of them
    reach a post elsewhere and are counted there: these are the others."""
    catchment = study.catchment(catchment_id)
    scenario = next(iter(study.model.scenarios.values()))
    # Every window of a replication: the counts a year are the mean over its windows.
    years = scenario.simulation.run_days * scenario.simulation.windows / DAYS_PER_YEAR
    seed = catchment_seed(study.seed, catchment_id)
    cases = np.zeros(replications)
    servable = np.zeros(replications)
    for r in range(replications):
        rng = stream(seed, r, "no_post_demand")
        for name, per_year in study.arrivals_per_year(catchment).items():
            arrived = rng.poisson(per_year * years * (1.0 - uptake))
            cases[r] += arrived
            servable[r] += rng.binomial(arrived, scenario.populations[name].referral.probability)
    counts = {name: np.zeros(replications) for name in COUNTS}
    counts["cases"] = cases / years
    for name in ("servable", "unmet", "no_post"):
        counts[name] = servable / years
    return counts


def _codes(column: pa.ChunkedArray | pa.Array, keys: Sequence[str]) -> np.ndarray:
    """Each value's index in ``keys``, -1 where it is not one of them."""
    found = pc.index_in(column, value_set=pa.array(list(keys), type=pa.string()))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.intp)


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
    "couple_violence_met_per_year",
    "couple_violence_per_post_year",
)
