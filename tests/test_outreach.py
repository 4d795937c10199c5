"""Outreach from the police log (``outreach``, ``referral.log_probability``): the rules
of docs/model.md, "Outreach from the police log", one test each."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scenario
from invariants import check_records

from sim.config.errors import ConfigError
from sim.config.schema import scenario_from_dict
from sim.config.week import MINUTES_PER_DAY, covered
from sim.model.records import Channel, EndState, WorkerActivity
from sim.model.roster import build_plan
from sim.model.station import simulate

OFFICE = {
    "workers": [{"name": "w", "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}]
}
SURE = {"initial": 1.0, "floor": 1.0, "half_life_hours": 24}


def _outreach(access: str, log_probability: float = 1.0, review_minutes: float = 0.0, **parts):
    """Few victims, officers who never refer without a worker, a log that records
    ``log_probability`` of them, and callbacks that always reach the person."""
    victim = {
        "arrivals": {"per_hour": 0.1},
        "interview": {"dist": "fixed", "value": 20},
        "referral": {
            "probability": 1.0,
            "ratio_when_no_worker": 0.0,
            "log_probability": log_probability,
            "delay": {"dist": "fixed", "value": 30},
        },
    }
    return scenario(
        **{
            "staffing": OFFICE,
            "populations": {"victim": victim},
            "outreach": {"log_access": access, "review_minutes": review_minutes},
            "callbacks": {"reach_probability": SURE, "max_attempts": 1},
            "simulation": {"warm_up_days": 0, "run_days": 56, "drain_days": 14, "seed": 5},
            **parts,
        }
    )


def _logged(cases) -> np.ndarray:
    """The logged cases written before the drain: each has a shift after its entry."""
    return cases.logged & (cases.referral < 56 * MINUTES_PER_DAY)


def _on_site(sc, times: np.ndarray) -> np.ndarray:
    return covered(build_plan(sc, 0).station_coverage[0], times)


def _reviews(sc) -> np.ndarray:
    """The review instants: the first on-site shift start of each day."""
    starts = np.asarray(sorted(row[4] for row in build_plan(sc, 0).shifts))
    days = np.floor(starts / MINUTES_PER_DAY)
    return starts[np.r_[True, days[1:] != days[:-1]]]


def test_without_log_access_a_case_not_referred_is_lost_for_good():
    cases = simulate(_outreach("none")).cases
    lost = cases.state == EndState.NOT_REFERRED_NO_WORKER
    assert lost.sum() > 50
    assert not cases.logged.any() and np.isnan(cases.referral[lost]).all()


def test_only_cases_lost_for_want_of_a_worker_are_looked_for_in_the_log():
    # Officers who refer alike whoever is there lose nobody for want of a worker: the
    # cases they do not refer are not theirs to find, whatever the log holds.
    sc = _outreach("networked")
    victim = sc.populations["victim"]
    alike = victim.model_copy(
        update={
            "referral": victim.referral.model_copy(
                update={"ratio_when_no_worker": 1.0, "probability": 0.5}
            )
        }
    )
    cases = simulate(sc.model_copy(update={"populations": {"victim": alike}})).cases
    assert (cases.state == EndState.NOT_REFERRED).sum() > 50
    assert not cases.logged.any()


def test_networked_entries_are_called_back_as_they_are_written_or_at_the_next_shift():
    sc = _outreach("networked")
    run = simulate(sc)
    check_records(run)
    cases = run.cases
    logged = _logged(cases)
    assert logged.sum() > 50 and np.all(cases.channel[logged] == Channel.LOG)
    entry, contact = cases.referral[logged], cases.first_contact[logged]
    in_hours = _on_site(sc, entry)
    assert 0 < in_hours.sum() < len(entry)
    # Written while the worker is there: phoned the same day (a daily review would
    # leave them to the next), after the entries already on the list.
    day = np.floor(entry / MINUTES_PER_DAY)
    assert np.all(np.floor(contact[in_hours] / MINUTES_PER_DAY) == day[in_hours])
    # Written while nobody is: phoned when the next shift starts, not before.
    starts = np.asarray(sorted(row[4] for row in build_plan(sc, 0).shifts))
    next_start = starts[np.searchsorted(starts, entry[~in_hours])]
    assert np.all(contact[~in_hours] >= next_start)
    assert np.all(contact[~in_hours] < next_start + 8 * 60)


def test_a_daily_review_reads_the_entries_at_the_first_shift_of_the_day():
    sc = _outreach("daily_review", review_minutes=5)
    run = simulate(sc)
    check_records(run)
    cases, workers = run.cases, run.workers
    logged = _logged(cases)
    entry, contact = cases.referral[logged], cases.first_contact[logged]
    reviews = _reviews(sc)
    review = reviews[np.searchsorted(reviews, entry)]
    # Reached on the day of the first review after the entry, never before it.
    assert np.all(contact >= review)
    assert np.all(np.floor(contact / MINUTES_PER_DAY) == np.floor(review / MINUTES_PER_DAY))
    # Each review is worker time of no case: five minutes an entry, from the shift start.
    rows = workers.activity == WorkerActivity.LOG_REVIEW
    assert np.all(workers.case_id[rows] == -1)
    every = cases.referral[cases.logged]
    every = every[every <= reviews[-1]]
    review_of = reviews[np.searchsorted(reviews, every)]
    read = {t: 5.0 * n for t, n in zip(*np.unique(review_of, return_counts=True), strict=True)}
    assert {s: e - s for s, e in zip(workers.start[rows], workers.end[rows], strict=True)} == (
        pytest.approx(read)
    )


def test_the_chance_of_reaching_a_logged_case_falls_from_its_entry_not_its_review():
    # Reach halves every six minutes: entries hours old at the review are almost never
    # reached; were the clock started at the review, nearly all would be.
    fading = {"initial": 1.0, "floor": 0.0, "half_life_hours": 0.1}
    sc = _outreach("daily_review", callbacks={"reach_probability": fading, "max_attempts": 1})
    cases = simulate(sc).cases
    logged = _logged(cases)
    assert logged.sum() > 50
    assert (cases.channel[logged] == Channel.LOG).mean() < 0.1
    old = (
        cases.referral[logged]
        < _reviews(sc)[np.searchsorted(_reviews(sc), cases.referral[logged])] - 120
    )
    assert not (cases.channel[logged][old] == Channel.LOG).any()


def test_a_logged_case_never_reached_stays_lost_for_want_of_a_worker():
    sc = _outreach(
        "daily_review",
        callbacks={
            "reach_probability": {"initial": 0.0, "floor": 0.0, "half_life_hours": 1},
            "max_attempts": 2,
            "retry_after_hours": 1,
        },
    )
    run = simulate(sc)
    check_records(run)
    cases = run.cases
    assert cases.logged.sum() > 50
    assert np.all(cases.state[cases.logged] == EndState.NOT_REFERRED_NO_WORKER)
    assert np.all(cases.callback_attempts[_logged(cases)] >= 1)


def test_the_share_of_lost_cases_the_log_records_is_its_probability():
    cases = simulate(_outreach("networked", log_probability=0.4)).cases
    lost = (cases.state == EndState.NOT_REFERRED_NO_WORKER) | cases.logged
    n, k = lost.sum(), cases.logged.sum()
    # Within a binomial 99.9 % band of 0.4.
    assert abs(k / n - 0.4) < 3.3 * np.sqrt(0.4 * 0.6 / n)


def test_without_log_access_the_log_is_not_drawn():
    # Switching outreach on adds its own stream: the other draws, and so a run without
    # it, are those of a scenario that never heard of outreach.
    base = simulate(_outreach("none")).cases
    other = simulate(_outreach("none", log_probability=0.0)).cases
    for name, column in base.columns().items():
        np.testing.assert_array_equal(column, getattr(other, name), err_msg=name)


def _document(**referral):
    return {
        "name": "t",
        "populations": {
            "victim": {
                "arrivals": {"per_hour": 1},
                "interview": {"dist": "fixed", "value": 10},
                "referral": referral,
            }
        },
        "staffing": OFFICE,
    }


def test_the_ratio_sets_the_probability_when_no_worker():
    sc = scenario_from_dict(_document(probability=0.8, ratio_when_no_worker=0.5))
    assert sc.populations["victim"].referral.probability_no_worker == pytest.approx(0.4)
    alike = scenario_from_dict(_document(probability=0.8))
    assert alike.populations["victim"].referral.probability_no_worker == 0.8


def test_a_ratio_and_a_probability_when_no_worker_together_are_refused():
    with pytest.raises(ConfigError, match="ratio_when_no_worker or probability_when_no_worker"):
        scenario_from_dict(
            _document(probability=0.8, ratio_when_no_worker=0.5, probability_when_no_worker=0.4)
        )
    with pytest.raises(ConfigError, match="ratio_when_no_worker"):
        scenario_from_dict(_document(probability=0.8, ratio_when_no_worker=1.5))


@pytest.mark.parametrize("access", ["sometimes", 3])
def test_an_unknown_log_access_is_refused(access):
    document = _document(probability=0.8)
    document["outreach"] = {"log_access": access}
    with pytest.raises(ConfigError, match=r"outreach\.log_access"):
        scenario_from_dict(document)


def _read_per_review(cases, reviews: np.ndarray, station: np.ndarray) -> dict:
    """Entries each review reads: every logged case of its station written since the
    station's review before (the reviews of the station, ``reviews``, sorted)."""
    every = cases.referral[cases.logged & station]
    every = every[every <= reviews[-1]]
    times, counts = np.unique(reviews[np.searchsorted(reviews, every)], return_counts=True)
    return dict(zip(times.tolist(), counts.tolist(), strict=True))


