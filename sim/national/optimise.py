"""The optimised allocation: greedy on simulated response curves.

A catchment's response curve is its unmet persons a year (or its persons in need not
contacted within 24 h) against its number of posts.  Starting from an allocation (none,
or today's), each next post goes to the catchment whose curve falls most with one post
more (greedy marginal allocation, ties to the catchment listed first).  Greedy is
optimal when every curve is convex (decreasing returns); simulated curves are only
nearly so, which is why the result is always checked by simulating the chosen
allocation afresh, against the fixed rules, with paired intervals.

The curves come from *training* replications: replication indices
``TRAINING_REPLICATIONS_FROM`` onwards, which the evaluation never uses, so that the
check is not flattered by the noise the optimiser chased.  Points of a curve are
simulated only where the greedy needs them (the next post of each catchment), in
rounds run in parallel, and kept in ``training.parquet`` as they are found, so that an
interrupted optimisation loses nothing.  With no post a catchment's curve is its
expected persons in need (no simulation needed).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.config.schema import Scenario
from sim.measures.catalogue import ALL
from sim.national.run import NationalStudy, catchment_scenario, contacted_within
from sim.pipeline.backends import Backend, run_all
from sim.pipeline.tasks import run_replication

__all__ = [
    "EQUITY_PREFIX",
    "OBJECTIVES",
    "TRAINING_REPLICATIONS_FROM",
    "GreedyEstimate",
    "ResponseCurves",
    "equity_turns",
    "greedy_allocation",
]

Objective = Literal["unmet", "not_within_24h"]
OBJECTIVES: tuple[str, ...] = ("unmet", "not_within_24h", "equity", "mix")
"""What ``--objective`` takes: the first two are a catchment curve's quantity, summed
over the country; ``equity`` minimises the worst département's unmet share first
(equity weight 1) and ``mix`` deals a share of the posts that way and the rest for the
national unmet (``--equity-weight``)."""
TRAINING_REPLICATIONS_FROM = 1_000_000
EQUITY_PREFIX = "optimised_equity_"
"""How the tables name the optimised rule at an equity weight (``optimised_equity_0.5``)."""
_LOOK_AHEAD = 2  # levels simulated beyond the one the greedy needs, per round
_ROUND_WIDTH = 16  # catchments next in line whose curves a round extends too


def training_job(task: tuple[Scenario, int]) -> tuple[float, float]:
    """Unmet persons and persons not contacted within 24 h, a year, of one training
    replication (module level, so that a process pool can run it)."""
    scenario, replication = task
    measures = run_replication(scenario, replication).measures
    chosen = measures["population"] == ALL
    values = dict(zip(measures["metric"][chosen], measures["value"][chosen], strict=True))
    within = contacted_within(np.array(values["within_24h_share"]), np.array(values["referred"]))
    return float(values["unmet"]), float(values["servable"] - within)


@dataclass
class ResponseCurves:
    """The simulated points of every catchment's curves under one coverage model:
    ``(catchment, posts) -> (unmet, not within 24 h)``, means of the training
    replications, persons a year."""

    study: NationalStudy
    coverage: str
    replications: int
    points: dict[tuple[str, int], tuple[float, float]]
    path: Path | None = None

    @property
    def digest(self) -> str:
        """What the curves depend on: the coverage model's scenario, the territory, the
        demand, the catchment rule and the seed.  Points saved under another digest (a
        config edited, a ``--set``) are never reused."""
        config = self.study.model.config
        content = {
            "scenario": self.study.documents[self.coverage],
            "catchments": [
                (c.catchment_id, c.population, c.travel_minutes) for c in self.study.catchments
            ],
            "demand": config.demand_per_100k,
            "seed": config.seed,
            "replications": self.replications,
        }
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def load(
        cls, study: NationalStudy, coverage: str, replications: int, path: Path | None
    ) -> ResponseCurves:
        curves = cls(study, coverage, replications, {}, path)
        if path is not None and path.is_file():
            for row in pq.read_table(path).to_pylist():
                if row.get("digest") == curves.digest:
                    curves.points[(row["catchment"], row["posts"])] = (
                        row["unmet"],
                        row["not_within_24h"],
                    )
        return curves

    def value(self, catchment_id: str, posts: int, objective: Objective) -> float:
        if posts == 0:
            return self._in_need(catchment_id)
        unmet, late = self.points[(catchment_id, posts)]
        return unmet if objective == "unmet" else late

    def _in_need(self, catchment_id: str) -> float:
        catchment = self.study.catchment(catchment_id)
        scenario = self.study.model.scenarios[self.coverage]
        return sum(
            per_year * scenario.populations[name].referral.probability
            for name, per_year in self.study.arrivals_per_year(catchment).items()
        )

    def simulate(self, wanted: list[tuple[str, int]], backend: Backend) -> None:
        """Simulate the points not known yet, then save every point."""
        wanted = [w for w in dict.fromkeys(wanted) if w not in self.points]
        if not wanted:
            return
        tasks = []
        for catchment_id, posts in wanted:
            catchment = self.study.catchment(catchment_id)
            scenario = catchment_scenario(self.study, self.coverage, catchment, posts, 1)
            tasks.extend(
                (scenario, TRAINING_REPLICATIONS_FROM + r) for r in range(self.replications)
            )
        outputs = np.asarray(run_all(backend, tasks, training_job), dtype=float)
        outputs = outputs.reshape(len(wanted), self.replications, 2).mean(axis=1)
        for key, (unmet, late) in zip(wanted, outputs, strict=True):
            self.points[key] = (float(unmet), float(late))
        if self.path is not None:
            self._save(self.path)

    def _save(self, path: Path) -> None:
        digest = self.digest
        rows = [
            {
                "digest": digest,
                "coverage": self.coverage,
                "replications": self.replications,
                "catchment": c,
                "posts": k,
                "unmet": u,
                "not_within_24h": w,
            }
            for (c, k), (u, w) in self.points.items()
        ]
        if path.is_file():
            kept = [r for r in pq.read_table(path).to_pylist() if r.get("digest") != digest]
            rows = kept + rows
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        pq.write_table(pa.Table.from_pylist(rows), partial)
        partial.replace(path)  # an interruption leaves the previous rounds whole


class GreedyEstimate:
    """The greedy's estimate of the national quantity under an allocation, by
    département (persons counted where they live).

    A catchment with posts counts its curve's value.  Without cross-border service a
    catchment without a post counts its persons in need; with it, those less the ones
    who reach a post elsewhere (its uptake, :mod:`sim.national.neighbours`) and are
    contacted there, at the share of its own persons that post's curve says it
    contacts.  What those persons add to the post's load is left out (second order:
    they are a few % of its persons); the chosen allocation is simulated afresh with it.
    """

    def __init__(
        self, curves: ResponseCurves, counts: dict[str, int], objective: Objective
    ) -> None:
        self.curves = curves
        self.counts = counts
        self.objective = objective
        study = curves.study
        self.home = {c.catchment_id: c.departement for c in study.catchments}
        self.order = {c.catchment_id: k for k, c in enumerate(study.catchments)}
        self.neighbourhood = study.neighbourhood
        self.rule = study.model.config.cross_border
        self.in_departement: dict[str, list[str]] = {}
        for c in study.catchments:
            self.in_departement.setdefault(c.departement, []).append(c.catchment_id)
        self.posts_in: dict[str, dict[str, int]] = {}
        for cid, k in counts.items():
            if k > 0:
                self.posts_in.setdefault(self.home[cid], {})[cid] = k
        self._areas: dict[str, tuple[str, ...]] = {}

    def value(self, cid: str) -> float:
        """The catchment's estimated quantity (persons a year) at its current posts."""
        k = self.counts[cid]
        curves, objective = self.curves, self.objective
        if k > 0 or self.neighbourhood is None:
            return curves.value(cid, k, objective)
        need = curves.value(cid, 0, objective)
        for minutes, departement in self.neighbourhood.reach(
            self.home[cid], self.rule.minutes_per_km
        ):
            posts = self.posts_in.get(departement)
            if posts:
                total = sum(posts.values())
                contacted = sum(
                    n / total * (1 - curves.value(d, n, objective) / curves.value(d, 0, objective))
                    for d, n in posts.items()
                )
                return need * (1 - self.rule.uptake(minutes) * contacted)
        return need

    def area(self, cid: str) -> tuple[str, ...]:
        """The catchments whose value a post in ``cid`` can change: ``cid`` alone, or
        under cross-border service every catchment of its département and of those
        it touches."""
        if cid not in self._areas:
            if self.neighbourhood is None:
                self._areas[cid] = (cid,)
            else:
                home = self.home[cid]
                places = (home, *self.neighbourhood.neighbours.get(home, ()))
                self._areas[cid] = tuple(x for d in places for x in self.in_departement[d])
        return self._areas[cid]

    def gain(self, cid: str) -> dict[str, float]:
        """How much one more post in ``cid`` lowers each département's quantity."""
        area = self.area(cid)
        before = [self.value(x) for x in area]
        self.add(cid, 1)
        after = [self.value(x) for x in area]
        self.add(cid, -1)
        out: dict[str, float] = {}
        for x, b, a in zip(area, before, after, strict=True):
            if b != a:
                out[self.home[x]] = out.get(self.home[x], 0.0) + b - a
        return out

    def add(self, cid: str, posts: int) -> None:
        """Give ``cid`` ``posts`` more posts (negative: take them back)."""
        self.counts[cid] += posts
        held = self.posts_in.setdefault(self.home[cid], {})
        if self.counts[cid] > 0:
            held[cid] = self.counts[cid]
        else:
            held.pop(cid, None)

    def affected(self, cid: str) -> tuple[str, ...]:
        """The catchments whose gain a post in ``cid`` can change: those whose area
        overlaps its area (within two départements' reach)."""
        if self.neighbourhood is None:
            return (cid,)
        seen = dict.fromkeys(x for y in self.area(cid) for x in self.area(y))
        return tuple(seen)


