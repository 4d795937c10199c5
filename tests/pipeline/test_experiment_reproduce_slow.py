"""The shipped experiments reproduce the committed reference tables (slow: runs every
spec of experiments/ in full, and a slice of the national one; ``pytest -m slow``)."""

from __future__ import annotations

import math

import pyarrow.csv as pacsv
import pytest
from experiment_specs import EXPERIMENTS

from sim.commands.cli import main
from sim.commands.reproduce import RELATIVE_TOLERANCE
from sim.national.spec import is_national_spec, load_national_experiment
from sim.national.study import run_national
from sim.pipeline.backends import LocalBackend

REFERENCE = EXPERIMENTS.parent / "results" / "reference"


@pytest.mark.slow
def test_every_shipped_experiment_reproduces_its_reference(tmp_path, capsys):
    results = tmp_path / "results"
    (results / "reference").parent.mkdir(parents=True)
    # The committed reference, checked against a fresh run in a scratch folder.
    (results / "reference").symlink_to(REFERENCE, target_is_directory=True)
    args = ["reproduce", "--experiments", str(EXPERIMENTS), "--results", str(results)]
    # The national grid takes about 20 minutes on 2 cores: its slice is checked below,
    # and `station-sim reproduce` checks it whole.
    for path in sorted(EXPERIMENTS.glob("*.yaml")):
        if not is_national_spec(path):
            args += ["--only", path.stem]
    assert main(args) == 0, capsys.readouterr().out


@pytest.mark.slow
def test_a_slice_of_the_national_grid_reproduces_its_reference(tmp_path):
    # Every catchment keeps its seed whatever else a study holds (common random
    # numbers), so two cells of the grid run alone give the grid's numbers exactly.
    experiment = load_national_experiment(EXPERIMENTS / "national_scale_up.yaml")
    wanted = {("office_hours", "historical_2013", 175), ("belgian", "proportional", 175)}
    requests = [r for r in experiment.requests if r.key_tuple in wanted]
    assert len(requests) == 2
    outcome = run_national(
        experiment.study,
        requests,
        tmp_path / "slice",
        LocalBackend(2),
        experiment.spec.replications,
        show_progress=False,
        maps=[],
    )
    produced = {
        (r["coverage"], r["allocation"], r["posts"], r["metric"]): r
        for r in outcome.tables["national"].to_pylist()
    }
    reference = pacsv.read_csv(REFERENCE / experiment.name / "national.csv").to_pylist()
    checked = 0
    for row in reference:
        key = (row["coverage"], row["allocation"], row["posts"], row["metric"])
        if key[:3] not in wanted:
            continue
        for column in ("mean", "half_width"):
            expected, got = row[column], produced[key][column]
            if expected is None or (isinstance(expected, float) and math.isnan(expected)):
                assert got is None or math.isnan(got), key
            else:
                assert math.isclose(got, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9), (
                    key,
                    column,
                    got,
                    expected,
                )
        checked += 1
    assert checked == len(produced) > 20
