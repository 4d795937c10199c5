"""``station-sim check-theory`` prints the validation table and says by its exit status
whether every row passed."""

from __future__ import annotations

import dataclasses
from typing import Any

from conftest import CONFIGS

import sim.model.station
from sim.commands.cli import main
from sim.config.schema import load_scenario
from sim.model.records import EndState

CHEAP_CASE = "conservation/france_office_hours"


def test_check_theory_prints_the_table_and_exits_zero(capsys):
    assert main(["check-theory", "--case", CHEAP_CASE]) == 0
    out = capsys.readouterr().out
    shipped = load_scenario(CONFIGS / "france_office_hours.yaml").simulation.replications
    assert (
        f"1 case (full table, names containing 'conservation/france_office_hours'), {shipped} "
        in out
    )
    for heading in ("case", "statistic", "exact", "simulated", "95 % CI", "check"):
        assert heading in out
    assert "Flow conservation: france_office_hours" in out
    assert "2 of 2 rows pass" in out


def test_check_theory_exits_one_when_a_row_fails(capsys, monkeypatch):
    intact = sim.model.station.StationModel.records

    def losing_met_cases(self: Any) -> Any:
        records = intact(self)
        keep = records.cases.state != EndState.CONTACTED
        columns = {name: column[keep] for name, column in records.cases.columns().items()}
        return dataclasses.replace(records, cases=type(records.cases)(**columns))

    monkeypatch.setattr(sim.model.station.StationModel, "records", losing_met_cases)
    assert main(["check-theory", "--case", CHEAP_CASE]) == 1
    out = capsys.readouterr().out
    # The cases are missed; the follow-ups of those cases go unseen with them.
    assert "FAIL" in out and "1 of 2 rows pass" in out


def test_check_theory_rejects_bad_options(capsys):
    assert main(["check-theory", "--case", "no-such-case"]) == 2
    assert "no validation case" in capsys.readouterr().err
    assert main(["check-theory", "--jobs", "0"]) == 2
    assert "--jobs 0" in capsys.readouterr().err