def _review_rows(workers, station: int | None = None) -> dict:
    rows = workers.activity == WorkerActivity.LOG_REVIEW
    if station is not None:
        rows &= workers.station == station
    return {s: e - s for s, e in zip(workers.start[rows], workers.end[rows], strict=True)}


def test_a_day_of_two_shifts_is_reviewed_once_at_its_first():
    """A worker on site 09:00-12:00 and 13:00-17:00 reads the log at 09:00 only: the
    afternoon shift finds nothing new to read until the next day."""
    split = {
        "workers": [
            {
                "name": "w",
                "roster": [
                    {"days": "weekdays", "start": "09:00", "end": "12:00"},
                    {"days": "weekdays", "start": "13:00", "end": "17:00"},
                ],
            }
        ]
    }
    sc = _outreach("daily_review", review_minutes=5, staffing=split)
    run = simulate(sc)
    check_records(run)
    reviews = _review_rows(run.workers)
    assert reviews and {s % MINUTES_PER_DAY for s in reviews} == {9 * 60}
    days = np.unique(np.floor(np.asarray(sorted(reviews)) / MINUTES_PER_DAY))
    assert len(days) == len(reviews)  # once a day


def test_each_station_s_review_reads_its_own_entries_and_each_entry_once():
    """Two stations, a worker at each: a review reads the entries of its own station
    written since that station's last review, five minutes each, and no other's."""
    two = {
        "workers": [
            {"name": "a", "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00",
                                       "station": "a"}]},
            {"name": "b", "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00",
                                       "station": "b"}]},
        ]
    }  # fmt: skip
    stations = [{"name": "a", "demand_share": 0.5}, {"name": "b", "demand_share": 0.5}]
    sc = _outreach("daily_review", review_minutes=5, staffing=two, stations=stations)
    run = simulate(sc)
    check_records(run)
    reviews = _reviews(sc)
    for s in (0, 1):
        read = _read_per_review(run.cases, reviews, run.cases.station == s)
        assert read
        assert _review_rows(run.workers, s) == pytest.approx({t: 5.0 * n for t, n in read.items()})


