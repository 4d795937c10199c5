"""Several measurement windows in one replication (``simulation.windows``).

A window must be measured as a run of one window would be: its own cases, its follow-ups
seen a drain's length into the next window, and the replication's value of a measure
the mean over its windows.  The exact checks are the validation cases of
``sim.validation.windowed`` (``station-sim check-theory --case windows``); these tests
check the windows' structure, the measures' mean, the claims the design rests on, and
that K windows give the expectations of K replications on a caseload.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from conftest import CONFIGS, SHIPPED, scenario
from scipy import stats

import sim.validation.windowed
from sim.config.errors import ConfigError
from sim.config.schema import load_scenario
from sim.config.week import MINUTES_PER_DAY
from sim.measures.catalogue import mean_over_windows, measure_run, measure_windows
from sim.model.records import AppointmentRecords, CaseRecords, EndState, FollowupStatus
from sim.model.station import simulate
from sim.model.windows import _appointments_as_of, _series_as_of, window_bounds, window_views
from sim.pipeline.tasks import run_replication
from sim.validation.caseload import diary_case
from sim.validation.suite import judge_case, run_cases
from sim.validation.windowed import windowed_case

SHORT = {
    "simulation.warm_up_days": 28,
    "simulation.run_days": 56,
    "simulation.windows": 3,
    "simulation.drain_days": 42,
}


def _windowed(path, **more):
    return load_scenario(path, {**SHORT, **more})


def test_the_run_covers_the_warm_up_every_window_and_one_drain():
    sc = scenario(simulation={"warm_up_days": 7, "run_days": 28, "windows": 4, "drain_days": 5})
    start, end = sc.simulation.window_minutes
    assert start == 7 * MINUTES_PER_DAY and end == (7 + 4 * 28) * MINUTES_PER_DAY
    assert sc.simulation.horizon_minutes == (7 + 4 * 28 + 5) * MINUTES_PER_DAY
    assert sc.simulation.simulated_days_per_measured_year == pytest.approx(
        (7 + 112 + 5) / 112 * 364
    )


def test_windows_of_more_days_than_a_run_may_measure_are_refused():
    with pytest.raises(ConfigError, match="windows x run_days"):
        scenario(simulation={"run_days": 365_000, "windows": 2})


@pytest.mark.parametrize(
    ("windows", "warm_up", "drain"),
    [(3, 28, 42), (2, 28, 42), (2, 0, 150)],  # the last: a drain longer than all before it
)
def test_the_windows_cut_the_measured_span_and_each_case_is_in_exactly_one(windows, warm_up, drain):
    sc = _windowed(
        CONFIGS / "france_office_hours.yaml",
        **{
            "simulation.windows": windows,
            "simulation.warm_up_days": warm_up,
            "simulation.drain_days": drain,
        },
    )
    run = simulate(sc, 0)
    bounds = window_bounds(run)
    assert len(bounds) == windows
    assert bounds[0][0] == run.window_start and bounds[-1][1] == run.window_end
    for (_, end), (start, _) in itertools.pairwise(bounds):
        assert end == start
    assert [b - a for a, b in bounds] == pytest.approx([56 * MINUTES_PER_DAY] * windows)
    views = window_views(run)
    assert len(views) == windows
    ids = np.concatenate([v.cases.case_id for v in views])
    span = (run.cases.arrival >= run.window_start) & (run.cases.arrival < run.window_end)
    np.testing.assert_array_equal(np.sort(ids), run.cases.case_id[span])
    for view, (start, end) in zip(views, bounds, strict=True):
        assert (view.cases.arrival >= start).all() and (view.cases.arrival < end).all()
        assert view.window_start == start and view.window_end == end
        # Followed a drain's length on: into the next window, or to the run's end.
        assert view.end_time == pytest.approx(min(end + drain * MINUTES_PER_DAY, run.end_time))
        # A view is a run of one window: measured as one, and its own only view.
        assert view.windows == 1 and window_views(view) == [view]
    assert views[-1].end_time == run.end_time


def test_a_window_sees_its_follow_ups_as_they_stood_at_its_observation_end():
    sc = _windowed(CONFIGS / "france_office_hours.yaml")
    run = simulate(sc, 1)
    first = window_views(run)[0]
    moment = first.end_time
    rows = first.appointments
    assert np.isin(rows.case_id, first.cases.case_id).all()
    # Nothing had happened after the moment; what the run settled later is pending.
    for name in ("booked_at", "due", "start", "end"):
        times = getattr(rows, name)
        assert not (times[~np.isnan(times)] > moment).any()
    whole = run.appointments
    mine = np.isin(whole.case_id, first.cases.case_id)
    held_later = mine & (whole.status == FollowupStatus.HELD) & (whole.end > moment)
    assert held_later.any(), "the test needs follow-ups held after the first window's end"
    pending = rows.status == FollowupStatus.PENDING
    assert pending.sum() >= held_later.sum()
    held = rows.status == FollowupStatus.HELD
    assert (rows.end[held] <= moment).all()
    # A series that ended later is open at the moment.
    later = first.cases.series_end > moment
    assert not later.any()


def _cases(series_end: list[float]) -> CaseRecords:
    """Contacted cases 0, 1, ... with the given series ends (other columns neutral)."""
    n = len(series_end)
    ints, zeros = np.zeros(n, dtype=np.int64), np.zeros(n)
    flags = np.zeros(n, dtype=bool)
    return CaseRecords(
        case_id=np.arange(n, dtype=np.int64), population=ints, station=ints, urgent=flags,
        arrival=zeros, referral=zeros, first_contact=zeros, service_end=zeros,
        onward_referral=np.full(n, np.nan), channel=ints,
        state=np.full(n, EndState.CONTACTED, dtype=np.int64), left_station=flags,
        callback_attempts=ints, couple_violence=flags, followups_wanted=np.ones(n, dtype=np.int64),
        series_end=np.asarray(series_end, dtype=float), logged=flags,
    )  # fmt: skip


def test_a_follow_up_settled_at_the_observation_end_counts_and_one_settled_later_is_pending():
    """Each follow-up outcome at the very moment of the observation end (as a run
    ending then would have it), and just after (pending): held at its end, missed or
    cancelled at its due time, given up when its series ended."""
    moment = 1000.0
    s = FollowupStatus
    # case: the row's case; each case has one row, and its series end decides the
    # given-up rows (a held, missed or cancelled series ends at the row's time).
    rows = [
        # status, due, start, end, series end of its case
        (s.HELD, 900.0, 950.0, moment, moment),  # ends at the moment: held
        (s.HELD, 900.0, 950.0, moment + 1, moment + 1),  # ends after: pending
        (s.HELD, 990.0, moment, moment + 30, moment + 30),  # begins at the moment: pending
        (s.NO_SHOW, 500.0, np.nan, np.nan, 500.0),  # missed before the moment
        (s.NO_SHOW, moment, np.nan, np.nan, moment),  # missed at the moment
        (s.NO_SHOW, moment + 1, np.nan, np.nan, moment + 1),  # missed after: pending
        (s.CANCELLED, moment, np.nan, np.nan, moment),
        (s.CANCELLED, moment + 5, np.nan, np.nan, moment + 5),
        (s.DIARY_FULL, np.nan, np.nan, np.nan, moment),  # given up at the moment
        (s.DIARY_FULL, np.nan, np.nan, np.nan, moment + 1),  # given up after: pending
        (s.NO_WORKER, np.nan, np.nan, np.nan, moment),
        (s.NO_WORKER, np.nan, np.nan, np.nan, 2 * moment),
        (s.PENDING, moment + 10, np.nan, np.nan, np.nan),  # pending at the run's end
    ]
    n = len(rows)
    cases = _cases([r[4] for r in rows])
    appointments = AppointmentRecords(
        case_id=np.arange(n, dtype=np.int64), number=np.ones(n, dtype=np.int64),
        worker=np.zeros(n, dtype=np.int64), station=np.zeros(n, dtype=np.int64),
        booked_at=np.full(n, 100.0), due=np.asarray([r[1] for r in rows]),
        start=np.asarray([r[2] for r in rows]), end=np.asarray([r[3] for r in rows]),
        status=np.asarray([int(r[0]) for r in rows], dtype=np.int64),
        rebookings=np.zeros(n, dtype=np.int64),
    )  # fmt: skip
    seen = _appointments_as_of(appointments, cases, moment)
    expected = [s.HELD, s.PENDING, s.PENDING, s.NO_SHOW, s.NO_SHOW, s.PENDING, s.CANCELLED,
                s.PENDING, s.DIARY_FULL, s.PENDING, s.NO_WORKER, s.PENDING, s.PENDING]  # fmt: skip
    assert [s(v) for v in seen.status] == expected
    # A time at the moment has happened; one after it has not.
    np.testing.assert_array_equal(seen.end[:3], [moment, np.nan, np.nan])
    np.testing.assert_array_equal(seen.start[:3], [950.0, 950.0, moment])
    np.testing.assert_array_equal(seen.due[3:6], [500.0, moment, np.nan])
    # A series that ended at the moment has ended; one that ended after is open.
    ends = _series_as_of(_cases([moment, moment + 1, np.nan]), moment).series_end
    np.testing.assert_array_equal(ends, [moment, np.nan, np.nan])
    # Only the rows of the window's own cases are kept.
    some = _appointments_as_of(appointments, _cases([moment] * 3), moment)
    np.testing.assert_array_equal(some.case_id, [0, 1, 2])


def test_a_case_arriving_at_a_window_s_edge_belongs_to_the_window_it_opens():
    """Windows are half-open, [start, end), as the measurement window always was."""
    run = simulate(_windowed(CONFIGS / "france_office_hours.yaml"), 0)
    (_, first_end), (_, second_end) = window_bounds(run)[:2]
    arrival = run.cases.arrival.copy()
    arrival[[10, 11]] = first_end, second_end
    edged = dataclasses.replace(run, cases=dataclasses.replace(run.cases, arrival=arrival))
    first, second, third = (set(v.cases.case_id.tolist()) for v in window_views(edged))
    assert 10 in second and 10 not in first
    assert 11 in third and 11 not in second


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # a measure no window defines
def test_a_replication_measures_the_mean_over_its_windows():
    sc = _windowed(CONFIGS / "belgium_24_7.yaml")
    replication = run_replication(sc, 2)
    per_window = measure_windows(replication.records, sc)
    assert len(per_window) == len(replication.per_window) == 3
    values = np.vstack([w["value"] for w in per_window])
    np.testing.assert_array_equal(np.nanmean(values, axis=0), replication.measures["value"])
    np.testing.assert_array_equal(
        measure_run(replication.records, sc)["value"], replication.measures["value"]
    )
    # The windows differ: each is measured on its own cases, not the span's.
    unmet = list(per_window[0]["metric"]).index("unmet_share")
    assert len({w["value"][unmet] for w in per_window}) == 3


def test_a_measure_undefined_in_a_window_is_the_mean_of_the_others():
    population = np.array(["a", "a"], dtype=object)
    metric = np.array(["x", "y"], dtype=object)
    windows = [
        {"population": population, "metric": metric, "value": np.array([1.0, np.nan])},
        {"population": population, "metric": metric, "value": np.array([3.0, np.nan])},
        {"population": population, "metric": metric, "value": np.array([np.nan, np.nan])},
    ]
    mean = mean_over_windows(windows)["value"]
    assert mean[0] == 2.0 and np.isnan(mean[1])


def test_one_window_measures_as_before():
    sc = load_scenario(
        CONFIGS / "france_office_hours.yaml",
        {"simulation.warm_up_days": 28, "simulation.run_days": 56, "simulation.windows": 1},
    )
    run = simulate(sc, 0)
    assert run.windows == 1 and window_views(run) == [run]
    replication = run_replication(sc, 0)
    assert len(replication.per_window) == 1
    np.testing.assert_array_equal(replication.measures["value"], measure_run(run, sc)["value"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_no_case_of_a_shipped_config_settles_after_its_windows_observation_end(path):
    """The claim the design rests on (``sim/model/windows.py``): a case's first-contact
    outcome is reached long before its window's observation end, so reading it at the
    run's end changes nothing."""
    sc = load_scenario(path, {"simulation.windows": 3})
    run = simulate(sc, 0)
    for view in window_views(run)[:-1]:
        cases = view.cases
        assert not (cases.first_contact > view.end_time).any()
        assert not (cases.service_end > view.end_time).any()


