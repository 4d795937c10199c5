"""Same config and seed give identical records; parallel equals serial; scenarios
compared with one seed see the same people (common random numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CONFIGS

from sim import runner
from sim.config import load_scenario
from sim.model import simulate
from sim.runner import run_replications

SHORT = {"simulation.run_days": 28, "simulation.warm_up_days": 7, "simulation.drain_days": 7}


def _assert_same(a, b):
    for name, column in a.cases.columns().items():
        np.testing.assert_array_equal(column, getattr(b.cases, name), err_msg=name)
    for name, column in a.workers.columns().items():
        np.testing.assert_array_equal(column, getattr(b.workers, name), err_msg=name)


def test_same_seed_gives_identical_records():
    sc = load_scenario(CONFIGS / "belgium_24_7.yaml", SHORT)
    _assert_same(simulate(sc, 3), simulate(sc, 3))


def test_another_seed_or_replication_gives_other_records():
    sc = load_scenario(CONFIGS / "belgium_24_7.yaml", SHORT)
    other = load_scenario(CONFIGS / "belgium_24_7.yaml", {**SHORT, "simulation.seed": 99})
    a, b, c = simulate(sc, 0), simulate(sc, 1), simulate(other, 0)
    assert not np.array_equal(a.cases.arrival[:10], b.cases.arrival[:10])
    assert not np.array_equal(a.cases.arrival[:10], c.cases.arrival[:10])


@pytest.mark.parametrize("chunks_per_job", [16, 1])
def test_replications_in_parallel_equal_replications_in_series(monkeypatch, chunks_per_job):
    # One chunk per process: several replications per pool task, results still in order.
    monkeypatch.setattr(runner, "_CHUNKS_PER_JOB", chunks_per_job)
    sc = load_scenario(CONFIGS / "france_office_hours.yaml", SHORT)
    serial = run_replications(sc, range(5), jobs=1)
    parallel = run_replications(sc, range(5), jobs=2)
    assert [p.replication for p in parallel] == list(range(5))
    for s, p in zip(serial, parallel, strict=True):
        assert s.measures == p.measures
        _assert_same(s.records, p.records)


def test_scenarios_share_their_demand_draws():
    # Different coverage, same seed: the same people arrive with the same needs.
    french = simulate(load_scenario(CONFIGS / "france_office_hours.yaml", SHORT), 2)
    belgian = simulate(load_scenario(CONFIGS / "belgium_24_7.yaml", SHORT), 2)
    for name in ("case_id", "population", "arrival", "urgent"):
        np.testing.assert_array_equal(
            getattr(french.cases, name), getattr(belgian.cases, name), err_msg=name
        )


def test_changing_one_population_leaves_the_others_draws_alone():
    base = load_scenario(CONFIGS / "france_office_hours.yaml", SHORT)
    more = load_scenario(
        CONFIGS / "france_office_hours.yaml",
        {**SHORT, "populations.perpetrator.arrivals.per_year": 600},
    )
    a, b = simulate(base, 0).cases, simulate(more, 0).cases
    for p in (0, 2):  # victims and third parties
        np.testing.assert_array_equal(a.arrival[a.population == p], b.arrival[b.population == p])
        np.testing.assert_array_equal(a.urgent[a.population == p], b.urgent[b.population == p])
    assert (b.population == 1).sum() > (a.population == 1).sum()


def test_adding_a_worker_leaves_the_first_workers_absences_alone():
    from sim.roster import build_plan

    one = load_scenario(CONFIGS / "france_office_hours.yaml", SHORT)
    two = load_scenario(CONFIGS / "france_350.yaml", SHORT)
    np.testing.assert_array_equal(
        build_plan(one, 0).absent_days[0], build_plan(two, 0).absent_days[0]
    )
