"""The benchmark suite still runs: a quick sweep writes its JSON and its tables.  (It
measures nothing here: timings belong to ``python benchmarks/run.py``, not to tests.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_benchmark_suite_runs_a_part_and_writes_its_results(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick"]
    done = subprocess.run(
        [*command, "--parts", "replication_sweep", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    sweep = results["sweeps"]["replications"]
    assert set(sweep["jobs"]) >= {"1"} and sweep["station_years"] == 16
    assert all(j["seconds"] > 0 for j in sweep["jobs"].values())
    assert "| jobs | seconds |" in done.stdout
    assert results["meta"]["command"].endswith(f"--out {out}")


def test_the_national_part_is_reported_against_its_target():
    sys.path.insert(0, str(REPO))
    from benchmarks.run import format_tables, targets

    national = {
        "what": "one national replication",
        "jobs": 2,
        "catchments": 447,
        "seconds": 31.0,
        "runs": [30.0, 31.0, 32.0],
        "floor_customers_per_s": 1_000_000.0,
        "seconds_at_reference_floor": 28.2,
    }
    results = {"meta": {"date": "d", "machine": "m", "cores": 2, "python": "3", "command": "c"}}
    results["national"] = national
    found = targets(results)
    assert found["one national replication at 350 posts <= 30 s on 2 cores"]["holds"] is False
    assert (
        found["... the national replication, scaled to the reference machine's floor speed"][
            "holds"
        ]
        is True
    )
    results["targets"] = found
    assert "median 31.0 s of 3 runs (28.2 s at the reference floor speed" in format_tables(results)


def test_the_mutation_runner_tells_a_kill_by_an_assertion_from_a_crash(monkeypatch):
    # The classification the score of docs/testing.md rests on, on pytest's own output
    # (benchmarks/mutation_stop.py ends a session at the first assertion that fails).
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.mutation import STOP_MESSAGE, kill_kind, mutant_class

    seen = "E   AssertionError: 3 != 4\nFAILED tests/t.py::test_a\n"
    assert kill_kind(seen) == "killed: assertion"
    assert kill_kind(f"FAILED tests/t.py::test_a\n!!! Interrupted: {STOP_MESSAGE} !!!\n") == (
        "killed: assertion"
    )
    assert kill_kind("E       assert 1 == 2\nFAILED tests/t.py::test_a\n") == "killed: assertion"
    crash = "E   IndexError: list index out of range\nFAILED tests/t.py::test_a\n"
    assert kill_kind(crash) == "killed: crash"
    assert kill_kind("timeout") == "killed: timeout"
    assert kill_kind("ERROR: file or directory not found: tests/x.py\n") == "not run: error"
    assert mutant_class("core/ReplaceBinaryOperator_Add_Sub") == "operator"
    assert mutant_class("core/NumberReplacer") == "constant"
    assert mutant_class("core/ZeroIterationForLoop") == "control flow"


def test_the_mutation_stop_plugin_stops_at_an_assertion_and_runs_past_a_crash(tmp_path):
    (tmp_path / "test_order.py").write_text(
        "def test_1_crash():\n    raise IndexError('x')\n\n"
        "def test_2_sees():\n    assert 1 == 2\n\n"
        "def test_3_never_run():\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "benchmarks.mutation_stop", "-q",
         "-p", "no:cacheprovider", str(tmp_path / "test_order.py")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert "2 failed" in done.stdout and "passed" not in done.stdout, done.stdout


def test_every_survivor_of_the_stored_mutation_sample_is_reviewed():
    # docs/testing.md quotes the score without the equivalent survivors: every survivor
    # of the stored sample must have a verdict, and a killing test that exists.
    import yaml

    from benchmarks.mutation import RESULTS, SURVIVORS, reviewed_score

    report = json.loads(RESULTS.read_text(encoding="utf-8"))
    review = yaml.safe_load(SURVIVORS.read_text(encoding="utf-8"))
    assert review["seed"] == report["seed"]
    table = reviewed_score(report, review)
    assert table["all"]["killed since"] == sum(
        "killed_by" in v for v in review["survivors"].values()
    )
    for verdict in review["survivors"].values():
        assert len(verdict) == 1 and set(verdict) <= {"killed_by", "equivalent", "open"}
        test = verdict.get("killed_by", "")
        if "::" in test:
            path, name = test.split("::")
            assert f"def {name}(" in (RESULTS.parents[2] / path).read_text(encoding="utf-8")
    # The check can fail: a survivor without a verdict is refused.
    first = next(iter(review["survivors"]))
    with pytest.raises(SystemExit, match="not in the review"):
        reviewed_score(
            report, {"survivors": {k: v for k, v in review["survivors"].items() if k != first}}
        )


def test_the_national_tasks_benchmark_times_stored_tasks_run_and_stored(tmp_path):
    from conftest import CONFIGS

    from sim.pipeline.backends import LocalBackend
    from sim.pipeline.execute import run_experiment
    from sim.pipeline.plan import plan_for_scenario

    short = {"simulation.run_days": 14, "simulation.warm_up_days": 7, "simulation.drain_days": 7}
    short["simulation.replications"] = 2
    plan = plan_for_scenario(CONFIGS / "france_office_hours.yaml", short)
    run_experiment(plan, tmp_path / "stored", LocalBackend(1), show_progress=False)
    command = [sys.executable, str(REPO / "benchmarks" / "national_tasks.py")]
    for options in ([], ["--store", "--collector"]):
        done = subprocess.run(
            [*command, str(tmp_path / "stored"), "--sample", "2", *options],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("2 catchment runs in ")


def test_the_mmc_breakdown_splits_a_replication_and_times_simpy_alone():
    """The M/M/3 reduction's breakdown: every part timed, two SimPy events a customer
    (a referral and an interview's end), and SimPy alone over as many events."""
    from benchmarks.run import _mmc_tables, mmc_breakdown
    from benchmarks.simpy_mmc import rearm_floor

    b = mmc_breakdown(2_000, 1)
    assert set(b["ms"]) == {"demand", "plan", "model_setup", "event_loop", "records", "measures"}
    assert all(ms > 0 for ms in b["ms"].values()) and b["simpy_rearm_ms"] > 0
    assert b["total_ms"] == pytest.approx(sum(b["ms"].values()))
    # About 2,000 arrivals (Poisson), two events each, and the run's end.
    assert 2 * 1_800 < b["events_per_replication"] < 2 * 2_200
    with pytest.raises(ValueError, match="n_events"):
        rearm_floor(1)
    results = {
        "mmc": {
            "queue": {"c": 3, "load": 0.9},
            "customers": 2_000,
            "rounds": 1,
            "runs_per_round": 1,
            "erlang_c": {"mean_wait": 2.7, "p_wait": 0.8},
            "engines": {},
            "ratios": {},
        },
        "mmc_breakdown": b,
    }
    text = "\n".join(_mmc_tables(results))
    assert "Where the time of one M/M/3 replication goes" in text
    assert "| event_loop |" in text and "SimPy alone, the same" in text
