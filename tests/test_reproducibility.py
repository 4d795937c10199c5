"""Same config and seed give identical records; parallel equals serial; scenarios
compared with one seed see the same people (common random numbers)."""

from __future__ import annotations

import numpy as np
from conftest import CONFIGS

import sim
from sim.config.schema import load_scenario
from sim.model.station import simulate

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


def _files(folder):
    """The bytes of every table and record file of a results folder."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for sub in ("tables", "records")
        for p in sorted((folder / sub).iterdir())
    }


def test_a_run_in_parallel_equals_the_run_in_series(tmp_path):
    config = CONFIGS / "france_office_hours.yaml"
    serial = sim.run(config, replications=5, set=SHORT, jobs=1, out=tmp_path / "serial")
    parallel = sim.run(config, replications=5, set=SHORT, jobs=2, out=tmp_path / "parallel")
    files = _files(tmp_path / "serial")
    assert "records/cases.parquet" in files and "tables/summary.parquet" in files
    assert files == _files(tmp_path / "parallel")
    assert serial.cases["replication"].tolist() == sorted(serial.cases["replication"])
    assert parallel.summary.equals(serial.summary)


def test_the_records_of_a_run_are_the_engine_s_own(tmp_path):
    config = CONFIGS / "belgium_24_7.yaml"
    result = sim.run(config, replications=2, set=SHORT, jobs=2)
    sc = load_scenario(config, {**SHORT, "simulation.replications": 2})
    for replication in (0, 1):
        engine = simulate(sc, replication).cases
        stored = result.cases[result.cases["replication"] == replication]
        np.testing.assert_array_equal(stored["case_id"], engine.case_id)
        np.testing.assert_array_equal(stored["arrival_min"], engine.arrival)
        np.testing.assert_array_equal(stored["first_contact_min"], engine.first_contact)


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
    from sim.model.roster import build_plan

    one = load_scenario(CONFIGS / "france_office_hours.yaml", SHORT)
    two = load_scenario(CONFIGS / "france_350.yaml", SHORT)
    for part in ("sick_days", "leave_days"):
        np.testing.assert_array_equal(
            getattr(build_plan(one, 0), part)[0], getattr(build_plan(two, 0), part)[0]
        )
