"""The measures of a country: the national sums of one replication over its catchments
(:mod:`sim.national.run`), each defined once, in the same :class:`~sim.measures.Measure`
form as the station measures, so that tables and figures read them the same way.

Their base is every person in need of the country, catchments without a post included:
a person whose catchment has no post is unmet ("no post in the catchment"), never left
out of the denominator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from sim.measures.catalogue import Measure, MeasureList, share

__all__ = [
    "NATIONAL_MEASURES",
    "departement_shares",
    "measure_nation",
    "weighted_gini",
    "weighted_quantile",
]


_NATIONAL_COUNT = {"scope": "national", "unit": "persons a year", "digits": 0, "aggregate": "sum"}
_NATIONAL_SHARE = {
    "scope": "national",
    "unit": "% of persons in need",
    "scale": 100.0,
    "digits": 1,
    "upper_bound": 1.0,
}
_NATIONAL_REASONS = (
    ("no_post", "Unmet: no post in the catchment"),
    ("not_referred_no_worker", "Unmet: not referred, no worker reachable"),
    ("left", "Unmet: left before being seen"),
    ("callback_failed", "Unmet: callback failed"),
    ("callback_expired", "Unmet: callback expired"),
    ("waiting_at_end", "Unmet: still waiting at the end"),
)


def _national_measures() -> Iterator[Measure]:
    # ``t`` is the national sums of one replication (sim.national.run.COUNTS).
    yield Measure(
        "national_posts",
        "Posts",
        digits=0,
        scope="national",
        aggregate="sum",
        compute=lambda t: t["posts"],
    )
    yield Measure(
        "national_persons_in_need",
        "Persons in need",
        heading="in need/yr",
        compute=lambda t: t["servable"],
        **_NATIONAL_COUNT,
    )
    yield Measure(
        "national_contacted",
        "Persons contacted",
        heading="contacted/yr",
        compute=lambda t: t["met"],
        **_NATIONAL_COUNT,
    )
    yield Measure(
        "national_unmet",
        "Persons in need unmet",
        heading="unmet/yr",
        compute=lambda t: t["unmet"],
        **_NATIONAL_COUNT,
    )
    yield Measure(
        "national_unmet_share",
        "Unmet demand",
        aggregate="ratio",
        ratio_of=("national_unmet", "national_persons_in_need"),
        heading="unmet %",
        lists=frozenset({"national"}),
        compute=lambda t: share(t["unmet"], t["servable"]),
        **_NATIONAL_SHARE,
    )
    for reason, title in _NATIONAL_REASONS:
        yield Measure(
            f"national_unmet_{reason}",
            title,
            heading=reason.replace("_", " "),
            compute=lambda t, r=reason: t[r],
            **_NATIONAL_COUNT,
        )
    # Unmet demand in two parts that add up to national_unmet_share: what rests on how
    # officers refer when nobody can take the case (an assumption), and the rest (no
    # post in the catchment, or a post that could not reach the person).
    yield Measure(
        "national_unmet_not_referred_share",
        "Unmet: not referred, nobody reachable",
        heading="not referred %",
        lists=frozenset({"national"}),
        compute=lambda t: share(t["not_referred_no_worker"], t["servable"]),
        **_NATIONAL_SHARE,
    )
    yield Measure(
        "national_unmet_capacity_share",
        "Unmet: no post or not reached",
        heading="not reached %",
        lists=frozenset({"national"}),
        compute=lambda t: share(t["unmet"] - t["not_referred_no_worker"], t["servable"]),
        **_NATIONAL_SHARE,
    )
    yield Measure(
        "national_no_post_share",
        "Unmet for want of a post",
        heading="no post %",
        lists=frozenset({"national"}),
        compute=lambda t: share(t["no_post"], t["servable"]),
        **_NATIONAL_SHARE,
    )
    yield Measure(
        "national_within_24h_share",
        "Contacted within 24 h of referral",
        heading="<=24h %",
        lists=frozenset({"national"}),
        compute=lambda t: share(t["within_24h"], t["servable"]),
        **_NATIONAL_SHARE,
    )
    # Equity between départements, each département's unmet share of its own persons
    # in need; a département where nobody is in need has no share and is left out.
    yield Measure(
        "departement_unmet_max",
        "Unmet, worst département",
        heading="worst dép. %",
        lists=frozenset({"national"}),
        compute=lambda t: worst(departement_shares(t)[0]),
        **_NATIONAL_SHARE,
    )
    yield Measure(
        "departement_unmet_p90",
        "Unmet, département of the 90th percentile person",
        heading="p90 dép. %",
        lists=frozenset({"national"}),
        compute=lambda t: weighted_quantile(*departement_shares(t), 0.9),
        **_NATIONAL_SHARE,
    )
    yield Measure(
        "departement_unmet_gini",
        "Gini of unmet share across départements",
        "index, 0 = alike",
        digits=3,
        upper_bound=1.0,  # of values that are never negative
        scope="national",
        heading="Gini",
        lists=frozenset({"national"}),
        compute=lambda t: weighted_gini(*departement_shares(t)),
    )
    # Service across catchment borders (0 when a post serves its own catchment only).
    yield Measure(
        "national_contacted_across_border",
        "Persons contacted at a post of another catchment",
        heading="across/yr",
        compute=lambda t: t["met_across_border"],
        **_NATIONAL_COUNT,
    )
    yield Measure(
        "national_across_border_share",
        "Contacted at a post of another catchment",
        "% of persons contacted",
        scale=100.0,
        digits=1,
        upper_bound=1.0,
        scope="national",
        heading="across %",
        lists=frozenset({"national"}),
        compute=lambda t: share(t["met_across_border"], t["met"]),
    )
    yield Measure(
        "national_passed_on",
        "Persons a saturated post passed on to another",
        heading="passed on/yr",
        compute=lambda t: t["passed_on"],
        **_NATIONAL_COUNT,
    )
    yield Measure(
        "national_passed_on_contacted",
        "Persons passed on, contacted at the other post",
        heading="passed, met/yr",
        compute=lambda t: t["met_passed_on"],
        **_NATIONAL_COUNT,
    )
    yield Measure(
        "national_cost_eur_per_year",
        "Cost",
        "EUR a year",
        digits=0,
        scope="national",
        aggregate="sum",
        heading="EUR a year",
        lists=frozenset({"national"}),
        compute=lambda t: t["cost_eur_per_year"],
    )
    yield Measure(
        "national_cost_per_contact_eur",
        "Cost per person contacted",
        "EUR",
        digits=0,
        scope="national",
        heading="EUR/contact",
        compute=lambda t: t["cost_eur_per_year"] / t["met"] if t["met"] else np.nan,
    )
    yield Measure(
        "national_couple_violence_met",
        "Couple-violence persons met",
        heading="CV met/yr",
        compute=lambda t: t["couple_violence_met"],
        **_NATIONAL_COUNT,
    )


NATIONAL_MEASURES = MeasureList(list(_national_measures()))
"""The measures of a national run, computed from the national sums of a replication."""


def departement_shares(totals: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each département's unmet share of its persons in need, and its persons in need
    (the weights), for the départements with someone in need."""
    need = np.asarray(totals["departement_servable"], dtype=float)
    unmet = np.asarray(totals["departement_unmet"], dtype=float)
    some = need > 0
    return unmet[some] / need[some], need[some]


def worst(values: np.ndarray) -> float:
    """The largest of ``values`` (nan if there are none)."""
    return float(values.max()) if len(values) else float("nan")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` when each counts ``weights`` times: the value
    below which at least a share ``q`` of the weight lies (the inverse of the weighted
    empirical distribution function)."""
    if not len(values):
        return float("nan")
    return float(np.quantile(values, q, weights=weights, method="inverted_cdf"))


def weighted_gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Gini coefficient of ``values`` over a population in which each counts
    ``weights`` times: half the weighted mean absolute difference between two persons,
    over the weighted mean (0 when every value is equal, nothing unmet included)."""
    total = weights.sum()
    if not len(values) or total <= 0:
        return float("nan")
    mean = float(np.dot(weights, values) / total)
    if mean <= 0:
        return 0.0  # every value is 0: all alike
    differences = np.abs(values[:, None] - values[None, :])
    return float(weights @ differences @ weights / (2 * total**2 * mean))


def measure_nation(totals: Mapping[str, Any]) -> dict[str, float]:
    """Every national measure of one replication's national sums (numbers, and the
    départements' counts as arrays)."""
    return {m.name: float(m.compute(totals)) for m in NATIONAL_MEASURES}  # type: ignore[misc]
