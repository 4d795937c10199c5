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
import heapq
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
    "ResponseCurves",
    "equity_turns",
    "greedy_allocation",
    "replay_allocation",
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
    """``posts`` posts in all, the posts of ``start`` kept, the others dealt greedily.
    ``guess`` (e.g. the proportional allocation) says which points to simulate in the
    first round.

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
    order = {c: i for i, c in enumerate(catchments)}

    def gain(c: str) -> float:
        return curves.value(c, counts[c], objective) - curves.value(c, counts[c] + 1, objective)

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
        _deal_for_equity(curves, counts, to_deal, objective, equity_weight, gain, extend)
        return counts
    heap = [(-gain(c), order[c], c) for c in catchments]
    heapq.heapify(heap)
    for _ in range(to_deal):
        _, _, chosen = heapq.heappop(heap)
        counts[chosen] += 1
        if (chosen, counts[chosen] + 1) not in curves.points:
            extend(chosen, [c for _, _, c in heapq.nsmallest(_ROUND_WIDTH, heap)])
        heapq.heappush(heap, (-gain(chosen), order[chosen], chosen))
    return counts


class _Untrained(LookupError):
    """The greedy needs a curve point that was never simulated."""


class _StoredPointsOnly:
    """A backend that runs nothing: a greedy given it may only read stored points."""

    stores_in_workers = False
    description = "the stored curve points only"

    def run(self, tasks: object, job: object, on_done: object, on_failed: object) -> None:
        raise _Untrained

    def close(self) -> None:
        pass


def replay_allocation(
    curves: ResponseCurves, posts: int, objective: Objective = "unmet"
) -> dict[str, int] | None:
    """The optimised allocation of ``posts`` posts from no posts, from the curves'
    stored points alone; None where the greedy would need a point never simulated.

    A greedy from no posts deals its first N posts alike whatever its total, and each
    point it reads is a mean of the same training replications whenever it was
    simulated: so, from the points a study kept for N' posts, this is the allocation
    that study finds at any N up to N', without a simulation (the web page's map
    between the stored post counts)."""
    try:
        return greedy_allocation(curves, posts, _StoredPointsOnly(), objective=objective)
    except _Untrained:
        return None


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
    curves: ResponseCurves,
    counts: dict[str, int],
    to_deal: int,
    objective: Objective,
    weight: float,
    gain: Callable[[str], float],
    extend: Callable[[str, list[str]], None],
) -> None:
    """Deal ``to_deal`` posts into ``counts``, a share ``weight`` of them to the worst-off
    département first, as :func:`greedy_allocation` says (every catchment is looked at
    each time: the worst département changes as posts are dealt)."""
    catchments = [c.catchment_id for c in curves.study.catchments]
    departement = {c.catchment_id: c.departement for c in curves.study.catchments}
    need: dict[str, float] = {}
    for c in catchments:
        need[departement[c]] = need.get(departement[c], 0.0) + curves.value(c, 0, objective)
    national_need = sum(need.values())
    left: dict[str, float] = {}
    for c in catchments:
        left[departement[c]] = left.get(departement[c], 0.0) + curves.value(c, counts[c], objective)
    gains = {c: gain(c) for c in catchments}  # only the chosen one's changes
    for for_equity in equity_turns(to_deal, weight):
        shares = {d: left[d] / need[d] if need[d] > 0 else 0.0 for d in need}
        worst = max(shares.values())
        worth = []
        for index, c in enumerate(catchments):
            g = gains[c]
            d = departement[c]
            if for_equity:
                own = g / need[d] if shares[d] == worst and need[d] > 0 else 0.0
            else:
                own = g / national_need
            # Highest worth first, then the largest fall in the national quantity,
            # then the catchment listed first.
            worth.append((-own, -g, index, c))
        worth.sort()
        chosen = worth[0][3]
        left[departement[chosen]] -= gains[chosen]
        counts[chosen] += 1
        if (chosen, counts[chosen] + 1) not in curves.points:
            extend(chosen, [c for *_, c in worth[1 : _ROUND_WIDTH + 1]])
        gains[chosen] = gain(chosen)
