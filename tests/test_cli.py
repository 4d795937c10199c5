"""The command line: a run writes its folder and prints its table; bad input gets one
message naming the file, the field and what is allowed, exit status 2, and writes
nothing; an existing folder is refused unless --resume or --fresh says what to do."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from conftest import CONFIGS, SHIPPED

import sim.pipeline.tasks
from sim.commands.cli import main

SHORT = [
    "--set",
    "simulation.run_days=28",
    "--set",
    "simulation.warm_up_days=7",
    "--set",
    "simulation.drain_days=7",
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_config_runs_and_prints_its_table(path, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(path), "--replications", "2", "--out", str(out), *SHORT]) == 0
    printed = capsys.readouterr().out
    assert f"Scenario {path.stem}" in printed
    for label in ("victim", "perpetrator", "third_party", "unmet %", "cost (EUR a year)"):
        assert label in printed
    for name in (
        "summary.txt",
        "manifest.json",
        "spec.yaml",
        "tables/summary.parquet",
        "tables/summary.csv",
        "tables/replications.parquet",
        "tables/measures.csv",
        "records/cases.parquet",
        "records/workers.parquet",
        f"configs/p0000-{path.stem}.yaml",
    ):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "run" and manifest["status"] == "complete"
    assert manifest["seed"] == 20130613 and manifest["replications"] == 2
    assert manifest["versions"]["station-sim"]
    overrides = manifest["spec"]["scenarios"][0]["overrides"]
    assert overrides["simulation.run_days"] == 28 and overrides["simulation.replications"] == 2
    assert (out / "summary.txt").read_text().strip() in printed


def test_records_are_parquet_csv_on_request_and_none_when_refused(tmp_path, capsys):
    config = str(CONFIGS / "france_office_hours.yaml")
    args = ["run", config, "--replications", "2", *SHORT]
    assert main([*args, "--out", str(tmp_path / "csv"), "--csv"]) == 0
    cases = pq.read_table(tmp_path / "csv" / "records" / "cases.parquet")
    assert (tmp_path / "csv" / "records" / "cases.csv").is_file()
    assert set(cases["replication"].to_pylist()) == {0, 1}
    assert {"end_state", "outcome", "in_window", "wait_referral_h"} <= set(cases.column_names)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "bare"), "--no-records"]) == 0
    assert not (tmp_path / "bare" / "records").exists()
    assert "records/" not in capsys.readouterr().out


def test_validate_says_what_it_found(capsys):
    assert main(["validate", str(CONFIGS / "belgium_24_7.yaml")]) == 0
    assert "valid scenario 'belgium_24_7'" in capsys.readouterr().out
    # The project's other YAML files are recognised, not checked as scenarios.
    experiments = CONFIGS.parent / "experiments"
    for path, found in (
        (CONFIGS / "calibration" / "targets.yaml", "valid calibration targets file"),
        (CONFIGS / "common" / "assumptions.yaml", "valid assumptions file"),
        (experiments / "sensitivity" / "headlines.yaml", "valid sensitivity spec"),
    ):
        assert main(["validate", str(path)]) == 0
        assert found in capsys.readouterr().out


BAD_CASES = {
    "missing file": ("missing.yaml", None, "no such scenario file"),
    "bad yaml": ("bad.yaml", "populations: [1,\n", "not valid YAML"),
    "unknown field": (
        "unknown.yaml",
        "base: {configs}/france_office_hours.yaml\nstafing: {{}}\n",
        "stafing: unknown setting; did you mean 'staffing'?",
    ),
    "negative rate": (
        "negative.yaml",
        "base: {configs}/france_office_hours.yaml\n"
        "populations: {{victim: {{arrivals: {{per_year: -1}}}}}}\n",
        "populations.victim.arrivals.per_year = -1",
    ),
    "shift ends before it starts": (
        "shift.yaml",
        "base: {configs}/france_office_hours.yaml\n"
        "staffing: {{workers: [{{name: w, roster: "
        "[{{days: all, start: '17:00', end: '09:00'}}]}}]}}\n",
        "ends at 09:00, not after its start 17:00",
    ),
    "unknown distribution": (
        "dist.yaml",
        "base: {configs}/france_office_hours.yaml\n"
        "populations: {{victim: {{interview: {{dist: weibull, shape: 2}}}}}}\n",
        "unknown distribution",
    ),
    "missing base file": (
        "orphan.yaml",
        "base: common/demandd.yaml\nname: orphan\n",
        "orphan.yaml: base = 'common/demandd.yaml': no such file",
    ),
    "name with a space": (
        "spaced.yaml",
        "base: {configs}/france_office_hours.yaml\nname: three workers\n",
        "name = 'three workers': a name must start with a letter",
    ),
    "on-call delay": (
        "delay.yaml",
        "base: {configs}/belgium_24_7.yaml\non_call: {{delay: 5}}\n",
        "on_call.delay: unknown setting; did you mean 'phone_delay' or 'travel_delay'?",
    ),
    "unquoted time": (
        "clock.yaml",
        "base: {configs}/france_office_hours.yaml\n"
        "staffing: {{workers: [{{name: w, roster: [{{days: all, start: 09:00, end: 17:00}}]}}]}}\n",
        "a time of day must be quoted",
    ),
    "a key given twice": (
        "twice.yaml",
        "base: {configs}/france_office_hours.yaml\nname: a\nname: b\n",
        "'name' is given twice",
    ),
    # Both passed validate but ended `run` in a traceback, or ran with one responder.
    "thresholds naming one measure": (
        "thresholds.yaml",
        "base: {configs}/belgium_24_7.yaml\nmeasures: {{thresholds_hours: [24, 24.000001]}}\n",
        "both name the measure within_24h_share",
    ),
    "responders: yes": (
        "responders.yaml",
        "base: {configs}/belgium_24_7.yaml\non_call: {{responders: yes}}\n",
        "on_call.responders = True: a true/false (yes/no) value is not a count",
    ),
}


@pytest.mark.parametrize("case", BAD_CASES, ids=list(BAD_CASES))
def test_bad_input_gets_one_message_and_writes_nothing(case, tmp_path):
    name, text, expected = BAD_CASES[case]
    path = tmp_path / name
    if text is not None:
        path.write_text(text.format(configs=CONFIGS))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ([name] if text is not None else [])


def test_an_override_naming_an_unknown_population_says_so(tmp_path, capsys):
    config = str(CONFIGS / "france_office_hours.yaml")
    out = str(tmp_path / "o")
    args = ["run", config, "--out", out, "--set", "populations.victims.urgent_share=0.2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown population 'victims'" in err
    assert "known: perpetrator, third_party, victim" in err and "did you mean 'victim'" in err
    assert main(["run", config, "--out", out, "--set", "callbacks.max_attempt=2"]) == 2
    assert "did you mean 'max_attempts'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_option_values_are_refused(tmp_path, capsys):
    config = str(CONFIGS / "france_office_hours.yaml")
    out = str(tmp_path / "o")
    assert main(["run", config, "--replications", "0", "--out", out]) == 2
    # The message names the flag the value came from, not the config file.
    err = capsys.readouterr().err
    assert "--replications 0: allowed 1 to 10,000" in err and "france_office_hours" not in err
    assert main(["run", config, "--seed", "-1", "--out", out]) == 2
    assert "--seed -1: allowed 0 to" in capsys.readouterr().err
    assert main(["run", config, "--set", "nonsense", "--out", out]) == 2
    assert "expected PATH=VALUE" in capsys.readouterr().err
    assert main(["run", config, "--jobs", "0", "--out", out]) == 2
    assert "--jobs 0: must be at least 1" in capsys.readouterr().err
    assert main(["run", config, "--set", "simulation.seed=" + "9" * 5000, "--out", out]) == 2
    assert "holds a number too long to read" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_existing_folder_is_refused_replaced_with_fresh_or_reused_with_resume(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(CONFIGS / "france_office_hours.yaml"), "--replications", "2", *SHORT]
    assert main([*args, "--out", str(out)]) == 0
    summary = (out / "tables" / "summary.parquet").read_bytes()
    assert main([*args, "--out", str(out)]) == 2
    assert "already holds results; pass --resume" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--resume"]) == 0
    assert "(2 reused)" in capsys.readouterr().out
    assert main([*args, "--out", str(out), "--fresh"]) == 0
    assert (out / "tables" / "summary.parquet").read_bytes() == summary
    with pytest.raises(SystemExit) as usage:  # argparse: the two exclude each other
        main([*args, "--out", str(out), "--fresh", "--resume"])
    assert usage.value.code == 2


def test_an_interrupted_run_keeps_its_finished_replications_and_resumes(
    tmp_path, monkeypatch, capsys
):
    config = str(CONFIGS / "france_office_hours.yaml")
    args = ["run", config, "--replications", "5", "--jobs", "1", *SHORT]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    intact = sim.pipeline.tasks.run_task

    def interrupted(task):
        if task.replication == 2:
            raise KeyboardInterrupt
        return intact(task)

    monkeypatch.setattr(sim.pipeline.tasks, "run_task", interrupted)
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted; 2 finished run(s) are kept" in err and "--resume" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    done = sorted(k for k, t in manifest["tasks"].items() if t["status"] == "done")
    assert done == ["p0000-france_office_hours-r0000", "p0000-france_office_hours-r0001"]
    monkeypatch.setattr(sim.pipeline.tasks, "run_task", intact)
    assert main([*args, "--out", str(out), "--resume"]) == 0
    for name in ("tables/summary.parquet", "records/cases.parquet"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_config_keys_lists_every_setting_and_matches_the_committed_reference(capsys):
    assert main(["config-keys"]) == 0
    printed = capsys.readouterr().out
    for key in ("`warm_up_days`", "`phone_delay`", "`thresholds_hours`", "`base`"):
        assert key in printed
    committed = (CONFIGS.parent / "docs" / "config.md").read_text(encoding="utf-8")
    assert printed == committed, "docs/config.md is stale: station-sim config-keys > docs/config.md"


def test_plot_of_a_run_says_there_is_nothing_to_draw(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(CONFIGS / "france_office_hours.yaml"), "--replications", "2", *SHORT]
    assert main([*args, "--out", str(out), "--no-records"]) == 0
    capsys.readouterr()
    assert main(["plot", str(out)]) == 0
    assert "nothing to draw" in capsys.readouterr().out
    assert not (out / "figures").exists()


def test_an_override_into_a_list_left_to_its_default_is_applied(tmp_path):
    config = tmp_path / "plain.yaml"
    config.write_text(
        "name: plain\n"
        "populations: {victim: {arrivals: {per_hour: 1}, interview: {dist: fixed, value: 30}}}\n"
        "staffing: {workers: [{name: w, roster: [{days: all, start: '09:00', end: '17:00'}]}]}\n"
    )
    from sim.config.schema import load_scenario

    scenario = load_scenario(config, {"measures.thresholds_hours[0]": 2})
    assert scenario.measures.thresholds_hours == (2.0, 24.0, 72.0)


def test_a_spec_given_to_run_and_a_config_given_to_experiment_say_so(capsys):
    assert main(["run", str(CONFIGS.parent / "experiments" / "france_vs_belgium.yaml")]) == 2
    assert "this is an experiment spec" in capsys.readouterr().err
    assert main(["experiment", str(CONFIGS / "belgium_24_7.yaml")]) == 2
    assert "this is a scenario config" in capsys.readouterr().err
