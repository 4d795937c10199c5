"""The protected share of a shift's other duties (``protected_duties_share``): case work
that runs late still leaves the worker that much duty time, after the shift's end if
need be, paid as overtime, and the worker is busy until it is done."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from conftest import scenario
from invariants import check_records

from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.measures.catalogue import measure_run
from sim.model.demand import draw_demand
from sim.model.records import WorkerActivity
from sim.model.roster import build_plan
from sim.model.station import StationModel, simulate

OFFICE = {"days": "weekdays", "start": "09:00", "end": "17:00"}
# Monday of the second week (the runs start on a Monday at 00:00).
MONDAY = 7 * MINUTES_PER_DAY
PROTECTED = WorkerActivity.PROTECTED_DUTIES


def _post(protected: float, **parts: Any) -> Any:
    """One office-hours worker whose last quarter of each shift (2 h) is other duties."""
    worker = {
        "name": "w",
        "roster": [OFFICE],
        "other_duties_share": 0.25,
        "protected_duties_share": protected,
    }
    document: dict[str, Any] = {
        "populations": {
            "victim": {
                "arrivals": {"per_hour": 0.1},
                "interview": {"dist": "fixed", "value": 60},
                "urgent_share": 1.0,
            }
        },
        "staffing": {"workers": [worker]},
        "simulation": {"warm_up_days": 0, "run_days": 14, "drain_days": 7, "seed": 2},
        "costs": {"overtime_eur_per_hour": 60.0},
    }
    document.update(parts)
    return scenario(**document)


def _cases_at(sc: Any, *arrivals: float) -> Any:
    """The run of ``sc`` with one case at each of ``arrivals`` (minutes), each referred
    at once, with no patience limit."""
    demand = draw_demand(sc, 0)
    n = len(arrivals)
    one = {name: getattr(demand, name)[:n].copy() for name in demand.__dataclass_fields__}
    one.update(arrival=np.array(arrivals), referral_delay=np.zeros(n))
    one.update(referral_uniform=np.zeros(n), patience=np.full(n, np.inf))
    return StationModel(sc, dataclasses.replace(demand, **one), build_plan(sc, 0)).run()


def _blocks(run: Any, activity: WorkerActivity) -> list[tuple[float, float]]:
    w = run.workers
    rows = w.activity == activity
    return list(zip(w.start[rows].tolist(), w.end[rows].tolist(), strict=True))


def _values(run: Any, sc: Any) -> dict[str, float]:
    measured = measure_run(run, sc)
    everyone = measured["population"] == "all"
    return dict(
        zip(
            measured["metric"][everyone].tolist(), measured["value"][everyone].tolist(), strict=True
        )
    )


def _on_monday(blocks: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [b for b in blocks if MONDAY <= b[0] < MONDAY + MINUTES_PER_DAY]


@pytest.mark.parametrize("protected", [0.0, 0.5, 0.75, 1.0])
def test_case_work_past_the_case_time_leaves_the_protected_duty_time(protected):
    """Case time ends at 15:00 (2 h of duties); a case at 14:50 is seen until 15:50, which
    leaves 70 min of duties before 17:00.  A protected share of p of the 2 h keeps
    max(0, 120 p - 70) min more after 17:00, paid as overtime and not case work."""
    sc = _post(protected)
    run = _cases_at(sc, MONDAY + 14 * MINUTES_PER_HOUR + 50)
    check_records(run)
    seen_until = MONDAY + 15 * MINUTES_PER_HOUR + 50
    shift_end = MONDAY + 17 * MINUTES_PER_HOUR
    assert _on_monday(_blocks(run, WorkerActivity.DUTIES)) == [(seen_until, shift_end)]
    extra = max(0.0, 120 * protected - 70)
    expected = [(shift_end, shift_end + extra)] if extra else []
    assert _blocks(run, PROTECTED) == expected
    value = _values(run, sc)
    assert (
        value["protected_duties_hours_per_year"] > 0
        if extra
        else (value["protected_duties_hours_per_year"] == 0)
    )
    assert value["overtime_hours_per_year"] == pytest.approx(
        value["protected_duties_hours_per_year"]
    )
    unprotected = _post(0.0)
    before = _values(_cases_at(unprotected, MONDAY + 14 * MINUTES_PER_HOUR + 50), unprotected)
    assert value["utilisation"] == pytest.approx(before["utilisation"])
    assert value["cost_eur_per_year"] == pytest.approx(
        before["cost_eur_per_year"] + 60.0 * value["overtime_hours_per_year"]
    )


@pytest.mark.parametrize(("protected", "answered"), [(0.0, 17 * 60 + 10), (1.0, 17 * 60 + 50)])
def test_a_call_out_waits_for_the_protected_duties_of_the_worker_on_call(protected, answered):
    """The worker is on call from 17:00.  Seen until 15:50, the case before leaves 70 of
    the 120 min of duties before 17:00; protected in full, the other 50 run to 17:50,
    and a call-out that came in at 17:10 is answered then, not at once."""
    sc = _post(
        protected,
        on_call={
            "windows": [{"days": "weekdays", "start": "17:00", "end": "24:00"}],
            "staffed_by": "staff",
            "phone_share": 0.0,
            "travel_delay": {"dist": "fixed", "value": 30},
        },
    )
    run = _cases_at(sc, MONDAY + 14 * MINUTES_PER_HOUR + 50, MONDAY + 17 * MINUTES_PER_HOUR + 10)
    check_records(run)
    callouts = _blocks(run, WorkerActivity.CALLOUT)
    assert [start for start, _ in callouts] == [MONDAY + answered]
    assert run.cases.first_contact[1] == MONDAY + answered + 30


def test_every_shift_of_a_loaded_post_keeps_its_protected_duty_time():
    """A post with more work than time: without protection, case work takes part of
    the duties of many shifts; with half of them protected, no shift the worker ends
    on site has less than half its duty time (within the shift or after it)."""
    load = {
        "victim": {
            "arrivals": {"per_hour": 0.4},
            "interview": {"dist": "exponential", "mean": 75},
            "urgent_share": 0.3,
        }
    }
    shares = {}
    for protected in (0.0, 0.5):
        sc = _post(protected, populations=load)
        run = simulate(sc)
        check_records(run)
        w = run.workers
        plan = build_plan(sc, 0)
        least = []
        for shift in plan.shifts:
            duty = w.activity == WorkerActivity.DUTIES
            duty |= w.activity == PROTECTED
            mine = duty & (w.start >= shift.case_end) & (w.start < shift.end + 12 * 60)
            if not mine.any():
                continue  # the worker never came back to its duties (sick day, say)
            done = float((w.end[mine] - w.start[mine]).sum())
            least.append(done / (shift.end - shift.case_end))
        shares[protected] = min(least)
    assert shares[0.0] < 0.5, "the load is too light to test the floor"
    assert shares[0.5] >= 0.5 - 1e-9
