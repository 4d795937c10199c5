"""Every case ends in exactly one outcome, and the records agree with each other."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHIPPED

from sim.config import load_scenario
from sim.model import simulate
from sim.records import Channel, Outcome
from sim.summary import ALL, measure_run

SHORT = {"simulation.run_days": 56, "simulation.warm_up_days": 14, "simulation.drain_days": 14}


@pytest.fixture(scope="module", params=SHIPPED, ids=lambda p: p.stem)
def run(request):
    sc = load_scenario(request.param, SHORT)
    return sc, simulate(sc, 0)


def test_each_case_has_exactly_one_known_outcome(run):
    _, records = run
    cases = records.cases
    assert len(cases) > 100
    assert np.isin(cases.outcome, [o.value for o in Outcome]).all()
    assert len(np.unique(cases.case_id)) == len(cases)


def test_outcomes_agree_with_the_times(run):
    sc, records = run
    c = records.cases
    referred = ~np.isnan(c.referral)
    contacted = ~np.isnan(c.first_contact)
    met = np.isin(c.outcome, (Outcome.MET, Outcome.MET_LATE))
    not_referred = np.isin(c.outcome, (Outcome.NOT_REFERRED, Outcome.NOT_REFERRED_NO_WORKER))
    np.testing.assert_array_equal(met, contacted)
    np.testing.assert_array_equal(not_referred, ~referred)
    np.testing.assert_array_equal(contacted, c.channel != Channel.NONE)
    assert np.all(c.referral[referred] >= c.arrival[referred])
    assert np.all(c.first_contact[contacted] >= c.referral[contacted])
    ended = ~np.isnan(c.service_end)
    assert np.all(c.service_end[ended] > c.first_contact[ended])
    late = sc.measures.late_after_hours * 60
    wait = c.first_contact - c.referral
    assert np.all(wait[c.outcome == Outcome.MET] <= late)
    assert np.all(wait[c.outcome == Outcome.MET_LATE] > late)


def test_measures_add_up(run):
    sc, records = run
    measures = {(r.population, r.metric): r.value for r in measure_run(records, sc)}
    for population in (*sc.population_names, ALL):
        total = sum(measures[(population, o.label)] for o in Outcome)
        assert total == measures[(population, "cases")]
        unmet = sum(
            measures[(population, label)]
            for label in (
                "left",
                "callback_failed",
                "callback_expired",
                "waiting_at_end",
                "not_referred_no_worker",
            )
        )
        assert unmet == measures[(population, "unmet")]
    for label in ("cases", "unmet", "met", "referred"):
        by_population = sum(measures[(p, label)] for p in sc.population_names)
        assert by_population == measures[(ALL, label)]
    assert 0 <= measures[(ALL, "utilisation")] <= 1
