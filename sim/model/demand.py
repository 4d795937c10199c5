"""The demand of one run: every case's arrival and random attributes, drawn up front.

Each attribute of each population has its own stream (``"interview/victim"``,
``"patience/perpetrator"``, ...), and the i-th victim gets the i-th draw of each, so two
scenarios run with the same seed see the same people with the same needs whatever their
staffing does: the draws do not depend on the order of events in the model.  Drawing
in blocks is also what keeps the model's event loop free of random-number calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.config.schema import Population, Scenario
from sim.config.week import MINUTES_PER_DAY
from sim.model.arrivals import poisson_arrivals
from sim.model.streams import stream

__all__ = ["Demand", "draw_demand"]


@dataclass(frozen=True)
class Demand:
    """Per-case arrays (one entry per case, sorted by arrival time).  Times in minutes."""

    population: np.ndarray  # int index into scenario.population_names
    station: np.ndarray  # int index into scenario.stations
    arrival: np.ndarray
    urgent: np.ndarray  # bool
    referral_uniform: np.ndarray  # compared with the referral probabilities
    referral_delay: np.ndarray
    patience: np.ndarray  # inf: waits until seen
    interview: np.ndarray
    onward: np.ndarray  # bool: referred onward after the interview
    onward_delay: np.ndarray
    on_call_by_phone: np.ndarray  # bool: a call-out to this case would be by phone
    on_call_delay: np.ndarray  # minutes from call-out to contact: phone_delay or travel_delay
    callback_uniform: np.ndarray  # (n, max_attempts): compared with reach probabilities
    onward_work: np.ndarray  # minutes of work arranging the onward referral
    couple_violence: np.ndarray  # bool
    followups: np.ndarray  # int: further appointments wanted after the first contact
    followup_gap: np.ndarray  # (n, k): minutes from an appointment to the earliest next
    followup_duration: np.ndarray  # (n, k): minutes
    followup_no_show: np.ndarray  # (n, k): compared with the no-show probability
    logged: np.ndarray  # bool: written in the police log if not referred (outreach on)

    def __len__(self) -> int:
        return len(self.arrival)


_EMPTY_DRAWS = np.random.default_rng(0)


def _no_draws(purpose: str) -> np.random.Generator:
    """The generator of a population nobody of comes to a run: it only draws nothing."""
    return _EMPTY_DRAWS


def _followups(
    population: Population, n: int, depth: int, rng: Callable[[str], np.random.Generator]
) -> dict[str, np.ndarray]:
    """The follow-up needs of ``n`` cases: how many further appointments each wants,
    and for the k-th the gap before it, its duration and the no-show draw.  Each kind
    comes from one stream drawn in blocks of ``n``, the k-th block for the k-th
    appointment, so that a deeper series appends draws without moving the earlier
    ones (as one stream per callback attempt does)."""
    plan = population.followups
    if plan is None or depth == 0:
        return {
            "followups": np.zeros(n, dtype=np.int64),
            "followup_gap": np.zeros((n, depth)),
            "followup_duration": np.zeros((n, depth)),
            "followup_no_show": np.ones((n, depth)),
        }
    count = np.clip(np.floor(plan.count.sample(rng("followups"), n)), 0, plan.max_count)

    def blocks(values: np.ndarray) -> np.ndarray:
        return values.reshape(depth, n).T

    return {
        "followups": count.astype(np.int64),
        "followup_gap": blocks(plan.gap_days.sample(rng("followup_gap"), depth * n))
        * MINUTES_PER_DAY,
        "followup_duration": blocks(plan.duration.sample(rng("followup_duration"), depth * n)),
        "followup_no_show": blocks(rng("followup_no_show").random(depth * n)),
    }


def draw_demand(scenario: Scenario, replication: int) -> Demand:
    """Draw every case of one replication of a scenario."""
    seed = scenario.simulation.seed
    horizon = scenario.simulation.horizon_minutes
    shares = np.asarray([s.demand_share for s in scenario.stations], dtype=float)
    shares = shares / shares.sum()
    attempts = scenario.callbacks.max_attempts
    # Every population draws the same number of follow-up columns, so that the columns
    # can be stacked; a population's own cap keeps the surplus unused.
    depth = max(
        (p.followups.max_count for p in scenario.populations.values() if p.followups), default=0
    )
    on_call = scenario.on_call
    outreach = scenario.outreach.log_access != "none"
    parts: list[dict[str, np.ndarray]] = []
    for p, (name, population) in enumerate(scenario.populations.items()):

        def rng(purpose: str, name: str = name) -> np.random.Generator:
            return stream(seed, replication, f"{purpose}/{name}")

        arrival = poisson_arrivals(population.arrivals.hourly_rates(), horizon, rng("arrivals"))
        n = len(arrival)
        if n == 0:
            # Nobody of this population comes: every draw below is empty, whichever
            # generator makes it, so its streams are not built (a national catchment
            # that serves no neighbour has three such populations).
            rng = _no_draws
        if len(shares) == 1:
            station = np.zeros(n, dtype=np.int64)
        else:
            cumulative = np.cumsum(shares)
            station = np.searchsorted(cumulative, rng("station").random(n) * cumulative[-1])
            station = np.minimum(station, len(shares) - 1)
        onward = population.onward_referral
        if on_call is not None:
            by_phone = rng("on_call_mode").random(n) < on_call.phone_share
            phone = on_call.phone_delay.sample(rng("on_call_phone"), n)
            travel = on_call.travel_delay.sample(rng("on_call_travel"), n)
            on_call_delay = np.where(by_phone, phone, travel)
        else:
            by_phone = np.ones(n, dtype=bool)
            on_call_delay = np.zeros(n)
        parts.append(
            {
                "population": np.full(n, p, dtype=np.int64),
                "station": station.astype(np.int64),
                "arrival": arrival,
                "urgent": rng("urgency").random(n) < population.urgent_share,
                "referral_uniform": rng("referral").random(n),
                "referral_delay": population.referral.delay.sample(rng("referral_delay"), n),
                "patience": (
                    np.full(n, np.inf)
                    if population.patience is None
                    else population.patience.sample(rng("patience"), n)
                ),
                "interview": population.interview.sample(rng("interview"), n),
                "onward": rng("onward").random(n) < onward.probability,
                "onward_delay": onward.delay.sample(rng("onward_delay"), n),
                "on_call_by_phone": by_phone,
                "on_call_delay": on_call_delay,
                # One stream per attempt number: allowing more attempts adds draws
                # without moving those of the earlier attempts.
                "callback_uniform": np.column_stack(
                    [rng(f"callback_attempt_{k + 1}").random(n) for k in range(attempts)]
                ).reshape(n, attempts),
                "onward_work": onward.work_minutes.sample(rng("onward_work"), n),
                "couple_violence": rng("couple_violence").random(n)
                < population.couple_violence_share,
                **_followups(population, n, depth, rng),
                # Drawn only when someone reads the log, so that a scenario without
                # outreach draws exactly what it drew before outreach existed.
                "logged": (
                    rng("police_log").random(n) < population.referral.log_probability
                    if outreach
                    else np.zeros(n, dtype=bool)
                ),
            }
        )
    if len(parts) == 1 and not np.any(np.diff(parts[0]["arrival"]) < 0):
        return Demand(**parts[0])  # in arrival order already: the sort would move nothing
    # Stable sort: simultaneous arrivals keep population order, then draw order.
    order = np.argsort(np.concatenate([part["arrival"] for part in parts]), kind="stable")
    columns = {}
    for key in list(parts[0]):  # one column at a time, so that a long run peaks lower
        columns[key] = np.concatenate([part.pop(key) for part in parts])[order]
    return Demand(**columns)
