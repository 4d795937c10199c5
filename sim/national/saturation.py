"""Persons a saturated post passes on to another post (``cross_border.pass_on_saturated``).

A post that cannot keep up lets referrals wait on its callback list until they are
dropped unreached (``callback_expired``).  Under ``pass_on_saturated`` the officer
passes such a person on instead, to the nearest post that lets a smaller share of its
own persons expire: another catchment's posts in the person's own département, or in
a département it touches, nearest first by the road times of
:mod:`sim.national.neighbours` (a post does not pass persons on to itself, and a
person passed on is not passed on again).  The person goes with the uptake of
cross-border service at that road time; the others stay unmet where they live, as
before.  Those who go are shared among that département's eligible catchments in
proportion to their posts.

It is one round.  The persons passed on are those a run *without* passing on lets
expire (the catchment's mean over its replications), and the post that receives them
simulates them with its own persons, so the load they add is simulated, not added
afterwards; but the extra persons that post then lets expire are not passed on in
turn.  Going to a post that lets fewer expire is the person's (or the officer's)
choice by the neighbours' waits, known on average, not on the day.

The post receives them as populations of their own (``<population>_passed_on``,
:data:`sim.national.run.PASSED_ON_SUFFIX`): persons already referred once, so every
one of them is in need and referred, whoever is there (out of hours, to the callback
list).  A flow is therefore expressed as the inhabitants whose persons it is (persons
a year over the persons reaching a station a year per inhabitant), with the national
mix of victims, perpetrators and third parties: an approximation, the mix of those
who expire may differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sim.national.catchments import Catchment
from sim.national.config import CrossBorder
from sim.national.neighbours import Neighbourhood

__all__ = ["passed_on_flows"]


def passed_on_flows(
    catchments: Sequence[Catchment],
    allocation: Mapping[str, int],
    neighbourhood: Neighbourhood,
    rule: CrossBorder,
    expired_per_year: Mapping[str, float],
    in_need_per_year: Mapping[str, float],
    need_per_inhabitant: float,
) -> dict[str, dict[str, float]]:
    """{catchment with posts: {catchment with posts: the population whose persons the
    first passes on to the second}} from each catchment's own persons in need and those
    it let expire, a year, in a run without passing on; ``need_per_inhabitant``: the
    persons a year per inhabitant of the populations that receive them (what turns
    persons into a population)."""
    if need_per_inhabitant <= 0:
        raise ValueError(f"need_per_inhabitant must be > 0, not {need_per_inhabitant}")
    expiry: dict[str, float] = {}
    posts_in: dict[str, dict[str, int]] = {}
    for c in catchments:
        cid = c.catchment_id
        if allocation.get(cid, 0) > 0:
            need = in_need_per_year[cid]
            expiry[cid] = expired_per_year[cid] / need if need > 0 else 0.0
            posts_in.setdefault(c.departement, {})[cid] = allocation[cid]
    flows: dict[str, dict[str, float]] = {}
    for c in catchments:
        cid = c.catchment_id
        if cid not in expiry or expired_per_year[cid] <= 0:
            continue
        candidates = (
            (
                minutes,
                {
                    other: posts
                    for other, posts in posts_in.get(departement, {}).items()
                    if other != cid and expiry[other] < expiry[cid]
                },
            )
            for minutes, departement in neighbourhood.reach(c.departement, rule.minutes_per_km)
        )
        nearest = next(((m, better) for m, better in candidates if better), None)
        if nearest is None:
            continue
        minutes, better = nearest
        population = expired_per_year[cid] * rule.uptake(minutes) / need_per_inhabitant
        total = sum(better.values())
        flows[cid] = {other: population * posts / total for other, posts in better.items()}
    return flows