def greedy_allocation(
    curves: ResponseCurves,
    posts: int,
    backend: Backend,
    objective: Objective = "unmet",
    start: Mapping[str, int] | None = None,
    guess: Mapping[str, int] | None = None,
    on_round: Callable[[int, int], None] | None = None,
    equity_weight: float = 0.0,
) -> dict[str, int]:
    """``posts`` posts in all, the posts of ``start`` kept, the others dealt greedily:
    each to the catchment where it lowers the national quantity most
    (:class:`GreedyEstimate`, which under cross-border service counts the persons a
    post draws from catchments without one).  ``guess`` (e.g. the proportional
    allocation) says which points to simulate in the first round.

    With ``equity_weight`` w > 0 a share w of the posts dealt goes to the worst-off
    département first (its catchment where a post brings the largest fall, so at w = 1
    this is water-filling, the greedy of the smallest maximum when the curves fall
    with more posts) and the others to the largest fall in the national quantity,
    interleaved evenly (post k is an equity post when ``floor(k w)`` steps up). A share
    of posts rather than a weight on two shares: a post moves a small département's
    share a hundred times more than the national one, so any weight on those two would
    put the worst-off first almost always."""
    if not 0.0 <= equity_weight <= 1.0:
        raise ValueError(f"equity_weight {equity_weight}: allowed 0 to 1")
    catchments = [c.catchment_id for c in curves.study.catchments]
    counts = {c: (start or {}).get(c, 0) for c in catchments}
    to_deal = posts - sum(counts.values())
    if to_deal < 0:
        raise ValueError(f"the start allocation has more than {posts} posts")
    first = []
    for c in catchments:
        deepest = max(counts[c], (guess or {}).get(c, 0)) + 1
        # The current level too: a start allocation's levels are not simulated yet.
        first.extend((c, k) for k in range(max(counts[c], 1), deepest + 1))
    rounds = 1
    curves.simulate(first, backend)
    if on_round is not None:
        on_round(rounds, len(curves.points))
    estimate = GreedyEstimate(curves, counts, objective)

    def extend(chosen: str, next_in_line: list[str]) -> None:
        # One round for this catchment and for the next few in line that would soon
        # need one too: a round per post would spend its time starting pools.
        nonlocal rounds
        rounds += 1
        wanted = [(chosen, counts[chosen] + j) for j in range(1, _LOOK_AHEAD + 2)]
        for c in next_in_line:
            if (c, counts[c] + 2) not in curves.points:
                wanted.extend((c, counts[c] + j) for j in range(2, _LOOK_AHEAD + 3))
        curves.simulate(wanted, backend)
        if on_round is not None:
            on_round(rounds, len(curves.points))

    if equity_weight > 0:
        _deal_for_equity(estimate, to_deal, equity_weight, extend)
        return counts
    gains = {c: sum(estimate.gain(c).values()) for c in catchments}
    for _ in range(to_deal):
        # The largest fall, then the catchment listed first.
        ranked = sorted(catchments, key=lambda c: (-gains[c], estimate.order[c]))
        chosen = ranked[0]
        estimate.add(chosen, 1)
        if (chosen, counts[chosen] + 1) not in curves.points:
            extend(chosen, ranked[1 : _ROUND_WIDTH + 1])
        for c in estimate.affected(chosen):
            gains[c] = sum(estimate.gain(c).values())
    return counts


