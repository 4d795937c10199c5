"""The referral decision: whether the officer who sees a person refers them to the
social worker, made for every case at once before the run.

An officer refers with the population's ``referral.probability`` when a worker is
reachable at the person's arrival, and with ``referral.probability_when_no_worker`` when none
is (``referral_rule`` says what "reachable" means: on site, or on call for a case the
rota may take).  A case referred only because a worker was reachable, and not referred
for want of one, is *not referred: no worker*: the demand the coverage model loses
before anyone could wait.  At a new post (``ramp_up``) both probabilities are scaled
by the share of their full value the officers have reached at the arrival.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.config.schema import Scenario
from sim.config.week import covered, merge_intervals
from sim.model.demand import Demand
from sim.model.roster import CoveragePlan

__all__ = ["ReferralDecision", "decide_referrals"]


class ReferralDecision(NamedTuple):
    """The officers' decisions, one element per case of the demand."""

    referred: np.ndarray
    """True where the case is referred to a worker (bool)."""
    not_referred_no_worker: np.ndarray
    """True where the case would have been referred had a worker been reachable (bool)."""


def decide_referrals(scenario: Scenario, demand: Demand, plan: CoveragePlan) -> ReferralDecision:
    """The referral decision, vectorised: whether a worker is reachable at each
    arrival (``referral_rule``), and so which probability applies."""
    n = len(demand)
    populations = list(scenario.populations.values())
    p_worker = np.asarray([p.referral.probability for p in populations])[demand.population]
    p_no_worker = np.asarray([p.referral.probability_no_worker for p in populations])[
        demand.population
    ]
    if scenario.ramp_up is not None:
        share = scenario.ramp_up.share(demand.arrival)
        p_worker = p_worker * share
        p_no_worker = p_no_worker * share
    reachable = np.zeros(n, dtype=bool)
    on_call = merge_intervals(plan.staffed_windows)
    if scenario.referral_rule == "can_take_now" and scenario.on_call is not None:
        eligible = demand.urgent | (scenario.on_call.eligible == "all")
    else:
        eligible = np.ones(n, dtype=bool)
    single_station = len(plan.station_coverage) == 1
    for s, intervals in enumerate(plan.station_coverage):
        at = slice(None) if single_station else demand.station == s
        reachable[at] = covered(intervals, demand.arrival[at])
        if s in plan.on_call_stations:
            reachable[at] |= covered(on_call, demand.arrival[at]) & eligible[at]
    u = demand.referral_uniform
    return ReferralDecision(
        referred=u < np.where(reachable, p_worker, p_no_worker),
        not_referred_no_worker=~reachable & (u >= p_no_worker) & (u < p_worker),
    )
