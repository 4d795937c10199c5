"""The validation cases: scenarios run through the model, each paired with the exact
results its statistics must reproduce.

A case is an ordinary scenario (the same schema as ``configs/``), so the model runs it on
its own code path: pre-drawn demand, coverage plan, SimPy event loop and records. From
each replication's records the case reads its statistics (``sim.validation.observables``)
and ``sim.validation.theory`` gives their exact values. The cases are:

* **Erlang C** (M/M/c, FIFO, no abandonment): ``c`` workers on site around the clock,
  Poisson arrivals, exponential interviews. Mean wait, P(wait > 0) and P(wait > t) at
  ``t = 1 / (c mu - lambda)``, the mean wait of those who wait.
* **Erlang A** (M/M/c+M): the same with exponential patience; people who leave are lost.
  Share who leave, and mean wait of those seen.
* **Priority** (M/M/c, two classes, non-preemptive): a share of the cases is urgent.
  Mean wait of each class, against Cobham's formula.
* **Time-varying week** (M(t)/M/c(t)): a weekly hour-by-hour arrival profile, one worker
  on site around the clock and two more on weekdays 09:00-17:00. Expected number waiting
  and each worker's busy probability, hour by hour, against the periodic solution of the
  forward equations.
* **Little's law** and **flow conservation** (of cases and of follow-up appointments)
  on every shipped config.
* **Follow-up diary**: one worker always on site, every person met having the same
  number of fixed-length follow-ups: the worker's busy share equals the offered load,
  and every follow-up is held.
* **Outreach**: a daily review of the police log with a known answer: the share
  logged, every logged case contacted at the next shift start, and the mean time from
  entry to contact.
* **Arrival process**: counts per hour of the week (chi-square) and gaps between
  arrivals (Kolmogorov-Smirnov), through the model's records.

Each case's seed is the CRC-32 of its name: fixed, different for every case (so the
cases are independent), and chosen by no one. Run lengths and replication counts were
set from pilot runs with other seeds, to reach a 95 % half-width of about 2 % of the
exact value; the table states the half-width each case reaches.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sim.config.documents import read_scenario_document
from sim.config.schema import Scenario, override_document, scenario_from_dict
from sim.config.week import (
    HOURS_PER_WEEK,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    MINUTES_PER_WEEK,
    hour_of_week,
)
from sim.model.demand import draw_demand
from sim.model.records import EndState, FollowupStatus, RunRecords, WorkerActivity
from sim.validation import theory
from sim.validation.case import (
    ALWAYS,
    INTERVIEW_MEAN,
    SERVICE_RATE,
    ExactValues,
    FloatArray,
    ValidationCase,
)
from sim.validation.case import case_seed as _seed
from sim.validation.caseload import diary_case, outreach_case
from sim.validation.observables import (
    WAIT_TOLERANCE_MINUTES,
    busy_intervals,
    cumulative_intensity,
    hourly_occupancy,
    littles_law_terms,
    waiting_exits,
)
from sim.validation.verdict import Observation, Statistic
from sim.validation.windowed import windowed_case

__all__ = [
    "SHIPPED_CONFIGS",
    "SHIPPED_COVERAGE_MODELS",
    "ValidationCase",
    "all_cases",
    "arrival_process_case",
    "conservation_case",
    "diary_case",
    "erlang_a_case",
    "erlang_c_case",
    "littles_law_case",
    "outreach_case",
    "priority_case",
    "time_varying_case",
]

SHIPPED_CONFIGS = Path(__file__).resolve().parents[2] / "configs"
"""The scenario files of the source tree (absent from an installed wheel)."""

SHIPPED_COVERAGE_MODELS = (
    "belgium_24_7",
    "france_350",
    "france_extended_hours",
    "france_office_hours",
    "shared_rural",
    "visiting_twice_weekly",
)
"""The coverage models the project ships in ``configs/``, checked by name: a draft of a
user's own beside them is not part of the validation table.  (The repository's test
suite requires the list to equal the folder, so that a config added to the project is
added here too.)"""

WARM_UP_RELAXATION_TIMES = 10
"""Warm-up of the stationary cases, in relaxation times of the queue (see
:func:`_warm_up_days`): the initial bias then falls to about ``e^-10`` of its size."""


def _warm_up_days(servers: int, load: float) -> float:
    """Whole days covering ``WARM_UP_RELAXATION_TIMES`` relaxation times of an M/M/c queue.

    The relaxation time of the M/M/c queue is about ``1 / (c mu (1 - sqrt(rho))^2)`` in
    heavy traffic (exact for c = 1) and never below a service time ``1 / mu``.
    """
    gap = SERVICE_RATE * min(1.0, servers * (1.0 - math.sqrt(load)) ** 2)
    minutes = WARM_UP_RELAXATION_TIMES / gap
    return float(max(1, math.ceil(minutes / MINUTES_PER_DAY)))


def _queue_document(
    name: str,
    *,
    servers: int,
    per_minute: float,
    run_days: float,
    replications: int,
    warm_up_days: float,
    urgent_share: float = 0.0,
    patience_mean: float | None = None,
) -> dict[str, Any]:
    """One station, ``servers`` workers always on site, one Poisson population."""
    population: dict[str, Any] = {
        "arrivals": {"per_hour": per_minute * MINUTES_PER_HOUR},
        "interview": {"dist": "exponential", "mean": INTERVIEW_MEAN},
    }
    if urgent_share:
        population["urgent_share"] = urgent_share
    if patience_mean is not None:
        population["patience"] = {"dist": "exponential", "mean": patience_mean}
    return {
        "name": name.replace("/", "-").replace(".", "_"),
        "simulation": {
            "warm_up_days": warm_up_days,
            "run_days": run_days,
            # Long enough for every case of the window to be seen: the longest waits
            # of these cases are a few hours.
            "drain_days": 2,
            "replications": replications,
            "seed": _seed(name),
        },
        "populations": {"person": population},
        "staffing": {"workers": [{"name": "worker", "count": servers, "roster": [ALWAYS]}]},
        # Only the Erlang A cases have patience; those who leave are lost, as in the model.
        "callbacks": {"left_before_seen": "lost"},
    }


# -- Erlang C ---------------------------------------------------------------------------


def erlang_c_case(
    servers: int, load: float, *, run_days: float, replications: int, quick: bool = False
) -> ValidationCase:
    """M/M/c with ``servers`` workers at utilisation ``load``."""
    rate = load * servers * SERVICE_RATE
    # The mean wait of those who wait: P(wait > t) = C e^-1 there, in the informative
    # middle of the tail.
    threshold = 1.0 / (servers * SERVICE_RATE - rate)
    name = f"erlang_c/c{servers}_load{load:.2f}"
    return ValidationCase(
        name=name,
        group="Erlang C",
        title=f"M/M/{servers}, load {load:.2f}",
        document=_queue_document(
            name,
            servers=servers,
            per_minute=rate,
            run_days=run_days,
            replications=replications,
            warm_up_days=_warm_up_days(servers, load),
        ),
        statistics=(
            Statistic("mean_wait", "mean wait (min)"),
            Statistic("p_wait", "P(wait > 0)", probability=True),
            Statistic("p_wait_exceeds", f"P(wait > {threshold:.4g} min)", probability=True),
        ),
        observe=partial(_observe_waits, threshold=threshold),
        exact=partial(_erlang_c_exact, servers, rate, threshold),
        quick=quick,
    )


def _observe_waits(run: RunRecords, scenario: Scenario, *, threshold: float) -> Observation:
    cases = run.cases
    wait = cases.first_contact - cases.referral
    unseen = int(np.isnan(wait).sum())
    if unseen:
        raise RuntimeError(f"{scenario.name}: {unseen} cases never seen; lengthen the drain")
    return {
        "mean_wait": float(wait.mean()),
        "p_wait": float(np.mean(wait > WAIT_TOLERANCE_MINUTES)),
        "p_wait_exceeds": float(np.mean(wait > threshold)),
    }


def _erlang_c_exact(servers: int, rate: float, threshold: float, _: Scenario) -> ExactValues:
    result = theory.erlang_c(servers, rate, SERVICE_RATE)
    return {
        "mean_wait": result.mean_wait,
        "p_wait": result.p_wait,
        "p_wait_exceeds": result.p_wait_exceeds(threshold),
    }


# -- Erlang A ---------------------------------------------------------------------------


def erlang_a_case(
    servers: int,
    load: float,
    patience_mean: float,
    *,
    run_days: float,
    replications: int,
    quick: bool = False,
) -> ValidationCase:
    """M/M/c+M: offered load ``load`` per worker (may exceed 1), exponential patience."""
    rate = load * servers * SERVICE_RATE
    name = f"erlang_a/c{servers}_load{load:.2f}_patience{patience_mean:g}"
    return ValidationCase(
        name=name,
        group="Erlang A",
        title=f"M/M/{servers}+M, load {load:.2f}, patience {patience_mean:g} min",
        document=_queue_document(
            name,
            servers=servers,
            per_minute=rate,
            run_days=run_days,
            replications=replications,
            # Patience bounds every wait, so the queue forgets its start within hours.
            warm_up_days=1,
            patience_mean=patience_mean,
        ),
        statistics=(
            Statistic("p_abandon", "share who leave unseen", probability=True),
            Statistic("mean_wait_served", "mean wait of those seen (min)"),
        ),
        observe=_observe_abandonment,
        exact=partial(_erlang_a_exact, servers, rate, 1.0 / patience_mean),
        quick=quick,
    )


def _observe_abandonment(run: RunRecords, scenario: Scenario) -> Observation:
    cases = run.cases
    left = cases.state == EndState.LEFT
    seen = ~np.isnan(cases.first_contact)
    if not np.all(left | seen):
        raise RuntimeError(f"{scenario.name}: cases neither seen nor gone; lengthen the drain")
    wait = cases.first_contact[seen] - cases.referral[seen]
    return {"p_abandon": float(left.mean()), "mean_wait_served": float(wait.mean())}


def _erlang_a_exact(servers: int, rate: float, abandonment: float, _: Scenario) -> ExactValues:
    result = theory.erlang_a(servers, rate, SERVICE_RATE, abandonment)
    return {"p_abandon": result.p_abandon, "mean_wait_served": result.mean_wait_served}


# -- Priority ---------------------------------------------------------------------------


def priority_case(
    servers: int,
    load: float,
    urgent_share: float,
    *,
    run_days: float,
    replications: int,
    quick: bool = False,
) -> ValidationCase:
    """Two classes, urgent first, non-preemptive, one exponential interview time.

    Marking each arrival urgent with probability ``urgent_share`` splits the Poisson
    stream into two independent Poisson streams, the two classes of Cobham's formula.
    """
    rate = load * servers * SERVICE_RATE
    name = f"priority/c{servers}_load{load:.2f}_urgent{urgent_share:.2f}"
    return ValidationCase(
        name=name,
        group="Priority",
        title=f"M/M/{servers}, load {load:.2f}, {urgent_share:.0%} urgent",
        document=_queue_document(
            name,
            servers=servers,
            per_minute=rate,
            run_days=run_days,
            replications=replications,
            warm_up_days=_warm_up_days(servers, load),
            urgent_share=urgent_share,
        ),
        statistics=(
            Statistic("urgent_wait", "mean wait, urgent (min)"),
            Statistic("other_wait", "mean wait, not urgent (min)"),
        ),
        observe=_observe_priority,
        exact=partial(_priority_exact, servers, rate, urgent_share),
        quick=quick,
    )


def _observe_priority(run: RunRecords, scenario: Scenario) -> Observation:
    cases = run.cases
    wait = cases.first_contact - cases.referral
    if np.isnan(wait).any():
        raise RuntimeError(f"{scenario.name}: cases never seen; lengthen the drain")
    urgent = cases.urgent.astype(bool)
    return {"urgent_wait": float(wait[urgent].mean()), "other_wait": float(wait[~urgent].mean())}


def _priority_exact(servers: int, rate: float, urgent_share: float, _: Scenario) -> ExactValues:
    rates = [rate * urgent_share, rate * (1.0 - urgent_share)]
    urgent, other = theory.priority_mmc(servers, rates, SERVICE_RATE).mean_waits
    return {"urgent_wait": urgent, "other_wait": other}


# -- Time-varying week ----------------------------------------------------------------


WEEK_INTERVIEW_MEAN = 20.0
"""Mean interview time of the time-varying case, in minutes."""

WEEK_WARM_UP_WEEKS = 2
"""Weeks discarded at the start of each replication of the time-varying case. The exact
solver, started from the empty station as the simulation is, must reach the periodic law
within this many weeks (it is checked when the exact values are computed)."""


HOURLY_FLOOR = 0.05
"""Hours whose exact value is below this are left out of the hour-by-hour comparison of
the time-varying case (see ``Statistic.floor``): the workers' off-shift hours, apart
from the first hour of overtime, and none of the queue's or worker 0's hours."""


def week_arrivals_per_hour() -> FloatArray:
    """Arrivals per hour in each hour of the week of the time-varying case.

    Weekdays: quiet nights, a morning rise while one worker is on site, a busy office day
    for three workers (peak utilisation 0.83), and an evening at utilisation 0.8 for the
    one worker left, who also takes the backlog of 17:00. Weekends: one worker, a flatter
    day.
    """
    weekday = np.r_[
        np.full(7, 0.8),  # 00-07
        np.full(2, 1.5),  # 07-09
        np.full(3, 5.0),  # 09-12
        np.full(2, 6.5),  # 12-14
        np.full(3, 7.5),  # 14-17
        np.full(3, 2.4),  # 17-20
        np.full(4, 1.5),  # 20-24
    ]
    weekend = np.r_[np.full(8, 1.0), np.full(12, 2.0), np.full(4, 1.5)]
    return np.r_[np.tile(weekday, 5), weekend, weekend]


def week_worker_shifts() -> list[list[tuple[float, float]]]:
    """On-shift minutes of the week of the case's three workers, written out directly
    (not read from the scenario's roster, so that a roster bug cannot hide)."""
    office = [(d * MINUTES_PER_DAY + 9 * 60.0, d * MINUTES_PER_DAY + 17 * 60.0) for d in range(5)]
    return [[(0.0, float(MINUTES_PER_WEEK))], office, list(office)]


def time_varying_case(
    variant: str, *, weeks: int, replications: int, quick: bool = False
) -> ValidationCase:
    """M(t)/M/c(t) over a week: ``weeks`` measured weeks per replication, after the
    warm-up."""
    name = f"time_varying/{variant}"
    per_hour = week_arrivals_per_hour()
    document = {
        "name": name.replace("/", "-"),
        "simulation": {
            # The engine's own window starts at 0 so that every case is recorded; the
            # observation discards the warm-up weeks itself.
            "warm_up_days": 0,
            "run_days": 7 * (WEEK_WARM_UP_WEEKS + weeks),
            "drain_days": 1,
            "replications": replications,
            "seed": _seed(name),
        },
        "populations": {
            "person": {
                "arrivals": {
                    "per_hour": float(per_hour.mean()),
                    "profile": {"hour_of_week": per_hour.tolist()},
                },
                "interview": {"dist": "exponential", "mean": WEEK_INTERVIEW_MEAN},
            }
        },
        "staffing": {
            "workers": [
                {"name": "always", "roster": [ALWAYS]},
                {
                    "name": "office",
                    "count": 2,
                    "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}],
                },
            ]
        },
    }
    statistics: list[Statistic] = []
    for key, label, probability in (
        ("queue", "mean number waiting", False),
        ("busy0", "P(worker 0 busy, 24/7)", True),
        ("busy1", "P(worker 1 busy, 09-17)", True),
        ("busy2", "P(worker 2 busy, 09-17)", True),
    ):
        statistics.append(Statistic(f"{key}_week", f"{label}: week average", "mean", probability))
        statistics.append(Statistic(key, label, "hourly", probability, floor=HOURLY_FLOOR))
    return ValidationCase(
        name=name,
        group="Time-varying week",
        title=f"M(t)/M/c(t), {replications} x {weeks} weeks",
        document=document,
        statistics=tuple(statistics),
        observe=partial(_observe_week, measure_from=WEEK_WARM_UP_WEEKS * MINUTES_PER_WEEK),
        exact=_week_exact,
        quick=quick,
    )


def _observe_week(run: RunRecords, scenario: Scenario, *, measure_from: float) -> Observation:
    cases = run.cases
    t1 = run.window_end
    # People still waiting when the run ends wait until then, at least (after t1 anyway).
    waiting_until = np.where(np.isnan(cases.first_contact), run.end_time, cases.first_contact)
    queue = hourly_occupancy(cases.referral, waiting_until, measure_from, t1)
    observation: dict[str, float | FloatArray] = {"queue": queue, "queue_week": float(queue.mean())}
    for worker in range(len(week_worker_shifts())):
        starts, ends = busy_intervals(run, worker)
        busy = hourly_occupancy(starts, ends, measure_from, t1)
        observation[f"busy{worker}"] = busy
        observation[f"busy{worker}_week"] = float(busy.mean())
    return observation


def _week_exact(_: Scenario) -> ExactValues:
    result = theory.time_varying_week(
        week_arrivals_per_hour() / MINUTES_PER_HOUR,
        1.0 / WEEK_INTERVIEW_MEAN,
        week_worker_shifts(),
    )
    if result.weeks > WEEK_WARM_UP_WEEKS:
        raise RuntimeError(
            f"the periodic law is reached from empty after {result.weeks} weeks; "
            f"WEEK_WARM_UP_WEEKS = {WEEK_WARM_UP_WEEKS} is too short"
        )
    exact: dict[str, float | FloatArray] = {
        "queue": result.mean_queue,
        "queue_week": float(result.mean_queue.mean()),
    }
    for worker in range(result.workers):
        exact[f"busy{worker}"] = result.p_busy[:, worker]
        exact[f"busy{worker}_week"] = float(result.p_busy[:, worker].mean())
    return exact


# -- Little's law and flow conservation on the shipped configs --------------------------


def littles_law_case(path: Path) -> ValidationCase:
    """``L = lambda W`` for the cases waiting for a first contact, in a shipped config.

    The run records every case from time 0 (the engine's warm-up is set to 0), so that
    ``L`` can count the people already waiting when the measured interval starts. That
    interval is the config's own window, and the drain is long enough for every case
    referred in it to leave the system (first contact, failed callback or expiry).
    """
    document = read_scenario_document(path)
    shipped = scenario_from_dict(document, str(path))
    expiry = shipped.callbacks.expire_after_days
    settings = shipped.simulation
    document = override_document(
        document,
        {
            "simulation.warm_up_days": 0,
            "simulation.run_days": settings.warm_up_days + settings.run_days,
            "simulation.drain_days": max(settings.drain_days, (expiry or 0) + 1),
        },
        str(path),
    )
    return ValidationCase(
        name=f"littles_law/{path.stem}",
        group="Little's law",
        title=path.stem,
        document=document,
        statistics=(Statistic("ratio", "L / (lambda W), waiting for first contact"),),
        observe=partial(_observe_littles_law, measure_from=settings.warm_up_days * MINUTES_PER_DAY),
        exact=_ratio_one,
        quick=True,
    )


def _expiry_minutes(scenario: Scenario) -> float:
    days = scenario.callbacks.expire_after_days
    return math.inf if days is None else days * MINUTES_PER_DAY


def _observe_littles_law(
    run: RunRecords, scenario: Scenario, *, measure_from: float
) -> Observation:
    cases = run.cases
    t1 = run.window_end
    censored = (cases.state == EndState.IN_SYSTEM) & (cases.referral < t1)
    if censored.any():
        raise RuntimeError(f"{scenario.name}: cases still waiting at the end; lengthen the drain")
    exits = waiting_exits(run, _expiry_minutes(scenario))
    occupancy, rate, sojourn = littles_law_terms(cases.referral, exits, measure_from, t1)
    return {"ratio": occupancy / (rate * sojourn)}


def _ratio_one(_: Scenario) -> ExactValues:
    return {"ratio": 1.0}


def conservation_case(path: Path) -> ValidationCase:
    """Every arrival of the window is accounted for, by population, in a shipped config.

    The run has no drain, so that people are still in the system at the end. The
    arrivals are counted from the demand the run drew (not from its records), and the
    people still in the system from their times and the rules (not from their outcome
    codes): referred, never contacted, not lost after leaving, fewer failed callback
    attempts than allowed, and not past expiry.
    """
    document = override_document(
        read_scenario_document(path), {"simulation.drain_days": 0}, str(path)
    )
    return ValidationCase(
        name=f"conservation/{path.stem}",
        group="Flow conservation",
        title=path.stem,
        document=document,
        statistics=(
            Statistic(
                "imbalance",
                "arrivals - (met + ended unmet + not referred + in system)",
                "identity",
                context="in_system_at_end",
            ),
            Statistic(
                "followup_imbalance",
                "follow-ups wanted - (held + unmet by reason + pending)",
                "identity",
                context="followups_pending_at_end",
            ),
        ),
        observe=_observe_conservation,
        exact=_balanced,
        quick=True,
    )


def _observe_conservation(run: RunRecords, scenario: Scenario) -> Observation:
    demand = draw_demand(scenario, run.replication)
    in_window = (demand.arrival >= run.window_start) & (demand.arrival < run.window_end)
    cases = run.cases
    attempts = run.workers.activity == WorkerActivity.CALLBACK_ATTEMPT
    ids, completed = np.unique(run.workers.case_id[attempts], return_counts=True)
    failed_attempts = np.zeros(len(cases), dtype=np.int64)
    known = np.isin(cases.case_id, ids)
    failed_attempts[known] = completed[np.searchsorted(ids, cases.case_id[known])]
    lost = cases.left_station.astype(bool) & (scenario.callbacks.left_before_seen == "lost")
    with np.errstate(invalid="ignore"):
        expired = run.end_time - cases.referral > _expiry_minutes(scenario)
    in_system = (
        ~np.isnan(cases.referral)
        & np.isnan(cases.first_contact)
        & ~lost
        & (failed_attempts < scenario.callbacks.max_attempts)
        & ~expired
    )
    met = cases.state == EndState.CONTACTED
    ended_unmet = np.isin(
        cases.state,
        (
            EndState.LEFT,
            EndState.CALLBACK_FAILED,
            EndState.CALLBACK_EXPIRED,
            EndState.NOT_REFERRED_NO_WORKER,
        ),
    )
    not_referred = cases.state == EndState.NOT_REFERRED
    imbalance = 0
    for p in range(len(scenario.populations)):
        mine = cases.population == p
        arrivals = int(np.count_nonzero(in_window & (demand.population == p)))
        accounted = sum(
            int(np.count_nonzero(mine & group))
            for group in (met, ended_unmet, not_referred, in_system)
        )
        imbalance += abs(arrivals - accounted)
    # Every follow-up a person met wanted has exactly one appointment row, and each row
    # exactly one status: held, unmet for a reason, or pending at the end.
    rows = run.appointments
    wanted = np.where(met, cases.followups_wanted, 0)
    ids, per_case = np.unique(rows.case_id, return_counts=True)
    position = np.searchsorted(cases.case_id, ids)
    inside = position < len(cases)
    inside[inside] = cases.case_id[position[inside]] == ids[inside]
    counted = np.zeros(len(cases), dtype=np.int64)
    counted[position[inside]] = per_case[inside]
    statuses = np.isin(rows.status, [s.value for s in FollowupStatus]).all()
    followup_imbalance = int(np.abs(wanted - counted).sum()) + (0 if statuses else 1)
    return {
        "imbalance": float(imbalance),
        "in_system_at_end": float(in_system.sum()),
        "followup_imbalance": float(followup_imbalance),
        "followups_pending_at_end": float(
            np.count_nonzero(
                rows.status[np.isin(rows.case_id, cases.case_id)] == FollowupStatus.PENDING
            )
        ),
    }


def _balanced(_: Scenario) -> ExactValues:
    return {"imbalance": 0.0, "followup_imbalance": 0.0}


# -- Arrival process ----------------------------------------------------------------------


def uneven_profile() -> FloatArray:
    """Relative hour-of-week weights of the arrival case: closed 02:00-06:00, a rise to a
    peak at 18:00, weekends half as busy again as weekdays."""
    day = np.r_[np.full(2, 1.0), np.zeros(4), np.linspace(0.5, 3.0, 12), np.linspace(3.0, 1.0, 6)]
    weekly = np.tile(day, 7)
    weekly[5 * 24 :] *= 1.5
    return weekly


ARRIVAL_POPULATIONS: dict[str, tuple[float, bool]] = {
    "victim": (3.0, True),
    "third_party": (1.0, False),
}
"""Arrivals per hour on average, and whether the hour-of-week profile is uneven (else
flat), of the arrival case's populations."""


def _arrival_rates(per_hour: float, uneven: bool) -> FloatArray:
    """Rate per minute in each hour of the week, from the documented rule (relative
    weights rescaled to keep the mean), computed here rather than by the config code."""
    weights = uneven_profile() if uneven else np.ones(HOURS_PER_WEEK)
    return per_hour / MINUTES_PER_HOUR * weights / weights.mean()


def arrival_process_case(*, weeks: int, replications: int, quick: bool = False) -> ValidationCase:
    """Two populations, one with an uneven hour-of-week profile and one flat, through the
    whole model (a short interview keeps the run cheap)."""
    name = "arrivals/uneven_and_flat"
    populations = {}
    statistics: list[Statistic] = []
    for population, (per_hour, uneven) in ARRIVAL_POPULATIONS.items():
        arrivals: dict[str, Any] = {"per_hour": per_hour}
        if uneven:
            arrivals["profile"] = {"hour_of_week": uneven_profile().tolist()}
        populations[population] = {
            "arrivals": arrivals,
            "interview": {"dist": "exponential", "mean": 1.0},
        }
        gaps = (
            "rescaled gaps ~ Exp(1)"
            if uneven
            else f"gaps ~ Exp({MINUTES_PER_HOUR / per_hour:g} min)"
        )
        statistics += [
            Statistic(f"{population}/counts", f"{population}: counts per hour", "chi-square"),
            Statistic(f"{population}/gaps", f"{population}: {gaps}", "exponential"),
            Statistic(f"{population}/weekly", f"{population}: arrivals a week"),
        ]
    document = {
        "name": name.replace("/", "-"),
        "simulation": {
            "warm_up_days": 7,
            "run_days": 7 * weeks,
            "drain_days": 1,
            "replications": replications,
            "seed": _seed(name),
        },
        "populations": populations,
        "staffing": {"workers": [{"name": "worker", "roster": [ALWAYS]}]},
    }
    return ValidationCase(
        name=name,
        group="Arrival process",
        title=f"{replications} x {weeks} weeks",
        document=document,
        statistics=tuple(statistics),
        observe=_observe_arrivals,
        exact=_arrivals_exact,
        quick=quick,
    )


def _observe_arrivals(run: RunRecords, scenario: Scenario) -> Observation:
    cases = run.cases
    weeks = (run.window_end - run.window_start) / MINUTES_PER_WEEK
    observation: dict[str, float | FloatArray] = {}
    for p, population in enumerate(run.population_names):
        per_hour, uneven = ARRIVAL_POPULATIONS[population]
        times = np.sort(cases.arrival[cases.population == p])
        observation[f"{population}/counts"] = np.bincount(
            hour_of_week(times), minlength=HOURS_PER_WEEK
        ).astype(float)
        if uneven:
            # Time-rescaling: under the rates, the gaps of Lambda(t) are Exp(1).
            gaps = np.diff(cumulative_intensity(_arrival_rates(per_hour, uneven), times))
        else:
            gaps = np.diff(times)
        observation[f"{population}/gaps"] = gaps
        observation[f"{population}/weekly"] = times.size / weeks
    return observation


def _arrivals_exact(scenario: Scenario) -> ExactValues:
    start, end = scenario.simulation.window_minutes
    weeks = (end - start) / MINUTES_PER_WEEK
    exact: dict[str, float | FloatArray] = {}
    for population, (per_hour, uneven) in ARRIVAL_POPULATIONS.items():
        rates = _arrival_rates(per_hour, uneven)
        exact[f"{population}/counts"] = rates * MINUTES_PER_HOUR * weeks
        exact[f"{population}/gaps"] = 1.0 if uneven else MINUTES_PER_HOUR / per_hour
        exact[f"{population}/weekly"] = per_hour * HOURS_PER_WEEK
    return exact


# -- The suite ---------------------------------------------------------------------------


def all_cases() -> list[ValidationCase]:
    """Every validation case, the fast subset (``quick``) included.

    Run lengths: each case aims at a 95 % half-width of at most about 1.9 % of its
    exact values (the table states what it reaches), sized from the variances of pilot
    runs with other seeds and of a first run of the table. The heavy loads need tens of
    millions of cases each; they are the slow part of the suite.
    """
    cases = [
        erlang_c_case(1, 0.50, run_days=270, replications=30, quick=True),
        erlang_c_case(1, 0.80, run_days=390, replications=40),
        erlang_c_case(1, 0.95, run_days=2750, replications=60),
        erlang_c_case(2, 0.50, run_days=110, replications=30),
        erlang_c_case(2, 0.80, run_days=150, replications=40, quick=True),
        erlang_c_case(2, 0.95, run_days=1530, replications=60),
        erlang_c_case(5, 0.50, run_days=180, replications=40, quick=True),
        erlang_c_case(5, 0.80, run_days=156, replications=40),
        erlang_c_case(5, 0.95, run_days=700, replications=60),
        # P(wait > 0) is 0.0037 here and the tail 0.0014: a 2 % half-width would take
        # about 60 million cases, so this row settles for about 3 %.
        erlang_c_case(20, 0.50, run_days=800, replications=20),
        erlang_c_case(20, 0.80, run_days=110, replications=40),
        erlang_c_case(20, 0.90, run_days=146, replications=40),
        erlang_c_case(20, 0.95, run_days=300, replications=40),
        erlang_a_case(2, 1.10, 5, run_days=15, replications=30),
        erlang_a_case(2, 1.10, 20, run_days=15, replications=30, quick=True),
        erlang_a_case(2, 1.10, 60, run_days=21, replications=30),
        erlang_a_case(10, 1.05, 20, run_days=13, replications=30),
        erlang_a_case(1, 0.90, 30, run_days=31, replications=30),
        priority_case(1, 0.80, 0.30, run_days=350, replications=40, quick=True),
        priority_case(3, 0.90, 0.30, run_days=432, replications=40),
        time_varying_case("short", weeks=25, replications=80, quick=True),
        time_varying_case("long", weeks=52, replications=200),
        arrival_process_case(weeks=26, replications=20, quick=True),
        diary_case(0.5, run_days=120, replications=30, quick=True),
        diary_case(0.9, run_days=360, replications=30),
        outreach_case(run_days=364, replications=30, quick=True),
        # The replication design: the same days as three windows of one replication.
        windowed_case(erlang_c_case(2, 0.80, run_days=150, replications=40), 3),
        windowed_case(diary_case(0.5, run_days=120, replications=30, quick=True), 3),
    ]
    # The files are in the source tree only, not in an installed wheel.
    shipped = [SHIPPED_CONFIGS / f"{name}.yaml" for name in SHIPPED_COVERAGE_MODELS]
    shipped = [path for path in shipped if path.is_file()]
    cases += [littles_law_case(path) for path in shipped]
    cases += [conservation_case(path) for path in shipped]
    return cases
