"""Fuzzing the experiment-spec schema: mutated specs are refused in one message or
validate, never crash.

The examples are the shipped specs and a small one with every section (with ``configs`` pointing
at the shipped configs, wherever the spec is written), broken by the mutation families
of :mod:`mutations`, and given to ``station-sim validate``, which checks a spec
exactly as ``station-sim experiment`` does before it runs anything.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import mutated
from test_fuzz_configs import FUZZ, SECONDS_PER_CASE, assert_one_clean_message, invoke

from sim.config.documents import read_mapping

REPO = Path(__file__).resolve().parents[2]
SMALL = {
    "name": "small",
    "configs": str(REPO / "configs"),
    "scenarios": ["france_office_hours", {"config": "belgium_24_7", "label": "belgium"}],
    "overrides": {"simulation.run_days": 28},
    "design": {
        "kind": "latin_hypercube",
        "points": 3,
        "seed": 4,
        "factors": [
            {"name": "demand", "path": "populations.victim.arrivals.per_year", "range": [500, 900]}
        ],
    },
    "replications": 2,
    "seed": 11,
    "comparison": {"baseline": "france_office_hours", "metrics": ["unmet_share"]},
    "figures": [{"kind": "cost_frontier", "label": "demand"}],
}
"""A spec with every section, small enough to check in a few milliseconds."""
SPECS = {
    "small": SMALL,
    **{
        p.stem: {**read_mapping(p), "configs": str(REPO / "configs")}
        for p in sorted((REPO / "experiments").glob("*.yaml"))
        # staffing_sweep: 64 points, its checks take a second each time; national specs
        # have their own fuzz (test_fuzz_national.py).
        if p.stem != "staffing_sweep" and read_mapping(p).get("kind") != "national"
    },
}


@settings(FUZZ, max_examples=300)
@given(name=st.sampled_from(sorted(SPECS)), data=st.data())
def test_a_mutated_spec_is_refused_in_one_message_or_validates(name, data):
    spec, touched = data.draw(mutated(SPECS[name]), label="mutated")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
        code, stdout, stderr, seconds = invoke(["validate", str(path)])
        assert sorted(p.name for p in Path(folder).iterdir()) == ["spec.yaml"]
    assert seconds < SECONDS_PER_CASE
    assert code in (0, 2), (code, stderr)
    if code == 0:
        assert "valid experiment spec" in stdout
        return
    message = assert_one_clean_message(stderr, path)
    # A spec's error names the spec's field, or the scenario and field it broke.
    named = [str(p) for path in touched for p in path if isinstance(p, str)]
    assert any(part in message for part in named) or "scenario" in message, (touched, message)
