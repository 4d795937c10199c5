"""Running an experiment: the tables agree with ``station-sim run``, scenario differences
are paired, the local pool and a Dask cluster give the same tables as one process, and
an interrupted or killed run resumes to exactly the tables of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from experiment_specs import CONFIGS, SHORT, write_spec

import sim
import sim.pipeline.tasks
from sim.commands.cli import main
from sim.config.errors import ConfigError
from sim.measures.catalogue import MeasureList
from sim.pipeline.backends import LocalBackend
from sim.pipeline.execute import run_experiment
from sim.pipeline.layout import TABLES
from sim.pipeline.plan import load_plan
from sim.pipeline.store import config_name


def _tables(folder):
    """The bytes of every final table, as CSV and as Parquet."""
    out = {}
    for name in TABLES:
        for suffix in ("csv", "parquet"):
            path = folder / "tables" / f"{name}.{suffix}"
            if path.is_file():
                out[path.name] = path.read_bytes()
    return out


def _assert_same_tables(a, b):
    ta, tb = _tables(a), _tables(b)
    assert ta.keys() == tb.keys() and "comparison.parquet" in ta
    for name in ta:
        assert ta[name] == tb[name], name


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The tiny experiment run in one process, uninterrupted."""
    folder = tmp_path_factory.mktemp("reference")
    plan = load_plan(write_spec(folder))
    outcome = run_experiment(plan, folder / "out", LocalBackend(1), figures=False)
    assert outcome.status == "complete" and outcome.computed == 16
    return plan, folder / "out"


def test_summary_equals_station_sim_run_of_the_same_scenario(reference_run):
    # The design point (2 workers, demand x 1) resolved by the experiment is the scenario
    # a user gets by setting the same values on the command line.
    _, out = reference_run
    overrides = {**SHORT, "staffing.workers[0].count": 2}
    expected = sim.run(CONFIGS / "belgium_24_7.yaml", replications=2, seed=11, set=overrides)
    summary = pq.read_table(out / "tables" / "summary.parquet")
    mask = pc.and_(
        pc.and_(pc.equal(summary["scenario"], "belgium_24_7"), pc.equal(summary["workers"], 2)),
        pc.equal(summary["demand"], 1.0),
    )
    got = summary.filter(mask).to_pandas()
    want = expected.summary
    assert len(got) == len(want) > 100
    for field in ("population", "metric", "n", "mean", "sd", "half_width"):
        np.testing.assert_array_equal(got[field].to_numpy(), want[field].to_numpy(), field)


def test_every_stored_interval_stays_within_its_measures_support(reference_run):
    # Two replications give wide t intervals: the rare counts (people still waiting at
    # the end, say) reach below 0 unless the support is kept.
    _, out = reference_run
    measures = MeasureList.from_records(
        pq.read_table(out / "tables" / "measures.parquet").to_pylist()
    )
    rows = pq.read_table(out / "tables" / "summary.parquet").to_pylist()
    cut = 0
    for row in rows:
        if row["n"] < 2:
            continue
        low, high = measures.named(row["metric"]).support
        assert low <= row["ci_low"] <= row["mean"] <= row["ci_high"] <= high, row
        cut += row["mean"] - row["half_width"] < low or row["mean"] + row["half_width"] > high
    assert cut > 0  # the tiny run has intervals the support cuts: this test sees them
    ecdf = pq.read_table(out / "tables" / "wait_ecdf.parquet").to_pylist()
    assert all(r["ci_low"] >= 0 and r["ci_high"] <= 1 for r in ecdf if r["n"] > 1)


def test_comparison_is_the_paired_difference_by_replication(reference_run):
    _, out = reference_run
    runs = pq.read_table(out / "tables" / "replications.parquet").to_pylist()
    values = {
        (r["point"], r["scenario"], r["replication"]): r["value"]
        for r in runs
        if r["population"] == "all" and r["metric"] == "wait_referral_mean_h"
    }
    differences = [
        values[(3, "belgium_24_7", k)] - values[(3, "france_office_hours", k)] for k in (0, 1)
    ]
    comparison = pq.read_table(out / "tables" / "comparison.parquet").to_pylist()
    (row,) = [
        r
        for r in comparison
        if r["point"] == 3 and r["population"] == "all" and r["metric"] == "wait_referral_mean_h"
    ]
    assert row["baseline"] == "france_office_hours" and row["n"] == 2
    assert row["difference"] == pytest.approx(np.mean(differences), rel=1e-12)
    assert row["sd"] == pytest.approx(np.std(differences, ddof=1), rel=1e-12)
    assert row["ci_low"] < row["difference"] < row["ci_high"]


