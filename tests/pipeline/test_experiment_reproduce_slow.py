"""The shipped experiments reproduce the committed reference tables (slow: runs every
spec of experiments/ in full; ``pytest -m slow``)."""

from __future__ import annotations

import pytest
from experiment_specs import EXPERIMENTS

from sim.cli import main


@pytest.mark.slow
def test_every_shipped_experiment_reproduces_its_reference(tmp_path, capsys):
    results = tmp_path / "results"
    (results / "reference").parent.mkdir(parents=True)
    # The committed reference, checked against a fresh run in a scratch folder.
    reference = EXPERIMENTS.parent / "results" / "reference"
    (results / "reference").symlink_to(reference, target_is_directory=True)
    args = ["reproduce", "--experiments", str(EXPERIMENTS), "--results", str(results)]
    assert main(args) == 0, capsys.readouterr().out
