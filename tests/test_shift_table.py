"""The plan's shift table and what the model reads from it (CoveragePlan.changes and
CoveragePlan.first_shift_of_day), on a hand-made table."""

from __future__ import annotations

import numpy as np

from sim.model.roster import CoveragePlan

DAY = 1440.0


def _plan(rows: list[tuple[float, ...]]) -> CoveragePlan:
    """A plan holding only shifts: rows (worker, station, paid_start, paid_end, start,
    end, case_end), sorted by start then worker as build_plan sorts them."""
    empty = np.empty(0, dtype=np.int64)
    return CoveragePlan(
        worker_names=("a", "b", "c"),
        shift_table=np.asarray(rows, dtype=float).reshape(-1, 7),
        diary_slots=(),
        sick_days=(empty,) * 3,
        leave_days=(empty,) * 3,
        replaced_days=(empty,) * 3,
        station_coverage=(),
        on_call_windows=np.empty((0, 2)),
        on_call_staff=np.empty((0, 0), dtype=np.int64),
        on_call_stations=frozenset(),
    )


def test_first_shift_of_day_is_the_earliest_taking_cases_per_station_and_day():
    plan = _plan(
        [
            (0, 0, 400, 600, 400, 600, 400),  # no case time: takes no case
            (1, 0, 480, 1020, 480, 1020, 960),
            (2, 1, 500, 900, 500, 900, 800),
            (0, 0, 600, 1000, 600, 1000, 900),  # later the same day, same station
            (1, 0, DAY + 540, DAY + 900, DAY + 540, DAY + 900, DAY + 800),
            (2, 0, DAY + 600, DAY + 600, DAY + 600, DAY + 600, DAY + 600),  # no time on site
        ]
    )
    assert plan.first_shift_of_day() == [(0, 480.0), (0, DAY + 540), (1, 500.0)]
    # Two stations with their only shifts on one day: each has its first.
    two = _plan([(0, 0, 480, 1020, 480, 1020, 960), (1, 1, 540, 1020, 540, 1020, 960)])
    assert two.first_shift_of_day() == [(0, 480.0), (1, 540.0)]


def test_changes_group_the_shifts_of_an_instant_in_shift_order():
    plan = _plan(
        [
            (0, 0, 480, 1020, 480, 1020, 960),
            (1, 1, 480, 1020, 480, 1020, 900),
            (2, 0, 500, 500, 500, 500, 500),  # all travel: changes nothing
            (2, 1, 900, 1200, 900, 1200, 1100),
        ]
    )
    times, changes = plan.changes(["A", "B", "C"])
    assert times == [480.0, 900.0, 960.0, 1100.0]
    assert changes[0] == ([], [("A", 0, 960.0, 1020.0), ("B", 1, 900.0, 1020.0)])
    # An instant where one case time ends and another shift starts holds both.
    assert changes[1] == (["B"], [("C", 1, 1100.0, 1200.0)])
    assert changes[2] == (["A"], [])
    assert changes[3] == (["C"], [])


def test_shifts_and_serves_read_the_table():
    plan = _plan([(0, 1, 0, 60, 10, 50, 40), (1, 0, 0, 60, 0, 60, 60), (0, 0, 60, 90, 60, 90, 80)])
    assert plan.shifts[0] == (0, 1, 0.0, 60.0, 10.0, 50.0, 40.0)
    assert type(plan.shifts[0].worker) is int and plan.shifts[0].case_end == 40.0
    assert plan.serves(0) == (0, 1) and plan.serves(1) == (0,) and plan.serves(2) == ()