def test_wait_distribution_agrees_with_the_threshold_shares(reference_run):
    _, out = reference_run
    summary = pq.read_table(out / "tables" / "summary.parquet").to_pylist()
    ecdf = pq.read_table(out / "tables" / "wait_ecdf.parquet").to_pylist()
    within = {
        (r["point"], r["scenario"], r["population"]): r["mean"]
        for r in summary
        if r["metric"] == "within_24h_share"
    }
    at_24h = {(r["point"], r["scenario"], r["population"]): r["mean"] for r in ecdf
              if r["hours"] == 24.0}  # fmt: skip
    assert at_24h.keys() == within.keys()
    for key, value in within.items():
        assert at_24h[key] == pytest.approx(value, rel=1e-12)


def test_hour_of_week_counts_add_up_to_the_cases(reference_run):
    _, out = reference_run
    hours = pq.read_table(out / "tables" / "hour_of_week.parquet")
    summary = pq.read_table(out / "tables" / "summary.parquet").to_pylist()
    # Cases are counted a year (the mean over a replication's windows); the tiny spec's
    # windows are 28 days, and the table pools every window of every replication.
    windows = hours["windows"].to_pylist()
    assert set(windows) == {3}
    years = SHORT["simulation.run_days"] / 365.25 * windows[0]
    cases = sum(r["mean"] * r["n"] * years for r in summary if r["metric"] == "cases" and
                r["population"] == "all")  # fmt: skip
    assert pc.sum(hours["cases"]).as_py() == pytest.approx(cases)
    assert len(hours) == 4 * 2 * 168


def test_the_results_folder_holds_its_provenance(reference_run):
    plan, out = reference_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["plan_sha256"] == plan.digest()
    assert manifest["seed"] == 11 and manifest["replication_indices"] == [0, 1]
    assert manifest["versions"]["station-sim"] and manifest["finished"]
    assert len(manifest["tasks"]) == 16
    assert {t["status"] for t in manifest["tasks"].values()} == {"done"}
    assert (out / "spec.yaml").read_text() == plan.spec_text
    assert len(list((out / "configs").glob("*.yaml"))) == 8
    assert not list((out / "tasks").glob(".*"))


def test_a_pool_of_processes_gives_the_same_tables(reference_run, tmp_path):
    plan, expected = reference_run
    run_experiment(plan, tmp_path / "out", LocalBackend(2), figures=False)
    _assert_same_tables(tmp_path / "out", expected)


