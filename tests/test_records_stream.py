"""Records streamed to disk during a sweep: the same files as a run folder's, in
replication order whatever order the pool finishes in, and nothing kept in memory."""

from __future__ import annotations

import filecmp

from conftest import CONFIGS

from sim.config import load_scenario
from sim.runner import run_replications
from sim.store import RecordsStream, case_table, worker_table, write_csv

SHORT = {"simulation.run_days": 28, "simulation.warm_up_days": 7, "simulation.drain_days": 7}


def test_streamed_records_are_the_files_a_run_folder_holds(tmp_path):
    sc = load_scenario(CONFIGS / "belgium_24_7.yaml", SHORT)
    kept = run_replications(sc, range(4), jobs=1)
    runs = [r.records for r in kept]
    write_csv(case_table(runs), tmp_path / "cases.csv")
    write_csv(worker_table(runs), tmp_path / "workers.csv")

    with RecordsStream(tmp_path / "streamed") as sink:
        streamed = run_replications(sc, range(4), jobs=2, keep_records=False, records_sink=sink)

    assert sink.runs == 4
    assert all(r.records is None for r in streamed)
    assert [r.measures for r in streamed] == [r.measures for r in kept]
    for name in ("cases.csv", "workers.csv"):
        assert filecmp.cmp(tmp_path / name, tmp_path / "streamed" / name, shallow=False)


def test_a_sink_sees_replications_in_order_and_records_can_also_be_kept():
    sc = load_scenario(CONFIGS / "france_office_hours.yaml", SHORT)
    seen: list[int] = []
    results = run_replications(
        sc, [5, 2, 7], jobs=2, records_sink=lambda run: seen.append(run.replication)
    )
    assert seen == [5, 2, 7]
    assert [r.records.replication for r in results] == [5, 2, 7]
