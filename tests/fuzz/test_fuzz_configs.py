"""Fuzzing the scenario schema: mutated shipped configs never crash the program.

Each example is a shipped config (its ``base`` files merged in) broken by one to three
mutations of :mod:`mutations` (deleted and unknown keys, wrong types, non-finite and
extreme numbers, empty lists, duplicated items, bad names and times, reversed and
overlapping shifts), written as YAML and given to ``station-sim validate`` in this
process.  For each: the exit status is 0 or 2 and never an exception; a refusal is one
message that names a place the mutations touched and the file; nothing is written; and
the check takes bounded time.  A mutated config that validates then runs a short
replication, whose records hold no infinite time and whose measures are finite, or
undefined only where :data:`EMPTY_WHEN` says they are defined as empty.

Hypothesis runs derandomised (the same examples on every run, as a fixed seed would
give), without an example database.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated, segments

from sim.commands.cli import main
from sim.config.documents import read_scenario_document
from sim.config.errors import ConfigError
from sim.config.schema import scenario_from_dict
from sim.measures.catalogue import measure_run, measures_for
from sim.model.station import simulate

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {p.stem: read_scenario_document(p) for p in sorted((REPO / "configs").glob("*.yaml"))}

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECONDS_PER_CASE = 10.0
"""A generous bound on one validation and short run, far above the ~0.1 s they take."""


def invoke(argv: list[str]) -> tuple[int, str, str, float]:
    """``station-sim ARGV`` in this process: exit status, stdout, stderr, seconds."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def assert_one_clean_message(stderr: str, source: Path) -> str:
    """A refusal's stderr: one error, no traceback, naming the file; its text."""
    assert "Traceback" not in stderr
    assert stderr.startswith("station-sim: error: "), stderr
    assert stderr.count("station-sim: error:") == 1, stderr
    assert str(source) in stderr, stderr
    return stderr


def names_a_touched_place(stderr: str, touched: list[tuple[Any, ...]]) -> bool:
    """Whether the message names the place of at least one of the mutations."""
    return any(part in stderr for path in touched for part in segments(path))


def short_run(document: dict[str, Any]) -> dict[str, Any] | None:
    """``document`` shortened to a replication of a few weeks (``None`` when the
    shortened document no longer validates: the fuzz target was the long one)."""
    shortened = dict(document)
    simulation = dict(shortened.get("simulation") or {})
    simulation.update(warm_up_days=3, run_days=14, drain_days=7, replications=1)
    shortened["simulation"] = simulation
    measures = shortened.get("measures")
    if isinstance(measures, dict):  # a mutation may have made it anything
        shortened["measures"] = {**measures, "followup_observation_days": 5}
    else:
        shortened["measures"] = {"followup_observation_days": 5}
    return shortened


# The measures that are undefined (NaN) where what they average or divide by is empty:
# measure name -> the count of the same population that must then be zero.  A ratio
# measure (``ratio_of``) may be NaN only when its denominator is zero; every other
# measure must be finite whatever the config.
_CONTACTED = "persons_met_per_year"
EMPTY_WHEN: dict[str, str] = {
    "share_of_persons_met": _CONTACTED,
    "appointments_per_person": "followups_wanted",  # the cohort is empty
    "followup_days": "followups_held",
    "on_site_share": _CONTACTED,
    "on_call_share": _CONTACTED,
    "callback_share": _CONTACTED,
    "log_share": _CONTACTED,
    "cost_per_case_met_eur": _CONTACTED,
}
for _origin in ("referral", "arrival"):
    for _key in ("mean", "median", "p90", "p95"):
        EMPTY_WHEN[f"wait_{_origin}_{_key}_h"] = _CONTACTED


def _empty_when(metric: str) -> str | None:
    if metric.startswith("within_") and metric.endswith("h_share"):
        return "referred"
    return EMPTY_WHEN.get(metric)


def check_measures(document: dict[str, Any]) -> None:
    """Run one short replication of a config that validated; check records and
    measures."""
    shortened = short_run(document)
    try:
        scenario = scenario_from_dict(shortened)
    except ConfigError:
        return
    records = simulate(scenario, 0)
    for table in (records.cases, records.workers, records.appointments):
        for name, column in vars(table).items():
            values = np.asarray(column)
            if values.dtype.kind == "f":
                assert not np.isinf(values).any(), f"{type(table).__name__}.{name} holds inf"
    measures = measures_for(scenario)
    columns = measure_run(records, scenario, measures)
    value = {
        (p, m): v
        for p, m, v in zip(columns["population"], columns["metric"], columns["value"], strict=True)
    }
    for (population, metric), v in value.items():
        assert not math.isinf(v), f"{metric} of {population} is infinite"
        if not math.isnan(v):
            continue
        measure = measures.named(metric)
        if measure.ratio_of is not None:
            denominator = value[(population, measure.ratio_of[1])]
            assert denominator == 0, f"{metric} of {population} is NaN, {denominator=}"
            continue
        empty = _empty_when(metric)
        assert empty is not None, f"{metric} of {population} is NaN"
        assert value[(population, empty)] == 0, f"{metric} of {population} is NaN, {empty} > 0"


@settings(FUZZ, max_examples=700)
@given(name=st.sampled_from(sorted(SHIPPED)), data=st.data())
def test_a_mutated_config_is_refused_in_one_message_or_runs_cleanly(name, data):
    document, touched = data.draw(mutated(SHIPPED[name]), label="mutated")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        code, stdout, stderr, seconds = invoke(["validate", str(path)])
        assert sorted(p.name for p in Path(folder).iterdir()) == ["mutated.yaml"]
    assert seconds < SECONDS_PER_CASE
    assert code in (0, 2), (code, stderr)
    if code == 2:
        message = assert_one_clean_message(stderr, path)
        assert names_a_touched_place(message, touched), (touched, message)
        return
    assert "valid scenario" in stdout
    check_measures(document)