def test_a_dask_cluster_gives_the_same_tables(reference_run, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    plan, expected = reference_run
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        # Through the command line, as a user points it at a scheduler address.
        spec = plan.spec_path
        args = ["experiment", str(spec), "--out", str(tmp_path / "out"), "--no-figures"]
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    _assert_same_tables(tmp_path / "out", expected)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "Dask cluster" in manifest["sessions"][0]["backend"]


def test_an_interrupted_run_resumes_to_the_same_tables(reference_run, tmp_path):
    plan, expected = reference_run
    out = tmp_path / "out"
    done = []

    def interrupt_after_five(task):
        done.append(task.task_id)
        if len(done) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(plan, out, LocalBackend(1), figures=False, on_task_done=interrupt_after_five)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert sum(t["status"] == "done" for t in manifest["tasks"].values()) == 5
    assert not (out / "tables").exists()

    with pytest.raises(ConfigError, match="pass --resume"):
        run_experiment(plan, out, LocalBackend(1), figures=False)
    outcome = run_experiment(plan, out, LocalBackend(2), resume=True, figures=False)
    assert (outcome.reused, outcome.computed) == (5, 11)
    _assert_same_tables(out, expected)
    assert len(json.loads((out / "manifest.json").read_text())["sessions"]) == 2


def test_a_killed_run_resumes_from_the_command_line(reference_run, tmp_path):
    plan, expected = reference_run
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sim", "experiment", str(plan.spec_path), "--out", str(out)]
    process = subprocess.Popen([*command, "--jobs", "1", "--no-figures"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list((out / "tasks").glob("p*"))) < 3 and process.poll() is None:
        assert time.monotonic() < deadline, "the experiment never started"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)  # no chance to clean up or save the manifest
    process.wait()
    stored = len(list((out / "tasks").glob("p*")))
    if stored == 16:
        pytest.skip("the run finished before it could be killed")
    assert main(["experiment", str(plan.spec_path), "--out", str(out), "--resume",
                 "--jobs", "2", "--no-figures"]) == 0  # fmt: skip
    _assert_same_tables(out, expected)


def test_a_failed_task_is_reported_and_retried_on_resume(reference_run, tmp_path, monkeypatch):
    plan, expected = reference_run
    intact = sim.pipeline.tasks.run_task

    def fragile(task):
        if task.task_id == "p0002-belgium_24_7-r0001":
            raise RuntimeError("worker lost its disk")
        return intact(task)

    monkeypatch.setattr(sim.pipeline.tasks, "run_task", fragile)
    outcome = run_experiment(plan, tmp_path / "out", LocalBackend(1), figures=False)
    assert outcome.status == "failed" and list(outcome.failed) == ["p0002-belgium_24_7-r0001"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "worker lost its disk" in manifest["tasks"]["p0002-belgium_24_7-r0001"]["error"]
    monkeypatch.setattr(sim.pipeline.tasks, "run_task", intact)
    outcome = run_experiment(plan, tmp_path / "out", LocalBackend(1), resume=True, figures=False)
    assert (outcome.status, outcome.computed) == ("complete", 1)
    _assert_same_tables(tmp_path / "out", expected)


def test_resume_refuses_results_of_another_plan_and_says_what_changed(reference_run, tmp_path):
    plan, out = reference_run
    other = load_plan(write_spec(tmp_path, seed=12))
    # The seed is part of every resolved config.
    with pytest.raises(ConfigError, match=r"another plan .*resolved config of p0000-"):
        run_experiment(other, out, LocalBackend(1), resume=True, figures=False)
    more = load_plan(write_spec(tmp_path, name="more", replications=plan.spec.replications + 1))
    expected = f"replications {plan.spec.replications} -> {plan.spec.replications + 1}"
    with pytest.raises(ConfigError, match=expected):
        run_experiment(more, out, LocalBackend(1), resume=True, figures=False)


_INTACT_RUN_TASK = sim.pipeline.tasks.run_task


def _crash_on_one_task(task):
    # Runs in a pool worker: dies without a word, as a worker killed for memory would.
    if task.task_id == "p0001-belgium_24_7-r0000":
        os._exit(1)
    return _INTACT_RUN_TASK(task)


def test_a_crashed_worker_keeps_the_finished_runs(reference_run, tmp_path, monkeypatch):
    plan, expected = reference_run
    monkeypatch.setattr(sim.pipeline.tasks, "run_task", _crash_on_one_task)
    with pytest.raises(RuntimeError, match="a process of the local pool died"):
        run_experiment(plan, tmp_path / "out", LocalBackend(2), figures=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    monkeypatch.undo()
    outcome = run_experiment(plan, tmp_path / "out", LocalBackend(2), resume=True, figures=False)
    assert outcome.reused > 0 and outcome.status == "complete"
    _assert_same_tables(tmp_path / "out", expected)


def test_jobs_and_a_scheduler_do_not_mix(reference_run, tmp_path, capsys):
    plan, _ = reference_run
    args = ["experiment", str(plan.spec_path), "--out", str(tmp_path / "out")]
    assert main([*args, "--jobs", "2", "--scheduler", "tcp://localhost:1"]) == 2
    assert "--jobs sets the processes of the local pool" in capsys.readouterr().err
    assert main([*args, "--scheduler", "not-an-address"]) == 2
    assert "not a scheduler address" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _ParentStores(LocalBackend):
    """A local backend whose parent stores the tasks and writes the configs, as on a
    Dask cluster."""

    stores_in_workers = False


def _configs(out):
    return {p.name: p.read_text() for p in sorted((out / "configs").iterdir())}


def test_each_config_is_written_by_the_pool_process_of_its_first_replication(tmp_path):
    plan = load_plan(write_spec(tmp_path))  # 4 points x 2 scenarios, 2 replications
    by_parent, by_pool = tmp_path / "parent", tmp_path / "pool"
    run_experiment(plan, by_parent, _ParentStores(1), show_progress=False, figures=False)
    there_when_stored = {}

    def stored(task):
        if task.replication == 0:
            path = by_pool / "configs" / config_name(task.point, task.label)
            there_when_stored[(task.point, task.label)] = path.is_file()

    run_experiment(
        plan, by_pool, LocalBackend(2), show_progress=False, figures=False, on_task_done=stored
    )
    assert len(there_when_stored) == 8 and all(there_when_stored.values())
    assert _configs(by_pool) == _configs(by_parent)  # same names, same text
    # A config its first replication did not write (an earlier session, another
    # backend) is written once the tasks are done.
    (by_pool / "configs" / config_name(1, "belgium_24_7")).unlink()
    again = run_experiment(plan, by_pool, LocalBackend(2), resume=True, show_progress=False)
    assert again.computed == 0
    assert _configs(by_pool) == _configs(by_parent)
