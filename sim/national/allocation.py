"""Allocation rules: how a national number of posts is dealt to catchments.

Every rule deals posts one at a time by the highest quotient (Sainte-Laguë: the next
post goes where ``weight / (2 * posts + 1)`` is largest, ties to the catchment listed
first), so that each rule is *house-monotone*: the allocation at N + 1 posts is the one
at N plus one post, and a scale-up never takes a post away.

- ``proportional``: weights are the catchments' populations.
- ``historical_2013``: the 2013 map. Police districts weigh their population,
  gendarmerie areas ``rural_weight`` times theirs (the first posts, 2006-2013, went to
  commissariats [S6]). Up to the 2013 count (``posts``, 175 [S1]) the source's facts
  bind: the départements it fixes (Paris 4, Val-de-Marne 0 [S6]) hold exactly their
  posts, the others of least weight are left without one up to the 33 of [S6], every
  other département gets at least one (its first post comes in the last rounds if the
  weights have not given it one), and the police zones' turn follows their share of
  posts (0.66 [C1]). Beyond 175 the 2013 map grows where it is, in proportion to its
  posts: a counterfactual, since by 2023 every département had a post [C5].
- ``two_per_departement_first``: the 2022 target; ``posts_per_departement`` posts for
  every département first (within it by population), then proportional.
- ``optimised``: greedy on the marginal gain of simulated response curves
  (:mod:`sim.national.optimise`).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.config.errors import ConfigError
from sim.national.catchments import Catchment
from sim.national.config import Allocation, Historical

__all__ = [
    "RULES",
    "RULE_TITLES",
    "allocate",
    "departements_without_post",
    "highest_quotient",
    "historical_facts",
    "minimum_posts",
    "posts_by_departement",
]

RULES = ("historical_2013", "proportional", "two_per_departement_first", "optimised")
RULE_TITLES = {
    "historical_2013": "2013 map, grown where it was",
    "proportional": "in proportion to population",
    "two_per_departement_first": "two per département first",
    "optimised": "optimised (national unmet)",
}
"""Each rule in the few words of a figure's legend (the web page says more)."""


def highest_quotient(
    weights: Sequence[float], posts: int, start: Sequence[int] | None = None
) -> np.ndarray:
    """``posts`` more posts dealt by Sainte-Laguë on ``weights``, after ``start``."""
    counts = np.zeros(len(weights), dtype=np.int64) if start is None else np.array(start)
    heap = [(-w / (2 * counts[i] + 1), i) for i, w in enumerate(weights) if w > 0]
    heapq.heapify(heap)
    for _ in range(posts):
        if not heap:
            raise ValueError("no catchment has a positive weight")
        _, i = heapq.heappop(heap)
        counts[i] += 1
        heapq.heappush(heap, (-weights[i] / (2 * counts[i] + 1), i))
    return counts


def minimum_posts(rule: str, catchments: Sequence[Catchment], constants: Allocation) -> int:
    """The fewest posts ``rule`` can deal (one for every rule but the per-département
    floor)."""
    if rule == "two_per_departement_first":
        departements = len({c.departement for c in catchments})
        return constants.posts_per_departement * departements
    return 1


def allocate(
    rule: str,
    posts: int,
    catchments: Sequence[Catchment],
    constants: Allocation,
    where: str = "--allocation",
) -> dict[str, int]:
    """Posts per catchment (every catchment, zeros included) under a fixed rule."""
    if rule not in RULES or rule == "optimised":
        fixed = [r for r in RULES if r != "optimised"]
        raise ConfigError(f"{where} {rule}: not a fixed allocation rule; known: {fixed}")
    least = minimum_posts(rule, catchments, constants)
    if posts < least:
        raise ConfigError(
            f"--posts {posts}: {rule} needs at least {least} posts "
            f"({constants.posts_per_departement} for each département)"
            if rule == "two_per_departement_first"
            else f"--posts {posts}: must be at least 1"
        )
    population = [c.population for c in catchments]
    if rule == "proportional":
        counts = highest_quotient(population, posts)
    elif rule == "historical_2013":
        counts = _historical(posts, catchments, constants.historical_2013)
    else:
        counts = np.zeros(len(catchments), dtype=np.int64)
        for code in dict.fromkeys(c.departement for c in catchments):
            own = [i for i, c in enumerate(catchments) if c.departement == code]
            share = highest_quotient([population[i] for i in own], constants.posts_per_departement)
            counts[own] = share
        counts = highest_quotient(population, posts - int(counts.sum()), start=counts)
    return {c.catchment_id: int(k) for c, k in zip(catchments, counts, strict=True)}


