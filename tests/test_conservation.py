"""Every case ends in exactly one end state, the records agree with each other, every
measured case gets exactly one outcome, and the measures add up."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHIPPED

from sim.config.schema import load_scenario
from sim.measures.catalogue import ALL, measure_run, measures_for
from sim.model.outcomes import UNMET_OUTCOMES, Outcome, classify, measured
from sim.model.records import Channel, EndState
from sim.model.station import simulate

SHORT = {
    "simulation.run_days": 56,
    "simulation.warm_up_days": 14,
    "simulation.drain_days": 14,
    # One window: the identities are those of a window's measures (a replication's
    # value of a share is the mean of its windows' shares, which no identity joins).
    "simulation.windows": 1,
    # Short enough for the follow-up measures to have a cohort in a short run.
    "measures.followup_observation_days": 20,
}


# The shipped configs, and one with outreach from the police log on.
_OUTREACH = {"outreach.log_access": "daily_review"}
_RUNS = [(path, {}) for path in SHIPPED] + [
    (next(p for p in SHIPPED if p.stem == "france_office_hours"), _OUTREACH)
]


@pytest.fixture(
    scope="module", params=_RUNS, ids=lambda r: r[0].stem + ("_log_review" if r[1] else "")
)
def run(request):
    path, overrides = request.param
    sc = load_scenario(path, {**SHORT, **overrides})
    return sc, simulate(sc, 0)


def test_each_case_of_the_run_has_exactly_one_known_end_state(run):
    _, records = run
    cases = records.cases
    assert len(cases) > 100
    assert np.isin(cases.state, [s.value for s in EndState]).all()
    np.testing.assert_array_equal(cases.case_id, np.arange(len(cases)))
    # Raw: the warm-up and the drain are recorded too.
    assert cases.arrival.min() < records.window_start
    assert cases.arrival.max() >= records.window_end


def test_end_states_agree_with_the_times(run):
    _, records = run
    c = records.cases
    referred = ~np.isnan(c.referral)
    contacted = ~np.isnan(c.first_contact)
    not_referred = np.isin(c.state, (EndState.NOT_REFERRED, EndState.NOT_REFERRED_NO_WORKER))
    np.testing.assert_array_equal(c.state == EndState.CONTACTED, contacted)
    # The referral column holds a log entry's time for a case found in the police log.
    np.testing.assert_array_equal(not_referred & ~c.logged, ~referred)
    np.testing.assert_array_equal(contacted, c.channel != Channel.NONE)
    assert np.all(c.referral[referred] >= c.arrival[referred])
    assert np.all(c.first_contact[contacted] >= c.referral[contacted])
    ended = ~np.isnan(c.service_end)
    assert np.all(c.service_end[ended] > c.first_contact[ended])


def test_outcomes_follow_the_late_threshold_and_keep_every_other_state(run):
    sc, records = run
    c = records.cases
    late = sc.measures.late_after_hours * 60
    outcome = classify(c, late)
    wait = c.first_contact - c.referral
    contacted = c.state == EndState.CONTACTED
    assert np.all(wait[outcome == Outcome.MET] <= late)
    assert np.all(wait[outcome == Outcome.MET_LATE] > late)
    np.testing.assert_array_equal(np.isin(outcome, (Outcome.MET, Outcome.MET_LATE)), contacted)
    np.testing.assert_array_equal(outcome[~contacted], c.state[~contacted])
    # Each end state's code is that of the outcome of the same name.
    for state in EndState:
        if state != EndState.CONTACTED:
            name = "WAITING_AT_END" if state == EndState.IN_SYSTEM else state.name
            assert Outcome[name] == state


def test_a_report_setting_changes_the_measures_never_the_records():
    path = SHIPPED[0]
    tight = load_scenario(path, {**SHORT, "measures.late_after_hours": 1})
    loose = load_scenario(path, SHORT)
    a, b = simulate(tight, 1), simulate(loose, 1)
    for name, column in a.cases.columns().items():
        np.testing.assert_array_equal(column, getattr(b.cases, name), err_msg=name)
    late = dict(zip(measure_run(a, tight)["metric"], measure_run(a, tight)["value"], strict=True))
    loose_late = dict(
        zip(measure_run(b, loose)["metric"], measure_run(b, loose)["value"], strict=True)
    )
    assert late["met_late"] > loose_late["met_late"]


def _measures(sc, records):
    columns = measure_run(records, sc)
    return {
        (p, m): v
        for p, m, v in zip(columns["population"], columns["metric"], columns["value"], strict=True)
    }


def test_measures_add_up(run):
    sc, records = run
    measures = _measures(sc, records)
    window = measured(records)
    years = (records.window_end - records.window_start) / (365.25 * 24 * 60)
    assert measures[(ALL, "cases")] * years == pytest.approx(len(window.cases))
    for population in (*sc.population_names, ALL):
        total = sum(measures[(population, o.label)] for o in Outcome)
        assert total == pytest.approx(measures[(population, "cases")])
        unmet = sum(measures[(population, o.label)] for o in UNMET_OUTCOMES)
        assert unmet == pytest.approx(measures[(population, "unmet")])
        # Unmet demand in two parts: not referred (officers), not reached (capacity).
        parts = (measures[(population, f"unmet_{k}_share")] for k in ("not_referred", "capacity"))
        assert sum(parts) == pytest.approx(measures[(population, "unmet_share")])
        assert measures[(population, "unmet_not_referred_share")] == pytest.approx(
            measures[(population, "not_referred_no_worker")] / measures[(population, "servable")]
        )
    assert 0 <= measures[(ALL, "utilisation")] <= 1


def test_every_measure_of_the_list_is_computed_once_per_population(run):
    sc, records = run
    listed = measures_for(sc)
    columns = measure_run(records, sc)
    populations = [*sc.population_names, ALL]
    expected = [(p, m.name) for p in populations for m in listed.of_scope("population")] + [
        (ALL, m.name) for m in listed.of_scope("system")
    ]
    assert list(zip(columns["population"], columns["metric"], strict=True)) == expected


def test_the_whole_aggregates_its_parts_as_each_measure_says(run):
    # "all" is computed from the records of every population, not from the populations'
    # measures; each measure's own aggregation rule must give the same number.
    sc, records = run
    measures = _measures(sc, records)
    for measure in measures_for(sc).of_scope("population"):
        if measure.aggregate == "sum":
            parts = sum(measures[(p, measure.name)] for p in sc.population_names)
            assert parts == pytest.approx(measures[(ALL, measure.name)], rel=1e-12), measure.name
        elif measure.aggregate == "ratio":
            numerator, denominator = measure.ratio_of
            top = sum(measures[(p, numerator)] for p in sc.population_names)
            bottom = sum(measures[(p, denominator)] for p in sc.population_names)
            assert top / bottom == pytest.approx(measures[(ALL, measure.name)], rel=1e-12), (
                measure.name
            )
    for measure in measures_for(sc).of_scope("system"):
        if measure.aggregate == "ratio":
            numerator, denominator = measure.ratio_of
            ratio = measures[(ALL, numerator)] / measures[(ALL, denominator)]
            assert ratio == pytest.approx(measures[(ALL, measure.name)], rel=1e-12)