def test_after_a_review_the_free_colleagues_phone_its_entries_too():
    """Two workers at one station: the first reads the log, and the second, free, starts
    phoning the entries the moment the review ends, as the first does."""
    pair = {
        "workers": [
            {"name": "w", "count": 2,
             "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}
        ]
    }  # fmt: skip
    sc = _outreach("daily_review", review_minutes=5, staffing=pair)
    run = simulate(sc)
    check_records(run)
    w = run.workers
    rows = w.activity == WorkerActivity.LOG_REVIEW
    reviewer, ends = set(w.worker[rows].tolist()), set(w.end[rows].tolist())
    assert len(reviewer) == 1
    interviews = w.activity == WorkerActivity.INTERVIEW
    colleague = interviews & ~np.isin(w.worker, list(reviewer)) & np.isin(w.start, list(ends))
    assert colleague.sum() >= 5


def test_a_review_of_no_minutes_leaves_no_block_of_worker_time():
    """With ``review_minutes: 0`` the entries go to the callback list at the review
    without a zero-length review block in the worker records."""
    run = simulate(_outreach("daily_review", review_minutes=0))
    check_records(run)
    assert not (run.workers.activity == WorkerActivity.LOG_REVIEW).any()
    assert (run.cases.channel[_logged(run.cases)] == Channel.LOG).all()
