"""Each validation check catches the engine bug it is there to catch.

The engine (or an exact formula) is broken on purpose with ``monkeypatch``, and the check
must then fail; the same shortened check must pass on the intact engine, so that the
failure is the bug's doing. The shortened checks run a few replications of the cases of
``sim.validation.cases``, judged at the full table's level.

These tests reach into the engine's internals (the waiting-queue key, the patience
handler, the heap functions it calls): if a refactoring renames one, ``monkeypatch``
raises and the test must be updated, never silently passes.
"""

from __future__ import annotations

import dataclasses
import heapq
from typing import Any

import numpy as np
import pytest

import sim.model.demand
import sim.model.station
import sim.validation.theory
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.model.records import EndState
from sim.model.roster import SHIFT_PAID_START, build_plan
from sim.model.station import StationModel
from sim.validation.cases import (
    SHIPPED_CONFIGS,
    ValidationCase,
    arrival_process_case,
    conservation_case,
    diary_case,
    erlang_a_case,
    erlang_c_case,
    outreach_case,
    priority_case,
    time_varying_case,
)
from sim.validation.suite import judge_case, run_cases
from sim.validation.theory import ErlangCResult
from sim.validation.verdict import ValidationRow


def _verdicts(case: ValidationCase) -> dict[str, ValidationRow]:
    observations = run_cases([case])[0]
    rows = judge_case(case, observations)
    return {statistic.key: row for statistic, row in zip(case.statistics, rows, strict=True)}


def _failed(rows: dict[str, ValidationRow]) -> set[str]:
    return {key for key, row in rows.items() if not row.passed}


def test_serving_by_arrival_instead_of_urgency_fails_the_priority_case(monkeypatch):
    case = priority_case(1, 0.80, 0.30, run_days=60, replications=8)
    assert _failed(_verdicts(case)) == set()

    intact = sim.model.station.StationModel.__init__

    def first_come_first_served(self: Any, *args: Any, **kwargs: Any) -> None:
        intact(self, *args, **kwargs)
        self.rank = [1] * len(self.rank)  # the waiting-queue key forgets urgency

    monkeypatch.setattr(sim.model.station.StationModel, "__init__", first_come_first_served)
    assert _failed(_verdicts(case)) == {"urgent_wait", "other_wait"}


def _shifted_by_an_hour(scenario: Any, replication: int) -> Any:
    plan = build_plan(scenario, replication)
    hour = float(MINUTES_PER_HOUR)
    table = plan.shift_table.copy()
    table[:, SHIFT_PAID_START:] += hour  # every time column; worker and station kept
    coverage = tuple(intervals + hour for intervals in plan.station_coverage)
    return dataclasses.replace(plan, shift_table=table, station_coverage=coverage)


def test_a_roster_off_by_one_hour_fails_the_time_varying_case(monkeypatch):
    case = time_varying_case("mutation", weeks=6, replications=20)
    assert _failed(_verdicts(case)) == set()
    monkeypatch.setattr(sim.model.station, "build_plan", _shifted_by_an_hour)
    failed = _failed(_verdicts(case))
    # The office workers are on site 10-18 instead of 09-17: their hours, worker 0 left
    # alone from 09:00, and the queue that hour builds give it away.
    assert {"busy0", "busy1", "busy2", "queue"} <= failed


def test_ignoring_patience_fails_the_erlang_a_case(monkeypatch):
    case = erlang_a_case(2, 1.10, 20, run_days=2, replications=30)
    assert _failed(_verdicts(case)) == set()
    monkeypatch.setattr(StationModel, "_on_patience_end", lambda self, event: None)
    # Nobody leaves, and at a load of 1.1 the queue grows without bound.
    assert "mean_wait_served" in _failed(_verdicts(case))


def _last_come_first_served(heap: list[Any], item: tuple[Any, ...]) -> None:
    rank, referral, *rest = item
    heapq.heappush(heap, (rank, -referral, *rest))


def test_last_come_first_served_fails_the_wait_tail_and_nothing_else(monkeypatch):
    # Serving the newest first leaves the mean wait and P(wait > 0) unchanged (same
    # work, same idle periods) but thins the tail: only P(wait > t) can see it.
    case = erlang_c_case(2, 0.80, run_days=30, replications=10)
    assert _failed(_verdicts(case)) == set()
    monkeypatch.setattr(sim.model.station, "heappush", _last_come_first_served)
    assert _failed(_verdicts(case)) == {"p_wait_exceeds"}


def _served_wait_as_all_waits(*args: Any, **kwargs: Any) -> sim.validation.theory.ErlangAResult:
    # A classic slip: E[W] / (1 - P(abandon)), which counts the waits of those who left.
    result = _intact_erlang_a(*args, **kwargs)
    return dataclasses.replace(
        result, mean_wait_served=result.mean_wait_all / (1.0 - result.p_abandon)
    )


def _wait_probability_from_erlang_b(c: int, lam: float, mu: float) -> ErlangCResult:
    # Another: the loss system's blocking probability used as the delay probability.
    result = _intact_erlang_c(c, lam, mu)
    blocked = sim.validation.theory.erlang_b(c, lam / mu)
    return dataclasses.replace(result, p_wait=blocked, mean_wait=blocked / (c * mu - lam))


