"""Allocation rules: how a national number of posts is dealt to catchments.

Every rule deals posts one at a time by the highest quotient (Sainte-Laguë: the next
post goes where ``weight / (2 * posts + 1)`` is largest, ties to the catchment listed
first), so that each rule is *house-monotone*: the allocation at N + 1 posts is the one
at N plus one post, and a scale-up never takes a post away.

- ``proportional``: weights are the catchments' populations.
- ``historical_2013``: police districts weigh their population, gendarmerie areas
  ``historical_rural_weight`` times theirs: the first posts (2006-2013) went to
  commissariats, which at 175 posts leaves about a third of the départements without
  one [S6] (``station-sim national --allocation historical_2013`` prints the count).
  Beyond 175 posts it continues the 2013 pattern, a counterfactual: by 2023 every
  département had a post [C5].
- ``two_per_departement_first``: the 2022 target; ``posts_per_departement`` posts for
  every département first (within it by population), then proportional.
- ``optimised``: greedy on the marginal gain of simulated response curves
  (:mod:`sim.national.optimise`).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

import numpy as np

from sim.config.errors import ConfigError
from sim.national.catchments import Catchment
from sim.national.config import Allocation

__all__ = ["RULES", "allocate", "highest_quotient", "minimum_posts"]

RULES = ("historical_2013", "proportional", "two_per_departement_first", "optimised")


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
        counts = _historical(posts, catchments, constants.historical_rural_weight)
    else:
        counts = np.zeros(len(catchments), dtype=np.int64)
        for code in dict.fromkeys(c.departement for c in catchments):
            own = [i for i, c in enumerate(catchments) if c.departement == code]
            share = highest_quotient([population[i] for i in own], constants.posts_per_departement)
            counts[own] = share
        counts = highest_quotient(population, posts - int(counts.sum()), start=counts)
    return {c.catchment_id: int(k) for c, k in zip(catchments, counts, strict=True)}


def _historical(posts: int, catchments: Sequence[Catchment], rural_weight: float) -> np.ndarray:
    # Départements first (weighing their police zone whole and their gendarmerie zone
    # by ``rural_weight``), then within each its police districts before its
    # gendarmerie areas: both steps deal one post at a time, so the rule stays
    # house-monotone.
    weights = [c.population * (1.0 if c.kind == "police" else rural_weight) for c in catchments]
    codes = list(dict.fromkeys(c.departement for c in catchments))
    members = {
        code: [i for i, c in enumerate(catchments) if c.departement == code] for code in codes
    }
    per_departement = highest_quotient([sum(weights[i] for i in members[d]) for d in codes], posts)
    counts = np.zeros(len(catchments), dtype=np.int64)
    for code, share in zip(codes, per_departement, strict=True):
        own = members[code]
        counts[own] = highest_quotient([weights[i] for i in own], int(share))
    return counts


def departements_without_post(
    allocation: Mapping[str, int], catchments: Sequence[Catchment]
) -> list[str]:
    """Codes of the départements none of whose catchments has a post."""
    posted = {c.departement for c in catchments if allocation[c.catchment_id] > 0}
    return [code for code in dict.fromkeys(c.departement for c in catchments) if code not in posted]
