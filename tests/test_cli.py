"""The command line: a run writes its folder and prints its table; bad input gets one
message, exit status 2, and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CONFIGS, SHIPPED

from sim.cli import main

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
        "cases.csv",
        "workers.csv",
        "summary.csv",
        "replications.csv",
        "config.yaml",
        "manifest.json",
        "summary.txt",
    ):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 20130613 and manifest["replications"] == 2
    assert manifest["versions"]["station-sim"]
    assert manifest["overrides"]["simulation.run_days"] == 28


def test_validate_says_what_it_found(capsys):
    assert main(["validate", str(CONFIGS / "belgium_24_7.yaml")]) == 0
    assert "valid scenario 'belgium_24_7'" in capsys.readouterr().out


BAD_CASES = {
    "missing file": ("missing.yaml", None, "no such file"),
    "bad yaml": ("bad.yaml", "populations: [1,\n", "not valid YAML"),
    "unknown field": (
        "unknown.yaml",
        "base: {configs}/france_office_hours.yaml\nstafing: {{}}\n",
        "stafing: unknown setting",
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
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ([name] if text is not None else [])


def test_bad_option_values_are_refused(tmp_path, capsys):
    config = str(CONFIGS / "france_office_hours.yaml")
    assert main(["run", config, "--replications", "0", "--out", str(tmp_path / "o")]) == 2
    assert "simulation.replications = 0" in capsys.readouterr().err
    assert main(["run", config, "--set", "nonsense", "--out", str(tmp_path / "o")]) == 2
    assert "expected PATH=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_rerun_replaces_the_folder_whole(tmp_path):
    out = tmp_path / "out"
    config = str(CONFIGS / "france_office_hours.yaml")
    assert main(["run", config, "--replications", "2", "--out", str(out), *SHORT]) == 0
    (out / "stale.txt").write_text("from an older run")
    assert main(["run", config, "--replications", "2", "--out", str(out), *SHORT]) == 0
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_interrupted_run_keeps_its_finished_replications_apart(tmp_path, monkeypatch, capsys):
    import sim.runner

    real = sim.runner.run_replications

    def interrupted(scenario, replications, jobs=1, keep_records=True, on_done=None):
        real(scenario, list(replications)[:2], jobs=1, keep_records=keep_records, on_done=on_done)
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.runner, "run_replications", interrupted)
    out = tmp_path / "out"
    config = str(CONFIGS / "france_office_hours.yaml")
    assert main(["run", config, "--replications", "5", "--out", str(out), *SHORT]) == 130
    assert not out.exists()
    saved = tmp_path / "out.interrupted"
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["replications_done"] == [0, 1]
    assert "interrupted after 2 of 5" in capsys.readouterr().err