def _historical(posts: int, catchments: Sequence[Catchment], facts: Historical) -> np.ndarray:
    # One post at a time by the highest quotient of the catchments' weights (a police
    # district its population, a gendarmerie area ``rural_weight`` times its own), so
    # the rule stays house-monotone; while the posts dealt are within the 2013 count
    # the facts bind: which départements have none, which have a fixed number, and
    # which zone's turn it is (Sainte-Laguë between the police and gendarmerie pools);
    # beyond it the 2013 map grows where it is, in proportion to its posts.
    weights = np.array(
        [c.population * (1.0 if c.kind == "police" else facts.rural_weight) for c in catchments]
    )
    police = np.array([c.kind == "police" for c in catchments])
    codes = list(dict.fromkeys(c.departement for c in catchments))
    where = {code: k for k, code in enumerate(codes)}
    of = np.array([where[c.departement] for c in catchments])
    need, excluded = _historical_needs(codes, np.bincount(of, weights, len(codes)), facts)
    counts = np.zeros(len(catchments), dtype=np.int64)
    held = np.zeros(len(codes), dtype=np.int64)
    for n in range(1, posts + 1):
        candidates = weights > 0
        if facts.posts is not None and n <= facts.posts:
            candidates &= ~excluded[of] & (held < need.cap)[of]
            short = np.maximum(need.floor - held, 0)
            if short.sum() >= facts.posts - n + 1:
                candidates &= (short > 0)[of]  # the last posts fill what the facts still need
            if facts.police_share is not None:
                in_police = int(counts[police].sum())
                police_turn = facts.police_share / (2 * in_police + 1) >= (
                    1 - facts.police_share
                ) / (2 * (n - 1 - in_police) + 1)
                pool = candidates & (police == police_turn)
                candidates = pool if pool.any() else candidates
        if facts.posts is not None and n == facts.posts + 1:
            weights = counts.astype(float)  # the 2013 map grows where it is
            candidates = weights > 0
        if not candidates.any():
            raise ValueError("no catchment can take another post")
        quotient = np.where(candidates, weights / (2 * counts + 1), -np.inf)
        best = int(np.argmax(quotient))  # ties to the catchment listed first
        counts[best] += 1
        held[of[best]] += 1
    return counts


@dataclass(frozen=True)
class _Needs:
    """Posts each département must hold (``floor``) and may hold (``cap``) at the 2013
    count."""

    floor: np.ndarray
    cap: np.ndarray


def _historical_needs(
    codes: list[str], departement_weight: np.ndarray, facts: Historical
) -> tuple[_Needs, np.ndarray]:
    """The 2013 facts as per-département floors and caps, and the départements left
    without a post: those the facts fix at 0, then the least weighty others."""
    unbounded = np.iinfo(np.int64).max
    floor = np.zeros(len(codes), dtype=np.int64)
    cap = np.full(len(codes), unbounded, dtype=np.int64)
    excluded = np.zeros(len(codes), dtype=bool)
    for k, code in enumerate(codes):
        if code in facts.fixed_posts:
            floor[k] = cap[k] = facts.fixed_posts[code]
            excluded[k] = facts.fixed_posts[code] == 0
    if facts.departements_without_post is not None:
        free = [k for k, code in enumerate(codes) if code not in facts.fixed_posts]
        more = facts.departements_without_post - int(excluded.sum())
        for k in sorted(free, key=lambda k: (departement_weight[k], k))[:more]:
            excluded[k] = True
        floor[[k for k in free if not excluded[k]]] = 1
    return _Needs(floor, cap), excluded


def posts_by_departement(
    allocation: Mapping[str, int], catchments: Sequence[Catchment]
) -> dict[str, int]:
    """Posts in each département (zeros included), in the catchments' order."""
    posts: dict[str, int] = {}
    for c in catchments:
        posts[c.departement] = posts.get(c.departement, 0) + allocation[c.catchment_id]
    return posts


def departements_without_post(
    allocation: Mapping[str, int], catchments: Sequence[Catchment]
) -> list[str]:
    """Codes of the départements none of whose catchments has a post."""
    posted = {c.departement for c in catchments if allocation[c.catchment_id] > 0}
    return [code for code in dict.fromkeys(c.departement for c in catchments) if code not in posted]


def historical_facts(
    allocation: Mapping[str, int],
    catchments: Sequence[Catchment],
    facts: Historical,
    names: Mapping[str, str] | None = None,
) -> list[tuple[str, str, str]]:
    """Each 2013 fact of ``facts`` beside ``allocation``'s value: (fact, source, map);
    ``names`` are the départements' names by code."""
    names = names or {}
    held: dict[str, int] = {}
    for c in catchments:
        held[c.departement] = held.get(c.departement, 0) + allocation[c.catchment_id]
    rows = [
        (f"posts in {names.get(code, code)}", str(k), str(held.get(code, 0)))
        for code, k in facts.fixed_posts.items()
    ]
    if facts.departements_without_post is not None:
        rows.append(
            (
                "départements without a post",
                str(facts.departements_without_post),
                str(len(departements_without_post(allocation, catchments))),
            )
        )
    if facts.police_share is not None:
        total = sum(allocation.values())
        police = sum(allocation[c.catchment_id] for c in catchments if c.kind == "police")
        rows.append(
            (
                "share of posts in police zones",
                f"{100 * facts.police_share:.0f} %",
                f"{100 * police / total:.1f} %" if total else "n/a",
            )
        )
    return rows