def equity_turns(posts: int, weight: float) -> list[bool]:
    """Which of ``posts`` posts, dealt in order, go to the worst-off département at
    equity weight ``weight``: ``floor(posts * weight)`` of them, spread evenly (post k
    is one when ``floor(k * weight)`` steps up)."""
    # Rounded before the floor so that a weight such as 0.3 turns on the same posts
    # as its exact fraction would.
    return [
        math.floor(round((k + 1) * weight, 9)) > math.floor(round(k * weight, 9))
        for k in range(posts)
    ]


def _deal_for_equity(
    estimate: GreedyEstimate,
    to_deal: int,
    weight: float,
    extend: Callable[[str, list[str]], None],
) -> None:
    """Deal ``to_deal`` posts, a share ``weight`` of them to the worst-off département
    first, as :func:`greedy_allocation` says (every catchment is looked at each time:
    the worst département changes as posts are dealt)."""
    curves, counts, objective = estimate.curves, estimate.counts, estimate.objective
    catchments = list(estimate.order)
    home = estimate.home
    need: dict[str, float] = {}
    left: dict[str, float] = {}
    for c in catchments:
        need[home[c]] = need.get(home[c], 0.0) + curves.value(c, 0, objective)
        left[home[c]] = left.get(home[c], 0.0) + estimate.value(c)
    national_need = sum(need.values())
    gains = {c: estimate.gain(c) for c in catchments}
    for for_equity in equity_turns(to_deal, weight):
        shares = {d: left[d] / need[d] if need[d] > 0 else 0.0 for d in need}
        worst = max(shares.values())
        worth = []
        for index, c in enumerate(catchments):
            total = sum(gains[c].values())
            if for_equity:
                own = max(
                    (g / need[d] for d, g in gains[c].items() if shares[d] == worst and need[d]),
                    default=0.0,
                )
            else:
                own = total / national_need
            # Highest worth first, then the largest fall in the national quantity,
            # then the catchment listed first.
            worth.append((-own, -total, index, c))
        worth.sort()
        chosen = worth[0][3]
        for d, g in gains[chosen].items():
            left[d] -= g
        estimate.add(chosen, 1)
        if (chosen, counts[chosen] + 1) not in curves.points:
            extend(chosen, [c for *_, c in worth[1 : _ROUND_WIDTH + 1]])
        for c in estimate.affected(chosen):
            gains[c] = estimate.gain(c)
