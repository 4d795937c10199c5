"""The one list of measures: each defined once, with what every table and figure needs,
built from the scenario's own thresholds, and read back whole from a results folder."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from conftest import always_on_site, scenario

from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.measures.catalogue import (
    ALL,
    MeasureList,
    measure_run,
    measure_window,
    measures_for,
    threshold_name,
)
from sim.measures.stats import intervals
from sim.model.outcomes import classify, measured
from sim.model.records import EndState, FollowupStatus
from sim.model.station import simulate


def test_every_measure_is_named_once_titled_and_computable():
    measures = measures_for(scenario())
    assert len(set(measures.names)) == len(measures) > 30
    for m in measures:
        assert m.title and m.compute is not None, m.name
        assert m.scope in ("population", "system")
        if m.aggregate == "ratio":
            assert m.ratio_of is not None and all(name in measures for name in m.ratio_of)
        if m.name.endswith("_share"):
            assert m.scale == 100.0, m.name


def test_the_standard_lists_hold_the_headline_measures():
    measures = measures_for(scenario())
    names = {
        name: {m.name for m in measures.in_list(name)}
        for name in ("comparison", "reference", "overview")
    }
    assert {"unmet_share", "wait_referral_mean_h", "cost_eur_per_year"} <= names["comparison"]
    assert (
        names["comparison"] - {"within_1h_share", "within_24h_share", "within_72h_share"}
        <= names["reference"]
    )
    assert names["overview"] == {
        "unmet_share",
        "unmet_not_referred_share",
        "unmet_capacity_share",
        "wait_referral_mean_h",
        "wait_referral_p90_h",
        "within_24h_share",
        "cost_eur_per_year",
    }


def test_the_thresholds_of_a_scenario_make_its_within_measures():
    measures = measures_for(scenario(measures={"thresholds_hours": [0.5, 4, 48]}))
    within = [m for m in measures if m.threshold_hours is not None]
    assert [m.name for m in within] == [threshold_name(h) for h in (0.5, 4, 48)]
    assert [m.name for m in within] == ["within_0.5h_share", "within_4h_share", "within_48h_share"]
    assert measures.thresholds_hours == (0.5, 4.0, 48.0)
    # Without a 24-hour threshold the overview shows the middle one.
    assert [m.name for m in measures.in_list("overview") if m.threshold_hours] == [
        "within_4h_share"
    ]


def test_a_stored_list_reads_back_equal_without_its_computations():
    measures = measures_for(scenario())
    back = MeasureList.from_records(measures.records())
    assert list(back) == list(measures)
    assert all(m.compute is None for m in back)
    assert back.named("unmet_share").label == "Unmet demand (% of servable cases)"
    assert back.named("unmet_share").show(0.3141) == "31.4"


def test_measures_of_several_scenarios_are_their_union():
    one = measures_for(scenario(measures={"thresholds_hours": [1]}))
    other = measures_for(scenario(measures={"thresholds_hours": [2]}))
    union = one.union(other)
    assert {"within_1h_share", "within_2h_share"} <= set(union.names)
    assert union.names[: len(one)] == one.names


def test_every_measure_has_a_support_and_shares_of_people_end_at_one():
    from sim.national.measures import NATIONAL_MEASURES

    for measures in (measures_for(scenario()), NATIONAL_MEASURES):
        for m in measures:
            # Every share (shown in %) and the Gini index end at 1; counts, times and
            # costs have no top.
            bounded = m.scale == 100.0 or m.name.endswith("_gini")
            assert m.support == (0.0, 1.0 if bounded else float("inf")), m.name
    measures = measures_for(scenario())
    assert measures.named("utilisation").support == (0.0, 1.0)
    assert measures.named("cases").support == (0.0, float("inf"))
    low, high = measures.supports(["unmet_share", "cases"])
    assert list(low) == [0.0, 0.0] and list(high) == [1.0, float("inf")]


def test_an_interval_is_the_student_t_interval_cut_to_the_support():
    import numpy as np
    from scipy import stats

    values = np.array([[0.0, 0.5], [0.2, 0.6], [0.01, 0.55]])  # replications x measures
    got = intervals(values, lower=0.0, upper=np.array([1.0, 0.58]))
    mean = values.mean(axis=0)
    half = stats.t.ppf(0.975, 2) * values.std(axis=0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(got.half_width, half)  # the precision is the t interval's
    assert got.ci_low[0] == 0.0 and mean[0] - half[0] < 0  # cut at the bound ...
    np.testing.assert_allclose(got.ci_low[1], mean[1] - half[1])  # ... and only there
    assert got.ci_high[1] == 0.58 and np.isclose(got.ci_high[0], mean[0] + half[0])
    assert np.all(got.ci_low <= got.mean) and np.all(got.mean <= got.ci_high)
    unbounded = intervals(values)
    np.testing.assert_allclose(unbounded.ci_low, mean - half)


def _followups(most: int, gap_days: float, minutes: float, no_show: float) -> dict[str, Any]:
    """Follow-ups wanted: 0 to ``most`` of them (uniform count, floored), at fixed gaps and
    durations."""
    return {
        "count": {"dist": "uniform", "low": 0, "high": most + 1},
        "max_count": most,
        "gap_days": {"dist": "fixed", "value": gap_days},
        "duration": {"dist": "fixed", "value": minutes},
        "no_show": no_show,
    }


def _measures_by_name(columns: dict[str, np.ndarray], population: str) -> dict[str, float]:
    chosen = columns["population"] == population
    return dict(
        zip(columns["metric"][chosen].tolist(), columns["value"][chosen].tolist(), strict=True)
    )


def test_the_cases_of_one_population_are_all_the_cases_and_have_their_measures():
    """A one-population scenario's "all" measures are its population's (taken over, not
    computed again), and equal those computed afresh: the same scenario with a second
    population that nobody belongs to (its streams draw nothing, so the cases are the
    same) computes "all" over every case.  The run has a queue, people leaving it and
    follow-ups, so that every kind of measure has something to count."""
    victim = {
        "arrivals": {"per_hour": 1.2},
        "interview": {"dist": "exponential", "mean": 60},
        "patience": {"dist": "exponential", "mean": 120},
        "followups": _followups(most=2, gap_days=7, minutes=45, no_show=0.2),
    }
    parts = {
        "simulation": {"warm_up_days": 7, "run_days": 91, "drain_days": 14, "seed": 3},
        "measures": {"followup_observation_days": 28},
        "staffing": always_on_site(workers=2),
    }
    one = scenario(populations={"victim": victim}, **parts)
    nobody = {"arrivals": {"per_hour": 0.0}, "interview": {"dist": "exponential", "mean": 30}}
    two = scenario(populations={"victim": victim, "witness": nobody}, **parts)
    taken_over = measure_run(simulate(one, 0), one)
    afresh = measure_run(simulate(two, 0), two)
    everyone = _measures_by_name(taken_over, ALL)
    # The premise: the empty population changes nobody's case.
    victims = _measures_by_name(taken_over, "victim")
    np.testing.assert_array_equal(
        list(victims.values()), list(_measures_by_name(afresh, "victim").values())
    )
    assert everyone.keys() == _measures_by_name(afresh, ALL).keys()
    np.testing.assert_array_equal(
        list(everyone.values()), list(_measures_by_name(afresh, ALL).values())
    )
    assert everyone["left_station"] > 0 and everyone["followups_held"] > 0
    assert 0 < everyone["unmet_share"] < 1


def test_the_cases_of_two_populations_add_up_to_all():
    """With two populations that both have cases, "all" is computed over every case:
    its counts are the sums of theirs, and its shares lie between theirs."""
    witness = {"arrivals": {"per_hour": 0.6}, "interview": {"dist": "exponential", "mean": 30}}
    victim = {"arrivals": {"per_hour": 0.9}, "interview": {"dist": "exponential", "mean": 60}}
    two = scenario(
        populations={"victim": victim, "witness": witness},
        simulation={"warm_up_days": 7, "run_days": 56, "drain_days": 7, "seed": 4},
    )
    columns = measure_run(simulate(two, 0), two)
    everyone = _measures_by_name(columns, ALL)
    victims, witnesses = (_measures_by_name(columns, name) for name in ("victim", "witness"))
    for count in ("cases", "referred", "met", "unmet", "persons_met_per_year"):
        assert victims[count] > 0 and witnesses[count] > 0
        assert everyone[count] == pytest.approx(victims[count] + witnesses[count], rel=1e-12)
    low, high = sorted((victims["unmet_share"], witnesses["unmet_share"]))
    assert low < high and low <= everyone["unmet_share"] <= high


def test_the_follow_ups_of_a_group_are_its_cohort_s_appointment_rows_by_status():
    """Each group's follow-up counts are its cohort's appointment rows of the window, by
    status, counted here case by case from the records (persons first contacted at
    least the observation days before the run's end), for two populations and "all"."""
    victim = {
        "arrivals": {"per_hour": 0.5},
        "interview": {"dist": "exponential", "mean": 45},
        "followups": _followups(most=3, gap_days=5, minutes=60, no_show=0.25),
    }
    two = scenario(
        populations={"victim": victim, "witness": {**victim, "arrivals": {"per_hour": 0.3}}},
        simulation={"warm_up_days": 14, "run_days": 84, "drain_days": 14, "seed": 8},
        measures={"followup_observation_days": 21},
        diary={"horizon_days": 4, "bookable_share": 0.3},
    )
    records = simulate(two, 0)
    window = measured(records)
    outcome = classify(window.cases, two.measures.late_after_hours * MINUTES_PER_HOUR)
    columns = measure_window(window, outcome, two)
    cases = window.cases
    observed = window.end_time - 21 * MINUTES_PER_DAY
    cohort = (cases.state == EndState.CONTACTED) & (cases.first_contact <= observed)
    rows = window.appointments
    seen = set()
    for p, name in enumerate((*window.population_names, ALL)):
        chosen = cohort & (cases.population == p) if name != ALL else cohort
        ids = set(cases.case_id[chosen].tolist())
        by_status = Counter(
            s for c, s in zip(rows.case_id.tolist(), rows.status.tolist(), strict=True) if c in ids
        )
        measured_counts = _measures_by_name(columns, name)
        for status in FollowupStatus:
            assert measured_counts[f"followups_{status.label}"] == by_status[status], (name, status)
        seen |= {s for s in FollowupStatus if by_status[s]}
    # The run gives the counts something to tell apart: held, missed and never booked.
    assert {FollowupStatus.HELD, FollowupStatus.NO_SHOW, FollowupStatus.DIARY_FULL} <= seen
