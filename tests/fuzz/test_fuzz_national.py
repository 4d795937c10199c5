"""Fuzzing the national config: a mutated national config is refused in one message or
validates, never crashes, and writes nothing.

The example is France restricted to two départements (its data files and coverage
configs given as absolute paths, wherever the config is written), broken by the mutation
families of :mod:`mutations`, and given to ``station-sim validate``, which checks a
national config whole, data files included, as ``station-sim national`` does before it
runs anything.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import mutated
from test_fuzz_configs import FUZZ, SECONDS_PER_CASE, assert_one_clean_message, invoke

REPO = Path(__file__).resolve().parents[2]
SMALL = {
    **yaml.safe_load((REPO / "configs/national/france.yaml").read_text(encoding="utf-8")),
    "departements": str(REPO / "configs/national/departements.csv"),
    "boundaries": str(REPO / "configs/national/departements.geojson"),
    "only_departements": ["48", "90"],
    "coverage": {
        "office_hours": {
            "config": str(REPO / "configs/france_office_hours.yaml"),
            "title": "French office hours",
        }
    },
}


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_a_mutated_national_config_is_refused_in_one_message_or_validates(data):
    config, _ = data.draw(mutated(SMALL), label="mutated")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "national.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
        code, stdout, stderr, seconds = invoke(["validate", str(path)])
        assert sorted(p.name for p in Path(folder).iterdir()) == ["national.yaml"]
    assert seconds < SECONDS_PER_CASE
    assert code in (0, 2), (code, stderr)
    if code == 0:
        assert "valid" in stdout
        return
    assert_one_clean_message(stderr, path)