def test_follow_ups_read_at_the_window_end_fail_the_windowed_diary_case(monkeypatch):
    """The windowed diary case catches a window whose follow-ups are read at its own
    end, not a drain's length into the next window."""
    case = windowed_case(diary_case(0.5, run_days=60, replications=6), 3)

    def failed() -> set[str]:
        rows = judge_case(case, run_cases([case])[0])
        return {s.key for s, row in zip(case.statistics, rows, strict=True) if not row.passed}

    assert failed() == set()
    monkeypatch.setattr(sim.model.windows, "observation_end", lambda end, drain, run_end: end)
    assert failed() == {"unheld"}


def test_a_windowed_case_keeps_the_days_simulated_and_takes_its_own_seed():
    base = diary_case(0.5, run_days=120, replications=30)
    case = windowed_case(base, 3)
    assert case.document["simulation"]["run_days"] == 40
    assert case.document["simulation"]["windows"] == 3
    assert case.document["simulation"]["seed"] != base.document["simulation"]["seed"]
    assert case.scenario().simulation.window_minutes == base.scenario().simulation.window_minutes
    with pytest.raises(ValueError, match="2 or more"):
        windowed_case(base, 1)
    assert sim.validation.windowed.windowed_case is windowed_case


def test_three_windows_of_a_replication_give_the_expectations_of_three_replications():
    """On the French post's caseload (a diary that fills, follow-ups missed, given up
    and pending), a replication of 3 windows measures what 3 replications of one window
    measure on average: a Welch test per measure at a fixed seed, at the level 0.001
    split over the measures (Bonferroni).

    The windows are the shipped whole years: the model has seasons (summer leave), so
    windows of a few weeks would differ by the season they fall in, not by the design.
    And the French post settles within the warm-up; the Belgian caseload does not
    (``docs/model.md``), so there the later windows measure a fuller caseload, which is
    the single window's warm-up bias, not the windows'."""
    names = (
        "unmet_share",
        "wait_referral_mean_h",
        "followups_unmet_share",
        "appointments_per_person",
        "utilisation",
        "caseload_open",
    )
    one = load_scenario(CONFIGS / "france_office_hours.yaml")
    three = load_scenario(CONFIGS / "france_office_hours.yaml", {"simulation.windows": 3})
    single = [_all_values(run_replication(one, r).measures, names) for r in range(30)]
    windowed = [_all_values(run_replication(three, r).measures, names) for r in range(10)]
    for k, name in enumerate(names):
        a = np.asarray([v[k] for v in single])
        b = np.asarray([v[k] for v in windowed])
        p = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert p > 0.001 / len(names), (name, a.mean(), b.mean(), p)


def _all_values(columns, names):
    lookup = {
        (pop, metric): value
        for pop, metric, value in zip(
            columns["population"], columns["metric"], columns["value"], strict=True
        )
    }
    return [lookup[("all", name)] for name in names]


def test_station_sim_run_says_a_replication_measures_several_windows(tmp_path, capsys):
    from sim.commands.cli import main

    config = str(CONFIGS / "france_office_hours.yaml")
    short = "simulation={warm_up_days: 14, run_days: 28, windows: 3, drain_days: 14}"
    out = str(tmp_path / "run")
    assert main(["run", config, "--replications", "2", "--out", out, "--set", short]) == 0
    shown = capsys.readouterr().out
    assert "2 replication(s) of 3 windows of 28 days (each value the mean over its windows)" in (
        shown
    )