_intact_erlang_a = sim.validation.theory.erlang_a
_intact_erlang_c = sim.validation.theory.erlang_c


@pytest.mark.parametrize(
    ("formula", "wrong", "case", "caught"),
    [
        (
            "erlang_a",
            _served_wait_as_all_waits,
            erlang_a_case(2, 1.10, 20, run_days=5, replications=10),
            {"mean_wait_served"},
        ),
        (
            "erlang_c",
            _wait_probability_from_erlang_b,
            erlang_c_case(2, 0.80, run_days=30, replications=10),
            {"mean_wait", "p_wait", "p_wait_exceeds"},
        ),
    ],
    ids=["erlang_a_served_wait", "erlang_c_from_erlang_b"],
)
def test_a_wrong_exact_formula_fails_its_case(monkeypatch, formula, wrong, case, caught):
    assert _failed(_verdicts(case)) == set()
    monkeypatch.setattr(sim.validation.theory, formula, wrong)
    assert _failed(_verdicts(case)) == caught


def test_a_profile_shifted_by_one_hour_fails_the_counts(monkeypatch):
    case = arrival_process_case(weeks=8, replications=5)
    assert _failed(_verdicts(case)) == set()
    intact = sim.model.demand.poisson_arrivals

    def late_by_an_hour(rates: np.ndarray, horizon: float, rng: np.random.Generator) -> Any:
        return intact(np.roll(rates, 1), horizon, rng)

    monkeypatch.setattr(sim.model.demand, "poisson_arrivals", late_by_an_hour)
    # The flat population cannot show a shift; the uneven one shows it in its counts.
    assert _failed(_verdicts(case)) == {"victim/counts", "victim/gaps"}


def _evenly_spaced_within_each_hour(
    rates: np.ndarray, horizon: float, rng: np.random.Generator
) -> np.ndarray:
    """Poisson counts per hour (right), spread evenly over the hour (not Poisson)."""
    hours = int(np.ceil(horizon / MINUTES_PER_HOUR))
    counts = rng.poisson(np.resize(rates, hours) * MINUTES_PER_HOUR)
    hour = np.repeat(np.arange(hours), counts)
    rank = np.arange(hour.size) - np.repeat(np.cumsum(counts) - counts, counts)
    times = (hour + (rank + 0.5) / np.repeat(counts, counts)) * MINUTES_PER_HOUR
    return times[times < horizon]


def test_arrivals_with_the_right_counts_but_regular_gaps_fail_the_gap_test(monkeypatch):
    case = arrival_process_case(weeks=8, replications=5)
    monkeypatch.setattr(sim.model.demand, "poisson_arrivals", _evenly_spaced_within_each_hour)
    assert _failed(_verdicts(case)) == {"victim/gaps", "third_party/gaps"}


def test_records_that_lose_the_expired_cases_fail_conservation(monkeypatch):
    case = conservation_case(SHIPPED_CONFIGS / "visiting_twice_weekly.yaml")
    case = case.with_simulation(replications=3)
    assert _failed(_verdicts(case)) == set()
    intact = sim.model.station.StationModel.records

    def losing_expired(self: Any) -> Any:
        records = intact(self)
        keep = records.cases.state != EndState.CALLBACK_EXPIRED
        assert not keep.all(), "the scenario must have expired cases to lose"
        columns = {name: column[keep] for name, column in records.cases.columns().items()}
        return dataclasses.replace(records, cases=type(records.cases)(**columns))

    monkeypatch.setattr(sim.model.station.StationModel, "records", losing_expired)
    assert _failed(_verdicts(case)) == {"imbalance"}


def test_follow_ups_that_take_no_worker_time_fail_the_diary_case(monkeypatch):
    case = diary_case(0.5, run_days=60, replications=10)
    assert _failed(_verdicts(case)) == set()
    intact = sim.model.station.StationModel.__init__

    def instant_follow_ups(self: Any, *args: Any, **kwargs: Any) -> None:
        intact(self, *args, **kwargs)
        self.demand.followup_duration[:] = 0.0  # held, but in no time at all

    monkeypatch.setattr(sim.model.station.StationModel, "__init__", instant_follow_ups)
    assert _failed(_verdicts(case)) == {"busy"}


def test_follow_ups_that_are_never_booked_fail_the_diary_case(monkeypatch):
    case = diary_case(0.5, run_days=60, replications=10)
    monkeypatch.setattr(StationModel, "_start_series", lambda self, case, w, now, end: None)
    assert _failed(_verdicts(case)) == {"busy", "unheld"}


def test_a_log_review_a_day_behind_fails_the_outreach_case(monkeypatch):
    case = outreach_case(run_days=56, replications=5)
    assert _failed(_verdicts(case)) == set()
    intact = StationModel._schedule_outreach

    def a_day_behind(self: Any) -> None:
        intact(self)
        # Each review reads only the entries written a day before it.
        self._log_times = [[t + MINUTES_PER_DAY for t in times] for times in self._log_times]

    monkeypatch.setattr(StationModel, "_schedule_outreach", a_day_behind)
    assert _failed(_verdicts(case)) == {"hours", "off_shift"}
